//! Boot mode's log sink (implementation-notes §1.11): `<N>keel: …` lines to
//! /dev/kmsg, human lines to /dev/console.
//!
//! The kernel rate-limits /dev/kmsg writers to 10 lines per 5 s unless
//! `printk_devkmsg` is `on`, and its `quiet` console level hides info
//! lines; so keel turns the limit off first and writes the console itself.

use core::sync::atomic::{AtomicI32, Ordering::Relaxed};

static CONSOLE: AtomicI32 = AtomicI32::new(-1);

/// Sets up the sink. Before /dev is mounted nothing opens, and the log
/// stays on stderr (fd 2, the console when the image has /dev/console).
pub fn setup() {
    let _ = keel_rt::fs::write_file(c"/proc/sys/kernel/printk_devkmsg", b"on\n");
    let kmsg = super::early::open_write(c"/dev/kmsg");
    let console = super::early::open_write(c"/dev/console");
    if kmsg < 0 && console < 0 {
        keel_rt::log::to_stderr();
        return;
    }
    CONSOLE.store(console, Relaxed);
    keel_rt::log::to_kmsg(kmsg, console);
    // With `quiet` the kernel itself prints kmsg lines of priority < 4 on
    // the console: keel writes only the others there, so none shows twice.
    let mut b = [0u8; 64];
    if let Ok(n) = keel_rt::fs::read_into(c"/proc/sys/kernel/printk", &mut b) {
        let first = b
            .get(..n)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .fold(0u8, |a, c| a.saturating_mul(10).saturating_add(c - b'0'));
        keel_rt::log::set_kernel_console_level(first);
    }
}

/// The console fd (-1 if none), for output that is for people only (the
/// container table).
pub fn console() -> i32 {
    CONSOLE.load(Relaxed)
}

/// Writes raw bytes to the console, or stderr without one.
pub fn console_write(b: &[u8]) {
    let c = console();
    keel_rt::log::write_all(if c >= 0 { c } else { 2 }, b);
}
