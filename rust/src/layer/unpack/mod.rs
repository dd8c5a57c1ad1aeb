//! `unpack`: verify and extract one layer blob into a directory, one streaming pass.
//! One file per entry type; this one drives the pass and owns the extraction state.

mod dir;
mod file;
mod link;
mod meta;
mod node;
mod parent;
mod replace;
#[cfg(test)]
mod tests;
mod whiteout;

use super::error::{EntryError, LayerError, MismatchKind};
use super::name;
use super::stream::{self, Source, TarStream};
use super::tar::{self, Entry, Kind};
use super::{Compression, LayerDigests};
use crate::fsx::Root;
use parent::{Creator, Parent};
use rustix::io::Errno;
use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

/// How OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutFormat {
    /// As overlayfs expects them in a lower dir: NAME becomes a 0:0 character device, an opaque
    /// directory gets `trusted.overlay.opaque=y`.
    Overlay,
    /// Applied to `dest` itself: NAME is deleted, an opaque directory loses what earlier
    /// layers put there.
    Flat,
}

/// What the caller announced and wants to hear.
pub struct UnpackOptions<'a> {
    pub whiteouts: WhiteoutFormat,
    /// Expected `sha256:<hex>` of the blob.
    pub digest: Option<String>,
    /// Expected blob size in bytes; checked as the stream is read.
    pub size: Option<u64>,
    /// Expected `sha256:<hex>` of the tar.
    pub diff_id: Option<String>,
    /// Called with the compressed bytes read so far, at most every 4 MiB; false aborts.
    pub progress: Option<&'a mut dyn FnMut(u64) -> bool>,
}

/// Extracts the layer at `blob` into the existing directory `dest`, verifying what `opts`
/// announces. On error, `dest` holds a partial tree for the caller to discard.
pub fn unpack(
    blob: &Path,
    dest: &Path,
    opts: UnpackOptions<'_>,
) -> Result<LayerDigests, LayerError> {
    let name = blob.display().to_string();
    let file = File::open(blob).map_err(|source| LayerError::Io {
        op: "open",
        path: name.clone(),
        source,
    })?;
    unpack_from(file, name, dest, opts)
}

/// As `unpack`, reading the blob from `file` (from its current position to EOF: a pipe
/// works, so a download can be extracted as it arrives); `name` is the blob in messages.
pub fn unpack_from(
    mut file: File,
    name: String,
    dest: &Path,
    opts: UnpackOptions<'_>,
) -> Result<LayerDigests, LayerError> {
    for d in [&opts.digest, &opts.diff_id].into_iter().flatten() {
        if !d.starts_with("sha256:") {
            return Err(LayerError::Invalid(format!(
                "unsupported digest {d:?}: only sha256"
            )));
        }
    }
    // Sniffed by reading, not `pread`, which a pipe refuses; the head goes down the pipeline.
    let head = read_head(&mut file).map_err(|source| LayerError::Io {
        op: "read",
        path: name.clone(),
        source,
    })?;
    let compression = Compression::sniff(&head);
    let root = Root::open(dest)
        .map_err(|e| crate::fsx::FsError::new("open", dest.as_os_str().as_encoded_bytes(), e))?;
    let pipe = stream::spawn(file, head, compression, opts.size, name)?;
    let mut src = TarStream::new(pipe.chunks, pipe.recycle, opts.progress);
    let mut x = Extractor::new(&root, opts.whiteouts);
    let run = x.run(&mut src).and_then(|()| src.drain());
    drop(src);
    let stored = pipe.threads.join();
    run?;
    let stored = stored?;
    x.finish_dirs()?;
    let digests = LayerDigests {
        diff_id: stored.diff_id,
        digest: stored.digest,
        size: stored.size,
        compression,
        entries: x.entries,
    };
    verify(&digests, &opts.digest, opts.size, &opts.diff_id)?;
    Ok(digests)
}

/// The first bytes of the blob (fewer only when it is shorter), enough to sniff compression.
fn read_head(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut head = vec![0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

fn verify(
    got: &LayerDigests,
    digest: &Option<String>,
    size: Option<u64>,
    diff_id: &Option<String>,
) -> Result<(), LayerError> {
    let mismatch = |kind, expected: String, actual: String| {
        Err(LayerError::Mismatch {
            kind,
            expected,
            actual,
        })
    };
    if let Some(s) = size.filter(|&s| s != got.size) {
        return mismatch(MismatchKind::Size, s.to_string(), got.size.to_string());
    }
    if let Some(d) = digest.as_ref().filter(|d| **d != got.digest) {
        return mismatch(MismatchKind::Digest, d.clone(), got.digest.clone());
    }
    if let Some(d) = diff_id.as_ref().filter(|d| **d != got.diff_id) {
        return mismatch(MismatchKind::DiffId, d.clone(), got.diff_id.clone());
    }
    Ok(())
}

/// A directory whose mode and mtime are applied after every entry (so read-only directories
/// can be filled, and adding children does not disturb the recorded mtime).
struct DeferredDir {
    path: Vec<u8>,
    mode: u32,
    mtime: (i64, u32),
}

/// The state of one extraction.
pub(crate) struct Extractor<'r> {
    root: &'r Root,
    format: WhiteoutFormat,
    /// Paths this layer wrote, with their ancestors: whiteouts only hide earlier layers.
    written: HashSet<Box<[u8]>>,
    dirs: Vec<DeferredDir>,
    /// The last parent directories opened, by path, most recent last (tar streams visit a
    /// directory, its subdirectories, then go back to it); dropped whenever anything is removed.
    parents: Vec<(Vec<u8>, Rc<Parent>)>,
    /// Whether to apply ownership (only root can).
    chown: bool,
    creator: Creator,
    entries: u64,
}

/// Parent directories kept open by `Extractor::parent`.
const PARENTS: usize = 8;

impl<'r> Extractor<'r> {
    fn new(root: &'r Root, format: WhiteoutFormat) -> Self {
        Extractor {
            root,
            format,
            written: HashSet::new(),
            dirs: Vec::new(),
            parents: Vec::with_capacity(PARENTS),
            chown: rustix::process::geteuid().is_root(),
            creator: Creator::current(),
            entries: 0,
        }
    }

    fn run(&mut self, src: &mut dyn Source) -> Result<(), LayerError> {
        let mut last: Vec<u8> = Vec::new();
        loop {
            let entry = match tar::next_entry(src) {
                Ok(Some(e)) => e,
                Ok(None) => return Ok(()),
                Err(e) => return Err(after(e, &last)),
            };
            self.entries += 1;
            self.extract(src, &entry)
                .map_err(|e| within(e, &entry.unsafe_name))?;
            last = entry.unsafe_name;
        }
    }

    fn extract(&mut self, src: &mut dyn Source, e: &Entry) -> Result<(), LayerError> {
        let refuse = |why| LayerError::refused(&e.unsafe_name, why);
        let path = name::clean(&e.unsafe_name).map_err(refuse)?;
        let (parent, base) = name::split(&path);
        if parent.split(|&b| b == b'/').any(|c| c.starts_with(b".wh.")) {
            return Err(refuse("a whiteout name used as a directory"));
        }
        // File data is consumed by `file::write`; any other entry's data is skipped.
        let mut skip = e.size;
        if base.starts_with(b".wh.") {
            whiteout::apply(self, e, parent, base)?;
        } else if path.is_empty() {
            if e.kind != Kind::Dir {
                return Err(refuse("a non-directory entry for the root"));
            }
            dir::root(self, e);
        } else {
            match e.kind {
                Kind::File => {
                    file::write(self, src, e, parent, base)?;
                    skip = 0;
                }
                Kind::Dir => dir::make(self, e, &path)?,
                Kind::Symlink => link::symlink(self, e, parent, base)?,
                Kind::Hardlink => link::hardlink(self, e, parent, base)?,
                Kind::Char | Kind::Block | Kind::Fifo => node::make(self, e, parent, base)?,
            }
            self.mark_written(&path);
        }
        src.skip(skip + tar::padding(e.size))
    }

    /// The parent directory `rel`, created (0755) where missing, resolved beneath the root.
    ///
    /// A cached fd stays valid while nothing is removed or replaced: creating a new name
    /// cannot change how an existing path resolves, as every component of a cached path
    /// existed when it was resolved.
    fn parent(&mut self, e: &Entry, rel: &[u8]) -> Result<Rc<Parent>, LayerError> {
        if let Some(i) = self.parents.iter().rposition(|(p, _)| p == rel) {
            let hit = self.parents.remove(i);
            let fd = hit.1.clone();
            self.parents.push(hit);
            return Ok(fd);
        }
        let fd = self
            .root
            .make_dirs(rel)
            .map_err(|errno| LayerError::fs(&e.unsafe_name, "open parent", rel, errno))?;
        let parent = Rc::new(self.creator.parent(fd));
        if self.parents.len() == PARENTS {
            self.parents.remove(0);
        }
        self.parents.push((rel.to_vec(), parent.clone()));
        Ok(parent)
    }

    /// Something was removed or replaced: a cached parent may no longer be what its path
    /// resolves to.
    fn forget_parent(&mut self) {
        self.parents.clear();
    }

    /// Whether a node just created in `p` must still be chowned to the entry's owner.
    fn needs_chown(&self, p: &Parent, e: &Entry) -> bool {
        self.chown && self.creator.needs_chown(p, e.uid, e.gid)
    }

    fn mark_written(&mut self, path: &[u8]) {
        let mut p = path;
        while !p.is_empty() && self.written.insert(p.into()) {
            p = name::split(p).0;
        }
    }

    fn was_written(&self, path: &[u8]) -> bool {
        self.written.contains(path)
    }

    /// Applies the deferred modes and mtimes; a directory since replaced is skipped.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        for d in std::mem::take(&mut self.dirs) {
            match dir::finish(self.root, &d.path, d.mode, d.mtime) {
                Ok(()) | Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
                Err(errno) => {
                    return Err(LayerError::fs(
                        &d.path,
                        "set directory metadata",
                        &d.path,
                        errno,
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Names the entry in stream errors that happen inside it (corrupt or truncated data).
fn within(e: LayerError, name: &[u8]) -> LayerError {
    match e {
        LayerError::Tar { .. } | LayerError::Decompress { .. } => {
            LayerError::entry(name, EntryError::Stream(Box::new(e)))
        }
        other => other,
    }
}

/// Names the last good entry in errors about the header that follows it.
fn after(e: LayerError, last: &[u8]) -> LayerError {
    match e {
        LayerError::Tar { offset, reason } if !last.is_empty() => LayerError::Tar {
            offset,
            reason: format!("{reason} (after entry {:?})", String::from_utf8_lossy(last)),
        },
        other => other,
    }
}
