#![no_std]
#![no_main]

keel_rt::entry!(main);

fn main() -> i32 {
    keel_rt::info!("keel: hello ", keel_rt::args::len());
    0
}
