//! The Polyteia settings: the key, the dataset, the API's base URL and
//! generation, and how patiently to talk to it. Parsed and checked here, once,
//! into [`PolyteiaSettings`], which the API client takes as it is.

use std::time::Duration;

use crate::area::{Area, Input};
use crate::env::Env;
use crate::network::{Network, NetworkPath};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::setting::{
    self, define_settings, Problems,
    WhenUnset::{Described, Required, Unset, Value},
};

/// `POLYTEIA_BASE_URL` when no organization is set (the upload-token API).
pub const UPLOAD_TOKEN_BASE_URL: &str = "https://app.polyteia.com";
/// `POLYTEIA_BASE_URL` when an organization is set (the session API).
pub const SESSION_BASE_URL: &str = "https://web.polyteia.de";

define_settings! {
    /// The Polyteia settings.
    SETTINGS;
    PERSONAL_ACCESS_TOKEN: Required("for `run`"), "Polyteia personal access key (pak_…)", secret;
    DATASET_ID: Required("for `run`"), "the dataset whose data is replaced";
    POLYTEIA_BASE_URL:
        Described("https://app.polyteia.com (upload-token API), https://web.polyteia.de (session API)"),
        "API base URL";
    POLYTEIA_ORGANIZATION_ID: Unset, "organization id: selects the session API";
    POLYTEIA_ORGANIZATION_SLUG: Unset, "organization slug: selects the session API";
    INGEST_POLL_INTERVAL: Value("5s"), "session API: how often to ask for the ingest status";
    INGEST_TIMEOUT: Value("30m"), "session API: give up waiting for the ingest after this";
    HTTP_TIMEOUT: Value("60s"), "connect and per-request timeout of API calls";
    UPLOAD_MAX_ATTEMPTS: Value("5"), "attempts for a transient API failure";
    UPLOAD_MAX_BACKOFF: Value("60s"), "longest wait between attempts (also caps Retry-After)";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Organization {
    Id(String),
    Slug(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGeneration {
    UploadToken,
    Session,
}

/// `POLYTEIA_BASE_URL`, checked: `http(s)://host[:port]` and a path prefix
/// (percent-encoded, no trailing `/`), no query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: String,
    /// Where the path starts in `url`.
    origin_len: usize,
}

impl BaseUrl {
    /// The URL as requests are built from, e.g. `https://app.polyteia.com/tenant`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `https://host:port`.
    pub fn origin(&self) -> &str {
        &self.url[..self.origin_len]
    }

    /// The path prefix, possibly empty.
    pub fn path(&self) -> &str {
        &self.url[self.origin_len..]
    }

    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// The host (an IPv6 address without its brackets).
    pub fn host(&self) -> &str {
        let authority = self.origin().split_once("://").map_or(self.origin(), |(_, rest)| rest);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        match authority.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map_or(v6, |(host, _)| host),
            None => authority.split_once(':').map_or(authority, |(host, _)| host),
        }
    }

    /// Checks and normalizes a base URL; the error says what is wrong (the
    /// caller prefixes the variable).
    pub fn parse(value: &str) -> Result<BaseUrl, String> {
        let given = value.trim().trim_end_matches('/');
        match split_base_url(given) {
            Some((origin, path)) if !origin.contains(char::is_whitespace) => {
                if path.contains(['?', '#']) {
                    return Err(format!("'{given}' has a query or fragment (? or #); give scheme, host and path only"));
                }
                Ok(BaseUrl { url: format!("{origin}{}", encode_url_path(path)), origin_len: origin.len() })
            }
            _ => Err(format!("'{given}' is not an http(s) URL such as https://app.polyteia.com")),
        }
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// What both API generations need, complete: nothing is looked up later.
#[derive(Debug, Clone)]
pub struct PolyteiaSettings {
    pub personal_access_token: Secret,
    pub dataset_id: String,
    pub base_url: BaseUrl,
    pub organization: Option<Organization>,
    pub ingest_poll_interval: Duration,
    pub ingest_timeout: Duration,
    pub http_timeout: Duration,
    /// `UPLOAD_MAX_ATTEMPTS`, `UPLOAD_MAX_BACKOFF`: for every API call.
    pub retry: RetryPolicy,
    /// The proxy for the base URL's host and the trusted CAs, chosen once.
    pub network: NetworkPath,
}

impl PolyteiaSettings {
    pub fn api(&self) -> ApiGeneration {
        if self.organization.is_some() {
            ApiGeneration::Session
        } else {
            ApiGeneration::UploadToken
        }
    }
}

/// `DATASET_ID` as given (trimmed).
pub fn parse_dataset_id(env: &Env) -> Option<String> {
    DATASET_ID.given(env).map(|d| d.trim().to_string())
}

/// The Polyteia settings, complete when the command uploads (else `None`):
/// then the key and the dataset are required and the network path to the API
/// is checked; what is given is validated either way.
impl Area for Option<PolyteiaSettings> {
    fn parse(input: &Input, p: &mut Problems) -> Option<PolyteiaSettings> {
        parse(input.env, input.needs.upload, &input.network, p)
    }
}

fn parse(env: &Env, needed: bool, network: &Network, p: &mut Problems) -> Option<PolyteiaSettings> {
    let personal_access_token = parse_key(env, p);
    if needed && !setting::secret_given(env, &PERSONAL_ACCESS_TOKEN) {
        let file = PERSONAL_ACCESS_TOKEN.file_variant().unwrap_or_default();
        p.add(&PERSONAL_ACCESS_TOKEN, format!("is required to upload (or set {file})"));
    }
    let dataset_id = parse_dataset_id(env);
    if needed && dataset_id.is_none() {
        p.add(&DATASET_ID, "is required to upload (the id of the Polyteia dataset to replace)");
    }
    let organization = match (POLYTEIA_ORGANIZATION_ID.given(env), POLYTEIA_ORGANIZATION_SLUG.given(env)) {
        (Some(_), Some(_)) => {
            let (id, slug) = (POLYTEIA_ORGANIZATION_ID.name, POLYTEIA_ORGANIZATION_SLUG.name);
            p.add(&POLYTEIA_ORGANIZATION_ID, format!("set either {id} or {slug}, not both"));
            None
        }
        (Some(id), None) => Some(Organization::Id(id.trim().to_string())),
        (None, Some(slug)) => Some(Organization::Slug(slug.trim().to_string())),
        (None, None) => None,
    };
    let default_url = if organization.is_some() { SESSION_BASE_URL } else { UPLOAD_TOKEN_BASE_URL };
    let base_url = BaseUrl::parse(POLYTEIA_BASE_URL.given(env).unwrap_or(default_url))
        .map_err(|message| p.add(&POLYTEIA_BASE_URL, message))
        .ok();
    // A proxy URL that cannot be parsed and certificate files that hold no
    // certificate are configuration problems, found before anything runs.
    let path = match (&base_url, needed) {
        (Some(url), true) => network
            .path_to(url.host(), url.is_https())
            .map_err(|problems| problems.into_iter().for_each(|problem| p.push(problem)))
            .ok(),
        _ => None,
    };
    let attempts = setting::positive::<u32>(env, &UPLOAD_MAX_ATTEMPTS, p).unwrap_or(1);
    let ingest_poll_interval = setting::duration(env, &INGEST_POLL_INTERVAL, p);
    let ingest_timeout = setting::duration(env, &INGEST_TIMEOUT, p);
    let http_timeout = setting::duration(env, &HTTP_TIMEOUT, p);
    let retry = RetryPolicy {
        attempts,
        base_delay: setting::retry_base_delay(env),
        max_delay: setting::duration(env, &UPLOAD_MAX_BACKOFF, p),
    };
    let settings = (|| {
        Some(PolyteiaSettings {
            personal_access_token: personal_access_token?,
            dataset_id: dataset_id?,
            base_url: base_url?,
            organization,
            ingest_poll_interval,
            ingest_timeout,
            http_timeout,
            retry,
            network: path?,
        })
    })();
    settings.filter(|_| needed)
}

/// The key travels in an HTTP header, where a control character cannot go.
fn parse_key(env: &Env, p: &mut Problems) -> Option<Secret> {
    let key = setting::secret(env, &PERSONAL_ACCESS_TOKEN, p)?;
    let trimmed = key.expose().trim_end();
    if trimmed.chars().any(char::is_control) {
        p.add(&PERSONAL_ACCESS_TOKEN, "holds a control character (a line break, tab or the like); give the key alone");
        None
    } else if !trimmed.is_ascii() {
        // Retrying would not help: the key could never be sent.
        p.add(
            &PERSONAL_ACCESS_TOKEN,
            "holds a character that is not ASCII, which an HTTP header cannot carry; check that the key was copied \
             exactly (no typographic quotes or dashes)",
        );
        None
    } else if trimmed.len() < key.expose().len() {
        Some(Secret::new(trimmed))
    } else {
        Some(key)
    }
}

/// `https://host:port` and the rest (the path, possibly empty) of a base URL.
fn split_base_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_len == 0 {
        return None;
    }
    let split = url.len() - rest.len() + authority_len;
    Some((&url[..split], &url[split..]))
}

/// Percent-encodes (as UTF-8) every character that may not stand in a URL
/// path as it is, such as spaces and non-ASCII letters; `%XX` already
/// there is kept, so an encoded path is not encoded twice.
fn encode_url_path(path: &str) -> String {
    const KEEP: &str = "-._~!$&'()*+,;=:@/";
    let mut out = String::with_capacity(path.len());
    for (i, c) in path.char_indices() {
        let encoded_already =
            c == '%' && path.as_bytes().get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if c.is_ascii_alphanumeric() || KEEP.contains(c) || encoded_already {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::pg_env;
    use crate::config::{ExportConfig, RunConfig};

    #[test]
    fn the_base_url_defaults_are_the_documented_ones() {
        let crate::setting::WhenUnset::Described(text) = POLYTEIA_BASE_URL.default else { panic!("described") };
        assert!(text.contains(UPLOAD_TOKEN_BASE_URL) && text.contains(SESSION_BASE_URL), "{text}");
    }

    #[test]
    fn a_base_url_has_its_parts() {
        let url = BaseUrl::parse("https://[::1]:8443/mandant/").unwrap();
        assert_eq!(
            (url.origin(), url.path(), url.host(), url.is_https()),
            ("https://[::1]:8443", "/mandant", "::1", true)
        );
        assert_eq!(BaseUrl::parse("http://127.0.0.1:8080").unwrap().path(), "");
    }

    #[test]
    fn a_key_that_is_not_ascii_is_a_configuration_error() {
        let mut pairs = pg_env();
        pairs.extend([("PERSONAL_ACCESS_TOKEN", "pak_ab\u{2013}cd"), ("DATASET_ID", "ds_1")]);
        let err = RunConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("PERSONAL_ACCESS_TOKEN: holds a character that is not ASCII"), "{err}");
        assert!(!err.message().contains("pak_ab"), "{err}");
    }

    #[test]
    fn upload_needs_pak_and_dataset() {
        let err = RunConfig::from_env(&Env::from_pairs(pg_env())).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("PERSONAL_ACCESS_TOKEN: is required"), "{err}");
        assert!(err.message().contains("DATASET_ID: is required"), "{err}");
    }

    #[test]
    fn session_api_when_organization_set() {
        let mut pairs = pg_env();
        pairs.extend([
            ("POLYTEIA_ORGANIZATION_SLUG", "musterstadt"),
            ("PERSONAL_ACCESS_TOKEN", "pak_1"),
            ("DATASET_ID", "ds"),
        ]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(cfg.api.api(), ApiGeneration::Session);
        assert_eq!(cfg.api.base_url.as_str(), SESSION_BASE_URL);
        assert_eq!(cfg.api.organization, Some(Organization::Slug("musterstadt".into())));
    }

    #[test]
    fn base_url_path_is_percent_encoded() {
        let mut pairs = pg_env();
        pairs.extend([
            ("POLYTEIA_BASE_URL", "http://127.0.0.1:8080/mandant ü/%41pi%zz/"),
            ("PERSONAL_ACCESS_TOKEN", "pak_1"),
            ("DATASET_ID", "ds"),
        ]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.api.base_url.as_str(), "http://127.0.0.1:8080/mandant%20%C3%BC/%41pi%25zz");
        for bad in ["http://host/x?y=1", "ftp://host", "http:// host", "https://"] {
            let mut pairs = pg_env();
            pairs.push(("POLYTEIA_BASE_URL", bad));
            let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(err.message().contains("POLYTEIA_BASE_URL"), "{bad}: {err}");
        }
    }
}
