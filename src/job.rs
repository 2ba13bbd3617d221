//! One cycle of work and its summary. `export` stops at a verified file on
//! disk; later stages (upload, ingest) build on the same steps.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::Cancellation;
use crate::config::{Config, LogFormat, SourceKind};
use crate::health::{Phase, State};
use crate::metrics::{self, Outcome};
use crate::error::{Error, ErrorKind, Result};
use crate::polyteia::{self, Api, IngestOutcome};
use crate::retry::{self, GaveUp, Verdict};
use crate::source::{self, ExportStats, Source};

/// What a finished export reports.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub file: PathBuf,
    pub stats: ExportStats,
    pub total: Duration,
}

/// `connector export --output PATH`: the query result as a verified Parquet
/// file at `output`, written beside it and renamed into place, so a reader
/// never sees a half-written file.
pub fn export_to_file(config: &Config, output: &Path, ctx: &Context) -> Result<ExportSummary> {
    ctx.cancel.explain("the export", export_to_file_inner(config, output, ctx))
}

fn export_to_file_inner(config: &Config, output: &Path, ctx: &Context) -> Result<ExportSummary> {
    let started = Instant::now();
    let output = absolute(output)?;
    let parent = output.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    if !parent.is_dir() {
        return Err(Error::new(ErrorKind::LocalIo, format!("the output directory {} does not exist", parent.display())));
    }
    let file_name = output
        .file_name()
        .ok_or_else(|| Error::new(ErrorKind::LocalIo, format!("--output {} is not a file path", output.display())))?;
    let partial = parent.join(format!(".{}.partial-{}", file_name.to_string_lossy(), std::process::id()));

    let work_dir = source::private_work_dir(&config.output.temp_dir)?;
    let _leftovers = ctx.cancel.remove_on_sudden_exit(&[work_dir.path(), &partial]);
    log_start(config)?;
    let stats = export_into(config, ctx, work_dir.path(), &partial)?;
    check_cancelled(&ctx.cancel).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    if let Err(e) = std::fs::rename(&partial, &output) {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::io(format!("cannot move the finished file to {}", output.display()), &e));
    }
    let summary = ExportSummary { file: output, stats, total: started.elapsed() };
    log_export_summary(&summary);
    Ok(summary)
}

/// What a finished `run` reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub export: ExportStats,
    pub upload: Duration,
    pub upload_attempts: u32,
    pub ingest: Option<Duration>,
    pub ingest_id: Option<String>,
    pub total: Duration,
}

/// What a cycle shares with the outside: the cancellation a signal
/// triggers, and the state `/healthz` and `/metrics` report.
#[derive(Clone)]
pub struct Context {
    pub cancel: Arc<Cancellation>,
    pub state: Arc<State>,
}

impl Context {
    pub fn new() -> Context {
        Context { cancel: Cancellation::new(), state: State::new() }
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

/// One full cycle: export → upload → wait for the ingest → clean up.
/// The work directory (Parquet file, DuckDB spill files) is removed on every
/// path out of this function.
pub fn run_once(config: &Config, ctx: &Context) -> Result<RunSummary> {
    let result = run_phases(config, ctx);
    ctx.cancel.explain(ctx.state.phase().name(), result)
}

fn run_phases(config: &Config, ctx: &Context) -> Result<RunSummary> {
    let started = Instant::now();
    let api = polyteia::api_for(&config.polyteia, ctx.cancel.flag())?;
    let work_dir = source::private_work_dir(&config.output.temp_dir)?;
    let _leftovers = ctx.cancel.remove_on_sudden_exit(&[work_dir.path()]);
    log_start(config)?;

    let file = work_dir.path().join(upload_file_name(config.polyteia.dataset_id.as_deref().unwrap_or("export")));
    let export = export_into(config, ctx, work_dir.path(), &file)?;
    check_cancelled(&ctx.cancel)?;
    log::info!(rows = export.rows, bytes = export.bytes; "export verified: {} rows, {}; uploading to {}",
        export.rows, human_bytes(export.bytes), api.describe());

    let (upload, receipt, ingest) = publish(config, ctx, api.as_ref(), &file, export.bytes)?;
    drop(work_dir);

    let summary = RunSummary {
        export,
        upload,
        upload_attempts: receipt.attempts,
        ingest,
        ingest_id: receipt.ingest_id,
        total: started.elapsed(),
    };
    log_run_summary(&summary);
    Ok(summary)
}

/// Connects (retrying while unreachable) and exports into `dest`, with the
/// query interruptible by a signal. The DuckDB connection is closed when
/// this returns, before anything is uploaded.
fn export_into(config: &Config, ctx: &Context, spill_dir: &Path, dest: &Path) -> Result<ExportStats> {
    ctx.state.set_phase(Phase::Connecting);
    let source = open_source(config, spill_dir, &ctx.cancel)?;
    ctx.cancel.set_query(Some(source.query_stopper()));
    ctx.state.set_phase(Phase::Exporting);
    let stats = source.export(dest, &config.output);
    ctx.cancel.set_query(None);
    stats
}

/// Uploads `file` and waits for the ingest: the part of a cycle after the export.
fn publish(
    config: &Config,
    ctx: &Context,
    api: &dyn Api,
    file: &Path,
    bytes: u64,
) -> Result<(Duration, polyteia::UploadReceipt, Option<Duration>)> {
    ctx.state.set_phase(Phase::Uploading);
    let upload_started = Instant::now();
    let progress = UploadProgress::new(bytes, config.log_format);
    let receipt = api.upload(file, &|sent| progress.set(sent));
    progress.finish();
    let receipt = receipt?;
    let upload = upload_started.elapsed();
    log::info!(seconds = upload.as_secs_f64(), attempts = receipt.attempts;
        "upload accepted after {:.2}s ({})", upload.as_secs_f64(), rate(bytes, upload));

    ctx.state.set_phase(Phase::WaitingForIngest);
    let ingest = match api.wait_for_ingest(&receipt)? {
        IngestOutcome::NotApplicable => None,
        IngestOutcome::Completed { waited } => Some(waited),
    };
    Ok((upload, receipt, ingest))
}

fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    format!("{}/s", human_bytes((bytes as f64 / secs) as u64))
}

/// `connector upload --file PATH`: an existing Parquet file, checked to be
/// readable Parquet (and not empty unless allowed), replaces the dataset's data.
pub fn upload_file(config: &Config, file: &Path, ctx: &Context) -> Result<()> {
    let started = Instant::now();
    let (rows, columns) = source::inspect_parquet(file)?;
    if rows == 0 && !config.output.allow_empty_result {
        return Err(Error::new(
            ErrorKind::EmptyResult,
            format!("{} holds no rows; uploading it would empty the dataset (set ALLOW_EMPTY_RESULT=true if intended)", file.display()),
        ));
    }
    let bytes = std::fs::metadata(file).map_err(|e| Error::io(format!("reading {}", file.display()), &e))?.len();
    let api = polyteia::api_for(&config.polyteia, ctx.cancel.flag())?;
    log::info!(rows = rows, columns = columns, bytes = bytes;
        "uploading {} ({} rows, {} columns, {}) to {}", file.display(), rows, columns, human_bytes(bytes), api.describe());
    let (upload, receipt, ingest) = ctx.cancel.explain("the upload", publish(config, ctx, api.as_ref(), file, bytes))?;
    log::info!(rows = rows, bytes = bytes, upload_seconds = upload.as_secs_f64(), upload_attempts = receipt.attempts,
        ingest_seconds = ingest.map(|d| d.as_secs_f64()).unwrap_or(0.0), ingest_id = receipt.ingest_id.as_deref().unwrap_or(""),
        total_seconds = started.elapsed().as_secs_f64();
        "upload finished: {} rows, {} in {:.2}s{}", rows, human_bytes(bytes), started.elapsed().as_secs_f64(),
        receipt.ingest_id.as_deref().map(|id| format!(", ingest id {id}")).unwrap_or_default());
    Ok(())
}

/// A cycle for the scheduler and `--serve-health`: records the outcome in
/// the shared state and logs a failure with its exit class.
pub fn run_recorded(config: &Config, ctx: &Context) -> Result<RunSummary> {
    let started = chrono::Utc::now();
    ctx.state.cycle_started();
    let result = run_once(config, ctx);
    if let Err(e) = &result {
        log::error!(exit_code = e.exit_code(), error_class = e.kind().name(); "cycle failed: {e}");
    }
    ctx.state.cycle_finished(outcome_of(started, &result));
    result
}

/// What the metrics report of a run that began at `started` and just ended.
pub fn outcome_of(started: chrono::DateTime<chrono::Utc>, result: &Result<RunSummary>) -> Outcome {
    let (result_name, exit_code, rows, bytes, phase_seconds) = match result {
        Ok(s) => {
            let mut phases = vec![
                ("connect", s.export.connect.as_secs_f64()),
                ("query", s.export.query.as_secs_f64()),
                ("verify", s.export.verify.as_secs_f64()),
                ("upload", s.upload.as_secs_f64()),
            ];
            if let Some(ingest) = s.ingest {
                phases.push(("ingest", ingest.as_secs_f64()));
            }
            (metrics::SUCCESS.to_string(), 0, Some(s.export.rows), Some(s.export.bytes), phases)
        }
        Err(e) => (e.kind().name().to_string(), e.exit_code(), None, None, vec![]),
    };
    Outcome { started, ended: chrono::Utc::now(), result: result_name, exit_code, rows, bytes, phase_seconds }
}

fn check_cancelled(cancel: &Cancellation) -> Result<()> {
    match cancel.interrupted_error("the export") {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The base name the platform sees: the dataset id, made safe for a file name.
fn upload_file_name(dataset_id: &str) -> String {
    let safe: String =
        dataset_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{safe}.parquet")
}

/// Opens the source, retrying while the server is unreachable (a database
/// that is restarting, a pod that is not ready yet). A refused login or a
/// missing database is not retried: waiting would not fix it.
fn open_source(config: &Config, spill_dir: &Path, cancel: &Cancellation) -> Result<Source> {
    let settings = config.source()?;
    let policy = &config.source_connect_retry;
    let attempts = policy.attempts.max(1);
    let judge = |e: &Error| if e.is_transient() { Verdict::Retry { after: None } } else { Verdict::Stop };
    let announce = |e: &Error, attempt: u32, delay: Duration| {
        log::warn!(attempt = attempt, delay_seconds = delay.as_secs_f64();
            "source not reachable (attempt {attempt} of {attempts}), retrying in {:.1}s: {e}", delay.as_secs_f64())
    };
    let open = |_| Source::open(settings, &config.engine, spill_dir);
    match retry::retry(policy, &cancel.flag(), open, judge, announce) {
        Ok(source) => Ok(source),
        Err(GaveUp::Failed { error, .. }) => Err(error),
        Err(GaveUp::Cancelled) => Err(cancel
            .interrupted_error("connecting to the source")
            .unwrap_or_else(|| Error::new(ErrorKind::InterruptedSigterm, "stopped while connecting to the source"))),
    }
}

/// A progress bar on an interactive terminal in text mode; nothing otherwise.
struct UploadProgress {
    bar: Option<indicatif::ProgressBar>,
    /// The position last handed to the bar: the body reader reports every
    /// few kilobytes, and updating the bar that often slowed a 2 GiB upload
    /// on a terminal from about a second to minutes.
    shown: std::sync::atomic::AtomicU64,
}

/// The bar moves in steps of at least this many bytes.
const PROGRESS_STEP: u64 = 1 << 20;

impl UploadProgress {
    fn new(total: u64, format: LogFormat) -> Self {
        if format != LogFormat::Text || !std::io::stderr().is_terminal() {
            return UploadProgress { bar: None, shown: 0.into() };
        }
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "uploading [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        UploadProgress { bar: Some(bar), shown: 0.into() }
    }

    fn set(&self, sent: u64) {
        let Some(bar) = &self.bar else { return };
        let shown = self.shown.load(Ordering::Relaxed);
        // A retry starts again from byte 0, so a smaller position is shown too.
        if sent < shown || sent - shown >= PROGRESS_STEP || bar.length() == Some(sent) {
            self.shown.store(sent, Ordering::Relaxed);
            bar.set_position(sent);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn log_run_summary(summary: &RunSummary) {
    let e = &summary.export;
    let ingest_seconds = summary.ingest.map(|d| d.as_secs_f64()).unwrap_or(0.0);
    log::info!(
        rows = e.rows, columns = e.columns, bytes = e.bytes,
        connect_seconds = e.connect.as_secs_f64(), query_seconds = e.query.as_secs_f64(),
        verify_seconds = e.verify.as_secs_f64(), upload_seconds = summary.upload.as_secs_f64(),
        upload_attempts = summary.upload_attempts, ingest_seconds = ingest_seconds,
        ingest_id = summary.ingest_id.as_deref().unwrap_or(""), total_seconds = summary.total.as_secs_f64();
        "run finished: {} rows, {} columns, {} uploaded in {:.2}s (connect {:.2}s, query {:.2}s, verify {:.2}s, upload {:.2}s{})",
        e.rows, e.columns, human_bytes(e.bytes), summary.total.as_secs_f64(), e.connect.as_secs_f64(),
        e.query.as_secs_f64(), e.verify.as_secs_f64(), summary.upload.as_secs_f64(),
        match (&summary.ingest_id, summary.ingest) {
            (Some(id), Some(waited)) => format!(", ingest {:.2}s, ingest id {id}", waited.as_secs_f64()),
            _ => String::new(),
        }
    );
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(format!("invalid path {}", path.display()), &e))
}

fn log_start(config: &Config) -> Result<()> {
    let s = config.source()?;
    if s.kind == SourceKind::Mysql && s.ssl_mode.as_deref() == Some("verify_identity") && s.ssl_root_cert.is_none() {
        log::warn!(
            "SOURCE_DATABASE_SSL_MODE=verify_identity without SOURCE_DATABASE_SSL_ROOT_CERT: the server certificate's \
             host name is checked only against a CA given there; set it to the CA that signed the server's certificate"
        );
    }
    match (&s.host, s.port) {
        (Some(host), Some(port)) => log::info!(
            source = s.kind.name(), host = host.as_str(), port = port, database = s.database.as_str();
            "exporting from {} database {} on {}:{}", s.kind.name(), s.database, host, port
        ),
        _ => log::info!(source = s.kind.name(), database = s.database.as_str();
            "exporting from {} database {}", s.kind.name(), s.database),
    }
    Ok(())
}

fn log_export_summary(summary: &ExportSummary) {
    let s = &summary.stats;
    log::info!(
        rows = s.rows, columns = s.columns, bytes = s.bytes,
        connect_seconds = s.connect.as_secs_f64(), query_seconds = s.query.as_secs_f64(),
        verify_seconds = s.verify.as_secs_f64(), total_seconds = summary.total.as_secs_f64(),
        file = summary.file.display().to_string();
        "export finished: {} rows, {} columns, {} written to {} in {:.2}s (connect {:.2}s, query {:.2}s, verify {:.2}s)",
        s.rows, s.columns, human_bytes(s.bytes), summary.file.display(), summary.total.as_secs_f64(),
        s.connect.as_secs_f64(), s.query.as_secs_f64(), s.verify.as_secs_f64()
    );
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes_units() {
        assert_eq!(super::human_bytes(12), "12 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
