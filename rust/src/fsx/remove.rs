//! Recursive removal beneath a directory fd, never following a symlink.

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{self, AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Removes `name` in `parent`: a non-directory is unlinked, a directory emptied (opening each
/// level with `O_NOFOLLOW | O_DIRECTORY`, so a symlink is unlinked, never entered) and removed.
/// A missing `name` is not an error.
pub fn remove_all(parent: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    match fs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        // EISDIR on Linux for a directory (unlink(2)); EPERM on some other systems.
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e),
    }
    empty_dir(parent, name)?;
    match fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes every entry inside the directory `name` of `parent`.
fn empty_dir(parent: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = fs::openat(parent, name, flags, Mode::empty())?;
    let mut children = Vec::new();
    let mut dir = Dir::read_from(&fd)?;
    while let Some(ent) = dir.read() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            children.push((n.to_vec(), ent.file_type()));
        }
    }
    for (child, ty) in children {
        if ty == FileType::Directory || ty == FileType::Unknown {
            remove_all(fd.as_fd(), &child)?;
        } else {
            match fs::unlinkat(&fd, child.as_slice(), AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn removes_trees_without_following_symlinks() {
        let outer = tempfile::tempdir().unwrap();
        let keep = outer.path().join("keep");
        std::fs::create_dir(&keep).unwrap();
        std::fs::write(keep.join("f"), b"x").unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/e/f"), b"x").unwrap();
        symlink(&keep, root.join("d/link")).unwrap();
        let rfd = fs::open(&root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        remove_all(rfd.as_fd(), b"d").unwrap();
        remove_all(rfd.as_fd(), b"missing").unwrap();
        assert!(!root.join("d").exists());
        assert!(keep.join("f").exists());
    }
}
