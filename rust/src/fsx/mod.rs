//! Opening and creating paths strictly beneath a root directory fd.
//!
//! Untrusted paths (tar entry names, link targets) are resolved with `openat2(2)` and
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, so `..` and symlinks (absolute or relative) are
//! clamped at the root exactly as if the process had `chroot`ed there; on kernels without
//! `openat2` (before 5.6) a component-wise `O_NOFOLLOW` walk emulates the same rule.

mod error;
mod fallback;
mod remove;
mod root;

pub use error::{DisplayPath, DisplayPathExt, FsError};
pub use remove::remove_all;
pub use root::Root;
