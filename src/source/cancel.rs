//! Stopping the running query from another thread (a signal): DuckDB's
//! interrupt, and for a native-dialect query on a server also a cancel of
//! the statement on the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duckdb::Connection;

use super::settings::SourceSettings;
use crate::cancel::StopQuery;

/// Lets another thread stop the running query (signals): DuckDB's
/// interrupt, and for a native-dialect query on a server also a cancel of
/// the statement on the server, which DuckDB's interrupt does not reach
/// (the pass-through call waits for the server's answer).
#[derive(Clone)]
pub struct QueryStopper {
    pub(crate) interrupt: Arc<duckdb::InterruptHandle>,
    pub(crate) server: Option<Arc<ServerCancel>>,
}

impl StopQuery for QueryStopper {
    /// Interrupts the query; a server-side cancel runs in its own thread, so
    /// the caller (the signal thread) never waits for the network.
    fn stop(&self) {
        self.interrupt.interrupt();
        if let Some(server) = &self.server {
            if !server.started.swap(true, Ordering::SeqCst) {
                let server = server.clone();
                let _ = std::thread::Builder::new().name("cancel".into()).spawn(move || server.run());
            }
        }
    }

    /// The query is over: a cancel still trying gives up.
    fn finished(&self) {
        if let Some(server) = &self.server {
            server.finished.store(true, Ordering::SeqCst);
        }
    }
}

/// How long a server-side cancel keeps looking for the statement (it may
/// not have reached the server yet when the signal came).
const SERVER_CANCEL_PERIOD: Duration = Duration::from_secs(10);

/// Cancels this run's statement on the source server from a second
/// connection of the same DuckDB, the way the source's kind does it
/// (PostgreSQL `pg_cancel_backend`, MySQL `KILL QUERY`). The statement is
/// found by the run's tag (see [`run_tag`]).
pub(crate) struct ServerCancel {
    conn: Mutex<Connection>,
    settings: SourceSettings,
    tag: String,
    started: AtomicBool,
    finished: AtomicBool,
}

impl ServerCancel {
    pub(crate) fn new(conn: Connection, settings: SourceSettings, tag: String) -> ServerCancel {
        ServerCancel {
            conn: Mutex::new(conn),
            settings,
            tag,
            started: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        }
    }

    fn run(&self) {
        let deadline = Instant::now() + SERVER_CANCEL_PERIOD;
        while !self.finished.load(Ordering::SeqCst) && Instant::now() < deadline {
            match self.cancel_once() {
                Ok(0) => std::thread::sleep(Duration::from_millis(200)),
                Ok(cancelled) => {
                    log::info!(statements = cancelled; "cancelled the running statement on the source server");
                    return;
                }
                Err(e) => {
                    log::warn!(
                        "cannot cancel the statement on the source server (it stops when the server is done): {e}"
                    );
                    return;
                }
            }
        }
    }

    /// How many statements of this run were found running and cancelled.
    fn cancel_once(&self) -> std::result::Result<usize, duckdb::Error> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        match self.settings.kind.source_type().server_cancel() {
            Some(cancel) => cancel.cancel(&conn, &self.settings, &self.tag, &sql_comment(&self.tag)),
            None => Ok(0),
        }
    }
}

/// Names this run on the source server: the PostgreSQL `application_name`
/// (unless SOURCE_DATABASE_OPTIONS sets one) and a comment in front of a
/// native-dialect query, by which a signal finds the statement to cancel.
pub(crate) fn run_tag() -> String {
    format!("polyteia-db-connector {}-{:08x}", std::process::id(), fastrand::u32(..))
}

pub(crate) fn sql_comment(tag: &str) -> String {
    format!("/* {tag} */")
}
