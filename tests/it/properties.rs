//! Property tests of the two places where text from the configuration is
//! embedded in other text: the connection strings for DuckDB's postgres and
//! mysql extensions, and the `.env` file. Arbitrary values (any Unicode,
//! quotes, backslashes, spaces, `=`, `@`) must come out of the driver's own
//! parsing rules unchanged; a handful are used for real against the local
//! PostgreSQL and MariaDB servers. Case counts are modest: the whole file
//! runs in seconds.

use std::collections::HashSet;
use std::path::PathBuf;

use connector::config::{Env, ExportConfig, QueryDialect, RunConfig, SourceKind, SourceSettings, SslMode};
use connector::secret::Secret;
use connector::source::{mysql_dsn, mysql_secret_sql, postgres_conninfo};
use connector::sql::{clean_query, has_several_statements};
use proptest::prelude::*;

use crate::common::secrets::{run_with_secrets_checked, Secrets};
use crate::common::*;

// ---------------------------------------------------------------------------
// Reference parsers

/// C's `isspace` in the "C" locale, which both drivers use.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// libpq's `conninfo_parse` (fe-connect.c): `key = value` pairs separated by
/// white space; a value is either a word, or single-quoted; in both a
/// backslash takes the next character literally.
fn parse_libpq_conninfo(text: &str) -> Result<Vec<(String, String)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut pairs = Vec::new();
    loop {
        while i < chars.len() && is_c_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while i < chars.len() && chars[i] != '=' && !is_c_space(chars[i]) {
            key.push(chars[i]);
            i += 1;
        }
        while i < chars.len() && is_c_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() || chars[i] != '=' {
            return Err(format!("missing \"=\" after \"{key}\""));
        }
        i += 1;
        while i < chars.len() && is_c_space(chars[i]) {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quoted string".into()),
                    Some('\\') => {
                        i += 1;
                        if let Some(c) = chars.get(i) {
                            value.push(*c);
                            i += 1;
                        }
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !is_c_space(chars[i]) {
                if chars[i] == '\\' {
                    i += 1;
                    if let Some(c) = chars.get(i) {
                        value.push(*c);
                    }
                } else {
                    value.push(chars[i]);
                }
                i += 1;
            }
        }
        pairs.push((key, value));
    }
}

/// The mysql extension's `ParseConnectionParameters` (mysql_utils.cpp):
/// `key=value` pairs separated by white space, no space around `=`; a value
/// is a word (up to white space or `=`) or double-quoted, where a backslash
/// may escape only `\` and `"`; duplicate keys are refused.
fn parse_mysql_dsn(text: &str) -> Result<Vec<(String, String)>, String> {
    fn value(chars: &[char], i: &mut usize) -> Result<Option<String>, String> {
        while *i < chars.len() && is_c_space(chars[*i]) {
            *i += 1;
        }
        if *i >= chars.len() {
            return Ok(None);
        }
        let mut out = String::new();
        if chars[*i] == '"' {
            *i += 1;
            loop {
                match chars.get(*i) {
                    None => return Err("unterminated quote".into()),
                    Some('"') => {
                        *i += 1;
                        return Ok(Some(out));
                    }
                    Some('\\') => match chars.get(*i + 1) {
                        None => return Err("backslash at end of dsn".into()),
                        Some(c @ ('\\' | '"')) => {
                            out.push(*c);
                            *i += 2;
                        }
                        Some(_) => return Err("backslash can only escape \\ or \"".into()),
                    },
                    Some(c) => {
                        out.push(*c);
                        *i += 1;
                    }
                }
            }
        }
        while *i < chars.len() && chars[*i] != '=' && !is_c_space(chars[*i]) {
            out.push(chars[*i]);
            *i += 1;
        }
        Ok(Some(out))
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut pairs: Vec<(String, String)> = Vec::new();
    while i < chars.len() {
        let Some(key) = value(&chars, &mut i)? else { break };
        if chars.get(i) != Some(&'=') {
            return Err("expected key=value pairs separated by spaces".into());
        }
        i += 1;
        let val = value(&chars, &mut i)?.ok_or("expected key=value pairs separated by spaces")?;
        let key = key.to_lowercase();
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(format!("duplicate '{key}' parameter"));
        }
        pairs.push((key, val));
    }
    Ok(pairs)
}

#[test]
fn reference_parsers_follow_the_drivers() {
    assert_eq!(
        parse_libpq_conninfo(r"host = h  password='a\'b\\c d' user=x\ y").unwrap(),
        [("host".into(), "h".into()), ("password".into(), r"a'b\c d".into()), ("user".into(), "x y".into())]
    );
    assert!(parse_libpq_conninfo("password='open").is_err());
    assert_eq!(
        parse_mysql_dsn(r#"host=h password="a\"b\\c d" port=1"#).unwrap(),
        [("host".into(), "h".into()), ("password".into(), r#"a"b\c d"#.into()), ("port".into(), "1".into())]
    );
    assert!(parse_mysql_dsn(r#"password="a\b""#).is_err());
    assert!(parse_mysql_dsn("host =h").is_err());
    assert!(parse_mysql_dsn("host=a host=b").is_err());
}

// ---------------------------------------------------------------------------
// Connection strings

/// Any text without NUL (a C string ends there; no variable can hold one).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        // Mostly the characters that break quoting…
        proptest::collection::vec(
            prop_oneof![
                Just('\''),
                Just('"'),
                Just('\\'),
                Just(' '),
                Just('='),
                Just('@'),
                Just(';'),
                Just('\t'),
                Just('\n'),
                Just('$'),
                Just('%'),
                Just('ä'),
                Just('€'),
                Just('😀'),
                Just('\u{0b}'),
                Just('#'),
                proptest::char::range('a', 'z'),
            ],
            0..24
        )
        .prop_map(|chars| chars.into_iter().collect()),
        // …and anything else.
        any::<String>().prop_map(|s| s.replace('\0', "")),
    ]
}

fn option_key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}".prop_filter("not a key with its own variable, nor one we add", |k| {
        ![
            "host",
            "hostaddr",
            "port",
            "user",
            "password",
            "passwd",
            "dbname",
            "db",
            "database",
            "sslmode",
            "ssl_mode",
            "sslrootcert",
            "ssl_ca",
            "application_name",
            "connect_timeout",
            "compression",
        ]
        .contains(&k.as_str())
    })
}

fn settings(kind: SourceKind) -> impl Strategy<Value = SourceSettings> {
    (
        text(),
        text(),
        text(),
        text(),
        proptest::option::of(text()),
        proptest::collection::vec((option_key(), text()), 0..3),
    )
        .prop_map(move |(host, user, password, database, ssl_root_cert, options)| {
            let mut seen = HashSet::new();
            let options = options.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
            SourceSettings {
                kind,
                host: Some(host),
                port: Some(5432),
                user: Some(user),
                password: Some(Secret::new(password)),
                database,
                query: "SELECT 1".into(),
                ssl_mode: SslMode::parse(
                    kind,
                    if kind == SourceKind::Postgres { "verify-full" } else { "verify_identity" },
                ),
                ssl_root_cert: ssl_root_cert.map(PathBuf::from),
                options,
                dialect: QueryDialect::DuckDb,
                odbc_connection_string: None,
                odbc_driver: None,
            }
        })
}

/// What the parsed pairs must say: each of our settings exactly once, with
/// its value unchanged, and nothing but known keys.
fn check_pairs(
    pairs: &[(String, String)],
    s: &SourceSettings,
    database_key: &str,
    ssl_keys: (&str, &str),
    defaults: &[&str],
) -> Result<(), TestCaseError> {
    let value = |key: &str| {
        let found: Vec<&String> = pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect();
        found.first().map(|v| v.to_string()).filter(|_| found.len() == 1)
    };
    prop_assert_eq!(value("host"), s.host.clone());
    prop_assert_eq!(value("port"), Some("5432".to_string()));
    prop_assert_eq!(value("user"), s.user.clone());
    prop_assert_eq!(value("password"), s.password.as_ref().map(|p| p.expose().to_string()));
    prop_assert_eq!(value(database_key), Some(s.database.clone()));
    prop_assert_eq!(value(ssl_keys.0), s.ssl_mode.map(|m| m.as_str().to_string()));
    prop_assert_eq!(value(ssl_keys.1), s.ssl_root_cert.as_ref().map(|p| p.to_string_lossy().into_owned()));
    for (k, v) in &s.options {
        prop_assert_eq!(value(k), Some(v.clone()));
    }
    for (k, _) in pairs {
        let known = ["host", "port", "user", "password", database_key, ssl_keys.0, ssl_keys.1].contains(&k.as_str())
            || defaults.contains(&k.as_str())
            || s.options.iter().any(|(o, _)| o == k);
        prop_assert!(known, "unexpected key {:?}", k);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn postgres_conninfo_round_trips_every_value(s in settings(SourceKind::Postgres)) {
        let conninfo = postgres_conninfo(&s);
        let pairs = parse_libpq_conninfo(&conninfo).map_err(|e| TestCaseError::fail(format!("{e}: {conninfo:?}")))?;
        check_pairs(&pairs, &s, "dbname", ("sslmode", "sslrootcert"), &["application_name", "connect_timeout"])?;
    }

    #[test]
    fn mysql_dsn_round_trips_every_option(s in settings(SourceKind::Mysql)) {
        // The connection settings travel in a DuckDB secret (mysql_secret_sql);
        // the string carries the driver defaults and SOURCE_DATABASE_OPTIONS.
        let dsn = mysql_dsn(&s);
        let pairs = parse_mysql_dsn(&dsn).map_err(|e| TestCaseError::fail(format!("{e}: {dsn:?}")))?;
        let mut expected: Vec<(String, String)> = Vec::new();
        if !s.options.iter().any(|(k, _)| k == "compression") {
            expected.push(("compression".into(), "disabled".into()));
        }
        expected.extend(s.options.iter().cloned());
        prop_assert_eq!(pairs, expected);
    }

    #[test]
    fn mysql_secret_quotes_every_value(s in settings(SourceKind::Mysql)) {
        let sql = mysql_secret_sql(&s);
        let literal = |v: &str| format!("'{}'", v.replace('\'', "''"));
        if let Some(password) = &s.password {
            prop_assert!(sql.contains(&format!("PASSWORD {}", literal(password.expose()))), "{}", sql);
        }
        prop_assert!(sql.contains(&format!("DATABASE {}", literal(&s.database))), "{}", sql);
    }
}

// ---------------------------------------------------------------------------
// Real logins with generated passwords

/// Passwords a person could set: 8–16 characters of any kind but NUL, not
/// only white space (an empty or blank value counts as unset).
fn password() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![
                Just('\''),
                Just('"'),
                Just('\\'),
                Just(' '),
                Just('='),
                Just('@'),
                Just(';'),
                Just('$'),
                Just('ä'),
                Just('😀'),
                Just('%'),
                Just('#'),
                proptest::char::range('!', '~'),
            ],
            8..16
        )
        .prop_map(|c| c.into_iter().collect::<String>()),
        "[^\\x00]{8,16}",
    ]
    .prop_filter("not blank", |p| !p.trim().is_empty())
}

fn export_with(vars: Vec<(String, String)>, password: &str) -> Result<Vec<Vec<Option<String>>>, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw.parquet");
    let run = run_with_secrets_checked(
        &Secrets::new([password]),
        &["export", "--output", file.to_str().unwrap()],
        &with(vars, &[("SOURCE_CONNECT_MAX_ATTEMPTS", "1")]),
        None,
    );
    prop_assert_eq!(run.code, 0, "password {:?}:\n{}", password, run.output());
    Ok(parquet_rows(&file))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_passwords_log_in_to_postgres(pw in password()) {
        let db = PgDatabase::create_with_password(&pw);
        db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (7);");
        prop_assert_eq!(export_with(db.env("SELECT * FROM db.t"), &pw)?, vec![vec![Some("7".to_string())]]);
    }

    #[test]
    fn generated_passwords_log_in_to_mariadb(pw in password()) {
        let db = MysqlDatabase::create_with_password(&pw);
        db.admin("CREATE TABLE t (id INT); INSERT INTO t VALUES (7);");
        prop_assert_eq!(export_with(db.env("SELECT * FROM t"), &pw)?, vec![vec![Some("7".to_string())]]);
    }
}

// ---------------------------------------------------------------------------
// The .env file and the configuration

fn env_key() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9_]{0,10}".prop_map(|k| format!("PROPTEST_{k}"))
}

/// The variables the connector reads, for the never-panics property.
const VARIABLES: [&str; 30] = [
    "SOURCE_DATABASE_TYPE",
    "SOURCE_DATABASE_HOST",
    "SOURCE_DATABASE_PORT",
    "SOURCE_DATABASE_USER",
    "SOURCE_DATABASE_PASSWORD",
    "SOURCE_DATABASE_NAME",
    "SOURCE_DATABASE_SQL_QUERY",
    "SOURCE_DATABASE_SSL_MODE",
    "SOURCE_DATABASE_SSL_ROOT_CERT",
    "SOURCE_DATABASE_OPTIONS",
    "SOURCE_DATABASE_QUERY_DIALECT",
    "SOURCE_CONNECT_MAX_ATTEMPTS",
    "PERSONAL_ACCESS_TOKEN",
    "POLYTEIA_BASE_URL",
    "DATASET_ID",
    "POLYTEIA_ORGANIZATION_ID",
    "POLYTEIA_ORGANIZATION_SLUG",
    "INGEST_POLL_INTERVAL",
    "INGEST_TIMEOUT",
    "HTTP_TIMEOUT",
    "UPLOAD_MAX_ATTEMPTS",
    "UPLOAD_MAX_BACKOFF",
    "DUCKDB_MEMORY_LIMIT",
    "DUCKDB_THREADS",
    "TEMP_DIR",
    "PARQUET_COMPRESSION",
    "PARQUET_ROW_GROUP_SIZE",
    "ALLOW_EMPTY_RESULT",
    "LOG_LEVEL",
    "HEALTH_CHECK_PORT",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever bytes the file holds, loading it ends in values or a
    /// configuration error (exit 3), and the error never quotes a value.
    #[test]
    fn loading_any_env_file_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                (env_key(), text()).prop_map(|(k, v)| format!("{k}={v}SECRETMARK")),
                (env_key(), text()).prop_map(|(k, v)| format!("{k}='{v}SECRETMARK")),
                (env_key(), text()).prop_map(|(k, v)| format!("export {k}=\"{v}SECRETMARK\"")),
                text().prop_map(|t| format!("{t}SECRETMARK")),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            ],
            0..8,
        ),
        raw_tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fuzz.env");
        let mut bytes = lines.join("\n").into_bytes();
        bytes.extend_from_slice(&raw_tail);
        std::fs::write(&file, &bytes).unwrap();
        match Env::load(std::slice::from_ref(&file)) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(e.exit_code(), 3);
                prop_assert!(!e.message().contains("SECRETMARK"), "a line's content in: {}", e.message());
            }
        }
    }

    /// `KEY='value'` gives back the value exactly (a blank one counts as unset).
    #[test]
    fn single_quoted_values_round_trip(
        pairs in proptest::collection::vec((env_key(), "[^'\\n\\x00]{0,40}"), 1..6),
    ) {
        let mut pairs = pairs;
        let mut seen = HashSet::new();
        pairs.retain(|(k, _)| seen.insert(k.clone()));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("quoted.env");
        let text: String = pairs.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
        std::fs::write(&file, &text).unwrap();
        let env = Env::load(std::slice::from_ref(&file)).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        for (k, v) in &pairs {
            let expected = if v.trim().is_empty() { None } else { Some(v.as_str()) };
            prop_assert_eq!(env.get(k), expected, "{:?}", text);
        }
    }

    /// `KEY="value"` with `\`, `"` and `$` escaped gives back the value exactly.
    #[test]
    fn double_quoted_values_round_trip(
        pairs in proptest::collection::vec((env_key(), "[^\n\x00]{0,40}"), 1..6),
    ) {
        let mut pairs = pairs;
        let mut seen = HashSet::new();
        pairs.retain(|(k, _)| seen.insert(k.clone()));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("quoted.env");
        let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
        let text: String = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"\n", escape(v))).collect();
        std::fs::write(&file, &text).unwrap();
        let env = Env::load(std::slice::from_ref(&file)).map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        for (k, v) in &pairs {
            let expected = if v.trim().is_empty() { None } else { Some(v.as_str()) };
            prop_assert_eq!(env.get(k), expected, "{:?}", text);
        }
    }

    /// Any values of the connector's variables give a configuration or one
    /// configuration error, never a panic.
    #[test]
    fn any_variable_values_validate_without_panicking(
        values in proptest::collection::vec(proptest::option::of(text()), VARIABLES.len()),
        upload in any::<bool>(),
    ) {
        let pairs: Vec<(String, String)> =
            VARIABLES.iter().zip(values).filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect();
        let env = Env::from_pairs(pairs);
        let result = if upload { RunConfig::from_env(&env).map(|_| ()) } else { ExportConfig::from_env(&env).map(|_| ()) };
        if let Err(e) = result {
            prop_assert_eq!(e.exit_code(), 3);
            prop_assert!(!e.message().contains('\n'));
        }
    }

    /// Cleaning a query never panics, is idempotent, only ever removes text
    /// from its end (or adds a line break), and keeps statements apart.
    #[test]
    fn query_cleaning_is_stable(query in text()) {
        let once = clean_query(&query);
        prop_assert_eq!(clean_query(&once), once.clone());
        let trimmed = query.trim();
        prop_assert!(trimmed.starts_with(once.trim_end()), "{:?} -> {:?}", query, once);
        if has_several_statements(&once) {
            prop_assert!(once.contains(';'));
        }
    }
}
