//! The two raw system calls boot mode needs that neither rustix nor
//! keel_rt offers: getrusage (keel's own CPU time, for the boot benchmark)
//! and rt_sigtimedwait (waiting for SIGCHLD with a deadline at shutdown,
//! and for the power signals in the reap-only loop).

use keel_rt::sys::{syscall, SigSet};
use linux_raw_sys::general as g;
use rustix::io::Errno;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Timeval {
    sec: i64,
    usec: i64,
}

/// `struct rusage` (two timevals and fourteen longs).
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    rest: [i64; 14],
}
static_assertions::const_assert_eq!(core::mem::size_of::<Rusage>(), 144);

/// keel's own CPU time so far, user and system, in microseconds.
pub fn cpu_time_us() -> (u64, u64) {
    let mut r = Rusage::default();
    // SAFETY: getrusage(RUSAGE_SELF = 0, &rusage) writes one struct rusage (144 bytes on 64-bit Linux) through the pointer, which points at a live local of that size.
    let ok = unsafe { syscall(g::__NR_getrusage, [0, &mut r as *mut Rusage as usize, 0, 0, 0, 0]) }.is_ok();
    if !ok {
        return (0, 0);
    }
    let us = |t: Timeval| {
        (t.sec.max(0) as u64)
            .saturating_mul(1_000_000)
            .saturating_add(t.usec.max(0) as u64)
    };
    (us(r.utime), us(r.stime))
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

/// Waits for one of the (blocked) signals in `set`, at most `timeout_ms`
/// (None: forever). Returns its number; EAGAIN when the time ran out.
pub fn sigtimedwait(set: &SigSet, timeout_ms: Option<u64>) -> Result<i32, Errno> {
    let ts = timeout_ms.map(|ms| Timespec {
        sec: (ms / 1000) as i64,
        nsec: ((ms % 1000) * 1_000_000) as i64,
    });
    let tp = ts.as_ref().map_or(0, |t| t as *const Timespec as usize);
    // SAFETY: rt_sigtimedwait(set, info, timeout, sigsetsize): `set` is a valid 8-byte sigset_t, info is null (not wanted), timeout is null or points at a live timespec; sigsetsize is 8.
    unsafe { syscall(g::__NR_rt_sigtimedwait, [set as *const SigSet as usize, 0, tp, 8, 0, 0]) }.map(|s| s as i32)
}
