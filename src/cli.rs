//! The command line. Settings live in the environment (see README); the
//! command line only picks what to do and where the `.env` files are.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

pub use crate::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "connector",
    version,
    about = "Runs one SQL query against PostgreSQL or MySQL/MariaDB through DuckDB, writes the result as \
             Parquet and uploads it to a Polyteia dataset.",
    after_help = format!(
        "Settings come from environment variables or .env files; see README.md.\n\n{}",
        crate::error::exit_code_help()
    )
)]
pub struct Cli {
    /// Read settings from this file instead of ./.env; may be given several times, later files
    /// win over earlier ones (the environment still wins over all).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Vec<PathBuf>,

    /// Overrides LOG_LEVEL: debug, info, warn or error.
    #[arg(long, global = true, value_name = "LEVEL", ignore_case = true)]
    pub log_level: Option<LogLevel>,

    /// Overrides LOG_FORMAT: text or json.
    #[arg(long, global = true, value_name = "FORMAT", ignore_case = true)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one cycle: export the query result, upload it to the dataset, wait for the ingest.
    Run {
        /// Serve GET /healthz on HEALTH_CHECK_PORT while the run lasts.
        #[arg(long)]
        serve_health: bool,
    },
    /// Upload an existing Parquet file to the dataset (after checking it is readable Parquet).
    Upload {
        /// The Parquet file to upload; it replaces the dataset's data.
        #[arg(long, short, value_name = "PATH")]
        file: PathBuf,
    },
    /// Check the configuration, the source database, the query, the network path to Polyteia and the key without uploading.
    Check,
    /// Keep running: one cycle on every CRON_SCHEDULE tick, with /healthz and /metrics.
    Schedule {
        /// Also run one cycle immediately at start.
        #[arg(long)]
        run_now: bool,
    },
    /// Run the query and write the result to a local Parquet file; nothing is uploaded.
    Export {
        /// Where to write the Parquet file (written beside it first, then renamed).
        #[arg(long, short, value_name = "PATH")]
        output: PathBuf,
    },
    /// Print the version.
    Version,
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
}

/// The completion script for `shell`, generated from the same definition the
/// binary parses, so it never lags behind the options. Built in memory because
/// clap_complete panics when its writer fails (e.g. a closed pipe).
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "connector", &mut script);
    script
}

/// `--log-level`: a wrong value is a usage error (exit 2) listing these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    #[value(hide = true)]
    Trace,
    Debug,
    Info,
    #[value(alias = "warning")]
    Warn,
    Error,
}

impl LogLevel {
    /// The value as `LOG_LEVEL` spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}
