//! The program: parses the command line, reads the settings, picks the
//! stages once, runs the command and maps the result to an exit code.

use std::ffi::OsString;
use std::sync::Arc;

use clap::error::ErrorKind as ClapErrorKind;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::{self, Env, ExportConfig, LogFormat, RunConfig, ScheduleConfig, UploadConfig};
use crate::error::{Error, ErrorKind};
use crate::job::{self, Context, Stages};
use crate::polyteia;

use crate::schedule;
use crate::{check, health, logging, metrics};

/// The whole program: the command line in, the exit code out.
pub fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => usage_error(err, &args),
    };
    // Known before the env file is read, so that its errors are in the format asked for.
    let early_format =
        cli.log_format.unwrap_or_else(|| logging::format_from_process_environment().unwrap_or(LogFormat::Text));
    std::process::exit(match run(cli) {
        Ok(()) => 0,
        Err(err) => {
            report(&err, early_format);
            err.exit_code()
        }
    });
}

fn run(cli: Cli) -> Result<(), Error> {
    if let Command::Version = cli.command {
        println!(
            "connector {} (polyteia-db-connector, {})",
            crate::VERSION,
            crate::source::duckdb_library_description()
        );
        return Ok(());
    }
    // Needs no settings: it describes the command line itself.
    if let Command::Completions { shell } = cli.command {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(&crate::cli::completions(shell))
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::new(ErrorKind::LocalIo, format!("cannot write to standard output: {e}")));
    }
    let mut env = Env::load(&cli.env_file)?;
    // Command-line flags win over the environment.
    logging::override_settings(&mut env, cli.log_level.map(|level| level.name()), cli.log_format);
    let hint = logging::settings_hint(&env);
    logging::init(hint.level, hint.format, hint.file.as_deref());

    let ctx = Context::new();
    match cli.command {
        Command::Export { output } => {
            let config = ExportConfig::from_env(&env)?;
            let export = crate::source::export_for(&config.export);
            ctx.cancel.install_signal_handlers()?;
            job::export_to_file(&export, &config, &output, &ctx)?;
            Ok(())
        }
        Command::Run { serve_health } => {
            log_env_files(&env);
            let started = chrono::Utc::now();
            let config = RunConfig::from_env(&env);
            // Every run is reported, a failed configuration included, as long
            // as the monitoring settings themselves are usable.
            let monitoring = match &config {
                Ok(config) => Some(config.metrics.clone()),
                Err(_) => config::metrics_settings(&env),
            };
            let result = config.and_then(|config| run_once(&config, serve_health, &ctx));
            if let Some(settings) = monitoring {
                metrics::publish(&settings, &job::outcome_of(started, &result), ctx.cancel.is_cancelled());
            }
            result.map(|_| ())
        }
        Command::Upload { file } => {
            let config = UploadConfig::from_env(&env)?;
            let api = polyteia::api_for(&config.api, ctx.cancel.flag())?;
            ctx.cancel.install_signal_handlers()?;
            job::upload_file(api.as_ref(), &config, &file, &ctx)?;
            Ok(())
        }
        Command::Check => {
            log_env_files(&env);
            let config = RunConfig::from_env(&env)?;
            check::run_checks(&config, &ctx)
        }
        Command::Schedule { run_now } => {
            // Validates the schedule with everything else, before anything runs.
            let ScheduleConfig { run, schedule } = ScheduleConfig::from_env(&env)?;
            let export = crate::source::export_for(&run.export);
            let api = polyteia::api_for(&run.api, ctx.cancel.flag())?;
            ctx.cancel.install_signal_handlers()?;
            let _server = health::Server::start(run.health_check_port, ctx.state.clone())?;
            schedule::run(Arc::new(run), Arc::new(export), Arc::from(api), schedule, run_now, ctx)
        }
        Command::Version | Command::Completions { .. } => unreachable!("handled above"),
    }
}

/// `connector run`: one cycle, optionally with `/healthz` and `/metrics` served meanwhile.
fn run_once(config: &RunConfig, serve_health: bool, ctx: &Context) -> Result<job::RunSummary, Error> {
    // The stages are chosen here, once: the job only orchestrates them.
    let export = crate::source::export_for(&config.export);
    let api = polyteia::api_for(&config.api, ctx.cancel.flag())?;
    let stages = Stages { export: &export, api: api.as_ref() };
    ctx.cancel.install_signal_handlers()?;
    if serve_health {
        let _server = health::Server::start(config.health_check_port, ctx.state.clone())?;
        job::run_recorded(stages, config, ctx)
    } else {
        job::run_once(stages, config, ctx)
    }
}

/// Which files the settings came from, so that a layered setup (shared file
/// plus one per job) can be traced; names only, as the files hold secrets.
fn log_env_files(env: &Env) {
    let files: Vec<String> = env.files_read().iter().map(|p| p.display().to_string()).collect();
    match files.is_empty() {
        true => log::info!("settings from the environment only (no env file read)"),
        false => log::info!(env_files = files.join(",");
            "settings from env files {} (later wins) and the environment (wins over all)", files.join(", ")),
    }
}

/// A command-line error: clap's message and exit code (2), as one JSON log
/// line when JSON is asked for (by a valid `--log-format` or `LOG_FORMAT`).
/// Help and version output stay as they are.
fn usage_error(err: clap::Error, args: &[OsString]) -> ! {
    let is_output = matches!(
        err.kind(),
        ClapErrorKind::DisplayHelp
            | ClapErrorKind::DisplayVersion
            | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !is_output && format_from_args(args).or_else(logging::format_from_process_environment) == Some(LogFormat::Json) {
        let message = err.render().to_string();
        let message = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        let message = message.strip_prefix("error: ").unwrap_or(&message);
        logging::print_line(
            LogFormat::Json,
            log::Level::Error,
            message,
            vec![("exit_code".into(), err.exit_code().into()), ("error_class".into(), "usage".into())],
        );
        std::process::exit(err.exit_code());
    }
    err.exit()
}

/// A `--log-format` value among arguments that did not parse as a whole.
fn format_from_args(args: &[OsString]) -> Option<LogFormat> {
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    args.iter().enumerate().rev().find_map(|(i, arg)| match arg.strip_prefix("--log-format") {
        Some("") => args.get(i + 1).and_then(|v| logging::format_from_str(v)),
        Some(rest) => rest.strip_prefix('=').and_then(logging::format_from_str),
        None => None,
    })
}

/// The failure as one line in the log format: through the logger once it is
/// set up, else rendered the same way in the format known so far.
fn report(err: &Error, early_format: LogFormat) {
    let bug = "this looks like a bug in polyteia-db-connector; please report it with the line above";
    if logging::is_initialized() {
        log::error!(exit_code = err.exit_code(), error_class = err.kind().name(); "{err}");
        if err.kind() == ErrorKind::Internal {
            log::error!("{bug}");
        }
    } else {
        let fields =
            vec![("exit_code".into(), err.exit_code().into()), ("error_class".into(), err.kind().name().into())];
        logging::print_line(early_format, log::Level::Error, err.message(), fields);
        if err.kind() == ErrorKind::Internal {
            logging::print_line(early_format, log::Level::Error, bug, vec![]);
        }
    }
}
