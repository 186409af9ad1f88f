//! Container-init options: tini's interface plus keel's own long options.
//! Pure: argv and the environment go in, a decision comes out.
//!
//! ```text
//! keel [OPTIONS] -- PROGRAM [ARGS...]      (or: tini [OPTIONS] PROGRAM [ARGS...])
//!   -s            register as a child subreaper (also TINI_SUBREAPER=…)
//!   -g            forward signals to the program's process group (also TINI_KILL_PROCESS_GROUP=…)
//!   -p SIGNAL     parent-death signal of keel itself (SIGTERM, TERM or 15)
//!   -e CODE       exit with 0 when the program exits with CODE (repeatable, 0..=255)
//!   -v            more verbose (repeatable; TINI_VERBOSITY=N sets the level outright)
//!   -w            warn when reaping a zombie that is not the program
//!   -l, --license print the licence and exit
//!   -h, --help    print the usage and exit
//!   --version     print the version and exit
//!   --grace SECS  after the program exits, how long the remaining descendants
//!                 get between SIGTERM and SIGKILL (default 5, fractions to ms: 0.5)
//!   --keep-fds    do not close fds above 2 before exec
//! ```
//!
//! Options end at `--` or at the first word that is not an option (POSIX
//! getopt: `tini sh -c x` runs `sh -c x`). Short options combine (`-sg`,
//! `-e3`, `-vvv`).

use super::signals::signal_by_name;

/// Default grace period, in milliseconds (documented in docs/container-init.md).
pub const DEFAULT_GRACE_MS: u64 = 5_000;
/// The longest grace period accepted (one day): bounds the poll timeout.
pub const MAX_GRACE_MS: u64 = 86_400_000;
/// tini's default verbosity: warnings and errors.
pub const DEFAULT_VERBOSITY: u32 = 1;

/// The set of exit codes that are remapped to 0 (`-e`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemapSet([u64; 4]);

impl RemapSet {
    pub fn insert(&mut self, code: u8) {
        let (w, b) = (usize::from(code / 64), code % 64);
        if let Some(word) = self.0.get_mut(w) {
            *word |= 1u64 << b;
        }
    }
    pub fn contains(&self, code: u8) -> bool {
        let (w, b) = (usize::from(code / 64), code % 64);
        self.0.get(w).is_some_and(|word| word & (1u64 << b) != 0)
    }
}

/// What to run and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub subreaper: bool,
    pub kill_group: bool,
    pub pdeathsig: Option<i32>,
    pub remap: RemapSet,
    pub verbosity: u32,
    pub warn_on_reap: bool,
    pub grace_ms: u64,
    pub keep_fds: bool,
    /// Index in argv of PROGRAM; argv[program..] is the program's argv.
    pub program: usize,
}

/// What the command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Run(Options),
    Version,
    License,
    Help,
}

/// A usage error: what is wrong, and the word it is about (may be empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageError<'a> {
    pub what: &'static str,
    pub arg: &'a [u8],
}

fn err<'a, T>(what: &'static str, arg: &'a [u8]) -> Result<T, UsageError<'a>> {
    Err(UsageError { what, arg })
}

/// Parses argv (`arg(i)`, the program name at 0) and the environment (`env(name)` gives
/// a variable's value). tini reads the environment after the options, so
/// TINI_VERBOSITY overrides `-v`.
pub fn parse<'a, A, E>(arg: A, env: E) -> Result<Action, UsageError<'a>>
where
    A: Fn(usize) -> Option<&'a [u8]>,
    E: Fn(&[u8]) -> Option<&'a [u8]>,
{
    let mut o = Options {
        subreaper: false,
        kill_group: false,
        pdeathsig: None,
        remap: RemapSet::default(),
        verbosity: DEFAULT_VERBOSITY,
        warn_on_reap: false,
        grace_ms: DEFAULT_GRACE_MS,
        keep_fds: false,
        program: 0,
    };
    // tini: `--version` counts only as the one argument.
    if arg(1) == Some(&b"--version"[..]) && arg(2).is_none() {
        return Ok(Action::Version);
    }
    let mut i = 1;
    while let Some(a) = arg(i) {
        if a == b"--" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|c| *c == b'=') {
                Some(p) => (long.get(..p).unwrap_or(&[]), long.get(p + 1..)),
                None => (long, None),
            };
            match name {
                b"help" => return Ok(Action::Help),
                b"license" => return Ok(Action::License),
                b"version" => return Ok(Action::Version),
                b"keep-fds" => o.keep_fds = true,
                b"grace" => {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            match arg(i) {
                                Some(v) => v,
                                None => return err("--grace needs a number of seconds", b""),
                            }
                        }
                    };
                    o.grace_ms = parse_seconds_ms(v).ok_or(UsageError {
                        what: "--grace: not a number of seconds (0 to 86400, up to 3 decimals)",
                        arg: v,
                    })?;
                }
                _ => return err("unknown option", a),
            }
            i += 1;
            continue;
        }
        let Some(shorts) = a.strip_prefix(b"-") else { break };
        if shorts.is_empty() {
            break; // "-" alone is a program name, as for getopt
        }
        let mut k = 0;
        while let Some(&c) = shorts.get(k) {
            k += 1;
            match c {
                b's' => o.subreaper = true,
                b'g' => o.kill_group = true,
                b'v' => o.verbosity = o.verbosity.saturating_add(1),
                b'w' => o.warn_on_reap = true,
                b'h' => return Ok(Action::Help),
                b'l' => return Ok(Action::License),
                b'p' | b'e' => {
                    let rest = shorts.get(k..).unwrap_or(&[]);
                    let v = if rest.is_empty() {
                        i += 1;
                        match arg(i) {
                            Some(v) => v,
                            None if c == b'p' => return err("-p needs a signal", b""),
                            None => return err("-e needs an exit code", b""),
                        }
                    } else {
                        rest
                    };
                    k = shorts.len();
                    if c == b'p' {
                        o.pdeathsig = Some(signal_by_name(v).ok_or(UsageError {
                            what: "-p: not a signal",
                            arg: v,
                        })?);
                    } else {
                        let code = parse_u64(v).and_then(|n| u8::try_from(n).ok());
                        o.remap.insert(code.ok_or(UsageError {
                            what: "-e: not an exit code (0 to 255)",
                            arg: v,
                        })?);
                    }
                }
                _ => return err("unknown option", a),
            }
        }
        i += 1;
    }
    if arg(i).is_none() {
        return err("no program given", b"");
    }
    o.program = i;
    if env(b"TINI_SUBREAPER").is_some() {
        o.subreaper = true;
    }
    if env(b"TINI_KILL_PROCESS_GROUP").is_some() {
        o.kill_group = true;
    }
    if let Some(v) = env(b"TINI_VERBOSITY") {
        o.verbosity = atoi(v);
    }
    Ok(Action::Run(o))
}

/// The log level for a tini verbosity: 0 errors only, 1 warnings (the
/// default), 2 information, 3 and more debugging.
pub fn level_for(verbosity: u32) -> keel_rt::log::Level {
    use keel_rt::log::Level;
    match verbosity {
        0 => Level::Err,
        1 => Level::Warn,
        2 => Level::Info,
        _ => Level::Debug,
    }
}

/// A decimal number with no sign, no spaces, and no overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// `SECS[.FRACTION]` (up to 3 decimals) as milliseconds, at most a day.
pub fn parse_seconds_ms(s: &[u8]) -> Option<u64> {
    let (int, frac) = match s.iter().position(|c| *c == b'.') {
        Some(p) => (s.get(..p)?, s.get(p + 1..)?),
        None => (s, &b""[..]),
    };
    if frac.len() > 3 || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let secs = if int.is_empty() { 0 } else { parse_u64(int)? };
    let mut ms = 0u64;
    for k in 0..3 {
        ms *= 10;
        match frac.get(k) {
            Some(c) if c.is_ascii_digit() => ms += u64::from(c - b'0'),
            Some(_) => return None,
            None => {}
        }
    }
    let total = secs.checked_mul(1000)?.checked_add(ms)?;
    (total <= MAX_GRACE_MS).then_some(total)
}

/// C's atoi, as tini reads TINI_VERBOSITY: optional spaces and sign, then
/// leading digits; anything else gives 0. Negative values give 0 here.
pub fn atoi(s: &[u8]) -> u32 {
    let mut it = s.iter().copied().skip_while(|c| *c == b' ' || *c == b'\t').peekable();
    let neg = match it.peek() {
        Some(b'-') => {
            it.next();
            true
        }
        Some(b'+') => {
            it.next();
            false
        }
        _ => false,
    };
    let mut n: u32 = 0;
    for c in it {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(u32::from(c - b'0'));
    }
    if neg {
        0
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p<'a>(args: &[&'a str], env: &[(&'a str, &'a str)]) -> Result<Action, UsageError<'a>> {
        let argv: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let env: Vec<(&'a [u8], &'a [u8])> = env.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
        parse(
            |i| argv.get(i).copied(),
            |name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| *v),
        )
    }

    fn run<'a>(args: &[&'a str], env: &[(&'a str, &'a str)]) -> Options {
        match p(args, env) {
            Ok(Action::Run(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_program_index() {
        let o = run(&["keel", "--", "sh", "-c", "x"], &[]);
        assert_eq!(o.program, 2);
        assert!(!o.subreaper && !o.kill_group && !o.warn_on_reap && !o.keep_fds);
        assert_eq!(o.verbosity, 1);
        assert_eq!(o.grace_ms, DEFAULT_GRACE_MS);
        assert_eq!(o.pdeathsig, None);
        assert_eq!(o.remap, RemapSet::default());
        // tini style: no `--`, options stop at the first word.
        let o = run(&["tini", "-s", "sh", "-g", "-v"], &[]);
        assert_eq!(o.program, 2);
        assert!(o.subreaper && !o.kill_group);
        assert_eq!(run(&["tini", "-", "x"], &[]).program, 1);
        // A `--` after the program belongs to the program.
        assert_eq!(run(&["tini", "sh", "--", "x"], &[]).program, 1);
        // PROGRAM may itself look like an option after `--`.
        assert_eq!(run(&["keel", "-g", "--", "--weird"], &[]).program, 3);
    }

    #[test]
    fn short_options_combine_and_take_values() {
        let o = run(&["keel", "-sgvvw", "-e3", "-e", "143", "-p", "SIGKILL", "--", "x"], &[]);
        assert!(o.subreaper && o.kill_group && o.warn_on_reap);
        assert_eq!(o.verbosity, 3);
        assert!(o.remap.contains(3) && o.remap.contains(143) && !o.remap.contains(0) && !o.remap.contains(4));
        assert_eq!(o.pdeathsig, Some(9));
        assert_eq!(run(&["keel", "-pTERM", "--", "x"], &[]).pdeathsig, Some(15));
        assert_eq!(run(&["keel", "-p", "10", "--", "x"], &[]).pdeathsig, Some(10));
        let o = run(&["keel", "-e", "0", "-e", "255", "--", "x"], &[]);
        assert!(o.remap.contains(0) && o.remap.contains(255) && !o.remap.contains(254));
    }

    #[test]
    fn long_options() {
        let o = run(&["keel", "--grace", "2.5", "--keep-fds", "--", "x"], &[]);
        assert_eq!(o.grace_ms, 2500);
        assert!(o.keep_fds);
        assert_eq!(run(&["keel", "--grace=0", "--", "x"], &[]).grace_ms, 0);
        assert_eq!(run(&["keel", "--grace=.25", "--", "x"], &[]).grace_ms, 250);
        assert_eq!(p(&["keel", "--help"], &[]), Ok(Action::Help));
        assert_eq!(p(&["keel", "-h", "--", "x"], &[]), Ok(Action::Help));
        assert_eq!(p(&["tini", "-l"], &[]), Ok(Action::License));
        assert_eq!(p(&["tini", "--version"], &[]), Ok(Action::Version));
        assert_eq!(p(&["tini", "-s", "--version"], &[]), Ok(Action::Version));
    }

    #[test]
    fn usage_errors_name_the_word() {
        assert_eq!(p(&["keel", "--"], &[]).unwrap_err().what, "no program given");
        assert_eq!(p(&["keel"], &[]).unwrap_err().what, "no program given");
        assert_eq!(p(&["keel", "-x", "--", "a"], &[]).unwrap_err().arg, b"-x");
        assert_eq!(p(&["keel", "--bogus", "--", "a"], &[]).unwrap_err().arg, b"--bogus");
        assert_eq!(p(&["keel", "-e", "256", "--", "a"], &[]).unwrap_err().arg, b"256");
        assert_eq!(p(&["keel", "-e", "-1", "--", "a"], &[]).unwrap_err().arg, b"-1");
        assert_eq!(p(&["keel", "-e"], &[]).unwrap_err().what, "-e needs an exit code");
        assert_eq!(
            p(&["keel", "-p", "SIGNOPE", "--", "a"], &[]).unwrap_err().arg,
            b"SIGNOPE"
        );
        assert_eq!(p(&["keel", "-p", "0", "--", "a"], &[]).unwrap_err().arg, b"0");
        assert_eq!(
            p(&["keel", "--grace"], &[]).unwrap_err().what,
            "--grace needs a number of seconds"
        );
        assert_eq!(
            p(&["keel", "--grace", "1.2345", "--", "a"], &[]).unwrap_err().arg,
            b"1.2345"
        );
        assert_eq!(p(&["keel", "--grace", "x", "--", "a"], &[]).unwrap_err().arg, b"x");
        assert_eq!(
            p(&["keel", "--grace", "86401", "--", "a"], &[]).unwrap_err().arg,
            b"86401"
        );
    }

    #[test]
    fn environment_like_tini() {
        let o = run(
            &["keel", "--", "x"],
            &[("TINI_SUBREAPER", ""), ("TINI_KILL_PROCESS_GROUP", "0")],
        );
        assert!(o.subreaper && o.kill_group);
        // TINI_VERBOSITY is read after -v and replaces it.
        assert_eq!(
            run(&["keel", "-vvv", "--", "x"], &[("TINI_VERBOSITY", "0")]).verbosity,
            0
        );
        assert_eq!(run(&["keel", "--", "x"], &[("TINI_VERBOSITY", "2")]).verbosity, 2);
        assert_eq!(run(&["keel", "--", "x"], &[("TINI_VERBOSITY", "junk")]).verbosity, 0);
        assert!(!run(&["keel", "--", "x"], &[("TINI_SUBREAPERX", "1")]).subreaper);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), None); // 20 digits: refused
        assert_eq!(parse_u64(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_seconds_ms(b"5"), Some(5000));
        assert_eq!(parse_seconds_ms(b"0.001"), Some(1));
        assert_eq!(parse_seconds_ms(b"1."), Some(1000));
        assert_eq!(parse_seconds_ms(b"."), None);
        assert_eq!(parse_seconds_ms(b"1.x"), None);
        assert_eq!(parse_seconds_ms(b"86400"), Some(MAX_GRACE_MS));
        assert_eq!(atoi(b" 3x"), 3);
        assert_eq!(atoi(b"-3"), 0);
        assert_eq!(atoi(b"+4"), 4);
        assert_eq!(atoi(b"99999999999"), u32::MAX);
    }

    #[test]
    fn verbosity_levels() {
        use keel_rt::log::Level;
        assert_eq!(level_for(0), Level::Err);
        assert_eq!(level_for(1), Level::Warn);
        assert_eq!(level_for(2), Level::Info);
        assert_eq!(level_for(9), Level::Debug);
    }
}
