//! One tar entry, its metadata assembled from the header and any GNU/PAX extensions.

/// The entry types pycore extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

/// A tar entry's metadata; its data (`size` bytes, then padding) follows in the stream.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name exactly as the tar gave it (after long-name/PAX overrides): untrusted.
    pub unsafe_name: Vec<u8>,
    /// The link target (symlink text or hardlink name): untrusted.
    pub unsafe_link: Vec<u8>,
    pub kind: Kind,
    /// Permission bits including setuid, setgid and sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    /// Bytes of data following the header.
    pub size: u64,
    pub devmajor: u32,
    pub devminor: u32,
    /// `SCHILY.xattr.*` records, unfiltered.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}
