//! The long-lived mode of the original connector: the cycle on
//! `CRON_SCHEDULE` (5 fields, or 6 with seconds first) in `CRON_TZ`, never
//! two cycles at once, `/healthz` and `/metrics` always served.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cancel::Cancellation;
use crate::config::RunConfig;
pub(crate) use crate::cron::Schedule;
use crate::error::{Error, Result};
use crate::job::{self, Context, Stages};
use crate::stages::{Api, Export};

/// Runs cycles on the schedule until a signal arrives; then stops the
/// running cycle, waits for its clean-up and returns the interruption.
pub(crate) fn run(
    config: Arc<RunConfig>,
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
            return Err(Error::config(format!(
                "{} {} has no future run time",
                crate::cron::CRON_SCHEDULE.name,
                schedule.describe()
            )));
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
