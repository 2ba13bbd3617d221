//! `connector check`: every preflight check, one log line each, nothing
//! uploaded. A check whose prerequisite failed is skipped with a warning.

use crate::config::RunConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::job::Context;
use crate::polyteia::{self, KEY_CHECK};
use crate::source::export_settings::TEMP_DIR;
use crate::source::{QUERY_CHECK, SOURCE_CHECK};
use crate::stages::{CheckResult, Export};

#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Report {
    fn record(&mut self, check: &str, outcome: CheckResult) -> bool {
        match outcome {
            CheckResult::Passed(detail) => {
                self.passed += 1;
                log::info!(check = check, result = "passed"; "PASS {check}: {detail}");
                true
            }
            CheckResult::Warned(detail) => {
                self.passed += 1;
                log::warn!(check = check, result = "warned"; "WARN {check}: {detail}");
                true
            }
            CheckResult::Failed(err) => {
                self.failed += 1;
                log::error!(check = check, result = "failed", exit_code = err.exit_code(); "FAIL {check}: {err}");
                false
            }
            CheckResult::Skipped(reason) => {
                self.skipped += 1;
                log::warn!(check = check, result = "skipped"; "SKIP {check}: {reason}");
                false
            }
        }
    }

    fn skip(&mut self, check: &str, reason: &str) {
        self.record(check, CheckResult::Skipped(reason.to_string()));
    }
}

pub(crate) fn run_checks(config: &RunConfig, ctx: &Context) -> Result<()> {
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
            report.record(KEY_CHECK, CheckResult::Failed(err));
        }
    }
    log::info!(passed = report.passed, failed = report.failed, skipped = report.skipped;
        "check finished: {} passed, {} failed, {} skipped", report.passed, report.failed, report.skipped);
    if report.failed > 0 {
        let noun = if report.failed == 1 { "check" } else { "checks" };
        return Err(Error::new(
            ErrorKind::CheckFailed,
            format!("{} {noun} failed; each failed check above names what to fix", report.failed),
        ));
    }
    Ok(())
}

fn check_source(config: &RunConfig, report: &mut Report) {
    let export = crate::source::export_for(&config.export);
    let work_dir = match crate::job::private_work_dir(&config.export.output.temp_dir) {
        Ok(dir) => dir,
        Err(err) => {
            report.record("temp directory", CheckResult::Failed(err));
            let reason = format!("needs a writable {}", TEMP_DIR.name);
            report.skip(SOURCE_CHECK, &reason);
            report.skip(QUERY_CHECK, &reason);
            return;
        }
    };
    for preflight in export.preflight(work_dir.path()) {
        report.record(preflight.check, preflight.outcome);
    }
}
