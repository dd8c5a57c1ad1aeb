//! Ownership, modes, xattrs and times, in the order that keeps them: chown first (it clears
//! setuid/setgid and file capabilities), then chmod, then xattrs, then times.

use super::super::error::LayerError;
use super::super::tar::Entry;
use super::super::xattr;
use rustix::fd::BorrowedFd;
use rustix::fs::{self, AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

/// The entry's mtime as both atime and mtime (layers carry no meaningful atime).
pub fn times(e: &Entry) -> Timestamps {
    let t = Timespec {
        tv_sec: e.mtime.0,
        tv_nsec: e.mtime.1.into(),
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn ids(e: &Entry) -> Result<(Uid, Gid), LayerError> {
    let uid =
        u32::try_from(e.uid).map_err(|_| LayerError::refused(&e.unsafe_name, "uid too large"))?;
    let gid =
        u32::try_from(e.gid).map_err(|_| LayerError::refused(&e.unsafe_name, "gid too large"))?;
    Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
}

/// Which of owner and mode a freshly created node still needs (see `parent::Creator`).
#[derive(Clone, Copy)]
pub struct Fixups {
    pub chown: bool,
    pub chmod: bool,
}

/// Owner and mode as `fix` says, then allowed xattrs and times, of an open regular file.
pub fn apply_fd(fd: BorrowedFd<'_>, e: &Entry, fix: Fixups, path: &[u8]) -> Result<(), LayerError> {
    let fail = |op, errno| LayerError::fs(&e.unsafe_name, op, path, errno);
    if fix.chown {
        let (u, g) = ids(e)?;
        fs::fchown(fd, Some(u), Some(g)).map_err(|x| fail("chown", x))?;
    }
    if fix.chmod {
        fs::fchmod(fd, Mode::from_raw_mode(e.mode)).map_err(|x| fail("chmod", x))?;
    }
    xattrs(fd, e, path)?;
    fs::futimens(fd, &times(e)).map_err(|x| fail("utimensat", x))
}

/// Owner of an open directory and its allowed xattrs (mode and times come at the end).
pub fn apply_dir(
    fd: BorrowedFd<'_>,
    e: &Entry,
    chown: bool,
    path: &[u8],
) -> Result<(), LayerError> {
    if chown {
        let (u, g) = ids(e)?;
        fs::fchown(fd, Some(u), Some(g))
            .map_err(|x| LayerError::fs(&e.unsafe_name, "chown", path, x))?;
    }
    xattrs(fd, e, path)
}

/// Sets the xattrs the policy allows (`layer::xattr::allowed`), in stream order.
pub fn xattrs(fd: BorrowedFd<'_>, e: &Entry, path: &[u8]) -> Result<(), LayerError> {
    for (name, value) in e.xattrs.iter().filter(|(n, _)| xattr::allowed(n)) {
        fs::fsetxattr(fd, name.as_slice(), value, XattrFlags::empty())
            .map_err(|x| LayerError::fs(&e.unsafe_name, "setxattr", path, x))?;
    }
    Ok(())
}

/// Owner, mode (unless a symlink) and times of `name` in `parent`, never following it.
pub fn apply_at(
    parent: BorrowedFd<'_>,
    name: &[u8],
    e: &Entry,
    chown: bool,
    symlink: bool,
) -> Result<(), LayerError> {
    let fail = |op, errno: Errno| LayerError::fs(&e.unsafe_name, op, name, errno);
    if chown {
        let (u, g) = ids(e)?;
        fs::chownat(parent, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|x| fail("chown", x))?;
    }
    if !symlink {
        // fchmodat(2) cannot refuse to follow on Linux; `name` is the node this process
        // created a moment ago in a directory it resolved, not a symlink.
        fs::chmodat(parent, name, Mode::from_raw_mode(e.mode), AtFlags::empty())
            .map_err(|x| fail("chmod", x))?;
    }
    fs::utimensat(parent, name, &times(e), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|x| fail("utimensat", x))
}
