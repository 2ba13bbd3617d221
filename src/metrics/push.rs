//! Pushing a run's metrics to a Prometheus Pushgateway.
//!
//! A PUT replaces every metric of its group, so the metrics go to two groups:
//! - `job/<job>/instance/<instance>`: the last run's families, replaced by
//!   every run, failed or not;
//! - `job/<job>/instance/<instance>/result/success`:
//!   `connector_last_success_timestamp_seconds`, pushed after a successful
//!   run only, so that a failed run never erases the time of the last success.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;

use super::settings::{PushgatewaySettings, PUSHGATEWAY_PASSWORD, PUSHGATEWAY_URL, PUSHGATEWAY_USERNAME};
use super::{last_run, seconds, Exposition, FinishedRun, CONTENT_TYPE, LAST_SUCCESS};
use crate::network::agent::agent_for_url;
use crate::retry::{self, GaveUp, RetryPolicy, Verdict};
use crate::secret::{scrub, Secret};

/// How much of an error answer goes into the warning.
const MAX_ANSWER_CHARS: usize = 300;

pub(super) fn push(
    settings: &PushgatewaySettings,
    job: &str,
    instance: &str,
    outcome: &FinishedRun,
    interrupted: bool,
) {
    let url = &settings.url;
    let pusher = match Pusher::new(settings, interrupted) {
        Ok(pusher) => pusher,
        Err(reason) => {
            log::warn!(pushgateway = url.as_str(); "metrics not pushed to {url}: {reason}");
            return;
        }
    };
    let group = grouping_key(&[("job", job), ("instance", instance)]);
    let mut run = Exposition::new();
    last_run(&mut run, outcome);
    if let Err(reason) = pusher.put(&group, run.into_text()) {
        log::warn!(pushgateway = url.as_str(); "metrics not pushed to {url}: {reason}");
        return;
    }
    if outcome.is_success() {
        let mut success = Exposition::new();
        success.one(&LAST_SUCCESS, seconds(outcome.ended));
        let success_group = format!("{group}/{}", grouping_key(&[("result", super::SUCCESS)]));
        if let Err(reason) = pusher.put(&success_group, success.into_text()) {
            log::warn!(pushgateway = url.as_str(); "the time of this success was not pushed to {url}: {reason}");
            return;
        }
    }
    log::info!(pushgateway = url.as_str(), job = job, instance = instance;
        "metrics pushed to {url} (job {job}, instance {instance})");
}

/// The path of a group: `job/<job>/instance/<instance>`. A value that is
/// not a plain word (a `/`, a space, …) is given base64url-encoded, as the
/// Pushgateway expects (`instance@base64/…`).
fn grouping_key(labels: &[(&str, &str)]) -> String {
    let plain =
        |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    labels
        .iter()
        .map(|(name, value)| match plain(value) {
            true => format!("{name}/{value}"),
            // An empty value is spelt `=`.
            false if value.is_empty() => format!("{name}@base64/="),
            false => format!("{name}@base64/{}", URL_SAFE.encode(value)),
        })
        .collect::<Vec<_>>()
        .join("/")
}

struct Pusher {
    agent: ureq::Agent,
    base_url: String,
    authorization: Option<Secret>,
    retry: RetryPolicy,
}

/// Why an attempt failed, and whether another one may help.
struct Failure {
    reason: String,
    transient: bool,
}

impl Pusher {
    fn new(settings: &PushgatewaySettings, interrupted: bool) -> Result<Pusher, String> {
        let path = settings.network.as_ref().map_err(String::clone)?;
        let agent = agent_for_url(&settings.url, path, settings.timeout).map_err(|e| e.message().to_string())?;
        let authorization = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                // Registered, so that neither the pair nor its encoding can show up in a message.
                let credentials = Secret::new(format!("{user}:{}", password.expose()));
                Some(Secret::new(format!("Basic {}", STANDARD.encode(credentials.expose()))))
            }
            _ => None,
        };
        let mut retry = settings.retry.clone();
        if interrupted {
            retry.attempts = 1;
        }
        Ok(Pusher { agent, base_url: settings.url.clone(), authorization, retry })
    }

    /// PUTs `body` as the whole content of `group`, retrying what may pass.
    fn put(&self, group: &str, body: String) -> Result<(), String> {
        let url = format!("{}/metrics/{group}", self.base_url);
        let attempt = |_| self.put_once(&url, &body);
        let judge = |f: &Failure| if f.transient { Verdict::Retry { after: None } } else { Verdict::Stop };
        let attempts = self.retry.attempts;
        let announce = |f: &Failure, number: u32, delay: Duration| {
            log::info!(
                "pushing the metrics: attempt {number} of {attempts} failed: {}; retrying in {:.1}s",
                f.reason,
                delay.as_secs_f64()
            )
        };
        // Not cancelled by a signal: the push reports that very interruption.
        let never = AtomicBool::new(false);
        match retry::retry(&self.retry, &never, attempt, judge, announce) {
            Ok(()) => Ok(()),
            Err(GaveUp::Failed { error, attempts, .. }) if attempts > 1 => {
                Err(format!("{} (after {attempts} attempts)", error.reason))
            }
            Err(GaveUp::Failed { error, .. }) => Err(error.reason),
            Err(GaveUp::Cancelled) => Err("cancelled".into()),
        }
    }

    fn put_once(&self, url: &str, body: &str) -> Result<(), Failure> {
        let mut request = self.agent.put(url).header("Content-Type", CONTENT_TYPE);
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization.expose());
        }
        let mut response = match request.send(body.as_bytes()) {
            Ok(response) => response,
            Err(e) => return Err(Failure { reason: scrub(&e.to_string()), transient: true }),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let answer = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        let answer: String =
            answer.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_ANSWER_CHARS).collect();
        let hint = match status {
            401 | 403 => format!(" (check {} and {})", PUSHGATEWAY_USERNAME.name, PUSHGATEWAY_PASSWORD.name),
            404 => format!(" (check the path of {})", PUSHGATEWAY_URL.name),
            _ => String::new(),
        };
        let reason = match answer.is_empty() {
            true => format!("HTTP {status}{hint}"),
            false => format!("HTTP {status}{hint}: {}", scrub(&answer)),
        };
        Err(Failure { reason, transient: status == 429 || status >= 500 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_key_values_that_are_not_plain_are_base64url() {
        assert_eq!(
            grouping_key(&[("job", "polyteia_db_connector"), ("instance", "ds_1")]),
            "job/polyteia_db_connector/instance/ds_1"
        );
        assert_eq!(grouping_key(&[("instance", "a/b ü")]), format!("instance@base64/{}", URL_SAFE.encode("a/b ü")));
        assert_eq!(grouping_key(&[("instance", "")]), "instance@base64/=");
    }
}
