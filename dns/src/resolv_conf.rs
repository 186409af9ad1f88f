//! `/etc/resolv.conf`, read as glibc's `res_init` reads it (resolv/res_init.c,
//! resolv.conf(5)); total on any bytes: every line either sets something or
//! is ignored.
//!
//! - A keyword counts only at the start of a line and followed by a blank
//!   (space or tab); lines starting with `;` or `#` are comments; unknown
//!   lines are ignored.
//! - `nameserver ADDR`: the first three are kept. ADDR is dotted-quad IPv4
//!   or IPv6 with an optional `%scope` (`fe80::1%eth0`, `fe80::1%2`); an
//!   unparsable address is skipped. No nameserver at all: 127.0.0.1.
//! - `domain NAME` and `search NAME…`: the last of them wins; at most 6
//!   domains and 256 bytes (each counted with a separator), the rest
//!   dropped. A token starting with `#` or `;` ends the `search` line (glibc
//!   would take it as a domain).
//! - `options`: `ndots:N` (default 1, at most 15), `timeout:N` (default 5 s,
//!   at most 30; 0 waits 1 s as glibc does), `attempts:N` (default 2, at
//!   most 5; 0 is taken as 1 where glibc would send nothing), `rotate`,
//!   `use-vc` (TCP only), `no-tld-query`/`no_tld_query`. Numbers are read
//!   like `atoi` (`ndots:3x` is 3, `ndots:x` 0); a negative number is 0.
//!   Option names match by prefix, as glibc's `strncmp` does.
//! - Not read: `sortlist`, `LOCALDOMAIN` and `RES_OPTIONS` (no environment
//!   here). Without `domain` or `search`, glibc takes the domain from the
//!   host name: the caller does that with [`Config::set_domain_from_hostname`].
//! - IPv4 is strict dotted-quad (`127.1` and octal forms, which glibc's
//!   `inet_aton` takes, are skipped).

use crate::addr_text::parse_ip;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use heapless::Vec;

/// Nameservers kept (glibc's MAXNS).
pub const MAX_NAMESERVERS: usize = 3;
/// Search domains kept (the historical MAXDNSRCH).
pub const MAX_SEARCH: usize = 6;
/// Bytes of search domains, a separator counted after each.
pub const MAX_SEARCH_BYTES: usize = 256;
/// Largest `ndots`.
pub const MAX_NDOTS: u8 = 15;
/// Largest `timeout`, seconds.
pub const MAX_TIMEOUT: u8 = 30;
/// Largest `attempts`.
pub const MAX_ATTEMPTS: u8 = 5;
/// The DNS port.
pub const DNS_PORT: u16 = 53;
/// Longest interface name (IFNAMSIZ without the NUL).
pub const MAX_IFNAME: usize = 15;

/// The scope of a link-local IPv6 nameserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// None given (or not usable).
    None,
    /// A numeric scope id.
    Id(u32),
    /// An interface name; the caller turns it into an index
    /// (`SIOCGIFINDEX` in the container's network namespace).
    Interface(Vec<u8, MAX_IFNAME>),
}

/// One nameserver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nameserver {
    /// Address; the port is always 53.
    pub ip: IpAddr,
    /// IPv6 scope.
    pub scope: Scope,
}

impl Nameserver {
    /// The socket address to send to, given the scope as an interface index
    /// (0 when there is none).
    pub fn socket_addr(&self, scope_id: u32) -> SocketAddr {
        match self.ip {
            IpAddr::V4(a) => SocketAddr::new(IpAddr::V4(a), DNS_PORT),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, DNS_PORT, 0, scope_id)),
        }
    }

    /// `from` is this server's address and port 53 (the scope id is not
    /// compared: the caller's socket fixes the interface).
    pub fn is(&self, from: &SocketAddr) -> bool {
        from.port() == DNS_PORT && from.ip() == self.ip
    }
}

/// What resolv.conf says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Servers to ask, in file order (never empty after [`Config::parse`]).
    pub nameservers: Vec<Nameserver, MAX_NAMESERVERS>,
    /// Search domains, each followed by a 0 byte.
    search: Vec<u8, MAX_SEARCH_BYTES>,
    /// Names with at least this many dots are tried as they are first.
    pub ndots: u8,
    /// Seconds to wait for each answer.
    pub timeout_s: u8,
    /// Rounds over the servers.
    pub attempts: u8,
    /// Start each query at a random server.
    pub rotate: bool,
    /// Use TCP from the start.
    pub use_vc: bool,
    /// Never ask for a single-label name as it is.
    pub no_tld_query: bool,
}

impl Default for Config {
    /// glibc's defaults with no resolv.conf: 127.0.0.1, ndots 1, 5 s, 2
    /// attempts.
    fn default() -> Config {
        let mut c = Config::empty();
        c.default_nameserver();
        c
    }
}

impl Config {
    fn empty() -> Config {
        Config {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout_s: 5,
            attempts: 2,
            rotate: false,
            use_vc: false,
            no_tld_query: false,
        }
    }

    fn default_nameserver(&mut self) {
        if self.nameservers.is_empty() {
            let _ = self.nameservers.push(Nameserver {
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                scope: Scope::None,
            });
        }
    }

    /// Reads resolv.conf text (see the module text).
    pub fn parse(text: &[u8]) -> Config {
        let mut c = Config::empty();
        for line in text.split(|&b| b == b'\n') {
            if matches!(line.first(), Some(b';' | b'#')) {
                continue;
            }
            if let Some(rest) = keyword(line, b"nameserver") {
                if let Some(ns) = tokens(rest).next().and_then(parse_nameserver) {
                    let _ = c.nameservers.push(ns);
                }
            } else if let Some(rest) = keyword(line, b"domain") {
                if let Some(d) = tokens(rest).next() {
                    c.search.clear();
                    c.add_search(d);
                }
            } else if let Some(rest) = keyword(line, b"search") {
                if tokens(rest).next().is_some() {
                    c.search.clear();
                    for d in tokens(rest).take_while(|t| !matches!(t.first(), Some(b'#' | b';'))) {
                        c.add_search(d);
                    }
                }
            } else if let Some(rest) = keyword(line, b"options") {
                for opt in tokens(rest) {
                    c.set_option(opt);
                }
            }
        }
        c.default_nameserver();
        c
    }

    fn add_search(&mut self, domain: &[u8]) {
        if self.search_len() >= MAX_SEARCH || domain.contains(&0) {
            return;
        }
        let fits = self.search.len().saturating_add(domain.len()) < MAX_SEARCH_BYTES;
        if fits && self.search.extend_from_slice(domain).is_ok() {
            let _ = self.search.push(0);
        }
    }

    fn set_option(&mut self, opt: &[u8]) {
        if let Some(v) = opt.strip_prefix(b"ndots:") {
            self.ndots = clamp(atoi(v), MAX_NDOTS);
        } else if let Some(v) = opt.strip_prefix(b"timeout:") {
            self.timeout_s = clamp(atoi(v), MAX_TIMEOUT);
        } else if let Some(v) = opt.strip_prefix(b"attempts:") {
            self.attempts = clamp(atoi(v), MAX_ATTEMPTS);
        } else if opt.starts_with(b"rotate") {
            self.rotate = true;
        } else if opt.starts_with(b"use-vc") {
            self.use_vc = true;
        } else if opt.starts_with(b"no-tld-query") || opt.starts_with(b"no_tld_query") {
            self.no_tld_query = true;
        }
    }

    /// The search domains, in order.
    pub fn search(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.search.split(|&b| b == 0).filter(|d| !d.is_empty())
    }

    /// How many search domains.
    pub fn search_len(&self) -> usize {
        self.search.iter().filter(|&&b| b == 0).count()
    }

    /// The `index`th search domain.
    pub fn search_domain(&self, index: usize) -> Option<&[u8]> {
        self.search().nth(index)
    }

    /// glibc's fallback when resolv.conf has neither `domain` nor `search`:
    /// the host name's part after its first dot.
    pub fn set_domain_from_hostname(&mut self, hostname: &[u8]) {
        if self.search.is_empty() {
            if let Some(dot) = hostname.iter().position(|&b| b == b'.') {
                self.add_search(hostname.get(dot.saturating_add(1)..).unwrap_or(&[]));
            }
        }
    }

    /// Milliseconds to wait for each answer (a 0 timeout waits 1 s).
    pub fn wait_ms(&self) -> u64 {
        u64::from(self.timeout_s.max(1)).saturating_mul(1000)
    }

    /// Rounds over the servers (0 taken as 1).
    pub fn rounds(&self) -> usize {
        usize::from(self.attempts.max(1))
    }
}

/// The rest of `line` after `word` and a blank, if it starts with them.
fn keyword<'l>(line: &'l [u8], word: &[u8]) -> Option<&'l [u8]> {
    let rest = line.strip_prefix(word)?;
    matches!(rest.first(), Some(b' ' | b'\t')).then_some(rest)
}

/// Blank-separated tokens (a CR counts as a blank).
fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| matches!(b, b' ' | b'\t' | b'\r'))
        .filter(|t| !t.is_empty())
}

fn parse_nameserver(tok: &[u8]) -> Option<Nameserver> {
    let (addr, scope) = match tok.iter().position(|&b| b == b'%') {
        Some(p) => (tok.get(..p)?, tok.get(p.saturating_add(1)..)),
        None => (tok, None),
    };
    let ip = parse_ip(addr)?;
    let scope = match (ip, scope) {
        (IpAddr::V6(a), Some(s)) => parse_scope(&a, s),
        (IpAddr::V4(_), Some(_)) => return None,
        _ => Scope::None,
    };
    Some(Nameserver { ip, scope })
}

/// glibc's `__inet6_scopeid_pton`: a number, or an interface name for
/// link-local and link- or node-local multicast addresses.
fn parse_scope(a: &Ipv6Addr, s: &[u8]) -> Scope {
    if !s.is_empty() && s.iter().all(u8::is_ascii_digit) {
        return match u32::try_from(atoi(s)) {
            Ok(n) if s.len() <= 10 => Scope::Id(n),
            _ => Scope::None,
        };
    }
    let [s0, ..] = a.segments();
    let link_local = s0 & 0xffc0 == 0xfe80 || (s0 & 0xff00 == 0xff00 && matches!(s0 & 0xf, 1 | 2));
    match Vec::from_slice(s) {
        Ok(name) if link_local && !s.is_empty() => Scope::Interface(name),
        _ => Scope::None,
    }
}

/// `atoi`: optional sign, then digits up to the first other byte;
/// saturating instead of overflowing.
fn atoi(s: &[u8]) -> i64 {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(d.wrapping_sub(b'0')));
    }
    if neg {
        v.saturating_neg()
    } else {
        v
    }
}

/// glibc's `if (i <= MAX) x = i; else x = MAX;`, with negatives as 0.
fn clamp(v: i64, max: u8) -> u8 {
    u8::try_from(v.clamp(0, i64::from(max))).unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(c: &Config) -> std::vec::Vec<String> {
        c.nameservers
            .iter()
            .map(|n| format!("{}/{:?}", n.ip, n.scope))
            .collect()
    }

    fn search(c: &Config) -> std::vec::Vec<&str> {
        c.search().map(|d| std::str::from_utf8(d).unwrap()).collect()
    }

    #[test]
    fn defaults() {
        for text in [
            &b""[..],
            b"# nothing\n",
            b"\xff\x00\n\n",
            b"nameserver\n",
            b"nameserver 1.2.3\n",
        ] {
            let c = Config::parse(text);
            assert_eq!(c, Config::default());
            assert_eq!(ns(&c), ["127.0.0.1/None"]);
            assert_eq!((c.ndots, c.timeout_s, c.attempts, c.rotate), (1, 5, 2, false));
            assert_eq!(c.search_len(), 0);
        }
    }

    #[test]
    fn nameservers() {
        let c = Config::parse(
            b"nameserver 10.0.0.1\r\nnameserver\t2001:db8::1 trailing\n nameserver 10.9.9.9\n#nameserver 10.8.8.8\n\
              nameserver 010.0.0.1\nnameserver 10.0.0.1%eth0\nnameserver fe80::1%eth0\nnameserver 10.0.0.4\n",
        );
        assert_eq!(
            ns(&c),
            [
                "10.0.0.1/None",
                "2001:db8::1/None",
                "fe80::1/Interface([101, 116, 104, 48])"
            ]
        );
        let c = Config::parse(b"nameserver fe80::1%2\nnameserver 2001:db8::2%eth0\nnameserver ff02::1%99999999999\n");
        assert_eq!(ns(&c), ["fe80::1/Id(2)", "2001:db8::2/None", "ff02::1/None"]);
        let n = &c.nameservers[0];
        let sa = n.socket_addr(7);
        assert_eq!(sa.to_string(), "[fe80::1%7]:53");
        assert!(n.is(&sa));
        assert!(!n.is(&"[fe80::1]:54".parse().unwrap()));
        assert!(!c.nameservers[1].is(&sa));
    }

    #[test]
    fn search_and_domain() {
        let c = Config::parse(b"search a.example b.example\ndomain corp.example extra\n");
        assert_eq!(search(&c), ["corp.example"]);
        let c = Config::parse(b"domain corp.example\nsearch a.example\tb.example  # comment\n");
        assert_eq!(search(&c), ["a.example", "b.example"]);
        let c = Config::parse(b"search 1 2 3 4 5 6 7 8\n");
        assert_eq!(search(&c), ["1", "2", "3", "4", "5", "6"]);
        // 256 bytes with separators: 2 x (127 + 1) fit, the third does not.
        let d = "x".repeat(127);
        let c = Config::parse(format!("search {d} {d} y\n").as_bytes());
        assert_eq!(search(&c), [d.as_str(), d.as_str()]);
        assert_eq!(c.search_domain(1), Some(d.as_bytes()));
        let c = Config::parse(b"search\nsearch   \n");
        assert_eq!(c.search_len(), 0);
        let mut c = Config::parse(b"");
        c.set_domain_from_hostname(b"box.lab.example");
        assert_eq!(search(&c), ["lab.example"]);
        c.set_domain_from_hostname(b"other.example");
        assert_eq!(search(&c), ["lab.example"]);
    }

    #[test]
    fn options_clamped_like_glibc() {
        let c = Config::parse(b"options ndots:3 timeout:1 attempts:4 rotate use-vc no-tld-query\n");
        assert_eq!(
            (c.ndots, c.timeout_s, c.attempts, c.rotate, c.use_vc, c.no_tld_query),
            (3, 1, 4, true, true, true)
        );
        let c = Config::parse(b"options ndots:99 timeout:1000 attempts:77777777777777777777777\n");
        assert_eq!((c.ndots, c.timeout_s, c.attempts), (15, 30, 5));
        let c = Config::parse(b"options ndots:-1 timeout:0 attempts:0 rotatex\noptions ndots:2x\n");
        assert_eq!((c.ndots, c.timeout_s, c.attempts, c.rotate), (2, 0, 0, true));
        assert_eq!((c.wait_ms(), c.rounds()), (1000, 1));
        let c = Config::parse(b"options ndots:x\n options ndots:4\noptions\tno_tld_query\n");
        assert_eq!((c.ndots, c.no_tld_query), (0, true));
    }
}
