//! `connector run` as a subprocess: real source databases, the in-process API
//! mock, and the uploaded Parquet compared with the source rows.

use std::path::Path;

use crate::common::mock_api::{MockApi, Recorded};
use crate::common::skip::{require, skip_requested};
use crate::common::*;

const PAK: &str = "pak_e2e_Secret'Key\\42";
const UPLOAD_TOKEN: &str = "upl_token_e2e_7f3a9c";
const SESSION_TOKEN: &str = "sess_token_e2e_91b2";

fn assert_streamed_multipart(upload: &Recorded, file_name: &str) {
    assert_eq!(upload.header("Content-Length").map(|v| v.parse::<usize>().unwrap()), Some(upload.body.len()));
    assert_eq!(upload.header("Transfer-Encoding"), None, "upload must not be chunked");
    assert!(upload.header("Content-Type").unwrap().starts_with("multipart/form-data; boundary="));
    let (part_headers, content) = upload.multipart_part();
    assert!(
        part_headers.contains(&format!("Content-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"")),
        "{part_headers}"
    );
    assert!(part_headers.contains("Content-Type: application/vnd.apache.parquet"), "{part_headers}");
    assert!(content.starts_with(b"PAR1") && content.ends_with(b"PAR1"), "part content is not a Parquet file");
}

fn run_env(base: Vec<(String, String)>, api: &MockApi, temp: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = with(
        base,
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_e2e_1"),
            ("TEMP_DIR", temp.to_str().unwrap()),
            ("LOG_LEVEL", "debug"),
            ("CONNECTOR_RETRY_BASE_MS", "20"),
        ],
    );
    vars = with(vars, extra);
    vars
}

fn secrets(db_password: &str) -> [&str; 4] {
    [PAK, UPLOAD_TOKEN, SESSION_TOKEN, db_password]
}

#[test]
fn run_uploads_postgres_rows_through_the_upload_token_api() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE permits (id bigint PRIMARY KEY, holder text, issued date, fee numeric(8,2)); \
         INSERT INTO permits VALUES (1, 'Müller GmbH', '2026-03-01', 120.00), (2, 'O''Neil & Co', '2026-03-02', NULL), \
         (3, NULL, NULL, 99.99);",
    );
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        "/upload" => (200, "OK".into()),
        _ => (404, "not found".into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let run = connector(&["run"], &run_env(db.env("SELECT * FROM db.permits ORDER BY id"), &api, temp.path(), &[]));
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("upload-token API"), "{}", run.stderr);
    assert!(run.stderr.contains("run finished: 3 rows, 4 columns"), "{}", run.stderr);
    assert_no_secret(&run.output(), &secrets(&db.password));
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "temp files left behind");

    let requests = api.requests();
    assert_eq!(
        requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect::<Vec<_>>(),
        [("POST", "/api"), ("POST", "/upload")]
    );
    let token_request = &requests[0];
    assert_eq!(token_request.header("Authorization"), Some(format!("Bearer {PAK}").as_str()));
    assert!(token_request.header("Content-Type").unwrap().starts_with("application/json"));
    assert_eq!(
        token_request.json(),
        serde_json::json!({"command": "generate_dataset_upload_token",
                           "params": {"id": "ds_e2e_1", "content_type": "application/vnd.apache.parquet"}})
    );
    let upload = &requests[1];
    assert_eq!(upload.header("X-Upload-Token"), Some(UPLOAD_TOKEN));
    assert_eq!(upload.header("Authorization"), None);
    assert!(upload.header("User-Agent").unwrap().starts_with("polyteia-db-connector/"));
    assert_streamed_multipart(upload, "ds_e2e_1.parquet");
    assert_eq!(
        uploaded_rows(upload),
        vec![
            vec![Some("1".into()), Some("Müller GmbH".into()), Some("2026-03-01".into()), Some("120.00".into())],
            vec![Some("2".into()), Some("O'Neil & Co".into()), Some("2026-03-02".into()), None],
            vec![Some("3".into()), None, None, Some("99.99".into())],
        ]
    );
}

#[test]
fn run_uploads_mariadb_rows_through_the_session_api_and_waits_for_the_ingest() {
    let db = MysqlDatabase::create();
    db.admin(
        "CREATE TABLE budgets (id INT PRIMARY KEY, office VARCHAR(40), amount DECIMAL(12,2)); \
         INSERT INTO budgets VALUES (1, 'Kämmerei', 1000000.50), (2, 'Bauamt', NULL);",
    );
    let api = MockApi::start(|req, index| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" => (
            200,
            format!(
                r#"{{"json": {{"token": "{SESSION_TOKEN}", "expiresAt": "2030-01-01T00:00:00.000Z", "organizationId": "org_9", "scope": "organization"}}}}"#
            ),
        ),
        "/api/upload/dataset/ds_e2e_1" => (
            200,
            r#"{"ok": true, "ingestId": "dsig_e2e_5", "size": 21, "contentType": "application/vnd.apache.parquet"}"#
                .into(),
        ),
        "/rpc/dataset/getDatasetIngestStatus" if index == 0 => (200, r#"{"json": {"status": "pending"}}"#.into()),
        "/rpc/dataset/getDatasetIngestStatus" if index == 1 => (200, r#"{"json": {"status": "running"}}"#.into()),
        "/rpc/dataset/getDatasetIngestStatus" => (200, r#"{"json": {"status": "completed"}, "meta": []}"#.into()),
        _ => (404, r#"{"json": {"defined": false, "code": "NOT_FOUND", "status": 404, "message": "no"}}"#.into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let vars = run_env(
        db.env("SELECT * FROM budgets ORDER BY id"),
        &api,
        temp.path(),
        &[("POLYTEIA_ORGANIZATION_ID", "org_9"), ("INGEST_POLL_INTERVAL", "50ms")],
    );
    let run = connector(&["run"], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("session API"), "{}", run.stderr);
    assert!(run.stderr.contains("ingest id dsig_e2e_5"), "{}", run.stderr);
    assert_no_secret(&run.output(), &secrets(&db.password));
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "temp files left behind");

    let requests = api.requests();
    assert_eq!(
        requests.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [
            "/rpc/auth/personalAccessKey/exchange",
            "/api/upload/dataset/ds_e2e_1",
            "/rpc/dataset/getDatasetIngestStatus",
            "/rpc/dataset/getDatasetIngestStatus",
            "/rpc/dataset/getDatasetIngestStatus",
        ]
    );
    assert_eq!(requests[0].header("Authorization"), None);
    assert_eq!(requests[0].json(), serde_json::json!({"json": {"key": PAK, "organizationId": "org_9"}}));
    let upload = &requests[1];
    assert_eq!(upload.header("Authorization"), Some(format!("Bearer {SESSION_TOKEN}").as_str()));
    assert_streamed_multipart(upload, "ds_e2e_1.parquet");
    assert_eq!(
        uploaded_rows(upload),
        vec![
            vec![Some("1".into()), Some("Kämmerei".into()), Some("1000000.50".into())],
            vec![Some("2".into()), Some("Bauamt".into()), None],
        ]
    );
    for poll in &requests[2..] {
        assert_eq!(poll.header("Authorization"), Some(format!("Bearer {SESSION_TOKEN}").as_str()));
        assert_eq!(poll.json(), serde_json::json!({"json": {"id": "ds_e2e_1", "ingestId": "dsig_e2e_5"}}));
    }
}

#[test]
fn a_revoked_key_fails_with_the_auth_code_and_uploads_nothing() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let api =
        MockApi::start(|_, _| (401, r#"{"error": {"code": 401, "message": "invalid personal access token"}}"#.into()));
    let temp = tempfile::tempdir().unwrap();
    let run = connector(&["run"], &run_env(db.env("SELECT * FROM db.t"), &api, temp.path(), &[]));
    assert_eq!(run.code, 10, "{}", run.output());
    assert!(run.stderr.contains("PERSONAL_ACCESS_TOKEN"), "{}", run.stderr);
    assert_eq!(api.paths(), ["/api"], "a 401 is not retried and nothing is uploaded");
    assert_no_secret(&run.output(), &secrets(&db.password));
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
}

#[test]
fn transient_failures_are_retried_with_a_fresh_token_and_the_whole_file() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t AS SELECT g AS id, repeat('x', 50) AS pad FROM generate_series(1, 5000) g;");
    let api = MockApi::start(|req, index| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}-{index}"}}}}"#)),
        "/upload" if index < 2 => (503, "maintenance".into()),
        "/upload" => (200, "OK".into()),
        _ => (404, "".into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let run = connector(&["run"], &run_env(db.env("SELECT * FROM db.t ORDER BY id"), &api, temp.path(), &[]));
    assert_eq!(run.code, 0, "{}", run.output());
    let requests = api.requests();
    assert_eq!(api.paths(), ["/api", "/upload", "/api", "/upload", "/api", "/upload"]);
    let uploads: Vec<&Recorded> = requests.iter().filter(|r| r.path == "/upload").collect();
    for (i, upload) in uploads.iter().enumerate() {
        assert_eq!(
            upload.header("X-Upload-Token"),
            Some(format!("{UPLOAD_TOKEN}-{i}").as_str()),
            "fresh token per attempt"
        );
        assert_eq!(upload.multipart_part().1, uploads[2].multipart_part().1, "every attempt sends the whole file");
    }
    assert_eq!(uploaded_rows(uploads[2]).len(), 5000);
}

#[test]
fn a_failed_ingest_fails_the_run_with_the_platform_message() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" => (200, format!(r#"{{"json": {{"token": "{SESSION_TOKEN}"}}}}"#)),
        "/api/upload/dataset/ds_e2e_1" => (200, r#"{"ok": true, "ingestId": "dsig_bad"}"#.into()),
        _ => (200, r#"{"json": {"status": "failed", "errorMessage": "column id: expected string"}}"#.into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let vars =
        run_env(db.env("SELECT * FROM db.t"), &api, temp.path(), &[("POLYTEIA_ORGANIZATION_SLUG", "musterstadt")]);
    let run = connector(&["run"], &vars);
    assert_eq!(run.code, 13, "{}", run.output());
    assert!(run.stderr.contains("column id: expected string"), "{}", run.stderr);
    assert_eq!(api.requests()[0].json(), serde_json::json!({"json": {"key": PAK, "organizationSlug": "musterstadt"}}));
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
}

#[test]
fn run_requires_the_polyteia_settings() {
    let run = connector(
        &["run"],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
        ]),
    );
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("PERSONAL_ACCESS_TOKEN: is required"), "{}", run.stderr);
    assert!(run.stderr.contains("DATASET_ID: is required"), "{}", run.stderr);
}

#[test]
fn upload_sends_an_existing_parquet_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prepared.parquet");
    let export = connector(
        &["export", "--output", file.to_str().unwrap()],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT i AS n, 'row ' || i AS label FROM range(1000) t(i)"),
        ]),
    );
    assert_eq!(export.code, 0, "{}", export.output());
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        _ => (200, "OK".into()),
    });
    let vars = env(&[
        ("PERSONAL_ACCESS_TOKEN", PAK),
        ("POLYTEIA_BASE_URL", &api.url),
        ("DATASET_ID", "ds_up"),
        ("SOURCE_DATABASE_TYPE", "duckdb"),
        ("SOURCE_DATABASE_NAME", ":memory:"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
    ]);
    let run = connector(&["upload", "--file", file.to_str().unwrap()], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("upload finished: 1000 rows"), "{}", run.stderr);
    let upload = api.requests().into_iter().find(|r| r.path == "/upload").unwrap();
    assert_streamed_multipart(&upload, "prepared.parquet");
    assert_eq!(upload.multipart_part().1, std::fs::read(&file).unwrap(), "the file must arrive byte for byte");
    assert_no_secret(&run.output(), &[PAK, UPLOAD_TOKEN]);

    // Anything that is not Parquet is refused before a request is made.
    let not_parquet = dir.path().join("notes.parquet");
    std::fs::write(&not_parquet, "id,name\n1,x\n").unwrap();
    let before = api.requests().len();
    let run = connector(&["upload", "--file", not_parquet.to_str().unwrap()], &vars);
    assert_eq!(run.code, 8, "{}", run.output());
    assert!(run.stderr.contains("as Parquet"), "{}", run.stderr);
    assert_eq!(api.requests().len(), before);
}

/// Runs the binary inside a pseudo-terminal (`script`, from bsdutils), so
/// that stderr is a terminal; returns exit code and everything the terminal saw.
fn connector_in_terminal(args: &str, vars: &[(String, String)]) -> (i32, String) {
    let which = std::process::Command::new("sh").args(["-c", "command -v script"]).output().unwrap();
    require("pty", if which.status.success() { Ok(()) } else { Err("`script` (bsdutils) is not installed".into()) });
    let quote = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let mut command = String::from("env -i TERM=xterm");
    for (k, v) in vars {
        command.push_str(&format!(" {k}={}", quote(v)));
    }
    command.push_str(&format!(" DUCKDB_EXTENSION_DIRECTORY={}", quote(extension_dir().to_str().unwrap())));
    command.push_str(&format!(" {} {args}", quote(env!("CARGO_BIN_EXE_connector"))));
    let out = std::process::Command::new("script").args(["-qfec", &command, "/dev/null"]).output();
    let out = require("pty", out.map_err(|e| format!("cannot run `script`: {e}")));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_progress_bar_shows_on_a_terminal_in_text_mode_only() {
    if skip_requested("pty") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.parquet");
    let export = connector(
        &["export", "--output", file.to_str().unwrap()],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("PARQUET_COMPRESSION", "uncompressed"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT i, md5(i::VARCHAR) AS h FROM range(600000) t(i)"),
        ]),
    );
    assert_eq!(export.code, 0, "{}", export.output());
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        _ => (200, "OK".into()),
    });
    let vars = env(&[
        ("PERSONAL_ACCESS_TOKEN", PAK),
        ("POLYTEIA_BASE_URL", &api.url),
        ("DATASET_ID", "ds_tty"),
        ("SOURCE_DATABASE_TYPE", "duckdb"),
        ("SOURCE_DATABASE_NAME", ":memory:"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
    ]);
    let args = format!("upload --file '{}'", file.display());
    let (code, screen) = connector_in_terminal(&args, &vars);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("uploading ["), "no progress bar on a terminal:\n{screen}");
    assert!(screen.contains("upload finished"), "{screen}");

    let (code, screen) = connector_in_terminal(&format!("--log-format json {args}"), &vars);
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("uploading ["), "a progress bar in JSON mode:\n{screen}");
    // Without a terminal (every other test) there is none either.
    let run = connector(&["upload", "--file", file.to_str().unwrap()], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(!run.output().contains("uploading ["), "{}", run.output());
    assert_eq!(api.requests().iter().filter(|r| r.path == "/upload" && r.complete).count(), 3);
}
