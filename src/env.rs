//! The raw variables as the program sees them: the process environment over
//! the `.env` files (the environment wins, as with the original connector; of
//! two files, the later one wins). Typing and validating them is the business
//! of each area's `settings` module; this one only reads.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The variables as the program sees them: the environment over the `.env` file.
#[derive(Debug, Default, Clone)]
pub struct Env {
    values: HashMap<String, String>,
    /// Variables whose value is not valid UTF-8 (those that are settings are
    /// reported by validation).
    not_utf8: Vec<String>,
    /// The env files read, in order.
    files: Vec<PathBuf>,
}

impl Env {
    /// Reads the `.env` files and then the process environment. `env_files`
    /// are read in order, later files winning over earlier ones (each must
    /// exist); without any, `./.env` is read when present. The environment
    /// wins over every file. All unreadable files are reported together.
    pub fn load(env_files: &[PathBuf]) -> Result<Env> {
        let mut env = Env::default();
        let files = match env_files {
            [] => Some(PathBuf::from(".env")).filter(|p| p.is_file()).into_iter().collect(),
            given => given.to_vec(),
        };
        let mut problems = Vec::new();
        for path in &files {
            match read_env_file(path) {
                Ok(values) => env.values.extend(values),
                Err(err) => problems.push(err.message().to_string()),
            }
        }
        match problems.len() {
            0 => {}
            1 => return Err(Error::config(problems.remove(0))),
            n => return Err(Error::config(format!("{n} env files cannot be read: {}", problems.join("; ")))),
        }
        env.files = files;
        env.overlay_os(std::env::vars_os());
        Ok(env)
    }

    /// The env files that were read, in order (for the log: names only).
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files
    }

    /// Builds an `Env` from explicit pairs (tests, and the `.env` parser).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        let values = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Env { values, not_utf8: Vec::new(), files: Vec::new() }
    }

    fn overlay_os(&mut self, vars: impl Iterator<Item = (OsString, OsString)>) {
        for (key, value) in vars {
            let Ok(key) = key.into_string() else { continue };
            match value.into_string() {
                Ok(value) => {
                    self.values.insert(key, value);
                }
                Err(_) => self.not_utf8.push(key),
            }
        }
    }

    /// The variables whose value is not valid UTF-8, of any name.
    pub fn not_utf8(&self) -> &[String] {
        &self.not_utf8
    }

    /// Sets a value, as a command-line flag overriding the environment does.
    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_string(), value.to_string());
    }

    /// The value of `key`; an empty value counts as unset, as templated
    /// manifests often leave variables empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.trim().is_empty())
    }
}

/// Whether a file starts with a UTF-16 byte order mark (Notepad's "Unicode").
pub(crate) fn is_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF])
}

/// What to do about a UTF-16 file.
pub(crate) const UTF16_PROBLEM: &str =
    "it is UTF-16 (Notepad's \"Unicode\"); save it as UTF-8 (Notepad: Save as, Encoding \"UTF-8\")";

fn read_env_file(path: &Path) -> Result<HashMap<String, String>> {
    let fail = |detail: String| Error::config(format!("cannot read env file {}: {detail}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    if is_utf16(&bytes) {
        return Err(fail(UTF16_PROBLEM.into()));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        fail(format!("line {line} is not valid UTF-8"))
    })?;
    let environment = |name: &str| std::env::var(name).ok();
    let assignments = crate::dotenv::parse(&text, &environment).map_err(|e| fail(e.to_string()))?;
    Ok(assignments.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_values_are_unquoted_and_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("test.env");
        std::fs::write(&file, "SOURCE_DATABASE_SQL_QUERY='SELECT * FROM db.events'\nDATASET_ID=\"ds_1\"\n# comment\n")
            .unwrap();
        let values = read_env_file(&file).unwrap();
        assert_eq!(values["SOURCE_DATABASE_SQL_QUERY"], "SELECT * FROM db.events");
        assert_eq!(values["DATASET_ID"], "ds_1");

        let mut env = Env { values, not_utf8: vec![], files: vec![] };
        env.overlay_os([(OsString::from("DATASET_ID"), OsString::from("from_env"))].into_iter());
        assert_eq!(env.get("DATASET_ID"), Some("from_env"));
    }

    #[test]
    fn env_file_errors_name_the_right_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.env");
        for (text, line) in [
            ("A=1\n\nbroken line secretvalue\n", 3),
            ("A=1\nA=1 secretvalue x\n", 2),
            ("# c\nB='multi\nline'\nC='unterminated secretvalue\n", 4),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = read_env_file(&file).unwrap_err();
            assert!(err.message().contains(&format!("line {line} ")), "{text:?}: {err}");
            assert!(!err.message().contains("secretvalue"), "{err}");
        }
        std::fs::write(&file, b"A=1\nB=\xff\xfe\n").unwrap();
        let err = read_env_file(&file).unwrap_err();
        assert!(err.message().contains("line 2 is not valid UTF-8"), "{err}");
    }

    #[test]
    fn env_file_quotes_never_swallow_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("quotes.env");
        std::fs::write(
            &file,
            "PW='se\\cr\"et$x\\' # backslash last\nNAME=x\nCERT=\"line1\nline2\"\nexport E='\\'\nLAST='plain'\n",
        )
        .unwrap();
        let values = read_env_file(&file).unwrap();
        assert_eq!(values["PW"], "se\\cr\"et$x\\");
        assert_eq!(values["NAME"], "x");
        assert_eq!(values["CERT"], "line1\nline2");
        assert_eq!(values["E"], "\\");
        assert_eq!(values["LAST"], "plain");

        std::fs::write(&file, "A=1\nPW=it's secret\nNAME='x'\nQ='y'\n").unwrap();
        let err = read_env_file(&file).unwrap_err();
        assert!(err.message().contains("line 2: a quote in the middle of the value"), "{err}");
        assert!(!err.message().contains("secret"), "{err}");
    }

    #[test]
    fn malformed_env_file_names_the_line_not_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.env");
        std::fs::write(&file, "A=1\nthis is not an assignment secretvalue\n").unwrap();
        let err = read_env_file(&file).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().contains("line 2"), "{err}");
        assert!(!err.message().contains("secretvalue"), "{err}");
    }
}
