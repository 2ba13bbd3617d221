//! The source settings (`SOURCE_*`): which database, how to reach it, the
//! query. Parsed and checked here, once, into [`SourceSettings`]; what
//! differs between kinds (names, default port, SSL modes, …) comes from
//! [`SourceKind`], never from a match here.

use std::path::{Path, PathBuf};

use super::kind::SourceKind;
use crate::area::{Area, Input};
use crate::env::Env;
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::setting::{
    self, define_settings, Problems,
    WhenUnset::{Described, Required, Unset, Value},
};
use crate::sql::{clean_query, has_several_statements};

define_settings! {
    /// The source settings.
    SETTINGS;
    SOURCE_DATABASE_TYPE: Required(""), "postgres, mysql (mariadb), duckdb, sqlite, mssql or odbc";
    SOURCE_DATABASE_HOST: Required("for servers"), "database host";
    SOURCE_DATABASE_PORT: Described("5432 / 3306 / 1433"), "database port";
    SOURCE_DATABASE_USER: Required("for servers"), "database user";
    SOURCE_DATABASE_PASSWORD: Unset, "database password", secret;
    SOURCE_DATABASE_NAME: Required(""), "database name, or the file of an embedded database";
    SOURCE_DATABASE_SQL_QUERY: Required(""), "the query whose result is uploaded";
    SOURCE_DATABASE_SSL_MODE: Described("driver default"), "TLS mode of the source connection";
    SOURCE_DATABASE_SSL_ROOT_CERT: Unset, "CA certificate file to verify the server";
    SOURCE_DATABASE_OPTIONS: Unset, "extra driver options, space-separated key=value pairs";
    SOURCE_DATABASE_QUERY_DIALECT: Value("duckdb"), "duckdb or native";
    SOURCE_ODBC_CONNECTION_STRING: Required("for odbc"), "the ODBC connection string (Driver={…};… or DSN=…)", secret;
    SOURCE_ODBC_DRIVER: Described("ODBC Driver 18 for SQL Server"), "the ODBC driver mssql connects through (or FreeTDS)";
    SOURCE_CONNECT_MAX_ATTEMPTS: Value("5"), "attempts to reach a source server that is not reachable";
    SOURCE_CONNECT_MAX_BACKOFF: Value("60s"), "longest wait between attempts to reach the source server";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryDialect {
    /// The query is DuckDB SQL over the attached catalog `db`.
    DuckDb,
    /// The query text runs unchanged on the source server (pass-through).
    Native,
}

/// A `SOURCE_DATABASE_SSL_MODE` its source kind accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SslMode {
    kind: SourceKind,
    name: &'static str,
}

impl SslMode {
    /// `value` (any case) if `kind` knows it.
    pub fn parse(kind: SourceKind, value: &str) -> Option<SslMode> {
        let value = value.trim().to_ascii_lowercase();
        kind.facts().ssl_modes.iter().find(|m| **m == value).map(|name| SslMode { kind, name })
    }

    /// The mode as the driver spells it.
    pub fn as_str(self) -> &'static str {
        self.name
    }

    /// Whether the server certificate's host name must be checked (by us,
    /// when the driver checks only the chain).
    pub fn verifies_identity(self) -> bool {
        self.kind.facts().identity_ssl_mode == Some(self.name)
    }
}

#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub kind: SourceKind,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// Database name for servers; file path (or `:memory:`) for embedded types.
    pub database: String,
    pub query: String,
    pub ssl_mode: Option<SslMode>,
    pub ssl_root_cert: Option<PathBuf>,
    /// Extra driver options, `key=value`, in the order given.
    pub options: Vec<(String, String)>,
    pub dialect: QueryDialect,
    /// `SOURCE_ODBC_CONNECTION_STRING` (odbc).
    pub odbc_connection_string: Option<Secret>,
    /// `SOURCE_ODBC_DRIVER` (mssql): the driver's name as the ODBC driver
    /// manager knows it.
    pub odbc_driver: Option<String>,
}

/// An embedded database that lives in memory only.
const IN_MEMORY: &str = ":memory:";

/// Driver options that have a dedicated variable; setting them twice would be ambiguous.
const RESERVED_OPTIONS: [&str; 13] = [
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
];

/// "postgres, mysql and mssql": the kinds that are servers, for messages.
fn server_kinds() -> String {
    let names: Vec<&str> = SourceKind::ALL.iter().filter(|k| k.is_server()).map(|k| k.name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// The source area: the source when the command needs one, and how
/// patiently to wait for it.
#[derive(Debug, Clone)]
pub struct SourceArea {
    /// `None` when the command reads no source, or the settings cannot be used
    /// (the problems say why).
    pub settings: Option<SourceSettings>,
    /// `SOURCE_CONNECT_MAX_ATTEMPTS`, `SOURCE_CONNECT_MAX_BACKOFF`: how
    /// patiently to wait for an unreachable source server.
    pub connect_retry: RetryPolicy,
}

/// The `SOURCE_*` settings are read only when the command needs a source
/// (`upload` has no place for them); the connect retries are validated always.
impl Area for SourceArea {
    fn parse(input: &Input, p: &mut Problems) -> SourceArea {
        let settings = if input.needs.source { parse_source(input.env, p) } else { None };
        SourceArea { settings, connect_retry: parse_connect_retry(input.env, p) }
    }
}

/// Validates the source settings; `None` when they cannot be used (the problems say why).
fn parse_source(env: &Env, p: &mut Problems) -> Option<SourceSettings> {
    let kind = match SOURCE_DATABASE_TYPE.given(env) {
        None => {
            let names: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
            let (last, rest) = names.split_last().expect("there are source kinds");
            p.add(&SOURCE_DATABASE_TYPE, format!("is required ({} or {last})", rest.join(", ")));
            None
        }
        Some(v) => {
            let kind = SourceKind::parse(v);
            if kind.is_none() {
                let names: Vec<&str> = SourceKind::ALL.iter().flat_map(|k| k.facts().listed_names).copied().collect();
                p.add(&SOURCE_DATABASE_TYPE, format!("'{v}' is not one of {}", names.join(", ")));
            }
            kind
        }
    };
    let server = kind.is_some_and(SourceKind::is_server);
    let by_connection_string = kind.is_some_and(SourceKind::takes_connection_string);
    // Settings for servers only, given for a file: a problem once the kind is known.
    let embedded = kind.is_some() && !server && !by_connection_string;
    let odbc_connection_string = parse_odbc(env, kind, p);
    let odbc_driver = SOURCE_ODBC_DRIVER.given(env).map(|d| d.trim().to_string());
    if odbc_driver.is_some() && kind.is_some_and(|k| !k.facts().odbc_driver) {
        let takers: Vec<&str> = SourceKind::ALL.iter().filter(|k| k.facts().odbc_driver).map(|k| k.name()).collect();
        p.add(
            &SOURCE_ODBC_DRIVER,
            format!(
                "applies only to {} sources (for odbc, name the driver in SOURCE_ODBC_CONNECTION_STRING)",
                takers.join(", ")
            ),
        );
    }
    // The connection string names the server, the user and the password.
    if let Some(k) = kind.filter(|k| k.takes_connection_string()) {
        for setting in [&SOURCE_DATABASE_HOST, &SOURCE_DATABASE_PORT, &SOURCE_DATABASE_USER, &SOURCE_DATABASE_PASSWORD]
        {
            if setting::secret_given(env, setting) {
                p.add(
                    setting,
                    format!("does not apply to a {} source (the connection string names the server)", k.name()),
                );
            }
        }
    }
    if odbc_driver.as_deref().is_some_and(|d| d.is_empty() || d.contains(['{', '}', ';'])) {
        p.add(&SOURCE_ODBC_DRIVER, "is not a driver name (as `odbcinst -q -d` lists them, without braces)");
    }

    let host = SOURCE_DATABASE_HOST.given(env).map(|h| h.trim().to_string());
    if server && host.is_none() {
        p.add(&SOURCE_DATABASE_HOST, "is required for a database server");
    }
    let port = setting::port(env, &SOURCE_DATABASE_PORT, p).or_else(|| kind.and_then(SourceKind::default_port));
    let user = SOURCE_DATABASE_USER.given(env).map(str::to_string);
    if server && user.is_none() {
        p.add(&SOURCE_DATABASE_USER, "is required for a database server");
    }
    let password = setting::secret(env, &SOURCE_DATABASE_PASSWORD, p);
    let database = SOURCE_DATABASE_NAME.given(env).map(|d| d.trim().to_string());
    match (kind, &database) {
        (Some(k), Some(_)) if k.takes_connection_string() => p.add(
            &SOURCE_DATABASE_NAME,
            format!("does not apply to a {} source (the connection string names the database)", k.name()),
        ),
        (Some(k), None) if k.takes_connection_string() => {}
        (None, None) => p.add(&SOURCE_DATABASE_NAME, "is required"),
        (Some(k), None) => p.add(&SOURCE_DATABASE_NAME, format!("is required ({})", k.facts().database_hint)),
        (Some(k), Some(path)) if !k.is_server() && path != IN_MEMORY && !Path::new(path).is_file() => {
            p.add(&SOURCE_DATABASE_NAME, format!("database file {path} does not exist"))
        }
        (Some(k), Some(path)) if !k.is_server() && path == IN_MEMORY && !k.facts().accepts_in_memory => {
            p.add(&SOURCE_DATABASE_NAME, format!("a {} source needs a database file", k.facts().display_name))
        }
        _ => {}
    }

    let query = SOURCE_DATABASE_SQL_QUERY.given(env).map(|q| clean_query(strip_surrounding_quotes(q)));
    match query.as_deref() {
        None | Some("") => p.add(&SOURCE_DATABASE_SQL_QUERY, "is required (the SELECT whose result is exported)"),
        Some(q) if has_several_statements(q) => p.add(
            &SOURCE_DATABASE_SQL_QUERY,
            "holds more than one statement (separated by ';'); give exactly one SELECT, the source is only read",
        ),
        Some(_) => {}
    }

    let ssl_mode = match (SOURCE_DATABASE_SSL_MODE.given(env).map(|m| m.trim().to_ascii_lowercase()), kind) {
        (Some(mode), Some(k)) => {
            let parsed = SslMode::parse(k, &mode);
            if k.facts().ssl_modes.is_empty() {
                p.add(&SOURCE_DATABASE_SSL_MODE, format!("does not apply to a {} source", k.name()));
            } else if parsed.is_none() {
                p.add(&SOURCE_DATABASE_SSL_MODE, format!("'{mode}' is not one of {}", k.facts().ssl_modes.join(", ")));
            }
            parsed
        }
        _ => None,
    };
    let ssl_root_cert = SOURCE_DATABASE_SSL_ROOT_CERT.given(env).map(PathBuf::from);
    if let Some(path) = &ssl_root_cert {
        if !path.is_file() {
            p.add(&SOURCE_DATABASE_SSL_ROOT_CERT, format!("file {} does not exist", path.display()));
        }
        if embedded || by_connection_string {
            p.add(&SOURCE_DATABASE_SSL_ROOT_CERT, format!("applies only to {} sources", server_kinds()));
        }
    }

    let options = parse_options(SOURCE_DATABASE_OPTIONS.given(env), p);
    if !options.is_empty() && (embedded || by_connection_string) {
        p.add(&SOURCE_DATABASE_OPTIONS, format!("applies only to {} sources", server_kinds()));
    }

    let dialect = match SOURCE_DATABASE_QUERY_DIALECT.text(env).map(|d| d.trim().to_ascii_lowercase()) {
        // No catalog to attach: the query is in the database's own SQL.
        _ if kind.is_some_and(SourceKind::always_native) => {
            if SOURCE_DATABASE_QUERY_DIALECT.given(env).is_some_and(|d| !d.trim().eq_ignore_ascii_case("native")) {
                p.add(
                    &SOURCE_DATABASE_QUERY_DIALECT,
                    format!(
                        "a {} source runs the query in the database's own SQL; leave it unset or set native",
                        kind.map(SourceKind::name).unwrap_or_default()
                    ),
                );
            }
            QueryDialect::Native
        }
        None => QueryDialect::DuckDb,
        Some(d) if d == "duckdb" => QueryDialect::DuckDb,
        Some(d) if d == "native" => {
            if embedded {
                p.add(&SOURCE_DATABASE_QUERY_DIALECT, format!("native applies only to {} sources", server_kinds()));
            }
            QueryDialect::Native
        }
        Some(d) => {
            p.add(&SOURCE_DATABASE_QUERY_DIALECT, format!("'{d}' is not one of duckdb, native"));
            QueryDialect::DuckDb
        }
    };

    let kind = kind?;
    let database = match kind.takes_connection_string() {
        true => String::new(),
        false => database?,
    };
    if kind.takes_connection_string() && odbc_connection_string.is_none() {
        return None;
    }
    let settings = SourceSettings {
        kind,
        host,
        port,
        user,
        password,
        database,
        query: query?,
        ssl_mode,
        ssl_root_cert,
        options,
        dialect,
        odbc_connection_string,
        odbc_driver,
    };
    for (setting, message) in kind.source_type().problems(&settings) {
        p.add(setting, message);
    }
    Some(settings)
}

/// `SOURCE_ODBC_CONNECTION_STRING` (or its `_FILE`): required for odbc, and
/// for no other kind. Every value in it is registered as a secret too, since
/// drivers echo the string rearranged.
fn parse_odbc(env: &Env, kind: Option<SourceKind>, p: &mut Problems) -> Option<Secret> {
    let wanted = kind.is_some_and(SourceKind::takes_connection_string);
    let given = setting::secret(env, &SOURCE_ODBC_CONNECTION_STRING, p).filter(|s| !s.expose().trim().is_empty());
    match (&given, kind) {
        (None, Some(k)) if wanted => p.add(
            &SOURCE_ODBC_CONNECTION_STRING,
            format!("is required for a {} source (Driver={{…}};Server=…;… or DSN=…)", k.name()),
        ),
        (Some(_), Some(k)) if !wanted => p.add(
            &SOURCE_ODBC_CONNECTION_STRING,
            format!("applies only to odbc sources, not to {} (which has its own settings)", k.name()),
        ),
        _ => {}
    }
    if let Some(secret) = &given {
        for (key, value) in super::odbc::attributes(secret.expose()) {
            if super::odbc::is_secret_attribute(&key) {
                crate::secret::register(&value);
            }
        }
    }
    given
}

/// `SOURCE_CONNECT_MAX_ATTEMPTS` (at least 1) and `SOURCE_CONNECT_MAX_BACKOFF`.
fn parse_connect_retry(env: &Env, p: &mut Problems) -> RetryPolicy {
    RetryPolicy {
        attempts: setting::positive::<u32>(env, &SOURCE_CONNECT_MAX_ATTEMPTS, p).unwrap_or(1),
        base_delay: setting::retry_base_delay(env),
        max_delay: setting::duration(env, &SOURCE_CONNECT_MAX_BACKOFF, p),
    }
}

/// `'SELECT …'` or `"SELECT …"` as `SELECT …`. A .env reader removes such
/// quotes, but `docker run --env-file`, Kubernetes and compose pass them on;
/// a query wrapped whole in quotes is a string literal or an identifier,
/// never a valid statement, so one matching pair around it is removed.
fn strip_surrounding_quotes(query: &str) -> &str {
    let trimmed = query.trim();
    for quote in ['\'', '"'] {
        if let Some(inner) = trimmed.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            log::debug!(
                "{}: removed the {} quotes around the whole query (they came with the value, \
                 as docker run --env-file and YAML values pass them on)",
                SOURCE_DATABASE_SQL_QUERY.name,
                if quote == '"' { "double" } else { "single" }
            );
            return inner;
        }
    }
    trimmed
}

/// `SOURCE_DATABASE_OPTIONS`: whitespace-separated `key=value` pairs.
fn parse_options(value: Option<&str>, p: &mut Problems) -> Vec<(String, String)> {
    let mut options = Vec::new();
    for pair in value.unwrap_or("").split_whitespace() {
        let Some((key, val)) = pair.split_once('=') else {
            p.add(&SOURCE_DATABASE_OPTIONS, format!("'{pair}' is not key=value"));
            continue;
        };
        let key = key.to_ascii_lowercase();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            p.add(&SOURCE_DATABASE_OPTIONS, format!("'{key}' is not an option name"));
        } else if RESERVED_OPTIONS.contains(&key.as_str()) {
            p.add(
                &SOURCE_DATABASE_OPTIONS,
                format!("'{key}' has its own SOURCE_DATABASE_* variable; set that instead"),
            );
        } else {
            options.push((key, val.to_string()));
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::pg_env;
    use crate::config::ExportConfig;

    #[test]
    fn a_query_in_surrounding_quotes_loses_them() {
        for (given, expected) in [
            ("'SELECT * FROM db.events'", "SELECT * FROM db.events"),
            ("\"SELECT 1;\"", "SELECT 1"),
            ("  'SELECT ''a'' AS x'\n", "SELECT ''a'' AS x"),
            ("SELECT 'a' || 'b'", "SELECT 'a' || 'b'"),
            ("'a' || 'b'", "a' || 'b"),
            ("\"'SELECT 1'\"", "'SELECT 1'"),
            ("'SELECT 1\"", "'SELECT 1\""),
        ] {
            let mut pairs = pg_env();
            pairs.push(("SOURCE_DATABASE_SQL_QUERY", given));
            let cfg = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap();
            assert_eq!(cfg.export.source.query, expected, "{given:?}");
        }
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_SQL_QUERY", "''"));
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SQL_QUERY: is required"), "{err}");
    }

    #[test]
    fn ssl_modes_are_checked_per_type() {
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_SSL_MODE", "verify_identity"));
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SSL_MODE: 'verify_identity' is not one of disable"), "{err}");
    }

    #[test]
    fn options_are_parsed_and_reserved_names_refused() {
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_OPTIONS", "connect_timeout=5 application_name=x"));
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(
            cfg.export.source.options,
            vec![("connect_timeout".into(), "5".into()), ("application_name".into(), "x".into())]
        );
        pairs.push(("SOURCE_DATABASE_OPTIONS", "password=x nonsense"));
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.message().contains("'password' has its own"), "{err}");
        assert!(err.message().contains("'nonsense' is not key=value"), "{err}");
    }

    #[test]
    fn several_statements_are_a_configuration_problem() {
        let env = Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1; DROP TABLE secret_table"),
        ]);
        let err = ExportConfig::from_env(&env).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SQL_QUERY: holds more than one statement"), "{err}");
    }

    #[test]
    fn the_source_is_waited_for_by_its_own_retry_settings() {
        let mut pairs = pg_env();
        pairs.push(("UPLOAD_MAX_BACKOFF", "2s"));
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        // The API's longest wait is not the source's.
        assert_eq!(cfg.export.connect_retry.attempts, 5);
        assert_eq!(cfg.export.connect_retry.max_delay, std::time::Duration::from_secs(60));
        pairs.extend([("SOURCE_CONNECT_MAX_ATTEMPTS", "7"), ("SOURCE_CONNECT_MAX_BACKOFF", "5m")]);
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.export.connect_retry.attempts, 7);
        assert_eq!(cfg.export.connect_retry.max_delay, std::time::Duration::from_secs(300));
        pairs.extend([("SOURCE_CONNECT_MAX_ATTEMPTS", "0"), ("SOURCE_CONNECT_MAX_BACKOFF", "soon")]);
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert_eq!(
            err.message(),
            "configuration has 2 problems: SOURCE_CONNECT_MAX_ATTEMPTS: '0' is not a positive whole number; \
             SOURCE_CONNECT_MAX_BACKOFF: 'soon' is not a duration such as 30s, 5m or 1h30m"
        );
    }

    /// Where the kinds are listed for people: a new kind fails this until each names it.
    #[test]
    fn every_source_kind_is_listed_where_people_read_them() {
        let read = |path: &str| {
            let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        };
        let row = |text: &str| {
            let marker = format!("| `{}` |", SOURCE_DATABASE_TYPE.name);
            text.lines().find(|l| l.starts_with(&marker)).map(str::to_string).unwrap_or_default()
        };
        let example = read("examples/.env.example");
        let example = example.lines().take_while(|l| !l.starts_with(SOURCE_DATABASE_TYPE.name)).last().unwrap_or("");
        let places = [
            ("the setting's doc line (man page)", SOURCE_DATABASE_TYPE.doc.to_string()),
            ("README.md", row(&read("README.md"))),
            ("README.de.md", row(&read("README.de.md"))),
            ("examples/.env.example", example.to_string()),
        ];
        let mut missing = Vec::new();
        for kind in SourceKind::ALL {
            for (place, text) in &places {
                if !text.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == kind.name()) {
                    missing.push(format!("{place} does not list {}: {text}", kind.name()));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
