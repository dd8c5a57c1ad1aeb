//! Character and block devices and fifos, made with mknodat(2) (we run as root).

use super::{meta, Extractor};
use crate::layer::error::LayerError;
use crate::layer::tar::{Entry, Kind};
use rustix::fd::AsFd;
use rustix::fs::{self, FileType, Mode};

/// Creates the device or fifo `name` in `parent`, replacing whatever was there.
pub fn make(
    x: &mut Extractor<'_>,
    e: &Entry,
    parent: &[u8],
    name: &[u8],
) -> Result<(), LayerError> {
    let ty = match e.kind {
        Kind::Char => FileType::CharacterDevice,
        Kind::Block => FileType::BlockDevice,
        _ => FileType::Fifo,
    };
    let dev = fs::makedev(e.devmajor, e.devminor);
    let dir = x.parent(e, parent)?;
    x.create_replacing(e, dir.as_fd(), name, "mknod", || {
        fs::mknodat(dir.as_fd(), name, ty, Mode::from_raw_mode(0o600), dev)
    })?;
    meta::apply_at(dir.as_fd(), name, e, x.needs_chown(&dir, e), false)
}
