//! The configuration of each command, from the [`Env`]: every settings area
//! parses and validates its own settings in the one shape of
//! `area::Area` (`source/settings.rs`, `polyteia/settings.rs`, …);
//! this module runs them all, collects every problem so that an
//! administrator fixes them in one go, and joins the results into the one
//! typed configuration the command needs ([`ExportConfig`], [`UploadConfig`],
//! [`RunConfig`], [`ScheduleConfig`]): a command never finds a part missing
//! at run time.

use crate::area::{Area, Input, Needs};
use crate::cron::{LongLivedSettings, Schedule};
use crate::error::Result;
use crate::setting::{Problem, Problems};
use crate::source::settings::SourceArea;

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

/// Every area, parsed once; their problems are reported in this order.
struct Parsed {
    log: LogSettings,
    source: SourceArea,
    engine: EngineSettings,
    output: OutputSettings,
    api: Option<PolyteiaSettings>,
    metrics: MetricsSettings,
    long_lived: LongLivedSettings,
}

impl Parsed {
    /// Runs every area's parsing, each the same way.
    fn parse(env: &Env, needs: Needs) -> (Parsed, Problems) {
        let mut p = Problems::default();
        for key in env.not_utf8().iter().filter(|key| crate::settings::is_known(key)) {
            p.push(Problem::new(key.clone(), "value is not valid UTF-8"));
        }
        let input = Input::new(env, needs);
        let parsed = Parsed {
            log: Area::parse(&input, &mut p),
            source: Area::parse(&input, &mut p),
            engine: Area::parse(&input, &mut p),
            output: Area::parse(&input, &mut p),
            api: Area::parse(&input, &mut p),
            metrics: Area::parse(&input, &mut p),
            long_lived: Area::parse(&input, &mut p),
        };
        (parsed, p)
    }

    fn export(&self) -> Option<ExportSettings> {
        Some(ExportSettings {
            source: self.source.settings.clone()?,
            engine: self.engine.clone(),
            output: self.output.clone(),
            connect_retry: self.source.connect_retry.clone(),
        })
    }

    fn run(&self) -> Option<RunConfig> {
        Some(RunConfig {
            log: self.log.clone(),
            export: self.export()?,
            api: self.api.clone()?,
            health_check_port: self.long_lived.health_check_port,
            metrics: self.metrics.clone(),
        })
    }
}

impl ExportConfig {
    pub fn from_env(env: &Env) -> Result<ExportConfig> {
        let (parsed, problems) = Parsed::parse(env, Needs { source: true, ..Needs::default() });
        problems.into_result(|| Some(ExportConfig { log: parsed.log.clone(), export: parsed.export()? }))
    }
}

impl UploadConfig {
    pub fn from_env(env: &Env) -> Result<UploadConfig> {
        let (parsed, problems) = Parsed::parse(env, Needs { upload: true, ..Needs::default() });
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
        let (parsed, problems) = Parsed::parse(env, Needs { source: true, upload: true, schedule: false });
        problems.into_result(|| parsed.run())
    }
}

impl ScheduleConfig {
    pub fn from_env(env: &Env) -> Result<ScheduleConfig> {
        let (parsed, problems) = Parsed::parse(env, Needs { source: true, upload: true, schedule: true });
        problems.into_result(|| {
            let run = parsed.run()?;
            Some(ScheduleConfig { run, schedule: parsed.long_lived.schedule? })
        })
    }
}

/// The monitoring settings alone, so that a run whose configuration failed
/// is still reported; `None` when they have problems themselves (the
/// configuration error names those).
pub fn metrics_settings(env: &Env) -> Option<MetricsSettings> {
    let mut p = Problems::default();
    let settings = MetricsSettings::parse(&Input::new(env, Needs::default()), &mut p);
    p.is_empty().then_some(settings)
}

/// What the areas' tests share: the settings of a PostgreSQL source.
#[cfg(test)]
pub(crate) mod testing {
    pub(crate) fn pg_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SOURCE_DATABASE_TYPE", "postgresql"),
            ("SOURCE_DATABASE_HOST", "db.internal"),
            ("SOURCE_DATABASE_USER", "reader"),
            ("SOURCE_DATABASE_NAME", "city"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM db.events;  "),
        ]
    }
}

/// The commands assembled from the areas; each area's own tests are in its file.
#[cfg(test)]
mod tests {
    use super::testing::pg_env;
    use super::*;
    use crate::polyteia::settings::UPLOAD_TOKEN_BASE_URL;
    use std::time::Duration;

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
