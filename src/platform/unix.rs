//! Unix: signals, file modes, the loader's map of the process.

use std::path::{Path, PathBuf};

use super::{Stop, StopRequest};

pub(super) const DUCKDB_LIBRARY: &str = "libduckdb.so";
pub(super) const DUCKDB_LIBRARY_PLACE: &str =
    "install the libduckdb.so that came with the connector beside it (or in ../lib/polyteia-db-connector)";

/// Where the Debian package installs the DuckDB extensions.
const PACKAGED_EXTENSION_DIRECTORY: &str = "/usr/lib/polyteia-db-connector/extensions";

pub(super) fn on_stop_request(handler: Box<dyn Fn(StopRequest) + Send + Sync>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            let request = match signal {
                SIGINT => StopRequest { stop: Stop::Interrupt, name: "SIGINT" },
                _ => StopRequest { stop: Stop::Terminate, name: "SIGTERM" },
            };
            handler(request);
        }
    })?;
    Ok(())
}

pub(super) fn make_readable_by_others(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

/// From /proc/self/maps: the mapped file whose name starts with `libduckdb`.
pub(super) fn loaded_duckdb_library() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| Path::new(path).file_name().is_some_and(|name| name.to_string_lossy().starts_with("libduckdb")))
        .map(PathBuf::from)
}

pub(super) fn default_extension_directory() -> Option<PathBuf> {
    Some(PathBuf::from(PACKAGED_EXTENSION_DIRECTORY))
}
