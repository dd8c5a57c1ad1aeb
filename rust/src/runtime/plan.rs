//! `config.json` → a validated `Plan`, built entirely before fork: every string is already a
//! C string, every flag computed, the seccomp filter compiled, rlimits clamped, exec
//! candidates resolved from PATH, so the container init only makes system calls.

use super::caps::{self, CapSets};
use super::seccomp;
use super::spec::{self, Spec};
use super::Error;
use crate::mount::{cstring, BeneathPath, DeviceNode, MountStep, Overlay, DEFAULT_DEVICES};
use crate::sys::{process, CStrArray, SockFilter};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::Path;

/// Annotations through which pycore hands the overlay rootfs to the runtime; a bundle
/// without them runs `root.path` as a plain directory, like any OCI runtime.
pub const ANNOTATION_LOWERDIRS: &str = "org.pycore.overlay.lowerdirs";
pub const ANNOTATION_UPPERDIR: &str = "org.pycore.overlay.upperdir";
pub const ANNOTATION_WORKDIR: &str = "org.pycore.overlay.workdir";

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug)]
pub struct Plan {
    pub clone_flags: u64,
    pub cgroup_ns: bool,
    pub own_netns: bool,
    /// A network namespace to join (setns) instead of cloning a new one.
    pub netns: Option<OwnedFd>,
    pub rootfs: CString,
    pub overlay: Option<Overlay>,
    pub propagation: u64,
    pub mounts: Vec<MountStep>,
    pub dev_tmpfs: bool,
    pub devices: Vec<DeviceNode>,
    pub masked: Vec<CString>,
    pub readonly: Vec<CString>,
    pub readonly_root: bool,
    pub hostname: Option<CString>,
    pub cwd: BeneathPath,
    pub cwd_abs: CString,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    pub caps: CapSets,
    pub last_cap: u32,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub rlimit_names: Vec<String>,
    pub no_new_privs: bool,
    pub seccomp: Option<Vec<SockFilter>>,
    pub args: CStrArray,
    pub env: CStrArray,
    /// Paths execve is tried on, in order (execvpe(3) semantics over the container's PATH).
    pub candidates: Vec<CString>,
    /// The container's cgroup (`linux.cgroupsPath`, `linux.resources`), if it has one.
    pub cgroup: Option<super::cgroup::CgroupPlan>,
    /// What the monitor does when the container exits (annotation `org.pycore.restart`).
    pub restart: super::restart::Policy,
    /// `process.terminal`: the init makes a pty its stdio and sends the master back.
    pub terminal: bool,
    /// `--init`: pid 1 stays a reaper that forks the program (annotation `org.pycore.init`).
    pub reaper: bool,
}

fn rlimit_resource(name: &str) -> Option<u32> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    } as u32)
}

fn strings(items: &[String]) -> Result<Vec<CString>, Error> {
    items
        .iter()
        .map(|s| cstring(s).map_err(Error::from))
        .collect()
}

/// The network namespace to join, opened before fork: `{"type": "network", "path": ...}`
/// (runtime-spec config-linux.md#namespaces). Only the network namespace may be joined.
fn netns_path(linux: &spec::Linux) -> Result<Option<OwnedFd>, Error> {
    let mut found = None;
    for ns in &linux.namespaces {
        let Some(path) = &ns.path else { continue };
        if ns.kind != "network" {
            return Err(Error::Unsupported(format!(
                "joining the {} namespace at a path",
                ns.kind
            )));
        }
        let file = std::fs::File::open(path).map_err(|e| Error::Read {
            path: path.into(),
            source: e,
        })?;
        // Numbered above the stdio and sync fds (0..=3) the container's child dup2s onto.
        let fd =
            process::dup_owned_above(&OwnedFd::from(file), 10).map_err(|errno| Error::Spawn {
                op: "duplicate the netns fd",
                errno,
            })?;
        found = Some(fd);
    }
    Ok(found)
}

fn namespace_flags(linux: &spec::Linux) -> Result<(u64, bool, bool), Error> {
    let mut flags = 0u64;
    let mut cgroup = false;
    let mut net = false;
    for ns in &linux.namespaces {
        if ns.kind == "network" && ns.path.is_some() {
            // Joined by the init (setns), not cloned; still the container's own for sysfs.
            net = true;
            continue;
        }
        flags |= match ns.kind.as_str() {
            "mount" => libc::CLONE_NEWNS,
            "pid" => libc::CLONE_NEWPID,
            "uts" => libc::CLONE_NEWUTS,
            "ipc" => libc::CLONE_NEWIPC,
            "network" => {
                net = true;
                libc::CLONE_NEWNET
            }
            "cgroup" => {
                // Unshared by the init itself, once it is in its cgroup (cgroup_namespaces(7)).
                cgroup = true;
                0
            }
            other => return Err(Error::Unsupported(format!("the {other} namespace"))),
        } as u64;
    }
    if flags & libc::CLONE_NEWNS as u64 == 0 {
        return Err(Error::Unsupported(
            "a container without a mount namespace".into(),
        ));
    }
    Ok((flags, cgroup, net))
}

/// The overlay from pycore's annotations, if present.
fn overlay(spec: &Spec) -> Result<Option<Overlay>, Error> {
    let a = &spec.annotations;
    let Some(lowers) = a.get(ANNOTATION_LOWERDIRS) else {
        return Ok(None);
    };
    let get = |k: &'static str| a.get(k).ok_or(Error::Missing(k));
    let lowers: Vec<String> = lowers.split(':').map(str::to_string).collect();
    Ok(Some(Overlay::new(
        &lowers,
        get(ANNOTATION_UPPERDIR)?,
        get(ANNOTATION_WORKDIR)?,
    )?))
}

pub(crate) fn exec_candidates(arg0: &str, env: &[String]) -> Result<Vec<CString>, Error> {
    if arg0.contains('/') {
        return Ok(vec![cstring(arg0)?]);
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| {
            let dir = if dir.is_empty() { "." } else { dir };
            cstring(&format!("{}/{arg0}", dir.trim_end_matches('/')))
        })
        .collect::<Result<_, _>>()
        .map_err(Error::from)
}

fn restart_policy(spec: &Spec) -> Result<super::restart::Policy, Error> {
    let Some(v) = spec.annotations.get(super::restart::ANNOTATION_RESTART) else {
        return Ok(super::restart::Policy::No);
    };
    super::restart::Policy::parse(v).ok_or_else(|| Error::Invalid {
        field: "annotations",
        why: format!("{}: {v:?}", super::restart::ANNOTATION_RESTART),
    })
}

impl Plan {
    /// Reads `<bundle>/config.json` and builds the plan.
    pub fn load(bundle: &Path) -> Result<Plan, Error> {
        let path = bundle.join("config.json");
        let data = std::fs::read(&path).map_err(|e| Error::Read {
            path: path.clone(),
            source: e,
        })?;
        let spec = Spec::parse(&data).map_err(Error::Json)?;
        Plan::build(&spec, bundle)
    }

    pub fn build(spec: &Spec, bundle: &Path) -> Result<Plan, Error> {
        if !spec.oci_version.starts_with("1.") {
            return Err(Error::Unsupported(format!(
                "ociVersion {}",
                spec.oci_version
            )));
        }
        let root = spec.root.as_ref().ok_or(Error::Missing("root"))?;
        let process = spec.process.as_ref().ok_or(Error::Missing("process"))?;
        let default_linux = spec::Linux::default();
        let linux = spec.linux.as_ref().unwrap_or(&default_linux);
        let arg0 = process.args.first().ok_or(Error::Missing("process.args"))?;
        if !process.cwd.starts_with('/') {
            return Err(Error::Invalid {
                field: "process.cwd",
                why: "must be absolute".into(),
            });
        }
        let (clone_flags, cgroup_ns, own_netns) = namespace_flags(linux)?;
        let rootfs = bundle.join(&root.path);
        let rootfs = rootfs.to_str().ok_or(Error::Invalid {
            field: "root.path",
            why: "not UTF-8".into(),
        })?;
        let propagation = match linux.rootfs_propagation.as_deref() {
            None | Some("") => (libc::MS_REC | libc::MS_PRIVATE) as u64,
            // The spec names the mode ("private", "slave"...); it applies to the whole tree.
            Some(p) => {
                let flag = crate::mount::options::propagation(p).ok_or_else(|| Error::Invalid {
                    field: "linux.rootfsPropagation",
                    why: p.to_string(),
                })?;
                flag | libc::MS_REC as u64
            }
        };
        let mounts = spec
            .mounts
            .iter()
            .map(|m| {
                MountStep::new(
                    &m.destination,
                    m.kind.as_deref(),
                    m.source.as_deref(),
                    &m.options,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dev_tmpfs = spec
            .mounts
            .iter()
            .any(|m| m.destination.trim_end_matches('/') == "/dev");
        let mut devices = Vec::new();
        if dev_tmpfs {
            for (path, major, minor) in DEFAULT_DEVICES {
                devices.push(DeviceNode::new(path, "c", *major, *minor, 0o666)?);
            }
        }
        for d in &linux.devices {
            let (major, minor) = (d.major.unwrap_or(0) as u32, d.minor.unwrap_or(0) as u32);
            devices.push(DeviceNode::new(
                &d.path,
                &d.kind,
                major,
                minor,
                d.file_mode.unwrap_or(0o666),
            )?);
        }
        let c = process.capabilities.as_ref();
        let set =
            |f: fn(&spec::Capabilities) -> &Vec<String>| c.map_or(Ok(0), |c| caps::mask(f(c)));
        let caps = CapSets {
            bounding: set(|c| &c.bounding)?,
            effective: set(|c| &c.effective)?,
            permitted: set(|c| &c.permitted)?,
            inheritable: set(|c| &c.inheritable)?,
            ambient: set(|c| &c.ambient)?,
        };
        let mut rlimits = Vec::new();
        let mut rlimit_names = Vec::new();
        for r in &process.rlimits {
            let res = rlimit_resource(&r.kind).ok_or_else(|| Error::Invalid {
                field: "process.rlimits",
                why: r.kind.clone(),
            })?;
            // Without CAP_SYS_RESOURCE a hard limit can only go down: never ask for more than
            // the current hard limit, and keep soft <= hard.
            let host_hard = process::getrlimit(res).map(|(_, h)| h).unwrap_or(u64::MAX);
            let hard = r.hard.min(host_hard);
            rlimits.push((res, r.soft.min(hard), hard));
            rlimit_names.push(r.kind.clone());
        }
        let seccomp = linux.seccomp.as_ref().map(seccomp::compile).transpose()?;
        let cwd = BeneathPath::new(&process.cwd)?;
        Ok(Plan {
            clone_flags,
            cgroup_ns,
            own_netns,
            netns: netns_path(linux)?,
            rootfs: cstring(rootfs)?,
            overlay: overlay(spec)?,
            propagation,
            mounts,
            dev_tmpfs,
            devices,
            masked: strings(&linux.masked_paths)?,
            readonly: strings(&linux.readonly_paths)?,
            readonly_root: root.readonly,
            hostname: spec
                .hostname
                .as_deref()
                .filter(|h| !h.is_empty())
                .map(cstring)
                .transpose()?,
            cwd,
            cwd_abs: cstring(&process.cwd)?,
            uid: process.user.uid,
            gid: process.user.gid,
            groups: process.user.additional_gids.clone(),
            umask: process.user.umask.unwrap_or(0o022),
            caps,
            last_cap: caps::last_cap(),
            rlimits,
            rlimit_names,
            no_new_privs: process.no_new_privileges,
            seccomp,
            args: CStrArray::new(strings(&process.args)?),
            env: CStrArray::new(strings(&process.env)?),
            candidates: exec_candidates(arg0, &process.env)?,
            cgroup: linux
                .cgroups_path
                .as_deref()
                .map(|p| super::cgroup::CgroupPlan::new(p, linux.resources.as_ref()))
                .transpose()?,
            restart: restart_policy(spec)?,
            terminal: process.terminal,
            reaper: spec
                .annotations
                .get(super::reaper::ANNOTATION_INIT)
                .is_some_and(|v| v == "true"),
        })
    }

    /// The command the container runs, for messages.
    pub fn arg0(&self) -> String {
        self.args
            .items()
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A config.json exercising most of the plan, shared by the runtime's unit tests.
#[cfg(test)]
pub fn tests_sample() -> String {
    r#"{
          "ociVersion": "1.2.0",
          "root": {"path": "rootfs", "readonly": false},
          "hostname": "box",
          "process": {
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
            "args": ["sh", "-c", "true"],
            "env": ["PATH=/usr/bin:/bin", "HOME=/"],
            "cwd": "/work",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 18446744073709551615}],
            "noNewPrivileges": true
          },
          "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
          ],
          "annotations": {
            "org.pycore.overlay.lowerdirs": "/l/b:/l/a",
            "org.pycore.overlay.upperdir": "/c/upper",
            "org.pycore.overlay.workdir": "/c/work"
          },
          "linux": {
            "namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "network"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
            "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
          }
        }"#
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        tests_sample()
    }

    #[test]
    fn builds_a_plan() {
        let spec = Spec::parse(sample().as_bytes()).unwrap();
        let plan = Plan::build(&spec, Path::new("/b")).unwrap();
        assert_eq!(plan.rootfs.to_str().unwrap(), "/b/rootfs");
        assert_eq!(
            plan.clone_flags,
            (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWNET) as u64
        );
        assert!(plan.cgroup_ns && plan.own_netns && plan.dev_tmpfs);
        assert_eq!(plan.devices.len(), 6);
        assert_eq!(
            plan.candidates,
            [c"/usr/bin/sh".to_owned(), c"/bin/sh".to_owned()]
        );
        assert_eq!(plan.caps.bounding, 1 << 5);
        let (_, hard) = process::getrlimit(libc::RLIMIT_NOFILE as u32).unwrap();
        assert_eq!(plan.rlimits, [(libc::RLIMIT_NOFILE as u32, hard, hard)]);
        assert!(plan
            .overlay
            .unwrap()
            .data
            .to_str()
            .unwrap()
            .starts_with("lowerdir=/l/b:/l/a,"));
        assert!(plan.seccomp.is_some());
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let bad = sample().replace(r#"{"type": "cgroup"}"#, r#"{"type": "user"}"#);
        let err = Plan::build(&Spec::parse(bad.as_bytes()).unwrap(), Path::new("/b")).unwrap_err();
        assert_eq!(err.to_string(), "unsupported: the user namespace");
        let bad = sample().replace("CAP_KILL\"], \"effective", "CAP_FLY\"], \"effective");
        assert!(Plan::build(&Spec::parse(bad.as_bytes()).unwrap(), Path::new("/b")).is_err());
        let bad = sample().replace("\"/work\"", "\"work\"");
        assert!(Plan::build(&Spec::parse(bad.as_bytes()).unwrap(), Path::new("/b")).is_err());
    }

    #[test]
    fn joins_a_network_namespace_at_a_path() {
        let with = |ns: &str| {
            let s = sample().replace(r#"{"type": "network"}"#, ns);
            Plan::build(&Spec::parse(s.as_bytes()).unwrap(), Path::new("/b"))
        };
        let plan = with(r#"{"type": "network", "path": "/proc/self/ns/net"}"#).unwrap();
        assert_eq!(
            plan.clone_flags,
            (libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64
        );
        assert!(plan.own_netns && plan.netns.is_some());
        // Out of the way of the fds the child dup2s onto (stdio and the sync socket).
        assert!(std::os::fd::AsRawFd::as_raw_fd(plan.netns.as_ref().unwrap()) >= 10);
        let err = with(r#"{"type": "network", "path": "/nonexistent/netns"}"#).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/netns"), "{err}");
        let err = with(r#"{"type": "network"}, {"type": "ipc", "path": "/proc/self/ns/ipc"}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported: joining the ipc namespace at a path"
        );
    }

    #[test]
    fn absolute_arg0_is_the_only_candidate() {
        assert_eq!(
            exec_candidates("/bin/true", &[]).unwrap(),
            [c"/bin/true".to_owned()]
        );
        assert_eq!(exec_candidates("x", &[]).unwrap().len(), 6);
    }
}
