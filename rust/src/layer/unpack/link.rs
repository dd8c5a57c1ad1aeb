//! Symlinks (the target is stored verbatim: it is data, resolved later only within a root)
//! and hardlinks (the target is resolved beneath the root and must exist, not a directory).

use super::{meta, Extractor};
use crate::layer::error::LayerError;
use crate::layer::name;
use crate::layer::tar::Entry;
use rustix::fd::AsFd;
use rustix::fs::{self, AtFlags, FileType};
use rustix::io::Errno;

/// Creates the symlink `name` in `parent`, replacing whatever was there.
pub fn symlink(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    name: &[u8],
) -> Result<(), LayerError> {
    let dir = x.parent(e, parent)?;
    x.create_replacing(e, dir.as_fd(), name, "symlink", || {
        fs::symlinkat(e.unsafe_link.as_slice(), dir.as_fd(), name)
    })?;
    meta::apply_at(dir.as_fd(), name, e, x.needs_chown(&dir, e), true)
}

/// Links `name` in `parent` to the entry's target inside the root.
pub fn hardlink(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    name: &[u8],
) -> Result<(), LayerError> {
    let refuse = |why| LayerError::refused(&e.unsafe_name, why);
    let target =
        name::clean(&e.unsafe_link).map_err(|_| refuse("hardlink target contains \"..\""))?;
    if target.is_empty() {
        return Err(refuse("hardlink to the root"));
    }
    let (tparent, tname) = name::split(&target);
    let fail = |op, errno| LayerError::fs(&e.unsafe_name, op, &target, errno);
    let tdir = x
        .root
        .open_dir(tparent)
        .map_err(|errno| fail("open hardlink target", errno))?;
    let st = fs::statat(&tdir, tname, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|errno| fail("stat hardlink target", errno))?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        return Err(refuse("hardlink to a directory"));
    }
    let dir = x.parent(e, parent)?;
    if let Ok(cur) = fs::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
        if (cur.st_dev, cur.st_ino) == (st.st_dev, st.st_ino) {
            return Ok(()); // already that file (a link to itself, or a repeated entry)
        }
    }
    // linkat without AT_SYMLINK_FOLLOW links a symlink target itself, never what it points to.
    x.create_replacing(e, dir.as_fd(), name, "link", || {
        match fs::linkat(&tdir, tname, dir.as_fd(), name, AtFlags::empty()) {
            Err(Errno::NOENT) => Err(Errno::NOENT),
            other => other,
        }
    })
}
