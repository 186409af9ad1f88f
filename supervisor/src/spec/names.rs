//! Name tables shared by the spec parser and anyone who prints or reads the
//! same names: signals, capabilities, resource limits.
//!
//! Numbers are Linux's generic ones (x86_64, aarch64, arm, riscv); the few
//! architectures that renumber signals or limits (alpha, mips, sparc, parisc)
//! are not targets of keel. Lookups ignore ASCII case and accept the
//! conventional prefix (`SIG`, `CAP_`, `RLIMIT_`) or its absence.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

/// Signal names without the `SIG` prefix; index = signal number (0 unused).
pub const SIGNALS: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
    "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",
    "IO", "PWR", "SYS",
];

/// Other names for the same numbers.
const SIGNAL_ALIASES: [(&str, i32); 3] = [("IOT", 6), ("CLD", 17), ("POLL", 29)];

/// `SIGRTMIN` as glibc, musl's `kill -l` and util-linux's kill(1) count it
/// for programs: the kernel's 32 and 33 are taken by the C library's threads.
pub const SIGRTMIN: i32 = 34;
/// The kernel's highest signal.
pub const SIGRTMAX: i32 = 64;

/// The name of signal `n` without `SIG` (`TERM`); None for real-time and
/// unknown numbers.
pub fn signal_name(n: i32) -> Option<&'static str> {
    let name = SIGNALS.get(usize::try_from(n).ok()?)?;
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

fn strip_prefix_ci<'b>(b: &'b [u8], prefix: &[u8]) -> &'b [u8] {
    match (b.get(..prefix.len()), b.get(prefix.len()..)) {
        (Some(head), Some(rest)) if head.eq_ignore_ascii_case(prefix) => rest,
        _ => b,
    }
}

/// A signal by name: `TERM`, `SIGTERM`, `term`; aliases `IOT`, `CLD`,
/// `POLL`. Real-time signals go through [`parse_signal`].
pub fn signal_by_name(b: &[u8]) -> Option<i32> {
    let n = strip_prefix_ci(b, b"SIG");
    if n.is_empty() {
        return None;
    }
    if let Some(i) = SIGNALS
        .iter()
        .position(|s| !s.is_empty() && s.as_bytes().eq_ignore_ascii_case(n))
    {
        return i32::try_from(i).ok();
    }
    SIGNAL_ALIASES
        .iter()
        .find(|(s, _)| s.as_bytes().eq_ignore_ascii_case(n))
        .map(|&(_, v)| v)
}

/// A signal as the spec writes it: a name ([`signal_by_name`]), a number
/// 1..=64, or `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` (with or without
/// `SIG`, any case) within 34..=64.
pub fn parse_signal(b: &[u8]) -> Option<i32> {
    if let Some(n) = signal_by_name(b) {
        return Some(n);
    }
    if b.first().is_some_and(u8::is_ascii_digit) {
        let n = crate::spec::num::u32_dec(b)?;
        let n = i32::try_from(n).ok()?;
        return (1..=SIGRTMAX).contains(&n).then_some(n);
    }
    let n = strip_prefix_ci(b, b"SIG");
    let (base, rest, sign): (i32, &[u8], i32) = match (n.get(..5), n.get(5..)) {
        (Some(h), Some(rest)) if h.eq_ignore_ascii_case(b"RTMIN") => (SIGRTMIN, rest, 1),
        (Some(h), Some(rest)) if h.eq_ignore_ascii_case(b"RTMAX") => (SIGRTMAX, rest, -1),
        _ => return None,
    };
    let off = match rest.split_first() {
        None => 0,
        Some((&c, digits)) if (c == b'+' && sign == 1) || (c == b'-' && sign == -1) => {
            i32::try_from(crate::spec::num::u32_dec(digits)?).ok()?
        }
        Some(_) => return None,
    };
    let sig = base.checked_add(off.checked_mul(sign)?)?;
    (SIGRTMIN..=SIGRTMAX).contains(&sig).then_some(sig)
}

/// The highest capability number this table knows (CAP_CHECKPOINT_RESTORE).
pub const CAP_LAST_CAP: u32 = 40;

/// Capability names; index = capability number.
pub const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Every capability in [`CAPS`] as a mask (bits 0..=40).
pub const ALL_CAPS: u64 = (1u64 << (CAP_LAST_CAP + 1)) - 1;

/// The name of capability `n` (`CAP_NET_ADMIN`).
pub fn cap_name(n: u32) -> Option<&'static str> {
    CAPS.get(usize::try_from(n).ok()?).copied()
}

/// A capability by name: `CAP_NET_ADMIN`, `net_admin`, any case.
pub fn cap_by_name(b: &[u8]) -> Option<u32> {
    let n = strip_prefix_ci(b, b"CAP_");
    if n.is_empty() {
        return None;
    }
    CAPS.iter()
        .position(|c| c.as_bytes().get(4..).is_some_and(|c| c.eq_ignore_ascii_case(n)))
        .and_then(|i| u32::try_from(i).ok())
}

/// Resource limit names; index = RLIMIT_* number.
pub const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// The name of resource `n` (`RLIMIT_NOFILE`).
pub fn rlimit_name(n: u32) -> Option<&'static str> {
    RLIMITS.get(usize::try_from(n).ok()?).copied()
}

/// A resource limit by name: `nofile`, `RLIMIT_NOFILE`, any case.
pub fn rlimit_by_name(b: &[u8]) -> Option<u32> {
    let n = strip_prefix_ci(b, b"RLIMIT_");
    if n.is_empty() {
        return None;
    }
    RLIMITS
        .iter()
        .position(|r| r.as_bytes().get(7..).is_some_and(|r| r.eq_ignore_ascii_case(n)))
        .and_then(|i| u32::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(signal_by_name(b"TERM"), Some(15));
        assert_eq!(signal_by_name(b"SIGTERM"), Some(15));
        assert_eq!(signal_by_name(b"sigterm"), Some(15));
        assert_eq!(signal_by_name(b"hup"), Some(1));
        assert_eq!(signal_by_name(b"SIGSYS"), Some(31));
        assert_eq!(signal_by_name(b"IOT"), Some(6));
        assert_eq!(signal_by_name(b"SIGPOLL"), Some(29));
        assert_eq!(signal_by_name(b"SIG"), None);
        assert_eq!(signal_by_name(b""), None);
        assert_eq!(signal_by_name(b"TERMX"), None);
        assert_eq!(signal_name(15), Some("TERM"));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(-1), None);
        assert_eq!(signal_name(40), None);
        for (i, n) in SIGNALS.iter().enumerate().skip(1) {
            assert_eq!(signal_by_name(n.as_bytes()), Some(i as i32));
        }
    }

    #[test]
    fn signal_numbers_and_realtime() {
        assert_eq!(parse_signal(b"9"), Some(9));
        assert_eq!(parse_signal(b"64"), Some(64));
        assert_eq!(parse_signal(b"0"), None);
        assert_eq!(parse_signal(b"65"), None);
        assert_eq!(parse_signal(b"99999999999999999999"), None);
        assert_eq!(parse_signal(b"RTMIN"), Some(34));
        assert_eq!(parse_signal(b"RTMIN+3"), Some(37));
        assert_eq!(parse_signal(b"SIGRTMIN+30"), Some(64));
        assert_eq!(parse_signal(b"rtmin+31"), None);
        assert_eq!(parse_signal(b"RTMAX"), Some(64));
        assert_eq!(parse_signal(b"RTMAX-1"), Some(63));
        assert_eq!(parse_signal(b"RTMAX-30"), Some(34));
        assert_eq!(parse_signal(b"RTMAX-31"), None);
        assert_eq!(parse_signal(b"RTMIN-1"), None);
        assert_eq!(parse_signal(b"RTMAX+1"), None);
        assert_eq!(parse_signal(b"RTMIN+"), None);
        assert_eq!(parse_signal(b"RTMIN+4294967295"), None);
        assert_eq!(parse_signal(b"RTMI"), None);
        assert_eq!(parse_signal(b"-9"), None);
        assert_eq!(parse_signal(b"USR1"), Some(10));
    }

    #[test]
    fn caps() {
        assert_eq!(CAPS.len() as u32, CAP_LAST_CAP + 1);
        assert_eq!(cap_by_name(b"CAP_CHOWN"), Some(0));
        assert_eq!(cap_by_name(b"chown"), Some(0));
        assert_eq!(cap_by_name(b"net_admin"), Some(12));
        assert_eq!(cap_by_name(b"cap_sys_admin"), Some(21));
        assert_eq!(cap_by_name(b"CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_by_name(b"CAP_"), None);
        assert_eq!(cap_by_name(b"CAP_NOPE"), None);
        assert_eq!(cap_name(12), Some("CAP_NET_ADMIN"));
        assert_eq!(cap_name(41), None);
        assert_eq!(ALL_CAPS.count_ones(), 41);
        for (i, n) in CAPS.iter().enumerate() {
            assert_eq!(cap_by_name(n.as_bytes()), Some(i as u32));
        }
        // The default set in mod.rs is what its comment says.
        let names = [
            "CHOWN",
            "DAC_OVERRIDE",
            "FOWNER",
            "FSETID",
            "KILL",
            "SETGID",
            "SETUID",
            "SETPCAP",
            "NET_BIND_SERVICE",
            "NET_RAW",
            "SYS_CHROOT",
            "MKNOD",
            "AUDIT_WRITE",
            "SETFCAP",
        ];
        let mask = names
            .iter()
            .fold(0u64, |m, n| m | 1 << cap_by_name(n.as_bytes()).unwrap());
        assert_eq!(mask, crate::spec::DEFAULT_CAPS);
    }

    #[test]
    fn rlimits() {
        assert_eq!(rlimit_by_name(b"nofile"), Some(7));
        assert_eq!(rlimit_by_name(b"RLIMIT_NOFILE"), Some(7));
        assert_eq!(rlimit_by_name(b"as"), Some(9));
        assert_eq!(rlimit_by_name(b"rttime"), Some(15));
        assert_eq!(rlimit_by_name(b"RLIMIT_"), None);
        assert_eq!(rlimit_by_name(b"files"), None);
        assert_eq!(rlimit_name(7), Some("RLIMIT_NOFILE"));
        assert_eq!(rlimit_name(16), None);
        assert_eq!(RLIMITS.len(), crate::spec::MAX_RLIMITS);
        for (i, n) in RLIMITS.iter().enumerate() {
            assert_eq!(rlimit_by_name(n.as_bytes()), Some(i as u32));
        }
    }
}
