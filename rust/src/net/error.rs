//! `NetError`: every way plumbing a link can fail, each naming the operation and the link,
//! with the kernel's errno where it said one.

use std::path::PathBuf;

/// The kernel's text for an errno, without std's " (os error N)" tail.
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.split_once(" (os error") {
        Some((head, _)) => head.to_owned(),
        None => text,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The kernel refused a request, e.g. `veth add veth1a2b3c: File exists`.
    #[error("{op} {link}: {}", strerror(*.errno))]
    Kernel {
        op: &'static str,
        link: String,
        errno: i32,
    },
    /// A netlink socket could not be opened or spoken to.
    #[error("netlink socket: {}", strerror(*.errno))]
    Socket { errno: i32 },
    /// The namespace file could not be opened or entered.
    #[error("network namespace {}: {}", .path.display(), strerror(*.errno))]
    Netns { path: PathBuf, errno: i32 },
    /// The kernel's answer did not parse as netlink (a truncated or foreign datagram).
    #[error("{op} {link}: malformed netlink answer")]
    Malformed { op: &'static str, link: String },
    /// An interface name the kernel would refuse (empty, 16 bytes or more, NUL or '/').
    #[error("invalid interface name {0:?}")]
    Name(String),
    /// The plumbing failed, and so did removing the half-made veth after it.
    #[error("{error} (and removing {link} after it: {cleanup})")]
    Cleanup {
        error: Box<NetError>,
        link: String,
        cleanup: Box<NetError>,
    },
}

impl NetError {
    /// The errno behind this error, if the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Kernel { errno, .. }
            | NetError::Socket { errno }
            | NetError::Netns { errno, .. } => Some(*errno),
            NetError::Cleanup { error, .. } => error.errno(),
            NetError::Malformed { .. } | NetError::Name(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_naming_op_link_and_errno_text() {
        let e = NetError::Kernel {
            op: "veth add",
            link: "veth1a2b3c".into(),
            errno: libc::EEXIST,
        };
        assert_eq!(e.to_string(), "veth add veth1a2b3c: File exists");
        let c = NetError::Cleanup {
            error: Box::new(e),
            link: "veth1a2b3c".into(),
            cleanup: Box::new(NetError::Socket {
                errno: libc::ENOBUFS,
            }),
        };
        assert_eq!(
            c.to_string(),
            "veth add veth1a2b3c: File exists (and removing veth1a2b3c after it: \
             netlink socket: No buffer space available)"
        );
        assert_eq!(c.errno(), Some(libc::EEXIST));
    }
}
