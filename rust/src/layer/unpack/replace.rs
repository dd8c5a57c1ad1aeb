//! "A later entry replaces an earlier one": create, and on EEXIST remove what is there
//! (without following it) and create again.

use super::Extractor;
use crate::fsx::remove_all;
use crate::layer::error::LayerError;
use crate::layer::tar::Entry;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

impl Extractor<'_> {
    /// Runs `create`; if the name exists, removes it (a directory recursively) and retries once.
    pub(super) fn create_replacing<T>(
        &mut self,
        e: &Entry,
        parent: BorrowedFd<'_>,
        name: &[u8],
        op: &'static str,
        mut create: impl FnMut() -> Result<T, Errno>,
    ) -> Result<T, LayerError> {
        let fail = |errno| LayerError::fs(&e.unsafe_name, op, name, errno);
        match create() {
            Err(Errno::EXIST) => {}
            other => return other.map_err(fail),
        }
        self.forget_parent();
        remove_all(parent, name).map_err(|x| LayerError::fs(&e.unsafe_name, "remove", name, x))?;
        create().map_err(fail)
    }
}
