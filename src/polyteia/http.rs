//! The HTTP side both API generations share: the [`Client`] with its agent (from
//! [`crate::network::agent`], over the API's [`NetworkPath`]) and [`RetryPolicy`].
//!
//! A request goes through three layers:
//! 1. [`Client::post_json`] / [`Client::post_multipart`] send one request and
//!    return the raw [`Reply`] whatever its status; only transport failures
//!    (refused, reset, timeout, …) are turned into a [`Failure`] here.
//! 2. [`Client::interpret`] / [`check_success`] turn a reply into its JSON or
//!    into a [`Failure`]: [`Failure::Transient`] for the answers worth
//!    retrying, [`Failure::Fatal`] for the rest (see [`super::reply`]).
//! 3. [`Client::retrying`] repeats an attempt while it fails transiently,
//!    through [`crate::retry`] (the schedule the source connection uses too).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use ureq::{Agent, SendBody};

use super::multipart::MultipartFile;
use super::reply::{check_success, classify, parse_retry_after, transport_failure, Failure, Reply, TRANSIENT_STATUSES};
use super::settings::PolyteiaSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::network::agent::build_agent;
use crate::network::proxy::ProxyInUse;
use crate::network::NetworkPath;
use crate::retry::{self, GaveUp, RetryPolicy, Verdict};
use crate::secret::{scrub, Secret};
use crate::stages::{CheckResult, Preflight, ProgressFn};

/// Responses larger than this are not read (the API answers small JSON).
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

/// The name of the preflight check that reports the API's [`NetworkPath`].
pub(crate) const NETWORK_CHECK: &str = "network path";

/// The name of the check of the key, the first request of every generation's
/// preflight; also what `check` reports when the API cannot even be set up.
pub const KEY_CHECK: &str = "polyteia key";

/// The [`NETWORK_CHECK`] and the [`KEY_CHECK`], both from the key
/// check's request: one that got no answer at all (proxy refused, TLS
/// refused, unreachable) fails the network path, and the key check is
/// skipped rather than blamed.
pub(crate) fn network_and_key<T>(
    client: &Client,
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

// ---------------------------------------------------------------------------
// Client

/// One API's HTTP side: agent, base URL, retry policy and cancel flag.
pub(crate) struct Client {
    agent: Agent,
    path: NetworkPath,
    /// The proxy as failures name it.
    proxy: Option<ProxyInUse>,
    /// Set once the API (through the proxy, over TLS) has answered anything:
    /// proof that the network path works.
    answered: AtomicBool,
    base_url: String,
    retry: RetryPolicy,
    cancel: Arc<AtomicBool>,
    /// What to check when the API answers 404 (the settings that name the target).
    not_found_hint: String,
}

impl Client {
    pub(crate) fn new(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>, not_found_hint: String) -> Result<Client> {
        let path = settings.network.clone();
        Ok(Client {
            agent: build_agent(settings.base_url.host(), &path, settings.http_timeout),
            proxy: path.proxy.in_use(),
            path,
            answered: AtomicBool::new(false),
            base_url: settings.base_url.as_str().to_string(),
            retry: settings.retry.clone(),
            cancel,
            not_found_hint,
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn max_attempts(&self) -> u32 {
        self.retry.attempts.max(1)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn interrupted() -> Failure {
        Failure::fatal(Error::new(ErrorKind::InterruptedSigterm, "interrupted"))
    }

    /// Sleeps `duration`; fails as soon as the cancel flag is set.
    pub(crate) fn sleep(&self, duration: Duration) -> Result<(), Failure> {
        retry::sleep(duration, &self.cancel).map_err(|_| Self::interrupted())
    }

    /// POSTs a JSON body; `bearer` becomes `Authorization: Bearer …`.
    pub(crate) fn post_json(
        &self,
        what: &str,
        path: &str,
        bearer: Option<&Secret>,
        body: &Value,
    ) -> Result<Reply, Failure> {
        if self.is_cancelled() {
            return Err(Self::interrupted());
        }
        let bytes =
            serde_json::to_vec(body).map_err(|e| Failure::fatal(Error::new(ErrorKind::Internal, e.to_string())))?;
        let mut request = self.agent.post(self.url(path)).header("Content-Type", "application/json");
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {}", token.expose()));
        }
        let result = request.send(bytes);
        self.finish(what, result)
    }

    /// POSTs `file` as a streamed multipart body with the given credential
    /// headers (e.g. `X-Upload-Token`); `progress` gets the bytes sent so far.
    pub(crate) fn post_multipart(
        &self,
        what: &str,
        path: &str,
        headers: &[(&str, String)],
        file: &Path,
        progress: ProgressFn,
    ) -> Result<Reply, Failure> {
        if self.is_cancelled() {
            return Err(Self::interrupted());
        }
        let body = MultipartFile::open(file)?;
        let mut request = self
            .agent
            .post(self.url(path))
            .header("Content-Type", body.content_type())
            // Set by hand so that ureq sends the reader as a sized body, not chunked.
            .header("Content-Length", body.content_length().to_string());
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut reader = body.into_reader(progress, &self.cancel);
        let result = request.send(SendBody::from_reader(&mut reader));
        self.finish(what, result)
    }

    fn finish(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, Failure> {
        let mut response = match result {
            Ok(response) => response,
            Err(_) if self.is_cancelled() => return Err(Self::interrupted()),
            Err(e) => return Err(transport_failure(what, e, self.proxy.as_ref())),
        };
        self.answered.store(true, Ordering::SeqCst);
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let location = header("location");
        let body = match response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec() {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                format!("(a response body larger than {MAX_RESPONSE_BYTES} bytes)")
            }
            Err(_) if self.is_cancelled() => return Err(Self::interrupted()),
            Err(e) => {
                if TRANSIENT_STATUSES.contains(&status) || (200..300).contains(&status) {
                    return Err(transport_failure(what, e, self.proxy.as_ref()));
                }
                String::new()
            }
        };
        Ok(Reply { status, body, retry_after, location })
    }

    /// The [`NETWORK_CHECK`] after the first checks' requests: passed once the
    /// API has answered anything (the proxy let the request through and TLS
    /// verified the certificate); else failed with `failure`, the error of
    /// the request that did not get through.
    pub(crate) fn network_check(&self, failure: Option<&Error>) -> Preflight {
        let outcome = match failure {
            Some(err) if !self.answered.load(Ordering::SeqCst) => CheckResult::Failed(err.clone()),
            _ => CheckResult::Passed(format!("{} reached {}", self.base_url, self.path.describe())),
        };
        Preflight { check: NETWORK_CHECK, outcome }
    }

    /// Checks a reply with this client's hints; see [`check_success`].
    pub(crate) fn interpret(&self, what: &str, reply: &Reply) -> Result<Value, Failure> {
        check_success(what, reply, &self.not_found_hint)
    }

    /// Classifies a failed reply with this client's hints; see [`classify`].
    pub(crate) fn classify(&self, what: &str, reply: &Reply) -> Failure {
        classify(what, reply, &self.not_found_hint)
    }

    /// Runs `attempt` (given its number, from 1) until it succeeds, fails for
    /// good, or has failed transiently `attempts` times; waits between tries
    /// with exponential backoff and jitter, at least `Retry-After`, never
    /// longer than the maximum. The returned failure is always `Fatal`.
    pub(crate) fn retrying<T>(&self, what: &str, attempt: impl FnMut(u32) -> Result<T, Failure>) -> Result<T, Failure> {
        let judge = |failure: &Failure| match failure {
            Failure::Transient { retry_after, .. } => Verdict::Retry { after: *retry_after },
            Failure::Fatal { .. } => Verdict::Stop,
        };
        let announce = |failure: &Failure, number: u32, delay: Duration| {
            let reason = scrub(&short_reason(what, failure));
            log::warn!(
                attempt = number, max_attempts = self.max_attempts(), delay_seconds = delay.as_secs_f64();
                "{what}: attempt {number} of {} failed: {reason}; retrying in {:.1}s",
                self.max_attempts(), delay.as_secs_f64()
            );
        };
        match retry::retry(&self.retry, &self.cancel, attempt, judge, announce) {
            Ok(value) => Ok(value),
            Err(GaveUp::Cancelled) => Err(Self::interrupted()),
            Err(GaveUp::Failed { error, attempts, exhausted: true }) => {
                let tries = if attempts == 1 { "1 attempt".to_string() } else { format!("{attempts} attempts") };
                Err(Failure::fatal(Error::new(
                    ErrorKind::ApiUnavailable,
                    format!(
                        "{what} failed: the Polyteia API stayed unavailable after {tries}; last failure: {}",
                        short_reason(what, &error)
                    ),
                )))
            }
            Err(GaveUp::Failed { error, .. }) => Err(error),
        }
    }
}

/// "uploading failed: …; last failure: upload: HTTP 503" reads fine,
/// "x failed: …; last failure: x: HTTP 503" repeats itself.
fn short_reason(what: &str, failure: &Failure) -> String {
    let reason = match failure {
        Failure::Transient { reason, .. } => reason.clone(),
        Failure::Fatal { error, .. } => error.to_string(),
    };
    reason.strip_prefix(what).and_then(|r| r.strip_prefix(": ")).map(str::to_string).unwrap_or(reason)
}
