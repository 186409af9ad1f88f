//! [`KeyLookup`]: one dns_resolver request from description and callout to
//! payload or rejection, as a state machine driven like
//! [`crate::lookup::Lookup`] (same [`Action`]s; `Done` carries the
//! [`KeyOutcome`]).

use super::payload::{
    ServerEntry, ServerList, TextList, AFS_VL_PORT, DNS_LOOKUP_BAD, DNS_LOOKUP_GOOD, DNS_LOOKUP_GOT_NOT_FOUND,
    DNS_LOOKUP_GOT_NS_FAILURE, DNS_LOOKUP_GOT_TEMP_FAILURE, DNS_RECORD_FROM_DNS_A, DNS_RECORD_FROM_DNS_AFSDB,
    DNS_RECORD_FROM_DNS_SRV, DNS_RECORD_FROM_NSS, MAX_PAYLOAD,
};
use super::request::{parse_callout, parse_description, Family, Kind, Options};
use super::{errno, reject_timeout, KeyPolicy};
use crate::lookup::{
    Action, Answer, Failure, Lookup, Question, Random, Source, Target, Want, MAX_NAME_TEXT, MAX_TARGETS,
};
use crate::out::Out;
use crate::resolv_conf::Config;
use core::net::{IpAddr, SocketAddr};
use heapless::Vec;

/// Addresses kept per AFS server.
pub const MAX_SERVER_ADDRS: usize = 8;
/// `_afs3-vlserver._udp.` (RFC 5864).
const AFS_SRV_PREFIX: &[u8] = b"_afs3-vlserver._udp.";

/// What to do with the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOutcome<'s> {
    /// Set the key's timeout, then instantiate it with `payload`.
    Instantiate {
        /// The payload, NUL included for text.
        payload: &'s [u8],
        /// Seconds (never 0).
        timeout_s: u32,
    },
    /// Reject the key (`KEYCTL_REJECT`).
    Reject {
        /// Error for requesters.
        errno: u16,
        /// Seconds the negative key stays.
        timeout_s: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Instantiate { len: usize, timeout_s: u32 },
    Reject { errno: u16, timeout_s: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Host,
    Srv,
    Afsdb,
    Target(usize),
    Done,
}

/// An AFS server being resolved.
struct Server {
    target: Target,
    addrs: Vec<IpAddr, MAX_SERVER_ADDRS>,
    source: u8,
    status: u8,
}

/// One dns_resolver request (see the module text of [`crate::key`]).
pub struct KeyLookup<'c> {
    conf: &'c Config,
    hosts: &'c [u8],
    policy: KeyPolicy,
    options: Options,
    cell: Vec<u8, MAX_NAME_TEXT>,
    phase: Phase,
    lookup: Lookup<'c>,
    servers: Vec<Server, MAX_TARGETS>,
    list_source: u8,
    ttl: u32,
    failure: Option<Failure>,
    deadline_ms: u64,
    payload: [u8; MAX_PAYLOAD],
    decision: Option<Decision>,
}

/// The key timeout an answer allows.
fn answer_ttl(ans: &Answer, policy: &KeyPolicy) -> u32 {
    match ans.source {
        Source::Dns => ans.ttl.min(policy.max_ttl),
        Source::Hosts | Source::Literal => policy.default_ttl,
    }
    .max(1)
}

fn families(f: Family) -> (bool, bool) {
    match f {
        Family::Both => (true, true),
        Family::V4 => (true, false),
        Family::V6 => (false, true),
    }
}

impl<'c> KeyLookup<'c> {
    /// A request for `description` with `callout`, answered from `hosts`
    /// (the text of /etc/hosts) and DNS per `conf`.
    pub fn new(
        conf: &'c Config,
        hosts: &'c [u8],
        policy: KeyPolicy,
        description: &[u8],
        callout: &[u8],
    ) -> KeyLookup<'c> {
        let none = Question {
            name: b"",
            want: Want::Srv,
            search: false,
        };
        let mut k = KeyLookup {
            conf,
            hosts,
            policy,
            options: Options {
                family: Family::Both,
                list: false,
                server_list_v1: false,
                legacy: false,
            },
            cell: Vec::new(),
            phase: Phase::Done,
            lookup: Lookup::new(conf, hosts, none),
            servers: Vec::new(),
            list_source: DNS_RECORD_FROM_DNS_SRV,
            ttl: u32::MAX,
            failure: None,
            deadline_ms: u64::MAX,
            payload: [0; MAX_PAYLOAD],
            decision: None,
        };
        let request = parse_description(description).and_then(|kind| Ok((kind, parse_callout(callout)?)));
        match request {
            Err(_) => k.reject(Failure::BadName),
            Ok((Kind::Host(name), options)) => {
                k.options = options;
                let (v4, v6) = if options.legacy {
                    (true, false)
                } else {
                    families(options.family)
                };
                let want = Want::Addresses {
                    v4,
                    v6,
                    one: !options.list,
                };
                k.start(
                    Phase::Host,
                    Question {
                        name,
                        want,
                        search: true,
                    },
                );
            }
            Ok((Kind::Afs(cell), options)) => {
                k.options = options;
                match Vec::from_slice(cell) {
                    Ok(c) => {
                        k.cell = c;
                        k.start_srv();
                    }
                    Err(_) => k.reject(Failure::BadName),
                }
            }
        }
        k
    }

    /// Ends every lookup at `at_ms` (the upcall's deadline).
    pub fn set_deadline(&mut self, at_ms: u64) {
        self.deadline_ms = at_ms;
        self.lookup.set_deadline(at_ms);
    }

    /// The outcome, once decided.
    pub fn outcome(&self) -> Option<KeyOutcome<'_>> {
        Some(match self.decision? {
            Decision::Instantiate { len, timeout_s } => KeyOutcome::Instantiate {
                payload: self.payload.get(..len).unwrap_or(&[]),
                timeout_s,
            },
            Decision::Reject { errno, timeout_s } => KeyOutcome::Reject { errno, timeout_s },
        })
    }

    /// What to do now; as [`Lookup::next_action`].
    pub fn next_action<R: Random + ?Sized>(&mut self, now_ms: u64, rng: &mut R) -> Action<'_, KeyOutcome<'_>> {
        while self.decision.is_none() {
            self.lookup.advance(now_ms, rng);
            if !self.lookup.is_done() {
                break;
            }
            self.phase_done();
        }
        if let Some(o) = self.outcome() {
            return Action::Done(o);
        }
        match self.lookup.action() {
            Action::SendUdp { server, bytes } => Action::SendUdp { server, bytes },
            Action::SendTcp { server, bytes } => Action::SendTcp { server, bytes },
            Action::Wait { until_ms } => Action::Wait { until_ms },
            Action::Done(_) => Action::Wait { until_ms: now_ms },
        }
    }

    /// As [`Lookup::on_datagram`].
    pub fn on_datagram(&mut self, from: SocketAddr, msg: &[u8], now_ms: u64) -> bool {
        self.decision.is_none() && self.lookup.on_datagram(from, msg, now_ms)
    }

    /// As [`Lookup::on_tcp`].
    pub fn on_tcp(&mut self, server: usize, msg: &[u8], now_ms: u64) -> bool {
        self.decision.is_none() && self.lookup.on_tcp(server, msg, now_ms)
    }

    /// As [`Lookup::on_tcp_failed`].
    pub fn on_tcp_failed(&mut self, server: usize, now_ms: u64) {
        if self.decision.is_none() {
            self.lookup.on_tcp_failed(server, now_ms);
        }
    }

    /// As [`Lookup::on_udp_failed`].
    pub fn on_udp_failed(&mut self, server: usize, now_ms: u64) {
        if self.decision.is_none() {
            self.lookup.on_udp_failed(server, now_ms);
        }
    }

    /// As [`Lookup::on_timeout`].
    pub fn on_timeout(&mut self, now_ms: u64) {
        if self.decision.is_none() {
            self.lookup.on_timeout(now_ms);
        }
    }

    fn start(&mut self, phase: Phase, q: Question<'_>) {
        self.phase = phase;
        self.lookup = Lookup::new(self.conf, self.hosts, q);
        self.lookup.set_deadline(self.deadline_ms);
    }

    fn start_srv(&mut self) {
        let mut name: Vec<u8, { MAX_NAME_TEXT + 32 }> = Vec::new();
        let _ = name.extend_from_slice(AFS_SRV_PREFIX);
        let _ = name.extend_from_slice(&self.cell);
        self.start(
            Phase::Srv,
            Question {
                name: &name,
                want: Want::Srv,
                search: false,
            },
        );
    }

    fn start_afsdb(&mut self) {
        let cell = self.cell.clone();
        self.start(
            Phase::Afsdb,
            Question {
                name: &cell,
                want: Want::Afsdb,
                search: false,
            },
        );
    }

    fn start_target(&mut self, i: usize) {
        let Some(server) = self.servers.get(i) else {
            self.finish_afs();
            return;
        };
        let mut buf = [0u8; MAX_NAME_TEXT];
        let mut out = Out::new(&mut buf);
        server.target.name.write_text(&mut out);
        out.push(b'.');
        // An overlong text form (escapes) fails the lookup as a bad name.
        let len = if out.overflowed() { 0 } else { out.len() };
        let (v4, v6) = families(self.options.family);
        let want = Want::Addresses { v4, v6, one: false };
        let name = buf.get(..len).unwrap_or(&[]);
        self.start(
            Phase::Target(i),
            Question {
                name,
                want,
                search: true,
            },
        );
    }

    fn reject(&mut self, f: Failure) {
        self.decision = Some(Decision::Reject {
            errno: errno(f),
            timeout_s: reject_timeout(f, &self.policy),
        });
        self.phase = Phase::Done;
    }

    /// The current lookup ended: move to the next phase.
    fn phase_done(&mut self) {
        match self.phase {
            Phase::Host => self.finish_host(),
            Phase::Srv | Phase::Afsdb => self.servers_found(),
            Phase::Target(i) => {
                self.target_done(i);
                self.start_target(i.saturating_add(1));
            }
            Phase::Done => {
                if self.decision.is_none() {
                    self.reject(Failure::BadName);
                }
            }
        }
    }

    fn finish_host(&mut self) {
        let decision = match self.lookup.result() {
            Some(Ok(ans)) => {
                let mut out = Out::new(&mut self.payload);
                let mut list = TextList::new(&mut out);
                let take = if self.options.list { ans.addrs.len() } else { 1 };
                for ip in ans.addrs.iter().take(take) {
                    list.add(ip, None);
                }
                let empty = list.is_empty();
                list.finish();
                match empty {
                    true => Err(Failure::NoData),
                    false => Ok(Decision::Instantiate {
                        len: out.len(),
                        timeout_s: answer_ttl(ans, &self.policy),
                    }),
                }
            }
            Some(Err(f)) => Err(f),
            None => Err(Failure::Timeout),
        };
        self.decide(decision);
    }

    fn decide(&mut self, d: Result<Decision, Failure>) {
        match d {
            Ok(d) => {
                self.decision = Some(d);
                self.phase = Phase::Done;
            }
            Err(f) => self.reject(f),
        }
    }

    /// The SRV or AFSDB lookup ended.
    fn servers_found(&mut self) {
        let afsdb = self.phase == Phase::Afsdb;
        let found = match self.lookup.result() {
            Some(Ok(ans)) if !ans.targets.is_empty() => {
                for t in &ans.targets {
                    let mut target = t.clone();
                    if afsdb {
                        target.port = AFS_VL_PORT;
                    }
                    let server = Server {
                        target,
                        addrs: Vec::new(),
                        source: DNS_RECORD_FROM_DNS_A,
                        status: DNS_LOOKUP_BAD,
                    };
                    let _ = self.servers.push(server);
                }
                self.ttl = self.ttl.min(answer_ttl(ans, &self.policy));
                Ok(())
            }
            Some(Ok(_)) => Err(Failure::NoData),
            Some(Err(f)) => Err(f),
            None => Err(Failure::Timeout),
        };
        match found {
            Ok(()) => {
                self.list_source = if afsdb {
                    DNS_RECORD_FROM_DNS_AFSDB
                } else {
                    DNS_RECORD_FROM_DNS_SRV
                };
                self.start_target(0);
            }
            Err(f) => {
                self.failure = Some(Failure::merge(self.failure, f));
                if afsdb {
                    self.reject(self.failure.unwrap_or(f));
                } else {
                    self.start_afsdb();
                }
            }
        }
    }

    /// Target `i`'s address lookup ended.
    fn target_done(&mut self, i: usize) {
        let result = self.lookup.result().unwrap_or(Err(Failure::Timeout));
        let Some(server) = self.servers.get_mut(i) else {
            return;
        };
        match result {
            Ok(ans) => {
                for ip in &ans.addrs {
                    let _ = server.addrs.push(*ip);
                }
                server.source = if ans.source == Source::Dns {
                    DNS_RECORD_FROM_DNS_A
                } else {
                    DNS_RECORD_FROM_NSS
                };
                server.status = DNS_LOOKUP_GOOD;
                self.ttl = self.ttl.min(answer_ttl(ans, &self.policy));
            }
            Err(f) => {
                server.status = match f {
                    Failure::NxDomain | Failure::NoData => DNS_LOOKUP_GOT_NOT_FOUND,
                    Failure::ServFail | Failure::Timeout => DNS_LOOKUP_GOT_TEMP_FAILURE,
                    Failure::Refused => DNS_LOOKUP_GOT_NS_FAILURE,
                    Failure::BadName => DNS_LOOKUP_BAD,
                };
                self.failure = Some(Failure::merge(self.failure, f));
            }
        }
    }

    /// Every target is resolved: write the payload.
    fn finish_afs(&mut self) {
        if self.servers.iter().all(|s| s.addrs.is_empty()) {
            self.reject(self.failure.unwrap_or(Failure::NoData));
            return;
        }
        let timeout_s = self.ttl.max(1);
        let len = if self.options.server_list_v1 {
            let mut out = Out::new(&mut self.payload);
            let mut list = ServerList::new(&mut out, self.list_source, DNS_LOOKUP_GOOD);
            for s in &self.servers {
                let mut name = [0u8; 1024];
                let mut name_out = Out::new(&mut name);
                s.target.name.write_text(&mut name_out);
                list.add(&ServerEntry {
                    name: name_out.written(),
                    priority: s.target.priority,
                    weight: s.target.weight,
                    port: s.target.port,
                    source: s.source,
                    status: s.status,
                    addrs: &s.addrs,
                });
            }
            out.len()
        } else {
            let srv = self.list_source == DNS_RECORD_FROM_DNS_SRV;
            let mut out = Out::new(&mut self.payload);
            let mut list = TextList::new(&mut out);
            for s in &self.servers {
                for ip in &s.addrs {
                    list.add(ip, srv.then_some(s.target.port));
                }
            }
            list.finish();
            out.len()
        };
        self.decide(Ok(Decision::Instantiate { len, timeout_s }));
    }
}

#[cfg(test)]
mod tests;
