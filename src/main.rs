use std::sync::Arc;

use clap::Parser;

use connector::cli::{Cli, Command};
use connector::config::{self, Config, Env, Purpose};
use connector::error::{Error, ErrorKind};
use connector::job::{self, Context};
use connector::schedule::{self, Schedule};
use connector::{check, health, logging};

fn main() {
    let cli = Cli::parse();
    std::process::exit(match run(cli) {
        Ok(()) => 0,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    });
}

fn run(cli: Cli) -> Result<(), Error> {
    if let Command::Version = cli.command {
        println!("connector {} (polyteia-db-connector, {})", connector::VERSION, connector::source::duckdb_library_description());
        return Ok(());
    }
    // Needs no settings: it describes the command line itself.
    if let Command::Completions { shell } = cli.command {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(&connector::cli::completions(shell))
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::new(ErrorKind::LocalIo, format!("cannot write to standard output: {e}")));
    }
    let mut env = Env::load(&cli.env_file)?;
    // Command-line flags win over the environment.
    if let Some(level) = &cli.log_level {
        env.set("LOG_LEVEL", level);
    }
    if let Some(format) = &cli.log_format {
        env.set("LOG_FORMAT", format);
    }
    logging::init(config::log_level_hint(&env), config::log_format_hint(&env));

    let ctx = Context::new();
    match cli.command {
        Command::Export { output } => {
            let config = Config::from_env(&env, Purpose::Export)?;
            ctx.cancel.install_signal_handlers()?;
            job::export_to_file(&config, &output, &ctx)?;
            Ok(())
        }
        Command::Run { serve_health } => {
            log_env_files(&env);
            let config = Config::from_env(&env, Purpose::Upload)?;
            ctx.cancel.install_signal_handlers()?;
            let _server = match serve_health {
                true => Some(health::Server::start(config.schedule.health_check_port, ctx.state.clone())?),
                false => None,
            };
            if serve_health {
                job::run_recorded(&config, &ctx)?;
            } else {
                job::run_once(&config, &ctx)?;
            }
            Ok(())
        }
        Command::Upload { file } => {
            let config = Config::from_env(&env, Purpose::Upload)?;
            ctx.cancel.install_signal_handlers()?;
            job::upload_file(&config, &file, &ctx)?;
            Ok(())
        }
        Command::Check => {
            log_env_files(&env);
            let config = Config::from_env(&env, Purpose::Upload)?;
            check::run_checks(&config, &ctx)
        }
        Command::Schedule { run_now } => {
            let config = Config::from_env(&env, Purpose::Upload)?;
            // An invalid expression stops here, before anything runs.
            let schedule = Schedule::parse(&config.schedule.cron_schedule, &config.schedule.cron_tz)?;
            ctx.cancel.install_signal_handlers()?;
            let _server = health::Server::start(config.schedule.health_check_port, ctx.state.clone())?;
            schedule::run(Arc::new(config), schedule, run_now, ctx)
        }
        Command::Version | Command::Completions { .. } => unreachable!("handled above"),
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

/// The failure as one line: through the logger once it is set up, else stderr.
fn report(err: &Error) {
    if log::max_level() >= log::LevelFilter::Error {
        log::error!(exit_code = err.exit_code(), error_class = err.kind().name(); "{err}");
    } else {
        eprintln!("error: {err}");
    }
    if err.kind() == ErrorKind::Internal {
        eprintln!("this looks like a bug in polyteia-db-connector; please report it with the line above");
    }
}
