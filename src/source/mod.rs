//! The source side: an in-memory DuckDB that loads the scanner extension,
//! attaches the source database read-only as `db`, and copies the query
//! result into a Parquet file that is verified before it counts as done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duckdb::Connection;

pub mod export_settings;
pub mod kind;
pub mod settings;

use crate::cancel::{Cancellation, StopQuery};
use export_settings::{EngineSettings, ExportSettings, OutputSettings};
use kind::SourceKind;
use settings::{QueryDialect, SourceSettings, SslMode};
use crate::error::{Error, ErrorKind, Result};
use crate::retry::{self, GaveUp, RetryPolicy, Verdict};

/// The alias of the attached source; queries name tables as `db.table`.
pub const CATALOG: &str = "db";

/// The DuckDB release this connector is built and tested for: the `duckdb`
/// crate pin, the prebuilt library (scripts/fetch-duckdb) and the extension
/// files (scripts/fetch-extensions) all belong to it. Extensions only load into
/// the exact release they were built for, so another library is refused at start.
pub const DUCKDB_VERSION: &str = "v1.5.5";

/// How DuckDB is linked into this build: `"shared"` (the official prebuilt
/// libduckdb.so, the default) or `"bundled"` (compiled in, `--features bundled`).
pub const DUCKDB_LINKAGE: &str = env!("CONNECTOR_DUCKDB_LINKAGE");

/// The DuckDB library in use, for `connector version`.
pub fn duckdb_library_description() -> String {
    let version = Connection::open_in_memory()
        .and_then(|c| c.query_row("SELECT library_version FROM pragma_version()", [], |r| r.get::<_, String>(0)))
        .unwrap_or_else(|_| "unknown".into());
    match DUCKDB_LINKAGE {
        "bundled" => format!("DuckDB {version}, bundled: compiled into this binary"),
        _ => {
            let path = loaded_library_path().map(|p| p.display().to_string()).unwrap_or_else(|| "libduckdb.so".into());
            format!("DuckDB {version}, official shared library {path}")
        }
    }
}

/// Where the dynamic loader found libduckdb (Linux: from /proc/self/maps).
fn loaded_library_path() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| Path::new(path).file_name().is_some_and(|name| name.to_string_lossy().starts_with("libduckdb")))
        .map(PathBuf::from)
}

/// Refuses a DuckDB library other than [`DUCKDB_VERSION`] (a different
/// libduckdb.so found by the loader, or a build against another version).
fn verify_library_version(conn: &Connection) -> Result<()> {
    let (version, _) = duckdb_version_and_platform(conn)?;
    require_pinned_version(&version, loaded_library_path().as_deref())
}

fn require_pinned_version(version: &str, library: Option<&Path>) -> Result<()> {
    if version == DUCKDB_VERSION {
        return Ok(());
    }
    let location = library.map(|p| format!(" ({})", p.display())).unwrap_or_default();
    Err(Error::new(
        ErrorKind::Extension,
        format!(
            "the DuckDB library in use is {version}{location}, but this connector and its extensions \
             need DuckDB {DUCKDB_VERSION}; install the libduckdb.so that came with the connector beside it \
             (or in ../lib/polyteia-db-connector), or rebuild (scripts/fetch-duckdb)"
        ),
    ))
}

/// What one export produced.
#[derive(Debug, Clone)]
pub struct ExportStats {
    pub rows: u64,
    pub columns: usize,
    pub bytes: u64,
    pub connect: Duration,
    pub query: Duration,
    pub verify: Duration,
}

/// The extract stage of a cycle as the job sees it: from the settings to a
/// verified Parquet file. [`DuckDbExport`] is the real one; the job's tests
/// use fakes.
pub trait Export: Send + Sync {
    /// Logs where the data comes from, before the work starts.
    fn announce(&self);

    /// Connects (retrying while the source is unreachable), calls `connected`,
    /// writes the verified Parquet file `dest` with the running query
    /// registered in `cancel` (a signal stops it), and closes the connection.
    /// `spill_dir` takes DuckDB's temporary files.
    fn export(&self, dest: &Path, spill_dir: &Path, cancel: &Cancellation, connected: &dyn Fn()) -> Result<ExportStats>;
}

/// The export through DuckDB from the configured source.
pub struct DuckDbExport {
    source: SourceSettings,
    engine: EngineSettings,
    output: OutputSettings,
    connect_retry: RetryPolicy,
}

impl DuckDbExport {
    pub fn new(settings: &ExportSettings) -> DuckDbExport {
        DuckDbExport {
            source: settings.source.clone(),
            engine: settings.engine.clone(),
            output: settings.output.clone(),
            connect_retry: settings.connect_retry.clone(),
        }
    }

    /// Opens the source, retrying while the server is unreachable (a database
    /// that is restarting, a pod that is not ready yet). A refused login or a
    /// missing database is not retried: waiting would not fix it.
    fn open_with_retries(&self, spill_dir: &Path, cancel: &Cancellation) -> Result<Source> {
        let attempts = self.connect_retry.attempts.max(1);
        let judge = |e: &Error| if e.is_transient() { Verdict::Retry { after: None } } else { Verdict::Stop };
        let announce = |e: &Error, attempt: u32, delay: Duration| {
            log::warn!(attempt = attempt, delay_seconds = delay.as_secs_f64();
                "source not reachable (attempt {attempt} of {attempts}), retrying in {:.1}s: {e}", delay.as_secs_f64())
        };
        let open = |_| Source::open(&self.source, &self.engine, spill_dir);
        match retry::retry(&self.connect_retry, &cancel.flag(), open, judge, announce) {
            Ok(source) => Ok(source),
            Err(GaveUp::Failed { error, .. }) => Err(error),
            Err(GaveUp::Cancelled) => Err(cancel
                .interrupted_error("connecting to the source")
                .unwrap_or_else(|| Error::new(ErrorKind::InterruptedSigterm, "stopped while connecting to the source"))),
        }
    }
}

impl Export for DuckDbExport {
    fn announce(&self) {
        let s = &self.source;
        if s.kind == SourceKind::Mysql && s.ssl_mode.is_some_and(SslMode::verifies_identity) && s.ssl_root_cert.is_none() {
            log::warn!(
                "SOURCE_DATABASE_SSL_MODE=verify_identity without SOURCE_DATABASE_SSL_ROOT_CERT: the server certificate's \
                 host name is checked only against a CA given there; set it to the CA that signed the server's certificate"
            );
        }
        match (&s.host, s.port) {
            (Some(host), Some(port)) => log::info!(
                source = s.kind.name(), host = host.as_str(), port = port, database = s.database.as_str();
                "exporting from {} database {} on {}:{}", s.kind.name(), s.database, host, port
            ),
            _ => log::info!(source = s.kind.name(), database = s.database.as_str();
                "exporting from {} database {}", s.kind.name(), s.database),
        }
    }

    fn export(&self, dest: &Path, spill_dir: &Path, cancel: &Cancellation, connected: &dyn Fn()) -> Result<ExportStats> {
        let source = self.open_with_retries(spill_dir, cancel)?;
        connected();
        cancel.set_query(Some(Box::new(source.query_stopper())));
        let stats = source.export(dest, &self.output);
        cancel.set_query(None);
        stats
    }
}

/// A column of the query result, for `check` and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
}

/// Lets another thread stop the running query (signals): DuckDB's
/// interrupt, and for a native-dialect query on a server also a cancel of
/// the statement on the server, which DuckDB's interrupt does not reach
/// (the pass-through call waits for the server's answer).
#[derive(Clone)]
pub struct QueryStopper {
    interrupt: Arc<duckdb::InterruptHandle>,
    server: Option<Arc<ServerCancel>>,
}

impl StopQuery for QueryStopper {
    /// Interrupts the query; a server-side cancel runs in its own thread, so
    /// the caller (the signal thread) never waits for the network.
    fn stop(&self) {
        self.interrupt.interrupt();
        if let Some(server) = &self.server {
            if !server.started.swap(true, Ordering::SeqCst) {
                let server = server.clone();
                let _ = std::thread::Builder::new().name("cancel".into()).spawn(move || server.run());
            }
        }
    }

    /// The query is over: a cancel still trying gives up.
    fn finished(&self) {
        if let Some(server) = &self.server {
            server.finished.store(true, Ordering::SeqCst);
        }
    }
}

/// How long a server-side cancel keeps looking for the statement (it may
/// not have reached the server yet when the signal came).
const SERVER_CANCEL_PERIOD: Duration = Duration::from_secs(10);

/// Cancels this run's statement on the source server from a second
/// connection of the same DuckDB: PostgreSQL `pg_cancel_backend`, MySQL
/// `KILL QUERY`. The statement is found by the run's tag (see [`run_tag`]).
struct ServerCancel {
    conn: Mutex<Connection>,
    kind: SourceKind,
    tag: String,
    mysql_dsn: String,
    started: AtomicBool,
    finished: AtomicBool,
}

impl ServerCancel {
    fn run(&self) {
        let deadline = Instant::now() + SERVER_CANCEL_PERIOD;
        while !self.finished.load(Ordering::SeqCst) && Instant::now() < deadline {
            match self.cancel_once() {
                Ok(0) => std::thread::sleep(Duration::from_millis(200)),
                Ok(cancelled) => {
                    log::info!(statements = cancelled; "cancelled the running statement on the source server");
                    return;
                }
                Err(e) => {
                    log::warn!("cannot cancel the statement on the source server (it stops when the server is done): {e}");
                    return;
                }
            }
        }
    }

    /// How many statements of this run were found running and cancelled.
    fn cancel_once(&self) -> std::result::Result<usize, duckdb::Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let marker = sql_comment(&self.tag);
        match self.kind {
            SourceKind::Postgres => {
                // The filter runs before the cancel (OFFSET 0 keeps the planner from merging them).
                let inner = format!(
                    "SELECT pg_cancel_backend(pid) AS cancelled FROM (SELECT pid FROM pg_stat_activity \
                     WHERE pid <> pg_backend_pid() AND state = 'active' \
                     AND (application_name = {} OR position({} in query) > 0) OFFSET 0) AS ours",
                    sql_literal(&self.tag),
                    sql_literal(&marker)
                );
                let sql = format!(
                    "SELECT count(*) FILTER (WHERE cancelled) FROM postgres_query({}, {})",
                    sql_literal(CATALOG),
                    sql_literal(&inner)
                );
                conn.query_row(&sql, [], |r| r.get::<_, i64>(0)).map(|n| n as usize)
            }
            SourceKind::Mysql => {
                // KILL is refused through the read-only catalog; a second,
                // writable attachment runs it and nothing else.
                conn.execute_batch(&format!(
                    "ATTACH IF NOT EXISTS {} AS {CANCEL_CATALOG} (TYPE mysql, SECRET {MYSQL_SECRET})",
                    sql_literal(&self.mysql_dsn)
                ))?;
                let inner = format!(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND LOCATE({}, INFO) > 0",
                    sql_literal(&marker)
                );
                let sql = format!("SELECT * FROM mysql_query({}, {})", sql_literal(CANCEL_CATALOG), sql_literal(&inner));
                let ids: Vec<i64> = conn.prepare(&sql)?.query_map([], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
                for id in &ids {
                    conn.execute_batch(&format!(
                        "CALL mysql_execute({}, {})",
                        sql_literal(CANCEL_CATALOG),
                        sql_literal(&format!("KILL QUERY {id}"))
                    ))?;
                }
                Ok(ids.len())
            }
            _ => Ok(0),
        }
    }
}

/// The MySQL attachment that only runs `KILL QUERY`.
const CANCEL_CATALOG: &str = "connector_cancel";

/// Names this run on the source server: the PostgreSQL `application_name`
/// (unless SOURCE_DATABASE_OPTIONS sets one) and a comment in front of a
/// native-dialect query, by which a signal finds the statement to cancel.
fn run_tag() -> String {
    format!("polyteia-db-connector {}-{:08x}", std::process::id(), fastrand::u32(..))
}

fn sql_comment(tag: &str) -> String {
    format!("/* {tag} */")
}

pub struct Source {
    conn: Connection,
    settings: SourceSettings,
    connect_time: Duration,
    tag: String,
}

impl Source {
    /// Opens DuckDB, loads the extension for the source type and attaches the
    /// source. `spill_dir` receives DuckDB's temporary files.
    pub fn open(settings: &SourceSettings, engine: &EngineSettings, spill_dir: &Path) -> Result<Source> {
        let started = Instant::now();
        let tag = run_tag();
        let mut settings = settings.clone();
        if settings.kind == SourceKind::Postgres && !settings.options.iter().any(|(k, _)| k == "application_name") {
            settings.options.push(("application_name".into(), tag.clone()));
        }
        let conn = open_duckdb(engine, spill_dir)?;
        if let Some(extension) = extension_for(settings.kind) {
            load_extension(&conn, extension, engine.extension_directory.as_deref())?;
        }
        tune_scanner(&conn, &settings)?;
        attach(&conn, &settings)?;
        Ok(Source { conn, settings, connect_time: started.elapsed(), tag })
    }

    /// What stops this source's query from another thread.
    pub fn query_stopper(&self) -> QueryStopper {
        let server = match (self.settings.dialect, self.settings.kind) {
            (QueryDialect::Native, SourceKind::Postgres | SourceKind::Mysql) => match self.conn.try_clone() {
                Ok(conn) => Some(Arc::new(ServerCancel {
                    conn: Mutex::new(conn),
                    kind: self.settings.kind,
                    tag: self.tag.clone(),
                    mysql_dsn: mysql_dsn(&self.settings),
                    started: AtomicBool::new(false),
                    finished: AtomicBool::new(false),
                })),
                Err(e) => {
                    log::debug!("no second DuckDB connection for a server-side cancel: {e}");
                    None
                }
            },
            _ => None,
        };
        QueryStopper { interrupt: self.conn.interrupt_handle(), server }
    }

    /// The SQL that produces the result, after applying the query dialect.
    pub fn result_sql(&self) -> String {
        result_sql(&self.settings, Some(&self.tag))
    }

    /// The result's columns, without running the query.
    pub fn describe(&self) -> Result<Vec<Column>> {
        crate::sql::refuse_writes(&self.settings.query)?;
        let sql = format!("DESCRIBE {}", self.result_sql());
        let mut stmt = self.conn.prepare(&sql).map_err(|e| query_error(&e))?;
        let rows = stmt
            .query_map([], |row| Ok(Column { name: row.get(0)?, type_name: row.get(1)? }))
            .map_err(|e| query_error(&e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| query_error(&e))
    }

    /// Runs the query into `dest` as Parquet and verifies the file.
    /// On failure, whatever was written at `dest` is removed.
    pub fn export(&self, dest: &Path, output: &OutputSettings) -> Result<ExportStats> {
        let result = self.export_inner(dest, output);
        if result.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        result
    }

    fn export_inner(&self, dest: &Path, output: &OutputSettings) -> Result<ExportStats> {
        crate::sql::refuse_writes(&self.settings.query)?;
        let mut options = vec!["FORMAT parquet".to_string(), format!("COMPRESSION {}", output.compression.duckdb_name())];
        if let Some(size) = output.row_group_size {
            options.push(format!("ROW_GROUP_SIZE {size}"));
        }
        let copy = format!("COPY ({}) TO {} ({})", self.result_sql(), sql_literal(&path_str(dest)?), options.join(", "));

        let started = Instant::now();
        let rows = self.conn.execute(&copy, []).map_err(|e| export_error(&e, dest, output))? as u64;
        let query = started.elapsed();
        log::debug!(rows = rows, seconds = query.as_secs_f64(); "query result written");

        if rows == 0 && !output.allow_empty_result {
            return Err(Error::new(
                ErrorKind::EmptyResult,
                "the query returned no rows; uploading it would empty the dataset. \
                 Check SOURCE_DATABASE_SQL_QUERY, or set ALLOW_EMPTY_RESULT=true if an empty dataset is intended",
            ));
        }

        let started = Instant::now();
        let (file_rows, columns) = parquet_shape(&self.conn, dest)?;
        if file_rows != rows {
            return Err(Error::new(
                ErrorKind::Verification,
                format!("the Parquet file holds {file_rows} rows but the query produced {rows}; nothing was kept"),
            ));
        }
        let bytes = std::fs::metadata(dest).map_err(|e| Error::io(format!("reading {}", dest.display()), &e))?.len();
        Ok(ExportStats { rows, columns, bytes, connect: self.connect_time, query, verify: started.elapsed() })
    }
}

/// Row and column count from a Parquet file's own metadata.
fn parquet_shape(conn: &Connection, file: &Path) -> Result<(u64, usize)> {
    let literal = sql_literal(&path_str(file)?);
    let verify_error =
        |e: duckdb::Error| Error::new(ErrorKind::Verification, format!("cannot read {} as Parquet: {e}", file.display()));
    let rows: i64 = conn
        .query_row(&format!("SELECT CAST(sum(num_rows) AS BIGINT) FROM parquet_file_metadata({literal})"), [], |r| r.get(0))
        .map_err(verify_error)?;
    let columns: i64 = conn
        .query_row(&format!("SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet({literal}))"), [], |r| r.get(0))
        .map_err(verify_error)?;
    Ok((rows as u64, columns as usize))
}

/// Rows and columns of an existing Parquet file (for `connector upload`),
/// read from its metadata by a throw-away in-memory DuckDB.
pub fn inspect_parquet(file: &Path) -> Result<(u64, usize)> {
    if !file.is_file() {
        return Err(Error::new(ErrorKind::LocalIo, format!("{} is not a file", file.display())));
    }
    let conn = Connection::open_in_memory()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start DuckDB: {e}")))?;
    verify_library_version(&conn)?;
    parquet_shape(&conn, file)
}

fn open_duckdb(engine: &EngineSettings, spill_dir: &Path) -> Result<Connection> {
    let mut config = duckdb::Config::default();
    let engine_error = |e: duckdb::Error| Error::new(ErrorKind::Internal, format!("cannot start DuckDB: {e}"));
    if let Some(limit) = &engine.memory_limit {
        config = config.max_memory(limit.as_str()).map_err(|e| Error::config(format!("DUCKDB_MEMORY_LIMIT: {e}")))?;
    }
    if let Some(threads) = engine.threads {
        config = config.threads(i64::from(threads)).map_err(|e| Error::config(format!("DUCKDB_THREADS: {e}")))?;
    }
    if let Some(dir) = &engine.extension_directory {
        // Offline mode: never download, only load what is in the directory.
        config = config
            .with("extension_directory", path_str(dir)?)
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .map_err(engine_error)?;
    }
    config = config.with("temp_directory", path_str(spill_dir)?).map_err(engine_error)?;
    let conn = Connection::open_in_memory_with_flags(config).map_err(engine_error)?;
    verify_library_version(&conn)?;
    Ok(conn)
}

/// The DuckDB extension a source type needs (its canonical file name).
pub fn extension_for(kind: SourceKind) -> Option<&'static str> {
    match kind {
        SourceKind::Postgres => Some("postgres_scanner"),
        SourceKind::Mysql => Some("mysql_scanner"),
        SourceKind::Sqlite => Some("sqlite_scanner"),
        SourceKind::DuckDb => None,
    }
}

fn load_extension(conn: &Connection, name: &str, directory: Option<&Path>) -> Result<()> {
    match directory {
        Some(dir) => {
            let (version, platform) = duckdb_version_and_platform(conn)?;
            let file = dir.join(&version).join(&platform).join(format!("{name}.duckdb_extension"));
            if !file.is_file() {
                return Err(Error::new(
                    ErrorKind::Extension,
                    format!(
                        "DuckDB extension {name} is missing: expected {} (DUCKDB_EXTENSION_DIRECTORY); \
                         run scripts/fetch-extensions or copy the extension file there",
                        file.display()
                    ),
                ));
            }
            log::debug!("loading DuckDB extension {}", file.display());
            conn.execute_batch(&format!("LOAD {name}")).map_err(|e| {
                Error::new(ErrorKind::Extension, format!("cannot load DuckDB extension {}: {e}", file.display()))
            })
        }
        None => conn.execute_batch(&format!("INSTALL {name}; LOAD {name};")).map_err(|e| {
            Error::new(
                ErrorKind::Extension,
                format!(
                    "cannot install DuckDB extension {name} ({e}); without internet access, \
                     download it with scripts/fetch-extensions and set DUCKDB_EXTENSION_DIRECTORY"
                ),
            )
        }),
    }
}

/// Engine and scanner settings chosen by measurement (bench/compare; the
/// figures are in bench/README.md). Set before ATTACH, since some apply to the
/// connections the catalog opens.
fn tune_scanner(conn: &Connection, settings: &SourceSettings) -> Result<()> {
    let mut statements: Vec<&str> = Vec::new();
    match (settings.kind, settings.dialect) {
        // The PostgreSQL scanner reads a table as parallel ctid ranges. With
        // insertion order preserved, COPY buffers every range's rows until the
        // ones before it are written; without, each thread writes its own row
        // groups. 1M-row table, 2 threads: 1.06–1.12 s / 253–284 MB peak RSS
        // instead of 1.08–1.23 s / 301–324 MB. Only the order of an unordered
        // result changes: DuckDB still keeps a query's ORDER BY (the plan has a
        // fixed order, tests/it/ordering.rs). Not for the native dialect, where an
        // ORDER BY inside postgres_query() is invisible to DuckDB.
        (SourceKind::Postgres, QueryDialect::DuckDb) => statements.push("SET preserve_insertion_order = false"),
        // The mysql extension may wrap big scans in `SELECT SQL_BUFFER_RESULT …`
        // (the server first copies the whole result into a temporary table) and,
        // on MySQL, adds a `MAX_EXECUTION_TIME` hint of at most 5 minutes, which
        // would kill a long export. An export reads once, in a read-only
        // transaction, so neither helps; both are off.
        (SourceKind::Mysql, _) => {
            statements.extend(["SET mysql_sql_buffer_result = false", "SET mysql_query_timeout_enabled = false"])
        }
        _ => {}
    }
    for sql in statements {
        conn.execute_batch(sql)
            .map_err(|e| Error::new(ErrorKind::Extension, format!("cannot configure DuckDB ({sql}): {e}")))?;
    }
    Ok(())
}

fn duckdb_version_and_platform(conn: &Connection) -> Result<(String, String)> {
    conn.query_row("SELECT library_version, (SELECT platform FROM pragma_platform()) FROM pragma_version()", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot read DuckDB version: {e}")))
}

fn attach(conn: &Connection, settings: &SourceSettings) -> Result<()> {
    let attach = match settings.kind {
        SourceKind::Postgres => {
            format!("ATTACH {} AS {CATALOG} (TYPE postgres, READ_ONLY)", sql_literal(&postgres_conninfo(settings)))
        }
        SourceKind::Mysql => {
            if let (Some(true), Some(ca), Some(host), Some(port)) =
                (settings.ssl_mode.map(SslMode::verifies_identity), &settings.ssl_root_cert, &settings.host, settings.port)
            {
                // The extension checks the chain only; the host name is checked here.
                crate::mysql_tls::verify_server_identity(host, port, ca)?;
            }
            let secret = mysql_secret_sql(settings);
            conn.execute_batch(&secret).map_err(|e| connect_error(settings, &e, &secret))?;
            format!(
                "ATTACH {} AS {CATALOG} (TYPE mysql, SECRET {MYSQL_SECRET}, READ_ONLY)",
                sql_literal(&mysql_dsn(settings))
            )
        }
        SourceKind::Sqlite => format!("ATTACH {} AS {CATALOG} (TYPE sqlite, READ_ONLY)", sql_literal(&settings.database)),
        SourceKind::DuckDb if settings.database == ":memory:" => {
            // Nothing to attach: the query runs on DuckDB itself (files, functions).
            return Ok(());
        }
        SourceKind::DuckDb => format!("ATTACH {} AS {CATALOG} (READ_ONLY)", sql_literal(&settings.database)),
    };
    conn.execute_batch(&attach).map_err(|e| connect_error(settings, &e, &attach))?;
    // Lets `SELECT * FROM t` work as well as the documented `db.t`.
    conn.execute_batch(&format!("USE {CATALOG}"))
        .map_err(|e| Error::new(ErrorKind::SourceUnreachable, format!("cannot select the attached database: {e}")))
}

fn connect_error(settings: &SourceSettings, err: &duckdb::Error, attach_sql: &str) -> Error {
    let what = match settings.kind {
        SourceKind::Postgres | SourceKind::Mysql => format!(
            "cannot connect to the {} database {} at {}:{} as {}",
            settings.kind.name(),
            settings.database,
            settings.host.as_deref().unwrap_or("?"),
            settings.port.map(|p| p.to_string()).unwrap_or_default(),
            settings.user.as_deref().unwrap_or("?"),
        ),
        _ => format!("cannot open the {} database file {}", settings.kind.name(), settings.database),
    };
    // The drivers echo the whole connection string; it repeats our settings
    // (and words like "password" or "connect_timeout" that would mislead the
    // hint below), so it is cut out of the message.
    let mut text = err.to_string();
    for echoed in [postgres_conninfo(settings), mysql_dsn(settings), attach_sql.to_string()] {
        if !echoed.is_empty() {
            text = text.replace(&echoed, "…");
        }
    }
    let lower = text.to_ascii_lowercase();
    let error = Error::new(ErrorKind::SourceUnreachable, format!("{what}: {}; {}", strip_duckdb_prefix(&text), login_hint(&lower)));
    // A server that is down, restarting or not reachable yet may come back; a
    // refused login or a missing database will not.
    const MAY_RECOVER: [&str; 8] = [
        "connection refused",
        "timeout",
        "timed out",
        "could not connect",
        "can't connect",
        "lost connection",
        "the database system is starting up",
        "temporary failure in name resolution",
    ];
    match MAY_RECOVER.iter().any(|m| lower.contains(m)) {
        true => error.transient(),
        false => error,
    }
}

/// What to check after a failed connection, from the server's or driver's
/// message: the setting it points at, or all of them when it cannot tell.
fn login_hint(lower: &str) -> &'static str {
    const HOST: [&str; 11] = [
        "connection refused",
        "could not translate host name",
        "name or service not known",
        "temporary failure in name resolution",
        "unknown mysql server host",
        "can't connect to",
        "no route to host",
        "network is unreachable",
        "timeout expired",
        "timed out",
        "could not connect to server",
    ];
    if lower.contains("role \"") && lower.contains("does not exist") {
        // PostgreSQL names the user it does not know.
        "check SOURCE_DATABASE_USER"
    } else if (lower.contains("database \"") && lower.contains("does not exist"))
        || lower.contains("unknown database")
        || (lower.contains("access denied for user") && lower.contains("to database"))
    {
        // MySQL answers the same for a database that is missing and one the user may not read.
        "check SOURCE_DATABASE_NAME (and that SOURCE_DATABASE_USER may read it)"
    } else if lower.contains("password authentication failed")
        || lower.contains("access denied")
        || lower.contains("authentication failed")
    {
        // The server does not say whether the user or the password is wrong.
        "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"
    } else if lower.contains("no password supplied") {
        "check SOURCE_DATABASE_PASSWORD (or SOURCE_DATABASE_PASSWORD_FILE)"
    } else if lower.contains("no pg_hba.conf entry") {
        "check SOURCE_DATABASE_USER, SOURCE_DATABASE_NAME and SOURCE_DATABASE_SSL_MODE: the server's pg_hba.conf \
         admits no such connection from this host"
    } else if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") {
        "check SOURCE_DATABASE_SSL_MODE and SOURCE_DATABASE_SSL_ROOT_CERT"
    } else if HOST.iter().any(|m| lower.contains(m)) {
        "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT, and that the server accepts connections from here"
    } else {
        "check SOURCE_DATABASE_HOST, SOURCE_DATABASE_PORT, SOURCE_DATABASE_USER, SOURCE_DATABASE_PASSWORD and \
         SOURCE_DATABASE_NAME"
    }
}

/// Where an export writes, so that a full disk can be named.
struct Disks<'a> {
    temp_dir: &'a Path,
    dest_dir: &'a Path,
}

/// A failed query, classified by what has to be fixed. DuckDB reports a full
/// disk and a connection the server dropped as query errors, but neither is
/// fixed by changing the query: they get the class (and exit code) of what
/// is to be checked instead, local I/O (7) and the source database (4).
/// Driver texts that do not say what to do get a hint.
fn query_error(err: &duckdb::Error) -> Error {
    classify_query_failure(&err.to_string(), None)
}

fn export_error(err: &duckdb::Error, dest: &Path, output: &OutputSettings) -> Error {
    let dest_dir = dest.parent().unwrap_or(Path::new("."));
    classify_query_failure(&err.to_string(), Some(Disks { temp_dir: &output.temp_dir, dest_dir }))
}

fn classify_query_failure(text: &str, disks: Option<Disks>) -> Error {
    const DISK_FULL: [&str; 4] =
        ["no space left on device", "disk quota exceeded", "max_temp_directory_size", "file too large"];
    const READ_ONLY: [&str; 4] = ["read-only mode", "read only", "read-only transaction", "read-only connection"];
    const CONNECTION_LOST: [&str; 11] = [
        "terminating connection",
        "server closed the connection unexpectedly",
        "connection to server was lost",
        "no connection to the server",
        "could not receive data from server",
        "lost connection to",
        "server has gone away",
        "connection was killed",
        "connection reset by peer",
        "ssl syscall error",
        "eof detected",
    ];
    if text.contains("INTERRUPT") || text.contains("Interrupted") {
        return Error::new(ErrorKind::Query, "the query was interrupted");
    }
    let detail = strip_duckdb_prefix(text);
    let lower = detail.to_ascii_lowercase();
    if let (Some(disks), true) = (&disks, DISK_FULL.iter().any(|m| lower.contains(m))) {
        let temp_dir = disks.temp_dir.display().to_string();
        let dest_dir = disks.dest_dir.display().to_string();
        let (place, remedy) = if detail.contains(&dest_dir) && !dest_dir.starts_with(&temp_dir) {
            (format!("the disk holding the --output directory {dest_dir} is full"), "write the file to a disk with room")
        } else if lower.contains("max_temp_directory_size") {
            (
                format!("the disk holding TEMP_DIR ({temp_dir}) is full"),
                "point TEMP_DIR to a disk with room for DuckDB's spill files, or raise DUCKDB_MEMORY_LIMIT",
            )
        } else {
            (format!("the disk holding TEMP_DIR ({temp_dir}) is full"), "point TEMP_DIR to a disk with room")
        };
        return Error::new(ErrorKind::LocalIo, format!("{place}: {detail}; free space there, or {remedy}"));
    }
    if CONNECTION_LOST.iter().any(|m| lower.contains(m)) {
        return Error::new(
            ErrorKind::SourceUnreachable,
            format!(
                "the connection to the source database was lost during the query: {detail}; check that the server \
                 is running and that nothing (a restart or failover, an administrator, a proxy or network timeout) \
                 ends the connection"
            ),
        );
    }
    let hint = if READ_ONLY.iter().any(|m| lower.contains(m)) {
        "; the source is attached read-only and is never written: SOURCE_DATABASE_SQL_QUERY must be a single SELECT"
    } else if lower.contains("duplicate column name") {
        "; give every result column its own name (… AS name)"
    } else {
        ""
    };
    Error::new(ErrorKind::Query, format!("the query failed: {detail}{hint}"))
}

/// DuckDB prefixes some errors with a redundant class name.
fn strip_duckdb_prefix(text: &str) -> &str {
    text.strip_prefix("Invalid Input Error: ").unwrap_or(text)
}

/// The query as DuckDB runs it: as written, or passed through to the
/// server, then with the run's tag as a comment in front.
fn result_sql(settings: &SourceSettings, tag: Option<&str>) -> String {
    let native = match tag {
        Some(tag) => format!("{} {}", sql_comment(tag), settings.query),
        None => settings.query.clone(),
    };
    match (settings.dialect, settings.kind) {
        (QueryDialect::Native, SourceKind::Postgres) => {
            format!("SELECT * FROM postgres_query({}, {})", sql_literal(CATALOG), sql_literal(&native))
        }
        (QueryDialect::Native, SourceKind::Mysql) => {
            format!("SELECT * FROM mysql_query({}, {})", sql_literal(CATALOG), sql_literal(&native))
        }
        _ => settings.query.clone(),
    }
}

/// A DuckDB string literal.
pub fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The key names one driver uses for the settings we pass.
struct DriverKeys {
    /// Whether host, port, user, password, database and TLS go into the
    /// string (else they travel in a DuckDB secret).
    carries_settings: bool,
    database: &'static str,
    ssl_mode: &'static str,
    ssl_root_cert: &'static str,
    /// Options we set unless SOURCE_DATABASE_OPTIONS does.
    defaults: &'static [(&'static str, &'static str)],
}

/// `key=value` pairs, each value quoted by `quote`, then the user's options.
fn connection_string(s: &SourceSettings, keys: &DriverKeys, quote: fn(&str) -> String) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if keys.carries_settings {
        pairs.extend(s.host.as_ref().map(|h| ("host", h.clone())));
        pairs.extend(s.port.map(|p| ("port", p.to_string())));
        pairs.extend(s.user.as_ref().map(|u| ("user", u.clone())));
        pairs.extend(s.password.as_ref().map(|p| ("password", p.expose().to_string())));
        pairs.push((keys.database, s.database.clone()));
        pairs.extend(s.ssl_mode.map(|m| (keys.ssl_mode, m.as_str().to_string())));
        pairs.extend(s.ssl_root_cert.as_ref().map(|c| (keys.ssl_root_cert, c.to_string_lossy().into_owned())));
    }
    for (key, value) in keys.defaults {
        if !s.options.iter().any(|(k, _)| k == key) {
            pairs.push((key, value.to_string()));
        }
    }
    pairs.extend(s.options.iter().map(|(k, v)| (k.as_str(), v.clone())));
    pairs.iter().map(|(key, value)| format!("{key}={}", quote(value))).collect::<Vec<_>>().join(" ")
}

/// A libpq connection string; every value quoted, so spaces, quotes,
/// backslashes, `=` and `@` reach the server unchanged.
pub fn postgres_conninfo(s: &SourceSettings) -> String {
    const KEYS: DriverKeys = DriverKeys {
        carries_settings: true,
        database: "dbname",
        ssl_mode: "sslmode",
        ssl_root_cert: "sslrootcert",
        defaults: &[("application_name", "polyteia-db-connector"), ("connect_timeout", "30")],
    };
    connection_string(s, &KEYS, |value| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")))
}

/// The temporary DuckDB secret that carries the MySQL connection settings.
pub const MYSQL_SECRET: &str = "connector_source";

/// The MySQL settings as a temporary (in-memory, never written) DuckDB secret.
/// The mysql extension reads the ATTACH string as a URI first, and a `?`
/// anywhere in it — in a password, say — makes that fail outright; values
/// from a secret are added after that step, escaped by the extension itself.
pub fn mysql_secret_sql(s: &SourceSettings) -> String {
    let mut params = vec!["TYPE mysql".to_string()];
    let mut add = |key: &str, value: &str| params.push(format!("{key} {}", sql_literal(value)));
    if let Some(host) = &s.host {
        add("HOST", host);
    }
    if let Some(user) = &s.user {
        add("USER", user);
    }
    if let Some(password) = &s.password {
        add("PASSWORD", password.expose());
    }
    add("DATABASE", &s.database);
    if let Some(mode) = s.ssl_mode {
        add("SSL_MODE", mode.as_str());
    }
    if let Some(cert) = &s.ssl_root_cert {
        add("SSL_CA", &cert.to_string_lossy());
    }
    if let Some(port) = s.port {
        params.push(format!("PORT {port}"));
    }
    format!("CREATE OR REPLACE TEMPORARY SECRET {MYSQL_SECRET} ({})", params.join(", "))
}

/// The rest of the MySQL connection string (the settings are in the secret):
/// driver defaults and SOURCE_DATABASE_OPTIONS, values in double quotes with
/// backslash escaping backslash and double quote.
pub fn mysql_dsn(s: &SourceSettings) -> String {
    // compression=disabled: the extension otherwise asks for zlib protocol
    // compression, so the server deflates every packet and we inflate it
    // (`inflate_fast` was the top entry of the profile, 27 % of the CPU). Off, a
    // 1M-row MariaDB export took 5.6–6.7 s instead of 12.0–12.2 s (bench/README.md).
    // A slow WAN link may still want it: SOURCE_DATABASE_OPTIONS=compression=required.
    const KEYS: DriverKeys = DriverKeys {
        carries_settings: false,
        database: "database",
        ssl_mode: "ssl_mode",
        ssl_root_cert: "ssl_ca",
        defaults: &[("compression", "disabled")],
    };
    connection_string(s, &KEYS, |value| format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

fn path_str(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(ErrorKind::LocalIo, format!("path {} is not valid UTF-8", path.display())))
}

/// A private directory for one run's files, removed when dropped (on every
/// exit path, success or failure).
pub fn private_work_dir(temp_dir: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("polyteia-connector-")
        .tempdir_in(temp_dir)
        .map_err(|e| Error::io(format!("cannot create a work directory in TEMP_DIR {}", temp_dir.display()), &e))
}

/// Where the Parquet file goes inside a work directory.
pub fn export_file_in(work_dir: &Path) -> PathBuf {
    work_dir.join("export.parquet")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_pinned_duckdb_release_is_accepted() {
        assert!(super::require_pinned_version(super::DUCKDB_VERSION, None).is_ok());
        let err = super::require_pinned_version("v1.4.3", Some(std::path::Path::new("/usr/lib/libduckdb.so"))).unwrap_err();
        assert_eq!(err.exit_code(), 9);
        assert!(err.message().contains("v1.4.3 (/usr/lib/libduckdb.so)"), "{err}");
        assert!(err.message().contains("need DuckDB v1.5.5"), "{err}");
    }

    #[test]
    fn the_library_in_use_is_the_pinned_one() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        super::verify_library_version(&conn).unwrap();
    }
    use super::*;
    use crate::secret::Secret;

    fn settings(kind: SourceKind, password: &str) -> SourceSettings {
        SourceSettings {
            kind,
            host: Some("127.0.0.1".into()),
            port: Some(5432),
            user: Some("o'brien".into()),
            password: Some(Secret::new(password)),
            database: "my db".into(),
            query: "SELECT 1".into(),
            ssl_mode: None,
            ssl_root_cert: None,
            options: vec![],
            dialect: QueryDialect::DuckDb,
        }
    }

    #[test]
    fn conninfo_quotes_every_value() {
        let info = postgres_conninfo(&settings(SourceKind::Postgres, "a'b\\c d=e@f"));
        assert!(info.contains(r"password='a\'b\\c d=e@f'"), "{info}");
        assert!(info.contains(r"user='o\'brien'"), "{info}");
        assert!(info.contains("dbname='my db'"), "{info}");
    }

    #[test]
    fn mysql_settings_travel_in_a_secret_not_in_the_string() {
        let mut s = settings(SourceKind::Mysql, "a\"b\\c d=e@f'?x&y");
        s.options = vec![("connect_timeout".into(), "a \"b\"".into())];
        let secret = mysql_secret_sql(&s);
        assert!(secret.contains(r#"PASSWORD 'a"b\c d=e@f''?x&y'"#), "{secret}");
        assert!(secret.contains("USER 'o''brien'") && secret.contains("DATABASE 'my db'"), "{secret}");
        assert!(secret.contains("PORT 5432") && secret.starts_with("CREATE OR REPLACE TEMPORARY SECRET"), "{secret}");
        let dsn = mysql_dsn(&s);
        assert_eq!(dsn, r#"compression="disabled" connect_timeout="a \"b\"""#);
    }

    #[test]
    fn mysql_protocol_compression_is_off_unless_asked_for() {
        let mut s = settings(SourceKind::Mysql, "x");
        assert!(mysql_dsn(&s).contains(r#"compression="disabled""#), "{}", mysql_dsn(&s));
        s.options = vec![("compression".into(), "required".into())];
        let dsn = mysql_dsn(&s);
        assert!(dsn.contains(r#"compression="required""#) && !dsn.contains("disabled"), "{dsn}");
        assert!(!postgres_conninfo(&settings(SourceKind::Postgres, "x")).contains("compression"));
    }

    #[test]
    fn the_login_hint_names_what_the_message_points_at() {
        for (message, hint) in [
            (r#"connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "nobody" does not exist"#, "check SOURCE_DATABASE_USER"),
            (r#"FATAL:  database "nodb" does not exist"#, "check SOURCE_DATABASE_NAME (and"),
            ("Access denied for user 'u'@'127.0.0.1' to database 'nodb'", "check SOURCE_DATABASE_NAME (and"),
            ("Unknown database 'nodb'", "check SOURCE_DATABASE_NAME (and"),
            (r#"FATAL:  password authentication failed for user "u""#, "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"),
            ("Access denied for user 'u'@'127.0.0.1' (using password: YES)", "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"),
            ("fe_sendauth: no password supplied", "check SOURCE_DATABASE_PASSWORD (or"),
            (r#"FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "u", database "d", SSL off"#, "pg_hba.conf"),
            (r#"root certificate file "/root/.postgresql/root.crt" does not exist"#, "check SOURCE_DATABASE_SSL_MODE"),
            ("Connection refused Is the server running on that host", "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT, and"),
            ("Can't connect to server on '10.1.1.1' (110)", "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT, and"),
            ("something nobody foresaw", "check SOURCE_DATABASE_HOST, SOURCE_DATABASE_PORT, SOURCE_DATABASE_USER, SOURCE_DATABASE_PASSWORD and SOURCE_DATABASE_NAME"),
        ] {
            let got = login_hint(&message.to_ascii_lowercase());
            assert!(got.contains(hint), "{message}: {got}");
        }
        assert_eq!(login_hint(r#"fatal:  role "nobody" does not exist"#), "check SOURCE_DATABASE_USER");
    }

    #[test]
    fn native_dialect_wraps_query_in_pass_through() {
        let mut s = settings(SourceKind::Postgres, "x");
        s.dialect = QueryDialect::Native;
        s.query = "SELECT 'a'::text".into();
        assert_eq!(result_sql(&s, None), "SELECT * FROM postgres_query('db', 'SELECT ''a''::text')");
        assert_eq!(
            result_sql(&s, Some("polyteia-db-connector 7-0000abcd")),
            "SELECT * FROM postgres_query('db', '/* polyteia-db-connector 7-0000abcd */ SELECT ''a''::text')"
        );
        s.dialect = QueryDialect::DuckDb;
        assert_eq!(result_sql(&s, Some("polyteia-db-connector 7-0000abcd")), "SELECT 'a'::text");
    }
}
