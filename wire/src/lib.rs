//! Every message between keel's processes, defined once: byte layouts,
//! versions and limits. No I/O here; both ends encode and decode with these
//! functions, and the decoders are total (any bytes give a value or an error).
#![cfg_attr(not(test), no_std)]

pub mod spawn;
pub mod upcall;
