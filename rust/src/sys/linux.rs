//! The real `Syscall`: thin, allocation-free wrappers over libc and raw system calls.

use super::{CStrArray, Errno, SockFilter, SysResult, Syscall};
use std::ffi::CStr;
use std::os::unix::io::RawFd;
use std::ptr;

/// The host kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct Linux;

fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

/// `struct open_how` (linux/openat2.h).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct __user_cap_header_struct` / `__user_cap_data_struct` (linux/capability.h).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> SysResult<()> {
        // SAFETY: every pointer is NULL or a NUL-terminated string that outlives the call.
        let r = unsafe {
            libc::mount(
                opt_ptr(source),
                target.as_ptr(),
                opt_ptr(fstype),
                flags as libc::c_ulong,
                opt_ptr(data).cast(),
            )
        };
        check(r.into()).map(drop)
    }

    fn umount2(&self, target: &CStr, flags: i32) -> SysResult<()> {
        // SAFETY: `target` is a valid C string.
        check(unsafe { libc::umount2(target.as_ptr(), flags) }.into()).map(drop)
    }

    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()> {
        // SAFETY: pivot_root(2) takes two path strings; both are valid C strings.
        let r = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
        check(r).map(drop)
    }

    fn chdir(&self, path: &CStr) -> SysResult<()> {
        // SAFETY: `path` is a valid C string.
        check(unsafe { libc::chdir(path.as_ptr()) }.into()).map(drop)
    }

    fn fchdir(&self, fd: RawFd) -> SysResult<()> {
        // SAFETY: fchdir only reads an integer.
        check(unsafe { libc::fchdir(fd) }.into()).map(drop)
    }

    fn open_beneath(&self, root: RawFd, path: &CStr, flags: i32) -> SysResult<RawFd> {
        let how = OpenHow {
            flags: (flags | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: `how` is a properly laid out `struct open_how` whose size we pass.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root,
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        check(r).map(|fd| fd as RawFd)
    }

    fn openat(&self, dir: RawFd, path: &CStr, flags: i32, mode: u32) -> SysResult<RawFd> {
        // SAFETY: `path` is a valid C string.
        let r = unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        check(r.into()).map(|fd| fd as RawFd)
    }

    fn mkdirat(&self, dir: RawFd, name: &CStr, mode: u32) -> SysResult<()> {
        // SAFETY: `name` is a valid C string.
        check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode) }.into()).map(drop)
    }

    fn mknodat(&self, dir: RawFd, name: &CStr, mode: u32, dev: u64) -> SysResult<()> {
        // SAFETY: `name` is a valid C string.
        check(unsafe { libc::mknodat(dir, name.as_ptr(), mode, dev) }.into()).map(drop)
    }

    fn symlinkat(&self, target: &CStr, dir: RawFd, name: &CStr) -> SysResult<()> {
        // SAFETY: both strings are valid C strings.
        check(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) }.into()).map(drop)
    }

    fn close(&self, fd: RawFd) {
        // SAFETY: closing an fd we own; errors from close are not actionable here.
        unsafe { libc::close(fd) };
    }

    fn dup2(&self, old: RawFd, new: RawFd) -> SysResult<()> {
        // SAFETY: dup2 only takes integers.
        check(unsafe { libc::dup2(old, new) }.into()).map(drop)
    }

    fn close_from(&self, first: u32) -> SysResult<()> {
        // SAFETY: close_range(2) takes integers only.
        let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
        check(r).map(drop)
    }

    fn sethostname(&self, name: &CStr) -> SysResult<()> {
        let bytes = name.to_bytes();
        // SAFETY: the pointer and length describe `name`'s bytes.
        check(unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) }.into()).map(drop)
    }

    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()> {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `lim` is a valid rlimit for the duration of the call.
        check(unsafe { libc::setrlimit(resource as _, &lim) }.into()).map(drop)
    }

    fn prctl(&self, option: i32, arg2: u64, arg3: u64) -> SysResult<()> {
        // SAFETY: the options used by the init take integer arguments only.
        check(unsafe { libc::prctl(option, arg2, arg3, 0u64, 0u64) }.into()).map(drop)
    }

    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
        let mut header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [
            CapData {
                effective: effective as u32,
                permitted: permitted as u32,
                inheritable: inheritable as u32,
            },
            CapData {
                effective: (effective >> 32) as u32,
                permitted: (permitted >> 32) as u32,
                inheritable: (inheritable >> 32) as u32,
            },
        ];
        // SAFETY: version 3 takes a header and an array of two data structs.
        let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
        check(r).map(drop)
    }

    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        // SAFETY: the pointer and length describe `gids`. The raw syscall (not glibc's
        // wrapper, which broadcasts to all threads) is right for a single-threaded child.
        let r = unsafe { libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) };
        check(r).map(drop)
    }

    fn setresgid(&self, gid: u32) -> SysResult<()> {
        // SAFETY: integers only.
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
    }

    fn setresuid(&self, uid: u32) -> SysResult<()> {
        // SAFETY: integers only.
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
    }

    fn unshare(&self, flags: i32) -> SysResult<()> {
        // SAFETY: integers only.
        check(unsafe { libc::unshare(flags) }.into()).map(drop)
    }

    fn setns(&self, fd: RawFd, nstype: i32) -> SysResult<()> {
        // SAFETY: integers only; a bad fd is reported as EBADF.
        check(unsafe { libc::setns(fd, nstype) }.into()).map(drop)
    }

    fn umask(&self, mask: u32) {
        // SAFETY: integers only; umask cannot fail.
        unsafe { libc::umask(mask) };
    }

    fn loopback_up(&self) -> SysResult<()> {
        // SAFETY: a plain socket(2) call.
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        let sock = check(sock.into())? as RawFd;
        // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the `ifreq` we own.
        let result = unsafe {
            if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) < 0 {
                Err(Errno::last())
            } else {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                if libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) < 0 {
                    Err(Errno::last())
                } else {
                    Ok(())
                }
            }
        };
        self.close(sock);
        result
    }

    fn seccomp(&self, filter: &[SockFilter]) -> SysResult<()> {
        let prog = SockFprog {
            len: filter.len() as u16,
            filter: filter.as_ptr(),
        };
        // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0u32,
                &prog as *const SockFprog,
            )
        };
        check(r).map(drop)
    }

    fn execve(&self, path: &CStr, argv: &CStrArray, envp: &CStrArray) -> Errno {
        // SAFETY: both arrays are NULL-terminated arrays of valid C strings.
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Errno::last()
    }

    fn write(&self, fd: RawFd, buf: &[u8]) -> SysResult<usize> {
        // SAFETY: the pointer and length describe `buf`.
        check(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } as libc::c_long)
            .map(|n| n as usize)
    }

    fn read(&self, fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
        // SAFETY: the pointer and length describe `buf`, which we may write.
        check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)
            .map(|n| n as usize)
    }
}
