//! Regular files: data written with holes kept (all-zero aligned blocks are skipped and the
//! size set with ftruncate), so sparse files stay sparse.

use super::{meta, Extractor};
use crate::layer::error::LayerError;
use crate::layer::stream::Source;
use crate::layer::tar::Entry;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

/// Holes are found at this granularity (the page and usual fs block size).
const HOLE: usize = 4096;

/// Creates `name` in `parent` (replacing whatever was there) and writes the entry's data.
pub fn write(
    x: &mut Extractor<'_>,
    src: &mut dyn Source,
    e: &Entry,
    parent: &[u8],
    name: &[u8],
) -> Result<(), LayerError> {
    let dir = x.parent(e, parent)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // Created with its final mode when that is what open(2) will give (most files: 0644 or
    // 0755 under umask 022), else 0600 and chmod after chown.
    let exact = x.creator.creates_exact(&dir, e.mode);
    let mode = Mode::from_raw_mode(if exact { e.mode } else { 0o600 });
    let fd = x.create_replacing(e, dir.as_fd(), name, "create", || {
        fs::openat(dir.as_fd(), name, flags, mode)
    })?;
    copy(src, fd.as_fd(), e.size).map_err(|r| match r {
        Copy::Stream(s) => s,
        Copy::Write(errno) => LayerError::fs(&e.unsafe_name, "write", name, errno),
    })?;
    let fix = meta::Fixups {
        chown: x.needs_chown(&dir, e),
        chmod: !exact,
    };
    meta::apply_fd(fd.as_fd(), e, fix, name)
}

enum Copy {
    Stream(LayerError),
    Write(Errno),
}

fn copy(src: &mut dyn Source, fd: BorrowedFd<'_>, size: u64) -> Result<(), Copy> {
    let mut off = 0u64;
    let mut end = 0u64;
    while off < size {
        let want = usize::try_from(size - off).unwrap_or(usize::MAX);
        let data = src.data(want).map_err(Copy::Stream)?;
        if let Some(e) = write_sparse(fd, data, off).map_err(Copy::Write)? {
            end = e;
        }
        off += data.len() as u64;
    }
    if end < size {
        fs::ftruncate(fd, size).map_err(Copy::Write)?;
    }
    Ok(())
}

/// Writes the non-zero blocks of `data` (at file offset `off`); returns the end of the last
/// write, if any.
fn write_sparse(fd: BorrowedFd<'_>, data: &[u8], off: u64) -> Result<Option<u64>, Errno> {
    let mut last = None;
    let mut run: Option<usize> = None; // start of the current non-zero run
    let mut i = 0;
    while i < data.len() {
        let to_boundary = HOLE - ((off + i as u64) % HOLE as u64) as usize;
        let j = (i + to_boundary).min(data.len());
        let zero = is_zero(&data[i..j]);
        match (zero, run) {
            (false, None) => run = Some(i),
            (true, Some(s)) => {
                last = Some(pwrite_all(fd, &data[s..i], off + s as u64)?);
                run = None;
            }
            _ => {}
        }
        i = j;
    }
    if let Some(s) = run {
        last = Some(pwrite_all(fd, &data[s..], off + s as u64)?);
    }
    Ok(last)
}

fn pwrite_all(fd: BorrowedFd<'_>, mut buf: &[u8], mut off: u64) -> Result<u64, Errno> {
    while !buf.is_empty() {
        match rustix::io::pwrite(fd, buf, off) {
            Ok(0) => return Err(Errno::NOSPC),
            Ok(n) => {
                buf = &buf[n..];
                off += n as u64;
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(off)
}

/// True when every byte is zero; real data almost always fails on the first word.
fn is_zero(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(16);
    chunks.by_ref().all(|c| c == [0u8; 16]) && chunks.remainder().iter().all(|&x| x == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[0u8; 4096]));
        assert!(is_zero(&[]));
        let mut b = [0u8; 4099];
        b[4098] = 1;
        assert!(!is_zero(&b));
    }

    #[test]
    fn sparse_writes_keep_holes() {
        let f = tempfile::tempfile().unwrap();
        let mut data = vec![0u8; 3 * HOLE];
        data[HOLE * 2 + 5] = 7;
        data[3] = 1;
        let end = write_sparse(f.as_fd(), &data, 100).unwrap();
        assert_eq!(end, Some(3 * HOLE as u64)); // the zero tail is left to ftruncate
        let mut back = vec![0u8; 3 * HOLE - 100];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut back, 100).unwrap();
        assert_eq!(back, data[..3 * HOLE - 100]);
    }
}
