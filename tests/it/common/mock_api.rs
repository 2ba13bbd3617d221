//! The one Polyteia API mock of the tests, written on a bare `TcpListener` so
//! that it can also produce the faults an HTTP library will not: a connection
//! dropped in the middle of the request body, an answer slower than the
//! client's timeout, a body read slowly, any status with any headers
//! (`Retry-After`, `Location`). Every request is recorded as the bytes that
//! arrived; one connection carries one request (`Connection: close`).
//!
//! Constructors, from the simplest:
//! - [`MockApi::start`]: a closure answers `(status, body)`;
//! - [`MockApi::start_paced`]: the same, reading request bodies slowly;
//! - [`MockApi::replying`]: a closure answers a [`Reply`] (headers, delay);
//! - [`MockApi::scripted`] / [`MockApi::scripted_on`]: a [`Script`] that may
//!   also drop a connection in the middle of the body.
//!
//! In each, `index` counts the earlier requests to the same path, from 0.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the whole body (as announced by Content-Length) arrived.
    pub complete: bool,
    /// When the request (its body as far as it was read) had arrived.
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body of {} is not JSON: {e}", self.path))
    }

    /// The single multipart part: its header block and its content.
    pub fn multipart_part(&self) -> (String, Vec<u8>) {
        let content_type = self.header("Content-Type").expect("content type");
        let boundary = content_type.split("boundary=").nth(1).expect("boundary").trim_matches('"');
        let delimiter = format!("--{boundary}\r\n");
        let closing = format!("\r\n--{boundary}--\r\n");
        assert!(self.body.starts_with(delimiter.as_bytes()), "body does not start with the boundary");
        assert!(self.body.ends_with(closing.as_bytes()), "body does not end with the closing boundary");
        let rest = &self.body[delimiter.len()..self.body.len() - closing.len()];
        let split = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("part header end");
        (String::from_utf8(rest[..split].to_vec()).unwrap(), rest[split + 4..].to_vec())
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long (after reading the whole request) before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, headers: Vec::new(), body: body.into(), delay: Duration::ZERO }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// Short for [`Reply::new`].
pub fn reply(status: u16, body: impl Into<String>) -> Reply {
    Reply::new(status, body)
}

/// What the mock does with a request whose head has arrived.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Read the whole body, then ask the script for the reply.
    Answer,
    /// Read this many body bytes (fewer if the body is shorter), then close
    /// the connection without answering: the client sees a reset.
    DropAfter(usize),
}

/// Options for a mock that behaves like a slow network or server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    /// Read request bodies in 64 KiB steps with this pause between them.
    pub read_pause: Option<Duration>,
}

/// The mock's behaviour. A plain closure `Fn(&Recorded, usize) -> Reply`
/// is a script that always answers.
pub trait Script: Send + Sync + 'static {
    /// Decided on the request head (`request.body` is still empty).
    fn plan(&self, _request: &Recorded, _index: usize) -> Plan {
        Plan::Answer
    }
    fn reply(&self, request: &Recorded, index: usize) -> Reply;
    fn pace(&self) -> Pace {
        Pace::default()
    }
}

impl<F: Fn(&Recorded, usize) -> Reply + Send + Sync + 'static> Script for F {
    fn reply(&self, request: &Recorded, index: usize) -> Reply {
        self(request, index)
    }
}

/// The script of [`MockApi::start`] and [`MockApi::start_paced`].
struct StatusAndBody<F> {
    respond: F,
    pace: Pace,
}

impl<F: Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static> Script for StatusAndBody<F> {
    fn reply(&self, request: &Recorded, index: usize) -> Reply {
        let (status, body) = (self.respond)(request, index);
        Reply::new(status, body)
    }
    fn pace(&self) -> Pace {
        self.pace
    }
}

/// One request and what the mock did with it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Recorded,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
}

pub struct MockApi {
    pub url: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Exchange>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MockApi {
    /// `respond(request, index)` gives status and JSON/text body. A request
    /// whose body arrives incomplete is recorded with `complete: false` and
    /// answered with 400.
    pub fn start(respond: impl Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static) -> MockApi {
        Self::start_paced(Pace::default(), respond)
    }

    /// Like [`MockApi::start`], reading request bodies at the given pace.
    pub fn start_paced(
        pace: Pace,
        respond: impl Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> MockApi {
        Self::scripted(StatusAndBody { respond, pace })
    }

    /// `respond(request, index)` gives a full [`Reply`].
    pub fn replying(respond: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> MockApi {
        Self::scripted(respond)
    }

    pub fn scripted(script: impl Script) -> MockApi {
        Self::scripted_on("127.0.0.1:0", script)
    }

    /// On a given address (e.g. a port a client already tries to reach).
    pub fn scripted_on(addr: &str, script: impl Script) -> MockApi {
        let listener = TcpListener::bind(addr).expect("bind the API mock");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<dyn Script> = Arc::new(script);
        let counters: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (recorded, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (script, recorded, counters, stopping) =
                            (script.clone(), recorded.clone(), counters.clone(), stopping.clone());
                        std::thread::spawn(move || serve(stream, &*script, &recorded, &counters, &stopping));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        MockApi { url: format!("http://127.0.0.1:{port}"), port, requests, stop, thread: Some(thread) }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.exchanges().into_iter().map(|e| e.request).collect()
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.requests.lock().unwrap().clone()
    }

    /// Fails unless every request the mock accepted (2xx) arrived whole:
    /// a truncated body is never taken for an upload.
    pub fn assert_nothing_partial_accepted(&self) {
        for e in self.exchanges() {
            if e.status.is_some_and(|s| (200..300).contains(&s)) {
                assert!(e.request.complete, "an incomplete request to {} was accepted", e.request.path);
            }
        }
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }

    /// Waits until `count` requests are recorded (a dropped connection is
    /// recorded by the mock's own thread, maybe after the client gave up).
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        let started = Instant::now();
        while self.requests().len() < count && started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.requests()
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    script: &dyn Script,
    recorded: &Mutex<Vec<Exchange>>,
    counters: &Mutex<HashMap<String, usize>>,
    stop: &AtomicBool,
) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let Some((mut request, content_length, already)) = read_head(&mut stream) else { return };
    let index = {
        let mut counters = counters.lock().unwrap();
        let counter = counters.entry(request.path.clone()).or_insert(0);
        *counter += 1;
        *counter - 1
    };
    let chunked = request.header("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    // The contract forbids chunked bodies: such a request is recorded as incomplete.
    let expected = if chunked { Some(already.len()) } else { Some(content_length.unwrap_or(0)) };
    let pause = script.pace().read_pause;
    match script.plan(&request, index) {
        Plan::DropAfter(limit) => {
            let limit = expected.map_or(limit, |len| limit.min(len.saturating_sub(1)));
            request.body = read_body(&mut stream, already, Some(limit), pause).0;
            request.complete = false;
            request.at = Instant::now();
            recorded.lock().unwrap().push(Exchange { request, status: None });
            // Unread data in the receive buffer makes the kernel answer with a reset.
            drop(stream);
        }
        Plan::Answer => {
            let (body, ok) = read_body(&mut stream, already, expected, pause);
            request.body = body;
            request.complete = ok && !chunked && expected.is_some_and(|len| len == request.body.len());
            request.at = Instant::now();
            let reply =
                if request.complete { script.reply(&request, index) } else { Reply::new(400, "incomplete body") };
            recorded.lock().unwrap().push(Exchange { request, status: Some(reply.status) });
            let until = Instant::now() + reply.delay;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
            }
            let _ = write_reply(&mut stream, &reply);
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The request line and headers; the body bytes read along with them.
fn read_head(stream: &mut TcpStream) -> Option<(Recorded, Option<usize>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let content_length =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("Content-Length")).and_then(|(_, v)| v.parse().ok());
    let already = buf[head_end + 4..].to_vec();
    let request = Recorded { method, path, headers, body: Vec::new(), complete: false, at: Instant::now() };
    Some((request, content_length, already))
}

/// Reads the body up to `limit` bytes (all until EOF when `None`), pausing
/// after each read when paced; whether it ended without a read error.
fn read_body(
    stream: &mut TcpStream,
    mut body: Vec<u8>,
    limit: Option<usize>,
    pause: Option<Duration>,
) -> (Vec<u8>, bool) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if let Some(limit) = limit {
            if body.len() >= limit {
                body.truncate(limit);
                return (body, true);
            }
        }
        let want = limit.map_or(chunk.len(), |l| (l - body.len()).min(chunk.len()));
        match stream.read(&mut chunk[..want]) {
            Ok(0) => return (body, limit.is_none()),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(_) => return (body, false),
        }
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let reason = match reply.status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };
    let content_type = if reply.body.trim_start().starts_with(['{', '[']) { "application/json" } else { "text/plain" };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(reply.body.as_bytes())?;
    stream.flush()
}
