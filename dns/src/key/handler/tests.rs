//! Whole requests against a scripted network.

use super::*;
use crate::lookup::tests::{drive, Machine, Reply, Run, Step, Zone};
use crate::message::response::build::{a, aaaa, afsdb, srv};
use crate::message::rtype;
use std::string::String;
use std::vec::Vec as StdVec;

impl Machine for KeyLookup<'_> {
    fn step(&mut self, now: u64, rng: &mut dyn FnMut() -> u16) -> Step {
        self.next_action(now, rng).into()
    }
    fn datagram(&mut self, from: SocketAddr, msg: &[u8], now: u64) -> bool {
        self.on_datagram(from, msg, now)
    }
    fn tcp(&mut self, server: usize, msg: &[u8], now: u64) -> bool {
        self.on_tcp(server, msg, now)
    }
    fn server_addr(&self, server: usize) -> SocketAddr {
        self.conf.nameservers[server].socket_addr(0)
    }
}

fn zone() -> Zone {
    let mut z = Zone::default();
    z.add("host.example", rtype::A, a("host.example", 300, [10, 0, 0, 1]))
        .add("host.example", rtype::A, a("host.example", 120, [10, 0, 0, 2]))
        .add("host.example", rtype::AAAA, aaaa("host.example", 200, "2001:db8::1"))
        .add("short.example", rtype::A, a("short.example", 7, [10, 0, 0, 7]))
        .add("zero.example", rtype::A, a("zero.example", 0, [10, 0, 0, 8]))
        .exists("v6less.example", rtype::A);
    let owner = "_afs3-vlserver._udp.cell.example";
    z.add(owner, rtype::SRV, srv(owner, 3600, 10, 1, 7003, "vl1.cell.example"))
        .add(owner, rtype::SRV, srv(owner, 3600, 20, 2, 7004, "vl2.cell.example"))
        .add(owner, rtype::SRV, srv(owner, 3600, 30, 3, 7005, "gone.cell.example"))
        .add("vl1.cell.example", rtype::A, a("vl1.cell.example", 45, [10, 0, 1, 1]))
        .add(
            "vl1.cell.example",
            rtype::AAAA,
            aaaa("vl1.cell.example", 45, "2001:db8::11"),
        )
        .exists("vl2.cell.example", rtype::AAAA)
        .add(
            "old.example",
            rtype::AFSDB,
            afsdb("old.example", 50, 1, "db.old.example"),
        )
        .add("db.old.example", rtype::A, a("db.old.example", 40, [10, 0, 2, 1]))
        .add(
            "empty.example",
            rtype::AFSDB,
            afsdb("empty.example", 50, 1, "nowhere.example"),
        );
    z
}

const HOSTS: &[u8] = b"10.0.9.9 vl2.cell.example\n192.168.1.5 filer filer.lan\n";

struct Outcome {
    run: Run,
    payload: Option<StdVec<u8>>,
    timeout: u32,
    errno: Option<u16>,
}

fn request(
    conf: &str,
    policy: KeyPolicy,
    desc: &str,
    callout: &str,
    policy_fn: impl FnMut(usize, &str, u16, bool) -> Reply,
) -> Outcome {
    let c = Config::parse(conf.as_bytes());
    let mut k = KeyLookup::new(&c, HOSTS, policy, desc.as_bytes(), callout.as_bytes());
    let run = drive(&mut k, &zone(), policy_fn);
    match k.outcome().unwrap() {
        KeyOutcome::Instantiate { payload, timeout_s } => Outcome {
            run,
            payload: Some(payload.to_vec()),
            timeout: timeout_s,
            errno: None,
        },
        KeyOutcome::Reject { errno, timeout_s } => Outcome {
            run,
            payload: None,
            timeout: timeout_s,
            errno: Some(errno),
        },
    }
}

fn ok(desc: &str, callout: &str) -> (String, u32, StdVec<String>) {
    let o = request(
        "nameserver 10.0.0.53\n",
        KeyPolicy::default(),
        desc,
        callout,
        |_, _, _, _| Reply::Zone,
    );
    let p = o
        .payload
        .unwrap_or_else(|| panic!("{desc} {callout}: rejected {:?}", o.errno));
    assert_eq!(p.last(), Some(&0), "NUL-terminated");
    (
        String::from_utf8(p[..p.len() - 1].to_vec()).unwrap(),
        o.timeout,
        o.run.sent,
    )
}

fn rejected(desc: &str, callout: &str, policy: impl FnMut(usize, &str, u16, bool) -> Reply) -> (u16, u32) {
    let o = request("nameserver 10.0.0.53\n", KeyPolicy::default(), desc, callout, policy);
    assert!(o.payload.is_none(), "{desc}: {:?}", o.payload);
    (o.errno.unwrap(), o.timeout)
}

#[test]
fn host_payloads_follow_the_callout() {
    // Legacy: first IPv4 address only; TTL min(120, 300) capped at 60.
    assert_eq!(
        ok("host.example", ""),
        ("10.0.0.1".into(), 60, vec!["udp 0 A host.example".into()])
    );
    assert_eq!(ok("a:host.example", "").0, "10.0.0.1");
    assert_eq!(ok("aaaa:host.example", "").0, "10.0.0.1");
    // Both families, one address: IPv4 first, AAAA not asked.
    let (p, _, sent) = ok("host.example", "ttl");
    assert_eq!((p.as_str(), sent.len()), ("10.0.0.1", 1));
    assert_eq!(ok("host.example", "list").0, "10.0.0.1,10.0.0.2,2001:db8::1");
    assert_eq!(ok("host.example", "ipv4 list").0, "10.0.0.1,10.0.0.2");
    assert_eq!(ok("aaaa:host.example", "ipv6").0, "2001:db8::1");
    assert_eq!(ok("short.example", "list").1, 7);
    assert_eq!(ok("zero.example", "").1, 1, "TTL 0 must not mean 'never expires'");
    // /etc/hosts and literals: default_ttl.
    assert_eq!(ok("FILER.lan", "list"), ("192.168.1.5".into(), 5, vec![]));
    assert_eq!(ok("10.1.2.3", ""), ("10.1.2.3".into(), 5, vec![]));
    let o = request(
        "",
        KeyPolicy {
            default_ttl: 30,
            max_ttl: 60,
        },
        "filer",
        "",
        |_, _, _, _| Reply::Zone,
    );
    assert_eq!(o.timeout, 30);
}

#[test]
fn host_errors_follow_the_table() {
    assert_eq!(rejected("nothing.example", "", |_, _, _, _| Reply::Zone), (61, 60));
    assert_eq!(rejected("v6less.example", "", |_, _, _, _| Reply::Zone), (61, 60));
    assert_eq!(
        rejected("host.example", "ipv6 list", |_, _, t, _| if t == rtype::AAAA {
            Reply::Rcode(0)
        } else {
            Reply::Zone
        }),
        (61, 60)
    );
    assert_eq!(rejected("host.example", "", |_, _, _, _| Reply::Rcode(2)), (11, 2));
    assert_eq!(rejected("host.example", "", |_, _, _, _| Reply::Rcode(5)), (111, 10));
    assert_eq!(rejected("host.example", "", |_, _, _, _| Reply::Silent), (11, 2));
    assert_eq!(rejected("srv:host.example", "", |_, _, _, _| Reply::Zone), (22, 2));
    assert_eq!(rejected("a:", "", |_, _, _, _| Reply::Zone), (22, 2));
    assert_eq!(rejected("host.example", "ipv4,ipv6", |_, _, _, _| Reply::Zone), (22, 2));
    assert_eq!(rejected("a..b", "", |_, _, _, _| Reply::Zone), (22, 2));
    assert_eq!(rejected("2001:db8::1", "", |_, _, _, _| Reply::Zone), (22, 2));
}

#[test]
fn afs_text_from_srv() {
    let (p, ttl, sent) = ok("afsdb:cell.example", "");
    // vl1 from DNS (both families), vl2 from /etc/hosts, gone: no address.
    assert_eq!(p, "10.0.1.1+7003,2001:db8::11+7003,10.0.9.9+7004");
    // min(SRV 3600 → 60, vl1 45, vl2 hosts 5)
    assert_eq!(ttl, 5);
    assert_eq!(
        sent,
        [
            "udp 0 SRV _afs3-vlserver._udp.cell.example",
            "udp 0 A vl1.cell.example",
            "udp 0 AAAA vl1.cell.example",
            "udp 0 A gone.cell.example",
        ]
    );
    assert_eq!(ok("afsdb:cell.example", "ipv4").0, "10.0.1.1+7003,10.0.9.9+7004");
}

#[test]
fn afs_falls_back_to_afsdb() {
    let (p, ttl, sent) = ok("afsdb:old.example", "");
    assert_eq!(p, "10.0.2.1");
    assert_eq!(ttl, 40);
    assert_eq!(
        sent[..2],
        ["udp 0 SRV _afs3-vlserver._udp.old.example", "udp 0 AFSDB old.example"]
    );
    assert_eq!(rejected("afsdb:empty.example", "", |_, _, _, _| Reply::Zone), (61, 60));
    assert_eq!(
        rejected("afsdb:none.example", "srv=1", |_, _, _, _| Reply::Zone),
        (61, 60)
    );
    // SRV times out, AFSDB says NXDOMAIN: the temporary failure wins.
    let policy = |_: usize, _: &str, t: u16, _: bool| if t == rtype::SRV { Reply::Silent } else { Reply::Zone };
    assert_eq!(rejected("afsdb:none.example", "", policy), (11, 2));
}

#[test]
fn afs_server_list_v1_byte_exact() {
    let o = request(
        "nameserver 10.0.0.53\n",
        KeyPolicy::default(),
        "afsdb:cell.example",
        "srv=1",
        |_, _, _, _| Reply::Zone,
    );
    let p = o.payload.unwrap();
    let mut want: StdVec<u8> = vec![0, 0, 1, 4, 1, 3];
    // vl1: prio 10, weight 1, port 7003, from DNS, good, UDP, 2 addresses.
    want.extend_from_slice(&[16, 0, 10, 0, 1, 0, 0x5b, 0x1b, 2, 1, 1, 2]);
    want.extend_from_slice(b"vl1.cell.example");
    want.extend_from_slice(&[0, 10, 0, 1, 1, 1]);
    want.extend_from_slice(&"2001:db8::11".parse::<std::net::Ipv6Addr>().unwrap().octets());
    // vl2: from /etc/hosts (NSS), 1 address.
    want.extend_from_slice(&[16, 0, 20, 0, 2, 0, 0x5c, 0x1b, 5, 1, 1, 1]);
    want.extend_from_slice(b"vl2.cell.example");
    want.extend_from_slice(&[0, 10, 0, 9, 9]);
    // gone: not found, no address.
    want.extend_from_slice(&[17, 0, 30, 0, 3, 0, 0x5d, 0x1b, 2, 4, 1, 0]);
    want.extend_from_slice(b"gone.cell.example");
    assert_eq!(p, want);
    assert_eq!(o.timeout, 5);
    // AFSDB: source 3, port 7003.
    let o = request(
        "nameserver 10.0.0.53\n",
        KeyPolicy::default(),
        "afsdb:old.example",
        "srv=1",
        |_, _, _, _| Reply::Zone,
    );
    let p = o.payload.unwrap();
    assert_eq!(p[..6], [0, 0, 1, 3, 1, 1]);
    assert_eq!(p[6..18], [14, 0, 0, 0, 0, 0, 0x5b, 0x1b, 2, 1, 1, 1]);
}

#[test]
fn deadline_bounds_the_whole_request() {
    let c = Config::parse(b"nameserver 10.0.0.53\n");
    let mut k = KeyLookup::new(&c, b"", KeyPolicy::default(), b"afsdb:cell.example", b"");
    k.set_deadline(4000);
    let run = drive(&mut k, &zone(), |_, _, _, _| Reply::Silent);
    assert_eq!(run.end_ms, 4000);
    assert_eq!(
        k.outcome(),
        Some(KeyOutcome::Reject {
            errno: 11,
            timeout_s: 2
        })
    );
}
