//! The per-container monitor (conmon's job, daemonless): a small process that outlives the
//! CLI, clones the container init, owns its stdio, appends every output line to the log as
//! JSON with its stream and time, reaps it and records the exit in `state.json` by rename,
//! with the pids' start times so a recycled pid is never mistaken for the container.

use super::cgroup::{Cgroup, CgroupError, CGROUP_ROOT};
use super::clock::now_rfc3339;
use super::init::{self, SYNC_FD};
use super::monitor_cli;
use super::msg::{self, Failure, Report, Step, MSG_LEN};
use super::plan::Plan;
use super::pty;
use super::restart;
use super::spawn::{describe, StartRequest};
use crate::sys::process::{self, Cloned};
use crate::sys::{Errno, Linux, SysResult, Syscall};
use serde_json::{json, Value};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long output is still collected after the container's init has exited.
const DRAIN: Duration = Duration::from_secs(2);

/// Runs the monitor in the grandchild of the CLI; never returns.
pub fn run(plan: &Plan, req: &StartRequest, report: OwnedFd) -> ! {
    let code = match monitor(plan, req, report.as_raw_fd()) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    process::exit_now(code)
}

fn send(report: RawFd, r: Report) {
    // The CLI may be gone (killed, or detached long ago): that is fine.
    let _ = process::write_all(report, &r.encode());
}

/// Replaces `path` by rename, so readers see the old state or the new, never half.
fn write_state(path: &Path, state: &Value) {
    let tmp = path.with_extension(format!("tmp-{}", process::getpid()));
    let ok = fs::write(&tmp, format!("{state}\n")).is_ok() && fs::rename(&tmp, path).is_ok();
    if !ok {
        let _ = fs::remove_file(&tmp);
    }
}

/// How one run of the container ended.
enum RunEnd {
    /// It ran and exited with this Docker exit code.
    Exited(i32),
    /// It never started; `state.json` says why and `Report` is for the CLI.
    StartFailed(Report),
}

/// Report `op` codes of `MonitorFailed`.
pub const OP_CLONE: u32 = 1;
pub const OP_CGROUP: u32 = 2;

fn monitor(plan: &Plan, req: &StartRequest, report: RawFd) -> Result<(), Errno> {
    process::set_signal_ignored(libc::SIGPIPE, true);
    // Nothing of the CLI's (its store lock, its files) may stay open in a long-lived monitor;
    // attached, it keeps the CLI's stdout and stderr to relay the container's output.
    let interactive = req.attach && req.interactive;
    let keep: &[RawFd] = match (req.attach, interactive) {
        (true, true) => &[report, 0, 1, 2],
        (true, false) => &[report, 1, 2],
        _ => &[report],
    };
    // The network namespace the init joins stays open for it (and for its restarts).
    let netns = plan.netns.as_ref().map(|fd| fd.as_raw_fd());
    let keep: Vec<RawFd> = keep.iter().copied().chain(netns).collect();
    process::close_all_except(&keep);
    let null = process::open_dev_null(libc::O_RDWR)?;
    if !interactive {
        process::dup_to(null.as_raw_fd(), 0, true)?;
    }
    if !req.attach {
        process::dup_to(null.as_raw_fd(), 1, true)?;
        process::dup_to(null.as_raw_fd(), 2, true)?;
    }
    let me = process::getpid();
    let base = json!({
        "monitor_pid": me,
        "monitor_start": process::start_time(me),
    });
    // Made by the first run once its init is cloned, so that the init prepares its filesystem
    // while the mkdirs wait for the grace period the CLI set off (`prime_migration`).
    let mut cgroup: Option<Cgroup> = None;
    let stop_marker = restart::stop_marker(&req.state);
    let ctx = Ctx {
        plan,
        req,
        report,
        null: &null,
        base: &base,
    };
    let mut state = base.clone();
    let mut restarts = 0u32;
    let mut delay = Duration::ZERO;
    // Attached, the CLI gets the first exit (`docker run` returns then, restarts or not).
    let mut attached = req.attach;
    // Whether the CLI learnt of the final exit (it then releases what it can itself).
    let mut told_final = false;
    let end = loop {
        let mut oom_before = cgroup.as_ref().map_or(0, Cgroup::oom_kills);
        let began = Instant::now();
        let code = match run_once(&ctx, &mut cgroup, &mut oom_before, attached, restarts == 0) {
            Ok(RunEnd::Exited(code)) => code,
            Ok(RunEnd::StartFailed(r)) => {
                told_final = restarts == 0; // the CLI waits for the first start's report
                break Some(r);
            }
            Err(e) => {
                finish_failed(req, &base, 125, &format!("monitor: {e}"));
                break None;
            }
        };
        let oom = cgroup.as_ref().is_some_and(|c| c.oom_kills() > oom_before);
        state = read_state(&req.state).unwrap_or(state);
        state["exit_code"] = json!(code);
        state["finished_at"] = json!(now_rfc3339());
        state["oom_killed"] = json!(oom);
        let again = plan.restart.should_restart(code, restarts) && !stop_marker.exists();
        // Docker counts a restart once it decides on it: `restarting` shows the new count.
        state["restart_count"] = json!(restarts + u32::from(again));
        state["status"] = json!(if again { "restarting" } else { "exited" });
        write_state(&req.state, &state);
        if attached {
            release_stdio(&null);
            send(report, Report::Exited { code });
            attached = false;
            told_final = !again;
        }
        if !again {
            break None;
        }
        delay = restart::backoff(delay, began.elapsed());
        if !sleep_unless(delay, &stop_marker) {
            state["status"] = json!("exited");
            write_state(&req.state, &state);
            break None;
        }
        restarts += 1;
        state["restart_count"] = json!(restarts);
    };
    if let Some(cg) = &cgroup {
        cg.remove();
    }
    let trash = unlink_dir(req);
    if attached {
        release_stdio(&null);
    }
    match end {
        Some(r) => send(report, r),
        None if attached => {
            let code = state["exit_code"].as_i64().unwrap_or(255) as i32;
            send(report, Report::Exited { code });
        }
        None => {}
    }
    // Before the trash goes: while this monitor lives (its state.json, for `--rm` in the
    // trash) nobody else sweeps what the exit command is releasing.
    run_exit_command(req, told_final);
    // Deleting the upper dir can take a while: the caller need not wait for it.
    delete(trash);
    Ok(())
}

/// How long the monitor waits for its exit command before leaving it be.
const EXIT_COMMAND_WAIT: Duration = Duration::from_secs(60);

/// How long a CLI told of the final exit has to release `exit_if` itself.
const CLI_RELEASES: Duration = Duration::from_secs(2);

/// Runs the exit command (the container is finished for good) and waits for it, so that
/// `wait` and `stop`, which wait for the monitor, return once it has released everything.
/// Not when `exit_if` is gone: nothing is left to release (an attached CLI, `told`, does it
/// itself, and is given a moment; a whole interpreter start is spared).
fn run_exit_command(req: &StartRequest, told: bool) {
    use std::os::unix::ffi::OsStrExt;
    if let Some(path) = &req.exit_if {
        let end = Instant::now() + if told { CLI_RELEASES } else { Duration::ZERO };
        while path.exists() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !path.exists() {
            return;
        }
    }
    let argv = &req.exit_command;
    let args: Vec<std::ffi::CString> = argv
        .iter()
        .filter_map(|a| std::ffi::CString::new(a.as_bytes()).ok())
        .collect();
    if args.is_empty() || args.len() != argv.len() {
        return;
    }
    let path = args[0].clone();
    let argv = crate::sys::CStrArray::new(args);
    match process::fork() {
        Ok(process::Forked::Child) => {
            process::close_all_except(&[0, 1, 2]);
            process::set_signal_ignored(libc::SIGPIPE, false);
            monitor_cli::exec(&path, &argv);
            process::exit_now(127)
        }
        Ok(process::Forked::Parent(pid)) => {
            let ms = EXIT_COMMAND_WAIT.as_millis() as i32;
            match process::pidfd_open(pid) {
                Ok(fd) => {
                    if process::poll(&[(fd.as_raw_fd(), libc::POLLIN)], ms).is_ok_and(|r| r[0] != 0)
                    {
                        let _ = process::waitpid(pid);
                    }
                }
                Err(_) => {
                    let _ = process::waitpid(pid);
                }
            }
        }
        Err(_) => {}
    }
}

/// Lets go of the CLI's stdio before it returns, so whoever reads them sees EOF (a terminal's
/// master sees it only once every holder of the slave has closed it).
fn release_stdio(null: &OwnedFd) {
    let _ = process::dup_to(null.as_raw_fd(), 0, true);
    let _ = process::dup_to(null.as_raw_fd(), 1, true);
    let _ = process::dup_to(null.as_raw_fd(), 2, true);
}

/// Sleeps `d`, waking early (and returning false) when the user stops the container.
fn sleep_unless(d: Duration, marker: &Path) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if marker.exists() {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    !marker.exists()
}

fn read_state(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// Clones the init into its namespaces and cgroup, lets it run, relays and logs its output
/// until it exits. The first run's `Started` goes to the CLI; later runs only update state.
/// What every run of the container shares.
struct Ctx<'a> {
    plan: &'a Plan,
    req: &'a StartRequest,
    report: RawFd,
    null: &'a OwnedFd,
    base: &'a Value,
}

/// `cgroup` is made here by the first run (and `oom_before` read from it then).
fn run_once(
    ctx: &Ctx<'_>,
    cgroup: &mut Option<Cgroup>,
    oom_before: &mut u64,
    attached: bool,
    first: bool,
) -> Result<RunEnd, Errno> {
    let Ctx {
        plan,
        req,
        report,
        null,
        base,
    } = *ctx;
    let (out_r, out_w) = process::pipe()?;
    let (err_r, err_w) = process::pipe()?;
    let (sync, sync_child) = process::seqpacket_pair()?;
    let (pid, pidfd) = match process::clone_with_pidfd(plan.clone_flags) {
        Ok(Cloned::Child) => {
            // `-i` without a terminal: the container reads the CLI's stdin itself.
            let stdin = if attached && req.interactive && !plan.terminal {
                0
            } else {
                null.as_raw_fd()
            };
            child(plan, stdin, &out_w, &err_w, &sync_child)
        }
        Ok(Cloned::Parent { pid, pidfd }) => (pid, pidfd),
        Err(e) => {
            finish_failed(req, base, 125, &format!("clone: {e}"));
            return Ok(RunEnd::StartFailed(Report::MonitorFailed {
                op: OP_CLONE,
                errno: e.0,
            }));
        }
    };
    drop((out_w, err_w, sync_child));
    if let (None, Some(want)) = (&cgroup, &plan.cgroup) {
        match Cgroup::create(Path::new(CGROUP_ROOT), want) {
            Ok(c) => {
                *oom_before = c.oom_kills();
                *cgroup = Some(c);
            }
            Err(e) => return Ok(cgroup_failed(&pidfd, req, base, e)),
        }
    }
    // Into the cgroup before `Proceed`: no instruction of the container runs outside it.
    if let Some(Err(e)) = cgroup.as_ref().map(|c| c.join(pid)) {
        return Ok(cgroup_failed(&pidfd, req, base, e));
    }
    // The init prepared its filesystem meanwhile; if that failed, it has sent why and exited
    // (EPIPE here), which the read below gets.
    let _ = process::write_all(sync.as_raw_fd(), &msg::proceed());
    let mut buf = [0u8; MSG_LEN];
    let (mut n, mut console) = pty::recv_msg(sync.as_raw_fd(), &mut buf).unwrap_or((0, None));
    if n == MSG_LEN && buf[..4] == pty::CONSOLE_TAG {
        if let (Some(m), true) = (&console, attached) {
            let _ = pty::copy_winsize(1, m.as_raw_fd());
        }
        process::write_all(sync.as_raw_fd(), &msg::proceed())?;
        (n, _) = pty::recv_msg(sync.as_raw_fd(), &mut buf).unwrap_or((0, None));
    } else {
        console = None;
    }
    if n == MSG_LEN {
        // The init failed before exec: it has exited (or is about to).
        let _ = process::wait_pidfd(pidfd.as_raw_fd());
        let failure = Failure::decode(&buf).unwrap_or(Failure {
            step: Step::Sync,
            index: 0,
            errno: libc::EIO,
        });
        let err = super::Error::Init {
            what: describe(plan, failure.step, failure.index),
            failure,
            errno: Errno(failure.errno),
        };
        finish_failed(req, base, err.exit_code(), &err.to_string());
        return Ok(RunEnd::StartFailed(Report::Failed(failure)));
    }
    let mut state = read_state(&req.state).unwrap_or_else(|| base.clone());
    state["status"] = json!("running");
    state["pid"] = json!(pid);
    state["pid_start"] = json!(process::start_time(pid));
    state["started_at"] = json!(now_rfc3339());
    for k in ["exit_code", "finished_at", "oom_killed"] {
        if let Some(o) = state.as_object_mut() {
            o.remove(k);
        }
    }
    write_state(&req.state, &state);
    if first {
        send(report, Report::Started { pid });
    }

    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&req.log)
        .ok();
    let relay = |fd: RawFd| attached.then_some(fd);
    // With a terminal, everything the container writes comes out of the pty's master.
    let (out, to_master) = match console {
        Some(master) => {
            let to_master = master
                .try_clone()
                .map_err(|e| Errno(e.raw_os_error().unwrap_or(0)))?;
            drop(out_r);
            (master, Some(to_master))
        }
        None => (out_r, None),
    };
    // Attached to a terminal: it gives the pty its size, now and at every SIGWINCH.
    let winch = match (&to_master, attached) {
        (Some(m), true) => {
            let _ = pty::copy_winsize(1, m.as_raw_fd());
            process::BlockedSignals::new(&[libc::SIGWINCH]).ok()
        }
        _ => None,
    };
    let mut streams = [
        Stream::new(out, "stdout", relay(1)),
        Stream::new(err_r, "stderr", relay(2)),
    ];
    let extra = Extra {
        input: to_master
            .as_ref()
            .filter(|_| attached && req.interactive)
            .map(|m| m.as_raw_fd()),
        console: to_master.as_ref().map(|m| m.as_raw_fd()),
        winch: winch.as_ref(),
    };
    let status = pump(&mut streams, &mut log, &pidfd, &extra)?;
    Ok(RunEnd::Exited(process::exit_code(status)))
}

/// The init (waiting for `Proceed`) is killed: its cgroup could not be made or joined.
fn cgroup_failed(pidfd: &OwnedFd, req: &StartRequest, base: &Value, e: CgroupError) -> RunEnd {
    let _ = process::pidfd_send_signal(pidfd, libc::SIGKILL);
    let _ = process::wait_pidfd(pidfd.as_raw_fd());
    finish_failed(req, base, 125, &e.to_string());
    let errno = match e {
        CgroupError::Io { errno, .. } => errno.0,
        CgroupError::BadPath(_) => libc::EINVAL,
    };
    RunEnd::StartFailed(Report::MonitorFailed {
        op: OP_CGROUP,
        errno,
    })
}

fn finish_failed(req: &StartRequest, base: &Value, code: i32, error: &str) {
    let mut state = read_state(&req.state).unwrap_or_else(|| base.clone());
    state["status"] = json!("exited");
    state["exit_code"] = json!(code);
    state["error"] = json!(error);
    state["finished_at"] = json!(now_rfc3339());
    write_state(&req.state, &state);
}

/// Takes the container directory away by one rename into the trash (from then on the
/// container does not exist); returns what is left to delete, once nobody waits for it.
fn unlink_dir(req: &StartRequest) -> Option<PathBuf> {
    let (dir, trash) = req.remove.as_ref()?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = trash.join(format!("rm-{}-{name}", process::getpid()));
    fs::rename(dir, &target).ok().map(|()| target)
}

fn delete(trash: Option<PathBuf>) {
    if let Some(t) = trash {
        let _ = fs::remove_dir_all(t);
    }
}

/// Moves output to the log (and the CLI) until the container exits, then drains what is
/// left for a moment: the init's death kills its whole pid namespace, so the pipes close.
fn pump(
    streams: &mut [Stream; 2],
    log: &mut Option<File>,
    pidfd: &OwnedFd,
    extra: &Extra<'_>,
) -> Result<i32, Errno> {
    let mut status = None;
    let mut deadline: Option<Instant> = None;
    let mut stdin_open = extra.input.is_some();
    loop {
        let mut fds: Vec<(RawFd, i16)> = streams
            .iter()
            .filter(|s| s.open)
            .map(|s| (s.fd.as_raw_fd(), libc::POLLIN))
            .collect();
        let outputs = fds.len();
        if status.is_none() {
            if stdin_open {
                fds.push((0, libc::POLLIN));
            }
            if let Some(w) = extra.winch {
                fds.push((w.fd.as_raw_fd(), libc::POLLIN));
            }
            fds.push((pidfd.as_raw_fd(), libc::POLLIN));
        } else if outputs == 0 {
            break;
        }
        let Some(timeout) = process::poll_timeout(deadline) else {
            break;
        };
        let rev = process::poll(&fds, timeout)?;
        for (i, (fd, _)) in fds.iter().enumerate() {
            if rev[i] == 0 {
                continue;
            }
            if *fd == pidfd.as_raw_fd() {
                status = Some(process::wait_pidfd(*fd)?);
                deadline = Some(Instant::now() + DRAIN);
            } else if i >= outputs && *fd == 0 {
                stdin_open = extra.input.is_some_and(forward_stdin);
            } else if let Some(w) = extra.winch.filter(|w| w.fd.as_raw_fd() == *fd) {
                while w.next().is_some() {}
                if let Some(m) = extra.console {
                    let _ = pty::copy_winsize(1, m);
                }
            } else if let Some(s) = streams.iter_mut().find(|s| s.fd.as_raw_fd() == *fd) {
                s.readable(log);
            }
        }
    }
    for s in streams.iter_mut() {
        s.flush(log);
    }
    Ok(status.unwrap_or(0))
}

/// What the pump does besides output: the CLI's stdin into the pty, window size changes.
struct Extra<'a> {
    input: Option<RawFd>,
    console: Option<RawFd>,
    winch: Option<&'a process::BlockedSignals>,
}

/// Copies what is available on our stdin to `master`; false at end of file.
fn forward_stdin(master: RawFd) -> bool {
    let mut buf = [0u8; 4096];
    match process::read(0, &mut buf) {
        Ok(0) | Err(_) => {
            // Docker sends EOT to the terminal when stdin closes: `cat` ends.
            let _ = process::write_all(master, &[4]);
            false
        }
        Ok(n) => process::write_all(master, &buf[..n]).is_ok(),
    }
}

/// One output stream of the container: its pipe, the partial line, where to relay it.
struct Stream {
    fd: OwnedFd,
    name: &'static str,
    partial: Vec<u8>,
    open: bool,
    relay: Option<RawFd>,
}

/// A line longer than this is logged in pieces (Docker splits at 16 KiB too).
const MAX_LINE: usize = 16 * 1024;

impl Stream {
    fn new(fd: OwnedFd, name: &'static str, relay: Option<RawFd>) -> Stream {
        Stream {
            fd,
            name,
            partial: Vec::new(),
            open: true,
            relay,
        }
    }

    fn readable(&mut self, log: &mut Option<File>) {
        let mut buf = [0u8; 65536];
        match process::read(self.fd.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => {
                self.open = false;
                self.flush(log);
            }
            Ok(n) => {
                let data = &buf[..n];
                if let Some(fd) = self.relay {
                    if process::write_all(fd, data).is_err() {
                        self.relay = None;
                    }
                }
                self.partial.extend_from_slice(data);
                let mut out = String::new();
                let mut start = 0;
                while let Some(pos) = self.partial[start..].iter().position(|&b| b == b'\n') {
                    let end = start + pos + 1;
                    out.push_str(&self.line(&self.partial[start..end]));
                    start = end;
                }
                while self.partial.len() - start >= MAX_LINE {
                    out.push_str(&self.line(&self.partial[start..start + MAX_LINE]));
                    start += MAX_LINE;
                }
                self.partial.drain(..start);
                write_log(log, &out);
            }
        }
    }

    fn flush(&mut self, log: &mut Option<File>) {
        if !self.partial.is_empty() {
            let line = self.line(&self.partial);
            write_log(log, &line);
            self.partial.clear();
        }
    }

    /// Docker's json-file format: {"log": "...\n", "stream": "stdout", "time": "..."}.
    fn line(&self, bytes: &[u8]) -> String {
        let v = json!({
            "log": String::from_utf8_lossy(bytes),
            "stream": self.name,
            "time": now_rfc3339(),
        });
        format!("{v}\n")
    }
}

fn write_log(log: &mut Option<File>, text: &str) {
    if let Some(f) = log {
        if !text.is_empty() && f.write_all(text.as_bytes()).is_err() {
            *log = None;
        }
    }
}

/// The cloned child: place stdio and the sync socket, run the init (which waits for `Proceed`
/// before anything of the container runs).
fn child(plan: &Plan, stdin: RawFd, out: &OwnedFd, err: &OwnedFd, sync: &OwnedFd) -> ! {
    let sys = Linux;
    let fail = |step: Step, e: Errno, fd: RawFd| -> ! {
        let _ = sys.write(
            fd,
            &Failure {
                step,
                index: 0,
                errno: e.0,
            }
            .encode(),
        );
        process::exit_now(125)
    };
    // Move everything above the stdio range first, so no dup3 overwrites a source.
    let sources = [stdin, out.as_raw_fd(), err.as_raw_fd(), sync.as_raw_fd()];
    let mut high = [0 as RawFd; 4];
    for (h, &fd) in high.iter_mut().zip(&sources) {
        *h = match process::dup_above(fd, 10) {
            Ok(f) => f,
            Err(e) => fail(Step::Stdio, e, sync.as_raw_fd()),
        };
    }
    for (target, &fd) in high.iter().enumerate() {
        let inherit = target < 3;
        if let Err(e) = process::dup_to(fd, target as RawFd, inherit) {
            fail(Step::Stdio, e, high[3]);
        }
    }
    // The monitor's `Proceed` once this process is in the container's cgroups.
    let gate = || -> SysResult<()> {
        let mut buf = [0u8; MSG_LEN];
        match process::read(SYNC_FD, &mut buf) {
            Ok(MSG_LEN) if msg::is_proceed(&buf) => Ok(()),
            Ok(_) => Err(Errno(libc::EPIPE)),
            Err(e) => Err(e),
        }
    };
    let f = init::run(&sys, plan, &gate);
    let _ = sys.write(SYNC_FD, &f.encode());
    let code = super::Error::Init {
        what: String::new(),
        failure: f,
        errno: Errno(f.errno),
    }
    .exit_code();
    process::exit_now(code)
}
