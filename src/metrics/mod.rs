//! The metrics the connector reports, defined once: every family's name,
//! type and help, and their rendering as Prometheus text. The long-lived
//! mode serves them on `/metrics` ([`crate::health`]); after a run they are
//! pushed to a Pushgateway (`push.rs`) and written for node_exporter's
//! textfile collector (`textfile.rs`), so one alerting rule covers every way
//! of running the connector.

mod push;
pub(crate) mod settings;
mod textfile;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use settings::MetricsSettings;

/// The content type of the text format written here.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
}

/// A metric family: what `# HELP` and `# TYPE` say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

const fn gauge(name: &'static str, help: &'static str) -> Family {
    Family { name, kind: Kind::Gauge, help }
}

const fn counter(name: &'static str, help: &'static str) -> Family {
    Family { name, kind: Kind::Counter, help }
}

// The long-lived process (`/metrics` only).
pub(crate) const UP: Family = gauge("connector_up", "Whether the connector process is alive.");
pub(crate) const RUNS: Family = counter("connector_runs_total", "Finished runs by result.");
pub(crate) const RUNS_SKIPPED: Family =
    counter("connector_runs_skipped_total", "Runs skipped because the previous one was still running.");
pub(crate) const RUNNING: Family = gauge("connector_running", "Whether a run is in progress now.");
pub(crate) const NEXT_RUN: Family = gauge("connector_next_run_timestamp_seconds", "When the next run is due.");

// The last run (everywhere).
pub(crate) const LAST_SUCCESS: Family =
    gauge("connector_last_success_timestamp_seconds", "End of the last successful run, in seconds since the epoch.");
pub(crate) const LAST_RUN_START: Family =
    gauge("connector_last_run_start_timestamp_seconds", "Start of the last run, in seconds since the epoch.");
pub(crate) const LAST_RUN_END: Family =
    gauge("connector_last_run_timestamp_seconds", "End of the last run, in seconds since the epoch.");
pub(crate) const LAST_RUN_DURATION: Family = gauge("connector_last_run_duration_seconds", "Duration of the last run.");
pub(crate) const LAST_RUN_EXIT_CODE: Family =
    gauge("connector_last_run_exit_code", "Exit code of the last run (0 success; see the README, Exit codes).");
pub(crate) const LAST_RUN_RESULT: Family = gauge(
    "connector_last_run_result",
    "Result of the last run (success or the error class) as the label result; always 1.",
);
pub(crate) const LAST_RUN_ROWS: Family = gauge("connector_last_run_rows", "Rows exported by the last run.");
pub(crate) const LAST_RUN_BYTES: Family =
    gauge("connector_last_run_bytes", "Size of the Parquet file of the last run, in bytes.");
pub(crate) const LAST_RUN_PSEUDONYMIZED_COLUMNS: Family = gauge(
    "connector_last_run_pseudonymized_columns",
    "Columns of the last run's file that hold pseudonyms (PSEUDONYMIZE_COLUMNS).",
);
pub(crate) const LAST_RUN_PHASE_SECONDS: Family =
    gauge("connector_last_run_phase_seconds", "Duration of each phase of the last run, by the label phase.");

/// Every family, for the naming tests.
#[cfg(test)]
const ALL: [Family; 15] = [
    UP,
    RUNS,
    RUNS_SKIPPED,
    RUNNING,
    NEXT_RUN,
    LAST_SUCCESS,
    LAST_RUN_START,
    LAST_RUN_END,
    LAST_RUN_DURATION,
    LAST_RUN_EXIT_CODE,
    LAST_RUN_RESULT,
    LAST_RUN_ROWS,
    LAST_RUN_BYTES,
    LAST_RUN_PSEUDONYMIZED_COLUMNS,
    LAST_RUN_PHASE_SECONDS,
];

/// The result name of a successful run (the others are error classes, see
/// `ErrorKind::name`).
pub(crate) const SUCCESS: &str = "success";

/// A finished run: when, how it ended and what it moved, as reported on `/healthz`
/// and in the metrics.
#[derive(Debug, Clone)]
pub(crate) struct FinishedRun {
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    /// [`SUCCESS`] or an error class (see `ErrorKind::name`).
    pub result: String,
    pub exit_code: i32,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// How many of the file's columns hold pseudonyms.
    pub pseudonymized_columns: Option<u64>,
    /// Seconds per phase (connect, query, verify, upload, ingest).
    pub phase_seconds: Vec<(&'static str, f64)>,
}

impl FinishedRun {
    pub(crate) fn is_success(&self) -> bool {
        self.result == SUCCESS
    }
}

/// Text in the Prometheus exposition format, family by family. `labels`
/// are added to every sample (the textfile's job and instance).
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    text: String,
    labels: Vec<(String, String)>,
}

impl Exposition {
    pub(crate) fn new() -> Exposition {
        Exposition::default()
    }

    pub(crate) fn with_labels(labels: &[(&str, &str)]) -> Exposition {
        Exposition { text: String::new(), labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    /// A family with one sample without labels of its own.
    pub(crate) fn one(&mut self, family: &Family, value: f64) {
        let no_labels: &[(&str, &str)] = &[];
        self.family(family, &[(no_labels, value)]);
    }

    /// A family and its samples (each with its own labels); nothing when
    /// there are no samples.
    pub(crate) fn family(&mut self, family: &Family, samples: &[(&[(&str, &str)], f64)]) {
        if samples.is_empty() {
            return;
        }
        let kind = match family.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(self.text, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(self.text, "# TYPE {} {kind}", family.name);
        for (own, value) in samples {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(own.iter().copied())
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
                .collect();
            match labels.is_empty() {
                true => self.text.push_str(family.name),
                false => {
                    let _ = write!(self.text, "{}{{{}}}", family.name, labels.join(","));
                }
            }
            let _ = writeln!(self.text, " {}", number(*value));
        }
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// The families of the last run: start, end, duration, exit code, result,
/// rows, bytes and phase durations (rows and bytes only when the export got
/// that far).
pub(crate) fn last_run(out: &mut Exposition, outcome: &FinishedRun) {
    out.one(&LAST_RUN_START, seconds(outcome.started));
    out.one(&LAST_RUN_END, seconds(outcome.ended));
    let duration = (outcome.ended - outcome.started).to_std().unwrap_or_default();
    out.one(&LAST_RUN_DURATION, round_millis(duration.as_secs_f64()));
    out.one(&LAST_RUN_EXIT_CODE, f64::from(outcome.exit_code));
    out.family(&LAST_RUN_RESULT, &[(&[("result", outcome.result.as_str())][..], 1.0)]);
    if let Some(rows) = outcome.rows {
        out.one(&LAST_RUN_ROWS, rows as f64);
    }
    if let Some(bytes) = outcome.bytes {
        out.one(&LAST_RUN_BYTES, bytes as f64);
    }
    if let Some(columns) = outcome.pseudonymized_columns {
        out.one(&LAST_RUN_PSEUDONYMIZED_COLUMNS, columns as f64);
    }
    let phases: Vec<[(&str, &str); 1]> = outcome.phase_seconds.iter().map(|(phase, _)| [("phase", *phase)]).collect();
    let samples: Vec<(&[(&str, &str)], f64)> = phases
        .iter()
        .zip(&outcome.phase_seconds)
        .map(|(labels, (_, secs))| (&labels[..], round_millis(*secs)))
        .collect();
    out.family(&LAST_RUN_PHASE_SECONDS, &samples);
}

/// Seconds since the epoch, to the millisecond.
pub(crate) fn seconds(time: DateTime<Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}

fn round_millis(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

/// A sample value as the text format spells it.
fn number(value: f64) -> String {
    match value {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "+Inf".into(),
        v if v == f64::NEG_INFINITY => "-Inf".into(),
        v => format!("{v}"),
    }
}

fn escape_label_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Reports a finished `run` where the settings say: pushes it to the
/// Pushgateway and writes the textfile. A failure is a warning in the log
/// and never changes the run's result. After a signal the push is tried
/// once only, as the process has little time left.
pub(crate) fn publish(settings: &MetricsSettings, outcome: &FinishedRun, interrupted: bool) {
    if !settings.is_enabled() {
        return;
    }
    let Some(instance) = settings.instance.as_deref() else {
        log::warn!(
            "the metrics of this run are not reported: neither {} nor {} is set to label them",
            settings::PUSHGATEWAY_INSTANCE.name,
            crate::polyteia::settings::DATASET_ID.name
        );
        return;
    };
    if let Some(pushgateway) = &settings.pushgateway {
        push::push(pushgateway, &settings.job, instance, outcome, interrupted);
    }
    if let Some(path) = &settings.textfile {
        textfile::write(path, &settings.job, instance, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_in_all() {
        // The families as this file defines them, so that a new one cannot be left out of ALL.
        let source = include_str!("mod.rs");
        let defined: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub(crate) const ")?.split_once(": Family")?.0.into())
            .collect();
        assert_eq!(
            defined.len(),
            ALL.len(),
            "metrics::ALL and the families defined in metrics/mod.rs differ: {defined:?}"
        );
        let mut names: Vec<&str> = ALL.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "metrics::ALL lists a family twice");
    }

    fn outcome(result: &str) -> FinishedRun {
        let started = DateTime::from_timestamp_millis(1_764_000_000_250).unwrap();
        FinishedRun {
            started,
            ended: started + chrono::Duration::milliseconds(4_500),
            result: result.into(),
            exit_code: if result == SUCCESS { 0 } else { 4 },
            rows: (result == SUCCESS).then_some(42),
            bytes: (result == SUCCESS).then_some(1234),
            pseudonymized_columns: (result == SUCCESS).then_some(2),
            phase_seconds: if result == SUCCESS { vec![("connect", 0.0123), ("query", 1.5)] } else { vec![] },
        }
    }

    #[test]
    fn names_follow_the_conventions() {
        for family in ALL {
            assert!(family.name.starts_with("connector_"), "{}", family.name);
            assert!(family.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{}", family.name);
            assert_eq!(family.kind == Kind::Counter, family.name.ends_with("_total"), "{}", family.name);
            assert!(!family.help.is_empty());
        }
        let mut names: Vec<&str> = ALL.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn the_last_run_as_text() {
        let mut out = Exposition::with_labels(&[("job", "polyteia_db_connector"), ("instance", "ds \"1\"\\x")]);
        last_run(&mut out, &outcome(SUCCESS));
        let text = out.into_text();
        let labels = r#"job="polyteia_db_connector",instance="ds \"1\"\\x""#;
        for line in [
            "# HELP connector_last_run_rows Rows exported by the last run.".to_string(),
            "# TYPE connector_last_run_rows gauge".to_string(),
            format!("connector_last_run_rows{{{labels}}} 42"),
            format!("connector_last_run_pseudonymized_columns{{{labels}}} 2"),
            format!("connector_last_run_start_timestamp_seconds{{{labels}}} 1764000000.25"),
            format!("connector_last_run_timestamp_seconds{{{labels}}} 1764000004.75"),
            format!("connector_last_run_duration_seconds{{{labels}}} 4.5"),
            format!("connector_last_run_exit_code{{{labels}}} 0"),
            format!("connector_last_run_result{{{labels},result=\"success\"}} 1"),
            format!("connector_last_run_phase_seconds{{{labels},phase=\"connect\"}} 0.012"),
            format!("connector_last_run_phase_seconds{{{labels},phase=\"query\"}} 1.5"),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE connector_last_run_phase_seconds").count(), 1);
    }

    #[test]
    fn a_failed_run_has_no_rows_or_phases() {
        let mut out = Exposition::new();
        last_run(&mut out, &outcome("source_unreachable"));
        let text = out.into_text();
        assert!(text.contains("\nconnector_last_run_exit_code 4\n"), "{text}");
        assert!(text.contains("\nconnector_last_run_result{result=\"source_unreachable\"} 1\n"), "{text}");
        assert!(!text.contains("rows") && !text.contains("phase_seconds"), "{text}");
    }

    #[test]
    fn special_values() {
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(1e15), "1000000000000000");
    }
}
