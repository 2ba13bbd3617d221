//! `connector.exe` from the Windows release zip, run under Wine against the real
//! local PostgreSQL and MariaDB and the test API mock (scripts/check-windows).
//!
//! The tests are `#[ignore]`d, so a plain `cargo test` lists them as ignored instead of
//! running them without the zip; scripts/check-windows builds and unpacks the zip, sets
//! `CONNECTOR_WINDOWS_DIR` to the unpacked folder and runs them with `--ignored`. Asked
//! to run without that folder, they fail.

#[allow(unused_imports)]
#[path = "../it/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::mock_api::MockApi;
use common::{
    dir_entries, memory_source, parquet_rows, uploaded_rows, wait_until, with, MysqlDatabase, PgDatabase, Run,
};

const PAK: &str = "pak_win_Secret'Key\\42";
const UPLOAD_TOKEN: &str = "upl_token_win_5e1";
const SESSION_TOKEN: &str = "sess_token_win_77";

/// The unpacked zip folder (with connector.exe), from scripts/check-windows.
fn zip_dir() -> PathBuf {
    let dir = std::env::var_os("CONNECTOR_WINDOWS_DIR")
        .map(PathBuf::from)
        .expect("CONNECTOR_WINDOWS_DIR is not set: run these tests through scripts/check-windows");
    assert!(dir.join("connector.exe").is_file(), "no connector.exe in {} (CONNECTOR_WINDOWS_DIR)", dir.display());
    dir
}

/// A Linux path as Windows programs under Wine see it: drive Z: is `/`.
fn win(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// `wine connector.exe ARGS` with only Wine's variables and `vars`: nothing from the
/// test's own environment (no DUCKDB_EXTENSION_DIRECTORY, so the zip's own extensions are used).
fn command(args: &[&str], vars: &[(String, String)]) -> Command {
    let mut cmd = Command::new("wine");
    cmd.env_clear();
    for name in ["PATH", "HOME", "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES"] {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    // Wine converts the Unix environment to Windows' UTF-16 by the locale: UTF-8, so
    // that the awkward passwords arrive as they would on Windows.
    cmd.env("LANG", "C.UTF-8").env("LC_ALL", "C.UTF-8");
    cmd.arg(zip_dir().join("connector.exe")).args(args).current_dir(zip_dir());
    cmd.envs(vars.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    cmd
}

fn connector(args: &[&str], vars: &[(String, String)]) -> Run {
    Run::from_output(command(args, vars).output().expect("start wine"))
}

fn spawn(args: &[&str], vars: &[(String, String)]) -> Child {
    command(args, vars).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start wine")
}

fn api_env(base: Vec<(String, String)>, api: &MockApi, temp: &Path) -> Vec<(String, String)> {
    with(
        base,
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_win_1"),
            ("TEMP_DIR", &win(temp)),
            ("CONNECTOR_RETRY_BASE_MS", "20"),
        ],
    )
}

fn assert_no_secrets(run: &Run, more: &[&str]) {
    let mut all = vec![PAK, UPLOAD_TOKEN, SESSION_TOKEN];
    all.extend_from_slice(more);
    common::assert_no_secret(&run.output(), &all);
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| if *v == "NULL" { None } else { Some(v.to_string()) }).collect()
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn version_names_the_duckdb_dll_beside_the_exe() {
    let run = connector(&["version"], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stdout.starts_with(&format!("connector {} ", env!("CARGO_PKG_VERSION"))), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("DuckDB {}, official shared library", common::DUCKDB_VERSION)),
        "{}",
        run.stdout
    );
    assert!(run.stdout.to_ascii_lowercase().contains("duckdb.dll"), "{}", run.stdout);
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn export_from_postgres_into_a_path_with_spaces_keeps_every_value() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE permits (id bigint PRIMARY KEY, holder text, issued date, fee numeric(8,2), at timestamptz, ok boolean); \
         INSERT INTO permits VALUES (1, 'Müller GmbH', '2026-03-01', 120.00, '2026-03-01 10:00:00+01', true), \
         (2, 'O''Neil & Co \\ Söhne', '2026-03-02', NULL, NULL, false), (3, NULL, NULL, 99.99, '2026-12-31 23:59:59.5+00', NULL);",
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("Export Ordner");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("genehmigungen 2026.parquet");
    let run = connector(
        &["export", "--output", &win(&file)],
        &with(db.env("SELECT * FROM db.permits ORDER BY id"), &[("TZ", "UTC")]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_no_secrets(&run, &[&db.password]);
    assert_eq!(
        parquet_rows(&file),
        vec![
            some(&["1", "Müller GmbH", "2026-03-01", "120.00", "2026-03-01 09:00:00+00", "true"]),
            some(&["2", "O'Neil & Co \\ Söhne", "2026-03-02", "NULL", "NULL", "false"]),
            some(&["3", "NULL", "NULL", "99.99", "2026-12-31 23:59:59.5+00", "NULL"]),
        ]
    );
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn export_from_mariadb_keeps_every_value() {
    let db = MysqlDatabase::create();
    db.admin(
        "CREATE TABLE budgets (id INT PRIMARY KEY, office VARCHAR(40), amount DECIMAL(12,2), day DATE); \
         INSERT INTO budgets VALUES (1, 'Kämmerei', 1000000.50, '2026-01-31'), (2, 'Bauamt', NULL, NULL);",
    );
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("budgets.parquet");
    let run = connector(&["export", "--output", &win(&file)], &db.env("SELECT * FROM budgets ORDER BY id"));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_no_secrets(&run, &[&db.password]);
    assert_eq!(
        parquet_rows(&file),
        vec![some(&["1", "Kämmerei", "1000000.50", "2026-01-31"]), some(&["2", "Bauamt", "NULL", "NULL"])]
    );
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn run_uploads_through_the_upload_token_api() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'eins'), (2, 'zwei');");
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        "/upload" => (200, "OK".into()),
        _ => (404, "not found".into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let run = connector(&["run"], &api_env(db.env("SELECT * FROM db.t ORDER BY id"), &api, temp.path()));
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("run finished: 2 rows, 2 columns"), "{}", run.stderr);
    assert_no_secrets(&run, &[&db.password]);
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new(), "temp files left behind");
    let requests = api.requests();
    assert_eq!(requests.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/api", "/upload"]);
    assert_eq!(requests[1].header("X-Upload-Token"), Some(UPLOAD_TOKEN));
    assert_eq!(uploaded_rows(&requests[1]), vec![some(&["1", "eins"]), some(&["2", "zwei"])]);
}

fn session_api() -> MockApi {
    MockApi::start(|req, _| match req.path.as_str() {
        "/rpc/auth/personalAccessKey/exchange" => (200, format!(r#"{{"json": {{"token": "{SESSION_TOKEN}"}}}}"#)),
        "/api/upload/dataset/ds_win_1" => (200, r#"{"ok": true, "ingestId": "dsig_win_1"}"#.into()),
        // check's probe for an ingest id that cannot exist: 404 means the key may edit the dataset.
        "/rpc/dataset/getDatasetIngestStatus" if req.json()["json"]["ingestId"] == "dsig_preflight_probe" => {
            (404, r#"{"json": {"defined": true, "code": "NOT_FOUND", "status": 404, "message": "probe"}}"#.into())
        }
        "/rpc/dataset/getDatasetIngestStatus" => (200, r#"{"json": {"status": "completed"}}"#.into()),
        "/rpc/dataset/getDatasetById" => (
            200,
            r#"{"json": {"id": "ds_win_1", "organizationId": "org_w", "solutionId": "sol_w", "name": "Haushalt"}}"#
                .into(),
        ),
        "/rpc/dpa/getMyAcceptanceStatus" => (200, r#"{"json": {"acknowledged": true}}"#.into()),
        _ => (404, r#"{"json": {"defined": false, "code": "NOT_FOUND", "status": 404, "message": "no"}}"#.into()),
    })
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn run_uploads_mariadb_rows_through_the_session_api() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE b (id INT, office VARCHAR(20)); INSERT INTO b VALUES (1, 'Kämmerei');");
    let api = session_api();
    let temp = tempfile::tempdir().unwrap();
    let vars = with(
        api_env(db.env("SELECT * FROM b"), &api, temp.path()),
        &[("POLYTEIA_ORGANIZATION_ID", "org_w"), ("INGEST_POLL_INTERVAL", "50ms")],
    );
    let run = connector(&["run"], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("ingest id dsig_win_1"), "{}", run.stderr);
    assert_no_secrets(&run, &[&db.password]);
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new(), "temp files left behind");
    let upload = api.requests().into_iter().find(|r| r.path == "/api/upload/dataset/ds_win_1").expect("an upload");
    assert_eq!(upload.header("Authorization"), Some(format!("Bearer {SESSION_TOKEN}").as_str()));
    assert_eq!(uploaded_rows(&upload), vec![some(&["1", "Kämmerei"])]);
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn check_passes_and_uploads_nothing() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE budget (id int, office text); INSERT INTO budget VALUES (1, 'x');");
    let api = session_api();
    let temp = tempfile::tempdir().unwrap();
    let vars =
        with(api_env(db.env("SELECT * FROM db.budget"), &api, temp.path()), &[("POLYTEIA_ORGANIZATION_ID", "org_w")]);
    let run = connector(&["check"], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("PASS source query: valid, 2 columns: id INTEGER, office VARCHAR"), "{}", run.stderr);
    assert!(!run.stderr.contains("FAIL "), "{}", run.stderr);
    assert!(api.requests().iter().all(|r| !r.path.starts_with("/api/upload")), "check must not upload");
    assert_no_secrets(&run, &[&db.password]);
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn a_bad_configuration_exits_3_naming_every_problem() {
    let run = connector(
        &["run"],
        &common::env(&[
            ("SOURCE_DATABASE_TYPE", "oracle"),
            ("SOURCE_DATABASE_PORT", "seventy"),
            ("PARQUET_COMPRESSION", "lz5"),
            ("LOG_FILE", "Q:\\no such drive\\connector.log"),
        ]),
    );
    assert_eq!(run.code, 3, "{}", run.output());
    for name in ["SOURCE_DATABASE_TYPE", "SOURCE_DATABASE_PORT", "PARQUET_COMPRESSION", "LOG_FILE", "DATASET_ID"] {
        assert!(run.stderr.contains(name), "{name} not named:\n{}", run.stderr);
    }
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn a_notepad_env_file_with_crlf_and_bom_in_a_folder_with_spaces() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int, name text); INSERT INTO t VALUES (7, 'sieben');");
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        "/upload" => (200, "OK".into()),
        _ => (404, "not found".into()),
    });
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("Polyteia Konfiguration");
    let work = root.path().join("Arbeits Ordner");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    // Notepad: UTF-8 with a byte order mark, CRLF; the secrets in files of their own.
    let token_file = folder.join("token.txt");
    std::fs::write(&token_file, format!("\u{feff}{PAK}\r\n")).unwrap();
    let password_file = folder.join("db password.txt");
    std::fs::write(&password_file, format!("\u{feff}{}\r\n", db.password)).unwrap();
    let log_file = folder.join("connector.log");
    let settings = [
        "# Polyteia connector".to_string(),
        "SOURCE_DATABASE_TYPE=postgres".into(),
        "SOURCE_DATABASE_HOST=127.0.0.1".into(),
        format!("SOURCE_DATABASE_USER={}", db.user),
        format!("SOURCE_DATABASE_PASSWORD_FILE='{}'", win(&password_file)),
        format!("SOURCE_DATABASE_NAME={}", db.name),
        "SOURCE_DATABASE_SQL_QUERY=\"SELECT * FROM db.t\"".into(),
        format!("PERSONAL_ACCESS_TOKEN_FILE='{}'", win(&token_file)),
        format!("POLYTEIA_BASE_URL={}", api.url),
        "DATASET_ID=ds_win_1".into(),
        format!("TEMP_DIR='{}'", win(&work)),
        format!("LOG_FILE='{}'", win(&log_file)),
    ];
    let env_file = folder.join("connector.env");
    std::fs::write(&env_file, format!("\u{feff}{}\r\n", settings.join("\r\n"))).unwrap();
    let run = connector(&["run", "--env-file", &win(&env_file)], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_no_secrets(&run, &[&db.password]);
    let upload = api.requests().into_iter().find(|r| r.path == "/upload").expect("an upload");
    assert_eq!(upload.header("X-Upload-Token"), Some(UPLOAD_TOKEN));
    assert_eq!(api.requests()[0].header("Authorization"), Some(format!("Bearer {PAK}").as_str()));
    assert_eq!(uploaded_rows(&upload), vec![some(&["7", "sieben"])]);
    assert_eq!(dir_entries(&work), Vec::<String>::new(), "files left in TEMP_DIR");
    // The log file has what the console had.
    let logged = std::fs::read_to_string(&log_file).unwrap();
    assert!(logged.contains("run finished: 1 rows, 2 columns"), "{logged}");
    assert_eq!(logged.lines().count(), run.stderr.lines().count(), "log file:\n{logged}\nconsole:\n{}", run.stderr);
    common::assert_no_secret(&logged, &[PAK, UPLOAD_TOKEN, &db.password]);

    // Notepad's "Unicode" (UTF-16) is refused with what to do.
    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain("DATASET_ID=x\r\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    std::fs::write(&env_file, utf16).unwrap();
    let run = connector(&["run", "--env-file", &win(&env_file)], &[]);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("UTF-16") && run.stderr.contains("UTF-8"), "{}", run.stderr);
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn the_default_work_directory_is_temp() {
    // No TEMP_DIR: the work directory is %TEMP%, Wine's C:\users\<user>\AppData\Local\Temp (or similar).
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("r.parquet");
    let run = connector(
        &["export", "--output", &win(&file)],
        &with(memory_source("SELECT 42 AS answer"), &[("LOG_LEVEL", "debug")]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![some(&["42"])]);
    let temp_line = run.stderr.lines().find(|l| l.contains("polyteia-connector-")).unwrap_or_default().to_string();
    assert!(temp_line.contains("\\Temp\\"), "work directory not under %TEMP%:\n{}", run.stderr);
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn ctrl_c_stops_an_export_and_leaves_no_files() {
    let db = PgDatabase::create();
    let temp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("never.parquet");
    // The native dialect, so that the statement runs on the server, where the test sees it
    // and the stop must cancel it too.
    let vars = with(
        db.env("SELECT pg_sleep(30) AS slept, 1 AS x"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native"), ("TEMP_DIR", &win(temp.path()))],
    );
    let child = spawn(&["export", "--output", &win(&file)], &vars);
    let sessions = || {
        common::pg_admin(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = '{}' AND state = 'active' AND query LIKE '%pg_sleep(30)%'",
                db.user
            ),
        )
        .trim()
        .to_string()
    };
    wait_until("the query to run", Duration::from_secs(60), || sessions() != "0");
    assert_eq!(dir_entries(temp.path()).len(), 1, "the work directory exists while the query runs");
    // Wine turns SIGINT into the console's Ctrl-C event (CTRL_C_EVENT).
    let sent = Instant::now();
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let run = Run::from_output(child.wait_with_output().unwrap());
    assert!(sent.elapsed() < Duration::from_secs(10), "took {:?} to stop", sent.elapsed());
    assert_eq!(run.code, 130, "{}", run.output());
    assert!(run.stderr.contains("stopped by Ctrl-C"), "{}", run.stderr);
    assert_eq!(dir_entries(out.path()), Vec::<String>::new(), "output left behind");
    assert_eq!(dir_entries(temp.path()), Vec::<String>::new(), "files left in TEMP_DIR");
    assert_no_secrets(&run, &[&db.password]);
    wait_until("the statement to end on the server", Duration::from_secs(10), || sessions() == "0");
}

/// stunnel in front of the API mock: HTTPS on 127.0.0.1:`port` with `certs`' server certificate.
struct TlsFront {
    child: Child,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    fn start(certs: &common::servers::Certs, port: u16, target: u16) -> TlsFront {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[api]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{target}\ncert = {}\nkey = {}\n",
                certs.server_cert.display(),
                certs.server_key.display()
            ),
        )
        .unwrap();
        let child = Command::new("stunnel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start stunnel (scripts/check-windows installs stunnel4)");
        wait_until("stunnel to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        TlsFront { child, _dir: dir }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs the Windows zip under Wine: scripts/check-windows"]
fn tls_to_the_api_trusts_ssl_cert_file_and_the_windows_store_refuses_an_unknown_ca() {
    let certs = common::servers::Certs::generate(&["DNS:localhost", "IP:127.0.0.1"]).expect("certificates by openssl");
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        "/upload" => (200, "OK".into()),
        _ => (404, "not found".into()),
    });
    let port = common::free_port();
    let _front = TlsFront::start(&certs, port, api.port);
    let temp = tempfile::tempdir().unwrap();
    let base = with(
        memory_source("SELECT 1 AS one"),
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &format!("https://localhost:{port}")),
            ("DATASET_ID", "ds_win_1"),
            ("TEMP_DIR", &win(temp.path())),
            ("UPLOAD_MAX_ATTEMPTS", "1"),
        ],
    );
    // The system store (through Windows' certificate chain API, Wine's here) does not know the test CA.
    let run = connector(&["run"], &base);
    assert_eq!(run.code, 15, "{}", run.output());
    assert!(api.requests().is_empty(), "nothing may reach the API over an untrusted connection");
    // SSL_CERT_FILE with a Windows path: trusted, uploaded.
    let run = connector(&["run"], &with(base, &[("SSL_CERT_FILE", &win(&certs.ca))]));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(api.requests().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/api", "/upload"]);
    assert_eq!(uploaded_rows(&api.requests()[1]), vec![some(&["1"])]);
    assert_no_secrets(&run, &[]);
}
