//! Log output: human-readable text, or one JSON object per line for log
//! collectors. Every line passes through the secret scrubber.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};

use crate::config::LogFormat;
use crate::secret::scrub;

/// Installs the logger. Our own messages follow `level`; dependencies are
/// held at `warn` so that debug output stays about this program.
pub fn init(level: log::LevelFilter, format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level.min(log::LevelFilter::Warn)).filter_module("connector", level);
    builder.target(env_logger::Target::Stderr);
    match format {
        LogFormat::Text => builder.format(|buf, record| {
            let fields = collect_fields(record);
            let mut line = format!(
                "{} {:<5} {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                record.args()
            );
            for (key, value) in fields {
                let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                if value.contains(' ') {
                    line.push_str(&format!(" {key}={value:?}"));
                } else {
                    line.push_str(&format!(" {key}={value}"));
                }
            }
            writeln!(buf, "{}", scrub(&line))
        }),
        LogFormat::Json => builder.format(|buf, record| {
            let mut object = serde_json::Map::new();
            object.insert("timestamp".into(), chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into());
            object.insert("level".into(), record.level().as_str().to_ascii_lowercase().into());
            object.insert("target".into(), record.target().into());
            object.insert("message".into(), record.args().to_string().into());
            for (key, value) in collect_fields(record) {
                object.entry(key).or_insert(value);
            }
            let line = serde_json::Value::Object(object).to_string();
            writeln!(buf, "{}", scrub(&line))
        }),
    };
    // A second init (tests, schedule) keeps the first logger.
    let _ = builder.try_init();
}

fn collect_fields(record: &log::Record) -> Vec<(String, serde_json::Value)> {
    struct Collect(Vec<(String, serde_json::Value)>);
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
