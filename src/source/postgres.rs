//! PostgreSQL through DuckDB's postgres extension.

use duckdb::Connection;

use super::connect::{attach_as_catalog, connection_string, DriverKeys};
use super::exactness::{count_sql, ResultCheck, SourceColumn, Treatment, TypeKnowledge};
use super::kind::{ServerCancelStatement, SourceType};
use super::settings::{QueryDialect, SourceSettings};
use super::CATALOG;
use crate::error::Result;
use crate::sql::{sql_identifier, sql_literal};

pub(crate) struct Postgres;

impl SourceType for Postgres {
    fn names(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }

    fn display_name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn default_port(&self) -> Option<u16> {
        Some(5432)
    }

    fn ssl_modes(&self) -> &'static [&'static str] {
        &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    }

    fn extension(&self) -> Option<&'static str> {
        Some("postgres_scanner")
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
        if lower.contains("role \"") && lower.contains("does not exist") {
            // PostgreSQL names the user it does not know.
            Some("check SOURCE_DATABASE_USER")
        } else if lower.contains("database \"") && lower.contains("does not exist") {
            Some("check SOURCE_DATABASE_NAME (and that SOURCE_DATABASE_USER may read it)")
        } else if lower.contains("password authentication failed") || lower.contains("authentication failed") {
            // The server does not say whether the user or the password is wrong.
            Some("check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD")
        } else if lower.contains("no password supplied") {
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

    fn type_knowledge(&self) -> Option<&dyn TypeKnowledge> {
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
        vec![format!(
            "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)::text, \
             CASE WHEN t.typname IN ('geometry', 'geography') AND a.atttypmod > 0 \
             THEN ((a.atttypmod & 268435200) - (a.atttypmod & 134217728)) >> 8 ELSE 0 END::bigint \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND (n.nspname = ANY (current_schemas(false)) OR lower(n.nspname) IN ({list})) \
             AND lower(c.relname) IN ({list})",
            list = names.join(", ")
        )]
    }

    fn treat(&self, column: &SourceColumn, result_type: Option<&str>, native: bool) -> Vec<Treatment> {
        let name = &column.name;
        let t = column.type_name.as_str();
        let result = result_type.map(str::to_ascii_uppercase);
        // The scanner loses the value while reading it, whatever DuckDB does
        // with it afterwards; only a cast on the server (the native dialect,
        // which shows as another result type) comes before that.
        let arrives_as = |scanned: &str| !native || result.as_deref().is_none_or(|r| r.starts_with(scanned));
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

    fn result_checks(&self, duckdb_type: &str) -> Vec<ResultCheck> {
        let t = duckdb_type.to_ascii_uppercase();
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

    fn quote(&self, name: &str) -> String {
        sql_identifier(name)
    }
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

    fn column(type_name: &str, srid: i64) -> SourceColumn {
        SourceColumn { schema: "public".into(), table: "t".into(), name: "c".into(), type_name: type_name.into(), srid }
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
