//! The two halves of the unpack pipeline.
//!
//! A reader thread decompresses the blob and hashes and counts the compressed bytes, handing
//! 1 MiB chunks of tar over a bounded channel (so memory stays bounded whatever the layer
//! size); the extracting thread hashes the tar (diff_id) as chunks arrive and parses it.
//! Spent chunks travel back to be refilled, so steady state allocates nothing.

use super::error::{LayerError, MismatchKind};
use super::Compression;
use crate::digest::format_sha256;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Bytes per chunk handed between the threads.
pub const CHUNK: usize = 1 << 20;
/// Chunks in flight; with the recycled ones this bounds the pipeline to a few MiB.
const DEPTH: usize = 4;
/// Read size from the blob file beneath the decoder.
const READ_BUF: usize = 256 << 10;

/// A filled buffer of tar bytes and the compressed bytes read so far.
pub struct Chunk {
    data: Vec<u8>,
    filled: usize,
    compressed: u64,
}

/// What the reader thread learnt about the blob as stored.
pub struct Stored {
    pub digest: String,
    pub size: u64,
}

/// The reader thread's handle and its two channels.
pub struct Pipeline {
    pub chunks: Receiver<Result<Chunk, LayerError>>,
    pub recycle: Sender<Vec<u8>>,
    pub thread: JoinHandle<Result<Stored, LayerError>>,
}

/// Hashes and counts every byte read from the blob; fails once more than `limit` is read.
struct Counting {
    file: File,
    hasher: Sha256,
    count: u64,
    limit: Option<u64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        match self.limit {
            Some(limit) if self.count > limit => Err(io::Error::other(OverLimit)),
            _ => Ok(n),
        }
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

enum Decoder {
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<Counting>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<Counting>>>),
    Plain(Counting),
}

impl Decoder {
    fn new(c: Compression, counting: Counting) -> io::Result<Decoder> {
        let buffered = |c| BufReader::with_capacity(READ_BUF, c);
        Ok(match c {
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(
                buffered(counting),
            ))),
            Compression::Zstd => Decoder::Zstd(Box::new(zstd::stream::read::Decoder::with_buffer(
                buffered(counting),
            )?)),
            Compression::None => Decoder::Plain(counting),
        })
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(c) => c.read(buf),
        }
    }

    fn counting(&mut self) -> &mut Counting {
        match self {
            Decoder::Gzip(d) => d.get_mut().get_mut(),
            Decoder::Zstd(d) => d.get_mut().get_mut(),
            Decoder::Plain(c) => c,
        }
    }
}

/// Starts the reader thread over `file`, already known to hold `compression`.
pub fn spawn(
    file: File,
    compression: Compression,
    size: Option<u64>,
    path: String,
) -> Result<Pipeline, LayerError> {
    let (tx, chunks) = sync_channel(DEPTH);
    let (recycle, spent) = std::sync::mpsc::channel();
    let counting = Counting {
        file,
        hasher: Sha256::new(),
        count: 0,
        limit: size,
    };
    let thread = std::thread::Builder::new()
        .name("pycore-layer-read".into())
        .spawn(move || read_all(counting, compression, size, &path, &tx, &spent))
        .map_err(|source| LayerError::Io {
            op: "spawn reader thread",
            path: String::new(),
            source,
        })?;
    Ok(Pipeline {
        chunks,
        recycle,
        thread,
    })
}

fn read_all(
    counting: Counting,
    compression: Compression,
    size: Option<u64>,
    path: &str,
    tx: &SyncSender<Result<Chunk, LayerError>>,
    spent: &Receiver<Vec<u8>>,
) -> Result<Stored, LayerError> {
    let result = pump(counting, compression, tx, spent);
    let mapped = result.map_err(|e| map_read_error(e, compression, size, path));
    if let Err(e) = &mapped {
        // The extractor learns of the failure through the channel; the returned copy is
        // for whoever joins the thread.
        let _ = tx.send(Err(clone_error(e)));
    }
    mapped
}

fn pump(
    counting: Counting,
    compression: Compression,
    tx: &SyncSender<Result<Chunk, LayerError>>,
    spent: &Receiver<Vec<u8>>,
) -> io::Result<Stored> {
    let mut dec = Decoder::new(compression, counting)?;
    loop {
        let mut data = spent.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        let mut filled = 0;
        while filled < CHUNK {
            match dec.read(&mut data[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let compressed = dec.counting().count;
        if filled > 0
            && tx
                .send(Ok(Chunk {
                    data,
                    filled,
                    compressed,
                }))
                .is_err()
        {
            // The extractor stopped (it has its own error to report).
            return Err(io::Error::other(Stopped));
        }
        if filled < CHUNK {
            break;
        }
    }
    // Trailing bytes after the compressed stream still belong to the blob and its digest.
    let c = dec.counting();
    io::copy(c, &mut io::sink())?;
    let hasher = std::mem::take(&mut c.hasher);
    Ok(Stored {
        digest: format_sha256(&hasher.finalize()),
        size: c.count,
    })
}

/// Marker: the extracting side hung up first.
#[derive(Debug)]
struct Stopped;
impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("extraction stopped")
    }
}
impl std::error::Error for Stopped {}

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

/// Bytes are pulled from the tar stream through this (see `tar::next_entry`).
pub trait Source {
    /// Makes sure at least one byte is buffered; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, LayerError>;
    /// Up to `max` buffered bytes (call after `fill` returned true).
    fn take(&mut self, max: usize) -> &[u8];
    /// Bytes of tar consumed so far.
    fn offset(&self) -> u64;

    /// Up to `max` bytes, at least one; the end of the stream here means truncation.
    fn data(&mut self, max: usize) -> Result<&[u8], LayerError> {
        if !self.fill()? {
            let offset = self.offset();
            return Err(LayerError::Tar {
                offset,
                reason: "unexpected end of tar (truncated)".into(),
            });
        }
        Ok(self.take(max))
    }

    /// Reads one block; false when the stream ends cleanly before it.
    fn read_block(&mut self, block: &mut [u8; super::tar::BLOCK]) -> Result<bool, LayerError> {
        if !self.fill()? {
            return Ok(false);
        }
        let mut got = 0;
        while got < block.len() {
            let part = self.data(block.len() - got)?;
            block[got..got + part.len()].copy_from_slice(part);
            got += part.len();
        }
        Ok(true)
    }

    /// Skips `n` bytes.
    fn skip(&mut self, mut n: u64) -> Result<(), LayerError> {
        while n > 0 {
            n -= self.data(usize::try_from(n).unwrap_or(usize::MAX))?.len() as u64;
        }
        Ok(())
    }
}

/// The extracting side: receives chunks, hashes the tar, reports progress.
pub struct TarStream<'p> {
    chunks: Receiver<Result<Chunk, LayerError>>,
    recycle: Sender<Vec<u8>>,
    cur: Option<Chunk>,
    pos: usize,
    offset: u64,
    /// None when the blob is uncompressed: the diff_id is then the digest.
    hasher: Option<Sha256>,
    progress: Option<&'p mut dyn FnMut(u64) -> bool>,
    next_report: u64,
    ended: bool,
}

/// Compressed bytes between two progress calls.
const REPORT_EVERY: u64 = 4 << 20;

impl<'p> TarStream<'p> {
    /// The receiving end of `p`; `hash` says whether to hash the tar here.
    pub fn new(
        chunks: Receiver<Result<Chunk, LayerError>>,
        recycle: Sender<Vec<u8>>,
        hash: bool,
        progress: Option<&'p mut dyn FnMut(u64) -> bool>,
    ) -> Self {
        let hasher = hash.then(Sha256::new);
        TarStream {
            chunks,
            recycle,
            cur: None,
            pos: 0,
            offset: 0,
            hasher,
            progress,
            next_report: REPORT_EVERY,
            ended: false,
        }
    }

    /// Consumes the rest of the stream (after the end-of-archive marker) so the digests
    /// cover every byte; returns the diff_id when this side hashed it.
    pub fn drain(&mut self) -> Result<Option<String>, LayerError> {
        while self.fill()? {
            self.pos = self.cur.as_ref().map_or(0, |c| c.filled);
        }
        Ok(self.hasher.take().map(|h| format_sha256(&h.finalize())))
    }

    fn report(&mut self, compressed: u64) -> Result<(), LayerError> {
        if compressed < self.next_report {
            return Ok(());
        }
        self.next_report = compressed + REPORT_EVERY;
        match self.progress.as_mut() {
            Some(cb) => match cb(compressed) {
                true => Ok(()),
                false => Err(LayerError::Aborted),
            },
            None => Ok(()),
        }
    }
}

impl Source for TarStream<'_> {
    fn fill(&mut self) -> Result<bool, LayerError> {
        loop {
            if let Some(c) = &self.cur {
                if self.pos < c.filled {
                    return Ok(true);
                }
            }
            if self.ended {
                return Ok(false);
            }
            if let Some(old) = self.cur.take() {
                let _ = self.recycle.send(old.data);
            }
            match self.chunks.recv() {
                Ok(Ok(c)) => {
                    if let Some(h) = self.hasher.as_mut() {
                        h.update(&c.data[..c.filled]);
                    }
                    let compressed = c.compressed;
                    self.cur = Some(c);
                    self.pos = 0;
                    self.report(compressed)?;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => self.ended = true,
            }
        }
    }

    fn take(&mut self, max: usize) -> &[u8] {
        let Some(c) = &self.cur else { return &[] };
        let n = max.min(c.filled - self.pos);
        let start = self.pos;
        self.pos += n;
        self.offset += n as u64;
        &c.data[start..start + n]
    }

    fn offset(&self) -> u64 {
        self.offset
    }
}
