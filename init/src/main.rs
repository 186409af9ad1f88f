//! keel: the PID 1 binary. This file only picks the mode; the work lives in
//! keel-supervisor.
//!
//! Modes (docs/modes.md):
//! - boot mode: pid 1 and no mode argument;
//! - supervisor mode: `keel --config DIR [--run-dir DIR] [--stay]`;
//! - container-init mode: `keel [OPTIONS] -- PROGRAM [ARGS…]`, or any
//!   invocation under the name `tini` or `keel-init`;
//! - modprobe mode: invoked as `modprobe` (the kernel's module upcall).
#![no_std]
#![no_main]

use keel_supervisor::mode::{self, Mode};

keel_rt::entry!(main);

fn main() -> i32 {
    match mode::pick(keel_rt::args::iter(), rustix::process::getpid().as_raw_nonzero().get()) {
        Mode::Supervisor => keel_supervisor::run_supervisor_mode(),
        Mode::Boot => keel_supervisor::run_boot_mode(),
        Mode::ContainerInit => keel_supervisor::single::run(),
        Mode::Enter => keel_supervisor::enter_cmd::run(),
        Mode::Modprobe => keel_supervisor::boot::modprobe::run(),
        Mode::Version => {
            keel_rt::log::write_all(1, concat!("keel ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            0
        }
        Mode::Usage(msg) => {
            keel_rt::error!("keel: ", msg);
            keel_rt::log::write_all(2, mode::USAGE.as_bytes());
            2
        }
    }
}
