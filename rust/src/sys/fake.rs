//! A recording fake of `Syscall`: every call is logged as one line of text, so tests assert
//! the exact sequence an init would make; chosen calls can be made to fail.

use super::{CStrArray, Errno, SockFilter, SysResult, Syscall};
use std::cell::{Cell, RefCell};
use std::ffi::CStr;
use std::os::unix::io::RawFd;

/// Records calls; `fail_on(prefix, errno)` makes the first call whose record starts with
/// `prefix` fail.
#[derive(Default)]
pub struct Recorder {
    pub calls: RefCell<Vec<String>>,
    failures: RefCell<Vec<(String, i32)>>,
    next_fd: Cell<RawFd>,
}

fn s(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn o(c: Option<&CStr>) -> String {
    c.map_or_else(|| "-".to_string(), s)
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            next_fd: Cell::new(10),
            ..Default::default()
        }
    }

    pub fn fail_on(&self, prefix: &str, errno: i32) {
        self.failures.borrow_mut().push((prefix.to_string(), errno));
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: String) -> SysResult<()> {
        let mut failures = self.failures.borrow_mut();
        let hit = failures
            .iter()
            .position(|(p, _)| call.starts_with(p.as_str()));
        self.calls.borrow_mut().push(call);
        match hit {
            Some(i) => Err(Errno(failures.remove(i).1)),
            None => Ok(()),
        }
    }

    fn fd(&self) -> RawFd {
        let fd = self.next_fd.get();
        self.next_fd.set(fd + 1);
        fd
    }
}

impl Syscall for Recorder {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> SysResult<()> {
        self.record(format!(
            "mount {} {} {} {:#x} {}",
            o(source),
            s(target),
            o(fstype),
            flags,
            o(data)
        ))
    }
    fn umount2(&self, target: &CStr, flags: i32) -> SysResult<()> {
        self.record(format!("umount2 {} {flags}", s(target)))
    }
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()> {
        self.record(format!("pivot_root {} {}", s(new_root), s(put_old)))
    }
    fn chdir(&self, path: &CStr) -> SysResult<()> {
        self.record(format!("chdir {}", s(path)))
    }
    fn fchdir(&self, fd: RawFd) -> SysResult<()> {
        self.record(format!("fchdir {fd}"))
    }
    fn open_beneath(&self, root: RawFd, path: &CStr, _flags: i32) -> SysResult<RawFd> {
        self.record(format!("open_beneath {root} {}", s(path)))
            .map(|()| self.fd())
    }
    fn openat(&self, dir: RawFd, path: &CStr, _flags: i32, mode: u32) -> SysResult<RawFd> {
        self.record(format!("openat {dir} {} {mode:o}", s(path)))
            .map(|()| self.fd())
    }
    fn mkdirat(&self, dir: RawFd, name: &CStr, mode: u32) -> SysResult<()> {
        self.record(format!("mkdirat {dir} {} {mode:o}", s(name)))
    }
    fn mknodat(&self, dir: RawFd, name: &CStr, mode: u32, dev: u64) -> SysResult<()> {
        self.record(format!("mknodat {dir} {} {mode:o} {dev:#x}", s(name)))
    }
    fn symlinkat(&self, target: &CStr, dir: RawFd, name: &CStr) -> SysResult<()> {
        self.record(format!("symlinkat {} {dir} {}", s(target), s(name)))
    }
    fn close(&self, fd: RawFd) {
        let _ = self.record(format!("close {fd}"));
    }
    fn dup2(&self, old: RawFd, new: RawFd) -> SysResult<()> {
        self.record(format!("dup2 {old} {new}"))
    }
    fn close_from(&self, first: u32) -> SysResult<()> {
        self.record(format!("close_from {first}"))
    }
    fn sethostname(&self, name: &CStr) -> SysResult<()> {
        self.record(format!("sethostname {}", s(name)))
    }
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> SysResult<()> {
        self.record(format!("setrlimit {resource} {soft} {hard}"))
    }
    fn prctl(&self, option: i32, arg2: u64, arg3: u64) -> SysResult<()> {
        self.record(format!("prctl {option} {arg2} {arg3}"))
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
        self.record(format!(
            "capset {effective:#x} {permitted:#x} {inheritable:#x}"
        ))
    }
    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        self.record(format!("setgroups {gids:?}"))
    }
    fn setresgid(&self, gid: u32) -> SysResult<()> {
        self.record(format!("setresgid {gid}"))
    }
    fn setresuid(&self, uid: u32) -> SysResult<()> {
        self.record(format!("setresuid {uid}"))
    }
    fn unshare(&self, flags: i32) -> SysResult<()> {
        self.record(format!("unshare {flags:#x}"))
    }
    fn setns(&self, _fd: RawFd, nstype: i32) -> SysResult<()> {
        self.record(format!("setns {nstype:#x}"))
    }
    fn umask(&self, mask: u32) {
        let _ = self.record(format!("umask {mask:o}"));
    }
    fn loopback_up(&self) -> SysResult<()> {
        self.record("loopback_up".to_string())
    }
    fn seccomp(&self, filter: &[SockFilter]) -> SysResult<()> {
        self.record(format!("seccomp {} insns", filter.len()))
    }
    fn execve(&self, path: &CStr, argv: &CStrArray, _envp: &CStrArray) -> Errno {
        let args: Vec<String> = argv.items().iter().map(|a| s(a)).collect();
        match self.record(format!("execve {} {}", s(path), args.join(" "))) {
            Err(e) => e,
            Ok(()) => Errno(0),
        }
    }
    fn write(&self, fd: RawFd, buf: &[u8]) -> SysResult<usize> {
        self.record(format!("write {fd} {} bytes", buf.len()))
            .map(|()| buf.len())
    }
    fn read(&self, fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
        self.record(format!("read {fd}")).map(|()| {
            buf.iter_mut().for_each(|b| *b = 0);
            buf.len()
        })
    }
}
