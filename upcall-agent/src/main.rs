//! upcall-agent: keel's request-key broker (installed as /sbin/request-key),
//! the resident agent keel starts in each container (`serve`), and a
//! request-key drop-in that never routes (`handle`). This file only picks
//! the mode; the work lives in keel-upcall (docs/upcalls.md).
#![no_std]
#![no_main]

use keel_upcall::cli::{self, Mode};

keel_rt::entry!(main);

fn main() -> i32 {
    let mut argv: [&[u8]; 16] = [b""; 16];
    let n = keel_rt::args::len().min(argv.len());
    for (i, a) in argv.iter_mut().enumerate().take(n) {
        *a = keel_rt::args::get(i).unwrap_or(b"");
    }
    if keel_rt::args::len() > argv.len() {
        return usage("too many arguments");
    }
    match cli::pick(argv.get(..n).unwrap_or(&[])) {
        Mode::Broker(k) => keel_upcall::broker::run(&k, true),
        Mode::Handle(k) => keel_upcall::broker::run(&k, false),
        Mode::Serve => keel_upcall::serve::run(),
        Mode::DnsResolver(a) => {
            keel_rt::log::to_stderr();
            keel_upcall::dns::cli::run(&a)
        }
        Mode::Version => {
            keel_rt::log::write_all(1, concat!("upcall-agent ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            0
        }
        Mode::Usage(msg) => usage(msg),
    }
}

fn usage(msg: &str) -> i32 {
    keel_rt::error!("upcall-agent: ", msg);
    keel_rt::log::write_all(2, cli::USAGE.as_bytes());
    2
}
