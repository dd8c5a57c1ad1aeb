//! mount(8)-style option strings ("ro", "nosuid", "rbind", "mode=755") to mount(2) flags
//! and a data string, as the OCI runtime spec's `mounts[].options` uses them.

/// What a list of options asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Flags for the mount itself.
    pub flags: u64,
    /// Propagation change applied after mounting (MS_PRIVATE, MS_SLAVE... with MS_REC).
    pub propagation: u64,
    /// A bind mount (`bind` or `rbind`).
    pub bind: bool,
    /// Filesystem-specific options, comma-joined for mount(2)'s data argument.
    pub data: Vec<String>,
}

/// Flags that a bind mount only honours through a second, remounting call.
pub const REMOUNT_FLAGS: u64 = (libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME) as u64;

pub fn parse(options: &[String]) -> Options {
    let mut o = Options::default();
    for opt in options {
        let (set, clear): (u64, u64) = match opt.as_str() {
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                (libc::MS_BIND, 0)
            }
            "rbind" => {
                o.bind = true;
                (libc::MS_BIND | libc::MS_REC, 0)
            }
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation = propagation(opt).unwrap_or(0);
                (0, 0)
            }
            other => {
                o.data.push(other.to_string());
                (0, 0)
            }
        };
        o.flags = (o.flags | set as u64) & !(clear as u64);
    }
    o
}

/// MS_* propagation flags for "private", "rslave", ...
pub fn propagation(name: &str) -> Option<u64> {
    let (rec, base) = match name.strip_prefix('r') {
        Some(b) if !b.is_empty() => (libc::MS_REC as u64, b),
        _ => (0, name),
    };
    let f = match base {
        "private" => libc::MS_PRIVATE,
        "shared" => libc::MS_SHARED,
        "slave" => libc::MS_SLAVE,
        "unbindable" => libc::MS_UNBINDABLE,
        _ => return None,
    };
    Some(f as u64 | rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_and_data() {
        let o = parse(&v(&["nosuid", "strictatime", "mode=755", "size=65536k"]));
        assert_eq!(o.flags, (libc::MS_NOSUID | libc::MS_STRICTATIME) as u64);
        assert_eq!(o.data, v(&["mode=755", "size=65536k"]));
        assert!(!o.bind);
        let o = parse(&v(&["rbind", "ro", "rw", "rprivate"]));
        assert!(o.bind);
        assert_eq!(o.flags, (libc::MS_BIND | libc::MS_REC) as u64);
        assert_eq!(o.propagation, (libc::MS_PRIVATE | libc::MS_REC) as u64);
    }

    #[test]
    fn propagation_names() {
        assert_eq!(
            propagation("rslave"),
            Some((libc::MS_SLAVE | libc::MS_REC) as u64)
        );
        assert_eq!(propagation("shared"), Some(libc::MS_SHARED as u64));
        assert_eq!(propagation("r"), None);
    }
}
