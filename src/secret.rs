//! Secret values (PAK, database password, API tokens) and the scrubbing of
//! every text that leaves the process.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`. Because
//! secrets also travel inside strings we do not control (DuckDB errors echo
//! connection strings, HTTP libraries echo headers), every registered secret is
//! also remembered in a process-wide list and [`scrub`] replaces it — and the
//! escaped forms we produce ourselves — wherever it appears.

use std::fmt;
use std::sync::RwLock;

/// What a scrubbed secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not scrubbed from free text: replacing every
/// occurrence of a one- or two-character string would garble all messages
/// while protecting next to nothing.
const MIN_SCRUB_LEN: usize = 3;

static REGISTERED: RwLock<Vec<String>> = RwLock::new(Vec::new());

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value and registers it (and its encoded forms) for scrubbing.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The raw value, for the one place that has to send it somewhere.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Registers a value that must never appear in output, with the forms it takes
/// after the escaping this program applies (SQL literal, libpq and MySQL
/// connection strings, URL encoding).
pub fn register(value: &str) {
    if value.chars().count() < MIN_SCRUB_LEN {
        return;
    }
    let mut forms = vec![
        value.to_string(),
        value.replace('\'', "''"),
        value.replace('\\', "\\\\").replace('\'', "\\'"),
        value.replace('\\', "\\\\").replace('\'', "\\'").replace('\'', "''"),
        value.replace('\\', "\\\\").replace('"', "\\\""),
        value.replace('\\', "\\\\").replace('"', "\\\"").replace('\'', "''"),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string(),
        base64_encode(value.as_bytes()),
    ];
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    forms.retain(|f| !f.is_empty());
    for form in forms {
        if !registered.contains(&form) {
            registered.push(form);
        }
    }
    // Longest first, so a form that contains another is replaced whole.
    registered.sort_by_key(|f| std::cmp::Reverse(f.len()));
}

/// Replaces every registered secret in `text`.
pub fn scrub(text: &str) -> String {
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for form in registered.iter() {
        if out.contains(form.as_str()) {
            out = out.replace(form.as_str(), REDACTED);
        }
    }
    out
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn scrub_replaces_raw_and_escaped_forms() {
        let _s = Secret::new("p'w\\ x=@y");
        let text = "password='p\\'w\\\\ x=@y' and p''w\\ x=@y and p%27w%5C%20x%3D%40y and p'w\\ x=@y";
        let scrubbed = scrub(text);
        assert!(!scrubbed.contains("x=@y"), "{scrubbed}");
        assert!(!scrubbed.contains("x%3D%40y"), "{scrubbed}");
    }

    #[test]
    fn base64_matches_reference() {
        assert_eq!(base64_encode(b"pak_secret"), "cGFrX3NlY3JldA==");
        assert_eq!(base64_encode(b"abc"), "YWJj");
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }
}
