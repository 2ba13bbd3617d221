//! What both API generations share: the HTTP agent (TLS with the OS
//! certificate store, proxy from the environment, timeouts, no redirects),
//! the streamed multipart body, the parsing of every error shape of
//! `polyteia-api.md` into an [`Error`], and the retry loop.
//!
//! A request goes through three layers:
//! 1. [`Client::post_json`] / [`Client::post_multipart`] send one request and
//!    return the raw [`Reply`] whatever its status; only transport failures
//!    (refused, reset, timeout, …) are turned into a [`Failure`] here.
//! 2. [`Client::interpret`] / [`check_success`] turn a reply into its JSON or
//!    into a [`Failure`]: [`Failure::Transient`] for the answers worth
//!    retrying, [`Failure::Fatal`] for the rest.
//! 3. [`Client::retrying`] repeats an attempt while it fails transiently,
//!    with exponential backoff and jitter, honouring `Retry-After`, and stops
//!    at once when the cancel flag is set.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::Value;
use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::{Agent, Proxy, SendBody};

use super::ProgressFn;
use crate::config::PolyteiaSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::secret::{scrub, Secret};

/// The media type of the uploaded file (part header and upload-token request).
pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// Sent with every request.
pub const USER_AGENT: &str = concat!("polyteia-db-connector/", env!("CARGO_PKG_VERSION"));

/// Connecting (DNS, TCP, TLS, proxy) never gets more than this, even with a
/// long `HTTP_TIMEOUT`.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Error bodies are cut to this many characters in messages.
const MAX_BODY_CHARS: usize = 300;

/// Responses larger than this are not read (the API answers small JSON).
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

/// Waits are cut into slices this long so that the cancel flag is noticed quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(50);

/// Statuses that are worth retrying (see the contract's status table).
const TRANSIENT_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

// ---------------------------------------------------------------------------
// Agent

/// The ureq agent for `settings`: TLS via rustls with the platform verifier
/// (the OS certificate store, so corporate CAs work), the proxy from the
/// environment (honouring `NO_PROXY`), `User-Agent: polyteia-db-connector/…`,
/// `HTTP_TIMEOUT` on every phase but sending a request body, and no redirects.
///
/// Sending a body has no total limit (a large upload may take longer than one
/// timeout); instead every single socket write must finish within
/// `HTTP_TIMEOUT`, so a stalled upload still fails.
pub fn build_agent(settings: &PolyteiaSettings) -> Result<Agent> {
    let host = base_host(&settings.base_url)?;
    let https = settings.base_url.starts_with("https://");
    let proxy = proxy_from_env(&host, https, |name| std::env::var(name).ok())?;
    if let Some(proxy) = &proxy {
        log::info!("using the proxy {}:{} for {}", proxy.host(), proxy.port(), host);
    }
    let timeout = Some(settings.http_timeout);
    let tls = TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build();
    let config = Agent::config_builder()
        .tls_config(tls)
        .proxy(proxy)
        .user_agent(USER_AGENT)
        .http_status_as_error(false)
        // Never follow a redirect: the credentials must not go to another host.
        .max_redirects(0)
        .timeout_resolve(timeout)
        .timeout_connect(Some(settings.http_timeout.min(MAX_CONNECT_TIMEOUT)))
        .timeout_send_request(timeout)
        .timeout_send_body(None)
        .timeout_per_write(timeout)
        .timeout_recv_response(timeout)
        .timeout_recv_body(timeout)
        .build();
    Ok(Agent::new_with_config(config))
}

/// The host of `POLYTEIA_BASE_URL`.
fn base_host(base_url: &str) -> Result<String> {
    let uri: Uri = base_url
        .parse()
        .map_err(|_| Error::config(format!("POLYTEIA_BASE_URL: '{base_url}' is not a valid URL")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(host.to_string()),
        _ => Err(Error::config(format!("POLYTEIA_BASE_URL: '{base_url}' is not an http(s) URL"))),
    }
}

/// The proxy for requests to `host`, from `HTTPS_PROXY` (https) or
/// `HTTP_PROXY` (http), else `ALL_PROXY`, each also in lower case; none when
/// `NO_PROXY` matches the host or the host is a loopback address.
///
/// ureq's own `Proxy::try_from_env` reads `NO_PROXY` too, but it prefers
/// `ALL_PROXY` over the scheme's variable, does not trim list entries and
/// treats `example.com` as that exact host only (curl and most tools also
/// match its subdomains), so the choice is made here and the proxy given to
/// ureq without a NO_PROXY list: an agent only ever talks to one host.
pub fn proxy_from_env(host: &str, https: bool, var: impl Fn(&str) -> Option<String>) -> Result<Option<Proxy>> {
    let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let candidates: [&str; 4] = if https {
        ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let Some((name, value)) = candidates.iter().find_map(|name| get(name).map(|v| (*name, v))) else {
        return Ok(None);
    };
    let no_proxy = get("NO_PROXY").or_else(|| get("no_proxy")).unwrap_or_default();
    if is_loopback(host) || no_proxy_matches(&no_proxy, host) {
        log::debug!("not using a proxy for {host} (NO_PROXY or loopback)");
        return Ok(None);
    }
    // The URL may carry credentials: keep them out of every message.
    register_proxy_credentials(&value);
    Proxy::new(&value).map(Some).map_err(|_| {
        Error::config(format!("{name} is not a proxy URL such as http://proxy.example:3128 (value not shown)"))
    })
}

fn register_proxy_credentials(url: &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        let _ = Secret::new(userinfo);
        if let Some((_, password)) = userinfo.split_once(':') {
            let _ = Secret::new(password);
        }
        let _ = Secret::new(url);
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `host` is exempt from proxying by a `NO_PROXY` value: a comma- or
/// space-separated list of `*` (everything), domain names (matching the name
/// and its subdomains; a leading `.` or `*.` is ignored), IP addresses and
/// CIDR blocks (`10.0.0.0/8`). A `:port` suffix on an entry is ignored.
pub fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    no_proxy.split([',', ' ', '\t']).map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            return match (host_ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                _ => false,
            };
        }
        let entry = entry.to_ascii_lowercase();
        let entry = strip_port(&entry);
        let entry = entry.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
        if entry.is_empty() {
            return false;
        }
        if let (Some(ip), Ok(e)) = (host_ip, entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()) {
            return ip == e;
        }
        host == entry || host.strip_suffix(entry).is_some_and(|prefix| prefix.ends_with('.'))
    })
}

fn strip_port(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        // [::1]:8080
        return rest.split(']').next().unwrap_or(rest);
    }
    match entry.rsplit_once(':') {
        // Only one colon: host:port. More colons: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => entry,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Multipart body

/// A `multipart/form-data` body with one part named `file` holding a file,
/// streamed from disk: the file is never read into memory, and the exact
/// length is known beforehand so the request carries a `Content-Length`
/// (ureq then sends the body as is; with a user-set `Content-Length` it does
/// not use chunked encoding).
pub struct MultipartFile {
    boundary: String,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    file: File,
    file_len: u64,
}

impl MultipartFile {
    /// Opens `path` and prepares the part headers. Errors are local I/O errors.
    pub fn open(path: &Path) -> Result<MultipartFile> {
        let file = File::open(path).map_err(|e| Error::io(format!("cannot open {} to upload it", path.display()), &e))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io(format!("cannot read the size of {}", path.display()), &e))?
            .len();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data.parquet".into());
        let boundary = format!("polyteia-db-connector-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        Ok(MultipartFile::with_parts(boundary, &file_name, file, file_len))
    }

    fn with_parts(boundary: String, file_name: &str, file: File, file_len: u64) -> MultipartFile {
        let prefix = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {PARQUET_CONTENT_TYPE}\r\n\r\n",
            escape_filename(file_name)
        )
        .into_bytes();
        let suffix = format!("\r\n--{boundary}--\r\n").into_bytes();
        MultipartFile { boundary, prefix, suffix, file, file_len }
    }

    /// The request's `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact number of bytes the body will produce.
    pub fn content_length(&self) -> u64 {
        self.prefix.len() as u64 + self.file_len + self.suffix.len() as u64
    }

    /// The body as a reader: the part headers, the file, the closing boundary.
    /// It reports the bytes produced so far to `progress`, fails when `cancel`
    /// is set, and fails rather than sending fewer bytes than announced if the
    /// file shrinks meanwhile.
    pub fn into_reader<'a>(self, progress: ProgressFn<'a>, cancel: &'a AtomicBool) -> MultipartReader<'a> {
        let total = self.content_length();
        let inner = Cursor::new(self.prefix).chain(self.file.take(self.file_len)).chain(Cursor::new(self.suffix));
        MultipartReader { inner, sent: 0, total, progress, cancel }
    }
}

/// Escapes a file name for the `filename="…"` parameter: `"` and `\` are
/// backslash-escaped, line breaks percent-encoded (as browsers do), other
/// control characters dropped.
pub fn escape_filename(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Part headers, file, closing boundary.
type BodyChain = io::Chain<io::Chain<Cursor<Vec<u8>>, io::Take<File>>, Cursor<Vec<u8>>>;

/// See [`MultipartFile::into_reader`].
pub struct MultipartReader<'a> {
    inner: BodyChain,
    sent: u64,
    total: u64,
    progress: ProgressFn<'a>,
    cancel: &'a AtomicBool,
}

impl Read for MultipartReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::SeqCst) {
            // Not ErrorKind::Interrupted: readers retry on that.
            return Err(io::Error::other("interrupted"));
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.sent < self.total {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being uploaded",
            ));
        }
        self.sent += n as u64;
        if n > 0 {
            (self.progress)(self.sent);
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------------------
// Replies and their errors

/// One HTTP answer, whatever its status.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// `Retry-After`, already turned into a delay.
    pub retry_after: Option<Duration>,
    /// `Location` (redirects).
    pub location: Option<String>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why an attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// Worth another attempt (transient status or network trouble).
    Transient { reason: String, retry_after: Option<Duration> },
    /// Final. `status` is the HTTP status (or the one embedded in a 200
    /// answer's error), when the API answered.
    Fatal { status: Option<u16>, error: Error },
}

impl Failure {
    pub fn fatal(error: Error) -> Failure {
        Failure::Fatal { status: None, error }
    }

    /// The HTTP status of a final failure.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Fatal { status, .. } => *status,
            Failure::Transient { .. } => None,
        }
    }

    /// The error to report. A transient failure that escaped the retry loop
    /// becomes `ApiUnavailable`.
    pub fn into_error(self) -> Error {
        match self {
            Failure::Fatal { error, .. } => error,
            Failure::Transient { reason, .. } => Error::new(ErrorKind::ApiUnavailable, reason),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::fatal(error)
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.into_error()
    }
}

/// The code and message an error answer carries, from whichever of the
/// contract's shapes it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiError {
    /// e.g. `UNAUTHORIZED`, `dpa.not-acknowledged`, `403`.
    pub code: Option<String>,
    pub message: Option<String>,
    /// `details` of the upload-token API, compact JSON, shortened.
    pub details: Option<String>,
    /// A status inside the body (`error.code` 403, `json.status` 401).
    pub status: Option<u16>,
}

impl ApiError {
    /// Parses an error body:
    /// - upload-token API: `{"error": {"code", "message", "details"}}`
    /// - session RPC: `{"json": {"defined", "code", "status", "message"}}`
    /// - session upload: `{"error": "text", "code": "dpa.not-acknowledged"}`
    /// - anything else: the body text is the message (shortened).
    pub fn parse(body: &str) -> ApiError {
        let text = body.trim();
        if text.is_empty() {
            return ApiError::default();
        }
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) else {
            return ApiError { message: Some(shorten(text, MAX_BODY_CHARS)), ..ApiError::default() };
        };
        let string = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        };
        let status_of = |v: Option<&Value>| -> Option<u16> {
            let n = match v? {
                Value::Number(n) => n.as_u64()?,
                Value::String(s) => s.trim().parse().ok()?,
                _ => return None,
            };
            u16::try_from(n).ok().filter(|s| (100..600).contains(s))
        };
        match (obj.get("error"), obj.get("json")) {
            (Some(Value::Object(err)), _) => ApiError {
                code: string(err.get("code")),
                message: string(err.get("message")).map(|m| shorten(&m, MAX_BODY_CHARS)),
                details: err
                    .get("details")
                    .filter(|d| !d.is_null() && d.as_array().is_none_or(|a| !a.is_empty()))
                    .map(|d| shorten(&d.to_string(), 150)),
                status: status_of(err.get("code")),
            },
            (Some(Value::String(_)), _) => ApiError {
                code: string(obj.get("code")),
                message: string(obj.get("error")).map(|m| shorten(&m, MAX_BODY_CHARS)),
                details: None,
                status: status_of(obj.get("status")),
            },
            (_, Some(Value::Object(json))) => ApiError {
                code: string(json.get("code")),
                message: string(json.get("message")).map(|m| shorten(&m, MAX_BODY_CHARS)),
                details: None,
                status: status_of(json.get("status")),
            },
            _ if obj.contains_key("message") || obj.contains_key("code") => ApiError {
                code: string(obj.get("code")),
                message: string(obj.get("message")).map(|m| shorten(&m, MAX_BODY_CHARS)),
                details: None,
                status: status_of(obj.get("status")),
            },
            _ => ApiError { message: Some(shorten(text, MAX_BODY_CHARS)), ..ApiError::default() },
        }
    }

    /// ` (CODE: message; details […])`, or nothing. A numeric code equal to
    /// the status shown is left out.
    fn summary(&self, shown_status: u16) -> String {
        let mut parts = Vec::new();
        let code = self.code.as_ref().filter(|c| **c != shown_status.to_string());
        match (code, &self.message) {
            (Some(code), Some(message)) => parts.push(format!("{code}: {message}")),
            (Some(code), None) => parts.push(code.clone()),
            (None, Some(message)) => parts.push(message.clone()),
            (None, None) => {}
        }
        if let Some(details) = &self.details {
            parts.push(format!("details {details}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    }
}

/// Cuts `text` to `max` characters on one line, marking the cut.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// `Retry-After`: delta seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What the settings are called in hints, per API generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    UploadToken,
    Session,
}

impl Flavor {
    fn not_found_hint(self) -> &'static str {
        match self {
            Flavor::UploadToken => "check DATASET_ID",
            Flavor::Session => "check DATASET_ID and POLYTEIA_ORGANIZATION_ID / POLYTEIA_ORGANIZATION_SLUG",
        }
    }
}

fn status_text(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()) {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// Turns a failed answer into a [`Failure`]: transient statuses are retried,
/// the others become an error with the class and hint of the contract's table.
/// `what` names the step, e.g. "upload token request".
pub fn classify(what: &str, reply: &Reply, flavor: Flavor) -> Failure {
    let api = ApiError::parse(&reply.body);
    // HTTP 200 with an `error` member: the status inside counts.
    let status = match api.status {
        Some(inner) if reply.is_success() => inner,
        _ => reply.status,
    };
    let shown = if status == reply.status {
        status_text(status)
    } else {
        format!("{}, error {}", status_text(reply.status), status)
    };
    let summary = api.summary(status);
    if TRANSIENT_STATUSES.contains(&status) {
        return Failure::Transient { reason: format!("{what}: {shown}{summary}"), retry_after: reply.retry_after };
    }
    let (kind, hint): (ErrorKind, String) = match status {
        401 => (ErrorKind::ApiAuth, "check PERSONAL_ACCESS_TOKEN (wrong, revoked or expired)".into()),
        403 => (
            ErrorKind::ApiAuth,
            "the key's user lacks a licence or the permission to edit this dataset, or the organization does not allow personal access keys".into(),
        ),
        404 => (ErrorKind::ApiRejected, format!("not found: {}", flavor.not_found_hint())),
        412 => (ErrorKind::ApiRejected, "acknowledge the data processing terms in Polyteia".into()),
        300..=399 => (
            ErrorKind::ApiRejected,
            format!(
                "the API redirects to {}, which is not followed; check POLYTEIA_BASE_URL (scheme, host, no extra path)",
                reply.location.as_deref().unwrap_or("another address")
            ),
        ),
        400..=499 => (ErrorKind::ApiRejected, "the request was rejected".into()),
        500..=599 => (ErrorKind::ApiUnavailable, "the API failed".into()),
        _ => (ErrorKind::ApiRejected, "unexpected answer".into()),
    };
    Failure::Fatal { status: Some(status), error: Error::new(kind, format!("{what} failed: {shown}{summary}; {hint}")) }
}

/// The JSON of a successful answer, or the [`Failure`] it stands for. An
/// `error` member means failure whatever the status.
pub fn check_success(what: &str, reply: &Reply, flavor: Flavor) -> Result<Value, Failure> {
    if !reply.is_success() {
        return Err(classify(what, reply, flavor));
    }
    let value: Value = serde_json::from_str(&reply.body).map_err(|e| {
        Failure::Fatal {
            status: Some(reply.status),
            error: Error::new(
                ErrorKind::ApiRejected,
                format!(
                    "{what} failed: {} but the body is not JSON ({e}): {}; check POLYTEIA_BASE_URL",
                    status_text(reply.status),
                    shorten(&reply.body, MAX_BODY_CHARS)
                ),
            ),
        }
    })?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(classify(what, reply, flavor));
    }
    Ok(value)
}

/// A final error for a successful answer that lacks what it should carry.
pub fn unexpected_answer(what: &str, expected: &str, reply: &Reply) -> Failure {
    Failure::Fatal {
        status: Some(reply.status),
        error: Error::new(
            ErrorKind::ApiRejected,
            format!(
                "{what} failed: {} without {expected}: {}",
                status_text(reply.status),
                shorten(&reply.body, MAX_BODY_CHARS)
            ),
        ),
    }
}

/// Transport failures: refused, reset, timeouts and other I/O errors are
/// transient; TLS and URL problems are not. ureq reports rustls failures (an
/// untrusted certificate, a server that does not speak TLS) as I/O errors of
/// kind `InvalidData`.
fn transport_failure(what: &str, err: ureq::Error) -> Failure {
    use ureq::Error as E;
    let transient = |reason: String| Failure::Transient { reason: format!("{what}: {reason}"), retry_after: None };
    let tls = |detail: &dyn std::fmt::Display| {
        Failure::fatal(Error::new(
            ErrorKind::ApiUnavailable,
            format!(
                "{what} failed: TLS error: {detail}; check POLYTEIA_BASE_URL and that the server's certificate is trusted by the operating system's certificate store"
            ),
        ))
    };
    match err {
        E::Io(e) if e.kind() == io::ErrorKind::InvalidData => tls(&e),
        E::Io(e) => transient(io_reason(&e)),
        E::Timeout(t) => transient(format!("timed out ({t}; HTTP_TIMEOUT)")),
        E::HostNotFound => transient("host not found (check POLYTEIA_BASE_URL and DNS)".into()),
        E::ConnectionFailed => transient("connection failed".into()),
        E::Protocol(e) => transient(format!("invalid HTTP answer: {e}")),
        E::Tls(_) | E::Rustls(_) => tls(&err),
        E::BadUri(_) | E::InvalidProxyUrl => {
            Failure::fatal(Error::config(format!("{what} failed: {err}; check POLYTEIA_BASE_URL and the proxy variables")))
        }
        other => Failure::fatal(Error::new(ErrorKind::ApiUnavailable, format!("{what} failed: {other}"))),
    }
}

fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind as K;
    let what = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::BrokenPipe => "connection closed while sending",
        K::UnexpectedEof => "connection closed early",
        K::TimedOut => "timed out",
        _ => "I/O error",
    };
    format!("{what} ({e})")
}

// ---------------------------------------------------------------------------
// Retries

/// How often and how patiently to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (`UPLOAD_MAX_ATTEMPTS`), at least 1.
    pub attempts: u32,
    /// The first delay; each further one doubles, plus jitter.
    pub base_delay: Duration,
    /// No delay is longer (`UPLOAD_MAX_BACKOFF`), `Retry-After` included.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// From the settings; the first delay is 1 s unless the tests' variable
    /// `CONNECTOR_RETRY_BASE_MS` says otherwise (read in one place,
    /// [`crate::job::retry_base_delay`], for the source retries too).
    pub fn from_settings(settings: &PolyteiaSettings) -> RetryPolicy {
        RetryPolicy {
            attempts: settings.upload_max_attempts.max(1),
            base_delay: crate::job::retry_base_delay(),
            max_delay: settings.upload_max_backoff,
        }
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        let max = self.max_delay.max(self.base_delay);
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.base_delay)
            .with_max_delay(max)
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .build()
    }
}

// ---------------------------------------------------------------------------
// Client

/// One API's HTTP side: agent, base URL, retry policy and cancel flag.
pub struct Client {
    agent: Agent,
    base_url: String,
    retry: RetryPolicy,
    cancel: Arc<AtomicBool>,
    flavor: Flavor,
}

impl Client {
    pub fn new(settings: &PolyteiaSettings, cancel: Arc<AtomicBool>, flavor: Flavor) -> Result<Client> {
        Ok(Client {
            agent: build_agent(settings)?,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            retry: RetryPolicy::from_settings(settings),
            cancel,
            flavor,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = policy;
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn interrupted() -> Failure {
        Failure::fatal(Error::new(ErrorKind::InterruptedSigterm, "interrupted"))
    }

    /// Sleeps `duration` in small slices; fails as soon as the cancel flag is set.
    pub fn sleep(&self, duration: Duration) -> Result<(), Failure> {
        let until = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return Err(Self::interrupted());
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep(SLEEP_SLICE.min(until - now));
        }
    }

    /// POSTs a JSON body; `bearer` becomes `Authorization: Bearer …`.
    pub fn post_json(&self, what: &str, path: &str, bearer: Option<&Secret>, body: &Value) -> Result<Reply, Failure> {
        if self.is_cancelled() {
            return Err(Self::interrupted());
        }
        let bytes = serde_json::to_vec(body).map_err(|e| Failure::fatal(Error::new(ErrorKind::Internal, e.to_string())))?;
        let mut request = self.agent.post(self.url(path)).header("Content-Type", "application/json");
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {}", token.expose()));
        }
        let result = request.send(bytes);
        self.finish(what, result)
    }

    /// POSTs `file` as a streamed multipart body with the given credential
    /// headers (e.g. `X-Upload-Token`); `progress` gets the bytes sent so far.
    pub fn post_multipart(
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

    fn finish(&self, what: &str, result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, Failure> {
        let mut response = match result {
            Ok(response) => response,
            Err(_) if self.is_cancelled() => return Err(Self::interrupted()),
            Err(e) => return Err(transport_failure(what, e)),
        };
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let location = header("location");
        let body = match response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec() {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(ureq::Error::BodyExceedsLimit(_)) => format!("(a response body larger than {MAX_RESPONSE_BYTES} bytes)"),
            Err(_) if self.is_cancelled() => return Err(Self::interrupted()),
            Err(e) => {
                if TRANSIENT_STATUSES.contains(&status) || (200..300).contains(&status) {
                    return Err(transport_failure(what, e));
                }
                String::new()
            }
        };
        Ok(Reply { status, body, retry_after, location })
    }

    /// Checks a reply with this client's hints; see [`check_success`].
    pub fn interpret(&self, what: &str, reply: &Reply) -> Result<Value, Failure> {
        check_success(what, reply, self.flavor)
    }

    /// Classifies a failed reply with this client's hints; see [`classify`].
    pub fn classify(&self, what: &str, reply: &Reply) -> Failure {
        classify(what, reply, self.flavor)
    }

    /// Runs `attempt` (given its number, from 1) until it succeeds, fails for
    /// good, or has failed transiently `attempts` times; waits between tries
    /// with exponential backoff and jitter, at least `Retry-After`, never
    /// longer than the maximum. The returned failure is always `Fatal`.
    pub fn retrying<T>(&self, what: &str, mut attempt: impl FnMut(u32) -> Result<T, Failure>) -> Result<T, Failure> {
        let mut backoff = self.retry.backoff();
        let mut number = 0u32;
        loop {
            if self.is_cancelled() {
                return Err(Self::interrupted());
            }
            number += 1;
            let failure = match attempt(number) {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if self.is_cancelled() {
                return Err(Self::interrupted());
            }
            let Failure::Transient { reason, retry_after } = failure else {
                return Err(failure);
            };
            let next = if number < self.retry.attempts { backoff.next() } else { None };
            // "uploading failed: …; last failure: upload: HTTP 503" reads
            // fine, "x failed: …; last failure: x: HTTP 503" repeats itself.
            let reason = reason.strip_prefix(what).and_then(|r| r.strip_prefix(": ")).unwrap_or(&reason).to_string();
            let Some(mut delay) = next else {
                let tries = if number == 1 { "1 attempt".to_string() } else { format!("{number} attempts") };
                return Err(Failure::fatal(Error::new(
                    ErrorKind::ApiUnavailable,
                    format!("{what} failed: the Polyteia API stayed unavailable after {tries}; last failure: {reason}"),
                )));
            };
            if let Some(wanted) = retry_after {
                delay = delay.max(wanted);
            }
            delay = delay.min(self.retry.max_delay.max(self.retry.base_delay));
            let reason = scrub(&reason);
            log::warn!(
                attempt = number, max_attempts = self.retry.attempts, delay_seconds = delay.as_secs_f64();
                "{what}: attempt {number} of {} failed: {reason}; retrying in {:.1}s",
                self.retry.attempts, delay.as_secs_f64()
            );
            self.sleep(delay)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply { status, body: body.to_string(), retry_after: None, location: None }
    }

    fn fatal(f: Failure) -> (Option<u16>, Error) {
        match f {
            Failure::Fatal { status, error } => (status, error),
            Failure::Transient { reason, .. } => panic!("expected a final failure, got transient: {reason}"),
        }
    }

    #[test]
    fn parses_upload_token_error_shape() {
        let e = ApiError::parse(r#"{"error": {"code": 403, "message": "no licence", "details": [{"reason": "LICENCE"}]}}"#);
        assert_eq!(e.code.as_deref(), Some("403"));
        assert_eq!(e.message.as_deref(), Some("no licence"));
        assert_eq!(e.details.as_deref(), Some(r#"[{"reason":"LICENCE"}]"#));
        assert_eq!(e.status, Some(403));
    }

    #[test]
    fn parses_session_rpc_error_shape() {
        let e = ApiError::parse(
            r#"{"json": {"defined": false, "code": "UNAUTHORIZED", "status": 401, "message": "Invalid personal access key"}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("UNAUTHORIZED"));
        assert_eq!(e.message.as_deref(), Some("Invalid personal access key"));
        assert_eq!(e.status, Some(401));
    }

    #[test]
    fn parses_session_upload_error_shape() {
        let e = ApiError::parse(r#"{"error": "Data processing terms not acknowledged", "code": "dpa.not-acknowledged"}"#);
        assert_eq!(e.code.as_deref(), Some("dpa.not-acknowledged"));
        assert_eq!(e.message.as_deref(), Some("Data processing terms not acknowledged"));
        assert_eq!(e.status, None);
    }

    #[test]
    fn plain_text_and_long_bodies() {
        let e = ApiError::parse("  upload token expired\n");
        assert_eq!(e.message.as_deref(), Some("upload token expired"));
        assert_eq!(e.code, None);
        let long = "x".repeat(5000);
        let e = ApiError::parse(&long);
        let m = e.message.unwrap();
        assert_eq!(m.chars().count(), MAX_BODY_CHARS + 1);
        assert!(m.ends_with('…'));
        assert_eq!(ApiError::parse(""), ApiError::default());
        let html = ApiError::parse("<html>\n<body>502 Bad Gateway</body>\n</html>");
        assert_eq!(html.message.as_deref(), Some("<html> <body>502 Bad Gateway</body> </html>"));
    }

    #[test]
    fn statuses_map_to_kinds_and_hints() {
        let cases: [(u16, ErrorKind, &str); 6] = [
            (401, ErrorKind::ApiAuth, "check PERSONAL_ACCESS_TOKEN (wrong, revoked or expired)"),
            (403, ErrorKind::ApiAuth, "licence"),
            (404, ErrorKind::ApiRejected, "check DATASET_ID"),
            (412, ErrorKind::ApiRejected, "acknowledge the data processing terms in Polyteia"),
            (400, ErrorKind::ApiRejected, "the request was rejected"),
            (501, ErrorKind::ApiUnavailable, "HTTP 501"),
        ];
        for (status, kind, hint) in cases {
            let (s, e) = fatal(classify("upload", &reply(status, r#"{"error":{"code":1,"message":"m"}}"#), Flavor::UploadToken));
            assert_eq!(s, Some(status));
            assert_eq!(e.kind(), kind, "{status}: {e}");
            assert!(e.message().contains(hint), "{status}: {e}");
            assert!(e.message().starts_with(&format!("upload failed: HTTP {status}")), "{e}");
        }
        let (_, e) = fatal(classify("upload", &reply(404, ""), Flavor::Session));
        assert!(e.message().contains("check DATASET_ID and POLYTEIA_ORGANIZATION_ID / POLYTEIA_ORGANIZATION_SLUG"), "{e}");
    }

    #[test]
    fn transient_statuses_are_retryable() {
        for status in TRANSIENT_STATUSES {
            let mut r = reply(status, "busy");
            r.retry_after = Some(Duration::from_secs(3));
            match classify("upload", &r, Flavor::UploadToken) {
                Failure::Transient { reason, retry_after } => {
                    assert!(reason.contains(&format!("HTTP {status}")) && reason.contains("busy"), "{reason}");
                    assert_eq!(retry_after, Some(Duration::from_secs(3)));
                }
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn redirect_is_rejected_with_base_url_hint() {
        let mut r = reply(302, "");
        r.location = Some("https://elsewhere.example/api".into());
        let (_, e) = fatal(classify("upload token request", &r, Flavor::UploadToken));
        assert_eq!(e.kind(), ErrorKind::ApiRejected);
        assert!(e.message().contains("POLYTEIA_BASE_URL") && e.message().contains("elsewhere.example"), "{e}");
    }

    #[test]
    fn error_member_in_200_fails() {
        let r = reply(200, r#"{"error": {"code": 403, "message": "forbidden by organization"}}"#);
        let (status, e) = fatal(check_success("upload token request", &r, Flavor::UploadToken).unwrap_err());
        assert_eq!(status, Some(403));
        assert_eq!(e.kind(), ErrorKind::ApiAuth);
        assert!(e.message().contains("HTTP 200 OK, error 403") && e.message().contains("forbidden by organization"), "{e}");

        let r = reply(200, r#"{"error": {"code": "WEIRD", "message": "odd"}}"#);
        let (_, e) = fatal(check_success("x", &r, Flavor::UploadToken).unwrap_err());
        assert_eq!(e.kind(), ErrorKind::ApiRejected, "{e}");
    }

    #[test]
    fn malformed_json_in_200_is_rejected() {
        let (_, e) = fatal(check_success("x", &reply(200, "<html>login</html>"), Flavor::UploadToken).unwrap_err());
        assert_eq!(e.kind(), ErrorKind::ApiRejected);
        assert!(e.message().contains("not JSON") && e.message().contains("<html>login</html>"), "{e}");
        assert!(check_success("x", &reply(200, r#"{"data": {"token": "t"}, "error": null}"#), Flavor::UploadToken).is_ok());
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    fn body_bytes(file_content: &[u8], name: &str) -> (MultipartFile, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.parquet");
        std::fs::write(&path, file_content).unwrap();
        let file = File::open(&path).unwrap();
        let body = MultipartFile::with_parts("BOUNDARY".into(), name, file, file_content.len() as u64);
        let expected_len = body.content_length();
        let cancel = AtomicBool::new(false);
        let last = std::sync::Mutex::new(0u64);
        let progress = |n: u64| *last.lock().unwrap() = n;
        let reopened = MultipartFile::with_parts("BOUNDARY".into(), name, File::open(&path).unwrap(), file_content.len() as u64);
        let mut out = Vec::new();
        reopened.into_reader(&progress, &cancel).read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, expected_len);
        assert_eq!(*last.lock().unwrap(), expected_len);
        (body, out)
    }

    #[test]
    fn multipart_length_matches_bytes_produced() {
        for size in [0usize, 1, 4096, 300_000] {
            let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let (body, out) = body_bytes(&content, "export.parquet");
            assert_eq!(body.content_type(), "multipart/form-data; boundary=BOUNDARY");
            let head = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"export.parquet\"\r\nContent-Type: application/vnd.apache.parquet\r\n\r\n";
            assert!(out.starts_with(head));
            assert_eq!(&out[head.len()..head.len() + size], &content[..]);
            assert_eq!(&out[head.len() + size..], b"\r\n--BOUNDARY--\r\n");
        }
    }

    #[test]
    fn filename_is_escaped() {
        assert_eq!(escape_filename(r#"a"b\c.parquet"#), r#"a\"b\\c.parquet"#);
        assert_eq!(escape_filename("line\r\nbreak\t.parquet"), "line%0D%0Abreak.parquet");
        assert_eq!(escape_filename("größe.parquet"), "größe.parquet");
        let (_, out) = body_bytes(b"abc", r#"we"ird\name.parquet"#);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains(r#"filename="we\"ird\\name.parquet""#), "{text}");
    }

    #[test]
    fn reader_stops_when_cancelled_and_when_file_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        let cancel = AtomicBool::new(true);
        let progress = |_: u64| {};
        let body = MultipartFile::open(&path).unwrap();
        let err = body.into_reader(&progress, &cancel).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "interrupted");

        let cancel = AtomicBool::new(false);
        let body = MultipartFile::open(&path).unwrap();
        std::fs::write(&path, vec![7u8; 10]).unwrap();
        let err = body.into_reader(&progress, &cancel).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn no_proxy_matching() {
        let list = "localhost, .internal.example,*.corp.example ,polyteia.com:443,10.0.0.0/8,::1,[fd00::1]:8080";
        for host in [
            "localhost",
            "a.internal.example",
            "internal.example",
            "x.y.corp.example",
            "polyteia.com",
            "app.polyteia.com",
            "APP.Polyteia.COM",
            "10.1.2.3",
            "::1",
            "[fd00::1]",
        ] {
            assert!(no_proxy_matches(list, host), "{host}");
        }
        for host in ["notpolyteia.com", "polyteia.com.evil.example", "11.0.0.1", "example.org", "fd00::2"] {
            assert!(!no_proxy_matches(list, host), "{host}");
        }
        assert!(no_proxy_matches("*", "anything.example"));
        assert!(!no_proxy_matches("", "anything.example"));
    }

    #[test]
    fn proxy_choice_from_env() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let p = proxy_from_env("app.polyteia.com", true, vars(&[("HTTPS_PROXY", "http://proxy.corp:3128")])).unwrap();
        assert_eq!(p.map(|p| (p.host().to_string(), p.port())), Some(("proxy.corp".to_string(), 3128)));
        let p = proxy_from_env("app.polyteia.com", true, vars(&[("https_proxy", "http://lower:8080"), ("ALL_PROXY", "http://all:1")]))
            .unwrap();
        assert_eq!(p.unwrap().host(), "lower");
        let p = proxy_from_env("app.polyteia.com", true, vars(&[("HTTP_PROXY", "http://plain:1")])).unwrap();
        assert!(p.is_none(), "HTTP_PROXY is not used for https");
        let p = proxy_from_env(
            "app.polyteia.com",
            true,
            vars(&[("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", "polyteia.com")]),
        )
        .unwrap();
        assert!(p.is_none());
        let p = proxy_from_env("127.0.0.1", false, vars(&[("HTTP_PROXY", "http://proxy:3128")])).unwrap();
        assert!(p.is_none(), "loopback is never proxied");
        let err =
            proxy_from_env("app.polyteia.com", true, vars(&[("HTTPS_PROXY", "http://us:pw-secret-1@ bad url")])).unwrap_err();
        assert!(err.message().contains("HTTPS_PROXY") && !err.message().contains("pw-secret-1"), "{err}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy { attempts: 6, base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(500) };
        let delays: Vec<Duration> = policy.backoff().collect();
        assert_eq!(delays.len(), 5);
        assert!(delays[0] >= Duration::from_millis(100) && delays[0] < Duration::from_millis(200), "{delays:?}");
        assert!(delays[1] >= Duration::from_millis(200), "{delays:?}");
    }
}
