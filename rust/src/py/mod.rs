//! The only PyO3 code: the `pycore._native` module, argument conversion and the native
//! exception tree. Every blocking call runs inside `py.detach` so the GIL is released.

mod errors;
mod exec;
mod layer;
mod mount;
mod net;
mod runtime;

use pyo3::prelude::*;
use std::path::PathBuf;

#[pyfunction]
fn sha256_file(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    py.detach(|| crate::digest::sha256_file(&path))
        .map_err(PyErr::from)
}

/// Small in-memory data: hashed with the GIL held (no thread switch for a few KB).
#[pyfunction]
fn sha256_bytes(data: &[u8]) -> String {
    crate::digest::sha256_bytes(data)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("NativeError", py.get_type::<errors::NativeError>())?;
    m.add("LayerError", py.get_type::<errors::LayerError>())?;
    m.add("DigestMismatch", py.get_type::<errors::DigestMismatch>())?;
    m.add("NetlinkError", py.get_type::<errors::NetlinkError>())?;
    m.add_class::<layer::LayerDigests>()?;
    m.add_function(wrap_pyfunction!(sha256_file, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(layer::unpack_layer, m)?)?;
    m.add_function(wrap_pyfunction!(layer::pack_layer, m)?)?;
    runtime::register(m)?;
    mount::register(m)?;
    exec::register(m)?;
    net::register(m)?;
    Ok(())
}
