//! The typed messages of the sync channels, fixed-size so the child of a fork can send them
//! without allocating: init → monitor over a SOCK_SEQPACKET pair (end of file = the exec
//! succeeded), monitor → init (`Proceed`), monitor → CLI over a pipe.

/// A named step of the container init (see `init.rs`); with an index for per-item steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    Sync = 1,
    Stdio,
    CgroupNs,
    Dumpable,
    Propagation,
    Rootfs,
    OpenRoot,
    Mount,
    Device,
    DevSymlinks,
    Cwd,
    PivotRoot,
    Mask,
    Readonly,
    ReadonlyRoot,
    Hostname,
    Loopback,
    Rlimit,
    Chdir,
    CloseFds,
    Bounding,
    Seccomp,
    User,
    Capabilities,
    NoNewPrivs,
    Exec,
    JoinNetns,
}

impl Step {
    const ALL: [Step; 27] = [
        Step::Sync,
        Step::Stdio,
        Step::CgroupNs,
        Step::Dumpable,
        Step::Propagation,
        Step::Rootfs,
        Step::OpenRoot,
        Step::Mount,
        Step::Device,
        Step::DevSymlinks,
        Step::Cwd,
        Step::PivotRoot,
        Step::Mask,
        Step::Readonly,
        Step::ReadonlyRoot,
        Step::Hostname,
        Step::Loopback,
        Step::Rlimit,
        Step::Chdir,
        Step::CloseFds,
        Step::Bounding,
        Step::Seccomp,
        Step::User,
        Step::Capabilities,
        Step::NoNewPrivs,
        Step::Exec,
        Step::JoinNetns,
    ];

    pub fn from_u32(v: u32) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| *s as u32 == v)
    }
}

/// Why the init stopped: the step, which item of it, and the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

/// What the monitor tells the CLI that started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// The container's process exec'd; its pid in the host's pid namespace.
    Started { pid: i32 },
    /// The init failed before exec.
    Failed(Failure),
    /// The monitor could not start the init at all (fork, pipes).
    MonitorFailed { op: u32, errno: i32 },
    /// The container exited with this Docker exit code (code, or 128 + signal).
    Exited { code: i32 },
}

pub const MSG_LEN: usize = 16;
const PROCEED: u32 = 0x5052_4f43;

fn pack(tag: u32, a: u32, b: i32, c: i32) -> [u8; MSG_LEN] {
    let mut m = [0u8; MSG_LEN];
    m[0..4].copy_from_slice(&tag.to_le_bytes());
    m[4..8].copy_from_slice(&a.to_le_bytes());
    m[8..12].copy_from_slice(&b.to_le_bytes());
    m[12..16].copy_from_slice(&c.to_le_bytes());
    m
}

fn unpack(m: &[u8; MSG_LEN]) -> (u32, u32, i32, i32) {
    let w = |i: usize| [m[i], m[i + 1], m[i + 2], m[i + 3]];
    (
        u32::from_le_bytes(w(0)),
        u32::from_le_bytes(w(4)),
        i32::from_le_bytes(w(8)),
        i32::from_le_bytes(w(12)),
    )
}

/// Monitor → init: set-up outside the container is done, go on.
pub fn proceed() -> [u8; MSG_LEN] {
    pack(PROCEED, 0, 0, 0)
}

pub fn is_proceed(m: &[u8; MSG_LEN]) -> bool {
    unpack(m).0 == PROCEED
}

impl Failure {
    pub fn encode(&self) -> [u8; MSG_LEN] {
        pack(self.step as u32, self.index, self.errno, 0)
    }

    pub fn decode(m: &[u8; MSG_LEN]) -> Option<Failure> {
        let (tag, index, errno, _) = unpack(m);
        Some(Failure {
            step: Step::from_u32(tag)?,
            index,
            errno,
        })
    }
}

impl Report {
    pub fn encode(&self) -> [u8; MSG_LEN] {
        match *self {
            Report::Started { pid } => pack(1, 0, pid, 0),
            Report::Failed(f) => pack(2, f.step as u32, f.errno, f.index as i32),
            Report::MonitorFailed { op, errno } => pack(3, op, errno, 0),
            Report::Exited { code } => pack(4, 0, code, 0),
        }
    }

    pub fn decode(m: &[u8; MSG_LEN]) -> Option<Report> {
        Some(match unpack(m) {
            (1, _, pid, _) => Report::Started { pid },
            (2, step, errno, index) => Report::Failed(Failure {
                step: Step::from_u32(step)?,
                index: index as u32,
                errno,
            }),
            (3, op, errno, _) => Report::MonitorFailed { op, errno },
            (4, _, code, _) => Report::Exited { code },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for r in [
            Report::Started { pid: 42 },
            Report::Failed(Failure {
                step: Step::Mount,
                index: 3,
                errno: 2,
            }),
            Report::MonitorFailed { op: 1, errno: 12 },
            Report::Exited { code: 137 },
        ] {
            assert_eq!(Report::decode(&r.encode()), Some(r));
        }
        let f = Failure {
            step: Step::Exec,
            index: 0,
            errno: 13,
        };
        assert_eq!(Failure::decode(&f.encode()), Some(f));
        assert!(is_proceed(&proceed()));
        assert!(!is_proceed(&f.encode()));
        assert!(Step::ALL
            .iter()
            .enumerate()
            .all(|(i, s)| *s as usize == i + 1));
    }
}
