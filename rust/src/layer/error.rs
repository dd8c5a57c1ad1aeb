//! Errors of reading, extracting and packing layers.

use crate::fsx::{DisplayPathExt, FsError};
use rustix::io::Errno;
use std::fmt;
use std::io;

/// Which announced value did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchKind {
    /// The sha256 of the blob as stored.
    Digest,
    /// The sha256 of the uncompressed tar.
    DiffId,
    /// The byte length of the blob as stored.
    Size,
}

impl fmt::Display for MismatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MismatchKind::Digest => "digest",
            MismatchKind::DiffId => "diff_id",
            MismatchKind::Size => "size",
        })
    }
}

/// Why one tar entry could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// The entry is refused on purpose (it would escape the root, or is malformed).
    #[error("refused: {0}")]
    Refused(&'static str),
    /// A tar feature pycore does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The stream broke inside this entry's data (corrupt compression, truncation).
    #[error("{0}")]
    Stream(Box<LayerError>),
    /// A syscall failed beneath the root.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Every way unpacking or packing a layer can fail.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// An announced digest, diff_id or size did not match.
    #[error("{kind} mismatch: expected {expected}, got {actual}")]
    Mismatch {
        /// What was compared.
        kind: MismatchKind,
        /// The caller's value.
        expected: String,
        /// What the stream gave.
        actual: String,
    },
    /// The compressed stream could not be decoded.
    #[error("corrupt {compression} stream: {source}")]
    Decompress {
        /// `gzip` or `zstd`.
        compression: &'static str,
        /// The decoder's error.
        source: io::Error,
    },
    /// The tar stream itself is broken (truncated, bad header checksum...).
    #[error("tar stream at byte {offset}: {reason}")]
    Tar {
        /// Offset of the offending header in the uncompressed stream.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// One entry failed; the message names it.
    #[error("entry {name}: {source}")]
    Entry {
        /// The entry's name as found in the tar.
        name: crate::fsx::DisplayPath,
        /// Why.
        #[source]
        source: EntryError,
    },
    /// Reading the blob or writing the output file failed (maps to OSError).
    #[error("{op} {path}: {source}")]
    Io {
        /// `"read"`, `"open"`, `"write"`...
        op: &'static str,
        /// The blob's or output's path.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// The target directory could not be used.
    #[error("{0}")]
    Fs(#[from] FsError),
    /// An argument that makes no sense (unsupported digest algorithm...).
    #[error("{0}")]
    Invalid(String),
    /// The progress callback asked to stop.
    #[error("aborted by the progress callback")]
    Aborted,
}

impl LayerError {
    /// An error about the entry named `name`.
    pub fn entry(name: &[u8], source: impl Into<EntryError>) -> Self {
        LayerError::Entry {
            name: name.display_path(),
            source: source.into(),
        }
    }

    /// A refusal of the entry named `name`.
    pub fn refused(name: &[u8], why: &'static str) -> Self {
        LayerError::entry(name, EntryError::Refused(why))
    }

    /// A failed syscall while extracting the entry named `name`.
    pub fn fs(name: &[u8], op: &'static str, path: &[u8], errno: Errno) -> Self {
        LayerError::entry(name, FsError::new(op, path, errno))
    }
}
