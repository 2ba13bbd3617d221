//! Type fidelity of `connector export`: one table with every common column
//! type, in the real local PostgreSQL and MariaDB, goes through the binary and
//! is read back from the Parquet file.
//!
//! Each value is compared with what the source itself says the value is
//! (PostgreSQL through psql, MariaDB through the mariadb client), after a small
//! normaliser per column that only bridges documented representation
//! differences (booleans `t`/`1` vs `true`, blob escapes, interval unit names,
//! list syntax, exponent sign). Each column's DuckDB type and Parquet physical
//! type/annotation is asserted too.
//!
//! Where a type is mapped lossily, the tests assert the lossy behaviour as it
//! is, and a second test shows the cast a user writes instead to get a faithful
//! value. The same tables then go through the `odbc` kind (psqlODBC, MariaDB
//! Connector/ODBC) column by column: each arrives as the native kind wrote it
//! or as the server's own text, or is refused by name, as the README's table
//! of drivers says. docs/type-mapping.md summarises what these tests establish; when a
//! test here changes, update that document.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

// --------------------------------------------------------------------------
// Helpers

/// Runs `connector export` with `env`, asserts that the password never shows,
/// and returns the run and the directory holding `result.parquet`.
fn export(env: &[(String, String)], password: &str) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.parquet");
    let run = connector(&["export", "--output", file.to_str().unwrap()], env);
    assert_no_secret(&run.output(), &[password]);
    (run, dir)
}

/// Like [`export`], but the export must succeed; returns the file.
fn export_ok(env: &[(String, String)], password: &str) -> (tempfile::TempDir, PathBuf) {
    let (run, dir) = export(env, password);
    assert_eq!(run.code, 0, "export failed:\n{}", run.output());
    let file = dir.path().join("result.parquet");
    assert!(file.is_file(), "no file written:\n{}", run.output());
    (dir, file)
}

/// For each top-level column of a Parquet file: its name and
/// "PHYSICAL[(length)] ANNOTATION", where the annotation is the converted
/// type (DECIMAL with precision and scale), `UUID` for the UUID logical type,
/// and ` UTC` when a time/timestamp is marked isAdjustedToUTC. A list shows as
/// `LIST<element>`.
fn parquet_physical(file: &Path) -> Vec<(String, String)> {
    type SchemaRow = (String, Option<String>, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<String>);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = file.display().to_string().replace('\'', "''");
    let mut stmt = conn
        .prepare(&format!(
            "SELECT name, type, type_length, converted_type, scale, precision, logical_type \
             FROM parquet_schema('{path}')"
        ))
        .unwrap();
    let rows: Vec<SchemaRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();

    fn describe(r: &SchemaRow) -> String {
        let mut text = r.1.clone().unwrap_or_default();
        if let Some(len) = &r.2 {
            text.push_str(&format!("({len})"));
        }
        let logical = r.6.clone().unwrap_or_default();
        let annotation = match r.3.as_deref() {
            Some("DECIMAL") => format!("DECIMAL({},{})", r.5.unwrap(), r.4.unwrap()),
            Some(other) => other.to_string(),
            None if logical.starts_with("UUIDType") => "UUID".to_string(),
            None => String::new(),
        };
        if !annotation.is_empty() {
            text.push(' ');
            text.push_str(&annotation);
        }
        if logical.contains("isAdjustedToUTC=1") {
            text.push_str(" UTC");
        }
        text
    }

    let mut out = Vec::new();
    let mut i = 1; // row 0 is the schema root
    while i < rows.len() {
        if rows[i].3.as_deref() == Some("LIST") {
            // LIST group, its repeated `list` group, then the `element` leaf.
            out.push((rows[i].0.clone(), format!("LIST<{}>", describe(&rows[i + 2]))));
            i += 3;
        } else {
            out.push((rows[i].0.clone(), describe(&rows[i])));
            i += 1;
        }
    }
    out
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

/// A source's rows as JSON arrays of strings (or null), one array per row.
fn json_rows(text: &str) -> Vec<Vec<Option<String>>> {
    let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    value
        .as_array()
        .expect("array of rows")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("row array")
                .iter()
                .map(|v| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => panic!("expected a string or null, got {other}"),
                })
                .collect()
        })
        .collect()
}

/// How a column's source text becomes the text DuckDB gives for the exported
/// value. Each variant is a representation difference, not a change of value
/// (a lossy mapping is refused: tests/it/exactness.rs).
#[derive(Clone, Copy)]
enum Norm {
    /// Same text on both sides.
    Same,
    /// MariaDB's TINYINT(1) and BIT(1) hold `1`/`0`; the scanner maps them to
    /// BOOLEAN (mysql_tinyint1_as_boolean, mysql_bit1_as_boolean), printed
    /// `true`/`false`.
    ZeroOneBool,
    /// PostgreSQL abbreviates months (`2 mons`, `1 mon`); DuckDB writes
    /// `2 months`, `1 month`. Other units read the same.
    PgInterval,
    /// The source gives the bytes as hex (PostgreSQL `\x…` bytea text, MariaDB
    /// `HEX()`); DuckDB prints a BLOB with printable ASCII as itself, except
    /// `\`, `'` and `"`, and every other byte as `\xHH` (upper case).
    HexToBlob,
    /// The source gives a one-dimensional array as JSON (`array_to_json`);
    /// DuckDB prints a list as `[a, b, NULL]`, quoting an element in `'…'`
    /// (with `\'` for a quote) when it is empty, `null` in any case, has
    /// leading or trailing white space, or contains one of `,:(){}[]='"`.
    JsonToList,
    /// MariaDB prints a double's exponent without sign (`1e308`); DuckDB with
    /// one (`1e+308`).
    ExponentSign,
}

impl Norm {
    fn apply(self, source: &str) -> String {
        match self {
            Norm::Same => source.to_string(),
            Norm::ZeroOneBool => match source {
                "1" => "true".into(),
                "0" => "false".into(),
                other => panic!("TINYINT(1) value {other} is not 0/1: see mysql_lossy_mappings"),
            },
            Norm::PgInterval => source
                .split(' ')
                .map(|word| match word {
                    "mon" => "month",
                    "mons" => "months",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join(" "),
            Norm::HexToBlob => {
                let hex = source.strip_prefix("\\x").unwrap_or(source);
                assert!(hex.len() % 2 == 0, "odd hex: {source}");
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .map(|b| {
                        if (0x20..=0x7e).contains(&b) && !matches!(b, b'\\' | b'\'' | b'"') {
                            (b as char).to_string()
                        } else {
                            format!("\\x{b:02X}")
                        }
                    })
                    .collect()
            }
            Norm::JsonToList => {
                let items: Vec<serde_json::Value> = serde_json::from_str(source).unwrap();
                let items: Vec<String> = items
                    .iter()
                    .map(|item| match item {
                        serde_json::Value::Null => "NULL".to_string(),
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::String(s) => {
                            let quote = s.is_empty()
                                || s.eq_ignore_ascii_case("null")
                                || s.starts_with(char::is_whitespace)
                                || s.ends_with(char::is_whitespace)
                                || s.contains(|c| ",:(){}[]='\"".contains(c));
                            if quote {
                                format!("'{}'", s.replace('\'', "\\'"))
                            } else {
                                s.clone()
                            }
                        }
                        other => panic!("unexpected array element {other}"),
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Norm::ExponentSign => match source.split_once('e') {
                Some((mantissa, exp)) if !exp.starts_with(['-', '+']) => format!("{mantissa}e+{exp}"),
                _ => source.to_string(),
            },
        }
    }
}

/// One column of a type table: its SQL type, the value of the interesting
/// row (an SQL literal), the source expression whose text is canonical (`{c}`
/// stands for the column), the normaliser, and the expected DuckDB and Parquet
/// types.
struct Col {
    name: &'static str,
    sql_type: &'static str,
    value: &'static str,
    source_expr: &'static str,
    norm: Norm,
    duckdb: &'static str,
    parquet: &'static str,
}

/// Compares the exported file with the source's canonical text, value by value.
fn compare(cols: &[Col], source: &[Vec<Option<String>>], file: &Path) {
    let expected_columns: Vec<(String, String)> =
        cols.iter().map(|c| (c.name.to_string(), c.duckdb.to_string())).collect();
    assert_eq!(parquet_columns(file), expected_columns, "DuckDB types of the exported columns");
    let expected_physical: Vec<(String, String)> =
        cols.iter().map(|c| (c.name.to_string(), c.parquet.to_string())).collect();
    assert_eq!(parquet_physical(file), expected_physical, "Parquet physical types of the exported columns");

    let exported = parquet_rows(file);
    assert_eq!(exported.len(), source.len(), "row count");
    let mut mismatches = Vec::new();
    for (row, (got_row, src_row)) in exported.iter().zip(source).enumerate() {
        for (i, col) in cols.iter().enumerate() {
            let got = &got_row[i];
            let expected = src_row[i].as_deref().map(|s| col.norm.apply(s));
            if *got != expected {
                mismatches.push(format!(
                    "row {row} column {} ({}): source {:?} → expected {:?}, exported {:?}",
                    col.name, col.sql_type, src_row[i], expected, got
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "values changed on the way:\n{}", mismatches.join("\n"));
}

/// The same table through the `odbc` kind, one column at a time (with `id`):
/// each value must arrive as the native kind wrote it (proven against the
/// source above) or as the server's own text of it (`texts`: `::text`, `CAST(…
/// AS CHAR)`; a `char(n)`'s trailing blanks aside), or the column is refused
/// by name with exit 17 and no file. Returns the refused columns.
fn through_odbc(
    cols: &[Col],
    native: &Path,
    texts: &[Vec<Option<String>>],
    odbc_env: impl Fn(&str) -> Vec<(String, String)>,
    password: &str,
) -> Vec<&'static str> {
    let native = parquet_rows(native);
    let mut refused = Vec::new();
    let mut changed = Vec::new();
    for (i, col) in cols.iter().enumerate().skip(1) {
        let (run, dir) = export(&odbc_env(&format!("SELECT id, {} FROM all_types ORDER BY id", col.name)), password);
        let file = dir.path().join("result.parquet");
        match run.code {
            17 => {
                assert!(run.output().contains(&format!("column {} (", col.name)), "{}", run.output());
                assert!(!file.exists(), "a refused export left a file");
                refused.push(col.name);
            }
            0 => {
                for (row, got) in parquet_rows(&file).iter().enumerate() {
                    let got = got[1].as_deref();
                    let text = texts[row][i].as_deref();
                    let blank_padded =
                        col.sql_type.starts_with("char(") && got.map(str::trim_end) == text.map(str::trim_end);
                    if got != native[row][i].as_deref() && got != text && !blank_padded {
                        changed.push(format!(
                            "{} ({}) row {row}: {got:?}, native {:?}, server's text {text:?}",
                            col.name, col.sql_type, native[row][i]
                        ));
                    }
                }
            }
            code => panic!("{} ({}): exit {code}:\n{}", col.name, col.sql_type, run.output()),
        }
    }
    assert!(changed.is_empty(), "values changed through ODBC with exit 0:\n{}", changed.join("\n"));
    refused
}

// --------------------------------------------------------------------------
// PostgreSQL

const PG_COLS: &[Col] = &[
    Col {
        name: "id",
        sql_type: "integer PRIMARY KEY",
        value: "1",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "INTEGER",
        parquet: "INT32 INT_32",
    },
    Col {
        name: "c_smallint",
        sql_type: "smallint",
        value: "-32768",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "SMALLINT",
        parquet: "INT32 INT_16",
    },
    Col {
        name: "c_integer",
        sql_type: "integer",
        value: "2147483647",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "INTEGER",
        parquet: "INT32 INT_32",
    },
    Col {
        name: "c_bigint",
        sql_type: "bigint",
        value: "9223372036854775807",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "BIGINT",
        parquet: "INT64 INT_64",
    },
    Col {
        name: "c_numeric_10_2",
        sql_type: "numeric(10,2)",
        value: "-12345678.90",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "DECIMAL(10,2)",
        parquet: "INT64 DECIMAL(10,2)",
    },
    Col {
        name: "c_numeric_38_10",
        sql_type: "numeric(38,10)",
        value: "-1234567890123456789012345678.0123456789",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "DECIMAL(38,10)",
        parquet: "FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10)",
    },
    Col {
        name: "c_real",
        sql_type: "real",
        value: "3.4028235e38",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "FLOAT",
        parquet: "FLOAT",
    },
    Col {
        name: "c_double",
        sql_type: "double precision",
        value: "-2.2250738585072014e-308",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "DOUBLE",
        parquet: "DOUBLE",
    },
    // psql shows `t`, but boolean::text is `true`, as DuckDB prints it.
    Col {
        name: "c_boolean",
        sql_type: "boolean",
        value: "true",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "BOOLEAN",
        parquet: "BOOLEAN",
    },
    Col {
        name: "c_text",
        sql_type: "text",
        value: r#"E'it''s "quoted"\nsecond line\\back\ttab'"#,
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_varchar",
        sql_type: "varchar(20)",
        value: "'varchar ümlaut'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    // char(n) padding: PostgreSQL's own ::text drops it, and so does the
    // export ('ab', not 'ab   '); see postgres_casts_that_keep_the_values.
    Col {
        name: "c_char",
        sql_type: "char(5)",
        value: "'ab'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_uuid",
        sql_type: "uuid",
        value: "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "UUID",
        parquet: "FIXED_LEN_BYTE_ARRAY(16) UUID",
    },
    Col {
        name: "c_date",
        sql_type: "date",
        value: "'2024-02-29'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "DATE",
        parquet: "INT32 DATE",
    },
    Col {
        name: "c_time",
        sql_type: "time",
        value: "'23:59:59.999999'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "TIME",
        parquet: "INT64 TIME_MICROS",
    },
    Col {
        name: "c_timestamp",
        sql_type: "timestamp",
        value: "'2024-02-29 13:45:12.123456'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "TIMESTAMP",
        parquet: "INT64 TIMESTAMP_MICROS",
    },
    // The source text is taken with TimeZone=UTC, which is how DuckDB prints a
    // TIMESTAMPTZ here: the instant is kept, the +05:30 offset is not (a
    // Parquet timestamp with isAdjustedToUTC has no offset).
    Col {
        name: "c_timestamptz",
        sql_type: "timestamptz",
        value: "'2024-06-30 22:15:00.654321+05:30'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "TIMESTAMP WITH TIME ZONE",
        parquet: "INT64 TIMESTAMP_MICROS UTC",
    },
    // Milliseconds only: Parquet's INTERVAL has no microseconds; see
    // postgres_lossy_mappings for a value with microseconds.
    Col {
        name: "c_interval",
        sql_type: "interval",
        value: "'1 year 2 mons 3 days 04:05:06.789'",
        source_expr: "{c}::text",
        norm: Norm::PgInterval,
        duckdb: "INTERVAL",
        parquet: "FIXED_LEN_BYTE_ARRAY(12) INTERVAL",
    },
    Col {
        name: "c_bytea",
        sql_type: "bytea",
        value: r"'\xdeadbeef00ff41425c2722'",
        source_expr: "{c}::text",
        norm: Norm::HexToBlob,
        duckdb: "BLOB",
        parquet: "BYTE_ARRAY",
    },
    Col {
        name: "c_json",
        sql_type: "json",
        value: r#"'{"b": 1, "a": [true, null], "ü": "✓"}'"#,
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_jsonb",
        sql_type: "jsonb",
        value: r#"'{"b": 1, "a": [true, null], "ü": "✓"}'"#,
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_int_array",
        sql_type: "integer[]",
        value: "'{1,NULL,-3}'",
        source_expr: "array_to_json({c})::text",
        norm: Norm::JsonToList,
        duckdb: "INTEGER[]",
        parquet: "LIST<INT32 INT_32>",
    },
    Col {
        name: "c_text_array",
        sql_type: "text[]",
        value: r#"'{"a b","c,d",NULL,"é","it''s"}'"#,
        source_expr: "array_to_json({c})::text",
        norm: Norm::JsonToList,
        duckdb: "VARCHAR[]",
        parquet: "LIST<BYTE_ARRAY UTF8>",
    },
    // The enum type's name is not kept: its labels become plain strings.
    Col {
        name: "c_enum",
        sql_type: "mood",
        value: "'happy'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_unicode",
        sql_type: "text",
        value: "'Grüße 👋 你好 🎉 ẞ'",
        source_expr: "{c}::text",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
];

/// The source's canonical text of every value, through psql, in a session
/// with fixed output settings (UTC, ISO dates, PostgreSQL interval style).
fn pg_source_rows(db: &PgDatabase, cols: &[Col], table: &str) -> Vec<Vec<Option<String>>> {
    let exprs: Vec<String> = cols.iter().map(|c| c.source_expr.replace("{c}", c.name)).collect();
    json_rows(&db.admin(&format!(
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
         SELECT json_agg(json_build_array({}) ORDER BY id) FROM {table}",
        exprs.join(", ")
    )))
}

#[test]
fn postgres_types_round_trip_value_by_value() {
    let db = PgDatabase::create();
    let columns: Vec<String> = PG_COLS.iter().map(|c| format!("{} {}", c.name, c.sql_type)).collect();
    let values: Vec<&str> = PG_COLS.iter().map(|c| c.value).collect();
    db.exec(&format!(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); \
         CREATE TABLE all_types ({}); \
         INSERT INTO all_types VALUES ({}); \
         INSERT INTO all_types (id) VALUES (2);",
        columns.join(", "),
        values.join(", ")
    ));

    let (_dir, file) = export_ok(&db.env("SELECT * FROM db.all_types ORDER BY id"), &db.password);
    let source = pg_source_rows(&db, PG_COLS, "all_types");
    // The second row is NULL everywhere but in id.
    assert!(source[1][1..].iter().all(Option::is_none));
    compare(PG_COLS, &source, &file);

    // numeric without precision is refused, not rounded: tests/it/exactness.rs.

    // The text rendering of the lists, spelled out for the reader.
    let rows = parquet_rows(&file);
    let col = |name: &str| PG_COLS.iter().position(|c| c.name == name).unwrap();
    assert_eq!(rows[0][col("c_int_array")].as_deref(), Some("[1, NULL, -3]"));
    assert_eq!(rows[0][col("c_text_array")].as_deref(), Some(r"[a b, 'c,d', NULL, é, 'it\'s']"));
    assert_eq!(rows[0][col("c_bytea")].as_deref(), Some(r"\xDE\xAD\xBE\xEF\x00\xFFAB\x5C\x27\x22"));
    assert_eq!(rows[0][col("c_timestamptz")].as_deref(), Some("2024-06-30 16:45:00.654321+00"));
    assert_eq!(rows[0][col("c_jsonb")].as_deref(), Some(r#"{"a": [true, null], "b": 1, "ü": "✓"}"#));

    // Through psqlODBC: what README's table says is refused, and nothing else.
    let texts = json_rows(&db.admin(&format!(
        "SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SELECT json_agg(json_build_array({}) ORDER BY id) \
         FROM all_types",
        PG_COLS.iter().map(|c| format!("{}::text", c.name)).collect::<Vec<_>>().join(", ")
    )));
    let refused = through_odbc(PG_COLS, &file, &texts, |q| db.odbc_env(q), &db.password);
    assert_eq!(refused, ["c_numeric_38_10", "c_time", "c_timestamptz"]);
}

/// A table of values that a plain `SELECT *` does not carry faithfully.
fn pg_lossy_table(db: &PgDatabase) {
    db.exec(
        "CREATE TABLE lossy (id int, n numeric, n_nan numeric, n50 numeric(50,5), i_us interval, \
                             ttz timetz, m money, c char(5)); \
         INSERT INTO lossy VALUES (1, 12345678901234567890123456789.123456789, 'NaN', \
             1234567890123456789012345678901234567890123.12345, '1 day 00:00:00.123456', \
             '12:34:56.789+02', -1234.56, 'ab');",
    );
}

#[test]
fn postgres_lossy_mappings_are_refused() {
    let db = PgDatabase::create();
    pg_lossy_table(&db);
    // Each column a plain `SELECT *` would change is named, all at once, and
    // nothing is written (tests/it/exactness.rs has one test per case).
    let (run, dir) = export(&db.env("SELECT * FROM db.lossy ORDER BY id"), &db.password);
    assert_eq!(run.code, 17, "{}", run.output());
    assert!(run.stderr.contains("5 columns would arrive changed"), "{}", run.stderr);
    for (column, what) in [
        ("n", "numeric in public.lossy"),
        ("n_nan", "numeric in public.lossy"),
        ("n50", "numeric(50,5) in public.lossy"),
        ("ttz", "DuckDB type TIME WITH TIME ZONE"),
        ("m", "money in public.lossy"),
    ] {
        assert!(run.stderr.contains(&format!("column {column} ({what})")), "{column}: {}", run.stderr);
    }
    assert!(!dir.path().join("result.parquet").exists());
    // An interval's values are checked while they are written (no second
    // read): microseconds stop the export too.
    let (run, dir) = export(&db.env("SELECT i_us FROM db.lossy"), &db.password);
    assert_eq!(run.code, 17, "{}", run.output());
    assert!(run.stderr.contains("column i_us (DuckDB type INTERVAL)"), "{}", run.stderr);
    assert!(!dir.path().join("result.parquet").exists());
    // char(5) padding is dropped, as PostgreSQL's own ::text does: not a change of value.
    let (_dir, file) = export_ok(&db.env("SELECT c FROM db.lossy"), &db.password);
    assert_eq!(parquet_rows(&file), vec![some(&["ab"])]);
}

#[test]
fn postgres_casts_that_keep_the_values() {
    let db = PgDatabase::create();
    pg_lossy_table(&db);
    let source = |expr: &str| db.admin(&format!("SELECT {expr} FROM lossy")).trim_end_matches('\n').to_string();

    // DuckDB dialect: a cast to VARCHAR in the query keeps what DuckDB holds
    // before the Parquet writer (interval microseconds, the timetz offset).
    let (_dir, file) = export_ok(
        &db.env(
            "SELECT CAST(i_us AS VARCHAR) AS i_us, CAST(ttz AS VARCHAR) AS ttz, \
                    epoch(i_us) AS i_us_seconds FROM db.lossy",
        ),
        &db.password,
    );
    assert_eq!(parquet_columns(&file), owned(&[("i_us", "VARCHAR"), ("ttz", "VARCHAR"), ("i_us_seconds", "DOUBLE")]));
    assert_eq!(parquet_rows(&file), vec![some(&["1 day 00:00:00.123456", "12:34:56.789+02", "86400.123456"])]);
    // But not a numeric: the scanner has already read it as DOUBLE, so the
    // cast comes too late and the run is refused.
    let (run, _dir) = export(&db.env("SELECT CAST(n AS VARCHAR) AS n FROM db.lossy"), &db.password);
    assert_eq!(run.code, 17, "{}", run.output());
    assert!(run.stderr.contains("column n (numeric in public.lossy)"), "{}", run.stderr);

    // Native dialect: PostgreSQL does the cast, so the exact value arrives.
    let (_dir, file) = export_ok(
        &with(
            db.env(
                "SELECT n::text AS n, n::numeric(38,9) AS n_decimal, n_nan::text AS n_nan, n50::text AS n50, \
                        i_us::text AS i_us, ttz::text AS ttz, m::numeric(15,2) AS m, rpad(c, 5) AS c \
                 FROM lossy",
            ),
            &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
        ),
        &db.password,
    );
    assert_eq!(
        parquet_columns(&file),
        owned(&[
            ("n", "VARCHAR"),
            ("n_decimal", "DECIMAL(38,9)"),
            ("n_nan", "VARCHAR"),
            ("n50", "VARCHAR"),
            ("i_us", "VARCHAR"),
            ("ttz", "VARCHAR"),
            ("m", "DECIMAL(15,2)"),
            ("c", "VARCHAR"),
        ])
    );
    assert_eq!(
        parquet_rows(&file),
        vec![vec![
            Some(source("n::text")),
            Some(source("n::text")),
            Some(source("n_nan::text")),
            Some(source("n50::text")),
            Some(source("i_us::text")),
            Some(source("ttz::text")),
            Some("-1234.56".into()),
            Some("ab   ".into()),
        ]]
    );
    assert_eq!(source("n::text"), "12345678901234567890123456789.123456789");
    assert_eq!(source("n_nan::text"), "NaN");
    assert_eq!(source("i_us::text"), "1 day 00:00:00.123456");
    assert_eq!(source("ttz::text"), "12:34:56.789+02");
}

#[test]
fn postgres_negative_interval_is_refused_unless_cast() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int, i interval); INSERT INTO t VALUES (1, '-1 day -02:03:04.5');");

    // Parquet's INTERVAL is unsigned: the value cannot be written, so the
    // export is refused naming the column, and no file is left.
    let (run, dir) = export(&db.env("SELECT * FROM db.t"), &db.password);
    assert_eq!(run.code, 17, "{}", run.output());
    assert!(run.stderr.contains("column i (DuckDB type INTERVAL)"), "{}", run.stderr);
    assert!(run.stderr.contains("a negative interval cannot be written"), "{}", run.stderr);
    assert!(!dir.path().join("result.parquet").exists());

    let (_dir, file) =
        export_ok(&db.env("SELECT CAST(i AS VARCHAR) AS i_text, epoch(i) AS i_seconds FROM db.t"), &db.password);
    assert_eq!(parquet_columns(&file), owned(&[("i_text", "VARCHAR"), ("i_seconds", "DOUBLE")]));
    assert_eq!(parquet_rows(&file), vec![some(&["-1 day -02:03:04.5", "-93784.5"])]);
}

// --------------------------------------------------------------------------
// MariaDB / MySQL

const MY_COLS: &[Col] = &[
    Col {
        name: "id",
        sql_type: "int PRIMARY KEY",
        value: "1",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "INTEGER",
        parquet: "INT32 INT_32",
    },
    Col {
        name: "c_bool",
        sql_type: "tinyint(1)",
        value: "1",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::ZeroOneBool,
        duckdb: "BOOLEAN",
        parquet: "BOOLEAN",
    },
    Col {
        name: "c_tinyint",
        sql_type: "tinyint",
        value: "-128",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "TINYINT",
        parquet: "INT32 INT_8",
    },
    Col {
        name: "c_tinyint_u",
        sql_type: "tinyint unsigned",
        value: "255",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "UTINYINT",
        parquet: "INT32 UINT_8",
    },
    Col {
        name: "c_int",
        sql_type: "int",
        value: "-2147483648",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "INTEGER",
        parquet: "INT32 INT_32",
    },
    Col {
        name: "c_int_u",
        sql_type: "int unsigned",
        value: "4294967295",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "UINTEGER",
        parquet: "INT32 UINT_32",
    },
    Col {
        name: "c_bigint",
        sql_type: "bigint",
        value: "-9223372036854775808",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "BIGINT",
        parquet: "INT64 INT_64",
    },
    // 2^64-1 is kept, stored as INT64 annotated UINT_64: a reader that ignores
    // the annotation sees -1.
    Col {
        name: "c_bigint_u",
        sql_type: "bigint unsigned",
        value: "18446744073709551615",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "UBIGINT",
        parquet: "INT64 UINT_64",
    },
    Col {
        name: "c_decimal",
        sql_type: "decimal(38,10)",
        value: "-1234567890123456789012345678.0123456789",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "DECIMAL(38,10)",
        parquet: "FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10)",
    },
    Col {
        name: "c_decimal_10_2",
        sql_type: "decimal(10,2)",
        value: "-12345678.90",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "DECIMAL(10,2)",
        parquet: "INT64 DECIMAL(10,2)",
    },
    Col {
        name: "c_float",
        sql_type: "float",
        value: "-3.14159",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "FLOAT",
        parquet: "FLOAT",
    },
    Col {
        name: "c_double",
        sql_type: "double",
        value: "1.7976931348623157e308",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::ExponentSign,
        duckdb: "DOUBLE",
        parquet: "DOUBLE",
    },
    // BIT(n) arrives as its bytes (BLOB), BIT(1) as BOOLEAN. See
    // mysql_casts_that_keep_the_values for BIT(n) as a number.
    Col {
        name: "c_bit",
        sql_type: "bit(8)",
        value: "b'10100101'",
        source_expr: "HEX({c})",
        norm: Norm::HexToBlob,
        duckdb: "BLOB",
        parquet: "BYTE_ARRAY",
    },
    Col {
        name: "c_bit1",
        sql_type: "bit(1)",
        value: "b'1'",
        source_expr: "CAST({c} + 0 AS CHAR)",
        norm: Norm::ZeroOneBool,
        duckdb: "BOOLEAN",
        parquet: "BOOLEAN",
    },
    Col {
        name: "c_date",
        sql_type: "date",
        value: "'2024-02-29'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "DATE",
        parquet: "INT32 DATE",
    },
    Col {
        name: "c_datetime",
        sql_type: "datetime(6)",
        value: "'2024-02-29 13:45:12.123456'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "TIMESTAMP",
        parquet: "INT64 TIMESTAMP_MICROS",
    },
    // TIMESTAMP is read in the connection's session time zone (the server's
    // default) and written as a TIMESTAMP without zone: the same wall-clock
    // text the mariadb client shows with the server default.
    Col {
        name: "c_timestamp",
        sql_type: "timestamp NULL",
        value: "'2024-06-30 22:15:00'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "TIMESTAMP",
        parquet: "INT64 TIMESTAMP_MICROS",
    },
    // TIME is text (its range, -838:59:59 to 838:59:59, is not a time of day;
    // mysql_time_as_time is off).
    Col {
        name: "c_time",
        sql_type: "time",
        value: "'-838:59:59'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_year",
        sql_type: "year",
        value: "2155",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "INTEGER",
        parquet: "INT32 INT_32",
    },
    Col {
        name: "c_char",
        sql_type: "char(10)",
        value: "'ab'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_varchar",
        sql_type: "varchar(50)",
        value: "'varchar ümlaut'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_text",
        sql_type: "text",
        value: r#"'it''s "quoted"\nsecond line\\back\ttab'"#,
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_blob",
        sql_type: "blob",
        value: "X'DEADBEEF00FF41425C2722'",
        source_expr: "HEX({c})",
        norm: Norm::HexToBlob,
        duckdb: "BLOB",
        parquet: "BYTE_ARRAY",
    },
    Col {
        name: "c_json",
        sql_type: "json",
        value: r#"'{"b": 1, "a": [true, null], "ü": "✓"}'"#,
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_enum",
        sql_type: "enum('small','medium','large')",
        value: "'large'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_set",
        sql_type: "set('red','green','blue')",
        value: "'red,blue'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
    Col {
        name: "c_unicode",
        sql_type: "varchar(100)",
        value: "'Grüße 👋 你好 🎉 ẞ'",
        source_expr: "CAST({c} AS CHAR)",
        norm: Norm::Same,
        duckdb: "VARCHAR",
        parquet: "BYTE_ARRAY UTF8",
    },
];

/// Runs SQL in the test database as root through the mariadb client in raw
/// batch mode (no escaping of tabs, newlines or backslashes) with a utf8mb4
/// connection, and returns its output.
fn mariadb_raw(db: &MysqlDatabase, sql: &str) -> String {
    let out = Command::new("mariadb")
        .args(["--protocol=TCP", "-h", MYSQL_HOST, "-P", MYSQL_PORT, "-u", "root"])
        .args(["--batch", "--raw", "--skip-column-names", "--default-character-set=utf8mb4", "-D", &db.name, "-e"])
        .arg(sql)
        .output()
        .expect("run mariadb");
    assert!(out.status.success(), "mariadb {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The source's canonical text of every value: one JSON array per row.
fn mysql_source_rows(db: &MysqlDatabase, cols: &[Col], table: &str) -> Vec<Vec<Option<String>>> {
    let exprs: Vec<String> = cols.iter().map(|c| c.source_expr.replace("{c}", c.name)).collect();
    let out = mariadb_raw(db, &format!("SELECT JSON_ARRAY({}) FROM {table} ORDER BY id", exprs.join(", ")));
    json_rows(&format!("[{}]", out.lines().collect::<Vec<_>>().join(",")))
}

#[test]
fn mysql_types_round_trip_value_by_value() {
    let db = MysqlDatabase::create();
    let columns: Vec<String> = MY_COLS.iter().map(|c| format!("{} {}", c.name, c.sql_type)).collect();
    let values: Vec<&str> = MY_COLS.iter().map(|c| c.value).collect();
    db.admin(&format!(
        "SET NAMES utf8mb4; \
         CREATE TABLE all_types ({}) CHARACTER SET utf8mb4; \
         INSERT INTO all_types VALUES ({}); \
         INSERT INTO all_types (id) VALUES (2);",
        columns.join(", "),
        values.join(", ")
    ));

    let (_dir, file) = export_ok(&db.env("SELECT * FROM db.all_types ORDER BY id"), &db.password);
    let source = mysql_source_rows(&db, MY_COLS, "all_types");
    assert!(source[1][1..].iter().all(Option::is_none));
    compare(MY_COLS, &source, &file);

    let rows = parquet_rows(&file);
    let col = |name: &str| MY_COLS.iter().position(|c| c.name == name).unwrap();
    assert_eq!(rows[0][col("c_bit")].as_deref(), Some(r"\xA5"));
    assert_eq!(rows[0][col("c_blob")].as_deref(), Some(r"\xDE\xAD\xBE\xEF\x00\xFFAB\x5C\x27\x22"));
    assert_eq!(rows[0][col("c_double")].as_deref(), Some("1.7976931348623157e+308"));
    assert_eq!(rows[0][col("c_text")].as_deref(), Some("it's \"quoted\"\nsecond line\\back\ttab"));

    // Through MariaDB Connector/ODBC: what README's table says is refused (decimal(38,10):
    // 38 digits), and nothing else.
    let plain: Vec<String> = MY_COLS.iter().map(|c| format!("CAST({} AS CHAR)", c.name)).collect();
    let texts = json_rows(&format!(
        "[{}]",
        mariadb_raw(&db, &format!("SELECT JSON_ARRAY({}) FROM all_types ORDER BY id", plain.join(", ")))
            .lines()
            .collect::<Vec<_>>()
            .join(",")
    ));
    let refused = through_odbc(MY_COLS, &file, &texts, |q| db.odbc_env(q), &db.password);
    assert_eq!(refused, ["c_decimal", "c_time"]);
}

/// A table of values that a plain `SELECT *` does not carry faithfully.
fn mysql_lossy_table(db: &MysqlDatabase) {
    // sql_mode '' allows zero dates whatever the server's default is.
    db.admin(
        "SET SESSION sql_mode = ''; \
         CREATE TABLE lossy (id int, b tinyint(1), zd date, zdt datetime, d65 decimal(65,30), \
                             j json, ts timestamp NULL) CHARACTER SET utf8mb4; \
         INSERT INTO lossy VALUES \
           (1, 2, '0000-00-00', '0000-00-00 00:00:00', \
            12345678901234567890123456789012345.123456789012345678901234567890, '{\"k\": \"v\"}', \
            '2024-06-30 22:15:00'), \
           (2, -1, NULL, NULL, NULL, NULL, NULL);",
    );
}

#[test]
fn mysql_lossy_mappings_are_refused() {
    let db = MysqlDatabase::create();
    mysql_lossy_table(&db);
    // Each column a plain `SELECT *` would change is named, all at once
    // (tests/it/exactness.rs has one test per case).
    let (run, dir) = export(&db.env("SELECT * FROM db.lossy ORDER BY id"), &db.password);
    assert_eq!(run.code, 17, "{}", run.output());
    assert!(run.stderr.contains("4 columns would arrive changed"), "{}", run.stderr);
    for (column, what) in
        [("b", "tinyint(1) in"), ("zd", "date in"), ("zdt", "datetime in"), ("d65", "decimal(65,30) in")]
    {
        assert!(run.stderr.contains(&format!("column {column} ({what}")), "{column}: {}", run.stderr);
    }
    assert!(!dir.path().join("result.parquet").exists());
    // The rest arrive as they are.
    let (_dir, file) = export_ok(&db.env("SELECT id, j, ts FROM db.lossy ORDER BY id"), &db.password);
    let ts = mariadb_raw(&db, "SELECT CAST(ts AS CHAR) FROM lossy WHERE id = 1").trim().to_string();
    assert_eq!(parquet_columns(&file), owned(&[("id", "INTEGER"), ("j", "VARCHAR"), ("ts", "TIMESTAMP")]));
    assert_eq!(
        parquet_rows(&file),
        vec![vec![Some("1".into()), Some(r#"{"k": "v"}"#.into()), Some(ts)], vec![Some("2".into()), None, None]]
    );
}

#[test]
fn mysql_casts_that_keep_the_values() {
    let db = MysqlDatabase::create();
    mysql_lossy_table(&db);
    db.admin(
        "CREATE TABLE bits (id int, c_bit bit(8), c_bit1 bit(1)); INSERT INTO bits VALUES (1, b'10100101', b'1');",
    );
    let native = |query: &str| with(db.env(query), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);

    // DuckDB dialect: a cast in the query comes too late, the scanner has
    // already read TINYINT(1) as BOOLEAN: refused.
    let (run, _dir) = export(&db.env("SELECT CAST(b AS INTEGER) AS b FROM db.lossy ORDER BY id"), &db.password);
    assert_eq!(run.code, 17, "{}", run.output());
    assert!(run.stderr.contains("column b (tinyint(1) in"), "{}", run.stderr);

    // Native dialect: MariaDB does the cast, so the exact value arrives.
    let (_dir, file) = export_ok(
        &native(
            "SELECT id, CAST(b AS SIGNED) AS b, CAST(zd AS CHAR) AS zd, CAST(zdt AS CHAR) AS zdt, \
                    CAST(d65 AS CHAR) AS d65, CAST(j AS CHAR) AS j, j AS j_raw, UNIX_TIMESTAMP(ts) AS ts_epoch \
             FROM lossy ORDER BY id",
        ),
        &db.password,
    );
    let columns = parquet_columns(&file);
    let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        ["INTEGER", "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "BLOB", "BIGINT"],
        "{columns:?}"
    );
    let epoch = mariadb_raw(&db, "SELECT UNIX_TIMESTAMP(ts) FROM lossy WHERE id = 1").trim().to_string();
    assert_eq!(
        parquet_rows(&file),
        vec![
            vec![
                Some("1".into()),
                Some("2".into()),
                Some("0000-00-00".into()),
                Some("0000-00-00 00:00:00".into()),
                Some("12345678901234567890123456789012345.123456789012345678901234567890".into()),
                Some(r#"{"k": "v"}"#.into()),
                // In native dialect MariaDB reports a JSON column as binary
                // (utf8mb4_bin): it arrives as BLOB unless cast to CHAR (a
                // BLOB prints `"` as \x22).
                Some(r#"{\x22k\x22: \x22v\x22}"#.into()),
                Some(epoch),
            ],
            vec![Some("2".into()), Some("-1".into()), None, None, None, None, None, None],
        ]
    );

    // BIT(n) as a number, or as its binary digits.
    let (_dir, file) = export_ok(&native("SELECT c_bit + 0 AS n, BIN(c_bit) AS bits, c_bit1 FROM bits"), &db.password);
    assert_eq!(parquet_rows(&file), vec![some(&["165", "10100101", "true"])]);
    let columns = parquet_columns(&file);
    assert_eq!(columns[1].1, "VARCHAR");
    assert_eq!(columns[2].1, "BOOLEAN", "BIT(1) is BOOLEAN");
}
