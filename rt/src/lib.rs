//! keel's no-libc runtime, shared by the static binaries (`keel`, and later
//! `upcall-agent`).
//!
//! - [`entry`]: `_start`, argv/envp/auxv (`entry` feature, binaries only);
//! - [`args`]: the process arguments and environment, readable anywhere;
//! - [`log`]: one logging sink (stderr, or kmsg + console in boot mode);
//! - [`line`]: a fixed-size line builder, numbers and errno names without `core::fmt`;
//! - [`sys`]: the raw system calls rustix lacks, each with its `SAFETY:` contract;
//! - [`panic`]: the panic handler (`panic` feature) and its per-mode hook;
//! - [`mem`]: `memcpy` and friends (`mem` feature; compiler_builtins does not
//!   export them on the -gnu target).
#![cfg_attr(not(test), no_std)]

pub mod args;
pub mod clock;
#[cfg(feature = "entry")]
pub mod entry;
mod errno_names;
pub mod fs;
pub mod keys;
pub mod line;
pub mod log;
#[cfg(feature = "mem")]
pub mod mem;
pub mod panic;
pub mod path;
pub mod sock;
pub mod sys;

pub use line::{Line, Piece};
pub use rustix::io::Errno;

/// Ends the process with `code` (exit_group). Never returns.
pub fn exit(code: i32) -> ! {
    sys::exit_group(code)
}
