//! keel-init: keel's container-init mode alone (docs/container-init.md).
//! `keel-init [OPTIONS] -- PROGRAM [ARGS…]` behaves exactly as
//! `keel [OPTIONS] -- PROGRAM [ARGS…]`; linking only this mode keeps the
//! file and its resident pages small.
#![no_std]
#![no_main]

keel_rt::entry!(main);

fn main() -> i32 {
    keel_supervisor::single::run()
}
