//! Stopping work in progress on SIGTERM / SIGINT: the flag every loop and
//! reader checks, DuckDB's query interrupt, and which signal it was (for
//! the 143 / 130 exit codes).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::source::InterruptHandle;

#[derive(Default)]
pub struct Cancellation {
    flag: Arc<AtomicBool>,
    signal: AtomicI32,
    query: Mutex<Option<InterruptHandle>>,
}

impl Cancellation {
    pub fn new() -> Arc<Cancellation> {
        Arc::new(Cancellation::default())
    }

    /// The plain flag, for code that only needs to poll it (uploads, waits).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Stops what is running: sets the flag and interrupts a running query.
    pub fn cancel(&self, signal: i32) {
        self.signal.store(signal, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
        if let Some(query) = self.query.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            query.interrupt();
        }
    }

    /// Registers (or clears) the DuckDB connection whose query a signal interrupts.
    pub fn set_query(&self, handle: Option<InterruptHandle>) {
        *self.query.lock().unwrap_or_else(|e| e.into_inner()) = handle;
        if self.is_cancelled() {
            if let Some(query) = self.query.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                query.interrupt();
            }
        }
    }

    /// The error to report when a signal stopped the work.
    pub fn interrupted_error(&self, during: &str) -> Option<Error> {
        let kind = match self.signal.load(Ordering::SeqCst) {
            s if s == signal_hook::consts::SIGINT => ErrorKind::InterruptedSigint,
            s if s == signal_hook::consts::SIGTERM => ErrorKind::InterruptedSigterm,
            _ if self.is_cancelled() => ErrorKind::InterruptedSigterm,
            _ => return None,
        };
        let name = if kind == ErrorKind::InterruptedSigint { "SIGINT" } else { "SIGTERM" };
        Some(Error::new(kind, format!("stopped by {name} during {during}; nothing was uploaded half-done")))
    }

    /// A failure after a signal is reported as the interruption it is: the
    /// query, the upload or the wait failed because we stopped it.
    pub fn explain<T>(&self, during: &str, result: Result<T>) -> Result<T> {
        match result {
            Err(err) => Err(self.interrupted_error(during).unwrap_or(err)),
            ok => ok,
        }
    }

    /// Routes SIGTERM and SIGINT to [`Cancellation::cancel`]. A second signal
    /// while stopping exits at once.
    pub fn install_signal_handlers(self: &Arc<Self>) -> Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot install signal handlers: {e}")))?;
        let me = self.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if me.is_cancelled() {
                        log::warn!("second signal: exiting immediately");
                        std::process::exit(128 + signal);
                    }
                    let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                    log::warn!(signal = name; "received {name}: stopping the work in progress");
                    me.cancel(signal);
                }
            })
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the signal thread: {e}")))?;
        Ok(())
    }
}
