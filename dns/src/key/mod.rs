//! The dns_resolver upcall: from a key description and callout to the
//! payload `dns_resolver_preparse` accepts, or to a rejection with an errno.
//!
//! [`handler::KeyLookup`] drives the lookups (addresses; or for AFS, SRV
//! `_afs3-vlserver._udp.CELL`, then AFSDB `CELL` if SRV gave no target,
//! then each target's addresses) and writes the payload:
//! [`request`] reads the description and callout, [`payload`] writes the
//! text and binary forms, [`conf`] reads key.dns_resolver.conf.
//!
//! Key timeouts: a DNS answer lives for its smallest record TTL (the
//! records used and the CNAMEs followed; for AFS also the SRV/AFSDB
//! records and every target's addresses), capped at
//! [`KeyPolicy::max_ttl`] (60 s by default) because the kernel's
//! dns_resolver cache is shared by all network namespaces: a long-lived
//! key answers other containers' lookups (docs/upcalls.md §2.6). An
//! answer from /etc/hosts or an address literal lives
//! [`KeyPolicy::default_ttl`] seconds (5 unless key.dns_resolver.conf's
//! `default_ttl` says otherwise, as key.dns_resolver does for every
//! A/AAAA answer). A timeout is never 0 (which would mean "never expires").
//!
//! Errors (see [`errno`] and [`reject_timeout`]):
//!
//! | lookup result | errno | negative key |
//! |---|---|---|
//! | NXDOMAIN, no data (also: every record unusable, no address for any AFS server) | ENODATA (61) | 60 s |
//! | SERVFAIL, FORMERR, NOTIMP, CNAME chain over 16 links, TC over TCP; no answer in time | EAGAIN (11) | 2 s |
//! | REFUSED by every server asked | ECONNREFUSED (111) | 10 s |
//! | bad description, callout or name | EINVAL (22) | 2 s |
//!
//! Negative key times are keyutils' (capped at `max_ttl` too), except 2 s
//! where keyutils says 1 s: the kernel keeps a negative key's expiry in
//! whole wall-clock seconds, so a 1 s key may expire at once and reach the
//! requester as ENOKEY instead of its error. keyutils
//! means to map the same way but rejects with the resolver's `h_errno` as
//! the errno (HOST_NOT_FOUND → EPERM, NO_DATA → EINTR, …); keel uses the
//! table. These are also the errnos AFS tells apart
//! (`fs/afs/cell.c afs_update_cell`: ENODATA → not found, EAGAIN and
//! ECONNREFUSED → temporary failure).
//!
//! `#dnserror=N`: a text payload of that form makes a *positive* key that
//! carries the error: reading it gives `-N`, and the kernel's `dns_query`
//! returns `-N` to its caller, which is exactly what it returns for a
//! rejected key (`request_key` hands back the rejection's errno). No kernel
//! caller needs it, so keel always rejects. It would be the form to use
//! only where the failure must be *readable* as key data (`KEYCTL_READ`
//! gives -N; a negative key can not be read), e.g. for a userspace
//! requester that inspects the key instead of the `request_key` error.
//!
//! Address order for `list` (and which address a one-address answer gives):
//! IPv4 addresses before IPv6, each family in the order the source gave them
//! (answer order from DNS, file order from /etc/hosts); repeats dropped.
//! glibc's `getaddrinfo` (what key.dns_resolver uses) sorts by RFC 6724
//! instead, which depends on the host's own addresses and routes; dnsmasq
//! rotates its records on every answer. keel keeps the server's order so a
//! rotating server still spreads load, and puts IPv4 first because the
//! kernel callers that take one address (CIFS, NFS, Ceph) are asked in
//! legacy mode (IPv4 only) anyway, and a container network very often has
//! IPv4 only; the order is the same whatever the container's routes.
//! Differential tests therefore compare `list` answers as sets.

pub mod conf;
pub mod handler;
pub mod payload;
pub mod request;

use crate::lookup::Failure;

/// No data (`ENODATA`, asm-generic numbering: x86, arm, riscv).
pub const ENODATA: u16 = 61;
/// Try again (`EAGAIN`).
pub const EAGAIN: u16 = 11;
/// Connection refused (`ECONNREFUSED`).
pub const ECONNREFUSED: u16 = 111;
/// Invalid argument (`EINVAL`).
pub const EINVAL: u16 = 22;

/// Key lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Seconds for answers without a record TTL (/etc/hosts, literals);
    /// key.dns_resolver.conf's `default_ttl`.
    pub default_ttl: u32,
    /// Cap on DNS TTLs and negative key times, seconds.
    pub max_ttl: u32,
}

impl Default for KeyPolicy {
    fn default() -> KeyPolicy {
        KeyPolicy {
            default_ttl: 5,
            max_ttl: 60,
        }
    }
}

/// The errno a failure rejects the key with.
pub fn errno(f: Failure) -> u16 {
    match f {
        Failure::NxDomain | Failure::NoData => ENODATA,
        Failure::ServFail | Failure::Timeout => EAGAIN,
        Failure::Refused => ECONNREFUSED,
        Failure::BadName => EINVAL,
    }
}

/// How long the negative key stays, seconds.
pub fn reject_timeout(f: Failure, policy: &KeyPolicy) -> u32 {
    let t = match errno(f) {
        ENODATA => 60,
        ECONNREFUSED => 10,
        // keyutils says 1 s; the kernel keeps a negative key's expiry in
        // whole wall-clock seconds and hands a key that has expired by the
        // time its helper exits to the requester as ENOKEY — with 1 s that
        // happens to requests rejected late in a second. 2 s always leaves
        // at least one.
        _ => 2,
    };
    t.min(policy.max_ttl).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_table() {
        let p = KeyPolicy::default();
        let row = |f| (errno(f), reject_timeout(f, &p));
        assert_eq!(row(Failure::NxDomain), (61, 60));
        assert_eq!(row(Failure::NoData), (61, 60));
        assert_eq!(row(Failure::ServFail), (11, 2));
        assert_eq!(row(Failure::Timeout), (11, 2));
        assert_eq!(row(Failure::Refused), (111, 10));
        assert_eq!(row(Failure::BadName), (22, 2));
        let short = KeyPolicy {
            default_ttl: 5,
            max_ttl: 0,
        };
        assert_eq!(reject_timeout(Failure::NoData, &short), 1);
    }
}
