//! Lines and tokens, unquoted in place.
//!
//! A line's tokens are rewritten over the line's own bytes: quotes and
//! escapes removed, each token followed by a NUL. Output never outruns
//! input (a token of n input bytes gives at most n bytes, and its NUL lands
//! on the separator after it, or on the newline, or — for the last line of
//! a file without a final newline — on the spare byte after the file), so
//! the rewrite needs no other memory. Each line is split off the buffer
//! before it is rewritten, which lets the tokens of earlier lines be shared
//! `&CStr`s while later lines are still being changed.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

use super::ParseError;
use core::ffi::CStr;

/// Longest line, in bytes, not counting its newline.
pub const LINE_MAX: usize = 1024;

/// The lines of a spec file.
pub struct Lines<'a> {
    /// The bytes not yet read, always followed by the spare byte (the last
    /// element).
    rest: &'a mut [u8],
    line: u32,
}

impl<'a> Lines<'a> {
    /// `region` is the file's bytes plus one spare byte at the end.
    pub fn new(region: &'a mut [u8]) -> Self {
        Lines { rest: region, line: 0 }
    }

    /// The next line's number and tokens (empty for blank and comment
    /// lines), or the error that stopped it.
    pub fn next_line(&mut self) -> Option<Result<Toks<'a>, ParseError>> {
        let content_end = self.rest.len().checked_sub(1)?;
        if content_end == 0 {
            return None;
        }
        self.line = self.line.saturating_add(1);
        let rest = core::mem::take(&mut self.rest);
        let newline = rest.get(..content_end).and_then(|c| c.iter().position(|&b| b == b'\n'));
        // The line with its newline; the last line also takes the spare byte.
        let cut = newline.map_or(rest.len(), |i| i.saturating_add(1));
        let content_len = newline.unwrap_or(content_end);
        let (region, after) = rest.split_at_mut_checked(cut).unwrap_or_default();
        self.rest = after;
        if content_len > LINE_MAX {
            return Some(Err(ParseError::new(self.line, "line longer than 1024 bytes", b"")));
        }
        Some(split(region, content_len, self.line).map(|w| {
            let toks = match region.split_at_mut_checked(w) {
                Some((toks, _)) => toks,
                None => &mut [],
            };
            Toks {
                rest: toks,
                line: self.line,
            }
        }))
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r')
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => c.checked_sub(b'0'),
        b'a'..=b'f' => c.checked_sub(b'a' - 10),
        b'A'..=b'F' => c.checked_sub(b'A' - 10),
        _ => None,
    }
}

/// Rewrites the tokens of `region[..content_len]` in place, each followed
/// by a NUL; returns how many bytes it wrote. `region` is at least one byte
/// longer than `content_len`.
fn split(region: &mut [u8], content_len: usize, line: u32) -> Result<usize, ParseError> {
    let internal = || ParseError::new(line, "internal error: token rewrite out of bounds", b"");
    let at = |region: &[u8], i: usize| region.get(i).copied().filter(|_| i < content_len);
    let (mut r, mut w) = (0usize, 0usize);
    loop {
        while at(region, r).is_some_and(is_space) {
            r = r.saturating_add(1);
        }
        match at(region, r) {
            None | Some(b'#') => return Ok(w),
            Some(_) => {}
        }
        let start = w;
        let mut quoted = false;
        loop {
            let Some(c) = at(region, r) else {
                if quoted {
                    let so_far = region.get(start..w).unwrap_or(&[]);
                    return Err(ParseError::new(line, "unterminated quote", so_far));
                }
                break;
            };
            let out = match (quoted, c) {
                (_, 0) => return Err(ParseError::new(line, "NUL byte in the line", b"")),
                (false, c) if is_space(c) => {
                    // Step past the separator: the NUL may land on it.
                    r = r.saturating_add(1);
                    break;
                }
                (_, b'"') => {
                    quoted = !quoted;
                    r = r.saturating_add(1);
                    continue;
                }
                (true, b'\\') => {
                    let e = at(region, r.saturating_add(1));
                    let (out, used) = match e {
                        Some(b'\\') => (b'\\', 2),
                        Some(b'"') => (b'"', 2),
                        Some(b'n') => (b'\n', 2),
                        Some(b't') => (b'\t', 2),
                        Some(b'x') => {
                            let hi = at(region, r.saturating_add(2)).and_then(hex_digit);
                            let lo = at(region, r.saturating_add(3)).and_then(hex_digit);
                            match (hi, lo) {
                                (Some(hi), Some(lo)) => {
                                    let v = (hi << 4) | lo;
                                    if v == 0 {
                                        return Err(ParseError::new(
                                            line,
                                            "\\x00 is not allowed (tokens are C strings)",
                                            b"\\x00",
                                        ));
                                    }
                                    (v, 4)
                                }
                                _ => {
                                    let end = r.saturating_add(4).min(content_len);
                                    let seq = region.get(r..end).unwrap_or(&[]);
                                    return Err(ParseError::new(line, "\\x needs two hex digits", seq));
                                }
                            }
                        }
                        _ => {
                            let end = r.saturating_add(2).min(content_len);
                            let seq = region.get(r..end).unwrap_or(&[]);
                            return Err(ParseError::new(line, "unknown escape (\\\\ \\\" \\n \\t \\xHH)", seq));
                        }
                    };
                    r = r.saturating_add(used);
                    out
                }
                (_, c) => {
                    r = r.saturating_add(1);
                    c
                }
            };
            *region.get_mut(w).ok_or_else(internal)? = out;
            w = w.saturating_add(1);
        }
        *region.get_mut(w).ok_or_else(internal)? = 0;
        w = w.saturating_add(1);
    }
}

/// The tokens of one line, each with its NUL.
pub struct Toks<'a> {
    rest: &'a mut [u8],
    /// The 1-based line number.
    pub line: u32,
}

/// One token: its bytes and the NUL after them.
pub struct Tok<'a>(&'a mut [u8]);

impl<'a> Toks<'a> {
    pub fn next_tok(&mut self) -> Option<Tok<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let rest = core::mem::take(&mut self.rest);
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .map_or(rest.len(), |i| i.saturating_add(1));
        let (tok, after) = rest.split_at_mut_checked(end).unwrap_or_default();
        self.rest = after;
        Some(Tok(tok))
    }
}

impl<'a> Tok<'a> {
    /// The token's bytes, without the NUL.
    pub fn bytes(&self) -> &[u8] {
        match self.0.split_last() {
            Some((0, b)) => b,
            _ => self.0,
        }
    }

    /// The token as a C string pointing into the buffer.
    pub fn cstr(self) -> &'a CStr {
        let s: &'a [u8] = self.0;
        CStr::from_bytes_until_nul(s).unwrap_or_default()
    }

    /// The token's bytes and its NUL, to be rewritten further.
    pub fn into_mut(self) -> &'a mut [u8] {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line's number and tokens.
    type Split = Vec<(u32, Vec<Vec<u8>>)>;

    fn lines(src: &[u8]) -> Result<Split, ParseError> {
        let mut buf = src.to_vec();
        buf.push(0xAA); // the spare byte, deliberately not zero
        let mut ls = Lines::new(&mut buf);
        let mut out = Vec::new();
        while let Some(l) = ls.next_line() {
            let mut t = l?;
            let line = t.line;
            let mut v = Vec::new();
            while let Some(tok) = t.next_tok() {
                assert_eq!(tok.0.last(), Some(&0));
                v.push(tok.bytes().to_vec());
            }
            out.push((line, v));
        }
        Ok(out)
    }

    fn toks(src: &str) -> Vec<String> {
        let l = lines(src.as_bytes()).unwrap();
        assert_eq!(l.len(), 1, "{src:?}");
        l[0].1.iter().map(|t| String::from_utf8(t.clone()).unwrap()).collect()
    }

    fn err(src: &[u8]) -> ParseError {
        lines(src).unwrap_err()
    }

    #[test]
    fn splits_on_spaces_and_tabs() {
        assert_eq!(toks("a b\tc  d"), ["a", "b", "c", "d"]);
        assert_eq!(toks("  lead trail  "), ["lead", "trail"]);
        assert_eq!(toks("crlf ends\r"), ["crlf", "ends"]);
        assert_eq!(toks("x"), ["x"]);
        assert!(lines(b"").unwrap().is_empty());
        assert!(toks("   \t ").is_empty());
    }

    #[test]
    fn comments() {
        assert!(toks("# a comment").is_empty());
        assert!(toks("   # indented").is_empty());
        assert_eq!(toks("a # rest"), ["a"]);
        assert_eq!(toks("a#b c"), ["a#b", "c"]);
        assert_eq!(toks("\"#x\" y"), ["#x", "y"]);
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(toks(r#""a b" c"#), ["a b", "c"]);
        assert_eq!(toks(r#"A="b c""#), ["A=b c"]);
        assert_eq!(toks(r#""a"b"c""#), ["abc"]);
        assert_eq!(toks(r#""""#), [""]);
        assert_eq!(toks(r#"x "" y"#), ["x", "", "y"]);
        assert_eq!(toks(r#""\\ \" \n \t \x41\x7e""#), ["\\ \" \n \t A~"]);
        assert_eq!(toks(r#"a\b"#), ["a\\b"]);
        let l = lines(br#""\xfF""#).unwrap();
        assert_eq!(l[0].1[0], [0xff]);
    }

    #[test]
    fn non_utf8_passes() {
        let l = lines(b"a \xff\xfe b").unwrap();
        assert_eq!(l[0].1, [b"a".to_vec(), vec![0xff, 0xfe], b"b".to_vec()]);
    }

    #[test]
    fn quote_errors() {
        let e = err(b"ok\nenv \"A=b");
        assert_eq!((e.line, e.msg), (2, "unterminated quote"));
        assert_eq!(&e.token[..], b"A=b");
        let e = err(br#"x "\q""#);
        assert_eq!((e.line, &e.token[..]), (1, &br"\q"[..]));
        assert!(e.msg.starts_with("unknown escape"));
        let e = err(br#"x "\x4""#);
        assert_eq!(e.msg, "\\x needs two hex digits");
        let e = err(br#"x "\x4"#);
        assert_eq!(e.msg, "\\x needs two hex digits");
        let e = err(br#"x "\"#);
        assert!(e.msg.starts_with("unknown escape"));
        let e = err(br#"x "\x00""#);
        assert!(e.msg.starts_with("\\x00"));
        let e = err(b"x\n\ny \0");
        assert_eq!((e.line, e.msg), (3, "NUL byte in the line"));
    }

    #[test]
    fn line_numbers_and_final_line() {
        let l = lines(b"a\n\n# c\nb c\nlast").unwrap();
        let nums: Vec<u32> = l.iter().map(|x| x.0).collect();
        assert_eq!(nums, [1, 2, 3, 4, 5]);
        assert_eq!(l[4].1, [b"last".to_vec()]);
        let l = lines(b"a\n").unwrap();
        assert_eq!(l.len(), 1);
        assert!(lines(b"").unwrap().is_empty());
        // The last token of a file without a newline uses the spare byte.
        let l = lines(b"k \"v\"").unwrap();
        assert_eq!(l[0].1, [b"k".to_vec(), b"v".to_vec()]);
    }

    #[test]
    fn line_length_limit() {
        let ok = format!("k {}", "x".repeat(LINE_MAX - 2));
        assert_eq!(lines(ok.as_bytes()).unwrap()[0].1.len(), 2);
        let long = format!("a\nk {}\n", "x".repeat(LINE_MAX - 1));
        let e = err(long.as_bytes());
        assert_eq!((e.line, e.msg), (2, "line longer than 1024 bytes"));
    }
}
