//! Exact or refused: every value in the file is the source's value, or the
//! run stops before anything is uploaded, naming the column, what would
//! happen to it and what to write instead.
//!
//! A column reaches the file only if it is shown to arrive exact; otherwise
//! it is made exact, counted, or refused. Four places decide, one file each:
//! 1. `allowlist.rs`: the result's DuckDB types, walked down to their
//!    leaves, against the list of types Parquet holds exactly (anything not
//!    on it is refused; some are rewritten or checked while written);
//! 2. `sources.rs`: which source columns the result reads — DuckDB's plan
//!    names the scanned tables and columns, the server describes a native
//!    query's result — and their types from the source's own catalog, judged
//!    by the kind's [`TypeKnowledge`] (in that kind's file): made exact by a
//!    rewrite of the select list, refused, or counted;
//! 3. `counts.rs`: the risky rows, counted on the server while DuckDB copies;
//! 4. `file.rs`: the written file's own statistics, for values Parquet
//!    readers cannot read back (infinite dates, timestamps beyond DuckDB's
//!    range), with no second pass over the data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use duckdb::Connection;

use super::settings::{QueryDialect, SourceSettings};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::{sql_identifier, sql_literal};
use crate::stages::Column;

mod allowlist;
mod counts;
mod file;
mod scanned;
mod sources;

pub(crate) use allowlist::DuckType;
use counts::RowCheck;
pub(crate) use counts::{count_sql, Counts};
pub(crate) use file::check_file;
pub(crate) use scanned::{pair, ScannedPair};
use sources::QueryWords;

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
    /// The leaf types inside an array or composite type, as the source
    /// spells them (the type itself when it has none); `in_composite`: the
    /// leaf is a field of a composite type.
    pub(crate) leaves: Vec<SourceLeaf>,
    /// Described by the server as a column of a native query's result (not
    /// of a table): `schema` and `table` are empty.
    pub(crate) from_result: bool,
}

/// A leaf type of a source column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceLeaf {
    pub(crate) type_name: String,
    pub(crate) in_composite: bool,
}

impl SourceColumn {
    fn describe(&self) -> String {
        if self.from_result {
            format!("{} from the query", self.type_name)
        } else {
            format!("{} in {}.{}", self.type_name, self.schema, self.table)
        }
    }

    /// Whether the type has element or field types (an array, a composite).
    pub(crate) fn is_nested(&self) -> bool {
        self.leaves.len() != 1 || self.leaves[0].in_composite || self.leaves[0].type_name != self.type_name
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
    /// (srid a BIGINT, 0 where none) and optionally `leaves` (the leaf types
    /// of an array or composite, one a line, `.` in front of a composite's
    /// field) of the tables and views whose lower-case
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
    fn result_checks(&self, _duckdb_type: &DuckType) -> Vec<ResultCheck> {
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

    /// For a date or timestamp column: the condition (`{}` for the column)
    /// of its values that are really ±infinity, counted on the server only
    /// when the file holds the type's extreme values (a finite source value
    /// may be exactly DuckDB's infinity).
    fn infinity_condition(&self, _column: &SourceColumn) -> Option<String> {
        None
    }

    /// For a geometry column whose type declares no SRID: a statement the
    /// server runs giving `count(DISTINCT srid), min(srid)` of its values
    /// (one SRID across all of them makes the column exact with that CRS).
    fn srid_of_values(&self, _column: &SourceColumn) -> Option<String> {
        None
    }

    /// For a native query: a statement the server runs that describes the
    /// result's columns (`names`, in order) without reading a row, listing
    /// `position (1-based), type, leaves` as [`sources::described`] reads them;
    /// `None` where the kind cannot.
    fn describe_result(&self, _query: &str, _names: &[String]) -> Option<String> {
        None
    }

    /// What the driver does to a result column, judged by the DuckDB type it
    /// reports alone (ODBC: a generic driver, where a type says how the value
    /// was read): refused, rewritten or counted like a source column's.
    fn result_treatments(&self, _column: &Column) -> Vec<Treatment> {
        Vec::new()
    }

    /// Whether a native result the server cannot describe ([`Self::describe_result`])
    /// is refused (the description is what proves some of its columns exact).
    fn needs_description(&self) -> bool {
        false
    }

    /// A conversion error of the scanner explained with the columns it may
    /// come from; `None` when the message is not one this kind knows.
    fn explain_conversion_error(&self, _message: &str, _columns: &[Column]) -> Option<String> {
        None
    }

    /// The result columns whose values the scanner itself may be unable to
    /// read: it stops the copy, and its error becomes these refusals. No
    /// check runs before the copy for them (it would cost a scan for what
    /// the copy finds anyway); `check` names them.
    fn scan_refusals(&self, _columns: &[Column], _native: bool) -> Vec<ScanRefusal> {
        Vec::new()
    }
}

/// A result column the scanner may stop on (see
/// [`TypeKnowledge::scan_refusals`]).
pub(crate) struct ScanRefusal {
    pub(crate) refusal: Refusal,
    /// Whether a copy's error message is the scanner stopping on this column.
    pub(crate) stops_with: fn(&str) -> bool,
}

/// A copy's error as the refusals of the columns it may come from; empty
/// when the scanner's message is not one the kind knows.
pub(crate) fn refuse_scan_error(
    knowledge: &dyn TypeKnowledge,
    message: &str,
    columns: &[Column],
    native: bool,
) -> Vec<Refusal> {
    knowledge
        .scan_refusals(columns, native)
        .into_iter()
        .filter(|s| (s.stops_with)(message))
        .map(|s| s.refusal)
        .collect()
}

/// A count over a native query's result column: `condition` with `{}` for
/// the column.
#[derive(Debug, Clone)]
pub(crate) struct ResultCheck {
    pub(crate) condition: String,
    pub(crate) what: String,
    pub(crate) fix: String,
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
    /// Per result column: the server's count of its real ±infinity values,
    /// run only when the file holds the type's extreme values.
    infinity_counts: Vec<(String, String)>,
    accept: Vec<String>,
}

impl Plan {
    /// What the server counts before the export, for `check`.
    pub(crate) fn counted(&self) -> Vec<String> {
        self.counts.described()
    }

    fn refuse(&mut self, refusal: Refusal) {
        // The same loss found twice (by name and by the result's description).
        let same = |r: &Refusal| r.column == refusal.column && r.what == refusal.what;
        if self.refusals.iter().chain(&self.accepted).any(same) {
            return;
        }
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
        let replacements: Vec<(&str, String)> =
            self.rewrites.iter().map(|(column, expression)| (column.as_str(), expression.clone())).collect();
        crate::sql::replace_columns(result_sql, &replacements, "exact_source")
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

    /// Drops the file check's infinity refusals of the columns whose
    /// extreme values the server says are finite source values.
    pub(crate) fn confirm_infinities(&self, conn: &Connection, found: Vec<Refusal>) -> Result<Vec<Refusal>> {
        let mut kept = Vec::new();
        for refusal in found {
            let count = self.infinity_counts.iter().find(|(c, _)| *c == refusal.column).map(|(_, sql)| sql);
            if let (Some(sql), true) = (count, refusal.what.starts_with("infinity")) {
                log::debug!("counting the infinite values of {} on the server: {sql}", refusal.column);
                let failed = |e: duckdb::Error| {
                    super::errors::query_error(&e)
                        .context(format!("counting the infinite values of {}", refusal.column))
                };
                // A count that cannot run keeps the refusal.
                let infinite = conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(failed);
                if let Err(e) = &infinite {
                    log::debug!("{e}");
                }
                if infinite.is_ok_and(|n| n == 0) {
                    log::info!(
                        "{}: the file's extreme values are the source's own finite values, not infinity",
                        refusal.column
                    );
                    continue;
                }
            }
            kept.push(refusal);
        }
        Ok(kept)
    }

    /// Adds what the counts or the file check found.
    pub(crate) fn add_found(&mut self, found: Vec<Refusal>) {
        for refusal in found {
            self.refuse(refusal);
        }
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
    // 1. The allowlist's Parquet half: every result column, from its type.
    for column in columns {
        let decision = allowlist::decide(column);
        for refusal in decision.refusals {
            plan.refuse(refusal);
        }
        if let Some((expression, how)) = decision.rewrite {
            if plan.is_accepted(&column.name) {
                continue;
            }
            plan.rewrites.push((column.name.clone(), expression));
            plan.made_exact.push(format!("{} ({}): {how}", column.name, column.type_name));
        }
    }
    let Some(knowledge) = settings.kind.source_type().type_knowledge(settings) else {
        return Ok(plan);
    };
    // Per `FROM` (a table, or the native query): what the server counts.
    let mut checks: BTreeMap<String, Vec<RowCheck>> = BTreeMap::new();
    let native = settings.dialect == QueryDialect::Native;
    let mut catalog = Vec::new();
    let mut scanned = None;
    if native {
        // The server runs the query itself: its result columns are counted,
        // so whatever the query already does about a value counts too.
        let from = format!("({}\n) AS exact_check", settings.query);
        for column in columns {
            for check in knowledge.result_checks(&DuckType::parse(&column.type_name)) {
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
        // The result's types as the server describes them, so that a column
        // under any name, an aggregate or an expression is judged by its
        // source type.
        let described = match sources::described(conn, knowledge, &settings.query, columns, pass_through) {
            Ok(described) => described,
            Err(why) if knowledge.needs_description() => {
                for column in columns {
                    plan.refuse(Refusal {
                        column: column.name.clone(),
                        source: format!("DuckDB type {} from the driver", column.type_name),
                        what: format!(
                            "the server could not describe the query's result ({why}), and the driver's types alone \
                             do not prove the values exact"
                        ),
                        rows: None,
                        counted_in: "",
                        fix: "write the query as one plain SELECT the server can run as a subquery".into(),
                    });
                }
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        catalog.extend(described);
        // What the driver does, by the type it reports.
        for column in columns {
            for treatment in knowledge.result_treatments(column) {
                let source = format!("DuckDB type {} from the driver", column.type_name);
                match treatment {
                    Treatment::Lossy { what, fix, .. } => plan.refuse(Refusal {
                        column: column.name.clone(),
                        source,
                        what,
                        rows: None,
                        counted_in: "",
                        fix,
                    }),
                    Treatment::Rows { condition, what, fix } => {
                        let condition = condition.replace("{}", &knowledge.quote(&column.name));
                        let check = RowCheck {
                            column: column.name.clone(),
                            source,
                            condition,
                            what,
                            fix,
                            counted_in: "of the result",
                        };
                        checks.entry(from.clone()).or_default().push(check);
                    }
                    Treatment::Rewrite { expression, how, .. } => {
                        if plan.is_accepted(&column.name) || plan.rewrites.iter().any(|(c, _)| c == &column.name) {
                            continue;
                        }
                        plan.rewrites
                            .push((column.name.clone(), expression.replace("{}", &sql_identifier(&column.name))));
                        plan.made_exact.push(format!("{} ({}): {how}", column.name, column.type_name));
                    }
                }
            }
        }
    } else {
        scanned = sources::scanned(conn, &settings.query);
    }
    let words = QueryWords::of(&settings.query);
    let mut names: BTreeSet<String> = words.names.clone();
    if let Some(scanned) = &scanned {
        names.extend(scanned.iter().map(|(table, _)| table.clone()));
    }
    if !names.is_empty() {
        let names: Vec<String> = names.iter().map(|n| sql_literal(n)).collect();
        catalog.extend(sources::catalog(conn, knowledge, &names, pass_through)?);
    }

    // The source half of the allowlist: how the scanner reads each table
    // column (a native query's values are read from its result instead).
    let pairs = settings.kind.facts().scanned;
    let scanner_types =
        if native || pairs.is_empty() { BTreeMap::new() } else { sources::scanner_types(conn, &catalog) };

    let by_name: BTreeMap<String, &Column> = columns.iter().map(|c| (c.name.to_lowercase(), c)).collect();
    let source_names: BTreeSet<String> =
        catalog.iter().filter(|c| !c.from_result).map(|c| c.name.to_lowercase()).collect();
    // A result column no source column explains (an alias, an expression, a
    // positional or whole-row reference) may hold any column the query reads.
    let unexplained: Vec<DuckType> = columns
        .iter()
        .filter(|c| !source_names.contains(&c.name.to_lowercase()))
        .map(|c| DuckType::parse(&c.type_name))
        .collect();
    let unexplained_as = |duckdb_type: &str| unexplained.iter().any(|t| t.has_leaf(duckdb_type));
    // Per result column: its type when no source column explains it.
    let unexplained_columns: Vec<Option<DuckType>> = columns
        .iter()
        .map(|c| (!source_names.contains(&c.name.to_lowercase())).then(|| DuckType::parse(&c.type_name)))
        .collect();
    for source in &catalog {
        let lower = source.name.to_lowercase();
        let same_name = by_name.get(&lower).copied();
        let mentioned = match &scanned {
            // DuckDB's plan says which columns of which tables it reads.
            Some(scanned) => scanned.contains(&(source.table.to_lowercase(), lower.clone())),
            None => words.star || words.names.contains(&lower),
        };
        if scanned.is_some() && !mentioned {
            continue;
        }
        let may_reach_another_column = mentioned && !unexplained.is_empty() && !source.from_result;
        if same_name.is_none() && !may_reach_another_column {
            continue;
        }
        let column = same_name.map(|c| c.name.clone()).unwrap_or_else(|| source.name.clone());
        let key = (source.schema.to_lowercase(), source.table.to_lowercase(), lower.clone());
        if let Some(scanned_as) = scanner_types.get(&key) {
            if !scanned::is_proven(pairs, &source.type_name, scanned_as) {
                let reached = DuckType::parse(scanned_as).leaves().first().is_some_and(|l| unexplained_as(l));
                if same_name.is_some() || reached {
                    plan.refuse(unproven_pair(&column, source, scanned_as, settings.kind.facts().text_cast));
                }
                // What the kind knows of its type is about the pairs it has seen.
                continue;
            }
        }
        // Under another name: which result columns may hold it, said in the message.
        let reaches = |arrives_as: Option<&str>| -> String {
            if same_name.is_some() {
                return String::new();
            }
            let held: Vec<String> = columns
                .iter()
                .zip(&unexplained_columns)
                .filter(|(_, t)| t.as_ref().is_some_and(|t| arrives_as.is_none_or(|a| t.has_leaf(a))))
                .map(|(c, _)| format!("column {} ({})", c.name, c.type_name))
                .collect();
            if held.is_empty() {
                String::new()
            } else {
                format!(" (it may reach the result as {})", held.join(" or "))
            }
        };
        if let (Some(result), Some(condition)) = (same_name, knowledge.infinity_condition(source)) {
            let from = if native {
                format!("({}\n) AS exact_check", settings.query)
            } else {
                knowledge.table(&source.schema, &source.table)
            };
            let condition = condition.replace("{}", &knowledge.quote(&source.name));
            let sql = pass_through(&format!("SELECT COUNT(*) AS infinite FROM {from} WHERE {condition}"));
            if !plan.infinity_counts.iter().any(|(c, _)| c == &result.name) {
                plan.infinity_counts.push((result.name.clone(), sql));
            }
        }
        let (source, srid_from_values) = srid_from_values(conn, knowledge, source, pass_through);
        let source = &source;
        for treatment in knowledge.treat(source, same_name.map(|c| c.type_name.as_str()), native) {
            match treatment {
                Treatment::Rewrite { arrives_as, .. } | Treatment::Lossy { arrives_as, .. }
                    if same_name.is_none() && !unexplained_as(arrives_as) => {}
                Treatment::Rewrite { .. } if source.from_result => {}
                Treatment::Rewrite { expression, how, needs_spatial, .. } => match same_name {
                    Some(result) => {
                        if plan.rewrites.iter().any(|(c, _)| c == &result.name) {
                            continue;
                        }
                        plan.rewrites
                            .push((result.name.clone(), expression.replace("{}", &sql_identifier(&result.name))));
                        let how = match srid_from_values {
                            true => format!("{how} (every value carries SRID {}, counted on the server)", source.srid),
                            false => how,
                        };
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
                Treatment::Lossy { what, fix, arrives_as } => plan.refuse(Refusal {
                    column: column.clone(),
                    source: source.describe(),
                    what: format!("{what}{}", reaches(Some(arrives_as))),
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
                        what: format!("{what}{}", reaches(None)),
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

/// A column read through a (source type → DuckDB type) pair that is not on
/// its kind's list: nothing shows that its values arrive unchanged.
fn unproven_pair(column: &str, source: &SourceColumn, scanned_as: &str, text_cast: &str) -> Refusal {
    let text = text_cast.replace("{}", column);
    Refusal {
        column: column.to_string(),
        source: source.describe(),
        what: format!(
            "DuckDB's scanner reads {} as {scanned_as}, a pair not proven exact (docs/type-mapping.md lists the proven \
             ones)",
            source.type_name
        ),
        rows: None,
        counted_in: "",
        fix: format!(
            "set SOURCE_DATABASE_QUERY_DIALECT=native and write {text} AS {column} to upload the server's text"
        ),
    }
}

/// A geometry column without a declared SRID whose values all carry the
/// same one, counted on the server: the column with that SRID.
fn srid_from_values(
    conn: &Connection,
    knowledge: &dyn TypeKnowledge,
    source: &SourceColumn,
    pass_through: &dyn Fn(&str) -> String,
) -> (SourceColumn, bool) {
    let mut source = source.clone();
    let Some(sql) = knowledge.srid_of_values(&source) else {
        return (source, false);
    };
    log::debug!("counting the SRIDs of {}: {sql}", source.name);
    match conn.query_row(&pass_through(&sql), [], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))) {
        Ok((Some(1), Some(srid))) if srid > 0 => {
            source.srid = srid;
            (source, true)
        }
        Ok(_) => (source, false),
        Err(e) => {
            log::debug!("cannot count the SRIDs of {}: {e}", source.name);
            (source, false)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
