//! A NETLINK_ROUTE socket, in our network namespace or bound to another one: a socket keeps
//! the namespace it was made in (netlink(7)), so a thread that setns()'d makes it and exits,
//! and the caller's own thread never changes namespace.

use super::msg::{self, Reply};
use rustix::net::{self as rnet, netlink, AddressFamily, RecvFlags, SendFlags, SocketFlags};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use std::os::fd::{BorrowedFd, OwnedFd};

/// Why one request did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The kernel (or the socket) said this errno.
    Errno(i32),
    /// The answer did not parse.
    Malformed,
}

pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// Answers to rtnetlink requests are small; a link dump of one device is a few KiB.
const RECV_BUF: usize = 32 * 1024;

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Self, i32> {
        // NETLINK_ROUTE is protocol 0, which rustix spells `None`.
        let fd = rnet::socket_with(
            AddressFamily::NETLINK,
            rnet::SocketType::RAW,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| e.raw_os_error())?;
        Ok(Netlink {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// A socket inside the namespace `netns` refers to, made by a short-lived thread that
    /// entered it with setns(2) (CLONE_NEWNET may be joined by one thread of a process).
    /// `Err(errno)`; the caller knows which namespace it asked for.
    pub fn open_in(netns: BorrowedFd<'_>) -> Result<Self, i32> {
        std::thread::scope(|s| {
            s.spawn(|| {
                move_into_link_name_space(netns, Some(LinkNameSpaceType::Network))
                    .map_err(|e| e.raw_os_error())?;
                Netlink::open()
            })
            .join()
            .unwrap_or(Err(libc::EIO))
        })
    }

    /// Sends `m` and waits for its answer: `Ok(None)` for an ack (the request must ask for
    /// one with NLM_F_ACK), `Ok(Some(body))` for a data reply (RTM_GETLINK's RTM_NEWLINK).
    pub fn request(&mut self, m: msg::Msg) -> Result<Option<Vec<u8>>, Failure> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = m.finish(seq);
        let kernel = netlink::SocketAddrNetlink::new(0, 0);
        rnet::sendto(&self.fd, &bytes, SendFlags::empty(), &kernel)
            .map_err(|e| Failure::Errno(e.raw_os_error()))?;
        loop {
            let (_, len) = rnet::recv(&self.fd, &mut self.buf[..], RecvFlags::TRUNC)
                .map_err(|e| Failure::Errno(e.raw_os_error()))?;
            if len > self.buf.len() {
                return Err(Failure::Malformed);
            }
            // Answers to an earlier request that gave up waiting are skipped by seq.
            let replies = msg::replies(&self.buf[..len]).map_err(|_| Failure::Malformed)?;
            for (got, reply) in replies {
                if got != seq {
                    continue;
                }
                return match reply {
                    Reply::Ack => Ok(None),
                    Reply::Error(errno) => Err(Failure::Errno(errno)),
                    Reply::Data { kind, body } if kind == msg::RTM_NEWLINK => {
                        Ok(Some(body.to_vec()))
                    }
                    Reply::Data { .. } => Err(Failure::Malformed),
                };
            }
        }
    }
}
