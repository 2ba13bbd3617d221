//! `connector check`: every preflight check, one log line each, nothing
//! uploaded. A check whose prerequisite failed is skipped with a warning.

use std::time::Instant;

use crate::config::RunConfig;
use crate::source::export_settings::TEMP_DIR;
use crate::error::{Error, ErrorKind, Result};
use crate::job::Context;
use crate::polyteia::{self, Outcome, KEY_CHECK};
use crate::source::{self, Source};

#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Report {
    fn record(&mut self, check: &str, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Passed(detail) => {
                self.passed += 1;
                log::info!(check = check, result = "passed"; "PASS {check}: {detail}");
                true
            }
            Outcome::Failed(err) => {
                self.failed += 1;
                log::error!(check = check, result = "failed", exit_code = err.exit_code(); "FAIL {check}: {err}");
                false
            }
            Outcome::Skipped(reason) => {
                self.skipped += 1;
                log::warn!(check = check, result = "skipped"; "SKIP {check}: {reason}");
                false
            }
        }
    }

    fn pass_or_fail<T>(&mut self, check: &str, result: Result<T>, detail: impl FnOnce(&T) -> String) -> Option<T> {
        match result {
            Ok(value) => {
                self.record(check, Outcome::Passed(detail(&value)));
                Some(value)
            }
            Err(err) => {
                self.record(check, Outcome::Failed(err));
                None
            }
        }
    }

    fn skip(&mut self, check: &str, reason: &str) {
        self.record(check, Outcome::Skipped(reason.to_string()));
    }
}

pub fn run_checks(config: &RunConfig, ctx: &Context) -> Result<()> {
    let mut report = Report::default();
    check_source(config, &mut report);
    // The API generation decides what can be checked; this only prints it.
    match polyteia::api_for(&config.api, ctx.cancel.flag()) {
        Ok(api) => {
            for preflight in api.preflight() {
                report.record(preflight.check, preflight.outcome);
            }
        }
        Err(err) => {
            report.record(KEY_CHECK, Outcome::Failed(err));
        }
    }
    log::info!(passed = report.passed, failed = report.failed, skipped = report.skipped;
        "check finished: {} passed, {} failed, {} skipped", report.passed, report.failed, report.skipped);
    if report.failed > 0 {
        let noun = if report.failed == 1 { "check" } else { "checks" };
        return Err(Error::new(ErrorKind::CheckFailed, format!("{} {noun} failed; each failed check above names what to fix", report.failed)));
    }
    Ok(())
}

fn check_source(config: &RunConfig, report: &mut Report) {
    let s = &config.export.source;
    let work_dir = match source::private_work_dir(&config.export.output.temp_dir) {
        Ok(dir) => dir,
        Err(err) => {
            report.record("temp directory", Outcome::Failed(err));
            let reason = format!("needs a writable {}", TEMP_DIR.name);
            report.skip("source database", &reason);
            report.skip("source query", &reason);
            return;
        }
    };
    let started = Instant::now();
    let opened = report.pass_or_fail("source database", Source::open(s, &config.export.engine, work_dir.path()), |_| {
        let target = match (&s.host, s.port) {
            (Some(host), Some(port)) => format!(" at {host}:{port} as {}", s.user.as_deref().unwrap_or("")),
            _ => String::new(),
        };
        format!("connected to {} database {}{target} in {:.2}s", s.kind.name(), s.database, started.elapsed().as_secs_f64())
    });
    match opened {
        Some(source) => {
            report.pass_or_fail("source query", source.describe(), |columns| {
                let list: Vec<String> = columns.iter().map(|c| format!("{} {}", c.name, c.type_name)).collect();
                format!("valid, {} columns: {}", columns.len(), list.join(", "))
            });
        }
        None => report.skip("source query", "needs a working source database connection"),
    }
}
