//! Monitoring one-shot runs, against the real tools: Debian's
//! `prometheus-pushgateway`, started by each test on a loopback port it
//! chooses, and `promtool` (from the `prometheus` package) linting every
//! exposition the connector produces. `scripts/check-monitoring --install-only`
//! installs both (scripts/test does it); a missing tool fails the test.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::mock_api::MockApi;
use crate::common::secrets::Secrets;
use crate::common::*;

const PAK: &str = "pak_monitoring_Secret'Key\\13";
const JOB: &str = "polyteia_db_connector";
/// A Pushgateway password with the characters that trouble basic auth and YAML.
const PUSH_USER: &str = "pusher";
const PUSH_PASSWORD: &str = "pg p\"w\\:ü$x";
/// bcrypt of PUSH_PASSWORD (cost 10), as the Pushgateway's web config wants it;
/// made with python3 -c "import crypt; print(crypt.crypt(PW, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))".
const PUSH_PASSWORD_BCRYPT: &str = "$2b$10$5IPCz5DHslo5onYsXGagwe9EZYSuX.VOIXopiSiqmctBH3uB9x4m.";

// ---------------------------------------------------------------------------
// The real tools

/// A tool on PATH (or in /usr/bin), else a failure saying how to install it.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: run scripts/check-monitoring --install-only (Debian packages prometheus-pushgateway, prometheus)"))
}

/// A Pushgateway of our own on a free loopback port, in memory only; killed when dropped.
struct Pushgateway {
    child: Child,
    port: u16,
    auth: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    fn start() -> Pushgateway {
        Self::start_with(None)
    }

    /// Requiring basic auth as `user` with `password` (given as its bcrypt hash).
    fn start_with_auth(user: &str, password: &str, bcrypt: &str) -> Pushgateway {
        Self::start_with(Some((user, password, bcrypt)))
    }

    fn start_with(auth: Option<(&str, &str, &str)>) -> Pushgateway {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(tool("prometheus-pushgateway"));
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((user, _, bcrypt)) = auth {
            let config = dir.path().join("web.yml");
            std::fs::write(&config, format!("basic_auth_users:\n  {user}: '{bcrypt}'\n")).unwrap();
            cmd.arg(format!("--web.config.file={}", config.display()));
        }
        let child = cmd.spawn().expect("start prometheus-pushgateway");
        let gateway =
            Pushgateway { child, port, auth: auth.map(|(u, p, _)| (u.to_string(), p.to_string())), _dir: dir };
        wait_until("the Pushgateway to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        gateway
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> String {
        let mut request = ureq::get(format!("{}{path}", self.url()));
        if let Some((user, password)) = &self.auth {
            let encoded = base64_encode(format!("{user}:{password}").as_bytes());
            request = request.header("Authorization", format!("Basic {encoded}"));
        }
        request.call().unwrap_or_else(|e| panic!("GET {path}: {e}")).body_mut().read_to_string().unwrap()
    }

    /// The Pushgateway's own `/metrics`.
    fn metrics(&self) -> String {
        self.get("/metrics")
    }

    /// The groups of `/api/v1/metrics`.
    fn groups(&self) -> Vec<serde_json::Value> {
        let answer: serde_json::Value = serde_json::from_str(&self.get("/api/v1/metrics")).unwrap();
        assert_eq!(answer["status"], "success", "{answer}");
        answer["data"].as_array().unwrap().clone()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        self.stop();
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `promtool check metrics` (parse and lint) on `text` must pass without a word.
fn assert_promtool_accepts(what: &str, text: &str) {
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics on {what} ({}): {said}\n{text}",
        out.status
    );
}

/// The value of the one sample of `name` whose labels include all of
/// `labels`, in a text exposition; `None` when there is none.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let all = labels.iter().all(|(k, v)| series_labels.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            (series_name == name && all).then(|| value.parse::<f64>().unwrap())
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} is there {} times:\n{text}", found.len());
    found.first().copied()
}

/// The blocks of the `connector_*` families in an exposition (what the
/// connector pushed, as the Pushgateway serves it).
fn connector_families(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let name = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE ")).unwrap_or(line);
        if name.starts_with("connector_") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The group of `/api/v1/metrics` with exactly these grouping labels.
fn group<'a>(groups: &'a [serde_json::Value], labels: &[(&str, &str)]) -> Option<&'a serde_json::Value> {
    groups.iter().find(|g| {
        let have = g["labels"].as_object().unwrap();
        have.len() == labels.len() && labels.iter().all(|(k, v)| have.get(*k).and_then(|x| x.as_str()) == Some(*v))
    })
}

/// The value of the single sample of `metric` in an API group.
fn group_value(group: &serde_json::Value, metric: &str) -> Option<f64> {
    let metrics = group[metric]["metrics"].as_array()?;
    assert_eq!(metrics.len(), 1, "{metric}: {metrics:?}");
    Some(metrics[0]["value"].as_str().unwrap().parse().unwrap())
}

// ---------------------------------------------------------------------------
// Runs

fn upload_mock() -> MockApi {
    MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, r#"{"data": {"token": "upl_token_monitoring_1"}}"#.into()),
        "/upload" => (200, "OK".into()),
        _ => (404, "not found".into()),
    })
}

fn run_env(source: Vec<(String, String)>, api: &MockApi, temp: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let base = with(
        source,
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_monitoring_1"),
            ("TEMP_DIR", temp.to_str().unwrap()),
            ("CONNECTOR_RETRY_BASE_MS", "20"),
            ("SOURCE_CONNECT_MAX_ATTEMPTS", "1"),
        ],
    );
    with(base, extra)
}

fn duckdb_source(rows: u32) -> Vec<(String, String)> {
    env(&[
        ("SOURCE_DATABASE_TYPE", "duckdb"),
        ("SOURCE_DATABASE_NAME", ":memory:"),
        ("SOURCE_DATABASE_SQL_QUERY", &format!("SELECT i, 'row ' || i AS label FROM range({rows}) t(i)")),
    ])
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stderr.lines().filter(|l| l.split_whitespace().nth(1) == Some("WARN")).collect()
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

// ---------------------------------------------------------------------------
// Pushgateway

#[test]
fn a_run_pushes_its_metrics_and_a_failed_run_keeps_the_last_success() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE permits (id int PRIMARY KEY, holder text); INSERT INTO permits SELECT g, 'holder ' || g FROM generate_series(1, 37) g;");
    let source_rows: f64 = db.admin("SELECT count(*) FROM permits").trim().parse().unwrap();
    let gateway = Pushgateway::start();
    let api = upload_mock();
    let temp = tempfile::tempdir().unwrap();
    let vars = run_env(db.env("SELECT * FROM db.permits"), &api, temp.path(), &[("PUSHGATEWAY_URL", &gateway.url())]);
    let run_group = [("job", JOB), ("instance", "ds_monitoring_1")];

    let before = now();
    let run = connector(&["run"], &vars);
    let after = now();
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stderr.contains(&format!("metrics pushed to {} (job {JOB}, instance ds_monitoring_1)", gateway.url())),
        "{}",
        run.stderr
    );
    assert!(warnings(&run).is_empty(), "{}", run.stderr);

    // The Pushgateway's own /metrics.
    let exposed = gateway.metrics();
    assert_eq!(sample(&exposed, "connector_last_run_rows", &run_group), Some(source_rows), "{exposed}");
    assert_eq!(sample(&exposed, "connector_last_run_exit_code", &run_group), Some(0.0));
    assert_eq!(sample(&exposed, "connector_last_run_result", &[("result", "success"), ("job", JOB)]), Some(1.0));
    assert!(sample(&exposed, "connector_last_run_bytes", &run_group).unwrap() > 0.0);
    assert!(sample(
        &exposed,
        "connector_last_run_phase_seconds",
        &[("phase", "query"), ("instance", "ds_monitoring_1")]
    )
    .is_some());
    let started = sample(&exposed, "connector_last_run_start_timestamp_seconds", &run_group).unwrap();
    let ended = sample(&exposed, "connector_last_run_timestamp_seconds", &run_group).unwrap();
    let success = sample(
        &exposed,
        "connector_last_success_timestamp_seconds",
        &[("result", "success"), ("instance", "ds_monitoring_1")],
    )
    .expect("the success time is pushed");
    assert!(
        before - 0.001 <= started && started <= ended && ended <= after + 0.001,
        "{before} {started} {ended} {after}"
    );
    assert_eq!(success, ended);
    assert_promtool_accepts("what was pushed", &connector_families(&exposed));

    // The same through its API: two groups, the run's and the success's.
    let groups = gateway.groups();
    let run_api = group(&groups, &run_group).expect("the run's group");
    assert_eq!(group_value(run_api, "connector_last_run_rows"), Some(source_rows));
    assert_eq!(group_value(run_api, "connector_last_run_exit_code"), Some(0.0));
    assert_eq!(run_api["connector_last_run_rows"]["type"], "GAUGE");
    assert_eq!(run_api["last_push_successful"], true);
    assert_eq!(group_value(run_api, "connector_last_success_timestamp_seconds"), None);
    let success_api = group(&groups, &[("job", JOB), ("instance", "ds_monitoring_1"), ("result", "success")])
        .expect("the success group");
    assert_eq!(group_value(success_api, "connector_last_success_timestamp_seconds"), Some(success));

    // A failing run (wrong database password): its exit code replaces the
    // run's metrics, the time of the last success stays.
    std::thread::sleep(Duration::from_millis(20));
    let failing = with(vars.clone(), &[("SOURCE_DATABASE_PASSWORD", "wrong-password")]);
    let run = connector(&["run"], &failing);
    assert_eq!(run.code, 4, "{}", run.output());
    let exposed = gateway.metrics();
    assert_eq!(sample(&exposed, "connector_last_run_exit_code", &run_group), Some(4.0), "{exposed}");
    assert_eq!(
        sample(&exposed, "connector_last_run_result", &[("result", "source_unreachable"), ("job", JOB)]),
        Some(1.0)
    );
    assert_eq!(sample(&exposed, "connector_last_run_result", &[("result", "success"), ("job", JOB)]), None);
    assert_eq!(sample(&exposed, "connector_last_run_rows", &run_group), None, "a failed run has no rows");
    assert!(sample(&exposed, "connector_last_run_timestamp_seconds", &run_group).unwrap() > ended);
    assert_eq!(
        sample(
            &exposed,
            "connector_last_success_timestamp_seconds",
            &[("result", "success"), ("instance", "ds_monitoring_1")]
        ),
        Some(success),
        "the failed run must not erase the last success"
    );
    assert_promtool_accepts("what the failed run pushed", &connector_families(&exposed));
    Secrets::new([PAK, db.password.as_str()]).check_run(&run);
}

#[test]
fn a_stopped_pushgateway_costs_one_warning_and_not_the_exit_code() {
    let mut gateway = Pushgateway::start();
    let url = gateway.url();
    gateway.stop();
    let api = upload_mock();
    let temp = tempfile::tempdir().unwrap();
    let run = connector(&["run"], &run_env(duckdb_source(5), &api, temp.path(), &[("PUSHGATEWAY_URL", &url)]));
    assert_eq!(run.code, 0, "{}", run.output());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(
        warned[0].contains(&format!("metrics not pushed to {url}:")) && warned[0].contains("(after 3 attempts)"),
        "{}",
        warned[0]
    );
    // Two retries, no more.
    assert!(run.stderr.contains("attempt 2 of 3 failed"), "{}", run.stderr);
    assert!(!run.stderr.contains("attempt 3 of 3 failed"), "{}", run.stderr);
    assert_eq!(api.paths(), ["/api", "/upload"]);
}

#[test]
fn basic_auth_a_wrong_password_is_a_warning_the_right_one_pushes() {
    let gateway = Pushgateway::start_with_auth(PUSH_USER, PUSH_PASSWORD, PUSH_PASSWORD_BCRYPT);
    let api = upload_mock();
    let temp = tempfile::tempdir().unwrap();
    let secrets_dir = tempfile::tempdir().unwrap();
    let wrong = "wrong-pushgateway-password";
    let secrets = Secrets::new([
        PAK,
        PUSH_PASSWORD,
        wrong,
        &format!("{PUSH_USER}:{PUSH_PASSWORD}"),
        &format!("{PUSH_USER}:{wrong}"),
    ]);
    let vars = run_env(
        duckdb_source(8),
        &api,
        temp.path(),
        &[("PUSHGATEWAY_URL", &gateway.url()), ("PUSHGATEWAY_USERNAME", PUSH_USER), ("LOG_LEVEL", "debug")],
    );

    let run = connector(&["run"], &with(vars.clone(), &[("PUSHGATEWAY_PASSWORD", wrong)]));
    assert_eq!(run.code, 0, "{}", run.output());
    let warned = warnings(&run);
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(warned[0].contains("HTTP 401 (check PUSHGATEWAY_USERNAME and PUSHGATEWAY_PASSWORD)"), "{}", warned[0]);
    assert!(!run.stderr.contains("pushing the metrics: attempt"), "a refused password is not retried:\n{}", run.stderr);
    secrets.check_run(&run);
    assert!(gateway.groups().is_empty(), "nothing may be pushed with a wrong password");

    // The right one, from a file as the Helm chart mounts it.
    let password_file = secrets_dir.path().join("pushgateway-password");
    std::fs::write(&password_file, format!("{PUSH_PASSWORD}\n")).unwrap();
    let run = connector(&["run"], &with(vars, &[("PUSHGATEWAY_PASSWORD_FILE", password_file.to_str().unwrap())]));
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    secrets.check_run(&run);
    let exposed = gateway.metrics();
    assert_eq!(sample(&exposed, "connector_last_run_rows", &[("instance", "ds_monitoring_1")]), Some(8.0), "{exposed}");
}

#[test]
fn a_failed_configuration_and_an_interrupted_run_are_pushed_too() {
    let gateway = Pushgateway::start();
    let api = upload_mock();
    let temp = tempfile::tempdir().unwrap();
    let instance = "permits/nightly ü";
    let labels = [("job", "city_exports"), ("instance", instance)];
    let vars = run_env(
        duckdb_source(3),
        &api,
        temp.path(),
        &[("PUSHGATEWAY_URL", &gateway.url()), ("PUSHGATEWAY_JOB", "city_exports"), ("PUSHGATEWAY_INSTANCE", instance)],
    );

    let run = connector(&["run"], &with(vars.clone(), &[("SOURCE_DATABASE_TYPE", "oracle")]));
    assert_eq!(run.code, 3, "{}", run.output());
    let exposed = gateway.metrics();
    assert_eq!(sample(&exposed, "connector_last_run_exit_code", &labels), Some(3.0), "{exposed}");
    assert_eq!(
        sample(&exposed, "connector_last_run_result", &[("result", "config"), ("instance", instance)]),
        Some(1.0)
    );
    assert_eq!(sample(&exposed, "connector_last_success_timestamp_seconds", &[("instance", instance)]), None);

    // A query that runs until SIGTERM stops it.
    let slow = with(vars, &[("SOURCE_DATABASE_SQL_QUERY", "SELECT count(*) FROM range(100000000000) a")]);
    let child = spawn_connector(&["run"], &slow);
    std::thread::sleep(Duration::from_millis(1500));
    terminate(&child);
    let run = finish_connector(child);
    assert_eq!(run.code, 143, "{}", run.output());
    let exposed = gateway.metrics();
    assert_eq!(sample(&exposed, "connector_last_run_exit_code", &labels), Some(143.0), "{exposed}\n{}", run.stderr);
    assert_eq!(
        sample(&exposed, "connector_last_run_result", &[("result", "terminated"), ("instance", instance)]),
        Some(1.0)
    );
}

// ---------------------------------------------------------------------------
// node_exporter textfile

#[test]
fn the_textfile_is_written_atomically_and_keeps_the_last_success() {
    let api = upload_mock();
    let temp = tempfile::tempdir().unwrap();
    let collector = tempfile::tempdir().unwrap();
    let file = collector.path().join("connector_permits.prom");
    let vars = run_env(duckdb_source(21), &api, temp.path(), &[("METRICS_TEXTFILE", file.to_str().unwrap())]);
    let labels = [("job", JOB), ("instance", "ds_monitoring_1")];

    // A reader in a loop, as node_exporter would: every read is a whole file.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (file, stop) = (file.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut whole_reads = 0u32;
            while !stop.load(Ordering::SeqCst) {
                match std::fs::read_to_string(&file) {
                    Ok(text) => {
                        assert!(
                            text.ends_with('\n') && text.contains("connector_last_run_exit_code{"),
                            "a partial file was read:\n{text:?}"
                        );
                        assert!(text.contains("# TYPE connector_last_success_timestamp_seconds gauge\nconnector_last_success_timestamp_seconds{"),
                            "a partial file was read:\n{text:?}");
                        whole_reads += 1;
                    }
                    Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
                }
            }
            whole_reads
        })
    };

    let mut inodes = Vec::new();
    let mut first_success = None;
    for attempt in 0..4 {
        let before = now();
        let run = connector(&["run"], &vars);
        assert_eq!(run.code, 0, "{}", run.output());
        assert!(warnings(&run).is_empty(), "{}", run.stderr);
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(sample(&text, "connector_last_run_rows", &labels), Some(21.0), "{text}");
        let success = sample(&text, "connector_last_success_timestamp_seconds", &labels).unwrap();
        assert!(success >= before - 0.001 && success <= now(), "{success}");
        first_success.get_or_insert(success);
        if attempt == 0 {
            assert_promtool_accepts("the textfile", &text);
            let mode = std::fs::metadata(&file).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o644, "node_exporter must be able to read it");
        }
        inodes.push(std::fs::metadata(&file).unwrap().ino());
    }
    // Each run put a new file in place (a rename), never rewrote the old one.
    let mut distinct = inodes.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), inodes.len(), "{inodes:?}");

    // A failed run: its exit code, and the last success carried over.
    let last_success =
        sample(&std::fs::read_to_string(&file).unwrap(), "connector_last_success_timestamp_seconds", &labels);
    let run = connector(&["run"], &with(vars, &[("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM no_such_table")]));
    assert_eq!(run.code, 5, "{}", run.output());
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(sample(&text, "connector_last_run_exit_code", &labels), Some(5.0), "{text}");
    assert_eq!(sample(&text, "connector_last_run_result", &[("result", "query_failed")]), Some(1.0), "{text}");
    assert_eq!(sample(&text, "connector_last_success_timestamp_seconds", &labels), last_success, "{text}");
    assert_eq!(sample(&text, "connector_last_run_rows", &labels), None, "{text}");
    assert_promtool_accepts("the textfile after a failure", &text);

    stop.store(true, Ordering::SeqCst);
    let whole_reads = reader.join().expect("the reader saw only whole files");
    assert!(whole_reads > 10, "the reader read the file only {whole_reads} times");
    assert_eq!(dir_entries(collector.path()), ["connector_permits.prom"], "no temporary file is left");
}

// ---------------------------------------------------------------------------
// The long-lived mode's /metrics

#[test]
fn the_schedule_modes_metrics_pass_promtool() {
    let api = upload_mock();
    let temp = tempfile::tempdir().unwrap();
    let port = free_port();
    let vars = run_env(
        duckdb_source(12),
        &api,
        temp.path(),
        &[("CRON_SCHEDULE", "0 0 1 1 *"), ("HEALTH_CHECK_PORT", &port.to_string())],
    );
    let child = spawn_connector(&["schedule", "--run-now"], &vars);
    let mut metrics = String::new();
    let started = Instant::now();
    wait_until("the first cycle in /metrics", Duration::from_secs(30), || {
        metrics = http_get_local(port, "/metrics").map(|(_, body)| body).unwrap_or_default();
        metrics.contains("connector_last_success_timestamp_seconds ")
    });
    terminate(&child);
    let run = finish_connector(child);
    assert_eq!(run.code, 143, "{}", run.output());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(sample(&metrics, "connector_last_run_rows", &[]), Some(12.0), "{metrics}");
    assert_eq!(sample(&metrics, "connector_runs_total", &[("result", "success")]), Some(1.0), "{metrics}");
    assert_promtool_accepts("the schedule mode's /metrics", &metrics);
}
