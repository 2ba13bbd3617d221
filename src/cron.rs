//! A cron schedule: `CRON_SCHEDULE` (5 fields, or 6 with seconds first) in the
//! time zone `CRON_TZ`. Kept apart from the long-lived mode that runs it, so
//! that the configuration can validate it with everything else.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};

use crate::error::{Error, Result};

pub struct Schedule {
    cron: croner::Cron,
    tz: chrono_tz::Tz,
    expression: String,
}

impl Schedule {
    /// Parses the expression and time zone; an error names the variable.
    pub fn parse(expression: &str, tz: &str) -> Result<Schedule> {
        Schedule::build(expression, tz).map_err(|problems| {
            Error::config(problems.iter().map(|(var, message)| format!("{var}: {message}")).collect::<Vec<_>>().join("; "))
        })
    }

    /// Like [`Schedule::parse`], with each problem as (variable, message),
    /// for configuration validation to report them with everything else.
    pub fn build(expression: &str, tz: &str) -> std::result::Result<Schedule, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| problems.push(("CRON_SCHEDULE", format!("'{expression}' is not a cron expression ({e})"))))
            .ok();
        let tz = tz
            .parse::<chrono_tz::Tz>()
            .map_err(|_| problems.push(("CRON_TZ", format!("'{tz}' is not a time zone name such as UTC or Europe/Berlin"))))
            .ok();
        match (cron, tz) {
            (Some(cron), Some(tz)) => Ok(Schedule { cron, tz, expression: expression.to_string() }),
            _ => Err(problems),
        }
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
}
