//! Descriptors handed over as plain numbers (from Python): a private duplicate to own.

use super::{Errno, SysResult};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A new close-on-exec descriptor for the open file `fd` refers to (shared offset, as
/// dup(2)); the caller keeps owning `fd`. EBADF when `fd` is not open.
pub fn dup_cloexec(fd: RawFd) -> SysResult<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and touches no memory; a number that
    // is not an open descriptor only yields EBADF.
    let ret = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}
