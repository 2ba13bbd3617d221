//! polyteia-db-connector: one SQL query → Parquet → a Polyteia dataset.
//!
//! The modules, the flow between them and the traits at the seams are
//! described in ARCHITECTURE.md at the repository root.

pub mod cancel;
pub mod check;
pub mod cli;
pub mod config;
pub mod cron;
pub(crate) mod dotenv;
pub mod env;
pub mod error;
pub mod health;
pub mod job;
pub mod logging;
pub mod metrics;
pub mod network;
pub(crate) mod mysql_tls;
pub mod polyteia;
pub mod retry;
pub mod schedule;
pub mod secret;
pub mod setting;
pub mod settings;
pub mod source;
pub mod sql;
pub mod stages;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
