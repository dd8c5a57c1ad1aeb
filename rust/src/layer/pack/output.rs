//! The pack output chain: tar bytes are hashed (diff_id), compressed, hashed again (digest)
//! and counted on their way into the new file.

use crate::digest::format_sha256;
use crate::layer::Compression;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Passes bytes through, hashing and counting them.
pub struct Hashing<W> {
    pub inner: W,
    hasher: Sha256,
    pub count: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The `sha256:<hex>` of everything written.
    pub fn digest(&mut self) -> String {
        format_sha256(&std::mem::take(&mut self.hasher).finalize())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Stored = Hashing<BufWriter<File>>;

/// The compressor in the middle.
pub enum Encoder {
    Gzip(flate2::write::GzEncoder<Stored>),
    Zstd(zstd::stream::write::Encoder<'static, Stored>),
    None(Stored),
}

/// gzip level when none is given: 6 is what Docker and BuildKit emit (Go's default), so
/// layers compare in size with theirs; pass `level=1` for build-cache layers that never leave
/// the machine.
pub const GZIP_LEVEL: u32 = 6;
/// zstd level when none is given: the `zstd` tool's default.
pub const ZSTD_LEVEL: i32 = 3;

impl Encoder {
    /// Wraps `file` for `compression`; the gzip header carries mtime 0 and no name.
    pub fn new(file: File, compression: Compression, level: Option<i32>) -> io::Result<Self> {
        let stored = Hashing::new(BufWriter::with_capacity(1 << 20, file));
        Ok(match compression {
            Compression::Gzip => {
                let lvl = level.map_or(GZIP_LEVEL, |l| l.clamp(0, 9) as u32);
                let enc = flate2::GzBuilder::new().mtime(0).operating_system(255);
                Encoder::Gzip(enc.write(stored, flate2::Compression::new(lvl)))
            }
            Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(
                stored,
                level.unwrap_or(ZSTD_LEVEL),
            )?),
            Compression::None => Encoder::None(stored),
        })
    }

    /// Ends the compressed stream and flushes; returns the digest and size of the file.
    pub fn finish(self) -> io::Result<(String, u64)> {
        let mut stored = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
            Encoder::None(s) => s,
        };
        stored.flush()?;
        Ok((stored.digest(), stored.count))
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::None(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::None(s) => s.flush(),
        }
    }
}
