//! The response parser. [`Response::parse`] checks everything keel will
//! read before anything is used: the header, section counts against the
//! message size, the one question, and every answer record (names,
//! lengths, and the data of the types keel reads). Authority and additional
//! records are not read. A truncated (TC) response is only checked as far
//! as its question: it is used for nothing but the switch to TCP.

use super::compressed::NameRef;
use super::{be16, be32, rtype, Header, ParseError, CLASS_IN, HEADER_LEN};
use crate::name::Name;
use core::net::{Ipv4Addr, Ipv6Addr};

/// Smallest question: root name, type, class.
const MIN_QUESTION: usize = 5;
/// Smallest record: root name, type, class, TTL, length.
const MIN_RECORD: usize = 11;

/// A checked response.
#[derive(Clone, Copy, Debug)]
pub struct Response<'m> {
    msg: &'m [u8],
    header: Header,
    qname: NameRef<'m>,
    qtype: u16,
    qclass: u16,
    answers_at: usize,
}

/// The data of one record.
#[derive(Clone, Copy, Debug)]
pub enum RData<'m> {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias target.
    Cname(NameRef<'m>),
    /// Service location.
    Srv {
        /// Lower first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// Port.
        port: u16,
        /// Host (the root: no service).
        target: NameRef<'m>,
    },
    /// AFS database location.
    Afsdb {
        /// 1: AFS volume location server; 2: DCE directory server.
        subtype: u16,
        /// Host.
        host: NameRef<'m>,
    },
    /// Another type, or a class other than IN.
    Other,
}

/// One answer record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'m> {
    /// Owner name.
    pub owner: NameRef<'m>,
    /// Type.
    pub rtype: u16,
    /// Class.
    pub class: u16,
    /// Seconds; a TTL with the top bit set counts as 0 (RFC 2181 §8).
    pub ttl: u32,
    /// Data.
    pub data: RData<'m>,
}

impl<'m> Response<'m> {
    /// Checks `msg` (see the module text).
    pub fn parse(msg: &'m [u8]) -> Result<Response<'m>, ParseError> {
        let header = Header::parse(msg).ok_or(ParseError::Truncated)?;
        if !header.is_response() || header.opcode() != 0 {
            return Err(ParseError::NotAResponse);
        }
        if header.qdcount != 1 {
            return Err(ParseError::QuestionCount);
        }
        if !header.truncated() {
            let records = usize::from(header.ancount)
                .saturating_add(usize::from(header.nscount))
                .saturating_add(usize::from(header.arcount));
            let need = MIN_QUESTION.saturating_add(records.saturating_mul(MIN_RECORD));
            if need > msg.len().saturating_sub(HEADER_LEN) {
                return Err(ParseError::CountTooBig);
            }
        }
        let (qname, at) = NameRef::read(msg, HEADER_LEN)?;
        let qtype = be16(msg, at).ok_or(ParseError::Truncated)?;
        let qclass = be16(msg, at.saturating_add(2)).ok_or(ParseError::Truncated)?;
        let answers_at = at.saturating_add(4);
        let resp = Response {
            msg,
            header,
            qname,
            qtype,
            qclass,
            answers_at,
        };
        if !header.truncated() {
            let mut pos = answers_at;
            for _ in 0..header.ancount {
                pos = read_record(msg, pos)?.1;
            }
        }
        Ok(resp)
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The question: name, type, class.
    pub fn question(&self) -> (NameRef<'m>, u16, u16) {
        (self.qname, self.qtype, self.qclass)
    }

    /// The answer to query `id` for `qname`/`qtype`/IN (name compared
    /// ignoring ASCII case).
    pub fn matches(&self, id: u16, qname: &Name, qtype: u16) -> bool {
        self.header.id == id && self.qtype == qtype && self.qclass == CLASS_IN && self.qname.eq_name(qname)
    }

    /// The answer records, in message order (none for a TC response).
    pub fn answers(&self) -> Answers<'m> {
        let left = if self.header.truncated() {
            0
        } else {
            self.header.ancount
        };
        Answers {
            msg: self.msg,
            at: self.answers_at,
            left,
        }
    }
}

/// Iterator over answer records.
pub struct Answers<'m> {
    msg: &'m [u8],
    at: usize,
    left: u16,
}

impl<'m> Iterator for Answers<'m> {
    type Item = Record<'m>;

    fn next(&mut self) -> Option<Record<'m>> {
        self.left = self.left.checked_sub(1)?;
        match read_record(self.msg, self.at) {
            Ok((r, next)) => {
                self.at = next;
                Some(r)
            }
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }
}

/// Reads the record at `at`; returns it and the offset after it.
fn read_record(msg: &[u8], at: usize) -> Result<(Record<'_>, usize), ParseError> {
    let (owner, at) = NameRef::read(msg, at)?;
    let rtype = be16(msg, at).ok_or(ParseError::Truncated)?;
    let class = be16(msg, at.saturating_add(2)).ok_or(ParseError::Truncated)?;
    let ttl = be32(msg, at.saturating_add(4)).ok_or(ParseError::Truncated)?;
    let rdlen = be16(msg, at.saturating_add(8)).ok_or(ParseError::Truncated)?;
    let start = at.saturating_add(10);
    let end = start.saturating_add(usize::from(rdlen));
    let rdata = msg.get(start..end).ok_or(ParseError::Truncated)?;
    let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
    // A name in the data must end exactly where the data does.
    let name_at = |off: usize| -> Result<NameRef<'_>, ParseError> {
        let (n, stop) = NameRef::read(msg, start.saturating_add(off))?;
        if stop != end || off >= rdata.len() {
            return Err(ParseError::BadRdata);
        }
        Ok(n)
    };
    let field = |off: usize| be16(rdata, off).ok_or(ParseError::BadRdata);
    let data = match (class, rtype) {
        (CLASS_IN, rtype::A) => RData::A(Ipv4Addr::from(
            <[u8; 4]>::try_from(rdata).map_err(|_| ParseError::BadRdata)?,
        )),
        (CLASS_IN, rtype::AAAA) => RData::Aaaa(Ipv6Addr::from(
            <[u8; 16]>::try_from(rdata).map_err(|_| ParseError::BadRdata)?,
        )),
        (CLASS_IN, rtype::CNAME) => RData::Cname(name_at(0)?),
        (CLASS_IN, rtype::SRV) => RData::Srv {
            priority: field(0)?,
            weight: field(2)?,
            port: field(4)?,
            target: name_at(6)?,
        },
        (CLASS_IN, rtype::AFSDB) => RData::Afsdb {
            subtype: field(0)?,
            host: name_at(2)?,
        },
        _ => RData::Other,
    };
    Ok((
        Record {
            owner,
            rtype,
            class,
            ttl,
            data,
        },
        end,
    ))
}

#[cfg(test)]
pub(crate) mod build {
    //! Hand-built messages for the tests of this crate.
    use super::super::rtype;

    /// Wire form of a dotted name (no compression).
    pub fn wire(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// A record: owner (raw wire bytes), type, TTL, data.
    pub fn rr(owner: &[u8], t: u16, ttl: u32, data: &[u8]) -> Vec<u8> {
        let mut v = owner.to_vec();
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    pub fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Vec<u8> {
        rr(&wire(owner), rtype::A, ttl, &ip)
    }

    pub fn aaaa(owner: &str, ttl: u32, ip: &str) -> Vec<u8> {
        let ip: std::net::Ipv6Addr = ip.parse().unwrap();
        rr(&wire(owner), rtype::AAAA, ttl, &ip.octets())
    }

    pub fn cname(owner: &str, ttl: u32, target: &str) -> Vec<u8> {
        rr(&wire(owner), rtype::CNAME, ttl, &wire(target))
    }

    pub fn srv(owner: &str, ttl: u32, prio: u16, weight: u16, port: u16, target: &str) -> Vec<u8> {
        let mut d = Vec::new();
        for x in [prio, weight, port] {
            d.extend_from_slice(&x.to_be_bytes());
        }
        d.extend_from_slice(&wire(target));
        rr(&wire(owner), rtype::SRV, ttl, &d)
    }

    pub fn afsdb(owner: &str, ttl: u32, subtype: u16, host: &str) -> Vec<u8> {
        let mut d = subtype.to_be_bytes().to_vec();
        d.extend_from_slice(&wire(host));
        rr(&wire(owner), rtype::AFSDB, ttl, &d)
    }

    /// A response: id, flags (QR added), one question, answers.
    pub fn response(id: u16, flags: u16, qname: &str, qtype: u16, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&(flags | 0x8000).to_be_bytes());
        for c in [1u16, answers.len() as u16, 0, 0] {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(&wire(qname));
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for a in answers {
            m.extend_from_slice(a);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s.as_bytes()).unwrap()
    }

    #[test]
    fn good_answers_with_compression() {
        // Answers use a pointer to the question name (offset 12).
        let mut m = response(7, 0x0180, "host.example", rtype::A, &[]);
        m[7] = 2;
        m.extend_from_slice(&rr(b"\xc0\x0c", rtype::A, 300, &[10, 0, 0, 1]));
        m.extend_from_slice(&rr(b"\xc0\x0c", rtype::AAAA, 0x8000_0000, &[0; 16]));
        let r = Response::parse(&m).unwrap();
        assert!(r.matches(7, &n("HOST.example."), rtype::A));
        assert!(!r.matches(8, &n("host.example"), rtype::A));
        assert!(!r.matches(7, &n("host.example.com"), rtype::A));
        assert!(!r.matches(7, &n("host.example"), rtype::AAAA));
        let recs: Vec<_> = r.answers().collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[0].owner.eq_name(&n("host.example")));
        assert!(matches!(recs[0].data, RData::A(a) if a.octets() == [10, 0, 0, 1]));
        assert_eq!(recs[0].ttl, 300);
        assert_eq!(recs[1].ttl, 0);
        assert!(matches!(recs[1].data, RData::Aaaa(_)));
    }

    #[test]
    fn srv_afsdb_cname_data() {
        let m = response(
            1,
            0,
            "_afs3-vlserver._udp.cell",
            rtype::SRV,
            &[
                srv("_afs3-vlserver._udp.cell", 60, 10, 5, 7003, "vl1.cell"),
                afsdb("cell", 30, 1, "vl2.cell"),
                cname("x.cell", 5, "y.cell"),
            ],
        );
        let r = Response::parse(&m).unwrap();
        let mut it = r.answers();
        match it.next().unwrap().data {
            RData::Srv {
                priority: 10,
                weight: 5,
                port: 7003,
                target,
            } => assert!(target.eq_name(&n("vl1.cell"))),
            other => panic!("{other:?}"),
        }
        match it.next().unwrap().data {
            RData::Afsdb { subtype: 1, host } => assert!(host.eq_name(&n("vl2.cell"))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(it.next().unwrap().data, RData::Cname(t) if t.eq_name(&n("y.cell"))));
        assert!(it.next().is_none());
    }

    #[test]
    fn empty_answer_and_rcodes() {
        let m = response(3, 3, "nx.example", rtype::A, &[]);
        let r = Response::parse(&m).unwrap();
        assert_eq!(r.header().rcode(), 3);
        assert_eq!(r.answers().count(), 0);
    }

    #[test]
    fn refuses_counts_larger_than_the_message() {
        let mut m = response(1, 0, "a.example", rtype::A, &[a("a.example", 1, [1, 2, 3, 4])]);
        m[7] = 200;
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::CountTooBig);
        m[7] = 1;
        m[11] = 0xff;
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::CountTooBig);
        // Counts that fit the size but not the records: the walk finds it.
        m[11] = 0;
        m[7] = 2;
        m.extend_from_slice(&[0xc0; 11]);
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::BadPointer);
    }

    #[test]
    fn refuses_truncated_messages() {
        let m = response(1, 0, "a.example", rtype::A, &[a("a.example", 1, [1, 2, 3, 4])]);
        for len in 0..m.len() {
            assert!(Response::parse(&m[..len]).is_err(), "{len}");
        }
        assert!(Response::parse(&m).is_ok());
    }

    #[test]
    fn refuses_bad_rdata_and_headers() {
        let bad_a = rr(&wire("a.example"), rtype::A, 1, &[1, 2, 3]);
        let m = response(1, 0, "a.example", rtype::A, &[bad_a]);
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::BadRdata);
        // CNAME whose name runs past its data.
        let mut bad_cname = rr(&wire("a.example"), rtype::CNAME, 1, b"\x01b\x00");
        let l = bad_cname.len();
        bad_cname[l - 4] = 2; // rdlength 2 for 3 bytes of name
        let m = response(1, 0, "a.example", rtype::A, &[bad_cname]);
        assert!(Response::parse(&m).is_err());
        let mut m = response(1, 0, "a.example", rtype::A, &[]);
        m[2] &= 0x7f;
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::NotAResponse);
        let mut m = response(1, 0, "a.example", rtype::A, &[]);
        m[5] = 0;
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::QuestionCount);
        // A compression loop in an answer's owner.
        let m = response(
            1,
            0,
            "a.example",
            rtype::A,
            &[rr(b"\x01x\xc0\x1b", rtype::A, 1, &[1, 2, 3, 4])],
        );
        assert_eq!(Response::parse(&m).unwrap_err(), ParseError::BadPointer);
    }

    #[test]
    fn truncated_flag_needs_only_the_question() {
        let mut m = response(9, 0x0200, "big.example", rtype::A, &[]);
        m[7] = 40; // claims 40 answers it does not carry
        let r = Response::parse(&m).unwrap();
        assert!(r.header().truncated());
        assert!(r.matches(9, &n("big.example"), rtype::A));
        assert_eq!(r.answers().count(), 0);
    }
}
