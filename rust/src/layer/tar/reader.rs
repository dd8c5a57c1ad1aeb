//! Turns a stream of header blocks into entries, folding in `L`, `K`, `x` and `g` headers.

use super::entry::{Entry, Kind};
use super::header::{cstr, field, Header, BLOCK};
use super::pax::{self, Pax};
use crate::layer::error::{EntryError, LayerError};
use crate::layer::Source;

/// Longest GNU long name or PAX header accepted: bounds memory on hostile input.
const MAX_META: u64 = 1 << 20;

/// Padding after `size` bytes of data to the next block boundary.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Extensions gathered from headers that precede the real one.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

/// Reads the next entry, or `None` at the end-of-archive marker (or a clean end of stream).
pub fn next_entry(src: &mut dyn Source) -> Result<Option<Entry>, LayerError> {
    let mut pending = Pending::default();
    let mut block = [0u8; BLOCK];
    loop {
        let offset = src.offset();
        if !src.read_block(&mut block)? {
            return match pending.long_name.is_some() || pending.pax.is_some() {
                true => Err(tar_err(offset, "stream ends after an extension header")),
                false => Ok(None),
            };
        }
        let h = Header(&block);
        if h.is_zero() {
            return Ok(None);
        }
        if !h.checksum_ok() {
            return Err(tar_err(offset, "bad header checksum"));
        }
        let size = h.unsigned(field::SIZE).map_err(|e| tar_err(offset, e))?;
        let meta = |src: &mut dyn Source| read_meta(src, size, offset);
        match h.typeflag() {
            b'L' => pending.long_name = Some(cstr(&meta(src)?).to_vec()),
            b'K' => pending.long_link = Some(cstr(&meta(src)?).to_vec()),
            b'x' => {
                let data = meta(src)?;
                pending.pax = Some(pax::parse(&data).map_err(|e| tar_err(offset, e))?);
            }
            // Global headers would apply to every later entry; pycore ignores them (docs/layers.md).
            b'g' => drop(meta(src)?),
            _ => return build(&h, pending, offset).map(Some),
        }
    }
}

fn read_meta(src: &mut dyn Source, size: u64, offset: u64) -> Result<Vec<u8>, LayerError> {
    if size > MAX_META {
        return Err(tar_err(offset, "extension header larger than 1 MiB"));
    }
    let mut data = Vec::with_capacity(size as usize);
    let mut left = size as usize;
    while left > 0 {
        let got = src.data(left)?;
        left -= got.len();
        data.extend_from_slice(got);
    }
    src.skip(padding(size))?;
    Ok(data)
}

fn tar_err(offset: u64, reason: &str) -> LayerError {
    LayerError::Tar {
        offset,
        reason: reason.to_owned(),
    }
}

fn build(h: &Header<'_>, p: Pending, offset: u64) -> Result<Entry, LayerError> {
    let pax = p.pax.unwrap_or_default();
    let name = pax.path.or(p.long_name).unwrap_or_else(|| h.name());
    let num = |r, name: &[u8]| {
        h.unsigned(r)
            .map_err(|e| LayerError::entry(name, EntryError::Unsupported(e.into())))
    };
    let kind = kind(h.typeflag(), &name)?;
    if pax.sparse {
        return Err(unsupported(&name, "PAX (GNU.sparse) sparse files"));
    }
    let mtime = match pax.mtime {
        Some(t) => t,
        None => (h.signed(field::MTIME).map_err(|e| tar_err(offset, e))?, 0),
    };
    Ok(Entry {
        unsafe_link: pax.linkpath.or(p.long_link).unwrap_or_else(|| h.linkname()),
        kind,
        mode: (num(field::MODE, &name)? & 0o7777) as u32,
        uid: pax.uid.map_or_else(|| num(field::UID, &name), Ok)?,
        gid: pax.gid.map_or_else(|| num(field::GID, &name), Ok)?,
        mtime,
        size: pax.size.map_or_else(|| num(field::SIZE, &name), Ok)?,
        devmajor: device(h, field::DEVMAJOR),
        devminor: device(h, field::DEVMINOR),
        xattrs: pax.xattrs,
        unsafe_name: name,
    })
}

fn device(h: &Header<'_>, r: std::ops::Range<usize>) -> u32 {
    h.unsigned(r)
        .ok()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

fn kind(flag: u8, name: &[u8]) -> Result<Kind, LayerError> {
    Ok(match flag {
        // Pre-POSIX tars mark directories only by a trailing slash.
        b'0' | 0 | b'7' if name.ends_with(b"/") => Kind::Dir,
        b'0' | 0 | b'7' => Kind::File,
        b'1' => Kind::Hardlink,
        b'2' => Kind::Symlink,
        b'3' => Kind::Char,
        b'4' => Kind::Block,
        b'5' => Kind::Dir,
        b'6' => Kind::Fifo,
        b'S' => return Err(unsupported(name, "GNU sparse files ('S')")),
        other => {
            let what = format!("entry type {:?}", other as char);
            return Err(LayerError::entry(name, EntryError::Unsupported(what)));
        }
    })
}

fn unsupported(name: &[u8], what: &str) -> LayerError {
    LayerError::entry(name, EntryError::Unsupported(what.to_owned()))
}
