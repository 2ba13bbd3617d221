//! The upload-token API (the default): each attempt asks `POST {base}/api`
//! for a fresh upload token with the personal access key, then sends the
//! file to `POST {base}/upload` with only that token. A retried upload gets a
//! new token (tokens may be single-use) and resends the whole file.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::http::{network_and_key, Client};
use super::multipart::PARQUET_CONTENT_TYPE;
use super::reply::Failure;
use super::settings::{PolyteiaSettings, DATASET_ID};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::stages::{Api, IngestOutcome, Preflight, ProgressFn, UploadReceipt};

const TOKEN_STEP: &str = "upload token request";
const UPLOAD_STEP: &str = "upload";

pub struct UploadTokenApi {
    client: Client,
    pak: Secret,
    dataset_id: String,
}

impl UploadTokenApi {
    /// Needs `PERSONAL_ACCESS_TOKEN` and `DATASET_ID`; logs the API in use.
    pub fn new(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>) -> Result<Self> {
        let (pak, dataset_id) = (settings.personal_access_token.clone(), settings.dataset_id.clone());
        let api = UploadTokenApi {
            client: Client::new(settings, cancel, format!("check {}", DATASET_ID.name))?,
            pak,
            dataset_id,
        };
        log::info!(api = "upload-token", base_url = api.client.base_url(); "using the {}", api.describe());
        Ok(api)
    }

    /// One upload-token request, no retry. The token is a [`Secret`] at once.
    fn request_token(&self) -> Result<Secret, Failure> {
        let body = json!({
            "command": "generate_dataset_upload_token",
            "params": { "id": self.dataset_id, "content_type": PARQUET_CONTENT_TYPE },
        });
        let reply = self.client.post_json(TOKEN_STEP, "/api", Some(&self.pak), &body)?;
        let value = self.client.interpret(TOKEN_STEP, &reply)?;
        match value.pointer("/data/token").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) {
            Some(token) => Ok(Secret::new(token)),
            None => Err(super::reply::unexpected_answer(TOKEN_STEP, "data.token", &reply)),
        }
    }

    /// For `check`: whether the key may get an upload token for the dataset
    /// (the token is requested and thrown away; it is never used).
    pub fn can_generate_token(&self) -> Result<()> {
        self.client.retrying("requesting an upload token", |_| self.request_token().map(drop)).map_err(Error::from)
    }
}

impl Api for UploadTokenApi {
    fn describe(&self) -> String {
        format!("upload-token API at {}", self.client.base_url())
    }

    fn upload(&self, file: &Path, progress: ProgressFn) -> Result<UploadReceipt> {
        let size = std::fs::metadata(file)
            .map_err(|e| Error::io(format!("cannot read {} to upload it", file.display()), &e))?
            .len();
        let max = self.client.max_attempts();
        let started = Instant::now();
        let attempts = self.client.retrying("uploading to Polyteia", |attempt| {
            log::debug!(attempt = attempt, bytes = size;
                "upload attempt {attempt} of {max}: {size} bytes to {}", self.client.url("/upload"));
            let token = self.request_token()?;
            let headers = [("X-Upload-Token", token.expose().to_string())];
            let reply = self.client.post_multipart(UPLOAD_STEP, "/upload", &headers, file, progress)?;
            if reply.is_success() {
                Ok(attempt)
            } else {
                Err(self.client.classify(UPLOAD_STEP, &reply))
            }
        })?;
        log::debug!(attempts = attempts, seconds = started.elapsed().as_secs_f64();
            "upload accepted after {attempts} attempt(s)");
        Ok(UploadReceipt { ingest_id: None, attempts })
    }

    fn wait_for_ingest(&self, _receipt: &UploadReceipt) -> Result<IngestOutcome> {
        Ok(IngestOutcome::NotApplicable)
    }

    fn preflight(&self) -> Vec<Preflight> {
        let (checks, _) = network_and_key(&self.client, self.can_generate_token(), |_| {
            format!("an upload token for dataset {} can be generated (nothing was uploaded)", self.dataset_id)
        });
        checks
    }
}
