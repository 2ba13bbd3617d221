//! PostgreSQL through DuckDB's postgres extension.

use duckdb::Connection;

use super::connect::{attach_as_catalog, connection_string, DriverKeys};
use super::exactness::{
    count_sql, pair, DuckType, Refusal, ResultCheck, ScanRefusal, ScannedPair, SourceColumn, Treatment, TypeKnowledge,
};
use super::kind::{Facts, ServerCancelStatement, SourceType};
use super::settings::{QueryDialect, SourceSettings};
use super::CATALOG;
use crate::error::Result;
use crate::sql::{sql_identifier, sql_literal};
use crate::stages::Column;

pub(crate) struct Postgres;

const FACTS: Facts = Facts {
    names: &["postgres", "postgresql"],
    listed_names: &["postgres"],
    display_name: "PostgreSQL",
    default_port: Some(5432),
    ssl_modes: &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
    extension: Some("postgres_scanner"),
    scanned: SCANNED,
    text_cast: "{}::text",
    ..Facts::SERVER
};

/// What DuckDB's PostgreSQL scanner (1.5.5) reads each type as, every pair
/// it produces for the server's catalogue (PostgreSQL 15 with PostGIS). An
/// array is read as a list of its element's pair; a domain, like every type
/// the scanner has no type of its own for, as the server's text.
const SCANNED: &[ScannedPair] = &[
    pair("boolean", "BOOLEAN", "exact"),
    pair("smallint", "SMALLINT", "exact"),
    pair("integer", "INTEGER", "exact"),
    pair("bigint", "BIGINT", "exact"),
    pair("oid", "UINTEGER", "exact"),
    pair("real", "FLOAT", "exact"),
    pair("double precision", "DOUBLE", "exact"),
    pair("numeric(*)", "DECIMAL(*)", "exact, `NaN` counted; a scale beyond the precision made exact"),
    pair("numeric(*,-*)", "DECIMAL(*)", "a negative scale: refused with the cast to write"),
    pair("numeric", "DOUBLE", "**refused**: rounded"),
    pair("numeric(*)", "DOUBLE", "more than 38 digits: **refused**, rounded"),
    pair("bytea", "BLOB", "exact"),
    pair("uuid", "UUID", "exact"),
    pair("date", "DATE", "exact; infinity refused"),
    pair("time without time zone", "TIME", "exact"),
    pair("time(*) without time zone", "TIME", "exact"),
    pair("time with time zone", "TIME WITH TIME ZONE", "**refused** (Parquet keeps no offset)"),
    pair("time(*) with time zone", "TIME WITH TIME ZONE", "**refused** (Parquet keeps no offset)"),
    pair("timestamp without time zone", "TIMESTAMP", "exact; infinity and DuckDB's range checked"),
    pair("timestamp(*) without time zone", "TIMESTAMP", "exact; as above"),
    pair("timestamp with time zone", "TIMESTAMP WITH TIME ZONE", "the instant exact; as above"),
    pair("timestamp(*) with time zone", "TIMESTAMP WITH TIME ZONE", "the instant exact; as above"),
    pair("interval*", "INTERVAL", "exact; checked while written"),
    pair("geometry*", "GEOMETRY", "made exact (GeoParquet with the SRID's CRS)"),
    pair("point", "STRUCT(x DOUBLE, y DOUBLE)", "exact (the coordinates)"),
    pair("lseg", "DOUBLE[]", "exact (the coordinates)"),
    pair("box", "DOUBLE[]", "exact (the coordinates)"),
    pair("line", "DOUBLE[]", "exact (the coefficients)"),
    pair("polygon", "DOUBLE[]", "exact (the coordinates)"),
    pair("circle", "DOUBLE[]", "exact (centre and radius)"),
    pair("path", "DOUBLE[]", "**refused**: open or closed is lost"),
    pair("*", "ENUM(*)", "an enum type: its label"),
    pair("*", "STRUCT(*)", "a composite type: each field judged as above"),
    pair("*", "VARCHAR", "the server's text of the value (`money`, `geography`, `\"char\"`: **refused**)"),
];

impl SourceType for Postgres {
    fn facts(&self) -> &'static Facts {
        &FACTS
    }

    /// The run's tag as `application_name` (unless SOURCE_DATABASE_OPTIONS
    /// sets one), by which a signal finds the statement to cancel.
    fn prepare(&self, settings: &mut SourceSettings, tag: &str) {
        if !settings.options.iter().any(|(k, _)| k == "application_name") {
            settings.options.push(("application_name".into(), tag.to_string()));
        }
    }

    fn tuning(&self, dialect: QueryDialect) -> &'static [&'static str] {
        match dialect {
            // The PostgreSQL scanner reads a table as parallel ctid ranges. With
            // insertion order preserved, COPY buffers every range's rows until the
            // ones before it are written; without, each thread writes its own row
            // groups. 1M-row table, 2 threads: 1.06–1.12 s / 253–284 MB peak RSS
            // instead of 1.08–1.23 s / 301–324 MB. Only the order of an unordered
            // result changes: DuckDB still keeps a query's ORDER BY (the plan has a
            // fixed order, tests/it/ordering.rs). Not for the native dialect, where an
            // ORDER BY inside postgres_query() is invisible to DuckDB.
            QueryDialect::DuckDb => &["SET preserve_insertion_order = false"],
            QueryDialect::Native => &[],
        }
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        let attach = format!("ATTACH {} AS {CATALOG} (TYPE postgres, READ_ONLY)", sql_literal(&conninfo(settings)));
        attach_as_catalog(conn, settings, &attach)
    }

    fn echoed(&self, settings: &SourceSettings) -> Vec<String> {
        vec![conninfo(settings)]
    }

    fn pass_through(&self, native_query: &str) -> Option<String> {
        Some(format!("SELECT * FROM postgres_query({}, {})", sql_literal(CATALOG), sql_literal(native_query)))
    }

    fn server_cancel(&self) -> Option<&dyn ServerCancelStatement> {
        Some(self)
    }

    fn login_hint(&self, lower: &str) -> Option<&'static str> {
        // A missing user, database or password is told apart by connect::login_hint.
        if lower.contains("no password supplied") {
            Some("check SOURCE_DATABASE_PASSWORD (or SOURCE_DATABASE_PASSWORD_FILE)")
        } else if lower.contains("no pg_hba.conf entry") {
            Some(
                "check SOURCE_DATABASE_USER, SOURCE_DATABASE_NAME and SOURCE_DATABASE_SSL_MODE: the server's pg_hba.conf \
                 admits no such connection from this host",
            )
        } else {
            None
        }
    }

    fn type_knowledge(&self, _settings: &SourceSettings) -> Option<&dyn TypeKnowledge> {
        Some(self)
    }
}

/// How to read a NaN or a wide number exactly: on the server, in the native dialect.
const NATIVE: &str = "set SOURCE_DATABASE_QUERY_DIALECT=native and write";

/// What DuckDB's PostgreSQL scanner (1.5.5) changes. Infinite dates and
/// timestamps and `timetz` are Parquet's limits, checked for every kind
/// (exactness.rs); what is left is the scanner's own.
impl TypeKnowledge for Postgres {
    fn catalog_queries(&self, names: &[String]) -> Vec<String> {
        // The SRID of a PostGIS column is in its type modifier (PostGIS'
        // TYPMOD_GET_SRID); reading it there needs no PostGIS function, so the
        // query runs on servers without PostGIS too.
        let columns = format!(
            "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)::text, \
             CASE WHEN t.typname IN ('geometry', 'geography') AND a.atttypmod > 0 \
             THEN ((a.atttypmod & 268435200) - (a.atttypmod & 134217728)) >> 8 ELSE 0 END::bigint, \
             a.atttypid, a.atttypmod \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND (n.nspname = ANY (current_schemas(false)) OR lower(n.nspname) IN ({list})) \
             AND lower(c.relname) IN ({list})",
            list = names.join(", ")
        );
        vec![with_leaves(&columns, "c.s, c.r, c.col, c.type_name, c.srid")]
    }

    fn infinity_condition(&self, column: &SourceColumn) -> Option<String> {
        let t = column.type_name.as_str();
        // Top-level only: isfinite() takes no array.
        let dated = (t == "date" || t.starts_with("timestamp")) && !column.is_nested();
        dated.then(|| "NOT isfinite({})".to_string())
    }

    fn describe_result(&self, query: &str, names: &[String]) -> Option<String> {
        if names.is_empty() {
            return None;
        }
        // Joined on false, the query is planned but never run; pg_typeof of
        // its NULL columns is their declared type.
        let aliases: Vec<String> = (1..=names.len()).map(|i| format!("c{i}")).collect();
        let types: Vec<String> = aliases.iter().map(|a| format!("pg_typeof(q.{a})::oid")).collect();
        let columns = format!(
            "SELECT '', '', u.pos::text, format_type(u.typid, -1), 0::bigint, u.typid, -1 \
             FROM (SELECT 1) AS one LEFT JOIN ({query}\n) AS q({}) ON false \
             CROSS JOIN LATERAL unnest(ARRAY[{}]) WITH ORDINALITY AS u(typid, pos)",
            aliases.join(", "),
            types.join(", ")
        );
        Some(with_leaves(&columns, "c.col::bigint, c.type_name"))
    }

    fn treat(&self, column: &SourceColumn, result_type: Option<&str>, native: bool) -> Vec<Treatment> {
        let name = &column.name;
        let t = column.type_name.as_str();
        let result = result_type.map(str::to_ascii_uppercase);
        // The scanner loses the value while reading it, whatever DuckDB does
        // with it afterwards; only a cast on the server (the native dialect,
        // which shows as another result type) comes before that.
        let arrives_as =
            |scanned: &str| !native || result.as_deref().is_none_or(|r| DuckType::parse(r).has_leaf(scanned));
        if column.is_nested() {
            return nested(column, native, result_type, &arrives_as);
        }
        if let Some(treatment) = as_text_only(column, native, result_type) {
            return vec![treatment];
        }
        if column.from_result && !(t == "money" || t.starts_with("geography")) {
            // A native result's numeric is counted (result_checks), its
            // geometry made exact by the table's catalog entry.
            return Vec::new();
        }
        if let Some(precision) = numeric_precision(t) {
            if precision > 38 {
                return if arrives_as("DOUBLE") { vec![wide_numeric(name, t)] } else { Vec::new() };
            }
            if native {
                // Counted over the native query's result instead (result_checks).
                return Vec::new();
            }
            vec![Treatment::Rows {
                condition: "{} = 'NaN'".into(),
                what: "NaN would arrive as 0 (DuckDB's PostgreSQL scanner reads NaN as zero)".into(),
                fix: format!("to upload NaN as NULL, {NATIVE} NULLIF({name}, 'NaN') AS {name}"),
            }]
        } else if t == "numeric" {
            if arrives_as("DOUBLE") {
                vec![wide_numeric(name, t)]
            } else {
                Vec::new()
            }
        } else if t == "money" {
            if !arrives_as("VARCHAR") {
                return Vec::new();
            }
            vec![Treatment::Lossy {
                what: "money arrives as the server's formatted text (currency symbol, grouping per lc_monetary), \
                       not as a number"
                    .into(),
                fix: format!("{NATIVE} {name}::numeric(15,2) AS {name}"),
                arrives_as: "VARCHAR",
            }]
        } else if t.starts_with("geography") {
            vec![Treatment::Lossy {
                what: "geography arrives as hex EWKB text (DuckDB's PostgreSQL scanner has no geography type)".into(),
                fix: format!(
                    "list {name} in ACCEPT_LOSS_COLUMNS to upload that text, or read it from a view with a \
                     geometry(…, <srid>) column to upload GeoParquet"
                ),
                arrives_as: "VARCHAR",
            }]
        } else if t.starts_with("geometry") {
            // The scanner gives GEOMETRY for a table's column, hex EWKB text
            // for a pass-through query's; either becomes GeoParquet with the CRS.
            let scanned = if native { "VARCHAR" } else { "GEOMETRY" };
            if result.as_deref().is_some_and(|r| !r.starts_with(scanned)) {
                // Converted by the query (ST_AsText, …): what it made of the exact value.
                return Vec::new();
            }
            let geometry = if native { "ST_GeomFromHEXEWKB({})" } else { "{}" };
            let srid = column.srid;
            let mut treatments = Vec::new();
            if srid > 0 {
                treatments.push(Treatment::Rewrite {
                    expression: format!("CAST({geometry} AS GEOMETRY('EPSG:{srid}'))"),
                    how: format!("GeoParquet with the CRS EPSG:{srid}"),
                    needs_spatial: true,
                    arrives_as: scanned,
                });
            } else {
                if native {
                    treatments.push(Treatment::Rewrite {
                        expression: geometry.to_string(),
                        how: "GeoParquet".into(),
                        needs_spatial: true,
                        arrives_as: scanned,
                    });
                }
                treatments.push(Treatment::Lossy {
                    what: "its type declares no SRID, and GeoParquet without a CRS means longitude/latitude \
                           (OGC:CRS84)"
                        .into(),
                    fix: format!(
                        "declare the SRID in the column's type (ALTER TABLE … ALTER COLUMN {name} TYPE \
                         geometry(Geometry, <srid>) USING ST_SetSRID({name}, <srid>)), or if it is longitude/latitude, \
                         list {name} in ACCEPT_LOSS_COLUMNS"
                    ),
                    arrives_as: scanned,
                });
            }
            treatments
        } else {
            Vec::new()
        }
    }

    fn result_checks(&self, duckdb_type: &DuckType) -> Vec<ResultCheck> {
        // An array (of arrays) of numeric(p,s): NaN elements arrive as 0 too.
        let mut element = duckdb_type;
        while let DuckType::List(e) | DuckType::Array(e, _) = element {
            element = e;
        }
        if element != duckdb_type {
            return match element {
                DuckType::Leaf(t) if t.to_ascii_uppercase().starts_with("DECIMAL") => vec![ResultCheck {
                    condition: "'NaN'::numeric = ANY({})".into(),
                    what: "NaN elements would arrive as 0 (DuckDB's PostgreSQL scanner reads NaN as zero)".into(),
                    fix: "write <column>::text[] in the query to keep NaN as text".into(),
                }],
                _ => Vec::new(),
            };
        }
        let DuckType::Leaf(t) = duckdb_type else {
            return Vec::new();
        };
        let t = t.to_ascii_uppercase();
        if t.starts_with("DECIMAL") {
            vec![ResultCheck {
                condition: "{}::text = 'NaN'".into(),
                what: "NaN would arrive as 0 (DuckDB's PostgreSQL scanner reads NaN as zero)".into(),
                fix: "to upload NaN as NULL, write NULLIF(<column>, 'NaN') in the query".into(),
            }]
        } else if t == "DOUBLE" {
            // A DOUBLE in the result is a float or a numeric without precision;
            // only the latter loses digits.
            vec![ResultCheck {
                condition: "pg_typeof({}) = 'numeric'::regtype".into(),
                what: "numeric without a precision (or wider than 38 digits) arrives as DOUBLE: digits beyond the \
                       15th are rounded, NaN and Infinity arrive as 0"
                    .into(),
                fix:
                    "write <column>::numeric(38,10) (up to 28 digits before and 10 after the point) or <column>::text \
                      in the query"
                        .into(),
            }]
        } else {
            Vec::new()
        }
    }

    fn count_query(&self, from: &str, conditions: &[String]) -> String {
        count_sql(from, conditions, "bigint")
    }

    fn scan_refusals(&self, columns: &[Column], _native: bool) -> Vec<ScanRefusal> {
        // The scanner reads an array column with one dimension per level of
        // DuckDB's list type and stops on a value with more: any list column
        // of the result may hold one. An array of a geometric type (a list of
        // lists of coordinates) of more dimensions fails inside the scanner.
        fn more_dimensions(message: &str) -> bool {
            message.contains("Expected an array with")
        }
        fn more_dimensions_or_internal(message: &str) -> bool {
            more_dimensions(message) || message.contains("INTERNAL Error: Attempted to access index")
        }
        columns
            .iter()
            .filter_map(|c| {
                let stops_with: fn(&str) -> bool = match DuckType::parse(&c.type_name) {
                    DuckType::List(e) | DuckType::Array(e, _) => match *e {
                        DuckType::List(_) | DuckType::Array(..) => more_dimensions_or_internal,
                        _ => more_dimensions,
                    },
                    _ => return None,
                };
                let name = &c.name;
                let refusal = Refusal {
                    column: name.clone(),
                    source: format!("DuckDB type {}, a PostgreSQL array", c.type_name),
                    what: "it may hold arrays of more than one dimension (such as {{1,2},{3,4}}), which DuckDB's \
                           PostgreSQL scanner cannot read"
                        .into(),
                    rows: None,
                    counted_in: "",
                    fix: format!("{NATIVE} {name}::text AS {name} to upload the server's text of the array"),
                };
                Some(ScanRefusal { refusal, stops_with })
            })
            .collect()
    }

    fn quote(&self, name: &str) -> String {
        sql_identifier(name)
    }
}

/// The leaves of an array or composite column: what the scanner does to
/// each (it reads a composite's numeric fields as DOUBLE, whatever their
/// precision).
fn nested(
    column: &SourceColumn,
    native: bool,
    result: Option<&str>,
    arrives_as: &dyn Fn(&str) -> bool,
) -> Vec<Treatment> {
    let name = &column.name;
    let t = &column.type_name;
    let as_text = format!("{NATIVE} {name}::text AS {name}");
    let mut treatments: Vec<Treatment> = Vec::new();
    if let Some(treatment) = as_text_only(column, native, result) {
        treatments.push(treatment);
    }
    for leaf in &column.leaves {
        let l = leaf.type_name.as_str();
        if let Some(base) = l.strip_prefix('~') {
            // A domain: a table's domain column is read as the server's text,
            // a native result's as its base type, where a wide numeric is a
            // DOUBLE (the count over the result sees the domain, not numeric).
            let wide = base.starts_with("numeric") && numeric_precision(base).is_none_or(|p| p > 38);
            if wide && native && arrives_as("DOUBLE") {
                let treatment = Treatment::Lossy {
                    what: format!(
                        "a domain over {base} arrives as DOUBLE: digits beyond the 15th are rounded, NaN and \
                         Infinity arrive as 0"
                    ),
                    fix: as_text.clone(),
                    arrives_as: "DOUBLE",
                };
                if !treatments.contains(&treatment) {
                    treatments.push(treatment);
                }
            }
            continue;
        }
        let treatment = if l.starts_with("numeric") {
            let exact_precision = numeric_precision(l).is_some_and(|p| p <= 38);
            if exact_precision && leaf.in_composite && !arrives_as("DOUBLE") {
                // A field with its precision: NaN still arrives as 0, and no
                // count can name the field.
                Treatment::Lossy {
                    what: format!(
                        "NaN in its {l} fields would arrive as 0 (DuckDB's PostgreSQL scanner reads NaN as zero)"
                    ),
                    fix: as_text.clone(),
                    arrives_as: "DECIMAL",
                }
            } else if exact_precision && !leaf.in_composite {
                if native {
                    // Counted over the native query's result instead (result_checks).
                    continue;
                }
                Treatment::Rows {
                    condition: "'NaN'::numeric = ANY({})".into(),
                    what: format!(
                        "NaN elements of {t} would arrive as 0 (DuckDB's PostgreSQL scanner reads NaN as zero)"
                    ),
                    fix: format!("to keep NaN, {NATIVE} {name}::text[] AS {name}"),
                }
            } else if arrives_as("DOUBLE") {
                Treatment::Lossy {
                    what: format!(
                        "its {l} {} arrive as DOUBLE: digits beyond the 15th are rounded, NaN and Infinity arrive as 0",
                        if leaf.in_composite { "fields" } else { "elements" }
                    ),
                    fix: as_text.clone(),
                    arrives_as: "DOUBLE",
                }
            } else {
                continue;
            }
        } else if l == "money" && arrives_as("VARCHAR") {
            Treatment::Lossy {
                what: "money arrives as the server's formatted text (currency symbol, grouping per lc_monetary), \
                       not as a number"
                    .into(),
                fix: if leaf.in_composite {
                    as_text.clone()
                } else {
                    format!("{NATIVE} {name}::numeric(15,2)[] AS {name}")
                },
                arrives_as: "VARCHAR",
            }
        } else if l.starts_with("geometry") || l.starts_with("geography") {
            Treatment::Lossy {
                what: format!("{l} inside {t} arrives as text, without its CRS"),
                fix: as_text.clone(),
                arrives_as: "VARCHAR",
            }
        } else {
            continue;
        };
        if !treatments.contains(&treatment) {
            treatments.push(treatment);
        }
    }
    treatments
}

/// PostgreSQL's geometric types that lose more than their spelling when the
/// scanner reads them as a flat list of coordinates: a path loses whether it
/// is open or closed (a box, a segment, a polygon keep every coordinate).
const GEOMETRIC: [&str; 1] = ["path"];

/// Leaves whose values only their text keeps: a path (read as a list of
/// numbers), a domain over money (the formatted text), `"char"` (a byte,
/// not UTF-8 text).
fn as_text_only(column: &SourceColumn, native: bool, result: Option<&str>) -> Option<Treatment> {
    // In the native dialect the scanner reads some of them as text.
    let as_numbers = !native || result.is_none_or(|r| DuckType::parse(r).has_leaf("DOUBLE"));
    let name = &column.name;
    let fix = format!("{NATIVE} {name}::text AS {name}");
    for leaf in &column.leaves {
        let l = leaf.type_name.as_str();
        let base = l.strip_prefix('~');
        if GEOMETRIC.contains(&l) && as_numbers {
            return Some(Treatment::Lossy {
                what: format!("{l} arrives as a list of its coordinates, not as the value"),
                fix,
                arrives_as: "DOUBLE",
            });
        }
        if base == Some("money") {
            return Some(Treatment::Lossy {
                what: "a domain over money arrives as the server's formatted text, not as a number".into(),
                fix: format!("{NATIVE} {name}::numeric(15,2) AS {name}"),
                arrives_as: "VARCHAR",
            });
        }
        // Read as its byte in both dialects (also inside arrays, composites
        // and domains): a byte of 128 or more is not UTF-8, and the file
        // could not be read.
        if l == "\"char\"" || base == Some("\"char\"") {
            return Some(Treatment::Lossy {
                what: "\"char\" arrives as its byte, which Parquet's text cannot hold unless it is ASCII".into(),
                fix,
                arrives_as: "VARCHAR",
            });
        }
    }
    None
}

/// `columns` (a query listing `s, r, col, type_name, srid, typid, typmod`)
/// with the leaf types of each, walked through arrays and composite types:
/// one a line, `.` in front of a composite's field (what
/// `exactness::sources` reads); `select` picks the columns.
fn with_leaves(columns: &str, select: &str) -> String {
    format!(
        "WITH RECURSIVE cols(s, r, col, type_name, srid, typid, typmod) AS ({columns}), \
         walk(s, r, col, typid, typmod, in_composite, depth) AS ( \
         SELECT s, r, col, typid, typmod, false, 0 FROM cols UNION ALL \
         SELECT w.s, w.r, w.col, COALESCE(f.atttypid, t.typelem), COALESCE(f.atttypmod, w.typmod), \
         w.in_composite OR f.atttypid IS NOT NULL, w.depth + 1 \
         FROM walk w JOIN pg_type t ON t.oid = w.typid \
         LEFT JOIN pg_attribute f ON t.typtype = 'c' AND f.attrelid = t.typrelid AND f.attnum > 0 AND NOT f.attisdropped \
         WHERE w.depth < 8 AND ((t.typtype = 'c' AND f.attrelid IS NOT NULL) \
         OR (t.typtype <> 'c' AND t.typcategory = 'A' AND t.typelem <> 0))) \
         SELECT {select}, (SELECT string_agg(CASE WHEN w.in_composite THEN '.' ELSE '' END \
         || format_type(w.typid, w.typmod) || CASE WHEN t.typtype = 'd' \
         THEN chr(10) || '~' || format_type(t.typbasetype, t.typtypmod) ELSE '' END, chr(10) ORDER BY w.depth) \
         FROM walk w JOIN pg_type t ON t.oid = w.typid \
         WHERE w.s = c.s AND w.r = c.r AND w.col = c.col \
         AND NOT (t.typtype = 'c' OR (t.typcategory = 'A' AND t.typelem <> 0)))::text FROM cols c"
    )
}

/// A numeric without precision, or wider than DuckDB's DECIMAL(38): read as
/// DOUBLE, and not even correctly rounded (the scanner's conversion is off
/// in the last place for some 15-digit values), so no value is trusted.
fn wide_numeric(name: &str, t: &str) -> Treatment {
    Treatment::Lossy {
        what: format!(
            "{t} arrives as DOUBLE: digits beyond the 15th are rounded (not always to the nearest double), \
             NaN and Infinity arrive as 0"
        ),
        fix: format!(
            "{NATIVE} {name}::numeric(38,10) AS {name} (up to 28 digits before and 10 after the point) \
             or {name}::text AS {name}"
        ),
        arrives_as: "DOUBLE",
    }
}

/// The precision of `numeric(p,s)`; `None` for a numeric without one.
fn numeric_precision(t: &str) -> Option<u32> {
    t.strip_prefix("numeric(")?.split([',', ')']).next()?.trim().parse().ok()
}

impl ServerCancelStatement for Postgres {
    /// `pg_cancel_backend` for the backends that run this run's statement.
    fn cancel(
        &self,
        conn: &Connection,
        _settings: &SourceSettings,
        tag: &str,
        marker: &str,
    ) -> std::result::Result<usize, duckdb::Error> {
        // The filter runs before the cancel (OFFSET 0 keeps the planner from merging them).
        let inner = format!(
            "SELECT pg_cancel_backend(pid) AS cancelled FROM (SELECT pid FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND state = 'active' \
             AND (application_name = {} OR position({} in query) > 0) OFFSET 0) AS ours",
            sql_literal(tag),
            sql_literal(marker)
        );
        let sql = format!(
            "SELECT count(*) FILTER (WHERE cancelled) FROM postgres_query({}, {})",
            sql_literal(CATALOG),
            sql_literal(&inner)
        );
        conn.query_row(&sql, [], |r| r.get::<_, i64>(0)).map(|n| n as usize)
    }
}

/// A libpq connection string; every value quoted, so spaces, quotes,
/// backslashes, `=` and `@` reach the server unchanged.
pub fn conninfo(s: &SourceSettings) -> String {
    const KEYS: DriverKeys = DriverKeys {
        carries_settings: true,
        database: "dbname",
        ssl_mode: "sslmode",
        ssl_root_cert: "sslrootcert",
        defaults: &[("application_name", "polyteia-db-connector"), ("connect_timeout", "30")],
    };
    connection_string(s, &KEYS, |value| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::exactness::SourceLeaf;

    fn column(type_name: &str, srid: i64) -> SourceColumn {
        SourceColumn {
            schema: "public".into(),
            table: "t".into(),
            name: "c".into(),
            type_name: type_name.into(),
            srid,
            leaves: vec![SourceLeaf { type_name: type_name.into(), in_composite: false }],
            from_result: false,
        }
    }

    #[test]
    fn geometry_gets_its_crs_from_the_srid_in_both_dialects() {
        let cast = |treatments: Vec<Treatment>| match treatments.as_slice() {
            [Treatment::Rewrite { expression, .. }] => expression.clone(),
            other => panic!("{other:?}"),
        };
        let point = column("geometry(Point,25832)", 25832);
        assert_eq!(cast(Postgres.treat(&point, Some("GEOMETRY"), false)), "CAST({} AS GEOMETRY('EPSG:25832'))");
        assert_eq!(
            cast(Postgres.treat(&point, Some("VARCHAR"), true)),
            "CAST(ST_GeomFromHEXEWKB({}) AS GEOMETRY('EPSG:25832'))"
        );
        // Converted by the query itself (ST_AsText in DuckDB SQL): nothing to do.
        assert!(Postgres.treat(&point, Some("VARCHAR"), false).is_empty());
        assert!(matches!(
            Postgres.treat(&column("geometry", 0), Some("GEOMETRY"), false).as_slice(),
            [Treatment::Lossy { .. }]
        ));
    }

    fn nested(type_name: &str, leaves: &[(&str, bool)]) -> SourceColumn {
        let mut c = column(type_name, 0);
        c.leaves = leaves.iter().map(|(t, f)| SourceLeaf { type_name: t.to_string(), in_composite: *f }).collect();
        c
    }

    #[test]
    fn arrays_and_composites_are_judged_by_their_leaves() {
        let na = nested("numeric(10,2)[]", &[("numeric(10,2)", false)]);
        assert!(matches!(
            Postgres.treat(&na, Some("DECIMAL(10,2)[]"), false).as_slice(),
            [Treatment::Rows { condition, .. }] if condition == "'NaN'::numeric = ANY({})"
        ));
        // Native: counted over the result instead.
        assert!(Postgres.treat(&na, Some("DECIMAL(10,2)[]"), true).is_empty());
        assert_eq!(
            Postgres.result_checks(&DuckType::parse("DECIMAL(10,2)[]"))[0].condition,
            "'NaN'::numeric = ANY({})"
        );
        let comp = nested("comp", &[("numeric(10,2)", true), ("text", true)]);
        assert!(matches!(
            Postgres.treat(&comp, Some("STRUCT(b DOUBLE, c VARCHAR)"), false).as_slice(),
            [Treatment::Lossy { arrives_as: "DOUBLE", .. }]
        ));
        let wide = nested("numeric[]", &[("numeric", false)]);
        assert!(matches!(Postgres.treat(&wide, Some("DOUBLE[]"), false).as_slice(), [Treatment::Lossy { .. }]));
        // Described by the server without its precision, but DuckDB has it: exact.
        assert!(Postgres.treat(&wide, Some("DECIMAL(10,2)[]"), true).is_empty());
        let money = nested("money[]", &[("money", false)]);
        assert!(matches!(Postgres.treat(&money, Some("VARCHAR[]"), false).as_slice(), [Treatment::Lossy { .. }]));
        let domain = nested("dnum[]", &[("dnum", false)]);
        assert!(Postgres.treat(&domain, Some("VARCHAR[]"), false).is_empty());
    }

    #[test]
    fn a_scanner_loss_counts_whatever_duckdb_does_afterwards_but_not_after_a_server_cast() {
        let nan = column("numeric(10,2)", 0);
        assert!(matches!(Postgres.treat(&nan, Some("VARCHAR"), false).as_slice(), [Treatment::Rows { .. }]));
        let wide = column("numeric", 0);
        assert!(matches!(Postgres.treat(&wide, Some("VARCHAR"), false).as_slice(), [Treatment::Lossy { .. }]));
        assert!(Postgres.treat(&wide, Some("VARCHAR"), true).is_empty());
        assert!(matches!(Postgres.treat(&wide, Some("DOUBLE"), true).as_slice(), [Treatment::Lossy { .. }]));
        assert_eq!(numeric_precision("numeric(50,5)"), Some(50));
        assert_eq!(numeric_precision("numeric"), None);
    }
}

/// The connection string.
#[cfg(test)]
mod conninfo_tests {
    use super::super::tests::settings;
    use super::*;
    use crate::source::SourceKind;

    #[test]
    fn conninfo_quotes_every_value() {
        let info = conninfo(&settings(SourceKind::Postgres, "a'b\\c d=e@f"));
        assert!(info.contains(r"password='a\'b\\c d=e@f'"), "{info}");
        assert!(info.contains(r"user='o\'brien'"), "{info}");
        assert!(info.contains("dbname='my db'"), "{info}");
    }
}
