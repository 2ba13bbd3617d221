//! Prerequisites beyond the two shared database servers (openssl, throw-away
//! servers started as their service users, mounting a tmpfs, a pseudo-terminal)
//! are like any other: when one is missing, the test fails and says what is
//! missing. scripts/ensure-services installs them. A developer who cannot have
//! one names it in `CONNECTOR_TEST_SKIP` (comma-separated, e.g. `tls,tmpfs`);
//! the checks behind that name then return early, each with a marker line
//! that scripts/test counts and reports at the end.
#![allow(dead_code)]

use std::io::Write;

pub const SKIP_VARIABLE: &str = "CONNECTOR_TEST_SKIP";

/// scripts/test points this at a file and counts the marker lines in it.
pub const SKIP_LOG_VARIABLE: &str = "CONNECTOR_TEST_SKIP_LOG";

/// The start of the line each skipped check prints.
pub const SKIP_MARKER: &str = "SKIPPED ON REQUEST";

/// Every name `CONNECTOR_TEST_SKIP` accepts (CONTRIBUTING.md lists the same;
/// `runtime` and `image` are used by scripts/test itself, `windows` by scripts/check-windows).
pub const SKIPPABLE: [(&str, &str); 7] = [
    ("tls", "TLS to throw-away PostgreSQL and MariaDB servers with certificates made by openssl (source_tls)"),
    ("restart", "a throw-away PostgreSQL server restarted between scheduled cycles (faults)"),
    (
        "tmpfs",
        "full and read-only disks: a tiny tmpfs mounted by the test, which needs root (faults, check_schedule_signals)",
    ),
    ("pty", "the progress bar on a terminal, through `script` from bsdutils (run_end_to_end)"),
    ("runtime", "scripts/check-runtime-conditions, which needs root (scripts/test)"),
    ("windows", "scripts/check-windows: the Windows zip cross-built and run under Wine (scripts/test)"),
    ("image", "scripts/check-image: the container image built with Docker and run (scripts/test)"),
];

/// The names `CONNECTOR_TEST_SKIP` lists; an unknown name fails the test, so
/// that a typo does not go unnoticed.
fn requested() -> Vec<String> {
    let value = std::env::var(SKIP_VARIABLE).unwrap_or_default();
    let names: Vec<String> = value.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
    for name in &names {
        assert!(
            SKIPPABLE.iter().any(|(known, _)| known == name),
            "{SKIP_VARIABLE}={value}: unknown name {name:?}; known: {}",
            SKIPPABLE.map(|(n, _)| n).join(", ")
        );
    }
    names
}

/// Whether the calling test is to be skipped because `CONNECTOR_TEST_SKIP`
/// names `prerequisite`; if so, the marker line is written (past the test
/// harness's output capture, so a plain `cargo test` shows it too) and the
/// test returns at once.
pub fn skip_requested(prerequisite: &str) -> bool {
    assert!(SKIPPABLE.iter().any(|(n, _)| *n == prerequisite), "not a skippable prerequisite: {prerequisite}");
    if !requested().iter().any(|n| n == prerequisite) {
        return false;
    }
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let line = format!("{SKIP_MARKER} ({SKIP_VARIABLE}={prerequisite}): {test}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os(SKIP_LOG_VARIABLE) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("open the skip log");
        file.write_all(line.as_bytes()).expect("write the skip log");
    }
    true
}

/// The result of setting up `prerequisite`: its failure fails the test, with
/// the way to install it or to skip it explicitly.
pub fn require<T>(prerequisite: &str, result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| {
        panic!(
            "prerequisite {prerequisite:?} is missing: {e}\n\
             scripts/ensure-services installs what the tests need; \
             {SKIP_VARIABLE}={prerequisite} skips these checks explicitly (CONTRIBUTING.md, Tests)"
        )
    })
}
