//! The Polyteia API client. Two API generations (docs/how-it-works.md, "The
//! Polyteia API"; the requests of each are pinned by tests/it/polyteia_api.rs)
//! sit behind one small trait, so the job never sees HTTP: [`upload_token`] (the default) and [`session`] (chosen when an
//! organization is configured). What both share: `http.rs` (the retry policy and
//! the `Client`, whose agent takes the network path of [`crate::network`]),
//! [`settings`] (the settings, parsed once), `multipart.rs` (the streamed upload
//! body) and `reply.rs` (answers, error parsing and the failures they stand for).
//! The retry schedule is [`crate::retry`]'s (the source connection has its own
//! policy, from its own settings). Imports go one way: the generations' files
//! use `http.rs`, `reply.rs`, `settings.rs` and the stage types from
//! [`crate::stages`]; only this file names the generations.

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
pub use http::KEY_CHECK;

/// The one place that picks the API generation from the settings.
/// `cancel` aborts retries, waits and a running upload when set.
pub fn api_for(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>) -> Result<Box<dyn Api>> {
    match settings.api() {
        ApiGeneration::UploadToken => Ok(Box::new(upload_token::UploadTokenApi::new(settings, cancel)?)),
        ApiGeneration::Session => Ok(Box::new(session::SessionApi::new(settings, cancel)?)),
    }
}
