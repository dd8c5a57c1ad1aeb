//! Unpack tests over tar streams built by hand, malicious ones included. They run as root
//! (mknod, chown), as CI does.

use super::*;
use crate::layer::pack::header::{self, Meta};
use std::io::Write;
use std::path::PathBuf;

struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Self {
        Tar(Vec::new())
    }
    fn entry(self, path: &str, typeflag: u8, link: &str, data: &[u8]) -> Self {
        let mode = if typeflag == b'5' { 0o755 } else { 0o644 };
        self.entry_mode(path, typeflag, link, data, mode)
    }
    fn entry_mode(mut self, path: &str, typeflag: u8, link: &str, data: &[u8], mode: u32) -> Self {
        let m = Meta {
            path: path.as_bytes(),
            link: link.as_bytes(),
            typeflag,
            mode,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            mtime: 1_000_000,
            dev: (0, 0),
            xattrs: &[],
        };
        header::write(&mut self.0, &m).unwrap();
        self.0.extend_from_slice(data);
        header::pad(&mut self.0, data.len() as u64).unwrap();
        self
    }
    fn file(self, path: &str, data: &str) -> Self {
        self.entry(path, b'0', "", data.as_bytes())
    }
    fn dir(self, path: &str) -> Self {
        self.entry(path, b'5', "", b"")
    }
    fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(path, b'2', target, b"")
    }
    fn hardlink(self, path: &str, target: &str) -> Self {
        self.entry(path, b'1', target, b"")
    }
    fn end(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        self.0
    }
}

/// A scratch area: `outer/dest` is extracted into, `outer/sentinel` must stay untouched.
struct Scratch {
    outer: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir(outer.path().join("dest")).unwrap();
        std::fs::create_dir(outer.path().join("sentinel")).unwrap();
        std::fs::write(outer.path().join("sentinel/keep"), b"keep").unwrap();
        Scratch { outer }
    }
    fn dest(&self) -> PathBuf {
        self.outer.path().join("dest")
    }
    fn unpack_with(
        &self,
        bytes: &[u8],
        format: WhiteoutFormat,
    ) -> Result<LayerDigests, LayerError> {
        let blob = self.outer.path().join("blob");
        std::fs::write(&blob, bytes).unwrap();
        let opts = UnpackOptions {
            whiteouts: format,
            digest: None,
            size: None,
            diff_id: None,
            progress: None,
        };
        let r = unpack(&blob, &self.dest(), opts);
        std::fs::remove_file(&blob).unwrap();
        r
    }
    fn unpack(&self, bytes: &[u8]) -> Result<LayerDigests, LayerError> {
        self.unpack_with(bytes, WhiteoutFormat::Overlay)
    }
    /// Nothing appeared or changed outside `dest`.
    fn assert_contained(&self) {
        let mut names: Vec<_> = std::fs::read_dir(self.outer.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["dest", "sentinel"]);
        let sentinel: Vec<_> = std::fs::read_dir(self.outer.path().join("sentinel"))
            .unwrap()
            .collect();
        assert_eq!(sentinel.len(), 1);
        assert_eq!(
            std::fs::read(self.outer.path().join("sentinel/keep")).unwrap(),
            b"keep"
        );
    }
}

fn message(r: Result<LayerDigests, LayerError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn extracts_a_plain_tree() {
    let s = Scratch::new();
    let tar = Tar::new()
        .dir("a/")
        .file("a/f", "hello")
        .symlink("a/l", "f")
        .hardlink("a/h", "a/f")
        .end();
    let d = s.unpack(&tar).unwrap();
    assert_eq!(d.entries, 4);
    assert_eq!(d.compression, Compression::None);
    assert_eq!(d.digest, d.diff_id);
    assert_eq!(std::fs::read(s.dest().join("a/h")).unwrap(), b"hello");
    assert_eq!(
        std::fs::read_link(s.dest().join("a/l")).unwrap(),
        PathBuf::from("f")
    );
}

#[test]
fn dotdot_names_are_refused() {
    let s = Scratch::new();
    let msg = message(s.unpack(&Tar::new().file("../sentinel/keep", "evil").end()));
    assert!(msg.contains("entry \"../sentinel/keep\": refused"), "{msg}");
    let long = format!("{}/../../../sentinel/x", "d".repeat(120));
    let msg = message(s.unpack(&Tar::new().file(&long, "evil").end()));
    assert!(msg.contains("refused"), "{msg}");
    s.assert_contained();
}

#[test]
fn absolute_names_are_contained() {
    let s = Scratch::new();
    s.unpack(&Tar::new().file("/etc/x", "y").end()).unwrap();
    assert_eq!(std::fs::read(s.dest().join("etc/x")).unwrap(), b"y");
    s.assert_contained();
}

#[test]
fn writes_through_escaping_symlinks_stay_inside() {
    let s = Scratch::new();
    let sentinel = s.outer.path().join("sentinel");
    // The symlinks' targets do not exist inside dest: writing through them fails, outside
    // nothing is touched.
    let tar = Tar::new()
        .symlink("abs", sentinel.to_str().unwrap())
        .file("abs/keep", "evil")
        .end();
    let msg = message(s.unpack(&tar));
    assert!(msg.contains("entry \"abs/keep\""), "{msg}");
    s.assert_contained();
    let tar = Tar::new()
        .dir(sentinel.to_str().unwrap())
        .dir("sentinel")
        .symlink("abs", sentinel.to_str().unwrap())
        .symlink("rel", "../sentinel")
        .file("abs/keep", "evil")
        .file("rel/new", "evil")
        .symlink("keep", "../sentinel/keep")
        .file("keep", "replaced")
        .end();
    s.unpack(&tar).unwrap();
    s.assert_contained();
    // The writes landed inside dest, where the symlinks resolve when dest is the root.
    assert_eq!(
        std::fs::read(
            s.dest()
                .join(sentinel.strip_prefix("/").unwrap())
                .join("keep")
        )
        .unwrap(),
        b"evil"
    );
    assert_eq!(
        std::fs::read(s.dest().join("sentinel/new")).unwrap(),
        b"evil"
    );
    assert_eq!(std::fs::read(s.dest().join("keep")).unwrap(), b"replaced");
}

#[test]
fn hardlinks_cannot_reach_outside() {
    let s = Scratch::new();
    let msg = message(s.unpack(&Tar::new().hardlink("h", "../sentinel/keep").end()));
    assert!(msg.contains("entry \"h\": refused"), "{msg}");
    let keep = s.outer.path().join("sentinel/keep");
    let msg = message(s.unpack(&Tar::new().hardlink("h", keep.to_str().unwrap()).end()));
    assert!(msg.contains("entry \"h\""), "{msg}");
    let tar = Tar::new()
        .symlink("out", "../sentinel")
        .hardlink("h", "out/keep")
        .end();
    let msg = message(s.unpack(&tar));
    assert!(msg.contains("entry \"h\""), "{msg}");
    let msg = message(s.unpack(&Tar::new().dir("d").hardlink("h", "d").end()));
    assert!(msg.contains("hardlink to a directory"), "{msg}");
    s.assert_contained();
    assert_eq!(
        std::fs::metadata(&keep)
            .map(|m| std::os::unix::fs::MetadataExt::nlink(&m))
            .unwrap(),
        1
    );
}

#[test]
fn hostile_whiteouts_are_refused() {
    let s = Scratch::new();
    for (name, format) in [
        ("../.wh.sentinel", WhiteoutFormat::Flat),
        ("../.wh.sentinel", WhiteoutFormat::Overlay),
        (".wh..", WhiteoutFormat::Flat),
        ("a/.wh...", WhiteoutFormat::Flat),
        (".wh.", WhiteoutFormat::Overlay),
    ] {
        let msg = message(s.unpack_with(&Tar::new().file(name, "").end(), format));
        assert!(msg.contains("refused"), "{name}: {msg}");
    }
    s.assert_contained();
}

#[test]
fn flat_whiteouts_delete_only_earlier_layers() {
    let s = Scratch::new();
    let lower = Tar::new()
        .dir("d")
        .file("d/old", "1")
        .file("d/keep", "1")
        .file("gone", "1")
        .end();
    s.unpack_with(&lower, WhiteoutFormat::Flat).unwrap();
    let upper = Tar::new()
        .file("d/new", "2")
        .file("d/.wh..wh..opq", "")
        .file(".wh.gone", "")
        .file("fresh", "3")
        .file(".wh.fresh", "")
        .end();
    s.unpack_with(&upper, WhiteoutFormat::Flat).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(s.dest().join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["new"]);
    assert!(!s.dest().join("gone").exists());
    assert!(
        s.dest().join("fresh").exists(),
        "a whiteout never hides its own layer"
    );
}

#[test]
fn overlay_whiteouts_are_devices_and_xattrs() {
    let s = Scratch::new();
    s.unpack(
        &Tar::new()
            .file("a/.wh.x", "")
            .file("o/.wh..wh..opq", "")
            .end(),
    )
    .unwrap();
    let st = rustix::fs::lstat(s.dest().join("a/x")).unwrap();
    assert_eq!(
        rustix::fs::FileType::from_raw_mode(st.st_mode),
        rustix::fs::FileType::CharacterDevice
    );
    assert_eq!(st.st_rdev, 0);
    let mut v = [0u8; 2];
    let n = rustix::fs::getxattr(s.dest().join("o"), "trusted.overlay.opaque", &mut v[..]).unwrap();
    assert_eq!(&v[..n], b"y");
    assert!(!s.dest().join("a/.wh.x").exists());
}

#[test]
fn broken_streams_name_the_entry() {
    let s = Scratch::new();
    let mut tar = Tar::new()
        .file("a", "x")
        .file("big", &"y".repeat(3000))
        .end();
    tar.truncate(512 * 4);
    let msg = message(s.unpack(&tar));
    assert!(
        msg.contains("entry \"big\"") && msg.contains("truncated"),
        "{msg}"
    );
    let mut tar = Tar::new().file("a", "x").file("b", "y").end();
    tar[1024 + 10] ^= 1;
    let msg = message(s.unpack(&tar));
    assert!(
        msg.contains("bad header checksum") && msg.contains("after entry \"a\""),
        "{msg}"
    );
}

#[test]
fn corrupt_and_mismatched_blobs() {
    let s = Scratch::new();
    let tar = Tar::new().file("a", "x").end();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).unwrap();
    let mut gz = gz.finish().unwrap();
    let blob = s.outer.path().join("blob.gz");
    std::fs::write(&blob, &gz).unwrap();
    let opts = |d: Option<&str>, size| UnpackOptions {
        whiteouts: WhiteoutFormat::Overlay,
        digest: d.map(str::to_owned),
        size,
        diff_id: None,
        progress: None,
    };
    let good = unpack(&blob, &s.dest(), opts(None, None)).unwrap();
    assert_eq!(good.compression, Compression::Gzip);
    let zero = format!("sha256:{}", "0".repeat(64));
    let msg = unpack(&blob, &s.dest(), opts(Some(&zero), None))
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        format!("digest mismatch: expected {zero}, got {}", good.digest)
    );
    let msg = unpack(&blob, &s.dest(), opts(None, Some(good.size - 1)))
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("size mismatch"), "{msg}");
    let n = gz.len();
    gz[n / 2] ^= 0xff;
    gz[n / 2 + 1] ^= 0xff;
    std::fs::write(&blob, &gz).unwrap();
    let msg = unpack(&blob, &s.dest(), opts(None, None))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("corrupt gzip stream") || msg.contains("mismatch"),
        "{msg}"
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let s = Scratch::new();
    let tar = Tar::new()
        .dir("x")
        .file("x/in", "1")
        .file("x", "file now")
        .symlink("y", "x")
        .file("y", "plain")
        .end();
    s.unpack(&tar).unwrap();
    assert_eq!(std::fs::read(s.dest().join("x")).unwrap(), b"file now");
    assert!(std::fs::symlink_metadata(s.dest().join("y"))
        .unwrap()
        .is_file());
}

/// Nodes are created with their final mode and owner when open(2)/mkdir(2) give exactly that,
/// so check the cases where they do not: modes the umask cuts, setuid bits, and a setgid
/// directory handing its group to new nodes.
#[test]
fn modes_and_owners_survive_umask_and_setgid_parents() {
    use std::os::unix::fs::MetadataExt;
    let s = Scratch::new();
    std::os::unix::fs::chown(s.dest(), None, Some(4321)).unwrap();
    let setgid = std::os::unix::fs::PermissionsExt::from_mode(0o2755);
    std::fs::set_permissions(s.dest(), setgid).unwrap();
    let tar = Tar::new()
        .entry_mode("plain", b'0', "", b"x", 0o644)
        .entry_mode("writable", b'0', "", b"x", 0o666)
        .entry_mode("suid", b'0', "", b"x", 0o4755)
        .entry_mode("private", b'0', "", b"x", 0o600)
        .entry_mode("d", b'5', "", b"", 0o775)
        .entry_mode("d/f", b'0', "", b"x", 0o664)
        .symlink("l", "plain")
        .end();
    s.unpack(&tar).unwrap();
    let want = [
        ("plain", 0o644),
        ("writable", 0o666),
        ("suid", 0o4755),
        ("private", 0o600),
        ("d", 0o775),
        ("d/f", 0o664),
    ];
    for (name, mode) in want {
        let m = std::fs::symlink_metadata(s.dest().join(name)).unwrap();
        assert_eq!(m.mode() & 0o7777, mode, "{name}");
        assert_eq!((m.uid(), m.gid()), (0, 0), "{name}");
    }
    let l = std::fs::symlink_metadata(s.dest().join("l")).unwrap();
    assert_eq!((l.uid(), l.gid()), (0, 0));
}

#[test]
fn unpacks_from_a_pipe_as_it_is_written() {
    let s = Scratch::new();
    let big = "y".repeat(3 << 20);
    let tar = Tar::new().file("a", "x").file("big", &big).end();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let feed = {
        let gz = gz.clone();
        // Small writes: the unpacker sees the head (the gzip magic) in pieces too.
        std::thread::spawn(move || {
            gz.chunks(3)
                .take(10)
                .chain(gz[30..].chunks(64 << 10))
                .for_each(|c| writer.write_all(c).unwrap())
        })
    };
    let opts = UnpackOptions {
        whiteouts: WhiteoutFormat::Overlay,
        digest: None,
        size: Some(gz.len() as u64),
        diff_id: None,
        progress: None,
    };
    let file = File::from(std::os::fd::OwnedFd::from(reader));
    let d = unpack_from(file, "pipe".into(), &s.dest(), opts).unwrap();
    feed.join().unwrap();
    assert_eq!(d.compression, Compression::Gzip);
    assert_eq!(d.size, gz.len() as u64);
    assert_eq!(std::fs::read(s.dest().join("big")).unwrap(), big.as_bytes());
}
