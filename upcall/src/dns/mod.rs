//! The dns_resolver handler (issue 5): keel-dns's sans-I/O resolver driven
//! over real sockets.
//!
//! - [`inputs`]: /etc/resolv.conf, /etc/hosts and key.dns_resolver.conf,
//!   read in the caller's mount namespace (the container's, for the agent);
//! - [`job`]: one request's lookup and its UDP/TCP sockets, driven by an
//!   event loop (the agent's epoll, or [`cli`]'s poll);
//! - [`cli`]: `upcall-agent dns-resolver` (also under the name
//!   key.dns_resolver), a drop-in for keyutils' key.dns_resolver.
//!
//! A built-in handler: `builtin:dns_resolver` as the program of a
//! request-key.conf line; with no line for the dns_resolver type at all it
//! is the fallback (see [`crate::files::FALLBACK`]).

pub mod cli;
pub mod inputs;
pub mod job;

use keel_dns::KeyOutcome;
use keel_rt::keys;
use keel_wire::upcall::Result as Res;

/// Settles `key` as `o` says; the authority must be assumed.
pub fn settle(key: i32, o: &KeyOutcome<'_>) -> Res {
    match *o {
        KeyOutcome::Instantiate { payload, timeout_s } => {
            // The timeout first: a key under construction accepts it
            // through the authority; instantiating then keeps it (unless the
            // payload's own status sets 1 s, dns_resolver_preparse).
            if let Err(e) = keys::set_timeout(key, timeout_s) {
                return Res::Failed(e.raw_os_error() as u16);
            }
            match keys::instantiate(key, payload, 0) {
                Ok(()) => Res::Served,
                Err(e) => Res::Failed(e.raw_os_error() as u16),
            }
        }
        KeyOutcome::Reject { errno, timeout_s } => match keys::reject(key, timeout_s, errno, 0) {
            Ok(()) => Res::Rejected(errno),
            Err(e) => Res::Failed(e.raw_os_error() as u16),
        },
    }
}
