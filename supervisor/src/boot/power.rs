//! The end of a boot: what the end of the table or a signal asks for
//! (pure), and the shutdown that carries it out — every remaining process
//! terminated then killed, file systems synced and made read-only, the
//! verdict written to the I/O port, reboot(2).

use super::conf::{OnEmpty, Settings};
use super::sys::sigtimedwait;
use crate::run::signals::{self, SignalAction};
use crate::run::Ended;
use keel_rt::sys::{self, SigSet};
use keel_rt::{error, notice};
use rustix::io::Errno;

/// The three ways a machine ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    Poweroff,
    Reboot,
    Halt,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::Poweroff => "poweroff",
            Power::Reboot => "reboot",
            Power::Halt => "halt",
        }
    }
}

/// What follows the supervisor loop: a request wins; the table's end
/// follows `on_empty` (None: stay).
pub fn after_loop(ended: Ended, on_empty: OnEmpty) -> Option<Power> {
    match ended {
        Ended::Requested(a) => from_action(a).or(Some(Power::Poweroff)),
        Ended::TableEnded => match on_empty {
            OnEmpty::Poweroff => Some(Power::Poweroff),
            OnEmpty::Reboot => Some(Power::Reboot),
            OnEmpty::Halt => Some(Power::Halt),
            OnEmpty::Stay => None,
        },
    }
}

/// The power action of a boot-mode signal action, if it is one.
pub fn from_action(a: SignalAction) -> Option<Power> {
    match a {
        SignalAction::Halt => Some(Power::Halt),
        SignalAction::Poweroff => Some(Power::Poweroff),
        SignalAction::Reboot => Some(Power::Reboot),
        _ => None,
    }
}

/// The verdict byte: the worst container exit status, 0..=255 (0 = every
/// container succeeded or was stopped on request).
pub fn verdict_byte(worst: i32) -> u8 {
    worst.clamp(0, 255) as u8
}

/// File systems not worth remounting read-only (nothing to flush, or not
/// ours to change).
pub fn is_virtual(fstype: &[u8]) -> bool {
    const V: [&[u8]; 24] = [
        b"rootfs",
        b"proc",
        b"sysfs",
        b"devtmpfs",
        b"devpts",
        b"tmpfs",
        b"ramfs",
        b"cgroup",
        b"cgroup2",
        b"mqueue",
        b"securityfs",
        b"debugfs",
        b"tracefs",
        b"bpf",
        b"pstore",
        b"configfs",
        b"fusectl",
        b"hugetlbfs",
        b"rpc_pipefs",
        b"nfsd",
        b"binfmt_misc",
        b"autofs",
        b"efivarfs",
        b"nsfs",
    ];
    V.contains(&fstype)
}

/// The signals that matter once the loop is gone.
fn power_signals() -> SigSet {
    let mut s = SigSet::EMPTY
        .with(signals::SIGCHLD)
        .with(signals::SIGUSR1)
        .with(signals::SIGUSR2);
    s = s.with(signals::SIGTERM).with(signals::SIGINT);
    for k in 3..=5 {
        s = s.with(signals::SIGRTMIN + k);
    }
    s
}

/// Reaps every exited child; true when none is left (ECHILD).
fn reap_all() -> bool {
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Ok(None) => return false,
            Err(Errno::CHILD) => return true,
            Err(Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

fn now_ms() -> u64 {
    crate::run::clock::now()
}

/// Waits until no child is left, or `ms` have passed. True if none is left.
fn reap_until(ms: u64) -> bool {
    let deadline = now_ms().saturating_add(ms);
    let chld = SigSet::EMPTY.with(signals::SIGCHLD);
    loop {
        if reap_all() {
            return true;
        }
        let now = now_ms();
        if now >= deadline {
            return false;
        }
        let _ = sigtimedwait(&chld, Some(deadline - now));
    }
}

/// Remounts every writable, non-virtual mount read-only, deepest first.
fn remount_read_only() {
    let mut points: heapless::Vec<keel_rt::path::CBuf<256>, 32> = heapless::Vec::new();
    let mut buf = [0u8; 1024];
    let _ = super::lines::for_each_line_of(c"/proc/self/mountinfo", &mut buf, |l| {
        if let Some(m) = crate::cgroup::mountinfo::parse_line(l) {
            if !is_virtual(m.fstype) {
                let mut p = keel_rt::path::CBuf::<256>::new();
                crate::cgroup::mountinfo::unescape(m.point, &mut p);
                let _ = points.push(p);
            }
        }
        false
    });
    for p in points.iter().rev() {
        let Ok(c) = p.as_cstr() else { continue };
        match rustix::mount::mount_remount(c, rustix::mount::MountFlags::RDONLY, c"") {
            Ok(()) => notice!("keel: remounted ", p.as_bytes(), " read-only"),
            Err(e) => notice!("keel: remount ", p.as_bytes(), " read-only: ", e),
        }
    }
}

/// Writes the verdict byte to /dev/port at `port` (qemu's isa-debug-exit
/// then ends qemu with status 2N+1).
fn write_verdict(port: u16, v: u8) {
    let fd = match rustix::fs::open(
        c"/dev/port",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            error!("keel: verdict: open /dev/port: ", e);
            return;
        }
    };
    if let Err(e) = rustix::io::pwrite(&fd, &[v], u64::from(port)) {
        error!("keel: verdict: write port ", port, ": ", e);
    }
}

/// Ends the machine: SIGTERM to every process, up to `shutdown_timeout`
/// for them to go, SIGKILL to the rest, sync, read-only remounts, the
/// verdict, reboot(2). Never returns (a failed reboot falls into the
/// reap-only loop).
pub fn shutdown(p: Power, settings: &Settings, verdict: u8) -> ! {
    notice!("keel: ", p.name(), ": sending SIGTERM to every remaining process");
    let _ = sys::kill(-1, signals::SIGTERM);
    if !reap_until(u64::from(settings.shutdown_timeout_ms)) {
        notice!(
            "keel: ",
            p.name(),
            ": processes left after ",
            settings.shutdown_timeout_ms,
            " ms: SIGKILL"
        );
    }
    let _ = sys::kill(-1, signals::SIGKILL);
    let _ = reap_until(2_000);
    rustix::fs::sync();
    remount_read_only();
    rustix::fs::sync();
    if let Some(port) = settings.verdict_port {
        notice!("keel: verdict ", verdict, " to I/O port ", super::Hex(u64::from(port)));
        write_verdict(port, verdict);
    }
    notice!("keel: ", p.name());
    let cmd = match p {
        Power::Poweroff => rustix::system::RebootCommand::PowerOff,
        Power::Reboot => rustix::system::RebootCommand::Restart,
        Power::Halt => rustix::system::RebootCommand::Halt,
    };
    let e = rustix::system::reboot(cmd).err().unwrap_or(Errno::INVAL);
    error!("keel: reboot(", p.name(), "): ", e, " (staying up, reaping)");
    reap_forever(settings, verdict)
}

/// The last resort of PID 1 (its loop could not run, a failed re-exec or
/// reboot): reap orphans for ever, and still power off, reboot or halt
/// on the boot-mode signals.
pub fn reap_forever(settings: &Settings, verdict: u8) -> ! {
    let set = power_signals();
    let _ = sys::sigprocmask(sys::SIG_BLOCK, Some(&set));
    loop {
        reap_all();
        match sigtimedwait(&set, None) {
            Ok(sig) => {
                if let Some(p) = from_action(signals::boot(sig)) {
                    notice!("keel: signal ", sig, ": ", p.name());
                    shutdown(p, settings, verdict);
                }
            }
            Err(_) => {
                // Nothing should fail here; never spin.
                let _ = sigtimedwait(&SigSet::EMPTY.with(signals::SIGCHLD), Some(1000));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_ends_the_machine() {
        assert_eq!(after_loop(Ended::TableEnded, OnEmpty::Poweroff), Some(Power::Poweroff));
        assert_eq!(after_loop(Ended::TableEnded, OnEmpty::Reboot), Some(Power::Reboot));
        assert_eq!(after_loop(Ended::TableEnded, OnEmpty::Halt), Some(Power::Halt));
        assert_eq!(after_loop(Ended::TableEnded, OnEmpty::Stay), None);
        // A request wins over on_empty, stay included.
        assert_eq!(
            after_loop(Ended::Requested(SignalAction::Reboot), OnEmpty::Stay),
            Some(Power::Reboot)
        );
        assert_eq!(
            after_loop(Ended::Requested(SignalAction::Halt), OnEmpty::Poweroff),
            Some(Power::Halt)
        );
        assert_eq!(
            after_loop(Ended::Requested(SignalAction::Poweroff), OnEmpty::Halt),
            Some(Power::Poweroff)
        );
        assert_eq!(
            after_loop(Ended::Requested(SignalAction::StopAndExit), OnEmpty::Reboot),
            Some(Power::Poweroff)
        );
        assert_eq!(from_action(signals::boot(signals::SIGUSR2)), Some(Power::Poweroff));
        assert_eq!(from_action(signals::boot(signals::SIGRTMIN + 5)), Some(Power::Reboot));
        assert_eq!(from_action(signals::boot(signals::SIGHUP)), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict_byte(0), 0);
        assert_eq!(verdict_byte(3), 3);
        assert_eq!(verdict_byte(127), 127);
        assert_eq!(verdict_byte(128 + 9), 137);
        assert_eq!(verdict_byte(255), 255);
        assert_eq!(verdict_byte(256), 255);
        assert_eq!(verdict_byte(-1), 0);
        assert_eq!(verdict_byte(i32::MAX), 255);
    }

    #[test]
    fn worst_status_makes_the_verdict() {
        use crate::table::state::{Ending, State};
        use crate::table::Table;
        let mut t = Table::new();
        let a = t.add(b"ok", 1, 0).unwrap();
        let b = t.add(b"bad", 2, 0).unwrap();
        let c = t.add(b"stopped", 3, 0).unwrap();
        t.get_mut(a).unwrap().state = State::Exited;
        t.get_mut(a).unwrap().last = Some(Ending::Code(0));
        t.get_mut(c).unwrap().state = State::Stopped;
        t.get_mut(c).unwrap().last = Some(Ending::Signal(15));
        t.get_mut(b).unwrap().state = State::Failed;
        t.get_mut(b).unwrap().last = Some(Ending::Code(3));
        assert_eq!(verdict_byte(t.worst_status()), 3);
        t.get_mut(b).unwrap().last = Some(Ending::Signal(9));
        assert_eq!(verdict_byte(t.worst_status()), 137);
        t.get_mut(b).unwrap().state = State::Exited;
        t.get_mut(b).unwrap().last = Some(Ending::Code(0));
        assert_eq!(verdict_byte(t.worst_status()), 0);
    }

    #[test]
    fn virtual_file_systems() {
        assert!(is_virtual(b"proc") && is_virtual(b"cgroup2") && is_virtual(b"tmpfs"));
        assert!(!is_virtual(b"ext4") && !is_virtual(b"nfs4") && !is_virtual(b"9p"));
    }

    #[test]
    fn power_signal_set() {
        let s = power_signals();
        for sig in [17, 10, 12, 15, 2, 37, 38, 39] {
            assert!(s.contains(sig), "{sig}");
        }
        assert!(!s.contains(1) && !s.contains(40));
    }
}
