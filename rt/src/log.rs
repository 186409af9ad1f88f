//! The one logging sink of a static binary.
//!
//! - every mode but boot mode: one line per message on stderr (fd 2);
//! - boot mode: `<N>keel: …` to /dev/kmsg (syslog priority N) and the human
//!   line to /dev/console, because the kernel's `quiet` hides kmsg's info
//!   lines from the console (implementation-notes §1.11).
//!
//! Messages below the verbosity threshold are dropped. Writes are single
//! `write(2)` calls of whole lines; failures are ignored (there is nowhere
//! left to report them).

use crate::line::{Line, LINE_MAX};
use core::sync::atomic::{AtomicI32, AtomicU8, Ordering::Relaxed};

/// Severity, with its syslog priority as the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Err = 3,
    Warn = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

static STDERR_FD: AtomicI32 = AtomicI32::new(2);
static KMSG_FD: AtomicI32 = AtomicI32::new(-1);
static CONSOLE_FD: AtomicI32 = AtomicI32::new(-1);
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
/// The kernel's console_loglevel when logging to kmsg: it prints kmsg lines
/// of a lower priority number on the console itself (0 = unknown).
static KERNEL_CONSOLE_LEVEL: AtomicU8 = AtomicU8::new(0);

/// Logs to stderr (the default).
pub fn to_stderr() {
    KMSG_FD.store(-1, Relaxed);
    CONSOLE_FD.store(-1, Relaxed);
    STDERR_FD.store(2, Relaxed);
}

/// Boot mode: kmsg (may be -1 when /dev/kmsg cannot be opened) and the
/// console (may be -1). The fds must stay open for the process's life.
pub fn to_kmsg(kmsg_fd: i32, console_fd: i32) {
    KMSG_FD.store(kmsg_fd, Relaxed);
    CONSOLE_FD.store(console_fd, Relaxed);
    STDERR_FD.store(-1, Relaxed);
}

/// Like [`to_kmsg`] without a console, but /dev/kmsg is opened only when
/// the first message passes the level: a short-lived program that usually
/// logs nothing (the upcall broker, once per key request) skips the open.
pub fn to_kmsg_lazily(also_stderr: bool) {
    KMSG_FD.store(LAZY, Relaxed);
    CONSOLE_FD.store(-1, Relaxed);
    STDERR_FD.store(if also_stderr { 2 } else { -1 }, Relaxed);
}

/// KMSG_FD's "open on first use".
const LAZY: i32 = -2;

fn kmsg_fd() -> i32 {
    let fd = KMSG_FD.load(Relaxed);
    if fd != LAZY {
        return fd;
    }
    let opened = rustix::fs::open(
        c"/dev/kmsg",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_or(-1, rustix::fd::IntoRawFd::into_raw_fd);
    KMSG_FD.store(opened, Relaxed);
    opened
}

/// Tells the sink the kernel's console_loglevel (the first field of
/// /proc/sys/kernel/printk): kmsg lines below it already reach the console
/// through the kernel, so keel does not write them there a second time.
pub fn set_kernel_console_level(level: u8) {
    KERNEL_CONSOLE_LEVEL.store(level, Relaxed);
}

/// Messages more verbose than `level` are dropped.
pub fn set_max_level(level: Level) {
    MAX_LEVEL.store(level as u8, Relaxed);
}

pub fn max_level() -> Level {
    match MAX_LEVEL.load(Relaxed) {
        0..=3 => Level::Err,
        4 => Level::Warn,
        5 => Level::Notice,
        6 => Level::Info,
        _ => Level::Debug,
    }
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Relaxed)
}

/// Writes one message (without trailing newline) at `level`.
pub fn emit(level: Level, msg: &[u8]) {
    emit_to(level, msg, true);
}

/// Like [`emit`], but in boot mode to /dev/kmsg only, never the console:
/// for lines that may come by the thousand (one per upcall), which would
/// hold PID 1 in console writes.
pub fn record(level: Level, msg: &[u8]) {
    emit_to(level, msg, false);
}

fn emit_to(level: Level, msg: &[u8], to_console: bool) {
    if !enabled(level) {
        return;
    }
    let kmsg = kmsg_fd();
    if kmsg >= 0 {
        let mut l = Line::new();
        // The newline ends the record: without it the kernel keeps the
        // record open for a continuation, and /dev/kmsg readers do not see
        // it until another record is written.
        l.bytes(b"<").u64(level as u64).bytes(b">").bytes(msg).bytes(b"\n");
        write_all(kmsg, l.as_bytes());
    }
    let console = CONSOLE_FD.load(Relaxed);
    let kernel_shows = kmsg >= 0 && (level as u8) < KERNEL_CONSOLE_LEVEL.load(Relaxed);
    if to_console && console >= 0 && !kernel_shows {
        write_line(console, msg);
    }
    let err = STDERR_FD.load(Relaxed);
    if err >= 0 {
        write_line(err, msg);
    }
}

fn write_line(fd: i32, msg: &[u8]) {
    let mut buf = [0u8; LINE_MAX + 1];
    let n = msg.len().min(LINE_MAX);
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), msg.get(..n)) {
        dst.copy_from_slice(src);
    }
    if let Some(b) = buf.get_mut(n) {
        *b = b'\n';
    }
    write_all(fd, buf.get(..n + 1).unwrap_or(&[]));
}

/// Writes all of `b` to `fd`, retrying on EINTR and short writes.
pub fn write_all(fd: i32, mut b: &[u8]) {
    while !b.is_empty() {
        match crate::sys::write(fd, b) {
            Ok(0) => return,
            Ok(n) => b = b.get(n..).unwrap_or(&[]),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}

/// `log!(Level::Err, "keel: container ", name, ": ", errno)`.
#[macro_export]
macro_rules! log {
    ($lvl:expr, $($p:expr),+ $(,)?) => {
        $crate::line::emit($lvl, &[$(&$p as &dyn $crate::line::Piece),+])
    };
}
#[macro_export]
macro_rules! error { ($($p:expr),+ $(,)?) => { $crate::log!($crate::log::Level::Err, $($p),+) }; }
#[macro_export]
macro_rules! warn { ($($p:expr),+ $(,)?) => { $crate::log!($crate::log::Level::Warn, $($p),+) }; }
#[macro_export]
macro_rules! notice { ($($p:expr),+ $(,)?) => { $crate::log!($crate::log::Level::Notice, $($p),+) }; }
#[macro_export]
macro_rules! info { ($($p:expr),+ $(,)?) => { $crate::log!($crate::log::Level::Info, $($p),+) }; }
#[macro_export]
macro_rules! debug { ($($p:expr),+ $(,)?) => { $crate::log!($crate::log::Level::Debug, $($p),+) }; }
