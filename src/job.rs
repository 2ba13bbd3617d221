//! One cycle of work and its summary. The job orchestrates; it takes its
//! stages as values — the export ([`Export`]) and the API ([`Api`]), chosen
//! once by the caller — and decides the rest: where the files go, what a
//! signal between the phases means, what is recorded and logged. `export`
//! stops at a verified file on disk; `run` adds the upload and the ingest.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::Cancellation;
use crate::config::{ExportConfig, LogFormat, RunConfig, UploadConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::health::{Phase, State};
use crate::metrics::{self, FinishedRun};
use crate::source;
use crate::source::export_settings::TEMP_DIR;
use crate::stages::{Api, IngestOutcome, UploadReceipt};
use crate::stages::{Export, ExportStats};

/// The stages of a cycle, chosen once from the settings by the caller:
/// `app.rs` for `export`, `run`, `upload` and `schedule` (with
/// `source::export_for` and `polyteia::api_for`, the only places that pick),
/// `check.rs` for `check`, which reports a stage that cannot be built as a failed check.
#[derive(Clone, Copy)]
pub(crate) struct Stages<'a> {
    pub export: &'a dyn Export,
    pub api: &'a dyn Api,
}

/// What a finished export reports.
#[derive(Debug, Clone)]
pub(crate) struct ExportSummary {
    pub file: PathBuf,
    pub stats: ExportStats,
    pub total: Duration,
}

/// `connector export --output PATH`: the query result as a verified Parquet
/// file at `output`, written beside it and renamed into place, so a reader
/// never sees a half-written file.
pub(crate) fn export_to_file(
    export: &dyn Export,
    config: &ExportConfig,
    output: &Path,
    ctx: &Context,
) -> Result<ExportSummary> {
    ctx.cancel.explain("the export", export_to_file_inner(export, config, output, ctx))
}

fn export_to_file_inner(
    export: &dyn Export,
    config: &ExportConfig,
    output: &Path,
    ctx: &Context,
) -> Result<ExportSummary> {
    let started = Instant::now();
    let output = absolute(output)?;
    let parent = output.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    if !parent.is_dir() {
        return Err(Error::new(
            ErrorKind::LocalIo,
            format!("the output directory {} does not exist", parent.display()),
        ));
    }
    let file_name = output
        .file_name()
        .ok_or_else(|| Error::new(ErrorKind::LocalIo, format!("--output {} is not a file path", output.display())))?;
    let partial = parent.join(format!(".{}.partial-{}", file_name.to_string_lossy(), std::process::id()));

    let work_dir = private_work_dir(&config.export.output.temp_dir)?;
    let _leftovers = ctx.cancel.remove_on_sudden_exit(&[work_dir.path(), &partial]);
    export.announce();
    let stats = export_into(export, ctx, work_dir.path(), &partial)?;
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

/// A private directory for one run's files (the Parquet file, DuckDB's
/// spill files), removed when dropped: on every exit path, success or failure.
pub(crate) fn private_work_dir(temp_dir: &Path) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("polyteia-connector-").tempdir_in(temp_dir).map_err(|e| {
        let what = format!("cannot create a work directory in {} {}", TEMP_DIR.name, temp_dir.display());
        Error::io(what, &e)
    })?;
    log::debug!("work directory {}", dir.path().display());
    Ok(dir)
}

/// What a finished `run` reports.
#[derive(Debug, Clone)]
pub(crate) struct RunSummary {
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
pub(crate) struct Context {
    pub cancel: Arc<Cancellation>,
    pub state: Arc<State>,
}

impl Context {
    pub(crate) fn new() -> Context {
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
pub(crate) fn run_once(stages: Stages, config: &RunConfig, ctx: &Context) -> Result<RunSummary> {
    let result = run_phases(stages, config, ctx);
    ctx.cancel.explain(ctx.state.phase().name(), result)
}

fn run_phases(stages: Stages, config: &RunConfig, ctx: &Context) -> Result<RunSummary> {
    let started = Instant::now();
    let work_dir = private_work_dir(&config.export.output.temp_dir)?;
    let _leftovers = ctx.cancel.remove_on_sudden_exit(&[work_dir.path()]);
    stages.export.announce();

    let file = work_dir.path().join(upload_file_name(&config.api.dataset_id));
    let export = export_into(stages.export, ctx, work_dir.path(), &file)?;
    check_cancelled(&ctx.cancel)?;
    log::info!(rows = export.rows, bytes = export.bytes; "export verified: {} rows, {}; uploading to {}",
        export.rows, human_bytes(export.bytes), stages.api.describe());

    let (upload, receipt, ingest) = publish(config.log.format, ctx, stages.api, &file, export.bytes)?;
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

/// Connects and exports into `dest`, with the query interruptible by a
/// signal. The source connection is closed when this returns, before
/// anything is uploaded.
fn export_into(export: &dyn Export, ctx: &Context, spill_dir: &Path, dest: &Path) -> Result<ExportStats> {
    ctx.state.set_phase(Phase::Connecting);
    export.export(dest, spill_dir, &ctx.cancel, &|| ctx.state.set_phase(Phase::Exporting))
}

/// Uploads `file` and waits for the ingest: the part of a cycle after the export.
fn publish(
    log_format: LogFormat,
    ctx: &Context,
    api: &dyn Api,
    file: &Path,
    bytes: u64,
) -> Result<(Duration, UploadReceipt, Option<Duration>)> {
    ctx.state.set_phase(Phase::Uploading);
    let upload_started = Instant::now();
    let progress = UploadProgress::new(bytes, log_format);
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
pub(crate) fn upload_file(api: &dyn Api, config: &UploadConfig, file: &Path, ctx: &Context) -> Result<()> {
    let started = Instant::now();
    let (rows, columns) = source::inspect_parquet(file)?;
    if rows == 0 && !config.allow_empty_result {
        return Err(Error::new(
            ErrorKind::EmptyResult,
            format!(
                "{} holds no rows; uploading it would empty the dataset (set {}=true if intended)",
                file.display(),
                crate::source::export_settings::ALLOW_EMPTY_RESULT.name
            ),
        ));
    }
    let bytes = std::fs::metadata(file).map_err(|e| Error::io(format!("reading {}", file.display()), &e))?.len();
    log::info!(rows = rows, columns = columns, bytes = bytes;
        "uploading {} ({} rows, {} columns, {}) to {}", file.display(), rows, columns, human_bytes(bytes), api.describe());
    let (upload, receipt, ingest) =
        ctx.cancel.explain("the upload", publish(config.log.format, ctx, api, file, bytes))?;
    log::info!(rows = rows, bytes = bytes, upload_seconds = upload.as_secs_f64(), upload_attempts = receipt.attempts,
        ingest_seconds = ingest.map(|d| d.as_secs_f64()).unwrap_or(0.0), ingest_id = receipt.ingest_id.as_deref().unwrap_or(""),
        total_seconds = started.elapsed().as_secs_f64();
        "upload finished: {} rows, {} in {:.2}s{}", rows, human_bytes(bytes), started.elapsed().as_secs_f64(),
        receipt.ingest_id.as_deref().map(|id| format!(", ingest id {id}")).unwrap_or_default());
    Ok(())
}

/// A cycle for the scheduler and `--serve-health`: records the outcome in
/// the shared state and logs a failure with its exit class.
pub(crate) fn run_recorded(stages: Stages, config: &RunConfig, ctx: &Context) -> Result<RunSummary> {
    let started = chrono::Utc::now();
    ctx.state.cycle_started();
    let result = run_once(stages, config, ctx);
    if let Err(e) = &result {
        log::error!(exit_code = e.exit_code(), error_class = e.kind().name(); "cycle failed: {e}");
    }
    ctx.state.cycle_finished(outcome_of(started, &result));
    result
}

/// What the metrics report of a run that began at `started` and just ended.
pub(crate) fn outcome_of(started: chrono::DateTime<chrono::Utc>, result: &Result<RunSummary>) -> FinishedRun {
    let (result_name, exit_code, rows, bytes, pseudonymized, phase_seconds) = match result {
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
            let pseudonymized = Some(s.export.pseudonymized as u64);
            (metrics::SUCCESS.to_string(), 0, Some(s.export.rows), Some(s.export.bytes), pseudonymized, phases)
        }
        Err(e) => (e.kind().name().to_string(), e.exit_code(), None, None, None, vec![]),
    };
    FinishedRun {
        started,
        ended: chrono::Utc::now(),
        result: result_name,
        exit_code,
        rows,
        bytes,
        pseudonymized_columns: pseudonymized,
        phase_seconds,
    }
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
        rows = e.rows, columns = e.columns, pseudonymized_columns = e.pseudonymized, bytes = e.bytes,
        connect_seconds = e.connect.as_secs_f64(), query_seconds = e.query.as_secs_f64(),
        verify_seconds = e.verify.as_secs_f64(), upload_seconds = summary.upload.as_secs_f64(),
        upload_attempts = summary.upload_attempts, ingest_seconds = ingest_seconds,
        ingest_id = summary.ingest_id.as_deref().unwrap_or(""), total_seconds = summary.total.as_secs_f64();
        "run finished: {} rows, {} columns{}, {} uploaded in {:.2}s (connect {:.2}s, query {:.2}s, verify {:.2}s, upload {:.2}s{})",
        e.rows, e.columns, pseudonymized_note(e.pseudonymized), human_bytes(e.bytes), summary.total.as_secs_f64(), e.connect.as_secs_f64(),
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

fn log_export_summary(summary: &ExportSummary) {
    let s = &summary.stats;
    log::info!(
        rows = s.rows, columns = s.columns, pseudonymized_columns = s.pseudonymized, bytes = s.bytes,
        connect_seconds = s.connect.as_secs_f64(), query_seconds = s.query.as_secs_f64(),
        verify_seconds = s.verify.as_secs_f64(), total_seconds = summary.total.as_secs_f64(),
        file = summary.file.display().to_string();
        "export finished: {} rows, {} columns{}, {} written to {} in {:.2}s (connect {:.2}s, query {:.2}s, verify {:.2}s)",
        s.rows, s.columns, pseudonymized_note(s.pseudonymized), human_bytes(s.bytes), summary.file.display(), summary.total.as_secs_f64(),
        s.connect.as_secs_f64(), s.query.as_secs_f64(), s.verify.as_secs_f64()
    );
}

/// ` (2 pseudonymised)` after the column count; nothing when none is.
fn pseudonymized_note(columns: usize) -> String {
    match columns {
        0 => String::new(),
        n => format!(" ({n} pseudonymised)"),
    }
}

/// `1536` → `1.5 KiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
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
    use super::*;
    use crate::config::Env;
    use crate::stages::{Preflight, ProgressFn, UploadReceipt};
    use std::sync::Mutex;

    #[test]
    fn human_bytes_units() {
        assert_eq!(super::human_bytes(12), "12 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    /// Writes a fixed content as "the Parquet file", or fails, or is
    /// interrupted by a signal while it works.
    struct FakeExport {
        content: &'static [u8],
        fails_with: Option<ErrorKind>,
        signal_during_export: bool,
    }

    impl FakeExport {
        fn writing(content: &'static [u8]) -> FakeExport {
            FakeExport { content, fails_with: None, signal_during_export: false }
        }
    }

    impl Export for FakeExport {
        fn announce(&self) {}

        fn preflight(&self, _spill: &Path) -> Vec<Preflight> {
            Vec::new()
        }

        fn preflight_checks(&self) -> &'static [&'static str] {
            &[]
        }

        fn export(
            &self,
            dest: &Path,
            _spill: &Path,
            cancel: &Cancellation,
            connected: &dyn Fn(),
        ) -> Result<ExportStats> {
            connected();
            if self.signal_during_export {
                cancel.cancel(crate::platform::StopRequest::TERMINATE);
            }
            if let Some(kind) = self.fails_with {
                return Err(Error::new(kind, "the fake export failed"));
            }
            std::fs::write(dest, self.content).unwrap();
            Ok(ExportStats {
                rows: 3,
                columns: 2,
                pseudonymized: 0,
                bytes: self.content.len() as u64,
                connect: Duration::ZERO,
                query: Duration::ZERO,
                verify: Duration::ZERO,
            })
        }
    }

    /// Records what was uploaded (the file's content at upload time).
    #[derive(Default)]
    struct FakeApi {
        uploaded: Mutex<Vec<Vec<u8>>>,
        upload_fails_with: Option<ErrorKind>,
        ingest_fails: bool,
    }

    impl Api for FakeApi {
        fn describe(&self) -> String {
            "a fake API".into()
        }

        fn upload(&self, file: &Path, progress: ProgressFn) -> Result<UploadReceipt> {
            if let Some(kind) = self.upload_fails_with {
                return Err(Error::new(kind, "the fake upload failed"));
            }
            let content = std::fs::read(file).unwrap();
            progress(content.len() as u64);
            self.uploaded.lock().unwrap().push(content);
            Ok(UploadReceipt { ingest_id: Some("dsig_fake".into()), attempts: 1 })
        }

        fn wait_for_ingest(&self, _receipt: &UploadReceipt) -> Result<IngestOutcome> {
            match self.ingest_fails {
                true => Err(Error::new(ErrorKind::IngestFailed, "the fake ingest failed")),
                false => Ok(IngestOutcome::Completed { waited: Duration::from_millis(1) }),
            }
        }

        fn preflight(&self) -> Vec<Preflight> {
            Vec::new()
        }
    }

    fn config(temp: &Path) -> RunConfig {
        let env = Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
            ("PERSONAL_ACCESS_TOKEN", "pak_unit"),
            ("DATASET_ID", "ds_unit"),
            ("TEMP_DIR", temp.to_str().unwrap()),
        ]);
        RunConfig::from_env(&env).unwrap()
    }

    fn leftovers(temp: &Path) -> Vec<String> {
        std::fs::read_dir(temp).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn a_cycle_uploads_exactly_the_exported_file_then_removes_it() {
        let temp = tempfile::tempdir().unwrap();
        let (export, api) = (FakeExport::writing(b"PAR1 three rows PAR1"), FakeApi::default());
        let ctx = Context::new();
        let summary = run_once(Stages { export: &export, api: &api }, &config(temp.path()), &ctx).unwrap();
        assert_eq!(*api.uploaded.lock().unwrap(), vec![b"PAR1 three rows PAR1".to_vec()]);
        assert_eq!((summary.export.rows, summary.ingest_id.as_deref()), (3, Some("dsig_fake")));
        assert!(leftovers(temp.path()).is_empty(), "{:?}", leftovers(temp.path()));
    }

    #[test]
    fn a_failed_export_uploads_nothing_and_keeps_its_exit_class() {
        let temp = tempfile::tempdir().unwrap();
        let export = FakeExport { fails_with: Some(ErrorKind::EmptyResult), ..FakeExport::writing(b"") };
        let api = FakeApi::default();
        let err = run_once(Stages { export: &export, api: &api }, &config(temp.path()), &Context::new()).unwrap_err();
        assert_eq!(err.exit_code(), 6);
        assert!(api.uploaded.lock().unwrap().is_empty());
        assert!(leftovers(temp.path()).is_empty());
    }

    #[test]
    fn a_signal_during_the_export_stops_the_cycle_before_the_upload() {
        let temp = tempfile::tempdir().unwrap();
        let export = FakeExport { signal_during_export: true, ..FakeExport::writing(b"PAR1 complete PAR1") };
        let api = FakeApi::default();
        let err = run_once(Stages { export: &export, api: &api }, &config(temp.path()), &Context::new()).unwrap_err();
        assert_eq!(err.exit_code(), 143, "{err}");
        assert!(api.uploaded.lock().unwrap().is_empty(), "a finished export is not uploaded after a signal");
        assert!(leftovers(temp.path()).is_empty());
    }

    #[test]
    fn an_unavailable_api_is_exit_12_and_the_file_is_removed() {
        let temp = tempfile::tempdir().unwrap();
        let export = FakeExport::writing(b"PAR1 x PAR1");
        let api = FakeApi { upload_fails_with: Some(ErrorKind::ApiUnavailable), ..FakeApi::default() };
        let err = run_once(Stages { export: &export, api: &api }, &config(temp.path()), &Context::new()).unwrap_err();
        assert_eq!(err.exit_code(), 12);
        assert!(leftovers(temp.path()).is_empty());
    }

    #[test]
    fn a_recorded_cycle_reports_its_result_and_exit_code() {
        let temp = tempfile::tempdir().unwrap();
        let export = FakeExport::writing(b"PAR1 x PAR1");
        let ctx = Context::new();
        let failing = FakeApi { ingest_fails: true, ..FakeApi::default() };
        let config = config(temp.path());
        assert!(run_recorded(Stages { export: &export, api: &failing }, &config, &ctx).is_err());
        let last = ctx.state.healthz()["last_run"].clone();
        assert_eq!((last["result"].as_str(), last["exit_code"].as_i64()), (Some("ingest_failed"), Some(13)));
        assert!(ctx.state.healthz()["last_success_at"].is_null());

        let working = FakeApi::default();
        run_recorded(Stages { export: &export, api: &working }, &config, &ctx).unwrap();
        let health = ctx.state.healthz();
        assert_eq!(
            (health["last_run"]["result"].as_str(), health["last_run"]["rows"].as_u64()),
            (Some("success"), Some(3))
        );
        assert!(health["last_success_at"].is_string());
    }
}
