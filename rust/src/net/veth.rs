//! A container's endpoint on a bridge: the veth pair made in one RTM_NEWLINK (host end up
//! on the bridge, peer created inside the container's namespace), then the peer's address,
//! up state and default route set through a socket bound to that namespace.

use super::error::NetError;
use super::msg::{self, Msg};
use super::socket::{Failure, Netlink};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

/// One endpoint to plumb.
#[derive(Debug, Clone)]
pub struct Endpoint<'a> {
    /// The bridge the host end is enslaved to; it must exist.
    pub bridge: &'a str,
    /// The host end's name; a stale link of this name (the last run's) is deleted first.
    pub veth: &'a str,
    /// The pinned network namespace the peer is created in.
    pub netns: &'a Path,
    /// The peer's name inside the namespace (`eth0`).
    pub iface: &'a str,
    pub address: Ipv4Addr,
    pub prefix: u8,
    /// The default route's next hop, set only when given (the first interface).
    pub gateway: Option<Ipv4Addr>,
}

/// Makes the endpoint; on failure after the veth was made, deletes it (its peer goes with
/// it), so nothing half-made is left.
pub fn plumb(ep: &Endpoint<'_>) -> Result<(), NetError> {
    for name in [ep.bridge, ep.veth, ep.iface] {
        check_name(name)?;
    }
    let netns = File::open(ep.netns).map_err(|e| NetError::Netns {
        path: ep.netns.to_owned(),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })?;
    let mut host = Netlink::open().map_err(|errno| NetError::Socket { errno })?;
    let master = link_index(&mut host, "find bridge", ep.bridge)?;
    delete_stale(&mut host, ep.veth)?;
    add_veth(&mut host, ep, master, netns.as_fd())?;
    if let Err(error) = configure_inside(ep, netns.as_fd()) {
        return Err(match delete(&mut host, "veth del", ep.veth) {
            Ok(()) => error,
            Err(cleanup) => NetError::Cleanup {
                error: Box::new(error),
                link: ep.veth.to_owned(),
                cleanup: Box::new(cleanup),
            },
        });
    }
    Ok(())
}

/// The kernel's dev_valid_name(): 1-15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
fn check_name(name: &str) -> Result<(), NetError> {
    let bad = name.is_empty()
        || name.len() >= 16
        || name == "."
        || name == ".."
        || name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b == b':' || b.is_ascii_whitespace());
    if bad {
        return Err(NetError::Name(name.to_owned()));
    }
    Ok(())
}

/// Turns a failed request into the error naming `op` and `link`.
fn named<'a>(op: &'static str, link: &'a str) -> impl FnOnce(Failure) -> NetError + 'a {
    move |f| match f {
        Failure::Errno(errno) => NetError::Kernel {
            op,
            link: link.to_owned(),
            errno,
        },
        Failure::Malformed => NetError::Malformed {
            op,
            link: link.to_owned(),
        },
    }
}

/// RTM_GETLINK by name: the link's ifindex.
fn link_index(nl: &mut Netlink, op: &'static str, name: &str) -> Result<u32, NetError> {
    let mut m = Msg::new(msg::RTM_GETLINK, msg::NLM_F_REQUEST);
    m.ifinfo(0, 0, 0).attr_str(msg::IFLA_IFNAME, name);
    match nl.request(m).map_err(named(op, name))? {
        Some(body) => msg::ifindex(&body).map_err(|_| named(op, name)(Failure::Malformed)),
        None => Err(named(op, name)(Failure::Malformed)),
    }
}

/// RTM_DELLINK by name.
fn delete(nl: &mut Netlink, op: &'static str, name: &str) -> Result<(), NetError> {
    let mut m = Msg::new(msg::RTM_DELLINK, msg::NLM_F_REQUEST | msg::NLM_F_ACK);
    m.ifinfo(0, 0, 0).attr_str(msg::IFLA_IFNAME, name);
    nl.request(m).map(drop).map_err(named(op, name))
}

/// The last run's host end, if the kernel has not destroyed it with its namespace yet.
fn delete_stale(nl: &mut Netlink, veth: &str) -> Result<(), NetError> {
    match delete(nl, "stale veth del", veth) {
        Err(NetError::Kernel {
            errno: libc::ENODEV,
            ..
        }) => Ok(()),
        other => other,
    }
}

/// `ip link add VETH up master BRIDGE type veth peer name IFACE netns NETNS` as one request:
/// IFLA_MASTER is applied by rtnl_newlink right after the link registers (and the link is
/// unregistered again if that fails), the peer is created directly in the namespace.
pub fn veth_request(ep: &Endpoint<'_>, master: u32, netns_fd: i32) -> Msg {
    let flags = msg::NLM_F_REQUEST | msg::NLM_F_ACK | msg::NLM_F_CREATE | msg::NLM_F_EXCL;
    let mut m = Msg::new(msg::RTM_NEWLINK, flags);
    m.ifinfo(0, msg::IFF_UP, msg::IFF_UP)
        .attr_str(msg::IFLA_IFNAME, ep.veth)
        .attr_u32(msg::IFLA_MASTER, master);
    let info = m.begin_nest(msg::IFLA_LINKINFO);
    m.attr_str(msg::IFLA_INFO_KIND, "veth");
    let data = m.begin_nest(msg::IFLA_INFO_DATA);
    let peer = m.begin_nest(msg::VETH_INFO_PEER);
    m.ifinfo_payload(0, 0, 0)
        .attr_str(msg::IFLA_IFNAME, ep.iface)
        .attr_u32(msg::IFLA_NET_NS_FD, netns_fd as u32);
    m.end_nest(peer).end_nest(data).end_nest(info);
    m
}

fn add_veth(
    nl: &mut Netlink,
    ep: &Endpoint<'_>,
    master: u32,
    netns: BorrowedFd<'_>,
) -> Result<(), NetError> {
    let m = veth_request(ep, master, netns.as_raw_fd());
    nl.request(m).map(drop).map_err(named("veth add", ep.veth))
}

/// Inside the namespace: the address, the link up, then (first interface) the default
/// route, in that order: the gateway is reachable only once the address's prefix route is
/// there and the link is up.
fn configure_inside(ep: &Endpoint<'_>, netns: BorrowedFd<'_>) -> Result<(), NetError> {
    let mut nl = Netlink::open_in(netns).map_err(|errno| NetError::Netns {
        path: ep.netns.to_owned(),
        errno,
    })?;
    let index = link_index(&mut nl, "find link", ep.iface)?;
    let create = msg::NLM_F_REQUEST | msg::NLM_F_ACK | msg::NLM_F_CREATE | msg::NLM_F_EXCL;

    let mut m = Msg::new(msg::RTM_NEWADDR, create);
    let octets = ep.address.octets();
    m.ifaddr(ep.prefix, index)
        .attr(msg::IFA_LOCAL, &octets)
        .attr(msg::IFA_ADDRESS, &octets);
    nl.request(m).map_err(named("addr add", ep.iface))?;

    let mut m = Msg::new(msg::RTM_NEWLINK, msg::NLM_F_REQUEST | msg::NLM_F_ACK);
    m.ifinfo(index, msg::IFF_UP, msg::IFF_UP);
    nl.request(m).map_err(named("link up", ep.iface))?;

    if let Some(gateway) = ep.gateway {
        let mut m = Msg::new(msg::RTM_NEWROUTE, create);
        m.rtmsg(0)
            .attr(msg::RTA_GATEWAY, &gateway.octets())
            .attr_u32(msg::RTA_OIF, index);
        nl.request(m)
            .map_err(named("default route add", ep.iface))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint<'static> {
        Endpoint {
            bridge: "pcbr0",
            veth: "veth1a2b3c",
            netns: Path::new("/run/x"),
            iface: "eth0",
            address: Ipv4Addr::new(10, 88, 0, 2),
            prefix: 16,
            gateway: Some(Ipv4Addr::new(10, 88, 0, 1)),
        }
    }

    #[test]
    fn names_the_kernel_would_refuse_are_refused_first() {
        for bad in ["", "a/b", "a:b", "a b", ".", "..", "0123456789abcdef"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["eth0", "veth1a2b3c", "0123456789abcde"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
        let mut ep = endpoint();
        ep.iface = "this-name-is-too-long";
        let e = plumb(&ep).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid interface name \"this-name-is-too-long\""
        );
    }

    #[test]
    fn the_veth_request_is_one_create_with_master_up_and_a_peer_in_the_netns() {
        let b = veth_request(&endpoint(), 7, 42).finish(9);
        let u16_at = |at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
        let u32_at = |at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(0) as usize, b.len());
        assert_eq!(u16_at(4), msg::RTM_NEWLINK);
        assert_eq!(
            u16_at(6),
            msg::NLM_F_REQUEST | msg::NLM_F_ACK | msg::NLM_F_CREATE | msg::NLM_F_EXCL
        );
        // ifinfomsg: up, and told that the up bit is meant.
        assert_eq!((u32_at(24), u32_at(28)), (msg::IFF_UP, msg::IFF_UP));
        // IFLA_IFNAME "veth1a2b3c\0" (4 + 11 -> 16), IFLA_MASTER 7.
        assert_eq!((u16_at(32), u16_at(34)), (15, msg::IFLA_IFNAME));
        assert_eq!(&b[36..47], b"veth1a2b3c\0");
        assert_eq!(
            (u16_at(48), u16_at(50), u32_at(52)),
            (8, msg::IFLA_MASTER, 7)
        );
        assert_eq!(u16_at(58), msg::IFLA_LINKINFO);
        assert_eq!(u16_at(56) as usize, b.len() - 56);
        // The peer's fd is the last attribute.
        let end = b.len();
        assert_eq!(u16_at(end - 6), msg::IFLA_NET_NS_FD);
        assert_eq!(u32_at(end - 4), 42);
    }
}
