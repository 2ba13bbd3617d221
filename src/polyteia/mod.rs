//! The Polyteia API client. Two API generations (see
//! `../shared/polyteia-api.md`) sit behind one small trait, so the job never
//! sees HTTP: [`upload_token`] (the default) and [`session`] (chosen when an
//! organization is configured). What both share: `http.rs` (the retry policy and
//! the `Client`, whose agent takes the network path of [`crate::network`]),
//! [`settings`] (the settings, parsed once), `multipart.rs` (the streamed upload
//! body) and `reply.rs` (answers, error parsing and the failures they stand for).
//! The retry schedule is [`crate::retry`]'s, shared with the source connection.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::Result;
use settings::{ApiGeneration, PolyteiaSettings};

pub(crate) mod http;
pub(crate) mod multipart;
pub(crate) mod reply;
pub mod session;
pub mod settings;
pub mod upload_token;

pub use crate::stages::{Api, CheckResult, IngestOutcome, Preflight, ProgressFn, UploadReceipt};

/// The name of the check of the key, the first request of every generation's
/// preflight; also what `check` reports when the API cannot even be set up.
pub const KEY_CHECK: &str = "polyteia key";

/// The [`http::NETWORK_CHECK`] and the [`KEY_CHECK`], both from the key
/// check's request: one that got no answer at all (proxy refused, TLS
/// refused, unreachable) fails the network path, and the key check is
/// skipped rather than blamed.
fn network_and_key<T>(
    client: &http::Client,
    key: Result<T>,
    detail: impl FnOnce(&T) -> String,
) -> (Vec<Preflight>, Option<T>) {
    let network = client.network_check(key.as_ref().err());
    if matches!(network.outcome, CheckResult::Failed(_)) {
        return (vec![network, Preflight::skipped(KEY_CHECK, "needs a working network path to the API")], None);
    }
    let (key, value) = Preflight::from_result(KEY_CHECK, key, detail);
    (vec![network, key], value)
}

/// The one place that picks the API generation from the settings.
/// `cancel` aborts retries, waits and a running upload when set.
pub fn api_for(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>) -> Result<Box<dyn Api>> {
    match settings.api() {
        ApiGeneration::UploadToken => Ok(Box::new(upload_token::UploadTokenApi::new(settings, cancel)?)),
        ApiGeneration::Session => Ok(Box::new(session::SessionApi::new(settings, cancel)?)),
    }
}
