//! The container init: what the cloned child does between `Proceed` and execve, as a list of
//! small named steps over a `Syscall`. It only makes system calls (no allocation, no locks):
//! it runs in the child of a fork. On success it never returns; on failure it returns why.

use super::msg::{Failure, Step};
use super::plan::Plan;
use crate::mount;
use crate::sys::{Errno, SysResult, Syscall};
use std::os::unix::io::{AsRawFd, RawFd};

/// The init's copy of the sync socket (close-on-exec: end of file tells the monitor that
/// execve succeeded). Every fd above it is closed before exec (CVE-2024-21626).
pub const SYNC_FD: RawFd = 3;

const PR_SET_PDEATHSIG: i32 = 1;
const PR_SET_DUMPABLE: i32 = 4;
const PR_SET_KEEPCAPS: i32 = 8;
const PR_CAPBSET_DROP: i32 = 24;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_CAP_AMBIENT: i32 = 47;
const PR_CAP_AMBIENT_RAISE: u64 = 2;

fn at<T>(step: Step, index: usize, r: SysResult<T>) -> Result<T, Failure> {
    r.map_err(|Errno(errno)| Failure {
        step,
        index: index as u32,
        errno,
    })
}

/// Runs every step and execs; returns only on failure. `gate` returns once the monitor has
/// put this process into the container's cgroups: the filesystem is prepared meanwhile (the
/// first migration into a cgroup waits out an RCU grace period, 5-16 ms here), and nothing of
/// the container runs before it passes.
pub fn run(sys: &dyn Syscall, plan: &Plan, gate: &dyn Fn() -> SysResult<()>) -> Failure {
    match steps(sys, plan, gate) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

enum Never {}

fn steps(
    sys: &dyn Syscall,
    plan: &Plan,
    gate: &dyn Fn() -> SysResult<()>,
) -> Result<Never, Failure> {
    if let Some(fd) = &plan.netns {
        // First: sysfs, mounted below, shows the network namespace of its mounter.
        at(
            Step::JoinNetns,
            0,
            sys.setns(fd.as_raw_fd(), libc::CLONE_NEWNET),
        )?;
    }
    // Not dumpable until execve: no process of the container may open our /proc/<pid>/exe
    // (a host binary) or our memory in the meantime (CVE-2019-5736). execve resets it.
    at(Step::Dumpable, 0, sys.prctl(PR_SET_DUMPABLE, 0, 0))?;
    sys.umask(0);
    filesystem(sys, plan)?;
    if let Some(h) = &plan.hostname {
        at(Step::Hostname, 0, sys.sethostname(h))?;
    }
    if plan.terminal {
        // From the container's devpts, once it is mounted and the root pivoted.
        at(Step::Stdio, 1, super::pty::setup_console(SYNC_FD))?;
    }
    if plan.own_netns {
        at(Step::Loopback, 0, sys.loopback_up())?;
    }
    for (i, &(res, soft, hard)) in plan.rlimits.iter().enumerate() {
        at(Step::Rlimit, i, sys.setrlimit(res, soft, hard))?;
    }
    at(Step::Sync, 0, gate())?;
    // In the container's cgroups now: its cgroup namespace is rooted there.
    if plan.cgroup_ns {
        at(Step::CgroupNs, 0, sys.unshare(libc::CLONE_NEWCGROUP))?;
    }
    // Every fd of the host is closed first, then the working directory is set inside the
    // new root, by path: a cwd of `/proc/self/fd/N` cannot name a leaked host directory
    // (CVE-2024-21626).
    at(Step::CloseFds, 0, sys.close_from(SYNC_FD as u32 + 1))?;
    at(Step::Chdir, 0, sys.chdir(&plan.cwd_abs))?;
    credentials(sys, plan)?;
    // The container dies with its monitor (prctl(2): the signal comes when the parent
    // exits), as Docker's does with its shim: a killed monitor leaves no process nobody
    // reaps or records. After the credentials, whose change clears it; best effort, since a
    // seccomp profile may refuse prctl.
    let _ = sys.prctl(PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0);
    sys.umask(plan.umask);
    if plan.reaper {
        return Err(super::reaper::fork_and_reap(&|| exec(sys, plan)));
    }
    Err(exec(sys, plan))
}

/// Rootfs, mounts, devices, pivot_root, masked and read-only paths.
fn filesystem(sys: &dyn Syscall, plan: &Plan) -> Result<(), Failure> {
    at(
        Step::Propagation,
        0,
        sys.mount(None, c"/", None, plan.propagation, None),
    )?;
    let rootfs = &plan.rootfs;
    at(
        Step::Rootfs,
        0,
        match &plan.overlay {
            Some(o) => o.mount(sys, rootfs),
            // pivot_root needs a mount point: bind the directory onto itself.
            None => sys.mount(
                Some(rootfs),
                rootfs,
                None,
                (libc::MS_BIND | libc::MS_REC) as u64,
                None,
            ),
        },
    )?;
    let root = at(
        Step::OpenRoot,
        0,
        sys.openat(libc::AT_FDCWD, rootfs, libc::O_PATH | libc::O_DIRECTORY, 0),
    )?;
    for (i, m) in plan.mounts.iter().enumerate() {
        at(Step::Mount, i, m.apply(sys, root, plan.own_netns))?;
    }
    for (i, d) in plan.devices.iter().enumerate() {
        at(Step::Device, i, d.create(sys, root))?;
    }
    if plan.dev_tmpfs {
        at(Step::DevSymlinks, 0, mount::dev_symlinks(sys, root))?;
    }
    let cwd = at(Step::Cwd, 0, mount::ensure(sys, root, &plan.cwd, false))?;
    sys.close(cwd);
    at(Step::PivotRoot, 0, mount::pivot_root(sys, root))?;
    sys.close(root);
    for (i, p) in plan.masked.iter().enumerate() {
        at(Step::Mask, i, mount::mask(sys, p))?;
    }
    for (i, p) in plan.readonly.iter().enumerate() {
        at(Step::Readonly, i, mount::make_readonly(sys, p))?;
    }
    if plan.readonly_root {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        at(
            Step::ReadonlyRoot,
            0,
            sys.mount(None, c"/", None, flags as u64, None),
        )?;
    }
    Ok(())
}

/// Capabilities, user and groups, no_new_privs and seccomp, in the order that keeps each
/// possible: the bounding set needs CAP_SETPCAP; without no_new_privs, loading a filter
/// needs CAP_SYS_ADMIN, so it goes in before the user switch drops it; changing user keeps
/// the permitted set only under PR_SET_KEEPCAPS (capabilities(7)).
pub(crate) fn credentials(sys: &dyn Syscall, plan: &Plan) -> Result<(), Failure> {
    let caps = &plan.caps;
    for cap in 0..=plan.last_cap.min(63) {
        if caps.bounding & (1u64 << cap) == 0 {
            at(
                Step::Bounding,
                cap as usize,
                sys.prctl(PR_CAPBSET_DROP, cap.into(), 0),
            )?;
        }
    }
    if !plan.no_new_privs {
        if let Some(f) = &plan.seccomp {
            at(Step::Seccomp, 0, sys.seccomp(f))?;
        }
    }
    at(Step::User, 0, sys.prctl(PR_SET_KEEPCAPS, 1, 0))?;
    at(Step::User, 1, sys.setgroups(&plan.groups))?;
    at(Step::User, 2, sys.setresgid(plan.gid))?;
    at(Step::User, 3, sys.setresuid(plan.uid))?;
    at(Step::User, 4, sys.prctl(PR_SET_KEEPCAPS, 0, 0))?;
    at(
        Step::Capabilities,
        0,
        sys.capset(caps.effective, caps.permitted, caps.inheritable),
    )?;
    for cap in 0..=plan.last_cap.min(63) {
        if caps.ambient & (1u64 << cap) != 0 {
            let r = sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap.into());
            at(Step::Capabilities, 1 + cap as usize, r)?;
        }
    }
    if plan.no_new_privs {
        at(Step::NoNewPrivs, 0, sys.prctl(PR_SET_NO_NEW_PRIVS, 1, 0))?;
        if let Some(f) = &plan.seccomp {
            at(Step::Seccomp, 0, sys.seccomp(f))?;
        }
    }
    Ok(())
}

/// execvpe(3) over the prepared candidates: ENOENT and ENOTDIR try the next one; EACCES is
/// remembered (and reported if nothing else runs); any other error stops.
pub(crate) fn exec(sys: &dyn Syscall, plan: &Plan) -> Failure {
    let mut denied = false;
    for c in &plan.candidates {
        match sys.execve(c, &plan.args, &plan.env) {
            Errno(libc::ENOENT) | Errno(libc::ENOTDIR) => {}
            Errno(libc::EACCES) => denied = true,
            Errno(errno) => {
                return Failure {
                    step: Step::Exec,
                    index: 0,
                    errno,
                }
            }
        }
    }
    let errno = if denied { libc::EACCES } else { libc::ENOENT };
    Failure {
        step: Step::Exec,
        index: 0,
        errno,
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

    fn open_gate() -> SysResult<()> {
        Ok(())
    }

    fn index_of(calls: &[String], prefix: &str) -> usize {
        calls
            .iter()
            .position(|c| c.contains(prefix))
            .unwrap_or_else(|| panic!("no call {prefix:?} in {calls:#?}"))
    }

    #[test]
    fn full_sequence_in_order() {
        let sys = Recorder::new();
        sys.fail_on("execve /usr/bin/sh", libc::ENOENT);
        sys.fail_on("execve /bin/sh", libc::ENOENT);
        let f = run(&sys, &plan(), &open_gate);
        assert_eq!(
            f,
            Failure {
                step: Step::Exec,
                index: 0,
                errno: libc::ENOENT
            }
        );
        let calls = sys.calls();
        let order = [
            "prctl 4 0 0",
            "mount - / - 0x44000",
            "mount overlay /b/rootfs overlay 0x0 lowerdir=/l/b:/l/a,upperdir=/c/upper,workdir=/c/work",
            "openat -100 /b/rootfs",
            "mount proc /proc/self/fd/",
            " null 20666 0x103",
            "symlinkat /proc/self/fd",
            "pivot_root . .",
            "umount2 . 2",
            "mount /dev/null /proc/kcore - 0x1000 -",
            "mount /proc/sys /proc/sys - 0x5000 -",
            "sethostname box",
            "loopback_up",
            "setrlimit 7",
            "unshare 0x2000000",
            "close_from 4",
            "chdir /work",
            "prctl 24 0 0",
            "prctl 8 1 0",
            "setgroups [10]",
            "setresgid 1000",
            "setresuid 1000",
            "prctl 8 0 0",
            "capset 0x20 0x20 0x0",
            "prctl 38 1 0",
            "seccomp",
            "prctl 1 9 0",
            "umask 22",
            "execve /usr/bin/sh sh -c true",
            "execve /bin/sh sh -c true",
        ];
        let mut last = 0;
        for want in order {
            let i = index_of(&calls[last..], want) + last;
            last = i;
        }
        // CAP_KILL (5) stays in the bounding set; every other one is dropped.
        assert!(!calls.iter().any(|c| c == "prctl 24 5 0"));
    }

    #[test]
    fn a_failing_mount_names_its_index() {
        let sys = Recorder::new();
        sys.fail_on("mount tmpfs", libc::EPERM);
        let f = run(&sys, &plan(), &open_gate);
        assert_eq!(
            f,
            Failure {
                step: Step::Mount,
                index: 1,
                errno: libc::EPERM
            }
        );
        assert!(!sys.calls().iter().any(|c| c.starts_with("pivot_root")));
    }

    #[test]
    fn a_network_namespace_path_is_joined_first() {
        let sample = crate::runtime::plan::tests_sample().replace(
            r#"{"type": "network"}"#,
            r#"{"type": "network", "path": "/proc/self/ns/net"}"#,
        );
        let plan = Plan::build(&Spec::parse(sample.as_bytes()).unwrap(), Path::new("/b")).unwrap();
        let sys = Recorder::new();
        sys.fail_on("execve", libc::ENOENT);
        run(&sys, &plan, &open_gate);
        let calls = sys.calls();
        assert_eq!(calls[0], "setns 0x40000000");
        assert!(calls.iter().any(|c| c == "loopback_up"));
        sys.fail_on("setns", libc::EINVAL);
        assert_eq!(run(&sys, &plan, &open_gate).step, Step::JoinNetns);
    }

    #[test]
    fn the_filesystem_is_ready_before_the_gate_and_nothing_runs_past_a_closed_one() {
        let sys = Recorder::new();
        let shut = || -> SysResult<()> { Err(Errno(libc::EPIPE)) };
        let f = run(&sys, &plan(), &shut);
        assert_eq!((f.step, f.errno), (Step::Sync, libc::EPIPE));
        let calls = sys.calls();
        assert!(calls.iter().any(|c| c.starts_with("pivot_root")));
        for after in ["unshare", "close_from", "setresuid", "seccomp", "execve"] {
            assert!(
                !calls.iter().any(|c| c.starts_with(after)),
                "{after} ran: {calls:#?}"
            );
        }
    }

    #[test]
    fn permission_denied_wins_over_not_found() {
        let sys = Recorder::new();
        sys.fail_on("execve /usr/bin/sh", libc::EACCES);
        sys.fail_on("execve /bin/sh", libc::ENOENT);
        assert_eq!(run(&sys, &plan(), &open_gate).errno, libc::EACCES);
    }
}
