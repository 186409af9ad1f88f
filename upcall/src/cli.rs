//! The command lines of upcall-agent, parsed without system calls.
//!
//! ```text
//! request-key [-d] [-D DESC] [-l] [-n] [-v…] OP KEY UID GID THREAD PROCESS SESSION [CALLOUT]
//! upcall-agent broker ARGS…     the same, under any name (keyutils' request-key, routed)
//! upcall-agent handle ARGS…     the same, never routed: the local configuration only
//! upcall-agent serve            the resident agent (started by keel, fd 3 its channel)
//! upcall-agent --version
//! ```

/// What the program was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode<'a> {
    /// The kernel's helper: route the request (keel's broker).
    Broker(KeyArgs<'a>),
    /// A request-key drop-in that never routes (the host's configuration).
    Handle(KeyArgs<'a>),
    /// The resident agent in a container.
    Serve,
    /// The dns_resolver handler (a key.dns_resolver drop-in): its arguments.
    DnsResolver(crate::dns::cli::Args<'a>),
    Version,
    Usage(&'static str),
}

/// keyutils' request-key arguments (`man 8 request-key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyArgs<'a> {
    /// `-d`: touch no key, exec nothing; print the chosen line.
    pub debug: bool,
    /// `-D DESC`: in debug mode, the key's `type;uid;gid;perm;description`.
    pub debug_desc: Option<&'a [u8]>,
    /// `-l`: read ./request-key.conf and ./request-key.d/ instead of /etc.
    pub local: bool,
    /// `-v` count.
    pub verbose: u8,
    pub op: &'a [u8],
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub thread: i32,
    pub process: i32,
    pub session: i32,
    /// The 8th argument of old kernels (and of debug runs): the callout.
    pub callout: Option<&'a [u8]>,
}

pub const USAGE: &str = "usage: request-key [-d] [-D DESC] [-l] [-n] [-v] OP KEY UID GID THREAD PROCESS SESSION [CALLOUT]\n       upcall-agent broker|handle ARGS...\n       upcall-agent serve\n       upcall-agent dns-resolver [-v] [-c CONF] KEY | -D [-v] [-c CONF] DESC CALLOUT | --dump-config\n";

/// Picks the mode from the whole argv (argv[0] included).
pub fn pick<'a>(argv: &[&'a [u8]]) -> Mode<'a> {
    let name = argv.first().map_or(&b""[..], |a| basename(a));
    let rest = argv.get(1..).unwrap_or(&[]);
    if name == b"request-key" {
        if rest == [&b"--version"[..]] {
            return Mode::Version;
        }
        return key_args(rest).map_or_else(Mode::Usage, Mode::Broker);
    }
    if name == b"key.dns_resolver" {
        return crate::dns::cli::parse(rest).map_or_else(Mode::Usage, Mode::DnsResolver);
    }
    match rest.first().copied() {
        Some(b"broker") => key_args(rest.get(1..).unwrap_or(&[])).map_or_else(Mode::Usage, Mode::Broker),
        Some(b"handle") => key_args(rest.get(1..).unwrap_or(&[])).map_or_else(Mode::Usage, Mode::Handle),
        Some(b"serve") if rest.len() == 1 => Mode::Serve,
        Some(b"dns-resolver") => {
            crate::dns::cli::parse(rest.get(1..).unwrap_or(&[])).map_or_else(Mode::Usage, Mode::DnsResolver)
        }
        Some(b"--version") | Some(b"-V") => Mode::Version,
        Some(_) => Mode::Usage("unknown mode"),
        None => Mode::Usage("a mode is needed"),
    }
}

pub fn basename(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => p.get(i + 1..).unwrap_or(&[]),
        None => p,
    }
}

/// Parses keyutils' options and the 7 or 8 positional arguments.
pub fn key_args<'a>(args: &[&'a [u8]]) -> Result<KeyArgs<'a>, &'static str> {
    let mut k = KeyArgs::default();
    let mut i = 0;
    while let Some(&a) = args.get(i) {
        if a.len() < 2 || a.first() != Some(&b'-') {
            break;
        }
        i += 1;
        if a == b"--" {
            break;
        }
        if a == b"--version" {
            return Err("--version takes no other argument");
        }
        // Clustered short options, as getopt: -dv, -vvv, -D DESC.
        let flags = a.get(1..).unwrap_or(&[]);
        for (j, &c) in flags.iter().enumerate() {
            match c {
                b'd' => k.debug = true,
                b'l' => k.local = true,
                b'n' => {}
                b'v' => k.verbose = k.verbose.saturating_add(1),
                b'D' => {
                    let inline = flags.get(j + 1..).unwrap_or(&[]);
                    if inline.is_empty() {
                        k.debug_desc = Some(*args.get(i).ok_or("-D needs a description")?);
                        i += 1;
                    } else {
                        k.debug_desc = Some(inline);
                    }
                    break;
                }
                _ => return Err("unknown option"),
            }
        }
    }
    let pos = args.get(i..).unwrap_or(&[]);
    if pos.len() != 7 && pos.len() != 8 {
        return Err("expected 7 or 8 arguments: OP KEY UID GID THREAD PROCESS SESSION [CALLOUT]");
    }
    let get = |n: usize| pos.get(n).copied().unwrap_or(&[]);
    k.op = get(0);
    if k.op.is_empty() || k.op.len() > keel_wire::upcall::MAX_OP {
        return Err("bad operation");
    }
    k.key = serial(get(1)).ok_or("KEY: not a key serial")?;
    k.uid = id(get(2)).ok_or("UID: not a number")?;
    k.gid = id(get(3)).ok_or("GID: not a number")?;
    k.thread = serial(get(4)).ok_or("THREAD: not a keyring serial")?;
    k.process = serial(get(5)).ok_or("PROCESS: not a keyring serial")?;
    k.session = serial(get(6)).ok_or("SESSION: not a keyring serial")?;
    k.callout = pos.get(7).copied();
    Ok(k)
}

/// A decimal number that fits u32.
fn id(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    u32::try_from(n).ok()
}

/// A key serial: decimal, optionally negative (special keyrings).
fn serial(b: &[u8]) -> Option<i32> {
    match b.strip_prefix(b"-") {
        Some(rest) => id(rest).and_then(|n| i32::try_from(n).ok()).map(|n| -n),
        None => id(b).and_then(|n| i32::try_from(n).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn the_kernels_argv() {
        let m = pick(&v("/sbin/request-key create 847098631 100000 100000 0 0 506981148"));
        let Mode::Broker(k) = m else { panic!("{m:?}") };
        assert_eq!(k.op, b"create");
        assert_eq!(
            (k.key, k.uid, k.gid, k.thread, k.process, k.session),
            (847098631, 100000, 100000, 0, 0, 506981148)
        );
        assert_eq!(k.callout, None);
        assert!(!k.debug);
    }

    #[test]
    fn options_and_the_eighth_argument() {
        let Mode::Handle(k) = pick(&v(
            "upcall-agent handle -dlnvv -D user;0;0;1f0000;debug:1 create 1 0 0 0 0 0 x",
        )) else {
            panic!()
        };
        assert!(k.debug && k.local);
        assert_eq!(k.verbose, 2);
        assert_eq!(k.debug_desc, Some(&b"user;0;0;1f0000;debug:1"[..]));
        assert_eq!(k.callout, Some(&b"x"[..]));
        let Mode::Broker(k) = pick(&v("request-key -Duser;0;0;0;d create 1 0 0 0 0 0")) else {
            panic!()
        };
        assert_eq!(k.debug_desc, Some(&b"user;0;0;0;d"[..]));
    }

    #[test]
    fn bad_command_lines_are_refused_with_a_reason() {
        assert!(matches!(pick(&v("request-key create 1 0 0 0 0")), Mode::Usage(_)));
        assert!(matches!(pick(&v("request-key create x 0 0 0 0 0")), Mode::Usage(_)));
        assert!(matches!(pick(&v("request-key create 1 -5 0 0 0 0")), Mode::Usage(_)));
        assert!(matches!(
            pick(&v("request-key create 1 4294967296 0 0 0 0")),
            Mode::Usage(_)
        ));
        assert!(matches!(pick(&v("request-key -x create 1 0 0 0 0 0")), Mode::Usage(_)));
        assert!(matches!(pick(&v("request-key -D")), Mode::Usage(_)));
        assert!(matches!(pick(&v("upcall-agent")), Mode::Usage(_)));
        assert!(matches!(pick(&v("upcall-agent serve extra")), Mode::Usage(_)));
        assert_eq!(pick(&v("upcall-agent serve")), Mode::Serve);
        assert_eq!(pick(&v("/x/upcall-agent --version")), Mode::Version);
        let Mode::Broker(k) = pick(&v("request-key create 5 0 0 -1 -2 -3 c")) else {
            panic!()
        };
        assert_eq!((k.thread, k.process, k.session), (-1, -2, -3));
    }
}
