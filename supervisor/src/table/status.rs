//! The status file, RUN_DIR/containers: the table made visible (the
//! /proc/containers of the kernel proposal). Format, version 1:
//!
//! ```text
//! # keel-containers v1
//! name=web state=running pid=812 restarts=0 ready=- exit=- mnt_ns=4026532301 pid_ns=… net_ns=… uts_ns=… ipc_ns=… cgroup_ns=… user_ns=… time_ns=… since=1764410000.123 boot=12.345 reason=-
//! ```
//!
//! One line per container, space-separated `key=value` fields, values
//! without spaces (`-` for none). `since` is the realtime and `boot` the
//! boottime (seconds.milliseconds) of the container's last state change;
//! there are no durations, which would need periodic wake-ups.
//! This module renders lines; the runtime writes them atomically.

use super::Entry;
use crate::spec::NsKind;
use keel_rt::Line;

pub const HEADER: &[u8] = b"# keel-containers v1\n";

/// What the runtime knows that the table does not.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extra {
    /// Namespace inode numbers of the init, by NsKind::index (0 = unknown).
    pub ns: [u64; 8],
    /// The upcall agent's pid and session keyring (0 = none).
    pub agent_pid: i32,
    pub agent_keyring: i32,
    /// Upcalls from this container: served, rejected, timed out.
    pub served: u32,
    pub rejected: u32,
    pub timed_out: u32,
}

impl Extra {
    pub const ZERO: Extra = Extra {
        ns: [0; 8],
        agent_pid: 0,
        agent_keyring: 0,
        served: 0,
        rejected: 0,
        timed_out: 0,
    };
}

/// The status file's key for a namespace kind.
pub fn ns_key(k: NsKind) -> &'static str {
    match k {
        NsKind::User => "user_ns",
        NsKind::Mnt => "mnt_ns",
        NsKind::Pid => "pid_ns",
        NsKind::Net => "net_ns",
        NsKind::Uts => "uts_ns",
        NsKind::Ipc => "ipc_ns",
        NsKind::Cgroup => "cgroup_ns",
        NsKind::Time => "time_ns",
    }
}

fn stamp(l: &mut Line, ms: u64) {
    l.u64(ms / 1000).str(".");
    let frac = ms % 1000;
    if frac < 100 {
        l.str("0");
    }
    if frac < 10 {
        l.str("0");
    }
    l.u64(frac);
}

/// Renders one container's line (with its newline) into `l`.
/// `now_boot` and `now_real` are the current boottime and realtime in ms;
/// the table's clock is boottime.
pub fn render(e: &Entry, x: &Extra, now_boot: u64, now_real: u64, l: &mut Line) {
    l.str("name=").bytes(&e.name).str(" state=").str(e.state.name());
    l.str(" pid=");
    if e.pid > 0 && e.init_alive {
        l.i64(i64::from(e.pid));
    } else {
        l.str("-");
    }
    l.str(" restarts=").u64(u64::from(e.restarts));
    l.str(" ready=").str(match (e.policy.has_ready, e.ready) {
        (false, _) => "-",
        (true, true) => "yes",
        (true, false) => "no",
    });
    l.str(" exit=");
    match e.last {
        Some(end) => l.i64(i64::from(end.status())),
        None => l.str("-"),
    };
    for k in NsKind::ALL {
        l.str(" ").str(ns_key(k)).str("=");
        match x.ns.get(k.index()).copied().unwrap_or(0) {
            0 => l.str("-"),
            n => l.u64(n),
        };
    }
    l.str(" agent=");
    match x.agent_pid {
        0 => l.str("-"),
        p => l.i64(i64::from(p)),
    };
    l.str(" agent_keyring=");
    match x.agent_keyring {
        0 => l.str("-"),
        k => l.i64(i64::from(k)),
    };
    l.str(" upcalls_served=").u64(u64::from(x.served));
    l.str(" upcalls_rejected=").u64(u64::from(x.rejected));
    l.str(" upcalls_timed_out=").u64(u64::from(x.timed_out));
    let age = now_boot.saturating_sub(e.changed_at);
    l.str(" since=");
    stamp(l, now_real.saturating_sub(age));
    l.str(" boot=");
    stamp(l, e.changed_at);
    l.str(" reason=");
    if e.reason.is_empty() {
        l.str("-");
    } else {
        for w in e.reason.split(' ').enumerate() {
            if w.0 > 0 {
                l.str("-");
            }
            l.str(w.1);
        }
    }
    l.str("\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::state::{Ending, State};

    #[test]
    fn renders_a_line() {
        let mut e = Entry::new(b"web", 1).unwrap();
        e.state = State::Running;
        e.pid = 812;
        e.init_alive = true;
        e.restarts = 2;
        e.changed_at = 12_345;
        let mut x = Extra::default();
        x.ns[NsKind::Net.index()] = 4026532301;
        let mut l = Line::new();
        render(&e, &x, 13_345, 1_764_410_001_123, &mut l);
        assert_eq!(
            std::str::from_utf8(l.as_bytes()).unwrap(),
            "name=web state=running pid=812 restarts=2 ready=- exit=- user_ns=- mnt_ns=- pid_ns=- \
             net_ns=4026532301 uts_ns=- ipc_ns=- cgroup_ns=- time_ns=- agent=- agent_keyring=- upcalls_served=0 upcalls_rejected=0 upcalls_timed_out=0 since=1764410000.123 boot=12.345 reason=-\n"
        );
    }

    #[test]
    fn failed_with_reason_and_exit() {
        let mut e = Entry::new(b"crash", 1).unwrap();
        e.state = State::Failed;
        e.last = Some(Ending::Signal(9));
        e.reason = "restart budget spent";
        e.policy.has_ready = true;
        e.changed_at = 5;
        let mut l = Line::new();
        render(&e, &Extra::default(), 5, 1000, &mut l);
        let s = std::str::from_utf8(l.as_bytes()).unwrap();
        assert!(s.contains(" state=failed pid=- "), "{s}");
        assert!(s.contains(" ready=no exit=137 "), "{s}");
        assert!(
            s.ends_with(" since=1.000 boot=0.005 reason=restart-budget-spent\n"),
            "{s}"
        );
    }
}
