//! `start_container` and `ContainerError`: the runtime's whole Python surface.

use super::errors::NativeError;
use crate::runtime::{self, StartRequest};
use pyo3::create_exception;
use pyo3::prelude::*;
use std::path::PathBuf;

create_exception!(
    _native,
    ContainerError,
    NativeError,
    "The container could not be started; args are (message, exit_code)."
);

/// Starts the container of `bundle` under its monitor; see `_native.pyi`.
#[pyfunction]
// Python's keyword arguments, one per option of `start_container`.
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (bundle, state, log, *, attach = false, remove = None, trash = None, interactive = false))]
pub fn start_container(
    py: Python<'_>,
    bundle: PathBuf,
    state: PathBuf,
    log: PathBuf,
    attach: bool,
    remove: Option<PathBuf>,
    trash: Option<PathBuf>,
    interactive: bool,
) -> PyResult<(i32, Option<i32>)> {
    let req = StartRequest {
        bundle,
        state,
        log,
        attach,
        remove: remove.zip(trash),
        interactive,
    };
    match py.detach(|| runtime::start(&req)) {
        Ok(s) => Ok((s.pid, s.exit_code)),
        Err(e) => Err(ContainerError::new_err((e.to_string(), e.exit_code()))),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ContainerError", m.py().get_type::<ContainerError>())?;
    m.add_function(wrap_pyfunction!(start_container, m)?)?;
    Ok(())
}
