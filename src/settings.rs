//! Every setting the connector reads, defined once: its variable name, its
//! default, whether it is a secret (then `NAME_FILE` is accepted too and the
//! value is redacted) and what it means. `config` parses through these
//! definitions; the documentation (README tables, examples/.env.example, the
//! Helm chart's refusal list) is checked against them by the tests.
//!
//! To add a setting: add a `pub const` here, list it in [`ALL`], parse it in
//! `config`, and document it in README.md and examples/.env.example (the
//! consistency tests say what is missing).

/// What applies when a setting is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnset {
    /// Must be given; the text says when ("for `run`", "for servers").
    Required(&'static str),
    /// This value, parsed like a given one.
    Value(&'static str),
    /// Decided elsewhere (the driver, DuckDB, another setting); the text says how.
    Described(&'static str),
    /// Unset means "not used".
    Unset,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub default: WhenUnset,
    /// Accepted as `NAME_FILE` too, never logged or shown.
    pub secret: bool,
    /// Set by the Helm chart itself (refused inside the chart's `config`).
    pub chart_managed: bool,
    /// One line for `--help`-like listings.
    pub doc: &'static str,
}

impl Setting {
    const fn new(name: &'static str, default: WhenUnset, doc: &'static str) -> Setting {
        Setting { name, default, secret: false, chart_managed: false, doc }
    }

    const fn secret(self) -> Setting {
        Setting { secret: true, ..self }
    }

    const fn chart_managed(self) -> Setting {
        Setting { chart_managed: true, ..self }
    }

    /// The default value, for settings that have one.
    pub fn default_value(&self) -> Option<&'static str> {
        match self.default {
            WhenUnset::Value(value) => Some(value),
            _ => None,
        }
    }

    /// `NAME_FILE`, for secrets.
    pub fn file_variant(&self) -> Option<String> {
        self.secret.then(|| format!("{}_FILE", self.name))
    }
}

use WhenUnset::{Described, Required, Unset, Value};

/// `POLYTEIA_BASE_URL` when no organization is set (the upload-token API).
pub const UPLOAD_TOKEN_BASE_URL: &str = "https://app.polyteia.com";
/// `POLYTEIA_BASE_URL` when an organization is set (the session API).
pub const SESSION_BASE_URL: &str = "https://web.polyteia.de";

// Polyteia
pub const PERSONAL_ACCESS_TOKEN: Setting =
    Setting::new("PERSONAL_ACCESS_TOKEN", Required("for `run`"), "Polyteia personal access key (pak_…)").secret();
pub const DATASET_ID: Setting =
    Setting::new("DATASET_ID", Required("for `run`"), "the dataset whose data is replaced");
pub const POLYTEIA_BASE_URL: Setting = Setting::new(
    "POLYTEIA_BASE_URL",
    Described("https://app.polyteia.com (upload-token API), https://web.polyteia.de (session API)"),
    "API base URL",
);
pub const POLYTEIA_ORGANIZATION_ID: Setting =
    Setting::new("POLYTEIA_ORGANIZATION_ID", Unset, "organization id: selects the session API");
pub const POLYTEIA_ORGANIZATION_SLUG: Setting =
    Setting::new("POLYTEIA_ORGANIZATION_SLUG", Unset, "organization slug: selects the session API");
pub const INGEST_POLL_INTERVAL: Setting =
    Setting::new("INGEST_POLL_INTERVAL", Value("5s"), "session API: how often to ask for the ingest status");
pub const INGEST_TIMEOUT: Setting =
    Setting::new("INGEST_TIMEOUT", Value("30m"), "session API: give up waiting for the ingest after this");
pub const HTTP_TIMEOUT: Setting = Setting::new("HTTP_TIMEOUT", Value("60s"), "connect and per-request timeout of API calls");
pub const UPLOAD_MAX_ATTEMPTS: Setting =
    Setting::new("UPLOAD_MAX_ATTEMPTS", Value("5"), "attempts for a transient API failure");
pub const UPLOAD_MAX_BACKOFF: Setting =
    Setting::new("UPLOAD_MAX_BACKOFF", Value("60s"), "longest wait between attempts (also caps Retry-After)");

// The outgoing proxy for the Polyteia API (the standard variables; lower case works too)
pub const HTTPS_PROXY: Setting = Setting::new("HTTPS_PROXY", Unset, "proxy for https:// base URLs");
pub const HTTP_PROXY: Setting = Setting::new("HTTP_PROXY", Unset, "proxy for http:// base URLs");
pub const ALL_PROXY: Setting = Setting::new("ALL_PROXY", Unset, "proxy for either, when the specific one is unset");
pub const NO_PROXY: Setting = Setting::new("NO_PROXY", Unset, "hosts reached without the proxy");
pub const SSL_CERT_FILE: Setting =
    Setting::new("SSL_CERT_FILE", Described("the OS trust store"), "PEM file of the CAs trusted for the API");
pub const SSL_CERT_DIR: Setting =
    Setting::new("SSL_CERT_DIR", Described("the OS trust store"), "directory of PEM files of the CAs trusted for the API");

// Source database
pub const SOURCE_DATABASE_TYPE: Setting =
    Setting::new("SOURCE_DATABASE_TYPE", Required(""), "postgres, mysql (mariadb), duckdb or sqlite");
pub const SOURCE_DATABASE_HOST: Setting =
    Setting::new("SOURCE_DATABASE_HOST", Required("for servers"), "database host");
pub const SOURCE_DATABASE_PORT: Setting = Setting::new("SOURCE_DATABASE_PORT", Described("5432 / 3306"), "database port");
pub const SOURCE_DATABASE_USER: Setting =
    Setting::new("SOURCE_DATABASE_USER", Required("for servers"), "database user");
pub const SOURCE_DATABASE_PASSWORD: Setting =
    Setting::new("SOURCE_DATABASE_PASSWORD", Unset, "database password").secret();
pub const SOURCE_DATABASE_NAME: Setting =
    Setting::new("SOURCE_DATABASE_NAME", Required(""), "database name, or the file of an embedded database");
pub const SOURCE_DATABASE_SQL_QUERY: Setting =
    Setting::new("SOURCE_DATABASE_SQL_QUERY", Required(""), "the query whose result is uploaded");
pub const SOURCE_DATABASE_SSL_MODE: Setting =
    Setting::new("SOURCE_DATABASE_SSL_MODE", Described("driver default"), "TLS mode of the source connection");
pub const SOURCE_DATABASE_SSL_ROOT_CERT: Setting =
    Setting::new("SOURCE_DATABASE_SSL_ROOT_CERT", Unset, "CA certificate file to verify the server");
pub const SOURCE_DATABASE_OPTIONS: Setting =
    Setting::new("SOURCE_DATABASE_OPTIONS", Unset, "extra driver options, space-separated key=value pairs");
pub const SOURCE_DATABASE_QUERY_DIALECT: Setting =
    Setting::new("SOURCE_DATABASE_QUERY_DIALECT", Value("duckdb"), "duckdb or native");
pub const SOURCE_CONNECT_MAX_ATTEMPTS: Setting =
    Setting::new("SOURCE_CONNECT_MAX_ATTEMPTS", Value("5"), "attempts to reach a source server that is not reachable");

// Engine and export
pub const DUCKDB_EXTENSION_DIRECTORY: Setting =
    Setting::new(
        "DUCKDB_EXTENSION_DIRECTORY",
        Described("the Debian package's extensions when installed, else DuckDB's own (downloads)"),
        "directory with pre-installed DuckDB extensions",
    );
pub const DUCKDB_MEMORY_LIMIT: Setting =
    Setting::new("DUCKDB_MEMORY_LIMIT", Described("DuckDB default (80 % of RAM)"), "DuckDB memory limit, e.g. 2GB");
pub const DUCKDB_THREADS: Setting = Setting::new("DUCKDB_THREADS", Described("number of cores"), "DuckDB worker threads");
pub const TEMP_DIR: Setting =
    Setting::new("TEMP_DIR", Described("system temp dir"), "where the Parquet file and spill files go").chart_managed();
pub const PARQUET_COMPRESSION: Setting =
    Setting::new("PARQUET_COMPRESSION", Value("snappy"), "snappy, zstd, gzip or uncompressed");
pub const PARQUET_ROW_GROUP_SIZE: Setting =
    Setting::new("PARQUET_ROW_GROUP_SIZE", Described("DuckDB default (122880 rows)"), "rows per row group");
pub const ALLOW_EMPTY_RESULT: Setting =
    Setting::new("ALLOW_EMPTY_RESULT", Value("false"), "upload a result with no rows (empties the dataset)");

// Monitoring of one-shot runs
pub const PUSHGATEWAY_URL: Setting =
    Setting::new("PUSHGATEWAY_URL", Unset, "Prometheus Pushgateway that receives every run's metrics");
pub const PUSHGATEWAY_JOB: Setting =
    Setting::new("PUSHGATEWAY_JOB", Value("polyteia_db_connector"), "the job label of the pushed metrics");
pub const PUSHGATEWAY_INSTANCE: Setting =
    Setting::new("PUSHGATEWAY_INSTANCE", Described("`DATASET_ID`"), "the instance label of the pushed metrics");
pub const PUSHGATEWAY_USERNAME: Setting = Setting::new("PUSHGATEWAY_USERNAME", Unset, "basic auth user for the Pushgateway");
pub const PUSHGATEWAY_PASSWORD: Setting =
    Setting::new("PUSHGATEWAY_PASSWORD", Unset, "basic auth password for the Pushgateway").secret();
pub const PUSHGATEWAY_TIMEOUT: Setting =
    Setting::new("PUSHGATEWAY_TIMEOUT", Value("10s"), "timeout of one push");
pub const METRICS_TEXTFILE: Setting =
    Setting::new("METRICS_TEXTFILE", Unset, "a .prom file for node_exporter's textfile collector, written after every run");

// Logging and the long-lived mode
pub const LOG_LEVEL: Setting = Setting::new("LOG_LEVEL", Value("info"), "debug, info, warn or error");
pub const LOG_FORMAT: Setting = Setting::new("LOG_FORMAT", Value("text"), "text or json");
pub const CRON_SCHEDULE: Setting =
    Setting::new("CRON_SCHEDULE", Value("0 0 * * *"), "schedule of the long-lived mode").chart_managed();
pub const CRON_TZ: Setting = Setting::new("CRON_TZ", Value("UTC"), "time zone of CRON_SCHEDULE").chart_managed();
pub const HEALTH_CHECK_PORT: Setting =
    Setting::new("HEALTH_CHECK_PORT", Value("8080"), "port of /healthz and /metrics").chart_managed();

/// Every setting, in the order of the documentation.
pub const ALL: &[Setting] = &[
    PERSONAL_ACCESS_TOKEN,
    POLYTEIA_BASE_URL,
    DATASET_ID,
    CRON_SCHEDULE,
    LOG_LEVEL,
    LOG_FORMAT,
    HEALTH_CHECK_PORT,
    SOURCE_DATABASE_TYPE,
    SOURCE_DATABASE_HOST,
    SOURCE_DATABASE_PORT,
    SOURCE_DATABASE_USER,
    SOURCE_DATABASE_PASSWORD,
    SOURCE_DATABASE_NAME,
    SOURCE_DATABASE_SQL_QUERY,
    POLYTEIA_ORGANIZATION_ID,
    POLYTEIA_ORGANIZATION_SLUG,
    INGEST_POLL_INTERVAL,
    INGEST_TIMEOUT,
    HTTP_TIMEOUT,
    UPLOAD_MAX_ATTEMPTS,
    UPLOAD_MAX_BACKOFF,
    SOURCE_DATABASE_SSL_MODE,
    SOURCE_DATABASE_SSL_ROOT_CERT,
    SOURCE_DATABASE_OPTIONS,
    SOURCE_DATABASE_QUERY_DIALECT,
    SOURCE_CONNECT_MAX_ATTEMPTS,
    DUCKDB_EXTENSION_DIRECTORY,
    DUCKDB_MEMORY_LIMIT,
    DUCKDB_THREADS,
    TEMP_DIR,
    PARQUET_COMPRESSION,
    PARQUET_ROW_GROUP_SIZE,
    ALLOW_EMPTY_RESULT,
    CRON_TZ,
    HTTPS_PROXY,
    HTTP_PROXY,
    ALL_PROXY,
    NO_PROXY,
    SSL_CERT_FILE,
    SSL_CERT_DIR,
    PUSHGATEWAY_URL,
    PUSHGATEWAY_JOB,
    PUSHGATEWAY_INSTANCE,
    PUSHGATEWAY_USERNAME,
    PUSHGATEWAY_PASSWORD,
    PUSHGATEWAY_TIMEOUT,
    METRICS_TEXTFILE,
];

/// Shortens the first retry delay in the tests (milliseconds); not a
/// documented setting.
pub const TEST_RETRY_BASE_MS: &str = "CONNECTOR_RETRY_BASE_MS";

/// Whether `name` is one of ours (a setting or a secret's `_FILE`).
pub fn is_known(name: &str) -> bool {
    ALL.iter().any(|s| s.name == name || s.file_variant().as_deref() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_upper_case() {
        let mut names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')));
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a setting is listed twice");
    }

    #[test]
    fn the_base_url_defaults_are_the_documented_ones() {
        let WhenUnset::Described(text) = POLYTEIA_BASE_URL.default else { panic!("described") };
        assert!(text.contains(UPLOAD_TOKEN_BASE_URL) && text.contains(SESSION_BASE_URL), "{text}");
    }

    #[test]
    fn every_default_value_is_accepted() {
        // Settings with a default value, and nothing else: the defaults parse.
        let env = crate::config::Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
            ("PERSONAL_ACCESS_TOKEN", "pak_x"),
            ("DATASET_ID", "ds_1"),
        ]);
        let config = crate::config::Config::from_env(&env, crate::config::Purpose::Schedule).unwrap();
        assert_eq!(config.schedule.cron_schedule, CRON_SCHEDULE.default_value().unwrap());
        assert_eq!(config.schedule.health_check_port.to_string(), HEALTH_CHECK_PORT.default_value().unwrap());
        assert_eq!(config.polyteia.retry.attempts.to_string(), UPLOAD_MAX_ATTEMPTS.default_value().unwrap());
        assert_eq!(config.source_connect_retry.attempts.to_string(), SOURCE_CONNECT_MAX_ATTEMPTS.default_value().unwrap());
        assert_eq!(config.polyteia.http_timeout, std::time::Duration::from_secs(60));
        assert_eq!(config.polyteia.ingest_timeout, std::time::Duration::from_secs(30 * 60));
    }

    #[test]
    fn secrets_have_a_file_variant() {
        assert!(is_known("PERSONAL_ACCESS_TOKEN_FILE"));
        assert!(is_known("SOURCE_DATABASE_PASSWORD_FILE"));
        assert!(!is_known("DATASET_ID_FILE"));
    }

    /// The documentation agrees with this table: a setting or exit code
    /// added, renamed or given another default here fails these until the
    /// README tables (English and German), examples/.env.example and the Helm
    /// chart's refusal list say the same.
    mod documentation {
        use super::super::*;
        use crate::error::ErrorKind;
        use std::collections::{BTreeMap, BTreeSet};

        fn read(path: &str) -> String {
            let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        }

        /// `NAME` → the row's cells, for every table row whose first cell names variables.
        fn variable_rows(markdown: &str) -> BTreeMap<String, Vec<String>> {
            let mut rows = BTreeMap::new();
            for line in markdown.lines().filter(|l| l.starts_with("| `")) {
                let cells: Vec<String> = line.split(" | ").map(|c| c.trim_matches(|c| c == '|' || c == ' ').to_string()).collect();
                for name in backticked_names(&cells[0]) {
                    rows.insert(name, cells.clone());
                }
            }
            rows
        }

        fn backticked_names(cell: &str) -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .map(str::to_string)
                .collect()
        }

        fn check_readme(path: &str, required_word: &str) {
            let rows = variable_rows(&read(path));
            let mut problems = Vec::new();
            for setting in ALL {
                let Some(cells) = rows.get(setting.name) else {
                    problems.push(format!("{path}: no table row for {}", setting.name));
                    continue;
                };
                let row = cells.join(" | ");
                let default = cells.get(1).map(String::as_str).unwrap_or("");
                match setting.default {
                    WhenUnset::Value(value) if !default.contains(&format!("`{value}`")) => {
                        problems.push(format!("{path}: {}'s default should read `{value}`, the row says: {default}", setting.name))
                    }
                    WhenUnset::Required(_) if !default.to_lowercase().contains(required_word) => {
                        problems.push(format!("{path}: {} should be marked {required_word}: {default}", setting.name))
                    }
                    _ => {}
                }
                if let Some(file) = setting.file_variant() {
                    if !row.contains(&file) {
                        problems.push(format!("{path}: {}'s row should mention {file}", setting.name));
                    }
                }
            }
            for name in rows.keys() {
                if !is_known(name) {
                    problems.push(format!("{path}: table row for {name}, which the connector does not read"));
                }
            }
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }

        #[test]
        fn the_english_readme_lists_every_setting_with_its_default() {
            check_readme("README.md", "required");
        }

        #[test]
        fn the_german_readme_lists_every_setting_with_its_default() {
            check_readme("README.de.md", "pflicht");
        }

        #[test]
        fn the_env_example_shows_every_setting_and_its_default() {
            let text = read("examples/.env.example");
            let mut shown: BTreeMap<String, String> = BTreeMap::new();
            for line in text.lines() {
                let line = line.trim_start_matches('#').trim();
                if let Some((name, value)) = line.split_once('=') {
                    if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
                        shown.entry(name.to_string()).or_insert_with(|| value.to_string());
                    }
                }
            }
            let mut problems = Vec::new();
            for setting in ALL {
                let names = std::iter::once(setting.name.to_string()).chain(setting.file_variant());
                for name in names {
                    if !shown.contains_key(&name) {
                        problems.push(format!("examples/.env.example does not show {name}"));
                    }
                }
                if let (Some(default), Some(value)) = (setting.default_value(), shown.get(setting.name)) {
                    if !value.is_empty() && value != default && !text.contains(&format!("# {}={default}", setting.name)) {
                        problems.push(format!("examples/.env.example shows {}={value}, the default is {default}", setting.name));
                    }
                }
            }
            for name in shown.keys() {
                if !is_known(name) {
                    problems.push(format!("examples/.env.example shows {name}, which the connector does not read"));
                }
            }
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }

        #[test]
        fn the_chart_refuses_exactly_the_secrets_and_its_own_settings() {
            let schema: serde_json::Value = serde_json::from_str(&read("charts/polyteia-db-connector/values.schema.json")).unwrap();
            let refused: BTreeSet<String> = schema
                .pointer("/properties/config/propertyNames/not/enum")
                .and_then(|v| v.as_array())
                .expect("config.propertyNames.not.enum in the chart's schema")
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let wanted: BTreeSet<String> = ALL
                .iter()
                .filter(|s| s.secret || s.chart_managed)
                .flat_map(|s| std::iter::once(s.name.to_string()).chain(s.file_variant()))
                .collect();
            assert_eq!(refused, wanted);
        }

        /// `code` → meaning, from a README's exit-code table.
        fn exit_code_rows(markdown: &str) -> BTreeMap<i32, String> {
            markdown
                .lines()
                .filter_map(|line| {
                    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                    let code = cells.get(1)?.parse::<i32>().ok()?;
                    Some((code, cells.get(2)?.to_string()))
                })
                .collect()
        }

        #[test]
        fn the_readmes_list_every_exit_code() {
            let mut expected: BTreeMap<i32, &str> = ErrorKind::ALL.iter().map(|k| (k.exit_code(), k.meaning())).collect();
            expected.insert(0, "success");
            expected.insert(2, "command-line usage error");
            let english = exit_code_rows(&read("README.md"));
            let english: BTreeMap<i32, &str> = english.iter().map(|(c, m)| (*c, m.as_str())).collect();
            assert_eq!(english, expected, "README.md's exit-code table and src/error.rs disagree");
            let german = exit_code_rows(&read("README.de.md"));
            assert_eq!(german.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "README.de.md's exit codes");
        }
    }
}
