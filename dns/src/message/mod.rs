//! DNS messages (RFC 1035 §4): the query builder, the response parser with
//! its reader of compressed names, and CNAME-chain following.
//!
//! No EDNS0: queries carry no OPT record, so servers keep UDP answers within
//! 512 bytes and set TC when an answer is larger; keel then asks again over
//! TCP. The answers the kernel's callers need (a few addresses, a handful of
//! SRV targets) fit in 512 bytes; not advertising a large UDP size also
//! avoids fragmented UDP answers, whose later fragments can be spoofed
//! without knowing the query id (the fragmentation attacks on DNS), and
//! keeps the OPT record's encoder and parser out of the binary.

pub mod chain;
pub mod compressed;
pub mod query;
pub mod response;

/// Header length.
pub const HEADER_LEN: usize = 12;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Record types keel asks for or follows.
pub mod rtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Canonical name (followed, at most [`super::chain::MAX_CNAME_HOPS`]).
    pub const CNAME: u16 = 5;
    /// AFS database location (RFC 1183); subtype 1 is an AFS VL server.
    pub const AFSDB: u16 = 18;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service location (RFC 2782).
    pub const SRV: u16 = 33;
}

/// Response codes keel tells apart.
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// The server could not parse the query.
    pub const FORMERR: u8 = 1;
    /// The server failed.
    pub const SERVFAIL: u8 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u8 = 3;
    /// Not implemented.
    pub const NOTIMP: u8 = 4;
    /// Refused by policy.
    pub const REFUSED: u8 = 5;
}

/// Why bytes are not an acceptable response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The message ends inside a field.
    Truncated,
    /// A label type other than a length or a pointer (0x40, 0x80).
    BadLabel,
    /// A compression pointer that does not point strictly before the name
    /// segment it appears in (a loop, a forward or out-of-range pointer) or
    /// that points into the header.
    BadPointer,
    /// A name longer than 255 bytes once decompressed.
    NameTooLong,
    /// Section counts that cannot fit in the message.
    CountTooBig,
    /// QR not set or an opcode other than QUERY.
    NotAResponse,
    /// Not exactly one question.
    QuestionCount,
    /// Record data whose length does not match its type.
    BadRdata,
}

/// The fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Query id.
    pub id: u16,
    /// QR, opcode, AA, TC, RD, RA, Z, RCODE.
    pub flags: u16,
    /// Questions.
    pub qdcount: u16,
    /// Answer records.
    pub ancount: u16,
    /// Authority records.
    pub nscount: u16,
    /// Additional records.
    pub arcount: u16,
}

impl Header {
    /// Reads the header at the start of `msg`.
    pub fn parse(msg: &[u8]) -> Option<Header> {
        let h = msg.get(..HEADER_LEN)?;
        let word = |i: usize| -> u16 {
            let hi = h.get(i).copied().unwrap_or(0);
            let lo = h.get(i.wrapping_add(1)).copied().unwrap_or(0);
            u16::from_be_bytes([hi, lo])
        };
        Some(Header {
            id: word(0),
            flags: word(2),
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode (0 = QUERY).
    pub fn opcode(&self) -> u8 {
        (self.flags.wrapping_shr(11) & 0xf) as u8
    }

    /// Truncated (TC): the answer did not fit; ask again over TCP.
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// The response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// Big-endian u16 at `at`.
pub(crate) fn be16(msg: &[u8], at: usize) -> Option<u16> {
    let b = msg.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Big-endian u32 at `at`.
pub(crate) fn be32(msg: &[u8], at: usize) -> Option<u32> {
    let hi = be16(msg, at)?;
    let lo = be16(msg, at.checked_add(2)?)?;
    Some(u32::from(hi).wrapping_shl(16) | u32::from(lo))
}
