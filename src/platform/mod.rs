//! What differs between Unix and Windows, behind one interface, so that no
//! other module needs a `#[cfg]`: how a stop request arrives (signals on Unix,
//! console control events on Windows), how a file is made readable for other
//! users, where the DuckDB library was loaded from and what it is called, and
//! the extension directory used when none is set.

use std::path::PathBuf;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

/// What a stop request asks for; both stop the run the same way and differ
/// only in the exit code (130 as for SIGINT, 143 as for SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT, Ctrl-C: someone at the terminal.
    Interrupt,
    /// SIGTERM; Ctrl-Break, the console closing, logoff or shutdown on Windows.
    Terminate,
}

/// One stop request as it arrived: what it asks for and its name for the log
/// (`SIGTERM`, `Ctrl-Break`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopRequest {
    pub(crate) stop: Stop,
    pub(crate) name: &'static str,
}

impl StopRequest {
    /// SIGTERM or its Windows counterpart, for code that stops the work itself (tests).
    #[cfg(test)]
    pub(crate) const TERMINATE: StopRequest = StopRequest { stop: Stop::Terminate, name: "SIGTERM" };
}

/// Calls `handler` for every stop request, from a thread of its own (Unix) or
/// the thread Windows starts for a console control event. On Windows a closing
/// console, a logoff or a shutdown ends the process once the handler returns,
/// so there the call waits (a few seconds at most, Windows' own limit) for the
/// process to exit after stopping its work.
pub(crate) fn on_stop_request(handler: impl Fn(StopRequest) + Send + Sync + 'static) -> std::io::Result<()> {
    os::on_stop_request(Box::new(handler))
}

/// Lets other local users read a file the connector wrote (the metrics
/// textfile for node_exporter). On Windows the directory's ACL decides.
pub(crate) fn make_readable_by_others(file: &std::fs::File) -> std::io::Result<()> {
    os::make_readable_by_others(file)
}

/// The DuckDB library's file name on this system (`libduckdb.so`, `duckdb.dll`).
pub(crate) const DUCKDB_LIBRARY: &str = os::DUCKDB_LIBRARY;

/// Where an administrator puts the DuckDB library so that the connector finds it.
pub(crate) const DUCKDB_LIBRARY_PLACE: &str = os::DUCKDB_LIBRARY_PLACE;

/// The file the DuckDB library was loaded from, if the system says.
pub(crate) fn loaded_duckdb_library() -> Option<PathBuf> {
    os::loaded_duckdb_library()
}

/// The extension directory when `DUCKDB_EXTENSION_DIRECTORY` is not set:
/// the Debian package's on Linux, `extensions` beside `connector.exe` on
/// Windows (the zip's layout); only if it exists.
pub(crate) fn default_extension_directory() -> Option<PathBuf> {
    os::default_extension_directory().filter(|dir| dir.is_dir())
}
