//! The best matching line across files, kept as a copy.

use heapless::Vec;

use super::parse::{lines, parse_line, program_kind, reason, split_action, token, Line, MAX_LINE};
use super::Query;

/// Where a line comes from: the caller's index of its file and its number
/// in the file (from 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file index the caller gave [`Best::feed`].
    pub file: u16,
    /// The line number, from 1.
    pub line: u32,
}

/// A line skipped because it is malformed, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The line.
    pub origin: Origin,
    /// What is wrong with it, one line of text.
    pub reason: &'static str,
}

/// The best line seen so far for one query, fed file by file.
///
/// Best is the smallest wildness tuple (op, type, description, callout);
/// on a tie the line fed first stays. The line's program and arguments are
/// copied, so the caller may reuse its file buffer.
#[derive(Clone, Debug)]
pub struct Best {
    action: Vec<u8, MAX_LINE>,
    wildness: Option<[usize; 4]>,
    origin: Origin,
    first: Option<Diagnostic>,
    skipped: u32,
    /// Lines whose action starts with these words are passed over (see
    /// [`Best::exclude`]).
    excluded: Vec<u8, 512>,
}

impl Default for Best {
    fn default() -> Self {
        Self::new()
    }
}

impl Best {
    /// No line chosen, nothing skipped.
    pub const fn new() -> Self {
        Self {
            action: Vec::new(),
            wildness: None,
            origin: Origin { file: 0, line: 0 },
            first: None,
            skipped: 0,
            excluded: Vec::new(),
        }
    }

    /// Passes over every line whose program and first argument are these
    /// (`program` without a `|`): the broker serving the host's
    /// configuration must not choose a line that runs the broker again.
    pub fn exclude(&mut self, program: &[u8], first_arg: &[u8]) {
        self.excluded.clear();
        let _ = self.excluded.extend_from_slice(program);
        let _ = self.excluded.push(b' ');
        let _ = self.excluded.extend_from_slice(first_arg);
    }

    fn is_excluded(&self, action: &[u8]) -> bool {
        if self.excluded.is_empty() {
            return false;
        }
        let mut words = action.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty());
        let prog = words.next().unwrap_or(&[]);
        let prog = prog.strip_prefix(b"|").unwrap_or(prog);
        let arg = words.next().unwrap_or(&[]);
        let (p, a) = match self.excluded.iter().position(|&c| c == b' ') {
            Some(i) => (
                self.excluded.get(..i).unwrap_or(&[]),
                self.excluded.get(i + 1..).unwrap_or(&[]),
            ),
            None => return false,
        };
        prog == p && arg == a
    }

    /// Reads one file's text and keeps its best line if it beats the best so
    /// far. Returns how many of its lines were skipped as malformed.
    pub fn feed(&mut self, file: u16, text: &[u8], q: &Query<'_>) -> u32 {
        let data = [q.op, q.ty, q.desc, q.callout];
        let mut skipped = 0u32;
        for (number, raw) in lines(text) {
            let origin = Origin { file, line: number };
            let line = match parse_line(raw) {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err(why) => {
                    self.skip(origin, why);
                    skipped = skipped.saturating_add(1);
                    continue;
                }
            };
            let Some(w) = wildness(&line, &data) else { continue };
            if self.wildness.is_some_and(|best| best <= w) || self.is_excluded(line.action) {
                continue;
            }
            self.action.clear();
            if self.action.extend_from_slice(line.action).is_err() {
                // Cannot happen: a line holds at most MAX_LINE bytes.
                self.wildness = None;
                self.skip(origin, reason::TOO_LONG);
                skipped = skipped.saturating_add(1);
                continue;
            }
            self.wildness = Some(w);
            self.origin = origin;
        }
        skipped
    }

    fn skip(&mut self, origin: Origin, reason: &'static str) {
        self.first.get_or_insert(Diagnostic { origin, reason });
        self.skipped = self.skipped.saturating_add(1);
    }

    /// The chosen line, if any line matched.
    pub fn chosen(&self) -> Option<Chosen<'_>> {
        self.wildness?;
        let action = self.action.as_slice();
        let (program, args) = split_action(action)?;
        let builtin = program_kind(program)?;
        Some(Chosen {
            program,
            pipe: action.first() == Some(&b'|'),
            builtin,
            args,
            origin: self.origin,
        })
    }

    /// The wildness tuple (op, type, description, callout) of the chosen line.
    pub fn wildness(&self) -> Option<[usize; 4]> {
        self.wildness
    }

    /// The first malformed line seen, for the log.
    pub fn first_diagnostic(&self) -> Option<Diagnostic> {
        self.first
    }

    /// How many malformed lines were skipped in all files fed.
    pub fn skipped(&self) -> u32 {
        self.skipped
    }
}

/// The wildness tuple of a line for the query data, or `None` if a field
/// does not match.
fn wildness(line: &Line<'_>, data: &[&[u8]; 4]) -> Option<[usize; 4]> {
    let mut w = [0; 4];
    for ((slot, pattern), datum) in w.iter_mut().zip(&line.patterns).zip(data) {
        *slot = pattern.wildness(datum)?;
    }
    Some(w)
}

/// The chosen line's program and arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen<'a> {
    /// The program: an absolute path or `builtin:NAME`, without the `|`.
    pub program: &'a [u8],
    /// Pipe mode: the line's program started with `|`.
    pub pipe: bool,
    /// NAME for a `builtin:NAME` program.
    pub builtin: Option<&'a [u8]>,
    args: &'a [u8],
    origin: Origin,
}

impl<'a> Chosen<'a> {
    /// The raw argument tokens after the program, macros not expanded.
    pub fn args(&self) -> Args<'a> {
        Args { rest: self.args }
    }

    /// Where the line comes from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The program's argv\[0\] as keyutils sets it: what follows its last `/`.
    pub fn argv0(&self) -> &'a [u8] {
        self.program.rsplit(|&b| b == b'/').next().unwrap_or(self.program)
    }
}

/// The raw argument tokens of a chosen line.
#[derive(Clone, Debug)]
pub struct Args<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (tok, rest) = token(self.rest)?;
        self.rest = rest;
        Some(tok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<'a>(op: &'a str, ty: &'a str, desc: &'a [u8], callout: &'a str) -> Query<'a> {
        Query {
            op: op.as_bytes(),
            ty: ty.as_bytes(),
            desc,
            callout: callout.as_bytes(),
            key: 1234,
            uid: 0,
            gid: 0,
            thread: 0,
            process: 0,
            session: 0,
        }
    }

    /// Feeds the files in order; the chosen program and its origin.
    fn choose<'b>(best: &'b mut Best, files: &[&[u8]], q: &Query<'_>) -> Option<(&'b [u8], u16, u32)> {
        for (i, f) in files.iter().enumerate() {
            best.feed(i as u16, f, q);
        }
        best.chosen().map(|c| (c.program, c.origin().file, c.origin().line))
    }

    const DEBIAN: &[u8] = b"\
# comment
#OP\tTYPE\tDESCRIPTION\tCALLOUT INFO\tPROGRAM ARG1 ARG2 ARG3 ...
create  dns_resolver *\t\t*               /sbin/key.dns_resolver %k
create\tuser\tdebug:*\t\tnegate\t\t/bin/keyctl negate %k 30 %S
create  user    debug:*         rejected        /bin/keyctl reject %k 30 %c %S
create\tuser\tdebug:loop:*\t*\t\t|/bin/cat
create\tuser\tdebug:*\t\t*\t\t/usr/share/keyutils/request-key-debug.sh %k %d %c %S
negate\t*\t*\t\t*\t\t/bin/keyctl negate %k 30 %S
";

    #[test]
    fn debian_defaults() {
        let cases: &[(&str, &str, &str, &str, Option<u32>)] = &[
            ("create", "dns_resolver", "example.com", "", Some(3)),
            ("create", "user", "debug:1", "negate", Some(4)),
            ("create", "user", "debug:1", "rejected", Some(5)),
            ("create", "user", "debug:loop:1", "x", Some(6)),
            ("create", "user", "debug:1", "x", Some(7)),
            ("create", "user", "other", "x", None),
            ("negate", "user", "other", "x", Some(8)),
        ];
        for &(op, ty, desc, co, want) in cases {
            let mut best = Best::new();
            let got = choose(&mut best, &[DEBIAN], &query(op, ty, desc.as_bytes(), co));
            assert_eq!(got.map(|g| g.2), want, "{op} {ty} {desc} {co}");
            assert_eq!(best.skipped(), 0);
        }
        let mut best = Best::new();
        choose(&mut best, &[DEBIAN], &query("create", "user", b"debug:loop:1", "x"));
        let c = best.chosen().unwrap();
        assert!(c.pipe);
        assert_eq!(c.program, b"/bin/cat");
        assert_eq!(c.argv0(), b"cat");
        assert_eq!(c.args().count(), 0);
        assert_eq!(best.wildness(), Some([0, 0, 1, 1]));
    }

    #[test]
    fn wildness_order_is_lexicographic() {
        // Type wildness outranks description wildness outranks callout.
        let f = b"create * d x /bin/1\ncreate t * * /bin/2\ncreate t d* * /bin/3\ncreate t d *x /bin/4\n";
        let mut best = Best::new();
        assert_eq!(
            choose(&mut best, &[f], &query("create", "t", b"d", "x")),
            Some((&b"/bin/4"[..], 0, 4))
        );
        // Numeric, not byte-wise: 256 absorbed bytes lose to 1.
        let desc = [b'a'; 257];
        let mut f = b"create t a* * /bin/w256\ncreate t ".to_vec();
        f.extend_from_slice(&desc[..256]);
        f.extend_from_slice(b"* * /bin/w1\n");
        let mut best = Best::new();
        assert_eq!(
            choose(&mut best, &[&f], &query("create", "t", &desc, "x")).map(|c| c.0),
            Some(&b"/bin/w1"[..])
        );
        assert_eq!(best.wildness(), Some([0, 0, 1, 1]));
    }

    #[test]
    fn ties_keep_the_first_fed() {
        let d = b"create * * * /bin/d1\n";
        let d2 = b"create * * * /bin/d2\n";
        let main = b"create * * * /bin/main\ncreate t * * /bin/better\n";
        let q = query("create", "t", b"d", "x");
        let mut best = Best::new();
        assert_eq!(choose(&mut best, &[d, d2, main], &q), Some((&b"/bin/better"[..], 2, 2)));
        let mut best = Best::new();
        let main = b"create * * * /bin/main\n";
        assert_eq!(choose(&mut best, &[d, d2, main], &q), Some((&b"/bin/d1"[..], 0, 1)));
        let mut best = Best::new();
        assert_eq!(choose(&mut best, &[main, d], &q), Some((&b"/bin/main"[..], 0, 1)));
    }

    #[test]
    fn the_copy_outlives_the_buffer() {
        let mut buf = b"create * * * /bin/first a b\n".to_vec();
        let q = query("create", "t", b"d", "x");
        let mut best = Best::new();
        best.feed(0, &buf, &q);
        buf.fill(b'#');
        best.feed(1, &buf, &q);
        let c = best.chosen().unwrap();
        assert_eq!(c.program, b"/bin/first");
        assert_eq!(c.args().collect::<std::vec::Vec<_>>(), [&b"a"[..], b"b"]);
    }

    #[test]
    fn diagnostics() {
        let mut long = std::vec![b'#'; MAX_LINE + 1];
        long.push(b'\n');
        let q = query("create", "t", b"d", "x");
        let mut best = Best::new();
        assert_eq!(
            best.feed(0, b"create t\n \tcreate\n# c\n\ncreate t d x /bin/ok\n", &q),
            1
        );
        assert_eq!(best.feed(1, &long, &q), 1);
        assert_eq!(
            best.feed(
                2,
                b"create t *d* x /bin/x\ncreate t d x rel\ncreate t d x /bin/\0\n",
                &q
            ),
            3
        );
        assert_eq!(best.skipped(), 5);
        let d = best.first_diagnostic().unwrap();
        assert_eq!((d.origin.file, d.origin.line, d.reason), (0, 1, reason::TOO_FEW));
        assert_eq!(best.chosen().map(|c| c.origin()), Some(Origin { file: 0, line: 5 }));
    }

    #[test]
    fn no_trailing_newline_and_crlf() {
        let q = query("create", "t", b"d", "x");
        let mut best = Best::new();
        assert_eq!(
            choose(&mut best, &[b"create t d x /bin/true"], &q).map(|c| c.0),
            Some(&b"/bin/true"[..])
        );
        let mut best = Best::new();
        best.feed(0, b"create t d x /bin/p a\r\n", &q);
        let c = best.chosen().unwrap();
        assert_eq!(c.args().collect::<std::vec::Vec<_>>(), [&b"a"[..]]);
    }

    #[test]
    fn invalid_utf8_and_long_shell_descriptions() {
        let mut desc = vec![b'$'; 4095];
        desc[..12].copy_from_slice(b"$(rm -rf /);");
        desc[4094] = 0xff;
        let q = query("create", "t", &desc, "`x` | y");
        let mut best = Best::new();
        let conf = b"create t \xff* * /bin/no\ncreate t $(rm* *y /bin/yes %d\n";
        assert_eq!(choose(&mut best, &[conf], &q), Some((&b"/bin/yes"[..], 0, 2)));
        assert_eq!(best.wildness(), Some([0, 0, 4095 - 4, 6]));
    }

    #[test]
    fn builtins() {
        let q = query("create", "dns_resolver", b"example.com", "");
        let mut best = Best::new();
        best.feed(0, b"create dns_resolver * * builtin:dns %k\n", &q);
        let c = best.chosen().unwrap();
        assert_eq!(
            (c.program, c.builtin, c.pipe),
            (&b"builtin:dns"[..], Some(&b"dns"[..]), false)
        );
    }

    #[test]
    fn nothing_matches() {
        let mut best = Best::new();
        assert_eq!(best.feed(0, b"", &query("create", "t", b"d", "x")), 0);
        assert!(best.chosen().is_none());
        assert!(best.first_diagnostic().is_none());
    }

    #[test]
    fn excluded_lines_are_passed_over() {
        let conf: &[u8] = b"create * * * /sbin/upcall-agent broker %o %k\n\
create user * * |/bin/cat\n\
create * * * /sbin/upcall-agent dns-resolver %k\n";
        let q = query("create", "user", b"x", "");
        let mut b = Best::new();
        b.feed(0, conf, &q);
        assert_eq!(b.chosen().map(|c| c.program), Some(&b"/bin/cat"[..]));
        let q = query("create", "logon", b"x", "");
        let mut b = Best::new();
        b.feed(0, conf, &q);
        assert_eq!(b.chosen().map(|c| c.args().next()), Some(Some(&b"broker"[..])));
        let mut b = Best::new();
        b.exclude(b"/sbin/upcall-agent", b"broker");
        b.feed(0, conf, &q);
        // The broker's own line is skipped; the same program in another mode is not.
        assert_eq!(b.chosen().map(|c| c.args().next()), Some(Some(&b"dns-resolver"[..])));
    }
}
