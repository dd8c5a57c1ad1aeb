//! The container's filesystem: the overlay rootfs, mounts placed beneath the root fd, /dev,
//! masked and read-only paths and pivot_root. Plans are built before fork; the functions
//! taking a `Syscall` run in the container init and only make system calls.

// MS_* and friends are `c_ulong`: the casts to u64 matter on 32-bit targets.
#![allow(clippy::unnecessary_cast)]

pub mod detached;
pub mod options;

use crate::sys::{Errno, FdPath, SysResult, Syscall};
use std::ffi::CString;
use std::os::unix::io::RawFd;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("{0:?}: not an absolute path")]
    NotAbsolute(String),
    #[error("{0:?}: '..' is not allowed")]
    DotDot(String),
    #[error("{0:?}: contains a NUL byte")]
    Nul(String),
    #[error("{0:?}: overlay paths may not contain ':' or ','")]
    OverlayChar(String),
    #[error("overlay options for {0} layers exceed the kernel's page-size limit")]
    TooManyLayers(usize),
    #[error("overlay needs at least one lower layer")]
    NoLayers,
}

pub fn cstring(s: &str) -> Result<CString, PlanError> {
    CString::new(s).map_err(|_| PlanError::Nul(s.to_string()))
}

/// A path inside the container, prepared for creation beneath the root fd: the relative
/// path and each (parent, name) step from the root down.
#[derive(Debug)]
pub struct BeneathPath {
    pub rel: CString,
    pub parts: Vec<(Option<CString>, CString)>,
}

impl BeneathPath {
    pub fn new(abs: &str) -> Result<BeneathPath, PlanError> {
        if !abs.starts_with('/') {
            return Err(PlanError::NotAbsolute(abs.to_string()));
        }
        let comps: Vec<&str> = abs
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if comps.contains(&"..") {
            return Err(PlanError::DotDot(abs.to_string()));
        }
        let mut parts = Vec::with_capacity(comps.len());
        for i in 0..comps.len() {
            let parent = (i > 0)
                .then(|| cstring(&comps[..i].join("/")))
                .transpose()?;
            parts.push((parent, cstring(comps[i])?));
        }
        let rel = if comps.is_empty() {
            ".".to_string()
        } else {
            comps.join("/")
        };
        Ok(BeneathPath {
            rel: cstring(&rel)?,
            parts,
        })
    }
}

/// Opens `path` beneath `root` as an O_PATH fd, creating missing directories (and the last
/// component as an empty file when `file`) one component at a time, each through a parent
/// fd resolved beneath the root, so no symlink in the image can lead outside it.
pub fn ensure(sys: &dyn Syscall, root: RawFd, path: &BeneathPath, file: bool) -> SysResult<RawFd> {
    match sys.open_beneath(root, &path.rel, libc::O_PATH) {
        Err(Errno(libc::ENOENT)) => {}
        other => return other,
    }
    let last = path.parts.len().saturating_sub(1);
    for (i, (parent, name)) in path.parts.iter().enumerate() {
        let pfd = match parent {
            None => root,
            Some(p) => sys.open_beneath(root, p, libc::O_PATH | libc::O_DIRECTORY)?,
        };
        let r = if i == last && file {
            let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW;
            sys.openat(pfd, name, flags, 0o644).map(|fd| sys.close(fd))
        } else {
            sys.mkdirat(pfd, name, 0o755)
        };
        if parent.is_some() {
            sys.close(pfd);
        }
        match r {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(e),
        }
    }
    sys.open_beneath(root, &path.rel, libc::O_PATH)
}

/// The overlay rootfs: `data` is mount(2)'s option string. Lower layers are named relative
/// to `cwd` (their common parent) when that is needed to stay under the one-page limit on
/// mount options (fs/namespace.c copies at most PAGE_SIZE bytes of data).
#[derive(Debug)]
pub struct Overlay {
    pub cwd: Option<CString>,
    pub data: CString,
}

const PAGE: usize = 4096;

impl Overlay {
    /// `lowers` top first, as overlayfs takes them.
    pub fn new(lowers: &[String], upper: &str, work: &str) -> Result<Overlay, PlanError> {
        if lowers.is_empty() {
            return Err(PlanError::NoLayers);
        }
        for p in lowers.iter().map(String::as_str).chain([upper, work]) {
            if p.contains([':', ',']) {
                return Err(PlanError::OverlayChar(p.to_string()));
            }
            if !p.starts_with('/') {
                return Err(PlanError::NotAbsolute(p.to_string()));
            }
        }
        let data = |lows: &[&str]| {
            format!(
                "lowerdir={},upperdir={upper},workdir={work}",
                lows.join(":")
            )
        };
        let abs: Vec<&str> = lowers.iter().map(String::as_str).collect();
        let full = data(&abs);
        if full.len() < PAGE {
            return Ok(Overlay {
                cwd: None,
                data: cstring(&full)?,
            });
        }
        let parent = |p: &str| p.rsplit_once('/').map(|(d, _)| d.to_string());
        let common =
            parent(abs[0]).filter(|c| abs.iter().all(|p| parent(p).as_deref() == Some(c.as_str())));
        let Some(dir) = common else {
            return Err(PlanError::TooManyLayers(lowers.len()));
        };
        let rel: Vec<&str> = abs.iter().map(|p| &p[dir.len() + 1..]).collect();
        let short = data(&rel);
        if short.len() >= PAGE {
            return Err(PlanError::TooManyLayers(lowers.len()));
        }
        Ok(Overlay {
            cwd: Some(cstring(&dir)?),
            data: cstring(&short)?,
        })
    }

    /// Mounts the overlay on `target` (the container's rootfs directory, a host path).
    pub fn mount(&self, sys: &dyn Syscall, target: &std::ffi::CStr) -> SysResult<()> {
        if let Some(cwd) = &self.cwd {
            sys.chdir(cwd)?;
        }
        sys.mount(
            Some(c"overlay"),
            target,
            Some(c"overlay"),
            0,
            Some(&self.data),
        )
    }
}

/// One entry of the spec's `mounts`, ready to perform.
#[derive(Debug)]
pub struct MountStep {
    pub destination: String,
    pub target: BeneathPath,
    pub source: Option<CString>,
    pub fstype: Option<CString>,
    pub flags: u64,
    pub data: Option<CString>,
    /// Flags only a remount applies (bind mounts ignore MS_RDONLY & co. on the first call).
    pub remount: Option<u64>,
    pub propagation: u64,
    /// A bind mount of a non-directory: the mount point is created as a file.
    pub file: bool,
}

impl MountStep {
    pub fn new(
        destination: &str,
        kind: Option<&str>,
        source: Option<&str>,
        opts: &[String],
    ) -> Result<MountStep, PlanError> {
        let o = options::parse(opts);
        let is_bind = o.bind || kind == Some("bind");
        let file =
            is_bind && source.is_some_and(|s| std::fs::metadata(s).is_ok_and(|m| !m.is_dir()));
        let remount_bits = o.flags & options::REMOUNT_FLAGS;
        let (flags, remount) = if is_bind {
            let flags = (o.flags & !options::REMOUNT_FLAGS) | libc::MS_BIND as u64;
            (flags, (remount_bits != 0).then_some(remount_bits))
        } else {
            (o.flags, None)
        };
        let data = (!o.data.is_empty())
            .then(|| cstring(&o.data.join(",")))
            .transpose()?;
        Ok(MountStep {
            destination: destination.to_string(),
            target: BeneathPath::new(destination)?,
            source: source.map(cstring).transpose()?,
            fstype: if is_bind {
                None
            } else {
                kind.map(cstring).transpose()?
            },
            flags,
            data,
            remount,
            propagation: o.propagation,
            file,
        })
    }

    fn is_sysfs(&self) -> bool {
        self.fstype.as_deref() == Some(c"sysfs")
    }

    /// Performs the mount beneath `root`. `own_netns`: without a new network namespace the
    /// kernel refuses a fresh sysfs, so the host's /sys is bind-mounted instead (as runc does).
    pub fn apply(&self, sys: &dyn Syscall, root: RawFd, own_netns: bool) -> SysResult<()> {
        let fd = ensure(sys, root, &self.target, self.file)?;
        let path = FdPath::new(fd);
        let mut remount = self.remount;
        let mut r = sys.mount(
            self.source.as_deref(),
            path.as_cstr(),
            self.fstype.as_deref(),
            self.flags,
            self.data.as_deref(),
        );
        if r == Err(Errno(libc::EPERM)) && self.is_sysfs() && !own_netns {
            let bind = (libc::MS_BIND | libc::MS_REC) as u64;
            r = sys.mount(Some(c"/sys"), path.as_cstr(), None, bind, None);
            remount = Some(self.flags & options::REMOUNT_FLAGS);
        }
        sys.close(fd);
        r?;
        if remount.is_none() && self.propagation == 0 {
            return Ok(());
        }
        // The fd above names the directory under the new mount: reopen to reach the mount.
        let fd = sys.open_beneath(root, &self.target.rel, libc::O_PATH)?;
        let path = FdPath::new(fd);
        let mut r = Ok(());
        if let Some(bits) = remount {
            let f = bits | (libc::MS_BIND | libc::MS_REMOUNT) as u64;
            r = sys.mount(None, path.as_cstr(), None, f, None);
        }
        if r.is_ok() && self.propagation != 0 {
            r = sys.mount(None, path.as_cstr(), None, self.propagation, None);
        }
        sys.close(fd);
        r
    }
}

/// A device node to create in the container's /dev.
#[derive(Debug)]
pub struct DeviceNode {
    pub path: BeneathPath,
    pub mode: u32,
    pub dev: u64,
}

/// The devices every container has (runtime-spec config-linux.md, "Default Devices").
pub const DEFAULT_DEVICES: &[(&str, u32, u32)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The symlinks of a standard /dev (target, name in /dev).
pub const DEV_SYMLINKS: &[(&std::ffi::CStr, &std::ffi::CStr)] = &[
    (c"/proc/self/fd", c"fd"),
    (c"/proc/self/fd/0", c"stdin"),
    (c"/proc/self/fd/1", c"stdout"),
    (c"/proc/self/fd/2", c"stderr"),
    (c"pts/ptmx", c"ptmx"),
    (c"/proc/kcore", c"core"),
];

impl DeviceNode {
    pub fn new(
        path: &str,
        kind: &str,
        major: u32,
        minor: u32,
        perm: u32,
    ) -> Result<DeviceNode, PlanError> {
        let fmt = match kind {
            "b" => libc::S_IFBLK,
            "p" => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        Ok(DeviceNode {
            path: BeneathPath::new(path)?,
            mode: fmt | (perm & 0o7777),
            dev: libc::makedev(major, minor),
        })
    }

    pub fn create(&self, sys: &dyn Syscall, root: RawFd) -> SysResult<()> {
        let Some((parent, name)) = self.path.parts.last() else {
            return Err(Errno(libc::EINVAL));
        };
        let pfd = match parent {
            Some(p) => {
                let bp = BeneathPath::new_from_rel(p);
                let fd = ensure(sys, root, &bp, false)?;
                sys.close(fd);
                sys.open_beneath(root, p, libc::O_PATH | libc::O_DIRECTORY)?
            }
            None => root,
        };
        let r = match sys.mknodat(pfd, name, self.mode, self.dev) {
            Err(Errno(libc::EEXIST)) => Ok(()),
            other => other,
        };
        if parent.is_some() {
            sys.close(pfd);
        }
        r
    }
}

impl BeneathPath {
    /// The path of an already-prepared parent; used only to create it if missing. Falls back
    /// to the root when the string is not valid (it always is: it came from `new`).
    fn new_from_rel(rel: &std::ffi::CStr) -> BeneathPath {
        let s = format!("/{}", rel.to_string_lossy());
        BeneathPath::new(&s).unwrap_or(BeneathPath {
            rel: c".".into(),
            parts: vec![],
        })
    }
}

/// Creates the standard /dev symlinks in `root`/dev (ignoring ones that exist).
pub fn dev_symlinks(sys: &dyn Syscall, root: RawFd) -> SysResult<()> {
    let dev = sys.open_beneath(root, c"dev", libc::O_PATH | libc::O_DIRECTORY)?;
    let mut r = Ok(());
    for (target, name) in DEV_SYMLINKS {
        match sys.symlinkat(target, dev, name) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => {
                r = Err(e);
                break;
            }
        }
    }
    sys.close(dev);
    r
}

/// pivot_root(".", ".") then detaching the old root stacked under the new one: the trick
/// pivot_root(2) documents, which needs no directory for the old root inside the rootfs.
pub fn pivot_root(sys: &dyn Syscall, root: RawFd) -> SysResult<()> {
    sys.fchdir(root)?;
    sys.pivot_root(c".", c".")?;
    // Keep the unmount of the old root from propagating anywhere.
    sys.mount(
        None,
        c".",
        None,
        (libc::MS_SLAVE | libc::MS_REC) as u64,
        None,
    )?;
    sys.umount2(c".", libc::MNT_DETACH)?;
    sys.chdir(c"/")
}

/// Hides a path (after pivot_root): /dev/null over a file, an empty read-only tmpfs over a
/// directory; a missing path is fine.
pub fn mask(sys: &dyn Syscall, path: &std::ffi::CStr) -> SysResult<()> {
    match sys.mount(Some(c"/dev/null"), path, None, libc::MS_BIND as u64, None) {
        Ok(()) | Err(Errno(libc::ENOENT)) => Ok(()),
        Err(Errno(libc::ENOTDIR)) => sys.mount(
            Some(c"tmpfs"),
            path,
            Some(c"tmpfs"),
            libc::MS_RDONLY as u64,
            None,
        ),
        Err(e) => Err(e),
    }
}

/// Makes a path read-only (after pivot_root) with a bind mount onto itself and a remount.
pub fn make_readonly(sys: &dyn Syscall, path: &std::ffi::CStr) -> SysResult<()> {
    match sys.mount(
        Some(path),
        path,
        None,
        (libc::MS_BIND | libc::MS_REC) as u64,
        None,
    ) {
        Err(Errno(libc::ENOENT)) => return Ok(()),
        other => other?,
    }
    let flags = libc::MS_BIND
        | libc::MS_REMOUNT
        | libc::MS_RDONLY
        | libc::MS_NOSUID
        | libc::MS_NODEV
        | libc::MS_NOEXEC;
    sys.mount(None, path, None, flags as u64, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::Recorder;

    #[test]
    fn beneath_paths() {
        let p = BeneathPath::new("/dev//pts/").unwrap();
        assert_eq!(p.rel.to_str().unwrap(), "dev/pts");
        assert_eq!(p.parts.len(), 2);
        assert_eq!(p.parts[1].0.as_deref(), Some(c"dev"));
        assert!(BeneathPath::new("/a/../b").is_err());
        assert!(BeneathPath::new("rel").is_err());
        assert_eq!(BeneathPath::new("/").unwrap().rel.to_str().unwrap(), ".");
    }

    #[test]
    fn overlay_short_and_relative() {
        let o = Overlay::new(&["/l/a".into(), "/l/b".into()], "/c/u", "/c/w").unwrap();
        assert_eq!(
            o.data.to_str().unwrap(),
            "lowerdir=/l/a:/l/b,upperdir=/c/u,workdir=/c/w"
        );
        assert!(o.cwd.is_none());
        let many: Vec<String> = (0..50)
            .map(|i| format!("/var/lib/pycore/layers/{i:064x}"))
            .collect();
        let o = Overlay::new(&many, "/c/u", "/c/w").unwrap();
        assert_eq!(o.cwd.as_deref(), Some(c"/var/lib/pycore/layers"));
        assert!(o
            .data
            .to_str()
            .unwrap()
            .starts_with(&format!("lowerdir={:064x}:", 0)));
        let too_many: Vec<String> = (0..70)
            .map(|i| format!("/var/lib/pycore/layers/{i:064x}"))
            .collect();
        assert_eq!(
            Overlay::new(&too_many, "/u", "/w").unwrap_err(),
            PlanError::TooManyLayers(70)
        );
        assert!(Overlay::new(&["/a:b".into()], "/u", "/w").is_err());
    }

    #[test]
    fn ensure_creates_missing_components_beneath_the_root() {
        let sys = Recorder::new();
        sys.fail_on("open_beneath 3 a/b", libc::ENOENT);
        let fd = ensure(&sys, 3, &BeneathPath::new("/a/b").unwrap(), false).unwrap();
        assert_eq!(fd, 11);
        assert_eq!(
            sys.calls(),
            [
                "open_beneath 3 a/b",
                "mkdirat 3 a 755",
                "open_beneath 3 a",
                "mkdirat 10 b 755",
                "close 10",
                "open_beneath 3 a/b",
            ]
        );
    }

    #[test]
    fn read_only_bind_is_remounted_through_a_fresh_fd() {
        let sys = Recorder::new();
        let step = MountStep::new(
            "/data",
            Some("bind"),
            Some("/nonexistent-src"),
            &["rbind".into(), "ro".into()],
        )
        .unwrap();
        assert_eq!(step.remount, Some(libc::MS_RDONLY as u64));
        step.apply(&sys, 3, true).unwrap();
        let calls = sys.calls();
        assert_eq!(
            calls[1],
            format!(
                "mount /nonexistent-src /proc/self/fd/10 - {:#x} -",
                libc::MS_BIND | libc::MS_REC
            )
        );
        assert_eq!(calls[3], "open_beneath 3 data");
        assert_eq!(
            calls[4],
            format!(
                "mount - /proc/self/fd/11 - {:#x} -",
                libc::MS_RDONLY | libc::MS_BIND | libc::MS_REMOUNT
            )
        );
    }

    #[test]
    fn sysfs_falls_back_to_a_bind_without_a_netns() {
        let sys = Recorder::new();
        sys.fail_on("mount sysfs", libc::EPERM);
        let step = MountStep::new(
            "/sys",
            Some("sysfs"),
            Some("sysfs"),
            &["ro".into(), "nosuid".into()],
        )
        .unwrap();
        step.apply(&sys, 3, false).unwrap();
        let calls = sys.calls();
        assert!(
            calls[2].starts_with("mount /sys /proc/self/fd/10 - "),
            "{calls:?}"
        );
        assert!(
            calls[calls.len() - 2].starts_with("mount - /proc/self/fd/11"),
            "{calls:?}"
        );
    }

    #[test]
    fn masking_a_directory_uses_tmpfs() {
        let sys = Recorder::new();
        sys.fail_on("mount /dev/null /proc/acpi", libc::ENOTDIR);
        mask(&sys, c"/proc/acpi").unwrap();
        assert_eq!(sys.calls()[1], "mount tmpfs /proc/acpi tmpfs 0x1 -");
        sys.fail_on("mount /dev/null /nope", libc::ENOENT);
        mask(&sys, c"/nope").unwrap();
    }
}
