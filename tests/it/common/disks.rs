//! Small file systems mounted by a test (which needs root; `tmpfs` in
//! `CONNECTOR_TEST_SKIP` opts out): a full disk, a read-only one.

use std::path::Path;
use std::process::Command;

use super::skip::{require, skip_requested};

/// A 256 KiB tmpfs, unmounted when dropped.
pub struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    /// `None` when CONNECTOR_TEST_SKIP names `tmpfs`; a failure to mount fails the test.
    pub fn mount() -> Option<TinyDisk> {
        TinyDisk::mount_with("size=256k")
    }

    /// The same, mounted read-only: nothing can be created in it, by root neither
    /// (a container's read-only root file system).
    pub fn mount_read_only() -> Option<TinyDisk> {
        TinyDisk::mount_with("ro,size=256k")
    }

    fn mount_with(options: &str) -> Option<TinyDisk> {
        if skip_requested("tmpfs") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mounted = match Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(dir.path()).output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!("cannot mount a tmpfs here: {}", String::from_utf8_lossy(&out.stderr).trim())),
            Err(e) => Err(format!("cannot run mount: {e}")),
        };
        require("tmpfs", mounted);
        Some(TinyDisk { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
