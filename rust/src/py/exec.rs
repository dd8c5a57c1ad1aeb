//! `exec_process`: a new process in a running container (see `runtime::exec`).

use super::runtime::ContainerError;
use crate::runtime::exec::{self, ExecRequest};
use pyo3::prelude::*;
use std::path::PathBuf;

/// Runs a command in the container whose init is `pid`; see `_native.pyi`.
#[pyfunction]
#[pyo3(signature = (
    bundle, pid, pid_start, args, env, *, uid, gid, groups, cwd,
    cgroups = Vec::new(), stdin = false, tty = false, detach = false
))]
#[allow(clippy::too_many_arguments)]
pub fn exec_process(
    py: Python<'_>,
    bundle: PathBuf,
    pid: i32,
    pid_start: u64,
    args: Vec<String>,
    env: Vec<String>,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    cwd: String,
    cgroups: Vec<PathBuf>,
    stdin: bool,
    tty: bool,
    detach: bool,
) -> PyResult<(i32, Option<i32>)> {
    let req = ExecRequest {
        bundle,
        pid,
        pid_start,
        args,
        env,
        uid,
        gid,
        groups,
        cwd,
        cgroups,
        stdin,
        tty,
        detach,
    };
    match py.detach(|| exec::exec(&req)) {
        Ok(e) => Ok((e.pid, e.exit_code)),
        Err(e) => Err(ContainerError::new_err((e.to_string(), e.exit_code()))),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exec_process, m)?)?;
    Ok(())
}
