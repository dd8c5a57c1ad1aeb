//! The binary that enters a container (the monitor, whose clone is the init, and the exec
//! joiner) is exec'd from a read-only, detached bind mount of itself, made noexec once it
//! runs: its /proc/<pid>/exe can be neither written nor executed from inside (CVE-2019-5736).

// why: CVE-2019-5736. Until its final execve, the process entering a container runs a host
// binary, and /proc/<pid>/exe of that process is a path to the host's file that ignores the
// container's mount namespace. Two attacks follow: (1) a container process opens it (O_PATH,
// then reopens /proc/self/fd/N for writing once the binary is no longer busy) and overwrites
// the host binary; non-dumpable stops that only without CAP_SYS_PTRACE in the initial user
// namespace, which a container without a user namespace may hold (`--cap-add SYS_PTRACE`,
// `--privileged`); (2) the command is a script starting `#!/proc/self/exe`: binfmt_script
// opens the interpreter before the new image replaces the old one, so the kernel runs the
// *host* binary inside the container, now dumpable and with the container's ld.so, which
// then writes /proc/self/exe. runc first copied itself into a sealed memfd (a full copy per
// start: ~1 MB here, charged to memory; python would be 7 MB and a second interpreter
// start-up), later bound itself read-only. We take the bind-mount road with the new mount
// API, which needs no mount namespace and no copy: open_tree(OPEN_TREE_CLONE) makes a
// detached bind mount of the binary alone, mount_setattr(2) makes it read-only (a write
// through any path to it is EROFS, a chmod or truncate too), execveat(AT_EMPTY_PATH) runs it
// from there, and once the exec is done the same mount is made noexec, so `#!/proc/self/exe`
// (or any re-exec of /proc/<pid>/exe) fails with EACCES (path_noexec in do_open_execat)
// instead of running host code. The mount is in no namespace: nobody can remount it.
// Cost: one open_tree, two mount_setattr and one fork+wait of a few hundred µs per start.

use crate::sys::process::{self, Forked};
use crate::sys::{CStrArray, Errno, SysResult};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// linux/mount.h
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// struct mount_attr (linux/mount.h, MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

extern "C" {
    static environ: *const *const libc::c_char;
}

/// A detached, read-only bind mount of one executable, reachable only through its fd.
pub struct SealedExe {
    tree: OwnedFd,
}

impl SealedExe {
    pub fn open(path: &CStr) -> SysResult<SealedExe> {
        let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
        // SAFETY: a valid C string; open_tree returns a new fd or -1.
        let r = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
        if r < 0 {
            return Err(Errno::last());
        }
        // SAFETY: the kernel just returned this fd and nothing else owns it.
        let tree = unsafe { OwnedFd::from_raw_fd(r as i32) };
        let exe = SealedExe { tree };
        exe.set(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)?;
        Ok(exe)
    }

    fn set(&self, attrs: u64) -> SysResult<()> {
        let attr = MountAttr {
            attr_set: attrs,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        // SAFETY: an fd we own, an empty path with AT_EMPTY_PATH, a mount_attr of its size.
        let r = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                self.tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// execveat(2) of the mounted binary with our environment; returns only on failure.
    pub fn exec(&self, argv: &CStrArray) -> Errno {
        // SAFETY: an fd we own, an empty path with AT_EMPTY_PATH, a NULL-terminated argv
        // built before fork and the process's own environment.
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                self.tree.as_raw_fd(),
                c"".as_ptr(),
                argv.as_ptr(),
                environ,
                libc::AT_EMPTY_PATH,
            )
        };
        Errno::last()
    }

    /// From now on nothing can be exec'd from this mount, `/proc/<pid>/exe` of whoever runs
    /// it included.
    pub fn forbid_exec(&self) -> SysResult<()> {
        self.set(MOUNT_ATTR_NOEXEC)
    }
}

/// Runs `path` from a sealed mount in a child of ours and returns only in a process that
/// should carry on without it (the exec failed: the caller falls back to running in-process,
/// as before). Once the child has exec'd (its close-on-exec pipe end closed), this process
/// makes the mount noexec and exits: the binary's process is a grandchild of the caller.
/// Runs after fork: system calls only.
pub fn exec(path: &CStr, argv: &CStrArray) {
    let exe = match SealedExe::open(path) {
        Ok(exe) => exe,
        Err(_) => return plain_exec(path, argv),
    };
    let Ok((done_r, done_w)) = process::pipe() else {
        return plain_exec(path, argv);
    };
    match process::fork() {
        Ok(Forked::Child) => {
            drop(done_r);
            let _ = exe.exec(argv);
            // The parent sees end of file and leaves; we carry on in-process.
            drop(done_w);
        }
        Ok(Forked::Parent(pid)) => {
            drop(done_w);
            let mut b = [0u8; 1];
            while process::read(done_r.as_raw_fd(), &mut b) == Err(Errno(libc::EINTR)) {}
            // Failing here would leave the mount read-only (still no write to the host
            // binary) but `#!/proc/self/exe` could run it: the child is killed, not left so.
            if exe.forbid_exec().is_err() {
                let _ = process::kill(pid, libc::SIGKILL);
                process::exit_now(1)
            }
            process::exit_now(0)
        }
        Err(_) => plain_exec(path, argv),
    }
}

fn plain_exec(path: &CStr, argv: &CStrArray) {
    // SAFETY: NUL-terminated path and a NULL-terminated argv built before fork.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mount is read-only at once and noexec after `forbid_exec`. Needs root.
    #[test]
    fn read_only_then_noexec() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let exe = SealedExe::open(c"/bin/true").unwrap();
        let path = format!("/proc/self/fd/{}", exe.tree.as_raw_fd());
        let w = std::fs::OpenOptions::new().write(true).open(&path);
        assert_eq!(w.unwrap_err().raw_os_error(), Some(libc::EROFS));
        let ok = std::process::Command::new(&path).status().unwrap();
        assert!(ok.success());
        exe.forbid_exec().unwrap();
        let denied = std::process::Command::new(&path).status().unwrap_err();
        assert_eq!(denied.raw_os_error(), Some(libc::EACCES));
    }
}
