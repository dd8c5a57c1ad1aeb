//! A container's cgroup: the layout found at run time (v2, v1, or v1 with a v2 `unified`
//! mount beside it), the directories made under every relevant hierarchy, the limits of
//! `linux.resources` written before the init may run, the OOM check and the removal.
//!
//! The monitor makes the cgroup once it has cloned the init (which prepares its filesystem
//! meanwhile and waits for `Proceed`), moves the init in before `Proceed`, and the init
//! unshares its cgroup namespace only then (cgroup_namespaces(7)), so the container's code
//! never runs outside it and sees its own cgroup as `/`.

use crate::sys::Errno;
use serde::Deserialize;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Where every cgroup hierarchy is mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// v1 hierarchies a container joins; missing ones are skipped. `name=systemd` keeps its
/// processes out of the caller's systemd slice as Docker's do.
const V1_HIERARCHIES: &[&str] = &[
    "memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer", "systemd",
];

/// `linux.resources` of the runtime spec: the subset pycore sets.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
pub struct Resources {
    pub memory: Option<Memory>,
    pub cpu: Option<Cpu>,
    pub pids: Option<Pids>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
pub struct Memory {
    /// Bytes.
    pub limit: Option<i64>,
    /// Memory plus swap, in bytes (v1's `memsw`); -1 is unlimited.
    pub swap: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
pub struct Cpu {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub period: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
pub struct Pids {
    pub limit: i64,
}

#[derive(Debug, Error)]
pub enum CgroupError {
    #[error("config.json: linux.cgroupsPath {0:?}: must be a path of plain names")]
    BadPath(String),
    #[error("cgroup {op} {path}: {errno}")]
    Io {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CgroupError + 'a {
    move |e| CgroupError::Io {
        op,
        path: path.to_path_buf(),
        errno: Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// Which cgroup filesystems this host mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One cgroup2 tree at the root.
    V2,
    /// One directory per v1 hierarchy; `unified` when a (controller-less) cgroup2 tree is
    /// mounted at `unified/` as well (systemd's hybrid mode).
    V1 { unified: bool },
}

impl Layout {
    pub fn detect(root: &Path) -> Layout {
        if root.join("cgroup.controllers").exists() {
            Layout::V2
        } else {
            Layout::V1 {
                unified: root.join("unified/cgroup.controllers").exists(),
            }
        }
    }
}

/// The first migration into a cgroup after a quiet while waits out an RCU grace period
/// (5-20 ms on this 2-core VM): it takes the kernel's cgroup_threadgroup_rwsem for writing,
/// a percpu rwsem whose writer first waits for a grace period (rcu_sync_enter); writers then
/// go fast until a grace period after the last one. This starts that wait early, in a thread
/// of its own, by writing our pid into the cgroup.procs of the cgroup we are in (a migration
/// to where we are already: nothing moves; a pid that does not exist fails before the lock),
/// and keeps writers fast by doing so again every 2 ms for `hold` (at most; `release` ends
/// it sooner). The caller goes on meanwhile (the CLI: loading the plan, forking the monitor;
/// or its Python side, before the start); the monitor's real migrations find the wait done.
/// Best effort: nothing is reported, and any failure only costs the wait it would have saved.
pub fn prime_migration(root: &Path, hold: Duration) {
    let until = PRIME_EPOCH.elapsed() + hold;
    PRIME_UNTIL.fetch_max(until.as_micros() as u64, Ordering::SeqCst);
    if PRIMING.swap(true, Ordering::SeqCst) {
        return; // the running thread sees the new deadline
    }
    let Some(procs) = own_procs_file(root) else {
        PRIMING.store(false, Ordering::SeqCst);
        return;
    };
    let pid = std::process::id().to_string();
    // Created with every signal blocked, which it inherits: a signal sent to the process
    // must reach the threads that handle it (Python's, an attached start's signalfd), not
    // this one, where it would be lost.
    // SAFETY: sigfillset fills a sigset_t we own; pthread_sigmask changes only this thread's
    // mask, and the old one is put back right after the spawn.
    let old = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    };
    let spawned = std::thread::Builder::new()
        .name("cgroup-prime".into())
        .stack_size(64 * 1024)
        .spawn(move || loop {
            if fs::write(&procs, &pid).is_err() {
                PRIMING.store(false, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
            let left =
                || PRIME_EPOCH.elapsed().as_micros() as u64 <= PRIME_UNTIL.load(Ordering::SeqCst);
            if !left() {
                PRIMING.store(false, Ordering::SeqCst);
                // A deadline pushed out meanwhile by a caller that saw us running.
                if !left() || PRIMING.swap(true, Ordering::SeqCst) {
                    return;
                }
            }
        });
    // SAFETY: as above; `old` is the mask this thread had.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if spawned.is_err() {
        PRIMING.store(false, Ordering::SeqCst);
    }
}

/// Ends the hold of `prime_migration` (the monitor has made its migrations).
pub fn release_migration() {
    PRIME_UNTIL.store(0, Ordering::SeqCst);
}

/// When the priming thread stops, in µs since `PRIME_EPOCH`; whether it runs.
static PRIME_UNTIL: AtomicU64 = AtomicU64::new(0);
static PRIMING: AtomicBool = AtomicBool::new(false);
static PRIME_EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// `cgroup.procs` of the cgroup this process is in, in one hierarchy: the v2 one (at the
/// root, or at `unified/` beside v1), else v1's pids (or memory) hierarchy.
fn own_procs_file(root: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    procs_file_in(root, Layout::detect(root), &text)
}

/// `own_procs_file` from the text of /proc/self/cgroup.
fn procs_file_in(root: &Path, layout: Layout, text: &str) -> Option<PathBuf> {
    let line = |controller: &str| {
        text.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, path) = (f.next()?, f.next()?, f.next()?);
            c.split(',').any(|x| x == controller).then_some(path)
        })
    };
    let (dir, path) = match layout {
        Layout::V2 => (root.to_path_buf(), line("")?),
        Layout::V1 { unified: true } => (root.join("unified"), line("")?),
        Layout::V1 { unified: false } => ["pids", "memory"]
            .into_iter()
            .find_map(|c| Some((root.join(c), line(c)?)))?,
    };
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(dir.join(rel).join("cgroup.procs"))
}

/// The cgroup of one container, decided before fork: the relative path and the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupPlan {
    /// Below each hierarchy's root, e.g. `pycore/<id>`; never empty, no `..`.
    pub path: PathBuf,
    pub resources: Resources,
}

impl CgroupPlan {
    /// From `linux.cgroupsPath`; a path is always taken from the hierarchy's root (Docker's
    /// `/docker/<id>`), whether or not it starts with `/`.
    pub fn new(cgroups_path: &str, resources: Option<&Resources>) -> Result<Self, CgroupError> {
        let rel = cgroups_path.trim_start_matches('/');
        let ok = !rel.is_empty()
            && rel
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if !ok {
            return Err(CgroupError::BadPath(cgroups_path.to_string()));
        }
        Ok(CgroupPlan {
            path: PathBuf::from(rel),
            resources: resources.cloned().unwrap_or_default(),
        })
    }
}

/// The directories made for one container, under `root` (`/sys/fs/cgroup` but for tests).
#[derive(Debug)]
pub struct Cgroup {
    layout: Layout,
    /// Every directory the container joins, the memory one (or the v2 one) first.
    dirs: Vec<PathBuf>,
}

/// Writes `value` to the control file `file` of `dir`.
fn set(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let p = dir.join(file);
    fs::write(&p, value).map_err(io("write", &p))
}

/// v2's `cpu.weight` (1..10000) for v1's `cpu.shares` (2..262144), as crun and runc map it.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

impl Cgroup {
    /// Makes the container's directories and writes its limits; nothing has joined yet.
    pub fn create(root: &Path, plan: &CgroupPlan) -> Result<Cgroup, CgroupError> {
        let layout = Layout::detect(root);
        let mut cg = Cgroup {
            layout,
            dirs: Vec::new(),
        };
        let made = match layout {
            Layout::V2 => cg.create_v2(root, plan),
            Layout::V1 { unified } => cg.create_v1(root, plan, unified),
        };
        if let Err(e) = made {
            cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    fn mkdir(&mut self, dir: PathBuf) -> Result<(), CgroupError> {
        match fs::create_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("mkdir", &dir)(e)),
        }
        self.dirs.push(dir);
        Ok(())
    }

    fn create_v1(
        &mut self,
        root: &Path,
        plan: &CgroupPlan,
        unified: bool,
    ) -> Result<(), CgroupError> {
        let r = &plan.resources;
        for h in V1_HIERARCHIES {
            let base = root.join(h);
            // A hierarchy is there when its root is a cgroup (has cgroup.procs); the same
            // controller may be co-mounted ("cpu,cpuacct" with symlinks): join it once.
            if !base.join("cgroup.procs").exists() {
                continue;
            }
            let canonical = fs::canonicalize(&base).unwrap_or_else(|_| base.clone());
            let dir = canonical.join(&plan.path);
            if self.dirs.contains(&dir) {
                continue;
            }
            if *h == "cpuset" {
                self.cpuset_ancestors(&canonical, &plan.path)?;
            }
            self.mkdir(dir.clone())?;
            match *h {
                "memory" => {
                    if let Some(m) = &r.memory {
                        if let Some(l) = m.limit {
                            set(&dir, "memory.limit_in_bytes", &l.to_string())?;
                        }
                        // memsw exists only with swap accounting on; limit first (memsw
                        // may never be below it).
                        if let Some(s) = m.swap {
                            if dir.join("memory.memsw.limit_in_bytes").exists() {
                                set(&dir, "memory.memsw.limit_in_bytes", &s.to_string())?;
                            }
                        }
                    }
                }
                "cpu" => {
                    if let Some(c) = &r.cpu {
                        if let Some(s) = c.shares {
                            set(&dir, "cpu.shares", &s.to_string())?;
                        }
                        if let Some(p) = c.period {
                            set(&dir, "cpu.cfs_period_us", &p.to_string())?;
                        }
                        if let Some(q) = c.quota {
                            set(&dir, "cpu.cfs_quota_us", &q.to_string())?;
                        }
                    }
                }
                "pids" => {
                    if let Some(p) = &r.pids {
                        let v = if p.limit > 0 {
                            p.limit.to_string()
                        } else {
                            "max".into()
                        };
                        set(&dir, "pids.max", &v)?;
                    }
                }
                _ => {}
            }
        }
        if unified {
            self.mkdir(root.join("unified").join(&plan.path))?;
        }
        // The memory directory first: `oom_killed` reads it.
        if let Some(i) = self
            .dirs
            .iter()
            .position(|d| d.starts_with(root.join("memory")))
        {
            let d = self.dirs.remove(i);
            self.dirs.insert(0, d);
        }
        Ok(())
    }

    /// A new cpuset cgroup starts with no CPUs and no memory nodes, and no task can join it
    /// until both are set: copy them down from the parent at every level we create.
    fn cpuset_ancestors(&mut self, base: &Path, rel: &Path) -> Result<(), CgroupError> {
        let mut parent = base.to_path_buf();
        for comp in rel.components() {
            let dir = parent.join(comp);
            if !dir.exists() {
                fs::create_dir(&dir)
                    .or_else(|e| {
                        if e.kind() == ErrorKind::AlreadyExists {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                    .map_err(io("mkdir", &dir))?;
            }
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let mine = fs::read_to_string(dir.join(f)).unwrap_or_default();
                if mine.trim().is_empty() {
                    let p = parent.join(f);
                    let v = fs::read_to_string(&p).map_err(io("read", &p))?;
                    set(&dir, f, v.trim())?;
                }
            }
            parent = dir;
        }
        Ok(())
    }

    fn create_v2(&mut self, root: &Path, plan: &CgroupPlan) -> Result<(), CgroupError> {
        // Controllers are handed down level by level through cgroup.subtree_control; a
        // controller the root does not offer (or one already enabled) is simply skipped.
        let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<&str> = ["cpu", "memory", "pids"]
            .into_iter()
            .filter(|c| available.split_whitespace().any(|a| a == *c))
            .collect();
        let mut dir = root.to_path_buf();
        for comp in plan.path.components() {
            for c in &wanted {
                let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
            }
            dir = dir.join(comp);
            if !dir.exists() {
                match fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io("mkdir", &dir)(e)),
                }
            }
        }
        self.dirs.push(dir.clone());
        let r = &plan.resources;
        if let Some(m) = &r.memory {
            if let Some(l) = m.limit {
                set(&dir, "memory.max", &l.to_string())?;
                if let Some(s) = m.swap {
                    // v2 limits swap alone; the spec's value is memory plus swap.
                    let v = if s < 0 {
                        "max".to_string()
                    } else {
                        (s - l).max(0).to_string()
                    };
                    if dir.join("memory.swap.max").exists() {
                        set(&dir, "memory.swap.max", &v)?;
                    }
                }
            }
        }
        if let Some(c) = &r.cpu {
            if let Some(s) = c.shares {
                set(&dir, "cpu.weight", &shares_to_weight(s).to_string())?;
            }
            if c.quota.is_some() || c.period.is_some() {
                let q = match c.quota {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".into(),
                };
                set(
                    &dir,
                    "cpu.max",
                    &format!("{q} {}", c.period.unwrap_or(100_000)),
                )?;
            }
        }
        if let Some(p) = &r.pids {
            let v = if p.limit > 0 {
                p.limit.to_string()
            } else {
                "max".into()
            };
            set(&dir, "pids.max", &v)?;
        }
        Ok(())
    }

    /// Moves `pid` into every directory of the container.
    pub fn join(&self, pid: libc::pid_t) -> Result<(), CgroupError> {
        for d in &self.dirs {
            set(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// How many processes of this cgroup the kernel's OOM killer has killed so far (v1
    /// `memory.oom_control`, v2 `memory.events`: both count `oom_kill`).
    pub fn oom_kills(&self) -> u64 {
        let file = match self.layout {
            Layout::V2 => "memory.events",
            Layout::V1 { .. } => "memory.oom_control",
        };
        let Some(dir) = self.dirs.first() else {
            return 0;
        };
        let text = fs::read_to_string(dir.join(file)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Removes the directories (deepest first). The processes of a dead pid namespace may
    /// linger a moment as zombies, keeping a cgroup busy: retry EBUSY for up to a second.
    pub fn remove(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        for d in self.dirs.iter().rev() {
            loop {
                match fs::remove_dir(d) {
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    _ => break,
                }
            }
        }
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_plain() {
        assert_eq!(
            CgroupPlan::new("/pycore/abc", None).unwrap().path,
            PathBuf::from("pycore/abc")
        );
        for bad in ["", "/", "a/../b", "a//b", "./a"] {
            assert!(CgroupPlan::new(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_own_cgroup_is_found_in_each_layout() {
        let text = "9:name=systemd:/\n8:pids:/user.slice\n4:memory:/a/b\n0::/x/y\n";
        let root = Path::new("/sys/fs/cgroup");
        let f = |layout| procs_file_in(root, layout, text);
        assert_eq!(
            f(Layout::V2),
            Some(PathBuf::from("/sys/fs/cgroup/x/y/cgroup.procs"))
        );
        assert_eq!(
            f(Layout::V1 { unified: true }),
            Some(PathBuf::from("/sys/fs/cgroup/unified/x/y/cgroup.procs"))
        );
        assert_eq!(
            f(Layout::V1 { unified: false }),
            Some(PathBuf::from("/sys/fs/cgroup/pids/user.slice/cgroup.procs"))
        );
        let v1_memory_only = "4:memory:/a/b\n";
        assert_eq!(
            procs_file_in(root, Layout::V1 { unified: false }, v1_memory_only),
            Some(PathBuf::from("/sys/fs/cgroup/memory/a/b/cgroup.procs"))
        );
        assert_eq!(procs_file_in(root, Layout::V2, "0::/../etc\n"), None);
        assert_eq!(procs_file_in(root, Layout::V2, "4:memory:/a\n"), None);
    }

    #[test]
    fn shares_map_to_weights() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 100);
    }

    fn fake_v1(root: &Path) {
        for h in ["memory", "cpu", "pids", "cpuset"] {
            fs::create_dir_all(root.join(h)).unwrap();
            fs::write(root.join(h).join("cgroup.procs"), "").unwrap();
        }
        fs::write(root.join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        fs::write(root.join("cpuset/cpuset.mems"), "0\n").unwrap();
        fs::create_dir_all(root.join("unified")).unwrap();
        fs::write(root.join("unified/cgroup.controllers"), "").unwrap();
    }

    #[test]
    fn v1_writes_limits_in_each_hierarchy() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fake_v1(root);
        assert_eq!(Layout::detect(root), Layout::V1 { unified: true });
        let res = Resources {
            memory: Some(Memory {
                limit: Some(64 << 20),
                swap: Some(128 << 20),
            }),
            cpu: Some(Cpu {
                shares: Some(512),
                quota: Some(50_000),
                period: Some(100_000),
            }),
            pids: Some(Pids { limit: 10 }),
        };
        let plan = CgroupPlan::new("pycore/c1", Some(&res)).unwrap();
        let cg = Cgroup::create(root, &plan).unwrap();
        let read = |p: &str| fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(read("memory/pycore/c1/memory.limit_in_bytes"), "67108864");
        assert_eq!(read("cpu/pycore/c1/cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu/pycore/c1/cpu.shares"), "512");
        assert_eq!(read("pids/pycore/c1/pids.max"), "10");
        assert_eq!(read("cpuset/pycore/cpuset.cpus"), "0-1");
        assert_eq!(read("cpuset/pycore/c1/cpuset.mems"), "0");
        assert!(root.join("unified/pycore/c1").is_dir());
        assert!(cg.dirs()[0].ends_with("memory/pycore/c1"));
        fs::write(
            root.join("memory/pycore/c1/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 1);
    }

    #[test]
    fn v2_enables_controllers_and_converts() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::write(root.join("cgroup.controllers"), "cpu memory pids io\n").unwrap();
        let res = Resources {
            memory: Some(Memory {
                limit: Some(100),
                swap: Some(-1),
            }),
            cpu: Some(Cpu {
                shares: None,
                quota: Some(50_000),
                period: None,
            }),
            pids: None,
        };
        let plan = CgroupPlan::new("pycore/c2", Some(&res)).unwrap();
        fs::create_dir_all(root.join("pycore/c2")).unwrap();
        fs::write(root.join("pycore/c2/memory.swap.max"), "").unwrap();
        let cg = Cgroup::create(root, &plan).unwrap();
        let read = |p: &str| fs::read_to_string(root.join(p)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), "+pids");
        assert_eq!(read("pycore/c2/memory.max"), "100");
        assert_eq!(read("pycore/c2/memory.swap.max"), "max");
        assert_eq!(read("pycore/c2/cpu.max"), "50000 100000");
        assert_eq!(cg.oom_kills(), 0);
    }
}
