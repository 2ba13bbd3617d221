//! The DuckDB engine itself: the pinned library release, an in-memory
//! database with the engine settings, and the scanner extensions.

use std::path::Path;

use duckdb::Connection;

use super::export_settings::{EngineSettings, DUCKDB_MEMORY_LIMIT, DUCKDB_THREADS};
use crate::error::{Error, ErrorKind, Result};
use crate::setting::Problem;

/// The DuckDB release this connector is built and tested for: the `duckdb`
/// crate pin, the prebuilt library (scripts/fetch-duckdb) and the extension
/// files (scripts/fetch-extensions) all belong to it. Extensions only load into
/// the exact release they were built for, so another library is refused at start.
pub const DUCKDB_VERSION: &str = concat!("v", env!("CONNECTOR_DUCKDB_VERSION"));

/// How DuckDB is linked into this build: `"shared"` (the official prebuilt
/// libduckdb.so or duckdb.dll, the default) or `"bundled"` (compiled in, `--features bundled`).
pub const DUCKDB_LINKAGE: &str = env!("CONNECTOR_DUCKDB_LINKAGE");

/// The DuckDB library in use, for `connector version`.
pub fn duckdb_library_description() -> String {
    let version = Connection::open_in_memory()
        .and_then(|c| c.query_row("SELECT library_version FROM pragma_version()", [], |r| r.get::<_, String>(0)))
        .unwrap_or_else(|_| "unknown".into());
    match DUCKDB_LINKAGE {
        "bundled" => format!("DuckDB {version}, bundled: compiled into this binary"),
        _ => {
            let path = crate::platform::loaded_duckdb_library()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| crate::platform::DUCKDB_LIBRARY.into());
            format!("DuckDB {version}, official shared library {path}")
        }
    }
}

/// Refuses a DuckDB library other than [`DUCKDB_VERSION`] (a different
/// library found by the loader, or a build against another version).
pub(crate) fn verify_library_version(conn: &Connection) -> Result<()> {
    let (version, _) = duckdb_version_and_platform(conn)?;
    require_pinned_version(&version, crate::platform::loaded_duckdb_library().as_deref())
}

fn require_pinned_version(version: &str, library: Option<&Path>) -> Result<()> {
    if version == DUCKDB_VERSION {
        return Ok(());
    }
    let location = library.map(|p| format!(" ({})", p.display())).unwrap_or_default();
    Err(Error::new(
        ErrorKind::Extension,
        format!(
            "the DuckDB library in use is {version}{location}, but this connector and its extensions \
             need DuckDB {DUCKDB_VERSION}; {}, or rebuild (scripts/fetch-duckdb)",
            crate::platform::DUCKDB_LIBRARY_PLACE
        ),
    ))
}

pub(crate) fn open_duckdb(engine: &EngineSettings, spill_dir: &Path) -> Result<Connection> {
    let mut config = duckdb::Config::default();
    let engine_error = |e: duckdb::Error| Error::new(ErrorKind::Internal, format!("cannot start DuckDB: {e}"));
    if let Some(limit) = &engine.memory_limit {
        config =
            config.max_memory(limit.as_str()).map_err(|e| Problem::new(DUCKDB_MEMORY_LIMIT.name, e).into_error())?;
    }
    if let Some(threads) = engine.threads {
        config = config.threads(i64::from(threads)).map_err(|e| Problem::new(DUCKDB_THREADS.name, e).into_error())?;
    }
    if let Some(dir) = &engine.extension_directory {
        // Offline mode: never download, only load what is in the directory.
        config = config
            .with("extension_directory", path_str(dir)?)
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .map_err(engine_error)?;
    }
    config = config.with("temp_directory", path_str(spill_dir)?).map_err(engine_error)?;
    let conn = Connection::open_in_memory_with_flags(config).map_err(engine_error)?;
    verify_library_version(&conn)?;
    Ok(conn)
}

pub(crate) fn load_extension(conn: &Connection, name: &str, directory: Option<&Path>) -> Result<()> {
    match directory {
        Some(dir) => {
            let (version, platform) = duckdb_version_and_platform(conn)?;
            let file = dir.join(&version).join(&platform).join(format!("{name}.duckdb_extension"));
            if !file.is_file() {
                return Err(Error::new(
                    ErrorKind::Extension,
                    format!(
                        "DuckDB extension {name} is missing: expected {} (DUCKDB_EXTENSION_DIRECTORY); \
                         run scripts/fetch-extensions or copy the extension file there",
                        file.display()
                    ),
                ));
            }
            log::debug!("loading DuckDB extension {}", file.display());
            conn.execute_batch(&format!("LOAD {name}")).map_err(|e| {
                Error::new(ErrorKind::Extension, format!("cannot load DuckDB extension {}: {e}", file.display()))
            })
        }
        None => conn.execute_batch(&format!("INSTALL {name}; LOAD {name};")).map_err(|e| {
            Error::new(
                ErrorKind::Extension,
                format!(
                    "cannot install DuckDB extension {name} ({e}); without internet access, \
                     download it with scripts/fetch-extensions and set DUCKDB_EXTENSION_DIRECTORY"
                ),
            )
        }),
    }
}

fn duckdb_version_and_platform(conn: &Connection) -> Result<(String, String)> {
    conn.query_row("SELECT library_version, (SELECT platform FROM pragma_platform()) FROM pragma_version()", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot read DuckDB version: {e}")))
}

pub(crate) fn path_str(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(ErrorKind::LocalIo, format!("path {} is not valid UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_pinned_duckdb_release_is_accepted() {
        assert!(super::require_pinned_version(super::DUCKDB_VERSION, None).is_ok());
        let err =
            super::require_pinned_version("v1.4.3", Some(std::path::Path::new("/usr/lib/libduckdb.so"))).unwrap_err();
        assert_eq!(err.exit_code(), 9);
        assert!(err.message().contains("v1.4.3 (/usr/lib/libduckdb.so)"), "{err}");
        assert!(err.message().contains(&format!("need DuckDB {}", super::DUCKDB_VERSION)), "{err}");
    }

    #[test]
    fn the_library_in_use_is_the_pinned_one() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        super::verify_library_version(&conn).unwrap();
    }
}
