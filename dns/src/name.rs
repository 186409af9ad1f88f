//! Domain names in uncompressed wire form: what queries are built from and
//! answers compared with. Text input has no escapes (a `\` is refused, as
//! is an empty label); text output escapes like `ns_name_ntop`.

use crate::out::Out;

/// Longest name on the wire, root byte included (RFC 1035 §2.3.4).
pub const MAX_WIRE: usize = 255;
/// Longest label.
pub const MAX_LABEL: usize = 63;

/// Why text is not a domain name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Nothing but the root (`""` or `"."`).
    Empty,
    /// Two dots in a row or a leading dot.
    EmptyLabel,
    /// A label longer than 63 bytes.
    LabelTooLong,
    /// Longer than 255 bytes on the wire.
    TooLong,
    /// A `\` escape (not supported).
    Escape,
}

/// A domain name, uncompressed wire form (length-prefixed labels and the
/// root's zero byte).
#[derive(Clone)]
pub struct Name {
    len: u8,
    buf: [u8; MAX_WIRE],
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut buf = [0u8; 1024];
        let mut o = Out::new(&mut buf);
        self.write_text(&mut o);
        f.write_str(core::str::from_utf8(o.written()).unwrap_or("?"))
    }
}

impl PartialEq for Name {
    /// ASCII case-insensitive, as DNS compares names.
    fn eq(&self, other: &Name) -> bool {
        self.eq_ignore_case(other)
    }
}

impl Eq for Name {}

impl Name {
    /// The root name.
    pub const fn root() -> Name {
        Name {
            len: 1,
            buf: [0; MAX_WIRE],
        }
    }

    /// Parses `www.example.com` or `www.example.com.`.
    pub fn from_text(text: &[u8]) -> Result<Name, NameError> {
        Name::from_texts(&[text])
    }

    /// Joins text parts, each with or without a final dot:
    /// `["host", "example.com"]` is `host.example.com.`. Empty parts are
    /// skipped; the result must not be the root.
    pub fn from_texts(parts: &[&[u8]]) -> Result<Name, NameError> {
        let mut name = Name::root();
        for part in parts {
            let part = part.strip_suffix(b".").unwrap_or(part);
            if part.is_empty() {
                continue;
            }
            for label in part.split(|&b| b == b'.') {
                if label.contains(&b'\\') {
                    return Err(NameError::Escape);
                }
                name.push_label(label)?;
            }
        }
        if name.is_root() {
            return Err(NameError::Empty);
        }
        Ok(name)
    }

    /// Appends a label before the root.
    pub(crate) fn push_label(&mut self, label: &[u8]) -> Result<(), NameError> {
        let n = label.len();
        if n == 0 {
            return Err(NameError::EmptyLabel);
        }
        if n > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
        // The root byte sits at len - 1; the label replaces it and a new
        // root byte follows.
        let at = usize::from(self.len).saturating_sub(1);
        let new_len = at.saturating_add(n).saturating_add(2);
        if new_len > MAX_WIRE {
            return Err(NameError::TooLong);
        }
        let dst = self.buf.get_mut(at..new_len).ok_or(NameError::TooLong)?;
        let (len_byte, rest) = dst.split_first_mut().ok_or(NameError::TooLong)?;
        let (text, root) = rest.split_at_mut_checked(n).ok_or(NameError::TooLong)?;
        *len_byte = n as u8;
        crate::out::copy(text, label);
        root.fill(0);
        self.len = new_len as u8;
        Ok(())
    }

    /// The wire form, root byte included.
    pub fn wire(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[0])
    }

    /// Just the root.
    pub fn is_root(&self) -> bool {
        self.len <= 1
    }

    /// The labels, first to last (the root not included).
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: self.wire() }
    }

    /// Same name, ASCII case ignored. Length bytes are below 64, so a
    /// case-insensitive compare of the wire forms is exact.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire().eq_ignore_ascii_case(other.wire())
    }

    /// Writes the presentation form without the final dot (`.` for the
    /// root), escaping like `ns_name_ntop`: `\.` for the special
    /// characters `. ; \ ( ) @ $ "`, `\DDD` for bytes outside 0x21..0x7e.
    pub fn write_text(&self, out: &mut Out<'_>) {
        if self.is_root() {
            out.push(b'.');
            return;
        }
        for (i, label) in self.labels().enumerate() {
            if i != 0 {
                out.push(b'.');
            }
            for &c in label {
                match c {
                    b'.' | b';' | b'\\' | b'(' | b')' | b'@' | b'$' | b'"' => out.extend(&[b'\\', c]),
                    0x21..=0x7e => out.push(c),
                    _ => out.extend(&[
                        b'\\',
                        b'0'.wrapping_add(c / 100),
                        b'0'.wrapping_add(c / 10 % 10),
                        b'0'.wrapping_add(c % 10),
                    ]),
                }
            }
        }
    }
}

/// Iterator over the labels of an uncompressed wire name.
pub struct Labels<'n> {
    rest: &'n [u8],
}

impl<'n> Iterator for Labels<'n> {
    type Item = &'n [u8];

    fn next(&mut self) -> Option<&'n [u8]> {
        let (&n, tail) = self.rest.split_first()?;
        if n == 0 {
            return None;
        }
        let (label, after) = tail.split_at_checked(usize::from(n))?;
        self.rest = after;
        Some(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: &Name) -> String {
        let mut buf = [0u8; 1024];
        let mut o = Out::new(&mut buf);
        n.write_text(&mut o);
        String::from_utf8(o.written().to_vec()).unwrap()
    }

    #[test]
    fn text_to_wire_and_back() {
        let n = Name::from_text(b"www.Example.com.").unwrap();
        assert_eq!(n.wire(), b"\x03www\x07Example\x03com\x00");
        assert_eq!(n, Name::from_text(b"WWW.example.COM").unwrap());
        assert_eq!(text(&n), "www.Example.com");
        assert_eq!(
            Name::from_texts(&[b"host", b"", b"example.com."]).unwrap().wire(),
            b"\x04host\x07example\x03com\x00"
        );
        assert_eq!(text(&Name::root()), ".");
        assert_eq!(n.labels().count(), 3);
    }

    #[test]
    fn refuses_bad_text() {
        assert_eq!(Name::from_text(b"").unwrap_err(), NameError::Empty);
        assert_eq!(Name::from_text(b".").unwrap_err(), NameError::Empty);
        assert_eq!(Name::from_text(b"a..b").unwrap_err(), NameError::EmptyLabel);
        assert_eq!(Name::from_text(b".a").unwrap_err(), NameError::EmptyLabel);
        assert_eq!(Name::from_text(b"a..").unwrap_err(), NameError::EmptyLabel);
        assert_eq!(Name::from_text(b"a\\.b").unwrap_err(), NameError::Escape);
        let l63 = [b'a'; 63];
        assert!(Name::from_text(&l63).is_ok());
        assert_eq!(Name::from_text(&[b'a'; 64]).unwrap_err(), NameError::LabelTooLong);
        // 4 labels of 63 = 256 wire bytes with the root: one too many.
        let mut long = Vec::new();
        for i in 0..4 {
            if i != 0 {
                long.push(b'.');
            }
            long.extend_from_slice(&l63);
        }
        assert_eq!(Name::from_text(&long).unwrap_err(), NameError::TooLong);
        // 3 x 63 + 61 = 253 text bytes = 255 wire bytes: the longest name.
        long.truncate(3 * 64 + 61);
        assert_eq!(Name::from_text(&long).unwrap().wire().len(), 255);
    }

    #[test]
    fn escapes_like_ns_name_ntop() {
        let mut n = Name::root();
        n.push_label(b"a.b\\c").unwrap();
        n.push_label(b"\x00 \x7f\xff").unwrap();
        assert_eq!(text(&n), "a\\.b\\\\c.\\000\\032\\127\\255");
    }
}
