//! Pinned network namespaces for bridged containers: a new namespace bind-mounted on a file
//! (what `ip netns add` and `unshare --net=FILE` do), made from a short-lived thread so the
//! caller's own namespace never changes, and its release. Two process execs less per run.

use crate::sys::{Errno, Linux, Syscall};
use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

fn cpath(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno(libc::EINVAL))
}

/// A new network namespace, its loopback up, pinned by a bind mount on `path` (created if
/// missing). The thread that makes it is the only task ever inside: unshare(2) with
/// CLONE_NEWNET moves the calling thread alone, and /proc/thread-self/ns/net names it.
pub fn pin(path: &Path) -> Result<(), Errno> {
    let target = cpath(path)?;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o444)
        .open(path)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let made = std::thread::spawn(move || -> Result<(), Errno> {
        let sys = Linux;
        sys.unshare(libc::CLONE_NEWNET)?;
        sys.loopback_up()?;
        sys.mount(
            Some(c"/proc/thread-self/ns/net"),
            &target,
            None,
            libc::MS_BIND as u64,
            None,
        )
    })
    .join()
    .unwrap_or(Err(Errno(libc::EIO)));
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Detaches the bind mount on `path` (MNT_DETACH: a process still inside keeps the
/// namespace until it leaves) and removes the file. Nothing there is not an error.
pub fn unpin(path: &Path) -> Result<(), Errno> {
    match Linux.umount2(&cpath(path)?, libc::MNT_DETACH) {
        Ok(()) | Err(Errno(libc::EINVAL | libc::ENOENT)) => {}
        Err(e) => return Err(e),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Errno(e.raw_os_error().unwrap_or(libc::EIO)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_unpins_a_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let ns = dir.path().join("ns");
        pin(&ns).unwrap();
        let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
        let pinned = std::fs::metadata(&ns).unwrap();
        let own = std::fs::metadata("/proc/self/ns/net").unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(
            pinned.ino(),
            own.ino(),
            "a new namespace, not ours ({mine:?})"
        );
        assert_eq!(std::fs::read_link("/proc/self/ns/net").unwrap(), mine);
        unpin(&ns).unwrap();
        assert!(!ns.exists());
        unpin(&ns).unwrap(); // idempotent
    }
}
