//! Clocks: the table runs on CLOCK_BOOTTIME milliseconds (the status
//! file's `boot=` stamps and the timerfd use the same clock).

use keel_rt::clock::ms;
use rustix::time::ClockId;

/// Boottime in ms: the table's clock.
pub fn now() -> u64 {
    ms(ClockId::Boottime)
}

/// Realtime in ms since the epoch.
pub fn real_now() -> u64 {
    ms(ClockId::Realtime)
}
