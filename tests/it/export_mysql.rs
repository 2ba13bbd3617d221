//! `connector export` against the real local MariaDB, through a user with an
//! awkward password that only has SELECT on its database.

use crate::common::*;

fn export(db: &MysqlDatabase, query: &str, extra: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    export_to_temp(&with(db.env(query), extra), &[&db.password])
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

/// A table of four events, with NULLs and non-ASCII text.
fn events(db: &MysqlDatabase) {
    db.admin(
        "SET NAMES utf8mb4; \
         CREATE TABLE events (id int PRIMARY KEY, name varchar(50), day date, amount decimal(10,2)) \
             CHARACTER SET utf8mb4; \
         INSERT INTO events VALUES (1, 'Bürgeramt', '2024-01-05', 12.50), (2, NULL, '2024-02-29', NULL), \
             (3, 'Bibliothek 📚', '2024-12-31', 0), (4, 'Rathaus', '2025-03-01', -7.25);",
    );
}

#[test]
fn exports_rows_through_a_user_with_an_awkward_password() {
    let db = MysqlDatabase::create();
    events(&db);
    let (run, dir) = export(&db, "SELECT * FROM db.events ORDER BY id", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("export finished: 4 rows, 4 columns"), "{}", run.stderr);

    let file = result_file(&dir);
    assert_eq!(
        parquet_columns(&file),
        vec![
            ("id".to_string(), "INTEGER".to_string()),
            ("name".to_string(), "VARCHAR".to_string()),
            ("day".to_string(), "DATE".to_string()),
            ("amount".to_string(), "DECIMAL(10,2)".to_string()),
        ]
    );
    assert_eq!(
        parquet_rows(&file),
        vec![
            row(&[Some("1"), Some("Bürgeramt"), Some("2024-01-05"), Some("12.50")]),
            row(&[Some("2"), None, Some("2024-02-29"), None]),
            row(&[Some("3"), Some("Bibliothek 📚"), Some("2024-12-31"), Some("0.00")]),
            row(&[Some("4"), Some("Rathaus"), Some("2025-03-01"), Some("-7.25")]),
        ]
    );
    // Only the finished file is left beside it: no partial file.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("result.parquet")]);
}

#[test]
fn wrong_password_is_refused_by_the_server() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let (run, dir) = export(&db, "SELECT * FROM db.t", &[("SOURCE_DATABASE_PASSWORD", "not-the-password")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.to_ascii_lowercase().contains("access denied"), "{}", run.stderr);
    assert!(run.stderr.contains("SOURCE_DATABASE_PASSWORD"), "{}", run.stderr);
    assert!(run.stderr.contains("check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
    assert_no_secret(&run.output(), &["not-the-password"]);
}

#[test]
fn unqualified_and_qualified_table_names_both_work() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE districts (id int, name varchar(20)); INSERT INTO districts VALUES (7, 'Mitte');");

    let (run, dir) = export(&db, "SELECT name, id FROM districts", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&result_file(&dir)), vec![row(&[Some("Mitte"), Some("7")])]);

    let (run, dir) = export(&db, "SELECT d.id, d.name FROM db.districts AS d", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&result_file(&dir)), vec![row(&[Some("7"), Some("Mitte")])]);
}

#[test]
fn native_dialect_runs_mysql_sql_unchanged() {
    let db = MysqlDatabase::create();
    events(&db);
    // Backtick identifiers, DATE_FORMAT, IFNULL and `LIMIT offset, count` are
    // MySQL's own; DuckDB's parser would reject the backticks.
    let query = "SELECT `id`, IFNULL(`name`, '-') AS `label`, DATE_FORMAT(`day`, '%d.%m.%Y') AS `day_de` \
                 FROM `events` ORDER BY `id` LIMIT 1, 2";
    let (run, dir) = export(&db, query, &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_eq!(run.code, 0, "{}", run.output());
    let file = result_file(&dir);
    assert_eq!(
        parquet_rows(&file),
        vec![
            row(&[Some("2"), Some("-"), Some("29.02.2024")]),
            row(&[Some("3"), Some("Bibliothek 📚"), Some("31.12.2024")]),
        ]
    );
    let names: Vec<String> = parquet_columns(&file).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["id", "label", "day_de"]);

    // The same query in the default DuckDB dialect is not MySQL: it fails.
    let (run, dir) = export(&db, query, &[]);
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.stderr.contains("the query failed"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
}

#[test]
fn empty_result_is_refused_unless_allowed() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE t (id int, name varchar(10));");
    let (run, dir) = export(&db, "SELECT * FROM db.t", &[]);
    assert_eq!(run.code, 6, "{}", run.output());
    assert!(run.stderr.contains("the query returned no rows"), "{}", run.stderr);
    assert!(run.stderr.contains("ALLOW_EMPTY_RESULT=true"), "{}", run.stderr);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "partial file left behind");

    let (run, dir) = export(&db, "SELECT * FROM db.t", &[("ALLOW_EMPTY_RESULT", "true")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_row_count(&result_file(&dir)), 0);
    assert_eq!(
        parquet_columns(&result_file(&dir)),
        vec![("id".to_string(), "INTEGER".to_string()), ("name".to_string(), "VARCHAR".to_string())]
    );
}

#[test]
fn query_naming_a_missing_table_fails_with_the_query_code() {
    let db = MysqlDatabase::create();
    let (run, dir) = export(&db, "SELECT * FROM db.nope", &[]);
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.stderr.contains("the query failed"), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
}

#[test]
fn unreachable_server_gives_the_source_code() {
    let db = MysqlDatabase::create();
    let (run, dir) = export(&db, "SELECT 1", &[("SOURCE_DATABASE_PORT", "1"), ("SOURCE_CONNECT_MAX_ATTEMPTS", "2"), ("CONNECTOR_RETRY_BASE_MS", "20")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("cannot connect to the mysql database"), "{}", run.stderr);
    assert!(run.stderr.contains("check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
}

#[test]
fn mariadb_is_an_alias_for_mysql() {
    let db = MysqlDatabase::create();
    events(&db);
    let (run, dir) =
        export(&db, "SELECT id, name FROM db.events WHERE id <= 2 ORDER BY id", &[("SOURCE_DATABASE_TYPE", "mariadb")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(
        parquet_rows(&result_file(&dir)),
        vec![row(&[Some("1"), Some("Bürgeramt")]), row(&[Some("2"), None])]
    );
}

/// The hint after a refused login names what the server's message points at.
#[test]
fn an_unknown_user_or_database_gets_a_hint_naming_it() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    // MariaDB does not say whether the user or the password is wrong.
    let (run, _dir) = export(&db, "SELECT * FROM db.t", &[("SOURCE_DATABASE_USER", "no_such_user_16")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("Access denied for user 'no_such_user_16'"), "{}", run.stderr);
    assert!(run.stderr.contains("; check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"), "{}", run.stderr);

    // A database the user may not see, or that does not exist: the same answer.
    let (run, _dir) = export(&db, "SELECT * FROM db.t", &[("SOURCE_DATABASE_NAME", "no_such_database_16")]);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("to database 'no_such_database_16'"), "{}", run.stderr);
    assert!(run.stderr.contains("; check SOURCE_DATABASE_NAME"), "{}", run.stderr);
    assert!(!run.stderr.contains("check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"), "{}", run.stderr);
}
