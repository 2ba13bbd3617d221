//! A differential test that looks for what nobody listed: tables built from
//! the servers' own type catalogues, filled with edge values the servers
//! themselves accept, each column exported on its own by the connector binary
//! (in both query dialects of the servers' own kinds, and, in a second test,
//! through the `odbc` kind with Debian's drivers), every value compared with
//! the server's own text of it.
//!
//! **Types.** PostgreSQL 15: every type in `pg_type` of kind base, range,
//! multirange or enum (those of the extensions the server has available
//! included, PostGIS among them, and one enum of the test's own), the domains
//! of `information_schema`, and a few declared modifiers (`numeric(p,s)` with a
//! seeded random precision and scale among them); a type the server will not
//! take as a column is left out by the server, not by a list here. Around each
//! such leaf: its array, a domain over it, a composite with it as a field, and
//! a range over it where the server can make one. MariaDB 10.11: the type
//! names of the server's own documentation (`mysql.help_topic`, categories
//! "Data Types" and "Geographic Features") and its data type plugins, each
//! tried with a few parameter lists (`(1)`, `(6)`, `(38,10)`, `(65,30)`,
//! `UNSIGNED`, …); whatever `CREATE TABLE` accepts is a case, one per distinct
//! `COLUMN_TYPE` (display widths of integers aside, `tinyint(1)` kept).
//!
//! **Values.** One pool of edge literals (the integer limits of 1 to 16
//! bytes, NaN, ±infinity, the float limits and subnormals, the date and time
//! limits of both servers and of DuckDB, long intervals, empty and awkward
//! strings, empty and nested arrays, NULLs, geometry with and without an SRID,
//! …) is offered to every type; the server keeps what it accepts
//! (PostgreSQL: a cast inside an exception block; MariaDB: strict inserts,
//! plus non-strict inserts of out-of-range literals, which the server clamps
//! to the type's own minimum and maximum, and zero dates). Values that refuse
//! a column by themselves (NaN, infinity, zero dates, clamped extremes) go to a
//! table of their own, so that they do not hide what happens to the others.
//!
//! **Outcome** of each case (one column of one table, one route: a dialect, or ODBC):
//! *exact* (exit 0, every value equal), *refused* (exit 17 naming the column,
//! no file), *CHANGED* (exit 0 and some value differs) or *ERROR* (any other
//! exit; it fails the test when the output does not name the column). The
//! test fails on CHANGED, on an ERROR that names no column and on a refusal
//! for a (source type → DuckDB type) pair that is not on the allowlist's
//! source half (every pair a catalogue type meets must be listed), and prints the
//! count of cases and of types covered by outcome.
//!
//! **Comparison rules** (a false CHANGED is as bad as a missed one). The file
//! is read back with DuckDB (`to_json()` of the column, GeoParquet conversion
//! off, session time zone UTC); its number tokens are kept as written. The
//! server's text is PostgreSQL's `v::text` (session `TimeZone` UTC, `DateStyle`
//! ISO) parsed along the source type's own nesting (array and record
//! literals; an array with explicit bounds, a dimension DuckDB cannot hold,
//! counts as changed), or MariaDB's `CAST(v AS CHAR)` (`HEX(v)` for binary
//! types and BIT, `CAST(v AS DOUBLE)` for FLOAT). Per DuckDB type of the
//! value in the file:
//! - integers, `DECIMAL`, `HUGEINT`: equal as decimal numbers (`1.50` = `1.5`);
//! - `FLOAT`/`DOUBLE`: from a PostgreSQL `real` / MariaDB `FLOAT` equal as
//!   single-precision values, from a `double` bit for bit (`-0` ≠ `0`, NaN =
//!   NaN), from anything else (e.g. `numeric`) equal as decimal numbers (so a
//!   rounded digit is a change);
//! - `BOOLEAN`: `true`/`t` and `false`/`f`, and for MariaDB `tinyint(1)` and
//!   `bit(1)` only `1` and `0` (a 2 arriving as `true` is a change);
//! - dates, times and timestamps: equal text after one spelling (`T` or space,
//!   `BC` or `(BC)`, offset `+00:00` or `+00`, no trailing zeros in the
//!   fraction); an infinity read back is always a change (DuckDB's sentinel,
//!   which other readers reject or read as a finite date);
//! - `INTERVAL`: equal months, days and microseconds (`2 mons` = `2 months`);
//! - PostgreSQL's geometric types read as a list or struct of doubles
//!   (`point`, `box`, `polygon`, …): the numbers of the text, in order; a
//!   `path` also loses whether it is open or closed, which is a change;
//! - `BLOB`: equal bytes (the source's hex for binary types; PostGIS and
//!   MariaDB geometry: the standard WKB of `ST_AsBinary`, and the GeoParquet
//!   CRS must be the values' one SRID; an SRID 0 written without a CRS is a
//!   change, since GeoParquet then means longitude/latitude);
//! - `UUID`: equal ignoring case;
//! - PostgreSQL `inet` as text: equal addresses, a missing netmask being the
//!   host's full one (`::1` = `::1/128`: PostgreSQL's output leaves it out,
//!   its `::text` does not);
//! - PostgreSQL `money`: only a number equal to the amount counts (its text is
//!   formatted per `lc_monetary`, `-$1,234.56`, which is why the connector
//!   refuses it as text);
//! - text and everything else: equal text, except that trailing blanks of a
//!   PostgreSQL `char(n)` do not count (they do not in PostgreSQL either),
//!   JSON documents compare as parsed JSON (key order, spacing and number
//!   spelling aside), and dates, times and intervals kept as text (MariaDB's
//!   `TIME`) follow the date and interval rules above (`00:01:27.0` =
//!   `00:01:27`).
//!
//! **Size.** A fixed seed (`CONNECTOR_GENERATED_SEED`, default 26) picks
//! `CONNECTOR_GENERATED_CASES` cases (default 300: first one case of every
//! leaf type, then the others in seeded order), which takes a few minutes.
//! `CONNECTOR_GENERATED_CASES=all` runs every case (1,970 cases, 7 to 60
//! minutes on 2 cores, as fast as the host; `CONNECTOR_GENERATED_WORKERS` exports that many at a time,
//! default 2): run it before a release. The ODBC test runs every table
//! once (about two minutes; `CONNECTOR_GENERATED_ODBC_CASES` to choose fewer).
//! `CONNECTOR_GENERATED_REPORT=<file>` writes every case with its DDL, values
//! and what arrived as Markdown (the ODBC test to `<file>.odbc.md`).

pub(crate) mod compare;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use compare::{compare, parse_dtype, parse_json, Alt, Shape};

use crate::common::*;

const COLUMN: &str = "probe_value";
const DEFAULT_CASES: Option<usize> = Some(300);
/// Every case: through ODBC they take about two minutes on two cores.
const DEFAULT_ODBC_CASES: Option<usize> = None;
const DEFAULT_SEED: u64 = 26;
const LOSS_REFUSED: i32 = 17;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Server {
    Postgres,
    Mariadb,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Postgres => "PostgreSQL",
            Server::Mariadb => "MariaDB",
        }
    }
}

/// One table with one column of one type, holding a group of values.
#[derive(Clone, Debug)]
struct Table {
    server: Server,
    name: String,
    /// The column's type as declared, e.g. `numeric(10,2)[]`.
    declared: String,
    /// What the type is, for people: `domain over numeric(10,2)`.
    label: String,
    /// The leaf type it covers (for the count of types covered).
    leaf: String,
    /// plain, array, array2d (two dimensions), domain, composite, range.
    variant: &'static str,
    shape: Shape,
    delim: char,
    /// DDL run before the inserts (types, domains, the table).
    ddl: Vec<String>,
    /// The SQL expressions inserted, one row each (NULL included).
    rows: Vec<String>,
    /// Whether the table holds values that refuse a column by themselves.
    special: bool,
}

#[derive(Clone, Debug)]
struct Case {
    table: usize,
    dialect: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Exact,
    Refused,
    Changed,
    ErrorNamed,
    ErrorUnnamed,
    /// Refused because the scanner's (source type → DuckDB type) pair is not
    /// on the allowlist's source half: every pair a catalogue type meets
    /// must be listed (and so be judged), so this fails the test.
    Unlisted,
    /// The server kept no row in the table: nothing to compare (not a case).
    Empty,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Exact => "exact",
            Outcome::Refused => "refused (exit 17, column named)",
            Outcome::Changed => "CHANGED (exit 0, a value differs)",
            Outcome::ErrorNamed => "error naming the column",
            Outcome::ErrorUnnamed => "ERROR naming no column",
            Outcome::Unlisted => "REFUSED: pair not on the allowlist",
            Outcome::Empty => "not a case: the server kept no value",
        }
    }
}

struct Finding {
    case: Case,
    outcome: Outcome,
    detail: String,
    duckdb_type: String,
}

fn cases_wanted(setting: &str, default: Option<usize>) -> Option<usize> {
    match std::env::var(setting) {
        Ok(v) if v.eq_ignore_ascii_case("all") => None,
        Ok(v) => Some(v.parse().unwrap_or_else(|_| panic!("{setting}={v}: a number or `all`"))),
        Err(_) => default,
    }
}

fn seed() -> u64 {
    std::env::var("CONNECTOR_GENERATED_SEED")
        .map(|v| v.parse().expect("CONNECTOR_GENERATED_SEED: a number"))
        .unwrap_or(DEFAULT_SEED)
}

// ---------------------------------------------------------------------------
// The value pool

/// Edge literals offered to every type; each server keeps those its types
/// accept. Integer limits are computed for every width from 1 to 16 bytes.
fn literal_pool() -> Vec<String> {
    let mut pool: Vec<String> = Vec::new();
    for bytes in [1u32, 2, 3, 4, 8, 16] {
        let bits = bytes * 8;
        let max_signed = (1u128 << (bits - 1)) - 1;
        pool.push(max_signed.to_string());
        pool.push(format!("-{}", max_signed + 1));
        pool.push(if bits == 128 { u128::MAX.to_string() } else { ((1u128 << bits) - 1).to_string() });
    }
    for text in [
        "0",
        "1",
        "-1",
        "2",
        "1.50",
        "-0.01",
        "0.1",
        "0.30000000000000004",
        "12345678901234567890.123456789",
        "1234567890123456789012345678.0123456789",
        "99999999999999999999999999999999999999",
        "1e-10",
        "NaN",
        "Infinity",
        "-Infinity",
        "-0",
        "3.4028235e38",
        "-3.4028235e38",
        "1e-45",
        "1.17549435e-38",
        "1.7976931348623157e308",
        "-1.7976931348623157e308",
        "5e-324",
        "2.2250738585072014e-308",
        "true",
        "false",
        "",
        " ",
        "a",
        "ab   ",
        "it's \"quoted\"\nline\\back\ttab",
        "ümlaut 日本 🎉",
        "NULL",
        "null",
        "{}",
        "[]",
        "2024-02-29",
        "4713-01-01 BC",
        "5874897-12-31",
        "0001-01-01",
        "1970-01-01",
        "9999-12-31",
        "infinity",
        "-infinity",
        "294276-12-31 23:59:59.999999",
        "4713-01-01 00:00:00 BC",
        "2024-02-29 13:45:12.123456",
        "294247-01-10 04:00:54.775807",
        "290309-12-21 BC",
        "2024-06-30 22:15:00.654321+05:30",
        "1000-01-01 00:00:00",
        "9999-12-31 23:59:59.999999",
        "2038-01-19 03:14:07.999999",
        "1970-01-01 00:00:01",
        "00:00:00",
        "24:00:00",
        "23:59:59.999999",
        "12:34:56.789+02",
        "00:00:00+1559",
        "24:00:00-1559",
        "838:59:59",
        "-838:59:59.999999",
        "1194 hours",
        "1 microsecond",
        "-1 day",
        "178000000 years",
        "-178000000 years",
        "1 year 2 mons 3 days 04:05:06.789",
        "2147483647 days",
        "\\x",
        "\\x00ff5c27",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "00000000-0000-0000-0000-000000000000",
        "192.168.0.1/24",
        "::1/128",
        "255.255.255.255",
        "10.0.0.0/8",
        "::ffff:1.2.3.4",
        "08:00:2b:01:02:03",
        "08:00:2b:01:02:03:04:05",
        "(1,2)",
        "(1.5,-2.5),(3,4)",
        "<(1,2),3>",
        "{1,2,3}",
        "[(0,0),(1,1)]",
        "((0,0),(1,1),(1,0))",
        "101",
        "0",
        r#"{"b": 1, "a": [1.0E+2, "x", null], "c": {"d": -0.0}}"#,
        r#""str""#,
        "123.4500",
        "<a>x</a>",
        "$.a[*] ? (@ > 1)",
        "fat & rat",
        "a fat cat",
        "0/16B3748",
        "10:20:10,14,15",
        "[1,5)",
        "(,)",
        "empty",
        "[2024-01-01,2024-02-01)",
        "{[1,2),[5,7)}",
        "a=>1, b=>NULL",
        "Top.Child",
        "1.5 .. 2.5",
        "978-3-16-148410-0",
        "SRID=25832;POINT(691000.5 5335000.25)",
        "POINT(13.4 52.5)",
        "SRID=4326;POINT(13.4 52.5)",
        "SRID=25832;LINESTRING(0 0,1 1)",
        "POINT EMPTY",
        "SRID=4326;POLYGON((0 0,1 0,1 1,0 0))",
        "POINT Z (1 2 3)",
        "BOX(0 0,1 1)",
        "BOX3D(0 0 0,1 1 1)",
        "c",
        "Z",
    ] {
        pool.push(text.to_string());
    }
    pool
}

/// Values that refuse a column by themselves (or that DuckDB holds only as a
/// sentinel): they get a table of their own.
fn is_special(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("nan") || t.contains("infinity") || t.contains("0000-00-00") || t.contains("-00")
}

// ---------------------------------------------------------------------------
// PostgreSQL

fn psql_raw(database: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-X", "-q", "-A", "-t", "-F", "\u{1f}", "-R", "\u{1e}", "-h", PG_HOST, "-p", PG_PORT, "-U", "postgres",
            "-d", database,
        ])
        .args(["-v", "ON_ERROR_STOP=1"])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGTZ", "UTC")
        .env("PGOPTIONS", "-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1")
        .arg("-c")
        .arg(sql)
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn psql_rows(database: &str, sql: &str) -> Vec<Vec<String>> {
    let text = psql_raw(database, sql).unwrap_or_else(|e| panic!("psql {sql}: {e}"));
    text.trim_end_matches('\n')
        .split('\u{1e}')
        .filter(|r| !r.is_empty())
        .map(|r| r.trim_start_matches('\n').split('\u{1f}').map(str::to_string).collect())
        .collect()
}

pub(crate) fn pg_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A PostgreSQL leaf type: its declaration, its base `typname` (how values
/// are compared), its array delimiter and whether the server can build a
/// range over it.
struct PgLeaf {
    declared: String,
    typname: String,
    delim: char,
    rangeable: bool,
    has_array: bool,
}

fn pg_leaves(db: &PgDatabase, rng: &mut fastrand::Rng) -> Vec<PgLeaf> {
    let rows = psql_rows(
        &db.name,
        "SELECT format_type(t.oid, NULL), t.typname, t.typdelim, \
           EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod \
                   WHERE a.amname = 'btree' AND o.opcdefault AND o.opcintype = t.oid), \
           t.typarray <> 0 \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname NOT IN ('pg_toast') AND t.typisdefined AND t.typname NOT LIKE '\\_%' \
           AND (t.typtype IN ('b', 'r', 'm', 'e') AND n.nspname <> 'information_schema' \
                OR t.typtype = 'd' AND n.nspname = 'information_schema') \
         ORDER BY 1",
    );
    let mut leaves: Vec<PgLeaf> = rows
        .into_iter()
        .map(|r| PgLeaf {
            declared: r[0].clone(),
            typname: r[1].clone(),
            delim: r[2].chars().next().unwrap_or(','),
            rangeable: r[3] == "t",
            has_array: r[4] == "t",
        })
        .collect();
    // Declared modifiers: the ones the issue names, and seeded random precisions.
    let mut numeric: Vec<(i32, i32)> = vec![(10, 2), (38, 10), (5, -2), (3, 5), (50, 5), (39, 0), (1, 0)];
    for _ in 0..3 {
        let p = rng.i32(1..=60);
        numeric.push((p, rng.i32(-3..=p + 3)));
    }
    let mut modified: Vec<(String, &str)> =
        numeric.into_iter().map(|(p, s)| (format!("numeric({p},{s})"), "numeric")).collect();
    for (declared, typname) in [
        ("character varying(3)", "varchar"),
        ("character(5)", "bpchar"),
        ("bit(3)", "bit"),
        ("bit varying(5)", "varbit"),
        ("time(0) without time zone", "time"),
        ("timestamp(3) without time zone", "timestamp"),
        ("timestamp(0) with time zone", "timestamptz"),
        ("interval(0)", "interval"),
        ("geometry(Point,25832)", "geometry"),
        ("geometry(Point,4326)", "geometry"),
        ("geography(Point,4326)", "geography"),
    ] {
        modified.push((declared.to_string(), typname));
    }
    for (declared, typname) in modified {
        if let Some(base) = leaves.iter().find(|l| l.typname == typname) {
            let leaf =
                PgLeaf { declared, typname: typname.to_string(), delim: base.delim, rangeable: false, has_array: true };
            leaves.push(leaf);
        }
    }
    leaves
}

/// The literals of the pool that `declared` accepts, as the server's own
/// text of the value (duplicates removed).
fn pg_accepted(db: &PgDatabase, leaves: &[PgLeaf], pool: &[String]) -> BTreeMap<String, Vec<String>> {
    let literals: Vec<String> = pool.iter().map(|l| pg_quote(l)).collect();
    let types: Vec<String> = leaves.iter().map(|l| pg_quote(&l.declared)).collect();
    let rows = psql_rows(
        &db.name,
        &format!(
            "SELECT t, v FROM (SELECT t, gen_try_text(l, t) AS v, o FROM unnest(ARRAY[{}]) WITH ORDINALITY AS l(l, o), \
             unnest(ARRAY[{}]) AS t(t)) x WHERE v IS NOT NULL ORDER BY t, o",
            literals.join(","),
            types.join(",")
        ),
    );
    let mut accepted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let values = accepted.entry(row[0].clone()).or_default();
        if !values.contains(&row[1]) {
            values.push(row[1].clone());
        }
    }
    accepted
}

fn pg_tables(db: &PgDatabase, rng: &mut fastrand::Rng) -> Vec<Table> {
    // Every extension the server has that can be created here (their types are catalogue types too).
    // One session for all of them (a few seconds, PostGIS and its kin included).
    db.admin(
        "DO $$ DECLARE e text; BEGIN FOR e IN SELECT name FROM pg_available_extensions ORDER BY name LOOP \
         BEGIN EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I CASCADE', e); EXCEPTION WHEN OTHERS THEN NULL; END; \
         END LOOP; END $$",
    );
    db.exec(
        "CREATE TYPE gen_enum AS ENUM ('a', 'b c', 'ä''\"'); \
         CREATE FUNCTION gen_try_text(lit text, typ text) RETURNS text LANGUAGE plpgsql AS $f$ \
         DECLARE r text; BEGIN EXECUTE format('SELECT (%L::%s)::text', lit, typ) INTO r; RETURN r; \
         EXCEPTION WHEN OTHERS THEN RETURN NULL; END $f$; \
         CREATE FUNCTION gen_try(stmt text) RETURNS boolean LANGUAGE plpgsql AS $f$ \
         BEGIN EXECUTE stmt; RETURN true; EXCEPTION WHEN OTHERS THEN RETURN false; END $f$;",
    );
    let leaves = pg_leaves(db, rng);
    let mut pool = literal_pool();
    pool.extend(["b c".to_string(), "ä'\"".to_string()]);
    let accepted = pg_accepted(db, &leaves, &pool);

    let mut tables = Vec::new();
    for (n, leaf) in leaves.iter().enumerate() {
        let Some(values) = accepted.get(&leaf.declared) else { continue };
        let t = leaf.declared.as_str();
        let (ordinary, special): (Vec<&String>, Vec<&String>) = values.iter().partition(|v| !is_special(v));
        let mut groups: Vec<(Vec<&String>, bool)> = vec![(ordinary.clone(), false)];
        if !special.is_empty() {
            let mut group = special.clone();
            group.extend(ordinary.first().copied());
            groups.push((group, true));
        }
        let leaf_shape = Shape::Leaf(leaf.typname.clone());
        for (g, (group, special)) in groups.into_iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let lit = |v: &str| format!("{}::{t}", pg_quote(v));
            let base = format!("g{n}_{g}");
            let table =
                |variant: &'static str, declared: String, shape: Shape, ddl: Vec<String>, rows: Vec<String>| Table {
                    server: Server::Postgres,
                    name: format!("t_{base}_{variant}"),
                    label: match variant {
                        "domain" => format!("{declared} (domain over {t})"),
                        "composite" => format!("{declared} (composite: f {t}, g int4)"),
                        "range" => format!("{declared} (range over {t})"),
                        "array2d" => format!("{declared} holding two-dimensional arrays"),
                        _ => declared.clone(),
                    },
                    declared,
                    leaf: format!("postgres {}", leaf.declared),
                    variant,
                    shape,
                    delim: leaf.delim,
                    ddl,
                    rows,
                    special,
                };
            let plain_rows: Vec<String> =
                std::iter::once("NULL".to_string()).chain(group.iter().map(|v| lit(v.as_str()))).collect();
            tables.push(table("plain", t.to_string(), leaf_shape.clone(), vec![], plain_rows.clone()));
            if leaf.has_array {
                let mut rows = vec!["NULL".to_string(), format!("'{{}}'::{t}[]")];
                for chunk in group.chunks(2) {
                    let items: Vec<String> = chunk.iter().map(|v| lit(v.as_str())).collect();
                    rows.push(format!("ARRAY[{}, NULL]::{t}[]", items.join(", ")));
                }
                let shape = Shape::Array(Box::new(leaf_shape.clone()));
                tables.push(table("array", format!("{t}[]"), shape.clone(), vec![], rows));
                // Two dimensions in a column declared with one (PostgreSQL does not tell them
                // apart), in a table of their own so that they hide nothing.
                let (a, b) = (group[0], group[group.len() - 1]);
                let rows = vec![
                    "NULL".to_string(),
                    format!("ARRAY[[{}, {}], [NULL, {}]]::{t}[]", lit(a.as_str()), lit(b.as_str()), lit(a.as_str())),
                ];
                tables.push(table("array2d", format!("{t}[]"), shape, vec![], rows));
            }
            let domain = format!("d_{base}");
            tables.push(table(
                "domain",
                domain.clone(),
                leaf_shape.clone(),
                vec![format!("CREATE DOMAIN {domain} AS {t}")],
                plain_rows.iter().map(|r| if r == "NULL" { r.clone() } else { format!("({r})::{domain}") }).collect(),
            ));
            let composite = format!("c_{base}");
            let mut rows = vec!["NULL".to_string(), format!("ROW(NULL, 2)::{composite}")];
            rows.extend(group.iter().map(|v| format!("ROW({}, 1)::{composite}", lit(v.as_str()))));
            let shape = Shape::Record(vec![("f".into(), leaf_shape.clone()), ("g".into(), Shape::Leaf("int4".into()))]);
            tables.push(table(
                "composite",
                composite.clone(),
                shape,
                vec![format!("CREATE TYPE {composite} AS (f {t}, g int4)")],
                rows,
            ));
            if leaf.rangeable && !t.contains('(') {
                let range = format!("r_{base}");
                let mut rows = vec!["NULL".to_string(), format!("'empty'::{range}"), format!("{range}(NULL, NULL)")];
                for pair in group.windows(2) {
                    rows.push(format!(
                        "{range}(LEAST({a}, {b}), GREATEST({a}, {b}))",
                        a = lit(pair[0].as_str()),
                        b = lit(pair[1].as_str())
                    ));
                }
                rows.push(format!("{range}({}, NULL, '(]')", lit(group[0].as_str())));
                tables.push(table(
                    "range",
                    range.clone(),
                    Shape::Leaf("range".into()),
                    vec![format!("CREATE TYPE {range} AS RANGE (subtype = {t})")],
                    rows,
                ));
            }
        }
    }
    tables
}

/// Creates `tables` as the test role (types, table, rows; whatever the server
/// refuses is skipped) and returns the names of those it created.
fn pg_create(db: &PgDatabase, tables: &[&Table]) -> BTreeSet<String> {
    let mut script = format!("SET ROLE {};\n", db.user);
    for table in tables {
        for ddl in &table.ddl {
            script.push_str(&format!("SELECT gen_try({});\n", pg_quote(ddl)));
        }
        script.push_str(&format!(
            "SELECT gen_try({});\n",
            pg_quote(&format!("CREATE TABLE {} (id serial PRIMARY KEY, {COLUMN} {})", table.name, table.declared))
        ));
        for row in &table.rows {
            script.push_str(&format!(
                "SELECT gen_try({});\n",
                pg_quote(&format!("INSERT INTO {} ({COLUMN}) VALUES ({row})", table.name))
            ));
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-h", PG_HOST, "-p", PG_PORT, "-U", "postgres", "-d", &db.name, "-f"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "building the PostgreSQL tables: {}", String::from_utf8_lossy(&out.stderr));
    psql_rows(&db.name, "SELECT relname FROM pg_class WHERE relname LIKE 't\\_g%' AND relkind = 'r'")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

/// The server's text of each row (NULL → None), and for geometry the WKB and SRID.
fn pg_source(db: &PgDatabase, table: &Table) -> Vec<(Option<String>, Alt, Option<i64>)> {
    let geometry = matches!(&table.shape, Shape::Leaf(k) if k == "geometry" || k == "geography");
    let extra = if geometry {
        format!("encode(ST_AsBinary({COLUMN}, 'NDR'), 'hex'), ST_SRID({COLUMN})")
    } else {
        "'', ''".to_string()
    };
    psql_rows(
        &db.name,
        &format!(
            "SELECT CASE WHEN {COLUMN} IS NULL THEN 'N' ELSE 'V' || {COLUMN}::text END, {extra} FROM {} ORDER BY id",
            table.name
        ),
    )
    .into_iter()
    .map(|r| {
        let text = r[0].strip_prefix('V').map(str::to_string);
        let alt = Alt { wkb_hex: Some(r[1].clone()).filter(|s| !s.is_empty()) };
        (text, alt, r[2].parse().ok())
    })
    .collect()
}

// ---------------------------------------------------------------------------
// MariaDB

fn mariadb_raw(sql: &str, force: bool) -> (String, String) {
    let mut cmd = Command::new("mariadb");
    cmd.args(["--protocol=TCP", "-h", MYSQL_HOST, "-P", MYSQL_PORT, "-u", "root", "--batch", "--skip-column-names"]);
    if force {
        cmd.arg("--force");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), sql).unwrap();
    let out = cmd.stdin(std::fs::File::open(file.path()).unwrap()).output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub(crate) fn mariadb_rows(sql: &str) -> Vec<Vec<String>> {
    let (out, err) = mariadb_raw(sql, false);
    assert!(err.trim().is_empty(), "mariadb {sql}: {err}");
    out.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

pub(crate) fn unhex(text: &str) -> String {
    String::from_utf8_lossy(&compare::hex_bytes(text).unwrap_or_default()).into_owned()
}

/// MariaDB's literal pool: the shared one as strings, and what only SQL
/// expressions can say (bit and binary literals, geometry with an SRID).
fn mariadb_literals() -> Vec<String> {
    let mut pool: Vec<String> = literal_pool().iter().map(|l| mysql_quote_literal(l)).collect();
    for expr in [
        "b'1'",
        "b'0'",
        "b'10100101'",
        "0x00FF5C27",
        "ST_GeomFromText('POINT(691000.5 5335000.25)', 25832)",
        "ST_GeomFromText('POINT(13.4 52.5)')",
        "ST_GeomFromText('LINESTRING(0 0,1 1)', 25832)",
        "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 25832)",
        "ST_GeomFromText('MULTIPOINT(0 0,1 1)', 25832)",
        "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2))', 25832)",
        "1e308",
        "-1e308",
        "255",
        "2",
        "-1",
    ] {
        pool.push(expr.to_string());
    }
    pool
}

/// Non-strict inserts: the server clamps them to the type's own limits or
/// stores zero dates.
const MARIADB_CLAMPED: [&str; 8] = [
    "'1e400'",
    "'-1e400'",
    "'0000-00-00'",
    "'0000-00-00 00:00:00'",
    "'2018-02-00'",
    "'99999999999999999999999999999999999999999999999999999999999999999999'",
    "'-99999999999999999999999999999999999999999999999999999999999999999999'",
    "'9999-99-99'",
];

struct MariaType {
    column_type: String,
    data_type: String,
    precision: Option<u32>,
}

fn mariadb_types(db: &MysqlDatabase) -> Vec<MariaType> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for row in mariadb_rows(
        "SELECT t.name FROM mysql.help_topic t JOIN mysql.help_category c USING (help_category_id) \
         WHERE c.name IN ('Data Types', 'Geographic Features') \
         UNION SELECT PLUGIN_NAME FROM information_schema.PLUGINS WHERE PLUGIN_TYPE = 'DATA TYPE'",
    ) {
        for name in row[0].replace("\\_", "_").replace("\\\\", "").split(", ") {
            let name = name.trim_end_matches(" Data Type").trim();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_') {
                names.insert(name.to_ascii_uppercase());
            }
        }
    }
    // The geometry hierarchy is described in one topic's text, not as topic names.
    for row in mariadb_rows(
        "SELECT HEX(description) FROM mysql.help_topic WHERE name IN ('Geometry Types', 'Geometry Hierarchy')",
    ) {
        for word in unhex(&row[0]).split(|c: char| !c.is_ascii_alphanumeric()) {
            if word.len() >= 4 && word.chars().all(|c| c.is_ascii_uppercase()) {
                names.insert(word.to_string());
            }
        }
    }
    let suffixes = ["", "(1)", "(6)", "(38,10)", "(65,30)", "(64)", "('a','b c','ä')", " UNSIGNED", "(1) UNSIGNED"];
    // Temporary Aria tables: the server's verdict on each declaration in milliseconds, and its
    // own spelling of the column (SHOW CREATE TABLE keeps what a type adds, e.g. JSON's check).
    let mut script = format!("USE {};\n", db.name);
    let mut k = 0;
    for name in &names {
        for suffix in suffixes {
            script.push_str(&format!(
                "CREATE TEMPORARY TABLE probe_{k} ({COLUMN} {name}{suffix}) ENGINE=Aria;\nSHOW CREATE TABLE probe_{k};\n"
            ));
            k += 1;
        }
    }
    let (out, _) = mariadb_raw(&script, true);
    let mut seen = BTreeSet::new();
    let mut types = Vec::new();
    for line in out.lines() {
        let Some(definition) = line
            .split("\\n")
            .find_map(|l| l.trim().strip_prefix(&format!("`{COLUMN}` ")))
            .map(|d| d.trim_end_matches(',').replace(" DEFAULT NULL", ""))
        else {
            continue;
        };
        let data_type: String = definition
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
            .to_ascii_lowercase();
        let precision = definition[data_type.len()..]
            .strip_prefix('(')
            .and_then(|rest| rest.split([')', ',']).next())
            .and_then(|p| p.parse().ok());
        // Display widths of integers mean nothing, except tinyint(1), which the scanner reads as BOOLEAN.
        let key = if data_type.ends_with("int") && !definition.starts_with("tinyint(1)") {
            let rest =
                definition[data_type.len()..].trim_start_matches(|c: char| c == '(' || c.is_ascii_digit() || c == ')');
            format!("{data_type}{rest}")
        } else {
            definition.clone()
        };
        if seen.insert(key) {
            types.push(MariaType { column_type: definition, data_type, precision });
        }
    }
    types
}

fn mariadb_kind(t: &MariaType) -> String {
    let dt = t.data_type.as_str();
    if t.column_type.starts_with("tinyint(1)") || dt == "bit" && t.precision == Some(1) {
        return format!("{dt} bool");
    }
    match dt {
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => format!("{dt} hex"),
        "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geometrycollection" | "geometry" => format!("{dt} geometry"),
        other => other.to_string(),
    }
}

/// The server's text of a value of this type.
fn mariadb_text_expr(t: &MariaType) -> String {
    let kind = mariadb_kind(t);
    if kind == "bit bool" {
        format!("CAST({COLUMN} AS UNSIGNED)")
    } else if t.data_type == "bit" {
        let width = t.precision.unwrap_or(1).div_ceil(8) * 2;
        format!("LPAD(HEX({COLUMN}), {width}, '0')")
    } else if kind.ends_with("hex") || kind.ends_with("geometry") {
        format!("HEX({COLUMN})")
    } else if t.data_type == "float" || t.data_type == "double" {
        format!("CAST({COLUMN} AS DOUBLE)")
    } else {
        COLUMN.to_string()
    }
}

fn mariadb_tables(db: &MysqlDatabase) -> (Vec<Table>, Vec<MariaType>) {
    let types = mariadb_types(db);
    let literals = mariadb_literals();
    let mut tables = Vec::new();
    for (n, t) in types.iter().enumerate() {
        let kind = mariadb_kind(t);
        let groups = [
            (format!("m{n}_0"), literals.clone(), false),
            (format!("m{n}_1"), MARIADB_CLAMPED.iter().map(|s| s.to_string()).collect(), true),
        ];
        for (name, values, lenient) in groups {
            tables.push(Table {
                server: Server::Mariadb,
                name,
                declared: t.column_type.clone(),
                label: t.column_type.clone(),
                leaf: format!("mariadb {}", t.column_type),
                variant: "plain",
                shape: Shape::Leaf(kind.clone()),
                delim: ',',
                ddl: vec![],
                rows: values,
                special: lenient,
            });
        }
    }
    (tables, types)
}

/// Creates `tables` (strict inserts; non-strict for the clamped group, whose
/// values the server brings into the type's range) and returns the names of
/// those it created.
fn mariadb_create(db: &MysqlDatabase, tables: &[&Table]) -> BTreeSet<String> {
    const STRICT: &str = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';\n";
    let mut script = format!("USE {};\n{STRICT}", db.name);
    for table in tables {
        script.push_str(&format!(
            "CREATE TABLE {0} (id int AUTO_INCREMENT PRIMARY KEY, {COLUMN} {1});\nINSERT INTO {0} ({COLUMN}) VALUES (NULL);\n",
            table.name, table.declared
        ));
        if table.special {
            script.push_str("SET SESSION sql_mode = '';\n");
        }
        for v in &table.rows {
            script.push_str(&format!("INSERT INTO {} ({COLUMN}) VALUES ({v});\n", table.name));
        }
        if table.special {
            script.push_str(STRICT);
        }
    }
    let _ = mariadb_raw(&script, true);
    mariadb_rows(&format!("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}'", db.name))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn mariadb_source(db: &MysqlDatabase, table: &Table, t: &MariaType) -> Vec<(Option<String>, Alt, Option<i64>)> {
    let geometry = mariadb_kind(t).ends_with("geometry");
    let extra = if geometry {
        format!("IFNULL(HEX(ST_AsBinary({COLUMN})), ''), IFNULL(ST_SRID({COLUMN}), '')")
    } else {
        "'', ''".to_string()
    };
    mariadb_rows(&format!(
        "USE {}; SELECT IF({COLUMN} IS NULL, 'N', CONCAT('V', HEX(CAST({} AS CHAR CHARACTER SET utf8mb4)))), {extra} \
         FROM {} ORDER BY id",
        db.name,
        mariadb_text_expr(t),
        table.name
    ))
    .into_iter()
    .map(|r| {
        let text = r[0].strip_prefix('V').map(unhex);
        let alt = Alt { wkb_hex: Some(r[1].clone()).filter(|s| !s.is_empty()) };
        (text, alt, r[2].parse().ok())
    })
    .collect()
}

// ---------------------------------------------------------------------------
// Running one case

/// The type of `column` in the file, each row's `to_json()` text and the
/// column's GeoParquet CRS code (if the file has `geo` metadata for it:
/// Some(None) without a CRS).
/// A column read back: its DuckDB type, each row's `to_json()` text, its GeoParquet CRS code.
pub(crate) type ReadBack = (String, Vec<String>, Option<Option<i64>>);

pub(crate) fn read_column(file: &std::path::Path, column: &str) -> ReadBack {
    try_read_column(file, column).unwrap_or_else(|e| panic!("{e}"))
}

/// [`read_column`], with a file DuckDB cannot read as an error.
pub(crate) fn try_read_column(file: &std::path::Path, column: &str) -> Result<ReadBack, String> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch("SET enable_geoparquet_conversion = false").unwrap();
    let _ = conn.execute_batch("SET TimeZone = 'UTC'");
    let path = file.display().to_string().replace('\'', "''");
    let quoted = format!("\"{}\"", column.replace('"', "\"\""));
    let dtype: String = conn
        .query_row(
            &format!("SELECT column_type FROM (DESCRIBE SELECT {quoted} FROM read_parquet('{path}'))"),
            [],
            |r| r.get(0),
        )
        .map_err(|e| format!("no column {column} in the file: {e}"))?;
    let mut stmt = conn
        .prepare(&format!("SELECT to_json({quoted})::VARCHAR FROM read_parquet('{path}')"))
        .map_err(|e| format!("the file cannot be read: {e}"))?;
    let values = stmt
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .map_err(|e| format!("the file cannot be read: {e}"))?
        .map(|v| v.map(|v| v.unwrap_or_else(|| "null".into())))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| format!("the file cannot be read: {e}"))?;
    let geo: Option<String> = conn
        .query_row(&format!("SELECT decode(value) FROM parquet_kv_metadata('{path}') WHERE key = 'geo'"), [], |r| {
            r.get(0)
        })
        .ok();
    let crs = geo.and_then(|g| {
        let g: serde_json::Value = serde_json::from_str(&g).unwrap();
        let col = &g["columns"][column];
        (!col.is_null()).then(|| col["crs"]["id"]["code"].as_i64())
    });
    Ok((dtype, values, crs))
}

type SourceRows = Vec<(Option<String>, Alt, Option<i64>)>;

fn run_case(
    table: &Table,
    dialect: &'static str,
    source: &SourceRows,
    env: Vec<(String, String)>,
) -> (Outcome, String, String) {
    if source.iter().all(|(v, _, _)| v.is_none()) {
        return (Outcome::Empty, String::new(), String::new());
    }
    let query = match dialect {
        "duckdb" => format!("SELECT {COLUMN} FROM db.{} ORDER BY id", table.name),
        _ => format!("SELECT {COLUMN} FROM {} ORDER BY id", table.name),
    };
    let env = match dialect {
        // The odbc kind always runs the database's own SQL.
        ODBC => with(env, &[("SOURCE_DATABASE_SQL_QUERY", &query)]),
        _ => with(env, &[("SOURCE_DATABASE_SQL_QUERY", &query), ("SOURCE_DATABASE_QUERY_DIALECT", dialect)]),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("result.parquet");
    let run = connector(&["export", "--output", file.to_str().unwrap()], &env);
    let out = run.output();
    let first_line = |s: &str| {
        s.lines()
            .rfind(|l| l.contains("error") || l.contains("refus") || l.contains("column"))
            .unwrap_or("")
            .chars()
            .take(600)
            .collect::<String>()
    };
    if run.code == 101 || out.contains("panicked") {
        return (Outcome::ErrorUnnamed, format!("panic (exit {}): {}", run.code, first_line(&out)), String::new());
    }
    if run.code == LOSS_REFUSED && out.contains(&format!("column {COLUMN}")) && !file.exists() {
        if out.contains("a pair not proven exact") {
            return (Outcome::Unlisted, first_line(&out), String::new());
        }
        return (Outcome::Refused, first_line(&out), String::new());
    }
    if run.code != 0 {
        // A message about the column, not the name inside an SQL statement the message quotes.
        let named = out.contains(&format!("column {COLUMN}")) || out.contains(&format!("column \"{COLUMN}\""));
        let outcome = if named { Outcome::ErrorNamed } else { Outcome::ErrorUnnamed };
        return (outcome, format!("exit {}: {}", run.code, first_line(&out)), String::new());
    }
    let (dtype_text, values, crs) = match try_read_column(&file, COLUMN) {
        Ok(read) => read,
        Err(e) => return (Outcome::Changed, format!("exit 0, but {e}"), String::new()),
    };
    if values.len() != source.len() {
        return (Outcome::Changed, format!("{} rows arrived as {}", source.len(), values.len()), dtype_text);
    }
    let dtype = parse_dtype(&dtype_text);
    let mut diffs = Vec::new();
    for (i, ((src, alt, _), got)) in source.iter().zip(&values).enumerate() {
        let got = match parse_json(got) {
            Ok(j) => j,
            Err(e) => {
                diffs.push(format!("row {i}: unreadable {got:?}: {e}"));
                continue;
            }
        };
        if let Err(e) = compare(&table.shape, table.delim, src.as_deref(), alt, &dtype, &got) {
            diffs.push(format!("row {i}: {e}"));
        }
    }
    // Geometry: the CRS in the file must be the values' one SRID.
    if let Shape::Leaf(kind) = &table.shape {
        if kind.ends_with("geometry") || kind == "geography" {
            let srids: BTreeSet<i64> =
                source.iter().filter(|(v, _, _)| v.is_some()).filter_map(|(_, _, s)| *s).collect();
            if let Some(code) = crs {
                let want: Vec<i64> = srids.iter().copied().collect();
                match (want.as_slice(), code) {
                    ([one], Some(code)) if *one == code => {}
                    ([], _) => {}
                    (want, got) => diffs.push(format!(
                        "SRIDs {want:?} arrived with GeoParquet CRS {got:?} (none = longitude/latitude)"
                    )),
                }
            }
        }
    }
    if diffs.is_empty() {
        (Outcome::Exact, String::new(), dtype_text)
    } else {
        let count = diffs.len();
        diffs.truncate(4);
        (Outcome::Changed, format!("{count} values differ: {}", diffs.join("; ")), dtype_text)
    }
}

fn write_stderr(text: &str) {
    // Straight to the file descriptor: the summary shows also when the test passes.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The route of an export through the `odbc` kind, with Debian's drivers
/// (psqlODBC with `BoolsAsChar=0`, MariaDB Connector/ODBC).
const ODBC: &str = "odbc";

#[test]
fn every_catalogue_type_arrives_exact_or_is_refused_by_name() {
    every_catalogue_type_through(&["duckdb", "native"], "CONNECTOR_GENERATED_CASES", DEFAULT_CASES);
}

/// The same tables and values through the `odbc` kind: what a driver hands
/// over is judged by the same rules. Every table by default;
/// `CONNECTOR_GENERATED_ODBC_CASES` sets how many (one case of every leaf
/// type first, as above).
#[test]
fn every_catalogue_type_through_odbc_arrives_exact_or_is_refused_by_name() {
    every_catalogue_type_through(&[ODBC], "CONNECTOR_GENERATED_ODBC_CASES", DEFAULT_ODBC_CASES);
}

/// Builds the tables, exports the chosen cases by `routes` (a query dialect
/// of the server's own kind, or [`ODBC`]) and fails on what arrived changed.
fn every_catalogue_type_through(routes: &[&'static str], cases_setting: &str, default_cases: Option<usize>) {
    let wanted = cases_wanted(cases_setting, default_cases);
    let mut rng = fastrand::Rng::with_seed(seed());

    let started = std::time::Instant::now();
    let pg = PgDatabase::create();
    let maria = MysqlDatabase::create();
    let mut tables = pg_tables(&pg, &mut rng);
    let pg_built = started.elapsed();
    let (maria_tables, maria_types) = mariadb_tables(&maria);
    tables.extend(maria_tables);

    // Cases: every table by every route; first one of every leaf type, then the rest, seeded.
    let mut cases: Vec<Case> = Vec::new();
    for (i, _) in tables.iter().enumerate() {
        for dialect in routes {
            cases.push(Case { table: i, dialect });
        }
    }
    rng.shuffle(&mut cases);
    let mut first_of_leaf = BTreeSet::new();
    let (mut head, mut tail): (Vec<Case>, Vec<Case>) = (Vec::new(), Vec::new());
    for case in cases {
        let t = &tables[case.table];
        if t.variant == "plain" && !t.special && first_of_leaf.insert(t.leaf.clone()) {
            head.push(case);
        } else {
            tail.push(case);
        }
    }
    // The holes the issue names stay in every run: arrays, composites and ranges come right after.
    tail.sort_by_key(|c| if tables[c.table].variant == "plain" { 1 } else { 0 });
    let mut cases: Vec<Case> = head.into_iter().chain(tail).collect();
    if let Some(n) = wanted {
        cases.truncate(n);
    }

    // Only the tables the chosen cases need are built.
    let needed: BTreeSet<usize> = cases.iter().map(|c| c.table).collect();
    let of = |server: Server| needed.iter().map(|&i| &tables[i]).filter(|t| t.server == server).collect::<Vec<_>>();
    let mut created = pg_create(&pg, &of(Server::Postgres));
    created.extend(mariadb_create(&maria, &of(Server::Mariadb)));
    let built = started.elapsed();

    let next = AtomicUsize::new(0);
    let findings: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
    let sources: Mutex<BTreeMap<usize, SourceRows>> = Mutex::new(BTreeMap::new());
    // Two exports at a time by default (CI machines have two cores); more for the long run.
    let workers: usize =
        std::env::var("CONNECTOR_GENERATED_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(2).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let table = &tables[case.table];
                if !created.contains(&table.name) {
                    let finding = Finding {
                        case: case.clone(),
                        outcome: Outcome::Empty,
                        detail: String::new(),
                        duckdb_type: String::new(),
                    };
                    findings.lock().unwrap().push(finding);
                    continue;
                }
                let cached = sources.lock().unwrap().get(&case.table).cloned();
                let source = cached.unwrap_or_else(|| {
                    let rows = match table.server {
                        Server::Postgres => pg_source(&pg, table),
                        Server::Mariadb => {
                            let t = maria_types.iter().find(|t| t.column_type == table.declared).unwrap();
                            mariadb_source(&maria, table, t)
                        }
                    };
                    sources.lock().unwrap().insert(case.table, rows.clone());
                    rows
                });
                let env = match (table.server, case.dialect) {
                    (Server::Postgres, ODBC) => pg.odbc_env(""),
                    (Server::Mariadb, ODBC) => maria.odbc_env(""),
                    (Server::Postgres, _) => pg.env(""),
                    (Server::Mariadb, _) => maria.env(""),
                };
                let (outcome, detail, duckdb_type) = run_case(table, case.dialect, &source, env);
                findings.lock().unwrap().push(Finding { case: case.clone(), outcome, detail, duckdb_type });
            });
        }
    });
    let mut findings = findings.into_inner().unwrap();
    findings.sort_by_key(|f| (tables[f.case.table].server, tables[f.case.table].name.clone(), f.case.dialect));
    let sources = sources.into_inner().unwrap();

    // The summary: cases and types covered, by outcome.
    let mut by_outcome: BTreeMap<&Outcome, (usize, BTreeSet<String>)> = BTreeMap::new();
    let mut all_types = BTreeSet::new();
    for f in &findings {
        let t = &tables[f.case.table];
        let entry = by_outcome.entry(&f.outcome).or_default();
        entry.0 += 1;
        entry.1.insert(t.leaf.clone());
        if f.outcome != Outcome::Empty {
            all_types.insert(t.leaf.clone());
        }
    }
    let mut summary = format!(
        "\ngenerated_types: tables built in {:.0?} (PostgreSQL {:.0?}), cases run in {:.0?}\n\
         generated_types: seed {}, {} of {} tables x routes ({}) run, {} leaf types covered ({} PostgreSQL, {} MariaDB)\n",
        built,
        pg_built,
        started.elapsed() - built,
        seed(),
        findings.len(),
        tables.len() * routes.len(),
        routes.join(", "),
        all_types.len(),
        all_types.iter().filter(|t| t.starts_with("postgres")).count(),
        all_types.iter().filter(|t| t.starts_with("mariadb")).count(),
    );
    for (outcome, (count, types)) in &by_outcome {
        summary.push_str(&format!(
            "generated_types:   {:<36} {count:>4} cases, {:>4} types\n",
            outcome.label(),
            types.len()
        ));
    }
    let mut failures = Vec::new();
    for f in &findings {
        let t = &tables[f.case.table];
        if matches!(f.outcome, Outcome::Changed | Outcome::ErrorUnnamed | Outcome::Unlisted) {
            failures.push(format!(
                "{} {} ({} {}, table {}, {} dialect, file type {}): {}",
                f.outcome.label(),
                t.label,
                t.server.name(),
                t.variant,
                t.name,
                f.case.dialect,
                if f.duckdb_type.is_empty() { "-" } else { &f.duckdb_type },
                f.detail
            ));
        }
    }
    summary.push_str(&format!(
        "generated_types: {} cases fail (CHANGED, ERROR naming no column, or a pair not on the allowlist)\n",
        failures.len()
    ));
    for line in &failures {
        summary.push_str(&format!("generated_types:   {line}\n"));
    }
    write_stderr(&summary);

    if let Ok(path) = std::env::var("CONNECTOR_GENERATED_REPORT") {
        let path = if routes.contains(&ODBC) { format!("{path}.odbc.md") } else { path };
        let mut report = format!("# generated_types report\n\n```\n{summary}```\n\n");
        report.push_str("| outcome | server | declared | variant | dialect | file type | table | values inserted | source text | detail |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for f in &findings {
            let t = &tables[f.case.table];
            let src: Vec<String> = sources
                .get(&f.case.table)
                .map(|rows| rows.iter().map(|(v, _, _)| v.clone().unwrap_or_else(|| "NULL".into())).collect())
                .unwrap_or_default();
            let cell = |s: &str| s.replace('|', "\\|").replace('\n', "\\n");
            report.push_str(&format!(
                "| {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
                f.outcome.label(),
                t.server.name(),
                cell(&t.label),
                t.variant,
                f.case.dialect,
                cell(&f.duckdb_type),
                t.name,
                cell(&format!("{} {}", t.ddl.join("; "), t.rows.join(", "))),
                cell(&src.join(" ; ")),
                cell(&f.detail)
            ));
        }
        std::fs::write(&path, report).unwrap();
    }

    assert!(
        failures.is_empty(),
        "{} generated cases arrived changed or failed naming no column:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
