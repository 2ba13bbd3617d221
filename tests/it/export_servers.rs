//! `connector export` against the real local database servers, one suite run for each
//! way in: every test below runs as `export_servers::postgres::NAME` against PostgreSQL,
//! through a role whose awkward password the server checks (scram-sha-256), and as
//! `export_servers::mysql::NAME` against MariaDB, through a user with an awkward
//! password that only has SELECT on its database; the tests that do not depend on
//! DuckDB's SQL run once more through the `odbc` kind with Debian's drivers
//! (`export_servers::odbc_postgres::NAME`, psqlODBC, and `odbc_mysql::NAME`, MariaDB
//! Connector/ODBC), with the same users and the settings moved into the connection
//! string. Where the servers or the drivers answer in their own words, the test says
//! what each one says.

use crate::common::*;

/// Instantiates each test function (taking the [`Kind`]) once per server, and the
/// first list once more per server through ODBC.
macro_rules! on_each_server {
    (every route: $($test:ident),* $(,)?; scanners only: $($scanner_test:ident),* $(,)?) => {
        mod postgres {
            $( #[test] fn $test() { super::$test(super::Kind::POSTGRES) } )*
            $( #[test] fn $scanner_test() { super::$scanner_test(super::Kind::POSTGRES) } )*
        }
        mod mysql {
            $( #[test] fn $test() { super::$test(super::Kind::MYSQL) } )*
            $( #[test] fn $scanner_test() { super::$scanner_test(super::Kind::MYSQL) } )*
        }
        mod odbc_postgres {
            $( #[test] fn $test() { super::$test(super::Kind::ODBC_POSTGRES) } )*
        }
        mod odbc_mysql {
            $( #[test] fn $test() { super::$test(super::Kind::ODBC_MYSQL) } )*
        }
    };
}

on_each_server!(
    every route:
    exports_rows_through_a_user_with_an_awkward_password,
    wrong_password_is_refused_by_the_server,
    a_refused_login_is_not_retried,
    an_unknown_user_or_database_gets_a_hint_naming_it,
    native_dialect_runs_the_servers_own_sql_unchanged,
    empty_result_is_refused_unless_allowed,
    query_naming_a_missing_table_fails_with_the_query_code,
    writes_are_refused_because_the_source_is_read_only,
    unreachable_server_is_retried_then_gives_the_source_code,
    compression_and_row_group_size_are_applied;
    // DuckDB's SQL (the `db.` catalog) and the kinds' second names.
    scanners only:
    unqualified_and_qualified_table_names_both_work,
    the_other_name_of_the_type_works,
);

// --------------------------------------------------------------------------
// The per-kind fixture

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Postgres,
    Mysql,
}

/// A server, and whether the connector reaches it through its own kind
/// (DuckDB's scanner) or through the `odbc` kind.
#[derive(Clone, Copy, Debug)]
struct Kind {
    server: Server,
    odbc: bool,
}

/// The settings a test overrides that an ODBC connection string holds, with
/// the attribute each becomes.
const IN_THE_CONNECTION_STRING: [(&str, &str); 4] = [
    ("SOURCE_DATABASE_USER", "Uid"),
    ("SOURCE_DATABASE_PASSWORD", "Pwd"),
    ("SOURCE_DATABASE_NAME", "Database"),
    ("SOURCE_DATABASE_PORT", "Port"),
];

impl Kind {
    const POSTGRES: Kind = Kind { server: Server::Postgres, odbc: false };
    const MYSQL: Kind = Kind { server: Server::Mysql, odbc: false };
    const ODBC_POSTGRES: Kind = Kind { server: Server::Postgres, odbc: true };
    const ODBC_MYSQL: Kind = Kind { server: Server::Mysql, odbc: true };

    fn create(self) -> Database {
        let server = match self.server {
            Server::Postgres => ServerDatabase::Postgres(PgDatabase::create()),
            Server::Mysql => ServerDatabase::Mysql(MysqlDatabase::create()),
        };
        Database { server, odbc: self.odbc }
    }

    /// How the connector's message on a failed connection begins.
    fn cannot_connect(self) -> &'static str {
        match (self.odbc, self.server) {
            (true, _) => "cannot connect through ODBC",
            (false, Server::Postgres) => "cannot connect to the postgres database",
            (false, Server::Mysql) => "cannot connect to the mysql database",
        }
    }

    /// The second accepted value of `SOURCE_DATABASE_TYPE` for this kind.
    fn other_name(self) -> &'static str {
        match self.server {
            Server::Postgres => "postgresql",
            Server::Mysql => "mariadb",
        }
    }

    /// The connector's hint after a refused connection: the settings to check (through
    /// ODBC, the attributes of the connection string).
    fn check(self, what: Check) -> &'static str {
        match (self.odbc, what) {
            (false, Check::Login) => "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD",
            (false, Check::User) => "check SOURCE_DATABASE_USER",
            (false, Check::Database) => "check SOURCE_DATABASE_NAME",
            (false, Check::Host) => "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT",
            (true, Check::Login) => "check the user and password (Uid=, Pwd=) in SOURCE_ODBC_CONNECTION_STRING",
            (true, Check::User) => "check the user (Uid=) in SOURCE_ODBC_CONNECTION_STRING",
            (true, Check::Database) => "check the database (Database=) in SOURCE_ODBC_CONNECTION_STRING",
            (true, Check::Host) => "check the server and port (Server=, Port=) in SOURCE_ODBC_CONNECTION_STRING",
        }
    }
}

#[derive(Clone, Copy)]
enum Check {
    Login,
    User,
    Database,
    Host,
}

/// A fresh database and user of one server, dropped at the end of the test.
enum ServerDatabase {
    Postgres(PgDatabase),
    Mysql(MysqlDatabase),
}

struct Database {
    server: ServerDatabase,
    odbc: bool,
}

impl Database {
    /// The settings for `query`; through ODBC, the query without DuckDB's `db.`
    /// (the tests' queries use it only as the catalog's name), and `overrides` of
    /// the user, password, database and port written into the connection string.
    fn env(&self, query: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        if !self.odbc {
            let env = match &self.server {
                ServerDatabase::Postgres(db) => db.env(query),
                ServerDatabase::Mysql(db) => db.env(query),
            };
            return with(env, overrides);
        }
        let mut string = match &self.server {
            ServerDatabase::Postgres(db) => db.odbc_connection_string("BoolsAsChar=0;"),
            ServerDatabase::Mysql(db) => format!("{};", db.odbc_connection_string()),
        };
        let mut rest = Vec::new();
        for (setting, value) in overrides {
            match IN_THE_CONNECTION_STRING.iter().find(|(name, _)| name == setting) {
                // psqlODBC takes braces only around the password.
                Some((_, "Pwd")) => string.push_str(&format!("Pwd={};", odbc_braced(value))),
                Some((_, attribute)) => string.push_str(&format!("{attribute}={value};")),
                None => rest.push((*setting, *value)),
            }
        }
        with(odbc_env(&string, &query.replace("db.", "")), &rest)
    }

    fn password(&self) -> &str {
        match &self.server {
            ServerDatabase::Postgres(db) => &db.password,
            ServerDatabase::Mysql(db) => &db.password,
        }
    }

    /// Creates the test's tables and rows: in PostgreSQL as the test role (which owns
    /// them), in MariaDB as root (the test user may only read).
    fn setup(&self, sql: &str) {
        match &self.server {
            ServerDatabase::Postgres(db) => db.exec(sql),
            ServerDatabase::Mysql(db) => db.admin(sql),
        };
    }

    /// Runs SQL as the server's administrator, for checking what is in the database.
    fn admin(&self, sql: &str) -> String {
        match &self.server {
            ServerDatabase::Postgres(db) => db.admin(sql),
            ServerDatabase::Mysql(db) => db.admin(sql),
        }
    }

    fn export(&self, query: &str, extra: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
        export_to_temp(&self.env(query, extra), &[self.password()])
    }
}

/// A table of four events, with NULLs and non-ASCII text, in either kind.
fn events(kind: Kind) -> Database {
    let db = kind.create();
    let rows = "INSERT INTO events VALUES (1, 'Bürgeramt', '2024-01-05', 12.50), (2, NULL, '2024-02-29', NULL), \
                (3, 'Bibliothek 📚', '2024-12-31', 0), (4, 'Rathaus', '2025-03-01', -7.25);";
    match kind.server {
        Server::Postgres => db.setup(&format!(
            "CREATE TABLE events (id int PRIMARY KEY, name varchar(50), day date, amount numeric(10,2)); {rows}"
        )),
        Server::Mysql => db.setup(&format!(
            "SET NAMES utf8mb4; \
             CREATE TABLE events (id int PRIMARY KEY, name varchar(50), day date, amount decimal(10,2)) \
                 CHARACTER SET utf8mb4; {rows}"
        )),
    }
    db
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

// --------------------------------------------------------------------------
// The tests

fn exports_rows_through_a_user_with_an_awkward_password(kind: Kind) {
    let db = events(kind);
    let (run, dir) = db.export("SELECT * FROM db.events ORDER BY id", &[]);
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

fn wrong_password_is_refused_by_the_server(kind: Kind) {
    let db = kind.create();
    db.setup("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let (run, dir) = db.export("SELECT * FROM db.t", &[("SOURCE_DATABASE_PASSWORD", "not-the-password")]);
    assert_eq!(run.code, 4, "{}", run.output());
    match kind.server {
        Server::Postgres => assert!(run.stderr.contains("password authentication failed"), "{}", run.stderr),
        Server::Mysql => assert!(run.stderr.to_ascii_lowercase().contains("access denied"), "{}", run.stderr),
    }
    assert!(run.stderr.contains(kind.check(Check::Login)), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
    assert_no_secret(&run.output(), &["not-the-password"]);
}

fn a_refused_login_is_not_retried(kind: Kind) {
    let db = kind.create();
    let (run, _dir) = db.export(
        "SELECT 1",
        &[
            ("SOURCE_DATABASE_PASSWORD", "wrong-one"),
            ("SOURCE_CONNECT_MAX_ATTEMPTS", "3"),
            ("CONNECTOR_RETRY_BASE_MS", "20"),
        ],
    );
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
}

/// The hint after a refused login names what the server's message points at.
fn an_unknown_user_or_database_gets_a_hint_naming_it(kind: Kind) {
    let db = kind.create();
    db.setup("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let (run, _dir) = db.export("SELECT * FROM db.t", &[("SOURCE_DATABASE_USER", "no_such_user_16")]);
    assert_eq!(run.code, 4, "{}", run.output());
    match kind.server {
        Server::Postgres => {
            assert!(run.stderr.contains(r#"role "no_such_user_16" does not exist"#), "{}", run.stderr);
            assert!(run.stderr.contains(&format!("; {}", kind.check(Check::User))), "{}", run.stderr);
        }
        Server::Mysql => {
            // MariaDB does not say whether the user or the password is wrong.
            assert!(run.stderr.contains("Access denied for user 'no_such_user_16'"), "{}", run.stderr);
            assert!(run.stderr.contains(&format!("; {}", kind.check(Check::Login))), "{}", run.stderr);
        }
    }
    assert!(!run.stderr.contains(kind.check(Check::Database)), "{}", run.stderr);

    let (run, _dir) = db.export("SELECT * FROM db.t", &[("SOURCE_DATABASE_NAME", "no_such_database_16")]);
    assert_eq!(run.code, 4, "{}", run.output());
    match kind.server {
        Server::Postgres => {
            assert!(run.stderr.contains(r#"database "no_such_database_16" does not exist"#), "{}", run.stderr)
        }
        // A database the user may not see, or that does not exist: the same answer.
        Server::Mysql => assert!(run.stderr.contains("to database 'no_such_database_16'"), "{}", run.stderr),
    }
    assert!(run.stderr.contains(&format!("; {}", kind.check(Check::Database))), "{}", run.stderr);
    assert!(!run.stderr.contains(kind.check(Check::User)), "{}", run.stderr);
}

/// Unqualified names resolve in the source (`USE db`); `db.` names it explicitly.
fn unqualified_and_qualified_table_names_both_work(kind: Kind) {
    let db = kind.create();
    db.setup("CREATE TABLE districts (id int, name varchar(20)); INSERT INTO districts VALUES (7, 'Mitte');");

    let (run, dir) = db.export("SELECT name, id FROM districts", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&result_file(&dir)), vec![row(&[Some("Mitte"), Some("7")])]);

    let (run, dir) = db.export("SELECT d.id, d.name FROM db.districts AS d", &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&result_file(&dir)), vec![row(&[Some("7"), Some("Mitte")])]);
}

fn native_dialect_runs_the_servers_own_sql_unchanged(kind: Kind) {
    let (db, query, expected, columns) = match kind.server {
        Server::Postgres => {
            let db = kind.create();
            db.setup("CREATE TABLE t (id int, tags text[]); INSERT INTO t VALUES (1, '{a,b}'), (2, '{c}');");
            // `::` casts, array_to_string and generate_series are PostgreSQL's own.
            let query = "SELECT id::text || '-x' AS label, array_to_string(tags, '|') AS tags, \
                         (SELECT count(*) FROM generate_series(1, id)) AS n FROM t ORDER BY id";
            let expected = vec![row(&[Some("1-x"), Some("a|b"), Some("1")]), row(&[Some("2-x"), Some("c"), Some("2")])];
            (db, query, expected, ["label", "tags", "n"])
        }
        Server::Mysql => {
            let db = events(kind);
            // Backtick identifiers, DATE_FORMAT, IFNULL and `LIMIT offset, count` are
            // MySQL's own; DuckDB's parser would reject the backticks.
            let query = "SELECT `id`, IFNULL(`name`, '-') AS `label`, DATE_FORMAT(`day`, '%d.%m.%Y') AS `day_de` \
                         FROM `events` ORDER BY `id` LIMIT 1, 2";
            let expected = vec![
                row(&[Some("2"), Some("-"), Some("29.02.2024")]),
                row(&[Some("3"), Some("Bibliothek 📚"), Some("31.12.2024")]),
            ];
            (db, query, expected, ["id", "label", "day_de"])
        }
    };
    let (run, dir) = db.export(query, &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_eq!(run.code, 0, "{}", run.output());
    let file = result_file(&dir);
    assert_eq!(parquet_rows(&file), expected);
    let names: Vec<String> = parquet_columns(&file).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, columns);

    if let (Server::Mysql, false) = (kind.server, kind.odbc) {
        // The same query in the default DuckDB dialect is not MySQL: it fails.
        let (run, dir) = db.export(query, &[]);
        assert_eq!(run.code, 5, "{}", run.output());
        assert!(run.stderr.contains("the query failed"), "{}", run.stderr);
        assert!(!result_file(&dir).exists());
    }
}

fn empty_result_is_refused_unless_allowed(kind: Kind) {
    let db = kind.create();
    db.setup("CREATE TABLE t (id int, name varchar(10));");
    let (run, dir) = db.export("SELECT * FROM db.t", &[]);
    assert_eq!(run.code, 6, "{}", run.output());
    assert!(run.stderr.contains("the query returned no rows"), "{}", run.stderr);
    assert!(run.stderr.contains("ALLOW_EMPTY_RESULT=true"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "partial file left behind");

    let (run, dir) = db.export("SELECT * FROM db.t", &[("ALLOW_EMPTY_RESULT", "true")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_row_count(&result_file(&dir)), 0);
    assert_eq!(
        parquet_columns(&result_file(&dir)),
        vec![("id".to_string(), "INTEGER".to_string()), ("name".to_string(), "VARCHAR".to_string())]
    );
}

fn query_naming_a_missing_table_fails_with_the_query_code(kind: Kind) {
    let db = kind.create();
    let (run, dir) = db.export("SELECT * FROM db.nope", &[]);
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.stderr.contains("the query failed"), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
}

fn writes_are_refused_because_the_source_is_read_only(kind: Kind) {
    let db = kind.create();
    db.setup("CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("x.parquet");
    let run = connector(
        &["export", "--output", file.to_str().unwrap()],
        &db.env("INSERT INTO db.t VALUES (2) RETURNING id", &[]),
    );
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert_eq!(db.admin("SELECT count(*) FROM t").trim(), "1");

    if kind.server == Server::Postgres {
        // A write behind a SELECT, in PostgreSQL's own SQL: the server refuses it, since
        // the connector's session only reads (the test role owns the table and may write).
        db.setup("CREATE FUNCTION zap() RETURNS bigint LANGUAGE sql AS 'DELETE FROM t RETURNING id';");
        let (run, dir) = db.export("SELECT zap() AS id", &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
        assert_eq!(run.code, 5, "{}", run.output());
        assert!(run.stderr.contains("cannot execute DELETE in a read-only transaction"), "{}", run.stderr);
        assert!(!result_file(&dir).exists());
        assert_eq!(db.admin("SELECT count(*) FROM t").trim(), "1");
    }
}

fn unreachable_server_is_retried_then_gives_the_source_code(kind: Kind) {
    let db = kind.create();
    let (run, dir) = db.export(
        "SELECT 1",
        &[("SOURCE_DATABASE_PORT", "1"), ("SOURCE_CONNECT_MAX_ATTEMPTS", "3"), ("CONNECTOR_RETRY_BASE_MS", "20")],
    );
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains(kind.cannot_connect()), "{}", run.stderr);
    assert!(run.stderr.contains(kind.check(Check::Host)), "{}", run.stderr);
    assert!(run.stderr.contains("attempt 1 of 3"), "{}", run.stderr);
    assert!(run.stderr.contains("attempt 2 of 3"), "{}", run.stderr);
    assert!(!run.stderr.contains("attempt 3 of 3"), "{}", run.stderr);
    assert!(!result_file(&dir).exists());
}

/// `mariadb` for MySQL, `postgresql` for PostgreSQL.
fn the_other_name_of_the_type_works(kind: Kind) {
    let db = events(kind);
    let (run, dir) = db.export(
        "SELECT id, name FROM db.events WHERE id <= 2 ORDER BY id",
        &[("SOURCE_DATABASE_TYPE", kind.other_name())],
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&result_file(&dir)), vec![row(&[Some("1"), Some("Bürgeramt")]), row(&[Some("2"), None])]);
}

fn compression_and_row_group_size_are_applied(kind: Kind) {
    let db = kind.create();
    db.setup(match kind.server {
        Server::Postgres => "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 50000) g;",
        // MariaDB's SEQUENCE engine provides seq_1_to_N.
        Server::Mysql => "CREATE TABLE t AS SELECT seq AS id, md5(seq) AS h FROM seq_1_to_50000;",
    });
    let (run, dir) = db.export(
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
