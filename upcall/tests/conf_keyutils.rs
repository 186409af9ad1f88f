//! Differential test (DESIGN.md, test layer 4): keel's request-key.conf
//! choice and macro expansion against keyutils' `/sbin/request-key` (Debian
//! keyutils 1.6.3) on the same files and queries.
//!
//! keyutils runs in debug mode in a temporary directory: `-d` touches no
//! keys and execs nothing, `-l` reads `./request-key.d/*.conf` and
//! `./request-key.conf`, `-v -v` traces the choice on stderr:
//! `FILE:LINE: Prefer command (W,W,W,W)` for each new best line, then
//! `Run PROG` or `PipeThru PROG` and `- argv[N] = "ARG"`, and
//! `-- exec disabled --` on stdout. At most one file goes in
//! `request-key.d`, since keyutils reads it in `readdir` order.
//!
//! Skipped, with a message, when `/sbin/request-key` is absent.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use keel_upcall::conf::{expand, Best, Expanded, Query};

const REQUEST_KEY: &str = "/sbin/request-key";
const D_NAME: &str = "10-keel.conf";
const MAIN: &str = "request-key.conf";

/// What a run chose.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// No line matched.
    NoMatch,
    /// A line was chosen and its arguments expanded.
    Run {
        file: String,
        line: u32,
        wild: [usize; 4],
        pipe: bool,
        program: Vec<u8>,
        argv: Vec<Vec<u8>>,
    },
    /// keyutils exited with this message; for keel, an expansion error.
    Fail(String),
}

/// The part of an outcome a known difference pins.
#[derive(Clone, Copy, Debug)]
enum Expect {
    NoMatch,
    Line(&'static str, u32),
    Program(&'static [u8]),
    Fail(&'static str),
}

impl Expect {
    fn fits(self, o: &Outcome) -> bool {
        match (self, o) {
            (Expect::NoMatch, Outcome::NoMatch) => true,
            (Expect::Line(f, l), Outcome::Run { file, line, .. }) => f == file && l == *line,
            (Expect::Program(p), Outcome::Run { program, .. }) => p == program.as_slice(),
            (Expect::Fail(m), Outcome::Fail(got)) => got.starts_with(m),
            _ => false,
        }
    }
}

/// A key request: op, type, description, callout.
type Req = (&'static [u8], &'static [u8], Vec<u8>, &'static [u8]);

struct Case {
    name: &'static str,
    d: Option<Vec<u8>>,
    conf: Vec<u8>,
    reqs: Vec<Req>,
    /// Why keyutils differs, what keyutils does, what keel does.
    known: Option<(&'static str, Expect, Expect)>,
}

fn req(op: &'static str, ty: &'static str, desc: impl AsRef<[u8]>, callout: &'static str) -> Req {
    (op.as_bytes(), ty.as_bytes(), desc.as_ref().to_vec(), callout.as_bytes())
}

fn same(name: &'static str, conf: impl AsRef<[u8]>, reqs: Vec<Req>) -> Case {
    Case {
        name,
        d: None,
        conf: conf.as_ref().to_vec(),
        reqs,
        known: None,
    }
}

fn differs(name: &'static str, conf: impl AsRef<[u8]>, r: Req, why: &'static str, ku: Expect, keel: Expect) -> Case {
    Case {
        name,
        d: None,
        conf: conf.as_ref().to_vec(),
        reqs: vec![r],
        known: Some((why, ku, keel)),
    }
}

fn query<'a>(r: &'a Req) -> Query<'a> {
    Query {
        op: r.0,
        ty: r.1,
        desc: &r.2,
        callout: r.3,
        key: 1234,
        uid: 1000,
        gid: 1001,
        thread: 11,
        process: 12,
        session: 13,
    }
}

const DEBIAN: &str = "\
###############################################################################
#OP\tTYPE\tDESCRIPTION\tCALLOUT INFO\tPROGRAM ARG1 ARG2 ARG3 ...
#======\t=======\t===============\t===============\t===============================
create  dns_resolver *\t\t*               /sbin/key.dns_resolver %k
create\tuser\tdebug:*\t\tnegate\t\t/bin/keyctl negate %k 30 %S
create  user    debug:*         rejected        /bin/keyctl reject %k 30 %c %S
create  user    debug:*         expired         /bin/keyctl reject %k 30 %c %S
create  user    debug:*         revoked         /bin/keyctl reject %k 30 %c %S
create\tuser\tdebug:loop:*\t*\t\t|/bin/cat
create\tuser\tdebug:*\t\t*\t\t/usr/share/keyutils/request-key-debug.sh %k %d %c %S
negate\t*\t*\t\t*\t\t/bin/keyctl negate %k 30 %S
";

fn cases() -> Vec<Case> {
    let long_desc = {
        let mut d = b"$(touch /tmp/keel-pwned);`id`|&;<>\"'\\ %k %% *".to_vec();
        d.resize(4095, b'x');
        d
    };
    let a257 = "a".repeat(257);
    let line_4094 = {
        let mut l = b"create t * * /bin/".to_vec();
        l.resize(4094, b'l');
        l.push(b'\n');
        l
    };
    let too_long = {
        let mut l = vec![b'#'; 4095];
        l.extend_from_slice(b"\ncreate t * * /bin/next\n");
        l
    };
    let many_args = format!(
        "create t * * /bin/many{}\ncreate * * * /bin/fallback\n",
        " a".repeat(254)
    );
    let mut cases =
        vec![
        same(
            "debian defaults",
            DEBIAN,
            vec![
                req("create", "dns_resolver", "example.com", ""),
                req("create", "dns_resolver", "afsdb:example.com", "ipv4"),
                req("create", "user", "debug:1", "negate"),
                req("create", "user", "debug:1", "rejected"),
                req("create", "user", "debug:1", "revoked"),
                req("create", "user", "debug:loop:1", "x"),
                req("create", "user", "debug:1", "some callout"),
                req("create", "user", "other", "x"),
                req("create", "logon", "debug:1", "x"),
                req("negate", "user", "other", "x"),
                req("negate", "id_resolver", "uid:0", ""),
            ],
        ),
        same(
            "wildness order",
            "create * d x /bin/type\ncreate t * * /bin/desc\ncreate t d* * /bin/descp\ncreate t d *x /bin/callout\n\
             * t d x /bin/op\ncr* t dd x /bin/opp\n",
            vec![
                req("create", "t", "d", "x"),
                req("create", "t", "dd", "x"),
                req("create", "t", "dd", "y"),
                req("create", "u", "d", "x"),
                req("negate", "t", "d", "x"),
                req("crunch", "t", "dd", "x"),
            ],
        ),
        same(
            "wildness is numeric",
            format!("create t a* * /bin/w256\ncreate t {}* * /bin/w1\n", &a257[..256]),
            vec![req("create", "t", &a257, "x")],
        ),
        same(
            "wildness is numeric, other order",
            format!("create t {}* * /bin/w1\ncreate t a* * /bin/w256\n", &a257[..256]),
            vec![req("create", "t", &a257, "x")],
        ),
        same(
            "prefix and suffix wildness",
            "create t *1234 * /bin/suffix\ncreate t debug:1* * /bin/prefix\ncreate t * x* /bin/callout\n",
            vec![
                req("create", "t", "debug:1234", "x"),
                req("create", "t", "debug:12345", "xyz"),
                req("create", "t", "1234", "y"),
                req("create", "t", "234", "x"),
            ],
        ),
        same(
            "ties keep the first line",
            "create * * * /bin/first\ncreate * * * /bin/second\ncreate t * * /bin/t1 a\ncreate t * * /bin/t2 b\n",
            vec![req("create", "u", "d", "x"), req("create", "t", "d", "x")],
        ),
        same(
            "comments, blank and indented lines",
            "# create * * * /bin/comment\n\n \tcreate * * * /bin/indented\n\r\ncreate * * * /bin/real\n",
            vec![req("create", "t", "d", "x")],
        ),
        same(
            "separators",
            "create\x0bt\x0cd\tx\r/bin/sep \ta\x0bb\r\n",
            vec![req("create", "t", "d", "x")],
        ),
        same(
            "bytes that are not UTF-8",
            b"create t \xff* * /bin/\xc3\x28 %d\ncreate t \xfe * /bin/exact %c\n",
            vec![req("create", "t", b"\xff\xfe", "x"), req("create", "t", b"\xfe", "\x7f")],
        ),
        same(
            "empty callout",
            "create t d * /bin/empty %c\n",
            vec![req("create", "t", "d", ""), req("create", "t", "d", "x")],
        ),
        same(
            "every macro",
            "create * * * /bin/m %o %k %t %d %c %u %g %T %P %S %% %%k %%%x %kx a%k %ab\n",
            vec![req("create", "user", "my;desc %k", "co info")],
        ),
        same(
            "pipe mode",
            "create t * * |/bin/cat -u %k\n",
            vec![req("create", "t", "d", "x")],
        ),
        same("missing macro name", "create * * * /bin/m %k %\n", vec![req("create", "t", "d", "x")]),
        same("unsupported macro", "create * * * /bin/m %Z\n", vec![req("create", "t", "d", "x")]),
        same("keysub without ':'", "create * * * /bin/m %{user}\n", vec![req("create", "t", "d", "x")]),
        same("keysub unterminated", "create * * * /bin/m %{user:x\n", vec![req("create", "t", "d", "x")]),
        same("keysub trailing", "create * * * /bin/m %{user:x}y\n", vec![req("create", "t", "d", "x")]),
        same("keysub type empty", "create * * * /bin/m %{:x}\n", vec![req("create", "t", "d", "x")]),
        same("keysub desc empty", "create * * * /bin/m %{user:}\n", vec![req("create", "t", "d", "x")]),
        same("a 4094-byte line", &line_4094, vec![req("create", "t", "d", "x")]),
        same(
            "a 4095-byte description of shell syntax",
            "create t $(touch* * /bin/d %d\ncreate t * * /bin/any %d\n",
            vec![req("create", "t", &long_desc, "x"), req("create", "t", &long_desc[1..], "x")],
        ),
        same(
            "a short line is no error when its op does not match",
            "negate t\ncreate * * * /bin/ok\n",
            vec![req("create", "t", "d", "x")],
        ),
        Case {
            name: "request-key.d before request-key.conf",
            d: Some(b"create * * * /bin/d-tie\ncreate t * * /bin/d-t\n".to_vec()),
            conf: b"create * * * /bin/main-tie\ncreate t d * /bin/main-better\n".to_vec(),
            reqs: vec![req("create", "u", "d", "x"), req("create", "t", "e", "x"), req("create", "t", "d", "x")],
            known: None,
        },
    ];
    cases.extend([
        differs(
            "prefix*suffix matches",
            "create t abc*def * /bin/ps\n",
            req("create", "t", "abcXXdef", "x"),
            "keyutils compares the datum's tail with the start of the pattern: abc*def never matches",
            Expect::NoMatch,
            Expect::Line(MAIN, 1),
        ),
        differs(
            "prefix*suffix does not match a wrong suffix",
            "create t ab*xy * /bin/bug\n",
            req("create", "t", "abQab", "x"),
            "keyutils compares the datum's tail (ab) with the start of the pattern (ab)",
            Expect::Line(MAIN, 1),
            Expect::NoMatch,
        ),
        differs(
            "two stars",
            "create t *a* * /bin/stars\ncreate t * * /bin/any\n",
            req("create", "t", "xa*", "x"),
            "keyutils takes the second * as a literal byte; keel skips the line",
            Expect::Line(MAIN, 1),
            Expect::Line(MAIN, 2),
        ),
        differs(
            "last line without newline",
            "create t * * /bin/true",
            req("create", "t", "d", "x"),
            "keyutils 1.6.3 drops the last byte of a last line without newline",
            Expect::Program(b"/bin/tru"),
            Expect::Program(b"/bin/true"),
        ),
        differs(
            "too few fields",
            "create t\ncreate * * * /bin/ok\n",
            req("create", "t", "d", "x"),
            "keyutils exits on a syntax error; keel skips the line",
            Expect::Fail("Syntax error"),
            Expect::Line(MAIN, 2),
        ),
        differs(
            "too long line",
            &too_long,
            req("create", "t", "d", "x"),
            "keyutils exits on a too long line; keel skips it",
            Expect::Fail("Line too long"),
            Expect::Line(MAIN, 2),
        ),
        differs(
            "relative program",
            "create t * * true\n",
            req("create", "t", "d", "x"),
            "keyutils crashes on a program without '/'; keel skips the line",
            Expect::Fail("Died on signal"),
            Expect::NoMatch,
        ),
        differs(
            "too many arguments",
            &many_args,
            req("create", "t", "d", "x"),
            "keyutils fails when it runs a line with more than 253 arguments; keel skips the line",
            Expect::Fail("Too many arguments"),
            Expect::Line(MAIN, 2),
        ),
    ]);
    cases
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(n: usize) -> Self {
        let p = std::env::temp_dir().join(format!("keel-conf-keyutils-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("request-key.d")).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keyutils(dir: &Path, r: &Req) -> Outcome {
    let mut desc = b"".to_vec();
    desc.extend_from_slice(r.1);
    desc.extend_from_slice(b";0;0;3f010000;");
    desc.extend_from_slice(&r.2);
    let out = Command::new(REQUEST_KEY)
        .current_dir(dir)
        .args(["-d", "-l", "-n", "-v", "-v", "-D"])
        .arg(OsStr::from_bytes(&desc))
        .arg("--")
        .arg(OsStr::from_bytes(r.0))
        .args(["1234", "1000", "1001", "11", "12", "13"])
        .arg(OsStr::from_bytes(r.3))
        .output()
        .unwrap();
    let lines: Vec<&[u8]> = out.stderr.split(|&b| b == b'\n').collect();
    if !out.status.success() || !out.stdout.starts_with(b"-- exec disabled --") {
        let last = lines.iter().rev().find(|l| !l.is_empty()).copied().unwrap_or_default();
        let last = String::from_utf8_lossy(last).into_owned();
        if last.ends_with(": No matching action") {
            return Outcome::NoMatch;
        }
        return Outcome::Fail(last.rsplit_once(": ").map_or(last.clone(), |(_, m)| m.to_string()));
    }
    let mut run = Outcome::Run {
        file: String::new(),
        line: 0,
        wild: [0; 4],
        pipe: false,
        program: vec![],
        argv: vec![],
    };
    let Outcome::Run {
        file,
        line,
        wild,
        pipe,
        program,
        argv,
    } = &mut run
    else {
        unreachable!()
    };
    for l in &lines {
        if let Some(at) = find(l, b": Prefer command (") {
            let head = String::from_utf8_lossy(&l[..at]);
            let (f, n) = head.rsplit_once(':').unwrap();
            (*file, *line) = (f.to_string(), n.parse().unwrap());
            let tuple = String::from_utf8_lossy(&l[at + 18..l.len() - 1]).into_owned();
            for (w, s) in wild.iter_mut().zip(tuple.split(',')) {
                *w = s.parse().unwrap();
            }
        } else if let Some(p) = l.strip_prefix(b"Run ") {
            (*pipe, *program) = (false, p.to_vec());
        } else if let Some(p) = l.strip_prefix(b"PipeThru ") {
            (*pipe, *program) = (true, p.to_vec());
        } else if l.starts_with(b"- argv[") && !l.starts_with(b"- argv[0]") {
            let v = &l[find(l, b"] = \"").unwrap() + 5..l.len() - 1];
            argv.push(v.to_vec());
        }
    }
    run
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn keel(files: &[(&str, &[u8])], r: &Req) -> Outcome {
    let q = query(r);
    let mut best = Best::new();
    for (i, (_, text)) in files.iter().enumerate() {
        best.feed(i as u16, text, &q);
    }
    let Some(c) = best.chosen() else {
        return Outcome::NoMatch;
    };
    let mut argv = vec![];
    for a in c.args() {
        let mut out = [0u8; 8192];
        match expand(a, &q, &mut out) {
            Ok(Expanded::Text(t)) => argv.push(t.to_vec()),
            Ok(Expanded::Lookup { .. }) => panic!("the differential cases make no key lookups"),
            Err(e) => return Outcome::Fail(e.reason().to_string()),
        }
    }
    Outcome::Run {
        file: files[usize::from(c.origin().file)].0.to_string(),
        line: c.origin().line,
        wild: best.wildness().unwrap(),
        pipe: c.pipe,
        program: c.program.to_vec(),
        argv,
    }
}

#[test]
fn keel_chooses_as_keyutils_does() {
    if !Path::new(REQUEST_KEY).exists() {
        eprintln!("skipped: {REQUEST_KEY} is absent (install Debian's keyutils 1.6.3 to run this test)");
        return;
    }
    let (mut same_runs, mut known_runs) = (0, 0);
    for (n, case) in cases().iter().enumerate() {
        let dir = TempDir::new(n);
        let mut files: Vec<(&str, &[u8])> = vec![];
        if let Some(d) = &case.d {
            std::fs::write(dir.0.join("request-key.d").join(D_NAME), d).unwrap();
            files.push((D_NAME, d));
        }
        std::fs::write(dir.0.join(MAIN), &case.conf).unwrap();
        files.push((MAIN, &case.conf));
        for r in &case.reqs {
            let ku = keyutils(&dir.0, r);
            let ours = keel(&files, r);
            let what = format!(
                "case {:?}, request {:?}",
                case.name,
                (r.0, r.1, String::from_utf8_lossy(&r.2), r.3)
            );
            match case.known {
                None => {
                    assert_eq!(ours, ku, "{what}: keel differs from keyutils");
                    same_runs += 1;
                }
                Some((why, ku_expect, keel_expect)) => {
                    assert!(
                        ku_expect.fits(&ku),
                        "{what}: keyutils no longer does {ku_expect:?} ({why}): {ku:?}"
                    );
                    assert!(
                        keel_expect.fits(&ours),
                        "{what}: keel should do {keel_expect:?} ({why}): {ours:?}"
                    );
                    assert_ne!(ours, ku, "{what}");
                    known_runs += 1;
                }
            }
        }
    }
    eprintln!("{same_runs} requests agree with keyutils, {known_runs} differ as documented");
}
