//! The two payload forms `dns_resolver_preparse` accepts
//! (net/dns_resolver/dns_key.c).
//!
//! Text: addresses joined by commas, without repeats, ending in one NUL
//! byte (counted in the payload length; the kernel strips it). keyutils
//! writes each address with `inet_ntop`, an AFS SRV address as `addr+port`
//! (an IPv6 one unbracketed: `fs/afs/addr_list.c` ends an address at `+` or
//! `,`), an AFSDB address without a port.
//!
//! Binary server list, version 1 (`include/uapi/linux/dns_resolver.h`;
//! writer kafs-client `dns_afsdb_v1.c`, reader `fs/afs/vl_list.c`): all
//! integers little-endian, structures packed.
//!
//! ```text
//! header   6 bytes   0, content 0 (server list), version 1, source, status, nr_servers
//! server  12 bytes   name_len u16, priority u16, weight u16, port u16,
//!                    source u8, status u8, protocol u8, nr_addrs u8
//!         name_len   the name, no NUL, no final dot
//! address 1+4|1+16   family 0 (IPv4) or 1 (IPv6), then the address bytes
//! ```

use crate::addr_text::write_ip;
use crate::out::Out;
use core::net::IpAddr;

/// Largest payload keel writes: room for 8 servers of 8 addresses with
/// long names in v1, or 64 text entries.
pub const MAX_PAYLOAD: usize = 4096;

/// `enum dns_payload_content_type`: the only one.
pub const DNS_PAYLOAD_IS_SERVER_LIST: u8 = 0;
/// `enum dns_payload_address_type`.
pub const DNS_ADDRESS_IS_IPV4: u8 = 0;
/// `enum dns_payload_address_type`.
pub const DNS_ADDRESS_IS_IPV6: u8 = 1;
/// `enum dns_payload_protocol_type`: UDP (the VL service).
pub const DNS_SERVER_PROTOCOL_UDP: u8 = 1;
/// `enum dns_record_source`: addresses from A/AAAA records.
pub const DNS_RECORD_FROM_DNS_A: u8 = 2;
/// `enum dns_record_source`: servers from AFSDB records.
pub const DNS_RECORD_FROM_DNS_AFSDB: u8 = 3;
/// `enum dns_record_source`: servers from SRV records.
pub const DNS_RECORD_FROM_DNS_SRV: u8 = 4;
/// `enum dns_record_source`: addresses from the name service switch
/// (keel: /etc/hosts or an address literal).
pub const DNS_RECORD_FROM_NSS: u8 = 5;
/// `enum dns_lookup_status`.
pub const DNS_LOOKUP_GOOD: u8 = 1;
/// `enum dns_lookup_status`.
pub const DNS_LOOKUP_BAD: u8 = 3;
/// `enum dns_lookup_status`.
pub const DNS_LOOKUP_GOT_NOT_FOUND: u8 = 4;
/// `enum dns_lookup_status`.
pub const DNS_LOOKUP_GOT_TEMP_FAILURE: u8 = 6;
/// `enum dns_lookup_status`.
pub const DNS_LOOKUP_GOT_NS_FAILURE: u8 = 7;
/// The VL server port AFSDB implies (kafs-client writes it into v1).
pub const AFS_VL_PORT: u16 = 7003;

/// `struct dns_server_list_v1_header` (packed).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerListHeader {
    /// 0: not text.
    pub zero: u8,
    /// [`DNS_PAYLOAD_IS_SERVER_LIST`].
    pub content: u8,
    /// 1.
    pub version: u8,
    /// `dns_record_source` of the list.
    pub source: u8,
    /// `dns_lookup_status` of the list.
    pub status: u8,
    /// Servers following.
    pub nr_servers: u8,
}

/// `struct dns_server_list_v1_server` (packed, little-endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerListServer {
    /// Length of the name that follows.
    pub name_len: [u8; 2],
    /// SRV priority.
    pub priority: [u8; 2],
    /// SRV weight.
    pub weight: [u8; 2],
    /// Port (0: the kernel uses 7003).
    pub port: [u8; 2],
    /// `dns_record_source` of the addresses.
    pub source: u8,
    /// `dns_lookup_status` of the address lookup.
    pub status: u8,
    /// `dns_payload_protocol_type`.
    pub protocol: u8,
    /// Addresses following the name.
    pub nr_addrs: u8,
}

// The kernel's sizes: 6 and 12 bytes, no padding.
static_assertions::assert_eq_size!(ServerListHeader, [u8; 6]);
static_assertions::assert_eq_size!(ServerListServer, [u8; 12]);
static_assertions::const_assert_eq!(core::mem::align_of::<ServerListServer>(), 1);

impl ServerListHeader {
    /// The bytes, in field order.
    pub fn bytes(&self) -> [u8; 6] {
        [
            self.zero,
            self.content,
            self.version,
            self.source,
            self.status,
            self.nr_servers,
        ]
    }
}

impl ServerListServer {
    /// The bytes, in field order.
    pub fn bytes(&self) -> [u8; 12] {
        let [n0, n1] = self.name_len;
        let [p0, p1] = self.priority;
        let [w0, w1] = self.weight;
        let [o0, o1] = self.port;
        [
            n0,
            n1,
            p0,
            p1,
            w0,
            w1,
            o0,
            o1,
            self.source,
            self.status,
            self.protocol,
            self.nr_addrs,
        ]
    }
}

/// Builds a text payload entry by entry.
pub struct TextList<'o, 'b> {
    out: &'o mut Out<'b>,
    start: usize,
    entries: usize,
}

impl<'o, 'b> TextList<'o, 'b> {
    /// A list written after what `out` holds.
    pub fn new(out: &'o mut Out<'b>) -> Self {
        let start = out.len();
        TextList { out, start, entries: 0 }
    }

    /// Entries written.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// No entries yet.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Adds `ip` (with `+port`) unless the same entry is there already or
    /// the buffer is full (one byte stays free for the NUL).
    pub fn add(&mut self, ip: &IpAddr, port: Option<u16>) {
        let mark = self.out.len();
        if self.entries > 0 {
            self.out.push(b',');
        }
        let entry_at = self.out.len();
        write_ip(self.out, ip);
        if let Some(p) = port {
            self.out.push(b'+');
            self.out.decimal(u32::from(p));
        }
        self.out.push(0);
        let written = self.out.written();
        let entry = written.get(entry_at..written.len().saturating_sub(1)).unwrap_or(&[]);
        let before = written.get(self.start..mark).unwrap_or(&[]);
        let repeat = before.split(|&b| b == b',').any(|e| e == entry);
        if self.out.overflowed() || repeat {
            self.out.truncate(mark);
        } else {
            self.out.truncate(self.out.len().saturating_sub(1));
            self.entries = self.entries.saturating_add(1);
        }
    }

    /// Ends the payload with its NUL.
    pub fn finish(self) {
        self.out.push(0);
    }
}

/// A server for [`ServerList::add`].
pub struct ServerEntry<'a> {
    /// Name as text, no final dot.
    pub name: &'a [u8],
    /// SRV priority.
    pub priority: u16,
    /// SRV weight.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// `dns_record_source` of the addresses.
    pub source: u8,
    /// `dns_lookup_status` of the address lookup.
    pub status: u8,
    /// Addresses (at most 255 are written).
    pub addrs: &'a [IpAddr],
}

/// Builds a v1 server list: the header first, then whole servers; the
/// header's count is kept up to date. A server that does not fit whole is
/// left out.
pub struct ServerList<'o, 'b> {
    out: &'o mut Out<'b>,
    at: usize,
    header: ServerListHeader,
}

impl<'o, 'b> ServerList<'o, 'b> {
    /// Starts a list with `source`/`status` in its header.
    pub fn new(out: &'o mut Out<'b>, source: u8, status: u8) -> Self {
        let at = out.len();
        let header = ServerListHeader {
            zero: 0,
            content: DNS_PAYLOAD_IS_SERVER_LIST,
            version: 1,
            source,
            status,
            nr_servers: 0,
        };
        out.extend(&header.bytes());
        ServerList { out, at, header }
    }

    /// Servers written.
    pub fn len(&self) -> usize {
        usize::from(self.header.nr_servers)
    }

    /// No servers yet.
    pub fn is_empty(&self) -> bool {
        self.header.nr_servers == 0
    }

    /// Adds a server (at most 255 servers and 255 addresses each).
    pub fn add(&mut self, s: &ServerEntry<'_>) {
        let Ok(name_len) = u16::try_from(s.name.len()) else {
            return;
        };
        if self.header.nr_servers == u8::MAX || self.out.overflowed() {
            return;
        }
        let addrs = s.addrs.get(..s.addrs.len().min(255)).unwrap_or(&[]);
        let entry = ServerListServer {
            name_len: name_len.to_le_bytes(),
            priority: s.priority.to_le_bytes(),
            weight: s.weight.to_le_bytes(),
            port: s.port.to_le_bytes(),
            source: s.source,
            status: s.status,
            protocol: DNS_SERVER_PROTOCOL_UDP,
            nr_addrs: addrs.len() as u8,
        };
        let mark = self.out.len();
        self.out.extend(&entry.bytes());
        self.out.extend(s.name);
        for a in addrs {
            match a {
                IpAddr::V4(v4) => {
                    self.out.push(DNS_ADDRESS_IS_IPV4);
                    self.out.extend(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    self.out.push(DNS_ADDRESS_IS_IPV6);
                    self.out.extend(&v6.octets());
                }
            }
        }
        if self.out.overflowed() {
            self.out.truncate(mark);
            return;
        }
        self.header.nr_servers = self.header.nr_servers.saturating_add(1);
        self.out.patch(self.at, &self.header.bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(entries: &[(&str, Option<u16>)]) -> Vec<u8> {
        let mut buf = [0u8; 64];
        let mut out = Out::new(&mut buf);
        let mut list = TextList::new(&mut out);
        for (ip, port) in entries {
            list.add(&ip.parse().unwrap(), *port);
        }
        list.finish();
        out.written().to_vec()
    }

    #[test]
    fn text_byte_exact() {
        assert_eq!(text(&[("10.0.0.1", None)]), b"10.0.0.1\0");
        assert_eq!(
            text(&[
                ("10.0.0.1", None),
                ("2001:db8::1", None),
                ("10.0.0.1", None),
                ("::ffff:1.2.3.4", None)
            ]),
            b"10.0.0.1,2001:db8::1,::ffff:1.2.3.4\0"
        );
        assert_eq!(
            text(&[
                ("10.0.0.1", Some(7003)),
                ("fe80::1", Some(7003)),
                ("10.0.0.1", Some(7003)),
                ("10.0.0.1", Some(1))
            ]),
            b"10.0.0.1+7003,fe80::1+7003,10.0.0.1+1\0"
        );
        // "10.0.0.1" must not count as a repeat of "10.0.0.11".
        assert_eq!(
            text(&[("10.0.0.11", None), ("10.0.0.1", None)]),
            b"10.0.0.11,10.0.0.1\0"
        );
        assert_eq!(text(&[]), b"\0");
    }

    #[test]
    fn text_full_buffer_keeps_whole_entries_and_the_nul() {
        let mut buf = [0u8; 20];
        let mut out = Out::new(&mut buf[..19]);
        let mut list = TextList::new(&mut out);
        for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            list.add(&ip.parse().unwrap(), None);
        }
        assert_eq!(list.len(), 2);
        list.finish();
        assert_eq!(out.written(), b"10.0.0.1,10.0.0.2\0");
    }

    #[test]
    fn v1_byte_exact() {
        // The 45-byte payload of docs/upcalls.md §2.4: one server "vlsrv",
        // port 7003, one IPv4 and one IPv6 address.
        let addrs: [IpAddr; 2] = ["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let mut buf = [0u8; 128];
        let mut out = Out::new(&mut buf);
        let mut list = ServerList::new(&mut out, DNS_RECORD_FROM_DNS_SRV, DNS_LOOKUP_GOOD);
        list.add(&ServerEntry {
            name: b"vlsrv",
            priority: 10,
            weight: 0x0102,
            port: 7003,
            source: DNS_RECORD_FROM_DNS_A,
            status: DNS_LOOKUP_GOOD,
            addrs: &addrs,
        });
        assert_eq!(list.len(), 1);
        let mut want = vec![0, 0, 1, 4, 1, 1];
        want.extend_from_slice(&[5, 0, 10, 0, 2, 1, 0x5b, 0x1b, 2, 1, 1, 2]);
        want.extend_from_slice(b"vlsrv");
        want.extend_from_slice(&[0, 10, 0, 0, 1]);
        want.push(1);
        want.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert_eq!(out.written(), &want[..]);
        assert_eq!(want.len(), 45);
    }

    #[test]
    fn v1_drops_servers_that_do_not_fit() {
        let addrs: [IpAddr; 1] = ["10.0.0.1".parse().unwrap()];
        let server = |name: &'static [u8]| ServerEntry {
            name,
            priority: 0,
            weight: 0,
            port: 0,
            source: 2,
            status: 1,
            addrs: &addrs,
        };
        let mut buf = [0u8; 6 + 2 * (12 + 1 + 5) + 10];
        let mut out = Out::new(&mut buf);
        let mut list = ServerList::new(&mut out, 3, 1);
        for name in [b"a", b"b", b"c"] {
            list.add(&server(name));
        }
        assert_eq!(list.len(), 2);
        assert_eq!(out.len(), 6 + 2 * 18);
        assert_eq!(out.written()[..6], [0, 0, 1, 3, 1, 2]);
        assert_eq!(out.written()[6 + 18 + 12], b'b');
    }
}
