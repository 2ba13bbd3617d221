//! Tying result columns to the source columns they are read from: the
//! tables and columns DuckDB's plan scans, the source's catalog for them.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;

use super::{SourceColumn, SourceLeaf, TypeKnowledge};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::sql_identifier;
use crate::stages::Column;

/// The columns of the tables and views named `names` (SQL literals), from
/// the source's catalog: the kind's catalog queries, tried in order.
pub(super) fn catalog(
    conn: &Connection,
    knowledge: &dyn TypeKnowledge,
    names: &[String],
    pass_through: &dyn Fn(&str) -> String,
) -> Result<Vec<SourceColumn>> {
    let queries = knowledge.catalog_queries(names);
    if queries.is_empty() {
        // A kind without a catalog of its own (ODBC): judged by the result.
        return Ok(Vec::new());
    }
    let mut catalog = Err(Error::new(ErrorKind::Internal, "no catalog query for this source kind"));
    for (i, sql) in queries.iter().enumerate() {
        match read_catalog(conn, &pass_through(sql)) {
            Ok(columns) => return Ok(columns),
            Err(e) => {
                log::debug!("catalog query {} failed: {e}", i + 1);
                // The first one's error says most.
                if i == 0 {
                    catalog = Err(e);
                }
            }
        }
    }
    catalog
}

fn read_catalog(conn: &Connection, sql: &str) -> Result<Vec<SourceColumn>> {
    let failed = |e: duckdb::Error| crate::source::errors::query_error(&e).context("reading the source's column types");
    let mut stmt = conn.prepare(sql).map_err(failed)?;
    let rows = stmt
        .query_map([], |row| {
            let type_name: String = row.get(3)?;
            let leaves = if row.as_ref().column_count() > 5 { row.get::<_, Option<String>>(5)? } else { None };
            Ok(SourceColumn {
                schema: row.get(0)?,
                table: row.get(1)?,
                name: row.get(2)?,
                leaves: parse_leaves(leaves.as_deref(), &type_name),
                type_name,
                srid: row.get::<_, Option<i64>>(4)?.unwrap_or(0),
                from_result: false,
            })
        })
        .map_err(failed)?;
    rows.collect::<std::result::Result<Vec<_>, _>>().map_err(failed)
}

/// The leaves as a catalog query lists them: one a line, `.` in front of a
/// composite's field; none listed: the type itself.
fn parse_leaves(leaves: Option<&str>, type_name: &str) -> Vec<SourceLeaf> {
    let listed: Vec<SourceLeaf> = leaves
        .unwrap_or("")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| match l.strip_prefix('.') {
            Some(field) => SourceLeaf { type_name: field.to_string(), in_composite: true },
            None => SourceLeaf { type_name: l.to_string(), in_composite: false },
        })
        .collect();
    if listed.is_empty() {
        vec![SourceLeaf { type_name: type_name.to_string(), in_composite: false }]
    } else {
        listed
    }
}

/// The tables and columns DuckDB's plan for `query` scans, lower-case
/// (`None` when the plan cannot be read: the query's words stand in).
pub(super) fn scanned(conn: &Connection, query: &str) -> Option<BTreeSet<(String, String)>> {
    let plan: String = match conn.query_row(&format!("EXPLAIN (FORMAT json) {query}"), [], |r| r.get(1)) {
        Ok(plan) => plan,
        Err(e) => {
            log::debug!("cannot read the query's plan: {e}");
            return None;
        }
    };
    let plan: serde_json::Value = serde_json::from_str(&plan).ok()?;
    let mut found = BTreeSet::new();
    collect_scans(&plan, &mut found);
    // No scan found (a plan shape not known here): the words stand in.
    (!found.is_empty()).then_some(found)
}

fn collect_scans(node: &serde_json::Value, found: &mut BTreeSet<(String, String)>) {
    match node {
        serde_json::Value::Array(nodes) => nodes.iter().for_each(|n| collect_scans(n, found)),
        serde_json::Value::Object(fields) => {
            let info = fields.get("extra_info");
            if let Some(table) = info.and_then(|i| i.get("Table")).and_then(|t| t.as_str()) {
                let table = table.to_lowercase();
                match info.and_then(|i| i.get("Projections")) {
                    Some(serde_json::Value::Array(columns)) => {
                        for column in columns.iter().filter_map(|c| c.as_str()) {
                            found.insert((table.clone(), column.to_lowercase()));
                        }
                    }
                    Some(serde_json::Value::String(column)) => {
                        found.insert((table.clone(), column.to_lowercase()));
                    }
                    _ => {}
                }
            }
            if let Some(children) = fields.get("children") {
                collect_scans(children, found);
            }
        }
        _ => {}
    }
}

/// The DuckDB type the scanner reads each column of the catalog's tables as,
/// by lower-case (schema, table, column): what DuckDB's own catalog of the
/// attached source says. A table DuckDB cannot describe is left out (its
/// columns are then judged by their source types alone).
pub(super) fn scanner_types(conn: &Connection, catalog: &[SourceColumn]) -> BTreeMap<(String, String, String), String> {
    let tables: BTreeSet<(&str, &str)> =
        catalog.iter().filter(|c| !c.from_result).map(|c| (c.schema.as_str(), c.table.as_str())).collect();
    let mut types = BTreeMap::new();
    for (schema, table) in tables {
        let sql = format!(
            "SELECT column_name, column_type FROM (DESCRIBE {}.{}.{})",
            crate::source::CATALOG,
            sql_identifier(schema),
            sql_identifier(table)
        );
        let read = || -> std::result::Result<Vec<(String, String)>, duckdb::Error> {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        match read() {
            Ok(columns) => {
                for (column, duckdb_type) in columns {
                    types.insert((schema.to_lowercase(), table.to_lowercase(), column.to_lowercase()), duckdb_type);
                }
            }
            Err(e) => log::debug!("cannot read DuckDB's types of {schema}.{table}: {e}"),
        }
    }
    types
}

/// A native query's result columns as the server describes them (their
/// source types and leaves), by position; empty when the kind cannot
/// describe a result, and the server's reason when it could not.
pub(super) fn described(
    conn: &Connection,
    knowledge: &dyn TypeKnowledge,
    query: &str,
    columns: &[Column],
    pass_through: &dyn Fn(&str) -> String,
) -> std::result::Result<Vec<SourceColumn>, String> {
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let Some(sql) = knowledge.describe_result(query, &names) else {
        return Ok(Vec::new());
    };
    let read = || -> std::result::Result<Vec<SourceColumn>, duckdb::Error> {
        let mut stmt = conn.prepare(&pass_through(&sql))?;
        let rows = stmt.query_map([], |row| {
            let position: i64 = row.get(0)?;
            let type_name: String = row.get(1)?;
            let leaves: Option<String> = row.get(2)?;
            Ok((position, type_name, leaves))
        })?;
        let mut described = Vec::new();
        for row in rows {
            let (position, type_name, leaves) = row?;
            let Some(column) = usize::try_from(position - 1).ok().and_then(|i| columns.get(i)) else {
                continue;
            };
            described.push(SourceColumn {
                schema: String::new(),
                table: String::new(),
                name: column.name.clone(),
                leaves: parse_leaves(leaves.as_deref(), &type_name),
                type_name,
                srid: 0,
                from_result: true,
            });
        }
        Ok(described)
    };
    read().map_err(|e| {
        log::debug!("the server could not describe the query's result: {e}");
        // The server's own words, on one line; the connection string never
        // reaches them (the query runs on the held handle), cut anyway.
        let text = crate::source::odbc::cut_connection_string(&e.to_string());
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        line.chars().take(300).collect()
    })
}

/// The names a query's text mentions: every word and quoted identifier,
/// lower-cased (over-counting is safe: a name too many costs a catalog row,
/// a name too few could let a loss through), and whether it selects `*`.
#[derive(Debug, Default)]
pub(super) struct QueryWords {
    pub(super) names: BTreeSet<String>,
    pub(super) star: bool,
}

impl QueryWords {
    pub(super) fn of(query: &str) -> QueryWords {
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
    fn the_plan_names_the_scanned_tables_and_columns() {
        let plan: serde_json::Value = serde_json::from_str(
            r##"[{"name": "PROJECTION", "children": [{"name": "POSTGRES_SCAN", "children": [],
                "extra_info": {"Table": "T", "Projections": ["iv", "Id"]}},
                {"name": "MYSQL_SCAN", "children": [], "extra_info": {"Table": "m", "Projections": "d"}}],
                "extra_info": {"Projections": ["#1"]}}]"##,
        )
        .unwrap();
        let mut found = BTreeSet::new();
        collect_scans(&plan, &mut found);
        let expected: BTreeSet<(String, String)> =
            [("t", "iv"), ("t", "id"), ("m", "d")].iter().map(|(t, c)| (t.to_string(), c.to_string())).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn leaves_are_listed_one_a_line_with_composite_fields_marked() {
        assert_eq!(
            parse_leaves(Some("numeric\n.numeric(10,2)\n"), "comp"),
            vec![
                SourceLeaf { type_name: "numeric".into(), in_composite: false },
                SourceLeaf { type_name: "numeric(10,2)".into(), in_composite: true }
            ]
        );
        assert_eq!(parse_leaves(None, "int").len(), 1);
    }

    #[test]
    fn query_words_are_names_and_quoted_names() {
        let w = QueryWords::of(r#"SELECT "Geom""x", amount AS a FROM db.public.Parcels WHERE `b c` = 'x'"#);
        for name in ["geom\"x", "amount", "a", "db", "public", "parcels", "b c", "x", "select"] {
            assert!(w.names.contains(name), "{name} in {:?}", w.names);
        }
        assert!(!w.star);
        assert!(QueryWords::of("SELECT t.* FROM t").star);
    }
}
