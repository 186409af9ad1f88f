//! Clocks: the table runs on CLOCK_BOOTTIME milliseconds (the status
//! file's `boot=` stamps and the timerfd use the same clock).

use rustix::time::{clock_gettime, ClockId};

fn ms(c: ClockId) -> u64 {
    let t = clock_gettime(c);
    let s = u64::try_from(t.tv_sec).unwrap_or(0);
    let n = u64::try_from(t.tv_nsec).unwrap_or(0);
    s.saturating_mul(1000).saturating_add(n / 1_000_000)
}

/// Boottime in ms: the table's clock.
pub fn now() -> u64 {
    ms(ClockId::Boottime)
}

/// Realtime in ms since the epoch.
pub fn real_now() -> u64 {
    ms(ClockId::Realtime)
}
