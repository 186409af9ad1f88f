//! keel's container table: everything that decides what runs, and the
//! system calls that carry it out, kept apart.
//!
//! - [`spec`]: the container spec format (parse, validate) — pure;
#![cfg_attr(not(test), no_std)]

pub mod spec;
