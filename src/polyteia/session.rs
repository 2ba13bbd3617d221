//! The session API (chosen when an organization is configured): the personal
//! access key is exchanged for a session token once, the file is uploaded to
//! `POST {base}/api/upload/dataset/{DATASET_ID}`, and the returned ingest is
//! polled until the platform reports it completed or failed.
//!
//! A call answered with 401 after the session was obtained (the session may
//! have expired during a long ingest) exchanges the key again, once.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::http::{network_and_key, Client};
use super::reply::{unexpected_answer, Failure};
use super::settings::{
    Organization, PolyteiaSettings, DATASET_ID, INGEST_TIMEOUT, POLYTEIA_ORGANIZATION_ID, POLYTEIA_ORGANIZATION_SLUG,
};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;
use crate::stages::{Api, IngestOutcome, Preflight, ProgressFn, UploadReceipt};

const EXCHANGE_PATH: &str = "/rpc/auth/personalAccessKey/exchange";
const INGEST_STATUS_PATH: &str = "/rpc/dataset/getDatasetIngestStatus";
const DATASET_BY_ID_PATH: &str = "/rpc/dataset/getDatasetById";
const DPA_STATUS_PATH: &str = "/rpc/dpa/getMyAcceptanceStatus";

/// An ingest id that cannot exist: asking for its status tells whether the
/// key may edit the dataset (404) or not (403) without uploading anything.
pub const PREFLIGHT_INGEST_ID: &str = "dsig_preflight_probe";

/// Everything but the unreserved characters is encoded in a path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `getDatasetById`, for `check`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetInfo {
    pub id: String,
    #[serde(default)]
    pub organization_id: String,
    /// Needed for [`SessionApi::terms_acknowledged`].
    #[serde(default)]
    pub solution_id: String,
    #[serde(default)]
    pub name: String,
}

pub struct SessionApi {
    client: Client,
    pak: Secret,
    organization: Organization,
    dataset_id: String,
    poll_interval: Duration,
    ingest_timeout: Duration,
    session: Mutex<Option<Secret>>,
}

impl SessionApi {
    /// Needs `PERSONAL_ACCESS_TOKEN`, `DATASET_ID` and an organization; logs
    /// the API in use. Nothing is sent yet: the session is obtained on first use.
    pub fn new(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>) -> Result<Self> {
        let (pak, dataset_id) = (settings.personal_access_token.clone(), settings.dataset_id.clone());
        let organization = settings.organization.clone().ok_or_else(|| {
            let (id, slug) = (POLYTEIA_ORGANIZATION_ID.name, POLYTEIA_ORGANIZATION_SLUG.name);
            Error::config(format!("{id} or {slug}: is required for the session API"))
        })?;
        let api = SessionApi {
            client: Client::new(
                settings,
                cancel,
                format!(
                    "check {} and {} / {}",
                    DATASET_ID.name, POLYTEIA_ORGANIZATION_ID.name, POLYTEIA_ORGANIZATION_SLUG.name
                ),
            )?,
            pak,
            organization,
            dataset_id,
            poll_interval: settings.ingest_poll_interval,
            ingest_timeout: settings.ingest_timeout,
            session: Mutex::new(None),
        };
        log::info!(api = "session", base_url = api.client.base_url(); "using the {}", api.describe());
        Ok(api)
    }

    /// One exchange of the key for a session token, no retry.
    fn exchange_once(&self) -> Result<Secret, Failure> {
        const STEP: &str = "session exchange";
        let mut params = Map::new();
        params.insert("key".into(), Value::String(self.pak.expose().to_string()));
        match &self.organization {
            Organization::Id(id) => params.insert("organizationId".into(), Value::String(id.clone())),
            Organization::Slug(slug) => params.insert("organizationSlug".into(), Value::String(slug.clone())),
        };
        let body = json!({ "json": params });
        // No Authorization header: the key travels in the body.
        let reply = self.client.post_json(STEP, EXCHANGE_PATH, None, &body)?;
        let value = self.client.interpret(STEP, &reply)?;
        match value.pointer("/json/token").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            Some(token) => Ok(Secret::new(token)),
            None => Err(unexpected_answer(STEP, "json.token", &reply)),
        }
    }

    /// For `check`: exchanges the key for a session now (a fresh one, with
    /// retries), so that a wrong key or organization shows up on its own.
    pub fn exchange(&self) -> Result<()> {
        *self.lock_session() = None;
        self.session().map(drop).map_err(Error::from)
    }

    /// The session token, exchanging the key first if there is none.
    fn session(&self) -> Result<Secret, Failure> {
        if let Some(token) = self.lock_session().clone() {
            return Ok(token);
        }
        let token =
            self.client.retrying("exchanging the personal access key for a session", |_| self.exchange_once())?;
        log::debug!("obtained a session from {}", self.client.base_url());
        *self.lock_session() = Some(token.clone());
        Ok(token)
    }

    fn lock_session(&self) -> std::sync::MutexGuard<'_, Option<Secret>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `call` with the session token; on a 401 exchanges the key again
    /// and runs it once more.
    fn with_session<T>(&self, call: impl Fn(&Secret) -> Result<T, Failure>) -> Result<T, Failure> {
        let token = self.session()?;
        match call(&token) {
            Err(failure) if failure.status() == Some(401) => {
                log::info!("the session was refused (HTTP 401); exchanging the personal access key again");
                *self.lock_session() = None;
                let token = self.session()?;
                call(&token)
            }
            other => other,
        }
    }

    /// An RPC call with retries; returns the `json` member of the result.
    fn rpc(&self, step: &str, path: &str, params: Value) -> Result<Value, Failure> {
        let body = json!({ "json": params });
        self.with_session(|token| {
            self.client.retrying(step, |_| {
                let reply = self.client.post_json(step, path, Some(token), &body)?;
                let value = self.client.interpret(step, &reply)?;
                match value.get("json") {
                    Some(result) if !result.is_null() => Ok(result.clone()),
                    _ => Err(unexpected_answer(step, "a \"json\" result", &reply)),
                }
            })
        })
    }

    fn ingest_status(&self, ingest_id: &str) -> Result<Value, Failure> {
        self.rpc("ingest status request", INGEST_STATUS_PATH, json!({ "id": self.dataset_id, "ingestId": ingest_id }))
    }

    /// For `check`: the dataset as the platform knows it (`getDatasetById`).
    pub fn dataset(&self) -> Result<DatasetInfo> {
        let value = self.rpc("dataset look-up", DATASET_BY_ID_PATH, json!({ "id": self.dataset_id }))?;
        serde_json::from_value::<DatasetInfo>(value.clone()).map_err(|e| {
            Error::new(
                ErrorKind::ApiRejected,
                format!(
                    "dataset look-up failed: unexpected answer ({e}): {}",
                    super::reply::shorten(&value.to_string(), 300)
                ),
            )
        })
    }

    /// For `check`: whether the user has acknowledged the data processing
    /// terms of the solution (uploads are refused until then).
    pub fn terms_acknowledged(&self, solution_id: &str) -> Result<bool> {
        let value = self.rpc("terms look-up", DPA_STATUS_PATH, json!({ "solutionId": solution_id }))?;
        value.get("acknowledged").and_then(Value::as_bool).ok_or_else(|| {
            Error::new(
                ErrorKind::ApiRejected,
                format!(
                    "terms look-up failed: the answer has no \"acknowledged\": {}",
                    super::reply::shorten(&value.to_string(), 300)
                ),
            )
        })
    }

    /// For `check`: whether the key may edit (upload to) the dataset, asked
    /// without uploading: the status of an ingest that cannot exist is 404
    /// for an editor and 403 for anyone else.
    pub fn may_edit(&self) -> Result<bool> {
        match self.ingest_status(PREFLIGHT_INGEST_ID) {
            Ok(_) => Ok(true),
            Err(failure) => match failure.status() {
                Some(404) => Ok(true),
                Some(403) => Ok(false),
                _ => Err(failure.into_error()),
            },
        }
    }
}

impl Api for SessionApi {
    fn describe(&self) -> String {
        let organization = match &self.organization {
            Organization::Id(id) => format!("organization id {id}"),
            Organization::Slug(slug) => format!("organization slug {slug}"),
        };
        format!("session API at {} ({organization})", self.client.base_url())
    }

    fn upload(&self, file: &Path, progress: ProgressFn) -> Result<UploadReceipt> {
        const STEP: &str = "upload";
        let size = std::fs::metadata(file)
            .map_err(|e| Error::io(format!("cannot read {} to upload it", file.display()), &e))?
            .len();
        let path = format!("/api/upload/dataset/{}", utf8_percent_encode(&self.dataset_id, PATH_SEGMENT));
        let max = self.client.max_attempts();
        let attempts = Cell::new(0u32);
        let started = Instant::now();
        let ingest_id = self.with_session(|token| {
            self.client.retrying("uploading to Polyteia", |attempt| {
                attempts.set(attempts.get() + 1);
                log::debug!(attempt = attempt, bytes = size;
                    "upload attempt {attempt} of {max}: {size} bytes to {}", self.client.url(&path));
                let headers = [("Authorization", format!("Bearer {}", token.expose()))];
                let reply = self.client.post_multipart(STEP, &path, &headers, file, progress)?;
                let value = self.client.interpret(STEP, &reply)?;
                if value.get("ok").and_then(Value::as_bool) == Some(false) {
                    return Err(unexpected_answer(STEP, "\"ok\": true", &reply));
                }
                match value.get("ingestId").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                    Some(id) => Ok(id.to_string()),
                    None => Err(unexpected_answer(STEP, "an ingestId", &reply)),
                }
            })
        })?;
        log::debug!(attempts = attempts.get(), seconds = started.elapsed().as_secs_f64(), ingest_id = ingest_id.as_str();
            "upload accepted after {} attempt(s); ingest {ingest_id} queued", attempts.get());
        Ok(UploadReceipt { ingest_id: Some(ingest_id), attempts: attempts.get() })
    }

    fn wait_for_ingest(&self, receipt: &UploadReceipt) -> Result<IngestOutcome> {
        let Some(ingest_id) = receipt.ingest_id.as_deref() else {
            return Err(Error::new(ErrorKind::Internal, "the upload returned no ingest id to wait for"));
        };
        let started = Instant::now();
        let mut last_status = String::new();
        loop {
            let value = self.ingest_status(ingest_id)?;
            let status = value.get("status").and_then(Value::as_str).unwrap_or("unknown").to_string();
            if status != last_status {
                log::info!(ingest_id = ingest_id, status = status.as_str(); "ingest {ingest_id} is {status}");
            } else {
                log::debug!(ingest_id = ingest_id, status = status.as_str(); "ingest {ingest_id} is still {status}");
            }
            match status.as_str() {
                "completed" => return Ok(IngestOutcome::Completed { waited: started.elapsed() }),
                "failed" => {
                    let reason = value
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .filter(|m| !m.trim().is_empty())
                        .unwrap_or("the platform gave no reason");
                    return Err(Error::new(
                        ErrorKind::IngestFailed,
                        format!(
                            "the platform reported ingest {ingest_id} as failed: {}",
                            super::reply::shorten(reason, 1000)
                        ),
                    ));
                }
                _ => {}
            }
            last_status = status;
            let elapsed = started.elapsed();
            if elapsed >= self.ingest_timeout {
                return Err(Error::new(
                    ErrorKind::IngestFailed,
                    format!(
                        "ingest {ingest_id} did not finish within {}={} (last status: {last_status}); it may still complete on the platform",
                        INGEST_TIMEOUT.name,
                        humantime::format_duration(self.ingest_timeout)
                    ),
                ));
            }
            self.client.sleep(self.poll_interval.min(self.ingest_timeout - elapsed))?;
        }
    }

    fn preflight(&self) -> Vec<Preflight> {
        const DATASET: &str = "dataset";
        const PERMISSION: &str = "upload permission";
        const TERMS: &str = "data processing terms";
        let (mut checks, exchanged) = network_and_key(&self.client, self.exchange(), |_| {
            "the personal access key was exchanged for a session".into()
        });
        if exchanged.is_none() {
            checks.extend(
                [DATASET, PERMISSION, TERMS].map(|check| Preflight::skipped(check, "needs a working Polyteia key")),
            );
            return checks;
        }
        let (dataset, info) = Preflight::from_result(DATASET, self.dataset(), |d| {
            format!("dataset {} ({}) found in organization {}", d.id, d.name, d.organization_id)
        });
        checks.push(dataset);
        let Some(info) = info else {
            // The permission probe cannot tell a missing dataset from one the key may edit.
            checks.push(Preflight::skipped(PERMISSION, "needs the dataset to be found"));
            checks.push(Preflight::skipped(TERMS, "needs the dataset (its solution) to be readable"));
            return checks;
        };
        let (permission, _) = Preflight::from_result(PERMISSION, permission(self.may_edit()), |_| {
            format!("the key may replace the data of dataset {}", self.dataset_id)
        });
        checks.push(permission);
        let (terms, _) = Preflight::from_result(TERMS, terms(self.terms_acknowledged(&info.solution_id)), |_| {
            format!("acknowledged for solution {}", info.solution_id)
        });
        checks.push(terms);
        checks
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
