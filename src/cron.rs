//! The settings of the long-lived mode: a cron schedule, `CRON_SCHEDULE` (5
//! fields, or 6 with seconds first) in the time zone `CRON_TZ`, and the port
//! of `/healthz` and `/metrics`. Kept apart from the long-lived mode that runs
//! it, so that the configuration validates it with everything else, once.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};

use crate::area::{Area, Input};
use crate::env::Env;
use crate::error::Result;
use crate::setting::{self, define_settings, Problems, WhenUnset::Value};

define_settings! {
    /// The settings of the long-lived mode.
    SETTINGS;
    CRON_SCHEDULE: Value("0 0 * * *"), "schedule of the long-lived mode", chart_managed;
    CRON_TZ: Value("UTC"), "time zone of CRON_SCHEDULE", chart_managed;
    HEALTH_CHECK_PORT: Value("8080"), "port of /healthz and /metrics", chart_managed;
}

/// The long-lived mode's settings.
#[derive(Debug)]
pub(crate) struct LongLivedSettings {
    /// `HEALTH_CHECK_PORT` (validated for every command, as a typo there should
    /// not wait for the first `schedule`; `run --serve-health` uses it too).
    pub(crate) health_check_port: u16,
    /// `CRON_SCHEDULE` in `CRON_TZ`, parsed once, for `schedule` only.
    pub(crate) schedule: Option<Schedule>,
}

impl Area for LongLivedSettings {
    fn parse(input: &Input, p: &mut Problems) -> LongLivedSettings {
        let env = input.env;
        let health_check_port = setting::port(env, &HEALTH_CHECK_PORT, p).unwrap_or_default();
        let schedule = input.needs.schedule.then(|| parse_schedule(env, p)).flatten();
        LongLivedSettings { health_check_port, schedule }
    }
}

fn parse_schedule(env: &Env, p: &mut Problems) -> Option<Schedule> {
    let expression = CRON_SCHEDULE.text(env).unwrap_or_default().trim();
    let tz = CRON_TZ.text(env).unwrap_or_default().trim();
    Schedule::build(expression, tz, p)
}

pub struct Schedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
    expression: String,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schedule({})", self.describe())
    }
}

impl Schedule {
    /// Parses the expression and time zone; an error names the variable.
    pub fn parse(expression: &str, tz: &str) -> Result<Schedule> {
        let mut problems = Problems::default();
        let schedule = Schedule::build(expression, tz, &mut problems);
        problems.into_result(|| schedule)
    }

    /// Like [`Schedule::parse`], with each problem added to `p`, for
    /// configuration validation to report them with everything else.
    fn build(expression: &str, tz: &str, p: &mut Problems) -> Option<Schedule> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| p.add(&CRON_SCHEDULE, format!("'{expression}' is not a cron expression ({e})")))
            .ok();
        let tz = tz
            .parse::<chrono_tz::Tz>()
            .map_err(|_| p.add(&CRON_TZ, format!("'{tz}' is not a time zone name such as UTC or Europe/Berlin")))
            .ok();
        Some(Schedule { cron: cron?, tz: tz?, expression: expression.to_string() })
    }

    /// The time zone the expression is read in.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after.with_timezone(&self.tz), false).ok().map(|t| t.with_timezone(&Utc))
    }

    pub fn describe(&self) -> String {
        format!("'{}' ({})", self.expression, self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::pg_env;
    use crate::config::{RunConfig, ScheduleConfig};
    use chrono::TimeZone;

    #[test]
    fn five_and_six_field_expressions() {
        let daily = Schedule::parse("0 0 * * *", "UTC").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 13, 0, 0).unwrap();
        assert_eq!(daily.next_after(t), Some(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()));
        let every_5s = Schedule::parse("*/5 * * * * *", "UTC").unwrap();
        assert_eq!(every_5s.next_after(t), Some(Utc.with_ymd_and_hms(2026, 11, 26, 13, 0, 5).unwrap()));
    }

    #[test]
    fn time_zone_applies() {
        let berlin = Schedule::parse("0 2 * * *", "Europe/Berlin").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        // 02:00 in Berlin in winter is 01:00 UTC.
        assert_eq!(berlin.next_after(t), Some(Utc.with_ymd_and_hms(2026, 11, 27, 1, 0, 0).unwrap()));
    }

    #[test]
    fn invalid_expression_and_zone_are_config_errors() {
        let err = Schedule::parse("every day", "Mars/Olympus").err().unwrap();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("CRON_SCHEDULE: 'every day'"), "{err}");
        assert!(err.message().contains("CRON_TZ: 'Mars/Olympus'"), "{err}");
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
}
