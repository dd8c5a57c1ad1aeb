//! `--init`: pid 1 of the container stays a small reaper (docker-init's, tini's job) instead of
//! becoming the user's program. It forks the program, forwards every signal it gets to it,
//! reaps every orphan the namespace hands it, and exits with the program's exit code.
//!
//! Runs in the child of a fork, after every other init step (same credentials, seccomp
//! filter and non-dumpable state as the program, so no container process can open the
//! reaper's memory or /proc/1/exe): system calls only, no allocation.

use super::init::SYNC_FD;
use super::msg::Failure;
use crate::sys::Errno;

/// The bundle annotation that asks for the reaper (Docker's `HostConfig.Init`).
pub const ANNOTATION_INIT: &str = "org.pycore.init";

/// Signals the reaper handles itself rather than forwards.
fn forwarded(sig: i32) -> bool {
    !matches!(sig, libc::SIGCHLD | libc::SIGKILL | libc::SIGSTOP)
}

/// Forks the program (`exec` runs in the child and returns only on failure) and reaps until
/// it exits. Returns only if the fork itself failed.
pub fn fork_and_reap(exec: &dyn Fn() -> Failure) -> Failure {
    // SAFETY: sigset_t is plain data, filled by sigfillset; the mask calls take valid
    // pointers. Blocked, no signal is lost between here and sigwaitinfo, and a blocked
    // signal is never discarded as "ignored by init" (kernel/signal.c, sig_ignored).
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // A close-on-exec pipe: end of file once the program exec'd (or died trying).
    let mut p = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return failure(Errno::last());
    }
    // SAFETY: fork in a single-threaded process; the child only makes system calls.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return failure(Errno::last());
    }
    if child == 0 {
        // SAFETY: restoring the caller's mask for the program; closing our pipe end.
        unsafe {
            libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            libc::close(p[0]);
        }
        let f = exec();
        // The monitor reads this from the sync socket as the init's failure.
        let _ = crate::sys::process::write_all(SYNC_FD, &f.encode());
        crate::sys::process::exit_now(if f.errno == libc::ENOENT { 127 } else { 126 })
    }
    // SAFETY: closing and reading fds we own.
    unsafe {
        libc::close(p[1]);
        let mut b = [0u8; 1];
        while libc::read(p[0], b.as_mut_ptr().cast(), 1) < 0 && Errno::last().0 == libc::EINTR {}
        libc::close(p[0]);
        // The program runs: our copy of the sync socket closes, the monitor sees end of file.
        libc::close(SYNC_FD);
        libc::prctl(
            libc::PR_SET_NAME,
            c"init".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    reap(child, &all)
}

fn failure(e: Errno) -> Failure {
    Failure {
        step: super::msg::Step::Exec,
        index: 0,
        errno: e.0,
    }
}

fn reap(child: libc::pid_t, set: &libc::sigset_t) -> ! {
    loop {
        // SAFETY: siginfo_t is plain data; sigwaitinfo fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to the set and the info.
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if sig < 0 {
            continue;
        }
        if forwarded(sig) {
            // SAFETY: integers only; the child may be gone already.
            unsafe { libc::kill(child, sig) };
            continue;
        }
        // SIGCHLD: reap everything that has exited, ours or an orphan.
        loop {
            let mut status = 0;
            // SAFETY: a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                let code = if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                };
                crate::sys::process::exit_now(code);
            }
        }
    }
}
