//! One error type for the whole program. Each [`ErrorKind`] maps to a stable,
//! documented exit code (README, "Exit codes"), so a scheduler can tell what
//! went wrong without parsing logs.

use std::fmt;

use crate::secret::scrub;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bug or an unexpected condition.
    Internal,
    /// Settings are missing or malformed.
    Config,
    /// The source database cannot be reached or refused the login.
    SourceUnreachable,
    /// The query failed in DuckDB or on the source server.
    Query,
    /// The query returned no rows and `ALLOW_EMPTY_RESULT` is not set.
    EmptyResult,
    /// Local files: temp directory, disk full, output file.
    LocalIo,
    /// The written Parquet file does not match what the query produced.
    Verification,
    /// A DuckDB extension could not be found or loaded.
    Extension,
    /// The Polyteia API refused the key (401/403).
    ApiAuth,
    /// The Polyteia API rejected the request (404, 412, other 4xx).
    ApiRejected,
    /// The Polyteia API stayed unavailable after all retries.
    ApiUnavailable,
    /// TLS to the Polyteia API (or the proxy) failed: a certificate the trust
    /// store does not accept, or a server that does not speak TLS.
    ApiTls,
    /// The proxy refused to connect to the API (407 credentials, 403 policy).
    ProxyRefused,
    /// The platform reported the ingest as failed, or it did not finish in time.
    IngestFailed,
    /// `connector check` found at least one problem.
    CheckFailed,
    /// A column's values would change on the way into the file (a type or a
    /// value the file cannot hold as the source holds it); nothing uploaded.
    LossRefused,
    /// Stopped by SIGINT.
    InterruptedSigint,
    /// Stopped by SIGTERM.
    InterruptedSigterm,
}

impl ErrorKind {
    /// Every kind, in the order of the exit-code table.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::Internal,
        ErrorKind::Config,
        ErrorKind::SourceUnreachable,
        ErrorKind::Query,
        ErrorKind::EmptyResult,
        ErrorKind::LocalIo,
        ErrorKind::Verification,
        ErrorKind::Extension,
        ErrorKind::ApiAuth,
        ErrorKind::ApiRejected,
        ErrorKind::ApiUnavailable,
        ErrorKind::IngestFailed,
        ErrorKind::CheckFailed,
        ErrorKind::ApiTls,
        ErrorKind::ProxyRefused,
        ErrorKind::LossRefused,
        ErrorKind::InterruptedSigint,
        ErrorKind::InterruptedSigterm,
    ];

    /// What the exit code means, as the README's exit-code table and
    /// `connector --help` say it.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorKind::Internal => "internal error",
            ErrorKind::Config => "configuration invalid",
            ErrorKind::SourceUnreachable => {
                "source database unreachable, login refused, or the connection was lost during the query"
            }
            ErrorKind::Query => "query failed",
            ErrorKind::EmptyResult => "empty result refused",
            ErrorKind::LocalIo => "local I/O error, including a full disk during the export",
            ErrorKind::Verification => "Parquet verification failed",
            ErrorKind::Extension => "DuckDB extension missing or not loadable, or not the DuckDB library it belongs to",
            ErrorKind::ApiAuth => "Polyteia API: authentication or permission refused (401/403)",
            ErrorKind::ApiRejected => "Polyteia API rejected the request (404, 412, other 4xx)",
            ErrorKind::ApiUnavailable => "Polyteia API unavailable after all retries, including a proxy that is down or cannot reach the API",
            ErrorKind::IngestFailed => "ingest failed or timed out on the platform",
            ErrorKind::CheckFailed => "`connector check` found a problem",
            ErrorKind::ApiTls => {
                "TLS to the Polyteia API failed: its certificate is not trusted (unknown CA, e.g. a TLS-inspecting \
                 proxy's), issued for another host, or expired; not retried"
            }
            ErrorKind::ProxyRefused => {
                "the proxy refused to connect to the API (407: credentials missing or wrong; 403: not allowed); not retried"
            }
            ErrorKind::LossRefused => {
                "refused before the upload: a column's values would arrive changed (the message names the column and \
                 the cast to write; ACCEPT_LOSS_COLUMNS accepts a known loss); not retried"
            }
            ErrorKind::InterruptedSigint => "interrupted by SIGINT (Windows: Ctrl-C)",
            ErrorKind::InterruptedSigterm => "interrupted by SIGTERM (Windows: Ctrl-Break, the console closing)",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal => 1,
            // 2 is what clap uses for command-line usage errors.
            ErrorKind::Config => 3,
            ErrorKind::SourceUnreachable => 4,
            ErrorKind::Query => 5,
            ErrorKind::EmptyResult => 6,
            ErrorKind::LocalIo => 7,
            ErrorKind::Verification => 8,
            ErrorKind::Extension => 9,
            ErrorKind::ApiAuth => 10,
            ErrorKind::ApiRejected => 11,
            ErrorKind::ApiUnavailable => 12,
            ErrorKind::IngestFailed => 13,
            ErrorKind::CheckFailed => 14,
            ErrorKind::ApiTls => 15,
            ErrorKind::ProxyRefused => 16,
            ErrorKind::LossRefused => 17,
            ErrorKind::InterruptedSigint => 130,
            ErrorKind::InterruptedSigterm => 143,
        }
    }

    /// A short, stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Internal => "internal",
            ErrorKind::Config => "config",
            ErrorKind::SourceUnreachable => "source_unreachable",
            ErrorKind::Query => "query_failed",
            ErrorKind::EmptyResult => "empty_result",
            ErrorKind::LocalIo => "local_io",
            ErrorKind::Verification => "verification_failed",
            ErrorKind::Extension => "extension_missing",
            ErrorKind::ApiAuth => "api_auth",
            ErrorKind::ApiRejected => "api_rejected",
            ErrorKind::ApiUnavailable => "api_unavailable",
            ErrorKind::IngestFailed => "ingest_failed",
            ErrorKind::CheckFailed => "check_failed",
            ErrorKind::ApiTls => "api_tls",
            ErrorKind::ProxyRefused => "proxy_refused",
            ErrorKind::LossRefused => "loss_refused",
            ErrorKind::InterruptedSigint => "interrupted",
            ErrorKind::InterruptedSigterm => "terminated",
        }
    }
}

/// The exit codes for `connector --help`: 0, clap's 2 for usage errors, and
/// every [`ErrorKind`]'s.
pub fn exit_code_help() -> String {
    let mut codes: Vec<(i32, &str)> = vec![(0, "success"), (2, "command-line usage error")];
    codes.extend(ErrorKind::ALL.iter().map(|k| (k.exit_code(), k.meaning())));
    codes.sort_by_key(|(code, _)| *code);
    let mut lines = vec!["Exit codes:".to_string()];
    lines.extend(codes.iter().map(|(code, meaning)| format!("{code:>4}  {}", meaning.replace('`', ""))));
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
    fn every_kind_is_in_all() {
        // The variants as this file declares them, so that a new one cannot be left out of ALL.
        let source = include_str!("error.rs");
        let body = source.split("pub enum ErrorKind {").nth(1).and_then(|rest| rest.split('}').next()).unwrap();
        let declared: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .map(|l| l.trim_end_matches(','))
            .collect();
        let listed: Vec<String> = ErrorKind::ALL.iter().map(|k| format!("{k:?}")).collect();
        for variant in &declared {
            assert!(listed.iter().any(|l| l == variant), "ErrorKind::{variant} is missing from ErrorKind::ALL");
        }
        assert_eq!(declared.len(), listed.len(), "ErrorKind::ALL lists a kind twice");
    }

    #[test]
    fn exit_codes_are_distinct() {
        let kinds = ErrorKind::ALL;
        let mut codes: Vec<i32> = kinds.iter().map(|k| k.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0) && !codes.contains(&2));
    }

    #[test]
    fn messages_are_one_line() {
        let e = Error::new(ErrorKind::Query, "Parser Error: syntax error\n\nLINE 1: SELEC\n        ^");
        assert_eq!(e.message(), "Parser Error: syntax error LINE 1: SELEC ^");
    }
}
