//! An overlay mounted where no one can see it: for reading or editing a stopped container's
//! merged view (`cp`, `export`, volume pre-fill) without touching any mount namespace.

use super::cstring;
use crate::sys::fsmount::FsContext;
use crate::sys::Errno;
use std::os::fd::OwnedFd;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DetachedError {
    #[error("{op}: {errno}")]
    Sys { op: &'static str, errno: Errno },
    #[error("overlay needs at least one lower layer and an upper and work directory")]
    Shape,
    #[error("{0:?}: contains a NUL byte or ':'")]
    BadPath(String),
}

fn sys(op: &'static str) -> impl Fn(Errno) -> DetachedError {
    move |errno| DetachedError::Sys { op, errno }
}

/// Mounts the overlay of `lowers` (top first), `upper` and `work` as a detached mount and
/// returns an fd on its root. Each layer goes in by itself as `lowerdir+` (Linux 6.7+), so
/// no page-size limit applies; older kernels get the classic joined `lowerdir`.
pub fn open_overlay(lowers: &[String], upper: &str, work: &str) -> Result<OwnedFd, DetachedError> {
    if lowers.is_empty() || upper.is_empty() || work.is_empty() {
        return Err(DetachedError::Shape);
    }
    let c = |s: &str| cstring(s).map_err(|_| DetachedError::BadPath(s.to_string()));
    let ctx = FsContext::open(c"overlay").map_err(sys("fsopen overlay"))?;
    let mut lowers_c = Vec::with_capacity(lowers.len());
    for l in lowers {
        lowers_c.push(c(l)?);
    }
    match ctx.set(c"lowerdir+", &lowers_c[0]) {
        Ok(()) => {
            for l in &lowers_c[1..] {
                ctx.set(c"lowerdir+", l)
                    .map_err(sys("fsconfig lowerdir+"))?;
            }
        }
        Err(Errno(libc::EINVAL)) => {
            if lowers.iter().any(|l| l.contains(':')) {
                return Err(DetachedError::BadPath(lowers.join(":")));
            }
            ctx.set(c"lowerdir", &c(&lowers.join(":"))?)
                .map_err(sys("fsconfig lowerdir"))?;
        }
        Err(e) => return Err(sys("fsconfig lowerdir+")(e)),
    }
    ctx.set(c"upperdir", &c(upper)?)
        .map_err(sys("fsconfig upperdir"))?;
    ctx.set(c"workdir", &c(work)?)
        .map_err(sys("fsconfig workdir"))?;
    ctx.mount().map_err(sys("fsmount overlay"))
}
