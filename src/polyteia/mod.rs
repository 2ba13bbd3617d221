//! The Polyteia API client. Two API generations (see
//! `../shared/polyteia-api.md`) sit behind one small trait, so the job never
//! sees HTTP: [`upload_token`] (the default) and [`session`] (chosen when an
//! organization is configured). What both share: `http.rs` (the retry policy and
//! the `Client`, whose agent takes the network path of [`crate::network`]),
//! `multipart.rs` (the streamed upload body) and `reply.rs` (answers, error parsing
//! and the failures they stand for). The retry schedule is [`crate::retry`]'s,
//! shared with the source connection.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ApiGeneration, PolyteiaSettings};
use crate::error::{Error, Result};
use crate::secret::Secret;

pub(crate) mod http;
pub(crate) mod multipart;
pub(crate) mod reply;
pub mod session;
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
pub enum CheckResult {
    Passed(String),
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
    fn new(check: &'static str, outcome: CheckResult) -> Preflight {
        Preflight { check, outcome }
    }

    /// Passed with `detail(value)`, or failed with the error.
    fn from_result<T>(check: &'static str, result: Result<T>, detail: impl FnOnce(&T) -> String) -> (Preflight, Option<T>) {
        match result {
            Ok(value) => (Preflight::new(check, CheckResult::Passed(detail(&value))), Some(value)),
            Err(err) => (Preflight::new(check, CheckResult::Failed(err)), None),
        }
    }

    fn skipped(check: &'static str, reason: &str) -> Preflight {
        Preflight::new(check, CheckResult::Skipped(reason.to_string()))
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
    if matches!(network.outcome, CheckResult::Failed(_)) {
        return (vec![network, Preflight::skipped(KEY_CHECK, "needs a working network path to the API")], None);
    }
    let (key, value) = Preflight::from_result(KEY_CHECK, key, detail);
    (vec![network, key], value)
}

/// One API generation.
pub trait Api: Send + Sync {
    /// e.g. `upload-token API at https://app.polyteia.com`.
    fn describe(&self) -> String;

    /// Replaces the dataset's data with the Parquet file at `file`. Retries
    /// transient failures, each time from the first byte.
    fn upload(&self, file: &Path, progress: ProgressFn) -> Result<UploadReceipt>;

    /// Waits until the platform has ingested the upload.
    fn wait_for_ingest(&self, receipt: &UploadReceipt) -> Result<IngestOutcome>;

    /// Everything this generation can check without uploading, in order,
    /// starting with the network path check (`http::NETWORK_CHECK`) and [`KEY_CHECK`]; a check whose
    /// prerequisite failed is skipped.
    fn preflight(&self) -> Vec<Preflight>;
}

/// The key and the dataset both API generations need.
fn credentials(settings: &PolyteiaSettings) -> Result<(Secret, String)> {
    let pak = settings
        .personal_access_token
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::config("PERSONAL_ACCESS_TOKEN: is required to talk to Polyteia"))?;
    let dataset_id = settings
        .dataset_id
        .clone()
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| Error::config("DATASET_ID: is required to talk to Polyteia"))?;
    Ok((pak, dataset_id))
}

/// The one place that picks the API generation from the settings.
/// `cancel` aborts retries, waits and a running upload when set.
pub fn api_for(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>) -> Result<Box<dyn Api>> {
    match settings.api() {
        ApiGeneration::UploadToken => Ok(Box::new(upload_token::UploadTokenApi::new(settings, cancel)?)),
        ApiGeneration::Session => Ok(Box::new(session::SessionApi::new(settings, cancel)?)),
    }
}
