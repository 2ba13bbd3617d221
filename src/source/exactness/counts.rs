//! Counts on the server: the rows whose values would change, counted in
//! one scan per table (or over a native query's result) while DuckDB copies.

use std::collections::BTreeMap;

use duckdb::Connection;

use super::{is_accepted, Refusal, TypeKnowledge};
use crate::error::Result;

/// A check statement the server refused, with the columns it checks.
fn failed(e: &duckdb::Error, checks: &[RowCheck]) -> crate::error::Error {
    let mut columns: Vec<&str> = checks.iter().map(|c| c.column.as_str()).collect();
    columns.dedup();
    crate::source::errors::query_error(e)
        .context(format!("checking the values that would change in column(s) {}", columns.join(", ")))
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

/// A server-side count that refuses a column when it finds rows.
#[derive(Debug, Clone)]
pub(super) struct RowCheck {
    pub(super) column: String,
    pub(super) source: String,
    /// The condition with the column filled in, as the server reads it.
    pub(super) condition: String,
    pub(super) what: String,
    pub(super) fix: String,
    pub(super) counted_in: &'static str,
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
    /// `any` planned by the server but not run (for `check`).
    probe: String,
    per_check: String,
    checks: Vec<RowCheck>,
}

impl Counts {
    /// One scan per `FROM`, however many columns; the statements as the
    /// server runs them (`pass_through`).
    pub(super) fn new(
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
                let any = format!("SELECT COUNT(*) AS found FROM {from} WHERE {any}");
                CountQuery {
                    probe: pass_through(&format!("SELECT * FROM ({any}) AS exact_probe LIMIT 0")),
                    any: pass_through(&any),
                    per_check: pass_through(&knowledge.count_query(&from, &conditions)),
                    checks,
                }
            })
            .collect();
        Counts { queries, accept: accept.to_vec() }
    }

    /// What is counted, for `check`: column (what, without its explanation
    /// in brackets, to keep the line short).
    pub(crate) fn described(&self) -> Vec<String> {
        let short = |what: &str| what.split(" (").next().unwrap_or(what).to_string();
        self.queries.iter().flat_map(|q| &q.checks).map(|c| format!("{} ({})", c.column, short(&c.what))).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Whether a refusal among `found` is not accepted (the export can stop).
    pub(crate) fn refuses(&self, found: &[Refusal]) -> bool {
        found.iter().any(|r| !is_accepted(&self.accept, &r.column))
    }

    /// Has the server plan each count without running it: a statement that
    /// cannot run fails `check`, naming its columns.
    pub(crate) fn probe(&self, conn: &Connection) -> Result<()> {
        for CountQuery { probe, checks, .. } in &self.queries {
            log::debug!("planning the check: {probe}");
            let mut stmt = conn.prepare(probe).map_err(|e| failed(&e, checks))?;
            stmt.query([]).map_err(|e| failed(&e, checks))?.next().map_err(|e| failed(&e, checks))?;
        }
        Ok(())
    }

    /// Runs the counts; the columns with rows found.
    pub(crate) fn run(&self, conn: &Connection) -> Result<Vec<Refusal>> {
        let mut found = Vec::new();
        for CountQuery { any, per_check, checks, .. } in &self.queries {
            let failed = |e: duckdb::Error| failed(&e, checks);
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
