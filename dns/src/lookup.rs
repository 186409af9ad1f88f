//! One lookup as a state machine: /etc/hosts (or an address literal) first,
//! then DNS over each name of the search list, each record type in turn.
//! No I/O happens here: the caller sends what [`Lookup::next_action`] asks
//! for, feeds back what arrives, and keeps time.
//!
//! ```text
//! loop {
//!     match lookup.next_action(now_ms(), &mut rng) {
//!         Action::SendUdp { server, bytes } => send from a fresh socket to nameserver `server`, port 53
//!         Action::SendTcp { server, bytes } => connect, write `bytes` (length-prefixed), read one framed answer
//!         Action::Wait { until_ms } => poll until then; feed on_datagram / on_tcp / on_tcp_failed
//!         Action::Done(result) => break result,
//!     }
//! }
//! ```
//!
//! Rules kept here:
//! - an answer counts only if it comes from the address and port 53 of the
//!   server just asked, carries the query's id and repeats its question
//!   (name ignoring case, type, class IN); anything else is ignored, and so
//!   is a malformed message;
//! - per query: `attempts` rounds over the nameservers (starting at a random
//!   one with `rotate`), each try waiting `timeout` seconds; a server that
//!   answered SERVFAIL, REFUSED, FORMERR or NOTIMP, or whose CNAME chain is
//!   too long, is not asked again for that query; a TC answer is asked
//!   again over TCP from the same server;
//! - NXDOMAIN ends the name (its other types are not asked); no data for
//!   one type goes on with the next; a name that gave records ends the
//!   lookup; a name that timed out ends the search (as glibc does), other
//!   failures go on with the next name;
//! - addresses: A is asked before AAAA, so IPv4 addresses come first, each
//!   family in the server's order; with `one`, AAAA is not asked once A
//!   gave an address;
//! - an optional overall deadline ([`Lookup::set_deadline`]) ends the lookup
//!   with [`Failure::Timeout`].

use crate::addr_text::parse_ip;
use crate::hosts;
use crate::message::chain::{follow, Chain};
use crate::message::query::{write_query, MAX_QUERY};
use crate::message::response::{RData, Response};
use crate::message::{rcode, rtype};
use crate::name::Name;
use crate::resolv_conf::Config;
use crate::search::{candidate, Candidate};
use core::net::{IpAddr, SocketAddr};
use heapless::Vec;

/// Addresses kept per lookup.
pub const MAX_ADDRS: usize = 32;
/// SRV or AFSDB targets kept per lookup (the ones with the lowest
/// priority values when there are more).
pub const MAX_TARGETS: usize = 8;
/// Longest name accepted, as text.
pub const MAX_NAME_TEXT: usize = 255;

/// Where query ids (and `rotate`'s first server) come from: the caller's
/// `getrandom`. A closure `FnMut() -> u16` will do.
pub trait Random {
    /// A uniformly random value.
    fn next_u16(&mut self) -> u16;
}

impl<F: FnMut() -> u16 + ?Sized> Random for F {
    fn next_u16(&mut self) -> u16 {
        self()
    }
}

/// What to look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// A and/or AAAA records.
    Addresses {
        /// Ask for A.
        v4: bool,
        /// Ask for AAAA.
        v6: bool,
        /// One address is enough: skip AAAA once A answered.
        one: bool,
    },
    /// SRV records.
    Srv,
    /// AFSDB records of subtype 1 (AFS volume location servers).
    Afsdb,
}

/// A question to a [`Lookup`].
#[derive(Clone, Copy, Debug)]
pub struct Question<'q> {
    /// The name as text, with or without a final dot.
    pub name: &'q [u8],
    /// Record types.
    pub want: Want,
    /// Apply the search list (otherwise the name is asked as it is).
    pub search: bool,
}

/// Why a lookup gave nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The name does not exist.
    NxDomain,
    /// The name exists without records of the asked types (or all its
    /// records were unusable: an SRV target `.`, AFSDB of subtype 2).
    NoData,
    /// Every server asked refused.
    Refused,
    /// A server failure (SERVFAIL, FORMERR, NOTIMP, a too long CNAME chain,
    /// a truncated answer over TCP).
    ServFail,
    /// No answer in time.
    Timeout,
    /// The name is not a valid domain name.
    BadName,
}

impl Failure {
    /// How telling a failure is when several names or types failed: a
    /// temporary failure beats a definite negative (the data might exist
    /// where the server failed), and a definite negative about existence
    /// beats non-existence.
    fn rank(self) -> u8 {
        match self {
            Failure::NxDomain => 0,
            Failure::NoData => 1,
            Failure::Refused => 2,
            Failure::ServFail => 3,
            Failure::Timeout => 4,
            Failure::BadName => 5,
        }
    }

    /// Across the names of the search list, as glibc's res_search: a name
    /// that exists without data of the asked type makes the whole lookup
    /// NO_DATA, whatever the other names gave; otherwise as [`Failure::merge`].
    pub fn merge_names(a: Option<Failure>, b: Failure) -> Failure {
        if a == Some(Failure::NoData) || b == Failure::NoData {
            return Failure::NoData;
        }
        Failure::merge(a, b)
    }

    /// The more telling of `a` (if any) and `b`.
    pub fn merge(a: Option<Failure>, b: Failure) -> Failure {
        match a {
            Some(a) if a.rank() >= b.rank() => a,
            _ => b,
        }
    }
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The name was an address.
    Literal,
    /// /etc/hosts.
    Hosts,
    /// DNS.
    Dns,
}

/// An SRV or AFSDB target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name.
    pub name: Name,
    /// SRV priority (0 for AFSDB).
    pub priority: u16,
    /// SRV weight (0 for AFSDB).
    pub weight: u16,
    /// SRV port (0 for AFSDB).
    pub port: u16,
}

/// What a lookup found.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Addresses, IPv4 first, without repeats.
    pub addrs: Vec<IpAddr, MAX_ADDRS>,
    /// SRV/AFSDB targets in answer order, without repeated names.
    pub targets: Vec<Target, MAX_TARGETS>,
    /// Smallest TTL of the records used and the CNAMEs followed (DNS only).
    pub ttl: u32,
    /// Where the answer came from.
    pub source: Source,
}

impl Answer {
    const fn new() -> Answer {
        Answer {
            addrs: Vec::new(),
            targets: Vec::new(),
            ttl: u32::MAX,
            source: Source::Dns,
        }
    }

    fn add_addr(&mut self, ip: IpAddr) {
        if !self.addrs.contains(&ip) {
            let _ = self.addrs.push(ip);
        }
    }

    fn add_target(&mut self, t: Target) {
        if self.targets.iter().any(|o| o.name == t.name) {
            return;
        }
        if let Err(t) = self.targets.push(t) {
            if let Some(worst) = self.targets.iter_mut().max_by_key(|o| o.priority) {
                if t.priority < worst.priority {
                    *worst = t;
                }
            }
        }
    }
}

/// What the caller should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'s, T> {
    /// Send `bytes` in one datagram to nameserver `server` (an index into
    /// [`Config::nameservers`]), port 53, from a new socket.
    SendUdp {
        /// Nameserver index.
        server: usize,
        /// The query.
        bytes: &'s [u8],
    },
    /// Connect to nameserver `server` over TCP, write `bytes` (already with
    /// the two-byte length prefix), read the two-byte length and that many
    /// bytes, and hand them to `on_tcp`.
    SendTcp {
        /// Nameserver index.
        server: usize,
        /// The framed query.
        bytes: &'s [u8],
    },
    /// Nothing to send: wait for an answer or until this time.
    Wait {
        /// Milliseconds, on the caller's clock.
        until_ms: u64,
    },
    /// Finished.
    Done(T),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Pick the next name.
    NextName,
    /// Start the query for the current name and type.
    NewQuery,
    /// Build and send a try.
    Send,
    /// A try is out; `fresh` until the caller has been told to send it.
    Wait { until_ms: u64, fresh: bool },
    /// Finished; see `result`.
    Done,
}

/// One lookup (see the module text).
pub struct Lookup<'c> {
    conf: &'c Config,
    text: Vec<u8, MAX_NAME_TEXT>,
    want: Want,
    search: bool,
    /// Next index into the candidate names.
    cand: usize,
    /// The name being asked.
    qname: Name,
    /// Index of the type being asked.
    ti: usize,
    name_found: bool,
    name_failure: Option<Failure>,
    failure: Option<Failure>,
    // The query in flight.
    id: u16,
    first_server: usize,
    step: usize,
    dead: u8,
    tcp: bool,
    query_failure: Option<Failure>,
    buf: [u8; 2 + MAX_QUERY],
    qlen: usize,
    deadline_ms: u64,
    state: State,
    answer: Answer,
    result: Option<Result<(), Failure>>,
}

impl<'c> Lookup<'c> {
    /// A lookup of `q` with `conf`, looking in `hosts` (the text of
    /// /etc/hosts) first for addresses.
    pub fn new(conf: &'c Config, hosts: &[u8], q: Question<'_>) -> Lookup<'c> {
        let mut l = Lookup {
            conf,
            text: Vec::new(),
            want: q.want,
            search: q.search,
            cand: 0,
            qname: Name::root(),
            ti: 0,
            name_found: false,
            name_failure: None,
            failure: None,
            id: 0,
            first_server: 0,
            step: 0,
            dead: 0,
            tcp: false,
            query_failure: None,
            buf: [0; 2 + MAX_QUERY],
            qlen: 0,
            deadline_ms: u64::MAX,
            state: State::NextName,
            answer: Answer::new(),
            result: None,
        };
        match Vec::from_slice(q.name) {
            Ok(t) if !q.name.is_empty() => l.text = t,
            _ => {
                l.finish(Err(Failure::BadName));
                return l;
            }
        }
        if let Want::Addresses { v4, v6, .. } = q.want {
            let wanted = |ip: &IpAddr| if ip.is_ipv4() { v4 } else { v6 };
            if let Some(ip) = parse_ip(q.name) {
                if wanted(&ip) {
                    l.answer.add_addr(ip);
                    l.answer.source = Source::Literal;
                    l.finish(Ok(()));
                } else {
                    l.finish(Err(Failure::NoData));
                }
                return l;
            }
            let found = hosts::lookup(hosts, q.name);
            for ip in found
                .iter()
                .filter(|ip| ip.is_ipv4())
                .chain(found.iter().filter(|ip| ip.is_ipv6()))
            {
                if wanted(ip) {
                    l.answer.add_addr(*ip);
                }
            }
            if !l.answer.addrs.is_empty() {
                l.answer.source = Source::Hosts;
                l.finish(Ok(()));
            }
        }
        l
    }

    /// Ends the lookup with [`Failure::Timeout`] at `at_ms` if it has not
    /// ended before.
    pub fn set_deadline(&mut self, at_ms: u64) {
        self.deadline_ms = at_ms;
    }

    /// Finished.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The result once finished.
    pub fn result(&self) -> Option<Result<&Answer, Failure>> {
        match self.result? {
            Ok(()) => Some(Ok(&self.answer)),
            Err(f) => Some(Err(f)),
        }
    }

    /// What to do now (see the module text); call again after sending,
    /// after feeding an answer, and when a wait ends.
    pub fn next_action<R: Random + ?Sized>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
    ) -> Action<'_, Result<&Answer, Failure>> {
        self.advance(now_ms, rng);
        self.action()
    }

    /// Moves on until there is something for the caller to do.
    pub(crate) fn advance<R: Random + ?Sized>(&mut self, now_ms: u64, rng: &mut R) {
        self.check_deadline(now_ms);
        loop {
            match self.state {
                State::Done => return,
                State::NextName => self.next_name(),
                State::NewQuery => self.new_query(rng),
                State::Send => {
                    self.send(now_ms, rng);
                    return;
                }
                State::Wait { until_ms, fresh } => {
                    if fresh {
                        self.state = State::Wait { until_ms, fresh: false };
                    }
                    if now_ms < until_ms {
                        return;
                    }
                    self.try_failed(Failure::Timeout);
                }
            }
        }
    }

    /// The action for the current state (after [`Lookup::advance`]).
    pub(crate) fn action(&self) -> Action<'_, Result<&Answer, Failure>> {
        match self.state {
            State::Wait { fresh: true, .. } => {
                let end = self.qlen.saturating_add(2);
                let server = self.server();
                if self.tcp {
                    Action::SendTcp {
                        server,
                        bytes: self.buf.get(..end).unwrap_or(&[]),
                    }
                } else {
                    Action::SendUdp {
                        server,
                        bytes: self.buf.get(2..end).unwrap_or(&[]),
                    }
                }
            }
            State::Wait { until_ms, .. } => Action::Wait {
                until_ms: until_ms.min(self.deadline_ms),
            },
            _ => Action::Done(self.result().unwrap_or(Err(Failure::Timeout))),
        }
    }

    /// A datagram arrived from `from` on the query's socket; returns whether
    /// it was the answer (otherwise it was ignored).
    pub fn on_datagram(&mut self, from: SocketAddr, msg: &[u8], now_ms: u64) -> bool {
        self.check_deadline(now_ms);
        let asked = self.conf.nameservers.get(self.server()).is_some_and(|ns| ns.is(&from));
        if !self.waiting() || self.tcp || !asked {
            return false;
        }
        self.on_message(msg)
    }

    /// A framed answer (without its length prefix) arrived over TCP from
    /// nameserver `server`; returns whether it was the answer.
    pub fn on_tcp(&mut self, server: usize, msg: &[u8], now_ms: u64) -> bool {
        self.check_deadline(now_ms);
        if !self.waiting() || !self.tcp || server != self.server() {
            return false;
        }
        self.on_message(msg)
    }

    /// The TCP connection to `server` failed or closed without an answer.
    pub fn on_tcp_failed(&mut self, server: usize, now_ms: u64) {
        self.check_deadline(now_ms);
        if self.waiting() && self.tcp && server == self.server() {
            self.try_failed(Failure::Timeout);
        }
    }

    /// The UDP query to `server` could not be sent (no route, no
    /// address, …): that try has failed now, not at its timeout — as glibc
    /// moves on when sendto fails.
    pub fn on_udp_failed(&mut self, server: usize, now_ms: u64) {
        self.check_deadline(now_ms);
        if self.waiting() && !self.tcp && server == self.server() {
            self.try_failed(Failure::Timeout);
        }
    }

    /// Time passed (the same as calling [`Lookup::next_action`] later).
    pub fn on_timeout(&mut self, now_ms: u64) {
        self.check_deadline(now_ms);
        if let State::Wait { until_ms, .. } = self.state {
            if now_ms >= until_ms {
                self.try_failed(Failure::Timeout);
            }
        }
    }

    fn waiting(&self) -> bool {
        matches!(self.state, State::Wait { .. })
    }

    fn check_deadline(&mut self, now_ms: u64) {
        if self.result.is_none() && now_ms >= self.deadline_ms {
            self.finish(Err(Failure::Timeout));
        }
    }

    fn finish(&mut self, r: Result<(), Failure>) {
        self.result = Some(r);
        self.state = State::Done;
    }

    fn qtype(&self, i: usize) -> Option<u16> {
        match self.want {
            Want::Addresses { v4, v6, .. } => {
                let mut types = [rtype::A, rtype::AAAA].into_iter().zip([v4, v6]).filter(|t| t.1);
                types.nth(i).map(|t| t.0)
            }
            Want::Srv => (i == 0).then_some(rtype::SRV),
            Want::Afsdb => (i == 0).then_some(rtype::AFSDB),
        }
    }

    fn servers(&self) -> usize {
        self.conf.nameservers.len()
    }

    fn server(&self) -> usize {
        self.first_server
            .wrapping_add(self.step)
            .checked_rem(self.servers())
            .unwrap_or(0)
    }

    fn next_name(&mut self) {
        loop {
            match candidate(self.conf, &self.text, self.search, self.cand) {
                Candidate::End => {
                    self.finish(Err(self.failure.unwrap_or(Failure::BadName)));
                    return;
                }
                Candidate::Skip => self.cand = self.cand.saturating_add(1),
                Candidate::Name(n) => {
                    self.cand = self.cand.saturating_add(1);
                    self.qname = n;
                    self.ti = 0;
                    self.name_found = false;
                    self.name_failure = None;
                    self.state = State::NewQuery;
                    return;
                }
            }
        }
    }

    fn new_query<R: Random + ?Sized>(&mut self, rng: &mut R) {
        let n = self.servers();
        self.first_server = if self.conf.rotate && n > 1 {
            usize::from(rng.next_u16()).checked_rem(n).unwrap_or(0)
        } else {
            0
        };
        self.step = 0;
        self.dead = 0;
        self.tcp = self.conf.use_vc;
        self.query_failure = None;
        self.state = State::Send;
        if n == 0 {
            self.query_done(Err(Failure::Timeout));
        }
    }

    fn send<R: Random + ?Sized>(&mut self, now_ms: u64, rng: &mut R) {
        self.id = rng.next_u16();
        let Some(qtype) = self.qtype(self.ti) else {
            self.finish(Err(Failure::BadName));
            return;
        };
        let (prefix, body) = self.buf.split_at_mut(2);
        match write_query(body, self.id, &self.qname, qtype) {
            Some(len) => {
                crate::out::copy(prefix, &(len as u16).to_be_bytes());
                self.qlen = len;
                let until_ms = now_ms.saturating_add(self.conf.wait_ms());
                self.state = State::Wait { until_ms, fresh: true };
            }
            None => self.finish(Err(Failure::BadName)),
        }
    }

    /// The try in flight failed with `f` (a timeout, or an error answer
    /// after which this server is not asked again); go on with the next
    /// server or round, or end the query.
    fn try_failed(&mut self, f: Failure) {
        self.query_failure = Some(Failure::merge(self.query_failure, f));
        if f != Failure::Timeout {
            self.dead |= 1u8.checked_shl(self.server() as u32).unwrap_or(0);
        }
        self.tcp = self.conf.use_vc;
        let tries = self.conf.rounds().saturating_mul(self.servers());
        loop {
            self.step = self.step.saturating_add(1);
            if self.step >= tries {
                self.query_done(Err(self.query_failure.unwrap_or(Failure::Timeout)));
                return;
            }
            if self.dead & 1u8.checked_shl(self.server() as u32).unwrap_or(0) == 0 {
                self.state = State::Send;
                return;
            }
        }
    }

    /// The current type of the current name is answered.
    fn query_done(&mut self, r: Result<(), Failure>) {
        match r {
            Ok(()) => self.name_found = true,
            Err(f) => self.name_failure = Some(Failure::merge(self.name_failure, f)),
        }
        let one = matches!(self.want, Want::Addresses { one: true, .. });
        let stop = r == Err(Failure::NxDomain) || (self.name_found && one);
        self.ti = self.ti.saturating_add(1);
        if !stop && self.qtype(self.ti).is_some() {
            self.state = State::NewQuery;
            return;
        }
        if self.name_found {
            self.answer.source = Source::Dns;
            self.finish(Ok(()));
            return;
        }
        let f = self.name_failure.unwrap_or(Failure::NoData);
        self.failure = Some(Failure::merge_names(self.failure, f));
        if f == Failure::Timeout {
            self.finish(Err(Failure::Timeout));
        } else {
            self.state = State::NextName;
        }
    }

    /// A message from the right place: use it if it is the answer.
    fn on_message(&mut self, msg: &[u8]) -> bool {
        let Ok(resp) = Response::parse(msg) else {
            return false;
        };
        let Some(qtype) = self.qtype(self.ti) else {
            return false;
        };
        if !resp.matches(self.id, &self.qname, qtype) {
            return false;
        }
        if resp.header().truncated() {
            if self.tcp {
                self.try_failed(Failure::ServFail);
            } else {
                self.tcp = true;
                self.state = State::Send;
            }
            return true;
        }
        match resp.header().rcode() {
            rcode::NOERROR => match self.take_records(&resp, qtype) {
                Some(true) => self.query_done(Ok(())),
                Some(false) => self.query_done(Err(Failure::NoData)),
                None => self.try_failed(Failure::ServFail),
            },
            rcode::NXDOMAIN => self.query_done(Err(Failure::NxDomain)),
            rcode::REFUSED => self.try_failed(Failure::Refused),
            _ => self.try_failed(Failure::ServFail),
        }
        true
    }

    /// Takes the usable records at the end of the chain: Some(true) if
    /// there were any, Some(false) if none, None for a too long chain.
    fn take_records(&mut self, resp: &Response<'_>, qtype: u16) -> Option<bool> {
        let answer = &mut self.answer;
        let mut used = false;
        let chain = follow(resp, &self.qname, qtype, |rec| match rec.data {
            RData::A(a) => {
                used = true;
                answer.add_addr(IpAddr::V4(a));
            }
            RData::Aaaa(a) => {
                used = true;
                answer.add_addr(IpAddr::V6(a));
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                if let Some(name) = target.to_name().filter(|n| !n.is_root()) {
                    used = true;
                    answer.add_target(Target {
                        name,
                        priority,
                        weight,
                        port,
                    });
                }
            }
            RData::Afsdb { subtype: 1, host } => {
                if let Some(name) = host.to_name().filter(|n| !n.is_root()) {
                    used = true;
                    answer.add_target(Target {
                        name,
                        priority: 0,
                        weight: 0,
                        port: 0,
                    });
                }
            }
            _ => {}
        });
        match chain {
            Chain::Data { min_ttl } if used => {
                self.answer.ttl = self.answer.ttl.min(min_ttl);
                Some(true)
            }
            Chain::Data { .. } | Chain::NoData => Some(false),
            Chain::TooLong => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
