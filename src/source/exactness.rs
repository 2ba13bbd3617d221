//! Exact or refused: every value in the file is the source's value, or the
//! run stops before anything is uploaded, naming the column, what would
//! happen to it and what to write instead.
//!
//! Three places decide, cheapest first:
//! 1. the result's DuckDB types, for what Parquet cannot hold whatever the
//!    source ([`result_type_losses`]);
//! 2. the source's own catalog for the tables the query names, judged by the
//!    kind's [`TypeKnowledge`] (in that kind's file): a column is made exact
//!    by a rewrite of the select list, refused, or its risky rows are counted
//!    on the server before the export;
//! 3. the written file's own statistics, for values Parquet readers cannot
//!    read back (infinite dates), with no second pass over the data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use duckdb::Connection;

use super::engine::path_str;
use super::settings::{QueryDialect, SourceSettings};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::{sql_identifier, sql_literal};
use crate::stages::Column;

/// A column of a table the query names, as the source's catalog describes it.
#[derive(Debug, Clone)]
pub(crate) struct SourceColumn {
    pub(crate) schema: String,
    pub(crate) table: String,
    pub(crate) name: String,
    /// The source's own spelling of the type, e.g. `numeric(10,2)`.
    pub(crate) type_name: String,
    /// The spatial reference id a geometry column declares (0: none).
    pub(crate) srid: i64,
}

impl SourceColumn {
    fn describe(&self) -> String {
        format!("{} in {}.{}", self.type_name, self.schema, self.table)
    }
}

/// What the source's scanner does to one column's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// Rewritten in the select list so that the values arrive unchanged;
    /// `expression` has `{}` where the column goes. `how` is said in logs and
    /// by `check`.
    Rewrite { expression: String, how: String, needs_spatial: bool, arrives_as: &'static str },
    /// Every value changes, or may: refused whenever the column reaches the
    /// file. `arrives_as`: the DuckDB type the scanner gives it, by which a
    /// result column under another name may hold it.
    Lossy { what: String, fix: String, arrives_as: &'static str },
    /// The rows matching `condition` (SQL the server runs, `{}` for the
    /// column) change; they are counted on the server before the export.
    Rows { condition: String, what: String, fix: String },
}

/// The type knowledge of one source kind: what its DuckDB scanner changes.
/// Implemented in the kind's own file.
pub(crate) trait TypeKnowledge: Sync {
    /// Queries the server runs that list `schema, table, column, type, srid`
    /// (srid a BIGINT, 0 where none) of the tables and views whose lower-case
    /// name is one of `names` (given as SQL string literals); tried in order
    /// until one works (server products and versions differ).
    fn catalog_queries(&self, names: &[String]) -> Vec<String>;

    /// What happens to `column`'s values; `result_type` is the DuckDB type of
    /// the result column of the same name, if there is one; `native`: the
    /// query runs on the server (pass-through), which types some columns
    /// differently.
    fn treat(&self, column: &SourceColumn, result_type: Option<&str>, native: bool) -> Vec<Treatment>;

    /// For a native query: the checks of a result column of this DuckDB type,
    /// counted over the query's own result on the server.
    fn result_checks(&self, _duckdb_type: &str) -> Vec<ResultCheck> {
        Vec::new()
    }

    /// One scan of `from` on the server giving one BIGINT count of the rows
    /// matching each condition.
    fn count_query(&self, from: &str, conditions: &[String]) -> String;

    /// A table as the server names it.
    fn table(&self, schema: &str, table: &str) -> String {
        format!("{}.{}", self.quote(schema), self.quote(table))
    }

    /// A name quoted for the server.
    fn quote(&self, name: &str) -> String;

    /// A conversion error of the scanner explained with the columns it may
    /// come from; `None` when the message is not one this kind knows.
    fn explain_conversion_error(&self, _message: &str, _columns: &[Column]) -> Option<String> {
        None
    }
}

/// A count over a native query's result column: `condition` with `{}` for
/// the column.
#[derive(Debug, Clone)]
pub(crate) struct ResultCheck {
    pub(crate) condition: String,
    pub(crate) what: String,
    pub(crate) fix: String,
}

/// The rows matching each condition, in one scan: `SUM(CASE …)` works in
/// every SQL dialect; `bigint` is the server's spelling of a 64-bit integer.
pub(crate) fn count_sql(from: &str, conditions: &[String], bigint: &str) -> String {
    let counts: Vec<String> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST(COALESCE(SUM(CASE WHEN {c} THEN 1 ELSE 0 END), 0) AS {bigint}) AS count_{i}"))
        .collect();
    format!("SELECT {} FROM {from}", counts.join(", "))
}

/// One column whose values would change, and what to do about it.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    /// The column as the result (or the source) names it.
    pub(crate) column: String,
    /// The column's type and where it comes from.
    pub(crate) source: String,
    pub(crate) what: String,
    pub(crate) rows: Option<u64>,
    /// Where the rows were counted: the whole table (the query's filters are
    /// not the server's to apply), the query's result.
    pub(crate) counted_in: &'static str,
    pub(crate) fix: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {} ({}): ", self.column, self.source)?;
        let counted_in = self.counted_in;
        match self.rows {
            Some(1) => write!(f, "1 row {counted_in}: ")?,
            Some(rows) => write!(f, "{rows} rows {counted_in}: ")?,
            None => {}
        }
        write!(f, "{}; {}", self.what, self.fix)
    }
}

/// Whether ACCEPT_LOSS_COLUMNS (`accept`) names `column`.
fn is_accepted(accept: &[String], column: &str) -> bool {
    accept.iter().any(|a| a.eq_ignore_ascii_case(column))
}

/// The error for refused columns: one line, every column.
pub(crate) fn refusal_error(refusals: &[Refusal]) -> Error {
    let list: Vec<String> = refusals.iter().map(|r| r.to_string()).collect();
    Error::new(
        ErrorKind::LossRefused,
        format!(
            "{REFUSED} {} would arrive changed: {}. To upload such a column as it arrives, \
             list it in ACCEPT_LOSS_COLUMNS",
            if refusals.len() == 1 { "a column".to_string() } else { format!("{} columns", refusals.len()) },
            list.join("; ")
        ),
    )
}

/// A server-side count that refuses a column when it finds rows.
#[derive(Debug, Clone)]
struct RowCheck {
    column: String,
    source: String,
    /// The condition with the column filled in, as the server reads it.
    condition: String,
    what: String,
    fix: String,
    counted_in: &'static str,
}

/// What the export does about exactness, decided before it runs.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Select-list replacements: result column → expression.
    pub(crate) rewrites: Vec<(String, String)>,
    /// What the rewrites do, for logs and `check`.
    pub(crate) made_exact: Vec<String>,
    pub(crate) needs_spatial: bool,
    /// Refused whatever the data holds.
    pub(crate) refusals: Vec<Refusal>,
    /// Refusals the user accepted (ACCEPT_LOSS_COLUMNS): logged, not refused.
    pub(crate) accepted: Vec<Refusal>,
    /// Counted on the server while the export runs.
    counts: Counts,
    accept: Vec<String>,
}

impl Plan {
    /// What the server counts before the export, for `check`.
    pub(crate) fn counted(&self) -> Vec<String> {
        // The what without its explanation in brackets, to keep `check`'s line short.
        let short = |what: &str| what.split(" (").next().unwrap_or(what).to_string();
        self.counts
            .queries
            .iter()
            .flat_map(|q| &q.checks)
            .map(|c| format!("{} ({})", c.column, short(&c.what)))
            .collect()
    }

    fn refuse(&mut self, refusal: Refusal) {
        if self.is_accepted(&refusal.column) {
            self.accepted.push(refusal);
        } else {
            self.refusals.push(refusal);
        }
    }

    fn is_accepted(&self, column: &str) -> bool {
        is_accepted(&self.accept, column)
    }

    /// The query with the rewrites applied.
    pub(crate) fn select(&self, result_sql: &str) -> String {
        if self.rewrites.is_empty() {
            return result_sql.to_string();
        }
        let replace: Vec<String> = self
            .rewrites
            .iter()
            .map(|(column, expression)| format!("{expression} AS {}", sql_identifier(column)))
            .collect();
        format!("SELECT * REPLACE ({}) FROM ({result_sql}) AS exact_source", replace.join(", "))
    }

    /// Logs what was made exact and the accepted losses (a run that goes on
    /// must still say what it let through).
    pub(crate) fn log(&self) {
        for made in &self.made_exact {
            log::info!("made exact: {made}");
        }
        for accepted in &self.accepted {
            log::warn!("accepted loss (ACCEPT_LOSS_COLUMNS): {accepted}");
        }
    }

    /// The server-side counts, to run on another connection while the
    /// export runs.
    pub(crate) fn take_counts(&mut self) -> Counts {
        std::mem::take(&mut self.counts)
    }

    /// Adds what the counts or the file check found.
    pub(crate) fn add_found(&mut self, found: Vec<Refusal>) {
        for refusal in found {
            self.refuse(refusal);
        }
    }
}

/// Server-side counts of the rows whose values would change.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    queries: Vec<CountQuery>,
    accept: Vec<String>,
}

/// The checks of one `FROM` (a table, or the native query): whether any row
/// matches, then how many match each check.
#[derive(Debug)]
struct CountQuery {
    any: String,
    per_check: String,
    checks: Vec<RowCheck>,
}

impl Counts {
    /// One scan per `FROM`, however many columns; the statements as the
    /// server runs them (`pass_through`).
    fn new(
        checks: BTreeMap<String, Vec<RowCheck>>,
        knowledge: &dyn TypeKnowledge,
        pass_through: &dyn Fn(&str) -> String,
        accept: &[String],
    ) -> Counts {
        let queries = checks
            .into_iter()
            .map(|(from, checks)| {
                let conditions: Vec<String> = checks.iter().map(|c| c.condition.clone()).collect();
                // The common case is that nothing is found: one cheap filter
                // first, the counts per column only when it finds rows.
                let any = conditions.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" OR ");
                CountQuery {
                    any: pass_through(&format!("SELECT COUNT(*) AS found FROM {from} WHERE {any}")),
                    per_check: pass_through(&knowledge.count_query(&from, &conditions)),
                    checks,
                }
            })
            .collect();
        Counts { queries, accept: accept.to_vec() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Whether a refusal among `found` is not accepted (the export can stop).
    pub(crate) fn refuses(&self, found: &[Refusal]) -> bool {
        found.iter().any(|r| !is_accepted(&self.accept, &r.column))
    }

    /// Runs the counts; the columns with rows found.
    pub(crate) fn run(&self, conn: &Connection) -> Result<Vec<Refusal>> {
        let mut found = Vec::new();
        let failed = |e: duckdb::Error| super::errors::query_error(&e).context("checking the values that would change");
        for CountQuery { any, per_check, checks } in &self.queries {
            log::debug!("looking for values that would change: {any}");
            if conn.query_row(any, [], |row| row.get::<_, i64>(0)).map_err(failed)? == 0 {
                continue;
            }
            log::debug!("counting the values that would change: {per_check}");
            let counts: Vec<i64> = conn
                .query_row(per_check, [], |row| {
                    (0..checks.len()).map(|i| row.get::<_, Option<i64>>(i).map(|n| n.unwrap_or(0))).collect()
                })
                .map_err(failed)?;
            for (check, count) in checks.iter().zip(counts) {
                if count > 0 {
                    found.push(Refusal {
                        column: check.column.clone(),
                        source: check.source.clone(),
                        what: check.what.clone(),
                        rows: Some(count as u64),
                        counted_in: check.counted_in,
                        fix: check.fix.clone(),
                    });
                }
            }
        }
        Ok(found)
    }
}

/// Decides what to do about each column of the result (`columns`, from
/// DESCRIBE), asking the source's catalog where the kind knows its losses.
pub(crate) fn plan(
    conn: &Connection,
    settings: &SourceSettings,
    columns: &[Column],
    accept: &[String],
    pass_through: &dyn Fn(&str) -> String,
) -> Result<Plan> {
    let mut plan = Plan { accept: accept.to_vec(), ..Plan::default() };
    for refusal in result_type_losses(columns) {
        plan.refuse(refusal);
    }
    for column in columns {
        if let Some((expression, how)) = result_type_rewrite(column) {
            if plan.is_accepted(&column.name) {
                continue;
            }
            plan.rewrites.push((column.name.clone(), expression));
            plan.made_exact.push(format!("{} ({}): {how}", column.name, column.type_name));
        }
    }
    let Some(knowledge) = settings.kind.source_type().type_knowledge() else {
        return Ok(plan);
    };
    // Per `FROM` (a table, or the native query): what the server counts.
    let mut checks: BTreeMap<String, Vec<RowCheck>> = BTreeMap::new();
    let native = settings.dialect == QueryDialect::Native;
    if native {
        // The server runs the query itself: its result columns are counted,
        // so whatever the query already does about a value counts too.
        let from = format!("({}) AS exact_check", settings.query);
        for column in columns {
            for check in knowledge.result_checks(&column.type_name) {
                let condition = check.condition.replace("{}", &knowledge.quote(&column.name));
                let source = format!("{} from the query", column.type_name);
                let fix = check.fix.replace("<column>", &column.name);
                let row_check = RowCheck {
                    column: column.name.clone(),
                    source,
                    condition,
                    what: check.what,
                    fix,
                    counted_in: "of the result",
                };
                checks.entry(from.clone()).or_default().push(row_check);
            }
        }
    }
    let words = QueryWords::of(&settings.query);
    if words.names.is_empty() {
        plan.counts = Counts::new(checks, knowledge, pass_through, accept);
        return Ok(plan);
    }
    let names: Vec<String> = words.names.iter().map(|n| sql_literal(n)).collect();
    let mut catalog = Err(Error::new(ErrorKind::Internal, "no catalog query for this source kind"));
    for (i, sql) in knowledge.catalog_queries(&names).iter().enumerate() {
        match read_catalog(conn, &pass_through(sql)) {
            Ok(columns) => {
                catalog = Ok(columns);
                break;
            }
            Err(e) => {
                log::debug!("catalog query {} failed: {e}", i + 1);
                // The first one's error says most.
                if i == 0 {
                    catalog = Err(e);
                }
            }
        }
    }
    let catalog = catalog?;

    let by_name: BTreeMap<String, &Column> = columns.iter().map(|c| (c.name.to_lowercase(), c)).collect();
    let source_names: BTreeSet<String> = catalog.iter().map(|c| c.name.to_lowercase()).collect();
    // A result column no source column explains (an alias, an expression) may
    // hold any column the query mentions.
    let unexplained: Vec<String> = columns
        .iter()
        .filter(|c| !source_names.contains(&c.name.to_lowercase()))
        .map(|c| c.type_name.to_ascii_uppercase())
        .collect();
    let unexplained_as = |duckdb_type: &str| unexplained.iter().any(|t| t.starts_with(duckdb_type));
    for source in &catalog {
        let lower = source.name.to_lowercase();
        let same_name = by_name.get(&lower).copied();
        let mentioned = words.star || words.names.contains(&lower);
        let may_reach_another_column = mentioned && !unexplained.is_empty();
        if same_name.is_none() && !may_reach_another_column {
            continue;
        }
        let column = same_name.map(|c| c.name.clone()).unwrap_or_else(|| source.name.clone());
        for treatment in knowledge.treat(source, same_name.map(|c| c.type_name.as_str()), native) {
            match treatment {
                Treatment::Rewrite { arrives_as, .. } | Treatment::Lossy { arrives_as, .. }
                    if same_name.is_none() && !unexplained_as(arrives_as) => {}
                Treatment::Rewrite { expression, how, needs_spatial, .. } => match same_name {
                    Some(result) => {
                        plan.rewrites
                            .push((result.name.clone(), expression.replace("{}", &sql_identifier(&result.name))));
                        plan.made_exact.push(format!("{} ({}): {how}", result.name, source.describe()));
                        plan.needs_spatial |= needs_spatial;
                    }
                    None => plan.refuse(Refusal {
                        column: source.name.clone(),
                        source: source.describe(),
                        what: format!(
                            "it may reach the result under another name, where it cannot be made exact ({how})"
                        ),
                        fix: format!("select it under its own name ({} AS {})", source.name, source.name),
                        rows: None,
                        counted_in: "",
                    }),
                },
                Treatment::Lossy { what, fix, .. } => plan.refuse(Refusal {
                    column: column.clone(),
                    source: source.describe(),
                    what,
                    rows: None,
                    counted_in: "",
                    fix,
                }),
                // A native query's values are counted from its result (above).
                Treatment::Rows { .. } if native => {}
                Treatment::Rows { condition, what, fix } => {
                    let from = knowledge.table(&source.schema, &source.table);
                    let condition = condition.replace("{}", &knowledge.quote(&source.name));
                    let check = RowCheck {
                        column: column.clone(),
                        source: source.describe(),
                        condition,
                        what,
                        fix,
                        counted_in: "in the table",
                    };
                    checks.entry(from).or_default().push(check);
                }
            }
        }
    }
    plan.counts = Counts::new(checks, knowledge, pass_through, accept);
    Ok(plan)
}

fn read_catalog(conn: &Connection, sql: &str) -> Result<Vec<SourceColumn>> {
    let failed = |e: duckdb::Error| super::errors::query_error(&e).context("reading the source's column types");
    let mut stmt = conn.prepare(sql).map_err(failed)?;
    let rows = stmt
        .query_map([], |row| {
            Ok(SourceColumn {
                schema: row.get(0)?,
                table: row.get(1)?,
                name: row.get(2)?,
                type_name: row.get(3)?,
                srid: row.get::<_, Option<i64>>(4)?.unwrap_or(0),
            })
        })
        .map_err(failed)?;
    rows.collect::<std::result::Result<Vec<_>, _>>().map_err(failed)
}

/// What the result's DuckDB types lose in Parquet, whatever the source.
fn result_type_losses(columns: &[Column]) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for column in columns {
        let t = column.type_name.to_ascii_uppercase();
        let quoted = sql_identifier(&column.name);
        let (what, fix) = if t == "TIME WITH TIME ZONE" || t == "TIMETZ" {
            (
                "Parquet's TIME has no offset: each value would arrive converted to UTC with its offset dropped",
                format!("write CAST({quoted} AS VARCHAR) AS {quoted} to keep the offset (text such as 12:34:56+02)"),
            )
        } else {
            continue;
        };
        refusals.push(Refusal {
            column: column.name.clone(),
            source: format!("DuckDB type {}", column.type_name),
            what: what.to_string(),
            rows: None,
            counted_in: "",
            fix,
        });
    }
    refusals
}

/// Where DuckDB holds the exact value and only the Parquet writer would
/// change it: a rewrite that keeps it, or that stops the export with a
/// refusal when a value cannot be kept (DuckDB's `error()`, raised inside the
/// COPY, so nothing is read twice).
fn result_type_rewrite(column: &Column) -> Option<(String, String)> {
    let t = column.type_name.to_ascii_uppercase();
    let quoted = sql_identifier(&column.name);
    if t == "HUGEINT" || t == "UHUGEINT" {
        // Parquet has no 128-bit integer: DuckDB would write a rounded DOUBLE.
        // DECIMAL(38,0) holds every value below 10^38 exactly; a larger one
        // stops the export.
        let refusal = Refusal {
            column: column.name.clone(),
            source: format!("DuckDB type {}", column.type_name),
            what: "a value of 10^38 or more fits no exact Parquet number (DuckDB would write a rounded DOUBLE)".into(),
            rows: None,
            counted_in: "",
            fix: format!("write CAST({quoted} AS VARCHAR) AS {quoted} to keep every digit as text"),
        };
        let refuse = raise(&refusal);
        let limit = format!("'1{}'::{t}", "0".repeat(38));
        let below = if t == "HUGEINT" { format!(" OR {quoted} <= -{limit}") } else { String::new() };
        let expression =
            format!("CASE WHEN {quoted} >= {limit}{below} THEN {refuse} ELSE CAST({quoted} AS DECIMAL(38,0)) END");
        return Some((expression, "DECIMAL(38,0) instead of a rounded DOUBLE".into()));
    }
    if t == "INTERVAL" {
        let refusal = Refusal {
            column: column.name.clone(),
            source: format!("DuckDB type {}", column.type_name),
            what: "Parquet's INTERVAL holds months, days and milliseconds only: microseconds would be cut, \
                   a negative interval cannot be written"
                .into(),
            rows: None,
            counted_in: "",
            fix: format!("write CAST({quoted} AS VARCHAR) AS {quoted} (text) or epoch({quoted}) AS {quoted} (seconds)"),
        };
        let refuse = raise(&refusal);
        let expression = format!(
            "CASE WHEN epoch_us({quoted}) % 1000 <> 0 OR to_months(0) > {quoted} OR datepart('month', {quoted}) < 0 \
             OR datepart('day', {quoted}) < 0 OR datepart('microsecond', {quoted}) < 0 \
             THEN {refuse} ELSE {quoted} END"
        );
        return Some((expression, "checked while written: refused if a value has microseconds or is negative".into()));
    }
    None
}

/// DuckDB's `error()` with the refusal's message: stops the COPY at the
/// first value it cannot keep ([`raised_refusal`] finds it again).
fn raise(refusal: &Refusal) -> String {
    format!("error({})", sql_literal(refusal_error(std::slice::from_ref(refusal)).message()))
}

/// A refusal raised inside DuckDB (by [`result_type_rewrite`]'s `error()`),
/// found in a failed COPY's message.
pub(crate) fn raised_refusal(message: &str) -> Option<Error> {
    let start = message.find(REFUSED)?;
    Some(Error::new(ErrorKind::LossRefused, &message[start..]))
}

/// How every refusal message starts.
const REFUSED: &str = "refused, nothing uploaded:";

/// After the export: values the file holds that Parquet readers cannot read
/// back as the source's (infinite dates and timestamps), from the file's
/// own statistics (no second pass over the data); the rows are counted only
/// when there are some. Accepting them is the plan's ([`Plan::add_found`]).
pub(crate) fn check_file(conn: &Connection, file: &Path, columns: &[Column]) -> Result<Vec<Refusal>> {
    let dated: Vec<&Column> = columns
        .iter()
        .filter(|c| {
            let t = c.type_name.to_ascii_uppercase();
            t == "DATE" || t.starts_with("TIMESTAMP")
        })
        .collect();
    if dated.is_empty() {
        return Ok(Vec::new());
    }
    let literal = sql_literal(&path_str(file)?);
    let unreadable =
        |e: duckdb::Error| Error::new(ErrorKind::Verification, format!("cannot read back {}: {e}", file.display()));
    let reaching_infinity = infinite_in_statistics(conn, &literal, &dated).map_err(unreadable)?;
    let mut refusals = Vec::new();
    for column in dated.into_iter().filter(|c| reaching_infinity.contains(&c.name)) {
        let quoted = sql_identifier(&column.name);
        // DuckDB keeps ±infinity as the type's extreme values, and so does the
        // file; no finite date is that far out.
        let sql = format!(
            "SELECT count(*) FROM read_parquet({literal}) WHERE {quoted} IS NOT NULL AND NOT isfinite({quoted})",
        );
        let rows: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(unreadable)?;
        if rows == 0 {
            continue;
        }
        refusals.push(Refusal {
            column: column.name.clone(),
            source: format!("DuckDB type {}", column.type_name),
            what: "infinity / -infinity would be written as the type's extreme values, which Parquet readers reject \
                   or read as year 294247 / 5877641"
                .to_string(),
            rows: Some(rows as u64),
            counted_in: "in the file",
            fix: format!(
                "write CASE WHEN isfinite({quoted}) THEN {quoted} END AS {quoted} to upload them as NULL, \
                 or CAST({quoted} AS VARCHAR) AS {quoted} to keep them as text"
            ),
        });
    }
    Ok(refusals)
}

/// Which of `columns` have statistics in the file that reach ±infinity (or
/// none: then their rows are counted), in one read of the file's metadata.
fn infinite_in_statistics(
    conn: &Connection,
    literal: &str,
    columns: &[&Column],
) -> std::result::Result<BTreeSet<String>, duckdb::Error> {
    let names: Vec<String> = columns.iter().map(|c| sql_literal(&c.name)).collect();
    let sql = format!(
        "SELECT DISTINCT path_in_schema FROM parquet_metadata({literal}) WHERE path_in_schema IN ({}) \
         AND (stats_min IS NULL OR stats_max IS NULL OR stats_min LIKE '%infinity%' OR stats_max LIKE '%infinity%' \
              OR stats_min_value LIKE '%infinity%' OR stats_max_value LIKE '%infinity%')",
        names.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let hits = stmt.query_map([], |r| r.get::<_, String>(0))?;
    hits.collect()
}

/// The names a query's text mentions: every word and quoted identifier,
/// lower-cased (over-counting is safe: a name too many costs a catalog row,
/// a name too few could let a loss through), and whether it selects `*`.
#[derive(Debug, Default)]
struct QueryWords {
    names: BTreeSet<String>,
    star: bool,
}

impl QueryWords {
    fn of(query: &str) -> QueryWords {
        let mut words = QueryWords::default();
        let mut chars = query.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if c == '*' {
                words.star = true;
            } else if c == '"' || c == '`' {
                let mut name = String::new();
                while let Some((_, d)) = chars.next() {
                    if d == c {
                        if chars.peek().map(|&(_, e)| e) == Some(c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    name.push(d);
                }
                words.names.insert(name.to_lowercase());
            } else if c.is_alphabetic() || c == '_' {
                let mut end = start + c.len_utf8();
                while let Some(&(i, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '$' {
                        end = i + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                words.names.insert(query[start..end].to_lowercase());
            }
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_are_names_and_quoted_names() {
        let w = QueryWords::of(r#"SELECT "Geom""x", amount AS a FROM db.public.Parcels WHERE `b c` = 'x'"#);
        for name in ["geom\"x", "amount", "a", "db", "public", "parcels", "b c", "x", "select"] {
            assert!(w.names.contains(name), "{name} in {:?}", w.names);
        }
        assert!(!w.star);
        assert!(QueryWords::of("SELECT t.* FROM t").star);
    }

    #[test]
    fn a_refusal_says_column_type_rows_and_fix() {
        let r = Refusal {
            column: "amount".into(),
            source: "numeric(10,2) in public.t".into(),
            what: "NaN would arrive as 0.00".into(),
            rows: Some(3),
            counted_in: "in the table",
            fix: "write NULLIF(amount, 'NaN')".into(),
        };
        let e = refusal_error(&[r]);
        assert_eq!(e.exit_code(), 17);
        assert_eq!(
            e.message(),
            "refused, nothing uploaded: a column would arrive changed: column amount (numeric(10,2) in public.t): \
             3 rows in the table: NaN would arrive as 0.00; write NULLIF(amount, 'NaN'). To upload such a column as it arrives, \
             list it in ACCEPT_LOSS_COLUMNS"
        );
    }

    #[test]
    fn rewrites_replace_the_columns_by_name() {
        let plan =
            Plan { rewrites: vec![("g".into(), "CAST(\"g\" AS GEOMETRY('EPSG:25832'))".into())], ..Plan::default() };
        assert_eq!(
            plan.select("SELECT * FROM db.t"),
            "SELECT * REPLACE (CAST(\"g\" AS GEOMETRY('EPSG:25832')) AS \"g\") FROM (SELECT * FROM db.t) AS exact_source"
        );
        assert_eq!(Plan::default().select("SELECT 1"), "SELECT 1");
    }
}
