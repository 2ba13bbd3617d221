//! One error type for the whole program. Each [`ErrorKind`] maps to a stable,
//! documented exit code (README, "Exit codes"), so a scheduler can tell what
//! went wrong without parsing logs.

use std::fmt;

use crate::secret::scrub;

/// Whether running the same job again can succeed without anyone changing
/// anything: what a scheduler's retry rule (the chart's
/// `nonRetryableExitCodes`) needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The cause may go away by itself (a server restarting, a network blip).
    Helps,
    /// The same input fails the same way: someone has to fix something.
    Useless,
    /// Not a failure (exit code 0).
    NotNeeded,
}

/// One row of the exit-code contract: the README tables (both languages),
/// the Windows guide, the chart's `nonRetryableExitCodes`, `--help` and the
/// man page all say what this table says (the tests below hold them to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode {
    pub code: i32,
    /// A short, stable name for logs and metrics (`error_class`).
    pub name: &'static str,
    /// What the code means, as the README's table and `connector --help` say it.
    pub meaning: &'static str,
    pub retry: Retry,
}

/// Defines [`ErrorKind`] from the exit-code table: each row
/// `Variant = code, "name", Retry, "meaning";` becomes a variant, its place in
/// [`ErrorKind::ALL`] and its [`ExitCode`], so that nothing is kept in step by hand.
macro_rules! exit_codes {
    ($($(#[$meta:meta])* $kind:ident = $code:literal, $name:literal, $retry:ident, $meaning:expr;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[$meta])* $kind,)+
        }

        impl ErrorKind {
            /// Every kind, in the order of the exit-code table.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),+];

            /// This kind's row of the exit-code table.
            pub const fn row(self) -> ExitCode {
                match self {
                    $(ErrorKind::$kind => {
                        ExitCode { code: $code, name: $name, meaning: $meaning, retry: Retry::$retry }
                    })+
                }
            }
        }
    };
}

exit_codes! {
    /// A bug or an unexpected condition.
    Internal = 1, "internal", Useless, "internal error";
    // 2 is what clap uses for command-line usage errors (USAGE below).
    /// Settings are missing or malformed.
    Config = 3, "config", Useless, "configuration invalid";
    /// The source database cannot be reached or refused the login.
    SourceUnreachable = 4, "source_unreachable", Helps,
        "source database unreachable, login refused, or the connection was lost during the query";
    /// The query failed in DuckDB or on the source server.
    Query = 5, "query_failed", Useless, "query failed";
    /// The query returned no rows and `ALLOW_EMPTY_RESULT` is not set.
    EmptyResult = 6, "empty_result", Useless, "empty result refused";
    /// Local files: temp directory, disk full, output file.
    LocalIo = 7, "local_io", Helps, "local I/O error, including a full disk during the export";
    /// The written Parquet file does not match what the query produced.
    Verification = 8, "verification_failed", Useless, "Parquet verification failed";
    /// A DuckDB extension could not be found or loaded.
    Extension = 9, "extension_missing", Useless,
        "DuckDB extension missing or not loadable, or not the DuckDB library it belongs to";
    /// The Polyteia API refused the key (401/403).
    ApiAuth = 10, "api_auth", Useless, "Polyteia API: authentication or permission refused (401/403)";
    /// The Polyteia API rejected the request (404, 412, other 4xx).
    ApiRejected = 11, "api_rejected", Useless, "Polyteia API rejected the request (404, 412, other 4xx)";
    /// The Polyteia API stayed unavailable after all retries.
    ApiUnavailable = 12, "api_unavailable", Helps,
        "Polyteia API unavailable after all retries, including a proxy that is down or cannot reach the API";
    /// The platform reported the ingest as failed, or it did not finish in time.
    IngestFailed = 13, "ingest_failed", Helps, "ingest failed or timed out on the platform";
    /// `connector check` found at least one problem.
    CheckFailed = 14, "check_failed", Useless, "`connector check` found a problem";
    /// TLS to the Polyteia API (or the proxy) failed: a certificate the trust
    /// store does not accept, or a server that does not speak TLS.
    ApiTls = 15, "api_tls", Useless,
        "TLS to the Polyteia API failed: its certificate is not trusted (unknown CA, e.g. a TLS-inspecting \
         proxy's), issued for another host, or expired; not retried";
    /// The proxy refused to connect to the API (407 credentials, 403 policy).
    ProxyRefused = 16, "proxy_refused", Useless,
        "the proxy refused to connect to the API (407: credentials missing or wrong; 403: not allowed); not retried";
    /// A column's values would change on the way into the file (a type or a
    /// value the file cannot hold as the source holds it); nothing uploaded.
    LossRefused = 17, "loss_refused", Useless,
        "refused before the upload: a column's values would arrive changed (the message names the column and \
         the cast to write; ACCEPT_LOSS_COLUMNS accepts a known loss); not retried";
    /// Stopped by SIGINT.
    InterruptedSigint = 130, "interrupted", Helps, "interrupted by SIGINT (Windows: Ctrl-C)";
    /// Stopped by SIGTERM.
    InterruptedSigterm = 143, "terminated", Helps, "interrupted by SIGTERM (Windows: Ctrl-Break, the console closing)";
}

/// Exit code 0.
pub const SUCCESS: ExitCode = ExitCode { code: 0, name: "success", meaning: "success", retry: Retry::NotNeeded };

/// Exit code 2: clap's for a command line it cannot parse.
pub const USAGE: ExitCode =
    ExitCode { code: 2, name: "usage", meaning: "command-line usage error", retry: Retry::Useless };

/// The whole exit-code table, by code: success, usage and every [`ErrorKind`].
pub fn exit_codes() -> Vec<ExitCode> {
    let mut rows: Vec<ExitCode> = [SUCCESS, USAGE].into_iter().chain(ErrorKind::ALL.iter().map(|k| k.row())).collect();
    rows.sort_by_key(|row| row.code);
    rows
}

impl ErrorKind {
    /// What the exit code means, as the README's exit-code table and
    /// `connector --help` say it.
    pub fn meaning(self) -> &'static str {
        self.row().meaning
    }

    pub fn exit_code(self) -> i32 {
        self.row().code
    }

    /// A short, stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        self.row().name
    }
}

/// The exit codes for `connector --help` (and the man page, made from it):
/// the whole table.
pub fn exit_code_help() -> String {
    let mut lines = vec!["Exit codes:".to_string()];
    lines.extend(exit_codes().iter().map(|row| format!("{:>4}  {}", row.code, row.meaning.replace('`', ""))));
    lines.join("\n")
}

/// An error with its class and a one-line, secret-free message.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// Worth another attempt: decided where the failure is understood (e.g.
    /// the source's "connection refused"), acted on by whoever retries.
    transient: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message is scrubbed of secrets and folded onto one line.
    pub fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        Error { kind, message: one_line(&scrub(message.as_ref())), transient: false }
    }

    /// Marks the failure as one that may go away by itself (a server that is
    /// restarting or not reachable yet).
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    pub fn is_transient(&self) -> bool {
        self.transient
    }

    pub fn config(message: impl AsRef<str>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    pub fn io(what: impl fmt::Display, err: &std::io::Error) -> Self {
        let hint = match err.raw_os_error() {
            Some(28) => " (the disk is full: free space or point TEMP_DIR elsewhere)",
            Some(13) | Some(30) => " (not writable: point TEMP_DIR to a writable directory)",
            _ => "",
        };
        Error::new(ErrorKind::LocalIo, format!("{what}: {err}{hint}"))
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    /// Prefixes the message with what was being done.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error { transient: self.transient, ..Error::new(self.kind, format!("{what}: {}", self.message)) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Joins the lines of a multi-line message (DuckDB errors carry line breaks and
/// caret markers) so that a failure is one log line.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        let rows = exit_codes();
        let mut codes: Vec<i32> = rows.iter().map(|row| row.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), rows.len(), "an exit code is used twice");
        let mut names: Vec<&str> = rows.iter().map(|row| row.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), rows.len(), "an exit code's name is used twice");
        let kinds: Vec<i32> = ErrorKind::ALL.iter().map(|k| k.exit_code()).collect();
        assert!(!kinds.contains(&SUCCESS.code) && !kinds.contains(&USAGE.code));
    }

    #[test]
    fn help_lists_the_whole_table() {
        let help = exit_code_help();
        assert!(help.starts_with("Exit codes:\n   0  success\n   1  internal error\n   2  command-line usage error\n"));
        assert!(help.ends_with(" 143  interrupted by SIGTERM (Windows: Ctrl-Break, the console closing)"), "{help}");
        assert_eq!(help.lines().count(), exit_codes().len() + 1);
    }

    #[test]
    fn messages_are_one_line() {
        let e = Error::new(ErrorKind::Query, "Parser Error: syntax error\n\nLINE 1: SELEC\n        ^");
        assert_eq!(e.message(), "Parser Error: syntax error LINE 1: SELEC ^");
    }

    /// The documents that repeat the exit-code table say what it says: a code
    /// added, renumbered, reworded or made retryable in the table fails these
    /// until README.md, README.de.md, docs/windows.md and the chart's
    /// `nonRetryableExitCodes` (and its compatibility fixtures) agree.
    mod documentation {
        use super::super::*;
        use std::collections::BTreeMap;

        fn read(path: &str) -> String {
            let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        }

        /// The cells of every table row whose `column`-th cell is a number
        /// (the code), by that number.
        fn rows_by_code(markdown: &str, column: usize) -> BTreeMap<i32, Vec<String>> {
            markdown
                .lines()
                .filter(|line| line.starts_with('|'))
                .filter_map(|line| {
                    let cells: Vec<String> =
                        line.split(" | ").map(|c| c.trim_matches(['|', ' ']).to_string()).collect();
                    let code = cells.get(column)?.parse::<i32>().ok()?;
                    Some((code, cells))
                })
                .collect()
        }

        /// A README's table: code, meaning, what to check, whether a retry helps.
        fn check_readme(path: &str, yes: &str, no: &str, meanings_too: bool) {
            let rows = rows_by_code(&read(path), 0);
            let mut problems = Vec::new();
            for expected in exit_codes() {
                let Some(cells) = rows.get(&expected.code) else {
                    problems.push(format!("{path}: no row for exit code {}", expected.code));
                    continue;
                };
                if meanings_too && cells.get(1).map(String::as_str) != Some(expected.meaning) {
                    problems.push(format!(
                        "{path}: exit code {}'s meaning should read: {}",
                        expected.code, expected.meaning
                    ));
                }
                let retry = match expected.retry {
                    Retry::Helps => yes,
                    Retry::Useless => no,
                    Retry::NotNeeded => "",
                };
                if cells.get(3).map_or("", String::as_str) != retry {
                    problems.push(format!("{path}: exit code {}'s last column should say '{retry}'", expected.code));
                }
            }
            let known: Vec<i32> = exit_codes().iter().map(|row| row.code).collect();
            problems.extend(
                rows.keys()
                    .filter(|code| !known.contains(code))
                    .map(|code| format!("{path}: a row for exit code {code}, which the table does not have")),
            );
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }

        #[test]
        fn the_english_readme_lists_every_exit_code() {
            check_readme("README.md", "yes", "no", true);
        }

        #[test]
        fn the_german_readme_lists_every_exit_code() {
            check_readme("README.de.md", "ja", "nein", false);
        }

        #[test]
        fn the_windows_guide_lists_every_exit_code_in_hexadecimal() {
            let rows = rows_by_code(&read("docs/windows.md"), 1);
            let expected: BTreeMap<i32, Vec<String>> = exit_codes()
                .iter()
                .map(|row| {
                    (row.code, vec![format!("`0x{:X}`", row.code), row.code.to_string(), row.meaning.to_string()])
                })
                .collect();
            let table = expected.values().map(|cells| format!("| {} |", cells.join(" | "))).collect::<Vec<_>>();
            assert_eq!(rows, expected, "docs/windows.md's exit-code table should read:\n{}", table.join("\n"));
        }

        /// The codes of a `[1, 2, 3]` list or of YAML `- 1` items.
        fn codes_in(text: &str) -> Vec<i32> {
            text.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap()).collect()
        }

        fn non_retryable() -> Vec<i32> {
            exit_codes().iter().filter(|row| row.retry == Retry::Useless).map(|row| row.code).collect()
        }

        #[test]
        fn the_chart_fails_a_job_at_once_exactly_on_the_codes_a_retry_cannot_help() {
            let values = read("charts/polyteia-db-connector/values.yaml");
            let line = values
                .lines()
                .find_map(|l| l.trim().strip_prefix("nonRetryableExitCodes:"))
                .expect("nonRetryableExitCodes in the chart's values.yaml");
            assert_eq!(codes_in(line), non_retryable(), "the chart's nonRetryableExitCodes and src/error.rs disagree");
        }

        #[test]
        fn the_chart_fixtures_render_the_same_codes() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deploy/fixtures/chart-before-jobs");
            let mut checked = 0;
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                // Each FailJob rule's `values:` list: its `- N` lines.
                for block in text.split("operator: In").skip(1) {
                    let list: String = block
                        .lines()
                        .skip(2)
                        .take_while(|l| l.trim().starts_with("- ") && l.trim()[2..].parse::<i32>().is_ok())
                        .collect::<Vec<_>>()
                        .join(" ");
                    assert_eq!(
                        codes_in(&list),
                        non_retryable(),
                        "{}: regenerate the fixtures (python tests/deploy/test_chart_compat.py)",
                        path.display()
                    );
                    checked += 1;
                }
            }
            assert!(checked >= 4, "only {checked} rendered FailJob rules found in {}", dir.display());
        }
    }
}
