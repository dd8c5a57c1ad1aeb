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
#[pyo3(signature = (bundle, state, log, *, attach = false, remove = None, trash = None, interactive = false, exit_command = None, exit_if = None))]
pub fn start_container(
    py: Python<'_>,
    bundle: PathBuf,
    state: PathBuf,
    log: PathBuf,
    attach: bool,
    remove: Option<PathBuf>,
    trash: Option<PathBuf>,
    interactive: bool,
    exit_command: Option<Vec<std::ffi::OsString>>,
    exit_if: Option<PathBuf>,
) -> PyResult<(i32, Option<i32>)> {
    let req = StartRequest {
        bundle,
        state,
        log,
        attach,
        remove: remove.zip(trash),
        interactive,
        exit_command: exit_command.unwrap_or_default(),
        exit_if,
    };
    match py.detach(|| runtime::start(&req)) {
        Ok(s) => Ok((s.pid, s.exit_code)),
        Err(e) => Err(ContainerError::new_err((e.to_string(), e.exit_code()))),
    }
}

/// Sets off the grace period a container start's first cgroup migration waits for, and keeps
/// migrations fast for up to `hold` seconds; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (hold = 1.0))]
pub fn prime_cgroups(hold: f64) {
    let hold = std::time::Duration::from_secs_f64(hold.clamp(0.0, 10.0));
    runtime::cgroup::prime_migration(std::path::Path::new(runtime::cgroup::CGROUP_ROOT), hold);
}

/// A new network namespace pinned on `path`; see `_native.pyi`.
#[pyfunction]
pub fn pin_netns(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    py.detach(|| runtime::netns::pin(&path))
        .map_err(|e| std::io::Error::from_raw_os_error(e.0).into())
}

/// Releases a namespace pinned by `pin_netns`; see `_native.pyi`.
#[pyfunction]
pub fn unpin_netns(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    py.detach(|| runtime::netns::unpin(&path))
        .map_err(|e| std::io::Error::from_raw_os_error(e.0).into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ContainerError", m.py().get_type::<ContainerError>())?;
    m.add_function(wrap_pyfunction!(start_container, m)?)?;
    m.add_function(wrap_pyfunction!(prime_cgroups, m)?)?;
    m.add_function(wrap_pyfunction!(pin_netns, m)?)?;
    m.add_function(wrap_pyfunction!(unpin_netns, m)?)?;
    Ok(())
}
