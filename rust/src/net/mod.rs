//! Container network plumbing over raw rtnetlink (NETLINK_ROUTE): the veth pair, address,
//! up state and default route of a bridged endpoint in a handful of messages, without the
//! `ip` processes they used to cost. Hand-written: only the few messages pycore sends.

pub mod error;
pub mod msg;
mod socket;
pub mod veth;

pub use error::NetError;
pub use veth::{plumb, Endpoint};
