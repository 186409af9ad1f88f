//! Upcalls served inside the container that caused them (docs/upcalls.md).
//!
//! keel listens on RUN_DIR/upcall.sock (SOCK_SEQPACKET, the directory mode
//! 0700) for the brokers the kernel runs as /sbin/request-key. It accepts a
//! broker only as uid 0 in keel's own user, mount and pid namespaces. For
//! each request it decides where the request goes ([`route`], from facts
//! [`probe`] gathers) and answers: the host (the broker serves it), a
//! container (a fresh socket pair: one end to the container's agent, one
//! to the broker, which links its authority into the agent's keyring), or
//! a refusal (no agent: EAGAIN; too many in flight: EDQUOT). The broker
//! keeps its connection open until it is done and sends the outcome: keel
//! counts requests in flight per container by open connections, logs one
//! line per upcall and keeps counters for the status file.
//!
//! [`agent`] starts each container's resident agent.

pub mod agent;
pub mod probe;
pub mod route;

use keel_wire::upcall as w;

/// Broker connections at once; more are closed at accept (EAGAIN).
pub const MAX_CONNS: usize = 128;
/// Negative timeout of keel's own refusals, seconds: 2, not 1 — the kernel
/// counts a negative key's expiry in whole seconds of the wall clock and
/// turns one that has expired when its helper exits into ENOKEY (see the
/// broker's `SHORT`).
pub const REFUSAL_TIMEOUT_S: u32 = 2;
pub const EAGAIN: u16 = 11;
pub const EDQUOT: u16 = 122;

/// Settings of the upcall path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub deadline_ms: u32,
    /// Requests in flight per container.
    pub cap: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            deadline_ms: w::DEFAULT_DEADLINE_MS,
            cap: w::DEFAULT_CAP,
        }
    }
}

/// What an outcome counts as in the status file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    Served,
    Rejected,
    TimedOut,
}

pub fn tally(r: w::Result) -> Tally {
    match r {
        w::Result::Served => Tally::Served,
        w::Result::TimedOut => Tally::TimedOut,
        _ => Tally::Rejected,
    }
}

/// Renders an outcome for the log line.
pub fn outcome_words(r: w::Result, l: &mut keel_rt::Line) {
    match r {
        w::Result::Served => l.str("served"),
        w::Result::Rejected(e) => l
            .str("rejected with ")
            .errno(rustix::io::Errno::from_raw_os_error(i32::from(e))),
        w::Result::TimedOut => l.str("timed out"),
        w::Result::NoHandler => l.str("no request-key.conf line matched"),
        w::Result::Failed(e) => l.str("handler failed (").u64(u64::from(e)).str(")"),
    };
}
