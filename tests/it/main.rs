//! The integration tests, as one test binary: each file next to this one is
//! one area, and `common/` holds the helpers they share. One binary links
//! DuckDB once instead of once per file. Run one area with
//! `scripts/test --test it -- faults::` (CONTRIBUTING.md, "Tests").

mod common;

mod check_schedule_signals;
mod cli_and_embedded;
mod exactness;
mod exactness_holes;
mod export_servers;
mod faults;
mod generated_types;
mod hostile_input;
mod monitoring;
mod odbc;
mod ordering;
mod polyteia_api;
mod properties;
mod pseudonymize;
mod run_end_to_end;
mod source_tls;
mod type_fidelity;
