//! Directories: created 0700 and owned at once; mode and mtime applied after all entries.

use super::{meta, DeferredDir, Extractor};
use crate::fsx::Root;
use crate::layer::error::LayerError;
use crate::layer::name;
use crate::layer::tar::Entry;
use crate::layer::xattr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, XattrFlags};
use rustix::io::Errno;

const OPEN: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Creates (or keeps, if already a directory) the directory `path`.
pub fn make(x: &mut Extractor<'_>, e: &Entry, path: &[u8]) -> Result<(), LayerError> {
    let (parent, base) = name::split(path);
    let (fd, chown) = open_or_create(x, e, parent, base)?;
    meta::apply_dir(fd.as_fd(), e, chown, path)?;
    x.dirs.push(DeferredDir {
        path: path.to_vec(),
        mode: e.mode,
        mtime: e.mtime,
    });
    Ok(())
}

/// Opens the directory `base` in `parent`, creating it, or replacing a non-directory.
pub fn ensure(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    base: &[u8],
) -> Result<OwnedFd, LayerError> {
    open_or_create(x, e, parent, base).map(|(fd, _)| fd)
}

/// `ensure`, and whether the directory still needs a chown to the entry's owner (one that
/// existed does; one just created may already be owned right).
fn open_or_create(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    base: &[u8],
) -> Result<(OwnedFd, bool), LayerError> {
    let dir = x.parent(e, parent)?;
    let fail = |op, errno| LayerError::fs(&e.unsafe_name, op, base, errno);
    let mut chown = x.needs_chown(&dir, e);
    match fs::mkdirat(dir.as_fd(), base, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            chown = x.chown;
            let st = fs::statat(dir.as_fd(), base, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|x| fail("stat", x))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                x.create_replacing(e, dir.as_fd(), base, "mkdir", || {
                    fs::mkdirat(dir.as_fd(), base, Mode::from_raw_mode(0o700))
                })?;
            }
        }
        Err(errno) => return Err(fail("mkdir", errno)),
    }
    let fd = fs::openat(dir.as_fd(), base, OPEN, Mode::empty()).map_err(|x| fail("open", x))?;
    Ok((fd, chown))
}

/// A directory entry for the root itself (`./`): its metadata applies to `dest`.
pub fn root(x: &mut Extractor<'_>, e: &Entry) {
    x.dirs.push(DeferredDir {
        path: Vec::new(),
        mode: e.mode,
        mtime: e.mtime,
    });
}

/// Marks a directory opaque for overlayfs (`trusted.overlay.opaque=y`).
pub fn set_opaque(fd: &OwnedFd) -> Result<(), Errno> {
    fs::fsetxattr(fd, xattr::OVERLAY_OPAQUE, b"y", XattrFlags::empty())
}

/// Applies a deferred mode and mtime to the directory at `path`, without following a final
/// symlink that may have replaced it.
pub fn finish(root: &Root, path: &[u8], mode: u32, mtime: (i64, u32)) -> Result<(), Errno> {
    let fd = root.open_dir_nofollow(path)?;
    fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    let t = fs::Timespec {
        tv_sec: mtime.0,
        tv_nsec: mtime.1.into(),
    };
    fs::futimens(
        &fd,
        &fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
    )
}
