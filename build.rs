//! Makes the default build (the official prebuilt libduckdb.so, linked
//! dynamically) find its library at run time without `LD_LIBRARY_PATH`:
//!
//! - every binary gets the run-time search path `$ORIGIN` (the library beside the
//!   binary, as in `target/release/` or an unpacked release directory) and
//!   `$ORIGIN/../lib/polyteia-db-connector` (an installed layout such as
//!   `/usr/bin/connector` + `/usr/lib/polyteia-db-connector/libduckdb.so`);
//! - the library from `DUCKDB_LIB_DIR` is copied beside the binaries of this build
//!   (`target/<profile>/` and, for test executables, `target/<profile>/deps/`).
//!
//! For a Windows target (the cross build of scripts/build-windows) the library is
//! `duckdb.dll` instead: linked directly (MinGW's linker needs no import library),
//! copied beside `connector.exe` the same way, and found there by Windows' own DLL
//! search order (the executable's directory first), so no search path is set.
//!
//! With `--features bundled` DuckDB is compiled into the binary and none of this applies.
//!
//! Both builds also get the DuckDB release the connector is made for, from the file
//! `DUCKDB_VERSION` (the one place it is written), as `env!("CONNECTOR_DUCKDB_VERSION")`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    export_duckdb_version();
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        println!("cargo:rustc-env=CONNECTOR_DUCKDB_LINKAGE=bundled");
        return;
    }
    println!("cargo:rustc-env=CONNECTOR_DUCKDB_LINKAGE=shared");

    let lib_dir = match env::var_os("DUCKDB_LIB_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => fail("DUCKDB_LIB_DIR is not set (.cargo/config.toml sets it to .duckdb/lib)"),
    };
    let windows = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    let name = if windows { "duckdb.dll" } else { "libduckdb.so" };
    let library = lib_dir.join(name);
    println!("cargo:rerun-if-changed={}", library.display());
    if !library.is_file() {
        fail(&format!("{} does not exist", library.display()));
    }

    if !windows {
        // Each entry is searched in order; $ORIGIN is expanded by the dynamic loader.
        println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:$ORIGIN/../lib/polyteia-db-connector");
    }

    let profile_dir = profile_dir();
    for dir in [profile_dir.clone(), profile_dir.join("deps")] {
        if let Err(err) = place_library(&library, &dir) {
            fail(&format!("cannot copy {} to {}: {err}", library.display(), dir.display()));
        }
    }
}

/// `CONNECTOR_DUCKDB_VERSION` (three numbers, no `v`) for the library, the binary and the tests,
/// read from the file `DUCKDB_VERSION`, which the scripts read as well.
fn export_duckdb_version() {
    const FILE: &str = "DUCKDB_VERSION";
    let path = Path::new(&env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join(FILE);
    println!("cargo:rerun-if-changed={}", path.display());
    let text = fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let version = text.trim();
    let numbers: Vec<&str> = version.split('.').collect();
    if numbers.len() != 3 || numbers.iter().any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit())) {
        panic!("{}: {version:?} is not a DuckDB release number (MAJOR.MINOR.PATCH)", path.display());
    }
    println!("cargo:rustc-env=CONNECTOR_DUCKDB_VERSION={version}");
}

/// `target/<profile>` (or `target/<triple>/<profile>`): OUT_DIR is
/// `<that>/build/<package>-<hash>/out`.
fn profile_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    out_dir.ancestors().nth(3).expect("OUT_DIR is inside the target directory").to_path_buf()
}

/// Hard link when possible (no 70 MB copy), else copy; through a temporary name
/// and a rename, so a binary never starts with a half-written library beside it.
fn place_library(library: &Path, dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let name = library.file_name().expect("the library path names a file").to_string_lossy();
    let target = dir.join(&*name);
    if let (Ok(a), Ok(b)) = (fs::metadata(library), fs::metadata(&target)) {
        use std::os::unix::fs::MetadataExt;
        if a.ino() == b.ino() && a.dev() == b.dev() {
            return Ok(());
        }
    }
    let temporary = dir.join(format!(".{name}.{}", std::process::id()));
    let _ = fs::remove_file(&temporary);
    if fs::hard_link(library, &temporary).is_err() {
        fs::copy(library, &temporary)?;
    }
    fs::rename(&temporary, &target)
}

fn fail(problem: &str) -> ! {
    panic!(
        "\n\nThe default build links the official prebuilt DuckDB library, but {problem}.\n\
         Fetch it with `scripts/fetch-duckdb` (or point DUCKDB_LIB_DIR at a directory holding the \
         libduckdb.so, or for Windows the duckdb.dll (scripts/fetch-duckdb --platform windows_amd64), of the release in the file DUCKDB_VERSION), or compile DuckDB into the binary instead: `cargo build --release --features bundled`.\n\n"
    )
}
