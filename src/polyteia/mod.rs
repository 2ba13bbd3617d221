//! The Polyteia API client. Two API generations (see
//! `../shared/polyteia-api.md`) sit behind one small trait, so the job never
//! sees HTTP: [`upload_token`] (the default) and [`session`] (chosen when an
//! organization is configured). What both share: [`http`] (the agent, the
//! retry policy and the [`http::Client`]), [`settings`] (the settings, parsed once), [`multipart`] (the streamed upload body) and [`reply`]
//! (answers, error parsing and the failures they stand for). The retry
//! schedule is [`crate::retry`]'s, shared with the source connection.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use settings::{ApiGeneration, PolyteiaSettings};

pub(crate) mod http;
pub(crate) mod multipart;
pub(crate) mod reply;
pub mod session;
pub mod settings;
pub mod upload_token;

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
pub enum Outcome {
    Passed(String),
    Failed(Error),
    /// Not run because a check it needs failed; says which.
    Skipped(String),
}

/// One named preflight check and how it ended.
#[derive(Debug)]
pub struct Preflight {
    pub check: &'static str,
    pub outcome: Outcome,
}

impl Preflight {
    fn new(check: &'static str, outcome: Outcome) -> Preflight {
        Preflight { check, outcome }
    }

    /// Passed with `detail(value)`, or failed with the error.
    fn from_result<T>(check: &'static str, result: Result<T>, detail: impl FnOnce(&T) -> String) -> (Preflight, Option<T>) {
        match result {
            Ok(value) => (Preflight::new(check, Outcome::Passed(detail(&value))), Some(value)),
            Err(err) => (Preflight::new(check, Outcome::Failed(err)), None),
        }
    }

    fn skipped(check: &'static str, reason: &str) -> Preflight {
        Preflight::new(check, Outcome::Skipped(reason.to_string()))
    }
}

/// The name of the check of the key, the first request of every generation's
/// preflight; also what `check` reports when the API cannot even be set up.
pub const KEY_CHECK: &str = "polyteia key";

/// The [`http::NETWORK_CHECK`] and the [`KEY_CHECK`], both from the key
/// check's request: one that got no answer at all (proxy refused, TLS
/// refused, unreachable) fails the network path, and the key check is
/// skipped rather than blamed.
fn network_and_key<T>(client: &http::Client, key: Result<T>, detail: impl FnOnce(&T) -> String) -> (Vec<Preflight>, Option<T>) {
    let network = client.network_check(key.as_ref().err());
    if matches!(network.outcome, Outcome::Failed(_)) {
        return (vec![network, Preflight::skipped(KEY_CHECK, "needs a working network path to the API")], None);
    }
    let (key, value) = Preflight::from_result(KEY_CHECK, key, detail);
    (vec![network, key], value)
}

/// One API generation.
pub trait Api: Send + Sync {
    /// e.g. "upload-token API at https://app.polyteia.com".
    fn describe(&self) -> String;

    /// Replaces the dataset's data with the Parquet file at `file`. Retries
    /// transient failures, each time from the first byte.
    fn upload(&self, file: &Path, progress: ProgressFn) -> Result<UploadReceipt>;

    /// Waits until the platform has ingested the upload.
    fn wait_for_ingest(&self, receipt: &UploadReceipt) -> Result<IngestOutcome>;

    /// Everything this generation can check without uploading, in order,
    /// starting with [`http::NETWORK_CHECK`] and [`KEY_CHECK`]; a check whose
    /// prerequisite failed is skipped.
    fn preflight(&self) -> Vec<Preflight>;
}

/// The one place that picks the API generation from the settings.
/// `cancel` aborts retries, waits and a running upload when set.
pub fn api_for(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>) -> Result<Box<dyn Api>> {
    match settings.api() {
        ApiGeneration::UploadToken => Ok(Box::new(upload_token::UploadTokenApi::new(settings, cancel)?)),
        ApiGeneration::Session => Ok(Box::new(session::SessionApi::new(settings, cancel)?)),
    }
}
