//! polyteia-db-connector: one SQL query → Parquet → a Polyteia dataset.
//!
//! The modules, the flow between them and the traits at the seams are
//! described in ARCHITECTURE.md at the repository root. `app::main` is the
//! program; the public modules are what the integration tests and the man
//! page generator use. Everything else is crate-private, so that rustc's
//! dead-code lint sees all of it (`unreachable_pub` keeps it that way).

#![warn(unreachable_pub)]

pub mod app;
pub(crate) mod area;
pub(crate) mod cancel;
pub(crate) mod check;
pub mod cli;
pub mod config;
pub(crate) mod cron;
pub(crate) mod dotenv;
pub(crate) mod env;
pub mod error;
pub(crate) mod health;
pub(crate) mod job;
pub(crate) mod logging;
pub(crate) mod metrics;
pub(crate) mod mysql_tls;
pub mod network;
pub(crate) mod platform;
pub mod polyteia;
pub mod pseudonym;
pub mod retry;
pub(crate) mod schedule;
pub mod secret;
pub(crate) mod setting;
pub mod settings;
pub mod source;
pub mod sql;
pub mod stages;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
