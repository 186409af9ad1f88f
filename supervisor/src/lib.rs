//! keel's container table: everything that decides what runs, and the
//! system calls that carry it out, kept apart.
//!
//! - [`mode`]: which mode the binary runs in — pure;
//! - [`spec`]: the container spec format (parse, validate) — pure;
//! - [`single`]: container-init mode (one program, tini-compatible).
#![cfg_attr(not(test), no_std)]

pub mod mode;
pub mod single;
pub mod spec;
pub mod table;

/// Supervisor mode: `keel --config DIR [--run-dir DIR] [--stay]`.
pub fn run_supervisor_mode() -> i32 {
    keel_rt::error!("keel: supervisor mode is not built yet");
    70
}

/// Boot mode: pid 1 of a machine.
pub fn run_boot_mode() -> i32 {
    keel_rt::error!("keel: boot mode is not built yet");
    70
}
