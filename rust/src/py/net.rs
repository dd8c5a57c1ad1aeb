//! `plumb_veth`: a bridged container's endpoint over rtnetlink; see `_native.pyi`.

use super::errors::net_err;
use crate::net::{self, Endpoint};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::net::Ipv4Addr;
use std::path::PathBuf;

fn ipv4(what: &str, text: &str) -> PyResult<Ipv4Addr> {
    text.parse()
        .map_err(|_| PyValueError::new_err(format!("{what}: not an IPv4 address: {text:?}")))
}

/// `10.88.0.2/16` as the address and its prefix length.
fn cidr(text: &str) -> PyResult<(Ipv4Addr, u8)> {
    let bad = || PyValueError::new_err(format!("address: not IPv4 with a prefix: {text:?}"));
    let (ip, prefix) = text.split_once('/').ok_or_else(bad)?;
    match prefix.parse::<u8>() {
        Ok(p) if p <= 32 => Ok((ipv4("address", ip)?, p)),
        _ => Err(bad()),
    }
}

/// The veth pair on `bridge` with its peer `iface` in `netns`, addressed and up; see
/// `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (bridge, veth, netns, iface, address, gateway = None))]
pub fn plumb_veth(
    py: Python<'_>,
    bridge: String,
    veth: String,
    netns: PathBuf,
    iface: String,
    address: String,
    gateway: Option<String>,
) -> PyResult<()> {
    let (address, prefix) = cidr(&address)?;
    let ep = Endpoint {
        bridge: &bridge,
        veth: &veth,
        netns: &netns,
        iface: &iface,
        address,
        prefix,
        gateway: gateway.as_deref().map(|g| ipv4("gateway", g)).transpose()?,
    };
    py.detach(|| net::plumb(&ep)).map_err(net_err)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plumb_veth, m)?)?;
    Ok(())
}
