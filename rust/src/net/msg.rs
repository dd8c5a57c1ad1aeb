//! NETLINK_ROUTE messages as bytes: a header, a fixed family struct, then attributes (each
//! padded to 4 bytes, nested ones wrapping their children), and the parse of the kernel's
//! answers. The layouts are those of <linux/netlink.h>, <linux/rtnetlink.h>,
//! <linux/if_link.h>, <linux/if_addr.h> and <linux/veth.h>; all fields in host byte order.

// Message types and flags (<linux/netlink.h>, <linux/rtnetlink.h>).
pub const NLMSG_ERROR: u16 = 2;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_NEWROUTE: u16 = 24;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

// Attributes (<linux/if_link.h>, <linux/if_addr.h>, <linux/rtnetlink.h>, <linux/veth.h>).
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MASTER: u16 = 10;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFLA_INFO_KIND: u16 = 1;
pub const IFLA_INFO_DATA: u16 = 2;
pub const VETH_INFO_PEER: u16 = 1;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;

// Field values (<linux/rtnetlink.h>, <linux/if.h>).
pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const IFF_UP: u32 = 0x1;
pub const RT_TABLE_MAIN: u8 = 254;
pub const RTPROT_BOOT: u8 = 3;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RTN_UNICAST: u8 = 1;

/// `struct nlmsghdr`: len, type, flags, seq, pid.
pub const NLMSG_HDRLEN: usize = 16;
/// `struct ifinfomsg`: family, pad, type, index, flags, change.
pub const IFINFOMSG_LEN: usize = 16;
const RTA_HDRLEN: usize = 4;

/// Netlink pads every message and attribute to a multiple of 4 bytes (NLMSG_ALIGN, RTA_ALIGN).
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One request being built. Lengths of the message and of open nests are patched in as
/// they close, so attributes are written once, in order, with no intermediate buffers.
#[derive(Debug)]
pub struct Msg {
    buf: Vec<u8>,
}

/// Where a nested attribute starts; closed by [`Msg::end_nest`].
#[must_use]
pub struct Nest(usize);

impl Msg {
    pub fn new(kind: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set by finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq, set by finish()
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: 0, the kernel fills ours in
        Msg { buf }
    }

    /// `struct ifinfomsg` for links: `index` 0 means "by IFLA_IFNAME"; `flags` are applied
    /// where `change` has bits (IFF_UP in both brings the link up).
    pub fn ifinfo(&mut self, index: u32, flags: u32, change: u32) -> &mut Self {
        push_ifinfo(&mut self.buf, index, flags, change);
        self
    }

    /// `struct ifaddrmsg`: family, prefixlen, flags, scope, index.
    pub fn ifaddr(&mut self, prefix: u8, index: u32) -> &mut Self {
        self.buf
            .extend_from_slice(&[AF_INET, prefix, 0, RT_SCOPE_UNIVERSE]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self
    }

    /// `struct rtmsg` of an IPv4 unicast route in the main table with `dst_len`, as
    /// `ip route add` makes it (protocol boot, scope universe).
    pub fn rtmsg(&mut self, dst_len: u8) -> &mut Self {
        self.buf.extend_from_slice(&[
            AF_INET,
            dst_len,
            0, // src_len
            0, // tos
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ]);
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
        self
    }

    /// One attribute: its 4-byte header, the payload, zero padding to 4 bytes. `rta_len`
    /// counts header and payload, not the padding (RTA_LENGTH, not RTA_SPACE).
    pub fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = RTA_HDRLEN + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
        self
    }

    pub fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// A C string attribute (IFLA_IFNAME, IFLA_INFO_KIND): the kernel wants the NUL.
    pub fn attr_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut bytes = Vec::with_capacity(value.len() + 1);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    /// Opens a nested attribute; everything written until [`Msg::end_nest`] is inside it.
    pub fn begin_nest(&mut self, kind: u16) -> Nest {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        Nest(at)
    }

    pub fn end_nest(&mut self, nest: Nest) -> &mut Self {
        let len = (self.buf.len() - nest.0) as u16;
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// Raw bytes inside a nest: VETH_INFO_PEER carries a whole `struct ifinfomsg` before
    /// the peer's own attributes.
    pub fn ifinfo_payload(&mut self, index: u32, flags: u32, change: u32) -> &mut Self {
        push_ifinfo(&mut self.buf, index, flags, change);
        self
    }

    /// The finished message with its total length and sequence number in the header.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        self.pad();
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }
}

fn push_ifinfo(buf: &mut Vec<u8>, index: u32, flags: u32, change: u32) {
    buf.extend_from_slice(&[AF_UNSPEC, 0]);
    buf.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    buf.extend_from_slice(&index.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&change.to_ne_bytes());
}

/// What the kernel said about one request of ours.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// NLMSG_ERROR with error 0: done.
    Ack,
    /// NLMSG_ERROR with a negative errno: refused.
    Error(i32),
    /// Any other message (e.g. RTM_NEWLINK answering RTM_GETLINK), header stripped.
    Data { kind: u16, body: &'a [u8] },
}

/// Why a datagram could not be read as netlink.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// The messages in one datagram, as (seq, reply), in order.
pub fn replies(mut data: &[u8]) -> Result<Vec<(u32, Reply<'_>)>, Malformed> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32_at(data, 0)? as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            return Err(Malformed);
        }
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        let seq = u32_at(data, 8)?;
        let body = &data[NLMSG_HDRLEN..len];
        let reply = if kind == NLMSG_ERROR {
            // struct nlmsgerr: int error, then our request's header (and maybe more).
            match i32::from_ne_bytes(u32_at(body, 0)?.to_ne_bytes()) {
                0 => Reply::Ack,
                e => Reply::Error(-e),
            }
        } else {
            Reply::Data { kind, body }
        };
        out.push((seq, reply));
        data = &data[align(len).min(data.len())..];
    }
    Ok(out)
}

/// `ifi_index` of an RTM_NEWLINK body (a `struct ifinfomsg` first).
pub fn ifindex(body: &[u8]) -> Result<u32, Malformed> {
    if body.len() < IFINFOMSG_LEN {
        return Err(Malformed);
    }
    u32_at(body, 4)
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, Malformed> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or(Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn header_carries_total_length_type_flags_and_seq() {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_REQUEST);
        m.ifinfo(0, 0, 0);
        let b = m.finish(7);
        assert_eq!(b.len(), NLMSG_HDRLEN + IFINFOMSG_LEN);
        assert_eq!(u32_at(&b, 0).unwrap() as usize, b.len());
        assert_eq!(u16_at(&b, 4), RTM_GETLINK);
        assert_eq!(u16_at(&b, 6), NLM_F_REQUEST);
        assert_eq!(u32_at(&b, 8).unwrap(), 7);
        assert_eq!(u32_at(&b, 12).unwrap(), 0);
    }

    #[test]
    fn attributes_are_padded_but_their_length_is_not() {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.attr_str(IFLA_IFNAME, "eth0"); // 4 + 5 bytes, padded to 12
        m.attr_u32(IFLA_MASTER, 9);
        let b = m.finish(1);
        let a = &b[NLMSG_HDRLEN..];
        assert_eq!(u16_at(a, 0), 9, "rta_len counts the NUL, not the padding");
        assert_eq!(u16_at(a, 2), IFLA_IFNAME);
        assert_eq!(&a[4..12], b"eth0\0\0\0\0");
        assert_eq!(u16_at(a, 12), 8);
        assert_eq!(u16_at(a, 14), IFLA_MASTER);
        assert_eq!(u32_at(a, 16).unwrap(), 9);
        assert_eq!(b.len(), NLMSG_HDRLEN + 12 + 8);
        assert_eq!(b.len() % 4, 0);
    }

    #[test]
    fn a_name_of_four_bytes_minus_nul_needs_no_padding() {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.attr_str(IFLA_IFNAME, "eth"); // 4 + 4
        assert_eq!(m.finish(1).len(), NLMSG_HDRLEN + 8);
    }

    #[test]
    fn nests_wrap_their_padded_children() {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        let info = m.begin_nest(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth"); // 4 + 5 -> 12
        let data = m.begin_nest(IFLA_INFO_DATA);
        let peer = m.begin_nest(VETH_INFO_PEER);
        m.ifinfo_payload(0, 0, 0); // 16
        m.attr_str(IFLA_IFNAME, "eth0"); // 12
        m.attr_u32(IFLA_NET_NS_FD, 5); // 8
        m.end_nest(peer).end_nest(data).end_nest(info);
        let b = m.finish(1);
        let a = &b[NLMSG_HDRLEN..];
        let peer_len = 4 + 16 + 12 + 8;
        let data_len = 4 + peer_len;
        let info_len = 4 + 12 + data_len;
        assert_eq!(
            (u16_at(a, 0) as usize, u16_at(a, 2)),
            (info_len, IFLA_LINKINFO)
        );
        assert_eq!(u16_at(a, 4), 9);
        assert_eq!(u16_at(a, 6), IFLA_INFO_KIND);
        assert_eq!(
            (u16_at(a, 16) as usize, u16_at(a, 18)),
            (data_len, IFLA_INFO_DATA)
        );
        assert_eq!(
            (u16_at(a, 20) as usize, u16_at(a, 22)),
            (peer_len, VETH_INFO_PEER)
        );
        // The peer's ifinfomsg, then its name and namespace fd.
        assert_eq!(u16_at(a, 40), 9);
        assert_eq!(u16_at(a, 42), IFLA_IFNAME);
        assert_eq!((u16_at(a, 52), u16_at(a, 54)), (8, IFLA_NET_NS_FD));
        assert_eq!(u32_at(a, 56).unwrap(), 5);
        assert_eq!(b.len(), NLMSG_HDRLEN + info_len);
    }

    #[test]
    fn address_and_route_bodies_have_their_c_layouts() {
        let mut m = Msg::new(RTM_NEWADDR, 0);
        m.ifaddr(24, 3).attr(IFA_LOCAL, &[10, 0, 0, 2]);
        let b = m.finish(1);
        assert_eq!(&b[16..20], &[AF_INET, 24, 0, RT_SCOPE_UNIVERSE]);
        assert_eq!(u32_at(&b, 20).unwrap(), 3);
        assert_eq!(&b[28..32], &[10, 0, 0, 2]);
        let mut m = Msg::new(RTM_NEWROUTE, 0);
        m.rtmsg(0).attr(RTA_GATEWAY, &[10, 0, 0, 1]);
        let b = m.finish(1);
        assert_eq!(b.len(), NLMSG_HDRLEN + 12 + 8);
        assert_eq!(b[16 + 4], RT_TABLE_MAIN);
        assert_eq!(b[16 + 7], RTN_UNICAST);
    }

    /// NLMSG_ERROR: header, `-errno` (0 for an ack), the echoed request header.
    fn error_msg(seq: u32, errno: i32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) as u32).to_ne_bytes());
        b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b.extend_from_slice(&0u16.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&(-errno).to_ne_bytes());
        b.extend_from_slice(&[0; NLMSG_HDRLEN]);
        b
    }

    #[test]
    fn parses_acks_errors_and_data_in_one_datagram() {
        let mut d = error_msg(3, 0);
        d.extend(error_msg(4, libc::EEXIST));
        let mut link = Msg::new(RTM_NEWLINK, 0);
        link.ifinfo(42, IFF_UP, 0).attr_str(IFLA_IFNAME, "br0");
        d.extend(link.finish(5));
        let r = replies(&d).unwrap();
        assert_eq!(r[0], (3, Reply::Ack));
        assert_eq!(r[1], (4, Reply::Error(libc::EEXIST)));
        let (seq, Reply::Data { kind, body }) = &r[2] else {
            panic!("{r:?}")
        };
        assert_eq!((*seq, *kind), (5, RTM_NEWLINK));
        assert_eq!(ifindex(body).unwrap(), 42);
    }

    #[test]
    fn refuses_lengths_that_overrun_the_datagram() {
        let mut d = error_msg(1, 0);
        d[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(replies(&d), Err(Malformed));
        d[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(replies(&d), Err(Malformed));
        assert_eq!(ifindex(&[0; 8]), Err(Malformed));
    }
}
