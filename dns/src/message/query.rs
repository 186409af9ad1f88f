//! The query builder: one question, class IN, recursion desired, no EDNS0
//! (see the module above for why).

use super::{CLASS_IN, HEADER_LEN};
use crate::name::{Name, MAX_WIRE};
use crate::out::Out;

/// Largest query: header, the longest name, type and class.
pub const MAX_QUERY: usize = HEADER_LEN + MAX_WIRE + 4;

/// RD (recursion desired), opcode QUERY.
const FLAGS_RD: u16 = 0x0100;

/// Writes the query for `name`/`qtype` with `id` into `buf`; returns its
/// length, or None if `buf` is shorter than the query.
pub fn write_query(buf: &mut [u8], id: u16, name: &Name, qtype: u16) -> Option<usize> {
    let mut out = Out::new(buf);
    out.extend(&id.to_be_bytes());
    out.extend(&FLAGS_RD.to_be_bytes());
    out.extend(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend(name.wire());
    out.extend(&qtype.to_be_bytes());
    out.extend(&CLASS_IN.to_be_bytes());
    (!out.overflowed()).then_some(out.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::rtype;

    #[test]
    fn byte_exact() {
        let mut buf = [0u8; MAX_QUERY];
        let n = write_query(&mut buf, 0xbeef, &Name::from_text(b"a.example").unwrap(), rtype::AAAA).unwrap();
        assert_eq!(
            &buf[..n],
            b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x07example\x00\x00\x1c\x00\x01"
        );
        assert_eq!(
            write_query(&mut buf[..20], 1, &Name::from_text(b"a.example").unwrap(), rtype::A),
            None
        );
    }
}
