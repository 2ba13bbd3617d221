//! A failed query, classified by what has to be fixed.

use std::path::Path;

use super::export_settings::{OutputSettings, DUCKDB_MEMORY_LIMIT, TEMP_DIR};
use super::settings::SOURCE_DATABASE_SQL_QUERY;
use crate::error::{Error, ErrorKind};

/// Where an export writes, so that a full disk can be named.
struct Disks<'a> {
    temp_dir: &'a Path,
    dest_dir: &'a Path,
}

/// A failed query, classified by what has to be fixed. DuckDB reports a full
/// disk and a connection the server dropped as query errors, but neither is
/// fixed by changing the query: they get the class (and exit code) of what
/// is to be checked instead, local I/O (7) and the source database (4).
/// Driver texts that do not say what to do get a hint.
pub(crate) fn query_error(err: &duckdb::Error) -> Error {
    classify_query_failure(&err.to_string(), None)
}

pub(crate) fn export_error(err: &duckdb::Error, dest: &Path, output: &OutputSettings) -> Error {
    let dest_dir = dest.parent().unwrap_or(Path::new("."));
    classify_query_failure(&err.to_string(), Some(Disks { temp_dir: &output.temp_dir, dest_dir }))
}

fn classify_query_failure(text: &str, disks: Option<Disks>) -> Error {
    const DISK_FULL: [&str; 4] =
        ["no space left on device", "disk quota exceeded", "max_temp_directory_size", "file too large"];
    const READ_ONLY: [&str; 4] = ["read-only mode", "read only", "read-only transaction", "read-only connection"];
    const CONNECTION_LOST: [&str; 11] = [
        "terminating connection",
        "server closed the connection unexpectedly",
        "connection to server was lost",
        "no connection to the server",
        "could not receive data from server",
        "lost connection to",
        "server has gone away",
        "connection was killed",
        "connection reset by peer",
        "ssl syscall error",
        "eof detected",
    ];
    if text.contains("INTERRUPT") || text.contains("Interrupted") {
        return Error::new(ErrorKind::Query, "the query was interrupted");
    }
    let detail = strip_duckdb_prefix(text);
    let lower = detail.to_ascii_lowercase();
    if let (Some(disks), true) = (&disks, DISK_FULL.iter().any(|m| lower.contains(m))) {
        let temp_dir = disks.temp_dir.display().to_string();
        let dest_dir = disks.dest_dir.display().to_string();
        let (place, remedy) = if detail.contains(&dest_dir) && !dest_dir.starts_with(&temp_dir) {
            (
                format!("the disk holding the --output directory {dest_dir} is full"),
                "write the file to a disk with room".to_string(),
            )
        } else if lower.contains("max_temp_directory_size") {
            (
                format!("the disk holding {} ({temp_dir}) is full", TEMP_DIR.name),
                format!(
                    "point {} to a disk with room for DuckDB's spill files, or raise {}",
                    TEMP_DIR.name, DUCKDB_MEMORY_LIMIT.name
                ),
            )
        } else {
            (
                format!("the disk holding {} ({temp_dir}) is full", TEMP_DIR.name),
                format!("point {} to a disk with room", TEMP_DIR.name),
            )
        };
        return Error::new(ErrorKind::LocalIo, format!("{place}: {detail}; free space there, or {remedy}"));
    }
    if CONNECTION_LOST.iter().any(|m| lower.contains(m)) {
        return Error::new(
            ErrorKind::SourceUnreachable,
            format!(
                "the connection to the source database was lost during the query: {detail}; check that the server \
                 is running and that nothing (a restart or failover, an administrator, a proxy or network timeout) \
                 ends the connection"
            ),
        );
    }
    let hint = if READ_ONLY.iter().any(|m| lower.contains(m)) {
        &format!(
            "; the source is attached read-only and is never written: {} must be a single SELECT",
            SOURCE_DATABASE_SQL_QUERY.name
        )
    } else if lower.contains("duplicate column name") {
        "; give every result column its own name (… AS name)"
    } else {
        ""
    };
    Error::new(ErrorKind::Query, format!("the query failed: {detail}{hint}"))
}

/// DuckDB prefixes some errors with a redundant class name.
pub(crate) fn strip_duckdb_prefix(text: &str) -> &str {
    text.strip_prefix("Invalid Input Error: ").unwrap_or(text)
}
