//! The command line. Settings live in the environment (see README); the
//! command line only picks what to do and where the `.env` file is.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "connector",
    version,
    about = "Runs one SQL query against PostgreSQL or MySQL/MariaDB through DuckDB, writes the result as \
             Parquet and uploads it to a Polyteia dataset.",
    after_help = "Settings come from environment variables or a .env file; see README.md. \
                  Exit codes: 0 success, 3 configuration, 4 source unreachable, 5 query failed, \
                  6 empty result refused, 7 local I/O, 8 verification failed, 9 extension missing, \
                  10 API auth, 11 API rejected, 12 API unavailable, 13 ingest failed, 14 check failed, \
                  15 TLS to the API failed, 16 proxy refused the connection."
)]
pub struct Cli {
    /// Read settings from this file instead of ./.env (the environment still wins).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// Overrides LOG_LEVEL: debug, info, warn or error.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Overrides LOG_FORMAT: text or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,

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
}
