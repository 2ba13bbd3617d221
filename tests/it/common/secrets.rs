//! Running a scenario with known secret values and proving that none of them
//! leaks: not in stdout or stderr, not in the names of files left in the
//! temporary directory, not in a Parquet file's key/value metadata (nor
//! anywhere else in its bytes) — neither raw nor in an escaped, URL-encoded
//! or base64 form.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::mock_api::Recorded;
use super::{connector, Run};

/// The secret values of one scenario: PAK, database password, session and
/// upload tokens, and whatever else the test knows to be secret.
#[derive(Debug, Clone)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    pub fn new<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Secrets {
        let values: Vec<String> = values.into_iter().map(|v| v.as_ref().to_string()).collect();
        for v in &values {
            // Shorter values would match by chance (and the program does not scrub them either).
            assert!(v.chars().count() >= 6, "a test secret must have at least 6 characters: {v:?}");
        }
        Secrets { values }
    }

    /// Every form in which a secret must not appear, with the form's name.
    pub fn forms(&self) -> Vec<(String, String)> {
        let mut forms = Vec::new();
        for secret in &self.values {
            let mut add = |name: &str, form: String| {
                if !form.is_empty() && !forms.iter().any(|(_, f)| *f == form) {
                    forms.push((name.to_string(), form));
                }
            };
            add("raw", secret.clone());
            add("SQL literal", secret.replace('\'', "''"));
            add("libpq conninfo", secret.replace('\\', "\\\\").replace('\'', "\\'"));
            add("mysql dsn", secret.replace('\\', "\\\\").replace('"', "\\\""));
            add("JSON string", serde_json::to_string(secret).unwrap().trim_matches('"').to_string());
            for keep_unreserved in [false, true] {
                for upper in [true, false] {
                    add("URL-encoded", percent_encode(secret, keep_unreserved, upper));
                }
            }
            add("form-encoded", percent_encode(secret, true, true).replace("%20", "+"));
            add("base64", base64(secret.as_bytes(), STANDARD, true));
            add("base64 (unpadded)", base64(secret.as_bytes(), STANDARD, false));
            add("base64url", base64(secret.as_bytes(), URL_SAFE, false));
        }
        forms
    }

    /// Fails if any form of any secret occurs in `bytes`; `place` says where they came from.
    pub fn assert_absent(&self, place: &str, bytes: &[u8]) {
        for (name, form) in self.forms() {
            assert!(
                !contains(bytes, form.as_bytes()),
                "a secret leaked ({name} form {form:?}) in {place}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    /// stdout and stderr of a run.
    pub fn check_run(&self, run: &Run) {
        self.assert_absent("stdout", run.stdout.as_bytes());
        self.assert_absent("stderr", run.stderr.as_bytes());
    }

    /// The names (relative paths) of everything below `dir`.
    pub fn check_dir(&self, dir: &Path) {
        for path in walk(dir) {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            self.assert_absent(&format!("a file name in {}", dir.display()), relative.to_string_lossy().as_bytes());
        }
    }

    /// A Parquet file: its key/value metadata (read by DuckDB's
    /// `parquet_kv_metadata`) and, for good measure, all of its bytes.
    pub fn check_parquet(&self, file: &Path) {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let literal = format!("'{}'", file.display().to_string().replace('\'', "''"));
        let mut stmt = conn.prepare(&format!("SELECT key, value FROM parquet_kv_metadata({literal})")).unwrap();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = stmt
            .query_map([], |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (key, value) in pairs {
            self.assert_absent(&format!("the Parquet key/value metadata of {}", file.display()), &key);
            self.assert_absent(&format!("the Parquet key/value metadata of {}", file.display()), &value);
        }
        self.assert_absent(&format!("the bytes of {}", file.display()), &std::fs::read(file).unwrap());
    }

    /// Parquet content held in memory (an uploaded file part).
    pub fn check_parquet_bytes(&self, bytes: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("uploaded.parquet");
        std::fs::write(&file, bytes).unwrap();
        self.check_parquet(&file);
    }

    /// Every complete multipart upload among `requests`: its file part.
    pub fn check_uploads(&self, requests: &[Recorded]) {
        for request in requests.iter().filter(|r| r.complete && is_multipart(r)) {
            let (_, content) = request.multipart_part();
            self.check_parquet_bytes(&content);
        }
    }
}

fn is_multipart(r: &Recorded) -> bool {
    r.header("Content-Type").is_some_and(|c| c.starts_with("multipart/form-data"))
}

/// Runs `connector ARGS` with `env` and checks the run against `secrets`:
/// stdout, stderr, no panic, the file names left in `temp_dir` (when given),
/// and the Parquet file of `--output` (when one was written).
pub fn run_with_secrets_checked(
    secrets: &Secrets,
    args: &[&str],
    env: &[(String, String)],
    temp_dir: Option<&Path>,
) -> Run {
    let run = connector(args, env);
    check_finished_run(secrets, &run, args, temp_dir);
    run
}

/// The checks of [`run_with_secrets_checked`] for a run started otherwise
/// (a spawned `schedule`, a run with extra environment).
pub fn check_finished_run(secrets: &Secrets, run: &Run, args: &[&str], temp_dir: Option<&Path>) {
    super::assert_no_panic(run);
    secrets.check_run(run);
    if let Some(dir) = temp_dir {
        secrets.check_dir(dir);
    }
    if let Some(output) = args.iter().position(|a| *a == "--output").and_then(|i| args.get(i + 1)) {
        let output = PathBuf::from(output);
        if output.is_file() {
            secrets.check_parquet(&output);
        }
        if let Some(parent) = output.parent() {
            secrets.check_dir(parent);
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn percent_encode(value: &str, keep_unreserved: bool, upper: bool) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || (keep_unreserved && b"-._~".contains(&b)) {
                (b as char).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}
