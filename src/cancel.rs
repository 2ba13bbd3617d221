//! Stopping work in progress on SIGTERM / SIGINT (on Windows: Ctrl-Break, the
//! console closing / Ctrl-C; `platform` delivers them): the flag every loop and
//! reader checks, the running query's stop (DuckDB's interrupt and, for the
//! native dialect, a cancel on the server), which request it was (for the
//! 143 / 130 exit codes), and the files a second request still removes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::platform::{Stop, StopRequest};

/// What stops a running query from another thread (the source implements it:
/// DuckDB's interrupt, and a cancel on the server where one is needed).
pub trait StopQuery: Send + Sync {
    /// Stops the query; must not block (the signal thread calls it).
    fn stop(&self);
    /// The query is over: a stop still in progress may give up.
    fn finished(&self);
}

/// How long a second signal waits for the temporary files to be removed
/// before the process exits anyway.
const SUDDEN_EXIT_CLEANUP_LIMIT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Cancellation {
    flag: Arc<AtomicBool>,
    request: Mutex<Option<StopRequest>>,
    query: Mutex<Option<Box<dyn StopQuery>>>,
    /// Temporary files and directories of the work in progress.
    leftovers: Mutex<Vec<PathBuf>>,
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

    /// Stops what is running: sets the flag and stops a running query.
    pub(crate) fn cancel(&self, request: StopRequest) {
        *self.request.lock().unwrap_or_else(|e| e.into_inner()) = Some(request);
        self.flag.store(true, Ordering::SeqCst);
        if let Some(query) = self.query.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            query.stop();
        }
    }

    /// Registers (or clears) the query a signal stops.
    pub fn set_query(&self, stopper: Option<Box<dyn StopQuery>>) {
        let mut query = self.query.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = query.take() {
            old.finished();
        }
        *query = stopper;
        if self.is_cancelled() {
            if let Some(query) = query.as_ref() {
                query.stop();
            }
        }
    }

    /// Registers temporary files and directories that a second signal,
    /// which exits at once, still removes; they are forgotten again when the
    /// returned guard is dropped (the normal paths remove them themselves).
    pub fn remove_on_sudden_exit(self: &Arc<Self>, paths: &[&Path]) -> Leftovers {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
        self.leftovers.lock().unwrap_or_else(|e| e.into_inner()).extend(paths.iter().cloned());
        Leftovers { cancel: self.clone(), paths }
    }

    /// The error to report when a signal stopped the work.
    pub fn interrupted_error(&self, during: &str) -> Option<Error> {
        let request = *self.request.lock().unwrap_or_else(|e| e.into_inner());
        let (kind, name) = match request {
            Some(StopRequest { stop: Stop::Interrupt, name }) => (ErrorKind::InterruptedSigint, name),
            Some(StopRequest { stop: Stop::Terminate, name }) => (ErrorKind::InterruptedSigterm, name),
            None if self.is_cancelled() => (ErrorKind::InterruptedSigterm, "SIGTERM"),
            None => return None,
        };
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

    /// Routes the stop requests (SIGTERM and SIGINT, or their Windows
    /// counterparts) to [`Cancellation::cancel`]. A second request while
    /// stopping exits at once, after a bounded attempt to remove the temporary
    /// files.
    pub fn install_signal_handlers(self: &Arc<Self>) -> Result<()> {
        let me = self.clone();
        crate::platform::on_stop_request(move |request| {
            if me.is_cancelled() {
                log::warn!("second signal: removing the temporary files and exiting immediately");
                me.remove_leftovers(SUDDEN_EXIT_CLEANUP_LIMIT);
                let kind = match request.stop {
                    Stop::Interrupt => ErrorKind::InterruptedSigint,
                    Stop::Terminate => ErrorKind::InterruptedSigterm,
                };
                std::process::exit(kind.exit_code());
            }
            log::warn!(signal = request.name; "received {}: stopping the work in progress", request.name);
            me.cancel(request);
        })
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot install signal handlers: {e}")))
    }

    /// Removes the registered files and directories, waiting at most `limit`
    /// (a hung file system must not keep the process from exiting).
    fn remove_leftovers(&self, limit: Duration) {
        let paths = self.leftovers.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (done, finished) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("cleanup".into()).spawn(move || {
            for path in &paths {
                remove_path(path);
            }
            let _ = done.send(());
        });
        if spawned.is_ok() {
            let _ = finished.recv_timeout(limit);
        }
    }
}

/// Registered temporary paths; dropping it unregisters them.
pub struct Leftovers {
    cancel: Arc<Cancellation>,
    paths: Vec<PathBuf>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let mut registered = self.cancel.leftovers.lock().unwrap_or_else(|e| e.into_inner());
        for path in &self.paths {
            if let Some(at) = registered.iter().position(|p| p == path) {
                registered.remove(at);
            }
        }
    }
}

/// Removes a file or a directory tree; a few tries, as the work still
/// running may create a file in the directory meanwhile.
fn remove_path(path: &Path) {
    for _ in 0..5 {
        let removed = match std::fs::symlink_metadata(path) {
            Err(_) => return,
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
        };
        if removed.is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
