//! Reading names inside a message, where a name may end in a compression
//! pointer (RFC 1035 §4.1.4).
//!
//! A pointer must point strictly before the start of the name segment it
//! ends (the name's own start, or the previous pointer's target), and past
//! the header. Every jump therefore lands lower than the last one, so
//! reading always ends: loops, self-pointers and forward or out-of-range
//! pointers are refused. Every legitimate compressor only points back at
//! names written earlier, so no real answer is refused by this rule.

use super::{ParseError, HEADER_LEN};
use crate::name::{Name, MAX_WIRE};

/// Walks the name at `at`, handing each label to `each` (which may stop
/// the calls, not the checks, by returning false). Returns the offset just
/// after the name's bytes at `at` (after its first pointer or root byte).
pub fn walk(msg: &[u8], at: usize, mut each: impl FnMut(&[u8]) -> bool) -> Result<usize, ParseError> {
    let mut pos = at;
    let mut segment = at;
    let mut end: Option<usize> = None;
    let mut total: usize = 1;
    let mut calling = true;
    loop {
        let &len = msg.get(pos).ok_or(ParseError::Truncated)?;
        let next = pos.checked_add(1).ok_or(ParseError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(end.unwrap_or(next)),
            0x00 => {
                let n = usize::from(len);
                total = total.saturating_add(n).saturating_add(1);
                if total > MAX_WIRE {
                    return Err(ParseError::NameTooLong);
                }
                let stop = next.checked_add(n).ok_or(ParseError::Truncated)?;
                let label = msg.get(next..stop).ok_or(ParseError::Truncated)?;
                if calling {
                    calling = each(label);
                }
                pos = stop;
            }
            0xc0 => {
                let &lo = msg.get(next).ok_or(ParseError::Truncated)?;
                let target = usize::from(len & 0x3f).wrapping_shl(8) | usize::from(lo);
                if target >= segment || target < HEADER_LEN {
                    return Err(ParseError::BadPointer);
                }
                if end.is_none() {
                    end = Some(next.checked_add(1).ok_or(ParseError::Truncated)?);
                }
                pos = target;
                segment = target;
            }
            _ => return Err(ParseError::BadLabel),
        }
    }
}

/// A name inside a message, read on demand.
#[derive(Clone, Copy, Debug)]
pub struct NameRef<'m> {
    msg: &'m [u8],
    at: usize,
}

impl<'m> NameRef<'m> {
    /// The name at `at`, after checking it; also returns where it ends.
    pub fn read(msg: &'m [u8], at: usize) -> Result<(NameRef<'m>, usize), ParseError> {
        let end = walk(msg, at, |_| true)?;
        Ok((NameRef { msg, at }, end))
    }

    /// Same name as `name`, ASCII case ignored.
    pub fn eq_name(&self, name: &Name) -> bool {
        let mut rest = name.wire();
        let mut same = true;
        let walked = walk(self.msg, self.at, |label| {
            let ok = match rest.split_first() {
                Some((&n, tail)) if n != 0 && usize::from(n) == label.len() => match tail.split_at_checked(label.len())
                {
                    Some((l, after)) if l.eq_ignore_ascii_case(label) => {
                        rest = after;
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            same &= ok;
            ok
        });
        walked.is_ok() && same && rest == [0]
    }

    /// The name, uncompressed (None if the message is bad there).
    pub fn to_name(&self) -> Option<Name> {
        let mut name = Name::root();
        let mut ok = true;
        walk(self.msg, self.at, |label| {
            ok = name.push_label(label).is_ok();
            ok
        })
        .ok()?;
        ok.then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message: 12 header bytes then `body`.
    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(body);
        m
    }

    fn name(msg: &[u8], at: usize) -> Result<(Name, usize), ParseError> {
        let (r, end) = NameRef::read(msg, at)?;
        Ok((r.to_name().unwrap(), end))
    }

    #[test]
    fn reads_plain_and_compressed() {
        // 12: example.com.  25: www + pointer to 12.
        let m = msg(b"\x07example\x03com\x00\x03www\xc0\x0c");
        let (n, end) = name(&m, 12).unwrap();
        assert_eq!(n, Name::from_text(b"example.com").unwrap());
        assert_eq!(end, 25);
        let (n, end) = name(&m, 25).unwrap();
        assert_eq!(n, Name::from_text(b"www.EXAMPLE.com").unwrap());
        assert_eq!(end, 31);
        assert!(NameRef::read(&m, 25)
            .unwrap()
            .0
            .eq_name(&Name::from_text(b"WWW.example.COM.").unwrap()));
        assert!(!NameRef::read(&m, 25)
            .unwrap()
            .0
            .eq_name(&Name::from_text(b"www.example").unwrap()));
        assert!(!NameRef::read(&m, 12)
            .unwrap()
            .0
            .eq_name(&Name::from_text(b"www.example.com").unwrap()));
        // A pointer to a pointer, each going lower.
        let m = msg(b"\x03com\x00\x07example\xc0\x0c\x03www\xc0\x11");
        assert_eq!(name(&m, 27).unwrap().0, Name::from_text(b"www.example.com").unwrap());
    }

    #[test]
    fn refuses_loops_and_bad_pointers() {
        // Pointer to itself.
        assert_eq!(name(&msg(b"\xc0\x0c"), 12).unwrap_err(), ParseError::BadPointer);
        // a + pointer back to the label: a loop through a backward pointer.
        assert_eq!(name(&msg(b"\x01a\xc0\x0c"), 12).unwrap_err(), ParseError::BadPointer);
        // Two names pointing at each other.
        let m = msg(b"\x01a\xc0\x10\x01b\xc0\x0c");
        assert_eq!(name(&m, 16).unwrap_err(), ParseError::BadPointer);
        // Forward pointer.
        assert_eq!(name(&msg(b"\xc0\x0e\x00"), 12).unwrap_err(), ParseError::BadPointer);
        // Out of range, and into the header.
        assert_eq!(name(&msg(b"\x00\xff\xff"), 13).unwrap_err(), ParseError::BadPointer);
        assert_eq!(name(&msg(b"\x00\xc0\x02"), 13).unwrap_err(), ParseError::BadPointer);
        // Truncated pointer, truncated label, missing root.
        assert_eq!(name(&msg(b"\xc0"), 12).unwrap_err(), ParseError::Truncated);
        assert_eq!(name(&msg(b"\x05ab"), 12).unwrap_err(), ParseError::Truncated);
        assert_eq!(name(&msg(b"\x01a"), 12).unwrap_err(), ParseError::Truncated);
        // Reserved label types.
        assert_eq!(name(&msg(b"\x41a\x00"), 12).unwrap_err(), ParseError::BadLabel);
        assert_eq!(name(&msg(b"\x81a\x00"), 12).unwrap_err(), ParseError::BadLabel);
    }

    #[test]
    fn refuses_names_over_255_bytes_even_through_pointers() {
        // 12: four labels of 63 = 256 bytes with the root.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(63);
            body.extend_from_slice(&[b'x'; 63]);
        }
        body.push(0);
        assert_eq!(name(&msg(&body), 12).unwrap_err(), ParseError::NameTooLong);
        // 12: three labels (193 bytes) then at 205: two more labels + a
        // pointer to 12: 63 + 1 + 192 + 1 > 255.
        let mut body = Vec::new();
        for _ in 0..3 {
            body.push(63);
            body.extend_from_slice(&[b'x'; 63]);
        }
        body.push(0);
        body.extend_from_slice(b"\x3f");
        body.extend_from_slice(&[b'y'; 63]);
        body.extend_from_slice(b"\xc0\x0c");
        assert_eq!(name(&msg(&body), 12 + 193).unwrap_err(), ParseError::NameTooLong);
    }
}
