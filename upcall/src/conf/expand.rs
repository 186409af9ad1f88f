//! Macro expansion of one argument token (keyutils' `execute_program`).
//!
//! Macros are whole arguments: a token starting with `%` is a macro, text
//! around a `%` elsewhere is never touched. `%%…` is the token minus its
//! first `%`; `%X` with one letter X is a single-letter macro (an unknown
//! letter is an error); `%{type:desc}` is a key lookup; any other token
//! starting with `%` (`%kx`, `%ab`) passes unchanged, as in keyutils.

use super::Query;

/// An expanded argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expanded<'a> {
    /// The argument, written at the start of the caller's buffer.
    Text(&'a [u8]),
    /// `%{type:desc}`: the argument is the payload of the key that
    /// `request_key(ty, desc, NULL)` finds in the requester's keyrings, which
    /// must pass [`check_keysub_payload`].
    Lookup {
        /// The key type (no `:` in it).
        ty: &'a [u8],
        /// The key description.
        desc: &'a [u8],
    },
}

/// Why an argument cannot be expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// `%` alone.
    MissingName,
    /// `%X` with an unknown letter X.
    Unsupported,
    /// `%{…` without `:`.
    KeysubNoColon,
    /// `%{type:…` without `}`.
    KeysubUnterminated,
    /// Bytes after the `}` of `%{type:desc}`.
    KeysubTrailing,
    /// `%{:desc}`.
    KeysubTypeEmpty,
    /// `%{type:}`.
    KeysubDescEmpty,
    /// The argument does not fit in the caller's buffer.
    TooSmall,
}

impl ExpandError {
    /// What is wrong, in keyutils' words where it has them.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingName => "Missing macro name",
            Self::Unsupported => "Unsupported macro",
            Self::KeysubNoColon => "Keysub macro lacks ':'",
            Self::KeysubUnterminated => "Unterminated keysub macro",
            Self::KeysubTrailing => "Keysub macro has trailing rubbish",
            Self::KeysubTypeEmpty => "Keysub type empty",
            Self::KeysubDescEmpty => "Keysub description empty",
            Self::TooSmall => "argument too long for its buffer",
        }
    }
}

/// Expands one raw argument token of the chosen line for a query, writing
/// text into `out`.
pub fn expand<'a>(arg: &'a [u8], q: &Query<'_>, out: &'a mut [u8]) -> Result<Expanded<'a>, ExpandError> {
    let Some(name) = arg.strip_prefix(b"%") else {
        return copy(arg, out);
    };
    match name {
        [] => Err(ExpandError::MissingName),
        [b'%', ..] => copy(name, out),
        [letter] => match letter {
            b'o' => copy(q.op, out),
            b'k' => decimal(q.key, out),
            b't' => copy(q.ty, out),
            b'd' => copy(q.desc, out),
            b'c' => copy(q.callout, out),
            // The kernel prints ids with "%d".
            b'u' => decimal(q.uid as i32, out),
            b'g' => decimal(q.gid as i32, out),
            b'T' => decimal(q.thread, out),
            b'P' => decimal(q.process, out),
            b'S' => decimal(q.session, out),
            _ => Err(ExpandError::Unsupported),
        },
        [b'{', body @ ..] => keysub(body),
        _ => copy(arg, out),
    }
}

/// `%{type:desc}` after its `{`, checked in keyutils' order.
fn keysub(body: &[u8]) -> Result<Expanded<'_>, ExpandError> {
    let colon = body.iter().position(|&b| b == b':').ok_or(ExpandError::KeysubNoColon)?;
    let (ty, rest) = body.split_at_checked(colon).ok_or(ExpandError::KeysubNoColon)?;
    let rest = rest.get(1..).unwrap_or_default();
    let close = rest
        .iter()
        .position(|&b| b == b'}')
        .ok_or(ExpandError::KeysubUnterminated)?;
    let (desc, tail) = rest.split_at_checked(close).ok_or(ExpandError::KeysubUnterminated)?;
    if tail.len() > 1 {
        return Err(ExpandError::KeysubTrailing);
    }
    if ty.is_empty() {
        return Err(ExpandError::KeysubTypeEmpty);
    }
    if desc.is_empty() {
        return Err(ExpandError::KeysubDescEmpty);
    }
    Ok(Expanded::Lookup { ty, desc })
}

fn copy<'a>(text: &[u8], out: &'a mut [u8]) -> Result<Expanded<'a>, ExpandError> {
    let dst = out.get_mut(..text.len()).ok_or(ExpandError::TooSmall)?;
    dst.copy_from_slice(text);
    Ok(Expanded::Text(dst))
}

/// `v` in decimal, as `printf("%d")` writes it.
fn decimal(v: i32, out: &mut [u8]) -> Result<Expanded<'_>, ExpandError> {
    let mut digits = [b'-'; 11];
    let mut n = v.unsigned_abs();
    let mut len = 0;
    for slot in digits.iter_mut().rev() {
        // n % 10 < 10: the cast keeps it.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        len += 1;
    }
    let start = digits.len().saturating_sub(len);
    copy(digits.get(start..).unwrap_or_default(), out)
}

/// The first byte of a `%{type:desc}` payload that is not printable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotPrintable {
    /// Its offset in the payload.
    pub at: usize,
    /// The byte.
    pub byte: u8,
}

/// keyutils' check of a `%{type:desc}` payload: every byte must be
/// printable ASCII (C-locale `isprint`, 0x20..=0x7e); an empty payload passes.
pub fn check_keysub_payload(payload: &[u8]) -> Result<(), NotPrintable> {
    match payload.iter().position(|b| !(0x20..=0x7e).contains(b)) {
        Some(at) => Err(NotPrintable {
            at,
            byte: payload.get(at).copied().unwrap_or_default(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Query<'static> = Query {
        op: b"create",
        ty: b"user",
        desc: b"my;desc %k",
        callout: b"co info",
        key: 1234,
        uid: 100000,
        gid: u32::MAX,
        thread: 0,
        process: -7,
        session: i32::MIN,
    };

    fn text(arg: &[u8]) -> Result<Vec<u8>, ExpandError> {
        let mut out = [0u8; 64];
        match expand(arg, &Q, &mut out)? {
            Expanded::Text(t) => Ok(t.to_vec()),
            Expanded::Lookup { .. } => panic!("lookup"),
        }
    }

    #[test]
    fn every_macro() {
        let cases: &[(&str, &str)] = &[
            ("%o", "create"),
            ("%k", "1234"),
            ("%t", "user"),
            ("%d", "my;desc %k"),
            ("%c", "co info"),
            ("%u", "100000"),
            ("%g", "-1"),
            ("%T", "0"),
            ("%P", "-7"),
            ("%S", "-2147483648"),
            ("%%", "%"),
            ("%%k", "%k"),
            ("%%%", "%%"),
            ("%kx", "%kx"),
            ("%ab", "%ab"),
            ("a%k", "a%k"),
            ("plain", "plain"),
            ("", ""),
        ];
        for &(arg, want) in cases {
            assert_eq!(text(arg.as_bytes()).as_deref(), Ok(want.as_bytes()), "{arg}");
        }
        assert_eq!(text(b"%"), Err(ExpandError::MissingName));
        assert_eq!(text(b"%Z"), Err(ExpandError::Unsupported));
        assert_eq!(text(b"%{"), Err(ExpandError::Unsupported));
        assert_eq!(text(b"%\xff"), Err(ExpandError::Unsupported));
    }

    #[test]
    fn keysub() {
        let mut out = [0u8; 4];
        let got = expand(b"%{user:a:b}", &Q, &mut out);
        assert_eq!(
            got,
            Ok(Expanded::Lookup {
                ty: b"user",
                desc: b"a:b"
            })
        );
        let got = expand(b"%{a}b:c}", &Q, &mut out);
        assert_eq!(got, Ok(Expanded::Lookup { ty: b"a}b", desc: b"c" }));
        let cases: &[(&str, ExpandError)] = &[
            ("%{user}", ExpandError::KeysubNoColon),
            ("%{}", ExpandError::KeysubNoColon),
            ("%{user:x", ExpandError::KeysubUnterminated),
            ("%{user:x}y", ExpandError::KeysubTrailing),
            ("%{:x}y", ExpandError::KeysubTrailing),
            ("%{:x}", ExpandError::KeysubTypeEmpty),
            ("%{:}", ExpandError::KeysubTypeEmpty),
            ("%{user:}", ExpandError::KeysubDescEmpty),
        ];
        for &(arg, want) in cases {
            assert_eq!(expand(arg.as_bytes(), &Q, &mut out), Err(want), "{arg}");
        }
    }

    #[test]
    fn buffer_too_small() {
        let mut out = [0u8; 4];
        assert_eq!(expand(b"%k", &Q, &mut out), Ok(Expanded::Text(b"1234")));
        assert_eq!(expand(b"%u", &Q, &mut out), Err(ExpandError::TooSmall));
        assert_eq!(expand(b"abcde", &Q, &mut out), Err(ExpandError::TooSmall));
        assert_eq!(expand(b"%S", &Q, &mut [0u8; 10]), Err(ExpandError::TooSmall));
        assert_eq!(expand(b"%S", &Q, &mut [0u8; 11]), Ok(Expanded::Text(b"-2147483648")));
        assert_eq!(expand(b"", &Q, &mut []), Ok(Expanded::Text(b"")));
    }

    #[test]
    fn long_descriptions_are_data() {
        let mut desc = b"$(reboot);`id` | rm -rf / > /dev/sda && \"'\\ %k %%".to_vec();
        desc.resize(4095, b'*');
        let q = Query { desc: &desc, ..Q };
        let mut out = [0u8; 4095];
        assert_eq!(expand(b"%d", &q, &mut out), Ok(Expanded::Text(&desc[..])));
        assert_eq!(expand(b"%d", &q, &mut [0u8; 4094]), Err(ExpandError::TooSmall));
    }

    #[test]
    fn keysub_payload() {
        assert_eq!(check_keysub_payload(b""), Ok(()));
        assert_eq!(check_keysub_payload(b" ~printable~ "), Ok(()));
        assert_eq!(
            check_keysub_payload(b"ab\ncd"),
            Err(NotPrintable { at: 2, byte: b'\n' })
        );
        assert_eq!(check_keysub_payload(b"\x7f"), Err(NotPrintable { at: 0, byte: 0x7f }));
        assert_eq!(check_keysub_payload(b"a\0"), Err(NotPrintable { at: 1, byte: 0 }));
        assert_eq!(
            check_keysub_payload(b"\xc3\xa9"),
            Err(NotPrintable { at: 0, byte: 0xc3 })
        );
    }
}
