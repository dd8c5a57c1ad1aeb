//! The kernel boundary of the runtime: the `Syscall` trait the container init is written
//! against, its real Linux implementation and a recording fake for unit tests. Almost every
//! `unsafe` block of the runtime lives in this module.

// MS_* and friends are `c_ulong`: the casts to u64 matter on 32-bit targets.
#![allow(clippy::unnecessary_cast)]

pub mod fake;
pub mod fd;
pub mod fsmount;
mod linux;
pub mod process;

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::c_char;
use std::os::unix::io::RawFd;

pub use linux::Linux;

/// An errno value, as returned by a failed system call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current errno.
    pub fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

pub type SysResult<T> = Result<T, Errno>;

/// One classic BPF instruction (`struct sock_filter`, linux/filter.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A NULL-terminated `char *[]` built before fork, so the child can exec without allocating.
pub struct CStrArray {
    owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl CStrArray {
    pub fn new(items: Vec<CString>) -> CStrArray {
        let mut ptrs: Vec<*const c_char> = items.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStrArray { owned: items, ptrs }
    }

    pub fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }

    pub fn items(&self) -> &[CString] {
        &self.owned
    }
}

impl fmt::Debug for CStrArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.owned.iter()).finish()
    }
}

/// `/proc/self/fd/<fd>` formatted on the stack: the child of a fork must not allocate.
pub struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    pub fn new(fd: RawFd) -> FdPath {
        const PREFIX: &[u8] = b"/proc/self/fd/";
        let mut buf = [0u8; 32];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let mut digits = [0u8; 12];
        let mut n = fd.unsigned_abs();
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[PREFIX.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    pub fn as_cstr(&self) -> &CStr {
        // The buffer always holds a NUL after the digits (32 > 14 + 10 + 1).
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/proc/self/fd/")
    }
}

/// Every system call the container init makes, so init sequences can be unit-tested against
/// a recording fake. Implementations must not allocate on the real path: the init runs in the
/// child of a fork.
pub trait Syscall {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> SysResult<()>;
    fn umount2(&self, target: &CStr, flags: i32) -> SysResult<()>;
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()>;
    fn chdir(&self, path: &CStr) -> SysResult<()>;
    fn fchdir(&self, fd: RawFd) -> SysResult<()>;
    /// `openat2(root, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`:
    /// `path` is resolved as if `root` were `/`, symlinks included (openat2(2)).
    fn open_beneath(&self, root: RawFd, path: &CStr, flags: i32) -> SysResult<RawFd>;
    fn openat(&self, dir: RawFd, path: &CStr, flags: i32, mode: u32) -> SysResult<RawFd>;
    fn mkdirat(&self, dir: RawFd, name: &CStr, mode: u32) -> SysResult<()>;
    fn mknodat(&self, dir: RawFd, name: &CStr, mode: u32, dev: u64) -> SysResult<()>;
    fn symlinkat(&self, target: &CStr, dir: RawFd, name: &CStr) -> SysResult<()>;
    fn close(&self, fd: RawFd);
    fn dup2(&self, old: RawFd, new: RawFd) -> SysResult<()>;
    /// Closes every fd from `first` up (close_range(2)).
    fn close_from(&self, first: u32) -> SysResult<()>;
    fn sethostname(&self, name: &CStr) -> SysResult<()>;
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()>;
    fn prctl(&self, option: i32, arg2: u64, arg3: u64) -> SysResult<()>;
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()>;
    fn setgroups(&self, gids: &[u32]) -> SysResult<()>;
    fn setresgid(&self, gid: u32) -> SysResult<()>;
    fn setresuid(&self, uid: u32) -> SysResult<()>;
    fn unshare(&self, flags: i32) -> SysResult<()>;
    /// Joins the namespace `fd` refers to (setns(2)); `nstype` is its CLONE_NEW* flag.
    fn setns(&self, fd: RawFd, nstype: i32) -> SysResult<()>;
    fn umask(&self, mask: u32);
    /// Brings the loopback interface of the current network namespace up (SIOCSIFFLAGS).
    fn loopback_up(&self) -> SysResult<()>;
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)`.
    fn seccomp(&self, filter: &[SockFilter]) -> SysResult<()>;
    /// Only returns on failure.
    fn execve(&self, path: &CStr, argv: &CStrArray, envp: &CStrArray) -> Errno;
    fn write(&self, fd: RawFd, buf: &[u8]) -> SysResult<usize>;
    fn read(&self, fd: RawFd, buf: &mut [u8]) -> SysResult<usize>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_path_formats_without_allocating() {
        assert_eq!(FdPath::new(0).as_cstr(), c"/proc/self/fd/0");
        assert_eq!(FdPath::new(1234).as_cstr(), c"/proc/self/fd/1234");
        assert_eq!(
            FdPath::new(i32::MAX).as_cstr().to_str().unwrap(),
            "/proc/self/fd/2147483647"
        );
    }

    #[test]
    fn cstr_array_is_null_terminated() {
        let a = CStrArray::new(vec![CString::new("a").unwrap()]);
        // SAFETY: the array has two elements, the second being the terminator.
        unsafe {
            assert!(!(*a.as_ptr()).is_null());
            assert!((*a.as_ptr().add(1)).is_null());
        }
    }
}
