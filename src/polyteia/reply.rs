//! What the API answered and what that means: the raw [`Reply`], the
//! parsing of every error shape of `polyteia-api.md` ([`ApiError`]), and the
//! [`Failure`] an answer or a transport error stands for: transient (worth
//! retrying, with its `Retry-After`) or final, as an [`Error`] with the class
//! and hint of the contract's status table.

use std::io;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::settings::{HTTP_TIMEOUT, PERSONAL_ACCESS_TOKEN, POLYTEIA_BASE_URL};
use crate::error::{Error, ErrorKind, Result};
use crate::network::proxy::ProxyInUse;
use crate::network::settings::NO_PROXY;

/// Error bodies are cut to this many characters in messages.
const MAX_BODY_CHARS: usize = 300;

/// Statuses that are worth retrying (see the contract's status table).
pub(super) const TRANSIENT_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// One HTTP answer, whatever its status.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
    /// `Retry-After`, already turned into a delay.
    pub retry_after: Option<Duration>,
    /// `Location` (redirects).
    pub location: Option<String>,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
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
pub(crate) struct ApiError {
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
    pub(crate) fn parse(body: &str) -> ApiError {
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
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// `Retry-After`: delta seconds or an HTTP date (relative to `now`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
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
/// `not_found_hint` names the settings to check on a 404.
pub(crate) fn classify(what: &str, reply: &Reply, not_found_hint: &str) -> Failure {
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
        401 => (ErrorKind::ApiAuth, format!("check {} (wrong, revoked or expired)", PERSONAL_ACCESS_TOKEN.name)),
        403 => (
            ErrorKind::ApiAuth,
            "the key's user lacks a licence or the permission to edit this dataset, or the organization does not allow personal access keys".into(),
        ),
        404 => (ErrorKind::ApiRejected, format!("not found: {not_found_hint}")),
        412 => (ErrorKind::ApiRejected, "acknowledge the data processing terms in Polyteia".into()),
        300..=399 => (
            ErrorKind::ApiRejected,
            format!(
                "the API redirects to {}, which is not followed; check {} (scheme, host, no extra path)",
                reply.location.as_deref().unwrap_or("another address"),
                POLYTEIA_BASE_URL.name
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
pub(crate) fn check_success(what: &str, reply: &Reply, not_found_hint: &str) -> Result<Value, Failure> {
    if !reply.is_success() {
        return Err(classify(what, reply, not_found_hint));
    }
    let value: Value = serde_json::from_str(&reply.body).map_err(|e| Failure::Fatal {
        status: Some(reply.status),
        error: Error::new(
            ErrorKind::ApiRejected,
            format!(
                "{what} failed: {} but the body is not JSON ({e}): {}; check {}",
                status_text(reply.status),
                shorten(&reply.body, MAX_BODY_CHARS),
                POLYTEIA_BASE_URL.name
            ),
        ),
    })?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(classify(what, reply, not_found_hint));
    }
    Ok(value)
}

/// A final error for a successful answer that lacks what it should carry.
pub(crate) fn unexpected_answer(what: &str, expected: &str, reply: &Reply) -> Failure {
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
/// transient, and so is a proxy that cannot reach the API (5xx to CONNECT).
/// A TLS failure ([`ErrorKind::ApiTls`]), a proxy that refuses the connection
/// ([`ErrorKind::ProxyRefused`]) and URL problems are final: waiting fixes
/// none of them. `proxy` is the proxy in use, if any.
pub(super) fn transport_failure(what: &str, err: ureq::Error, proxy: Option<&ProxyInUse>) -> Failure {
    use ureq::Error as E;
    // Connection trouble names the proxy: that is what the connector talks to.
    let via = proxy.map(|p| format!(" (through the proxy {})", p.address)).unwrap_or_default();
    let transient = |reason: String| Failure::Transient { reason: format!("{what}: {reason}{via}"), retry_after: None };
    match err {
        // rustls reports a refused handshake as an I/O error of kind InvalidData.
        E::Io(e) if e.kind() == io::ErrorKind::InvalidData => {
            let cause = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
            tls_failure(what, cause, &e)
        }
        E::Io(e) => transient(io_reason(&e)),
        E::Timeout(t) => transient(format!("timed out ({t}; {})", HTTP_TIMEOUT.name)),
        E::HostNotFound => transient(format!("host not found (check {} and DNS)", POLYTEIA_BASE_URL.name)),
        E::ConnectionFailed => transient("connection failed".into()),
        E::ConnectProxyFailed(reason) => match proxy {
            Some(proxy) => proxy_failure(what, &reason, proxy),
            None => Failure::fatal(Error::new(ErrorKind::ProxyRefused, format!("{what} failed: {reason}"))),
        },
        E::Protocol(e) => transient(format!("invalid HTTP answer: {e}")),
        E::Rustls(ref e) => tls_failure(what, Some(e), &err),
        E::Tls(_) => tls_failure(what, None, &err),
        E::BadUri(_) | E::InvalidProxyUrl => Failure::fatal(Error::config(format!(
            "{what} failed: {err}; check {} and the proxy variables",
            POLYTEIA_BASE_URL.name
        ))),
        other => Failure::fatal(Error::new(ErrorKind::ApiUnavailable, format!("{what} failed: {other}"))),
    }
}

/// A refused TLS handshake, with a hint for the reason: the trust store for
/// an unknown issuer (a TLS-inspecting proxy's own CA, typically), the URL for
/// a certificate of another host, the clock for an expired one.
fn tls_failure(what: &str, cause: Option<&rustls::Error>, detail: &dyn std::fmt::Display) -> Failure {
    use rustls::{CertificateError as C, Error as R};
    const TRUST: &str =
        "give the CA certificate that signs the API's certificate (a TLS-inspecting proxy's own CA) as a \
                         PEM file in SSL_CERT_FILE (or a directory in SSL_CERT_DIR), or install it in the operating \
                         system's trust store";
    let hint = match cause {
        Some(R::InvalidCertificate(C::UnknownIssuer | C::BadSignature)) => {
            format!("the certificate is not signed by a CA the connector trusts: {TRUST}")
        }
        Some(R::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })) => {
            "the certificate is issued for another host: check the host of POLYTEIA_BASE_URL (and, behind a \
             TLS-inspecting proxy, that the proxy issues certificates for it)"
                .into()
        }
        Some(R::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        )) => "the certificate is outside its validity period: check this machine's clock and the server's certificate"
            .into(),
        Some(R::InvalidCertificate(_)) => format!("the certificate was not accepted: {TRUST}"),
        _ => "the TLS handshake failed: check that POLYTEIA_BASE_URL names an https:// server and that a proxy, if \
              any, passes TLS through"
            .into(),
    };
    Failure::fatal(Error::new(ErrorKind::ApiTls, format!("{what} failed: TLS error: {detail}; {hint}")))
}

/// The proxy answered CONNECT with something other than 200. ureq reports
/// "proxy server responded 407/407"; a 5xx means the proxy could not reach
/// the API (worth retrying), anything else is the proxy's refusal.
fn proxy_failure(what: &str, reason: &str, proxy: &ProxyInUse) -> Failure {
    let ProxyInUse { address, variable } = proxy;
    let status = reason
        .strip_prefix("proxy server responded ")
        .and_then(|rest| rest.split(['/', ' ']).next())
        .and_then(|code| code.parse::<u16>().ok());
    let Some(status) = status else {
        return Failure::Transient {
            reason: format!("{what}: the proxy {address} failed: {reason}"),
            retry_after: None,
        };
    };
    let shown = status_text(status);
    if (500..600).contains(&status) {
        return Failure::Transient {
            reason: format!("{what}: the proxy {address} could not connect to the API: {shown}"),
            retry_after: None,
        };
    }
    let hint = match status {
        407 => format!(
            "the proxy wants credentials or refused them: give the proxy user and password in {variable} as \
             http://user:password@host:port, special characters percent-encoded (@ as %40, : as %3A)"
        ),
        403 => format!(
            "the proxy does not allow connections to the API's host and port: ask its administrators to allow \
             them, or exempt the host with {} if it is reachable directly",
            NO_PROXY.name
        ),
        _ => format!("check {variable} and {}, and the proxy's rules for the API's host", NO_PROXY.name),
    };
    Failure::fatal(Error::new(
        ErrorKind::ProxyRefused,
        format!("{what} failed: the proxy {address} (from {variable}) refused to connect to the API: {shown}; {hint}"),
    ))
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
        let e =
            ApiError::parse(r#"{"error": {"code": 403, "message": "no licence", "details": [{"reason": "LICENCE"}]}}"#);
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
        let e =
            ApiError::parse(r#"{"error": "Data processing terms not acknowledged", "code": "dpa.not-acknowledged"}"#);
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
            let (s, e) =
                fatal(classify("upload", &reply(status, r#"{"error":{"code":1,"message":"m"}}"#), "check DATASET_ID"));
            assert_eq!(s, Some(status));
            assert_eq!(e.kind(), kind, "{status}: {e}");
            assert!(e.message().contains(hint), "{status}: {e}");
            assert!(e.message().starts_with(&format!("upload failed: HTTP {status}")), "{e}");
        }
        let (_, e) = fatal(classify(
            "upload",
            &reply(404, ""),
            "check DATASET_ID and POLYTEIA_ORGANIZATION_ID / POLYTEIA_ORGANIZATION_SLUG",
        ));
        assert!(
            e.message().contains("check DATASET_ID and POLYTEIA_ORGANIZATION_ID / POLYTEIA_ORGANIZATION_SLUG"),
            "{e}"
        );
    }

    #[test]
    fn transient_statuses_are_retryable() {
        for status in TRANSIENT_STATUSES {
            let mut r = reply(status, "busy");
            r.retry_after = Some(Duration::from_secs(3));
            match classify("upload", &r, "check DATASET_ID") {
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
        let (_, e) = fatal(classify("upload token request", &r, "check DATASET_ID"));
        assert_eq!(e.kind(), ErrorKind::ApiRejected);
        assert!(e.message().contains("POLYTEIA_BASE_URL") && e.message().contains("elsewhere.example"), "{e}");
    }

    #[test]
    fn error_member_in_200_fails() {
        let r = reply(200, r#"{"error": {"code": 403, "message": "forbidden by organization"}}"#);
        let (status, e) = fatal(check_success("upload token request", &r, "check DATASET_ID").unwrap_err());
        assert_eq!(status, Some(403));
        assert_eq!(e.kind(), ErrorKind::ApiAuth);
        assert!(
            e.message().contains("HTTP 200 OK, error 403") && e.message().contains("forbidden by organization"),
            "{e}"
        );

        let r = reply(200, r#"{"error": {"code": "WEIRD", "message": "odd"}}"#);
        let (_, e) = fatal(check_success("x", &r, "check DATASET_ID").unwrap_err());
        assert_eq!(e.kind(), ErrorKind::ApiRejected, "{e}");
    }

    #[test]
    fn malformed_json_in_200_is_rejected() {
        let (_, e) = fatal(check_success("x", &reply(200, "<html>login</html>"), "check DATASET_ID").unwrap_err());
        assert_eq!(e.kind(), ErrorKind::ApiRejected);
        assert!(e.message().contains("not JSON") && e.message().contains("<html>login</html>"), "{e}");
        assert!(
            check_success("x", &reply(200, r#"{"data": {"token": "t"}, "error": null}"#), "check DATASET_ID").is_ok()
        );
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
}
