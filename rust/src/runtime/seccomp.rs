//! Compiles an OCI `linux.seccomp` section into a classic BPF program (seccomp(2),
//! Documentation/userspace-api/seccomp_filter.rst) without libseccomp.
//!
//! Shape: check the audit arch (anything but the native arch, and x32 numbers, get the
//! default action), load the syscall number, then one block per rule in spec order; the
//! first matching rule decides. Arguments are 64-bit: each comparison checks the high word,
//! then the low word (`struct seccomp_data` on little-endian: args[i] at 16 + 8i, low first).

use super::spec;
use crate::sys::SockFilter;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SeccompError {
    #[error("unknown seccomp action {0:?}")]
    Action(String),
    #[error("unknown seccomp operator {0:?}")]
    Operator(String),
    #[error("seccomp argument index {0} out of range (0-5)")]
    ArgIndex(u32),
    #[error("seccomp filter too long ({0} instructions, the kernel allows 4096)")]
    TooLong(usize),
    #[error("seccomp rule for {0:?} is too long to compile")]
    RuleTooLong(String),
    #[error("seccomp is not supported on this architecture")]
    Arch,
}

// BPF opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RET_K: u16 = 0x06;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const MAX_INSNS: usize = 4096;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "x86_64")]
fn syscall_number(name: &str) -> Option<u32> {
    let t = super::syscalls_x86_64::TABLE;
    t.binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| t[i].1)
}
#[cfg(not(target_arch = "x86_64"))]
const AUDIT_ARCH_NATIVE: u32 = 0;
#[cfg(not(target_arch = "x86_64"))]
fn syscall_number(_name: &str) -> Option<u32> {
    None
}

fn action(name: &str, errno: Option<u32>) -> Result<u32, SeccompError> {
    let data = errno.unwrap_or(libc::EPERM as u32) & 0xffff;
    Ok(match name {
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_TRACE" => RET_TRACE | data,
        "SCMP_ACT_LOG" => RET_LOG,
        other => return Err(SeccompError::Action(other.to_string())),
    })
}

/// A jump target inside one rule block.
#[derive(Clone, Copy)]
enum To {
    Next,
    /// The instruction `n` places further on within the argument check being built.
    Skip(u8),
    /// The rule did not match: reload the syscall number and try the next rule.
    Fail,
}

struct Insn {
    code: u16,
    jt: To,
    jf: To,
    k: u32,
}

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: To::Next,
        jf: To::Next,
        k,
    }
}

fn jump(code: u16, k: u32, jt: To, jf: To) -> Insn {
    Insn { code, jt, jf, k }
}

/// Instructions that fall through when argument `a` satisfies the comparison, and jump to
/// `Fail` otherwise.
fn arg_check(a: &spec::SeccompArg) -> Result<Vec<Insn>, SeccompError> {
    if a.index > 5 {
        return Err(SeccompError::ArgIndex(a.index));
    }
    let lo_off = OFF_ARGS + 8 * a.index;
    let hi_off = lo_off + 4;
    let (vhi, vlo) = ((a.value >> 32) as u32, a.value as u32);
    let ld = |off| stmt(LD_W_ABS, off);
    use To::{Fail, Next, Skip};
    Ok(match a.op.as_str() {
        "SCMP_CMP_EQ" => vec![
            ld(hi_off),
            jump(JEQ_K, vhi, Next, Fail),
            ld(lo_off),
            jump(JEQ_K, vlo, Next, Fail),
        ],
        "SCMP_CMP_NE" => vec![
            ld(hi_off),
            jump(JEQ_K, vhi, Next, Skip(2)),
            ld(lo_off),
            jump(JEQ_K, vlo, Fail, Next),
        ],
        "SCMP_CMP_MASKED_EQ" => {
            let (mhi, mlo) = ((a.value >> 32) as u32, a.value as u32);
            let (dhi, dlo) = ((a.value_two >> 32) as u32, a.value_two as u32);
            vec![
                ld(hi_off),
                stmt(AND_K, mhi),
                jump(JEQ_K, dhi, Next, Fail),
                ld(lo_off),
                stmt(AND_K, mlo),
                jump(JEQ_K, dlo, Next, Fail),
            ]
        }
        // arg > v  <=>  hi > vhi, or hi == vhi and lo > vlo (and likewise for >=).
        "SCMP_CMP_GT" | "SCMP_CMP_GE" => {
            let lo_op = if a.op == "SCMP_CMP_GT" { JGT_K } else { JGE_K };
            vec![
                ld(hi_off),
                jump(JGT_K, vhi, Skip(3), Next),
                jump(JEQ_K, vhi, Next, Fail),
                ld(lo_off),
                jump(lo_op, vlo, Next, Fail),
            ]
        }
        // arg < v  <=>  not (arg >= v);  arg <= v  <=>  not (arg > v).
        "SCMP_CMP_LT" | "SCMP_CMP_LE" => {
            let lo_op = if a.op == "SCMP_CMP_LT" { JGE_K } else { JGT_K };
            vec![
                ld(hi_off),
                jump(JGT_K, vhi, Fail, Next),
                jump(JEQ_K, vhi, Next, Skip(2)),
                ld(lo_off),
                jump(lo_op, vlo, Fail, Next),
            ]
        }
        other => return Err(SeccompError::Operator(other.to_string())),
    })
}

/// Compiles the spec's filter for the native architecture.
pub fn compile(sc: &spec::Seccomp) -> Result<Vec<SockFilter>, SeccompError> {
    if AUDIT_ARCH_NATIVE == 0 {
        return Err(SeccompError::Arch);
    }
    let default = action(&sc.default_action, sc.default_errno_ret)?;
    let mut out = vec![
        SockFilter {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: OFF_ARCH,
        },
        SockFilter {
            code: JEQ_K,
            jt: 1,
            jf: 0,
            k: AUDIT_ARCH_NATIVE,
        },
        SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: default,
        },
        SockFilter {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: OFF_NR,
        },
        SockFilter {
            code: JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: default,
        },
    ];
    for rule in &sc.syscalls {
        let act = action(&rule.action, rule.errno_ret.or(sc.default_errno_ret))?;
        if act == default && rule.args.is_empty() {
            continue;
        }
        for name in &rule.names {
            // Names this kernel table does not know (other arches, newer kernels) are skipped,
            // as libseccomp-based runtimes do.
            let Some(nr) = syscall_number(name) else {
                continue;
            };
            emit_rule(&mut out, nr, &rule.args, act, name)?;
        }
    }
    out.push(SockFilter {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: default,
    });
    if out.len() > MAX_INSNS {
        return Err(SeccompError::TooLong(out.len()));
    }
    Ok(out)
}

/// Appends `if nr == N && args match { return act }`, leaving the syscall number in A.
fn emit_rule(
    out: &mut Vec<SockFilter>,
    nr: u32,
    args: &[spec::SeccompArg],
    act: u32,
    name: &str,
) -> Result<(), SeccompError> {
    if args.is_empty() {
        out.push(SockFilter {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: nr,
        });
        out.push(SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: act,
        });
        return Ok(());
    }
    // Block: [checks...] RET act; Fail: LD nr. The leading JEQ skips the whole block.
    let mut body: Vec<Insn> = Vec::new();
    for a in args {
        body.extend(arg_check(a)?);
    }
    let ret_at = body.len();
    let fail_at = ret_at + 1; // the reload
    let too_long = || SeccompError::RuleTooLong(name.to_string());
    if fail_at + 1 > 255 {
        return Err(too_long());
    }
    out.push(SockFilter {
        code: JEQ_K,
        jt: 0,
        jf: (fail_at + 1) as u8,
        k: nr,
    });
    for (i, insn) in body.iter().enumerate() {
        let resolve = |t: To| -> u8 {
            match t {
                To::Next => 0,
                To::Skip(n) => n,
                To::Fail => (fail_at - i - 1) as u8,
            }
        };
        out.push(SockFilter {
            code: insn.code,
            jt: resolve(insn.jt),
            jf: resolve(insn.jf),
            k: insn.k,
        });
    }
    out.push(SockFilter {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: act,
    });
    out.push(SockFilter {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: OFF_NR,
    });
    Ok(())
}

/// Runs a compiled filter on a `seccomp_data` in user space: the tests' interpreter.
#[cfg(test)]
pub fn run(filter: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let f = filter[pc];
        pc += 1;
        match f.code {
            LD_W_ABS => {
                let k = f.k as usize;
                acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            AND_K => acc &= f.k,
            RET_K => return f.k,
            JEQ_K | JGT_K | JGE_K => {
                let hit = match f.code {
                    JEQ_K => acc == f.k,
                    JGT_K => acc > f.k,
                    _ => acc >= f.k,
                };
                pc += usize::from(if hit { f.jt } else { f.jf });
            }
            c => panic!("unknown opcode {c:#x}"),
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn rule(names: &[&str], action: &str, args: Vec<spec::SeccompArg>) -> spec::SyscallRule {
        spec::SyscallRule {
            names: names.iter().map(|s| s.to_string()).collect(),
            action: action.to_string(),
            errno_ret: None,
            args,
        }
    }

    fn arg(index: u32, value: u64, value_two: u64, op: &str) -> spec::SeccompArg {
        spec::SeccompArg {
            index,
            value,
            value_two,
            op: op.to_string(),
        }
    }

    fn profile(rules: Vec<spec::SyscallRule>) -> spec::Seccomp {
        spec::Seccomp {
            default_action: "SCMP_ACT_ERRNO".to_string(),
            default_errno_ret: Some(1),
            architectures: vec![],
            flags: vec![],
            syscalls: rules,
        }
    }

    const EPERM: u32 = RET_ERRNO | 1;
    const NATIVE: u32 = AUDIT_ARCH_NATIVE;

    #[test]
    fn plain_allow_and_default() {
        let f = compile(&profile(vec![rule(
            &["read", "write"],
            "SCMP_ACT_ALLOW",
            vec![],
        )]))
        .unwrap();
        assert_eq!(run(&f, NATIVE, 0, [0; 6]), RET_ALLOW); // read
        assert_eq!(run(&f, NATIVE, 1, [0; 6]), RET_ALLOW); // write
        assert_eq!(run(&f, NATIVE, 2, [0; 6]), EPERM); // open
        assert_eq!(run(&f, 0x4000_0003, 0, [0; 6]), EPERM); // i386
        assert_eq!(run(&f, NATIVE, X32_SYSCALL_BIT, [0; 6]), EPERM); // x32 read
    }

    #[test]
    fn comparisons_on_64_bit_values() {
        let big = 0x1_0000_0005u64;
        for (op, cases) in [
            (
                "SCMP_CMP_EQ",
                vec![(big, true), (5, false), (big + 1, false)],
            ),
            (
                "SCMP_CMP_NE",
                vec![(big, false), (5, true), (big + (1 << 32), true)],
            ),
            (
                "SCMP_CMP_GT",
                vec![(big, false), (big + 1, true), (5, false), (u64::MAX, true)],
            ),
            (
                "SCMP_CMP_GE",
                vec![(big, true), (big - 1, false), (1 << 40, true)],
            ),
            (
                "SCMP_CMP_LT",
                vec![(big, false), (big - 1, true), (6, true), (1 << 40, false)],
            ),
            (
                "SCMP_CMP_LE",
                vec![(big, true), (big + 1, false), (0, true)],
            ),
        ] {
            let f = compile(&profile(vec![rule(
                &["socket"],
                "SCMP_ACT_ALLOW",
                vec![arg(1, big, 0, op)],
            )]))
            .unwrap();
            for (v, allowed) in cases {
                let got = run(&f, NATIVE, 41, [0, v, 0, 0, 0, 0]);
                assert_eq!(got == RET_ALLOW, allowed, "{op} {v:#x}");
            }
        }
    }

    #[test]
    fn masked_eq_and_rule_order() {
        let f = compile(&profile(vec![
            rule(
                &["clone"],
                "SCMP_ACT_ALLOW",
                vec![arg(0, 0x7E02_0000, 0, "SCMP_CMP_MASKED_EQ")],
            ),
            rule(&["clone3"], "SCMP_ACT_ERRNO", vec![]),
            rule(&["getpid"], "SCMP_ACT_ALLOW", vec![]),
        ]))
        .unwrap();
        let mut errno_rule = profile(vec![]);
        errno_rule.syscalls.push(spec::SyscallRule {
            errno_ret: Some(38),
            ..rule(&["clone3"], "SCMP_ACT_ERRNO", vec![])
        });
        assert_eq!(run(&f, NATIVE, 56, [0x11, 0, 0, 0, 0, 0]), RET_ALLOW); // plain fork-like clone
        assert_eq!(run(&f, NATIVE, 56, [0x2000_0000, 0, 0, 0, 0, 0]), EPERM); // CLONE_NEWUTS
        assert_eq!(run(&f, NATIVE, 39, [0; 6]), RET_ALLOW); // getpid after a failed arg rule
        let g = compile(&errno_rule).unwrap();
        assert_eq!(run(&g, NATIVE, 435, [0; 6]), RET_ERRNO | 38);
    }

    #[test]
    fn unknown_names_are_skipped_and_bad_input_refused() {
        assert!(compile(&profile(vec![rule(
            &["no_such_call"],
            "SCMP_ACT_ALLOW",
            vec![]
        )]))
        .is_ok());
        assert_eq!(
            compile(&profile(vec![rule(&["read"], "SCMP_ACT_BOGUS", vec![])])),
            Err(SeccompError::Action("SCMP_ACT_BOGUS".into()))
        );
        assert_eq!(
            compile(&profile(vec![rule(
                &["read"],
                "SCMP_ACT_ALLOW",
                vec![arg(6, 0, 0, "SCMP_CMP_EQ")]
            )])),
            Err(SeccompError::ArgIndex(6))
        );
    }

    #[test]
    fn table_is_sorted() {
        let t = super::super::syscalls_x86_64::TABLE;
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(syscall_number("execve"), Some(59));
    }
}
