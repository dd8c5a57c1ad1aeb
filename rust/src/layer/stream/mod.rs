//! The unpack pipeline: three threads joined by bounded channels, so memory stays bounded
//! (about 10 MiB) whatever the layer size.
//!
//! ```text
//! reader:    read the blob in 256 KiB blocks, decompress into 1 MiB chunks of tar
//!              │ blocks and chunks, in order
//! hasher:    sha256 of the blocks (digest) and of the chunks (diff_id)
//!              │ chunks
//! extractor: parse the tar, write entries (the caller's thread, `TarStream`)
//! ```
//!
//! The two sha256 streams cost about as much CPU as the decoder or the extraction syscalls,
//! so on two cores the scheduler can keep both busy. Spent blocks and chunks travel back to the
//! reader to be refilled, so steady state allocates nothing.

mod hasher;
mod reader;

use super::error::LayerError;
use super::Compression;
use std::fs::File;
use std::sync::mpsc::{sync_channel, Receiver, Sender};
use std::thread::JoinHandle;

/// Bytes per chunk of tar handed between the threads.
pub const CHUNK: usize = 1 << 20;
/// Messages queued per channel.
const DEPTH: usize = 4;

/// A filled buffer of tar bytes and the compressed bytes read so far.
pub struct Chunk {
    data: Vec<u8>,
    filled: usize,
    compressed: u64,
}

/// What the reader hands the hasher, in stream order.
enum Msg {
    /// A block of the blob as stored, with its length (compressed blobs only: a plain tar is
    /// hashed once, as chunks).
    Blob(Vec<u8>, usize),
    /// A chunk of tar for the extractor, or the reader's error.
    Tar(Result<Chunk, LayerError>),
}

/// What the pipeline learnt about the blob.
pub struct Stored {
    /// `sha256:<hex>` of the blob as stored.
    pub digest: String,
    /// `sha256:<hex>` of the tar.
    pub diff_id: String,
    pub size: u64,
}

/// The channels the extracting side holds, and the threads feeding it.
pub struct Pipeline {
    pub chunks: Receiver<Result<Chunk, LayerError>>,
    pub recycle: Sender<Vec<u8>>,
    pub threads: Threads,
}

/// The reader and hasher threads.
pub struct Threads {
    reader: JoinHandle<Result<u64, LayerError>>,
    hasher: JoinHandle<hasher::Hashes>,
}

impl Threads {
    /// Waits for both threads. Call after the extracting side drained its channel (then the
    /// digests cover every byte) or dropped it (then the threads stop early).
    pub fn join(self) -> Result<Stored, LayerError> {
        let panicked = |what: &str| LayerError::Invalid(format!("{what} thread panicked"));
        let size = self.reader.join().map_err(|_| panicked("reader"));
        let hashes = self.hasher.join().map_err(|_| panicked("hashing"))?;
        Ok(Stored {
            size: size??,
            digest: hashes.blob.unwrap_or_else(|| hashes.tar.clone()),
            diff_id: hashes.tar,
        })
    }
}

/// Starts the reader and hasher threads over `head` (the blob's first bytes, already read)
/// followed by the rest of `file`, already known to hold `compression`.
pub fn spawn(
    file: File,
    head: Vec<u8>,
    compression: Compression,
    size: Option<u64>,
    path: String,
) -> Result<Pipeline, LayerError> {
    let spawn_err = |source| LayerError::Io {
        op: "spawn pipeline thread",
        path: String::new(),
        source,
    };
    let (to_hasher, from_reader) = sync_channel::<Msg>(DEPTH);
    let (to_extractor, chunks) = sync_channel(DEPTH);
    let (recycle, spent_chunks) = std::sync::mpsc::channel();
    let (hashed_blocks, spent_blocks) = std::sync::mpsc::channel();
    let hash_blocks = compression != Compression::None;
    let reader = std::thread::Builder::new()
        .name("pycore-layer-read".into())
        .spawn(move || {
            let hand_over = hash_blocks.then(|| (to_hasher.clone(), spent_blocks));
            let blocks = reader::Blocks::new(file, &head, size, hand_over);
            let r = reader::Reader {
                to_hasher,
                spent_chunks,
            };
            r.run(blocks, compression, size, &path)
        })
        .map_err(spawn_err)?;
    let hasher = std::thread::Builder::new()
        .name("pycore-layer-hash".into())
        .spawn(move || hasher::run(hash_blocks, from_reader, &to_extractor, &hashed_blocks))
        .map_err(spawn_err)?;
    Ok(Pipeline {
        chunks,
        recycle,
        threads: Threads { reader, hasher },
    })
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

/// The extracting side: receives chunks of tar, reports progress.
pub struct TarStream<'p> {
    chunks: Receiver<Result<Chunk, LayerError>>,
    recycle: Sender<Vec<u8>>,
    cur: Option<Chunk>,
    pos: usize,
    offset: u64,
    progress: Option<&'p mut dyn FnMut(u64) -> bool>,
    next_report: u64,
    ended: bool,
}

/// Compressed bytes between two progress calls.
const REPORT_EVERY: u64 = 4 << 20;

impl<'p> TarStream<'p> {
    /// The receiving end of a pipeline's channels.
    pub fn new(
        chunks: Receiver<Result<Chunk, LayerError>>,
        recycle: Sender<Vec<u8>>,
        progress: Option<&'p mut dyn FnMut(u64) -> bool>,
    ) -> Self {
        TarStream {
            chunks,
            recycle,
            cur: None,
            pos: 0,
            offset: 0,
            progress,
            next_report: REPORT_EVERY,
            ended: false,
        }
    }

    /// Consumes the rest of the stream (after the end-of-archive marker) so the digests
    /// cover every byte.
    pub fn drain(&mut self) -> Result<(), LayerError> {
        while self.fill()? {
            self.pos = self.cur.as_ref().map_or(0, |c| c.filled);
        }
        Ok(())
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
