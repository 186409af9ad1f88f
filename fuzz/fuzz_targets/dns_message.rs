//! keel-dns on arbitrary bytes: the DNS response parser (compression,
//! counts, record data, CNAME chains), the lookup state machine fed the
//! bytes as the answer to its own question, resolv.conf, /etc/hosts,
//! key.dns_resolver.conf, dns_resolver descriptions and callouts, and the
//! address text forms. Nothing may panic; every value must obey the limits
//! the crate documents.
#![no_main]

use keel_dns::addr_text::{parse_ip, write_ip};
use keel_dns::hosts;
use keel_dns::key::conf::{parse_key_conf, MAX_DEFAULT_TTL};
use keel_dns::key::request::{parse_callout, parse_description};
use keel_dns::lookup::{Action, Lookup, Question, Want, MAX_ADDRS};
use keel_dns::message::chain::{follow, Chain};
use keel_dns::message::response::{RData, Response};
use keel_dns::message::rtype;
use keel_dns::out::Out;
use keel_dns::{Config, KeyLookup, KeyOutcome, KeyPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    response(data);
    lookup(data);
    files(data);
    request(data);
    addresses(data);
});

/// The parser: a checked response reads back whole.
fn response(data: &[u8]) {
    let Ok(r) = Response::parse(data) else {
        return;
    };
    let (qname, qtype, _) = r.question();
    let qname = qname.to_name().expect("a checked question name decodes");
    let mut count = 0usize;
    for rec in r.answers() {
        count += 1;
        let owner = rec.owner.to_name().expect("a checked owner decodes");
        assert!(rec.owner.eq_name(&owner));
        assert!(rec.ttl <= i32::MAX as u32);
        match rec.data {
            RData::Cname(n) | RData::Srv { target: n, .. } | RData::Afsdb { host: n, .. } => {
                assert!(n.to_name().is_some());
            }
            _ => {}
        }
    }
    if !r.header().truncated() {
        assert_eq!(count, usize::from(r.header().ancount));
    }
    let mut used = 0usize;
    if let Chain::Data { .. } = follow(&r, &qname, qtype, |_| used += 1) {
        assert!(used > 0);
    }
}

/// The state machine, asked the question the bytes answer (so that they
/// pass the id and question checks), fed the bytes as its answer.
fn lookup(data: &[u8]) {
    let Ok(r) = Response::parse(data) else {
        return;
    };
    let (qname, qtype, _) = r.question();
    let Some(name) = qname.to_name() else {
        return;
    };
    let want = match qtype {
        rtype::A => Want::Addresses {
            v4: true,
            v6: false,
            one: false,
        },
        rtype::AAAA => Want::Addresses {
            v4: false,
            v6: true,
            one: true,
        },
        rtype::SRV => Want::Srv,
        rtype::AFSDB => Want::Afsdb,
        _ => return,
    };
    let mut text = [0u8; 1100];
    let mut out = Out::new(&mut text);
    name.write_text(&mut out);
    out.push(b'.');
    let len = out.len();
    let conf = Config::parse(b"nameserver 127.0.0.1\noptions attempts:1 timeout:1\n");
    let id = r.header().id;
    let mut rng = || id;
    let mut l = Lookup::new(
        &conf,
        b"",
        Question {
            name: &text[..len],
            want,
            search: true,
        },
    );
    let from = conf.nameservers[0].socket_addr(0);
    let mut now = 0u64;
    for _ in 0..8 {
        match l.next_action(now, &mut rng) {
            Action::Done(Ok(ans)) => {
                assert!(ans.addrs.len() <= MAX_ADDRS);
                assert!(!ans.addrs.is_empty() || !ans.targets.is_empty());
                return;
            }
            Action::Done(Err(_)) => return,
            Action::SendUdp { .. } => {
                l.on_datagram(from, data, now);
            }
            Action::SendTcp { server, .. } => {
                l.on_tcp(server, data, now);
            }
            Action::Wait { until_ms } => {
                assert!(until_ms > now);
                now = until_ms;
            }
        }
    }
}

/// resolv.conf, /etc/hosts and key.dns_resolver.conf.
fn files(data: &[u8]) {
    let c = Config::parse(data);
    assert!((1..=3).contains(&c.nameservers.len()));
    assert!(c.ndots <= 15 && c.timeout_s <= 30 && c.attempts <= 5);
    assert!(c.search_len() <= 6);
    assert!(c.search().map(|d| d.len() + 1).sum::<usize>() <= 256);
    for name in [&b"localhost"[..], b"LOCALHOST.", b"a"] {
        assert!(hosts::lookup(data, name).len() <= hosts::MAX_HOSTS_ADDRS);
    }
    // The first word of the text as the name.
    if let Some(word) = data.split(|b| b.is_ascii_whitespace()).nth(1) {
        let found = hosts::lookup(data, word);
        for (i, a) in found.iter().enumerate() {
            assert!(!found[..i].contains(a));
        }
    }
    if let Ok(k) = parse_key_conf(data) {
        assert!((1..=MAX_DEFAULT_TTL).contains(&k.default_ttl));
    }
}

/// A dns_resolver request: description, NUL, callout. Resolved without a
/// network (hosts from the same bytes, a deadline at once).
fn request(data: &[u8]) {
    let mut parts = data.splitn(2, |&b| b == 0);
    let desc = parts.next().unwrap_or(&[]);
    let callout = parts.next().unwrap_or(&[]);
    let _ = parse_description(desc);
    let _ = parse_callout(callout);
    let conf = Config::default();
    let mut k = KeyLookup::new(&conf, data, KeyPolicy::default(), desc, callout);
    k.set_deadline(1);
    let mut rng = || 7u16;
    for _ in 0..64 {
        match k.next_action(1, &mut rng) {
            Action::Done(KeyOutcome::Instantiate { payload, timeout_s }) => {
                assert!(timeout_s >= 1);
                assert!(payload.len() > 1);
                if payload[0] != 0 {
                    // Text: NUL-terminated, no other NUL, no '#'.
                    assert_eq!(payload.last(), Some(&0));
                    assert!(!payload[..payload.len() - 1].contains(&0));
                    assert!(!payload.contains(&b'#'));
                } else {
                    assert!(payload.len() >= 6 && payload[1] == 0 && payload[2] == 1);
                }
                return;
            }
            Action::Done(KeyOutcome::Reject { errno, timeout_s }) => {
                assert!([11, 22, 61, 111].contains(&errno) && timeout_s >= 1);
                return;
            }
            _ => {}
        }
    }
    panic!("a request past its deadline must end");
}

/// Address text: what parses prints back to the same address, and the
/// parser agrees with Rust's own.
fn addresses(data: &[u8]) {
    let parsed = parse_ip(data);
    let std = std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse::<std::net::IpAddr>().ok());
    assert_eq!(parsed, std, "{:?}", String::from_utf8_lossy(data));
    if let Some(ip) = parsed {
        let mut buf = [0u8; 64];
        let mut out = Out::new(&mut buf);
        write_ip(&mut out, &ip);
        assert!(!out.overflowed());
        assert_eq!(parse_ip(out.written()), Some(ip));
    }
}
