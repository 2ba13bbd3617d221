//! The stages of a cycle as the job and `check` see them: the export
//! ([`Export`], one implementation: `source::DuckDbExport`) and the upload
//! ([`Api`], one per API generation), and the preflight checks both report.
//! Neutral ground: neither the source side nor the API client is imported.

use std::path::Path;
use std::time::Duration;

use crate::cancel::Cancellation;
use crate::error::{Error, Result};

/// What one export produced.
#[derive(Debug, Clone)]
pub struct ExportStats {
    pub rows: u64,
    pub columns: usize,
    /// How many of the columns hold pseudonyms (`PSEUDONYMIZE_COLUMNS`).
    pub pseudonymized: usize,
    pub bytes: u64,
    pub connect: Duration,
    pub query: Duration,
    pub verify: Duration,
}

/// The extract stage of a cycle as the job sees it: from the settings to a
/// verified Parquet file. `source::DuckDbExport` is the real one; the job's
/// tests use fakes.
pub trait Export: Send + Sync {
    /// Logs where the data comes from, before the work starts.
    fn announce(&self);

    /// Connects (retrying while the source is unreachable), calls `connected`,
    /// writes the verified Parquet file `dest` with the running query
    /// registered in `cancel` (a signal stops it), and closes the connection.
    /// `spill_dir` takes DuckDB's temporary files.
    fn export(&self, dest: &Path, spill_dir: &Path, cancel: &Cancellation, connected: &dyn Fn())
        -> Result<ExportStats>;

    /// What `connector check` reports for the source without exporting: the
    /// connection and the query's columns, in order (a check whose
    /// prerequisite failed is skipped). `spill_dir` as for [`Export::export`].
    fn preflight(&self, spill_dir: &Path) -> Vec<Preflight>;

    /// The names of the checks [`Export::preflight`] reports, in its order:
    /// what `check` reports as skipped when there is no `spill_dir` to give.
    fn preflight_checks(&self) -> &'static [&'static str];
}

/// A column of the query result, for `check` and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
}

/// Called with the number of body bytes sent so far (for a progress bar).
pub type ProgressFn<'a> = &'a (dyn Fn(u64) + Sync);

/// What the platform said about an accepted upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReceipt {
    /// The ingest id (session API only).
    pub ingest_id: Option<String>,
    /// How many attempts the upload took (1 = no retry).
    pub attempts: u32,
}

/// How waiting for the ingest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The API has no ingest step (upload-token API): the upload is final.
    NotApplicable,
    /// The platform reported `completed`.
    Completed { waited: Duration },
}

/// How one preflight check ended (`connector check` prints one line each).
#[derive(Debug)]
pub enum CheckResult {
    Passed(String),
    /// Passed, with something the user should look at (logged as a warning).
    Warned(String),
    Failed(Error),
    /// Not run because a check it needs failed; says which.
    Skipped(String),
}

/// One named preflight check and how it ended.
#[derive(Debug)]
pub struct Preflight {
    pub check: &'static str,
    pub outcome: CheckResult,
}

impl Preflight {
    pub(crate) fn new(check: &'static str, outcome: CheckResult) -> Preflight {
        Preflight { check, outcome }
    }

    /// Passed with `detail(value)`, or failed with the error.
    pub(crate) fn from_result<T>(
        check: &'static str,
        result: Result<T>,
        detail: impl FnOnce(&T) -> String,
    ) -> (Preflight, Option<T>) {
        match result {
            Ok(value) => (Preflight::new(check, CheckResult::Passed(detail(&value))), Some(value)),
            Err(err) => (Preflight::new(check, CheckResult::Failed(err)), None),
        }
    }

    pub(crate) fn skipped(check: &'static str, reason: &str) -> Preflight {
        Preflight::new(check, CheckResult::Skipped(reason.to_string()))
    }
}

/// The upload stage of a cycle: one implementation per API generation
/// (`polyteia::api_for` picks it).
pub trait Api: Send + Sync {
    /// e.g. "upload-token API at `https://app.polyteia.com`".
    fn describe(&self) -> String;

    /// Replaces the dataset's data with the Parquet file at `file`. Retries
    /// transient failures, each time from the first byte.
    fn upload(&self, file: &Path, progress: ProgressFn) -> Result<UploadReceipt>;

    /// Waits until the platform has ingested the upload.
    fn wait_for_ingest(&self, receipt: &UploadReceipt) -> Result<IngestOutcome>;

    /// Everything this generation can check without uploading, in order,
    /// starting with the network path and the key check; a check whose
    /// prerequisite failed is skipped.
    fn preflight(&self) -> Vec<Preflight>;
}
