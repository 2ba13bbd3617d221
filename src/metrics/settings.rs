//! The monitoring settings of one-shot runs: the Pushgateway
//! (`PUSHGATEWAY_*`) and node_exporter's textfile collector
//! (`METRICS_TEXTFILE`). Parsed and checked here, once; the network path to
//! the Pushgateway is chosen with them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::area::{Area, Input};
use crate::env::Env;
use crate::network::{Network, NetworkPath};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::setting::{
    self, define_settings, Problems,
    WhenUnset::{Described, Unset, Value},
};

define_settings! {
    /// The monitoring settings.
    SETTINGS;
    PUSHGATEWAY_URL: Unset, "Prometheus Pushgateway that receives every run's metrics";
    PUSHGATEWAY_JOB: Value("polyteia_db_connector"), "the job label of the pushed metrics";
    PUSHGATEWAY_INSTANCE: Described("`DATASET_ID`"), "the instance label of the pushed metrics";
    PUSHGATEWAY_USERNAME: Unset, "basic auth user for the Pushgateway";
    PUSHGATEWAY_PASSWORD: Unset, "basic auth password for the Pushgateway", secret;
    PUSHGATEWAY_TIMEOUT: Value("10s"), "timeout of one push";
    METRICS_TEXTFILE: Unset, "a .prom file for node_exporter's textfile collector, written after every run";
}

/// The first push and at most two retries.
pub const PUSHGATEWAY_ATTEMPTS: u32 = 3;
const PUSHGATEWAY_MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct PushgatewaySettings {
    /// `PUSHGATEWAY_URL` without a trailing `/`.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
    /// The proxy and CAs for the Pushgateway, chosen with the configuration;
    /// a proxy or CA setting that cannot be used is reported when pushing, as
    /// a push never fails a run.
    pub network: Result<NetworkPath, String>,
    /// At most [`PUSHGATEWAY_ATTEMPTS`] attempts: a push never holds up the end of a run for long.
    pub retry: RetryPolicy,
}

/// Where the metrics of a finished run go, and the labels that tell the
/// runs of one job from those of another.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub pushgateway: Option<PushgatewaySettings>,
    /// `METRICS_TEXTFILE`: a `.prom` file for node_exporter's textfile collector.
    pub textfile: Option<PathBuf>,
    /// The `job` label (grouping key).
    pub job: String,
    /// The `instance` label: `PUSHGATEWAY_INSTANCE`, else `DATASET_ID`.
    pub instance: Option<String>,
}

impl MetricsSettings {
    pub fn is_enabled(&self) -> bool {
        self.pushgateway.is_some() || self.textfile.is_some()
    }
}

/// Validates the monitoring settings; `DATASET_ID` is the default instance label.
impl Area for MetricsSettings {
    fn parse(input: &Input, p: &mut Problems) -> MetricsSettings {
        let dataset_id = crate::polyteia::settings::parse_dataset_id(input.env);
        parse(input.env, dataset_id.as_deref(), &input.network, p)
    }
}

fn parse(env: &Env, dataset_id: Option<&str>, network: &Network, p: &mut Problems) -> MetricsSettings {
    let url = PUSHGATEWAY_URL.given(env).map(|u| u.trim().trim_end_matches('/').to_string());
    let uri = url.as_deref().and_then(|url| check_pushgateway_url(url, p));
    let username = PUSHGATEWAY_USERNAME.given(env).map(|u| u.trim().to_string());
    if username.as_deref().is_some_and(|u| u.contains(':') || u.chars().any(char::is_control)) {
        p.add(&PUSHGATEWAY_USERNAME, "must not contain ':' or control characters (HTTP basic auth)");
    }
    let password = setting::secret(env, &PUSHGATEWAY_PASSWORD, p);
    if password.as_ref().is_some_and(|pw| pw.expose().chars().any(char::is_control)) {
        p.add(
            &PUSHGATEWAY_PASSWORD,
            "holds a control character (a line break, tab or the like); give the password alone",
        );
    }
    let (url_name, user_name, password_name) =
        (PUSHGATEWAY_URL.name, PUSHGATEWAY_USERNAME.name, PUSHGATEWAY_PASSWORD.name);
    match (&url, &username, &password) {
        (None, Some(_), _) => p.add(&PUSHGATEWAY_USERNAME, format!("applies only with {url_name}")),
        (None, None, Some(_)) => p.add(&PUSHGATEWAY_PASSWORD, format!("applies only with {url_name}")),
        (Some(_), Some(_), None) => p.add(
            &PUSHGATEWAY_PASSWORD,
            format!(
                "is required with {user_name} (or set {})",
                PUSHGATEWAY_PASSWORD.file_variant().unwrap_or_default()
            ),
        ),
        (Some(_), None, Some(_)) => p.add(&PUSHGATEWAY_USERNAME, format!("is required with {password_name}")),
        _ => {}
    }
    let timeout = setting::duration(env, &PUSHGATEWAY_TIMEOUT, p);

    let textfile = METRICS_TEXTFILE.given(env).map(|f| PathBuf::from(f.trim()));
    if let Some(path) = &textfile {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if path.extension().is_none_or(|e| e != "prom") {
            p.add(
                &METRICS_TEXTFILE,
                format!("{} must end in .prom (node_exporter reads only those files)", path.display()),
            );
        } else if path.is_dir() {
            p.add(
                &METRICS_TEXTFILE,
                format!("{} is a directory; name a file in it, e.g. connector.prom", path.display()),
            );
        } else if !dir.is_dir() {
            p.add(&METRICS_TEXTFILE, format!("directory {} does not exist", dir.display()));
        }
    }

    let path = |uri: &ureq::http::Uri| {
        network
            .path_to(uri.host().unwrap_or_default(), uri.scheme_str() == Some("https"))
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    };
    MetricsSettings {
        pushgateway: url.map(|url| PushgatewaySettings {
            network: uri.as_ref().map_or_else(|| Err(format!("'{url}' is not a URL such as http://host:9091")), path),
            url,
            username,
            password,
            timeout,
            retry: RetryPolicy {
                attempts: PUSHGATEWAY_ATTEMPTS,
                base_delay: setting::retry_base_delay(env),
                max_delay: PUSHGATEWAY_MAX_BACKOFF,
            },
        }),
        textfile,
        job: PUSHGATEWAY_JOB.text(env).unwrap_or_default().trim().to_string(),
        instance: PUSHGATEWAY_INSTANCE
            .given(env)
            .map(|i| i.trim().to_string())
            .or_else(|| dataset_id.map(str::to_string)),
    }
}

/// An `http://` or `https://` URL with a host, optionally a path prefix (a
/// Pushgateway behind a reverse proxy); credentials go in their own variables.
fn check_pushgateway_url(url: &str, p: &mut Problems) -> Option<ureq::http::Uri> {
    let example = "such as http://pushgateway.monitoring:9091";
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        let shown = if url.contains('@') { "the value".to_string() } else { format!("'{url}'") };
        p.add(&PUSHGATEWAY_URL, format!("{shown} is not a URL {example}"));
        return None;
    };
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        let (user, password) = (PUSHGATEWAY_USERNAME.name, PUSHGATEWAY_PASSWORD.name);
        p.add(&PUSHGATEWAY_URL, format!("must not contain credentials; set {user} and {password}"));
    } else if !matches!(uri.scheme_str(), Some("http") | Some("https")) || uri.host().is_none_or(str::is_empty) {
        p.add(&PUSHGATEWAY_URL, format!("'{url}' is not an http:// or https:// URL {example}"));
    } else if uri.query().is_some() {
        p.add(&PUSHGATEWAY_URL, format!("'{url}' must not have a query (?...)"));
    } else {
        return Some(uri);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::pg_env;
    use crate::config::{ExportConfig, RunConfig};

    #[test]
    fn monitoring_settings_are_validated_with_everything_else() {
        let mut pairs = pg_env();
        pairs.extend([("DATASET_ID", "ds_permits"), ("PERSONAL_ACCESS_TOKEN", "pak_1")]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert!(!cfg.metrics.is_enabled());
        assert_eq!(Some(cfg.metrics.job.as_str()), PUSHGATEWAY_JOB.default_value());
        assert_eq!(cfg.metrics.instance.as_deref(), Some("ds_permits"));

        let dir = tempfile::tempdir().unwrap();
        let textfile = dir.path().join("connector.prom");
        let mut good = pairs.clone();
        good.extend([
            ("PUSHGATEWAY_URL", "https://push.example:9091/gateway/"),
            ("PUSHGATEWAY_USERNAME", "connector"),
            ("PUSHGATEWAY_PASSWORD", "pg-s3cret"),
            ("PUSHGATEWAY_INSTANCE", "permits"),
            ("PUSHGATEWAY_TIMEOUT", "3s"),
            ("METRICS_TEXTFILE", textfile.to_str().unwrap()),
        ]);
        let cfg = RunConfig::from_env(&Env::from_pairs(good)).unwrap();
        let push = cfg.metrics.pushgateway.as_ref().unwrap();
        assert_eq!(push.url, "https://push.example:9091/gateway");
        assert_eq!(push.timeout, Duration::from_secs(3));
        assert_eq!(push.retry.attempts, PUSHGATEWAY_ATTEMPTS);
        assert_eq!(cfg.metrics.instance.as_deref(), Some("permits"));
        assert_eq!(cfg.metrics.textfile.as_deref(), Some(textfile.as_path()));
        assert!(!format!("{cfg:?}").contains("pg-s3cret"));

        let mut bad = pairs.clone();
        bad.extend([
            ("PUSHGATEWAY_URL", "https://user:pw@push.example"),
            ("PUSHGATEWAY_USERNAME", "a:b"),
            ("PUSHGATEWAY_TIMEOUT", "soon"),
            ("METRICS_TEXTFILE", "/nonexistent-dir/connector.prom"),
        ]);
        let err = ExportConfig::from_env(&Env::from_pairs(bad)).unwrap_err();
        let msg = err.message();
        assert!(msg.starts_with("configuration has 5 problems"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_URL: must not contain credentials"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_USERNAME: must not contain ':'"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_PASSWORD: is required with PUSHGATEWAY_USERNAME"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_TIMEOUT: 'soon'"), "{msg}");
        assert!(msg.contains("METRICS_TEXTFILE: directory /nonexistent-dir does not exist"), "{msg}");
        assert!(!msg.contains("user:pw"), "{msg}");

        for (var, value, expected) in [
            ("PUSHGATEWAY_URL", "pushgateway:9091", "is not an http:// or https:// URL"),
            ("PUSHGATEWAY_URL", "http://push:9091/?x=1", "must not have a query"),
            ("METRICS_TEXTFILE", "/tmp/connector.txt", "must end in .prom"),
            ("PUSHGATEWAY_PASSWORD", "x", "applies only with PUSHGATEWAY_URL"),
        ] {
            let mut pairs = pairs.clone();
            pairs.push((var, value));
            let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(err.message().contains(&format!("{var}: ")) && err.message().contains(expected), "{value}: {err}");
        }
    }
}
