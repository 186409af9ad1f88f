//! Signals in container-init mode.
//!
//! keel blocks every signal and takes them all from one signalfd, so it
//! sleeps in a single read(2) while idle. SIGTTIN and SIGTTOU are set to
//! SIG_IGN, as tini does, so that keel is never stopped for touching a
//! terminal whose foreground it has given to the program. What keel
//! inherited at its own execve (the mask, and those two dispositions) is
//! recorded in [`Inherited`] and put back in the child before exec; keel
//! changes no other disposition, so every SIG_IGN it inherited is kept.

use keel_rt::sys::{self, KSigaction, SigSet};
use linux_raw_sys::general as g;
use rustix::fd::{FromRawFd, OwnedFd};
use rustix::io::Errno;

pub const SIGHUP: i32 = g::SIGHUP as i32;
pub const SIGINT: i32 = g::SIGINT as i32;
pub const SIGQUIT: i32 = g::SIGQUIT as i32;
pub const SIGKILL: i32 = g::SIGKILL as i32;
pub const SIGUSR1: i32 = g::SIGUSR1 as i32;
pub const SIGUSR2: i32 = g::SIGUSR2 as i32;
pub const SIGPIPE: i32 = g::SIGPIPE as i32;
pub const SIGTERM: i32 = g::SIGTERM as i32;
pub const SIGCHLD: i32 = g::SIGCHLD as i32;
pub const SIGSTOP: i32 = g::SIGSTOP as i32;
pub const SIGTSTP: i32 = g::SIGTSTP as i32;
pub const SIGTTIN: i32 = g::SIGTTIN as i32;
pub const SIGTTOU: i32 = g::SIGTTOU as i32;

/// The highest signal number (SIGRTMAX on Linux).
pub const SIGMAX: i32 = 64;

/// Names accepted by `-p` (with or without the SIG prefix), tini's list.
const NAMES: &[(&[u8], u32)] = &[
    (b"HUP", g::SIGHUP),
    (b"INT", g::SIGINT),
    (b"QUIT", g::SIGQUIT),
    (b"ILL", g::SIGILL),
    (b"TRAP", g::SIGTRAP),
    (b"ABRT", g::SIGABRT),
    (b"BUS", g::SIGBUS),
    (b"FPE", g::SIGFPE),
    (b"KILL", g::SIGKILL),
    (b"USR1", g::SIGUSR1),
    (b"SEGV", g::SIGSEGV),
    (b"USR2", g::SIGUSR2),
    (b"PIPE", g::SIGPIPE),
    (b"ALRM", g::SIGALRM),
    (b"TERM", g::SIGTERM),
    (b"CHLD", g::SIGCHLD),
    (b"CONT", g::SIGCONT),
    (b"STOP", g::SIGSTOP),
    (b"TSTP", g::SIGTSTP),
    (b"TTIN", g::SIGTTIN),
    (b"TTOU", g::SIGTTOU),
    (b"URG", g::SIGURG),
    (b"XCPU", g::SIGXCPU),
    (b"XFSZ", g::SIGXFSZ),
    (b"VTALRM", g::SIGVTALRM),
    (b"PROF", g::SIGPROF),
    (b"WINCH", g::SIGWINCH),
    (b"SYS", g::SIGSYS),
];

/// `SIGTERM`, `TERM` or `15` → 15. Numbers are 1..=64.
pub fn signal_by_name(s: &[u8]) -> Option<i32> {
    if let Some(n) = super::options::parse_u64(s) {
        return (1..=SIGMAX as u64).contains(&n).then_some(n as i32);
    }
    let bare = s.strip_prefix(b"SIG").unwrap_or(s);
    NAMES.iter().find(|(name, _)| *name == bare).map(|(_, n)| *n as i32)
}

/// The name of a signal without its SIG prefix, for logs.
pub fn signal_name(sig: i32) -> &'static [u8] {
    NAMES
        .iter()
        .find(|(_, n)| *n as i32 == sig)
        .map_or(&b"signal"[..], |(name, _)| *name)
}

/// What to do with a signal keel received from signalfd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Reap children.
    Reap,
    /// Pass it on to the program (or its process group).
    Forward,
    /// Drop it: SIGTTIN/SIGTTOU (tini ignores them), or a signal keel's
    /// own actions raised (SIGPIPE from a write to a closed stderr).
    Drop,
}

/// `si_code` of a signal sent by kill(2).
pub const SI_USER: i32 = 0;

/// Decides what a received signal means. `from_self` is true when keel
/// itself raised it (kill by our own pid).
pub fn disposition(sig: i32, from_self: bool) -> Disposition {
    if sig == SIGCHLD {
        Disposition::Reap
    } else if sig == SIGTTIN || sig == SIGTTOU || from_self || !(1..=SIGMAX).contains(&sig) {
        Disposition::Drop
    } else {
        Disposition::Forward
    }
}

/// What keel inherited at its execve, to hand back to the program.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inherited {
    pub mask: SigSet,
    pub ttin: KSigaction,
    pub ttou: KSigaction,
}

/// Blocks every signal, ignores SIGTTIN/SIGTTOU and opens the signalfd
/// that receives everything. Returns what was inherited and the fd.
pub fn setup() -> Result<(Inherited, OwnedFd), (&'static str, Errno)> {
    let mask = sys::sigprocmask(sys::SIG_SETMASK, Some(&SigSet::FULL)).map_err(|e| ("sigprocmask", e))?;
    let ign = KSigaction {
        handler: sys::SIG_IGN,
        ..KSigaction::default()
    };
    let ttin = sys::sigaction(SIGTTIN, Some(&ign)).map_err(|e| ("sigaction SIGTTIN", e))?;
    let ttou = sys::sigaction(SIGTTOU, Some(&ign)).map_err(|e| ("sigaction SIGTTOU", e))?;
    let fd = sys::signalfd4(-1, &SigSet::FULL, sys::SFD_CLOEXEC).map_err(|e| ("signalfd", e))?;
    // SAFETY: signalfd4 just returned this fd; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok((Inherited { mask, ttin, ttou }, fd))
}

/// In the child, before exec: the inherited dispositions, then the
/// inherited mask. Errors are returned for the caller to report.
pub fn restore(inh: &Inherited) -> Result<(), Errno> {
    sys::sigaction(SIGTTIN, Some(&inh.ttin))?;
    sys::sigaction(SIGTTOU, Some(&inh.ttou))?;
    sys::sigprocmask(sys::SIG_SETMASK, Some(&inh.mask))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_by_name(b"SIGTERM"), Some(15));
        assert_eq!(signal_by_name(b"TERM"), Some(15));
        assert_eq!(signal_by_name(b"SIGKILL"), Some(9));
        assert_eq!(signal_by_name(b"SIGWINCH"), Some(28));
        assert_eq!(signal_by_name(b"64"), Some(64));
        assert_eq!(signal_by_name(b"65"), None);
        assert_eq!(signal_by_name(b"0"), None);
        assert_eq!(signal_by_name(b"sigterm"), None);
        assert_eq!(signal_by_name(b"SIG"), None);
        assert_eq!(signal_by_name(b""), None);
        assert_eq!(signal_name(10), b"USR1");
        assert_eq!(signal_name(40), b"signal");
    }

    #[test]
    fn what_is_forwarded() {
        for s in [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGTSTP, 28, 34, 64] {
            assert_eq!(disposition(s, false), Disposition::Forward, "{s}");
        }
        assert_eq!(disposition(SIGCHLD, false), Disposition::Reap);
        assert_eq!(disposition(SIGCHLD, true), Disposition::Reap);
        assert_eq!(disposition(SIGTTIN, false), Disposition::Drop);
        assert_eq!(disposition(SIGTTOU, false), Disposition::Drop);
        assert_eq!(disposition(SIGPIPE, true), Disposition::Drop);
        assert_eq!(disposition(0, false), Disposition::Drop);
        assert_eq!(disposition(65, false), Disposition::Drop);
    }
}
