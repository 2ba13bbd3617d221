//! Checks on the written file: values it holds that Parquet readers cannot
//! read back as the source's, from the file's own statistics.

use std::path::Path;

use duckdb::Connection;

use super::{DuckType, Refusal};
use crate::error::{Error, ErrorKind, Result};
use crate::source::engine::path_str;
use crate::sql::{sql_identifier, sql_literal};
use crate::stages::Column;

/// After the export: values the file holds that Parquet readers cannot read
/// back as the source's (infinite dates and timestamps; from a database
/// server, timestamps beyond DuckDB's range, which wrap around to a year
/// near 290000 BC), from the file's own statistics (no second pass over the
/// data); the rows are counted only when there are some. Accepting them is
/// the plan's ([`super::Plan::add_found`]).
pub(crate) fn check_file(conn: &Connection, file: &Path, columns: &[Column], server: bool) -> Result<Vec<Refusal>> {
    let dated: Vec<&Column> = columns
        .iter()
        .filter(|c| {
            let t = DuckType::parse(&c.type_name);
            t.has_leaf("DATE") || t.has_leaf("TIMESTAMP")
        })
        .collect();
    if dated.is_empty() {
        return Ok(Vec::new());
    }
    let literal = sql_literal(&path_str(file)?);
    let unreadable =
        |e: duckdb::Error| Error::new(ErrorKind::Verification, format!("cannot read back {}: {e}", file.display()));
    let (hits, unreadable_columns) = match suspicious_statistics(conn, &literal, None) {
        Ok(hits) => (hits, Vec::new()),
        // A timestamp so far beyond DuckDB's range that its statistics cannot
        // even be printed: each column is read on its own to find which.
        Err(e) if e.to_string().contains("out of range") => {
            let (mut hits, mut out_of_range) = (Vec::new(), Vec::new());
            for column in &dated {
                match suspicious_statistics(conn, &literal, Some(&column.name)) {
                    Ok(found) => hits.extend(found),
                    Err(e) if e.to_string().contains("out of range") => out_of_range.push(column.name.clone()),
                    Err(e) => return Err(unreadable(e)),
                }
            }
            (hits, out_of_range)
        }
        Err(e) => return Err(unreadable(e)),
    };
    let of_column = |column: &Column, wanted: fn(&Hit) -> bool| {
        hits.iter().filter(|h| wanted(h)).any(|h| {
            h.path == column.name || h.path.strip_prefix(&column.name).is_some_and(|rest| rest.starts_with(", "))
        })
    };
    let mut refusals = Vec::new();
    for column in dated {
        let quoted = sql_identifier(&column.name);
        let nested = DuckType::parse(&column.type_name).is_nested();
        if unreadable_columns.contains(&column.name) || (server && of_column(column, |h| h.wrapped)) {
            refusals.push(Refusal {
                column: column.name.clone(),
                source: format!("DuckDB type {}", column.type_name),
                what: "a timestamp after 294247-01-10 is beyond DuckDB's range and would arrive wrapped around to a \
                       date near 290000 BC"
                    .to_string(),
                rows: None,
                counted_in: "",
                fix: format!(
                    "set SOURCE_DATABASE_QUERY_DIALECT=native and write CAST({quoted} AS text) AS {quoted} to keep \
                     them as text, or leave those rows out"
                ),
            });
            continue;
        }
        let reaches_infinity = of_column(column, |h| h.infinite) || (!nested && of_column(column, |h| h.unknown));
        if !reaches_infinity {
            continue;
        }
        // DuckDB keeps ±infinity as the type's extreme values, and so does the
        // file; no finite date is that far out.
        let rows = if nested {
            None
        } else {
            let sql = format!(
                "SELECT count(*) FROM read_parquet({literal}) WHERE {quoted} IS NOT NULL AND NOT isfinite({quoted})",
            );
            let rows: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(unreadable)?;
            if rows == 0 {
                continue;
            }
            Some(rows as u64)
        };
        refusals.push(Refusal {
            column: column.name.clone(),
            source: format!("DuckDB type {}", column.type_name),
            what: "infinity / -infinity would be written as the type's extreme values, which Parquet readers reject \
                   or read as year 294247 / 5877641"
                .to_string(),
            rows,
            counted_in: "in the file",
            fix: if nested {
                format!("write CAST({quoted} AS VARCHAR) AS {quoted} to keep them as text")
            } else {
                format!(
                    "write CASE WHEN isfinite({quoted}) THEN {quoted} END AS {quoted} to upload them as NULL, \
                     or CAST({quoted} AS VARCHAR) AS {quoted} to keep them as text"
                )
            },
        });
    }
    Ok(refusals)
}

/// A column chunk whose statistics reach ±infinity (or that has none: then
/// its rows are counted), or a year before 4714 BC, which no PostgreSQL or
/// MySQL value has: a timestamp beyond DuckDB's range, wrapped around.
struct Hit {
    path: String,
    /// No statistics: the rows are counted (top-level columns).
    unknown: bool,
    infinite: bool,
    wrapped: bool,
}

/// The suspicious column chunks, in one read of the file's metadata.
fn suspicious_statistics(
    conn: &Connection,
    literal: &str,
    column: Option<&str>,
) -> std::result::Result<Vec<Hit>, duckdb::Error> {
    let only = match column {
        Some(name) => format!(
            "WHERE path_in_schema = {name} OR starts_with(path_in_schema, {prefix})",
            name = sql_literal(name),
            prefix = sql_literal(&format!("{name}, "))
        ),
        None => String::new(),
    };
    let sql = format!(
        "SELECT path_in_schema, bool_or(stats_min IS NULL OR stats_max IS NULL), bool_or(stats_min LIKE '%infinity%' \
         OR stats_max LIKE '%infinity%' OR stats_min_value LIKE '%infinity%' OR stats_max_value LIKE '%infinity%'), \
         bool_or(coalesce(stats_min_value LIKE '%(BC)%' \
         AND TRY_CAST(split_part(stats_min_value, '-', 1) AS BIGINT) >= 4714, false)) \
         FROM parquet_metadata({literal}) {only} GROUP BY path_in_schema"
    );
    let mut stmt = conn.prepare(&sql)?;
    let hits = stmt.query_map([], |r| {
        Ok(Hit {
            path: r.get(0)?,
            unknown: r.get::<_, Option<bool>>(1)?.unwrap_or(true),
            infinite: r.get::<_, Option<bool>>(2)?.unwrap_or(false),
            wrapped: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
        })
    })?;
    hits.collect()
}
