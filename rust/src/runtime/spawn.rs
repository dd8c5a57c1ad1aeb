//! Starting a container from the CLI's process: build the plan, fork twice so the monitor is
//! re-parented away from the CLI (and setsid, so a terminal hang-up does not reach it), then
//! wait for the monitor's report. Attached, keep waiting for the exit and forward signals.

use super::msg::{Report, Step, MSG_LEN};
use super::plan::Plan;
use super::{monitor, monitor_cli, Error};
use crate::sys::process::{self, Forked};
use crate::sys::CStrArray;
use crate::sys::Errno;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

/// Where and how to start one container.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub bundle: PathBuf,
    /// `state.json` of the container, rewritten by rename.
    pub state: PathBuf,
    /// The JSON-lines log the monitor appends the container's output to.
    pub log: PathBuf,
    /// Relay the output to our stdout/stderr and return only when the container exits.
    pub attach: bool,
    /// Remove this directory (by rename into `trash`) once the container has exited.
    pub remove: Option<(PathBuf, PathBuf)>,
    /// Attached: the container reads our stdin (`-i`).
    pub interactive: bool,
    /// argv the monitor runs (and waits for) once it is finished for good: the container
    /// exited and no restart follows (podman's conmon `--exit-command`). Empty: none.
    pub exit_command: Vec<std::ffi::OsString>,
    /// The exit command runs only while this file exists (what it would release); a caller
    /// told of the final exit (attached, or a failed start) may remove it first.
    pub exit_if: Option<PathBuf>,
}

/// A started container: its pid, and its exit code if we waited for it.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub pid: i32,
    pub exit_code: Option<i32>,
}

/// Signals a foreground container receives when they are sent to the CLI.
const FORWARDED: &[i32] = &[
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// An `Error::Spawn` for `op`: the runtime's own step failed (fork, pipe, poll, a report).
pub(super) fn spawn_err(op: &'static str) -> impl Fn(Errno) -> Error {
    move |errno| Error::Spawn { op, errno }
}

pub fn start(req: &StartRequest) -> Result<Started, Error> {
    // First of all: the grace period the monitor's first cgroup migration waits for (5-20
    // ms) runs while we load the plan and fork, and the init prepares its filesystem.
    super::cgroup::prime_migration(
        std::path::Path::new(super::cgroup::CGROUP_ROOT),
        std::time::Duration::from_secs(1),
    );
    let plan = Plan::load(&req.bundle)?;
    let (reports, report_w) = process::pipe().map_err(spawn_err("pipe"))?;
    // Built before fork: the monitor binary's argv, if the binary is installed.
    let exe = monitor_cli::locate().map(|exe| {
        let argv = monitor_cli::to_args(&exe, req, report_w.as_raw_fd());
        (
            argv.first().cloned().unwrap_or_default(),
            CStrArray::new(argv),
        )
    });
    // Attached, the signals we forward are blocked before the fork: a signal that arrives
    // while the container starts is queued and forwarded, never lost nor fatal to the CLI
    // while the container lives on.
    let signals = if req.attach {
        Some(process::BlockedSignals::new(&forwarded(&plan)).map_err(spawn_err("signalfd"))?)
    } else {
        None
    };
    match process::fork().map_err(spawn_err("fork"))? {
        Forked::Child => {
            if let Some(s) = &signals {
                s.restore_mask();
            }
            // The intermediate child: a new session, the monitor, and gone, so the monitor
            // is re-parented to init (or the nearest subreaper) and outlives the CLI.
            let _ = process::setsid();
            match process::fork() {
                Ok(Forked::Child) => {
                    if let Some((path, argv)) = &exe {
                        // A few MB of its own instead of the caller's copied heap. The report
                        // pipe must survive the exec; if the exec fails, stay a fork.
                        if process::dup_to(report_w.as_raw_fd(), report_w.as_raw_fd(), true).is_ok()
                        {
                            super::selfexe::exec(path, argv);
                        }
                        let _ = process::dup_to(report_w.as_raw_fd(), report_w.as_raw_fd(), false);
                    }
                    monitor::run(&plan, req, report_w)
                }
                _ => process::exit_now(0),
            }
        }
        Forked::Parent(pid) => {
            drop(report_w);
            let _ = process::waitpid(pid);
            wait_reports(&plan, req, &reports, signals)
        }
    }
}

/// The monitor's (or the exec joiner's) next report; None at end of file or a short read.
pub(super) fn read_report(fd: &OwnedFd) -> Result<Option<Report>, Error> {
    let mut buf = [0u8; MSG_LEN];
    let n = process::read(fd.as_raw_fd(), &mut buf).map_err(spawn_err("read report"))?;
    Ok(if n == MSG_LEN {
        Report::decode(&buf)
    } else {
        None
    })
}

/// The signals an attached CLI forwards: to the container, and SIGWINCH to the monitor that
/// owns the pty.
fn forwarded(plan: &Plan) -> Vec<i32> {
    let mut sigs = FORWARDED.to_vec();
    if plan.terminal {
        sigs.push(libc::SIGWINCH);
    }
    sigs
}

fn wait_reports(
    plan: &Plan,
    req: &StartRequest,
    reports: &OwnedFd,
    signals: Option<process::BlockedSignals>,
) -> Result<Started, Error> {
    let first = read_report(reports);
    // The monitor's migrations are done (or never will be): writers may go slow again.
    super::cgroup::release_migration();
    let pid = match first? {
        Some(Report::Started { pid }) => pid,
        Some(Report::Failed(f)) => {
            return Err(Error::Init {
                what: describe(plan, f.step, f.index),
                failure: f,
                errno: Errno(f.errno),
            })
        }
        Some(Report::MonitorFailed { op, errno }) => {
            return Err(Error::Spawn {
                op: if op == monitor::OP_CGROUP {
                    "set up the container's cgroup"
                } else {
                    "start the container init"
                },
                errno: Errno(errno),
            })
        }
        _ => return Err(Error::MonitorLost),
    };
    let Some(signals) = signals else {
        return Ok(Started {
            pid,
            exit_code: None,
        });
    };
    let mut monitor = None;
    let _raw = if plan.terminal {
        // The monitor owns the pty: window changes go to it, and it reads our terminal's size.
        monitor = monitor_pid(&req.state).and_then(|p| process::pidfd_open(p).ok());
        req.interactive
            .then(|| super::pty::RawMode::enter(0))
            .flatten()
    } else {
        None
    };
    let target = process::pidfd_open(pid).ok();
    loop {
        let fds = [
            (reports.as_raw_fd(), libc::POLLIN),
            (signals.fd.as_raw_fd(), libc::POLLIN),
        ];
        let rev = process::poll(&fds, -1).map_err(spawn_err("poll"))?;
        if rev[1] != 0 {
            while let Some(sig) = signals.next() {
                if sig == libc::SIGWINCH {
                    if let Some(m) = &monitor {
                        let _ = process::pidfd_send_signal(m, sig);
                    }
                } else if let Some(t) = &target {
                    let _ = process::pidfd_send_signal(t, sig);
                }
            }
        }
        if rev[0] != 0 {
            return match read_report(reports)? {
                Some(Report::Exited { code }) => Ok(Started {
                    pid,
                    exit_code: Some(code),
                }),
                _ => Err(Error::MonitorLost),
            };
        }
    }
}

/// The monitor's pid, from the `state.json` it wrote before reporting `Started`.
fn monitor_pid(state: &std::path::Path) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).ok()?).ok()?;
    v.get("monitor_pid")?.as_i64().map(|p| p as i32)
}

/// "mount /proc", "exec \"sh\"": what a failed init step was doing.
pub fn describe(plan: &Plan, step: Step, index: u32) -> String {
    let i = index as usize;
    let item = |v: &[std::ffi::CString]| {
        v.get(i)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match step {
        Step::Mount => format!(
            "mount {}",
            plan.mounts.get(i).map_or("?", |m| m.destination.as_str())
        ),
        Step::Device => format!(
            "create device {}",
            plan.devices.get(i).map_or(String::new(), |d| format!(
                "/{}",
                d.path.rel.to_string_lossy()
            ))
        ),
        Step::Mask => format!("mask {}", item(&plan.masked)),
        Step::Readonly => format!("make {} read-only", item(&plan.readonly)),
        Step::Rlimit => format!(
            "set {}",
            plan.rlimit_names.get(i).map_or("rlimit", String::as_str)
        ),
        Step::Rootfs => format!("mount the rootfs {}", plan.rootfs.to_string_lossy()),
        Step::Cwd | Step::Chdir => format!("working directory {}", plan.cwd_abs.to_string_lossy()),
        Step::User => format!("switch to user {}:{}", plan.uid, plan.gid),
        Step::Exec => format!("exec {:?}", plan.arg0()),
        other => format!("container init: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A detached start of the bundle in `dir`, its state and log beside it.
    fn detached(dir: &std::path::Path) -> StartRequest {
        StartRequest {
            bundle: dir.to_path_buf(),
            state: dir.join("state.json"),
            log: dir.join("log"),
            attach: false,
            remove: None,
            interactive: false,
            exit_command: Vec::new(),
            exit_if: None,
        }
    }

    /// A real container from a bundle; needs root and Debian's busybox-static.
    #[test]
    fn runs_a_bundle_for_real() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let busybox = std::path::Path::new("/bin/busybox");
        if !root || !busybox.exists() {
            eprintln!("skipped: needs root and /bin/busybox");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        fs::create_dir_all(rootfs.join("bin")).unwrap();
        fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
        let config = r#"{
          "ociVersion": "1.2.0",
          "root": {"path": "rootfs"},
          "hostname": "rt-test",
          "process": {
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "echo \"$(hostname) $$ $(ls /proc/self/fd | wc -l)\"; echo oops >&2; exit 3"],
            "env": ["PATH=/bin"],
            "cwd": "/"
          },
          "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
          ],
          "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"}]}
        }"#;
        fs::write(dir.path().join("config.json"), config).unwrap();
        let req = detached(dir.path());
        let started = start(&req).unwrap();
        assert!(started.pid > 0);
        let mut state = String::new();
        for _ in 0..500 {
            state = fs::read_to_string(&req.state).unwrap_or_default();
            if state.contains("\"exited\"") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(state.contains("\"exit_code\":3"), "{state}");
        let log = fs::read_to_string(&req.log).unwrap();
        // `ls /proc/self/fd` lists 0, 1, 2 and its own directory fd: 4 entries.
        assert!(
            log.contains(r#""log":"rt-test 1 4\n","stream":"stdout""#),
            "{log}"
        );
        assert!(log.contains(r#""log":"oops\n","stream":"stderr""#), "{log}");
    }

    /// The cgroup is made once the init is cloned: when it cannot be, the init is killed
    /// and the start fails with 125, leaving no process and no cgroup behind.
    #[test]
    fn a_cgroup_that_cannot_be_made_fails_the_start() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/bin/busybox").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("rootfs/bin")).unwrap();
        fs::copy("/bin/busybox", dir.path().join("rootfs/bin/busybox")).unwrap();
        // Below a file of every hierarchy's root: the first mkdir fails (ENOTDIR).
        let config = r#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"},
          "process": {"user": {"uid": 0, "gid": 0}, "args": ["busybox", "true"], "env": ["PATH=/bin"], "cwd": "/"},
          "linux": {"cgroupsPath": "/cgroup.procs/pycore-spawn-test",
                    "namespaces": [{"type": "mount"}, {"type": "pid"}]}}"#;
        fs::write(dir.path().join("config.json"), config).unwrap();
        let req = detached(dir.path());
        let err = start(&req).unwrap_err();
        assert_eq!(err.exit_code(), 125, "{err}");
        assert!(
            err.to_string().starts_with("set up the container's cgroup"),
            "{err}"
        );
        let state = fs::read_to_string(&req.state).unwrap();
        assert!(state.contains("\"exit_code\":125"), "{state}");
        assert!(state.contains("Not a directory"), "{state}");
        // The init was killed and reaped before the report: it never ran.
        assert!(!state.contains("\"running\""), "{state}");
        assert!(!state.contains("\"pid\""), "{state}");
    }

    #[test]
    fn a_missing_command_is_127() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/bin/busybox").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("rootfs/bin")).unwrap();
        let config = r#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"},
          "process": {"user": {"uid": 0, "gid": 0}, "args": ["nosuch"], "env": ["PATH=/bin"], "cwd": "/"},
          "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}}"#;
        fs::write(dir.path().join("config.json"), config).unwrap();
        let req = detached(dir.path());
        let err = start(&req).unwrap_err();
        assert_eq!(err.exit_code(), 127, "{err}");
        assert!(
            err.to_string().starts_with("exec \"nosuch\": No such file"),
            "{err}"
        );
    }
}
