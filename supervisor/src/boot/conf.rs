//! The global configuration of boot mode, `keel.conf` (docs/boot.md is the
//! reference). Same token syntax as a container spec (docs/config.md: `#`
//! comments, quotes, escapes), one directive per line.
//!
//! Total: any bytes give a [`Conf`] or a [`ParseError`] naming the line;
//! never a panic. Like the spec parser it rewrites the buffer in place, so
//! every string in a `Conf` points into the caller's [`SpecBuf`].
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

use crate::spec::num;
use crate::spec::token::{Lines, Tok, Toks};
use crate::spec::{ParseError, SpecBuf, SPEC_FILE_MAX};
use core::ffi::CStr;
use heapless::Vec;

/// Most `module` lines.
pub const MAX_MODULES: usize = 32;
/// Most parameters on one `module` line.
pub const MAX_PARAMS: usize = 16;
/// Most `sysctl` lines.
pub const MAX_SYSCTLS: usize = 32;
/// Most names in all `modprobe_allow` lines together.
pub const MAX_ALLOW: usize = 32;
/// Longest module name (the kernel's MODULE_NAME_LEN is 56 with its NUL).
pub const MODULE_NAME_MAX: usize = 55;
/// Longest host name (the kernel's __NEW_UTS_LEN).
pub const HOSTNAME_MAX: usize = 64;
/// Default `shutdown_timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u32 = 10_000;

/// What keel does when the table ends (no container running or waiting
/// to restart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnEmpty {
    Poweroff,
    Reboot,
    Halt,
    /// Keep running: reap, reload on HUP, power off on a signal.
    Stay,
}

/// Who answers the kernel's module requests (/proc/sys/kernel/modprobe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modprobe {
    /// Nobody: the kernel runs no program.
    Off,
    /// keel's own loader, for the names in `modprobe_allow` only.
    Keel,
}

/// One `module NAME [PARAM[=VALUE]…]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleLine<'a> {
    pub name: &'a CStr,
    pub params: Vec<&'a CStr, MAX_PARAMS>,
    pub line: u32,
}

/// The parsed keel.conf. Strings point into the [`SpecBuf`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conf<'a> {
    pub hostname: Option<&'a CStr>,
    pub modules: Vec<ModuleLine<'a>, MAX_MODULES>,
    pub sysctls: Vec<(&'a CStr, &'a CStr), MAX_SYSCTLS>,
    pub on_empty: OnEmpty,
    pub verdict_port: Option<u16>,
    pub shutdown_timeout_ms: u32,
    pub modprobe: Modprobe,
    pub modprobe_allow: Vec<&'a CStr, MAX_ALLOW>,
    pub upcalls: crate::upcall::Settings,
}

impl Default for Conf<'_> {
    fn default() -> Self {
        Conf {
            hostname: None,
            modules: Vec::new(),
            sysctls: Vec::new(),
            on_empty: OnEmpty::Poweroff,
            verdict_port: None,
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
            modprobe: Modprobe::Off,
            modprobe_allow: Vec::new(),
            upcalls: crate::upcall::Settings::default(),
        }
    }
}

/// What boot mode still needs once the configuration has been applied
/// (it outlives the file's buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub on_empty: OnEmpty,
    pub verdict_port: Option<u16>,
    pub shutdown_timeout_ms: u32,
    pub upcalls: crate::upcall::Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Conf::default().settings()
    }
}

impl Conf<'_> {
    pub fn settings(&self) -> Settings {
        Settings {
            on_empty: self.on_empty,
            verdict_port: self.verdict_port,
            shutdown_timeout_ms: self.shutdown_timeout_ms,
            upcalls: self.upcalls,
        }
    }

    /// The `module` line for `name` (`-` and `_` are the same), if any.
    pub fn module(&self, name: &[u8]) -> Option<&ModuleLine<'_>> {
        self.modules.iter().find(|m| same_module(m.name.to_bytes(), name))
    }

    /// Whether `modprobe_allow` names `name` (`-` and `_` are the same).
    pub fn allows(&self, name: &[u8]) -> bool {
        self.modprobe_allow.iter().any(|a| same_module(a.to_bytes(), name))
    }
}

/// Module names compare with `-` and `_` taken as equal (the kernel's rule).
pub fn same_module(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: &u8| if *c == b'-' { b'_' } else { *c };
    a.len() == b.len() && a.iter().map(norm).eq(b.iter().map(norm))
}

/// A module name: 1 to 55 bytes of `A-Z a-z 0-9 _ -`.
pub fn valid_module_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= MODULE_NAME_MAX
        && n.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Hostname,
    Module,
    Sysctl,
    OnEmpty,
    VerdictPort,
    ShutdownTimeout,
    Modprobe,
    ModprobeAllow,
    UpcallDeadline,
    UpcallCap,
}

/// Key, and whether it may be repeated.
const KEYS: [(&str, Key, bool); 10] = [
    ("hostname", Key::Hostname, false),
    ("module", Key::Module, true),
    ("sysctl", Key::Sysctl, true),
    ("on_empty", Key::OnEmpty, false),
    ("verdict_port", Key::VerdictPort, false),
    ("shutdown_timeout", Key::ShutdownTimeout, false),
    ("modprobe", Key::Modprobe, false),
    ("modprobe_allow", Key::ModprobeAllow, true),
    ("upcall_deadline", Key::UpcallDeadline, false),
    ("upcall_cap", Key::UpcallCap, false),
];

fn err(t: &Toks<'_>, msg: &'static str, token: &[u8]) -> ParseError {
    ParseError::new(t.line, msg, token)
}

fn need<'a>(t: &mut Toks<'a>, msg: &'static str) -> Result<Tok<'a>, ParseError> {
    let line = t.line;
    t.next_tok().ok_or(ParseError::new(line, msg, b""))
}

fn end(t: &mut Toks<'_>) -> Result<(), ParseError> {
    match t.next_tok() {
        Some(extra) => Err(err(t, "unexpected word", extra.bytes())),
        None => Ok(()),
    }
}

/// Parses `buf.bytes[..buf.len]` in place (see the module docs). Either
/// way the buffer has been rewritten: to parse again, read the file again.
#[inline(never)]
pub fn parse(buf: &mut SpecBuf) -> Result<Conf<'_>, ParseError> {
    if buf.len > SPEC_FILE_MAX {
        return Err(ParseError::new(0, "file larger than 16384 bytes", b""));
    }
    let n = buf.len.saturating_add(1);
    let region = buf
        .bytes
        .get_mut(..n)
        .ok_or(ParseError::new(0, "file larger than 16384 bytes", b""))?;
    let mut c = Conf::default();
    let mut seen = [0u32; KEYS.len()];
    let mut allow_line = 0u32;
    let mut lines = Lines::new(region);
    while let Some(toks) = lines.next_line() {
        let mut t = toks?;
        let Some(key) = t.next_tok() else { continue };
        let Some((idx, &(_, k, repeatable))) = KEYS
            .iter()
            .enumerate()
            .find(|(_, (name, _, _))| name.as_bytes() == key.bytes())
        else {
            return Err(err(&t, "unknown key", key.bytes()));
        };
        let first = seen.get_mut(idx).ok_or(err(&t, "internal error: key table", b""))?;
        if *first != 0 && !repeatable {
            return Err(err(&t, "key given twice", key.bytes()));
        }
        if *first == 0 {
            *first = t.line;
        }
        match k {
            Key::Hostname => {
                let v = need(&mut t, "hostname needs a name")?;
                let b = v.bytes();
                if b.is_empty() || b.len() > HOSTNAME_MAX {
                    return Err(err(&t, "a host name is 1 to 64 bytes", b));
                }
                if b.iter().any(|&ch| ch <= b' ' || ch == b'/' || ch == 0x7f) {
                    return Err(err(&t, "a host name has no spaces, control bytes or /", b));
                }
                c.hostname = Some(v.cstr());
                end(&mut t)?;
            }
            Key::Module => {
                let v = need(&mut t, "module needs a name")?;
                if !valid_module_name(v.bytes()) {
                    return Err(err(&t, "a module name is 1 to 55 bytes of A-Z a-z 0-9 _ -", v.bytes()));
                }
                if c.module(v.bytes()).is_some() {
                    return Err(err(&t, "module given twice", v.bytes()));
                }
                let mut m = ModuleLine {
                    name: v.cstr(),
                    params: Vec::new(),
                    line: t.line,
                };
                while let Some(p) = t.next_tok() {
                    check_param(&t, p.bytes())?;
                    if m.params.push(p.cstr()).is_err() {
                        return Err(err(&t, "more than 16 parameters", b""));
                    }
                }
                if c.modules.push(m).is_err() {
                    return Err(err(&t, "more than 32 modules", b""));
                }
            }
            Key::Sysctl => {
                let key = need(&mut t, "sysctl needs a key and a value")?;
                check_sysctl_key(&t, key.bytes())?;
                if c.sysctls.iter().any(|(k2, _)| k2.to_bytes() == key.bytes()) {
                    return Err(err(&t, "sysctl key given twice", key.bytes()));
                }
                let key = key.cstr();
                let val = need(&mut t, "sysctl needs a value")?;
                if val.bytes().is_empty() {
                    return Err(err(&t, "sysctl value is empty", b""));
                }
                let val = val.cstr();
                end(&mut t)?;
                if c.sysctls.push((key, val)).is_err() {
                    return Err(err(&t, "more than 32 sysctls", b""));
                }
            }
            Key::OnEmpty => {
                let v = need(&mut t, "on_empty needs poweroff, reboot, halt or stay")?;
                c.on_empty = match v.bytes() {
                    b"poweroff" => OnEmpty::Poweroff,
                    b"reboot" => OnEmpty::Reboot,
                    b"halt" => OnEmpty::Halt,
                    b"stay" => OnEmpty::Stay,
                    other => return Err(err(&t, "on_empty is poweroff, reboot, halt or stay", other)),
                };
                end(&mut t)?;
            }
            Key::VerdictPort => {
                let v = need(&mut t, "verdict_port needs an I/O port number")?;
                let port =
                    port_number(v.bytes()).ok_or(err(&t, "an I/O port is 0 to 65535 (0x0 to 0xffff)", v.bytes()))?;
                c.verdict_port = Some(port);
                end(&mut t)?;
            }
            Key::ShutdownTimeout => {
                let v = need(&mut t, "shutdown_timeout needs a duration")?;
                c.shutdown_timeout_ms = num::duration_ms(v.bytes()).map_err(|m| err(&t, m, v.bytes()))?;
                end(&mut t)?;
            }
            Key::UpcallDeadline => {
                let v = need(&mut t, "upcall_deadline needs a duration")?;
                c.upcalls.deadline_ms =
                    crate::run::options::upcall_deadline(v.bytes()).map_err(|m| err(&t, m, v.bytes()))?;
                end(&mut t)?;
            }
            Key::UpcallCap => {
                let v = need(&mut t, "upcall_cap needs a number")?;
                c.upcalls.cap = crate::run::options::upcall_cap(v.bytes()).map_err(|m| err(&t, m, v.bytes()))?;
                end(&mut t)?;
            }
            Key::Modprobe => {
                let v = need(&mut t, "modprobe needs off or keel")?;
                c.modprobe = match v.bytes() {
                    b"off" => Modprobe::Off,
                    b"keel" => Modprobe::Keel,
                    other => return Err(err(&t, "modprobe is off or keel", other)),
                };
                end(&mut t)?;
            }
            Key::ModprobeAllow => {
                if allow_line == 0 {
                    allow_line = t.line;
                }
                let mut any = false;
                while let Some(v) = t.next_tok() {
                    any = true;
                    if !valid_module_name(v.bytes()) {
                        return Err(err(&t, "a module name is 1 to 55 bytes of A-Z a-z 0-9 _ -", v.bytes()));
                    }
                    if c.allows(v.bytes()) {
                        continue;
                    }
                    if c.modprobe_allow.push(v.cstr()).is_err() {
                        return Err(err(&t, "more than 32 names in modprobe_allow", b""));
                    }
                }
                if !any {
                    return Err(err(&t, "modprobe_allow needs one or more module names", b""));
                }
            }
        }
    }
    if allow_line != 0 && c.modprobe != Modprobe::Keel {
        return Err(ParseError::new(allow_line, "modprobe_allow needs modprobe keel", b""));
    }
    Ok(c)
}

/// `PARAM` or `PARAM=VALUE`: the kernel's parse_args takes a value with
/// spaces in double quotes, so a value may hold spaces but no `"`.
fn check_param(t: &Toks<'_>, p: &[u8]) -> Result<(), ParseError> {
    let name = p.split(|&b| b == b'=').next().unwrap_or(&[]);
    if name.is_empty()
        || !name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
    {
        return Err(err(
            t,
            "a module parameter is NAME or NAME=VALUE (NAME of A-Z a-z 0-9 _ - .)",
            p,
        ));
    }
    if p.iter().any(|&c| c == b'"' || c == b'\n') {
        return Err(err(t, "a module parameter cannot hold a double quote or a newline", p));
    }
    Ok(())
}

/// Dotted words, none empty, no `/`: `net.ipv4.ip_forward`.
fn check_sysctl_key(t: &Toks<'_>, k: &[u8]) -> Result<(), ParseError> {
    if k.is_empty() || k.split(|&c| c == b'.').any(|w| w.is_empty()) || k.iter().any(|&c| c == b'/' || c <= b' ') {
        return Err(err(
            t,
            "a sysctl key is dotted words without / (net.ipv4.ip_forward)",
            k,
        ));
    }
    Ok(())
}

/// Decimal or `0x` hexadecimal, at most 0xffff.
pub fn port_number(b: &[u8]) -> Option<u16> {
    let v = match b.strip_prefix(b"0x").or_else(|| b.strip_prefix(b"0X")) {
        Some(hex) => {
            if hex.is_empty() || hex.len() > 4 {
                return None;
            }
            hex.iter().try_fold(0u32, |acc, &c| {
                let d = (c as char).to_digit(16)?;
                acc.checked_mul(16)?.checked_add(d)
            })?
        }
        None => u32::try_from(num::u64_dec(b)?).ok()?,
    };
    u16::try_from(v).ok()
}

/// The module parameters of one line as the single string finit_module
/// takes: `a=1 b="x y"` (a value with a space is quoted). False if it does
/// not fit in `out`.
pub fn join_params<const N: usize>(params: &[&CStr], out: &mut keel_rt::path::CBuf<N>) -> bool {
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(b" ");
        }
        let b = p.to_bytes();
        match b.iter().position(|&c| c == b'=') {
            Some(eq) if b.iter().any(|&c| c == b' ' || c == b'\t') => {
                let (name, val) = b.split_at(eq);
                out.push(name)
                    .push(b"=\"")
                    .push(val.get(1..).unwrap_or(&[]))
                    .push(b"\"");
            }
            _ => {
                out.push(b);
            }
        }
    }
    !out.overflowed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<R>(src: &str, f: impl FnOnce(Result<Conf<'_>, ParseError>) -> R) -> R {
        let mut buf = Box::new(SpecBuf::new());
        assert!(buf.set(src.as_bytes()));
        buf.bytes[src.len()] = 0xA5;
        f(parse(&mut buf))
    }

    fn error(src: &str) -> (u32, &'static str, String) {
        with(src, |r| {
            let e = r.unwrap_err();
            (e.line, e.msg, String::from_utf8_lossy(&e.token).into_owned())
        })
    }

    #[test]
    fn defaults_for_an_empty_file() {
        with("", |r| {
            let c = r.unwrap();
            assert_eq!(c, Conf::default());
            assert_eq!(
                c.settings(),
                Settings {
                    on_empty: OnEmpty::Poweroff,
                    verdict_port: None,
                    shutdown_timeout_ms: 10_000,
                    upcalls: crate::upcall::Settings::default(),
                }
            );
        });
        with("# only a comment\n\n   \n", |r| assert_eq!(r.unwrap(), Conf::default()));
    }

    #[test]
    fn every_directive() {
        let src = "\
hostname appliance   # the name
module nfsv4
module nfs nfs4_disable_idmapping=0 \"callback_nr_threads=1\"
module dns-resolver
sysctl net.ipv4.ip_forward 1
sysctl kernel.sem \"250 32000 32 128\"
on_empty reboot
verdict_port 0xf4
shutdown_timeout 3s
modprobe keel
modprobe_allow nfsv4 dns_resolver
modprobe_allow fscache nfsv4
";
        with(src, |r| {
            let c = r.unwrap();
            assert_eq!(c.hostname.unwrap().to_bytes(), b"appliance");
            let names: Vec<&[u8], 8> = c.modules.iter().map(|m| m.name.to_bytes()).collect();
            assert_eq!(&names[..], [&b"nfsv4"[..], b"nfs", b"dns-resolver"]);
            let nfs = c.module(b"nfs").unwrap();
            assert_eq!(nfs.line, 3);
            let p: std::vec::Vec<&[u8]> = nfs.params.iter().map(|p| p.to_bytes()).collect();
            assert_eq!(p, [&b"nfs4_disable_idmapping=0"[..], b"callback_nr_threads=1"]);
            assert!(c.module(b"dns_resolver").is_some(), "- and _ are the same");
            assert_eq!(c.sysctls.len(), 2);
            assert_eq!(c.sysctls[1].0.to_bytes(), b"kernel.sem");
            assert_eq!(c.sysctls[1].1.to_bytes(), b"250 32000 32 128");
            assert_eq!(c.on_empty, OnEmpty::Reboot);
            assert_eq!(c.verdict_port, Some(0xf4));
            assert_eq!(c.shutdown_timeout_ms, 3000);
            assert_eq!(c.modprobe, Modprobe::Keel);
            assert_eq!(c.modprobe_allow.len(), 3);
            assert!(c.allows(b"dns-resolver") && c.allows(b"fscache") && !c.allows(b"nfs"));
        });
        for (v, e) in [
            ("poweroff", OnEmpty::Poweroff),
            ("halt", OnEmpty::Halt),
            ("stay", OnEmpty::Stay),
        ] {
            with(&format!("on_empty {v}"), |r| assert_eq!(r.unwrap().on_empty, e));
        }
        with("verdict_port 244\nmodprobe off", |r| {
            let c = r.unwrap();
            assert_eq!((c.verdict_port, c.modprobe), (Some(244), Modprobe::Off));
        });
    }

    #[test]
    fn errors_name_their_line() {
        assert_eq!(error("hostname a\nbogus x"), (2, "unknown key", "bogus".into()));
        assert_eq!(
            error("hostname a\nhostname b"),
            (2, "key given twice", "hostname".into())
        );
        assert_eq!(error("hostname"), (1, "hostname needs a name", "".into()));
        assert_eq!(error("hostname a b").1, "unexpected word");
        assert_eq!(
            error("hostname \"a b\"").1,
            "a host name has no spaces, control bytes or /"
        );
        assert_eq!(
            error(&format!("hostname {}", "h".repeat(65))).1,
            "a host name is 1 to 64 bytes"
        );
        assert_eq!(error("\n\nmodule").0, 3);
        assert_eq!(
            error("module nfs/x").1,
            "a module name is 1 to 55 bytes of A-Z a-z 0-9 _ -"
        );
        assert_eq!(error("module a\nmodule a").1, "module given twice");
        assert_eq!(error("module a_b\nmodule a-b").1, "module given twice");
        assert_eq!(
            error("module a =1").1,
            "a module parameter is NAME or NAME=VALUE (NAME of A-Z a-z 0-9 _ - .)"
        );
        assert_eq!(
            error("module a \"x=\\\"\"").1,
            "a module parameter cannot hold a double quote or a newline"
        );
        let many = format!(
            "module a {}",
            (0..17)
                .map(|i| format!("p{i}=1"))
                .collect::<std::vec::Vec<_>>()
                .join(" ")
        );
        assert_eq!(error(&many).1, "more than 16 parameters");
        let mods: String = (0..33).map(|i| format!("module m{i}\n")).collect();
        assert_eq!(error(&mods), (33, "more than 32 modules", "".into()));
        assert_eq!(
            error("sysctl a..b 1").1,
            "a sysctl key is dotted words without / (net.ipv4.ip_forward)"
        );
        assert_eq!(
            error("sysctl a/b 1").1,
            "a sysctl key is dotted words without / (net.ipv4.ip_forward)"
        );
        assert_eq!(error("sysctl a.b").1, "sysctl needs a value");
        assert_eq!(error("sysctl a.b \"\"").1, "sysctl value is empty");
        assert_eq!(
            error("sysctl a.b 1\nsysctl a.b 2"),
            (2, "sysctl key given twice", "a.b".into())
        );
        assert_eq!(error("sysctl a.b 1 2").1, "unexpected word");
        assert_eq!(
            error("on_empty explode").1,
            "on_empty is poweroff, reboot, halt or stay"
        );
        assert_eq!(
            error("verdict_port 65536").1,
            "an I/O port is 0 to 65535 (0x0 to 0xffff)"
        );
        assert_eq!(
            error("verdict_port 0x10000").1,
            "an I/O port is 0 to 65535 (0x0 to 0xffff)"
        );
        assert_eq!(error("verdict_port -1").1, "an I/O port is 0 to 65535 (0x0 to 0xffff)");
        assert_eq!(error("shutdown_timeout 10").1, "a duration needs a unit: ms, s, m or h");
        assert_eq!(error("modprobe maybe").1, "modprobe is off or keel");
        assert_eq!(
            error("modprobe_allow").1,
            "modprobe_allow needs one or more module names"
        );
        assert_eq!(
            error("# c\nmodprobe_allow nfs\nmodprobe off"),
            (2, "modprobe_allow needs modprobe keel", "".into())
        );
        assert_eq!(
            error("modprobe_allow nfs"),
            (1, "modprobe_allow needs modprobe keel", "".into())
        );
        assert_eq!(error("hostname \"unterminated").1, "unterminated quote");
    }

    #[test]
    fn ports_and_params() {
        assert_eq!(port_number(b"0xf4"), Some(0xf4));
        assert_eq!(port_number(b"0XFFFF"), Some(0xffff));
        assert_eq!(port_number(b"501"), Some(501));
        assert_eq!(port_number(b"0x"), None);
        assert_eq!(port_number(b"0x00001"), None);
        assert_eq!(port_number(b""), None);
        assert_eq!(port_number(b"f4"), None);
        let (a, b, c) = (c"a=1", c"b=x y", c"flag");
        let mut out = keel_rt::path::CBuf::<64>::new();
        assert!(join_params(&[a, b, c], &mut out));
        assert_eq!(out.as_bytes(), b"a=1 b=\"x y\" flag");
        let mut small = keel_rt::path::CBuf::<4>::new();
        assert!(!join_params(&[a, b], &mut small));
    }

    #[test]
    fn mutated_inputs_never_panic() {
        let base = b"hostname h\nmodule nfs a=1 \"b=c d\"\nsysctl x.y 1\non_empty stay\nverdict_port 0xf4\nshutdown_timeout 1s\nmodprobe keel\nmodprobe_allow nfs\n";
        let mut seed = 0x1234_5678u32;
        for _ in 0..20_000 {
            let mut v = base.to_vec();
            for _ in 0..3 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = (seed as usize >> 8) % v.len();
                let b = (seed >> 3) as u8;
                match seed % 3 {
                    0 => v[i] = b,
                    1 => v.insert(i, b),
                    _ => {
                        v.remove(i);
                    }
                }
            }
            let mut buf = Box::new(SpecBuf::new());
            buf.set(&v);
            let _ = parse(&mut buf);
        }
    }
}
