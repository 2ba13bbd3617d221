//! Configuration from the environment and optional `.env` files.
//!
//! Values come from the process environment first, then from the `.env` files
//! (the environment wins, as with the original connector; of two files, the
//! later one wins). `*_FILE` variants read a secret from a mounted file.
//! Validation collects every problem and reports them together, so an
//! administrator fixes them in one go.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::settings::{self as s, Setting};
use crate::sql::{clean_query, has_several_statements};

// ---------------------------------------------------------------------------
// Raw variables

/// The variables as the program sees them: the environment over the `.env` file.
#[derive(Debug, Default, Clone)]
pub struct Env {
    values: HashMap<String, String>,
    /// Variables whose value is not valid UTF-8 (reported by validation).
    not_utf8: Vec<String>,
    /// The env files read, in order.
    files: Vec<PathBuf>,
}

impl Env {
    /// Reads the `.env` files and then the process environment. `env_files`
    /// are read in order, later files winning over earlier ones (each must
    /// exist); without any, `./.env` is read when present. The environment
    /// wins over every file. All unreadable files are reported together.
    pub fn load(env_files: &[PathBuf]) -> Result<Env> {
        let mut env = Env::default();
        let files = match env_files {
            [] => Some(PathBuf::from(".env")).filter(|p| p.is_file()).into_iter().collect(),
            given => given.to_vec(),
        };
        let mut problems = Vec::new();
        for path in &files {
            match read_env_file(path) {
                Ok(values) => env.values.extend(values),
                Err(err) => problems.push(err.message().to_string()),
            }
        }
        match problems.len() {
            0 => {}
            1 => return Err(Error::config(problems.remove(0))),
            n => return Err(Error::config(format!("{n} env files cannot be read: {}", problems.join("; ")))),
        }
        env.files = files;
        env.overlay_os(std::env::vars_os());
        Ok(env)
    }

    /// The env files that were read, in order (for the log: names only).
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files
    }

    /// Builds an `Env` from explicit pairs (tests, and the `.env` parser).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        let values = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Env { values, not_utf8: Vec::new(), files: Vec::new() }
    }

    fn overlay_os(&mut self, vars: impl Iterator<Item = (OsString, OsString)>) {
        for (key, value) in vars {
            let Ok(key) = key.into_string() else { continue };
            match value.into_string() {
                Ok(value) => {
                    self.values.insert(key, value);
                }
                Err(_) if is_ours(&key) => self.not_utf8.push(key),
                Err(_) => {}
            }
        }
    }

    /// Sets a value, as a command-line flag overriding the environment does.
    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    /// The value of `key`; an empty value counts as unset, as templated
    /// manifests often leave variables empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.trim().is_empty())
    }
}

/// Whether a variable belongs to this program (only those are validated).
fn is_ours(key: &str) -> bool {
    s::is_known(key)
}

fn read_env_file(path: &Path) -> Result<HashMap<String, String>> {
    let fail = |detail: String| Error::config(format!("cannot read env file {}: {detail}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        fail(format!("line {line} is not valid UTF-8"))
    })?;
    let environment = |name: &str| std::env::var(name).ok();
    let assignments = crate::dotenv::parse(&text, &environment).map_err(|e| fail(e.to_string()))?;
    Ok(assignments.into_iter().collect())
}

// ---------------------------------------------------------------------------
// Typed settings

pub use crate::source::kind::SourceKind;

pub use crate::source::settings::{QueryDialect, SourceSettings};

#[derive(Debug, Clone, Default)]
pub struct EngineSettings {
    pub extension_directory: Option<PathBuf>,
    pub memory_limit: Option<String>,
    pub threads: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Snappy,
    Zstd,
    Gzip,
    Uncompressed,
}

impl Compression {
    pub fn duckdb_name(self) -> &'static str {
        match self {
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Uncompressed => "uncompressed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub temp_dir: PathBuf,
    pub compression: Compression,
    pub row_group_size: Option<u64>,
    pub allow_empty_result: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Organization {
    Id(String),
    Slug(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGeneration {
    UploadToken,
    Session,
}

#[derive(Debug, Clone)]
pub struct PolyteiaSettings {
    pub personal_access_token: Option<Secret>,
    pub base_url: String,
    pub dataset_id: Option<String>,
    pub organization: Option<Organization>,
    pub ingest_poll_interval: Duration,
    pub ingest_timeout: Duration,
    pub http_timeout: Duration,
    /// `UPLOAD_MAX_ATTEMPTS`, `UPLOAD_MAX_BACKOFF`: for every API call.
    pub retry: RetryPolicy,
    /// The proxy and trust-store variables.
    pub network: NetworkSettings,
}

pub use crate::network::{NetworkSettings, PROXY_VARIABLES};

/// Names only: a proxy URL may carry a password.
impl PolyteiaSettings {
    /// The host of `POLYTEIA_BASE_URL` (validated when the settings were read).
    pub fn base_host(&self) -> &str {
        url_host(&self.base_url)
    }

    pub fn base_url_is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    pub fn api(&self) -> ApiGeneration {
        if self.organization.is_some() {
            ApiGeneration::Session
        } else {
            ApiGeneration::UploadToken
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The value as `LOG_FORMAT` spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    pub cron_schedule: String,
    pub cron_tz: String,
    pub health_check_port: u16,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub log_level: log::LevelFilter,
    pub log_format: LogFormat,
    /// `None` only for `upload --file`, which reads no database.
    pub source: Option<SourceSettings>,
    pub engine: EngineSettings,
    pub output: OutputSettings,
    pub polyteia: PolyteiaSettings,
    pub schedule: ScheduleSettings,
    /// `SOURCE_CONNECT_MAX_ATTEMPTS` (and `UPLOAD_MAX_BACKOFF` as the longest
    /// wait): how patiently to wait for an unreachable source database.
    pub source_connect_retry: RetryPolicy,
    /// Where a run's metrics go (Pushgateway, node_exporter textfile).
    pub metrics: MetricsSettings,
}

/// What the command about to run needs, so `export` does not demand a PAK
/// and `upload --file` no database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Extract and write a file only.
    Export,
    /// Extract and upload (run, check).
    Upload,
    /// Upload an existing file: the Polyteia settings only.
    UploadFile,
    /// Extract and upload on `CRON_SCHEDULE` in `CRON_TZ`.
    Schedule,
}

impl Purpose {
    fn reads_source(self) -> bool {
        self != Purpose::UploadFile
    }

    fn uploads(self) -> bool {
        self != Purpose::Export
    }
}

pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_secs(1);


/// Driver options that have a dedicated variable; setting them twice would be ambiguous.
const RESERVED_OPTIONS: [&str; 13] = [
    "host", "hostaddr", "port", "user", "password", "passwd", "dbname", "db", "database", "sslmode", "ssl_mode",
    "sslrootcert", "ssl_ca",
];

/// Collects the problems of one validation pass.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, var: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{var}: {message}"));
    }
}

impl Config {
    /// Validates everything at once; the error names every problem.
    pub fn from_env(env: &Env, purpose: Purpose) -> Result<Config> {
        let mut p = Problems::default();
        for key in &env.not_utf8 {
            p.add(key, "value is not valid UTF-8");
        }

        let log_level = parse_log_level(env, &mut p);
        let log_format = parse_log_format(env, &mut p);
        let source = if purpose.reads_source() { parse_source(env, &mut p) } else { None };
        let engine = parse_engine(env, &mut p);
        let output = parse_output(env, &mut p);
        let polyteia = parse_polyteia(env, purpose, &mut p);
        let metrics = parse_metrics(env, &mut p);
        let schedule = ScheduleSettings {
            cron_schedule: text(env, &s::CRON_SCHEDULE).unwrap_or_default().trim().to_string(),
            cron_tz: text(env, &s::CRON_TZ).unwrap_or_default().trim().to_string(),
            health_check_port: parse_port(env, &s::HEALTH_CHECK_PORT, &mut p).unwrap_or_default(),
        };
        if purpose == Purpose::Schedule {
            if let Err(problems) = crate::cron::Schedule::build(&schedule.cron_schedule, &schedule.cron_tz) {
                for (var, message) in problems {
                    p.add(var, message);
                }
            }
        }

        let source_connect_retry = RetryPolicy {
            attempts: parse_positive::<u32>(env, &s::SOURCE_CONNECT_MAX_ATTEMPTS, &mut p).unwrap_or(1),
            ..polyteia.retry.clone()
        };

        if !p.0.is_empty() {
            let count = p.0.len();
            let noun = if count == 1 { "problem" } else { "problems" };
            return Err(Error::config(format!("configuration has {count} {noun}: {}", p.0.join("; "))));
        }
        Ok(Config {
            log_level,
            log_format,
            source,
            engine,
            output,
            polyteia,
            schedule,
            source_connect_retry,
            metrics,
        })
    }
}

impl Config {
    /// The source settings of a command that reads the database.
    pub fn source(&self) -> Result<&SourceSettings> {
        self.source
            .as_ref()
            .ok_or_else(|| Error::new(crate::error::ErrorKind::Internal, "this command has no source database settings"))
    }
}

/// Reads `LOG_LEVEL` leniently, for setting up logging before validation.
pub fn log_level_hint(env: &Env) -> log::LevelFilter {
    env.get(s::LOG_LEVEL.name).and_then(level_from_str).unwrap_or_else(default_log_level)
}

/// Reads `LOG_FORMAT` leniently, for setting up logging before validation.
pub fn log_format_hint(env: &Env) -> LogFormat {
    env.get(s::LOG_FORMAT.name).and_then(format_from_str).unwrap_or_else(default_log_format)
}

pub fn level_from_str(value: &str) -> Option<log::LevelFilter> {
    match value.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(log::LevelFilter::Trace),
        "debug" => Some(log::LevelFilter::Debug),
        "info" => Some(log::LevelFilter::Info),
        "warn" | "warning" => Some(log::LevelFilter::Warn),
        "error" => Some(log::LevelFilter::Error),
        _ => None,
    }
}

pub fn format_from_str(value: &str) -> Option<LogFormat> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

fn default_log_level() -> log::LevelFilter {
    s::LOG_LEVEL.default_value().and_then(level_from_str).expect("LOG_LEVEL's default is a level")
}

fn default_log_format() -> LogFormat {
    s::LOG_FORMAT.default_value().and_then(format_from_str).expect("LOG_FORMAT's default is a format")
}

fn parse_log_level(env: &Env, p: &mut Problems) -> log::LevelFilter {
    match env.get(s::LOG_LEVEL.name) {
        None => default_log_level(),
        Some(v) => level_from_str(v).unwrap_or_else(|| {
            p.add(s::LOG_LEVEL.name, format!("'{v}' is not one of debug, info, warn, error"));
            default_log_level()
        }),
    }
}

fn parse_log_format(env: &Env, p: &mut Problems) -> LogFormat {
    match env.get(s::LOG_FORMAT.name) {
        None => default_log_format(),
        Some(v) => format_from_str(v).unwrap_or_else(|| {
            p.add(s::LOG_FORMAT.name, format!("'{v}' is not one of text, json"));
            default_log_format()
        }),
    }
}

/// A secret from `NAME` or from the file named by `NAME_FILE` (not both).
/// A file's trailing white space (line breaks from an editor, `echo` or
/// Windows) is not part of the secret; a control character inside it is
/// refused here, as it would only fail later as a confusing network or
/// login error.
fn read_secret(env: &Env, setting: &Setting, p: &mut Problems) -> Option<Secret> {
    let name = setting.name;
    let file_var = setting.file_variant().expect("read_secret is for secret settings");
    match (env.get(name), env.get(&file_var)) {
        (Some(_), Some(_)) => {
            p.add(name, format!("set either {name} or {file_var}, not both"));
            None
        }
        (Some(value), None) => Some(Secret::new(value)),
        (None, Some(path)) => match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let value = text.trim_end();
                    if value.is_empty() {
                        p.add(&file_var, format!("file {path} is empty"));
                        None
                    } else if value.chars().any(char::is_control) {
                        p.add(
                            &file_var,
                            format!(
                                "file {path} holds a control character (a line break, tab or the like) inside the \
                                 secret; the file must hold the secret alone, on one line"
                            ),
                        );
                        None
                    } else {
                        Some(Secret::new(value))
                    }
                }
                Err(_) => {
                    p.add(&file_var, format!("file {path} is not valid UTF-8"));
                    None
                }
            },
            Err(e) => {
                p.add(&file_var, format!("cannot read {path}: {e}"));
                None
            }
        },
        (None, None) => None,
    }
}

/// The given value of `setting`, else its default from the settings table.
fn text<'a>(env: &'a Env, setting: &Setting) -> Option<&'a str> {
    env.get(setting.name).or(setting.default_value())
}

fn parse_port(env: &Env, setting: &Setting, p: &mut Problems) -> Option<u16> {
    let var = setting.name;
    let value = text(env, setting)?;
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Some(port),
        _ => {
            p.add(var, format!("'{value}' is not a port number (1-65535)"));
            None
        }
    }
}

fn parse_bool(env: &Env, setting: &Setting, p: &mut Problems) -> bool {
    let var = setting.name;
    match text(env, setting).map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                p.add(var, format!("'{v}' is not true or false"));
                false
            }
        },
    }
}

fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(env: &Env, setting: &Setting, p: &mut Problems) -> Option<T> {
    let var = setting.name;
    let value = text(env, setting)?;
    match value.trim().parse::<T>() {
        Ok(n) if n > T::default() => Some(n),
        _ => {
            p.add(var, format!("'{value}' is not a positive whole number"));
            None
        }
    }
}

/// Durations in the original connector's Go style: `5s`, `30m`, `1h30m`, `500ms`.
/// A bare number means seconds.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    humantime::parse_duration(value).ok()
}

/// A duration setting; unset, its default from the settings table.
fn parse_duration_var(env: &Env, setting: &Setting, p: &mut Problems) -> Duration {
    let var = setting.name;
    let default = setting.default_value().and_then(parse_duration).expect("duration settings have a valid default");
    match env.get(var) {
        None => default,
        Some(v) => match parse_duration(v) {
            Some(d) if !d.is_zero() => d,
            _ => {
                p.add(var, format!("'{v}' is not a duration such as 30s, 5m or 1h30m"));
                default
            }
        },
    }
}

fn parse_source(env: &Env, p: &mut Problems) -> Option<SourceSettings> {
    let kind = match env.get(s::SOURCE_DATABASE_TYPE.name) {
        None => {
            p.add(s::SOURCE_DATABASE_TYPE.name, "is required (postgres, mysql, duckdb or sqlite)");
            None
        }
        Some(v) => {
            let kind = SourceKind::parse(v);
            if kind.is_none() {
                p.add(s::SOURCE_DATABASE_TYPE.name, format!("'{v}' is not one of postgres, mysql, mariadb, duckdb, sqlite"));
            }
            kind
        }
    };
    let server = kind.map(SourceKind::is_server).unwrap_or(false);

    let host = env.get(s::SOURCE_DATABASE_HOST.name).map(|h| h.trim().to_string());
    if server && host.is_none() {
        p.add(s::SOURCE_DATABASE_HOST.name, "is required for a database server");
    }
    let port = parse_port(env, &s::SOURCE_DATABASE_PORT, p).or_else(|| kind.and_then(SourceKind::default_port));
    let user = env.get(s::SOURCE_DATABASE_USER.name).map(str::to_string);
    if server && user.is_none() {
        p.add(s::SOURCE_DATABASE_USER.name, "is required for a database server");
    }
    let password = read_secret(env, &s::SOURCE_DATABASE_PASSWORD, p);
    let database = env.get(s::SOURCE_DATABASE_NAME.name).map(|d| d.trim().to_string());
    match (kind, &database) {
        (None, None) => p.add(s::SOURCE_DATABASE_NAME.name, "is required"),
        (Some(k), None) if k.is_server() => p.add(s::SOURCE_DATABASE_NAME.name, "is required (the database to read from)"),
        (Some(SourceKind::DuckDb), None) => {
            p.add(s::SOURCE_DATABASE_NAME.name, "is required (a DuckDB database file, or :memory:)")
        }
        (Some(SourceKind::Sqlite), None) => p.add(s::SOURCE_DATABASE_NAME.name, "is required (a SQLite database file)"),
        (Some(k), Some(path)) if !k.is_server() && path != ":memory:" && !Path::new(path).is_file() => {
            p.add(s::SOURCE_DATABASE_NAME.name, format!("database file {path} does not exist"))
        }
        (Some(SourceKind::Sqlite), Some(path)) if path == ":memory:" => {
            p.add(s::SOURCE_DATABASE_NAME.name, "a SQLite source needs a database file")
        }
        _ => {}
    }

    let query = env.get(s::SOURCE_DATABASE_SQL_QUERY.name).map(|q| clean_query(strip_surrounding_quotes(q)));
    match query.as_deref() {
        None | Some("") => p.add(s::SOURCE_DATABASE_SQL_QUERY.name, "is required (the SELECT whose result is exported)"),
        Some(q) if has_several_statements(q) => p.add(
            s::SOURCE_DATABASE_SQL_QUERY.name,
            "holds more than one statement (separated by ';'); give exactly one SELECT, the source is only read",
        ),
        Some(_) => {}
    }

    let ssl_mode = env.get(s::SOURCE_DATABASE_SSL_MODE.name).map(|m| m.trim().to_ascii_lowercase());
    if let (Some(mode), Some(k)) = (&ssl_mode, kind) {
        let allowed = k.ssl_modes();
        if allowed.is_empty() {
            p.add(s::SOURCE_DATABASE_SSL_MODE.name, format!("does not apply to a {} source", k.name()));
        } else if !allowed.contains(&mode.as_str()) {
            p.add(s::SOURCE_DATABASE_SSL_MODE.name, format!("'{mode}' is not one of {}", allowed.join(", ")));
        }
    }
    let ssl_root_cert = env.get(s::SOURCE_DATABASE_SSL_ROOT_CERT.name).map(PathBuf::from);
    if let Some(path) = &ssl_root_cert {
        if !path.is_file() {
            p.add(s::SOURCE_DATABASE_SSL_ROOT_CERT.name, format!("file {} does not exist", path.display()));
        }
        if !server && kind.is_some() {
            p.add(s::SOURCE_DATABASE_SSL_ROOT_CERT.name, "applies only to postgres and mysql sources");
        }
    }

    let options = parse_options(env.get(s::SOURCE_DATABASE_OPTIONS.name), p);
    if !options.is_empty() && !server && kind.is_some() {
        p.add(s::SOURCE_DATABASE_OPTIONS.name, "applies only to postgres and mysql sources");
    }

    let dialect = match text(env, &s::SOURCE_DATABASE_QUERY_DIALECT).map(|d| d.trim().to_ascii_lowercase()) {
        None => QueryDialect::DuckDb,
        Some(d) if d == "duckdb" => QueryDialect::DuckDb,
        Some(d) if d == "native" => {
            if !server && kind.is_some() {
                p.add(s::SOURCE_DATABASE_QUERY_DIALECT.name, "native applies only to postgres and mysql sources");
            }
            QueryDialect::Native
        }
        Some(d) => {
            p.add(s::SOURCE_DATABASE_QUERY_DIALECT.name, format!("'{d}' is not one of duckdb, native"));
            QueryDialect::DuckDb
        }
    };

    Some(SourceSettings {
        kind: kind?,
        host,
        port,
        user,
        password,
        database: database?,
        query: query?,
        ssl_mode,
        ssl_root_cert,
        options,
        dialect,
    })
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
                "SOURCE_DATABASE_SQL_QUERY: removed the {} quotes around the whole query (they came with the value, \
                 as docker run --env-file and YAML values pass them on)",
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
            p.add(s::SOURCE_DATABASE_OPTIONS.name, format!("'{pair}' is not key=value"));
            continue;
        };
        let key = key.to_ascii_lowercase();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            p.add(s::SOURCE_DATABASE_OPTIONS.name, format!("'{key}' is not an option name"));
        } else if RESERVED_OPTIONS.contains(&key.as_str()) {
            p.add(s::SOURCE_DATABASE_OPTIONS.name, format!("'{key}' has its own SOURCE_DATABASE_* variable; set that instead"));
        } else {
            options.push((key, val.to_string()));
        }
    }
    options
}

/// Where the Debian package installs the DuckDB extensions.
pub const PACKAGED_EXTENSION_DIRECTORY: &str = "/usr/lib/polyteia-db-connector/extensions";

fn parse_engine(env: &Env, p: &mut Problems) -> EngineSettings {
    // DUCKDB_EXTENSION_DIRECTORY wins; else the packaged extensions when installed, so an
    // installed connector works air-gapped with no setting; else DuckDB's own default.
    let extension_directory = env
        .get(s::DUCKDB_EXTENSION_DIRECTORY.name)
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(PACKAGED_EXTENSION_DIRECTORY)).filter(|dir| dir.is_dir()));
    if let Some(dir) = &extension_directory {
        if !dir.is_dir() {
            p.add(s::DUCKDB_EXTENSION_DIRECTORY.name, format!("directory {} does not exist", dir.display()));
        }
    }
    let memory_limit = env.get(s::DUCKDB_MEMORY_LIMIT.name).map(|m| m.trim().to_string());
    if let Some(limit) = &memory_limit {
        if !is_memory_size(limit) {
            p.add(s::DUCKDB_MEMORY_LIMIT.name, format!("'{limit}' is not a size such as 512MB, 4GB or 80%"));
        }
    }
    let threads = parse_positive::<u32>(env, &s::DUCKDB_THREADS, p);
    EngineSettings { extension_directory, memory_limit, threads }
}

/// DuckDB accepts sizes like `4GB`, `512 MiB` or a percentage of RAM.
fn is_memory_size(value: &str) -> bool {
    let value = value.trim();
    let digits = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
    if digits == 0 || value[..digits].parse::<f64>().is_err() {
        return false;
    }
    let unit = value[digits..].trim().to_ascii_lowercase();
    const UNITS: [&str; 16] =
        ["", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "%", "k", "m", "g", "t", "bytes"];
    UNITS.contains(&unit.as_str())
}

fn parse_output(env: &Env, p: &mut Problems) -> OutputSettings {
    let temp_dir = env.get(s::TEMP_DIR.name).map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    if !temp_dir.is_dir() {
        p.add(s::TEMP_DIR.name, format!("directory {} does not exist", temp_dir.display()));
    }
    let compression = match text(env, &s::PARQUET_COMPRESSION).map(|c| c.trim().to_ascii_lowercase()) {
        None => Compression::Snappy,
        Some(c) => match c.as_str() {
            "snappy" => Compression::Snappy,
            "zstd" => Compression::Zstd,
            "gzip" => Compression::Gzip,
            "uncompressed" | "none" => Compression::Uncompressed,
            _ => {
                p.add(s::PARQUET_COMPRESSION.name, format!("'{c}' is not one of snappy, zstd, gzip, uncompressed"));
                Compression::Snappy
            }
        },
    };
    OutputSettings {
        temp_dir,
        compression,
        row_group_size: parse_positive::<u64>(env, &s::PARQUET_ROW_GROUP_SIZE, p),
        allow_empty_result: parse_bool(env, &s::ALLOW_EMPTY_RESULT, p),
    }
}

fn parse_polyteia(env: &Env, purpose: Purpose, p: &mut Problems) -> PolyteiaSettings {
    let needed = purpose.uploads();
    let personal_access_token = read_secret(env, &s::PERSONAL_ACCESS_TOKEN, p).and_then(|key| {
        // A key travels in an HTTP header, where a control character cannot go.
        let trimmed = key.expose().trim_end();
        if trimmed.chars().any(char::is_control) {
            p.add(s::PERSONAL_ACCESS_TOKEN.name, "holds a control character (a line break, tab or the like); give the key alone");
            None
        } else if !trimmed.is_ascii() {
            // Retrying would not help: the key could never be sent.
            p.add(
                s::PERSONAL_ACCESS_TOKEN.name,
                "holds a character that is not ASCII, which an HTTP header cannot carry; check that the key was copied \
                 exactly (no typographic quotes or dashes)",
            );
            None
        } else if trimmed.len() < key.expose().len() {
            Some(Secret::new(trimmed))
        } else {
            Some(key)
        }
    });
    if needed && env.get(s::PERSONAL_ACCESS_TOKEN.name).is_none() && s::PERSONAL_ACCESS_TOKEN.file_variant().is_none_or(|file| env.get(&file).is_none()) {
        p.add(s::PERSONAL_ACCESS_TOKEN.name, "is required to upload (or set PERSONAL_ACCESS_TOKEN_FILE)");
    }
    let dataset_id = env.get(s::DATASET_ID.name).map(|d| d.trim().to_string());
    if needed && dataset_id.is_none() {
        p.add(s::DATASET_ID.name, "is required to upload (the id of the Polyteia dataset to replace)");
    }
    let organization = match (env.get(s::POLYTEIA_ORGANIZATION_ID.name), env.get(s::POLYTEIA_ORGANIZATION_SLUG.name)) {
        (Some(_), Some(_)) => {
            p.add(s::POLYTEIA_ORGANIZATION_ID.name, "set either POLYTEIA_ORGANIZATION_ID or POLYTEIA_ORGANIZATION_SLUG, not both");
            None
        }
        (Some(id), None) => Some(Organization::Id(id.trim().to_string())),
        (None, Some(slug)) => Some(Organization::Slug(slug.trim().to_string())),
        (None, None) => None,
    };
    let default_url =
        if organization.is_some() { s::SESSION_BASE_URL } else { s::UPLOAD_TOKEN_BASE_URL };
    let base_url = env.get(s::POLYTEIA_BASE_URL.name).unwrap_or(default_url).trim().trim_end_matches('/').to_string();
    let base_url = match split_base_url(&base_url) {
        Some((origin, path)) if !origin.contains(char::is_whitespace) => {
            if path.contains(['?', '#']) {
                p.add(s::POLYTEIA_BASE_URL.name, format!("'{base_url}' has a query or fragment (? or #); give scheme, host and path only"));
            }
            format!("{origin}{}", encode_url_path(path))
        }
        _ => {
            p.add(s::POLYTEIA_BASE_URL.name, format!("'{base_url}' is not an http(s) URL such as https://app.polyteia.com"));
            base_url
        }
    };
    let network = NetworkSettings::from_vars(|name| env.get(name).map(str::to_string));
    if needed {
        check_network(&base_url, &network, p);
    }
    let upload_max_attempts = parse_positive::<u32>(env, &s::UPLOAD_MAX_ATTEMPTS, p).unwrap_or(1);
    PolyteiaSettings {
        personal_access_token,
        base_url,
        dataset_id,
        organization,
        ingest_poll_interval: parse_duration_var(env, &s::INGEST_POLL_INTERVAL, p),
        ingest_timeout: parse_duration_var(env, &s::INGEST_TIMEOUT, p),
        http_timeout: parse_duration_var(env, &s::HTTP_TIMEOUT, p),
        retry: RetryPolicy {
            attempts: upload_max_attempts,
            base_delay: retry_base_delay(env),
            max_delay: parse_duration_var(env, &s::UPLOAD_MAX_BACKOFF, p),
        },
        network,
    }
}

/// A proxy URL that cannot be parsed and certificate files that hold no
/// certificate are configuration problems, found before anything runs.
fn check_network(base_url: &str, network: &NetworkSettings, p: &mut Problems) {
    if split_base_url(base_url).is_none() {
        return;
    }
    if let Err(problem) = crate::network::proxy::proxy_for(url_host(base_url), base_url.starts_with("https://"), network) {
        p.add(problem.variable, problem.message);
    }
    if let Err(problem) = crate::network::trust::TrustStore::load(network) {
        p.add(problem.variable, problem.message);
    }
}

/// See [`DEFAULT_RETRY_BASE_DELAY`].
fn retry_base_delay(env: &Env) -> Duration {
    env.get(s::TEST_RETRY_BASE_MS)
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_RETRY_BASE_DELAY)
}

/// The host of a base URL (an IPv6 address without its brackets).
fn url_host(url: &str) -> &str {
    let origin = split_base_url(url).map_or(url, |(origin, _)| origin);
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(host, _)| host),
        None => authority.split_once(':').map_or(authority, |(host, _)| host),
    }
}

/// `https://host:port` and the rest (the path, possibly empty) of a base URL.
fn split_base_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_len == 0 {
        return None;
    }
    let split = url.len() - rest.len() + authority_len;
    Some((&url[..split], &url[split..]))
}

/// Percent-encodes (as UTF-8) every character that may not stand in a URL
/// path as it is, such as spaces and non-ASCII letters; `%XX` already
/// there is kept, so an encoded path is not encoded twice.
fn encode_url_path(path: &str) -> String {
    const KEEP: &str = "-._~!$&'()*+,;=:@/";
    let mut out = String::with_capacity(path.len());
    for (i, c) in path.char_indices() {
        let encoded_already =
            c == '%' && path.as_bytes().get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if c.is_ascii_alphanumeric() || KEEP.contains(c) || encoded_already {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Monitoring: the Pushgateway and node_exporter's textfile collector

/// The first push and at most two retries.
pub const PUSHGATEWAY_ATTEMPTS: u32 = 3;
const PUSHGATEWAY_MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct PushgatewaySettings {
    /// `PUSHGATEWAY_URL` without a trailing `/`.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
    /// The proxy and CA settings, the same as for the API.
    pub network: NetworkSettings,
    /// At most [`PUSHGATEWAY_ATTEMPTS`] attempts: a push never holds up the end of a run for long.
    pub retry: RetryPolicy,
}

/// Where the metrics of a finished run go, and the labels that tell the
/// runs of one job from those of another.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub pushgateway: Option<PushgatewaySettings>,
    /// `METRICS_TEXTFILE`: a `.prom` file for node_exporter's textfile collector.
    pub textfile: Option<PathBuf>,
    /// The `job` label (grouping key).
    pub job: String,
    /// The `instance` label: `PUSHGATEWAY_INSTANCE`, else `DATASET_ID`.
    pub instance: Option<String>,
}

impl MetricsSettings {
    pub fn is_enabled(&self) -> bool {
        self.pushgateway.is_some() || self.textfile.is_some()
    }
}

/// The monitoring settings alone, so that a run whose configuration failed
/// is still reported; `None` when they have problems themselves (the
/// configuration error names those).
pub fn metrics_settings(env: &Env) -> Option<MetricsSettings> {
    let mut p = Problems::default();
    let settings = parse_metrics(env, &mut p);
    p.0.is_empty().then_some(settings)
}

fn parse_metrics(env: &Env, p: &mut Problems) -> MetricsSettings {
    let url = env.get(s::PUSHGATEWAY_URL.name).map(|u| u.trim().trim_end_matches('/').to_string());
    if let Some(url) = &url {
        check_pushgateway_url(url, p);
    }
    let username = env.get(s::PUSHGATEWAY_USERNAME.name).map(|u| u.trim().to_string());
    if username.as_deref().is_some_and(|u| u.contains(':') || u.chars().any(char::is_control)) {
        p.add(s::PUSHGATEWAY_USERNAME.name, "must not contain ':' or control characters (HTTP basic auth)");
    }
    let password = read_secret(env, &s::PUSHGATEWAY_PASSWORD, p);
    if password.as_ref().is_some_and(|pw| pw.expose().chars().any(char::is_control)) {
        p.add(s::PUSHGATEWAY_PASSWORD.name, "holds a control character (a line break, tab or the like); give the password alone");
    }
    match (&url, &username, &password) {
        (None, Some(_), _) => p.add(s::PUSHGATEWAY_USERNAME.name, "applies only with PUSHGATEWAY_URL"),
        (None, None, Some(_)) => p.add(s::PUSHGATEWAY_PASSWORD.name, "applies only with PUSHGATEWAY_URL"),
        (Some(_), Some(_), None) => {
            p.add(s::PUSHGATEWAY_PASSWORD.name, "is required with PUSHGATEWAY_USERNAME (or set PUSHGATEWAY_PASSWORD_FILE)")
        }
        (Some(_), None, Some(_)) => p.add(s::PUSHGATEWAY_USERNAME.name, "is required with PUSHGATEWAY_PASSWORD"),
        _ => {}
    }
    let timeout = parse_duration_var(env, &s::PUSHGATEWAY_TIMEOUT, p);

    let textfile = env.get(s::METRICS_TEXTFILE.name).map(|f| PathBuf::from(f.trim()));
    if let Some(path) = &textfile {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if path.extension().is_none_or(|e| e != "prom") {
            p.add(s::METRICS_TEXTFILE.name, format!("{} must end in .prom (node_exporter reads only those files)", path.display()));
        } else if path.is_dir() {
            p.add(s::METRICS_TEXTFILE.name, format!("{} is a directory; name a file in it, e.g. connector.prom", path.display()));
        } else if !dir.is_dir() {
            p.add(s::METRICS_TEXTFILE.name, format!("directory {} does not exist", dir.display()));
        }
    }

    MetricsSettings {
        pushgateway: url.map(|url| PushgatewaySettings {
            url,
            username,
            password,
            timeout,
            network: NetworkSettings::from_vars(|name| env.get(name).map(str::to_string)),
            retry: RetryPolicy {
                attempts: PUSHGATEWAY_ATTEMPTS,
                base_delay: retry_base_delay(env),
                max_delay: PUSHGATEWAY_MAX_BACKOFF,
            },
        }),
        textfile,
        job: text(env, &s::PUSHGATEWAY_JOB).unwrap_or_default().trim().to_string(),
        instance: env.get(s::PUSHGATEWAY_INSTANCE.name).or_else(|| env.get(s::DATASET_ID.name)).map(|i| i.trim().to_string()),
    }
}

/// An `http://` or `https://` URL with a host, optionally a path prefix (a
/// Pushgateway behind a reverse proxy); credentials go in their own variables.
fn check_pushgateway_url(url: &str, p: &mut Problems) {
    let example = "such as http://pushgateway.monitoring:9091";
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        let shown = if url.contains('@') { "the value".to_string() } else { format!("'{url}'") };
        return p.add(s::PUSHGATEWAY_URL.name, format!("{shown} is not a URL {example}"));
    };
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        p.add(s::PUSHGATEWAY_URL.name, "must not contain credentials; set PUSHGATEWAY_USERNAME and PUSHGATEWAY_PASSWORD");
    } else if !matches!(uri.scheme_str(), Some("http") | Some("https")) || uri.host().is_none_or(str::is_empty) {
        p.add(s::PUSHGATEWAY_URL.name, format!("'{url}' is not an http:// or https:// URL {example}"));
    } else if uri.query().is_some() {
        p.add(s::PUSHGATEWAY_URL.name, format!("'{url}' must not have a query (?...)"));
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_key_that_is_not_ascii_is_a_configuration_error() {
        let mut pairs = pg_env();
        pairs.extend([("PERSONAL_ACCESS_TOKEN", "pak_ab\u{2013}cd"), ("DATASET_ID", "ds_1")]);
        let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Upload).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("PERSONAL_ACCESS_TOKEN: holds a character that is not ASCII"), "{err}");
        assert!(!err.message().contains("pak_ab"), "{err}");
    }
    use super::*;

    fn pg_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SOURCE_DATABASE_TYPE", "postgresql"),
            ("SOURCE_DATABASE_HOST", "db.internal"),
            ("SOURCE_DATABASE_USER", "reader"),
            ("SOURCE_DATABASE_NAME", "city"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM db.events;  "),
        ]
    }

    #[test]
    fn minimal_postgres_export_config() {
        let cfg = Config::from_env(&Env::from_pairs(pg_env()), Purpose::Export).unwrap();
        let source = cfg.source().unwrap();
        assert_eq!(source.kind, SourceKind::Postgres);
        assert_eq!(source.port, Some(5432));
        assert_eq!(source.query, "SELECT * FROM db.events");
        assert_eq!(cfg.output.compression, Compression::Snappy);
        assert_eq!(cfg.polyteia.api(), ApiGeneration::UploadToken);
        assert_eq!(cfg.polyteia.base_url, s::UPLOAD_TOKEN_BASE_URL);
        assert_eq!(cfg.schedule.cron_schedule, "0 0 * * *");
        assert_eq!(cfg.schedule.health_check_port, 8080);
        assert_eq!(cfg.polyteia.ingest_timeout, Duration::from_secs(1800));
    }

    #[test]
    fn upload_needs_pak_and_dataset() {
        let err = Config::from_env(&Env::from_pairs(pg_env()), Purpose::Upload).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("PERSONAL_ACCESS_TOKEN: is required"), "{err}");
        assert!(err.message().contains("DATASET_ID: is required"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let env = Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "oracle"),
            ("SOURCE_DATABASE_PORT", "99999"),
            ("LOG_LEVEL", "loud"),
            ("LOG_FORMAT", "xml"),
            ("PARQUET_COMPRESSION", "lz5"),
            ("INGEST_TIMEOUT", "soon"),
            ("POLYTEIA_ORGANIZATION_ID", "org_1"),
            ("POLYTEIA_ORGANIZATION_SLUG", "city"),
        ]);
        let err = Config::from_env(&env, Purpose::Export).unwrap_err();
        let msg = err.message();
        for var in [
            "SOURCE_DATABASE_TYPE:",
            "SOURCE_DATABASE_PORT:",
            "LOG_LEVEL:",
            "LOG_FORMAT:",
            "PARQUET_COMPRESSION:",
            "INGEST_TIMEOUT:",
            "POLYTEIA_ORGANIZATION_ID:",
            "SOURCE_DATABASE_NAME:",
            "SOURCE_DATABASE_SQL_QUERY:",
        ] {
            assert!(msg.contains(var), "missing {var} in {msg}");
        }
        assert!(msg.starts_with("configuration has 9 problems"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn session_api_when_organization_set() {
        let mut pairs = pg_env();
        pairs.push(("POLYTEIA_ORGANIZATION_SLUG", "musterstadt"));
        let cfg = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap();
        assert_eq!(cfg.polyteia.api(), ApiGeneration::Session);
        assert_eq!(cfg.polyteia.base_url, s::SESSION_BASE_URL);
        assert_eq!(cfg.polyteia.organization, Some(Organization::Slug("musterstadt".into())));
    }

    #[test]
    fn secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cr3t pass\n").unwrap();
        let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        pairs.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), file.display().to_string()));
        let cfg = Config::from_env(&Env::from_pairs(pairs.clone()), Purpose::Export).unwrap();
        assert_eq!(cfg.source().unwrap().password.as_ref().unwrap().expose(), "s3cr3t pass");

        pairs.push(("SOURCE_DATABASE_PASSWORD".into(), "other".into()));
        let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap_err();
        assert!(err.message().contains("not both"), "{err}");
    }

    #[test]
    fn secret_files_lose_trailing_white_space_and_refuse_control_characters() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        let with_file = |var: &str| {
            let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
            pairs.push((var.into(), file.display().to_string()));
            pairs.extend([("DATASET_ID".to_string(), "ds".to_string())]);
            Config::from_env(&Env::from_pairs(pairs), Purpose::Upload)
        };
        for content in ["pak_x1y2\n\n", "pak_x1y2\r\n", "pak_x1y2 \t\r\n\n"] {
            std::fs::write(&file, content).unwrap();
            let cfg = with_file("PERSONAL_ACCESS_TOKEN_FILE").unwrap();
            assert_eq!(cfg.polyteia.personal_access_token.unwrap().expose(), "pak_x1y2", "{content:?}");
        }
        std::fs::write(&file, "pw x\r\n").unwrap();
        let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        pairs.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), file.display().to_string()));
        let cfg = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap();
        assert_eq!(cfg.source().unwrap().password.as_ref().unwrap().expose(), "pw x");

        for content in ["pak_x1\ny2\n", "pak\u{1b}x1y2", "pak_x1\ty2"] {
            std::fs::write(&file, content).unwrap();
            for var in ["PERSONAL_ACCESS_TOKEN_FILE", "SOURCE_DATABASE_PASSWORD_FILE"] {
                let err = with_file(var).unwrap_err();
                assert_eq!(err.exit_code(), 3);
                let expected = format!("{var}: file {} holds a control character", file.display());
                assert!(err.message().contains(&expected), "{content:?}: {err}");
                assert!(err.message().starts_with("configuration has 1 problem:") || var != "PERSONAL_ACCESS_TOKEN_FILE", "{err}");
            }
        }
        // A key given directly: trailing white space goes, a control character inside is refused.
        let mut pairs = pg_env();
        pairs.extend([("DATASET_ID", "ds"), ("PERSONAL_ACCESS_TOKEN", "pak_x1y2\n")]);
        let cfg = Config::from_env(&Env::from_pairs(pairs.clone()), Purpose::Upload).unwrap();
        assert_eq!(cfg.polyteia.personal_access_token.unwrap().expose(), "pak_x1y2");
        pairs.push(("PERSONAL_ACCESS_TOKEN", "pak_x1\ny2"));
        let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Upload).unwrap_err();
        assert_eq!(err.message(), "configuration has 1 problem: PERSONAL_ACCESS_TOKEN: holds a control character (a line break, tab or the like); give the key alone");
    }

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
            let cfg = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap();
            assert_eq!(cfg.source().unwrap().query, expected, "{given:?}");
        }
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_SQL_QUERY", "''"));
        let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SQL_QUERY: is required"), "{err}");
    }

    #[test]
    fn uploading_a_file_needs_only_the_polyteia_settings() {
        let env = Env::from_pairs([("PERSONAL_ACCESS_TOKEN", "pak_1"), ("DATASET_ID", "ds"), ("SOURCE_DATABASE_PORT", "x")]);
        let cfg = Config::from_env(&env, Purpose::UploadFile).unwrap();
        assert!(cfg.source.is_none());
        assert_eq!(cfg.source().unwrap_err().exit_code(), 1);
        let err = Config::from_env(&Env::from_pairs([("SOURCE_DATABASE_TYPE", "duckdb")]), Purpose::UploadFile).unwrap_err();
        assert_eq!(
            err.message(),
            "configuration has 2 problems: PERSONAL_ACCESS_TOKEN: is required to upload (or set PERSONAL_ACCESS_TOKEN_FILE); \
             DATASET_ID: is required to upload (the id of the Polyteia dataset to replace)"
        );
    }

    #[test]
    fn the_schedule_is_validated_with_everything_else() {
        let mut pairs = pg_env();
        pairs.extend([
            ("PERSONAL_ACCESS_TOKEN", "pak_1"),
            ("DATASET_ID", "ds"),
            ("HEALTH_CHECK_PORT", "eighty"),
            ("CRON_SCHEDULE", "every night"),
            ("CRON_TZ", "Mars/Olympus"),
        ]);
        let err = Config::from_env(&Env::from_pairs(pairs.clone()), Purpose::Schedule).unwrap_err();
        let msg = err.message();
        assert!(msg.starts_with("configuration has 3 problems: HEALTH_CHECK_PORT: 'eighty'"), "{msg}");
        assert!(msg.contains("; CRON_SCHEDULE: 'every night' is not a cron expression"), "{msg}");
        assert!(msg.contains("; CRON_TZ: 'Mars/Olympus' is not a time zone name"), "{msg}");
        // Other commands have no schedule.
        pairs.retain(|(k, _)| *k != "HEALTH_CHECK_PORT");
        assert!(Config::from_env(&Env::from_pairs(pairs), Purpose::Upload).is_ok());
    }

    #[test]
    fn ssl_modes_are_checked_per_type() {
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_SSL_MODE", "verify_identity"));
        let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SSL_MODE: 'verify_identity' is not one of disable"), "{err}");
    }

    #[test]
    fn options_are_parsed_and_reserved_names_refused() {
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_OPTIONS", "connect_timeout=5 application_name=x"));
        let cfg = Config::from_env(&Env::from_pairs(pairs.clone()), Purpose::Export).unwrap();
        assert_eq!(cfg.source().unwrap().options, vec![("connect_timeout".into(), "5".into()), ("application_name".into(), "x".into())]);
        pairs.push(("SOURCE_DATABASE_OPTIONS", "password=x nonsense"));
        let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap_err();
        assert!(err.message().contains("'password' has its own"), "{err}");
        assert!(err.message().contains("'nonsense' is not key=value"), "{err}");
    }

    #[test]
    fn durations_accept_go_style() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn memory_sizes() {
        for ok in ["4GB", "512MB", "1.5GiB", "80%", "100000"] {
            assert!(is_memory_size(ok), "{ok}");
        }
        for bad in ["", "GB", "lots", "4 parsecs"] {
            assert!(!is_memory_size(bad), "{bad}");
        }
    }

    #[test]
    fn env_file_values_are_unquoted_and_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("test.env");
        std::fs::write(&file, "SOURCE_DATABASE_SQL_QUERY='SELECT * FROM db.events'\nDATASET_ID=\"ds_1\"\n# comment\n").unwrap();
        let values = read_env_file(&file).unwrap();
        assert_eq!(values["SOURCE_DATABASE_SQL_QUERY"], "SELECT * FROM db.events");
        assert_eq!(values["DATASET_ID"], "ds_1");

        let mut env = Env { values, not_utf8: vec![], files: vec![] };
        env.overlay_os([(OsString::from("DATASET_ID"), OsString::from("from_env"))].into_iter());
        assert_eq!(env.get(s::DATASET_ID.name), Some("from_env"));
    }

    #[test]
    fn several_statements_are_a_configuration_problem() {
        let env = Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1; DROP TABLE secret_table"),
        ]);
        let err = Config::from_env(&env, Purpose::Export).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SQL_QUERY: holds more than one statement"), "{err}");
    }

    #[test]
    fn base_url_path_is_percent_encoded() {
        let mut pairs = pg_env();
        pairs.push(("POLYTEIA_BASE_URL", "http://127.0.0.1:8080/mandant ü/%41pi%zz/"));
        let cfg = Config::from_env(&Env::from_pairs(pairs.clone()), Purpose::Export).unwrap();
        assert_eq!(cfg.polyteia.base_url, "http://127.0.0.1:8080/mandant%20%C3%BC/%41pi%25zz");
        for bad in ["http://host/x?y=1", "ftp://host", "http:// host", "https://"] {
            let mut pairs = pg_env();
            pairs.push(("POLYTEIA_BASE_URL", bad));
            let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap_err();
            assert!(err.message().contains("POLYTEIA_BASE_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn env_file_errors_name_the_right_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.env");
        for (text, line) in [
            ("A=1\n\nbroken line secretvalue\n", 3),
            ("A=1\nA=1 secretvalue x\n", 2),
            ("# c\nB='multi\nline'\nC='unterminated secretvalue\n", 4),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = read_env_file(&file).unwrap_err();
            assert!(err.message().contains(&format!("line {line} ")), "{text:?}: {err}");
            assert!(!err.message().contains("secretvalue"), "{err}");
        }
        std::fs::write(&file, b"A=1\nB=\xff\xfe\n").unwrap();
        let err = read_env_file(&file).unwrap_err();
        assert!(err.message().contains("line 2 is not valid UTF-8"), "{err}");
    }

    #[test]
    fn env_file_quotes_never_swallow_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("quotes.env");
        std::fs::write(
            &file,
            "PW='se\\cr\"et$x\\' # backslash last\nNAME=x\nCERT=\"line1\nline2\"\nexport E='\\'\nLAST='plain'\n",
        )
        .unwrap();
        let values = read_env_file(&file).unwrap();
        assert_eq!(values["PW"], "se\\cr\"et$x\\");
        assert_eq!(values["NAME"], "x");
        assert_eq!(values["CERT"], "line1\nline2");
        assert_eq!(values["E"], "\\");
        assert_eq!(values["LAST"], "plain");

        std::fs::write(&file, "A=1\nPW=it's secret\nNAME='x'\nQ='y'\n").unwrap();
        let err = read_env_file(&file).unwrap_err();
        assert!(err.message().contains("line 2: a quote in the middle of the value"), "{err}");
        assert!(!err.message().contains("secret"), "{err}");
    }

    #[test]
    fn monitoring_settings_are_validated_with_everything_else() {
        let mut pairs = pg_env();
        pairs.extend([("DATASET_ID", "ds_permits")]);
        let cfg = Config::from_env(&Env::from_pairs(pairs.clone()), Purpose::Export).unwrap();
        assert!(!cfg.metrics.is_enabled());
        assert_eq!(Some(cfg.metrics.job.as_str()), s::PUSHGATEWAY_JOB.default_value());
        assert_eq!(cfg.metrics.instance.as_deref(), Some("ds_permits"));

        let dir = tempfile::tempdir().unwrap();
        let textfile = dir.path().join("connector.prom");
        let mut good = pairs.clone();
        good.extend([
            ("PUSHGATEWAY_URL", "https://push.example:9091/gateway/"),
            ("PUSHGATEWAY_USERNAME", "connector"),
            ("PUSHGATEWAY_PASSWORD", "pg-s3cret"),
            ("PUSHGATEWAY_INSTANCE", "permits"),
            ("PUSHGATEWAY_TIMEOUT", "3s"),
            ("METRICS_TEXTFILE", textfile.to_str().unwrap()),
        ]);
        let cfg = Config::from_env(&Env::from_pairs(good), Purpose::Export).unwrap();
        let push = cfg.metrics.pushgateway.as_ref().unwrap();
        assert_eq!(push.url, "https://push.example:9091/gateway");
        assert_eq!(push.timeout, Duration::from_secs(3));
        assert_eq!(push.retry.attempts, PUSHGATEWAY_ATTEMPTS);
        assert_eq!(cfg.metrics.instance.as_deref(), Some("permits"));
        assert_eq!(cfg.metrics.textfile.as_deref(), Some(textfile.as_path()));
        assert!(!format!("{cfg:?}").contains("pg-s3cret"));

        let mut bad = pairs.clone();
        bad.extend([
            ("PUSHGATEWAY_URL", "https://user:pw@push.example"),
            ("PUSHGATEWAY_USERNAME", "a:b"),
            ("PUSHGATEWAY_TIMEOUT", "soon"),
            ("METRICS_TEXTFILE", "/nonexistent-dir/connector.prom"),
        ]);
        let err = Config::from_env(&Env::from_pairs(bad), Purpose::Export).unwrap_err();
        let msg = err.message();
        assert!(msg.starts_with("configuration has 5 problems"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_URL: must not contain credentials"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_USERNAME: must not contain ':'"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_PASSWORD: is required with PUSHGATEWAY_USERNAME"), "{msg}");
        assert!(msg.contains("PUSHGATEWAY_TIMEOUT: 'soon'"), "{msg}");
        assert!(msg.contains("METRICS_TEXTFILE: directory /nonexistent-dir does not exist"), "{msg}");
        assert!(!msg.contains("user:pw"), "{msg}");

        for (var, value, expected) in [
            ("PUSHGATEWAY_URL", "pushgateway:9091", "is not an http:// or https:// URL"),
            ("PUSHGATEWAY_URL", "http://push:9091/?x=1", "must not have a query"),
            ("METRICS_TEXTFILE", "/tmp/connector.txt", "must end in .prom"),
            ("PUSHGATEWAY_PASSWORD", "x", "applies only with PUSHGATEWAY_URL"),
        ] {
            let mut pairs = pairs.clone();
            pairs.push((var, value));
            let err = Config::from_env(&Env::from_pairs(pairs), Purpose::Export).unwrap_err();
            assert!(err.message().contains(&format!("{var}: ")) && err.message().contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn monitoring_settings_survive_a_failed_configuration() {
        let env = Env::from_pairs([("PUSHGATEWAY_URL", "http://127.0.0.1:9091"), ("DATASET_ID", "ds_1"), ("LOG_LEVEL", "loud")]);
        assert!(Config::from_env(&env, Purpose::Upload).is_err());
        let settings = metrics_settings(&env).unwrap();
        assert_eq!(settings.pushgateway.unwrap().url, "http://127.0.0.1:9091");
        assert_eq!(settings.instance.as_deref(), Some("ds_1"));
        let broken = Env::from_pairs([("PUSHGATEWAY_URL", "nonsense")]);
        assert!(metrics_settings(&broken).is_none());
    }

    #[test]
    fn malformed_env_file_names_the_line_not_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.env");
        std::fs::write(&file, "A=1\nthis is not an assignment secretvalue\n").unwrap();
        let err = read_env_file(&file).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("line 2"), "{err}");
        assert!(!err.message().contains("secretvalue"), "{err}");
    }
}
