//! keel's DNS stub resolver for the dns_resolver upcall (issue 5):
//! sans-I/O, `no_std`, no allocator, no system calls. The caller (the
//! resident agent's event loop, or a blocking command) owns the sockets and
//! the clock, feeds bytes in and sends what it is told to.
//!
//! Layers, bottom up:
//! - [`resolv_conf`], [`hosts`]: the two files, read like glibc reads them;
//! - [`name`], [`message`]: domain names, the query builder, the response
//!   parser (total; compression pointers only backwards), CNAME chains;
//! - [`search`]: the names to try (search list, `ndots`);
//! - [`lookup`]: one lookup as a state machine (servers, attempts, TC → TCP,
//!   the checks that an answer is the answer);
//! - [`key`]: the dns_resolver request: description and callout, the
//!   payloads the kernel accepts, key timeouts and the errno table;
//! - [`addr_text`], [`out`]: text forms of addresses and the bounded writer.
//!
//! Not followed: nsswitch.conf's `hosts:` line (always /etc/hosts, then
//! DNS), `sortlist`, `LOCALDOMAIN`/`RES_OPTIONS`, EDNS0 (see [`message`]).
//!
//! Fixed capacities (memory known at build time): 3 nameservers, 6 search
//! domains in 256 bytes, 16 /etc/hosts addresses per name, 32 addresses and
//! 8 SRV/AFSDB targets per lookup, 8 addresses per AFS server, 16 CNAME
//! links, names of 255 bytes, payloads of 4096 bytes. A [`lookup::Lookup`]
//! is under 4 KiB, a [`key::handler::KeyLookup`] under 12 KiB, a
//! [`resolv_conf::Config`] under 512 bytes (asserted at build time).
//!
//! `Debug` implementations exist for tests and logs; nothing in the code
//! paths formats with `core::fmt`.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]
#![warn(missing_docs)]

pub mod addr_text;
pub mod hosts;
pub mod key;
pub mod lookup;
pub mod message;
pub mod name;
pub mod out;
pub mod resolv_conf;
pub mod search;

pub use key::handler::{KeyLookup, KeyOutcome};
pub use key::KeyPolicy;
pub use lookup::{Action, Answer, Failure, Lookup, Question, Random, Source, Want};
pub use name::Name;
pub use resolv_conf::Config;

// Memory is known at build time (DESIGN.md): the bounds the docs above give.
static_assertions::const_assert!(core::mem::size_of::<lookup::Lookup<'static>>() <= 4 * 1024);
static_assertions::const_assert!(core::mem::size_of::<key::handler::KeyLookup<'static>>() <= 12 * 1024);
static_assertions::const_assert!(core::mem::size_of::<resolv_conf::Config>() <= 512);
