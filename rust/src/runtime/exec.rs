//! `exec`: a new process in a running container. The joining process is made non-dumpable
//! before it enters anything, joins the container's cgroups and namespaces by fd, forks
//! into its pid namespace and that child execs the command directly under the container's
//! capabilities, rlimits, no_new_privs and seccomp filter, with every host fd closed.

use super::init::{self, SYNC_FD};
use super::msg::{Failure, Report, Step, MSG_LEN};
use super::plan::{self, Plan};
use super::pty::RawMode;
use super::spawn::{describe, read_report, spawn_err};
use super::{monitor_cli, selfexe, Error};
use crate::mount::cstring;
use crate::sys::process::{self, Forked};
use crate::sys::{CStrArray, Errno, Linux, SysResult, Syscall};
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to run in which container, and how.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The container's bundle: capabilities, rlimits, no_new_privs and seccomp come from it.
    pub bundle: PathBuf,
    /// The container's init (host pid) and its start time, as recorded in `state.json`.
    pub pid: i32,
    pub pid_start: u64,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub cwd: String,
    /// `cgroup.procs` files to join before entering the namespaces.
    pub cgroups: Vec<PathBuf>,
    /// Relay our stdin to the process (`-i`).
    pub stdin: bool,
    /// A pseudo-terminal (`-t`).
    pub tty: bool,
    /// Start and return at once (`-d`): stdio is /dev/null.
    pub detach: bool,
}

/// The exec'd process (host pid) and its exit code unless detached.
#[derive(Debug, Clone, Copy)]
pub struct Executed {
    pub pid: i32,
    pub exit_code: Option<i32>,
}

/// Namespaces in the order they are joined: the mount namespace last but one (paths of the
/// host are no longer needed after it), the pid namespace applies to children only
/// (setns(2): "the caller's children will be in the new namespace"), hence the fork.
const NAMESPACES: &[(&str, i32)] = &[
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("pid", libc::CLONE_NEWPID),
    ("mnt", libc::CLONE_NEWNS),
];

/// How long output is still relayed after the process exited (its children may hold the
/// pipes open).
const DRAIN: Duration = Duration::from_millis(500);

const PR_SET_DUMPABLE: i32 = 4;

fn io_err(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Spawn {
        op,
        errno: Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// The container's plan with the exec's own process in place of the container's.
fn exec_plan(req: &ExecRequest) -> Result<Plan, Error> {
    let mut plan = Plan::load(&req.bundle)?;
    let strings = |v: &[String]| -> Result<Vec<CString>, Error> {
        v.iter().map(|s| cstring(s).map_err(Error::from)).collect()
    };
    let arg0 = req.args.first().ok_or(Error::Missing("exec: a command"))?;
    if !req.cwd.starts_with('/') {
        return Err(Error::Invalid {
            field: "exec: working directory",
            why: format!("{:?} is not absolute", req.cwd),
        });
    }
    plan.candidates = plan::exec_candidates(arg0, &req.env)?;
    plan.args = CStrArray::new(strings(&req.args)?);
    plan.env = CStrArray::new(strings(&req.env)?);
    plan.uid = req.uid;
    plan.gid = req.gid;
    plan.groups = req.groups.clone();
    plan.cwd_abs = cstring(&req.cwd)?;
    Ok(plan)
}

/// The container's namespaces that differ from ours, opened by fd, with the pid pinned by a
/// pidfd and checked against its start time before and after (a recycled pid is never
/// joined).
fn open_namespaces(req: &ExecRequest) -> Result<Vec<(OwnedFd, i32)>, Error> {
    let not_running = || Error::NotRunning { pid: req.pid };
    let pidfd = process::pidfd_open(req.pid).map_err(|_| not_running())?;
    if process::start_time(req.pid) != Some(req.pid_start) {
        return Err(not_running());
    }
    let mut found = Vec::new();
    for &(name, flag) in NAMESPACES {
        let theirs = File::open(format!("/proc/{}/ns/{name}", req.pid));
        let theirs = match theirs {
            Ok(f) => f,
            // A kernel without this namespace type: nothing to join.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && name == "cgroup" => continue,
            Err(_) => return Err(not_running()),
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map_err(io_err("stat ns"))?;
        let t = theirs.metadata().map_err(io_err("stat ns"))?;
        if (t.dev(), t.ino()) != (ours.dev(), ours.ino()) {
            found.push((OwnedFd::from(theirs), flag));
        }
    }
    // Still the same process (the pidfd pins it): the namespaces are the container's.
    process::pidfd_send_signal(&pidfd, 0).map_err(|_| not_running())?;
    Ok(found)
}

/// Our ends and the process's ends of its stdio.
struct Stdio {
    child: [OwnedFd; 3],
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// The pty master, with `tty`.
    master: Option<OwnedFd>,
}

fn stdio(req: &ExecRequest) -> Result<Stdio, Error> {
    let null = || process::open_dev_null(libc::O_RDWR).map_err(spawn_err("open /dev/null"));
    if req.detach {
        return Ok(Stdio {
            child: [null()?, null()?, null()?],
            stdin: None,
            stdout: None,
            stderr: None,
            master: None,
        });
    }
    if req.tty {
        let (master, slave) = open_pty().map_err(spawn_err("open a pty"))?;
        let dup = |f: &OwnedFd| f.try_clone().map_err(io_err("dup"));
        let child = [
            if req.stdin { dup(&slave)? } else { null()? },
            dup(&slave)?,
            slave,
        ];
        return Ok(Stdio {
            child,
            stdin: None,
            stdout: None,
            stderr: None,
            master: Some(master),
        });
    }
    let (in_r, in_w) = if req.stdin {
        let (r, w) = process::pipe().map_err(spawn_err("pipe"))?;
        (r, Some(w))
    } else {
        (null()?, None)
    };
    let (out_r, out_w) = process::pipe().map_err(spawn_err("pipe"))?;
    let (err_r, err_w) = process::pipe().map_err(spawn_err("pipe"))?;
    Ok(Stdio {
        child: [in_r, out_w, err_w],
        stdin: in_w,
        stdout: Some(out_r),
        stderr: Some(err_r),
        master: None,
    })
}

/// A new pseudo-terminal pair from /dev/ptmx: (master, slave), both close-on-exec. The slave
/// comes from TIOCGPTPEER, never by path (no race on /dev/pts/N).
fn open_pty() -> SysResult<(OwnedFd, OwnedFd)> {
    // SAFETY: a constant path.
    let m = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if m < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new fd we own.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int through the pointer.
    if unsafe { libc::ioctl(m, libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd.
    let s = unsafe {
        libc::ioctl(
            m,
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new fd we own.
    Ok((master, unsafe { OwnedFd::from_raw_fd(s) }))
}

/// Runs `req` in its container; attached, relays stdio and returns the exit code.
pub fn exec(req: &ExecRequest) -> Result<Executed, Error> {
    let plan = exec_plan(req)?;
    let namespaces = open_namespaces(req)?;
    let mut cgroups = Vec::new();
    for path in &req.cgroups {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::Read {
                path: path.clone(),
                source: e,
            })?;
        cgroups.push(OwnedFd::from(f));
    }
    let io = stdio(req)?;
    let (reports, report_w) = process::pipe().map_err(spawn_err("pipe"))?;
    let joiner = Joiner {
        plan: &plan,
        namespaces: &namespaces,
        cgroups: &cgroups,
        stdio: &io.child,
        tty: req.tty,
        report: &report_w,
    };
    // Built before fork: the joiner as the sealed monitor binary, if it is installed.
    let binary = sealed_joiner(req, &joiner)?;
    match process::fork().map_err(spawn_err("fork"))? {
        Forked::Child => {
            // Re-parented away from the caller at once: the joiner reaps the process and
            // may outlive us (detached), so it must not stay our child (a zombie).
            let _ = process::setsid();
            match process::fork() {
                Ok(Forked::Child) => {
                    if let Some(b) = &binary {
                        b.exec(&joiner);
                    }
                    joiner.run()
                }
                _ => process::exit_now(0),
            }
        }
        Forked::Parent(pid) => {
            drop(report_w);
            let _ = process::waitpid(pid);
        }
    }
    let Stdio {
        child,
        stdin,
        stdout,
        stderr,
        master,
    } = io;
    drop(child);
    let pid = match read_report(&reports)? {
        Some(Report::Started { pid }) => pid,
        Some(Report::Failed(f)) => {
            return Err(Error::Init {
                what: describe(&plan, f.step, f.index),
                failure: f,
                errno: Errno(f.errno),
            })
        }
        Some(Report::MonitorFailed { errno, .. }) => {
            return Err(Error::Spawn {
                op: "join the container",
                errno: Errno(errno),
            })
        }
        _ => return Err(Error::MonitorLost),
    };
    if req.detach {
        return Ok(Executed {
            pid,
            exit_code: None,
        });
    }
    let relay = Relay {
        reports,
        stdin,
        stdout,
        stderr,
        master,
        input: req.stdin,
        pid,
    };
    let code = relay.run()?;
    Ok(Executed {
        pid,
        exit_code: Some(code),
    })
}

/// What the joiner binary needs: the request and the numbers of the fds it inherits.
#[derive(Debug, Serialize, Deserialize)]
struct JoinArgs {
    bundle: PathBuf,
    args: Vec<String>,
    env: Vec<String>,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    cwd: String,
    tty: bool,
    namespaces: Vec<(RawFd, i32)>,
    cgroups: Vec<RawFd>,
    stdio: [RawFd; 3],
    report: RawFd,
}

/// The joiner as `pycore-monitor --join <fd>`, exec'd from a sealed mount (see `selfexe`:
/// CVE-2019-5736) instead of a fork of the caller (python, whose binary would otherwise be
/// /proc/<pid>/exe of a process inside the container). The request travels in a memfd.
struct SealedJoiner {
    path: CString,
    argv: CStrArray,
    request: OwnedFd,
}

fn sealed_joiner(req: &ExecRequest, j: &Joiner<'_>) -> Result<Option<SealedJoiner>, Error> {
    let Some(exe) = monitor_cli::locate() else {
        return Ok(None);
    };
    let args = JoinArgs {
        bundle: req.bundle.clone(),
        args: req.args.clone(),
        env: req.env.clone(),
        uid: req.uid,
        gid: req.gid,
        groups: req.groups.clone(),
        cwd: req.cwd.clone(),
        tty: req.tty,
        namespaces: j
            .namespaces
            .iter()
            .map(|(f, n)| (f.as_raw_fd(), *n))
            .collect(),
        cgroups: j.cgroups.iter().map(AsRawFd::as_raw_fd).collect(),
        stdio: [0, 1, 2].map(|i| j.stdio[i].as_raw_fd()),
        report: j.report.as_raw_fd(),
    };
    let json = serde_json::to_vec(&args).map_err(|e| Error::Invalid {
        field: "exec: request",
        why: e.to_string(),
    })?;
    // SAFETY: a constant name; memfd_create returns a new fd or -1.
    let fd = unsafe { libc::memfd_create(c"pycore-join".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(spawn_err("memfd_create")(Errno::last()));
    }
    // SAFETY: a new fd we own.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(&json)
        .map_err(io_err("write the exec request"))?;
    file.seek(SeekFrom::Start(0))
        .map_err(io_err("write the exec request"))?;
    let request = OwnedFd::from(file);
    let path = cstring(&exe.to_string_lossy())?;
    let argv = vec![
        path.clone(),
        CString::from(c"--join"),
        cstring(&request.as_raw_fd().to_string())?,
    ];
    Ok(Some(SealedJoiner {
        path,
        argv: CStrArray::new(argv),
        request,
    }))
}

impl SealedJoiner {
    /// Returns only if the binary could not be exec'd: the fork carries on as the joiner.
    fn exec(&self, j: &Joiner<'_>) {
        let mut fds: Vec<RawFd> = vec![self.request.as_raw_fd(), j.report.as_raw_fd()];
        fds.extend(j.namespaces.iter().map(|(f, _)| f.as_raw_fd()));
        fds.extend(j.cgroups.iter().map(AsRawFd::as_raw_fd));
        fds.extend(j.stdio.iter().map(AsRawFd::as_raw_fd));
        for &fd in &fds {
            if process::dup_to(fd, fd, true).is_err() {
                return;
            }
        }
        selfexe::exec(&self.path, &self.argv);
    }
}

/// `pycore-monitor --join <fd>`: the joiner, in the binary exec'd by `SealedJoiner`.
pub fn join_main(request: RawFd) -> ! {
    // SAFETY: the runtime passed us the memfd with the request under this number.
    let mut file = unsafe { File::from_raw_fd(request) };
    let mut json = Vec::new();
    let parsed = file
        .read_to_end(&mut json)
        .ok()
        .and_then(|_| serde_json::from_slice::<JoinArgs>(&json).ok());
    drop(file);
    let Some(a) = parsed else {
        process::exit_now(125)
    };
    // SAFETY: each number is an fd the runtime passed us, each taken over once.
    let own = |fd: RawFd| unsafe { OwnedFd::from_raw_fd(fd) };
    let report = own(a.report);
    let namespaces: Vec<(OwnedFd, i32)> = a.namespaces.iter().map(|&(f, n)| (own(f), n)).collect();
    let cgroups: Vec<OwnedFd> = a.cgroups.iter().map(|&f| own(f)).collect();
    let stdio = a.stdio.map(own);
    let req = ExecRequest {
        bundle: a.bundle,
        args: a.args,
        env: a.env,
        uid: a.uid,
        gid: a.gid,
        groups: a.groups,
        cwd: a.cwd,
        tty: a.tty,
        ..Default::default()
    };
    let plan = match exec_plan(&req) {
        Ok(p) => p,
        Err(_) => {
            let f = Report::MonitorFailed {
                op: 0,
                errno: libc::EINVAL,
            };
            let _ = process::write_all(report.as_raw_fd(), &f.encode());
            process::exit_now(125)
        }
    };
    Joiner {
        plan: &plan,
        namespaces: &namespaces,
        cgroups: &cgroups,
        stdio: &stdio,
        tty: a.tty,
        report: &report,
    }
    .run()
}

/// The process that joins the container and reaps the command.
struct Joiner<'a> {
    plan: &'a Plan,
    namespaces: &'a [(OwnedFd, i32)],
    cgroups: &'a [OwnedFd],
    stdio: &'a [OwnedFd; 3],
    tty: bool,
    report: &'a OwnedFd,
}

impl Joiner<'_> {
    fn run(&self) -> ! {
        let report = self.report.as_raw_fd();
        let code = match self.join_and_wait() {
            Ok(()) => 0,
            Err((op, e)) => {
                let _ =
                    process::write_all(report, &Report::MonitorFailed { op, errno: e.0 }.encode());
                1
            }
        };
        process::exit_now(code)
    }

    fn join_and_wait(&self) -> Result<(), (u32, Errno)> {
        let report = self.report.as_raw_fd();
        // CVE-2019-5736: until the command is exec'd, this process (and its child, which
        // inherits the flag) runs a host binary; non-dumpable, no process of the container
        // may open its /proc/<pid>/exe, fds or memory (ptrace access mode checks, proc(5)).
        Linux.prctl(PR_SET_DUMPABLE, 0, 0).map_err(|e| (2, e))?;
        process::set_signal_ignored(libc::SIGPIPE, true);
        // Keep only what the joining needs: no fd of the caller's (its store lock, its
        // stdout, which a detached exec must not hold open) stays in a long-lived process.
        let mut keep: Vec<RawFd> = vec![report];
        keep.extend(self.namespaces.iter().map(|(f, _)| f.as_raw_fd()));
        keep.extend(self.cgroups.iter().map(AsRawFd::as_raw_fd));
        keep.extend(self.stdio.iter().map(AsRawFd::as_raw_fd));
        let keep_high: Vec<RawFd> = keep.iter().copied().filter(|&f| f > 2).collect();
        process::close_all_except(&keep_high);
        let null = process::open_dev_null(libc::O_RDWR).map_err(|e| (1, e))?;
        for fd in 0..3 {
            process::dup_to(null.as_raw_fd(), fd, false).map_err(|e| (1, e))?;
        }
        for fd in self.cgroups {
            // "0" is the writing process itself (cgroups(7)); the fds were opened on the host.
            process::write_all(fd.as_raw_fd(), b"0").map_err(|e| (3, e))?;
        }
        for (fd, flag) in self.namespaces {
            setns(fd.as_raw_fd(), *flag).map_err(|e| (4, e))?;
        }
        let (sync, sync_child) = process::seqpacket_pair().map_err(|e| (5, e))?;
        let pid = match process::fork().map_err(|e| (6, e))? {
            Forked::Child => self.child(&sync_child),
            Forked::Parent(pid) => pid,
        };
        drop(sync_child);
        let mut buf = [0u8; MSG_LEN];
        let n = process::read(sync.as_raw_fd(), &mut buf).unwrap_or(0);
        if n == MSG_LEN {
            let _ = process::waitpid(pid);
            let failure = Failure::decode(&buf).unwrap_or(Failure {
                step: Step::Sync,
                index: 0,
                errno: libc::EIO,
            });
            let _ = process::write_all(report, &Report::Failed(failure).encode());
            return Ok(());
        }
        let _ = process::write_all(report, &Report::Started { pid }.encode());
        let status = process::waitpid(pid).map_err(|e| (7, e))?;
        let code = process::exit_code(status);
        let _ = process::write_all(report, &Report::Exited { code }.encode());
        Ok(())
    }

    /// In the container's pid namespace: stdio, then the same steps as the container's init
    /// from its rlimits on, then exec.
    fn child(&self, sync: &OwnedFd) -> ! {
        let sys = Linux;
        let fail = |step: Step, e: Errno, fd: RawFd| -> ! {
            let f = Failure {
                step,
                index: 0,
                errno: e.0,
            };
            let _ = sys.write(fd, &f.encode());
            process::exit_now(125)
        };
        let sources = [
            self.stdio[0].as_raw_fd(),
            self.stdio[1].as_raw_fd(),
            self.stdio[2].as_raw_fd(),
            sync.as_raw_fd(),
        ];
        let mut high = [0 as RawFd; 4];
        for (h, &fd) in high.iter_mut().zip(&sources) {
            *h = match process::dup_above(fd, 10) {
                Ok(f) => f,
                Err(e) => fail(Step::Stdio, e, sync.as_raw_fd()),
            };
        }
        for (target, &fd) in high.iter().enumerate() {
            if let Err(e) = process::dup_to(fd, target as RawFd, target < 3) {
                fail(Step::Stdio, e, high[3]);
            }
        }
        if self.tty {
            // A session of its own with the pty as its controlling terminal (credentials(7)).
            let _ = process::setsid();
            // SAFETY: TIOCSCTTY takes an integer argument. Stdout is the pty (stdin is
            // /dev/null without `-i`).
            if unsafe { libc::ioctl(1, libc::TIOCSCTTY, 0) } < 0 {
                fail(Step::Stdio, Errno::last(), SYNC_FD);
            }
        }
        let f = steps(&sys, self.plan);
        let _ = sys.write(SYNC_FD, &f.encode());
        let code = Error::Init {
            what: String::new(),
            failure: f,
            errno: Errno(f.errno),
        }
        .exit_code();
        process::exit_now(code)
    }
}

/// The exec'd process's steps once it is in the container: rlimits, working directory, no
/// fd of the host beyond stdio (CVE-2024-21626), credentials and filters, exec. Returns only
/// on failure.
pub fn steps(sys: &dyn Syscall, plan: &Plan) -> Failure {
    let at = |step: Step, index: usize, r: SysResult<()>| {
        r.map_err(|Errno(errno)| Failure {
            step,
            index: index as u32,
            errno,
        })
    };
    let run = || -> Result<(), Failure> {
        for (i, &(res, soft, hard)) in plan.rlimits.iter().enumerate() {
            at(Step::Rlimit, i, sys.setrlimit(res, soft, hard))?;
        }
        // Closed before the chdir: `-w /proc/self/fd/N` names no fd of the host.
        at(Step::CloseFds, 0, sys.close_from(SYNC_FD as u32 + 1))?;
        at(Step::Chdir, 0, sys.chdir(&plan.cwd_abs))?;
        init::credentials(sys, plan)?;
        sys.umask(plan.umask);
        Ok(())
    };
    match run() {
        Ok(()) => init::exec(sys, plan),
        Err(f) => f,
    }
}

fn setns(fd: RawFd, flag: i32) -> SysResult<()> {
    // SAFETY: integers only.
    if unsafe { libc::setns(fd, flag) } < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// The caller's side of an attached exec: stdin in, output out, signals forwarded, until
/// the joiner reports the exit.
struct Relay {
    reports: OwnedFd,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    master: Option<OwnedFd>,
    /// Our stdin goes to the process (`-i`).
    input: bool,
    pid: i32,
}

/// Signals a foreground exec passes on to its process.
const FORWARDED: &[i32] = &[
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

impl Relay {
    fn run(mut self) -> Result<i32, Error> {
        let signals = process::BlockedSignals::new(FORWARDED).map_err(spawn_err("signalfd"))?;
        let target = process::pidfd_open(self.pid).ok();
        let _raw = self.master.as_ref().and_then(|m| {
            copy_winsize(m.as_raw_fd());
            (self.input && is_tty_input()).then(|| RawMode::enter(0))
        });
        // Our stdin is read only when the process gets it (a pipe or the pty).
        let mut stdin_open = self.input;
        let mut code = None;
        let mut deadline: Option<Instant> = None;
        loop {
            let mut fds: Vec<(RawFd, i16)> = Vec::new();
            let outputs: Vec<(RawFd, RawFd)> = [
                (self.stdout.as_ref(), 1),
                (self.stderr.as_ref(), 2),
                (self.master.as_ref(), 1),
            ]
            .into_iter()
            .filter_map(|(f, to)| f.map(|f| (f.as_raw_fd(), to)))
            .collect();
            for &(fd, _) in &outputs {
                fds.push((fd, libc::POLLIN));
            }
            if code.is_none() {
                fds.push((self.reports.as_raw_fd(), libc::POLLIN));
                fds.push((signals.fd.as_raw_fd(), libc::POLLIN));
                if stdin_open {
                    fds.push((0, libc::POLLIN));
                }
            } else if outputs.is_empty() {
                break;
            }
            let Some(timeout) = process::poll_timeout(deadline) else {
                break;
            };
            let rev = process::poll(&fds, timeout).map_err(spawn_err("poll"))?;
            for (i, &(fd, _)) in fds.iter().enumerate() {
                if rev[i] == 0 {
                    continue;
                }
                if let Some(&(_, to)) = outputs.iter().find(|(f, _)| *f == fd) {
                    if !copy(fd, to) {
                        self.close_output(fd);
                    }
                } else if fd == self.reports.as_raw_fd() {
                    code = Some(match read_report(&self.reports)? {
                        Some(Report::Exited { code }) => code,
                        _ => return Err(Error::MonitorLost),
                    });
                    deadline = Some(Instant::now() + DRAIN);
                } else if fd == signals.fd.as_raw_fd() {
                    while let Some(sig) = signals.next() {
                        match (sig, &self.master, &target) {
                            (libc::SIGWINCH, Some(m), _) => copy_winsize(m.as_raw_fd()),
                            (libc::SIGWINCH, None, _) => {}
                            (_, _, Some(t)) => {
                                let _ = process::pidfd_send_signal(t, sig);
                            }
                            _ => {}
                        }
                    }
                } else if fd == 0 {
                    let to = self
                        .stdin
                        .as_ref()
                        .or(self.master.as_ref())
                        .map(AsRawFd::as_raw_fd);
                    if !to.is_some_and(|to| copy(0, to)) {
                        stdin_open = false;
                        // End of input: the process reads end of file.
                        self.stdin = None;
                    }
                }
            }
        }
        code.ok_or(Error::MonitorLost)
    }

    fn close_output(&mut self, fd: RawFd) {
        for slot in [&mut self.stdout, &mut self.stderr, &mut self.master] {
            if slot.as_ref().is_some_and(|f| f.as_raw_fd() == fd) {
                *slot = None;
            }
        }
    }
}

fn is_tty_input() -> bool {
    // SAFETY: isatty takes an integer.
    unsafe { libc::isatty(0) == 1 }
}

/// Copies what is readable on `from` to `to`; false at end of file or on error (a pty
/// master reads EIO once the last slave fd is closed).
fn copy(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 32 * 1024];
    match process::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => process::write_all(to, &buf[..n]).is_ok(),
    }
}

/// Gives the pty the size of our terminal, if we have one.
fn copy_winsize(master: RawFd) {
    // SAFETY: winsize is plain data.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    for fd in [0, 1] {
        // SAFETY: TIOCGWINSZ writes a winsize, TIOCSWINSZ reads one.
        unsafe {
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(master, libc::TIOCSWINSZ, &ws);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::Spec;
    use crate::sys::fake::Recorder;
    use std::path::Path;

    fn plan() -> Plan {
        let spec = Spec::parse(crate::runtime::plan::tests_sample().as_bytes()).unwrap();
        Plan::build(&spec, Path::new("/b")).unwrap()
    }

    #[test]
    fn steps_in_order_without_any_mount() {
        let sys = Recorder::new();
        sys.fail_on("execve /usr/bin/sh", libc::ENOENT);
        sys.fail_on("execve /bin/sh", libc::ENOENT);
        let f = steps(&sys, &plan());
        assert_eq!((f.step, f.errno), (Step::Exec, libc::ENOENT));
        let calls = sys.calls();
        assert!(!calls
            .iter()
            .any(|c| c.starts_with("mount") || c.starts_with("pivot")));
        let pos = |p: &str| calls.iter().position(|c| c.starts_with(p)).unwrap();
        assert!(pos("setrlimit") < pos("close_from 4"));
        assert!(pos("close_from 4") < pos("chdir /work"));
        assert!(pos("chdir /work") < pos("setresuid 1000"));
        assert!(pos("setresuid 1000") < pos("prctl 38 1 0"));
        assert!(pos("prctl 38 1 0") < pos("seccomp"));
        assert!(pos("seccomp") < pos("execve"));
    }

    #[test]
    fn a_bad_cwd_stops_before_credentials() {
        let sys = Recorder::new();
        sys.fail_on("chdir", libc::ENOENT);
        let f = steps(&sys, &plan());
        assert_eq!((f.step, f.errno), (Step::Chdir, libc::ENOENT));
        assert!(!sys.calls().iter().any(|c| c.starts_with("setresuid")));
    }

    #[test]
    fn a_dead_pid_is_not_running() {
        let req = ExecRequest {
            pid: i32::MAX - 1,
            pid_start: 1,
            ..Default::default()
        };
        assert!(matches!(
            open_namespaces(&req),
            Err(Error::NotRunning { .. })
        ));
        // Our own pid with the wrong start time: a recycled pid.
        let me = process::getpid();
        let req = ExecRequest {
            pid: me,
            pid_start: process::start_time(me).unwrap() + 1,
            ..Default::default()
        };
        assert!(matches!(
            open_namespaces(&req),
            Err(Error::NotRunning { .. })
        ));
        let req = ExecRequest {
            pid_start: process::start_time(me).unwrap(),
            ..req
        };
        // Ourselves: every namespace is the same, nothing to join.
        assert!(open_namespaces(&req).unwrap().is_empty());
    }
}
