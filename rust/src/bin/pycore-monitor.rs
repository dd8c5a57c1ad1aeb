//! `pycore-monitor`: a container's monitor as a small program of its own, exec'd by the
//! runtime in place of a fork of the (Python) caller. Not for people: its argv is the
//! runtime's (see `runtime::monitor_cli`).

use _native::runtime::{exec, monitor, monitor_cli, Plan};
use std::os::fd::{FromRawFd, OwnedFd};

fn main() {
    // `--join <fd>`: the joiner of `pycore exec` (runtime::exec), exec'd from a sealed mount.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new("--join")) {
        match args.next().and_then(|f| f.to_str()?.parse().ok()) {
            Some(fd) => exec::join_main(fd),
            None => std::process::exit(2),
        }
    }
    let Some((req, report)) = monitor_cli::from_args(std::env::args_os().skip(1)) else {
        eprintln!("pycore-monitor: started by the pycore runtime only");
        std::process::exit(2);
    };
    // SAFETY: the runtime passed us the write end of its report pipe under this number.
    let report = unsafe { OwnedFd::from_raw_fd(report) };
    match Plan::load(&req.bundle) {
        Ok(plan) => monitor::run(&plan, &req, report),
        Err(_) => {
            // The CLI built the same plan from the same file a moment ago: only a change of
            // config.json in between gets here. The CLI sees the pipe close: MonitorLost.
            std::process::exit(125)
        }
    }
}
