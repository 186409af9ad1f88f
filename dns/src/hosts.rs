//! `/etc/hosts`: the addresses of a name, as glibc's files backend finds
//! them for `getaddrinfo` (every matching line, in file order).
//!
//! A line is an address and names (canonical name, aliases) separated by
//! blanks; `#` starts a comment. Names match ignoring ASCII case; a final
//! dot on the asked name is ignored. Lines whose address is not strict
//! dotted-quad IPv4 or plain IPv6 are skipped. At most [`MAX_HOSTS_ADDRS`]
//! addresses are returned, the first ones in file order.

use crate::addr_text::parse_ip;
use core::net::IpAddr;
use heapless::Vec;

/// Addresses kept for one name.
pub const MAX_HOSTS_ADDRS: usize = 16;

/// The addresses of `name` in hosts-file `text`, in file order, without
/// repeats.
pub fn lookup(text: &[u8], name: &[u8]) -> Vec<IpAddr, MAX_HOSTS_ADDRS> {
    let mut found = Vec::new();
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty() {
        return found;
    }
    for line in text.split(|&b| b == b'\n') {
        let line = line.split(|&b| b == b'#').next().unwrap_or(&[]);
        let mut fields = line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty());
        let Some(ip) = fields.next().and_then(parse_ip) else {
            continue;
        };
        if fields.any(|f| f.eq_ignore_ascii_case(name)) && !found.contains(&ip) && found.push(ip).is_err() {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(text: &str, name: &str) -> std::vec::Vec<String> {
        lookup(text.as_bytes(), name.as_bytes())
            .iter()
            .map(|a| a.to_string())
            .collect()
    }

    const HOSTS: &str = "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost # loopback\n\
        10.0.0.5 server.example.com Server  files\n# 10.0.0.6 server\n10.0.0.7 other # server\n\
        fe80::1%eth0 server\n10.0.0.08 server\n2001:db8::5\tserver\r\n10.0.0.5 server\n";

    #[test]
    fn names_aliases_case_and_order() {
        assert_eq!(look(HOSTS, "localhost"), ["127.0.0.1", "::1"]);
        assert_eq!(look(HOSTS, "LOCALHOST."), ["127.0.0.1", "::1"]);
        assert_eq!(look(HOSTS, "ip6-localhost"), ["::1"]);
        assert_eq!(look(HOSTS, "server"), ["10.0.0.5", "2001:db8::5"]);
        assert_eq!(look(HOSTS, "SERVER.example.com"), ["10.0.0.5"]);
        assert_eq!(look(HOSTS, "files"), ["10.0.0.5"]);
        assert!(look(HOSTS, "other.").len() == 1);
        assert!(look(HOSTS, "missing").is_empty());
        assert!(look(HOSTS, "").is_empty());
        assert!(look(HOSTS, ".").is_empty());
        assert!(look("\u{0}\u{ff}garbage\n\n#\n 1.2.3.4\n", "garbage").is_empty());
    }

    #[test]
    fn capacity() {
        let text: String = (0..40).map(|i| format!("10.0.0.{i} many\n")).collect();
        let found = look(&text, "many");
        assert_eq!(found.len(), MAX_HOSTS_ADDRS);
        assert_eq!(found[0], "10.0.0.0");
        assert_eq!(found[15], "10.0.0.15");
    }
}
