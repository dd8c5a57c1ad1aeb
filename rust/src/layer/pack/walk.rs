//! Walks a directory tree in name order (never following symlinks) and writes each entry.

use super::header::{self, Meta};
use crate::layer::error::LayerError;
use crate::layer::name;
use crate::layer::xattr;
use crate::layer::Xattrs;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, Dir, FileType, Mode, OFlags, SeekFrom, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::io::Write;

const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
const FILE: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Walk state: where tar bytes go and which inodes were already written.
pub struct Walker<'w> {
    pub out: &'w mut dyn Write,
    pub out_name: String,
    /// (dev, ino) of multiply-linked inodes to the path first written for them.
    links: HashMap<(u64, u64), Vec<u8>>,
    pub entries: u64,
    buf: Vec<u8>,
}

fn fs_err(path: &[u8], op: &'static str, errno: Errno) -> LayerError {
    LayerError::fs(path, op, path, errno)
}

impl<'w> Walker<'w> {
    pub fn new(out: &'w mut dyn Write, out_name: String) -> Self {
        Walker {
            out,
            out_name,
            links: HashMap::new(),
            entries: 0,
            buf: vec![0u8; 1 << 20],
        }
    }

    fn emit(&mut self, m: &Meta<'_>) -> Result<(), LayerError> {
        self.entries += 1;
        header::write(self.out, m).map_err(|e| self.write_err(e))
    }

    fn write_err(&self, source: std::io::Error) -> LayerError {
        LayerError::Io {
            op: "write",
            path: self.out_name.clone(),
            source,
        }
    }

    /// Writes every entry below the directory `dir` (whose path is `rel`; empty for the root).
    pub fn dir(&mut self, dir: BorrowedFd<'_>, rel: &[u8]) -> Result<(), LayerError> {
        if rel.is_empty() && is_opaque(dir) {
            self.whiteout(b".wh..wh..opq", 0)?;
        }
        for child in sorted_names(dir).map_err(|e| fs_err(rel, "readdir", e))? {
            let path = name::join(rel, &child);
            let st = fs::statat(dir, child.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fs_err(&path, "stat", e))?;
            self.entry(dir, &child, &path, &st)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        dir: BorrowedFd<'_>,
        child: &[u8],
        path: &[u8],
        st: &Stat,
    ) -> Result<(), LayerError> {
        let ty = FileType::from_raw_mode(st.st_mode);
        let whiteout = ty == FileType::CharacterDevice && st.st_rdev == 0;
        if whiteout {
            let (parent, base) = name::split(path);
            let mut wh = b".wh.".to_vec();
            wh.extend_from_slice(base);
            return self.whiteout(&name::join(parent, &wh), st.st_mtime);
        }
        if ty == FileType::Socket {
            return Ok(()); // sockets cannot travel in a tar
        }
        if ty != FileType::Directory && st.st_nlink > 1 && self.hardlink(path, st)? {
            return Ok(());
        }
        match ty {
            FileType::Directory => self.directory(dir, child, path, st),
            FileType::RegularFile => self.file(dir, child, path, st),
            FileType::Symlink => {
                let target = fs::readlinkat(dir, child, Vec::new())
                    .map_err(|e| fs_err(path, "readlink", e))?;
                self.emit(&meta(path, target.as_bytes(), b'2', st, &[]))
            }
            FileType::CharacterDevice => self.emit(&meta(path, b"", b'3', st, &[])),
            FileType::BlockDevice => self.emit(&meta(path, b"", b'4', st, &[])),
            _ => self.emit(&meta(path, b"", b'6', st, &[])),
        }
    }

    /// Emits a link entry if this inode was written before; else remembers it.
    fn hardlink(&mut self, path: &[u8], st: &Stat) -> Result<bool, LayerError> {
        let key = (st.st_dev, st.st_ino);
        if let Some(first) = self.links.get(&key).cloned() {
            let mut m = meta(path, &first, b'1', st, &[]);
            m.size = 0;
            self.emit(&m)?;
            return Ok(true);
        }
        self.links.insert(key, path.to_vec());
        Ok(false)
    }

    fn whiteout(&mut self, path: &[u8], _mtime: i64) -> Result<(), LayerError> {
        // Whiteouts carry no metadata worth keeping; fixed values keep packing deterministic.
        let m = Meta {
            path,
            link: b"",
            typeflag: b'0',
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            dev: (0, 0),
            xattrs: &[],
        };
        self.emit(&m)
    }

    fn directory(
        &mut self,
        dir: BorrowedFd<'_>,
        child: &[u8],
        path: &[u8],
        st: &Stat,
    ) -> Result<(), LayerError> {
        let fd = fs::openat(dir, child, DIR, Mode::empty()).map_err(|e| fs_err(path, "open", e))?;
        let xattrs = list_xattrs(fd.as_fd()).map_err(|e| fs_err(path, "listxattr", e))?;
        let mut name = path.to_vec();
        name.push(b'/');
        self.emit(&meta(&name, b"", b'5', st, &xattrs))?;
        if is_opaque(fd.as_fd()) {
            self.whiteout(&name::join(path, b".wh..wh..opq"), 0)?;
        }
        self.dir(fd.as_fd(), path)
    }

    fn file(
        &mut self,
        dir: BorrowedFd<'_>,
        child: &[u8],
        path: &[u8],
        st: &Stat,
    ) -> Result<(), LayerError> {
        let fd =
            fs::openat(dir, child, FILE, Mode::empty()).map_err(|e| fs_err(path, "open", e))?;
        let xattrs = list_xattrs(fd.as_fd()).map_err(|e| fs_err(path, "listxattr", e))?;
        self.emit(&meta(path, b"", b'0', st, &xattrs))?;
        let size = st.st_size as u64;
        self.data(&fd, path, size)?;
        header::pad(self.out, size).map_err(|e| self.write_err(e))
    }

    /// Copies `size` bytes of the file; holes (SEEK_HOLE) are written as zeros unread.
    fn data(&mut self, fd: &OwnedFd, path: &[u8], size: u64) -> Result<(), LayerError> {
        let mut off = 0u64;
        while off < size {
            let data_at = match fs::seek(fd, SeekFrom::Data(off)) {
                Ok(d) => d.min(size),
                Err(Errno::NXIO) => size,
                Err(e) => return Err(fs_err(path, "lseek", e)),
            };
            self.zeros(data_at - off)?;
            off = data_at;
            if off >= size {
                break;
            }
            let hole_at = fs::seek(fd, SeekFrom::Hole(off))
                .map_err(|e| fs_err(path, "lseek", e))?
                .min(size);
            while off < hole_at {
                let want = ((hole_at - off) as usize).min(self.buf.len());
                let n = rustix::io::pread(fd, &mut self.buf[..want], off)
                    .map_err(|e| fs_err(path, "read", e))?;
                if n == 0 {
                    return Err(fs_err(path, "read (file shrank while packing)", Errno::IO));
                }
                self.out
                    .write_all(&self.buf[..n])
                    .map_err(|e| self.write_err(e))?;
                off += n as u64;
            }
        }
        Ok(())
    }

    fn zeros(&mut self, mut n: u64) -> Result<(), LayerError> {
        static ZEROS: [u8; 64 << 10] = [0u8; 64 << 10];
        while n > 0 {
            let k = n.min(ZEROS.len() as u64) as usize;
            self.out
                .write_all(&ZEROS[..k])
                .map_err(|e| self.write_err(e))?;
            n -= k as u64;
        }
        Ok(())
    }
}

fn meta<'a>(
    path: &'a [u8],
    link: &'a [u8],
    typeflag: u8,
    st: &Stat,
    xattrs: &'a [(Vec<u8>, Vec<u8>)],
) -> Meta<'a> {
    Meta {
        path,
        link,
        typeflag,
        mode: st.st_mode & 0o7777,
        uid: u64::from(st.st_uid),
        gid: u64::from(st.st_gid),
        size: if typeflag == b'0' {
            st.st_size as u64
        } else {
            0
        },
        mtime: st.st_mtime,
        dev: (fs::major(st.st_rdev), fs::minor(st.st_rdev)),
        xattrs,
    }
}

/// Entry names of `dir` sorted by bytes.
fn sorted_names(dir: BorrowedFd<'_>) -> Result<Vec<Vec<u8>>, Errno> {
    let mut names = Vec::new();
    let mut d = Dir::read_from(dir)?;
    while let Some(ent) = d.read() {
        let n = ent?.file_name().to_bytes().to_vec();
        if n != b"." && n != b".." {
            names.push(n);
        }
    }
    names.sort_unstable();
    Ok(names)
}

fn is_opaque(fd: BorrowedFd<'_>) -> bool {
    let mut v = [0u8; 4];
    matches!(fs::fgetxattr(fd, xattr::OVERLAY_OPAQUE, &mut v[..]), Ok(1) if v[0] == b'y')
}

/// The xattrs the policy lets travel, sorted by name.
fn list_xattrs(fd: BorrowedFd<'_>) -> Result<Xattrs, Errno> {
    let len = match fs::flistxattr_query(fd) {
        Ok(0) | Err(Errno::NOTSUP) => return Ok(Vec::new()),
        Ok(n) => n,
        Err(e) => return Err(e),
    };
    let mut names = vec![0u8; len];
    let n = fs::flistxattr(fd, &mut names[..])?;
    let mut out = Vec::new();
    for name in names[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty() && xattr::allowed(n))
    {
        let vlen = fs::fgetxattr_query(fd, name)?;
        let mut value = vec![0u8; vlen];
        let got = fs::fgetxattr(fd, name, &mut value[..])?;
        value.truncate(got);
        out.push((name.to_vec(), value));
    }
    out.sort();
    Ok(out)
}
