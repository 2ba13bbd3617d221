//! The `odbc` and `mssql` source kinds: DuckDB's odbc_scanner with Debian's
//! drivers (psqlODBC, MariaDB Connector/ODBC, FreeTDS; installed by
//! scripts/ensure-services) against the real local servers. Which types
//! arrive exact through which driver is proven here (docs/type-mapping.md
//! says the same), and everything else is refused with exit 17. No SQL
//! Server runs here: `mssql` is tested for its refusals and its secrets.

use std::time::{Duration, Instant};

use crate::common::*;

const SOURCE_UNREACHABLE: i32 = 4;
const CONFIG: i32 = 3;
const LOSS_REFUSED: i32 = 17;

/// A password with the characters that break connection strings, `}` too.
const ODBC_PASSWORD: &str = "p'w\\ x=@y\"z;ä}q";

fn export(vars: &[(String, String)], secrets: &[&str]) -> (Run, tempfile::TempDir) {
    let (run, dir) = export_to_temp(vars, secrets);
    assert_no_panic(&run);
    (run, dir)
}

/// The run was refused, naming every one of `columns`, and wrote no file.
fn assert_refused(run: &Run, dir: &tempfile::TempDir, columns: &[&str], says: &[&str]) {
    assert_eq!(run.code, LOSS_REFUSED, "{}", run.output());
    let out = run.output();
    for column in columns {
        assert!(out.contains(&format!("column {column} (")), "column {column} is not named:\n{out}");
    }
    for text in says {
        assert!(out.contains(text), "the message does not say {text:?}:\n{out}");
    }
    assert!(!result_file(dir).exists(), "a refused export left a file");
}

/// Each column of the file as text, beside the server's own text of it.
fn assert_same(dir: &tempfile::TempDir, server: Vec<Vec<Option<String>>>) {
    let file = parquet_rows(&result_file(dir));
    assert_eq!(file, server, "the file differs from the server's values");
}

fn lines(text: &str) -> Vec<Vec<Option<String>>> {
    text.lines()
        .map(|line| line.split('|').map(|v| if v == "<NULL>" { None } else { Some(v.to_string()) }).collect())
        .collect()
}

/// The server's own text of each value: PostgreSQL's (psql, unaligned).
fn pg_rows(db: &PgDatabase, sql: &str) -> Vec<Vec<Option<String>>> {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-At", "-F", "|", "-P", "null=<NULL>", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", PG_HOST, "-p", PG_PORT, "-U", "postgres", "-d", &db.name, "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    lines(&String::from_utf8(out.stdout).unwrap())
}

/// MariaDB's own text of each value (`CAST(… AS CHAR)`), blobs as DuckDB
/// writes them (`\xHH` per byte).
fn mariadb_rows(db: &MysqlDatabase, table: &str, columns: &[&str], blobs: &[&str]) -> Vec<Vec<Option<String>>> {
    let select: Vec<String> = columns
        .iter()
        .map(|c| match blobs.contains(c) {
            true => format!("IFNULL(HEX({c}), '<NULL>')"),
            false => format!("IFNULL(CAST({c} AS CHAR), '<NULL>')"),
        })
        .collect();
    let out = db.admin(&format!("SELECT HEX(CONCAT_WS('|', {})) FROM {table} ORDER BY id", select.join(", ")));
    let text: Vec<String> = out
        .lines()
        .map(|hex| {
            String::from_utf8(
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect(),
            )
            .unwrap()
        })
        .collect();
    let mut rows = lines(&text.join("\n"));
    for row in &mut rows {
        for (value, column) in row.iter_mut().zip(columns) {
            if let (Some(hex), true) = (value.as_mut(), blobs.contains(column)) {
                *hex = (0..hex.len()).step_by(2).map(|i| format!("\\x{}", &hex[i..i + 2])).collect();
            }
        }
    }
    rows
}

fn pg_database() -> PgDatabase {
    PgDatabase::create_with_password(ODBC_PASSWORD)
}

fn mariadb_database() -> MysqlDatabase {
    MysqlDatabase::create_with_password(ODBC_PASSWORD)
}

/// The types proven exact through psqlODBC, with values at their edges,
/// compared with PostgreSQL's own text of each value (in DuckDB's spelling
/// where the two spell a type differently: booleans, bytea).
#[test]
fn postgres_values_arrive_exact_through_psqlodbc() {
    let db = pg_database();
    db.exec(
        "CREATE TABLE t (id int, s smallint, i int, b bigint, r real, d double precision, n numeric(10,2), \
           n37 numeric(37,5), tx text, vc varchar(20), ch char(3), dt date, ts timestamp, ts0 timestamp(0), \
           bo boolean, by bytea, u uuid, iv interval, j json, long text); \
         INSERT INTO t VALUES \
          (1, -32768, -2147483648, -9223372036854775808, 1.5, 0.1, -12345678.91, \
           12345678901234567890123456789012.12345, 'ä''\\x\"; =@', 'abc', 'ab', '2024-02-29', \
           '2024-02-29 12:34:56.123456', '1900-01-01 00:00:00', true, '\\x00ff', \
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:00:03', '{\"a\": [1, 2]}', repeat('ä', 70000)), \
          (2, 32767, 2147483647, 9223372036854775807, -3.4e38, 1.7976931348623157e308, 0.01, \
           -0.00001, '', '', '', '0001-01-01', '9999-12-31 23:59:59.999999', '2000-01-01', false, '\\x', \
           '00000000-0000-0000-0000-000000000000', '-3 mons', 'null', ''), \
          (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
           NULL, NULL, NULL);",
    );
    let query = "SELECT * FROM t ORDER BY id";
    let vars = db.odbc_env(query);
    let (run, dir) = export(&vars, &[ODBC_PASSWORD]);
    assert_eq!(run.code, 0, "{}", run.output());
    let server = pg_rows(
        &db,
        "SELECT id, s, i, b, r, d, n, n37, tx, vc, ch, dt, ts, ts0, \
           CASE WHEN bo THEN 'true' WHEN NOT bo THEN 'false' END, \
           CASE WHEN by IS NOT NULL THEN coalesce((SELECT string_agg('\\x' || upper(lpad(to_hex(get_byte(by, k)), 2, '0')), '' ORDER BY k) \
             FROM generate_series(0, length(by) - 1) AS k), '') END, \
           u, iv, j, long FROM t ORDER BY id",
    );
    // A real as DuckDB writes a FLOAT: the same value, its shortest text.
    assert_eq!(server[1][4].as_deref(), Some("-3.4e+38"));
    assert_same(&dir, server);
    let columns = parquet_columns(&result_file(&dir));
    let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "INTEGER",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "FLOAT",
            "DOUBLE",
            "DECIMAL(10,2)",
            "DECIMAL(37,5)",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "DATE",
            "TIMESTAMP",
            "TIMESTAMP",
            "BOOLEAN",
            "BLOB",
            "UUID",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR"
        ]
    );
}

/// What psqlODBC changes is refused, every column named, with the cast to
/// write in PostgreSQL's SQL.
#[test]
fn postgres_losses_through_psqlodbc_are_refused() {
    let db = pg_database();
    db.exec(
        "CREATE TABLE t (n numeric, w numeric(50,5), tm time, tz timestamptz, bo boolean); \
         INSERT INTO t VALUES (1.5, 1, '12:34:56.789', '2024-02-29 12:34:56+02', true);",
    );
    let vars = odbc_env(&db.odbc_connection_string(""), "SELECT n, w, tm, tz, bo, n + 1 AS expr FROM t");
    let (run, dir) = export(&vars, &[ODBC_PASSWORD]);
    assert_refused(
        &run,
        &dir,
        &["n", "w", "tm", "tz", "bo", "expr"],
        &["CAST(n AS numeric(", "0.000015", "tz AT TIME ZONE 'UTC'", "BoolsAsChar=0", "CAST(tm AS text)"],
    );
    // The same columns, cast as the message says, arrive exact.
    let vars = db.odbc_env(
        "SELECT CAST(n AS numeric(20,4)) AS n, CAST(tm AS text) AS tm, tz AT TIME ZONE 'UTC' AS tz, bo FROM t",
    );
    let (run, dir) = export(&vars, &[ODBC_PASSWORD]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_same(
        &dir,
        vec![vec![
            Some("1.5000".into()),
            Some("12:34:56.789".into()),
            Some("2024-02-29 10:34:56".into()),
            Some("true".into()),
        ]],
    );
}

/// psqlODBC gives ±infinity as today's date, and numeric(p,s) may hold NaN:
/// counted on the server, refused.
#[test]
fn postgres_infinite_dates_and_nan_are_counted_and_refused() {
    let db = pg_database();
    db.exec(
        "CREATE TABLE t (d date, ts timestamp, n numeric(10,2)); \
         INSERT INTO t VALUES ('2024-01-01', '2024-01-01', 1), ('infinity', '-infinity', 'NaN');",
    );
    let (run, dir) = export(&odbc_env(&db.odbc_connection_string(""), "SELECT d, ts, n FROM t"), &[ODBC_PASSWORD]);
    assert_refused(&run, &dir, &["d", "ts", "n"], &["1 row of the result", "infinity", "NaN"]);
    // Without them, the values arrive.
    let query = "SELECT d, ts, n FROM t WHERE isfinite(d)";
    let (run, dir) = export(&odbc_env(&db.odbc_connection_string(""), query), &[ODBC_PASSWORD]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_same(&dir, vec![vec![Some("2024-01-01".into()), Some("2024-01-01 00:00:00".into()), Some("1.00".into())]]);
}

/// The types proven exact through MariaDB Connector/ODBC, compared with
/// MariaDB's own text of each value.
#[test]
fn mariadb_values_arrive_exact_through_connector_odbc() {
    let db = mariadb_database();
    db.admin(
        "CREATE TABLE t (id int, ti tinyint, t1 tinyint(1), si smallint, i int, b bigint, bu bigint unsigned, \
           f float, d double, n decimal(10,2), n37 decimal(37,5), tx text, vc varchar(20), dt date, dtm datetime, \
           dtm6 datetime(6), bi blob, y year, e enum('a','b'), j json); \
         INSERT INTO t VALUES \
          (1, -128, 1, -32768, -2147483648, -9223372036854775808, 18446744073709551615, 1.5, 0.1, -12345678.91, \
           12345678901234567890123456789012.12345, 'ä''\\\\x\"; =@', 'abc', '2024-02-29', '2024-02-29 12:34:56', \
           '2024-02-29 12:34:56.123456', x'00ff', 2024, 'b', '{\"a\": [1, 2]}'), \
          (2, 127, 5, 32767, 2147483647, 9223372036854775807, 0, -2.5, 1.7976931348623157e308, 0.01, -0.00001, \
           '', '', '1000-01-01', '9999-12-31 23:59:59', '1970-01-01 00:00:00.000001', x'', 1901, 'a', 'null'), \
          (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
           NULL, NULL, NULL);",
    );
    let vars = db.odbc_env("SELECT * FROM t ORDER BY id");
    let (run, dir) = export(&vars, &[ODBC_PASSWORD]);
    assert_eq!(run.code, 0, "{}", run.output());
    let columns = [
        "id", "ti", "t1", "si", "i", "b", "bu", "f", "d", "n", "n37", "tx", "vc", "dt", "dtm", "dtm6", "bi", "y", "e",
        "j",
    ];
    let mut server = mariadb_rows(&db, "t", &columns, &["bi"]);
    // MariaDB writes a double's exponent without its sign; DuckDB with it.
    assert_eq!(server[1][8].as_deref(), Some("1.7976931348623157e308"));
    server[1][8] = Some("1.7976931348623157e+308".into());
    assert_same(&dir, server);
}

/// What MariaDB Connector/ODBC changes is refused: decimals of 38 digits or
/// more, times (fractions cut, and beyond 24 hours), zero dates (counted).
#[test]
fn mariadb_losses_through_connector_odbc_are_refused() {
    let db = mariadb_database();
    db.admin(
        "SET SESSION sql_mode = ''; CREATE TABLE t (w decimal(65,30), tm time(6), z date); \
         INSERT INTO t VALUES (1.5, '838:59:59.5', '0000-00-00');",
    );
    let (run, dir) = export(&db.odbc_env("SELECT w, tm, z FROM t"), &[ODBC_PASSWORD]);
    assert_refused(&run, &dir, &["w", "tm", "z"], &["CAST(w AS DECIMAL(", "CAST(tm AS CHAR)", "zero dates"]);
}

/// The handle from odbc_connect is held for the query and closed after:
/// runs one after another never crash (odbc_query given a connection
/// string would).
#[test]
fn repeated_runs_through_odbc_do_not_crash() {
    let pg = pg_database();
    pg.exec("CREATE TABLE t (id int, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 3000) AS i;");
    let my = mariadb_database();
    my.admin("CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');");
    for round in 0..4 {
        for (vars, rows) in [
            (odbc_env(&pg.odbc_connection_string(""), "SELECT id, v FROM t ORDER BY id"), 3000),
            (my.odbc_env("SELECT id, v FROM t ORDER BY id"), 2),
        ] {
            let (run, dir) = export(&vars, &[ODBC_PASSWORD]);
            assert_eq!(run.code, 0, "round {round}: {}", run.output());
            assert_eq!(parquet_row_count(&result_file(&dir)), rows);
        }
    }
}

/// The connection string is a secret: a refused login, a missing driver and
/// a query error never show it, whether given directly or in a file.
#[test]
fn the_connection_string_never_shows() {
    let db = pg_database();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let wrong = format!(
        "Driver={{PostgreSQL Unicode}};Server={PG_HOST};Port={PG_PORT};Database={};Uid={};Pwd={}",
        db.name,
        db.user,
        odbc_braced("wrong-s3cret;}x")
    );
    let (run, _dir) = export(&odbc_env(&wrong, "SELECT id FROM t"), &["wrong-s3cret;}x", &wrong]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    assert!(run.output().contains("password authentication failed"), "{}", run.output());
    assert!(
        run.output().contains("check the user and password (Uid=, Pwd=) in SOURCE_ODBC_CONNECTION_STRING"),
        "{}",
        run.output()
    );
    assert!(!run.output().contains("retrying"), "a refused login is not retried:\n{}", run.output());

    // From a file, with a query that fails on the server.
    let secret_dir = tempfile::tempdir().unwrap();
    let file = secret_dir.path().join("odbc");
    let right = db.odbc_connection_string("");
    std::fs::write(&file, format!("{right}\n")).unwrap();
    let vars = env(&[
        ("SOURCE_DATABASE_TYPE", "odbc"),
        ("SOURCE_ODBC_CONNECTION_STRING_FILE", file.to_str().unwrap()),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT no_such_column FROM t"),
    ]);
    let (run, _dir) = export(&vars, &[ODBC_PASSWORD, &right]);
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.output().contains("no_such_column"), "{}", run.output());

    // A driver that is not installed: the message says what to install.
    let missing = format!("Driver={{No Such Driver 7}};Server={PG_HOST};Pwd={}", odbc_braced(ODBC_PASSWORD));
    let (run, _dir) = export(&odbc_env(&missing, "SELECT 1"), &[ODBC_PASSWORD, &missing]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    assert!(run.output().contains("odbcinst -q -d"), "{}", run.output());
    assert!(run.output().contains("DRIVER No Such Driver 7"), "{}", run.output());
    // The names the driver manager has, to compare with.
    let known = run.output().split("the drivers the driver manager knows: ").nth(1).unwrap_or_default().to_string();
    for driver in ["FreeTDS", "MariaDB Unicode", "PostgreSQL Unicode"] {
        assert!(known.contains(driver), "{driver} is not listed:\n{}", run.output());
    }
}

/// The odbc kind's settings: the connection string is required, the
/// host-and-database settings do not apply, all problems at once.
#[test]
fn odbc_settings_problems_are_reported_together() {
    let vars = env(&[
        ("SOURCE_DATABASE_TYPE", "odbc"),
        ("SOURCE_DATABASE_NAME", "finance"),
        ("SOURCE_DATABASE_QUERY_DIALECT", "duckdb"),
        ("SOURCE_ODBC_DRIVER", "FreeTDS"),
        ("SOURCE_DATABASE_HOST", "db.example"),
        ("SOURCE_DATABASE_PASSWORD_FILE", "/run/secrets/pw"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
    ]);
    let run = connector(&["export", "--output", "/tmp/never-written.parquet"], &vars);
    assert_eq!(run.code, CONFIG, "{}", run.output());
    for says in [
        "SOURCE_ODBC_CONNECTION_STRING: is required for a odbc source",
        "SOURCE_DATABASE_NAME: does not apply to a odbc source",
        "SOURCE_DATABASE_QUERY_DIALECT: a odbc source runs the query in the database's own SQL",
        "SOURCE_ODBC_DRIVER: applies only to mssql sources",
        "SOURCE_DATABASE_HOST: does not apply to a odbc source",
        "SOURCE_DATABASE_PASSWORD: does not apply to a odbc source",
    ] {
        assert!(run.output().contains(says), "{says}:\n{}", run.output());
    }
}

/// A signal during a long query through ODBC: the statement is cancelled
/// on the server (DuckDB's interrupt does not reach a driver waiting for
/// it), the run stops as for the other kinds, no crash, nothing left behind.
fn sigterm_stops(connection_string: &str, query: &str) {
    let out = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dest = result_file(&out);
    let vars = with(odbc_env(connection_string, query), &[("TEMP_DIR", temp.path().to_str().unwrap())]);
    let child = spawn_connector(&["export", "--output", dest.to_str().unwrap()], &vars);
    wait_until("the export to start", Duration::from_secs(20), || {
        std::fs::read_dir(temp.path()).map(|d| d.count() > 0).unwrap_or(false)
    });
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    terminate(&child);
    let run = finish_connector(child);
    assert_no_panic(&run);
    assert!(signalled.elapsed() < Duration::from_secs(20), "took {:?} to stop:\n{}", signalled.elapsed(), run.output());
    assert_eq!(run.code, 143, "{}", run.output());
    assert!(!dest.exists(), "a stopped export left its file");
    assert_temp_empty(temp.path());
    assert_no_secret(&run.output(), &[ODBC_PASSWORD]);
}

#[test]
fn sigterm_during_an_odbc_query_stops_cleanly_on_postgres() {
    let db = pg_database();
    sigterm_stops(&db.odbc_connection_string(""), "SELECT 1 AS x FROM pg_sleep(120)");
}

#[test]
fn sigterm_during_an_odbc_query_stops_cleanly_on_mariadb() {
    let db = mariadb_database();
    sigterm_stops(&db.odbc_connection_string(), "SELECT SLEEP(120) AS x");
}

/// `connector check` connects through the driver, or says which to install
/// (the Polyteia checks fail against a mock that answers 500; the source's
/// lines are what is asserted).
#[test]
fn check_finds_the_driver_or_names_the_package() {
    let api = crate::common::mock_api::MockApi::start(|_, _| (500, "down".into()));
    let polyteia = [
        ("PERSONAL_ACCESS_TOKEN", "pak_odbc_check_4f2a"),
        ("POLYTEIA_BASE_URL", api.url.as_str()),
        ("DATASET_ID", "ds_x"),
        ("UPLOAD_MAX_ATTEMPTS", "1"),
    ];
    let db = pg_database();
    db.exec("CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, 'a');");
    let run = connector(&["check"], &with(odbc_env(&db.odbc_connection_string(""), "SELECT id, v FROM t"), &polyteia));
    let out = run.output();
    assert_no_secret(&out, &[ODBC_PASSWORD]);
    assert!(out.contains("PASS source database: connected to odbc source (DRIVER PostgreSQL Unicode)"), "{out}");
    assert!(out.contains("PASS source query: valid, 2 columns: id INTEGER, v VARCHAR"), "{out}");
    assert!(out.contains("PASS exact values"), "{out}");

    let missing = "Driver={Oracle 23 ODBC driver};Dbq=x;Pwd={s3cret-pw}";
    let run = connector(&["check"], &with(odbc_env(missing, "SELECT 1 FROM dual"), &polyteia));
    let out = run.output();
    assert_eq!(run.code, 14, "{out}");
    assert_no_secret(&out, &["s3cret-pw", missing]);
    assert!(out.contains("FAIL source database"), "{out}");
    assert!(out.contains("the ODBC driver is not installed"), "{out}");

    // mssql with Microsoft's driver, which is not installed here.
    let vars = with(mssql_env("127.0.0.1", free_port(), None, None), &polyteia);
    let run = connector(&["check"], &vars);
    let out = run.output();
    assert_eq!(run.code, 14, "{out}");
    assert_no_secret(&out, &[ODBC_PASSWORD]);
    assert!(out.contains("FAIL source database") && out.contains("msodbcsql18"), "{out}");
}

// --------------------------------------------------------------------------
// mssql: no SQL Server runs here

/// A password with the awkward characters but no `}`, which FreeTDS cannot take.
const TDS_PASSWORD: &str = AWKWARD_PASSWORD;

fn mssql_env(host: &str, port: u16, driver: Option<&str>, ssl_mode: Option<&str>) -> Vec<(String, String)> {
    let password = if driver == Some("FreeTDS") { TDS_PASSWORD } else { ODBC_PASSWORD };
    let mut vars = env(&[
        ("SOURCE_DATABASE_TYPE", "mssql"),
        ("SOURCE_DATABASE_HOST", host),
        ("SOURCE_DATABASE_PORT", &port.to_string()),
        ("SOURCE_DATABASE_USER", "finance_reader"),
        ("SOURCE_DATABASE_PASSWORD", password),
        ("SOURCE_DATABASE_NAME", "Haushalt"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT TOP 10 * FROM dbo.Buchungen"),
        ("SOURCE_CONNECT_MAX_ATTEMPTS", "2"),
        ("CONNECTOR_RETRY_BASE_MS", "10"),
    ]);
    if let Some(driver) = driver {
        vars.push(("SOURCE_ODBC_DRIVER".into(), driver.into()));
    }
    if let Some(mode) = ssl_mode {
        vars.push(("SOURCE_DATABASE_SSL_MODE".into(), mode.into()));
    }
    vars
}

/// FreeTDS against a closed port and an unknown host: the source's exit
/// code after the retries, the host named, no secret.
#[test]
fn mssql_through_freetds_an_unreachable_server_gives_the_source_code() {
    let closed = free_port();
    let (run, _dir) = export(&mssql_env("127.0.0.1", closed, Some("FreeTDS"), Some("require")), &[TDS_PASSWORD]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    let out = run.output();
    assert!(out.contains(&format!("cannot connect to the mssql database Haushalt at 127.0.0.1:{closed}")), "{out}");
    assert!(out.contains("check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT"), "{out}");
    assert!(out.contains("attempt 1 of 2"), "a server that may come back is retried:\n{out}");
    assert!(out.contains("WARN") && out.contains("not checked"), "require is warned about:\n{out}");

    let (run, _dir) =
        export(&mssql_env("no-such-host.invalid", 1433, Some("FreeTDS"), Some("require")), &[TDS_PASSWORD]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    assert!(run.output().contains("no-such-host.invalid"), "{}", run.output());
}

/// FreeTDS cannot verify the certificate from here: the default (verify)
/// is a configuration problem, never a silent unverified connection.
#[test]
fn mssql_through_freetds_refuses_to_pretend_it_verifies_the_certificate() {
    let run = connector(
        &["export", "--output", "/tmp/never-written.parquet"],
        &mssql_env("127.0.0.1", 1433, Some("FreeTDS"), None),
    );
    assert_eq!(run.code, CONFIG, "{}", run.output());
    assert!(run.output().contains("SOURCE_DATABASE_SSL_MODE: FreeTDS cannot be told to verify"), "{}", run.output());
    assert_no_secret(&run.output(), &[TDS_PASSWORD]);
}

/// A `}` in a value is refused for FreeTDS, whose parser cannot take it.
#[test]
fn mssql_through_freetds_refuses_a_closing_brace_in_a_value() {
    let vars = with(
        mssql_env("127.0.0.1", 1433, Some("FreeTDS"), Some("require")),
        &[("SOURCE_DATABASE_PASSWORD", ODBC_PASSWORD)],
    );
    let run = connector(&["export", "--output", "/tmp/never-written.parquet"], &vars);
    assert_eq!(run.code, CONFIG, "{}", run.output());
    assert!(run.output().contains("FreeTDS cannot take a `}`"), "{}", run.output());
    assert_no_secret(&run.output(), &[ODBC_PASSWORD]);
}

/// Microsoft's ODBC Driver 18 (scripts/fetch-msodbcsql, a test download,
/// never shipped), registered under its usual name in an odbcinst.ini of the
/// test's own (`ODBCSYSINI`), with unixODBC's trace on.
struct MicrosoftDriver {
    dir: tempfile::TempDir,
}

impl MicrosoftDriver {
    fn install() -> MicrosoftDriver {
        let library = std::env::var("CONNECTOR_TEST_MSODBCSQL").expect(
            "CONNECTOR_TEST_MSODBCSQL names Microsoft's ODBC driver: run the tests with scripts/test, which \
             fetches it (scripts/fetch-msodbcsql)",
        );
        assert!(std::path::Path::new(&library).is_file(), "CONNECTOR_TEST_MSODBCSQL={library} is no file");
        let dir = tempfile::tempdir().unwrap();
        let ini = format!(
            "[ODBC]\nTrace=Yes\nTraceFile={}\n\n[ODBC Driver 18 for SQL Server]\nDriver={library}\n",
            dir.path().join("trace.log").display()
        );
        std::fs::write(dir.path().join("odbcinst.ini"), ini).unwrap();
        std::fs::write(dir.path().join("odbc.ini"), "").unwrap();
        MicrosoftDriver { dir }
    }

    fn env(&self, host: &str, port: u16, ssl_mode: Option<&str>) -> Vec<(String, String)> {
        with(
            mssql_env(host, port, None, ssl_mode),
            &[("ODBCSYSINI", self.dir.path().to_str().unwrap()), ("SOURCE_CONNECT_MAX_ATTEMPTS", "1")],
        )
    }

    /// The connection strings the driver manager handed to the driver (it
    /// masks everything from `PWD=` on).
    fn connection_strings(&self) -> Vec<String> {
        let trace = std::fs::read_to_string(self.dir.path().join("trace.log")).unwrap_or_default();
        trace.lines().filter_map(|l| l.trim().strip_prefix("Str In = [")).map(str::to_string).collect()
    }
}

/// Microsoft's driver against a closed port and an unknown host: the
/// source's exit code, the hint to check host and port, a server that may
/// come back retried, no secret; it took the TLS options (it went on to the
/// network, which it does not with an option it does not know).
#[test]
fn mssql_through_microsofts_driver_an_unreachable_server_gives_the_source_code() {
    let driver = MicrosoftDriver::install();
    let closed = free_port();
    let vars = with(driver.env("127.0.0.1", closed, None), &[("SOURCE_CONNECT_MAX_ATTEMPTS", "2")]);
    let (run, _dir) = export(&vars, &[ODBC_PASSWORD]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    let out = run.output();
    assert!(out.contains("[Microsoft][ODBC Driver 18 for SQL Server]"), "not Microsoft's driver:\n{out}");
    assert!(out.contains(&format!("cannot connect to the mssql database Haushalt at 127.0.0.1:{closed}")), "{out}");
    assert!(out.contains("check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT"), "{out}");
    assert!(out.contains("attempt 1 of 2"), "a server that may come back is retried:\n{out}");

    let (run, _dir) = export(&driver.env("no-such-host.invalid", 1433, None), &[ODBC_PASSWORD]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    assert!(run.output().contains("no-such-host.invalid"), "{}", run.output());
    assert!(run.output().contains("check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT"), "{}", run.output());

    // What the driver was given: the certificate checked by default.
    let strings = driver.connection_strings();
    assert!(!strings.is_empty(), "no connection in unixODBC's trace");
    for string in &strings {
        assert!(
            string.starts_with("Driver={ODBC Driver 18 for SQL Server};Encrypt=yes;TrustServerCertificate=no;"),
            "{string}"
        );
    }
}

/// Each SSL mode becomes the driver options the README names, and the driver
/// takes them (an option it refused would fail before the network).
#[test]
fn mssql_through_microsofts_driver_takes_the_tls_options_of_each_ssl_mode() {
    for (mode, options, warning) in [
        ("verify-full", ";Encrypt=yes;TrustServerCertificate=no;", None),
        ("require", ";Encrypt=yes;TrustServerCertificate=yes;", Some("not checked")),
        ("disable", ";Encrypt=no;TrustServerCertificate=no;", Some("unencrypted")),
    ] {
        let driver = MicrosoftDriver::install();
        let (run, _dir) = export(&driver.env("127.0.0.1", free_port(), Some(mode)), &[ODBC_PASSWORD]);
        assert_eq!(run.code, SOURCE_UNREACHABLE, "{mode}: {}", run.output());
        assert!(run.output().contains("TCP Provider"), "{mode}: not a network error:\n{}", run.output());
        if let Some(warning) = warning {
            assert!(run.output().contains(warning), "{mode}: no warning:\n{}", run.output());
        }
        let strings = driver.connection_strings();
        assert_eq!(strings.len(), 1, "{mode}: {strings:?}");
        assert!(strings[0].contains(options), "{mode}: {}", strings[0]);
    }
}

/// Without Microsoft's driver registered: the message says where it comes from.
#[test]
fn mssql_without_microsofts_driver_names_what_to_install() {
    // A driver manager that knows only FreeTDS, whatever this machine has installed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("odbcinst.ini"), "[FreeTDS]\nDriver=libtdsodbc.so\n").unwrap();
    let vars = with(mssql_env("127.0.0.1", free_port(), None, None), &[("ODBCSYSINI", dir.path().to_str().unwrap())]);
    let (run, _dir) = export(&vars, &[ODBC_PASSWORD]);
    assert_eq!(run.code, SOURCE_UNREACHABLE, "{}", run.output());
    assert!(run.output().contains("msodbcsql18"), "{}", run.output());
    assert!(!run.output().contains("attempt 1 of 2"), "a missing driver is not retried:\n{}", run.output());
}
