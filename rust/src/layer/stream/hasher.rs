//! The hashing stage: sha256 of the blob's blocks and of the tar's chunks, each in stream order.

use super::{Chunk, Msg};
use crate::digest::format_sha256;
use crate::layer::error::LayerError;
use sha2::{Digest as _, Sha256};
use std::sync::mpsc::{Receiver, Sender, SyncSender};

/// `sha256:<hex>` of the blob (None when it was a plain tar: then it is `tar`) and of the tar.
pub struct Hashes {
    pub blob: Option<String>,
    pub tar: String,
}

/// Hashes what the reader sends, passing chunks (and errors) on to the extractor and blocks
/// back to the reader; `blocks` says whether the blob comes as blocks (it is compressed).
/// Stops when the extractor hangs up, which in turn stops the reader.
pub fn run(
    blocks: bool,
    from_reader: Receiver<Msg>,
    to_extractor: &SyncSender<Result<Chunk, LayerError>>,
    spent_blocks: &Sender<Vec<u8>>,
) -> Hashes {
    let mut blob = blocks.then(Sha256::new);
    let mut tar = Sha256::new();
    for msg in from_reader {
        match msg {
            Msg::Blob(block, len) => {
                if let Some(h) = blob.as_mut() {
                    h.update(&block[..len]);
                }
                let _ = spent_blocks.send(block);
            }
            Msg::Tar(item) => {
                if let Ok(c) = &item {
                    tar.update(&c.data[..c.filled]);
                }
                if to_extractor.send(item).is_err() {
                    break;
                }
            }
        }
    }
    Hashes {
        blob: blob.map(|h| format_sha256(&h.finalize())),
        tar: format_sha256(&tar.finalize()),
    }
}
