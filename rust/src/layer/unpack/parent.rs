//! Parent directories of entries, with what a node created in them inherits, so that a node
//! created with its final mode and already owned right needs no chmod or chown afterwards.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs;
use rustix::io::Errno;

/// An open parent directory and what nodes created in it get without being asked.
pub struct Parent {
    fd: OwnedFd,
    /// The group a new node gets: the directory's own when it is setgid (inode(7), "The
    /// set-group-ID bit"), else the creator's; None when the directory could not be stat'ed.
    new_gid: Option<u32>,
    /// A default ACL replaces the umask for new nodes (acl(5), "Object creation and default
    /// ACLs"), so their mode cannot be predicted from the umask.
    default_acl: bool,
}

impl AsFd for Parent {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Who creates nodes: the effective ids and the umask of this process.
#[derive(Clone, Copy)]
pub struct Creator {
    pub uid: u32,
    pub gid: u32,
    /// None when it could not be read (then every node gets an explicit chmod).
    pub umask: Option<u32>,
}

impl Creator {
    pub fn current() -> Creator {
        Creator {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            umask: read_umask(),
        }
    }

    /// Looks at `fd` (two cheap syscalls, once per parent opened).
    pub fn parent(&self, fd: OwnedFd) -> Parent {
        let new_gid = fs::fstat(&fd).ok().map(|st| {
            if st.st_mode & libc::S_ISGID != 0 {
                st.st_gid
            } else {
                self.gid
            }
        });
        let default_acl = !matches!(
            fs::fgetxattr_query(&fd, c"system.posix_acl_default"),
            Err(Errno::NODATA | Errno::OPNOTSUPP)
        );
        Parent {
            fd,
            new_gid,
            default_acl,
        }
    }

    /// Whether a node created in `p` must still be chowned to `uid:gid`.
    pub fn needs_chown(&self, p: &Parent, uid: u64, gid: u64) -> bool {
        !(uid == u64::from(self.uid) && p.new_gid.is_some_and(|g| u64::from(g) == gid))
    }

    /// Whether a file or directory created in `p` with `mode` gets exactly `mode`: no
    /// setuid/setgid/sticky bits (chown may clear them, so they are set after it), none of
    /// them masked by the umask, no default ACL in the way.
    pub fn creates_exact(&self, p: &Parent, mode: u32) -> bool {
        mode & 0o7000 == 0 && self.umask.is_some_and(|m| mode & m == 0) && !p.default_acl
    }
}

/// The umask from /proc/self/status (Linux 4.7+): umask(2) cannot read it without setting
/// it, which would race with other threads of the process creating files.
fn read_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_is_read() {
        // Not compared with umask(2): setting it would race with the other tests' files.
        assert!(read_umask().is_some_and(|m| m <= 0o777));
    }

    #[test]
    fn setgid_parents_hand_down_their_group() {
        let d = tempfile::tempdir().unwrap();
        let c = Creator {
            uid: 0,
            gid: 0,
            umask: Some(0o022),
        };
        let open = || fs::open(d.path(), fs::OFlags::RDONLY, fs::Mode::empty()).unwrap();
        fs::chown(d.path(), None, Some(fs::Gid::from_raw(1234))).unwrap();
        let p = c.parent(open());
        assert_eq!(p.new_gid, Some(0));
        assert!(!c.needs_chown(&p, 0, 0));
        assert!(c.needs_chown(&p, 0, 1234));
        fs::chmod(d.path(), fs::Mode::from_raw_mode(0o2755)).unwrap();
        let p = c.parent(open());
        assert_eq!(p.new_gid, Some(1234));
        assert!(c.needs_chown(&p, 0, 0));
        assert!(c.creates_exact(&p, 0o755));
        assert!(!c.creates_exact(&p, 0o775));
        assert!(!c.creates_exact(&p, 0o4755));
    }
}
