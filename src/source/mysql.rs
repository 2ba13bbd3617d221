//! MySQL and MariaDB through DuckDB's mysql extension.

use duckdb::Connection;

use super::connect::{attach_as_catalog, connect_error, connection_string, DriverKeys};
use super::exactness::{
    count_sql, pair, DuckType, Refusal, ResultCheck, ScanRefusal, ScannedPair, SourceColumn, Treatment, TypeKnowledge,
};
use super::kind::{Facts, ServerCancelStatement, SourceType};
use super::settings::{QueryDialect, SourceSettings};
use super::CATALOG;
use crate::error::Result;
use crate::sql::sql_literal;
use crate::stages::Column;

pub(crate) struct Mysql;

/// The temporary DuckDB secret that carries the MySQL connection settings.
pub const SECRET: &str = "connector_source";

/// The attachment that only runs `KILL QUERY`: KILL is refused through the
/// read-only catalog.
const CANCEL_CATALOG: &str = "connector_cancel";

const FACTS: Facts = Facts {
    names: &["mysql", "mariadb"],
    listed_names: &["mysql", "mariadb"],
    display_name: "MySQL",
    default_port: Some(3306),
    ssl_modes: &["disabled", "preferred", "required", "verify_ca", "verify_identity"],
    identity_ssl_mode: Some("verify_identity"),
    extension: Some("mysql_scanner"),
    scanned: SCANNED,
    text_cast: "CAST({} AS CHAR)",
    ..Facts::SERVER
};

/// What DuckDB's MySQL scanner (1.5.5) reads each type as (MariaDB 10.11's
/// `COLUMN_TYPE` spelling; MySQL 8 leaves out integer display widths).
const SCANNED: &[ScannedPair] = &[
    pair("tinyint(1)", "BOOLEAN", "exact; values other than 0 and 1 counted"),
    pair("bit(1)", "BOOLEAN", "exact"),
    pair("tinyint", "TINYINT", "exact"),
    pair("tinyint(*)", "TINYINT", "exact"),
    pair("tinyint*unsigned*", "UTINYINT", "exact"),
    pair("smallint", "SMALLINT", "exact"),
    pair("smallint(*)", "SMALLINT", "exact"),
    pair("smallint*unsigned*", "USMALLINT", "exact"),
    pair("mediumint", "INTEGER", "exact"),
    pair("mediumint(*)", "INTEGER", "exact"),
    pair("mediumint*unsigned*", "UINTEGER", "exact"),
    pair("int", "INTEGER", "exact"),
    pair("int(*)", "INTEGER", "exact"),
    pair("int*unsigned*", "UINTEGER", "exact"),
    pair("bigint", "BIGINT", "exact"),
    pair("bigint(*)", "BIGINT", "exact"),
    pair("bigint*unsigned*", "UBIGINT", "exact"),
    pair("year*", "INTEGER", "exact"),
    pair("decimal(*)*", "DECIMAL(*)", "exact"),
    pair("decimal(*)*", "DOUBLE", "more than 38 digits: **refused**, rounded"),
    pair("float*", "FLOAT", "exact"),
    pair("double*", "DOUBLE", "exact"),
    pair("bit(*)", "BLOB", "exact (the bytes)"),
    pair("binary(*)", "BLOB", "exact"),
    pair("varbinary(*)", "BLOB", "exact"),
    pair("*blob", "BLOB", "exact"),
    pair("geometry", "BLOB", "made exact (GeoParquet)"),
    pair("point", "BLOB", "made exact (GeoParquet)"),
    pair("linestring", "BLOB", "made exact (GeoParquet)"),
    pair("polygon", "BLOB", "made exact (GeoParquet)"),
    pair("multipoint", "BLOB", "made exact (GeoParquet)"),
    pair("multilinestring", "BLOB", "made exact (GeoParquet)"),
    pair("multipolygon", "BLOB", "made exact (GeoParquet)"),
    pair("date", "DATE", "exact; zero and partial dates counted"),
    pair("datetime*", "TIMESTAMP", "exact; zero and partial dates counted"),
    pair("timestamp*", "TIMESTAMP", "exact; zero and partial dates counted"),
    pair("geometrycollection", "VARCHAR", "**refused**: MySQL's binary value, not text"),
    pair("*", "VARCHAR", "the server's text of the value"),
];

impl SourceType for Mysql {
    fn facts(&self) -> &'static Facts {
        &FACTS
    }

    fn warnings(&self, s: &SourceSettings) -> Vec<String> {
        match (s.ssl_mode.is_some_and(|m| m.verifies_identity()), &s.ssl_root_cert) {
            (true, None) => vec![
                "SOURCE_DATABASE_SSL_MODE=verify_identity without SOURCE_DATABASE_SSL_ROOT_CERT: the server certificate's \
                 host name is checked only against a CA given there; set it to the CA that signed the server's certificate"
                    .to_string(),
            ],
            _ => Vec::new(),
        }
    }

    fn tuning(&self, _dialect: QueryDialect) -> &'static [&'static str] {
        // The mysql extension may wrap big scans in `SELECT SQL_BUFFER_RESULT …`
        // (the server first copies the whole result into a temporary table) and,
        // on MySQL, adds a `MAX_EXECUTION_TIME` hint of at most 5 minutes, which
        // would kill a long export. An export reads once, in a read-only
        // transaction, so neither helps; both are off.
        &["SET mysql_sql_buffer_result = false", "SET mysql_query_timeout_enabled = false"]
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        if let (Some(true), Some(ca), Some(host), Some(port)) =
            (settings.ssl_mode.map(|m| m.verifies_identity()), &settings.ssl_root_cert, &settings.host, settings.port)
        {
            // The extension checks the chain only; the host name is checked here.
            crate::mysql_tls::verify_server_identity(host, port, ca)?;
        }
        let secret = secret_sql(settings);
        conn.execute_batch(&secret).map_err(|e| connect_error(settings, &e, &secret))?;
        let attach =
            format!("ATTACH {} AS {CATALOG} (TYPE mysql, SECRET {SECRET}, READ_ONLY)", sql_literal(&dsn(settings)));
        attach_as_catalog(conn, settings, &attach)
    }

    fn echoed(&self, settings: &SourceSettings) -> Vec<String> {
        vec![dsn(settings)]
    }

    fn pass_through(&self, native_query: &str) -> Option<String> {
        Some(format!("SELECT * FROM mysql_query({}, {})", sql_literal(CATALOG), sql_literal(native_query)))
    }

    fn server_cancel(&self) -> Option<&dyn ServerCancelStatement> {
        Some(self)
    }

    fn type_knowledge(&self, _settings: &SourceSettings) -> Option<&dyn TypeKnowledge> {
        Some(self)
    }
}

/// How to read a value exactly: on the server, in the native dialect.
const NATIVE: &str = "set SOURCE_DATABASE_QUERY_DIALECT=native and write";

/// A zero date (`0000-00-00`), which DuckDB's mysql scanner reads as NULL.
const ZERO_DATE: &str = "(YEAR({}) = 0 AND MONTH({}) = 0 AND DAYOFMONTH({}) = 0)";
/// A date with month or day 0 but not all zero (`2018-02-00`, legal with
/// `sql_mode=''`), which the scanner cannot convert: the export would fail.
const PARTIAL_DATE: &str =
    "((MONTH({}) = 0 OR DAYOFMONTH({}) = 0) AND NOT (YEAR({}) = 0 AND MONTH({}) = 0 AND DAYOFMONTH({}) = 0))";

const GEOMETRY_TYPES: [&str; 8] = [
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
];

fn zero_dates(name: &str) -> ResultCheck {
    ResultCheck {
        condition: ZERO_DATE.into(),
        what: "zero dates (0000-00-00) would arrive as NULL".into(),
        fix: format!(
            "list {name} in ACCEPT_LOSS_COLUMNS to upload them as NULL, or {NATIVE} CAST({name} AS CHAR) AS {name} \
             to keep them as text"
        ),
    }
}

fn partial_dates(name: &str) -> ResultCheck {
    ResultCheck {
        condition: PARTIAL_DATE.into(),
        what: "dates with month or day 0 (such as 2018-02-00) cannot be read by DuckDB: the export would fail".into(),
        fix: format!("{NATIVE} CAST({name} AS CHAR) AS {name} to keep them as text"),
    }
}

fn tinyint_values(name: &str) -> ResultCheck {
    ResultCheck {
        condition: "{} NOT IN (0, 1)".into(),
        what: "tinyint(1) arrives as BOOLEAN: values other than 0 and 1 would arrive as true".into(),
        fix: format!("{NATIVE} CAST({name} AS SIGNED) AS {name} to keep the numbers"),
    }
}

fn rows(check: ResultCheck) -> Treatment {
    Treatment::Rows { condition: check.condition, what: check.what, fix: check.fix }
}

/// What DuckDB's mysql scanner (1.5.5) changes.
impl TypeKnowledge for Mysql {
    fn catalog_queries(&self, names: &[String]) -> Vec<String> {
        let filter = format!(
            "WHERE c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
             AND (c.TABLE_SCHEMA = DATABASE() OR LOWER(c.TABLE_SCHEMA) IN ({list})) \
             AND LOWER(c.TABLE_NAME) IN ({list})",
            list = names.join(", ")
        );
        // A geometry column's SRID: MariaDB has it in GEOMETRY_COLUMNS, MySQL 8
        // in COLUMNS.SRS_ID (MySQL 8 is not among the tested servers).
        vec![
            format!(
                "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, CAST(COALESCE(g.SRID, 0) AS SIGNED) \
                 FROM information_schema.COLUMNS c LEFT JOIN information_schema.GEOMETRY_COLUMNS g \
                 ON g.G_TABLE_SCHEMA = c.TABLE_SCHEMA AND g.G_TABLE_NAME = c.TABLE_NAME \
                 AND g.G_GEOMETRY_COLUMN = c.COLUMN_NAME {filter}"
            ),
            format!(
                "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, CAST(COALESCE(c.SRS_ID, 0) AS SIGNED) \
                 FROM information_schema.COLUMNS c {filter}"
            ),
        ]
    }

    fn treat(&self, column: &SourceColumn, result_type: Option<&str>, native: bool) -> Vec<Treatment> {
        let name = &column.name;
        let t = column.type_name.to_ascii_lowercase();
        let result = result_type.map(str::to_ascii_uppercase);
        // The scanner loses the value while reading it, whatever DuckDB does
        // with it afterwards; only a cast on the server (the native dialect)
        // comes before that, and shows as another result type.
        let arrives_as =
            |scanned: &str| !native || result.as_deref().is_none_or(|r| DuckType::parse(r).has_leaf(scanned));
        let base = t.split(['(', ' ']).next().unwrap_or("");
        // An unsigned tinyint(1) arrives as UTINYINT, every value kept.
        if t.starts_with("tinyint(1)") && !t.contains("unsigned") && arrives_as("BOOLEAN") {
            vec![rows(tinyint_values(name))]
        } else if base == "decimal" && decimal_precision(&t).is_some_and(|p| p > 38) && arrives_as("DOUBLE") {
            vec![Treatment::Lossy {
                what: format!("{t} is wider than DuckDB's DECIMAL(38) and arrives as DOUBLE: digits beyond the 15th would be rounded"),
                fix: format!(
                    "{NATIVE} CAST({name} AS DECIMAL(38, <scale>)) AS {name} if its values fit, or CAST({name} AS CHAR) AS {name}"
                ),
                arrives_as: "DOUBLE",
            }]
        } else if matches!(base, "date" | "datetime" | "timestamp") {
            vec![rows(zero_dates(name)), rows(partial_dates(name))]
        } else if GEOMETRY_TYPES.contains(&base) && result.as_deref() == Some("VARCHAR") {
            // The scanner gives some geometry types (geometrycollection) as
            // VARCHAR holding MySQL's binary value, which is not text.
            vec![Treatment::Lossy {
                what: format!("{base} arrives as VARCHAR holding MySQL's binary value, which is not valid text"),
                fix: format!("{NATIVE} ST_AsText({name}) AS {name} (well-known text)"),
                arrives_as: "VARCHAR",
            }]
        } else if GEOMETRY_TYPES.contains(&base) && result.as_deref().is_none_or(|r| r == "BLOB") {
            // MySQL's own bytes: a 4-byte SRID, then standard WKB.
            let mut treatments = vec![Treatment::Rewrite {
                expression: if column.srid > 0 {
                    format!("CAST(ST_GeomFromWKB({{}}[5:]) AS GEOMETRY('EPSG:{}'))", column.srid)
                } else {
                    "ST_GeomFromWKB({}[5:])".into()
                },
                how: if column.srid > 0 {
                    format!("standard WKB as GeoParquet with the CRS EPSG:{}", column.srid)
                } else {
                    "standard WKB as GeoParquet".into()
                },
                needs_spatial: true,
                arrives_as: "BLOB",
            }];
            if column.srid == 0 {
                treatments.push(Treatment::Lossy {
                    what: "its definition declares no SRID, its values carry none or several, and GeoParquet \
                           without a CRS means longitude/latitude (OGC:CRS84)"
                        .into(),
                    fix: format!(
                        "declare it (ALTER TABLE … MODIFY {name} {base} REF_SYSTEM_ID=<srid>), or if it is \
                         longitude/latitude, list {name} in ACCEPT_LOSS_COLUMNS"
                    ),
                    arrives_as: "BLOB",
                });
            }
            treatments
        } else {
            Vec::new()
        }
    }

    fn srid_of_values(&self, column: &SourceColumn) -> Option<String> {
        let base = column.type_name.to_ascii_lowercase();
        let base = base.split(['(', ' ']).next().unwrap_or("");
        if !GEOMETRY_TYPES.contains(&base) || column.srid > 0 || column.from_result {
            return None;
        }
        let c = self.quote(&column.name);
        Some(format!(
            "SELECT CAST(COUNT(DISTINCT ST_SRID({c})) AS SIGNED), CAST(MIN(ST_SRID({c})) AS SIGNED) FROM {} \
             WHERE {c} IS NOT NULL",
            self.table(&column.schema, &column.table)
        ))
    }

    fn result_checks(&self, duckdb_type: &DuckType) -> Vec<ResultCheck> {
        let DuckType::Leaf(t) = duckdb_type else {
            return Vec::new();
        };
        let t = t.to_ascii_uppercase();
        if t == "BOOLEAN" {
            vec![tinyint_values("<column>")]
        } else if t == "DATE" || t.starts_with("TIMESTAMP") {
            vec![zero_dates("<column>"), partial_dates("<column>")]
        } else if t == "DOUBLE" {
            // A DOUBLE in a native result is a double, or a DECIMAL wider than
            // 38 digits (SUM() of a decimal(38,s) is one): its rows whose text
            // differs from the double's are the ones that would change.
            vec![ResultCheck {
                condition: "CAST({} AS CHAR) <> CAST(CAST({} AS DOUBLE) AS CHAR)".into(),
                what: "a DECIMAL wider than 38 digits (such as SUM() of a DECIMAL) arrives as DOUBLE: digits beyond \
                       the 15th would be rounded"
                    .into(),
                fix: "write CAST(<column> AS DECIMAL(38, <scale>)) in the query if the values fit, or \
                      CAST(<column> AS CHAR)"
                    .into(),
            }]
        } else {
            Vec::new()
        }
    }

    fn count_query(&self, from: &str, conditions: &[String]) -> String {
        count_sql(from, conditions, "SIGNED")
    }

    fn quote(&self, name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    fn explain_conversion_error(&self, message: &str, columns: &[Column]) -> Option<String> {
        if !(message.contains("Conversion Error") && message.contains("out of range")) {
            return None;
        }
        let dated: Vec<&str> = columns
            .iter()
            .filter(|c| c.type_name == "DATE" || c.type_name.starts_with("TIMESTAMP"))
            .map(|c| c.name.as_str())
            .collect();
        let candidates = match dated.as_slice() {
            [] => return None,
            [one] => format!("column {one}"),
            many => format!("one of the columns {}", many.join(", ")),
        };
        Some(format!(
            "{message} ({candidates}: MySQL allows dates with month or day 0, such as 2018-02-00, which DuckDB cannot \
             read; {NATIVE} CAST(<column> AS CHAR) AS <column> to keep them as text)"
        ))
    }

    fn scan_refusals(&self, columns: &[Column], native: bool) -> Vec<ScanRefusal> {
        if !native {
            return Vec::new();
        }
        fn unreadable_decimal(message: &str) -> bool {
            message.contains("Could not convert string") && message.contains("DECIMAL")
        }
        columns
            .iter()
            .filter(|c| is_integral_decimal(&c.type_name))
            .map(|c| {
                let name = &c.name;
                let refusal = Refusal {
                    column: name.clone(),
                    source: format!("DuckDB type {} of a native query's result", c.type_name),
                    what: "DuckDB's MySQL scanner types a native query's decimal(p,0) one digit short, and values \
                           with all p digits cannot be read"
                        .into(),
                    rows: None,
                    counted_in: "",
                    fix: format!(
                        "read the column in the DuckDB dialect (SOURCE_DATABASE_QUERY_DIALECT=duckdb), or write \
                         CAST({name} AS CHAR) AS {name} to upload its text"
                    ),
                };
                ScanRefusal { refusal, stops_with: unreadable_decimal }
            })
            .collect()
    }
}

/// A `DECIMAL(p,0)` of a native query's result: the scanner (1.5.5) types
/// MariaDB's `decimal(p,0)` one digit short and stops on a value with all p
/// digits.
fn is_integral_decimal(type_name: &str) -> bool {
    let t = type_name.to_ascii_uppercase();
    t.starts_with("DECIMAL(") && t.replace(' ', "").ends_with(",0)")
}

/// The precision of `decimal(p,s)`.
fn decimal_precision(column_type: &str) -> Option<u32> {
    column_type.split_once('(')?.1.split([',', ')']).next()?.trim().parse().ok()
}

impl ServerCancelStatement for Mysql {
    /// `KILL QUERY` for the connections whose statement carries `marker`.
    fn cancel(
        &self,
        conn: &Connection,
        settings: &SourceSettings,
        _tag: &str,
        marker: &str,
    ) -> std::result::Result<usize, duckdb::Error> {
        conn.execute_batch(&format!(
            "ATTACH IF NOT EXISTS {} AS {CANCEL_CATALOG} (TYPE mysql, SECRET {SECRET})",
            sql_literal(&dsn(settings))
        ))?;
        let inner = format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND LOCATE({}, INFO) > 0",
            sql_literal(marker)
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
}

/// The MySQL settings as a temporary (in-memory, never written) DuckDB secret.
/// The mysql extension reads the ATTACH string as a URI first, and a `?`
/// anywhere in it — in a password, say — makes that fail outright; values
/// from a secret are added after that step, escaped by the extension itself.
pub fn secret_sql(s: &SourceSettings) -> String {
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
    format!("CREATE OR REPLACE TEMPORARY SECRET {SECRET} ({})", params.join(", "))
}

/// The rest of the MySQL connection string (the settings are in the secret):
/// driver defaults and SOURCE_DATABASE_OPTIONS, values in double quotes with
/// backslash escaping backslash and double quote.
pub fn dsn(s: &SourceSettings) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str) -> Column {
        Column { name: name.into(), type_name: type_name.into() }
    }

    #[test]
    fn a_conversion_error_names_the_date_columns_it_may_come_from() {
        let message = "the query failed: Conversion Error: Date out of range: 2018-2-0";
        let one = Mysql.explain_conversion_error(message, &[column("id", "INTEGER"), column("born", "DATE")]).unwrap();
        assert!(
            one.starts_with(message) && one.contains("(column born: MySQL allows dates with month or day 0"),
            "{one}"
        );
        let many = [column("born", "DATE"), column("seen", "TIMESTAMP")];
        let two = Mysql.explain_conversion_error(message, &many).unwrap();
        assert!(two.contains("one of the columns born, seen"), "{two}");
        assert!(Mysql.explain_conversion_error(message, &[column("id", "INTEGER")]).is_none());
        assert!(Mysql.explain_conversion_error("Binder Error: no such column", &many).is_none());
    }

    #[test]
    fn the_precision_of_a_decimal_type() {
        assert_eq!(decimal_precision("decimal(65,30)"), Some(65));
        assert_eq!(decimal_precision("decimal(10,0) unsigned"), Some(10));
        assert_eq!(decimal_precision("decimal"), None);
    }
}

/// The connection settings: the secret and the DSN.
#[cfg(test)]
mod connection_tests {
    use super::super::tests::settings;
    use super::*;
    use crate::source::SourceKind;

    #[test]
    fn mysql_settings_travel_in_a_secret_not_in_the_string() {
        let mut s = settings(SourceKind::Mysql, "a\"b\\c d=e@f'?x&y");
        s.options = vec![("connect_timeout".into(), "a \"b\"".into())];
        let secret = secret_sql(&s);
        assert!(secret.contains(r#"PASSWORD 'a"b\c d=e@f''?x&y'"#), "{secret}");
        assert!(secret.contains("USER 'o''brien'") && secret.contains("DATABASE 'my db'"), "{secret}");
        assert!(secret.contains("PORT 5432") && secret.starts_with("CREATE OR REPLACE TEMPORARY SECRET"), "{secret}");
        let dsn = dsn(&s);
        assert_eq!(dsn, r#"compression="disabled" connect_timeout="a \"b\"""#);
    }

    #[test]
    fn mysql_protocol_compression_is_off_unless_asked_for() {
        let mut s = settings(SourceKind::Mysql, "x");
        assert!(dsn(&s).contains(r#"compression="disabled""#), "{}", dsn(&s));
        s.options = vec![("compression".into(), "required".into())];
        let dsn = dsn(&s);
        assert!(dsn.contains(r#"compression="required""#) && !dsn.contains("disabled"), "{dsn}");
        assert!(!super::super::postgres::conninfo(&settings(SourceKind::Postgres, "x")).contains("compression"));
    }
}
