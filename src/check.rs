//! `connector check`: every preflight check, one log line each, nothing
//! uploaded. A check whose prerequisite failed is skipped with a warning.

use std::path::Path;

use crate::config::RunConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::job::Context;
use crate::polyteia::{self, KEY_CHECK};
use crate::source::export_settings::TEMP_DIR;
use crate::stages::{CheckResult, Export};

/// The check of `TEMP_DIR`, which the source checks need (DuckDB spills there).
pub(crate) const TEMP_DIR_CHECK: &str = "temp directory";

/// How one check ended, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

#[derive(Default)]
struct Report {
    /// Every check as reported, in order.
    outcomes: Vec<(String, Outcome)>,
}

impl Report {
    fn record(&mut self, check: &str, outcome: CheckResult) {
        let kind = match outcome {
            CheckResult::Passed(detail) => {
                log::info!(check = check, result = "passed"; "PASS {check}: {detail}");
                Outcome::Passed
            }
            // A warning passes: it tells, it does not stop the run.
            CheckResult::Warned(detail) => {
                log::warn!(check = check, result = "warned"; "WARN {check}: {detail}");
                Outcome::Passed
            }
            CheckResult::Failed(err) => {
                log::error!(check = check, result = "failed", exit_code = err.exit_code(); "FAIL {check}: {err}");
                Outcome::Failed
            }
            CheckResult::Skipped(reason) => {
                log::warn!(check = check, result = "skipped"; "SKIP {check}: {reason}");
                Outcome::Skipped
            }
        };
        self.outcomes.push((check.to_string(), kind));
    }

    fn skip(&mut self, check: &str, reason: &str) {
        self.record(check, CheckResult::Skipped(reason.to_string()));
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.iter().filter(|(_, o)| *o == outcome).count()
    }
}

pub(crate) fn run_checks(config: &RunConfig, ctx: &Context) -> Result<()> {
    let mut report = Report::default();
    let export = crate::source::export_for(&config.export);
    check_source(&export, &config.export.output.temp_dir, &mut report);
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
    let (passed, failed, skipped) =
        (report.count(Outcome::Passed), report.count(Outcome::Failed), report.count(Outcome::Skipped));
    log::info!(passed = passed, failed = failed, skipped = skipped;
        "check finished: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        let noun = if failed == 1 { "check" } else { "checks" };
        return Err(Error::new(
            ErrorKind::CheckFailed,
            format!("{failed} {noun} failed; each failed check above names what to fix"),
        ));
    }
    Ok(())
}

/// The export's checks, in a work directory of `temp_dir`; without one (not
/// writable, gone), every one of them is reported as skipped.
fn check_source(export: &dyn Export, temp_dir: &Path, report: &mut Report) {
    let work_dir = match crate::job::private_work_dir(temp_dir) {
        Ok(dir) => dir,
        Err(err) => {
            report.record(TEMP_DIR_CHECK, CheckResult::Failed(err));
            let reason = format!("needs a writable {}", TEMP_DIR.name);
            for check in export.preflight_checks() {
                report.skip(check, &reason);
            }
            return;
        }
    };
    for preflight in export.preflight(work_dir.path()) {
        report.record(preflight.check, preflight.outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Env, ExportConfig};
    use crate::source::{EXACTNESS_CHECK, PSEUDONYM_CHECK, QUERY_CHECK, SOURCE_CHECK};

    fn memory_export() -> crate::source::DuckDbExport {
        let env = Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1 AS one"),
        ]);
        crate::source::export_for(&ExportConfig::from_env(&env).unwrap().export)
    }

    #[test]
    fn without_a_work_directory_every_source_check_is_skipped() {
        // A file where TEMP_DIR should be: no directory can be made in it, also as root.
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let mut report = Report::default();
        check_source(&memory_export(), &not_a_dir, &mut report);
        let expected = [
            (TEMP_DIR_CHECK, Outcome::Failed),
            (SOURCE_CHECK, Outcome::Skipped),
            (QUERY_CHECK, Outcome::Skipped),
            (PSEUDONYM_CHECK, Outcome::Skipped),
            (EXACTNESS_CHECK, Outcome::Skipped),
        ];
        let expected: Vec<(String, Outcome)> = expected.iter().map(|(c, o)| (c.to_string(), *o)).collect();
        assert_eq!(report.outcomes, expected);
    }

    #[test]
    fn the_skipped_checks_are_the_ones_a_preflight_reports() {
        let export = memory_export();
        let dir = tempfile::tempdir().unwrap();
        let reported: Vec<&str> = export.preflight(dir.path()).iter().map(|p| p.check).collect();
        assert_eq!(reported, export.preflight_checks());
    }
}
