//! The upload's `multipart/form-data` body: one part holding the file,
//! streamed from disk with its exact length known beforehand, reporting
//! progress and stopping when the cancel flag is set.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::stages::ProgressFn;

/// The media type of the uploaded file (part header and upload-token request).
pub(crate) const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// A `multipart/form-data` body with one part named `file` holding a file,
/// streamed from disk: the file is never read into memory, and the exact
/// length is known beforehand so the request carries a `Content-Length`
/// (ureq then sends the body as is; with a user-set `Content-Length` it does
/// not use chunked encoding).
pub(crate) struct MultipartFile {
    boundary: String,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    file: File,
    file_len: u64,
}

impl MultipartFile {
    /// Opens `path` and prepares the part headers. Errors are local I/O errors.
    pub(crate) fn open(path: &Path) -> Result<MultipartFile> {
        let file =
            File::open(path).map_err(|e| Error::io(format!("cannot open {} to upload it", path.display()), &e))?;
        let file_len =
            file.metadata().map_err(|e| Error::io(format!("cannot read the size of {}", path.display()), &e))?.len();
        let file_name =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data.parquet".into());
        let boundary = format!("polyteia-db-connector-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        Ok(MultipartFile::with_parts(boundary, &file_name, file, file_len))
    }

    fn with_parts(boundary: String, file_name: &str, file: File, file_len: u64) -> MultipartFile {
        let prefix = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {PARQUET_CONTENT_TYPE}\r\n\r\n",
            escape_filename(file_name)
        )
        .into_bytes();
        let suffix = format!("\r\n--{boundary}--\r\n").into_bytes();
        MultipartFile { boundary, prefix, suffix, file, file_len }
    }

    /// The request's `Content-Type` header value.
    pub(crate) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact number of bytes the body will produce.
    pub(crate) fn content_length(&self) -> u64 {
        self.prefix.len() as u64 + self.file_len + self.suffix.len() as u64
    }

    /// The body as a reader: the part headers, the file, the closing boundary.
    /// It reports the bytes produced so far to `progress`, fails when `cancel`
    /// is set, and fails rather than sending fewer bytes than announced if the
    /// file shrinks meanwhile.
    pub(crate) fn into_reader<'a>(self, progress: ProgressFn<'a>, cancel: &'a AtomicBool) -> MultipartReader<'a> {
        let total = self.content_length();
        let inner = Cursor::new(self.prefix).chain(self.file.take(self.file_len)).chain(Cursor::new(self.suffix));
        MultipartReader { inner, sent: 0, total, progress, cancel }
    }
}

/// Escapes a file name for the `filename="…"` parameter: `"` and `\` are
/// backslash-escaped, line breaks percent-encoded (as browsers do), other
/// control characters dropped.
pub(crate) fn escape_filename(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Part headers, file, closing boundary.
type BodyChain = io::Chain<io::Chain<Cursor<Vec<u8>>, io::Take<File>>, Cursor<Vec<u8>>>;

/// See [`MultipartFile::into_reader`].
pub(crate) struct MultipartReader<'a> {
    inner: BodyChain,
    sent: u64,
    total: u64,
    progress: ProgressFn<'a>,
    cancel: &'a AtomicBool,
}

impl Read for MultipartReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::SeqCst) {
            // Not ErrorKind::Interrupted: readers retry on that.
            return Err(io::Error::other("interrupted"));
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.sent < self.total {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being uploaded",
            ));
        }
        self.sent += n as u64;
        if n > 0 {
            (self.progress)(self.sent);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_bytes(file_content: &[u8], name: &str) -> (MultipartFile, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.parquet");
        std::fs::write(&path, file_content).unwrap();
        let file = File::open(&path).unwrap();
        let body = MultipartFile::with_parts("BOUNDARY".into(), name, file, file_content.len() as u64);
        let expected_len = body.content_length();
        let cancel = AtomicBool::new(false);
        let last = std::sync::Mutex::new(0u64);
        let progress = |n: u64| *last.lock().unwrap() = n;
        let reopened =
            MultipartFile::with_parts("BOUNDARY".into(), name, File::open(&path).unwrap(), file_content.len() as u64);
        let mut out = Vec::new();
        reopened.into_reader(&progress, &cancel).read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, expected_len);
        assert_eq!(*last.lock().unwrap(), expected_len);
        (body, out)
    }

    #[test]
    fn multipart_length_matches_bytes_produced() {
        for size in [0usize, 1, 4096, 300_000] {
            let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let (body, out) = body_bytes(&content, "export.parquet");
            assert_eq!(body.content_type(), "multipart/form-data; boundary=BOUNDARY");
            let head = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"export.parquet\"\r\nContent-Type: application/vnd.apache.parquet\r\n\r\n";
            assert!(out.starts_with(head));
            assert_eq!(&out[head.len()..head.len() + size], &content[..]);
            assert_eq!(&out[head.len() + size..], b"\r\n--BOUNDARY--\r\n");
        }
    }

    #[test]
    fn filename_is_escaped() {
        assert_eq!(escape_filename(r#"a"b\c.parquet"#), r#"a\"b\\c.parquet"#);
        assert_eq!(escape_filename("line\r\nbreak\t.parquet"), "line%0D%0Abreak.parquet");
        assert_eq!(escape_filename("größe.parquet"), "größe.parquet");
        let (_, out) = body_bytes(b"abc", r#"we"ird\name.parquet"#);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains(r#"filename="we\"ird\\name.parquet""#), "{text}");
    }

    #[test]
    fn reader_stops_when_cancelled_and_when_file_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        let cancel = AtomicBool::new(true);
        let progress = |_: u64| {};
        let body = MultipartFile::open(&path).unwrap();
        let err = body.into_reader(&progress, &cancel).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "interrupted");

        let cancel = AtomicBool::new(false);
        let body = MultipartFile::open(&path).unwrap();
        std::fs::write(&path, vec![7u8; 10]).unwrap();
        let err = body.into_reader(&progress, &cancel).read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
