//! The pseudonymisation settings: which result columns are replaced by a
//! keyed pseudonym (`PSEUDONYMIZE_COLUMNS`) and the key
//! (`PSEUDONYMIZATION_KEY` / `PSEUDONYMIZATION_KEY_FILE`). Parsed and checked
//! here, once, before anything connects.

use crate::area::{Area, Input};
use crate::env::Env;
use crate::secret::Secret;
use crate::setting::{self, define_settings, Problems, WhenUnset::Unset};

define_settings! {
    /// The pseudonymisation settings.
    SETTINGS;
    PSEUDONYMIZE_COLUMNS: Unset,
        "comma-separated result columns replaced by HMAC-SHA256 pseudonyms (64 hex characters; needs PSEUDONYMIZATION_KEY)";
    PSEUDONYMIZATION_KEY: Unset, "key of the pseudonyms, at least 32 bytes (e.g. openssl rand -hex 32)", secret;
}

/// The shortest key accepted, in bytes: HMAC-SHA256's own output length, so
/// the key is never the weak part.
pub const MIN_KEY_BYTES: usize = 32;

/// The columns to pseudonymise and the key (both given, the key long enough).
#[derive(Debug, Clone)]
pub struct Pseudonymization {
    /// As written (compared case-insensitively with the result's names).
    pub columns: Vec<String>,
    pub key: Secret,
}

/// `None` when no column is listed. A list without a key, or a key that is
/// too short, is a problem; a key without a list is not (it may be shared
/// between jobs, some of which pseudonymise nothing).
fn parse(env: &Env, p: &mut Problems) -> Option<Pseudonymization> {
    let columns = setting::column_list(env, &PSEUDONYMIZE_COLUMNS, p);
    let key = setting::secret(env, &PSEUDONYMIZATION_KEY, p);
    let key_given = setting::secret_given(env, &PSEUDONYMIZATION_KEY);
    if let Some(key) = &key {
        let bytes = key.expose().len();
        if bytes < MIN_KEY_BYTES {
            // Which variable was given, so the message points at the right one.
            let variable = match env.get(PSEUDONYMIZATION_KEY.name) {
                Some(_) => PSEUDONYMIZATION_KEY.name.to_string(),
                None => PSEUDONYMIZATION_KEY.file_variant().unwrap_or_default(),
            };
            p.push(setting::Problem::new(
                variable,
                format!(
                    "the key has {bytes} bytes, at least {MIN_KEY_BYTES} are needed \
                     (make one with: openssl rand -hex 32)"
                ),
            ));
            return None;
        }
    }
    if columns.is_empty() {
        return None;
    }
    match key {
        Some(key) => Some(Pseudonymization { columns, key }),
        None => {
            if !key_given {
                p.add(
                    &PSEUDONYMIZE_COLUMNS,
                    format!(
                        "lists columns but no key is set: set {} or {}",
                        PSEUDONYMIZATION_KEY.name,
                        PSEUDONYMIZATION_KEY.file_variant().unwrap_or_default()
                    ),
                );
            }
            None
        }
    }
}

/// An area of its own, carried in the export's `OutputSettings`.
impl Area for Option<Pseudonymization> {
    fn parse(input: &Input, p: &mut Problems) -> Self {
        parse(input.env, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn parsed(pairs: &[(&str, &str)]) -> (Option<Pseudonymization>, Vec<String>) {
        let mut p = Problems::default();
        let parsed = parse(&Env::from_pairs(pairs.iter().copied()), &mut p);
        (parsed, p.iter().map(|problem| problem.to_string()).collect())
    }

    #[test]
    fn columns_and_a_key() {
        let (parsed, problems) =
            parsed(&[("PSEUDONYMIZE_COLUMNS", "person_id, \"E-Mail, privat\""), ("PSEUDONYMIZATION_KEY", KEY)]);
        assert!(problems.is_empty(), "{problems:?}");
        let parsed = parsed.unwrap();
        assert_eq!(parsed.columns, ["person_id", "E-Mail, privat"]);
        assert_eq!(parsed.key.expose(), KEY);
        assert!(!format!("{parsed:?}").contains(KEY));
    }

    #[test]
    fn nothing_listed_is_nothing_to_do() {
        assert!(parsed(&[]).0.is_none() && parsed(&[]).1.is_empty());
        let (nothing, problems) = parsed(&[("PSEUDONYMIZATION_KEY", KEY)]);
        assert!(nothing.is_none() && problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_list_without_a_key_or_with_a_short_key_is_refused() {
        let (_, problems) = parsed(&[("PSEUDONYMIZE_COLUMNS", "a")]);
        assert_eq!(
            problems,
            ["PSEUDONYMIZE_COLUMNS: lists columns but no key is set: set PSEUDONYMIZATION_KEY or PSEUDONYMIZATION_KEY_FILE"]
        );
        let short = &KEY[..31];
        let (_, problems) = parsed(&[("PSEUDONYMIZE_COLUMNS", "a"), ("PSEUDONYMIZATION_KEY", short)]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("PSEUDONYMIZATION_KEY: the key has 31 bytes, at least 32"), "{problems:?}");
        assert!(!problems[0].contains(short));
        // A short key is wrong even where nothing is listed yet.
        assert_eq!(parsed(&[("PSEUDONYMIZATION_KEY", short)]).1.len(), 1);
        let (_, problems) = parsed(&[("PSEUDONYMIZE_COLUMNS", "a,,b"), ("PSEUDONYMIZATION_KEY", KEY)]);
        assert!(problems[0].starts_with("PSEUDONYMIZE_COLUMNS: 'a,,b' has an empty column name"), "{problems:?}");
    }

    #[test]
    fn the_key_may_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{KEY}\n")).unwrap();
        let path = file.display().to_string();
        let (from_file, problems) = parsed(&[("PSEUDONYMIZE_COLUMNS", "a"), ("PSEUDONYMIZATION_KEY_FILE", &path)]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(from_file.unwrap().key.expose(), KEY);
        std::fs::write(&file, "short\n").unwrap();
        let (_, problems) = parsed(&[("PSEUDONYMIZE_COLUMNS", "a"), ("PSEUDONYMIZATION_KEY_FILE", &path)]);
        assert!(problems[0].starts_with("PSEUDONYMIZATION_KEY_FILE: the key has 5 bytes"), "{problems:?}");
    }
}
