//! OCI whiteouts (image-spec layer.md, "Whiteouts"): `.wh.NAME` hides NAME from earlier
//! layers, `.wh..wh..opq` hides everything earlier layers put in its directory. Entries of
//! the same layer are never hidden, so paths written by this layer are tracked.

use super::{dir, Extractor, WhiteoutFormat};
use crate::fsx::remove_all;
use crate::layer::error::LayerError;
use crate::layer::name;
use crate::layer::tar::Entry;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{self, Dir, FileType, Mode};
use rustix::io::Errno;

const OPAQUE: &[u8] = b".wh..wh..opq";
const META_PREFIX: &[u8] = b".wh..wh.";

/// Applies the whiteout entry `parent/base` (`base` starts with `.wh.`).
pub fn apply(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    base: &[u8],
) -> Result<(), LayerError> {
    if base == OPAQUE {
        return match x.format {
            WhiteoutFormat::Overlay => opaque_overlay(x, e, parent),
            WhiteoutFormat::Flat => opaque_flat(x, e, parent),
        };
    }
    if base.starts_with(META_PREFIX) {
        return Ok(()); // aufs bookkeeping (`.wh..wh.plnk` ...): never extracted
    }
    let target = &base[4..];
    if matches!(target, b"" | b"." | b"..") {
        return Err(LayerError::refused(
            &e.unsafe_name,
            "whiteout of \".\", \"..\" or the root",
        ));
    }
    let path = name::join(parent, target);
    if x.was_written(&path) {
        return Ok(());
    }
    match x.format {
        WhiteoutFormat::Overlay => overlay(x, e, parent, target, &path),
        WhiteoutFormat::Flat => flat(x, e, parent, target),
    }
}

/// NAME becomes a 0:0 character device, as overlayfs marks deletions.
fn overlay(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    target: &[u8],
    path: &[u8],
) -> Result<(), LayerError> {
    let dir = x.parent(e, parent)?;
    x.create_replacing(e, dir.as_fd(), target, "mknod whiteout", || {
        fs::mknodat(
            dir.as_fd(),
            target,
            FileType::CharacterDevice,
            Mode::empty(),
            fs::makedev(0, 0),
        )
    })?;
    x.mark_written(path);
    Ok(())
}

/// NAME is removed from `dest` (recursively, never following a symlink).
fn flat(x: &mut Extractor<'_>, e: &Entry, parent: &[u8], target: &[u8]) -> Result<(), LayerError> {
    let dir = match x.root.open_dir(parent) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
        Err(errno) => return Err(LayerError::fs(&e.unsafe_name, "open", parent, errno)),
    };
    x.forget_parent();
    remove_all(dir.as_fd(), target)
        .map_err(|errno| LayerError::fs(&e.unsafe_name, "remove", target, errno))
}

/// The directory gets `trusted.overlay.opaque=y` (created if missing).
fn opaque_overlay(x: &mut Extractor<'_>, e: &Entry, path: &[u8]) -> Result<(), LayerError> {
    let fd = if path.is_empty() {
        x.root
            .open_dir(b"")
            .map_err(|errno| LayerError::fs(&e.unsafe_name, "open", path, errno))?
    } else {
        let (parent, base) = name::split(path);
        dir::ensure(x, e, parent, base)?
    };
    dir::set_opaque(&fd)
        .map_err(|errno| LayerError::fs(&e.unsafe_name, "setxattr", path, errno))?;
    x.mark_written(path);
    Ok(())
}

/// Removes what earlier layers put in the directory `path`, keeping this layer's entries.
fn opaque_flat(x: &mut Extractor<'_>, e: &Entry, path: &[u8]) -> Result<(), LayerError> {
    let fd = match x.root.open_dir(path) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
        Err(errno) => return Err(LayerError::fs(&e.unsafe_name, "open", path, errno)),
    };
    x.forget_parent();
    prune(x, fd.as_fd(), path)
        .map_err(|errno| LayerError::fs(&e.unsafe_name, "remove", path, errno))
}

fn prune(x: &Extractor<'_>, dir: BorrowedFd<'_>, path: &[u8]) -> Result<(), Errno> {
    let mut children = Vec::new();
    let mut d = Dir::read_from(dir)?;
    while let Some(ent) = d.read() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            children.push(n.to_vec());
        }
    }
    for child in children {
        let p = name::join(path, &child);
        if !x.was_written(&p) {
            remove_all(dir, &child)?;
            continue;
        }
        let flags =
            fs::OFlags::RDONLY | fs::OFlags::DIRECTORY | fs::OFlags::NOFOLLOW | fs::OFlags::CLOEXEC;
        match fs::openat(dir, child.as_slice(), flags, Mode::empty()) {
            Ok(sub) => prune(x, sub.as_fd(), &p)?,
            Err(Errno::NOTDIR | Errno::LOOP) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
