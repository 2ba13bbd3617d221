//! What the process is doing, for people and probes: `GET /healthz` (JSON)
//! and `GET /metrics` (Prometheus text), served by a small synchronous HTTP
//! server on `HEALTH_CHECK_PORT`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{self, Exposition, FinishedRun};

/// The step a cycle is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Connecting,
    Exporting,
    Uploading,
    WaitingForIngest,
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Connecting => "connecting",
            Phase::Exporting => "exporting",
            Phase::Uploading => "uploading",
            Phase::WaitingForIngest => "waiting_for_ingest",
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    phase: Option<Phase>,
    current_start: Option<DateTime<Utc>>,
    last: Option<FinishedRun>,
    last_success: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
    runs_by_result: BTreeMap<String, u64>,
    skipped: u64,
}

/// Shared between the cycle, the scheduler and the HTTP server.
#[derive(Debug, Default)]
pub(crate) struct State {
    inner: Mutex<Inner>,
    started: Mutex<Option<DateTime<Utc>>>,
}

impl State {
    pub(crate) fn new() -> Arc<State> {
        let state = State::default();
        *state.started.lock().unwrap() = Some(Utc::now());
        Arc::new(state)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn cycle_started(&self) {
        let mut inner = self.lock();
        inner.current_start = Some(Utc::now());
        inner.phase = Some(Phase::Connecting);
    }

    pub(crate) fn phase(&self) -> Phase {
        self.lock().phase.unwrap_or(Phase::Idle)
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.lock().phase = Some(phase);
    }

    pub(crate) fn cycle_finished(&self, outcome: FinishedRun) {
        let mut inner = self.lock();
        *inner.runs_by_result.entry(outcome.result.clone()).or_default() += 1;
        if outcome.is_success() {
            inner.last_success = Some(outcome.ended);
        }
        inner.last = Some(outcome);
        inner.phase = Some(Phase::Idle);
        inner.current_start = None;
    }

    /// The outcome of the last finished cycle.
    pub(crate) fn last_outcome(&self) -> Option<FinishedRun> {
        self.lock().last.clone()
    }

    pub(crate) fn cycle_skipped(&self) {
        self.lock().skipped += 1;
    }

    pub(crate) fn set_next_run(&self, next: Option<DateTime<Utc>>) {
        self.lock().next_run = next;
    }

    pub(crate) fn healthz(&self) -> serde_json::Value {
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

    /// `/metrics`: the process, its runs and the last run, with the
    /// families defined in [`crate::metrics`].
    pub(crate) fn metrics(&self) -> String {
        let inner = self.lock();
        let mut out = Exposition::new();
        out.one(&metrics::UP, 1.0);
        let runs: Vec<[(&str, &str); 1]> =
            inner.runs_by_result.keys().map(|result| [("result", result.as_str())]).collect();
        let samples: Vec<(&[(&str, &str)], f64)> = runs
            .iter()
            .zip(inner.runs_by_result.values())
            .map(|(labels, count)| (&labels[..], *count as f64))
            .collect();
        out.family(&metrics::RUNS, &samples);
        out.one(&metrics::RUNS_SKIPPED, inner.skipped as f64);
        out.one(&metrics::RUNNING, f64::from(u8::from(inner.current_start.is_some())));
        if let Some(t) = inner.last_success {
            out.one(&metrics::LAST_SUCCESS, metrics::seconds(t));
        }
        if let Some(last) = &inner.last {
            metrics::last_run(&mut out, last);
        }
        if let Some(next) = inner.next_run {
            out.one(&metrics::NEXT_RUN, metrics::seconds(next));
        }
        out.into_text()
    }
}

/// A running health server; stops when dropped.
pub(crate) struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `/healthz` and `/metrics` on 0.0.0.0:`port` (port 0 picks one).
    pub(crate) fn start(port: u16, state: Arc<State>) -> Result<Server> {
        let server = tiny_http::Server::http(("0.0.0.0", port)).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("{}: cannot listen on port {port}: {e}", crate::cron::HEALTH_CHECK_PORT.name),
            )
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
                        (tiny_http::Method::Get, "/healthz") => (200, "application/json", state.healthz().to_string()),
                        (tiny_http::Method::Get, "/metrics") => (200, metrics::CONTENT_TYPE, state.metrics()),
                        _ => (404, "text/plain", "not found\n".to_string()),
                    };
                    let header = tiny_http::Header::from_bytes("Content-Type", content_type).expect("valid header");
                    let _ = request
                        .respond(tiny_http::Response::from_string(body).with_status_code(status).with_header(header));
                }
            })
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the health server: {e}")))?;
        log::info!(port = port; "serving /healthz and /metrics on port {port}");
        Ok(Server { stop, thread: Some(thread) })
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
        state.cycle_finished(FinishedRun {
            started: Utc::now(),
            ended: Utc::now(),
            result: "success".into(),
            exit_code: 0,
            rows: Some(42),
            bytes: Some(1234),
            pseudonymized_columns: Some(0),
            phase_seconds: vec![("query", 1.5)],
        });
        state.cycle_skipped();
        let text = state.metrics();
        assert!(text.contains("connector_runs_total{result=\"success\"} 1"), "{text}");
        assert!(text.contains("connector_last_run_rows 42"), "{text}");
        assert!(text.contains("connector_last_run_bytes 1234"), "{text}");
        assert!(text.contains("connector_runs_skipped_total 1"), "{text}");
        assert!(text.contains("connector_last_run_phase_seconds{phase=\"query\"} 1.5\n"), "{text}");
        assert!(text.contains("connector_last_success_timestamp_seconds "), "{text}");
        assert_eq!(state.healthz()["last_run"]["rows"], 42);
        assert_eq!(state.healthz()["phase"], "idle");
    }
}
