//! The monitor as its own small program (`pycore-monitor`): instead of living on in a fork of
//! the caller (a Python CLI: ~14 MB of copied heap), the monitor's process execs this binary,
//! which re-reads the bundle and runs the same `monitor::run`. The request travels in argv,
//! the report pipe as an inherited fd. Without the binary the fork carries on in-process.

use super::spawn::StartRequest;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The binary's name, looked for in `_bin/` beside the native module.
pub const BINARY: &str = "pycore-monitor";

/// argv for the binary (argv[0] included).
pub fn to_args(exe: &Path, req: &StartRequest, report_fd: i32) -> Vec<CString> {
    let mut a: Vec<OsString> = vec![exe.into(), "--report".into(), report_fd.to_string().into()];
    a.extend(["--bundle".into(), req.bundle.clone().into_os_string()]);
    a.extend(["--state".into(), req.state.clone().into_os_string()]);
    a.extend(["--log".into(), req.log.clone().into_os_string()]);
    if req.attach {
        a.push("--attach".into());
    }
    if req.interactive {
        a.push("--interactive".into());
    }
    if let Some((dir, trash)) = &req.remove {
        a.extend(["--remove".into(), dir.clone().into_os_string()]);
        a.extend(["--trash".into(), trash.clone().into_os_string()]);
    }
    for arg in &req.exit_command {
        a.extend(["--exit-arg".into(), arg.clone()]);
    }
    if let Some(p) = &req.exit_if {
        a.extend(["--exit-if".into(), p.clone().into_os_string()]);
    }
    // Paths never hold NUL bytes (they came from the OS or from Python's str).
    a.into_iter()
        .filter_map(|s| CString::new(s.into_vec()).ok())
        .collect()
}

/// The request and the report fd from argv (without argv[0]); None if malformed.
pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Option<(StartRequest, i32)> {
    let mut it = args.into_iter();
    let (mut bundle, mut state, mut log, mut remove, mut trash) = (None, None, None, None, None);
    let mut exit_if = None;
    let (mut attach, mut interactive, mut report) = (false, false, None);
    let mut exit_command = Vec::new();
    while let Some(flag) = it.next() {
        match flag.as_bytes() {
            b"--attach" => attach = true,
            b"--interactive" => interactive = true,
            b"--report" => {
                report = it.next()?.to_str()?.parse().ok();
            }
            b"--exit-arg" => exit_command.push(it.next()?),
            f => {
                let v = PathBuf::from(it.next()?);
                match f {
                    b"--bundle" => bundle = Some(v),
                    b"--state" => state = Some(v),
                    b"--log" => log = Some(v),
                    b"--remove" => remove = Some(v),
                    b"--trash" => trash = Some(v),
                    b"--exit-if" => exit_if = Some(v),
                    _ => return None,
                }
            }
        }
    }
    let req = StartRequest {
        bundle: bundle?,
        state: state?,
        log: log?,
        attach,
        remove: remove.zip(trash),
        interactive,
        exit_command,
        exit_if,
    };
    Some((req, report?))
}

/// execv(2) of the binary with the current environment; returns only on failure.
pub fn exec(path: &std::ffi::CStr, argv: &crate::sys::CStrArray) {
    // SAFETY: NUL-terminated path and a NULL-terminated argv built before fork.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
}

/// `_bin/pycore-monitor` beside the shared object this code is linked into (the native
/// module, `pycore/_native.abi3.so`), if it is there and executable.
pub fn locate() -> Option<PathBuf> {
    // SAFETY: dladdr only reads the loader's tables; `info` is plain data it fills.
    let object = unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let addr = locate as *const () as *const libc::c_void;
        if libc::dladdr(addr, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(info.dli_fname)
    };
    let path = Path::new(OsStr::from_bytes(object.to_bytes()));
    let exe = path.parent()?.join("_bin").join(BINARY);
    // SAFETY: a NUL-terminated path; access only checks permissions.
    let c = CString::new(exe.as_os_str().as_bytes()).ok()?;
    (unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0).then_some(exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_round_trips() {
        let req = StartRequest {
            bundle: "/c/b".into(),
            state: "/c/state.json".into(),
            log: "/c/log".into(),
            attach: true,
            remove: Some(("/c".into(), "/tmp".into())),
            interactive: true,
            exit_command: vec!["/usr/bin/python3".into(), "-m".into(), "x y".into()],
            exit_if: Some("/s/e.json".into()),
        };
        let args = to_args(Path::new("/x/pycore-monitor"), &req, 7);
        let os: Vec<OsString> = args[1..]
            .iter()
            .map(|c| OsString::from_vec(c.as_bytes().to_vec()))
            .collect();
        let (back, fd) = from_args(os).unwrap();
        assert_eq!(fd, 7);
        assert_eq!(back.bundle, req.bundle);
        assert_eq!(back.remove, req.remove);
        assert_eq!(back.exit_command, req.exit_command);
        assert_eq!(back.exit_if, req.exit_if);
        assert!(back.attach && back.interactive);
        assert!(from_args(vec!["--bogus".into(), "x".into()]).is_none());
    }
}
