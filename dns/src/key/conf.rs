//! `/etc/keyutils/key.dns_resolver.conf`, read as key.dns_resolver
//! (keyutils 1.6.3 `read_config`) reads it.
//!
//! One `key[=value]` per line; leading and trailing blanks ignored; a line
//! starting with `#` is a comment. A value may be quoted with `"` or `'`
//! (nothing may follow the closing quote); `\` escapes a blank, a quote or
//! a backslash (any other escape is an error); an unquoted `#` ends the
//! value. Only `default_ttl` is known: a decimal number (as `%u` reads it:
//! leading blanks, a sign) in 1..=2147483647 with nothing after it. An
//! unknown key is not an error (keyutils warns; [`KeyConf::unknown_line`]
//! says where). Differences: a last line without a newline is accepted
//! (keyutils refuses it), and a number above 2147483647 is out of range
//! even where `%u` would have wrapped it into range.

/// The largest `default_ttl` (INT_MAX).
pub const MAX_DEFAULT_TTL: u32 = i32::MAX as u32;

/// What the file sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyConf {
    /// Seconds for answers without a record TTL (default 5).
    pub default_ttl: u32,
    /// The first line with an unknown key, if any (1-based).
    pub unknown_line: Option<u32>,
}

impl Default for KeyConf {
    fn default() -> KeyConf {
        KeyConf {
            default_ttl: 5,
            unknown_line: None,
        }
    }
}

/// What is wrong, in keyutils' words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyConfErrorKind {
    /// `=value` with no key.
    UnspecifiedKey,
    /// `key=` or `default_ttl` alone.
    MissingValue,
    /// `\x` for an x that cannot be escaped.
    InvalidEscape,
    /// Something after the closing quote.
    DataAfterQuote,
    /// A `\` at the end.
    IncompleteEscape,
    /// No closing quote.
    UnclosedQuotes,
    /// Not a number.
    BadValue,
    /// Something after the number.
    ExtraData,
    /// Not in 1..=2147483647.
    OutOfRange,
}

impl KeyConfErrorKind {
    /// keyutils' message.
    pub fn message(self) -> &'static str {
        match self {
            KeyConfErrorKind::UnspecifiedKey => "Unspecified key",
            KeyConfErrorKind::MissingValue => "Missing value",
            KeyConfErrorKind::InvalidEscape => "Invalid char in escape",
            KeyConfErrorKind::DataAfterQuote => "Data after closing quote",
            KeyConfErrorKind::IncompleteEscape => "Incomplete escape",
            KeyConfErrorKind::UnclosedQuotes => "Unclosed quotes",
            KeyConfErrorKind::BadValue => "Bad value",
            KeyConfErrorKind::ExtraData => "Extra data supplied",
            KeyConfErrorKind::OutOfRange => "Value out of range",
        }
    }
}

/// An error and its line (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyConfError {
    /// Line number.
    pub line: u32,
    /// What.
    pub kind: KeyConfErrorKind,
}

/// C's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e.saturating_add(1));
    s.get(start..end).unwrap_or(&[])
}

/// `%u` fed one byte at a time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Number {
    Start,
    Sign { neg: bool },
    Digits { neg: bool, value: u64 },
    After { neg: bool, value: u64 },
    Bad,
}

impl Number {
    fn feed(self, c: u8) -> Number {
        match (self, c) {
            (Number::Start, c) if is_space(c) => Number::Start,
            (Number::Start, b'+' | b'-') => Number::Sign { neg: c == b'-' },
            (Number::Start | Number::Sign { .. }, b'0'..=b'9') => {
                let neg = matches!(self, Number::Sign { neg: true });
                Number::Digits {
                    neg,
                    value: u64::from(c.wrapping_sub(b'0')),
                }
            }
            (Number::Digits { neg, value }, b'0'..=b'9') => Number::Digits {
                neg,
                value: value.saturating_mul(10).saturating_add(u64::from(c.wrapping_sub(b'0'))),
            },
            (Number::Digits { neg, value } | Number::After { neg, value }, _) => Number::After { neg, value },
            _ => Number::Bad,
        }
    }

    fn finish(self) -> Result<u32, KeyConfErrorKind> {
        match self {
            Number::Digits { neg: false, value } if (1..=u64::from(MAX_DEFAULT_TTL)).contains(&value) => {
                Ok(value as u32)
            }
            Number::Digits { .. } => Err(KeyConfErrorKind::OutOfRange),
            Number::After { .. } => Err(KeyConfErrorKind::ExtraData),
            _ => Err(KeyConfErrorKind::BadValue),
        }
    }
}

/// Reads the file (see the module text).
pub fn parse_key_conf(text: &[u8]) -> Result<KeyConf, KeyConfError> {
    let mut conf = KeyConf::default();
    let mut lineno: u32 = 0;
    for line in text.split(|&b| b == b'\n') {
        lineno = lineno.saturating_add(1);
        let err = |kind| KeyConfError { line: lineno, kind };
        let line = trim(line);
        if line.is_empty() || line.first() == Some(&b'#') {
            continue;
        }
        let (key, value) = match line.iter().position(|&b| b == b'=') {
            Some(0) => return Err(err(KeyConfErrorKind::UnspecifiedKey)),
            Some(eq) => {
                let key = trim(line.get(..eq).unwrap_or(&[]));
                let value = trim(line.get(eq.saturating_add(1)..).unwrap_or(&[]));
                if value.is_empty() {
                    return Err(err(KeyConfErrorKind::MissingValue));
                }
                (key, Some(value))
            }
            None => (line, None),
        };
        let is_ttl = key == b"default_ttl";
        let mut number = Number::Start;
        if let Some(v) = value {
            let (quote, body) = match v.split_first() {
                Some((&q @ (b'"' | b'\''), rest)) => (Some(q), rest),
                _ => (None, v),
            };
            let mut escaped = false;
            let mut closed = false;
            let mut it = body.iter();
            while let Some(&c) = it.next() {
                let emit = if escaped {
                    if !matches!(c, b' ' | b'\t' | b'"' | b'\'' | b'\\') {
                        return Err(err(KeyConfErrorKind::InvalidEscape));
                    }
                    escaped = false;
                    true
                } else if c == b'\\' {
                    escaped = true;
                    false
                } else if Some(c) == quote {
                    if it.next().is_some() {
                        return Err(err(KeyConfErrorKind::DataAfterQuote));
                    }
                    closed = true;
                    break;
                } else if quote.is_none() && c == b'#' {
                    break;
                } else {
                    true
                };
                if emit {
                    number = number.feed(c);
                }
            }
            if escaped {
                return Err(err(KeyConfErrorKind::IncompleteEscape));
            }
            if quote.is_some() && !closed {
                return Err(err(KeyConfErrorKind::UnclosedQuotes));
            }
        }
        if is_ttl {
            if value.is_none() {
                return Err(err(KeyConfErrorKind::MissingValue));
            }
            conf.default_ttl = number.finish().map_err(err)?;
        } else if conf.unknown_line.is_none() {
            conf.unknown_line = Some(lineno);
        }
    }
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyConfErrorKind::*;

    fn ttl(text: &str) -> Result<u32, (u32, KeyConfErrorKind)> {
        parse_key_conf(text.as_bytes())
            .map(|c| c.default_ttl)
            .map_err(|e| (e.line, e.kind))
    }

    #[test]
    fn values() {
        assert_eq!(ttl(""), Ok(5));
        assert_eq!(ttl("# comment\n\n  default_ttl = 30  \n"), Ok(30));
        assert_eq!(ttl("default_ttl=\"7\"\n"), Ok(7));
        assert_eq!(ttl("default_ttl='  +8'"), Ok(8));
        assert_eq!(ttl("default_ttl=9# comment\n"), Ok(9));
        assert_eq!(ttl("default_ttl=2147483647\n"), Ok(2147483647));
        assert_eq!(ttl("default_ttl=1\ndefault_ttl=2\n"), Ok(2));
        let c = parse_key_conf(b"other = x\nthird\ndefault_ttl=3\n").unwrap();
        assert_eq!(
            c,
            KeyConf {
                default_ttl: 3,
                unknown_line: Some(1)
            }
        );
    }

    #[test]
    fn errors_as_keyutils() {
        assert_eq!(ttl("\n=5\n"), Err((2, UnspecifiedKey)));
        assert_eq!(ttl("default_ttl=\n"), Err((1, MissingValue)));
        assert_eq!(ttl("default_ttl\n"), Err((1, MissingValue)));
        assert_eq!(ttl("other=\n"), Err((1, MissingValue)));
        assert_eq!(ttl("other=a\\b\n"), Err((1, InvalidEscape)));
        assert_eq!(ttl("default_ttl=\"5\"x\n"), Err((1, DataAfterQuote)));
        assert_eq!(ttl("default_ttl=5\\\n"), Err((1, IncompleteEscape)));
        assert_eq!(ttl("default_ttl=\"5\n"), Err((1, UnclosedQuotes)));
        assert_eq!(ttl("default_ttl=abc\n"), Err((1, BadValue)));
        assert_eq!(ttl("default_ttl=-\n"), Err((1, BadValue)));
        assert_eq!(ttl("default_ttl=5s\n"), Err((1, ExtraData)));
        // keyutils quirk kept: the blank before an unquoted comment stays
        // in the value.
        assert_eq!(ttl("default_ttl=5 # c\n"), Err((1, ExtraData)));
        assert_eq!(ttl("default_ttl=\"5\\ \"\n"), Err((1, ExtraData)));
        assert_eq!(ttl("default_ttl=0\n"), Err((1, OutOfRange)));
        assert_eq!(ttl("default_ttl=-5\n"), Err((1, OutOfRange)));
        assert_eq!(ttl("default_ttl=2147483648\n"), Err((1, OutOfRange)));
        assert_eq!(ttl("default_ttl=99999999999999999999999999\n"), Err((1, OutOfRange)));
        assert_eq!(OutOfRange.message(), "Value out of range");
    }
}
