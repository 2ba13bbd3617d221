//! `connector export` against the real local PostgreSQL, through a role whose
//! awkward password the server checks (scram-sha-256).

use crate::common::*;

fn export(db: &PgDatabase, query: &str, extra: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    export_to_temp(&with(db.env(query), extra), &[&db.password])
}

#[test]
fn exports_rows_through_a_user_with_an_awkward_password() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE events (id int PRIMARY KEY, name text, amount numeric(10,2)); \
         INSERT INTO events VALUES (1, 'Bürgeramt', 12.50), (2, 'Bibliothek', NULL), (3, NULL, 0);",
    );
    let (run, dir) = export(&db, "SELECT * FROM db.events ORDER BY id", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("export finished: 3 rows, 3 columns"), "{}", run.stderr);

    let file = result_file(&dir);
    assert_eq!(
        parquet_rows(&file),
        vec![
            vec![Some("1".into()), Some("Bürgeramt".into()), Some("12.50".into())],
            vec![Some("2".into()), Some("Bibliothek".into()), None],
            vec![Some("3".into()), None, Some("0.00".into())],
        ]
    );
    // Only the finished file is left beside it: no partial file.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("result.parquet")]);
}

#[test]
fn wrong_password_is_refused_by_the_server() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let (run, dir) = export(&db, "SELECT * FROM db.t", &[("SOURCE_DATABASE_PASSWORD", "not-the-password")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("password authentication failed"), "{}", run.stderr);
    assert!(run.stderr.contains("check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
    assert_no_secret(&run.output(), &["not-the-password"]);
}

#[test]
fn unqualified_table_names_resolve_after_use_db() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE districts (id int, name text); INSERT INTO districts VALUES (7, 'Mitte');");
    let (run, dir) = export(&db, "SELECT name, id FROM districts", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&result_file(&dir)), vec![vec![Some("Mitte".into()), Some("7".into())]]);
}

#[test]
fn native_dialect_runs_postgres_sql_unchanged() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int, tags text[]); INSERT INTO t VALUES (1, '{a,b}'), (2, '{c}');");
    // `::` casts, array_to_string and generate_series are PostgreSQL's own.
    let query = "SELECT id::text || '-x' AS label, array_to_string(tags, '|') AS tags, \
                 (SELECT count(*) FROM generate_series(1, id)) AS n FROM t ORDER BY id";
    let (run, dir) = export(&db, query, &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(
        parquet_rows(&result_file(&dir)),
        vec![
            vec![Some("1-x".into()), Some("a|b".into()), Some("1".into())],
            vec![Some("2-x".into()), Some("c".into()), Some("2".into())],
        ]
    );
}

#[test]
fn empty_result_is_refused_unless_allowed() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int);");
    let (run, dir) = export(&db, "SELECT * FROM db.t", &[]);
    assert_eq!(run.code, 6, "{}", run.output());
    assert!(run.stderr.contains("the query returned no rows"), "{}", run.stderr);
    assert!(run.stderr.contains("ALLOW_EMPTY_RESULT=true"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "partial file left behind");

    let (run, dir) = export(&db, "SELECT * FROM db.t", &[("ALLOW_EMPTY_RESULT", "true")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_row_count(&result_file(&dir)), 0);
    assert_eq!(parquet_columns(&result_file(&dir)), vec![("id".to_string(), "INTEGER".to_string())]);
}

#[test]
fn query_naming_a_missing_table_fails_with_the_query_code() {
    let db = PgDatabase::create();
    let (run, dir) = export(&db, "SELECT * FROM db.nope", &[]);
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.stderr.contains("the query failed"), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
}

#[test]
fn writes_are_refused_because_the_source_is_read_only() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("x.parquet");
    let run = connector(
        &["export", "--output", file.to_str().unwrap()],
        &db.env("INSERT INTO db.t VALUES (2) RETURNING id"),
    );
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert_eq!(db.admin("SELECT count(*) FROM t").trim(), "1");
}

#[test]
fn unreachable_server_is_retried_then_gives_the_source_code() {
    let db = PgDatabase::create();
    let (run, _dir) = export(
        &db,
        "SELECT 1",
        &[("SOURCE_DATABASE_PORT", "1"), ("SOURCE_CONNECT_MAX_ATTEMPTS", "3"), ("CONNECTOR_RETRY_BASE_MS", "20")],
    );
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("cannot connect to the postgres database"), "{}", run.stderr);
    assert!(run.stderr.contains("attempt 1 of 3"), "{}", run.stderr);
    assert!(run.stderr.contains("attempt 2 of 3"), "{}", run.stderr);
    assert!(!run.stderr.contains("attempt 3 of 3"), "{}", run.stderr);
}

#[test]
fn a_refused_login_is_not_retried() {
    let db = PgDatabase::create();
    let (run, _dir) = export(
        &db,
        "SELECT 1",
        &[("SOURCE_DATABASE_PASSWORD", "wrong-one"), ("SOURCE_CONNECT_MAX_ATTEMPTS", "3"), ("CONNECTOR_RETRY_BASE_MS", "20")],
    );
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
}

#[test]
fn compression_and_row_group_size_are_applied() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 50000) g;");
    let (run, dir) = export(
        &db,
        "SELECT * FROM db.t ORDER BY id",
        &[("PARQUET_COMPRESSION", "zstd"), ("PARQUET_ROW_GROUP_SIZE", "10000")],
    );
    assert_eq!(run.code, 0, "{}", run.output());
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = result_file(&dir).display().to_string();
    let (groups, codec): (i64, String) = conn
        .query_row(
            &format!("SELECT count(DISTINCT row_group_id), any_value(compression) FROM parquet_metadata('{path}')"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(codec.to_ascii_uppercase(), "ZSTD");
    assert!(groups >= 4, "expected about 5 row groups for 50000 rows of 10000, got {groups}");
    assert_eq!(parquet_row_count(&result_file(&dir)), 50000);
}

/// The hint after a refused login names what the server's message points at.
#[test]
fn an_unknown_user_or_database_gets_a_hint_naming_it() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let (run, _dir) = export(&db, "SELECT * FROM db.t", &[("SOURCE_DATABASE_USER", "no_such_role_16")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains(r#"role "no_such_role_16" does not exist"#), "{}", run.stderr);
    assert!(run.stderr.contains("; check SOURCE_DATABASE_USER"), "{}", run.stderr);
    assert!(!run.stderr.contains("check SOURCE_DATABASE_NAME"), "{}", run.stderr);

    let (run, _dir) = export(&db, "SELECT * FROM db.t", &[("SOURCE_DATABASE_NAME", "no_such_database_16")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains(r#"database "no_such_database_16" does not exist"#), "{}", run.stderr);
    assert!(run.stderr.contains("; check SOURCE_DATABASE_NAME"), "{}", run.stderr);
    assert!(!run.stderr.contains("check SOURCE_DATABASE_USER"), "{}", run.stderr);
}
