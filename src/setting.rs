//! One setting: its definition (name, default, doc, secret, chart-managed),
//! how a value is read from the [`Env`], and what can be wrong with it (a
//! [`Problem`], collected in [`Problems`] so that every problem of every area
//! is reported at once).
//!
//! Each area defines its own settings with [`define_settings!`] beside the
//! code that parses them (`polyteia/settings.rs`, `source/settings.rs`, …);
//! [`crate::settings::ALL`] joins the areas' lists.

use std::borrow::Cow;
use std::time::Duration;

use crate::env::Env;
use crate::error::Error;
use crate::secret::Secret;

/// What applies when a setting is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnset {
    /// Must be given; the text says when ("for `run`", "for servers").
    Required(&'static str),
    /// This value, parsed like a given one.
    Value(&'static str),
    /// Decided elsewhere (the driver, DuckDB, another setting); the text says how.
    Described(&'static str),
    /// Unset means "not used".
    Unset,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub default: WhenUnset,
    /// Accepted as `NAME_FILE` too, never logged or shown.
    pub secret: bool,
    /// Set by the Helm chart itself (refused inside the chart's `config`).
    pub chart_managed: bool,
    /// One line on what it means: the man page's ENVIRONMENT section shows it.
    pub doc: &'static str,
}

impl Setting {
    pub const fn new(name: &'static str, default: WhenUnset, doc: &'static str) -> Setting {
        Setting { name, default, secret: false, chart_managed: false, doc }
    }

    pub const fn secret(self) -> Setting {
        Setting { secret: true, ..self }
    }

    pub const fn chart_managed(self) -> Setting {
        Setting { chart_managed: true, ..self }
    }

    /// The default value, for settings that have one.
    pub fn default_value(&self) -> Option<&'static str> {
        match self.default {
            WhenUnset::Value(value) => Some(value),
            _ => None,
        }
    }

    /// `NAME_FILE`, for secrets.
    pub fn file_variant(&self) -> Option<String> {
        self.secret.then(|| format!("{}_FILE", self.name))
    }

    /// The given value, else the default from the definition.
    pub fn text<'a>(&self, env: &'a Env) -> Option<&'a str> {
        env.get(self.name).or(self.default_value())
    }

    /// The given value only (empty counts as unset).
    pub fn given<'a>(&self, env: &'a Env) -> Option<&'a str> {
        env.get(self.name)
    }
}

/// Defines an area's settings and the list of them, so that a setting cannot
/// be defined without being listed: each `NAME: default, "doc"[, flag…];`
/// becomes `pub const NAME: Setting` named `"NAME"` (flags: `secret`,
/// `chart_managed`), and `$list` is every one of them in order.
macro_rules! define_settings {
    ($(#[$list_meta:meta])* $list:ident; $($(#[$meta:meta])* $name:ident: $default:expr, $doc:expr $(, $flag:ident)*;)+) => {
        $(
            $(#[$meta])*
            pub(crate) const $name: $crate::setting::Setting =
                $crate::setting::Setting::new(stringify!($name), $default, $doc)$(.$flag())*;
        )+
        $(#[$list_meta])*
        pub(crate) const $list: &[$crate::setting::Setting] = &[$($name),+];
    };
}
pub(crate) use define_settings;

/// What is wrong with one setting: the variable as given (`NAME`,
/// `NAME_FILE`, `https_proxy`) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: Cow<'static, str>,
    pub message: String,
}

impl Problem {
    pub fn new(variable: impl Into<Cow<'static, str>>, message: impl std::fmt::Display) -> Problem {
        Problem { variable: variable.into(), message: message.to_string() }
    }

    /// This problem alone as a configuration error (exit code 3).
    pub fn into_error(self) -> Error {
        Error::config(self.to_string())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

/// The problems of one validation pass over every area, in the order found.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    /// A problem with `setting`.
    pub(crate) fn add(&mut self, setting: &Setting, message: impl std::fmt::Display) {
        self.push(Problem::new(setting.name, message));
    }

    pub(crate) fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    /// Every problem in one configuration error: "configuration has 2
    /// problems: A: …; B: …".
    pub(crate) fn into_error(self) -> Error {
        let count = self.0.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        let list: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        Error::config(format!("configuration has {count} {noun}: {}", list.join("; ")))
    }

    /// `value` when nothing was found wrong, else every problem.
    pub(crate) fn into_result<T>(self, value: impl FnOnce() -> Option<T>) -> crate::error::Result<T> {
        if !self.is_empty() {
            return Err(self.into_error());
        }
        value().ok_or_else(|| {
            crate::error::Error::new(
                crate::error::ErrorKind::Internal,
                "a setting is missing but no problem was reported",
            )
        })
    }
}

// ---------------------------------------------------------------------------
// Reading values of the common shapes; a bad value is a problem and the
// default (or nothing) is used, so that validation goes on.

pub(crate) fn port(env: &Env, setting: &Setting, p: &mut Problems) -> Option<u16> {
    let value = setting.text(env)?;
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Some(port),
        _ => {
            p.add(setting, format!("'{value}' is not a port number (1-65535)"));
            None
        }
    }
}

pub(crate) fn boolean(env: &Env, setting: &Setting, p: &mut Problems) -> bool {
    match setting.text(env).map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                p.add(setting, format!("'{v}' is not true or false"));
                false
            }
        },
    }
}

pub(crate) fn positive<T: std::str::FromStr + PartialOrd + Default>(
    env: &Env,
    setting: &Setting,
    p: &mut Problems,
) -> Option<T> {
    let value = setting.text(env)?;
    match value.trim().parse::<T>() {
        Ok(n) if n > T::default() => Some(n),
        _ => {
            p.add(setting, format!("'{value}' is not a positive whole number"));
            None
        }
    }
}

/// Durations in the original connector's Go style: `5s`, `30m`, `1h30m`, `500ms`.
/// A bare number means seconds.
pub(crate) fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    humantime::parse_duration(value).ok()
}

/// A duration setting; unset, its default from the definition.
pub(crate) fn duration(env: &Env, setting: &Setting, p: &mut Problems) -> Duration {
    let default = setting.default_value().and_then(parse_duration).expect("duration settings have a valid default");
    match env.get(setting.name) {
        None => default,
        Some(v) => match parse_duration(v) {
            Some(d) if !d.is_zero() => d,
            _ => {
                p.add(setting, format!("'{v}' is not a duration such as 30s, 5m or 1h30m"));
                default
            }
        },
    }
}

/// A secret from `NAME` or from the file named by `NAME_FILE` (not both).
/// A file's trailing white space (line breaks from an editor, `echo` or
/// Windows) is not part of the secret; a control character inside it is
/// refused here, as it would only fail later as a confusing network or
/// login error.
pub(crate) fn secret(env: &Env, setting: &Setting, p: &mut Problems) -> Option<Secret> {
    let name = setting.name;
    let file_var = setting.file_variant().expect("secret() is for secret settings");
    let mut file_problem = |message: String| p.push(Problem::new(file_var.clone(), message));
    match (env.get(name), env.get(&file_var)) {
        (Some(_), Some(_)) => {
            p.add(setting, format!("set either {name} or {file_var}, not both"));
            None
        }
        (Some(value), None) => Some(Secret::new(value)),
        (None, Some(path)) => match std::fs::read(path) {
            Ok(bytes) if crate::env::is_utf16(&bytes) => {
                file_problem(format!("file {path}: {}", crate::env::UTF16_PROBLEM));
                None
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    // Notepad writes a byte order mark before UTF-8 text.
                    let value = text.strip_prefix('\u{feff}').unwrap_or(&text).trim_end();
                    if value.is_empty() {
                        file_problem(format!("file {path} is empty"));
                        None
                    } else if value.chars().any(char::is_control) {
                        file_problem(format!(
                            "file {path} holds a control character (a line break, tab or the like) inside the \
                             secret; the file must hold the secret alone, on one line"
                        ));
                        None
                    } else {
                        Some(Secret::new(value))
                    }
                }
                Err(_) => {
                    file_problem(format!("file {path} is not valid UTF-8"));
                    None
                }
            },
            Err(e) => {
                file_problem(format!("cannot read {path}: {e}"));
                None
            }
        },
        (None, None) => None,
    }
}

/// Whether `NAME` or `NAME_FILE` of a secret is given.
pub(crate) fn secret_given(env: &Env, setting: &Setting) -> bool {
    env.get(setting.name).is_some() || setting.file_variant().is_some_and(|file| env.get(&file).is_some())
}

/// A list of column names, `a, "B, c",d`: comma-separated, a name may be
/// quoted to hold a comma or spaces (`ACCEPT_LOSS_COLUMNS`,
/// `PSEUDONYMIZE_COLUMNS`). Unset or empty: no names.
pub(crate) fn column_list(env: &Env, setting: &Setting, p: &mut Problems) -> Vec<String> {
    parse_column_list(setting.text(env).unwrap_or(""), setting, p)
}

fn parse_column_list(text: &str, setting: &Setting, p: &mut Problems) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), quoted[end + 1..].trim_start()),
                None => {
                    p.add(setting, format!("unclosed quote in '{text}'"));
                    return names;
                }
            }
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        if name.is_empty() {
            p.add(setting, format!("'{text}' has an empty column name"));
            return names;
        }
        names.push(name);
        rest = match after.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if after.trim().is_empty() => "",
            None => {
                p.add(setting, format!("expected a comma after a quoted name in '{text}'"));
                return names;
            }
        };
    }
    names
}

/// Shortens the first retry delay in the tests (milliseconds); not a
/// documented setting.
pub(crate) const TEST_RETRY_BASE_MS: &str = "CONNECTOR_RETRY_BASE_MS";

/// The first retry delay unless the tests shorten it.
pub(crate) const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_secs(1);

/// See [`DEFAULT_RETRY_BASE_DELAY`].
pub(crate) fn retry_base_delay(env: &Env) -> Duration {
    env.get(TEST_RETRY_BASE_MS)
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_RETRY_BASE_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::pg_env;
    use crate::config::{ExportConfig, RunConfig};

    const LIST: Setting = Setting::new("LIST", WhenUnset::Unset, "a list");

    #[test]
    fn column_lists_are_a_comma_list_with_optional_quotes() {
        let mut p = Problems::default();
        assert_eq!(parse_column_list(" a, \"B, c\" ,d ", &LIST, &mut p), ["a", "B, c", "d"]);
        assert_eq!(parse_column_list("", &LIST, &mut p), Vec::<String>::new());
        assert!(p.is_empty());
        parse_column_list("a,,b", &LIST, &mut p);
        parse_column_list("\"a", &LIST, &mut p);
        assert_eq!(p.iter().count(), 2);
    }

    #[test]
    fn durations_accept_go_style() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cr3t pass\n").unwrap();
        let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        pairs.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), file.display().to_string()));
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.export.source.password.as_ref().unwrap().expose(), "s3cr3t pass");

        pairs.push(("SOURCE_DATABASE_PASSWORD".into(), "other".into()));
        let err = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(err.message().contains("not both"), "{err}");
    }

    #[test]
    fn secret_files_lose_trailing_white_space_and_refuse_control_characters() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        let with_file = |var: &str| {
            let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
            pairs.push((var.into(), file.display().to_string()));
            pairs.extend([("DATASET_ID".to_string(), "ds".to_string())]);
            RunConfig::from_env(&Env::from_pairs(pairs))
        };
        // Notepad: a byte order mark and CRLF.
        for content in ["pak_x1y2\n\n", "pak_x1y2\r\n", "pak_x1y2 \t\r\n\n", "\u{feff}pak_x1y2\r\n"] {
            std::fs::write(&file, content).unwrap();
            let cfg = with_file("PERSONAL_ACCESS_TOKEN_FILE").unwrap();
            assert_eq!(cfg.api.personal_access_token.expose(), "pak_x1y2", "{content:?}");
        }
        std::fs::write(&file, "pw x\r\n").unwrap();
        let mut pairs: Vec<(String, String)> = pg_env().into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        pairs.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), file.display().to_string()));
        let cfg = ExportConfig::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(cfg.export.source.password.as_ref().unwrap().expose(), "pw x");

        for content in ["pak_x1\ny2\n", "pak\u{1b}x1y2", "pak_x1\ty2"] {
            std::fs::write(&file, content).unwrap();
            for var in ["PERSONAL_ACCESS_TOKEN_FILE", "SOURCE_DATABASE_PASSWORD_FILE"] {
                let err = with_file(var).unwrap_err();
                assert_eq!(err.exit_code(), 3);
                let expected = format!("{var}: file {} holds a control character", file.display());
                assert!(err.message().contains(&expected), "{content:?}: {err}");
                assert!(
                    err.message().starts_with("configuration has 1 problem:") || var != "PERSONAL_ACCESS_TOKEN_FILE",
                    "{err}"
                );
            }
        }
        // Notepad's "Unicode" (UTF-16) is refused with what to do.
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("pak_x1y2".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        std::fs::write(&file, utf16).unwrap();
        let err = with_file("PERSONAL_ACCESS_TOKEN_FILE").unwrap_err();
        assert!(err.message().contains("it is UTF-16 (Notepad's \"Unicode\"); save it as UTF-8"), "{err}");
        // A key given directly: trailing white space goes, a control character inside is refused.
        let mut pairs = pg_env();
        pairs.extend([("DATASET_ID", "ds"), ("PERSONAL_ACCESS_TOKEN", "pak_x1y2\n")]);
        let cfg = RunConfig::from_env(&Env::from_pairs(pairs.clone())).unwrap();
        assert_eq!(cfg.api.personal_access_token.expose(), "pak_x1y2");
        pairs.push(("PERSONAL_ACCESS_TOKEN", "pak_x1\ny2"));
        let err = RunConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.message(), "configuration has 1 problem: PERSONAL_ACCESS_TOKEN: holds a control character (a line break, tab or the like); give the key alone");
    }
}
