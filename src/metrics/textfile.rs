//! A run's metrics for node_exporter's textfile collector. The file is
//! written under a temporary name in the same directory (not ending in
//! `.prom`, so node_exporter skips it) and renamed over the old one, so
//! node_exporter never reads half a file. When a run fails, the time of the
//! last success is carried over from the previous file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{last_run, seconds, Exposition, FinishedRun, LAST_SUCCESS};

pub(super) fn write(path: &Path, job: &str, instance: &str, outcome: &FinishedRun) {
    let last_success = match outcome.is_success() {
        true => Some(seconds(outcome.ended)),
        false => previous_success(path),
    };
    // Labelled, as node_exporter refuses two files with the same series.
    let mut out = Exposition::with_labels(&[("job", job), ("instance", instance)]);
    last_run(&mut out, outcome);
    if let Some(time) = last_success {
        out.one(&LAST_SUCCESS, time);
    }
    match write_atomically(path, out.into_text().as_bytes()) {
        Ok(()) => log::info!(file = path.display().to_string(); "metrics written to {}", path.display()),
        Err(e) => log::warn!(file = path.display().to_string(); "metrics not written to {}: {e}", path.display()),
    }
}

/// `connector_last_success_timestamp_seconds` of the file written before, if any.
fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(LAST_SUCCESS.name)?;
        if !rest.starts_with(['{', ' ']) {
            return None;
        }
        rest.rsplit(' ').next()?.parse::<f64>().ok().filter(|t| t.is_finite())
    })
}

fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let temp = temp_path(path);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(content)?;
        // node_exporter runs as another user; the metrics hold no secrets.
        crate::platform::make_readable_by_others(&file)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// `.NAME.prom.<pid>.tmp` beside `NAME.prom`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_success_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.prom");
        assert_eq!(previous_success(&file), None);
        std::fs::write(&file, "# HELP x\nconnector_last_success_timestamp_seconds_other 5\nconnector_last_success_timestamp_seconds{job=\"a b\",instance=\"x\"} 1764000000.25\n").unwrap();
        assert_eq!(previous_success(&file), Some(1_764_000_000.25));
        assert_eq!(temp_path(&file), dir.path().join(format!(".c.prom.{}.tmp", std::process::id())));
    }
}
