//! A minimal in-process Polyteia API for end-to-end runs of the binary: it
//! records every request exactly as received and answers from a script.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the whole body (as announced by Content-Length) arrived.
    pub complete: bool,
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

pub type Responder = dyn Fn(&Recorded, usize) -> (u16, String) + Send + Sync;

/// Options for a mock that behaves like a slow network or server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    /// Read request bodies in 64 KiB steps with this pause between them.
    pub read_pause: Option<Duration>,
}

pub struct MockApi {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MockApi {
    /// `respond(request, index)` gives status and JSON/text body; `index`
    /// counts requests to the same path, from 0.
    pub fn start(respond: impl Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static) -> MockApi {
        Self::start_paced(Pace::default(), respond)
    }

    /// Like [`MockApi::start`]; an upload whose body arrives incomplete is
    /// recorded with `complete: false` and answered with 400.
    pub fn start_paced(pace: Pace, respond: impl Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static) -> MockApi {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind mock");
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (recorded, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let mut body = Vec::new();
                let complete = match pace.read_pause {
                    None => request.as_reader().read_to_end(&mut body).is_ok(),
                    Some(pause) => {
                        let mut chunk = vec![0u8; 64 * 1024];
                        loop {
                            match request.as_reader().read(&mut chunk) {
                                Ok(0) => break true,
                                Ok(n) => body.extend_from_slice(&chunk[..n]),
                                Err(_) => break false,
                            }
                            std::thread::sleep(pause);
                        }
                    }
                };
                let expected = request.body_length();
                let complete = complete && expected.is_none_or(|len| len == body.len());
                let rec = Recorded {
                    method: request.method().as_str().to_string(),
                    path: request.url().to_string(),
                    headers: request.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect(),
                    body,
                    complete,
                };
                let index = {
                    let mut all = recorded.lock().unwrap();
                    let index = all.iter().filter(|r: &&Recorded| r.path == rec.path).count();
                    all.push(rec.clone());
                    index
                };
                let (status, text) = if complete { respond(&rec, index) } else { (400, "incomplete body".into()) };
                let content_type = if text.starts_with('{') { "application/json" } else { "text/plain" };
                let response = tiny_http::Response::from_string(text)
                    .with_status_code(status)
                    .with_header(tiny_http::Header::from_bytes("Content-Type", content_type).unwrap());
                let _ = request.respond(response);
            }
        });
        MockApi { url: format!("http://127.0.0.1:{port}"), requests, stop, thread: Some(thread) }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
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
