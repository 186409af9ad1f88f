//! Lookup tests against a scripted network; the harness is shared with the
//! key handler's tests.

use super::*;
use crate::message::response::build::{self, a, aaaa, afsdb, cname, srv};
use std::collections::HashMap;
use std::string::String;
use std::vec::Vec as StdVec;

/// How a server treats one query.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer from the zone (NXDOMAIN if absent).
    Zone,
    /// No answer.
    Silent,
    /// An empty answer with this rcode.
    Rcode(u8),
    /// TC set, no records.
    Truncated,
    /// The zone answer, sent from another address.
    FromElsewhere,
    /// The zone answer with another id.
    WrongId,
    /// An answer to another question.
    WrongQuestion,
    /// These bytes, with the query's id written over the first two.
    Raw(StdVec<u8>),
}

/// Records by (lower-case name, type); NOERROR names without records of a
/// type are listed with an empty vector.
#[derive(Default)]
pub struct Zone {
    pub rrs: HashMap<(String, u16), StdVec<StdVec<u8>>>,
}

impl Zone {
    pub fn add(&mut self, name: &str, t: u16, rr: StdVec<u8>) -> &mut Self {
        self.rrs.entry((name.to_lowercase(), t)).or_default().push(rr);
        self
    }
    pub fn exists(&mut self, name: &str, t: u16) -> &mut Self {
        self.rrs.entry((name.to_lowercase(), t)).or_default();
        self
    }
    fn answer(&self, name: &str, t: u16) -> (u8, StdVec<StdVec<u8>>) {
        match self.rrs.get(&(name.to_lowercase(), t)) {
            Some(r) => (0, r.clone()),
            None if self.rrs.keys().any(|k| k.0 == name.to_lowercase()) => (0, vec![]),
            None => (3, vec![]),
        }
    }
}

/// (id, name, type) of a query.
pub fn parse_query(q: &[u8]) -> (u16, String, u16) {
    let id = u16::from_be_bytes([q[0], q[1]]);
    let mut at = 12;
    let mut labels = StdVec::new();
    while q[at] != 0 {
        let n = q[at] as usize;
        labels.push(String::from_utf8_lossy(&q[at + 1..at + 1 + n]).into_owned());
        at += n + 1;
    }
    let t = u16::from_be_bytes([q[at + 1], q[at + 2]]);
    (id, labels.join("."), t)
}

/// The machines under test.
pub trait Machine {
    fn step(&mut self, now: u64, rng: &mut dyn FnMut() -> u16) -> Step;
    fn datagram(&mut self, from: SocketAddr, msg: &[u8], now: u64) -> bool;
    fn tcp(&mut self, server: usize, msg: &[u8], now: u64) -> bool;
    fn server_addr(&self, server: usize) -> SocketAddr;
}

pub enum Step {
    Udp(usize, StdVec<u8>),
    Tcp(usize, StdVec<u8>),
    Wait(u64),
    Done,
}

impl<T> From<Action<'_, T>> for Step {
    fn from(a: Action<'_, T>) -> Step {
        match a {
            Action::SendUdp { server, bytes } => Step::Udp(server, bytes.to_vec()),
            Action::SendTcp { server, bytes } => Step::Tcp(server, bytes.to_vec()),
            Action::Wait { until_ms } => Step::Wait(until_ms),
            Action::Done(_) => Step::Done,
        }
    }
}

impl Machine for Lookup<'_> {
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

/// A run: what was sent, and when it ended.
pub struct Run {
    /// "udp 0 A name" / "tcp 1 AAAA name" per query sent.
    pub sent: StdVec<String>,
    /// Answers the machine accepted / ignored.
    pub accepted: usize,
    pub ignored: usize,
    pub end_ms: u64,
}

fn tname(t: u16) -> &'static str {
    match t {
        rtype::A => "A",
        rtype::AAAA => "AAAA",
        rtype::SRV => "SRV",
        rtype::AFSDB => "AFSDB",
        _ => "?",
    }
}

/// Drives `m` against `zone`, each query treated by `policy(server, name,
/// type, tcp)`.
pub fn drive(m: &mut dyn Machine, zone: &Zone, mut policy: impl FnMut(usize, &str, u16, bool) -> Reply) -> Run {
    let mut run = Run {
        sent: StdVec::new(),
        accepted: 0,
        ignored: 0,
        end_ms: 0,
    };
    let mut now = 0u64;
    let mut next_id = 0x4000u16;
    let mut rng = move || {
        next_id = next_id.wrapping_add(0x101);
        next_id
    };
    for _ in 0..10_000 {
        let (server, q, tcp) = match m.step(now, &mut rng) {
            Step::Done => {
                run.end_ms = now;
                return run;
            }
            Step::Wait(until) => {
                assert!(until > now, "wait must move time");
                now = until;
                continue;
            }
            Step::Udp(s, q) => (s, q, false),
            Step::Tcp(s, q) => {
                assert_eq!(u16::from_be_bytes([q[0], q[1]]) as usize, q.len() - 2, "TCP framing");
                (s, q[2..].to_vec(), true)
            }
        };
        assert_eq!(q[2] & 0x01, 0x01, "RD set");
        let (id, name, t) = parse_query(&q);
        run.sent.push(format!(
            "{} {server} {} {name}",
            if tcp { "tcp" } else { "udp" },
            tname(t)
        ));
        let reply = policy(server, &name, t, tcp);
        let (rc, answers) = zone.answer(&name, t);
        let mut from = m.server_addr(server);
        let bytes = match reply {
            Reply::Silent => continue,
            Reply::Zone => build::response(id, 0x0180 | rc as u16, &name, t, &answers),
            Reply::Rcode(rc) => build::response(id, 0x0180 | rc as u16, &name, t, &[]),
            Reply::Truncated => build::response(id, 0x0380, &name, t, &[]),
            Reply::FromElsewhere => {
                from = "192.0.2.99:53".parse().unwrap();
                build::response(id, 0x0180 | rc as u16, &name, t, &answers)
            }
            Reply::WrongId => build::response(id ^ 1, 0x0180 | rc as u16, &name, t, &answers),
            Reply::WrongQuestion => build::response(id, 0x0180, &format!("x{name}"), t, &answers),
            Reply::Raw(mut b) => {
                b[..2].copy_from_slice(&id.to_be_bytes());
                b
            }
        };
        let used = if tcp {
            m.tcp(server, &bytes, now)
        } else {
            m.datagram(from, &bytes, now)
        };
        if used {
            run.accepted += 1;
        } else {
            run.ignored += 1;
        }
    }
    panic!("machine did not finish");
}

fn conf(text: &str) -> Config {
    Config::parse(text.as_bytes())
}

fn addrs(l: &Lookup<'_>) -> StdVec<String> {
    l.result()
        .unwrap()
        .unwrap()
        .addrs
        .iter()
        .map(|a| a.to_string())
        .collect()
}

fn q(name: &str, want: Want) -> Question<'_> {
    Question {
        name: name.as_bytes(),
        want,
        search: true,
    }
}

const BOTH: Want = Want::Addresses {
    v4: true,
    v6: true,
    one: false,
};
const V4_ONE: Want = Want::Addresses {
    v4: true,
    v6: false,
    one: true,
};

fn zone() -> Zone {
    let mut z = Zone::default();
    z.add("host.example", rtype::A, a("host.example", 300, [10, 0, 0, 1]))
        .add("host.example", rtype::A, a("host.example", 120, [10, 0, 0, 2]))
        .add("host.example", rtype::AAAA, aaaa("host.example", 200, "2001:db8::1"))
        .add("v6only.example", rtype::AAAA, aaaa("v6only.example", 50, "2001:db8::6"))
        .exists("v6only.example", rtype::A)
        .add("www.example", rtype::A, cname("www.example", 30, "host.example"))
        .add("www.example", rtype::A, a("host.example", 300, [10, 0, 0, 1]));
    z
}

#[test]
fn hosts_and_literals_need_no_network() {
    let c = conf("nameserver 10.0.0.53\n");
    let hosts = b"10.1.1.1 box\n2001:db8::b box\n10.1.1.2 box\n";
    let mut l = Lookup::new(&c, hosts, q("BOX", BOTH));
    assert!(l.is_done());
    assert_eq!(addrs(&l), ["10.1.1.1", "10.1.1.2", "2001:db8::b"]);
    assert_eq!(l.result().unwrap().unwrap().source, Source::Hosts);
    assert!(matches!(l.next_action(0, &mut || 0), Action::Done(Ok(_))));
    // Only IPv6 wanted, hosts has IPv4 only: DNS is asked.
    let l = Lookup::new(
        &c,
        b"10.1.1.1 box\n",
        q(
            "box",
            Want::Addresses {
                v4: false,
                v6: true,
                one: false,
            },
        ),
    );
    assert!(!l.is_done());
    let l = Lookup::new(&c, b"", q("10.2.3.4", BOTH));
    assert_eq!(addrs(&l), ["10.2.3.4"]);
    assert_eq!(l.result().unwrap().unwrap().source, Source::Literal);
    let l = Lookup::new(&c, b"", q("2001:db8::9", V4_ONE));
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::NoData);
    for bad in ["", &"x".repeat(256)] {
        assert_eq!(
            Lookup::new(&c, b"", q(bad, BOTH)).result().unwrap().unwrap_err(),
            Failure::BadName
        );
    }
}

#[test]
fn a_then_aaaa_ipv4_first_min_ttl() {
    let c = conf("nameserver 10.0.0.53\n");
    let mut l = Lookup::new(&c, b"", q("host.example", BOTH));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    assert_eq!(run.sent, ["udp 0 A host.example", "udp 0 AAAA host.example"]);
    assert_eq!(addrs(&l), ["10.0.0.1", "10.0.0.2", "2001:db8::1"]);
    assert_eq!(l.result().unwrap().unwrap().ttl, 120);
    assert_eq!(l.result().unwrap().unwrap().source, Source::Dns);
    // One address wanted: AAAA is not asked.
    let mut l = Lookup::new(
        &c,
        b"",
        q(
            "host.example",
            Want::Addresses {
                v4: true,
                v6: true,
                one: true,
            },
        ),
    );
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    assert_eq!(run.sent, ["udp 0 A host.example"]);
    // No A: AAAA still asked and used.
    let mut l = Lookup::new(
        &c,
        b"",
        q(
            "v6only.example",
            Want::Addresses {
                v4: true,
                v6: true,
                one: true,
            },
        ),
    );
    drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    assert_eq!(addrs(&l), ["2001:db8::6"]);
}

#[test]
fn cname_followed_in_the_answer() {
    let c = conf("nameserver 10.0.0.53\n");
    let mut l = Lookup::new(&c, b"", q("www.example", V4_ONE));
    drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    assert_eq!(addrs(&l), ["10.0.0.1"]);
    assert_eq!(l.result().unwrap().unwrap().ttl, 30);
}

#[test]
fn search_list_and_nxdomain() {
    let c = conf("nameserver 10.0.0.53\nsearch corp.example example\n");
    let mut l = Lookup::new(&c, b"", q("host", BOTH));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    // NXDOMAIN for host.corp.example: its AAAA is not asked.
    assert_eq!(
        run.sent,
        [
            "udp 0 A host.corp.example",
            "udp 0 A host.example",
            "udp 0 AAAA host.example"
        ]
    );
    assert_eq!(addrs(&l).len(), 3);
    let mut l = Lookup::new(&c, b"", q("nothing", BOTH));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    assert_eq!(run.sent.len(), 3);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::NxDomain);
    // No data beats non-existence.
    let mut z = zone();
    z.exists("nothing.example", rtype::A);
    let mut l = Lookup::new(&c, b"", q("nothing", V4_ONE));
    drive(&mut l, &z, |_, _, _, _| Reply::Zone);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::NoData);
}

#[test]
fn ignores_wrong_source_id_question_and_garbage() {
    let c = conf("nameserver 10.0.0.53\n");
    for bad in [
        Reply::FromElsewhere,
        Reply::WrongId,
        Reply::WrongQuestion,
        Reply::Raw(b"\0\0\x81\x80\0\x01\0\x01\0\0\0\0\x04host\x07example\0\0\x01\0\x01\xc0\x22\0\x01\0\x01\0\0\0\x05\0\x04\x0a\0\0\x09".to_vec()),
        Reply::Raw(vec![0; 5]),
    ] {
        let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
        let mut first = true;
        let run = drive(&mut l, &zone(), |_, _, _, _| {
            if std::mem::take(&mut first) {
                bad.clone()
            } else {
                Reply::Zone
            }
        });
        assert_eq!(run.ignored, 1, "{bad:?}");
        // The next try (after 5 s) is answered.
        assert_eq!(run.end_ms, 5000, "{bad:?}");
        assert_eq!(addrs(&l), ["10.0.0.1", "10.0.0.2"], "{bad:?}");
    }
}

#[test]
fn truncated_goes_to_tcp() {
    let c = conf("nameserver 10.0.0.53\n");
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(
        &mut l,
        &zone(),
        |_, _, _, tcp| if tcp { Reply::Zone } else { Reply::Truncated },
    );
    assert_eq!(run.sent, ["udp 0 A host.example", "tcp 0 A host.example"]);
    assert_eq!(addrs(&l), ["10.0.0.1", "10.0.0.2"]);
    // TC over TCP is a server failure.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Truncated);
    assert_eq!(run.sent.len(), 2);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::ServFail);
    // use-vc: TCP from the start.
    let c = conf("nameserver 10.0.0.53\noptions use-vc\n");
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Zone);
    assert_eq!(run.sent, ["tcp 0 A host.example"]);
}

#[test]
fn failing_servers() {
    let c = conf("nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n");
    // SERVFAIL then REFUSED, then the third answers.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(&mut l, &zone(), |s, _, _, _| match s {
        0 => Reply::Rcode(2),
        1 => Reply::Rcode(5),
        _ => Reply::Zone,
    });
    assert_eq!(
        run.sent,
        ["udp 0 A host.example", "udp 1 A host.example", "udp 2 A host.example"]
    );
    assert_eq!(run.end_ms, 0);
    assert_eq!(addrs(&l).len(), 2);
    // All refuse: each asked once.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Rcode(5));
    assert_eq!(run.sent.len(), 3);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::Refused);
    // Refused and SERVFAIL: the temporary failure wins.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    drive(&mut l, &zone(), |s, _, _, _| Reply::Rcode(if s == 1 { 2 } else { 5 }));
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::ServFail);
    // Silence: 2 rounds x 3 servers x 5 s.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Silent);
    assert_eq!(run.sent.len(), 6);
    assert_eq!(run.end_ms, 30_000);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::Timeout);
    // A silent server is asked again in the next round; an erring one not.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let run = drive(
        &mut l,
        &zone(),
        |s, _, _, _| if s == 0 { Reply::Rcode(2) } else { Reply::Silent },
    );
    assert_eq!(run.sent.iter().map(|s| &s[4..5]).collect::<String>(), "01212");
}

#[test]
fn timeout_ends_the_search_and_deadline_bounds_it() {
    let c = conf("nameserver 10.0.0.53\nsearch a.example b.example\noptions timeout:1 attempts:1\n");
    let mut l = Lookup::new(&c, b"", q("host", V4_ONE));
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Silent);
    assert_eq!(run.sent, ["udp 0 A host.a.example"]);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::Timeout);
    let c = conf("nameserver 10.0.0.53\nnameserver 10.0.0.54\n");
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    l.set_deadline(7000);
    let run = drive(&mut l, &zone(), |_, _, _, _| Reply::Silent);
    assert_eq!(run.end_ms, 7000);
    assert_eq!(run.sent.len(), 2);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::Timeout);
}

#[test]
fn rotate_starts_at_a_random_server() {
    let c = conf("nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions rotate\n");
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    // The harness's first random value is 0x4101 = 16641 = 3 * 5547: server 0;
    // the A query's id takes the second.
    let mut first = None;
    drive(&mut l, &zone(), |s, _, _, _| {
        first.get_or_insert(s);
        Reply::Zone
    });
    assert_eq!(first, Some(0x4101 % 3));
}

#[test]
fn hostile_answers_end_in_time() {
    let c = conf("nameserver 10.0.0.53\noptions attempts:1\n");
    // 300 CNAMEs: a server failure, the lookup ends at once.
    let mut z = Zone::default();
    for i in 0..300 {
        z.add(
            "c0.example",
            rtype::A,
            cname(&format!("c{i}.example"), 60, &format!("c{}.example", i + 1)),
        );
    }
    let mut l = Lookup::new(&c, b"", q("c0.example", V4_ONE));
    let run = drive(&mut l, &z, |_, _, _, _| Reply::Zone);
    assert_eq!((run.accepted, run.end_ms), (1, 0));
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::ServFail);
    // Counts larger than the message, a compression loop, a truncated
    // message: ignored, the lookup times out.
    let mut counts = build::response(
        0,
        0x8180,
        "host.example",
        rtype::A,
        &[a("host.example", 1, [1, 2, 3, 4])],
    );
    counts[7] = 9;
    let looped = build::response(
        0,
        0x8180,
        "host.example",
        rtype::A,
        &[build::rr(b"\xc0\x1e", rtype::A, 1, &[1, 2, 3, 4])],
    );
    let full = build::response(
        0,
        0x8180,
        "host.example",
        rtype::A,
        &[a("host.example", 1, [1, 2, 3, 4])],
    );
    let cut = full[..full.len() - 2].to_vec();
    for bad in [counts, looped, cut] {
        let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
        let run = drive(&mut l, &z, |_, _, _, _| Reply::Raw(bad.clone()));
        assert_eq!((run.ignored, run.end_ms), (1, 5000));
        assert_eq!(l.result().unwrap().unwrap_err(), Failure::Timeout);
    }
    // An empty answer section with NOERROR: no data.
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    drive(&mut l, &z, |_, _, _, _| {
        Reply::Raw(build::response(0, 0x8180, "host.example", rtype::A, &[]))
    });
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::NoData);
}

#[test]
fn srv_and_afsdb_targets() {
    let c = conf("nameserver 10.0.0.53\n");
    let mut z = Zone::default();
    let owner = "_afs3-vlserver._udp.cell.example";
    for (p, t) in [(20, "vl3"), (10, "vl1"), (10, "VL1"), (0, ""), (15, "vl2")] {
        let target = if t.is_empty() {
            ".".to_string()
        } else {
            format!("{t}.cell.example")
        };
        z.add(owner, rtype::SRV, srv(owner, 600, p, 1, 7003, &target));
    }
    z.add(
        "cell.example",
        rtype::AFSDB,
        afsdb("cell.example", 100, 1, "db1.cell.example"),
    )
    .add(
        "cell.example",
        rtype::AFSDB,
        afsdb("cell.example", 100, 2, "dce.cell.example"),
    );
    let mut l = Lookup::new(
        &c,
        b"",
        Question {
            name: owner.as_bytes(),
            want: Want::Srv,
            search: false,
        },
    );
    drive(&mut l, &z, |_, _, _, _| Reply::Zone);
    let ans = l.result().unwrap().unwrap();
    let names: StdVec<_> = ans
        .targets
        .iter()
        .map(|t| (format!("{:?}", t.name), t.priority, t.port))
        .collect();
    assert_eq!(
        names,
        [
            ("vl3.cell.example".into(), 20, 7003),
            ("vl1.cell.example".into(), 10, 7003),
            ("vl2.cell.example".into(), 15, 7003)
        ]
    );
    let mut l = Lookup::new(
        &c,
        b"",
        Question {
            name: b"cell.example",
            want: Want::Afsdb,
            search: false,
        },
    );
    drive(&mut l, &z, |_, _, _, _| Reply::Zone);
    let ans = l.result().unwrap().unwrap();
    assert_eq!(ans.targets.len(), 1);
    assert_eq!(ans.ttl, 100);
    // More targets than kept: the lowest priorities stay.
    let mut z = Zone::default();
    for p in 0..12u16 {
        z.add(owner, rtype::SRV, srv(owner, 1, 100 - p, 0, 1, &format!("t{p}.x")));
    }
    let mut l = Lookup::new(
        &c,
        b"",
        Question {
            name: owner.as_bytes(),
            want: Want::Srv,
            search: false,
        },
    );
    drive(&mut l, &z, |_, _, _, _| Reply::Zone);
    let mut prios: StdVec<u16> = l
        .result()
        .unwrap()
        .unwrap()
        .targets
        .iter()
        .map(|t| t.priority)
        .collect();
    prios.sort();
    assert_eq!(prios, (89..=96).collect::<StdVec<u16>>());
}

#[test]
fn unsendable_queries_fail_their_try_at_once() {
    // One server, two attempts: both sends fail (no route); the lookup ends
    // at once with a temporary failure, not after 2 × 5 s.
    let c = conf("nameserver 10.0.0.1\n");
    let mut l = Lookup::new(&c, b"", q("host.example", V4_ONE));
    let mut rng = || 7u16;
    let mut sends = 0;
    for _ in 0..10 {
        l.advance(0, &mut rng);
        match l.action() {
            Action::SendUdp { server, .. } => {
                sends += 1;
                l.on_udp_failed(server, 0);
            }
            Action::Done(_) => break,
            Action::Wait { .. } | Action::SendTcp { .. } => panic!("should not wait"),
        }
    }
    assert_eq!(sends, 2);
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::Timeout);
}

#[test]
fn no_data_from_any_search_name_wins() {
    // `v4` with `search test`: v4.test exists without AAAA (NO_DATA), the
    // single label is REFUSED; glibc says NO_DATA, and so does keel.
    let c = conf("nameserver 10.0.0.1\nsearch test\n");
    let mut z = Zone::default();
    z.add("v4.test", rtype::A, a("v4.test", 40, [10, 0, 0, 4]));
    let v6 = Want::Addresses {
        v4: false,
        v6: true,
        one: false,
    };
    let mut l = Lookup::new(&c, b"", q("v4", v6));
    drive(
        &mut l,
        &z,
        |_, name, _, _| if name == "v4" { Reply::Rcode(5) } else { Reply::Zone },
    );
    assert_eq!(l.result().unwrap().unwrap_err(), Failure::NoData);
}
