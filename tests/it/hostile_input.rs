//! Hostile and odd input: broken `.env` files, bytes that are not UTF-8,
//! empty, several, writing and huge queries, odd and duplicate column names,
//! NULL-only and very wide results, and identifiers that need escaping in a
//! URL. Each ends in a clear error or a correct file (read back here), and
//! never in a panic.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::common::mock_api::MockApi;
use crate::common::*;

/// `connector export` into a fresh directory: the run and the file's path.
fn export(vars: &[(String, String)]) -> (Run, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.parquet");
    let run = connector(&["export", "--output", file.to_str().unwrap()], vars);
    assert_no_panic(&run);
    (run, file, dir)
}

fn assert_fails(run: &Run, code: i32, message: &str) {
    assert_no_panic(run);
    assert_eq!(run.code, code, "expected exit {code}:\n{}", run.output());
    assert!(run.stderr.contains(message), "expected {message:?} in:\n{}", run.stderr);
}

fn row(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

// ---------------------------------------------------------------------------
// Configuration

#[test]
fn malformed_env_file_lines_are_named_by_number_never_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[u8], &str); 7] = [
        (b"SOURCE_DATABASE_TYPE=duckdb\n\nthis line has no equals sign s3cr3t-in-line\n", "line 3 is not KEY=VALUE"),
        (b"A=1\nSOURCE_DATABASE_PASSWORD='unterminated s3cr3t-in-line\n", "line 2 is not KEY=VALUE"),
        (b"# comment\nA=1\nB=two words s3cr3t-in-line\n", "line 3 is not KEY=VALUE"),
        (b"A=\"bad escape \\q s3cr3t-in-line\"\n", "line 1 is not KEY=VALUE"),
        (b"=s3cr3t-in-line\n", "line 1 is not KEY=VALUE"),
        (b"A=1\r\nB=x\r\nC D=s3cr3t-in-line\r\n", "line 3 is not KEY=VALUE"),
        (b"A=1\nSOURCE_DATABASE_PASSWORD=s3cr3t-in-line\xff\xfe\n", "line 2 is not valid UTF-8"),
    ];
    for (content, expected) in cases {
        let file = dir.path().join("broken.env");
        std::fs::write(&file, content).unwrap();
        let run = connector(&["export", "--env-file", file.to_str().unwrap(), "--output", "/tmp/never.parquet"], &[]);
        assert_fails(&run, 3, expected);
        assert!(run.stderr.contains("broken.env"), "the file is named:\n{}", run.stderr);
        assert!(!run.output().contains("s3cr3t-in-line"), "the line's content was shown:\n{}", run.output());
    }
    // A missing file named on the command line is an error, not silence.
    let run = connector(&["export", "--env-file", "/nonexistent/x.env", "--output", "/tmp/never.parquet"], &[]);
    assert_fails(&run, 3, "/nonexistent/x.env");
}

#[test]
fn invalid_utf8_in_a_variable_is_named_and_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("x.parquet");
    let args = ["export", "--output", output.to_str().unwrap()];
    let bad = OsStr::from_bytes(b"SELECT '\xff\xfe s3cr3t-bytes'");
    let bad_password = OsStr::from_bytes(b"pw-\xc3\x28-s3cr3t-bytes");
    let run = connector_os(
        &args,
        &[
            ("SOURCE_DATABASE_TYPE", OsStr::new("duckdb")),
            ("SOURCE_DATABASE_NAME", OsStr::new(":memory:")),
            ("SOURCE_DATABASE_SQL_QUERY", bad),
            ("SOURCE_DATABASE_PASSWORD", bad_password),
        ],
    );
    assert_fails(&run, 3, "SOURCE_DATABASE_SQL_QUERY: value is not valid UTF-8");
    assert!(run.stderr.contains("SOURCE_DATABASE_PASSWORD: value is not valid UTF-8"), "{}", run.stderr);
    assert!(!run.output().contains("s3cr3t-bytes"), "{}", run.output());

    // Variables that are not the connector's may hold anything.
    let foreign = OsString::from_vec(b"\xff\xfe".to_vec());
    let run = connector_os(
        &args,
        &[
            ("SOURCE_DATABASE_TYPE", OsStr::new("duckdb")),
            ("SOURCE_DATABASE_NAME", OsStr::new(":memory:")),
            ("SOURCE_DATABASE_SQL_QUERY", OsStr::new("SELECT 1 AS one")),
            ("SOME_OTHER_TOOL_SETTING", &foreign),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&output), vec![row(&["1"])]);
}

// ---------------------------------------------------------------------------
// Queries

#[test]
fn empty_queries_are_refused_as_missing() {
    for query in ["   ", ";", " ; ;\n", "-- only a comment", "/* nothing */ ;"] {
        let (run, file, _dir) = export(&memory_source(query));
        assert_fails(&run, 3, "SOURCE_DATABASE_SQL_QUERY: is required");
        assert!(!file.exists());
    }
}

#[test]
fn several_statements_are_refused_before_anything_runs() {
    for query in ["SELECT 1; SELECT 2", "SELECT 1 AS a;\nDROP TABLE t;", "SELECT 1; -- one\n SELECT 2"] {
        let (run, _, _dir) = export(&memory_source(query));
        assert_fails(&run, 3, "SOURCE_DATABASE_SQL_QUERY: holds more than one statement");
    }
    // Not even the server's own SQL gets a second statement through.
    let db = PgDatabase::create();
    db.exec("CREATE TABLE keep (id int); INSERT INTO keep VALUES (1);");
    let vars = with(db.env("SELECT id FROM keep; DROP TABLE keep"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    let (run, _, _dir) = export(&vars);
    assert_fails(&run, 3, "holds more than one statement");
    assert_eq!(db.admin("SELECT count(*) FROM keep").trim(), "1");

    // A ';' in a string, a comment at the end, a trailing ';' and comment: one statement.
    for (query, value) in [
        ("SELECT 'a;b' AS v", "a;b"),
        ("SELECT 'x' AS v -- the answer", "x"),
        ("SELECT 'y' AS v; -- done", "y"),
        ("SELECT '--' AS v /* ; */", "--"),
    ] {
        let (run, file, _dir) = export(&memory_source(query));
        assert_eq!(run.code, 0, "{query}: {}", run.output());
        assert_eq!(parquet_rows(&file), vec![row(&[value])], "{query}");
    }
}

#[test]
fn writing_statements_say_the_source_is_read_only_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("source.duckdb");
    {
        let conn = duckdb::Connection::open(&db_file).unwrap();
        conn.execute_batch("CREATE TABLE t AS SELECT 1 AS a").unwrap();
    }
    let file_source = |query: &str| {
        env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", db_file.to_str().unwrap()),
            ("SOURCE_DATABASE_SQL_QUERY", query),
        ])
    };
    for query in [
        "INSERT INTO t VALUES (2)",
        "UPDATE t SET a = 5",
        "DELETE FROM t",
        "CREATE TABLE x (a INT)",
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN b INT",
        "TRUNCATE t",
        "COPY t TO '/tmp/stolen.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "  /* sneaky */ (DELETE FROM t)",
    ] {
        let (run, _, _out) = export(&file_source(query));
        assert_fails(&run, 5, "read-only");
    }
    // Writes hidden inside a SELECT fail too (read-only attach).
    let (run, _, _out) = export(&file_source("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"));
    assert_no_panic(&run);
    assert_ne!(run.code, 0, "{}", run.output());
    let conn = duckdb::Connection::open(&db_file).unwrap();
    let rows: i64 = conn.query_row("SELECT count(*) FROM t WHERE a = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 1, "the source was changed");
    drop(conn);

    // PostgreSQL: the scanner's transaction is read-only, also for the server's own SQL.
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE SEQUENCE s;");
    for (query, dialect) in [
        ("INSERT INTO db.t VALUES (2)", "duckdb"),
        ("SELECT * FROM postgres_execute('db', 'DELETE FROM t')", "duckdb"),
        ("DELETE FROM t", "native"),
        ("SELECT nextval('s') AS n", "native"),
    ] {
        let vars = with(db.env(query), &[("SOURCE_DATABASE_QUERY_DIALECT", dialect)]);
        let (run, _, _out) = export(&vars);
        assert_fails(&run, 5, "read-only");
    }
    assert_eq!(db.admin("SELECT count(*) FROM t").trim(), "1");

    // MariaDB: the same through the mysql scanner.
    let my = MysqlDatabase::create();
    my.admin("CREATE TABLE t (id INT); INSERT INTO t VALUES (1);");
    for (query, dialect) in
        [("DELETE FROM t", "native"), ("SELECT * FROM mysql_execute('db', 'DELETE FROM t')", "duckdb")]
    {
        let vars = with(my.env(query), &[("SOURCE_DATABASE_QUERY_DIALECT", dialect)]);
        let (run, _, _out) = export(&vars);
        assert_fails(&run, 5, "read-only");
    }
    assert_eq!(my.admin("SELECT count(*) FROM t").trim(), "1");
}

#[test]
fn a_query_over_one_megabyte_works() {
    // Too long for one environment variable (Linux allows 128 KiB), so it comes from the .env file.
    let dir = tempfile::tempdir().unwrap();
    let literal = "x".repeat(1_100_000);
    let env_file = dir.path().join("big.env");
    std::fs::write(
        &env_file,
        format!(
            "SOURCE_DATABASE_TYPE=duckdb\nSOURCE_DATABASE_NAME=:memory:\nSOURCE_DATABASE_SQL_QUERY=\"SELECT length('{literal}') AS n, 1 AS one\"\n"
        ),
    )
    .unwrap();
    let file = dir.path().join("big.parquet");
    let run = connector(&["export", "--env-file", env_file.to_str().unwrap(), "--output", file.to_str().unwrap()], &[]);
    assert_no_panic(&run);
    assert_eq!(run.code, 0, "{}", &run.output()[..run.output().len().min(3000)]);
    assert_eq!(parquet_rows(&file), vec![row(&["1100000", "1"])]);
    assert!(
        run.output().len() < 100_000,
        "the query text must not be logged whole ({} bytes of output)",
        run.output().len()
    );
}

// ---------------------------------------------------------------------------
// Result shapes

#[test]
fn odd_and_duplicate_column_names() {
    let (run, file, _dir) = export(&memory_source(
        "SELECT 1 AS a, 2 AS a, 3 AS \"with space\", 4 AS \"q\"\"uote\", 5 AS \"ü ✓ 😀\", 6 AS \"a;b\", 7 AS \"1st\", \
         8 AS \"select\", 9 AS \"back\\slash\"",
    ));
    assert_eq!(run.code, 0, "{}", run.output());
    let names: Vec<String> = parquet_columns(&file).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 9, "{names:?}");
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 9, "duplicate names must be made distinct: {names:?}");
    for expected in ["a", "with space", "q\"uote", "ü ✓ 😀", "a;b", "1st", "select", "back\\slash"] {
        assert!(names.iter().any(|n| n == expected), "{expected:?} missing in {names:?}");
    }
    assert_eq!(parquet_rows(&file), vec![row(&["1", "2", "3", "4", "5", "6", "7", "8", "9"])]);

    // An empty name is refused with the parser's reason.
    let (run, _, _dir) = export(&memory_source("SELECT 1 AS \"\""));
    assert_fails(&run, 5, "zero-length delimited identifier");

    // From PostgreSQL: odd names kept exactly; duplicates of the server's own SQL refused clearly.
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE odd (\"with space\" int, \"q\"\"uote\" text, \"ü ✓\" int, \"select\" int, \"MixedCase\" int); \
         INSERT INTO odd VALUES (1, 'x', 2, 3, 4);",
    );
    let (run, file, _dir) = export(&db.env("SELECT * FROM db.odd"));
    assert_eq!(run.code, 0, "{}", run.output());
    let names: Vec<String> = parquet_columns(&file).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["with space", "q\"uote", "ü ✓", "select", "MixedCase"]);
    assert_eq!(parquet_rows(&file), vec![row(&["1", "x", "2", "3", "4"])]);

    let (run, _, _dir) = export(&with(db.env("SELECT 1, 2"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]));
    assert_fails(&run, 5, "duplicate column name");
    assert!(run.stderr.contains("give every result column its own name"), "{}", run.stderr);
}

#[test]
fn null_only_columns_are_kept_as_nulls() {
    let (run, file, _dir) = export(&memory_source(
        "SELECT i AS id, NULL AS nothing, CAST(NULL AS INTEGER) AS no_int, CAST(NULL AS VARCHAR) AS no_text FROM range(3) t(i)",
    ));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_columns(&file).len(), 4);
    let rows = parquet_rows(&file);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r[1..].iter().all(Option::is_none)), "{rows:?}");

    let db = PgDatabase::create();
    db.exec("CREATE TABLE n (id int, t text, d date, x numeric(10,2)); INSERT INTO n (id) VALUES (1), (2);");
    let (run, file, _dir) = export(&db.env("SELECT * FROM db.n ORDER BY id"));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(
        parquet_rows(&file),
        vec![vec![Some("1".into()), None, None, None], vec![Some("2".into()), None, None, None]]
    );
}

#[test]
fn a_thousand_columns() {
    let select: Vec<String> = (0..1000).map(|i| format!("{i} AS c{i}")).collect();
    let (run, file, _dir) = export(&memory_source(&format!("SELECT {}", select.join(", "))));
    assert_eq!(run.code, 0, "{}", &run.output()[..run.output().len().min(3000)]);
    assert_eq!(parquet_columns(&file).len(), 1000);
    assert_eq!(parquet_rows(&file), vec![(0..1000).map(|i| Some(i.to_string())).collect::<Vec<_>>()]);
    assert!(run.stderr.contains("1 rows, 1000 columns"), "{}", run.stderr);

    let db = PgDatabase::create();
    let columns: Vec<String> = (0..1000).map(|i| format!("c{i} int")).collect();
    let values = |base: i32| (0..1000).map(|i| (base + i).to_string()).collect::<Vec<_>>().join(", ");
    db.exec(&format!(
        "CREATE TABLE wide ({}); INSERT INTO wide VALUES ({}), ({});",
        columns.join(", "),
        values(0),
        values(1)
    ));
    let (run, file, _dir) = export(&db.env("SELECT * FROM db.wide ORDER BY c0"));
    assert_eq!(run.code, 0, "{}", &run.output()[..run.output().len().min(3000)]);
    let rows = parquet_rows(&file);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][999], Some("1000".into()));
}

#[test]
fn a_one_row_result_is_exported_and_uploaded() {
    let (run, file, _dir) = export(&memory_source("SELECT 42 AS answer"));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![row(&["42"])]);

    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, r#"{"data": {"token": "upl_one_row_token"}}"#.into()),
        _ => (200, "OK".into()),
    });
    let vars = with(
        memory_source("SELECT 42 AS answer"),
        &[("PERSONAL_ACCESS_TOKEN", "pak_one_row_secret"), ("POLYTEIA_BASE_URL", &api.url), ("DATASET_ID", "ds_1")],
    );
    let run = connector(&["run"], &vars);
    assert_no_panic(&run);
    assert_eq!(run.code, 0, "{}", run.output());
    let upload = api.requests().into_iter().find(|r| r.path == "/upload").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let uploaded = dir.path().join("u.parquet");
    std::fs::write(&uploaded, upload.multipart_part().1).unwrap();
    assert_eq!(parquet_rows(&uploaded), vec![row(&["42"])]);
}

// ---------------------------------------------------------------------------
// Identifiers in URLs

fn uploaded_file_name(headers: &str) -> String {
    headers.split("filename=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string()
}

#[test]
fn dataset_id_and_base_url_are_percent_encoded_in_paths() {
    const ODD_ID: &str = "ds/ü ?#%&x";
    // Session API: the dataset id is a path segment.
    let api = MockApi::start(|req, _| {
        if req.path.ends_with("/rpc/auth/personalAccessKey/exchange") {
            (200, r#"{"json": {"token": "sess_odd_token_1"}}"#.into())
        } else if req.path.contains("/api/upload/dataset/") {
            (200, r#"{"ok": true, "ingestId": "dsig_odd"}"#.into())
        } else if req.path.ends_with("/rpc/dataset/getDatasetIngestStatus") {
            (200, r#"{"json": {"status": "completed"}}"#.into())
        } else {
            (404, format!("unexpected path {}", req.path))
        }
    });
    let base = format!("{}/mandant ü/v1/", api.url);
    let vars = with(
        memory_source("SELECT 1 AS one"),
        &[
            ("PERSONAL_ACCESS_TOKEN", "pak_odd_secret_1"),
            ("POLYTEIA_BASE_URL", &base),
            ("POLYTEIA_ORGANIZATION_SLUG", "musterstadt"),
            ("DATASET_ID", ODD_ID),
            ("INGEST_POLL_INTERVAL", "10ms"),
        ],
    );
    let run = connector(&["run"], &vars);
    assert_no_panic(&run);
    assert_eq!(run.code, 0, "{}", run.output());
    let requests = api.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/mandant%20%C3%BC/v1/rpc/auth/personalAccessKey/exchange",
            "/mandant%20%C3%BC/v1/api/upload/dataset/ds%2F%C3%BC%20%3F%23%25%26x",
            "/mandant%20%C3%BC/v1/rpc/dataset/getDatasetIngestStatus",
        ]
    );
    assert_eq!(requests[2].json()["json"]["id"], ODD_ID, "the JSON body carries the id unencoded");
    let (part_headers, _) = requests[1].multipart_part();
    assert_eq!(uploaded_file_name(&part_headers), format!("ds{}x.parquet", "_".repeat(7)));

    // Upload-token API: the id travels in JSON only.
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/tenant%C3%A4/api" => (200, r#"{"data": {"token": "upl_odd_token_1"}}"#.into()),
        "/tenant%C3%A4/upload" => (200, "OK".into()),
        other => (404, format!("unexpected path {other}")),
    });
    let vars = with(
        memory_source("SELECT 1 AS one"),
        &[
            ("PERSONAL_ACCESS_TOKEN", "pak_odd_secret_1"),
            ("POLYTEIA_BASE_URL", &format!("{}/tenantä", api.url)),
            ("DATASET_ID", ODD_ID),
        ],
    );
    let run = connector(&["run"], &vars);
    assert_no_panic(&run);
    assert_eq!(run.code, 0, "{}", run.output());
    let requests = api.requests();
    assert_eq!(requests[0].json()["params"]["id"], ODD_ID);
    assert!(!run.output().contains("pak_odd_secret_1"));
}
