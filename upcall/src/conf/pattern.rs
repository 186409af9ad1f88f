//! One match pattern of a request-key.conf line and its "wildness".

/// A match pattern: an exact datum, or a prefix and a suffix around one `*`
/// (`*`, `prefix*`, `*suffix`, `prefix*suffix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern<'a> {
    /// No `*`: the datum must be these bytes.
    Exact(&'a [u8]),
    /// One `*`: the datum must start with `prefix` and end with `suffix`,
    /// which may not overlap in it.
    Wild {
        /// The bytes before the `*`.
        prefix: &'a [u8],
        /// The bytes after the `*`.
        suffix: &'a [u8],
    },
}

impl<'a> Pattern<'a> {
    /// Reads a pattern field; `None` if it holds more than one `*`.
    pub fn parse(field: &'a [u8]) -> Option<Self> {
        let mut parts = field.splitn(3, |&b| b == b'*');
        let prefix = parts.next().unwrap_or_default();
        match (parts.next(), parts.next()) {
            (None, _) => Some(Self::Exact(field)),
            (Some(suffix), None) => Some(Self::Wild { prefix, suffix }),
            (Some(_), Some(_)) => None,
        }
    }

    /// The wildness of a match: how many datum bytes the `*` absorbs (0 for an
    /// exact pattern), or `None` if the datum does not match. This is
    /// keyutils' `dlen - (plen - 1)` for every form with a `*`.
    pub fn wildness(&self, datum: &[u8]) -> Option<usize> {
        match *self {
            Self::Exact(p) => (p == datum).then_some(0),
            Self::Wild { prefix, suffix } => {
                let rest = datum.strip_prefix(prefix)?;
                let absorbed = rest.len().checked_sub(suffix.len())?;
                rest.ends_with(suffix).then_some(absorbed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn w(p: &str, d: &str) -> Option<usize> {
        Pattern::parse(p.as_bytes()).and_then(|p| p.wildness(d.as_bytes()))
    }

    #[test]
    fn match_table() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("create", "create", Some(0)),
            ("create", "creat", None),
            ("create", "createx", None),
            ("*", "", Some(0)),
            ("*", "anything", Some(8)),
            ("debug:*", "debug:1234", Some(4)),
            ("debug:12*", "debug:1234", Some(2)),
            ("debug:*", "debug:", Some(0)),
            ("debug:*", "debug", None),
            ("debug:*", "xdebug:1", None),
            ("*1234", "debug:1234", Some(6)),
            ("*1234", "1234", Some(0)),
            ("*1234", "234", None),
            ("*1234", "12345", None),
            // keyutils gets these wrong: it compares the datum's tail with the
            // start of the pattern.
            ("abc*def", "abcXXdef", Some(2)),
            ("abc*def", "abcdef", Some(0)),
            ("ab*xy", "abQab", None),
            // prefix and suffix may not share datum bytes.
            ("ab*ba", "aba", None),
            ("ab*ba", "abba", Some(0)),
            ("a*a", "a", None),
            ("a*a", "aa", Some(0)),
        ];
        for &(p, d, want) in cases {
            assert_eq!(w(p, d), want, "{p} vs {d}");
        }
    }

    #[test]
    fn more_than_one_star_is_refused() {
        assert_eq!(Pattern::parse(b"*a*"), None);
        assert_eq!(Pattern::parse(b"**"), None);
        assert_eq!(
            Pattern::parse(b"*"),
            Some(Pattern::Wild {
                prefix: b"",
                suffix: b""
            })
        );
    }

    #[test]
    fn bytes_not_utf8() {
        let p = Pattern::parse(b"\xff*\xfe").unwrap();
        assert_eq!(p.wildness(b"\xff\x80\x81\xfe"), Some(2));
        assert_eq!(p.wildness(b"\xfe\xff"), None);
    }
}
