//! Milliseconds on a clock, the one conversion every static binary uses.

use rustix::time::{clock_gettime, ClockId};

/// `clock`'s time in milliseconds (0 before its epoch).
pub fn ms(clock: ClockId) -> u64 {
    let t = clock_gettime(clock);
    let s = u64::try_from(t.tv_sec).unwrap_or(0);
    let n = u64::try_from(t.tv_nsec).unwrap_or(0);
    s.saturating_mul(1000).saturating_add(n / 1_000_000)
}

/// A relative time of `ms` milliseconds, for poll and timerfd.
pub fn timespec(ms: u64) -> rustix::time::Timespec {
    rustix::time::Timespec {
        tv_sec: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    }
}
