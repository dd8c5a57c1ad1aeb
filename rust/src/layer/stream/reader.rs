//! The reading stage: the blob in blocks (counted, checked against the announced size, handed
//! to the hasher once the decoder is done with them), decompressed into chunks of tar.

use super::{Chunk, Msg, CHUNK};
use crate::layer::error::{LayerError, MismatchKind};
use crate::layer::Compression;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender};

/// Bytes per read from the blob file.
const BLOCK: usize = 256 << 10;

/// The blob file as a `BufRead` over recycled blocks.
pub struct Blocks {
    file: File,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    count: u64,
    limit: Option<u64>,
    /// Set when the blob is compressed: each block goes to the hasher once consumed and comes
    /// back to be refilled. A plain tar is hashed as chunks instead.
    hand_over: Option<(SyncSender<Msg>, Receiver<Vec<u8>>)>,
}

impl Blocks {
    /// The blob as `head` (its first bytes, already read from `file`; at most a block) then
    /// the rest of `file`.
    pub fn new(
        file: File,
        head: &[u8],
        limit: Option<u64>,
        hand_over: Option<(SyncSender<Msg>, Receiver<Vec<u8>>)>,
    ) -> Blocks {
        let mut buf = vec![0u8; BLOCK];
        let filled = head.len().min(BLOCK);
        buf[..filled].copy_from_slice(&head[..filled]);
        Blocks {
            file,
            buf,
            pos: 0,
            filled,
            count: filled as u64,
            limit,
            hand_over,
        }
    }

    /// Hands the consumed block to the hasher and reads the next one (empty at the end).
    fn refill(&mut self) -> io::Result<()> {
        if let (Some((tx, spent)), true) = (&self.hand_over, self.filled > 0) {
            let fresh = spent.try_recv().unwrap_or_else(|_| vec![0u8; BLOCK]);
            let block = std::mem::replace(&mut self.buf, fresh);
            tx.send(Msg::Blob(block, self.filled))
                .map_err(|_| io::Error::other(Stopped))?;
        }
        self.pos = 0;
        self.filled = 0;
        let n = read_file(&mut self.file, &mut self.buf)?;
        self.counted(n)?;
        self.filled = n;
        Ok(())
    }

    fn counted(&mut self, n: usize) -> io::Result<()> {
        self.count += n as u64;
        match self.limit {
            Some(limit) if self.count > limit => Err(io::Error::other(OverLimit)),
            _ => Ok(()),
        }
    }

    /// Reads (and hands over) whatever follows the compressed stream: it still belongs to the
    /// blob and its digest. Returns the blob's size.
    fn finish(&mut self) -> io::Result<u64> {
        loop {
            self.pos = self.filled;
            self.refill()?;
            if self.filled == 0 {
                return Ok(self.count);
            }
        }
    }
}

fn read_file(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

impl BufRead for Blocks {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

impl Read for Blocks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // A plain tar is read straight into the chunk: nobody else needs the block.
        if self.pos >= self.filled && self.hand_over.is_none() && out.len() >= BLOCK {
            let n = read_file(&mut self.file, out)?;
            self.counted(n)?;
            return Ok(n);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Marker inside an io::Error: the blob is longer than the announced size.
#[derive(Debug)]
struct OverLimit;
impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("blob longer than announced")
    }
}
impl std::error::Error for OverLimit {}

/// Marker: the stage after this one hung up first.
#[derive(Debug)]
struct Stopped;
impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("extraction stopped")
    }
}
impl std::error::Error for Stopped {}

enum Decoder {
    Gzip(Box<flate2::bufread::MultiGzDecoder<Blocks>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Blocks>>),
    Plain(Blocks),
}

impl Decoder {
    fn new(c: Compression, blocks: Blocks) -> io::Result<Decoder> {
        Ok(match c {
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(blocks)))
            }
            Compression::Zstd => {
                Decoder::Zstd(Box::new(zstd::stream::read::Decoder::with_buffer(blocks)?))
            }
            Compression::None => Decoder::Plain(blocks),
        })
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(b) => b.read(buf),
        }
    }

    fn blocks(&mut self) -> &mut Blocks {
        match self {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zstd(d) => d.get_mut(),
            Decoder::Plain(b) => b,
        }
    }
}

/// The reader thread's ends of the channels.
pub struct Reader {
    pub to_hasher: SyncSender<Msg>,
    pub spent_chunks: Receiver<Vec<u8>>,
}

impl Reader {
    /// Reads and decodes the whole blob; returns its size. A failure is also sent down the
    /// pipeline, where the extractor learns of it.
    pub fn run(
        self,
        blocks: Blocks,
        compression: Compression,
        size: Option<u64>,
        path: &str,
    ) -> Result<u64, LayerError> {
        let result = self.pump(blocks, compression);
        let mapped = result.map_err(|e| map_read_error(e, compression, size, path));
        if let Err(e) = &mapped {
            let _ = self.to_hasher.send(Msg::Tar(Err(clone_error(e))));
        }
        mapped
    }

    fn pump(&self, blocks: Blocks, compression: Compression) -> io::Result<u64> {
        let mut dec = Decoder::new(compression, blocks)?;
        loop {
            let mut data = self
                .spent_chunks
                .try_recv()
                .unwrap_or_else(|_| vec![0u8; CHUNK]);
            let mut filled = 0;
            while filled < CHUNK {
                match dec.read(&mut data[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let chunk = Chunk {
                data,
                filled,
                compressed: dec.blocks().count,
            };
            if filled > 0 && self.to_hasher.send(Msg::Tar(Ok(chunk))).is_err() {
                return Err(io::Error::other(Stopped));
            }
            if filled < CHUNK {
                break;
            }
        }
        dec.blocks().finish()
    }
}

fn map_read_error(e: io::Error, c: Compression, size: Option<u64>, path: &str) -> LayerError {
    let inner = e.get_ref();
    if inner.is_some_and(|i| i.is::<OverLimit>()) {
        return LayerError::Mismatch {
            kind: MismatchKind::Size,
            expected: size.unwrap_or(0).to_string(),
            actual: format!("more than {}", size.unwrap_or(0)),
        };
    }
    if inner.is_some_and(|i| i.is::<Stopped>()) {
        return LayerError::Aborted;
    }
    match (c, e.kind()) {
        (Compression::Gzip, io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData)
        | (Compression::Gzip, io::ErrorKind::UnexpectedEof) => LayerError::Decompress {
            compression: "gzip",
            source: e,
        },
        (Compression::Zstd, k) if k != io::ErrorKind::PermissionDenied => LayerError::Decompress {
            compression: "zstd",
            source: e,
        },
        _ => LayerError::Io {
            op: "read",
            path: path.to_owned(),
            source: e,
        },
    }
}

/// A copy of an error for the second recipient (io::Error is not Clone).
fn clone_error(e: &LayerError) -> LayerError {
    match e {
        LayerError::Mismatch {
            kind,
            expected,
            actual,
        } => LayerError::Mismatch {
            kind: *kind,
            expected: expected.clone(),
            actual: actual.clone(),
        },
        LayerError::Decompress {
            compression,
            source,
        } => LayerError::Decompress {
            compression,
            source: io::Error::new(source.kind(), source.to_string()),
        },
        LayerError::Io { op, path, source } => LayerError::Io {
            op,
            path: path.clone(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        _ => LayerError::Aborted,
    }
}
