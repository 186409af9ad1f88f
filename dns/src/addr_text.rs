//! IP addresses as text. Output is exactly glibc's `inet_ntop` (what
//! keyutils' key.dns_resolver writes into its payloads, so keel's payloads
//! match it byte for byte); input is strict dotted-quad IPv4 or RFC 4291
//! IPv6 (`inet_pton`'s rules: no octal, no short forms like `127.1`).

use crate::out::Out;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Writes `ip` as `inet_ntop` does.
pub fn write_ip(out: &mut Out<'_>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => write_ipv4(out, a.octets()),
        IpAddr::V6(a) => write_ipv6(out, a.octets()),
    }
}

/// `a.b.c.d`.
pub fn write_ipv4(out: &mut Out<'_>, octets: [u8; 4]) {
    for (i, o) in octets.iter().enumerate() {
        if i != 0 {
            out.push(b'.');
        }
        out.decimal(u32::from(*o));
    }
}

/// glibc's `inet_ntop6`: the first longest run of two or more zero groups
/// becomes `::`, groups in `%x`, and an address whose first 96 bits are
/// zero (but not `::` or `::1`-like: the run must be exactly 6 groups) or
/// that is IPv4-mapped (`::ffff:0:0/96`) ends in dotted-quad form.
pub fn write_ipv6(out: &mut Out<'_>, octets: [u8; 16]) {
    let mut words = [0u16; 8];
    for (w, pair) in words.iter_mut().zip(octets.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *w = u16::from_be_bytes([*hi, *lo]);
        }
    }
    // (base, len) of the best and the current run of zero words.
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            cur = Some(match cur {
                Some((b, l)) => (b, l.saturating_add(1)),
                None => (i, 1),
            });
        } else if let Some(c) = cur.take() {
            if best.is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
    }
    if let Some(c) = cur {
        if best.is_none_or(|b| c.1 > b.1) {
            best = Some(c);
        }
    }
    let best = best.filter(|b| b.1 >= 2);
    let v4_tail = match best {
        Some((0, 6)) => true,
        Some((0, 5)) => words.get(5) == Some(&0xffff),
        _ => false,
    };
    for (i, w) in words.iter().enumerate() {
        if let Some((base, len)) = best {
            if i >= base && i < base.saturating_add(len) {
                if i == base {
                    out.push(b':');
                }
                continue;
            }
        }
        if i != 0 {
            out.push(b':');
        }
        if i == 6 && v4_tail {
            let [.., a, b, c, d] = octets;
            write_ipv4(out, [a, b, c, d]);
            break;
        }
        out.hex(*w);
    }
    if let Some((base, len)) = best {
        if base.saturating_add(len) == words.len() {
            out.push(b':');
        }
    }
}

/// Parses a dotted-quad IPv4 or an IPv6 address (no scope suffix), as
/// glibc's `inet_pton` does.
pub fn parse_ip(text: &[u8]) -> Option<IpAddr> {
    if text.contains(&b':') {
        parse_ipv6(text).map(|o| IpAddr::V6(Ipv6Addr::from(o)))
    } else {
        parse_ipv4(text).map(|o| IpAddr::V4(Ipv4Addr::from(o)))
    }
}

/// `inet_pton4`: four decimal octets, each at most 255 and without a
/// leading zero.
pub fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for o in octets.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.first() == Some(&b'0')) {
            return None;
        }
        let mut v: u16 = 0;
        for &d in part {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v.saturating_mul(10).saturating_add(u16::from(d.wrapping_sub(b'0')));
        }
        *o = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then_some(octets)
}

/// `inet_pton6`: up to eight groups of one to four hex digits, at most one
/// `::`, optionally ending in a dotted quad that takes the last two groups.
pub fn parse_ipv6(text: &[u8]) -> Option<[u8; 16]> {
    let mut words = [0u16; 8];
    let mut n = 0usize;
    let mut gap: Option<usize> = None;
    let mut rest = text;
    if let Some(r) = rest.strip_prefix(b"::") {
        gap = Some(0);
        rest = r;
    } else if rest.first() == Some(&b':') {
        return None;
    }
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b':').unwrap_or(rest.len());
        let (group, tail) = rest.split_at_checked(end)?;
        if group.contains(&b'.') {
            // A dotted quad: the last thing, taking two groups.
            let [a, b, c, d] = parse_ipv4(group)?;
            if !tail.is_empty() || n > 6 {
                return None;
            }
            for w in [u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])] {
                *words.get_mut(n)? = w;
                n = n.saturating_add(1);
            }
            break;
        }
        if group.is_empty() || group.len() > 4 || n >= 8 {
            return None;
        }
        let mut w: u16 = 0;
        for &h in group {
            let v = match h {
                b'0'..=b'9' => h.wrapping_sub(b'0'),
                b'a'..=b'f' => h.wrapping_sub(b'a').wrapping_add(10),
                b'A'..=b'F' => h.wrapping_sub(b'A').wrapping_add(10),
                _ => return None,
            };
            w = w.wrapping_shl(4) | u16::from(v);
        }
        *words.get_mut(n)? = w;
        n = n.saturating_add(1);
        rest = match tail.strip_prefix(b"::") {
            Some(r) if gap.is_none() => {
                gap = Some(n);
                r
            }
            Some(_) => return None,
            None => match tail.strip_prefix(b":") {
                Some([]) => return None,
                Some(r) => r,
                None => tail,
            },
        };
    }
    match gap {
        None if n == 8 => {}
        Some(g) if n < 8 => {
            // Move the groups after the gap to the end.
            let after = n.saturating_sub(g);
            let mut out = [0u16; 8];
            for (i, w) in words.iter().take(g).enumerate() {
                *out.get_mut(i)? = *w;
            }
            for (i, w) in words.iter().skip(g).take(after).enumerate() {
                *out.get_mut(8usize.saturating_sub(after).saturating_add(i))? = *w;
            }
            words = out;
        }
        _ => return None,
    }
    let mut octets = [0u8; 16];
    for (pair, w) in octets.chunks_exact_mut(2).zip(words) {
        crate::out::copy(pair, &w.to_be_bytes());
    }
    Some(octets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ip: &str) -> String {
        let ip: IpAddr = ip.parse().unwrap();
        let mut buf = [0u8; 64];
        let mut o = Out::new(&mut buf);
        write_ip(&mut o, &ip);
        String::from_utf8(o.written().to_vec()).unwrap()
    }

    /// Expected strings are Python's `socket.inet_ntop` on this machine,
    /// which is glibc's.
    #[test]
    fn matches_glibc_inet_ntop() {
        for (input, glibc) in [
            ("::", "::"),
            ("::1", "::1"),
            ("::2", "::2"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("1::", "1::"),
            ("1:0:0:1::1", "1:0:0:1::1"),
            ("fe80::1", "fe80::1"),
            ("0:0:0:0:0:1:0:0", "::1:0:0"),
            ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("::ffff:0:0", "::ffff:0.0.0.0"),
            ("0:0:0:0:1:ffff:102:304", "::1:ffff:102:304"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("::0.1.0.0", "::0.1.0.0"),
            ("0:0:0:0:0:ffff:0:1", "::ffff:0.0.0.1"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("2001:DB8:0:0:1:0:0:0", "2001:db8:0:0:1::"),
            ("10.0.0.1", "10.0.0.1"),
            ("255.255.255.255", "255.255.255.255"),
            ("0.0.0.0", "0.0.0.0"),
        ] {
            assert_eq!(text(input), glibc, "{input}");
        }
    }

    #[test]
    fn parses_like_inet_pton() {
        for good in [
            "::",
            "::1",
            "1::",
            "1::2",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6::",
            "::2:3:4:5:6:7:8",
            "1::8",
            "fe80::1",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "ABCD:ef01::",
            "2001:db8:0:0:1::",
            "0:0:0:0:0:0:0:0",
        ] {
            assert_eq!(parse_ip(good.as_bytes()), Some(good.parse().unwrap()), "{good}");
        }
        for bad in [
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            ":1::",
            "1::2:",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "12345::",
            "g::",
            "1.2.3.4::",
            "::1.2.3.4:1",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3",
            "::256.1.1.1",
            "1:",
            " ::1",
        ] {
            assert_eq!(parse_ip(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(parse_ip(b"10.1.2.3"), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(parse_ip(b"fe80::1"), Some("fe80::1".parse().unwrap()));
        for bad in [
            &b"127.1"[..],
            b"010.0.0.1",
            b"1.2.3.4.",
            b"fe80::1%eth0",
            b"",
            b"\xff",
            b"host",
        ] {
            assert_eq!(parse_ip(bad), None);
        }
    }
}
