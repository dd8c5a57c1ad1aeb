//! `open_overlay`: a stopped container's merged view as a detached mount fd.

use crate::mount::detached::{self, DetachedError};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use std::os::fd::IntoRawFd;

/// Mounts the overlay detached and hands its fd to Python; see `_native.pyi`.
#[pyfunction]
pub fn open_overlay(
    py: Python<'_>,
    lowerdirs: Vec<String>,
    upperdir: String,
    workdir: String,
) -> PyResult<i32> {
    match py.detach(|| detached::open_overlay(&lowerdirs, &upperdir, &workdir)) {
        Ok(fd) => Ok(fd.into_raw_fd()),
        Err(DetachedError::Sys { op, errno }) => {
            let text = std::io::Error::from_raw_os_error(errno.0).to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_owned();
            Err(PyOSError::new_err((
                errno.0,
                format!("{op}: {text}"),
                upperdir,
            )))
        }
        Err(e) => Err(PyValueError::new_err(e.to_string())),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open_overlay, m)?)?;
    Ok(())
}
