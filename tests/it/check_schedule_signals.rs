//! `connector check`, `connector schedule` (with /healthz and /metrics over
//! real HTTP) and SIGTERM handling, against the real databases and the mock API.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::disks::TinyDisk;
use crate::common::mock_api::{MockApi, Pace};
use crate::common::*;

const PAK: &str = "pak_check_secret_5d1e";
const SESSION_TOKEN: &str = "sess_check_token_77aa";

/// A session-API mock whose answers to each look-up are given.
fn session_mock(
    exchange: (u16, &'static str),
    dataset: (u16, &'static str),
    probe: u16,
    acknowledged: bool,
) -> MockApi {
    MockApi::start(move |req, _| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" if exchange.0 == 200 => {
            (200, format!(r#"{{"json": {{"token": "{SESSION_TOKEN}"}}}}"#))
        }
        "/rpc/auth/personalAccessKey/exchange" => (exchange.0, exchange.1.into()),
        "/rpc/dataset/getDatasetById" => (dataset.0, dataset.1.into()),
        "/rpc/dataset/getDatasetIngestStatus" => {
            (probe, format!(r#"{{"json": {{"defined": true, "code": "X", "status": {probe}, "message": "probe"}}}}"#))
        }
        "/rpc/dpa/getMyAcceptanceStatus" => (200, format!(r#"{{"json": {{"acknowledged": {acknowledged}}}}}"#)),
        _ => (500, "unexpected".into()),
    })
}

const DATASET_OK: (u16, &str) =
    (200, r#"{"json": {"id": "ds_chk", "organizationId": "org_1", "solutionId": "sol_7", "name": "Haushalt"}}"#);
const EXCHANGE_OK: (u16, &str) = (200, "");

fn check_env(db: &PgDatabase, api: &MockApi, query: &str) -> Vec<(String, String)> {
    with(
        db.env(query),
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("POLYTEIA_ORGANIZATION_ID", "org_1"),
            ("DATASET_ID", "ds_chk"),
            ("SOURCE_CONNECT_MAX_ATTEMPTS", "1"),
            ("CONNECTOR_RETRY_BASE_MS", "10"),
        ],
    )
}

fn lines_with<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(marker)).collect()
}

fn assert_line(text: &str, prefix: &str) {
    assert!(text.lines().any(|l| l.contains(prefix)), "no line with {prefix:?} in:\n{text}");
}

fn table(db: &PgDatabase) {
    db.exec(
        "CREATE TABLE budget (id int, office text, amount numeric(12,2)); INSERT INTO budget VALUES (1, 'x', 2.5);",
    );
}

#[test]
fn check_passes_every_check_and_uploads_nothing() {
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(EXCHANGE_OK, DATASET_OK, 404, true);
    let run = connector(&["check"], &check_env(&db, &api, "SELECT * FROM db.budget"));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(lines_with(&run.stderr, "PASS ").len(), 9, "{}", run.stderr);
    assert_line(
        &run.stderr,
        &format!("PASS network path: {} reached directly (no proxy variable is set); plain HTTP", api.url),
    );
    assert_line(&run.stderr, "PASS source query: valid, 3 columns: id INTEGER, office VARCHAR, amount DECIMAL(12,2)");
    // numeric(12,2) may hold NaN, which the scanner reads as 0: counted before each upload.
    assert_line(
        &run.stderr,
        "PASS exact values: counted on the server before each upload, refused if found: amount (NaN would arrive as 0",
    );
    assert_line(&run.stderr, "PASS data processing terms: acknowledged for solution sol_7");
    assert!(api.paths().iter().all(|p| !p.starts_with("/api/upload")), "check must not upload: {:?}", api.paths());
    assert!(api
        .requests()
        .iter()
        .any(|r| r.path == "/rpc/dataset/getDatasetIngestStatus"
            && r.json()["json"]["ingestId"] == "dsig_preflight_probe"));
    assert_no_secret(&run.output(), &[PAK, SESSION_TOKEN, &db.password]);
}

#[test]
fn check_reports_a_wrong_database_password_and_skips_the_query() {
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(EXCHANGE_OK, DATASET_OK, 404, true);
    let vars = with(check_env(&db, &api, "SELECT * FROM db.budget"), &[("SOURCE_DATABASE_PASSWORD", "wrong")]);
    let run = connector(&["check"], &vars);
    assert_eq!(run.code, 14, "{}", run.output());
    assert_line(&run.stderr, "FAIL source database: cannot connect");
    assert_line(&run.stderr, "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD");
    assert_line(&run.stderr, "SKIP source query: needs a working source database connection");
    assert_line(&run.stderr, "SKIP exact values: needs a working source database connection");
    // The Polyteia checks still run: everything wrong is shown at once.
    assert_line(&run.stderr, "PASS polyteia key");
}

#[test]
fn check_with_a_read_only_temp_dir_skips_every_source_check() {
    let Some(disk) = TinyDisk::mount_read_only() else { return };
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(EXCHANGE_OK, DATASET_OK, 404, true);
    let vars = with(check_env(&db, &api, "SELECT * FROM db.budget"), &[("TEMP_DIR", disk.path().to_str().unwrap())]);
    let run = connector(&["check"], &vars);
    assert_eq!(run.code, 14, "{}", run.output());
    assert_line(
        &run.stderr,
        &format!("FAIL temp directory: cannot create a work directory in TEMP_DIR {}", disk.path().display()),
    );
    for check in ["source database", "source query", "pseudonymisation", "exact values"] {
        assert_line(&run.stderr, &format!("SKIP {check}: needs a writable TEMP_DIR"));
    }
    // The Polyteia checks still run.
    assert_line(&run.stderr, "PASS polyteia key");
    assert!(run.stderr.contains("check finished: 5 passed, 1 failed, 4 skipped"), "{}", run.stderr);
}

#[test]
fn check_reports_a_query_naming_a_missing_table() {
    let db = PgDatabase::create();
    let api = session_mock(EXCHANGE_OK, DATASET_OK, 404, true);
    let run = connector(&["check"], &check_env(&db, &api, "SELECT * FROM db.no_such_table"));
    assert_eq!(run.code, 14, "{}", run.output());
    assert_line(&run.stderr, "PASS source database");
    assert_line(&run.stderr, "FAIL source query: the query failed");
    assert!(lines_with(&run.stderr, "FAIL source query")[0].contains("no_such_table"), "{}", run.stderr);
}

#[test]
fn check_reports_a_rejected_key_and_skips_the_dataset_checks() {
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(
        (
            401,
            r#"{"json": {"defined": false, "code": "UNAUTHORIZED", "status": 401, "message": "Invalid personal access key"}}"#,
        ),
        DATASET_OK,
        404,
        true,
    );
    let run = connector(&["check"], &check_env(&db, &api, "SELECT * FROM db.budget"));
    assert_eq!(run.code, 14, "{}", run.output());
    assert_line(&run.stderr, "FAIL polyteia key");
    assert!(lines_with(&run.stderr, "FAIL polyteia key")[0].contains("PERSONAL_ACCESS_TOKEN"), "{}", run.stderr);
    for check in ["dataset", "upload permission", "data processing terms"] {
        assert_line(&run.stderr, &format!("SKIP {check}: needs a working Polyteia key"));
    }
}

#[test]
fn check_reports_a_missing_dataset() {
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(
        EXCHANGE_OK,
        (404, r#"{"json": {"defined": false, "code": "NOT_FOUND", "status": 404, "message": "Dataset not found"}}"#),
        404,
        true,
    );
    let run = connector(&["check"], &check_env(&db, &api, "SELECT * FROM db.budget"));
    assert_eq!(run.code, 14, "{}", run.output());
    assert!(lines_with(&run.stderr, "FAIL dataset")[0].contains("DATASET_ID"), "{}", run.stderr);
    assert_line(&run.stderr, "SKIP data processing terms");
    // The permission probe answers 404 for a dataset that does not exist, too:
    // without the dataset it proves nothing and is skipped.
    assert_line(&run.stderr, "SKIP upload permission: needs the dataset");
    assert!(lines_with(&run.stderr, "PASS upload permission").is_empty(), "{}", run.stderr);
    assert!(run.stderr.contains("check finished: 6 passed, 1 failed, 2 skipped"), "{}", run.stderr);
}

#[test]
fn check_reports_a_key_that_may_not_edit() {
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(EXCHANGE_OK, DATASET_OK, 403, true);
    let run = connector(&["check"], &check_env(&db, &api, "SELECT * FROM db.budget"));
    assert_eq!(run.code, 14, "{}", run.output());
    assert_line(&run.stderr, "FAIL upload permission");
    assert_line(&run.stderr, "PASS data processing terms");
}

#[test]
fn check_reports_unacknowledged_terms() {
    let db = PgDatabase::create();
    table(&db);
    let api = session_mock(EXCHANGE_OK, DATASET_OK, 404, false);
    let run = connector(&["check"], &check_env(&db, &api, "SELECT * FROM db.budget"));
    assert_eq!(run.code, 14, "{}", run.output());
    assert_line(&run.stderr, "FAIL data processing terms");
    assert_eq!(lines_with(&run.stderr, "FAIL ").len(), 1, "{}", run.stderr);
}

#[test]
fn check_with_the_upload_token_api_generates_a_token_but_uploads_nothing() {
    let db = PgDatabase::create();
    table(&db);
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, r#"{"data": {"token": "upl_chk_1"}}"#.into()),
        _ => (500, "".into()),
    });
    let mut vars = check_env(&db, &api, "SELECT * FROM db.budget");
    vars.retain(|(k, _)| k != "POLYTEIA_ORGANIZATION_ID");
    let run = connector(&["check"], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(api.paths(), ["/api"]);
    assert_line(&run.stderr, "PASS polyteia key");
}

// ---------------------------------------------------------------------------
// schedule

fn upload_token_mock(upload_delay: Duration) -> MockApi {
    MockApi::start(move |req, index| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "upl_sched_{index}"}}}}"#)),
        "/upload" => {
            std::thread::sleep(upload_delay);
            (200, "OK".into())
        }
        _ => (404, "".into()),
    })
}

fn schedule_env(api: &MockApi, port: u16, cron: &str, temp: &Path) -> Vec<(String, String)> {
    env(&[
        ("SOURCE_DATABASE_TYPE", "duckdb"),
        ("SOURCE_DATABASE_NAME", ":memory:"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT i, i * 2 AS doubled FROM range(100) t(i)"),
        ("PERSONAL_ACCESS_TOKEN", PAK),
        ("POLYTEIA_BASE_URL", &api.url),
        ("DATASET_ID", "ds_sched"),
        ("CRON_SCHEDULE", cron),
        ("HEALTH_CHECK_PORT", &port.to_string()),
        ("TEMP_DIR", temp.to_str().unwrap()),
    ])
}

#[test]
fn schedule_runs_cycles_and_serves_health_and_metrics() {
    let api = upload_token_mock(Duration::ZERO);
    let port = free_port();
    let temp = tempfile::tempdir().unwrap();
    let child = spawn_connector(&["schedule"], &schedule_env(&api, port, "*/2 * * * * *", temp.path()));

    wait_until("two uploads", Duration::from_secs(30), || api.paths().iter().filter(|p| *p == "/upload").count() >= 2);
    wait_until("metrics of two runs", Duration::from_secs(10), || {
        http_get_local(port, "/metrics").is_some_and(|(_, body)| {
            body.lines().any(|l| l.starts_with("connector_runs_total{result=\"success\"}") && !l.ends_with(" 1"))
        })
    });
    let (status, body) = http_get_local(port, "/healthz").unwrap();
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["last_run"]["result"], "success");
    assert_eq!(health["last_run"]["rows"], 100);
    assert!(health["next_run_at"].is_string(), "{health}");
    let (status, metrics) = http_get_local(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    for expected in [
        "connector_up 1",
        "connector_last_run_rows 100",
        "connector_last_success_timestamp_seconds ",
        "connector_last_run_phase_seconds{phase=\"query\"}",
        "connector_last_run_bytes ",
    ] {
        assert!(metrics.contains(expected), "missing {expected:?} in:\n{metrics}");
    }
    assert_eq!(http_get_local(port, "/nope").unwrap().0, 404);

    terminate(&child);
    let run = finish_connector(child);
    assert_eq!(run.code, 143, "{}", run.output());
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "temp files left behind");
    assert_no_secret(&run.output(), &[PAK]);
}

#[test]
fn schedule_skips_a_cycle_while_the_previous_one_runs() {
    let api = upload_token_mock(Duration::from_millis(2500));
    let port = free_port();
    let temp = tempfile::tempdir().unwrap();
    let child = spawn_connector(&["schedule", "--run-now"], &schedule_env(&api, port, "* * * * * *", temp.path()));
    wait_until("a skipped cycle", Duration::from_secs(20), || {
        http_get_local(port, "/metrics").is_some_and(|(_, m)| {
            m.lines().any(|l| l.starts_with("connector_runs_skipped_total") && !l.ends_with(" 0"))
        })
    });
    terminate(&child);
    let run = finish_connector(child);
    assert_eq!(run.code, 143, "{}", run.output());
    assert!(run.stderr.contains("cycle skipped: the previous cycle is still running"), "{}", run.stderr);
}

#[test]
fn schedule_refuses_an_invalid_expression_before_anything_runs() {
    let api = upload_token_mock(Duration::ZERO);
    let temp = tempfile::tempdir().unwrap();
    let run = connector(&["schedule", "--run-now"], &schedule_env(&api, free_port(), "every night", temp.path()));
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("CRON_SCHEDULE: 'every night' is not a cron expression"), "{}", run.stderr);
    assert!(api.paths().is_empty());
}

#[test]
fn run_serves_healthz_while_it_lasts() {
    let api = upload_token_mock(Duration::from_millis(1500));
    let port = free_port();
    let temp = tempfile::tempdir().unwrap();
    let child = spawn_connector(&["run", "--serve-health"], &schedule_env(&api, port, "0 0 * * *", temp.path()));
    let mut seen_phase = String::new();
    wait_until("healthz during the run", Duration::from_secs(20), || {
        http_get_local(port, "/healthz").is_some_and(|(status, body)| {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            seen_phase = v["phase"].as_str().unwrap_or("").to_string();
            status == 200 && seen_phase == "uploading" && v["current_run_started_at"].is_string()
        })
    });
    let run = finish_connector(child);
    assert_eq!(run.code, 0, "{}", run.output());
}

// ---------------------------------------------------------------------------
// signals

#[test]
fn sigterm_during_the_export_stops_it_uploads_nothing_and_cleans_up() {
    let api = upload_token_mock(Duration::ZERO);
    let temp = tempfile::tempdir().unwrap();
    let mut vars = schedule_env(&api, free_port(), "0 0 * * *", temp.path());
    // A query that runs for minutes unless interrupted.
    vars = with(
        vars,
        &[("SOURCE_DATABASE_SQL_QUERY", "SELECT sum(a.range * b.range) AS s FROM range(200000) a, range(200000) b")],
    );
    let child = spawn_connector(&["run"], &vars);
    wait_until("the export to start", Duration::from_secs(20), || {
        std::fs::read_dir(temp.path()).map(|d| d.count() > 0).unwrap_or(false)
    });
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    terminate(&child);
    let run = finish_connector(child);
    assert!(signalled.elapsed() < Duration::from_secs(15), "took {:?} to stop", signalled.elapsed());
    assert_eq!(run.code, 143, "{}", run.output());
    assert!(run.stderr.contains("stopped by SIGTERM"), "{}", run.stderr);
    assert!(api.paths().iter().all(|p| p != "/upload"), "{:?}", api.paths());
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "temp files left behind");
}

#[test]
fn sigterm_during_the_upload_aborts_it_and_cleans_up() {
    // A mock that reads the body slowly, so the signal arrives mid-body.
    let api =
        MockApi::start_paced(Pace { read_pause: Some(Duration::from_millis(100)) }, |req, _| match req.path.as_str() {
            "/api" => (200, r#"{"data": {"token": "upl_sig_1"}}"#.into()),
            _ => (200, "OK".into()),
        });
    let temp = tempfile::tempdir().unwrap();
    let vars = with(
        schedule_env(&api, free_port(), "0 0 * * *", temp.path()),
        &[
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT i, md5(i::VARCHAR) AS h FROM range(400000) t(i)"),
            ("PARQUET_COMPRESSION", "uncompressed"),
        ],
    );
    let child = spawn_connector(&["run"], &vars);
    wait_until("the upload to start", Duration::from_secs(30), || api.paths().iter().any(|p| p == "/api"));
    std::thread::sleep(Duration::from_millis(800));
    terminate(&child);
    let run = finish_connector(child);
    assert_eq!(run.code, 143, "{}", run.output());
    wait_until("the mock to see the aborted body", Duration::from_secs(10), || {
        api.requests().iter().any(|r| r.path == "/upload")
    });
    let upload = api.requests().into_iter().find(|r| r.path == "/upload").unwrap();
    assert!(!upload.complete, "the upload must not complete after SIGTERM");
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "temp files left behind");
}

#[test]
fn sigterm_during_a_connect_backoff_is_acted_on_at_once() {
    let temp = tempfile::tempdir().unwrap();
    let log = temp.path().join("connector.log");
    // Nothing listens on port 1: connection refused, which is retried after a
    // first wait of a minute — unless the SIGTERM ends the wait.
    let vars = env(&[
        ("SOURCE_DATABASE_TYPE", "postgres"),
        ("SOURCE_DATABASE_HOST", "127.0.0.1"),
        ("SOURCE_DATABASE_PORT", "1"),
        ("SOURCE_DATABASE_USER", "nobody"),
        ("SOURCE_DATABASE_NAME", "nothing"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
        ("SOURCE_CONNECT_MAX_ATTEMPTS", "5"),
        ("CONNECTOR_RETRY_BASE_MS", "60000"),
    ]);
    let output = temp.path().join("out.parquet");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_connector"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DUCKDB_EXTENSION_DIRECTORY", extension_dir())
        .envs(vars)
        .args(["export", "--output", output.to_str().unwrap()])
        .current_dir(temp.path())
        .stdout(std::fs::File::create(temp.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until("the first retry wait", Duration::from_secs(60), || read_log().contains("retrying in"));
    let signalled = Instant::now();
    terminate(&child);
    let run = finish_connector(child);
    let stderr = read_log();
    assert!(signalled.elapsed() < Duration::from_secs(5), "took {:?} to stop: {stderr}", signalled.elapsed());
    assert_eq!(run.code, 143, "{stderr}");
    assert_eq!(lines_with(&stderr, "source not reachable").len(), 1, "no further attempt after the signal: {stderr}");
    assert!(!output.exists());
}

// ---------------------------------------------------------------------------
// Issue 16: schedule validation, a second signal, native statements

#[test]
fn schedule_reports_port_cron_and_zone_problems_at_once() {
    let api = upload_token_mock(Duration::ZERO);
    let temp = tempfile::tempdir().unwrap();
    let vars = with(
        schedule_env(&api, free_port(), "every night", temp.path()),
        &[("HEALTH_CHECK_PORT", "99999"), ("CRON_TZ", "Mars/Olympus")],
    );
    let run = connector(&["schedule", "--run-now"], &vars);
    assert_eq!(run.code, 3, "{}", run.output());
    let errors = lines_with(&run.stderr, "ERROR");
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    for problem in [
        "configuration has 3 problems",
        "HEALTH_CHECK_PORT: '99999' is not a port number",
        "CRON_SCHEDULE: 'every night' is not a cron expression",
        "CRON_TZ: 'Mars/Olympus' is not a time zone name",
    ] {
        assert!(errors[0].contains(problem), "missing {problem:?} in {}", errors[0]);
    }
    assert!(api.paths().is_empty());
    // `run` has no schedule: the cron settings do not concern it.
    let run = connector(
        &["run"],
        &with(schedule_env(&api, free_port(), "every night", temp.path()), &[("CRON_TZ", "Mars/Olympus")]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
}

/// Whether the spawned process is still running.
fn alive(child: &mut std::process::Child) -> bool {
    child.try_wait().unwrap().is_none()
}

/// Starts `args` against a PostgreSQL table behind a proxy, freezes the
/// network once `started` holds, sends SIGTERM, checks that the run hangs,
/// then sends the second SIGTERM and returns the finished run.
fn second_sigterm_while_the_network_stalls(
    db: &PgDatabase,
    args: &[&str],
    extra: &[(&str, &str)],
    started: impl Fn() -> bool,
    temp: &Path,
) -> Run {
    db.exec("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 1000000) g");
    let proxy = FreezableProxy::start(PG_PORT.parse().unwrap());
    let mut vars = with(
        db.env("SELECT * FROM db.big"),
        &[("SOURCE_DATABASE_PORT", &proxy.port.to_string()), ("TEMP_DIR", temp.to_str().unwrap())],
    );
    vars = with(vars, extra);
    let mut child = spawn_connector(args, &vars);
    wait_until("the export to write", Duration::from_secs(30), started);
    // The network stalls in the middle of the export: the first signal cannot finish.
    proxy.freeze();
    std::thread::sleep(Duration::from_millis(300));
    terminate(&child);
    std::thread::sleep(Duration::from_millis(1500));
    if !alive(&mut child) {
        panic!("premise: the stalled export does not end on the first SIGTERM:\n{}", finish_connector(child).output());
    }
    assert_eq!(dir_entries(temp).len(), 1, "the work directory exists while the export hangs");
    let second = Instant::now();
    terminate(&child);
    let run = finish_connector(child);
    assert!(second.elapsed() < Duration::from_secs(5), "took {:?} after the second signal", second.elapsed());
    assert_eq!(run.code, 143, "{}", run.output());
    assert!(run.stderr.contains("second signal: removing the temporary files"), "{}", run.stderr);
    assert_no_secret(&run.output(), &[&db.password, PAK]);
    run
}

#[test]
fn a_second_sigterm_while_the_export_hangs_still_removes_its_files() {
    let db = PgDatabase::create();
    let temp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("big.parquet");
    let partial_written = || dir_entries(out.path()).iter().any(|n| n.contains(".partial-"));
    second_sigterm_while_the_network_stalls(
        &db,
        &["export", "--output", output.to_str().unwrap()],
        &[],
        partial_written,
        temp.path(),
    );
    assert_eq!(dir_entries(out.path()), Vec::<String>::new(), "the partial file is left");
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new(), "the work directory is left");
}

#[test]
fn a_second_sigterm_while_a_run_hangs_still_removes_the_work_directory() {
    let db = PgDatabase::create();
    let api = upload_token_mock(Duration::ZERO);
    let temp = tempfile::tempdir().unwrap();
    let work_file_written = || {
        dir_entries(temp.path())
            .iter()
            .any(|dir| std::fs::read_dir(temp.path().join(dir)).is_ok_and(|mut d| d.next().is_some()))
    };
    let extra = [("PERSONAL_ACCESS_TOKEN", PAK), ("POLYTEIA_BASE_URL", api.url.as_str()), ("DATASET_ID", "ds_stall")];
    second_sigterm_while_the_network_stalls(&db, &["run"], &extra, work_file_written, temp.path());
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new(), "the work directory is left");
    assert!(api.paths().iter().all(|p| p != "/upload"), "{:?}", api.paths());
}

/// Starts a native-dialect export of `query`, waits until `running` sees
/// the statement on the server, sends `signal`, and returns the finished
/// run, how long it took after the signal, and the output directory.
fn interrupt_a_native_statement(
    vars: Vec<(String, String)>,
    running: impl Fn() -> bool,
    signal: fn(&std::process::Child),
) -> (Run, Duration, tempfile::TempDir, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let vars = with(vars, &[("SOURCE_DATABASE_QUERY_DIALECT", "native"), ("TEMP_DIR", temp.path().to_str().unwrap())]);
    let child = spawn_connector(&["export", "--output", out.path().join("slow.parquet").to_str().unwrap()], &vars);
    wait_until("the statement to run on the server", Duration::from_secs(20), &running);
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    signal(&child);
    let run = finish_connector(child);
    (run, signalled.elapsed(), temp, out)
}

#[test]
fn sigterm_cancels_a_native_postgres_statement_on_the_server() {
    let db = PgDatabase::create();
    let sessions = || {
        pg_admin(
            "postgres",
            &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{}' AND state = 'active' AND query LIKE '%pg_sleep(30)%'", db.user),
        )
        .trim()
        .to_string()
    };
    let (run, took, temp, out) =
        interrupt_a_native_statement(db.env("SELECT pg_sleep(30) AS slept, 1 AS x"), || sessions() != "0", terminate);
    assert!(took < Duration::from_secs(5), "took {took:?} to stop after SIGTERM");
    assert_eq!(run.code, 143, "{}", run.output());
    assert!(run.stderr.contains("stopped by SIGTERM"), "{}", run.stderr);
    assert_eq!(dir_entries(out.path()), Vec::<String>::new());
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new());
    wait_until("the statement to end on the server", Duration::from_secs(5), || sessions() == "0");
    assert_no_secret(&run.output(), &[&db.password]);
}

#[test]
fn sigint_cancels_a_native_mariadb_statement_on_the_server() {
    let db = MysqlDatabase::create();
    let statements = || {
        mysql_admin(&format!(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = '{}' AND INFO LIKE '%SLEEP(30)%'",
            db.user
        ))
        .trim()
        .to_string()
    };
    let (run, took, temp, out) =
        interrupt_a_native_statement(db.env("SELECT SLEEP(30) AS slept, 1 AS x"), || statements() != "0", interrupt);
    assert!(took < Duration::from_secs(5), "took {took:?} to stop after SIGINT");
    assert_eq!(run.code, 130, "{}", run.output());
    assert!(run.stderr.contains("stopped by SIGINT"), "{}", run.stderr);
    assert_eq!(dir_entries(out.path()), Vec::<String>::new());
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new());
    wait_until("the statement to end on the server", Duration::from_secs(5), || statements() == "0");
    assert_no_secret(&run.output(), &[&db.password]);
}
