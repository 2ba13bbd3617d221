//! The long-lived mode of the original connector: the cycle on
//! `CRON_SCHEDULE` (5 fields, or 6 with seconds first) in `CRON_TZ`, never
//! two cycles at once, `/healthz` and `/metrics` always served.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};

use crate::cancel::Cancellation;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::job::{self, Context, Stages};
use crate::polyteia::Api;
use crate::source::Export;

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

/// Runs cycles on the schedule until a signal arrives; then stops the
/// running cycle, waits for its clean-up and returns the interruption.
pub fn run(
    config: Arc<Config>,
    export: Arc<dyn Export>,
    api: Arc<dyn Api>,
    schedule: Schedule,
    run_now: bool,
    ctx: Context,
) -> Result<()> {
    let running = Arc::new(AtomicBool::new(false));
    let mut worker: Option<std::thread::JoinHandle<()>> = None;
    log::info!(schedule = schedule.describe(); "scheduler started: {}", schedule.describe());

    let start_cycle = |worker: &mut Option<std::thread::JoinHandle<()>>| {
        if running.swap(true, Ordering::SeqCst) {
            log::warn!("cycle skipped: the previous cycle is still running");
            ctx.state.cycle_skipped();
            return;
        }
        if let Some(done) = worker.take() {
            let _ = done.join();
        }
        let (config, export, api, ctx, running) =
            (config.clone(), export.clone(), api.clone(), ctx.clone(), running.clone());
        *worker = std::thread::Builder::new()
            .name("cycle".into())
            .spawn(move || {
                // Failures are logged and recorded inside; the scheduler goes on.
                let stages = Stages { export: export.as_ref(), api: api.as_ref() };
                let _ = job::run_recorded(stages, &config, &ctx);
                if let Some(outcome) = ctx.state.last_outcome() {
                    crate::metrics::publish(&config.metrics, &outcome, ctx.cancel.is_cancelled());
                }
                running.store(false, Ordering::SeqCst);
            })
            .ok();
    };

    if run_now {
        start_cycle(&mut worker);
    }
    while !ctx.cancel.is_cancelled() {
        let Some(next) = schedule.next_after(Utc::now()) else {
            return Err(Error::config(format!("CRON_SCHEDULE {} has no future run time", schedule.describe())));
        };
        ctx.state.set_next_run(Some(next));
        log::debug!(next_run = next.to_rfc3339(); "next cycle at {next}");
        if !sleep_until(next, &ctx.cancel) {
            break;
        }
        start_cycle(&mut worker);
    }
    if let Some(worker) = worker {
        let _ = worker.join();
    }
    Err(ctx.cancel.interrupted_error("schedule mode").unwrap_or_else(|| Error::config("scheduler stopped")))
}

/// Sleeps in short slices so a signal is noticed quickly; false when cancelled.
fn sleep_until(due: DateTime<Utc>, cancel: &Cancellation) -> bool {
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let left = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
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
