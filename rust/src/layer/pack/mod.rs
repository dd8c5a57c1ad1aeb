//! `pack`: a directory tree (an overlay upper dir) into a deterministic layer blob: entries
//! sorted by name, no atime/ctime, empty uname/gname, overlay whiteouts turned into OCI
//! `.wh.` entries, and both digests computed in the same pass.

pub(crate) mod header;
mod output;
mod walk;

use super::{Compression, LayerDigests, LayerError};
use crate::fsx::FsError;
use output::{Encoder, Hashing};
use rustix::fs::{self, Mode, OFlags};
use std::fs::File;
use std::io::Write;
use std::path::Path;

pub use output::{GZIP_LEVEL, ZSTD_LEVEL};

/// How to pack.
#[derive(Debug, Clone, Copy)]
pub struct PackOptions {
    pub compression: Compression,
    /// gzip 0-9 (default 6) or zstd 1-22 (default 3).
    pub level: Option<i32>,
}

/// Packs `src` into the new file `out` (which must not exist).
pub fn pack(src: &Path, out: &Path, opts: &PackOptions) -> Result<LayerDigests, LayerError> {
    let out_name = out.display().to_string();
    let io_err = |op, source| LayerError::Io {
        op,
        path: out_name.clone(),
        source,
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = fs::open(src, flags, Mode::empty())
        .map_err(|e| FsError::new("open", src.as_os_str().as_encoded_bytes(), e))?;
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| io_err("create", e))?;
    let encoder =
        Encoder::new(file, opts.compression, opts.level).map_err(|e| io_err("create", e))?;
    let mut tar = Hashing::new(encoder);
    let entries = {
        let mut w = walk::Walker::new(&mut tar, out_name.clone());
        w.dir(rustix::fd::AsFd::as_fd(&root), b"")?;
        w.entries
    };
    // End of archive: two zero blocks.
    tar.write_all(&[0u8; 1024])
        .map_err(|e| io_err("write", e))?;
    let diff_id = tar.digest();
    let (digest, size) = tar.inner.finish().map_err(|e| io_err("write", e))?;
    Ok(LayerDigests {
        digest,
        diff_id,
        size,
        compression: opts.compression,
        entries,
    })
}
