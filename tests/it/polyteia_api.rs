//! The Polyteia API client against the in-process mock API (common/mock_api.rs):
//! the exact requests of `polyteia-api.md`, every row of its status table,
//! retries, `Retry-After`, redirects, the ingest wait and the `check` look-ups.
//! Fast: retry delays are a few milliseconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use connector::config::{BaseUrl, NetworkSettings, Organization, PolyteiaSettings};
use connector::error::{Error, ErrorKind};
use connector::network::Network;
use connector::polyteia::session::{DatasetInfo, SessionApi};
use connector::polyteia::upload_token::UploadTokenApi;
use connector::polyteia::{api_for, Api, CheckResult, IngestOutcome, UploadReceipt};
use connector::retry::RetryPolicy;
use connector::secret::Secret;
use serde_json::{json, Value};

use crate::common::mock_api::{reply, MockApi, Recorded, Reply};
use crate::common::secrets::Secrets;

const PAK: &str = "pak_test_Secret'Key\"42";
const UPLOAD_TOKEN: &str = "upl_tok_first_8f2a71";
const UPLOAD_TOKEN_2: &str = "upl_tok_second_c03e9b";
const SESSION_TOKEN: &str = "sess_tok_4be19d0a";
const SESSION_TOKEN_2: &str = "sess_tok_renewed_77a0";
const DATASET: &str = "ds_test_1";
const SECRETS: [&str; 5] = [PAK, UPLOAD_TOKEN, UPLOAD_TOKEN_2, SESSION_TOKEN, SESSION_TOKEN_2];

// ---------------------------------------------------------------------------
// A resetting front for the mock

/// Copies bytes both ways between `client` and `upstream` until either side
/// closes, each direction in its own thread.
fn relay(client: TcpStream, upstream: TcpStream) {
    let (mut client_r, mut upstream_w) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut upstream_r, mut client_w) = (upstream, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_r, &mut upstream_w);
        let _ = upstream_w.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut upstream_r, &mut client_w);
        let _ = client_w.flush();
        let _ = client_w.shutdown(std::net::Shutdown::Write);
    });
}

/// A TCP front for `target` that resets its first `drop_first` connections
/// (reads one byte and closes with unread data, which makes Linux send RST)
/// and relays the others.
fn flaky_front(target: &str, drop_first: usize) -> (String, Arc<AtomicUsize>) {
    let target: SocketAddr = target.trim_start_matches("http://").parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { return };
            if count.fetch_add(1, Ordering::SeqCst) < drop_first {
                client.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let _ = client.read(&mut [0u8; 1]);
                drop(client);
                continue;
            }
            let Ok(upstream) = TcpStream::connect(target) else { return };
            relay(client, upstream);
        }
    });
    (url, accepted)
}

// ---------------------------------------------------------------------------
// Helpers

fn settings(url: &str, organization: Option<Organization>) -> PolyteiaSettings {
    let base_url = BaseUrl::parse(url).unwrap();
    PolyteiaSettings {
        personal_access_token: Secret::new(PAK),
        network: network_path(&base_url, NetworkSettings::default()),
        base_url,
        dataset_id: DATASET.to_string(),
        organization,
        ingest_poll_interval: Duration::from_millis(20),
        ingest_timeout: Duration::from_secs(10),
        http_timeout: Duration::from_secs(10),
        retry: RetryPolicy { attempts: 4, base_delay: Duration::from_millis(5), max_delay: Duration::from_secs(2) },
    }
}

/// The network path to `url` as the configuration chooses it from `network`.
fn network_path(url: &BaseUrl, network: NetworkSettings) -> connector::network::NetworkPath {
    Network::from_settings(network).path_to(url.host(), url.is_https()).unwrap()
}

fn no_cancel() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

fn token_api(settings: &PolyteiaSettings) -> UploadTokenApi {
    UploadTokenApi::new(settings, no_cancel()).unwrap()
}

fn session_api(settings: &PolyteiaSettings) -> SessionApi {
    SessionApi::new(settings, no_cancel()).unwrap()
}

fn org_id() -> Option<Organization> {
    Some(Organization::Id("org_test_9".into()))
}

/// A small real Parquet file written by DuckDB, and its bytes.
fn parquet_file(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let path = dir.join(name);
    let scratch = dir.join(format!("scratch-{}.parquet", fastrand::u32(..)));
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT range AS id, 'row ' || range AS label FROM range(1000)) TO '{}' (FORMAT parquet)",
        scratch.display()
    ))
    .unwrap();
    std::fs::rename(&scratch, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    (path, bytes)
}

fn token_body(token: &str) -> String {
    json!({"data": {"token": token}}).to_string()
}

fn rpc(result: Value) -> String {
    json!({"json": result, "meta": []}).to_string()
}

fn rpc_error(status: u16, code: &str, message: &str) -> String {
    json!({"json": {"defined": false, "code": code, "status": status, "message": message}}).to_string()
}

fn assert_no_secret(err: &Error) {
    Secrets::new(SECRETS).assert_absent("the error", err.message().as_bytes());
}

fn ignore_progress() -> impl Fn(u64) + Sync {
    |_| {}
}

/// Checks the upload-token upload request in full.
fn assert_upload_request(upload: &Recorded, token: &str, file_name_in_header: &str, file_bytes: &[u8]) {
    assert_eq!(upload.method, "POST");
    assert_eq!(upload.path, "/upload");
    assert_eq!(upload.header("X-Upload-Token"), Some(token));
    assert_eq!(upload.header("Authorization"), None, "the upload must carry only the upload token");
    assert_multipart(upload, file_name_in_header, file_bytes);
}

fn assert_multipart(upload: &Recorded, file_name_in_header: &str, file_bytes: &[u8]) {
    assert!(upload.header("Content-Type").unwrap().starts_with("multipart/form-data; boundary="));
    assert_eq!(upload.header("Content-Length").map(|v| v.parse::<usize>().unwrap()), Some(upload.body.len()));
    assert_eq!(upload.header("Transfer-Encoding"), None, "the upload must not be chunked");
    assert!(upload.header("User-Agent").unwrap().starts_with("polyteia-db-connector/"));
    let (part_headers, content) = upload.multipart_part();
    assert_eq!(
        part_headers,
        format!(
            "Content-Disposition: form-data; name=\"file\"; filename=\"{file_name_in_header}\"\r\nContent-Type: application/vnd.apache.parquet"
        )
    );
    assert!(
        content == file_bytes,
        "uploaded bytes differ from the file ({} vs {} bytes)",
        content.len(),
        file_bytes.len()
    );
}

// ---------------------------------------------------------------------------
// Upload-token API

#[test]
fn upload_token_api_sends_the_contract_requests() {
    let mock = MockApi::replying(|req, _| match req.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        "/upload" => reply(200, "OK"),
        _ => reply(404, "no such path"),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "ds_test_1.parquet");
    let api = token_api(&settings(&mock.url, None));
    assert_eq!(api.describe(), format!("upload-token API at {}", mock.url));

    let last = Mutex::new(Vec::new());
    let progress = |n: u64| last.lock().unwrap().push(n);
    let receipt = api.upload(&file, &progress).unwrap();
    assert_eq!(receipt, UploadReceipt { ingest_id: None, attempts: 1 });
    assert_eq!(api.wait_for_ingest(&receipt).unwrap(), IngestOutcome::NotApplicable);

    let requests = mock.requests();
    assert_eq!(mock.paths(), ["/api", "/upload"]);
    let token_request = &requests[0];
    assert_eq!(token_request.method, "POST");
    assert_eq!(token_request.header("Authorization"), Some(format!("Bearer {PAK}").as_str()));
    assert_eq!(token_request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        token_request.header("Content-Length").map(|v| v.parse::<usize>().unwrap()),
        Some(token_request.body.len())
    );
    assert!(token_request.header("User-Agent").unwrap().starts_with("polyteia-db-connector/"));
    assert_eq!(
        token_request.json(),
        json!({"command": "generate_dataset_upload_token",
               "params": {"id": DATASET, "content_type": "application/vnd.apache.parquet"}})
    );
    assert_upload_request(&requests[1], UPLOAD_TOKEN, "ds_test_1.parquet", &bytes);

    let progress = last.lock().unwrap().clone();
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last().copied(), Some(requests[1].body.len() as u64));
}

#[test]
fn file_name_with_quote_and_backslash_is_escaped() {
    let mock = MockApi::replying(|req, _| match req.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, ""),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "we\"ird\\name.parquet");
    token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap();
    assert_upload_request(&mock.requests()[1], UPLOAD_TOKEN, "we\\\"ird\\\\name.parquet", &bytes);
}

#[test]
fn status_table_final_answers_on_the_token_request() {
    let cases: [(u16, String, ErrorKind, &str); 5] = [
        (
            401,
            r#"{"error": {"code": 401, "message": "invalid key"}}"#.into(),
            ErrorKind::ApiAuth,
            "check PERSONAL_ACCESS_TOKEN (wrong, revoked or expired)",
        ),
        (
            403,
            r#"{"error": {"code": 403, "message": "no licence", "details": [{"reason": "LICENCE_MISSING"}]}}"#.into(),
            ErrorKind::ApiAuth,
            "licence",
        ),
        (
            404,
            r#"{"error": {"code": 404, "message": "dataset not found"}}"#.into(),
            ErrorKind::ApiRejected,
            "check DATASET_ID",
        ),
        (
            412,
            r#"{"error": {"code": 412, "message": "terms"}}"#.into(),
            ErrorKind::ApiRejected,
            "acknowledge the data processing terms in Polyteia",
        ),
        (422, "unprocessable".into(), ErrorKind::ApiRejected, "the request was rejected"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    for (status, body, kind, hint) in cases {
        let mock = MockApi::replying(move |_, _| reply(status, body.clone()));
        let err = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert!(err.message().contains(&format!("HTTP {status}")), "{err}");
        assert!(err.message().contains(hint), "{status}: {err}");
        assert_eq!(mock.paths(), ["/api"], "HTTP {status} must not be retried");
        assert_no_secret(&err);
    }
}

#[test]
fn final_answers_on_the_upload_keep_the_body_text_as_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    for (status, kind) in [
        (401, ErrorKind::ApiAuth),
        (403, ErrorKind::ApiAuth),
        (404, ErrorKind::ApiRejected),
        (412, ErrorKind::ApiRejected),
        (413, ErrorKind::ApiRejected),
    ] {
        let mock = MockApi::replying(move |req, _| match req.path.as_str() {
            "/api" => reply(200, token_body(UPLOAD_TOKEN)),
            _ => reply(status, "Data processing terms not acknowledged\n"),
        });
        let err = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.message().contains("Data processing terms not acknowledged"), "{err}");
        assert!(err.message().contains(&format!("HTTP {status}")), "{err}");
        assert_eq!(mock.paths(), ["/api", "/upload"]);
        assert_no_secret(&err);
    }
}

#[test]
fn transient_statuses_are_retried_with_a_fresh_token_and_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "ds.parquet");
    for status in [408u16, 429, 500, 502, 503, 504] {
        // First on the token request, then on the upload.
        let mock = MockApi::replying(move |req, n| match (req.path.as_str(), n) {
            ("/api", 0) => reply(status, "busy"),
            ("/api", 1) => reply(200, token_body(UPLOAD_TOKEN)),
            ("/api", _) => reply(200, token_body(UPLOAD_TOKEN_2)),
            ("/upload", 0) => reply(status, "try later"),
            _ => reply(200, "OK"),
        });
        let receipt = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap();
        assert_eq!(receipt.attempts, 3, "{status}");
        assert_eq!(mock.paths(), ["/api", "/api", "/upload", "/api", "/upload"], "{status}");
        let requests = mock.requests();
        assert_upload_request(&requests[2], UPLOAD_TOKEN, "ds.parquet", &bytes);
        assert_upload_request(&requests[4], UPLOAD_TOKEN_2, "ds.parquet", &bytes);
    }
}

#[test]
fn transient_failures_give_up_after_the_configured_attempts() {
    let mock = MockApi::replying(|_, _| reply(503, r#"{"error": {"code": 503, "message": "maintenance"}}"#));
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let mut s = settings(&mock.url, None);
    s.retry.attempts = 3;
    let err = token_api(&s).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiUnavailable);
    assert!(err.message().contains("after 3 attempts"), "{err}");
    assert!(err.message().contains("HTTP 503") && err.message().contains("maintenance"), "{err}");
    assert_eq!(mock.paths().len(), 3);
    assert_no_secret(&err);
}

#[test]
fn retry_after_seconds_is_honoured() {
    let mock = MockApi::replying(|req, n| match (req.path.as_str(), n) {
        ("/api", _) => reply(200, token_body(UPLOAD_TOKEN)),
        ("/upload", 0) => reply(503, "later").header("Retry-After", "1"),
        _ => reply(200, "OK"),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap();
    let requests = mock.requests();
    assert_eq!(mock.paths(), ["/api", "/upload", "/api", "/upload"]);
    let gap = requests[2].at - requests[1].at;
    assert!(gap >= Duration::from_secs(1), "waited only {gap:?}");
    assert!(gap < Duration::from_millis(1900), "waited {gap:?}");
}

#[test]
fn retry_after_http_date_is_honoured() {
    let mock = MockApi::replying(|req, n| match (req.path.as_str(), n) {
        ("/api", 0) => {
            let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
            reply(429, "slow down").header("Retry-After", &when)
        }
        ("/api", _) => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, "OK"),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap();
    let requests = mock.requests();
    let gap = requests[1].at - requests[0].at;
    // The date has whole seconds: 2 s from now is 1–2 s away.
    assert!(gap >= Duration::from_millis(900), "waited only {gap:?}");
    assert!(gap < Duration::from_millis(2500), "waited {gap:?}");
}

#[test]
fn retry_after_is_capped_at_the_maximum_backoff() {
    let mock = MockApi::replying(|req, n| match (req.path.as_str(), n) {
        ("/api", 0) => reply(503, "").header("Retry-After", "3600"),
        ("/api", _) => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, "OK"),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let mut s = settings(&mock.url, None);
    s.retry.max_delay = Duration::from_millis(300);
    let started = Instant::now();
    token_api(&s).upload(&file, &ignore_progress()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let requests = mock.requests();
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(300));
}

#[test]
fn http_200_with_an_error_member_fails() {
    let mock = MockApi::replying(|_, _| {
        reply(200, r#"{"error": {"code": 403, "message": "keys are disabled for this organization", "details": []}}"#)
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let err = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiAuth, "{err}");
    assert!(err.message().contains("keys are disabled for this organization"), "{err}");
    assert_eq!(mock.paths(), ["/api"]);
}

#[test]
fn malformed_json_is_rejected() {
    for body in ["<html>Login</html>", r#"{"data": {}}"#, r#"{"data": {"token": ""}}"#] {
        let mock = MockApi::replying(move |_, _| reply(200, body));
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = parquet_file(dir.path(), "x.parquet");
        let err = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ApiRejected, "{body}: {err}");
        assert_eq!(mock.paths(), ["/api"], "{body}");
    }
}

#[test]
fn redirects_are_not_followed() {
    let elsewhere = MockApi::replying(|_, _| reply(200, token_body(UPLOAD_TOKEN)));
    let target = format!("{}/api", elsewhere.url);
    let mock = MockApi::replying(move |_, _| reply(302, "").header("Location", &target));
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let err = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiRejected, "{err}");
    assert!(err.message().contains("HTTP 302") && err.message().contains("POLYTEIA_BASE_URL"), "{err}");
    assert_eq!(mock.paths(), ["/api"]);
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
}

#[test]
fn connection_reset_is_retried() {
    let mock = MockApi::replying(|req, _| match req.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, "OK"),
    });
    let (front, accepted) = flaky_front(&mock.url, 2);
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "x.parquet");
    let receipt = token_api(&settings(&front, None)).upload(&file, &ignore_progress()).unwrap();
    assert_eq!(receipt.attempts, 3);
    assert!(accepted.load(Ordering::SeqCst) >= 3);
    assert_upload_request(&mock.requests()[1], UPLOAD_TOKEN, "x.parquet", &bytes);
}

#[test]
fn connection_refused_is_retried_until_the_server_is_up() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut s = settings(&format!("http://127.0.0.1:{port}"), None);
    s.retry.attempts = 8;
    s.retry.base_delay = Duration::from_millis(100);
    let api = UploadTokenApi::new(&s, no_cancel()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let upload = std::thread::spawn(move || api.upload(&file, &|_| {}));
    std::thread::sleep(Duration::from_millis(300));
    let mock = MockApi::scripted_on(&format!("127.0.0.1:{port}"), |req: &Recorded, _| match req.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, "OK"),
    });
    let receipt = upload.join().unwrap().unwrap();
    assert!(receipt.attempts >= 2, "{receipt:?}");
    assert_eq!(mock.paths(), ["/api", "/upload"]);
}

#[test]
fn connection_refused_throughout_is_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut s = settings(&format!("http://127.0.0.1:{port}"), None);
    s.retry.attempts = 3;
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let err = token_api(&s).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiUnavailable);
    assert!(err.message().contains("after 3 attempts") && err.message().contains("connection refused"), "{err}");
}

#[test]
fn a_timeout_is_retried() {
    let mock = MockApi::replying(|req, n| match (req.path.as_str(), n) {
        ("/api", 0) => reply(200, token_body(UPLOAD_TOKEN)).after(Duration::from_millis(1500)),
        ("/api", _) => reply(200, token_body(UPLOAD_TOKEN_2)),
        _ => reply(200, "OK"),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let mut s = settings(&mock.url, None);
    s.http_timeout = Duration::from_secs(1);
    let receipt = token_api(&s).upload(&file, &ignore_progress()).unwrap();
    assert_eq!(receipt.attempts, 2);
    let requests = mock.requests();
    assert_eq!(mock.paths(), ["/api", "/api", "/upload"]);
    assert_eq!(requests[2].header("X-Upload-Token"), Some(UPLOAD_TOKEN_2));
}

#[test]
fn cancel_stops_the_retry_wait_quickly() {
    let mock = MockApi::replying(|_, _| reply(503, "down").header("Retry-After", "30"));
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let mut s = settings(&mock.url, None);
    s.retry.max_delay = Duration::from_secs(60);
    let cancel = no_cancel();
    let api = UploadTokenApi::new(&s, Arc::clone(&cancel)).unwrap();
    let setter = {
        let cancel = Arc::clone(&cancel);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            cancel.store(true, Ordering::SeqCst);
        })
    };
    let started = Instant::now();
    let err = api.upload(&file, &ignore_progress()).unwrap_err();
    setter.join().unwrap();
    assert_eq!(err.kind(), ErrorKind::InterruptedSigterm, "{err}");
    assert_eq!(err.message(), "interrupted");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(mock.paths(), ["/api"]);
}

#[test]
fn cancel_aborts_a_running_upload() {
    let mock = MockApi::replying(|req, _| match req.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, "OK"),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.parquet");
    std::fs::write(&file, vec![42u8; 8 << 20]).unwrap();
    let cancel = no_cancel();
    let api = UploadTokenApi::new(&settings(&mock.url, None), Arc::clone(&cancel)).unwrap();
    let flag = Arc::clone(&cancel);
    let progress = move |_: u64| flag.store(true, Ordering::SeqCst);
    let err = api.upload(&file, &progress).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InterruptedSigterm, "{err}");
    let uploads: Vec<Recorded> = mock.requests().into_iter().filter(|r| r.path == "/upload").collect();
    assert!(uploads.iter().all(|r| r.body.len() < 8 << 20), "the whole file was sent");
}

#[test]
fn secrets_echoed_by_the_server_are_scrubbed() {
    let mock = MockApi::replying(|req, _| match req.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(400, format!("token {UPLOAD_TOKEN} does not match key {PAK}")),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let err = token_api(&settings(&mock.url, None)).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiRejected);
    assert!(err.message().contains("[redacted]"), "{err}");
    assert_no_secret(&err);
}

#[test]
fn tls_failure_is_reported_without_retries() {
    // https against a server that answers in plain text: the TLS set-up
    // (platform verifier) runs, the handshake fails, and that is final.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.flush();
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let started = Instant::now();
    let err = token_api(&settings(&url, None)).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiTls, "{err}");
    assert_eq!(err.exit_code(), 15);
    assert!(err.message().contains("upload token request failed: TLS error"), "{err}");
    assert!(err.message().contains("check that POLYTEIA_BASE_URL names an https:// server"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(connections.load(Ordering::SeqCst), 1, "a TLS failure must not be retried");
}

// ---------------------------------------------------------------------------
// Through a proxy (an in-process CONNECT proxy; scripts/check-network-path
// runs the binary through a real one)

/// A CONNECT-only forward proxy on loopback that answers `status` and, on
/// 200, relays the tunnel to `target` whatever host was asked for (so the
/// API's host name needs no DNS entry). Records each request head.
fn connect_proxy(target: &str, status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let target: SocketAddr = target.trim_start_matches("http://").parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&heads);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            recorded.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
            if status != 200 {
                let reason = if status == 407 { "Proxy Authentication Required" } else { "Refused" };
                let _ = write!(client, "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            let Ok(upstream) = TcpStream::connect(target) else { return };
            relay(client, upstream);
        }
    });
    (address, heads)
}

const PROXY_PASSWORD: &str = "pr0xy p@ss:w/rd";
const PROXY_PASSWORD_ENCODED: &str = "pr0xy%20p%40ss%3Aw%2Frd";

/// Settings for the API at `api.polyteia.test` (the port of `mock`), reached
/// through the proxy at `proxy` given in HTTP_PROXY with credentials.
fn proxied_settings(mock: &MockApi, proxy: &str) -> PolyteiaSettings {
    let port = mock.url.rsplit(':').next().unwrap();
    let mut s = settings(&format!("http://api.polyteia.test:{port}"), None);
    let url = format!("http://conn-user:{PROXY_PASSWORD_ENCODED}@{proxy}");
    s.network =
        network_path(&s.base_url, NetworkSettings::from_vars(|name| (name == "HTTP_PROXY").then(|| url.clone())));
    s
}

/// The one secret checker: raw, percent-encoded (as in the proxy URL), base64 (as in
/// the proxy's login header) and the other forms.
fn assert_no_proxy_password(text: &str) {
    Secrets::new([PROXY_PASSWORD]).assert_absent("the output", text.as_bytes());
}

#[test]
fn requests_go_through_the_proxy_of_the_settings_and_check_names_it() {
    let mock = MockApi::replying(|r, _| match r.path.as_str() {
        "/api" => reply(200, token_body(UPLOAD_TOKEN)),
        _ => reply(200, "OK"),
    });
    let (proxy, heads) = connect_proxy(mock.url.trim_start_matches("http://"), 200);
    let settings = proxied_settings(&mock, &proxy);
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "x.parquet");
    token_api(&settings).upload(&file, &ignore_progress()).unwrap();
    assert_eq!(mock.paths(), ["/api", "/upload"]);
    assert_multipart(&mock.requests()[1], "x.parquet", &bytes);
    let heads = heads.lock().unwrap().clone();
    let port = mock.url.rsplit(':').next().unwrap();
    assert!(heads[0].starts_with(&format!("CONNECT api.polyteia.test:{port} HTTP/1.1\r\n")), "{heads:?}");
    // Decoded once: the proxy gets the password itself, not its URL encoding.
    let basic = base64_of(&format!("conn-user:{PROXY_PASSWORD}"));
    assert!(heads[0].contains(&format!("Proxy-Authorization: Basic {basic}\r\n")), "{heads:?}");

    let checks = token_api(&settings).preflight();
    let names: Vec<&str> = checks.iter().map(|c| c.check).collect();
    assert_eq!(names, ["network path", "polyteia key"]);
    match &checks[0].outcome {
        CheckResult::Passed(detail) => {
            assert_eq!(
                detail,
                &format!(
                    "http://api.polyteia.test:{port} reached through the proxy 127.0.0.1:{} (HTTP_PROXY); plain HTTP, no TLS (use https:// outside tests)",
                    proxy.rsplit(':').next().unwrap()
                )
            );
            assert_no_proxy_password(detail);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(checks[1].outcome, CheckResult::Passed(_)), "{:?}", checks[1].outcome);
}

#[test]
fn a_proxy_refusing_the_credentials_is_final_and_named() {
    let mock = MockApi::replying(|_, _| reply(200, token_body(UPLOAD_TOKEN)));
    let (proxy, heads) = connect_proxy(mock.url.trim_start_matches("http://"), 407);
    let settings = proxied_settings(&mock, &proxy);
    let err = token_api(&settings).can_generate_token().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProxyRefused, "{err}");
    assert_eq!(err.exit_code(), 16);
    assert_eq!(
        err.message(),
        format!(
            "upload token request failed: the proxy {proxy} (from HTTP_PROXY) refused to connect to the API: HTTP 407 \
             Proxy Authentication Required; the proxy wants credentials or refused them: give the proxy user and \
             password in HTTP_PROXY as http://user:password@host:port, special characters percent-encoded (@ as %40, \
             : as %3A)"
        )
    );
    assert_eq!(heads.lock().unwrap().len(), 1, "a refusal must not be retried");
    assert!(mock.requests().is_empty());

    // check: the network path fails with that error, the key is not blamed.
    let checks = token_api(&settings).preflight();
    assert!(matches!(&checks[0].outcome, CheckResult::Failed(e) if e.kind() == ErrorKind::ProxyRefused), "{checks:?}");
    assert!(
        matches!(&checks[1].outcome, CheckResult::Skipped(r) if r == "needs a working network path to the API"),
        "{checks:?}"
    );
    assert_no_proxy_password(&format!("{checks:?}"));
}

#[test]
fn a_proxy_forbidding_the_host_is_final() {
    let mock = MockApi::replying(|_, _| reply(200, token_body(UPLOAD_TOKEN)));
    let (proxy, _) = connect_proxy(mock.url.trim_start_matches("http://"), 403);
    let err = token_api(&proxied_settings(&mock, &proxy)).can_generate_token().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProxyRefused, "{err}");
    assert!(err.message().contains("HTTP 403 Forbidden; the proxy does not allow connections"), "{err}");
    assert!(err.message().contains("NO_PROXY"), "{err}");
}

#[test]
fn a_proxy_that_cannot_reach_the_api_or_is_down_is_retried() {
    let mock = MockApi::replying(|_, _| reply(200, token_body(UPLOAD_TOKEN)));
    let (proxy, heads) = connect_proxy(mock.url.trim_start_matches("http://"), 502);
    let err = token_api(&proxied_settings(&mock, &proxy)).can_generate_token().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiUnavailable, "{err}");
    assert!(
        err.message().contains(&format!("the proxy {proxy} could not connect to the API: HTTP 502 Bad Gateway")),
        "{err}"
    );
    assert_eq!(heads.lock().unwrap().len(), 4, "every attempt goes through the proxy");

    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let down = closed.local_addr().unwrap().to_string();
    drop(closed);
    let settings = proxied_settings(&mock, &down);
    let err = token_api(&settings).can_generate_token().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiUnavailable, "{err}");
    assert!(err.message().contains("after 4 attempts") && err.message().contains("connection refused"), "{err}");
    assert!(err.message().contains(&format!("(through the proxy {down})")), "{err}");
    assert_no_proxy_password(err.message());
    let checks = token_api(&settings).preflight();
    assert!(
        matches!(&checks[0].outcome, CheckResult::Failed(e) if e.kind() == ErrorKind::ApiUnavailable),
        "{checks:?}"
    );
}

fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

#[test]
fn can_generate_token_for_check() {
    let mock = MockApi::replying(|_, _| reply(200, token_body(UPLOAD_TOKEN)));
    token_api(&settings(&mock.url, None)).can_generate_token().unwrap();
    assert_eq!(mock.paths(), ["/api"]);

    let mock = MockApi::replying(|_, _| reply(401, r#"{"error": {"code": 401, "message": "key revoked"}}"#));
    let err = token_api(&settings(&mock.url, None)).can_generate_token().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiAuth);
    assert!(err.message().contains("key revoked") && err.message().contains("PERSONAL_ACCESS_TOKEN"), "{err}");
}

#[test]
fn api_for_picks_the_generation_and_needs_the_settings() {
    let api = api_for(&settings("https://app.polyteia.com", None), no_cancel()).unwrap();
    assert_eq!(api.describe(), "upload-token API at https://app.polyteia.com");
    let api =
        api_for(&settings("https://web.polyteia.de", Some(Organization::Slug("musterstadt".into()))), no_cancel())
            .unwrap();
    assert_eq!(api.describe(), "session API at https://web.polyteia.de (organization slug musterstadt)");
    // The key and the dataset are not optional in `PolyteiaSettings`: the
    // configuration refuses to build it without them (config.rs tests).
}

// ---------------------------------------------------------------------------
// Session API

fn session_mock(ingest: impl Fn(usize) -> Reply + Send + Sync + 'static) -> MockApi {
    MockApi::replying(move |req, n| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" => reply(
            200,
            rpc(
                json!({"token": SESSION_TOKEN, "expiresAt": "2030-01-01T00:00:00.000Z", "organizationId": "org_test_9", "scope": "organization"}),
            ),
        ),
        p if p.starts_with("/api/upload/dataset/") => reply(
            200,
            json!({"ok": true, "ingestId": "dsig_42", "size": 21, "contentType": "application/vnd.apache.parquet"})
                .to_string(),
        ),
        "/rpc/dataset/getDatasetIngestStatus" => ingest(n),
        _ => reply(404, "no such path"),
    })
}

#[test]
fn session_api_exchanges_uploads_and_waits_for_the_ingest() {
    let mock = session_mock(|n| match n {
        0 => reply(200, rpc(json!({"status": "pending"}))),
        1 => reply(200, rpc(json!({"status": "running"}))),
        _ => reply(200, rpc(json!({"status": "completed"}))),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "ds_test_1.parquet");
    let api = session_api(&settings(&mock.url, org_id()));
    assert_eq!(api.describe(), format!("session API at {} (organization id org_test_9)", mock.url));

    let receipt = api.upload(&file, &ignore_progress()).unwrap();
    assert_eq!(receipt, UploadReceipt { ingest_id: Some("dsig_42".into()), attempts: 1 });
    let outcome = api.wait_for_ingest(&receipt).unwrap();
    assert!(
        matches!(outcome, IngestOutcome::Completed { waited } if waited >= Duration::from_millis(40)),
        "{outcome:?}"
    );

    let requests = mock.requests();
    assert_eq!(
        mock.paths(),
        [
            "/rpc/auth/personalAccessKey/exchange",
            "/api/upload/dataset/ds_test_1",
            "/rpc/dataset/getDatasetIngestStatus",
            "/rpc/dataset/getDatasetIngestStatus",
            "/rpc/dataset/getDatasetIngestStatus",
        ]
    );
    let exchange = &requests[0];
    assert_eq!(exchange.method, "POST");
    assert_eq!(exchange.header("Authorization"), None, "the exchange must not carry an Authorization header");
    assert_eq!(exchange.header("Content-Type"), Some("application/json"));
    assert_eq!(exchange.json(), json!({"json": {"key": PAK, "organizationId": "org_test_9"}}));

    let upload = &requests[1];
    assert_eq!(upload.header("Authorization"), Some(format!("Bearer {SESSION_TOKEN}").as_str()));
    assert_eq!(upload.header("X-Upload-Token"), None);
    assert_multipart(upload, "ds_test_1.parquet", &bytes);

    for poll in &requests[2..] {
        assert_eq!(poll.header("Authorization"), Some(format!("Bearer {SESSION_TOKEN}").as_str()));
        assert_eq!(poll.header("Content-Type"), Some("application/json"));
        assert_eq!(poll.json(), json!({"json": {"id": DATASET, "ingestId": "dsig_42"}}));
    }
    assert!(requests[3].at - requests[2].at >= Duration::from_millis(20), "polls faster than INGEST_POLL_INTERVAL");
}

#[test]
fn session_exchange_with_organization_slug_and_encoded_dataset_id() {
    let mock = session_mock(|_| reply(200, rpc(json!({"status": "completed"}))));
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let mut s = settings(&mock.url, Some(Organization::Slug("musterstadt".into())));
    s.dataset_id = "ds 1/ä?x".into();
    let api = session_api(&s);
    api.upload(&file, &ignore_progress()).unwrap();
    let requests = mock.requests();
    assert_eq!(requests[0].json(), json!({"json": {"key": PAK, "organizationSlug": "musterstadt"}}));
    assert_eq!(requests[1].path, "/api/upload/dataset/ds%201%2F%C3%A4%3Fx");
}

#[test]
fn session_status_table() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");

    // 401 on the exchange: the key.
    let mock = MockApi::replying(|_, _| reply(401, rpc_error(401, "UNAUTHORIZED", "Invalid personal access key")));
    let err = session_api(&settings(&mock.url, org_id())).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiAuth);
    assert!(err.message().contains("UNAUTHORIZED: Invalid personal access key"), "{err}");
    assert!(err.message().contains("check PERSONAL_ACCESS_TOKEN (wrong, revoked or expired)"), "{err}");
    assert_eq!(mock.paths().len(), 1, "a 401 must not be retried");
    assert_no_secret(&err);

    // 404 on the exchange: the organization.
    let mock = MockApi::replying(|_, _| reply(404, rpc_error(404, "NOT_FOUND", "Organization not found")));
    let err = session_api(&settings(&mock.url, org_id())).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiRejected);
    assert!(err.message().contains("POLYTEIA_ORGANIZATION_ID / POLYTEIA_ORGANIZATION_SLUG"), "{err}");

    // Final answers on the upload.
    let cases: [(u16, Value, ErrorKind, &str); 4] = [
        (
            412,
            json!({"error": "Data processing terms not acknowledged", "code": "dpa.not-acknowledged"}),
            ErrorKind::ApiRejected,
            "acknowledge the data processing terms in Polyteia",
        ),
        (
            404,
            json!({"error": "Dataset not found", "code": "dataset.not-found"}),
            ErrorKind::ApiRejected,
            "check DATASET_ID and POLYTEIA_ORGANIZATION_ID / POLYTEIA_ORGANIZATION_SLUG",
        ),
        (403, json!({"error": "Forbidden", "code": "dataset.forbidden"}), ErrorKind::ApiAuth, "licence"),
        (
            400,
            json!({"error": "Not a Parquet file", "code": "upload.invalid"}),
            ErrorKind::ApiRejected,
            "the request was rejected",
        ),
    ];
    for (status, body, kind, hint) in cases {
        let reason = body["code"].as_str().unwrap().to_string();
        let mock = MockApi::replying(move |req, _| match req.path.as_str() {
            "/rpc/auth/personalAccessKey/exchange" => reply(200, rpc(json!({"token": SESSION_TOKEN}))),
            _ => reply(status, body.to_string()),
        });
        let err = session_api(&settings(&mock.url, org_id())).upload(&file, &ignore_progress()).unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert!(err.message().contains(&format!("HTTP {status}")) && err.message().contains(&reason), "{err}");
        assert!(err.message().contains(hint), "{status}: {err}");
        assert_eq!(mock.paths().len(), 2, "HTTP {status} must not be retried");
        assert_no_secret(&err);
    }
}

#[test]
fn session_upload_is_retried_on_transient_answers() {
    let mock = MockApi::replying(|req, n| match (req.path.as_str(), n) {
        ("/rpc/auth/personalAccessKey/exchange", _) => reply(200, rpc(json!({"token": SESSION_TOKEN}))),
        (_, 0) => reply(502, "<html>Bad Gateway</html>"),
        _ => reply(200, json!({"ok": true, "ingestId": "dsig_7"}).to_string()),
    });
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = parquet_file(dir.path(), "x.parquet");
    let receipt = session_api(&settings(&mock.url, org_id())).upload(&file, &ignore_progress()).unwrap();
    assert_eq!(receipt, UploadReceipt { ingest_id: Some("dsig_7".into()), attempts: 2 });
    let requests = mock.requests();
    assert_eq!(requests.len(), 3, "the session is reused for the retry");
    assert_multipart(&requests[2], "x.parquet", &bytes);
}

#[test]
fn a_refused_session_is_renewed_once() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = parquet_file(dir.path(), "x.parquet");
    let exchange = "/rpc/auth/personalAccessKey/exchange";

    // Expired session: 401, new exchange, upload again with the new token.
    let mock = MockApi::replying(move |req, n| match (req.path.as_str(), n) {
        (p, 0) if p == exchange => reply(200, rpc(json!({"token": SESSION_TOKEN}))),
        (p, _) if p == exchange => reply(200, rpc(json!({"token": SESSION_TOKEN_2}))),
        (_, 0) => reply(401, rpc_error(401, "UNAUTHORIZED", "Session expired")),
        _ => reply(200, json!({"ok": true, "ingestId": "dsig_8"}).to_string()),
    });
    let receipt = session_api(&settings(&mock.url, org_id())).upload(&file, &ignore_progress()).unwrap();
    assert_eq!(receipt.ingest_id.as_deref(), Some("dsig_8"));
    let requests = mock.requests();
    assert_eq!(requests.iter().filter(|r| r.path == exchange).count(), 2);
    assert_eq!(requests[3].header("Authorization"), Some(format!("Bearer {SESSION_TOKEN_2}").as_str()));

    // Refused again: give up after one renewal.
    let mock = MockApi::replying(move |req, _| match req.path.as_str() {
        p if p == exchange => reply(200, rpc(json!({"token": SESSION_TOKEN}))),
        _ => reply(401, rpc_error(401, "UNAUTHORIZED", "Session invalid")),
    });
    let err = session_api(&settings(&mock.url, org_id())).upload(&file, &ignore_progress()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiAuth);
    assert_eq!(mock.paths().iter().filter(|p| *p == exchange).count(), 2);
    assert_eq!(mock.paths().len(), 4);
    assert_no_secret(&err);
}

#[test]
fn a_failed_ingest_reports_the_platform_error() {
    let mock = session_mock(|n| match n {
        0 => reply(200, rpc(json!({"status": "running"}))),
        _ => reply(200, rpc(json!({"status": "failed", "errorMessage": "column \"fee\" has mixed types"}))),
    });
    let api = session_api(&settings(&mock.url, org_id()));
    let receipt = UploadReceipt { ingest_id: Some("dsig_9".into()), attempts: 1 };
    let err = api.wait_for_ingest(&receipt).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IngestFailed);
    assert!(err.message().contains("column \"fee\" has mixed types") && err.message().contains("dsig_9"), "{err}");
}

#[test]
fn the_ingest_wait_gives_up_after_the_timeout() {
    let mock = session_mock(|_| reply(200, rpc(json!({"status": "running"}))));
    let mut s = settings(&mock.url, org_id());
    s.ingest_poll_interval = Duration::from_millis(50);
    s.ingest_timeout = Duration::from_millis(200);
    let api = session_api(&s);
    let started = Instant::now();
    let err = api.wait_for_ingest(&UploadReceipt { ingest_id: Some("dsig_1".into()), attempts: 1 }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IngestFailed);
    assert!(err.message().contains("did not finish within INGEST_TIMEOUT=200ms"), "{err}");
    assert!(err.message().contains("running"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(200) && started.elapsed() < Duration::from_secs(2));
    let polls = mock.paths().iter().filter(|p| p.ends_with("getDatasetIngestStatus")).count();
    // 200 ms / 50 ms is four polls on an idle machine; a loaded one gets
    // fewer in time, never more: more would mean the interval is ignored.
    assert!((2..=7).contains(&polls), "{polls} polls");
}

#[test]
fn transient_errors_while_polling_are_retried() {
    let mock = session_mock(|n| match n {
        0 => reply(503, ""),
        1 => reply(504, "gateway timeout"),
        _ => reply(200, rpc(json!({"status": "completed"}))),
    });
    let api = session_api(&settings(&mock.url, org_id()));
    let outcome = api.wait_for_ingest(&UploadReceipt { ingest_id: Some("dsig_1".into()), attempts: 1 }).unwrap();
    assert!(matches!(outcome, IngestOutcome::Completed { .. }));
    assert_eq!(mock.paths().iter().filter(|p| p.ends_with("getDatasetIngestStatus")).count(), 3);
}

#[test]
fn session_check_lookups() {
    let mock = MockApi::replying(|req, _| {
        let params = req.json()["json"].clone();
        match req.path.as_str() {
            "/rpc/auth/personalAccessKey/exchange" => reply(200, rpc(json!({"token": SESSION_TOKEN}))),
            "/rpc/dataset/getDatasetById" => reply(
                200,
                rpc(
                    json!({"id": params["id"], "organizationId": "org_test_9", "solutionId": "sol_3", "name": "Permits"}),
                ),
            ),
            "/rpc/dpa/getMyAcceptanceStatus" => {
                reply(200, rpc(json!({"acknowledged": params["solutionId"] == "sol_3"})))
            }
            "/rpc/dataset/getDatasetIngestStatus" => {
                assert_eq!(params["ingestId"], "dsig_preflight_probe");
                reply(404, rpc_error(404, "NOT_FOUND", "Ingest not found"))
            }
            _ => reply(404, ""),
        }
    });
    let api = session_api(&settings(&mock.url, org_id()));
    api.exchange().unwrap();
    assert_eq!(
        api.dataset().unwrap(),
        DatasetInfo {
            id: DATASET.into(),
            organization_id: "org_test_9".into(),
            solution_id: "sol_3".into(),
            name: "Permits".into()
        }
    );
    assert!(api.terms_acknowledged("sol_3").unwrap());
    assert!(!api.terms_acknowledged("sol_other").unwrap());
    assert!(api.may_edit().unwrap());
    let requests = mock.requests();
    assert_eq!(requests.iter().filter(|r| r.path.ends_with("/exchange")).count(), 1, "the session is reused");
    for r in requests.iter().filter(|r| !r.path.ends_with("/exchange")) {
        assert_eq!(r.header("Authorization"), Some(format!("Bearer {SESSION_TOKEN}").as_str()), "{}", r.path);
    }
    assert_eq!(requests[1].json(), json!({"json": {"id": DATASET}}));
    assert_eq!(requests[2].json(), json!({"json": {"solutionId": "sol_3"}}));

    let mock = MockApi::replying(|req, _| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" => reply(200, rpc(json!({"token": SESSION_TOKEN}))),
        _ => reply(403, rpc_error(403, "FORBIDDEN", "No edit rights")),
    });
    assert!(!session_api(&settings(&mock.url, org_id())).may_edit().unwrap());

    let mock = MockApi::replying(|_, _| reply(401, rpc_error(401, "UNAUTHORIZED", "Invalid personal access key")));
    let err = session_api(&settings(&mock.url, org_id())).exchange().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ApiAuth);
    assert_no_secret(&err);
}
