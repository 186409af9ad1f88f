//! The upcall agent's logic; the `upcall-agent` binary picks a mode with
//! [`cli::pick`] and calls in here. Pure parts (the command line,
//! request-key.conf, /proc/keys lines) are kept apart from the system calls
//! that carry them out.
//!
//! - [`broker`]: keel's `/sbin/request-key` (routes, or serves the host);
//! - [`serve`]: the resident agent in each container;
//! - [`handle`]: running a chosen request-key.conf line (built-ins, workers);
//! - [`files`]: finding and reading the configuration files;
//! - [`conf`]: request-key.conf parsing, matching and macro expansion;
//! - [`req`]: one request in fixed buffers; [`proc`]: forks, waits, time.
#![cfg_attr(not(test), no_std)]

pub mod broker;
pub mod cli;
pub mod conf;
pub mod dns;
pub mod files;
pub mod handle;
pub mod proc;
pub mod proc_keys;
pub mod req;
pub mod serve;
