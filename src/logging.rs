//! Log output: human-readable text, or one JSON object per line for log
//! collectors. Every line passes through the secret scrubber.

use std::io::Write;
use std::path::{Path, PathBuf};

use log::kv::{Key, Value, VisitSource};

use crate::area::{Area, Input};
use crate::env::Env;
use crate::secret::scrub;
use crate::setting::{define_settings, Problems, WhenUnset};

// ---------------------------------------------------------------------------
// Settings

define_settings! {
    /// The logging settings.
    SETTINGS;
    LOG_LEVEL: WhenUnset::Value("info"), "debug, info, warn or error";
    LOG_FORMAT: WhenUnset::Value("text"), "text or json";
    LOG_FILE: WhenUnset::Described("none (standard error only)"),
        "also append every log line to this file (a scheduled task without a console)";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The value as `LOG_FORMAT` spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// `LOG_LEVEL`, `LOG_FORMAT` and `LOG_FILE`, validated.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub level: log::LevelFilter,
    pub format: LogFormat,
    /// `LOG_FILE`: every line is also appended to this file.
    pub file: Option<PathBuf>,
}

/// Reads `LOG_LEVEL`, `LOG_FORMAT` and `LOG_FILE`; a bad value is a problem (and the default is used).
impl Area for LogSettings {
    fn parse(input: &Input, p: &mut Problems) -> LogSettings {
        let env = input.env;
        let level = match env.get(LOG_LEVEL.name) {
            None => default_log_level(),
            Some(v) => level_from_str(v).unwrap_or_else(|| {
                p.add(&LOG_LEVEL, format!("'{v}' is not one of {LEVELS}"));
                default_log_level()
            }),
        };
        let format = match env.get(LOG_FORMAT.name) {
            None => default_log_format(),
            Some(v) => format_from_str(v).unwrap_or_else(|| {
                p.add(&LOG_FORMAT, format!("'{v}' is not one of text, json"));
                default_log_format()
            }),
        };
        let file = log_file(env);
        if let Some(path) = &file {
            if let Err(e) = open_log_file(path) {
                p.add(&LOG_FILE, format!("cannot open {} for appending: {e}", path.display()));
            }
        }
        LogSettings { level, format, file }
    }
}

/// The levels `LOG_LEVEL` takes, for messages.
const LEVELS: &str = "debug, info, warn, error";

/// `LOG_FILE`, if set.
fn log_file(env: &Env) -> Option<PathBuf> {
    LOG_FILE.given(env).map(PathBuf::from)
}

fn open_log_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

/// Standard error and, when `LOG_FILE` is set, the file: each line is written
/// whole (one append), so concurrent runs' lines interleave but never mix.
struct Tee {
    file: Option<std::fs::File>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // A full disk under the log file must not stop the run; stderr still has the line.
        if let Some(file) = &mut self.file {
            let _ = file.write_all(buf);
        }
        std::io::stderr().write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The command-line flags `--log-level` and `--log-format`, which win over the environment.
pub(crate) fn override_settings(env: &mut Env, level: Option<&str>, format: Option<LogFormat>) {
    if let Some(level) = level {
        env.set(LOG_LEVEL.name, level);
    }
    if let Some(format) = format {
        env.set(LOG_FORMAT.name, format.name());
    }
}

/// Reads the settings leniently, for setting up logging before validation.
pub(crate) fn settings_hint(env: &Env) -> LogSettings {
    LogSettings {
        level: env.get(LOG_LEVEL.name).and_then(level_from_str).unwrap_or_else(default_log_level),
        format: env.get(LOG_FORMAT.name).and_then(format_from_str).unwrap_or_else(default_log_format),
        file: log_file(env),
    }
}

/// `LOG_FORMAT` from the process environment, if it names a format.
pub(crate) fn format_from_process_environment() -> Option<LogFormat> {
    std::env::var(LOG_FORMAT.name).ok().as_deref().and_then(format_from_str)
}

pub(crate) fn level_from_str(value: &str) -> Option<log::LevelFilter> {
    match value.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(log::LevelFilter::Trace),
        "debug" => Some(log::LevelFilter::Debug),
        "info" => Some(log::LevelFilter::Info),
        "warn" | "warning" => Some(log::LevelFilter::Warn),
        "error" => Some(log::LevelFilter::Error),
        _ => None,
    }
}

pub(crate) fn format_from_str(value: &str) -> Option<LogFormat> {
    match value.trim().to_ascii_lowercase().as_str() {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

fn default_log_level() -> log::LevelFilter {
    LOG_LEVEL.default_value().and_then(level_from_str).expect("the default log level parses")
}

fn default_log_format() -> LogFormat {
    LOG_FORMAT.default_value().and_then(format_from_str).expect("the default log format parses")
}

// ---------------------------------------------------------------------------
// Output

/// A structured field of a log line.
pub(crate) type Field = (String, serde_json::Value);

/// Installs the logger. Our own messages follow `level`; dependencies are
/// held at `warn` so that debug output stays about this program. Lines go
/// to standard error and, when given, are appended to `file` too (a file that
/// cannot be opened is reported by the settings' validation, exit 3).
pub(crate) fn init(level: log::LevelFilter, format: LogFormat, file: Option<&Path>) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level.min(log::LevelFilter::Warn)).filter_module("connector", level);
    match file.and_then(|path| open_log_file(path).ok()) {
        Some(file) => builder.target(env_logger::Target::Pipe(Box::new(Tee { file: Some(file) }))),
        None => builder.target(env_logger::Target::Stderr),
    };
    builder.format(move |buf, record| {
        let line = render(format, record.level(), record.target(), &record.args().to_string(), collect_fields(record));
        writeln!(buf, "{line}")
    });
    // A second init (tests, schedule) keeps the first logger.
    let _ = builder.try_init();
}

/// Whether [`init`] has installed the logger.
pub(crate) fn is_initialized() -> bool {
    log::max_level() != log::LevelFilter::Off
}

/// Prints one line to stderr exactly as the logger would, for what happens
/// before it can be installed (the command line, the env file).
pub(crate) fn print_line(format: LogFormat, level: log::Level, message: &str, fields: Vec<Field>) {
    eprintln!("{}", render(format, level, "connector", message, fields));
}

/// One log line (without the line break), scrubbed of secrets.
pub(crate) fn render(format: LogFormat, level: log::Level, target: &str, message: &str, fields: Vec<Field>) -> String {
    let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let line = match format {
        LogFormat::Text => {
            let mut line = format!("{timestamp} {level:<5} {message}");
            for (key, value) in fields {
                let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                if value.contains(' ') {
                    line.push_str(&format!(" {key}={value:?}"));
                } else {
                    line.push_str(&format!(" {key}={value}"));
                }
            }
            line
        }
        LogFormat::Json => {
            let mut object = serde_json::Map::new();
            object.insert("timestamp".into(), timestamp.into());
            object.insert("level".into(), level.as_str().to_ascii_lowercase().into());
            object.insert("target".into(), target.into());
            object.insert("message".into(), message.into());
            for (key, value) in fields {
                object.entry(key).or_insert(value);
            }
            serde_json::Value::Object(object).to_string()
        }
    };
    scrub(&line)
}

fn collect_fields(record: &log::Record) -> Vec<Field> {
    struct Collect(Vec<Field>);
    impl<'kvs> VisitSource<'kvs> for Collect {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
            let json = if let Some(n) = value.to_u64() {
                n.into()
            } else if let Some(n) = value.to_i64() {
                n.into()
            } else if let Some(f) = value.to_f64() {
                serde_json::Number::from_f64((f * 1000.0).round() / 1000.0).map(Into::into).unwrap_or_default()
            } else if let Some(b) = value.to_bool() {
                b.into()
            } else {
                value.to_string().into()
            };
            self.0.push((key.as_str().to_string(), json));
            Ok(())
        }
    }
    let mut collect = Collect(Vec::new());
    let _ = record.key_values().visit(&mut collect);
    collect.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::area::Needs;

    fn parse(pairs: &[(&str, &str)]) -> (LogSettings, Problems) {
        let env = Env::from_pairs(pairs.iter().copied());
        let mut p = Problems::default();
        (LogSettings::parse(&Input::new(&env, Needs::default()), &mut p), p)
    }

    #[test]
    fn the_log_file_is_one_of_the_log_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("connector.log");
        let (settings, p) = parse(&[("LOG_FILE", file.to_str().unwrap()), ("LOG_FORMAT", "json")]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(settings.file.as_deref(), Some(file.as_path()));
        assert_eq!(settings.format, LogFormat::Json);
        assert_eq!(settings_hint(&Env::from_pairs([("LOG_FILE", file.to_str().unwrap())])).file, Some(file.clone()));

        let missing = dir.path().join("no-such-dir").join("connector.log");
        let (_, p) = parse(&[("LOG_FILE", missing.to_str().unwrap()), ("LOG_LEVEL", "loud")]);
        let problems: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0], "LOG_LEVEL: 'loud' is not one of debug, info, warn, error");
        assert!(problems[1].starts_with(&format!("LOG_FILE: cannot open {} for appending", missing.display())));
    }
}
