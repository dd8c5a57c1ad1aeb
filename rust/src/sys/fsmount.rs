//! The new mount API (fsopen(2), fsconfig(2), fsmount(2), Linux 5.2+): a filesystem mounted
//! as a *detached* mount, reachable only through the returned fd. It lives in no mount
//! namespace, never shows in mountinfo, and is torn down when its last reference closes, so
//! a crash cannot leave it behind.

use super::{Errno, SysResult};
use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;

// linux/mount.h
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;

fn fd_result(ret: libc::c_long) -> SysResult<OwnedFd> {
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// A filesystem context being configured (the fd of fsopen(2)).
pub struct FsContext(OwnedFd);

impl FsContext {
    pub fn open(fstype: &CStr) -> SysResult<FsContext> {
        // SAFETY: `fstype` is a valid C string; the flag is defined by linux/mount.h.
        let r = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
        fd_result(r).map(FsContext)
    }

    /// `key=value` as a string parameter (FSCONFIG_SET_STRING).
    pub fn set(&self, key: &CStr, value: &CStr) -> SysResult<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: both strings are valid C strings; aux is 0 as FSCONFIG_SET_STRING requires.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Creates the superblock and returns it as a detached mount (an fd on its root).
    pub fn mount(self) -> SysResult<OwnedFd> {
        use std::os::fd::AsRawFd;
        let fd = self.0.as_raw_fd();
        // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fd,
                FSCONFIG_CMD_CREATE,
                ptr::null::<libc::c_char>(),
                ptr::null::<libc::c_void>(),
                0,
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
        // SAFETY: `fd` is a configured context; no mount attributes are requested.
        let r = unsafe { libc::syscall(libc::SYS_fsmount, fd, FSMOUNT_CLOEXEC, 0) };
        fd_result(r)
    }
}
