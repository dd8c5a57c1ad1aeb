//! Component-wise resolution beneath a root for kernels without `openat2(2)`.
//!
//! Emulates `RESOLVE_IN_ROOT`: every component is opened with `O_NOFOLLOW`; a symlink is read
//! and its target spliced into the remaining path (absolute targets restart at the root);
//! `..` pops the stack of open directories and never goes above the root.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

/// The kernel's limit on symlinks followed in one lookup (path_resolution(7)).
const MAX_LINKS: usize = 40;

const FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens the directory `rel` beneath `root`, clamping `..` and symlinks at the root.
pub fn resolve_in_root(root: BorrowedFd<'_>, rel: &[u8]) -> Result<OwnedFd, Errno> {
    let mut stack: Vec<OwnedFd> = vec![fs::openat(root, c".", FLAGS, Mode::empty())?];
    // Components still to walk, in reverse order so `pop` yields the next one.
    let mut todo: Vec<Vec<u8>> = components(rel).rev().map(<[u8]>::to_vec).collect();
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        if comp == b".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let cur = stack.last().ok_or(Errno::INVAL)?.as_fd();
        match fs::openat(cur, comp.as_slice(), FLAGS, Mode::empty()) {
            Ok(fd) => stack.push(fd),
            // ELOOP: the component is a symlink; ENOTDIR: a symlink or a non-directory.
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                let target = match fs::readlinkat(cur, comp.as_slice(), Vec::new()) {
                    Ok(t) => t.into_bytes(),
                    Err(Errno::INVAL) => return Err(Errno::NOTDIR),
                    Err(e) => return Err(e),
                };
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::LOOP);
                }
                if target.first() == Some(&b'/') {
                    stack.truncate(1);
                }
                todo.extend(components(&target).rev().map(<[u8]>::to_vec));
            }
            Err(e) => return Err(e),
        }
    }
    stack.pop().ok_or(Errno::INVAL)
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}
