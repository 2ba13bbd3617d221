//! Fault injection, end to end through the `connector` binary: a source that
//! is down, a connection killed in the middle of a query, a source restarted
//! between scheduled cycles, an API that fails, stalls, resets the connection
//! in the middle of the upload body, redirects or answers garbage, a full
//! disk, and 50 runs against randomly failing API answers.
//!
//! Every scenario checks the exit code and the message, that nothing partial
//! was taken as an upload, that TEMP_DIR is empty afterwards, and (through
//! `run_with_secrets_checked`) that no secret leaked and nothing panicked.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::disks::TinyDisk;
use crate::common::mock_api::{MockApi, Plan, Recorded, Reply, Script};
use crate::common::secrets::{check_finished_run, run_with_secrets_checked, Secrets};
use crate::common::servers::TempPostgres;
use crate::common::skip::{require, skip_requested};
use crate::common::*;

const PAK: &str = "pak_faults_S3cret'Key\\77";
const UPLOAD_TOKEN: &str = "upl_faults_token_5e1d";
const SESSION_TOKEN: &str = "sess_faults_token_c0a2";

fn secrets(extra: &[&str]) -> Secrets {
    let mut all = vec![PAK, UPLOAD_TOKEN, SESSION_TOKEN];
    all.extend_from_slice(extra);
    Secrets::new(all)
}

fn token_body() -> String {
    format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)
}

/// The settings of a `run` against `url`, with fast retries.
fn run_env(base: Vec<(String, String)>, url: &str, temp: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let vars = with(
        base,
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", url),
            ("DATASET_ID", "ds_faults"),
            ("TEMP_DIR", temp.to_str().unwrap()),
            ("CONNECTOR_RETRY_BASE_MS", "20"),
            ("UPLOAD_MAX_BACKOFF", "200ms"),
            ("SOURCE_CONNECT_MAX_ATTEMPTS", "1"),
        ],
    );
    with(vars, extra)
}

const ROWS_QUERY: &str = "SELECT i AS id, 'row ' || i AS label FROM range(500) t(i) ORDER BY id";

fn expected_rows(n: usize) -> Vec<Vec<Option<String>>> {
    (0..n).map(|i| vec![Some(i.to_string()), Some(format!("row {i}"))]).collect()
}

fn uploads(requests: &[Recorded]) -> Vec<&Recorded> {
    requests.iter().filter(|r| r.path == "/upload" || r.path.starts_with("/api/upload/")).collect()
}

// ---------------------------------------------------------------------------
// The source

#[test]
fn an_unreachable_postgres_is_retried_with_backoff_then_exit_4() {
    let api = MockApi::start(|_, _| (500, "must not be called".into()));
    let temp = tempfile::tempdir().unwrap();
    let closed_port = free_port().to_string();
    let base = env(&[
        ("SOURCE_DATABASE_TYPE", "postgres"),
        ("SOURCE_DATABASE_HOST", "127.0.0.1"),
        ("SOURCE_DATABASE_PORT", &closed_port),
        ("SOURCE_DATABASE_USER", "reader"),
        ("SOURCE_DATABASE_PASSWORD", AWKWARD_PASSWORD),
        ("SOURCE_DATABASE_NAME", "city"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM db.t"),
    ]);
    let vars = run_env(base, &api.url, temp.path(), &[("SOURCE_CONNECT_MAX_ATTEMPTS", "3")]);
    let started = Instant::now();
    let run = run_with_secrets_checked(&secrets(&[AWKWARD_PASSWORD]), &["run"], &vars, Some(temp.path()));
    assert_eq!(run.code, 4, "{}", run.output());
    assert_contains(&run.stderr, "source not reachable (attempt 1 of 3), retrying in");
    assert_contains(&run.stderr, "source not reachable (attempt 2 of 3), retrying in");
    assert!(!run.stderr.contains("attempt 3 of 3"), "{}", run.stderr);
    assert_contains(
        &run.stderr,
        &format!("cannot connect to the postgres database city at 127.0.0.1:{closed_port} as reader"),
    );
    assert_contains(&run.stderr, "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT");
    assert!(started.elapsed() >= Duration::from_millis(60), "no backoff between attempts");
    assert!(api.requests().is_empty(), "nothing may be sent to the API: {:?}", api.paths());
    assert_temp_empty(temp.path());
}

#[test]
fn an_unreachable_mariadb_is_retried_with_backoff_then_exit_4() {
    let api = MockApi::start(|_, _| (500, "must not be called".into()));
    let temp = tempfile::tempdir().unwrap();
    let closed_port = free_port().to_string();
    let base = env(&[
        ("SOURCE_DATABASE_TYPE", "mariadb"),
        ("SOURCE_DATABASE_HOST", "127.0.0.1"),
        ("SOURCE_DATABASE_PORT", &closed_port),
        ("SOURCE_DATABASE_USER", "reader"),
        ("SOURCE_DATABASE_PASSWORD", AWKWARD_PASSWORD),
        ("SOURCE_DATABASE_NAME", "city"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM t"),
    ]);
    let vars = run_env(base, &api.url, temp.path(), &[("SOURCE_CONNECT_MAX_ATTEMPTS", "2")]);
    let run = run_with_secrets_checked(&secrets(&[AWKWARD_PASSWORD]), &["run"], &vars, Some(temp.path()));
    assert_eq!(run.code, 4, "{}", run.output());
    assert_contains(&run.stderr, "source not reachable (attempt 1 of 2), retrying in");
    assert_contains(&run.stderr, "cannot connect to the mysql database city");
    assert!(api.requests().is_empty(), "{:?}", api.paths());
    assert_temp_empty(temp.path());
}

/// Runs `connector run` in the background, waits until `find_session`
/// returns the source sessions running the query, lets `kill` end them, and
/// returns the finished run.
fn run_and_kill_mid_query(
    vars: &[(String, String)],
    find_sessions: impl Fn() -> Vec<String>,
    kill: impl Fn(&str),
) -> Run {
    let child = spawn_connector(&["run"], vars);
    let mut sessions = Vec::new();
    wait_until("the query to run on the source", Duration::from_secs(30), || {
        sessions = find_sessions();
        !sessions.is_empty()
    });
    // Let it run for a moment: the connection is lost mid-query, not at its start.
    std::thread::sleep(Duration::from_millis(700));
    for session in find_sessions() {
        kill(&session);
    }
    finish_connector(child)
}

#[test]
fn a_postgres_connection_killed_mid_query_fails_clearly_and_uploads_nothing() {
    let db = PgDatabase::create();
    let api = MockApi::start(|_, _| (500, "must not be called".into()));
    let temp = tempfile::tempdir().unwrap();
    // About 30 s of work on the server unless the connection dies first.
    let query = "SELECT g, md5(g::text) AS h FROM generate_series(1, 3000) g WHERE pg_sleep(0.01)::text = ''";
    let vars = run_env(db.env(query), &api.url, temp.path(), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    let user = db.user.clone();
    let started = Instant::now();
    let run = run_and_kill_mid_query(
        &vars,
        || {
            let pids = pg_admin(
                "postgres",
                &format!(
                    "SELECT pid FROM pg_stat_activity WHERE usename = '{user}' \
                     AND (application_name LIKE 'polyteia-db-connector%' OR application_name = '') \
                     AND state = 'active' AND query LIKE '%pg_sleep%'"
                ),
            );
            pids.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
        },
        |pid| {
            pg_admin("postgres", &format!("SELECT pg_terminate_backend({pid})"));
        },
    );
    assert!(started.elapsed() < Duration::from_secs(25), "the run did not stop when its connection died");
    check_finished_run(&secrets(&[&db.password]), &run, &["run"], Some(temp.path()));
    assert_eq!(run.code, 4, "a lost connection is the source's problem, not the query's:\n{}", run.output());
    assert_contains(&run.stderr, "the connection to the source database was lost during the query");
    assert_contains(&run.stderr, "terminating connection due to administrator command");
    assert!(api.requests().is_empty(), "no upload request at all: {:?}", api.paths());
    assert_temp_empty(temp.path());
}

#[test]
fn a_mariadb_connection_killed_mid_query_fails_clearly_and_uploads_nothing() {
    let db = MysqlDatabase::create();
    let api = MockApi::start(|_, _| (500, "must not be called".into()));
    let temp = tempfile::tempdir().unwrap();
    let query = "SELECT seq, MD5(seq) AS h FROM seq_1_to_3000 WHERE SLEEP(0.01) = 0";
    let vars = run_env(db.env(query), &api.url, temp.path(), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    let user = db.user.clone();
    let run = run_and_kill_mid_query(
        &vars,
        || {
            mysql_admin(&format!(
                "SELECT id FROM information_schema.processlist WHERE user = '{user}' AND info LIKE '%SLEEP%'"
            ))
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
        },
        |id| {
            // Also every other connection of the test user (the catalog connection).
            let _ = Command::new("mariadb")
                .args(["--protocol=TCP", "-h", MYSQL_HOST, "-P", MYSQL_PORT, "-u", "root", "-e"])
                .arg(format!("KILL {id}"))
                .output();
        },
    );
    check_finished_run(&secrets(&[&db.password]), &run, &["run"], Some(temp.path()));
    assert_eq!(run.code, 4, "{}", run.output());
    assert_contains(&run.stderr, "the connection to the source database was lost during the query");
    assert!(
        run.stderr.contains("Lost connection") || run.stderr.contains("gone away") || run.stderr.contains("killed"),
        "{}",
        run.stderr
    );
    assert!(api.requests().is_empty(), "{:?}", api.paths());
    assert_temp_empty(temp.path());
}

#[test]
fn a_source_restarted_between_scheduled_cycles_is_used_again_by_a_later_cycle() {
    if skip_requested("restart") {
        return;
    }
    let password = "restart pw 'x\\y\"z";
    let pg = require(
        "restart",
        TempPostgres::start("", "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256", |_| {
            Ok(())
        })
        .map_err(|e| format!("cannot start a throw-away PostgreSQL instance: {e}")),
    );
    pg.sql("postgres", &format!("CREATE ROLE reader LOGIN PASSWORD {}", pg_quote_literal(password)));
    pg.sql("postgres", "CREATE DATABASE city OWNER reader");
    pg.sql("city", "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g; ALTER TABLE t OWNER TO reader");

    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, token_body()),
        _ => (200, "OK".into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = env(&[
        ("SOURCE_DATABASE_TYPE", "postgres"),
        ("SOURCE_DATABASE_HOST", "127.0.0.1"),
        ("SOURCE_DATABASE_PORT", &pg.port.to_string()),
        ("SOURCE_DATABASE_USER", "reader"),
        ("SOURCE_DATABASE_PASSWORD", password),
        ("SOURCE_DATABASE_NAME", "city"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM db.t ORDER BY id"),
    ]);
    let vars = run_env(
        base,
        &api.url,
        temp.path(),
        &[
            ("CRON_SCHEDULE", "*/2 * * * * *"),
            ("HEALTH_CHECK_PORT", &port.to_string()),
            ("SOURCE_CONNECT_MAX_ATTEMPTS", "2"),
        ],
    );
    let child = spawn_connector(&["schedule"], &vars);
    let upload_count = || api.paths().iter().filter(|p| *p == "/upload").count();
    let last_result = || {
        http_get_local(port, "/healthz")
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|v| v["last_run"]["result"].as_str().map(str::to_string))
    };

    wait_until("a first successful cycle", Duration::from_secs(30), || upload_count() >= 1);
    pg.restart();
    let after_restart = upload_count();
    wait_until("a cycle after the restart", Duration::from_secs(30), || upload_count() > after_restart);

    // Down for a while: the cycles due meanwhile fail, the scheduler goes on.
    pg.stop();
    wait_until("a cycle that finds the source down", Duration::from_secs(30), || {
        last_result().as_deref() == Some("source_unreachable")
    });
    let while_down = upload_count();
    pg.start_again();
    wait_until("a successful cycle after the source came back", Duration::from_secs(30), || {
        upload_count() > while_down && last_result().as_deref() == Some("success")
    });
    let (_, metrics) = http_get_local(port, "/metrics").unwrap();
    assert!(metrics.contains("connector_runs_total{result=\"source_unreachable\"}"), "{metrics}");

    terminate(&child);
    let run = finish_connector(child);
    check_finished_run(&secrets(&[password]), &run, &["schedule"], Some(temp.path()));
    assert_eq!(run.code, 143, "{}", run.output());
    assert_contains(&run.stderr, "source not reachable (attempt 1 of 2)");
    for upload in uploads(&api.requests()) {
        assert!(upload.complete);
        assert_eq!(uploaded_rows(upload).len(), 10);
    }
    secrets(&[password]).check_uploads(&api.requests());
    assert_temp_empty(temp.path());
}

// ---------------------------------------------------------------------------
// The API

/// A run of the default query against `api`; checks secrets, panics and
/// TEMP_DIR, and that no partial body was accepted.
fn api_run(api: &MockApi, extra: &[(&str, &str)]) -> Run {
    let temp = tempfile::tempdir().unwrap();
    let vars = run_env(memory_source(ROWS_QUERY), &api.url, temp.path(), extra);
    let run = run_with_secrets_checked(&secrets(&[]), &["run"], &vars, Some(temp.path()));
    secrets(&[]).check_uploads(&api.requests());
    api.assert_nothing_partial_accepted();
    assert_temp_empty(temp.path());
    run
}

#[test]
fn server_errors_500_502_503_are_retried_until_the_upload_succeeds() {
    let api = MockApi::replying(|req: &Recorded, index| match (req.path.as_str(), index) {
        ("/api", _) => Reply::new(200, token_body()),
        ("/upload", 0) => Reply::new(500, "internal error"),
        ("/upload", 1) => Reply::new(502, "<html>bad gateway</html>"),
        ("/upload", 2) => Reply::new(503, r#"{"error": {"code": 503, "message": "maintenance"}}"#),
        _ => Reply::new(200, "OK"),
    });
    let run = api_run(&api, &[("UPLOAD_MAX_ATTEMPTS", "5")]);
    assert_eq!(run.code, 0, "{}", run.output());
    for expected in [
        "attempt 1 of 5 failed: upload: HTTP 500",
        "attempt 2 of 5 failed: upload: HTTP 502",
        "attempt 3 of 5 failed: upload: HTTP 503",
    ] {
        assert_contains(&run.stderr, expected);
    }
    let requests = api.requests();
    let uploads = uploads(&requests);
    assert_eq!(uploads.len(), 4);
    assert!(uploads.iter().all(|u| u.complete));
    assert_eq!(uploaded_rows(uploads[3]), expected_rows(500));
}

#[test]
fn a_429_is_retried_after_the_time_retry_after_asks_for() {
    let api = MockApi::replying(|req: &Recorded, index| match (req.path.as_str(), index) {
        ("/api", _) => Reply::new(200, token_body()),
        ("/upload", 0) => Reply::new(429, "slow down").header("Retry-After", "1"),
        _ => Reply::new(200, "OK"),
    });
    let started = Instant::now();
    let run = api_run(&api, &[("UPLOAD_MAX_ATTEMPTS", "3"), ("UPLOAD_MAX_BACKOFF", "10s")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured");
    assert_contains(&run.stderr, "attempt 1 of 3 failed: upload: HTTP 429 Too Many Requests");
    assert_contains(&run.stderr, "retrying in 1.0s");
    assert_eq!(uploaded_rows(uploads(&api.requests())[1]), expected_rows(500));
}

/// Drops the connection half-way through the first upload body.
struct ResetFirstUpload;

impl Script for ResetFirstUpload {
    fn plan(&self, request: &Recorded, index: usize) -> Plan {
        let length: usize = request.header("Content-Length").and_then(|v| v.parse().ok()).unwrap_or(0);
        if request.path == "/upload" && index == 0 {
            Plan::DropAfter(length / 2)
        } else {
            Plan::Answer
        }
    }

    fn reply(&self, request: &Recorded, _: usize) -> Reply {
        match request.path.as_str() {
            "/api" => Reply::new(200, token_body()),
            _ => Reply::new(200, "OK"),
        }
    }
}

#[test]
fn a_connection_reset_in_the_middle_of_the_upload_body_is_retried_with_the_whole_file() {
    let api = MockApi::scripted(ResetFirstUpload);
    let temp = tempfile::tempdir().unwrap();
    // About 2.6 MB, more than the socket buffers hold: the reset hits the sender mid-body.
    let query = "SELECT i AS id, md5(i::VARCHAR) AS h FROM range(60000) t(i) ORDER BY id";
    let vars = run_env(
        memory_source(query),
        &api.url,
        temp.path(),
        &[("PARQUET_COMPRESSION", "uncompressed"), ("UPLOAD_MAX_ATTEMPTS", "3")],
    );
    let run = run_with_secrets_checked(&secrets(&[]), &["run"], &vars, Some(temp.path()));
    assert_eq!(run.code, 0, "{}", run.output());
    let exchanges = api.exchanges();
    let uploads: Vec<_> = exchanges.iter().filter(|e| e.request.path == "/upload").collect();
    assert_eq!(uploads.len(), 2, "{:?}", api.paths());
    assert!(!uploads[0].request.complete && uploads[0].status.is_none(), "the first body must have been cut");
    let announced: usize = uploads[0].request.header("Content-Length").unwrap().parse().unwrap();
    assert!(uploads[0].request.body.len() < announced);
    assert!(uploads[1].request.complete && uploads[1].status == Some(200));
    assert_eq!(uploads[1].request.body.len(), announced, "the retry sends the whole file again");
    assert!(
        run.stderr.contains("connection reset")
            || run.stderr.contains("connection closed")
            || run.stderr.contains("connection aborted"),
        "the retry names the reset:\n{}",
        run.stderr
    );
    assert_eq!(uploaded_rows(&uploads[1].request).len(), 60000);
    secrets(&[]).check_uploads(&api.requests());
    api.assert_nothing_partial_accepted();
    assert_temp_empty(temp.path());
}

#[test]
fn an_api_slower_than_http_timeout_fails_with_12_after_the_attempts() {
    let api = MockApi::replying(|_: &Recorded, _| Reply::new(200, token_body()).after(Duration::from_secs(4)));
    let started = Instant::now();
    let run = api_run(&api, &[("HTTP_TIMEOUT", "1s"), ("UPLOAD_MAX_ATTEMPTS", "2")]);
    assert_eq!(run.code, 12, "{}", run.output());
    assert!(started.elapsed() < Duration::from_secs(8), "the timeout was not applied: {:?}", started.elapsed());
    assert_contains(&run.stderr, "stayed unavailable after 2 attempts");
    assert_contains(&run.stderr, "timed out");
    assert_contains(&run.stderr, "HTTP_TIMEOUT");
    assert_eq!(api.paths(), ["/api", "/api"], "nothing was uploaded");
}

#[test]
fn an_upload_answer_slower_than_http_timeout_is_retried_and_can_still_succeed() {
    let api = MockApi::replying(|req: &Recorded, index| match (req.path.as_str(), index) {
        ("/api", _) => Reply::new(200, token_body()),
        ("/upload", 0) => Reply::new(200, "OK, but too late").after(Duration::from_secs(4)),
        _ => Reply::new(200, "OK"),
    });
    let run = api_run(&api, &[("HTTP_TIMEOUT", "1s"), ("UPLOAD_MAX_ATTEMPTS", "2")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_contains(&run.stderr, "attempt 1 of 2 failed");
    assert_contains(&run.stderr, "timed out");
    let requests = api.requests();
    assert_eq!(uploaded_rows(uploads(&requests)[1]), expected_rows(500));
}

#[test]
fn refusals_401_403_404_412_are_never_retried() {
    let cases: [(&str, u16, &str, i32, &str); 5] = [
        ("/api", 401, r#"{"error": {"code": 401, "message": "invalid key"}}"#, 10, "check PERSONAL_ACCESS_TOKEN"),
        ("/api", 403, r#"{"error": {"code": 403, "message": "no licence"}}"#, 10, "licence"),
        ("/api", 404, r#"{"error": {"code": 404, "message": "no such dataset"}}"#, 11, "check DATASET_ID"),
        ("/upload", 403, "forbidden", 10, "permission"),
        (
            "/upload",
            412,
            r#"{"error": "Data processing terms not acknowledged", "code": "dpa.not-acknowledged"}"#,
            11,
            "data processing terms",
        ),
    ];
    for (path, status, body, code, hint) in cases {
        let api =
            MockApi::replying(
                move |req: &Recorded, _| {
                    if req.path == path {
                        Reply::new(status, body)
                    } else {
                        Reply::new(200, token_body())
                    }
                },
            );
        let run = api_run(&api, &[("UPLOAD_MAX_ATTEMPTS", "4")]);
        assert_eq!(run.code, code, "{path} {status}:\n{}", run.output());
        assert_contains(&run.stderr, &format!("HTTP {status}"));
        assert_contains(&run.stderr, hint);
        assert!(!run.stderr.contains("retrying"), "{path} {status} was retried:\n{}", run.stderr);
        assert_eq!(api.paths().iter().filter(|p| *p == path).count(), 1, "{path} {status}: {:?}", api.paths());
    }
}

#[test]
fn a_412_from_the_session_api_is_not_retried() {
    let api = MockApi::replying(|req: &Recorded, _| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" => {
            Reply::new(200, format!(r#"{{"json": {{"token": "{SESSION_TOKEN}"}}}}"#))
        }
        _ => Reply::new(412, r#"{"error": "Data processing terms not acknowledged", "code": "dpa.not-acknowledged"}"#),
    });
    let run = api_run(&api, &[("POLYTEIA_ORGANIZATION_ID", "org_faults"), ("UPLOAD_MAX_ATTEMPTS", "4")]);
    assert_eq!(run.code, 11, "{}", run.output());
    assert_contains(&run.stderr, "dpa.not-acknowledged");
    assert_contains(&run.stderr, "acknowledge the data processing terms");
    assert_eq!(api.paths(), ["/rpc/auth/personalAccessKey/exchange", "/api/upload/dataset/ds_faults"]);
}

#[test]
fn a_malformed_json_answer_is_rejected_without_retries() {
    for (body, expected) in [
        (r#"{"data": {"token": "#, "not JSON"),
        ("<html><body>Please log in</body></html>", "not JSON"),
        (r#"{"data": {}}"#, "without data.token"),
    ] {
        let api = MockApi::replying(move |req: &Recorded, _| match req.path.as_str() {
            "/api" => Reply::new(200, body),
            _ => Reply::new(200, "OK"),
        });
        let run = api_run(&api, &[("UPLOAD_MAX_ATTEMPTS", "3")]);
        assert_eq!(run.code, 11, "{body}:\n{}", run.output());
        assert_contains(&run.stderr, expected);
        assert_eq!(api.paths(), ["/api"], "{body}");
    }
}

#[test]
fn a_redirect_to_another_host_is_not_followed_with_the_credentials() {
    for (redirecting_path, status) in [("/api", 302), ("/upload", 307), ("/upload", 308)] {
        let elsewhere = MockApi::replying(|_: &Recorded, _| Reply::new(200, token_body()));
        let target = format!("http://localhost:{}{redirecting_path}", elsewhere.port);
        let location = target.clone();
        let api = MockApi::replying(move |req: &Recorded, _| {
            if req.path == redirecting_path {
                Reply::new(status, "moved").header("Location", &location)
            } else {
                Reply::new(200, token_body())
            }
        });
        let run = api_run(&api, &[("UPLOAD_MAX_ATTEMPTS", "3")]);
        assert_eq!(run.code, 11, "{status} on {redirecting_path}:\n{}", run.output());
        assert_contains(&run.stderr, &format!("redirects to {target}, which is not followed"));
        assert_contains(&run.stderr, "POLYTEIA_BASE_URL");
        std::thread::sleep(Duration::from_millis(100));
        assert!(elsewhere.requests().is_empty(), "the other host received {:?}", elsewhere.paths());
    }
}

#[test]
fn an_api_that_stays_unavailable_fails_with_12() {
    // Nobody listens.
    let temp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let vars = run_env(memory_source(ROWS_QUERY), &url, temp.path(), &[("UPLOAD_MAX_ATTEMPTS", "3")]);
    let run = run_with_secrets_checked(&secrets(&[]), &["run"], &vars, Some(temp.path()));
    assert_eq!(run.code, 12, "{}", run.output());
    assert_contains(&run.stderr, "stayed unavailable after 3 attempts");
    assert_contains(&run.stderr, "connection");
    assert_temp_empty(temp.path());

    // Answers, but only 503.
    let api = MockApi::replying(|_: &Recorded, _| Reply::new(503, "maintenance"));
    let run = api_run(&api, &[("UPLOAD_MAX_ATTEMPTS", "3")]);
    assert_eq!(run.code, 12, "{}", run.output());
    assert_contains(&run.stderr, "stayed unavailable after 3 attempts; last failure: upload token request: HTTP 503");
    assert_eq!(api.paths().len(), 3);
}

// ---------------------------------------------------------------------------
// A full disk

/// Several MB when written uncompressed.
const LARGE_QUERY: &str = "SELECT i AS id, md5(i::VARCHAR) AS h FROM range(100000) t(i)";

#[test]
fn a_full_temp_dir_is_a_local_io_error_naming_temp_dir() {
    let Some(disk) = TinyDisk::mount() else { return };
    let api = MockApi::replying(|_: &Recorded, _| Reply::new(200, token_body()));
    let vars = run_env(memory_source(LARGE_QUERY), &api.url, disk.path(), &[("PARQUET_COMPRESSION", "uncompressed")]);
    let run = run_with_secrets_checked(&secrets(&[]), &["run"], &vars, Some(disk.path()));
    assert_eq!(run.code, 7, "{}", run.output());
    assert_contains(&run.stderr, &format!("the disk holding TEMP_DIR ({}) is full", disk.path().display()));
    assert_contains(&run.stderr, "No space left on device");
    assert_contains(&run.stderr, "point TEMP_DIR to a disk with room");
    assert_contains(&run.stderr, "error_class=local_io");
    assert!(api.requests().is_empty(), "{:?}", api.paths());
    assert_temp_empty(disk.path());
}

#[test]
fn a_full_output_disk_is_a_local_io_error_naming_the_output_directory() {
    let Some(disk) = TinyDisk::mount() else { return };
    let temp = tempfile::tempdir().unwrap();
    let output = disk.path().join("export.parquet");
    let vars = with(
        memory_source(LARGE_QUERY),
        &[("TEMP_DIR", temp.path().to_str().unwrap()), ("PARQUET_COMPRESSION", "uncompressed")],
    );
    let args = ["export", "--output", output.to_str().unwrap()];
    let run = run_with_secrets_checked(&secrets(&[]), &args, &vars, Some(temp.path()));
    assert_eq!(run.code, 7, "{}", run.output());
    assert_contains(&run.stderr, &format!("the disk holding the --output directory {} is full", disk.path().display()));
    assert!(!output.exists());
    assert_temp_empty(disk.path());
    assert_temp_empty(temp.path());
}

#[test]
fn spilling_into_a_full_temp_dir_is_a_local_io_error() {
    let Some(disk) = TinyDisk::mount() else { return };
    let temp_output = tempfile::tempdir().unwrap();
    let output = temp_output.path().join("sorted.parquet");
    // A sort of ~100 MB in 30 MB of memory must spill to TEMP_DIR, which holds 256 KiB.
    let vars = with(
        memory_source(
            "SELECT i AS id, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS h FROM range(1500000) t(i) ORDER BY h",
        ),
        &[("TEMP_DIR", disk.path().to_str().unwrap()), ("DUCKDB_MEMORY_LIMIT", "30MB"), ("DUCKDB_THREADS", "1")],
    );
    let args = ["export", "--output", output.to_str().unwrap()];
    let run = run_with_secrets_checked(&secrets(&[]), &args, &vars, Some(disk.path()));
    assert_eq!(run.code, 7, "{}", run.output());
    assert_contains(&run.stderr, &format!("the disk holding TEMP_DIR ({}) is full", disk.path().display()));
    assert!(!output.exists());
    assert_temp_empty(disk.path());
}

// ---------------------------------------------------------------------------
// Random transient failures

/// Answers every request with a transient failure (500, 503, 429, or a
/// connection dropped mid-body) or success, drawn from a seeded generator;
/// an upload it accepts is first read back and compared with the expected rows.
struct Flaky {
    rng: Mutex<fastrand::Rng>,
    run: Arc<AtomicUsize>,
    expected: Vec<Vec<Option<String>>>,
    /// (run, verified) per accepted upload.
    accepted: Mutex<Vec<(usize, bool)>>,
    drops: AtomicUsize,
}

impl Flaky {
    fn roll(&self) -> u32 {
        self.rng.lock().unwrap().u32(0..100)
    }

    fn transient(&self) -> Option<Reply> {
        match self.roll() {
            0..=11 => Some(Reply::new(500, "internal error")),
            12..=23 => Some(Reply::new(503, "maintenance")),
            24..=33 => Some(Reply::new(429, "slow down").header("Retry-After", "1")),
            _ => None,
        }
    }
}

fn is_upload_path(path: &str) -> bool {
    path == "/upload" || path.starts_with("/api/upload/dataset/")
}

impl Script for Flaky {
    fn plan(&self, request: &Recorded, _: usize) -> Plan {
        let length: usize = request.header("Content-Length").and_then(|v| v.parse().ok()).unwrap_or(0);
        if is_upload_path(&request.path) && self.roll() < 20 {
            self.drops.fetch_add(1, Ordering::SeqCst);
            Plan::DropAfter(length * self.roll() as usize / 100)
        } else {
            Plan::Answer
        }
    }

    fn reply(&self, request: &Recorded, _: usize) -> Reply {
        if let Some(failure) = self.transient() {
            return failure;
        }
        match request.path.as_str() {
            "/api" => Reply::new(200, token_body()),
            "/rpc/auth/personalAccessKey/exchange" => {
                Reply::new(200, format!(r#"{{"json": {{"token": "{SESSION_TOKEN}"}}}}"#))
            }
            "/rpc/dataset/getDatasetIngestStatus" => Reply::new(200, r#"{"json": {"status": "completed"}}"#),
            path if is_upload_path(path) => {
                let read_back = std::panic::catch_unwind(|| uploaded_rows(request)).ok();
                let verified = request.complete && read_back.as_ref() == Some(&self.expected);
                self.accepted.lock().unwrap().push((self.run.load(Ordering::SeqCst), verified));
                if !verified {
                    return Reply::new(400, "corrupt file");
                }
                if path == "/upload" {
                    Reply::new(200, "OK")
                } else {
                    Reply::new(200, r#"{"ok": true, "ingestId": "dsig_flaky"}"#)
                }
            }
            _ => Reply::new(404, "unknown path"),
        }
    }
}

#[test]
fn fifty_runs_against_randomly_failing_answers_end_verified_or_with_12() {
    const RUNS: usize = 50;
    const ROWS: usize = 20_000;
    let run_no = Arc::new(AtomicUsize::new(0));
    let flaky = Arc::new(Flaky {
        rng: Mutex::new(fastrand::Rng::with_seed(0x5eed_f417)),
        run: run_no.clone(),
        expected: expected_rows(ROWS),
        accepted: Mutex::new(Vec::new()),
        drops: AtomicUsize::new(0),
    });
    struct Shared(Arc<Flaky>);
    impl Script for Shared {
        fn plan(&self, r: &Recorded, i: usize) -> Plan {
            self.0.plan(r, i)
        }
        fn reply(&self, r: &Recorded, i: usize) -> Reply {
            self.0.reply(r, i)
        }
    }
    let api = MockApi::scripted(Shared(flaky.clone()));
    let query = format!("SELECT i AS id, 'row ' || i AS label FROM range({ROWS}) t(i) ORDER BY id");
    let (mut succeeded, mut failed) = (0, 0);
    let started = Instant::now();
    for run in 0..RUNS {
        run_no.store(run, Ordering::SeqCst);
        let before = api.requests().len();
        let temp = tempfile::tempdir().unwrap();
        let mut extra = vec![
            ("UPLOAD_MAX_ATTEMPTS", "3"),
            ("CONNECTOR_RETRY_BASE_MS", "1"),
            ("UPLOAD_MAX_BACKOFF", "20ms"),
            ("PARQUET_COMPRESSION", "uncompressed"),
            ("INGEST_POLL_INTERVAL", "10ms"),
        ];
        if run % 3 == 2 {
            extra.push(("POLYTEIA_ORGANIZATION_SLUG", "flaky-city"));
        }
        let vars = run_env(memory_source(&query), &api.url, temp.path(), &extra);
        let result = run_with_secrets_checked(&secrets(&[]), &["run"], &vars, Some(temp.path()));
        assert_temp_empty(temp.path());
        let accepted: Vec<bool> =
            flaky.accepted.lock().unwrap().iter().filter(|(r, _)| *r == run).map(|(_, ok)| *ok).collect();
        assert!(accepted.iter().all(|ok| *ok), "run {run}: a truncated or corrupt file was accepted");
        match result.code {
            0 => {
                succeeded += 1;
                assert_eq!(accepted.len(), 1, "run {run} succeeded without exactly one accepted upload");
            }
            12 => {
                failed += 1;
                assert_contains(&result.stderr, "stayed unavailable after");
                if run % 3 != 2 {
                    assert!(accepted.is_empty(), "run {run} failed after an accepted upload");
                }
            }
            other => panic!("run {run} ended with exit code {other}:\n{}", result.output()),
        }
        let requests = api.requests();
        for upload in requests[before..].iter().filter(|r| is_upload_path(&r.path) && r.complete) {
            assert_eq!(upload.header("Content-Length").map(|l| l.parse::<usize>().unwrap()), Some(upload.body.len()));
        }
    }
    api.assert_nothing_partial_accepted();
    secrets(&[]).check_uploads(&api.requests());
    println!(
        "{RUNS} runs in {:.1}s: {succeeded} uploaded and verified, {failed} failed with 12, {} connections dropped mid-body",
        started.elapsed().as_secs_f64(),
        flaky.drops.load(Ordering::SeqCst)
    );
    assert!(succeeded > 0 && failed > 0, "the seed should produce both outcomes: {succeeded} / {failed}");
    assert!(flaky.drops.load(Ordering::SeqCst) > 0);
}

// ---------------------------------------------------------------------------
// The checker itself

#[test]
fn the_secret_checker_finds_every_form_everywhere() {
    let secret = "pak_leak_Test'Value\\1";
    let s = Secrets::new([secret]);
    let caught = |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    let base64 = "cGFrX2xlYWtfVGVzdCdWYWx1ZVwx";
    for text in [
        format!("x {secret} y"),
        "pak_leak_Test%27Value%5C1".to_string(),
        "pak_leak_Test%27Value%5c1".to_string(),
        format!("token={base64}"),
        "password='pak_leak_Test\\'Value\\\\1'".to_string(),
    ] {
        let run = Run { code: 0, stdout: String::new(), stderr: text.clone() };
        assert!(caught(&|| s.check_run(&run)), "not caught: {text}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("leak-{base64}.tmp")), "").unwrap();
    assert!(caught(&|| s.check_dir(dir.path())), "a file name was not checked");

    let file = tempfile::tempdir().unwrap();
    let parquet = file.path().join("kv.parquet");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT 1 AS a) TO '{}' (FORMAT parquet, KV_METADATA {{origin: '{}'}})",
        parquet.display(),
        base64
    ))
    .unwrap();
    assert!(caught(&|| s.check_parquet(&parquet)), "the key/value metadata was not checked");
    let clean = file.path().join("clean.parquet");
    conn.execute_batch(&format!("COPY (SELECT 1 AS a) TO '{}' (FORMAT parquet)", clean.display())).unwrap();
    s.check_parquet(&clean);
}
