//! polyteia-db-connector: one SQL query → Parquet → a Polyteia dataset.
//!
//! Modules, one concern each: [`cli`] (arguments), [`config`] (environment,
//! `.env`, secrets, validation), [`sql`] (the query text), [`source`]
//! (DuckDB, extensions, ATTACH, export), [`polyteia`] (the API client, one
//! file per API generation), [`job`] (one cycle and its summary), [`check`]
//! (preflight), [`schedule`] and [`health`] (the long-lived mode), [`metrics`]
//! (the metric families; Pushgateway and textfile after a run),
//! [`cancel`] (signals), [`mysql_tls`] (MySQL host-name check), [`error`]
//! (exit codes), [`secret`] (redaction), [`logging`].

pub mod cancel;
pub mod check;
pub mod cli;
pub mod config;
pub mod dotenv;
pub mod error;
pub mod health;
pub mod job;
pub mod logging;
pub mod metrics;
pub mod mysql_tls;
pub mod polyteia;
pub mod retry;
pub mod schedule;
pub mod secret;
pub mod source;
pub mod sql;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
