//! Layers: one streaming pass that decompresses, hashes and extracts an OCI layer, and the
//! reverse pass that packs a directory (an overlay upper dir) into a deterministic layer.
//!
//! # What an untrusted layer can and cannot do
//!
//! Nothing is ever written outside `dest`. Every parent directory is opened beneath a root
//! fd with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (a component-wise `O_NOFOLLOW`
//! walk on old kernels), and the last component is created with `*at` syscalls relative to
//! it, never following a final symlink. Per attack:
//!
//! | entry | decision |
//! |---|---|
//! | name with a `..` component (`../x`, `a/../../x`), also via PAX `path` or GNU long name | **refused**: `entry "../x": refused: path contains a ".." component` |
//! | absolute name `/etc/x` | **contained**: extracted as `etc/x` inside `dest` (as Docker and umoci do) |
//! | symlink pointing outside, then a file written "through" it | **contained**: the symlink resolves as if `dest` were `/` |
//! | symlink as a parent component | **contained**: followed, but only within `dest` |
//! | a name whose last component is an existing symlink | the symlink is **replaced** (unlinked), never followed |
//! | hardlink whose target has `..` | **refused** (same rule as names) |
//! | hardlink whose target is absolute or goes through a symlink | **contained**: resolved inside `dest`; a missing target, a directory target or the root is refused |
//! | whiteout pointing outside (`../.wh.x`) | **refused** (`..`) |
//! | whiteout of `.`, `..` or the empty name (`.wh..`, `.wh...`, `.wh.`) | **refused** |
//! | `.wh.` used as a directory component (`a/.wh.b/c`) | **refused**: whiteouts never land on disk |
//! | a non-directory entry for the root itself (`./` as a file) | **refused**; a directory entry for `./` updates `dest`'s metadata |
//! | a later entry with the name of an earlier one | **replaces** it (a directory is replaced only by a non-directory; dir over dir merges) |
//! | GNU sparse (`S`, PAX `GNU.sparse.*`), multi-volume and unknown entry types | **refused** as unsupported |
//!
//! Extended attributes from PAX `SCHILY.xattr.*` are written only when they are `user.*`,
//! `security.capability` or `system.posix_acl_{access,default}`; everything else is dropped,
//! notably `trusted.overlay.*` (a layer must not steer overlayfs with `redirect`, `metacopy` or
//! `opaque`) and other `security.*` labels. Xattrs are set on files and directories only.

mod error;
mod name;
pub mod pack;
mod stream;
mod tar;
pub mod unpack;
mod xattr;

pub use error::{EntryError, LayerError, MismatchKind};
pub use pack::{pack, PackOptions};
pub use stream::Source;
pub use unpack::{unpack, unpack_from, UnpackOptions, WhiteoutFormat};

/// Extended attributes as (name, value) pairs.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// A layer blob's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// The name used across the Python boundary.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    /// Detects compression from the first bytes of a blob (gzip `1f 8b`, zstd `28 b5 2f fd`).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What one pass over a layer learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// `sha256:<hex>` of the blob as stored.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of the blob as stored.
    pub size: u64,
    pub compression: Compression,
    /// Tar entries read or written.
    pub entries: u64,
}
