//! The configuration of each command, from the [`Env`]: every area parses
//! and validates its own settings (`source/settings.rs`,
//! `polyteia/settings.rs`, …); this module runs them all, collects every
//! problem so that an administrator fixes them in one go, and joins the
//! results into the one typed configuration the command needs
//! ([`ExportConfig`], [`UploadConfig`], [`RunConfig`], [`ScheduleConfig`]):
//! a command never finds a part missing at run time.

use crate::cron::{self, Schedule};
use crate::error::Result;
use crate::metrics::settings as metrics_area;
use crate::network::Network;
use crate::polyteia::settings as polyteia_area;
use crate::retry::RetryPolicy;
use crate::setting::{Problem, Problems};
use crate::source::{export_settings, settings as source_area};

pub use crate::env::Env;
pub use crate::logging::{LogFormat, LogSettings};
pub use crate::metrics::settings::{MetricsSettings, PushgatewaySettings, PUSHGATEWAY_ATTEMPTS};
pub use crate::network::NetworkSettings;
pub use crate::polyteia::settings::{ApiGeneration, BaseUrl, Organization, PolyteiaSettings};
pub use crate::source::export_settings::{Compression, EngineSettings, ExportSettings, MemoryLimit, OutputSettings};
pub use crate::source::kind::SourceKind;
pub use crate::source::settings::{QueryDialect, SourceSettings, SslMode};

/// `connector export`: the source and the file, no Polyteia key.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    pub log: LogSettings,
    pub export: ExportSettings,
}

/// `connector upload --file`: the Polyteia settings, no database.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub log: LogSettings,
    pub api: PolyteiaSettings,
    /// `ALLOW_EMPTY_RESULT`: whether a file without rows may replace the dataset.
    pub allow_empty_result: bool,
}

/// `connector run` and `connector check`: export and upload.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub log: LogSettings,
    pub export: ExportSettings,
    pub api: PolyteiaSettings,
    /// `HEALTH_CHECK_PORT`, for `run --serve-health`.
    pub health_check_port: u16,
    /// Where a run's metrics go (Pushgateway, node_exporter textfile).
    pub metrics: MetricsSettings,
}

/// `connector schedule`: a run on every tick of the schedule.
#[derive(Debug)]
pub struct ScheduleConfig {
    pub run: RunConfig,
    /// `CRON_SCHEDULE` in `CRON_TZ`.
    pub schedule: Schedule,
}

/// Which parts a command needs: those are required, the rest is validated
/// all the same (a typo should not wait for the command that reads it).
#[derive(Clone, Copy)]
struct Needs {
    source: bool,
    upload: bool,
    schedule: bool,
}

/// Every area, parsed once.
struct Parsed {
    log: LogSettings,
    source: Option<SourceSettings>,
    engine: EngineSettings,
    output: OutputSettings,
    api: Option<PolyteiaSettings>,
    metrics: MetricsSettings,
    health_check_port: u16,
    schedule: Option<Schedule>,
    connect_retry: RetryPolicy,
}

impl Parsed {
    fn export(&self) -> Option<ExportSettings> {
        Some(ExportSettings {
            source: self.source.clone()?,
            engine: self.engine.clone(),
            output: self.output.clone(),
            connect_retry: self.connect_retry.clone(),
        })
    }

    fn run(&self) -> Option<RunConfig> {
        Some(RunConfig {
            log: self.log,
            export: self.export()?,
            api: self.api.clone()?,
            health_check_port: self.health_check_port,
            metrics: self.metrics.clone(),
        })
    }
}

/// Runs every area's parsing; the problems come in the order of the areas.
fn parse(env: &Env, needs: Needs) -> (Parsed, Problems) {
    let mut p = Problems::default();
    for key in env.not_utf8().iter().filter(|key| crate::settings::is_known(key)) {
        p.push(Problem::new(key.clone(), "value is not valid UTF-8"));
    }
    let log = crate::logging::parse_settings(env, &mut p);
    let source = if needs.source { source_area::parse(env, &mut p) } else { None };
    let engine = export_settings::parse_engine(env, &mut p);
    let output = export_settings::parse_output(env, &mut p);
    // The network settings and the trust store's files are read once, here.
    let network = Network::parse(env);
    let polyteia = polyteia_area::parse(env, needs.upload, &network, &mut p);
    let metrics = metrics_area::parse(env, polyteia.dataset_id.as_deref(), &network, &mut p);
    let health_check_port = cron::parse_health_check_port(env, &mut p);
    let schedule = if needs.schedule { cron::parse_schedule(env, &mut p) } else { None };
    let connect_retry =
        RetryPolicy { attempts: source_area::parse_connect_attempts(env, &mut p), ..polyteia.retry.clone() };
    let parsed = Parsed {
        log,
        source,
        engine,
        output,
        api: polyteia.settings,
        metrics,
        health_check_port,
        schedule,
        connect_retry,
    };
    (parsed, p)
}

impl ExportConfig {
    pub fn from_env(env: &Env) -> Result<ExportConfig> {
        let (parsed, problems) = parse(env, Needs { source: true, upload: false, schedule: false });
        problems.into_result(|| Some(ExportConfig { log: parsed.log, export: parsed.export()? }))
    }
}

impl UploadConfig {
    pub fn from_env(env: &Env) -> Result<UploadConfig> {
        let (parsed, problems) = parse(env, Needs { source: false, upload: true, schedule: false });
        problems.into_result(|| {
            Some(UploadConfig {
                log: parsed.log,
                api: parsed.api?,
                allow_empty_result: parsed.output.allow_empty_result,
            })
        })
    }
}

impl RunConfig {
    pub fn from_env(env: &Env) -> Result<RunConfig> {
        let (parsed, problems) = parse(env, Needs { source: true, upload: true, schedule: false });
        problems.into_result(|| parsed.run())
    }
}

impl ScheduleConfig {
    pub fn from_env(env: &Env) -> Result<ScheduleConfig> {
        let (parsed, problems) = parse(env, Needs { source: true, upload: true, schedule: true });
        problems.into_result(|| {
            let run = parsed.run()?;
            Some(ScheduleConfig { run, schedule: parsed.schedule? })
        })
    }
}

/// The monitoring settings alone, so that a run whose configuration failed
/// is still reported; `None` when they have problems themselves (the
/// configuration error names those).
pub fn metrics_settings(env: &Env) -> Option<MetricsSettings> {
    let mut p = Problems::default();
    let dataset_id = polyteia_area::parse_dataset_id(env);
    let settings = metrics_area::parse(env, dataset_id.as_deref(), &Network::parse(env), &mut p);
    p.is_empty().then_some(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::settings::PUSHGATEWAY_JOB;
    use crate::polyteia::settings::{SESSION_BASE_URL, UPLOAD_TOKEN_BASE_URL};
    use std::time::Duration;

    #[test]
    fn a_key_that_is_not_ascii_is_a_configuration_error() {
        let mut pairs = pg_env();
        pairs.extend([("PERSONAL_ACCESS_TOKEN", "pak_ab\u{2013}cd"), ("DATASET_ID", "ds_1")]);
        let err = RunConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("PERSONAL_ACCESS_TOKEN: holds a character that is not ASCII"), "{err}");
        assert!(!err.message().contains("pak_ab"), "{err}");
    }

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
        let mut pairs = pg_env();
        pairs.extend([("PERSONAL_ACCESS_TOKEN", "pak_1"), ("DATASET_ID", "ds")]);
        let cfg = ScheduleConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        let source = &cfg.run.export.source;
        assert_eq!(source.kind, SourceKind::Postgres);
        assert_eq!(source.port, Some(5432));
        assert_eq!(source.query, "SELECT * FROM db.events");
        assert_eq!(cfg.run.export.output.compression, Compression::Snappy);
        assert_eq!(cfg.run.api.api(), ApiGeneration::UploadToken);
        assert_eq!(cfg.run.api.base_url.as_str(), UPLOAD_TOKEN_BASE_URL);
        assert_eq!(cfg.schedule.expression(), "0 0 * * *");
        assert_eq!(cfg.run.health_check_port, 8080);
        assert_eq!(cfg.run.api.ingest_timeout, Duration::from_secs(1800));
    }

    #[test]
    fn upload_needs_pak_and_dataset() {
        let err = RunConfig::from_env(&Env::from_pairs(pg_env())).unwrap_err();
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
        let err = ExportConfig::from_env(&env).unwrap_err();
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
        pairs.extend([
            ("POLYTEIA_ORGANIZATION_SLUG", "musterstadt"),
            ("PERSONAL_ACCESS_TOKEN", "pak_1"),
            ("DATASET_ID", "ds"),
        ]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(cfg.api.api(), ApiGeneration::Session);
        assert_eq!(cfg.api.base_url.as_str(), SESSION_BASE_URL);
        assert_eq!(cfg.api.organization, Some(Organization::Slug("musterstadt".into())));
    }

    #[test]
    fn secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cr3t pass\n").unwrap();
        let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        pairs.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), file.display().to_string()));
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.export.source.password.as_ref().unwrap().expose(), "s3cr3t pass");

        pairs.push(("SOURCE_DATABASE_PASSWORD".into(), "other".into()));
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
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
            RunConfig::from_env(&Env::from_pairs(pairs))
        };
        // Notepad: a byte order mark and CRLF.
        for content in ["pak_x1y2\n\n", "pak_x1y2\r\n", "pak_x1y2 \t\r\n\n", "\u{feff}pak_x1y2\r\n"] {
            std::fs::write(&file, content).unwrap();
            let cfg = with_file("PERSONAL_ACCESS_TOKEN_FILE").unwrap();
            assert_eq!(cfg.api.personal_access_token.expose(), "pak_x1y2", "{content:?}");
        }
        std::fs::write(&file, "pw x\r\n").unwrap();
        let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        pairs.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), file.display().to_string()));
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(cfg.export.source.password.as_ref().unwrap().expose(), "pw x");

        for content in ["pak_x1\ny2\n", "pak\u{1b}x1y2", "pak_x1\ty2"] {
            std::fs::write(&file, content).unwrap();
            for var in ["PERSONAL_ACCESS_TOKEN_FILE", "SOURCE_DATABASE_PASSWORD_FILE"] {
                let err = with_file(var).unwrap_err();
                assert_eq!(err.exit_code(), 3);
                let expected = format!("{var}: file {} holds a control character", file.display());
                assert!(err.message().contains(&expected), "{content:?}: {err}");
                assert!(
                    err.message().starts_with("configuration has 1 problem:") || var != "PERSONAL_ACCESS_TOKEN_FILE",
                    "{err}"
                );
            }
        }
        // Notepad's "Unicode" (UTF-16) is refused with what to do.
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("pak_x1y2".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        std::fs::write(&file, utf16).unwrap();
        let err = with_file("PERSONAL_ACCESS_TOKEN_FILE").unwrap_err();
        assert!(err.message().contains("it is UTF-16 (Notepad's \"Unicode\"); save it as UTF-8"), "{err}");
        // A key given directly: trailing white space goes, a control character inside is refused.
        let mut pairs = pg_env();
        pairs.extend([("DATASET_ID", "ds"), ("PERSONAL_ACCESS_TOKEN", "pak_x1y2\n")]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.api.personal_access_token.expose(), "pak_x1y2");
        pairs.push(("PERSONAL_ACCESS_TOKEN", "pak_x1\ny2"));
        let err = RunConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
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
            let cfg = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap();
            assert_eq!(cfg.export.source.query, expected, "{given:?}");
        }
        let mut pairs = pg_env();
        pairs.push(("SOURCE_DATABASE_SQL_QUERY", "''"));
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.message().contains("SOURCE_DATABASE_SQL_QUERY: is required"), "{err}");
    }

    #[test]
    fn uploading_a_file_needs_only_the_polyteia_settings() {
        let env =
            Env::from_pairs([("PERSONAL_ACCESS_TOKEN", "pak_1"), ("DATASET_ID", "ds"), ("SOURCE_DATABASE_PORT", "x")]);
        // No source settings: an UploadConfig has no place for them.
        UploadConfig::from_env(&env).unwrap();
        let err = UploadConfig::from_env(&Env::from_pairs([("SOURCE_DATABASE_TYPE", "duckdb")])).unwrap_err();
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
        let err = ScheduleConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap_err();
        let msg = err.message();
        assert!(msg.starts_with("configuration has 3 problems: HEALTH_CHECK_PORT: 'eighty'"), "{msg}");
        assert!(msg.contains("; CRON_SCHEDULE: 'every night' is not a cron expression"), "{msg}");
        assert!(msg.contains("; CRON_TZ: 'Mars/Olympus' is not a time zone name"), "{msg}");
        // Other commands have no schedule.
        pairs.retain(|(k, _)| *k != "HEALTH_CHECK_PORT");
        assert!(RunConfig::from_env(&Env::from_pairs(pairs)).is_ok());
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
    fn base_url_path_is_percent_encoded() {
        let mut pairs = pg_env();
        pairs.extend([
            ("POLYTEIA_BASE_URL", "http://127.0.0.1:8080/mandant ü/%41pi%zz/"),
            ("PERSONAL_ACCESS_TOKEN", "pak_1"),
            ("DATASET_ID", "ds"),
        ]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.api.base_url.as_str(), "http://127.0.0.1:8080/mandant%20%C3%BC/%41pi%25zz");
        for bad in ["http://host/x?y=1", "ftp://host", "http:// host", "https://"] {
            let mut pairs = pg_env();
            pairs.push(("POLYTEIA_BASE_URL", bad));
            let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(err.message().contains("POLYTEIA_BASE_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn monitoring_settings_are_validated_with_everything_else() {
        let mut pairs = pg_env();
        pairs.extend([("DATASET_ID", "ds_permits"), ("PERSONAL_ACCESS_TOKEN", "pak_1")]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert!(!cfg.metrics.is_enabled());
        assert_eq!(Some(cfg.metrics.job.as_str()), PUSHGATEWAY_JOB.default_value());
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
        let cfg = RunConfig::from_env(&Env::from_pairs(good)).unwrap();
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
        let err = ExportConfig::from_env(&Env::from_pairs(bad)).unwrap_err();
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
            let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(err.message().contains(&format!("{var}: ")) && err.message().contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn monitoring_settings_survive_a_failed_configuration() {
        let env = Env::from_pairs([
            ("PUSHGATEWAY_URL", "http://127.0.0.1:9091"),
            ("DATASET_ID", "ds_1"),
            ("LOG_LEVEL", "loud"),
        ]);
        assert!(RunConfig::from_env(&env).is_err());
        let settings = metrics_settings(&env).unwrap();
        assert_eq!(settings.pushgateway.unwrap().url, "http://127.0.0.1:9091");
        assert_eq!(settings.instance.as_deref(), Some("ds_1"));
        let broken = Env::from_pairs([("PUSHGATEWAY_URL", "nonsense")]);
        assert!(metrics_settings(&broken).is_none());
    }
}
