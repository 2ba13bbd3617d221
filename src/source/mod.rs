//! The source side: an in-memory DuckDB that loads the scanner extension,
//! attaches the source database read-only as `db`, and copies the query
//! result into a Parquet file that is verified before it counts as done.
//!
//! Each source kind is described once, in its own file (`postgres.rs`,
//! `mysql.rs`, `sqlite.rs`, `duckdb_file.rs`), by a `kind::SourceType`;
//! `SourceKind::source_type` (in `kind.rs`) is the one place that picks it, and
//! [`export_for`] the one place that builds the export stage.

use std::path::Path;
use std::time::{Duration, Instant};

use duckdb::Connection;

use crate::cancel::Cancellation;
use crate::error::{Error, ErrorKind, Result};
use crate::pseudonym;
use crate::retry::{self, GaveUp, RetryPolicy, Verdict};
use crate::sql::sql_literal;
use crate::stages::{CheckResult, Column, Export, ExportStats, Preflight};

mod cancel;
mod connect;
mod duckdb_file;
mod engine;
mod errors;
mod exactness;
pub mod export_settings;
pub(crate) mod kind;
mod mssql;
mod mysql;
mod odbc;
mod parquet;
mod postgres;
pub mod settings;
mod sqlite;

pub use cancel::QueryStopper;
pub use engine::{duckdb_library_description, DUCKDB_LINKAGE, DUCKDB_VERSION};
pub use kind::SourceKind;
pub use mysql::{dsn as mysql_dsn, secret_sql as mysql_secret_sql, SECRET as MYSQL_SECRET};
pub use parquet::inspect_parquet;
pub use postgres::conninfo as postgres_conninfo;
pub use settings::{QueryDialect, SourceSettings};

use export_settings::{EngineSettings, ExportSettings, OutputSettings, ACCEPT_LOSS_COLUMNS};

/// The alias of the attached source; queries name tables as `db.table`.
pub const CATALOG: &str = "db";

/// The names of the checks [`Export::preflight`] reports.
pub const SOURCE_CHECK: &str = "source database";
pub const QUERY_CHECK: &str = "source query";
pub const EXACTNESS_CHECK: &str = "exact values";
pub const PSEUDONYM_CHECK: &str = "pseudonymisation";
/// Every check of [`DuckDbExport`]'s preflight, in its order.
const PREFLIGHT_CHECKS: &[&str] = &[SOURCE_CHECK, QUERY_CHECK, PSEUDONYM_CHECK, EXACTNESS_CHECK];

/// The export stage for the configured source: the one place that builds it.
pub fn export_for(settings: &ExportSettings) -> DuckDbExport {
    DuckDbExport {
        source: settings.source.clone(),
        engine: settings.engine.clone(),
        output: settings.output.clone(),
        connect_retry: settings.connect_retry.clone(),
    }
}

/// The export through DuckDB from the configured source.
pub struct DuckDbExport {
    source: SourceSettings,
    engine: EngineSettings,
    output: OutputSettings,
    connect_retry: RetryPolicy,
}

impl DuckDbExport {
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
            Err(GaveUp::Cancelled) => Err(cancel.interrupted_error("connecting to the source").unwrap_or_else(|| {
                Error::new(ErrorKind::InterruptedSigterm, "stopped while connecting to the source")
            })),
        }
    }
}

impl Export for DuckDbExport {
    fn announce(&self) {
        let s = &self.source;
        for warning in s.kind.source_type().warnings(s) {
            log::warn!("{warning}");
        }
        match (&s.host, s.port) {
            (Some(host), Some(port)) => log::info!(
                source = s.kind.name(), host = host.as_str(), port = port, database = s.database.as_str();
                "exporting from {} database {} on {}:{}", s.kind.name(), s.database, host, port
            ),
            _ if s.kind.takes_connection_string() => log::info!(source = s.kind.name();
                "exporting from an ODBC source ({})", odbc::target(s)),
            _ => log::info!(source = s.kind.name(), database = s.database.as_str();
                "exporting from {} database {}", s.kind.name(), s.database),
        }
    }

    fn export(
        &self,
        dest: &Path,
        spill_dir: &Path,
        cancel: &Cancellation,
        connected: &dyn Fn(),
    ) -> Result<ExportStats> {
        let source = self.open_with_retries(spill_dir, cancel)?;
        connected();
        cancel.set_query(Some(Box::new(source.query_stopper())));
        let stats = source.export(dest, &self.output);
        cancel.set_query(None);
        stats
    }

    /// One attempt to connect (no retries: `check` reports what is true now),
    /// then the query's columns without running it.
    fn preflight(&self, spill_dir: &Path) -> Vec<Preflight> {
        let s = &self.source;
        let started = Instant::now();
        let (connected, source) =
            Preflight::from_result(SOURCE_CHECK, Source::open(s, &self.engine, spill_dir), |_| {
                let target = match (&s.host, s.port) {
                    (Some(host), Some(port)) => format!(" at {host}:{port} as {}", s.user.as_deref().unwrap_or("")),
                    _ => String::new(),
                };
                let database = match s.kind.takes_connection_string() {
                    true => format!("source ({})", odbc::target(s)),
                    false => format!("database {}", s.database),
                };
                format!("connected to {} {database}{target} in {:.2}s", s.kind.name(), started.elapsed().as_secs_f64())
            });
        let Some(source) = source else {
            let reason = "needs a working source database connection";
            return vec![
                connected,
                Preflight::skipped(QUERY_CHECK, reason),
                Preflight::skipped(PSEUDONYM_CHECK, reason),
                Preflight::skipped(EXACTNESS_CHECK, reason),
            ];
        };
        let (query, columns) = Preflight::from_result(QUERY_CHECK, source.describe(), |columns| {
            let list: Vec<String> = columns.iter().map(|c| format!("{} {}", c.name, c.type_name)).collect();
            format!("valid, {} columns: {}", columns.len(), list.join(", "))
        });
        let Some(columns) = columns else {
            let reason = "needs a valid source query";
            return vec![
                connected,
                query,
                Preflight::skipped(PSEUDONYM_CHECK, reason),
                Preflight::skipped(EXACTNESS_CHECK, reason),
            ];
        };
        let pseudonyms = pseudonym::Plan::new(self.output.pseudonymize.as_ref(), &columns);
        let pseudonymized = Preflight::new(PSEUDONYM_CHECK, pseudonym_preflight(&pseudonyms, &columns));
        let exact = match &pseudonyms {
            Ok(pseudonyms) => Preflight::new(
                EXACTNESS_CHECK,
                source.exactness_preflight(&pseudonyms.untouched(&columns), &self.output),
            ),
            Err(_) => Preflight::skipped(EXACTNESS_CHECK, "needs a valid PSEUDONYMIZE_COLUMNS"),
        };
        vec![connected, query, pseudonymized, exact]
    }

    fn preflight_checks(&self) -> &'static [&'static str] {
        PREFLIGHT_CHECKS
    }
}

/// What `check` says about pseudonyms: the columns replaced, and as a
/// warning the columns whose names look like personal data that are not.
fn pseudonym_preflight(plan: &Result<pseudonym::Plan>, columns: &[Column]) -> CheckResult {
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => return CheckResult::Failed(e.clone()),
    };
    let replaced = match plan.names() {
        names if names.is_empty() => "no column is pseudonymised".to_string(),
        names => format!("pseudonymised (HMAC-SHA256): {}", names.join(", ")),
    };
    let unprotected = pseudonym::personal_looking(columns, plan);
    if unprotected.is_empty() {
        return CheckResult::Passed(replaced);
    }
    let list: Vec<String> = unprotected.iter().map(|(name, word)| format!("{name} ({word})")).collect();
    CheckResult::Warned(format!(
        "{replaced}; these columns look like personal data and are uploaded as they are: {} \
         (list them in PSEUDONYMIZE_COLUMNS if they are)",
        list.join(", ")
    ))
}

/// One open source: DuckDB with the source attached.
struct Source {
    conn: Connection,
    settings: SourceSettings,
    extension_directory: Option<std::path::PathBuf>,
    connect_time: Duration,
    tag: String,
}

/// What the kind opened beside DuckDB's catalog (an ODBC handle) is closed
/// with the source, whichever way the export ends.
impl Drop for Source {
    fn drop(&mut self) {
        self.settings.kind.source_type().close(&self.conn);
    }
}

impl Source {
    /// Opens DuckDB, loads the extension for the source type and attaches the
    /// source. `spill_dir` receives DuckDB's temporary files.
    fn open(settings: &SourceSettings, engine: &EngineSettings, spill_dir: &Path) -> Result<Source> {
        let started = Instant::now();
        let tag = cancel::run_tag();
        let source_type = settings.kind.source_type();
        let mut settings = settings.clone();
        source_type.prepare(&mut settings, &tag);
        let conn = engine::open_duckdb(engine, spill_dir)?;
        if let Some(extension) = source_type.facts().extension {
            engine::load_extension(&conn, extension, engine.extension_directory.as_deref())?;
        }
        // Engine and scanner settings chosen by measurement (bench/compare; the
        // figures are in bench/README.md). Set before ATTACH, since some apply to
        // the connections the catalog opens.
        for sql in source_type.tuning(settings.dialect) {
            conn.execute_batch(sql)
                .map_err(|e| Error::new(ErrorKind::Extension, format!("cannot configure DuckDB ({sql}): {e}")))?;
        }
        source_type.attach(&conn, &settings)?;
        let extension_directory = engine.extension_directory.clone();
        Ok(Source { conn, settings, extension_directory, connect_time: started.elapsed(), tag })
    }

    /// What stops this source's query from another thread: DuckDB's
    /// interrupt, and for a native-dialect query on a server also a cancel on
    /// the server, which DuckDB's interrupt does not reach (the pass-through
    /// call waits for the server's answer).
    fn query_stopper(&self) -> QueryStopper {
        let source_type = self.settings.kind.source_type();
        // The checks of exactness run on the server through pass-through calls
        // too, in either dialect.
        let passes_through =
            self.settings.dialect == QueryDialect::Native || source_type.type_knowledge(&self.settings).is_some();
        let server = match (passes_through, source_type.server_cancel().is_some()) {
            (true, true) => match self.conn.try_clone() {
                Ok(conn) => {
                    Some(std::sync::Arc::new(cancel::ServerCancel::new(conn, self.settings.clone(), self.tag.clone())))
                }
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
    fn result_sql(&self) -> String {
        result_sql(&self.settings, Some(&self.tag))
    }

    /// The result's columns, without running the query.
    fn describe(&self) -> Result<Vec<Column>> {
        crate::sql::refuse_writes(&self.settings.query)?;
        let sql = format!("DESCRIBE {}", self.result_sql());
        let mut stmt = self.conn.prepare(&sql).map_err(|e| errors::query_error(&e))?;
        let rows = stmt
            .query_map([], |row| Ok(Column { name: row.get(0)?, type_name: row.get(1)? }))
            .map_err(|e| errors::query_error(&e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| errors::query_error(&e))
    }

    /// Runs the query into `dest` as Parquet and verifies the file.
    /// On failure, whatever was written at `dest` is removed.
    fn export(&self, dest: &Path, output: &OutputSettings) -> Result<ExportStats> {
        let result = self.export_inner(dest, output);
        if result.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        result
    }

    /// A statement the server runs for us, tagged like the query so that a
    /// signal's server-side cancel finds it too.
    fn pass_through(&self, native_sql: &str) -> String {
        let tagged = format!("{} {native_sql}", cancel::sql_comment(&self.tag));
        self.settings.kind.source_type().pass_through(&tagged).unwrap_or(tagged)
    }

    fn exactness_plan(&self, columns: &[Column], output: &OutputSettings) -> Result<exactness::Plan> {
        let pass_through = |sql: &str| self.pass_through(sql);
        exactness::plan(&self.conn, &self.settings, columns, &output.accept_loss_columns, &pass_through)
    }

    /// What `check` says about exactness: the columns at risk and what the
    /// export does with each, without counting rows.
    fn exactness_preflight(&self, columns: &[Column], output: &OutputSettings) -> CheckResult {
        let mut plan = match self.exactness_plan(columns, output) {
            Ok(plan) => plan,
            Err(e) => return CheckResult::Failed(e),
        };

        if !plan.refusals.is_empty() {
            return CheckResult::Failed(exactness::refusal_error(&plan.refusals));
        }
        let mut said = Vec::new();
        if !plan.made_exact.is_empty() {
            said.push(format!("made exact: {}", plan.made_exact.join(", ")));
        }
        let counted = plan.counted();
        // Every check statement must run: the server plans each one now.
        if let Err(e) = plan.take_counts().probe(&self.conn) {
            return CheckResult::Failed(e);
        }
        if !counted.is_empty() {
            said.push(format!("counted on the server before each upload, refused if found: {}", counted.join(", ")));
        }
        if let Some(knowledge) = self.settings.kind.source_type().type_knowledge(&self.settings) {
            let native = self.settings.dialect == QueryDialect::Native;
            let stopping: Vec<String> = knowledge
                .scan_refusals(columns, native)
                .iter()
                .map(|s| format!("{} ({})", s.refusal.column, s.refusal.what))
                .collect();
            if !stopping.is_empty() {
                said.push(format!("refused while written if found: {}", stopping.join(", ")));
            }
        }
        if !plan.accepted.is_empty() {
            let accepted: Vec<String> = plan.accepted.iter().map(|r| r.to_string()).collect();
            said.push(format!("accepted losses ({}): {}", ACCEPT_LOSS_COLUMNS.name, accepted.join(", ")));
        }
        if said.is_empty() {
            CheckResult::Passed(format!("all {} columns arrive as the source holds them", columns.len()))
        } else {
            CheckResult::Passed(said.join("; "))
        }
    }

    /// The COPY of the result (with the plan's rewrites, then the pseudonyms) into `dest`.
    fn copy(
        &self,
        plan: &exactness::Plan,
        pseudonyms: &pseudonym::Plan,
        columns: &[Column],
        dest: &Path,
        output: &OutputSettings,
    ) -> Result<u64> {
        let mut options =
            vec!["FORMAT parquet".to_string(), format!("COMPRESSION {}", output.compression.duckdb_name())];
        if let Some(size) = output.row_group_size {
            options.push(format!("ROW_GROUP_SIZE {size}"));
        }
        let copy = format!(
            "COPY ({}) TO {} ({})",
            pseudonyms.select(&plan.select(&self.result_sql())),
            sql_literal(&engine::path_str(dest)?),
            options.join(", ")
        );
        let rows = self.conn.execute(&copy, []).map_err(|e| {
            if let Some(refused) = exactness::raised_refusal(&e.to_string()) {
                return refused;
            }
            let error = errors::export_error(&e, dest, output);
            let knowledge = self.settings.kind.source_type().type_knowledge(&self.settings);
            let Some(k) = knowledge.filter(|_| error.kind() == ErrorKind::Query) else {
                return error;
            };
            let native = self.settings.dialect == QueryDialect::Native;
            let refusals = exactness::refuse_scan_error(k, error.message(), columns, native);
            if !refusals.is_empty() {
                return exactness::refusal_error(&refusals);
            }
            match k.explain_conversion_error(error.message(), columns) {
                Some(message) => Error::new(ErrorKind::Query, message),
                None => error,
            }
        })?;
        Ok(rows as u64)
    }

    fn export_inner(&self, dest: &Path, output: &OutputSettings) -> Result<ExportStats> {
        crate::sql::refuse_writes(&self.settings.query)?;
        let result_columns = self.describe()?;
        // Before anything is read: a listed column that is not in the result
        // (a typo) must not let raw values through.
        let pseudonyms = pseudonym::Plan::new(output.pseudonymize.as_ref(), &result_columns)?;
        if let Some(settings) = output.pseudonymize.as_ref().filter(|_| !pseudonyms.is_empty()) {
            pseudonym::register(&self.conn, settings)?;
            log::info!(pseudonymized_columns = pseudonyms.names().len();
                "pseudonymising {} columns: {}", pseudonyms.names().len(), pseudonyms.names().join(", "));
        }
        // A pseudonym replaces its column's value on purpose: the check of
        // exactness is about the columns that arrive as values.
        let exact_columns = pseudonyms.untouched(&result_columns);
        let mut plan = self.exactness_plan(&exact_columns, output)?;
        let counts = plan.take_counts();
        if plan.needs_spatial && plan.refusals.is_empty() {
            engine::load_extension(&self.conn, "spatial", self.extension_directory.as_deref())?;
        }
        let started = Instant::now();
        // The server counts the rows that would change while DuckDB copies,
        // so a big table is not waited for twice; rows found stop the copy.
        // A kind whose connection lives in one DuckDB connection only (an
        // ODBC handle) counts first, on the same connection.
        let alongside = self.settings.kind.facts().counts_alongside;
        let counted_before = match alongside || counts.is_empty() {
            true => None,
            false => Some(counts.run(&self.conn)),
        };
        let (copied, counted) = std::thread::scope(|scope| {
            if let Some(counted) = counted_before {
                let found = match &counted {
                    Ok(found) => found.as_slice(),
                    Err(_) => &[],
                };
                let copy = counted.is_ok() && plan.refusals.is_empty() && !counts.refuses(found);
                return (copy.then(|| self.copy(&plan, &pseudonyms, &result_columns, dest, output)), counted);
            }
            let counting = (!counts.is_empty()).then(|| {
                let counts = &counts;
                let conn = self.conn.try_clone();
                let interrupt = self.conn.interrupt_handle();
                scope.spawn(move || {
                    let conn = conn.map_err(|e| {
                        Error::new(ErrorKind::Internal, format!("cannot open a second DuckDB connection: {e}"))
                    })?;
                    let found = counts.run(&conn)?;
                    if counts.refuses(&found) {
                        interrupt.interrupt();
                    }
                    Ok(found)
                })
            });
            // A column refused already: no copy, but the counts still say
            // what else would change (every problem at once).
            let copied = plan.refusals.is_empty().then(|| self.copy(&plan, &pseudonyms, &result_columns, dest, output));
            let counted = match counting {
                Some(handle) => handle.join().unwrap_or_else(|_| {
                    Err(Error::new(ErrorKind::Internal, "the check of the values stopped unexpectedly"))
                }),
                None => Ok(Vec::new()),
            };
            (copied, counted)
        });
        plan.add_found(counted?);
        if !plan.refusals.is_empty() {
            return Err(exactness::refusal_error(&plan.refusals));
        }
        let rows = copied.unwrap_or(Ok(0))?;
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
        let (file_rows, columns) = parquet::parquet_shape(&self.conn, dest)?;
        if file_rows != rows {
            return Err(Error::new(
                ErrorKind::Verification,
                format!("the Parquet file holds {file_rows} rows but the query produced {rows}; nothing was kept"),
            ));
        }
        let from_server = self.settings.kind.is_server() || self.settings.kind.takes_connection_string();
        let found = exactness::check_file(&self.conn, dest, &exact_columns, from_server)?;
        let found = plan.confirm_infinities(&self.conn, found)?;
        plan.add_found(found);
        if !plan.refusals.is_empty() {
            return Err(exactness::refusal_error(&plan.refusals));
        }
        plan.log();
        let bytes = std::fs::metadata(dest).map_err(|e| Error::io(format!("reading {}", dest.display()), &e))?.len();
        Ok(ExportStats {
            rows,
            columns,
            pseudonymized: pseudonyms.names().len(),
            bytes,
            connect: self.connect_time,
            query,
            verify: started.elapsed(),
        })
    }
}

/// The query as DuckDB runs it: as written, or passed through to the
/// server, then with the run's tag as a comment in front.
fn result_sql(settings: &SourceSettings, tag: Option<&str>) -> String {
    let native = match tag {
        Some(tag) => format!("{} {}", cancel::sql_comment(tag), settings.query),
        None => settings.query.clone(),
    };
    match settings.dialect {
        QueryDialect::Native => {
            settings.kind.source_type().pass_through(&native).unwrap_or_else(|| settings.query.clone())
        }
        QueryDialect::DuckDb => settings.query.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    /// A server source's settings, for the tests of each kind's file too.
    pub(super) fn settings(kind: SourceKind, password: &str) -> SourceSettings {
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
            odbc_connection_string: None,
            odbc_driver: None,
        }
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
