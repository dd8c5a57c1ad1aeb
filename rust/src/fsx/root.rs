//! `Root`: a directory fd that every untrusted path is resolved beneath.

use super::fallback::resolve_in_root;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Flags for directories we open to create entries in (never the entries themselves).
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// An open directory standing in for `/` for every path resolved through it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// Cleared the first time `openat2` answers ENOSYS; then the fallback walk is used.
    openat2: AtomicBool,
}

impl Root {
    /// Opens `path` (trusted, chosen by the caller) as the root directory.
    pub fn open(path: &Path) -> Result<Root, Errno> {
        let fd = fs::open(path, DIR_FLAGS, Mode::empty())?;
        Ok(Root {
            fd,
            openat2: AtomicBool::new(true),
        })
    }

    /// Forces the component-wise fallback, as on a kernel without `openat2` (tests).
    pub fn without_openat2(self) -> Root {
        self.openat2.store(false, Ordering::Relaxed);
        self
    }

    /// The root directory fd itself.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the directory at `rel` (components, none of them `..`-escaping: resolution is
    /// clamped at the root anyway), following symlinks only within the root.
    pub fn open_dir(&self, rel: &[u8]) -> Result<OwnedFd, Errno> {
        if rel.is_empty() {
            return fs::openat(&self.fd, c".", DIR_FLAGS, Mode::empty());
        }
        if self.openat2.load(Ordering::Relaxed) {
            match self.openat2_dir(rel) {
                Err(Errno::NOSYS) => self.openat2.store(false, Ordering::Relaxed),
                other => return other,
            }
        }
        resolve_in_root(self.fd.as_fd(), rel)
    }

    /// Opens the directory at `rel` like `open_dir`, but never through a final symlink
    /// (ELOOP or ENOTDIR then): the directory that was created under that name, not what a
    /// later entry may have put in its place.
    pub fn open_dir_nofollow(&self, rel: &[u8]) -> Result<OwnedFd, Errno> {
        if rel.is_empty() {
            return self.open_dir(rel);
        }
        if self.openat2.load(Ordering::Relaxed) {
            match self.openat2_with(rel, DIR_FLAGS | OFlags::NOFOLLOW) {
                Err(Errno::NOSYS) => self.openat2.store(false, Ordering::Relaxed),
                other => return other,
            }
        }
        let (parent, base) = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&b""[..], rel),
        };
        let p = self.open_dir(parent)?;
        fs::openat(&p, base, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())
    }

    fn openat2_dir(&self, rel: &[u8]) -> Result<OwnedFd, Errno> {
        self.openat2_with(rel, DIR_FLAGS)
    }

    fn openat2_with(&self, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        // EAGAIN: a concurrent rename raced the `..` check (openat2(2), RESOLVE_IN_ROOT).
        let mut tries = 0;
        loop {
            match fs::openat2(&self.fd, rel, flags, Mode::empty(), how) {
                Err(Errno::AGAIN) if tries < 8 => tries += 1,
                other => return other,
            }
        }
    }

    /// Opens the directory `rel`, creating missing components (mode 0755, owned by the
    /// caller) one by one, each inside the directory resolved for its parent.
    pub fn make_dirs(&self, rel: &[u8]) -> Result<OwnedFd, Errno> {
        match self.open_dir(rel) {
            Err(Errno::NOENT) => {}
            other => return other,
        }
        let mut cur = self.open_dir(b"")?;
        let mut end = 0;
        for comp in rel.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            end += comp.len() + usize::from(end != 0);
            let prefix = &rel[..end.min(rel.len())];
            cur = match self.open_dir(prefix) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => create_one(&cur, comp)?,
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }
}

/// Creates `name` in `parent` and opens it without following a symlink. EEXIST here means
/// the name is a dangling symlink (it did not resolve a moment ago): reported as ENOENT.
fn create_one(parent: &OwnedFd, name: &[u8]) -> Result<OwnedFd, Errno> {
    match fs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Err(Errno::NOENT),
        Err(e) => return Err(e),
    }
    fs::openat(parent, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn roots(dir: &Path) -> [Root; 2] {
        [
            Root::open(dir).unwrap(),
            Root::open(dir).unwrap().without_openat2(),
        ]
    }

    #[test]
    fn symlinks_are_clamped_at_the_root() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        symlink("/", root.join("abs")).unwrap();
        symlink("../../..", root.join("rel")).unwrap();
        symlink("real", root.join("inner")).unwrap();
        for r in roots(&root) {
            for p in [
                &b"abs/real"[..],
                b"rel/real",
                b"inner",
                b"../real",
                b"abs/../../real",
            ] {
                let fd = r.open_dir(p).unwrap();
                let st = fs::fstat(&fd).unwrap();
                let want = std::fs::metadata(root.join("real")).unwrap();
                assert_eq!(
                    st.st_ino,
                    std::os::unix::fs::MetadataExt::ino(&want),
                    "{p:?}"
                );
            }
        }
    }

    #[test]
    fn make_dirs_creates_through_inner_symlinks() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("usr")).unwrap();
        symlink("/usr", root.join("lib")).unwrap();
        for (i, r) in roots(&root).into_iter().enumerate() {
            let p = format!("lib/x{i}/y");
            r.make_dirs(p.as_bytes()).unwrap();
            assert!(root.join(format!("usr/x{i}/y")).is_dir());
        }
        symlink("/nowhere", root.join("dangling")).unwrap();
        for r in roots(&root) {
            assert_eq!(r.make_dirs(b"dangling/a").unwrap_err(), Errno::NOENT);
        }
        assert!(!outer.path().join("nowhere").exists());
    }

    #[test]
    fn nofollow_refuses_a_final_symlink_only() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outer.path().join("real/sub")).unwrap();
        symlink("real", outer.path().join("link")).unwrap();
        for r in roots(outer.path()) {
            assert!(r.open_dir_nofollow(b"real/sub").is_ok());
            assert!(r.open_dir_nofollow(b"link/sub").is_ok());
            let err = r.open_dir_nofollow(b"link").unwrap_err();
            assert!(matches!(err, Errno::LOOP | Errno::NOTDIR), "{err:?}");
        }
    }

    #[test]
    fn symlink_loops_fail() {
        let outer = tempfile::tempdir().unwrap();
        symlink("b", outer.path().join("a")).unwrap();
        symlink("a", outer.path().join("b")).unwrap();
        for r in roots(outer.path()) {
            assert_eq!(r.open_dir(b"a/x").unwrap_err(), Errno::LOOP);
        }
    }
}
