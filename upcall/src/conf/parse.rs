//! Lines of a request-key.conf file and the fields of one line.

use super::pattern::Pattern;

/// The most bytes a line may hold before its `\n`. keyutils reads lines with
/// `fgets` into 4096 + 2 bytes and rejects one whose length, `\n` included,
/// is 4096 or more.
pub const MAX_LINE: usize = 4094;

/// The most arguments a program may have after its path: keyutils' argv holds
/// 256 pointers and it refuses a 254th entry.
pub const MAX_ARGS: usize = 253;

/// Why a line is skipped: one line of text, without file or line number.
pub(crate) mod reason {
    pub const TOO_LONG: &str = "line too long (more than 4094 bytes)";
    pub const NUL: &str = "NUL byte in line";
    pub const TOO_FEW: &str = "too few fields (want op, type, description, callout info and program)";
    pub const STARS: &str = "more than one '*' in a pattern";
    pub const PROGRAM: &str = "program is neither an absolute path nor builtin:NAME";
    pub const TOO_MANY: &str = "too many arguments (more than 253)";
}

/// C-locale `isspace`, which keyutils splits on.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The first whitespace-separated token of `s` and what follows it, or
/// `None` if `s` holds only whitespace.
pub(crate) fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = s.iter().position(|&b| !is_space(b))?;
    let s = s.get(start..)?;
    let end = s.iter().position(|&b| is_space(b)).unwrap_or(s.len());
    s.split_at_checked(end)
}

/// The lines of a file with their numbers (from 1, staying at `u32::MAX`
/// past it). A last line without `\n` counts whole.
pub(crate) fn lines(text: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let numbers = (1..=u32::MAX).chain(core::iter::repeat(u32::MAX));
    numbers.zip(text.split(|&b| b == b'\n'))
}

/// A line that is neither blank nor a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// The op, type, description and callout patterns.
    pub patterns: [Pattern<'a>; 4],
    /// The program field and everything after it.
    pub action: &'a [u8],
}

/// Reads one line (without its `\n`): `Ok(None)` for a line keyutils ignores,
/// `Err(reason)` for one we skip with a diagnostic.
pub(crate) fn parse_line(line: &[u8]) -> Result<Option<Line<'_>>, &'static str> {
    if line.len() > MAX_LINE {
        return Err(reason::TOO_LONG);
    }
    match line.first() {
        None | Some(b'#') => return Ok(None),
        Some(&b) if is_space(b) => return Ok(None),
        Some(_) => {}
    }
    if line.contains(&0) {
        return Err(reason::NUL);
    }
    let mut rest = line;
    let mut fields = [Pattern::Exact(b""); 4];
    for f in fields.iter_mut() {
        let (tok, after) = token(rest).ok_or(reason::TOO_FEW)?;
        *f = Pattern::parse(tok).ok_or(reason::STARS)?;
        rest = after;
    }
    let start = rest.iter().position(|&b| !is_space(b)).ok_or(reason::TOO_FEW)?;
    let action = rest.get(start..).unwrap_or_default();
    let (program, args) = split_action(action).ok_or(reason::PROGRAM)?;
    program_kind(program).ok_or(reason::PROGRAM)?;
    let mut args = args;
    for _ in 0..=MAX_ARGS {
        match token(args) {
            Some((_, after)) => args = after,
            None => {
                return Ok(Some(Line {
                    patterns: fields,
                    action,
                }))
            }
        }
    }
    Err(reason::TOO_MANY)
}

/// Splits an action into its program (without a leading `|`) and the text of
/// its arguments; `None` if there is no program.
pub(crate) fn split_action(action: &[u8]) -> Option<(&[u8], &[u8])> {
    let action = action.strip_prefix(b"|").unwrap_or(action);
    let end = action.iter().position(|&b| is_space(b)).unwrap_or(action.len());
    let (program, args) = action.split_at_checked(end)?;
    (!program.is_empty()).then_some((program, args))
}

/// `Some(None)` for an absolute path, `Some(Some(NAME))` for `builtin:NAME`,
/// `None` for anything else.
pub(crate) fn program_kind(program: &[u8]) -> Option<Option<&[u8]>> {
    if program.first() == Some(&b'/') {
        return Some(None);
    }
    let name = program.strip_prefix(b"builtin:")?;
    let ok = |b: &u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-');
    (!name.is_empty() && name.iter().all(ok)).then_some(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Option<Line<'_>>, &'static str> {
        parse_line(s)
    }

    #[test]
    fn ignored_lines() {
        for l in [
            &b""[..],
            b"#",
            b"# create * * * /bin/x",
            b" create * * * /bin/x",
            b"\tx",
            b"\r",
            b"\x0bx",
        ] {
            assert_eq!(parse(l), Ok(None), "{l:?}");
        }
    }

    #[test]
    fn fields() {
        let l = parse(b"create\tuser  debug:*\x0c*\r|/bin/cat a  b\r").unwrap().unwrap();
        assert_eq!(l.patterns[0], Pattern::Exact(b"create"));
        assert_eq!(
            l.patterns[2],
            Pattern::Wild {
                prefix: b"debug:",
                suffix: b""
            }
        );
        assert_eq!(l.action, b"|/bin/cat a  b\r");
    }

    #[test]
    fn missing_fields() {
        for l in [
            &b"create"[..],
            b"create user",
            b"create user *",
            b"create user * *",
            b"create user * *  \t",
        ] {
            assert_eq!(parse(l), Err(reason::TOO_FEW), "{l:?}");
        }
    }

    #[test]
    fn programs() {
        assert!(parse(b"c t d i /bin/x").unwrap().is_some());
        assert!(parse(b"c t d i |/bin/x").unwrap().is_some());
        assert!(parse(b"c t d i builtin:dns_resolver-1.x").unwrap().is_some());
        assert!(parse(b"c t d i |builtin:idmap").unwrap().is_some());
        for l in [
            &b"c t d i true"[..],
            b"c t d i bin/true",
            b"c t d i |",
            b"c t d i | /bin/x",
            b"c t d i builtin:",
        ] {
            assert_eq!(parse(l), Err(reason::PROGRAM), "{l:?}");
        }
        assert_eq!(parse(b"c t d i builtin:DNS"), Err(reason::PROGRAM));
        assert_eq!(parse(b"c t d i builtin:a/b"), Err(reason::PROGRAM));
    }

    #[test]
    fn limits() {
        let mut l = b"c t d i /bin/".to_vec();
        l.resize(MAX_LINE, b'a');
        assert!(parse(&l).unwrap().is_some());
        l.push(b'a');
        assert_eq!(parse(&l), Err(reason::TOO_LONG));
        // Long comments are refused too, as keyutils does.
        let mut c = vec![b'#'; MAX_LINE + 1];
        assert_eq!(parse(&c), Err(reason::TOO_LONG));
        c.truncate(MAX_LINE);
        assert_eq!(parse(&c), Ok(None));

        let mut a = b"c t d i /bin/x".to_vec();
        for _ in 0..MAX_ARGS {
            a.extend_from_slice(b" a");
        }
        assert!(parse(&a).unwrap().is_some());
        a.extend_from_slice(b" a");
        assert_eq!(parse(&a), Err(reason::TOO_MANY));
    }

    #[test]
    fn bad_bytes() {
        assert_eq!(parse(b"c t d\0 i /bin/x"), Err(reason::NUL));
        assert_eq!(parse(b"c t *a* i /bin/x"), Err(reason::STARS));
        assert!(parse(b"c \xff\xfe d\x80* i /bin/\xc3\x28").unwrap().is_some());
    }

    #[test]
    fn line_numbers() {
        let v: Vec<_> = lines(b"a\n\nb").collect();
        assert_eq!(v, [(1, &b"a"[..]), (2, b""), (3, b"b")]);
        let v: Vec<_> = lines(b"a\n").collect();
        assert_eq!(v, [(1, &b"a"[..]), (2, b"")]);
    }
}
