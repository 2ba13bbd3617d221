//! The engine and export settings: DuckDB's resources (`DUCKDB_*`), where the
//! file goes (`TEMP_DIR`), its shape (`PARQUET_*`) and whether an empty
//! result may replace a dataset (`ALLOW_EMPTY_RESULT`), which columns' known
//! losses are accepted (`ACCEPT_LOSS_COLUMNS`). Parsed and checked here, once.

use std::path::PathBuf;

use super::settings::SourceSettings;
use crate::area::{Area, Input};
use crate::env::Env;
use crate::pseudonym::settings::Pseudonymization;
use crate::retry::RetryPolicy;
use crate::setting::{
    self, define_settings, Problems,
    WhenUnset::{Described, Unset, Value},
};

define_settings! {
    /// The engine and export settings.
    SETTINGS;
    DUCKDB_EXTENSION_DIRECTORY:
        Described("the Debian package's extensions when installed (Windows: extensions beside connector.exe), else DuckDB's own (downloads)"),
        "directory with pre-installed DuckDB extensions";
    DUCKDB_MEMORY_LIMIT: Described("DuckDB default (80 % of RAM)"), "DuckDB memory limit, e.g. 2GB";
    DUCKDB_THREADS: Described("number of cores"), "DuckDB worker threads";
    TEMP_DIR: Described("system temp dir"), "where the Parquet file and spill files go", chart_managed;
    PARQUET_COMPRESSION: Value("snappy"), "snappy, zstd, gzip or uncompressed";
    PARQUET_ROW_GROUP_SIZE: Described("DuckDB default (122880 rows)"), "rows per row group";
    ALLOW_EMPTY_RESULT: Value("false"), "upload a result with no rows (empties the dataset)";
    ACCEPT_LOSS_COLUMNS: Unset, "comma-separated columns whose known loss is accepted (else exit 17)";
}

/// A size DuckDB accepts as `memory_limit`: `4GB`, `512 MiB`, `80%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit(String);

impl MemoryLimit {
    pub fn parse(value: &str) -> Option<MemoryLimit> {
        let value = value.trim();
        is_memory_size(value).then(|| MemoryLimit(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Default)]
pub struct EngineSettings {
    pub extension_directory: Option<PathBuf>,
    pub memory_limit: Option<MemoryLimit>,
    pub threads: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Snappy,
    Zstd,
    Gzip,
    Uncompressed,
}

impl Compression {
    pub fn duckdb_name(self) -> &'static str {
        match self {
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Uncompressed => "uncompressed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutputSettings {
    pub temp_dir: PathBuf,
    pub compression: Compression,
    pub row_group_size: Option<u64>,
    pub allow_empty_result: bool,
    /// Columns whose known loss the user accepts, as written (compared
    /// case-insensitively with the names a refusal gives).
    pub accept_loss_columns: Vec<String>,
    /// `PSEUDONYMIZE_COLUMNS` and its key (`src/pseudonym/`): columns whose
    /// values the file holds as pseudonyms only.
    pub pseudonymize: Option<Pseudonymization>,
}

/// What the export stage needs (the source's settings and these).
#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub source: SourceSettings,
    pub engine: EngineSettings,
    pub output: OutputSettings,
    /// `SOURCE_CONNECT_MAX_ATTEMPTS`, `SOURCE_CONNECT_MAX_BACKOFF`: how
    /// patiently to wait for an unreachable source database.
    pub connect_retry: RetryPolicy,
}

impl Area for EngineSettings {
    fn parse(input: &Input, p: &mut Problems) -> EngineSettings {
        parse_engine(input.env, p)
    }
}

fn parse_engine(env: &Env, p: &mut Problems) -> EngineSettings {
    // DUCKDB_EXTENSION_DIRECTORY wins; else the packaged extensions when installed (the
    // Debian package's, the zip's beside connector.exe), so an installed connector works
    // air-gapped with no setting; else DuckDB's own default.
    let extension_directory =
        DUCKDB_EXTENSION_DIRECTORY.given(env).map(PathBuf::from).or_else(crate::platform::default_extension_directory);
    if let Some(dir) = &extension_directory {
        if !dir.is_dir() {
            p.add(&DUCKDB_EXTENSION_DIRECTORY, format!("directory {} does not exist", dir.display()));
        }
    }
    let memory_limit = DUCKDB_MEMORY_LIMIT.given(env).and_then(|limit| {
        let parsed = MemoryLimit::parse(limit);
        if parsed.is_none() {
            p.add(&DUCKDB_MEMORY_LIMIT, format!("'{}' is not a size such as 512MB, 4GB or 80%", limit.trim()));
        }
        parsed
    });
    let threads = setting::positive::<u32>(env, &DUCKDB_THREADS, p);
    EngineSettings { extension_directory, memory_limit, threads }
}

/// DuckDB accepts sizes like `4GB`, `512 MiB` or a percentage of RAM.
fn is_memory_size(value: &str) -> bool {
    let value = value.trim();
    let digits = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
    if digits == 0 || value[..digits].parse::<f64>().is_err() {
        return false;
    }
    let unit = value[digits..].trim().to_ascii_lowercase();
    const UNITS: [&str; 16] =
        ["", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "%", "k", "m", "g", "t", "bytes"];
    UNITS.contains(&unit.as_str())
}

impl Area for OutputSettings {
    fn parse(input: &Input, p: &mut Problems) -> OutputSettings {
        let mut output = parse_output(input.env, p);
        output.pseudonymize = Area::parse(input, p);
        output
    }
}

fn parse_output(env: &Env, p: &mut Problems) -> OutputSettings {
    let temp_dir = TEMP_DIR.given(env).map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    if !temp_dir.is_dir() {
        p.add(&TEMP_DIR, format!("directory {} does not exist", temp_dir.display()));
    }
    let compression = match PARQUET_COMPRESSION.text(env).map(|c| c.trim().to_ascii_lowercase()) {
        None => Compression::Snappy,
        Some(c) => match c.as_str() {
            "snappy" => Compression::Snappy,
            "zstd" => Compression::Zstd,
            "gzip" => Compression::Gzip,
            "uncompressed" | "none" => Compression::Uncompressed,
            _ => {
                p.add(&PARQUET_COMPRESSION, format!("'{c}' is not one of snappy, zstd, gzip, uncompressed"));
                Compression::Snappy
            }
        },
    };
    OutputSettings {
        temp_dir,
        compression,
        row_group_size: setting::positive::<u64>(env, &PARQUET_ROW_GROUP_SIZE, p),
        allow_empty_result: setting::boolean(env, &ALLOW_EMPTY_RESULT, p),
        accept_loss_columns: setting::column_list(env, &ACCEPT_LOSS_COLUMNS, p),
        pseudonymize: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        for ok in ["4GB", "512MB", "1.5GiB", "80%", "100000"] {
            assert!(is_memory_size(ok), "{ok}");
        }
        for bad in ["", "GB", "lots", "4 parsecs"] {
            assert!(!is_memory_size(bad), "{bad}");
        }
    }
}
