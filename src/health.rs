//! What the process is doing, for people and probes: `GET /healthz` (JSON)
//! and `GET /metrics` (Prometheus text), served by a small synchronous HTTP
//! server on `HEALTH_CHECK_PORT`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::{Error, ErrorKind, Result};

/// The step a cycle is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Connecting,
    Exporting,
    Uploading,
    WaitingForIngest,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Connecting => "connecting",
            Phase::Exporting => "exporting",
            Phase::Uploading => "uploading",
            Phase::WaitingForIngest => "waiting_for_ingest",
        }
    }
}

/// The outcome of a finished cycle, as remembered for `/healthz` and `/metrics`.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    /// `success` or an error class (see `ErrorKind::name`).
    pub result: String,
    pub exit_code: i32,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// Seconds per phase (connect, query, verify, upload, ingest).
    pub phase_seconds: Vec<(&'static str, f64)>,
}

#[derive(Debug, Default)]
struct Inner {
    phase: Option<Phase>,
    current_start: Option<DateTime<Utc>>,
    last: Option<Outcome>,
    last_success: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
    runs_by_result: BTreeMap<String, u64>,
    skipped: u64,
}

/// Shared between the cycle, the scheduler and the HTTP server.
#[derive(Debug, Default)]
pub struct State {
    inner: Mutex<Inner>,
    started: Mutex<Option<DateTime<Utc>>>,
}

impl State {
    pub fn new() -> Arc<State> {
        let state = State::default();
        *state.started.lock().unwrap() = Some(Utc::now());
        Arc::new(state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn cycle_started(&self) {
        let mut inner = self.lock();
        inner.current_start = Some(Utc::now());
        inner.phase = Some(Phase::Connecting);
    }

    pub fn phase(&self) -> Phase {
        self.lock().phase.unwrap_or(Phase::Idle)
    }

    pub fn set_phase(&self, phase: Phase) {
        self.lock().phase = Some(phase);
    }

    pub fn cycle_finished(&self, outcome: Outcome) {
        let mut inner = self.lock();
        *inner.runs_by_result.entry(outcome.result.clone()).or_default() += 1;
        if outcome.result == "success" {
            inner.last_success = Some(outcome.ended);
        }
        inner.last = Some(outcome);
        inner.phase = Some(Phase::Idle);
        inner.current_start = None;
    }

    pub fn cycle_skipped(&self) {
        self.lock().skipped += 1;
    }

    pub fn set_next_run(&self, next: Option<DateTime<Utc>>) {
        self.lock().next_run = next;
    }

    pub fn healthz(&self) -> serde_json::Value {
        let inner = self.lock();
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "status": "ok",
            "phase": inner.phase.unwrap_or(Phase::Idle).name(),
            "started_at": started.map(|t| t.to_rfc3339()),
            "current_run_started_at": inner.current_start.map(|t| t.to_rfc3339()),
            "next_run_at": inner.next_run.map(|t| t.to_rfc3339()),
            "last_run": inner.last.as_ref().map(|o| json!({
                "started_at": o.started.to_rfc3339(),
                "ended_at": o.ended.to_rfc3339(),
                "result": o.result,
                "exit_code": o.exit_code,
                "rows": o.rows,
                "bytes": o.bytes,
            })),
            "last_success_at": inner.last_success.map(|t| t.to_rfc3339()),
        })
    }

    pub fn metrics(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        metric(&mut out, "connector_up", "gauge", "Whether the connector process is alive.", 1);
        header(&mut out, "connector_runs_total", "counter", "Finished cycles by result.");
        for (result, count) in &inner.runs_by_result {
            let _ = writeln!(out, "connector_runs_total{{result=\"{result}\"}} {count}");
        }
        metric(
            &mut out,
            "connector_runs_skipped_total",
            "counter",
            "Cycles skipped because the previous one was still running.",
            inner.skipped,
        );
        metric(&mut out, "connector_running", "gauge", "Whether a cycle is running now.", u8::from(inner.current_start.is_some()));
        if let Some(t) = inner.last_success {
            metric(&mut out, "connector_last_success_timestamp_seconds", "gauge", "End of the last successful cycle.", t.timestamp());
        }
        if let Some(last) = &inner.last {
            metric(&mut out, "connector_last_run_timestamp_seconds", "gauge", "End of the last cycle.", last.ended.timestamp());
            metric(&mut out, "connector_last_run_exit_code", "gauge", "Exit code of the last cycle.", last.exit_code);
            if let Some(rows) = last.rows {
                metric(&mut out, "connector_last_run_rows", "gauge", "Rows exported by the last cycle.", rows);
            }
            if let Some(bytes) = last.bytes {
                metric(&mut out, "connector_last_run_bytes", "gauge", "Parquet bytes of the last cycle.", bytes);
            }
            if !last.phase_seconds.is_empty() {
                header(&mut out, "connector_last_run_phase_seconds", "gauge", "Duration of each phase of the last cycle.");
                for (phase, secs) in &last.phase_seconds {
                    let _ = writeln!(out, "connector_last_run_phase_seconds{{phase=\"{phase}\"}} {secs:.3}");
                }
            }
        }
        if let Some(next) = inner.next_run {
            metric(&mut out, "connector_next_run_timestamp_seconds", "gauge", "When the next cycle is due.", next.timestamp());
        }
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a metric family.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A metric family with one unlabelled sample.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A running health server; stops when dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub port: u16,
}

impl Server {
    /// Serves `/healthz` and `/metrics` on 0.0.0.0:`port` (port 0 picks one).
    pub fn start(port: u16, state: Arc<State>) -> Result<Server> {
        let server = tiny_http::Server::http(("0.0.0.0", port)).map_err(|e| {
            Error::new(ErrorKind::Config, format!("HEALTH_CHECK_PORT: cannot listen on port {port}: {e}"))
        })?;
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(port);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(200)) else { continue };
                    let path = request.url().split('?').next().unwrap_or("").to_string();
                    let (status, content_type, body) = match (request.method(), path.as_str()) {
                        (tiny_http::Method::Get, "/healthz") => {
                            (200, "application/json", state.healthz().to_string())
                        }
                        (tiny_http::Method::Get, "/metrics") => {
                            (200, "text/plain; version=0.0.4; charset=utf-8", state.metrics())
                        }
                        _ => (404, "text/plain", "not found\n".to_string()),
                    };
                    let header = tiny_http::Header::from_bytes("Content-Type", content_type).expect("valid header");
                    let _ = request.respond(tiny_http::Response::from_string(body).with_status_code(status).with_header(header));
                }
            })
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the health server: {e}")))?;
        log::info!(port = port; "serving /healthz and /metrics on port {port}");
        Ok(Server { stop, thread: Some(thread), port })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_reflect_finished_cycles() {
        let state = State::new();
        state.cycle_started();
        state.cycle_finished(Outcome {
            started: Utc::now(),
            ended: Utc::now(),
            result: "success".into(),
            exit_code: 0,
            rows: Some(42),
            bytes: Some(1234),
            phase_seconds: vec![("query", 1.5)],
        });
        state.cycle_skipped();
        let text = state.metrics();
        assert!(text.contains("connector_runs_total{result=\"success\"} 1"), "{text}");
        assert!(text.contains("connector_last_run_rows 42"), "{text}");
        assert!(text.contains("connector_last_run_bytes 1234"), "{text}");
        assert!(text.contains("connector_runs_skipped_total 1"), "{text}");
        assert!(text.contains("connector_last_run_phase_seconds{phase=\"query\"} 1.500"), "{text}");
        assert!(text.contains("connector_last_success_timestamp_seconds "), "{text}");
        assert_eq!(state.healthz()["last_run"]["rows"], 42);
        assert_eq!(state.healthz()["phase"], "idle");
    }
}
