//! The error of a filesystem operation beneath a root: errno, operation and path.

use rustix::io::Errno;
use std::fmt;

/// A failed syscall: which operation, on which path (relative to the root), and the errno.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {errno}")]
pub struct FsError {
    /// The operation, e.g. `"mkdir"`, `"openat2"`.
    pub op: &'static str,
    /// The path relative to the root (or the root itself), lossily decoded for display.
    pub path: DisplayPath,
    /// The kernel's answer.
    #[source]
    pub errno: Errno,
}

impl FsError {
    /// Builds an error for `op` on `path`.
    pub fn new(op: &'static str, path: &[u8], errno: Errno) -> Self {
        FsError {
            op,
            path: DisplayPath(path.to_vec()),
            errno,
        }
    }
}

/// A byte path shown quoted and lossily as UTF-8.
#[derive(Debug, Clone)]
pub struct DisplayPath(pub Vec<u8>);

impl fmt::Display for DisplayPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// Turns byte paths into [`DisplayPath`]s.
pub trait DisplayPathExt {
    /// The quoted, lossily decoded form used in messages.
    fn display_path(&self) -> DisplayPath;
}

impl DisplayPathExt for [u8] {
    fn display_path(&self) -> DisplayPath {
        DisplayPath(self.to_vec())
    }
}
