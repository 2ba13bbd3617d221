//! Shared helpers for the integration tests: real PostgreSQL and MariaDB
//! servers (never mocks), throw-away databases and users with awkward
//! passwords, running the `connector` binary, and reading Parquet back.
#![allow(dead_code)]

pub mod disks;
pub mod mock_api;
pub mod secrets;
pub mod servers;
pub mod skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A password with every character that tends to break connection strings.
pub const AWKWARD_PASSWORD: &str = "p'w\\ x=@y\"z;ä";

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: &str = "5432";
pub const MYSQL_HOST: &str = "127.0.0.1";
pub const MYSQL_PORT: &str = "3306";

/// The group role whose members must authenticate with a password
/// (scripts/ensure-services puts a scram-sha-256 rule for it in pg_hba.conf).
pub const PG_PASSWORD_CHECKED_GROUP: &str = "connector_pw_checked";

pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), fastrand::u32(..10_000))
}

/// The DuckDB release of this build as the connector writes it (`v` and three numbers), from the file
/// `DUCKDB_VERSION` through build.rs: the extension directory's `v…` level and `connector version`.
pub const DUCKDB_VERSION: &str = concat!("v", env!("CONNECTOR_DUCKDB_VERSION"));

pub fn extension_dir() -> PathBuf {
    let dir = std::env::var_os("DUCKDB_EXTENSION_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".extensions"));
    // All that scripts/fetch-extensions places, so a directory from before spatial fails here, clearly.
    for file in ["postgres_scanner", "mysql_scanner", "sqlite_scanner", "odbc_scanner", "spatial"] {
        let path = dir.join(DUCKDB_VERSION).join(format!("linux_amd64/{file}.duckdb_extension"));
        assert!(
            path.is_file(),
            "DuckDB extension {} missing: run scripts/fetch-extensions (scripts/test does it)",
            path.display()
        );
    }
    dir
}

fn run_checked(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// --------------------------------------------------------------------------
// PostgreSQL

/// A fresh database owned by a fresh login role with a password that the
/// server really checks. Both are dropped when this goes out of scope.
pub struct PgDatabase {
    pub name: String,
    pub user: String,
    pub password: String,
}

pub fn pg_admin(database: &str, sql: &str) -> String {
    run_checked(
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                PG_HOST,
                "-p",
                PG_PORT,
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .arg("-c")
            .arg(sql)
            .env("PGCONNECT_TIMEOUT", "10"),
        &format!("psql {sql}"),
    )
}

pub fn pg_quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        Self::create_with_password(AWKWARD_PASSWORD)
    }

    pub fn create_with_password(password: &str) -> PgDatabase {
        let name = unique_name("connector_test_db");
        let user = unique_name("connector_test_user");
        pg_admin(
            "postgres",
            &format!(
                "CREATE ROLE {user} LOGIN PASSWORD {} IN ROLE {PG_PASSWORD_CHECKED_GROUP}",
                pg_quote_literal(password)
            ),
        );
        pg_admin("postgres", &format!("CREATE DATABASE {name} OWNER {user}"));
        PgDatabase { name, user, password: password.to_string() }
    }

    /// Runs SQL in this database as the superuser.
    pub fn admin(&self, sql: &str) -> String {
        pg_admin(&self.name, sql)
    }

    /// Runs SQL as the test role (so its objects are owned by it).
    pub fn exec(&self, sql: &str) -> String {
        self.admin(&format!("SET ROLE {}; {sql}", self.user))
    }

    pub fn env(&self, query: &str) -> Vec<(String, String)> {
        vec![
            ("SOURCE_DATABASE_TYPE".into(), "postgres".into()),
            ("SOURCE_DATABASE_HOST".into(), PG_HOST.into()),
            ("SOURCE_DATABASE_PORT".into(), PG_PORT.into()),
            ("SOURCE_DATABASE_USER".into(), self.user.clone()),
            ("SOURCE_DATABASE_PASSWORD".into(), self.password.clone()),
            ("SOURCE_DATABASE_NAME".into(), self.name.clone()),
            ("SOURCE_DATABASE_SQL_QUERY".into(), query.into()),
        ]
    }

    /// psqlODBC's connection string for this database and role, `extra`
    /// (`Key=value;…`) appended.
    pub fn odbc_connection_string(&self, extra: &str) -> String {
        format!(
            "Driver={{PostgreSQL Unicode}};Server={PG_HOST};Port={PG_PORT};Database={};Uid={};Pwd={};{extra}",
            self.name,
            self.user,
            odbc_braced(&self.password)
        )
    }

    /// The `odbc` kind's settings for this database through psqlODBC, with
    /// booleans as booleans (`BoolsAsChar=0`, as the docs advise).
    pub fn odbc_env(&self, query: &str) -> Vec<(String, String)> {
        odbc_env(&self.odbc_connection_string("BoolsAsChar=0"), query)
    }
}

/// A value in ODBC's `{…}` quoting.
pub fn odbc_braced(value: &str) -> String {
    format!("{{{}}}", value.replace('}', "}}"))
}

/// The `odbc` kind's settings: one connection string, one attempt.
pub fn odbc_env(connection_string: &str, query: &str) -> Vec<(String, String)> {
    env(&[
        ("SOURCE_DATABASE_TYPE", "odbc"),
        ("SOURCE_ODBC_CONNECTION_STRING", connection_string),
        ("SOURCE_DATABASE_SQL_QUERY", query),
        ("SOURCE_CONNECT_MAX_ATTEMPTS", "1"),
    ])
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-h", PG_HOST, "-p", PG_PORT, "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .output();
        let _ = Command::new("psql")
            .args(["-X", "-q", "-h", PG_HOST, "-p", PG_PORT, "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("DROP ROLE IF EXISTS {}", self.user))
            .output();
    }
}

// --------------------------------------------------------------------------
// MariaDB / MySQL

/// A fresh database and a user with a password, granted read access to it.
pub struct MysqlDatabase {
    pub name: String,
    pub user: String,
    pub password: String,
}

pub fn mysql_admin(sql: &str) -> String {
    run_checked(
        Command::new("mariadb")
            .args([
                "--protocol=TCP",
                "-h",
                MYSQL_HOST,
                "-P",
                MYSQL_PORT,
                "-u",
                "root",
                "--batch",
                "--skip-column-names",
            ])
            .arg("-e")
            .arg(sql),
        &format!("mariadb {sql}"),
    )
}

pub fn mysql_quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl MysqlDatabase {
    pub fn create() -> MysqlDatabase {
        Self::create_with_password(AWKWARD_PASSWORD)
    }

    pub fn create_with_password(password: &str) -> MysqlDatabase {
        let name = unique_name("connector_test_db");
        let user = unique_name("ctu");
        let pw = mysql_quote_literal(password);
        mysql_admin(&format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4; \
             CREATE USER '{user}'@'localhost' IDENTIFIED BY {pw}; \
             CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY {pw}; \
             CREATE USER '{user}'@'%' IDENTIFIED BY {pw}; \
             GRANT SELECT ON {name}.* TO '{user}'@'localhost'; \
             GRANT SELECT ON {name}.* TO '{user}'@'127.0.0.1'; \
             GRANT SELECT ON {name}.* TO '{user}'@'%';"
        ));
        MysqlDatabase { name, user, password: password.to_string() }
    }

    pub fn admin(&self, sql: &str) -> String {
        mysql_admin(&format!("USE {}; {sql}", self.name))
    }

    pub fn env(&self, query: &str) -> Vec<(String, String)> {
        vec![
            ("SOURCE_DATABASE_TYPE".into(), "mysql".into()),
            ("SOURCE_DATABASE_HOST".into(), MYSQL_HOST.into()),
            ("SOURCE_DATABASE_PORT".into(), MYSQL_PORT.into()),
            ("SOURCE_DATABASE_USER".into(), self.user.clone()),
            ("SOURCE_DATABASE_PASSWORD".into(), self.password.clone()),
            ("SOURCE_DATABASE_NAME".into(), self.name.clone()),
            ("SOURCE_DATABASE_SQL_QUERY".into(), query.into()),
        ]
    }

    /// MariaDB Connector/ODBC's connection string for this database and user.
    pub fn odbc_connection_string(&self) -> String {
        format!(
            "Driver={{MariaDB Unicode}};Server={MYSQL_HOST};Port={MYSQL_PORT};Database={};Uid={};Pwd={}",
            self.name,
            self.user,
            odbc_braced(&self.password)
        )
    }

    /// The `odbc` kind's settings for this database through MariaDB Connector/ODBC.
    pub fn odbc_env(&self, query: &str) -> Vec<(String, String)> {
        odbc_env(&self.odbc_connection_string(), query)
    }
}

impl Drop for MysqlDatabase {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["--protocol=TCP", "-h", MYSQL_HOST, "-P", MYSQL_PORT, "-u", "root", "-e"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {0}; DROP USER IF EXISTS '{1}'@'localhost', '{1}'@'127.0.0.1', '{1}'@'%';",
                self.name, self.user
            ))
            .output();
    }
}

// --------------------------------------------------------------------------
// Running the connector

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The binary with a clean environment (only PATH, the extension directory
/// and what the caller adds) in the working directory `cwd`. Every way of
/// running it below starts here.
pub fn connector_command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_connector"));
    cmd.env_clear()
        .current_dir(cwd)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DUCKDB_EXTENSION_DIRECTORY", extension_dir())
        .args(args);
    cmd
}

impl Run {
    /// A signal death counts as 128 + signal, as a shell reports it.
    pub fn from_output(out: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: out.status.code().or(out.status.signal().map(|s| 128 + s)).unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs the binary with a clean environment: only PATH, the extension
/// directory and what the test passes; the working directory is the
/// system's temporary directory.
pub fn connector(args: &[&str], env: &[(String, String)]) -> Run {
    connector_in(&std::env::temp_dir(), args, env)
}

pub fn connector_in(cwd: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let mut cmd = connector_command(cwd, args);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    Run::from_output(cmd.output().expect("run connector"))
}

/// Like [`connector`], with environment values given as raw bytes.
pub fn connector_os(args: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> Run {
    let mut cmd = connector_command(&std::env::temp_dir(), args);
    cmd.envs(vars.iter().copied());
    Run::from_output(cmd.output().expect("run connector"))
}

/// An embedded source: no database server involved.
pub fn memory_source(query: &str) -> Vec<(String, String)> {
    env(&[
        ("SOURCE_DATABASE_TYPE", "duckdb"),
        ("SOURCE_DATABASE_NAME", ":memory:"),
        ("SOURCE_DATABASE_SQL_QUERY", query),
    ])
}

/// `connector export` into a fresh directory as `result.parquet` (see
/// [`result_file`]); fails if one of `secrets` shows in the output.
pub fn export_to_temp(vars: &[(String, String)], secrets: &[&str]) -> (Run, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let run = connector(&["export", "--output", result_file(&out).to_str().unwrap()], vars);
    assert_no_secret(&run.output(), secrets);
    (run, out)
}

pub fn result_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("result.parquet")
}

/// Fails if any secret, raw or in any encoded form [`secrets::Secrets`]
/// knows, appears in `text` (each secret has at least 6 characters).
pub fn assert_no_secret(text: &str, secrets: &[&str]) {
    secrets::Secrets::new(secrets).assert_absent("the output", text.as_bytes());
}

// --------------------------------------------------------------------------
// Reading Parquet back

/// Rows of a Parquet file, every value cast to text by DuckDB (NULL → None),
/// ordered as in the file.
pub fn parquet_rows(file: &Path) -> Vec<Vec<Option<String>>> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = file.display().to_string().replace('\'', "''");
    let columns = parquet_columns(file);
    let select = columns
        .iter()
        .map(|(name, _)| format!("CAST(\"{}\" AS VARCHAR)", name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare(&format!("SELECT {select} FROM read_parquet('{path}')")).unwrap();
    let n = columns.len();
    stmt.query_map([], |row| (0..n).map(|i| row.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Column names and DuckDB types of a Parquet file.
pub fn parquet_columns(file: &Path) -> Vec<(String, String)> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = file.display().to_string().replace('\'', "''");
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM read_parquet('{path}')")).unwrap();
    stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The rows of the Parquet file in a multipart upload request, as [`parquet_rows`].
pub fn uploaded_rows(upload: &mock_api::Recorded) -> Vec<Vec<Option<String>>> {
    let (_, content) = upload.multipart_part();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("uploaded.parquet");
    std::fs::write(&file, content).unwrap();
    parquet_rows(&file)
}

/// The number of rows the Parquet file's metadata records.
pub fn parquet_row_count(file: &Path) -> i64 {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = file.display().to_string().replace('\'', "''");
    conn.query_row(&format!("SELECT num_rows FROM parquet_file_metadata('{path}')"), [], |r| r.get(0)).unwrap()
}

pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn with(mut base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        base.retain(|(key, _)| key != k);
        base.push((k.to_string(), v.to_string()));
    }
    base
}

// --------------------------------------------------------------------------
// Processes, ports and waiting

/// A run must fail cleanly: never with a Rust panic.
pub fn assert_no_panic(run: &Run) {
    assert!(!run.output().contains("panicked"), "the connector panicked:\n{}", run.output());
    assert_ne!(run.code, 101, "exit code 101 is a panic:\n{}", run.output());
}

/// A port nobody listens on right now. It is drawn outside Linux's
/// ephemeral range (32768–60999), so that the source port of some outgoing
/// connection cannot take it before the test binds it; the throw-away
/// servers (servers.rs) still retry with another one if it was taken.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = fastrand::u16(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found in 20000..32000");
}

/// Starts the binary like [`connector`] but returns at once.
pub fn spawn_connector(args: &[&str], env: &[(String, String)]) -> std::process::Child {
    let mut cmd = connector_command(&std::env::temp_dir(), args);
    cmd.envs(env.iter().map(|(k, v)| (k, v))).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    cmd.spawn().expect("spawn connector")
}

/// Waits for a spawned connector; a signal death counts as 128 + signal.
pub fn finish_connector(child: std::process::Child) -> Run {
    Run::from_output(child.wait_with_output().unwrap())
}

/// Sends SIGTERM to a spawned process.
pub fn terminate(child: &std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}

/// `GET path` on 127.0.0.1:port: status and body.
pub fn http_get_local(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Polls `probe` every 100 ms until it holds; panics after `timeout`.
pub fn wait_until(what: &str, timeout: std::time::Duration, mut probe: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while started.elapsed() < timeout {
        if probe() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The entries of a directory (it must exist).
pub fn dir_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

/// A run must leave nothing in its TEMP_DIR.
pub fn assert_temp_empty(temp: &Path) {
    assert_eq!(dir_entries(temp), Vec::<String>::new(), "files left behind in TEMP_DIR");
}

/// Sends SIGINT to a spawned process.
pub fn interrupt(child: &std::process::Child) {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
}

/// A TCP proxy in front of a server whose traffic can be frozen at any
/// moment, as a stalled network would: connections stay open, nothing more
/// passes in either direction. New connections are still forwarded.
pub struct FreezableProxy {
    pub port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FreezableProxy {
    pub fn start(target_port: u16) -> FreezableProxy {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (frozen_flag, stopping) = (frozen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target_port)) else { continue };
                for (from, to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    let (frozen, stop) = (frozen_flag.clone(), stopping.clone());
                    std::thread::spawn(move || pump(from, to, &frozen, &stop));
                }
            }
        });
        FreezableProxy { port, frozen, stop }
    }

    /// From now on nothing passes on the open connections.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    frozen: &std::sync::atomic::AtomicBool,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    from.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        if frozen.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

impl Drop for FreezableProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `needle` is in `text`, else the whole text is shown.
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}
