//! The container runtime: an OCI bundle's `config.json` → a `Plan` (before fork) → a
//! daemonless monitor process that clones the container init into its namespaces, owns its
//! stdio and log, reaps it and records its exit in `state.json` by rename.

// MS_* and friends are `c_ulong`: the casts to u64 matter on 32-bit targets.
#![allow(clippy::unnecessary_cast)]

pub mod caps;
pub mod cgroup;
mod clock;
pub mod exec;
pub mod init;
pub mod monitor;
pub mod monitor_cli;
pub mod msg;
pub mod netns;
pub mod plan;
pub mod pty;
pub mod reaper;
pub mod restart;
pub mod seccomp;
pub mod selfexe;
pub mod spawn;
pub mod spec;
#[cfg(target_arch = "x86_64")]
mod syscalls_x86_64;

use crate::sys::Errno;
use std::path::PathBuf;
use thiserror::Error;

pub use msg::{Failure, Step};
pub use plan::Plan;
pub use spawn::{start, StartRequest, Started};

#[derive(Debug, Error)]
pub enum Error {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config.json: {0}")]
    Json(serde_json::Error),
    #[error("config.json: {0} is missing")]
    Missing(&'static str),
    #[error("config.json: {field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("config.json: {0}")]
    Mount(#[from] crate::mount::PlanError),
    #[error("config.json: {0}")]
    Seccomp(#[from] seccomp::SeccompError),
    #[error("config.json: {0}")]
    Capability(#[from] caps::UnknownCapability),
    #[error("{0}")]
    Cgroup(#[from] cgroup::CgroupError),
    /// The runtime itself could not start the container (fork, pipes, the monitor).
    #[error("{op}: {errno}")]
    Spawn { op: &'static str, errno: Errno },
    /// The container init failed before exec; `what` names the step and its object.
    #[error("{what}: {errno}")]
    Init {
        what: String,
        failure: Failure,
        errno: Errno,
    },
    /// `exec`: the container's process is gone (or its pid now names another process).
    #[error("the container is not running (its process {pid} is gone)")]
    NotRunning { pid: i32 },
    /// The monitor went away without reporting (killed).
    #[error("the container monitor exited without reporting")]
    MonitorLost,
}

impl Error {
    /// Docker's exit code for a failure to start: 127 command not found, 126 cannot be
    /// executed, 125 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Init { failure, .. } if failure.step == Step::Exec => {
                if failure.errno == libc::ENOENT || failure.errno == libc::ENOTDIR {
                    127
                } else {
                    126
                }
            }
            _ => 125,
        }
    }
}
