//! keel's container table: everything that decides what runs, and the
//! system calls that carry it out, kept apart.
//!
//! - [`mode`]: which mode the binary runs in — pure;
//! - [`boot`]: boot mode, PID 1 of a machine (and the modprobe upcall);
//! - [`spec`]: the container spec format (parse, validate) — pure;
//! - [`table`]: the container table's decisions (lifecycle, order) — pure;
//! - [`run`]: the event loop that carries them out;
//! - [`single`]: container-init mode (one program, tini-compatible).
#![cfg_attr(not(test), no_std)]

pub mod boot;
pub mod cgroup;
pub mod enter_cmd;
pub mod mode;
pub mod run;
pub mod single;
pub mod spawn;
pub mod spec;
pub mod table;
pub mod upcall;

/// Supervisor mode: `keel --config DIR [--run-dir DIR] [--stay]`.
/// Exits when the table ends (unless `--stay`) or on TERM/INT after an
/// orderly stop, with the worst container exit status (0 if all
/// succeeded or were stopped on request).
#[inline(never)]
pub fn run_supervisor_mode() -> i32 {
    let opts = match run::options::parse(keel_rt::args::iter().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            keel_rt::error!("keel: ", msg);
            keel_rt::log::write_all(2, mode::USAGE.as_bytes());
            return 2;
        }
    };
    keel_rt::log::set_max_level(match opts.verbosity {
        0 => keel_rt::log::Level::Warn,
        1 => keel_rt::log::Level::Info,
        _ => keel_rt::log::Level::Debug,
    });
    let (_, worst) = run::run(run::Mode::Supervisor, &opts);
    worst.clamp(0, 255)
}

/// Boot mode: pid 1 of a machine (docs/boot.md). Never returns: the
/// machine ends in reboot(2), or keel stays up reaping.
#[inline(never)]
pub fn run_boot_mode() -> i32 {
    boot::run()
}
