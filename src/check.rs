//! `connector check`: every preflight check, one log line each, nothing
//! uploaded. A check whose prerequisite failed is skipped with a warning.

use std::time::Instant;

use crate::config::{ApiGeneration, Config};
use crate::error::{Error, ErrorKind, Result};
use crate::job::Context;
use crate::polyteia::session::SessionApi;
use crate::polyteia::upload_token::UploadTokenApi;
use crate::source::{self, Source};

/// How one check ended.
#[derive(Debug)]
pub enum Outcome {
    Passed(String),
    Failed(Error),
    Skipped(String),
}

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

pub fn run_checks(config: &Config, ctx: &Context) -> Result<()> {
    let mut report = Report::default();
    check_source(config, &mut report);
    match config.polyteia.api() {
        ApiGeneration::UploadToken => check_upload_token_api(config, ctx, &mut report),
        ApiGeneration::Session => check_session_api(config, ctx, &mut report),
    }
    log::info!(passed = report.passed, failed = report.failed, skipped = report.skipped;
        "check finished: {} passed, {} failed, {} skipped", report.passed, report.failed, report.skipped);
    if report.failed > 0 {
        let noun = if report.failed == 1 { "check" } else { "checks" };
        return Err(Error::new(ErrorKind::CheckFailed, format!("{} {noun} failed; each failed check above names what to fix", report.failed)));
    }
    Ok(())
}

fn check_source(config: &Config, report: &mut Report) {
    let s = match config.source() {
        Ok(s) => s,
        Err(err) => {
            report.record("source database", Outcome::Failed(err));
            return;
        }
    };
    let work_dir = match source::private_work_dir(&config.output.temp_dir) {
        Ok(dir) => dir,
        Err(err) => {
            report.record("temp directory", Outcome::Failed(err));
            report.skip("source database", "needs a writable TEMP_DIR");
            report.skip("source query", "needs a writable TEMP_DIR");
            return;
        }
    };
    let started = Instant::now();
    let opened = report.pass_or_fail("source database", Source::open(s, &config.engine, work_dir.path()), |_| {
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

fn check_upload_token_api(config: &Config, ctx: &Context, report: &mut Report) {
    let api = match UploadTokenApi::new(&config.polyteia, ctx.cancel.flag()) {
        Ok(api) => api,
        Err(err) => {
            report.record("polyteia key", Outcome::Failed(err));
            return;
        }
    };
    report.pass_or_fail("polyteia key", api.can_generate_token(), |_| {
        format!("an upload token for dataset {} can be generated (nothing was uploaded)", dataset(config))
    });
}

fn check_session_api(config: &Config, ctx: &Context, report: &mut Report) {
    let api = match SessionApi::new(&config.polyteia, ctx.cancel.flag()) {
        Ok(api) => api,
        Err(err) => {
            report.record("polyteia key", Outcome::Failed(err));
            return;
        }
    };
    let key_ok = report.pass_or_fail("polyteia key", api.exchange(), |_| {
        "the personal access key was exchanged for a session".to_string()
    });
    if key_ok.is_none() {
        for check in ["dataset", "upload permission", "data processing terms"] {
            report.skip(check, "needs a working Polyteia key");
        }
        return;
    }
    let dataset_info = report.pass_or_fail("dataset", api.dataset(), |d| {
        format!("dataset {} ({}) found in organization {}", d.id, d.name, d.organization_id)
    });
    // The permission probe cannot tell a missing dataset from an allowed upload.
    if dataset_info.is_some() {
        report.pass_or_fail("upload permission", permission(api.may_edit()), |_| {
            format!("the key may replace the data of dataset {}", dataset(config))
        });
    } else {
        report.skip("upload permission", "needs the dataset to be readable");
    }
    match dataset_info {
        Some(info) => {
            report.pass_or_fail("data processing terms", terms(api.terms_acknowledged(&info.solution_id)), |_| {
                format!("acknowledged for solution {}", info.solution_id)
            });
        }
        None => report.skip("data processing terms", "needs the dataset (its solution) to be readable"),
    }
}

fn permission(result: Result<bool>) -> Result<()> {
    match result? {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::ApiAuth,
            "the key may not edit this dataset (HTTP 403); ask an administrator of the dataset for edit rights",
        )),
    }
}

fn terms(result: Result<bool>) -> Result<()> {
    match result? {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::ApiRejected,
            "the data processing terms of the dataset's solution are not acknowledged; uploads are refused until \
             someone acknowledges them in Polyteia",
        )),
    }
}

fn dataset(config: &Config) -> &str {
    config.polyteia.dataset_id.as_deref().unwrap_or("?")
}
