//! Process primitives of the spawn path and the monitor: fork, clone3 with a pidfd, pidfd
//! waits and signals, pipes, poll and signal masks.

use super::{Errno, SysResult};
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Which side of a fork we are on.
pub enum Forked {
    Parent(libc::pid_t),
    Child,
}

/// fork(2) through glibc, so malloc's atfork handlers keep the heap usable in the child even
/// if the (Python) parent has other threads.
pub fn fork() -> SysResult<Forked> {
    // SAFETY: the caller only runs code in the child that is safe after fork (it never
    // touches Python and uses no locks other than malloc's, which glibc resets).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        p => Ok(Forked::Parent(p)),
    }
}

/// `struct clone_args` (linux/sched.h), the first version (64 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// A child made by `clone_with_pidfd`.
pub enum Cloned {
    Parent { pid: libc::pid_t, pidfd: OwnedFd },
    Child,
}

/// clone3(2) with fork semantics (no new stack) into the namespaces in `flags`, returning a
/// pidfd for the child atomically, so it can never be confused with a recycled pid.
pub fn clone_with_pidfd(flags: u64) -> SysResult<Cloned> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: fork-like clone3 (stack 0): the child continues on a copy of our stack. The
    // caller is single-threaded (the monitor), so the child inherits a consistent heap.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match check(r)? {
        0 => Ok(Cloned::Child),
        // SAFETY: the kernel stored a new pidfd that nobody else owns.
        pid => Ok(Cloned::Parent {
            pid: pid as libc::pid_t,
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        }),
    }
}

/// A pipe with both ends close-on-exec: (read, write).
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }.into())?;
    // SAFETY: both fds are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A close-on-exec SOCK_SEQPACKET pair: message boundaries are kept, EOF is visible.
pub fn seqpacket_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into the array.
    check(
        unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        }
        .into(),
    )?;
    // SAFETY: both fds are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        // SAFETY: the pointer and length describe `buf`.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// One read(2), retried on EINTR. Ok(0) is end of file.
pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: the pointer and length describe `buf`.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Reaps the child behind `pidfd`; returns its wait status in `waitpid` form.
pub fn wait_pidfd(pidfd: RawFd) -> SysResult<i32> {
    loop {
        // SAFETY: `siginfo_t` is plain data; waitid fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: P_PIDFD (3) waits for the process the pidfd refers to.
        let r = unsafe {
            libc::waitid(
                3 as libc::idtype_t,
                pidfd as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        if r < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        // SAFETY: after a successful WEXITED wait, si_code and si_status are valid.
        let (code, status) = unsafe { (info.si_code, info.si_status()) };
        return Ok(if code == libc::CLD_EXITED {
            (status & 0xff) << 8
        } else {
            status & 0x7f
        });
    }
}

/// The exit code Docker shows for a wait status: the code, or 128 + the signal.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

pub fn pidfd_open(pid: libc::pid_t) -> SysResult<OwnedFd> {
    // SAFETY: integers only.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) })?;
    // SAFETY: a new fd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> SysResult<()> {
    // SAFETY: integers and a NULL siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    check(r).map(drop)
}

/// poll(2)'s timeout for waiting until `deadline`: -1 without one, else the milliseconds
/// left (at least 1); None once the deadline has passed.
pub fn poll_timeout(deadline: Option<std::time::Instant>) -> Option<i32> {
    match deadline {
        None => Some(-1),
        Some(d) => {
            let left = d.saturating_duration_since(std::time::Instant::now());
            (!left.is_zero()).then(|| left.as_millis().clamp(1, i32::MAX as u128) as i32)
        }
    }
}

/// poll(2) on `fds` (fd, events); returns the revents, in order. EINTR yields all zero.
pub fn poll(fds: &[(RawFd, i16)], timeout_ms: i32) -> SysResult<Vec<i16>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: the pointer and length describe `pfds`.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
        return Ok(vec![0; fds.len()]);
    }
    Ok(pfds.iter().map(|p| p.revents).collect())
}

/// A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat): with the
/// pid it names one process for ever, whatever pid reuse happens later.
pub fn start_time(pid: libc::pid_t) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }.into()).map(drop)
}

pub fn getpid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getpid() }
}

/// Exits immediately without running destructors or atexit handlers (the child of a fork
/// must not flush the parent's stdio buffers).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no process state we care about.
    unsafe { libc::_exit(code) }
}

pub fn waitpid(pid: libc::pid_t) -> SysResult<i32> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 {
            return Ok(status);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Sets a signal's disposition to ignore or default.
pub fn set_signal_ignored(sig: i32, ignored: bool) {
    let handler = if ignored {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: installing SIG_IGN/SIG_DFL is always safe.
    unsafe { libc::signal(sig, handler) };
}

/// A set of signals blocked in this thread for the guard's lifetime and readable from a
/// signalfd; the old mask comes back on drop.
pub struct BlockedSignals {
    old: libc::sigset_t,
    pub fd: OwnedFd,
}

impl BlockedSignals {
    pub fn new(signals: &[i32]) -> SysResult<BlockedSignals> {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to sigset_t values we own.
        unsafe {
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
        }
        // SAFETY: valid sigset pointers.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        let fd = check(fd.into())? as RawFd;
        // SAFETY: a new fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: valid sigset pointers.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
        if r != 0 {
            return Err(Errno(r));
        }
        Ok(BlockedSignals { old, fd })
    }

    /// Puts back the mask from before `new` without consuming the guard: for a child just
    /// forked from the guarded thread, which must not start its program with signals blocked
    /// (`execve` keeps the mask).
    pub fn restore_mask(&self) {
        // SAFETY: restoring the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }

    /// The next pending signal, if any.
    pub fn next(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reading one signalfd_siginfo into `info`.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        (n as usize == size).then_some(info.ssi_signo as i32)
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // Drain what we consumed nothing of, then restore the mask.
        while self.next().is_some() {}
        // SAFETY: restoring the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Closes every open fd of this process except those in `keep` (sorted or not).
pub fn close_all_except(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&f| f >= 0)
        .map(|&f| f as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 0u32;
    for &k in &keep {
        if k > first {
            // SAFETY: close_range over a gap of fds we do not need.
            unsafe { libc::syscall(libc::SYS_close_range, first, k - 1, 0u32) };
        }
        first = k + 1;
    }
    // SAFETY: as above, to the end of the fd table.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
}

/// Moves `fd` to exactly `target` (dup3 with O_CLOEXEC cleared when `inherit`).
pub fn dup_to(fd: RawFd, target: RawFd, inherit: bool) -> SysResult<()> {
    if fd == target {
        // SAFETY: toggling FD_CLOEXEC on an fd we own.
        let r = unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFD,
                if inherit { 0 } else { libc::FD_CLOEXEC },
            )
        };
        return check(r.into()).map(drop);
    }
    let flags = if inherit { 0 } else { libc::O_CLOEXEC };
    // SAFETY: dup3 takes integers only.
    check(unsafe { libc::dup3(fd, target, flags) }.into()).map(drop)
}

pub fn open_dev_null(flags: i32) -> SysResult<OwnedFd> {
    // SAFETY: a constant path.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), flags | libc::O_CLOEXEC) };
    let fd = check(fd.into())? as RawFd;
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn set_nonblocking(fd: RawFd) -> SysResult<()> {
    // SAFETY: fcntl with integers only.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        check(libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK).into()).map(drop)
    }
}

pub fn kill(pid: libc::pid_t, sig: i32) -> SysResult<()> {
    // SAFETY: integers only.
    check(unsafe { libc::kill(pid, sig) }.into()).map(drop)
}

/// `getrlimit(2)`: (soft, hard).
pub fn getrlimit(resource: u32) -> SysResult<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    check(unsafe { libc::getrlimit(resource as _, &mut lim) }.into())?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// A close-on-exec duplicate of `fd` numbered `min` or above (F_DUPFD_CLOEXEC).
pub fn dup_above(fd: RawFd, min: RawFd) -> SysResult<RawFd> {
    // SAFETY: fcntl with integers only.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) }.into()).map(|f| f as RawFd)
}

/// `dup_above`, owned: a close-on-exec duplicate numbered `min` or higher.
pub fn dup_owned_above(fd: &OwnedFd, min: RawFd) -> SysResult<OwnedFd> {
    let f = dup_above(fd.as_raw_fd(), min)?;
    // SAFETY: fcntl just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(f) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn poll_timeout_counts_down_to_a_deadline() {
        assert_eq!(poll_timeout(None), Some(-1));
        assert_eq!(poll_timeout(Some(Instant::now())), None);
        let ms = poll_timeout(Some(Instant::now() + Duration::from_secs(2))).unwrap();
        assert!((1_900..=2_000).contains(&ms), "{ms}");
        let soon = poll_timeout(Some(Instant::now() + Duration::from_micros(300)));
        assert!(matches!(soon, Some(1) | None), "{soon:?}");
    }
}
