//! The native exception tree (`NativeError > LayerError > DigestMismatch`, `NativeError >
//! NetlinkError`) and the one mapping from Rust errors onto it.

use crate::layer::LayerError as RustLayerError;
use crate::net::NetError;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::PyErr;

create_exception!(
    _native,
    NativeError,
    PyException,
    "Root of every native error."
);
create_exception!(
    _native,
    LayerError,
    NativeError,
    "A layer could not be read or extracted (the message names the entry)."
);
create_exception!(
    _native,
    DigestMismatch,
    LayerError,
    "A digest, diff_id or size did not match what the caller expected."
);

create_exception!(
    _native,
    NetlinkError,
    NativeError,
    "The kernel refused a network plumbing request; args are (message, errno or None)."
);

/// A plumbing error as NetlinkError("veth add veth1a2b3c: File exists", errno).
pub fn net_err(e: NetError) -> PyErr {
    NetlinkError::new_err((e.to_string(), e.errno()))
}

/// Maps a layer error: mismatches to DigestMismatch, I/O on the blob or output file (and on
/// the target directory itself) to OSError, everything else to LayerError.
pub fn layer_err(e: RustLayerError) -> PyErr {
    match &e {
        RustLayerError::Mismatch { .. } => DigestMismatch::new_err(e.to_string()),
        RustLayerError::Io { source, path, op } => match source.raw_os_error() {
            Some(errno) => os_error(errno, op, path.clone()),
            None => PyOSError::new_err(e.to_string()),
        },
        RustLayerError::Fs(fs) => {
            let path = String::from_utf8_lossy(&fs.path.0).into_owned();
            os_error(fs.errno.raw_os_error(), fs.op, path)
        }
        _ => LayerError::new_err(e.to_string()),
    }
}

/// `OSError(errno, "op: strerror", path)`; Python picks the subclass (FileNotFoundError...).
fn os_error(errno: i32, op: &str, path: String) -> PyErr {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
    PyOSError::new_err((errno, format!("{op}: {text}"), path))
}
