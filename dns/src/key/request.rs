//! What a dns_resolver request asks: its description and callout
//! information, read as keyutils' key.dns_resolver reads them.
//!
//! Description: no `:` → the whole description is a host name; `a:NAME`
//! and `aaaa:NAME` → the same address lookup of NAME (the prefix does not
//! choose the family in key.dns_resolver either: the callout does);
//! `afsdb:CELL` → the AFS volume location servers of CELL; any other
//! prefix (matched case-sensitively, up to the first `:`) is refused, so
//! an IPv6 literal without a prefix is refused too, as keyutils does.
//!
//! Callout: options separated by spaces, each `key` or `key=value`.
//! Empty callout = legacy mode: for a host, IPv4 only, first address only
//! (what CIFS, NFS and Ceph parse); for AFS, both families (keyutils' AFS
//! path has no legacy mode). Any other callout starts from both families,
//! one address; `ipv4` / `ipv6` restrict the family (the last one given wins,
//! as in keyutils), `list` asks for every address, `srv=1` asks for the
//! binary server list v1 for `afsdb:` (any other `srv` value: text).
//! Unknown options are ignored; an option name with a comma is refused.

/// What is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'d> {
    /// Addresses of a host.
    Host(&'d [u8]),
    /// VL servers of an AFS cell.
    Afs(&'d [u8]),
}

/// Address families asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4 and IPv6.
    Both,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// The callout options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Families wanted.
    pub family: Family,
    /// Every address (otherwise only the first).
    pub list: bool,
    /// `srv=1`: binary server list v1 for AFS.
    pub server_list_v1: bool,
    /// The callout was empty (a host lookup then wants the first IPv4
    /// address only).
    pub legacy: bool,
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// A description prefix other than `a`, `aaaa`, `afsdb`.
    UnsupportedType,
    /// Nothing after the prefix.
    EmptyName,
    /// A callout option name contains a comma.
    CommaInOption,
}

/// Reads a key description (the part after the last `;` of a described
/// key, or the description given to `request_key`).
pub fn parse_description(desc: &[u8]) -> Result<Kind<'_>, RequestError> {
    let kind = match desc.iter().position(|&b| b == b':') {
        None => Kind::Host(desc),
        Some(colon) => {
            let (prefix, rest) = desc.split_at(colon);
            let name = rest.get(1..).unwrap_or(&[]);
            match prefix {
                b"a" | b"aaaa" => Kind::Host(name),
                b"afsdb" => Kind::Afs(name),
                _ => return Err(RequestError::UnsupportedType),
            }
        }
    };
    match kind {
        Kind::Host(n) | Kind::Afs(n) if n.is_empty() => Err(RequestError::EmptyName),
        k => Ok(k),
    }
}

/// Reads callout options (trailing NULs ignored).
pub fn parse_callout(callout: &[u8]) -> Result<Options, RequestError> {
    let mut end = callout.len();
    while end > 0 && callout.get(end.saturating_sub(1)) == Some(&0) {
        end = end.saturating_sub(1);
    }
    let callout = callout.get(..end).unwrap_or(&[]);
    let mut o = Options {
        family: Family::Both,
        list: false,
        server_list_v1: false,
        legacy: callout.is_empty(),
    };
    for opt in callout.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
        let (key, value) = match opt.iter().position(|&b| b == b'=') {
            Some(eq) => (opt.get(..eq).unwrap_or(&[]), opt.get(eq.saturating_add(1)..)),
            None => (opt, None),
        };
        if opt.contains(&b',') {
            return Err(RequestError::CommaInOption);
        }
        match key {
            b"ipv4" => o.family = Family::V4,
            b"ipv6" => o.family = Family::V6,
            b"list" => o.list = true,
            b"srv" => o.server_list_v1 = value == Some(b"1"),
            _ => {}
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        assert_eq!(parse_description(b"host.example"), Ok(Kind::Host(b"host.example")));
        assert_eq!(parse_description(b"a:host"), Ok(Kind::Host(b"host")));
        assert_eq!(parse_description(b"aaaa:host"), Ok(Kind::Host(b"host")));
        assert_eq!(parse_description(b"afsdb:cell.example"), Ok(Kind::Afs(b"cell.example")));
        assert_eq!(parse_description(b"afsdb:a:b"), Ok(Kind::Afs(b"a:b")));
        for bad in [&b"srv:x"[..], b"A:host", b"fe80::1", b":host", b"AFSDB:cell"] {
            assert_eq!(parse_description(bad), Err(RequestError::UnsupportedType), "{bad:?}");
        }
        for empty in [&b""[..], b"a:", b"afsdb:"] {
            assert_eq!(parse_description(empty), Err(RequestError::EmptyName));
        }
    }

    #[test]
    fn callouts() {
        let legacy = Options {
            family: Family::Both,
            list: false,
            server_list_v1: false,
            legacy: true,
        };
        assert_eq!(parse_callout(b""), Ok(legacy));
        assert_eq!(parse_callout(b"\0"), Ok(legacy));
        let both = Options {
            legacy: false,
            ..legacy
        };
        assert_eq!(parse_callout(b" "), Ok(both));
        assert_eq!(parse_callout(b"unknown=3"), Ok(both));
        assert_eq!(
            parse_callout(b"ipv6 list").unwrap(),
            Options {
                family: Family::V6,
                list: true,
                ..both
            }
        );
        assert_eq!(parse_callout(b"ipv6  ipv4").unwrap().family, Family::V4);
        assert!(parse_callout(b"srv=1").unwrap().server_list_v1);
        assert!(!parse_callout(b"srv=2").unwrap().server_list_v1);
        assert!(!parse_callout(b"srv").unwrap().server_list_v1);
        assert_eq!(parse_callout(b"list ipv4,ipv6"), Err(RequestError::CommaInOption));
    }
}
