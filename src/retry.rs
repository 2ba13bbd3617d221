//! Retrying with exponential backoff and jitter (backon's schedule), for
//! every place that waits for something to come back: the source connection
//! and the Polyteia API. Waits are cut into short slices so that a SIGTERM
//! during a backoff is acted on at once, and a wait is at least what the
//! other side asked for (`Retry-After`), never longer than the maximum.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};

/// How often and how patiently to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The first delay; each further one doubles, plus jitter.
    pub base_delay: Duration,
    /// No delay is longer, a requested one (`Retry-After`) included.
    pub max_delay: Duration,
}

impl RetryPolicy {
    fn attempts(&self) -> u32 {
        self.attempts.max(1)
    }

    fn cap(&self) -> Duration {
        self.max_delay.max(self.base_delay)
    }

    /// The waits between attempts. backon adds its jitter on top of the
    /// maximum, so the cap is applied here once more.
    fn backoff(&self) -> impl Iterator<Item = Duration> {
        let cap = self.cap();
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.base_delay)
            .with_max_delay(cap)
            .with_max_times(self.attempts().saturating_sub(1) as usize)
            .build()
            .map(move |delay| delay.min(cap))
    }
}

/// Whether a failed attempt is worth another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again, waiting at least `after` if the other side asked for it.
    Retry { after: Option<Duration> },
    /// Give up with this failure.
    Stop,
}

/// Why [`retry`] gave up.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// The last failure; `exhausted` when it was still worth retrying but
    /// no attempts were left.
    Failed { error: E, attempts: u32, exhausted: bool },
    /// The cancel flag was set (before an attempt or during a wait).
    Cancelled,
}

/// The cancel flag was set during a [`sleep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Waits are cut into slices this long so that the cancel flag is noticed quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(50);

/// Sleeps `duration`, returning early with [`Cancelled`] once `cancel` is set.
pub fn sleep(duration: Duration, cancel: &AtomicBool) -> Result<(), Cancelled> {
    let until = Instant::now() + duration;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(Cancelled);
        }
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep(SLEEP_SLICE.min(until - now));
    }
}

/// Runs `attempt` (given its number, from 1) until it succeeds, `judge`
/// says [`Verdict::Stop`], the policy's attempts are used up, or `cancel` is
/// set. Before each wait `announce` gets the failure, the attempt number and
/// the delay (for a log line).
pub fn retry<T, E>(
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    mut attempt: impl FnMut(u32) -> Result<T, E>,
    mut judge: impl FnMut(&E) -> Verdict,
    mut announce: impl FnMut(&E, u32, Duration),
) -> Result<T, GaveUp<E>> {
    let mut backoff = policy.backoff();
    let mut number = 0u32;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(GaveUp::Cancelled);
        }
        number += 1;
        let error = match attempt(number) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if cancel.load(Ordering::SeqCst) {
            return Err(GaveUp::Cancelled);
        }
        let Verdict::Retry { after } = judge(&error) else {
            return Err(GaveUp::Failed { error, attempts: number, exhausted: false });
        };
        let next = if number < policy.attempts() { backoff.next() } else { None };
        let Some(delay) = next else {
            return Err(GaveUp::Failed { error, attempts: number, exhausted: true });
        };
        let delay = after.map_or(delay, |wanted| delay.max(wanted)).min(policy.cap());
        announce(&error, number, delay);
        sleep(delay, cancel).map_err(|Cancelled| GaveUp::Cancelled)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn policy(attempts: u32, base_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy { attempts, base_delay: Duration::from_millis(base_ms), max_delay: Duration::from_millis(max_ms) }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let delays: Vec<Duration> = policy(6, 100, 500).backoff().collect();
        assert_eq!(delays.len(), 5);
        assert!(delays[0] >= Duration::from_millis(100) && delays[0] < Duration::from_millis(200), "{delays:?}");
        assert!(delays[1] >= Duration::from_millis(200), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(500)), "{delays:?}");
    }

    #[test]
    fn stops_after_the_attempts_and_says_so() {
        let cancel = AtomicBool::new(false);
        let mut waits = Vec::new();
        let result: Result<(), _> =
            retry(&policy(3, 1, 5), &cancel, Err, |_| Verdict::Retry { after: None }, |_, n, _| waits.push(n));
        match result {
            Err(GaveUp::Failed { error: 3, attempts: 3, exhausted: true }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(waits, [1, 2]);
    }

    #[test]
    fn a_final_failure_is_not_retried() {
        let cancel = AtomicBool::new(false);
        let result: Result<(), _> = retry(&policy(5, 1, 5), &cancel, Err, |_| Verdict::Stop, |_, _, _| {});
        assert!(matches!(result, Err(GaveUp::Failed { error: 1, attempts: 1, exhausted: false })), "{result:?}");
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_cap() {
        let cancel = AtomicBool::new(false);
        let mut delays = Vec::new();
        let _: Result<(), _> = retry(
            &policy(2, 1, 40),
            &cancel,
            Err,
            |_| Verdict::Retry { after: Some(Duration::from_secs(3600)) },
            |_, _, d| delays.push(d),
        );
        assert_eq!(delays, [Duration::from_millis(40)]);
    }

    #[test]
    fn a_cancel_during_a_wait_is_acted_on_at_once() {
        let cancel = Arc::new(AtomicBool::new(false));
        let setter = cancel.clone();
        let started = Instant::now();
        let trigger = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            setter.store(true, Ordering::SeqCst);
        });
        let mut calls = 0;
        let result: Result<(), GaveUp<()>> = retry(
            &policy(5, 60_000, 60_000),
            &cancel,
            |_| {
                calls += 1;
                Err(())
            },
            |_| Verdict::Retry { after: None },
            |_, _, _| {},
        );
        trigger.join().unwrap();
        assert!(matches!(result, Err(GaveUp::Cancelled)), "{result:?}");
        assert_eq!(calls, 1, "no further attempt after the cancel");
        assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    }
}
