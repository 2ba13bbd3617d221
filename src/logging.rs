//! Log output: human-readable text, or one JSON object per line for log
//! collectors. Every line passes through the secret scrubber.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};

use crate::config::LogFormat;
use crate::secret::scrub;

/// A structured field of a log line.
pub type Field = (String, serde_json::Value);

/// Installs the logger. Our own messages follow `level`; dependencies are
/// held at `warn` so that debug output stays about this program.
pub fn init(level: log::LevelFilter, format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level.min(log::LevelFilter::Warn)).filter_module("connector", level);
    builder.target(env_logger::Target::Stderr);
    builder.format(move |buf, record| {
        let line = render(format, record.level(), record.target(), &record.args().to_string(), collect_fields(record));
        writeln!(buf, "{line}")
    });
    // A second init (tests, schedule) keeps the first logger.
    let _ = builder.try_init();
}

/// Whether [`init`] has installed the logger.
pub fn is_initialized() -> bool {
    log::max_level() != log::LevelFilter::Off
}

/// Prints one line to stderr exactly as the logger would, for what happens
/// before it can be installed (the command line, the env file).
pub fn print_line(format: LogFormat, level: log::Level, message: &str, fields: Vec<Field>) {
    eprintln!("{}", render(format, level, "connector", message, fields));
}

/// One log line (without the line break), scrubbed of secrets.
pub fn render(format: LogFormat, level: log::Level, target: &str, message: &str, fields: Vec<Field>) -> String {
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
