//! The spec parser (see docs/config.md). Total: any bytes give a Spec or a
//! ParseError with a line number; never a panic.
//!
//! One pass over the lines builds the [`Spec`] (each directive checks its
//! own words); a final pass checks what directives require of each other
//! and fills the defaults that depend on other directives. Every error names
//! the line of the directive whose requirement is not met, or line 0 for the
//! file as a whole.
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

use super::names;
use super::num;
use super::token::{Lines, Tok, Toks};
use super::*;

/// Longest token kept in a [`ParseError`].
pub const ERROR_TOKEN_MAX: usize = 48;

/// A parse error: the 1-based line (0: the file as a whole), what is wrong,
/// and the offending word (cut to 48 bytes; empty when there is none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: u32,
    pub msg: &'static str,
    pub token: heapless::Vec<u8, ERROR_TOKEN_MAX>,
}

impl ParseError {
    #[inline(never)]
    pub fn new(line: u32, msg: &'static str, token: &[u8]) -> Self {
        let mut t = heapless::Vec::new();
        for &b in token.iter().take(ERROR_TOKEN_MAX) {
            let _ = t.push(b);
        }
        ParseError { line, msg, token: t }
    }

    /// Appends `FILE:LINE: MSG "TOKEN"` to `out` (`FILE: MSG` for line 0;
    /// no token part when there is none). The token is quoted as the spec
    /// would quote it: `\\`, `\"`, `\n`, `\t`, and `\xHH` for other control
    /// and non-ASCII bytes, so a log line stays one printable line.
    pub fn render(&self, file: &[u8], out: &mut keel_rt::Line) {
        out.bytes(file);
        if self.line != 0 {
            out.str(":").u64(u64::from(self.line));
        }
        out.str(": ").str(self.msg);
        if !self.token.is_empty() {
            out.str(" \"");
            for &b in self.token.iter() {
                match b {
                    b'\\' => out.str("\\\\"),
                    b'"' => out.str("\\\""),
                    b'\n' => out.str("\\n"),
                    b'\t' => out.str("\\t"),
                    0x20..=0x7e => out.bytes(&[b]),
                    _ => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                        let lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
                        out.bytes(&[b'\\', b'x', hi, lo])
                    }
                };
            }
            out.str("\"");
        }
    }
}

/// Parses `buf.bytes[..buf.len]` in place (see the module docs of
/// [`crate::spec`]): on success every string in the Spec points into `buf`.
/// Either way the buffer has been rewritten (quotes and escapes removed,
/// NULs after tokens): to parse the file again, read it again.
///
/// Binding the result needs a statement end before `buf` goes out of
/// scope (`let r = parse(&mut buf);` or `match parse(&mut buf) { … };`):
/// the Spec's lists have destructors.
pub fn parse(buf: &mut SpecBuf) -> Result<Spec<'_>, ParseError> {
    if buf.len > SPEC_FILE_MAX {
        return Err(ParseError::new(0, "file larger than 16384 bytes", b""));
    }
    let end = buf.len.saturating_add(1);
    let region = buf
        .bytes
        .get_mut(..end)
        .ok_or(ParseError::new(0, "file larger than 16384 bytes", b""))?;
    let mut st = St::default();
    let mut lines = Lines::new(region);
    while let Some(toks) = lines.next_line() {
        let mut t = toks?;
        let Some(key) = t.next_tok() else { continue };
        let Some(&(_, k, repeatable)) = KEYS.iter().find(|(name, _, _)| name.as_bytes() == key.bytes()) else {
            return Err(t.err("unknown key", key.bytes()));
        };
        let seen = st
            .key_line
            .get_mut(k as usize)
            .ok_or(t.err("internal error: key table", b""))?;
        if *seen == 0 {
            *seen = t.line;
        } else if !repeatable {
            return Err(t.err("key given twice", key.bytes()));
        }
        st.directive(k, &mut t)?;
    }
    st.finish()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Root,
    Ns,
    UidMap,
    GidMap,
    TimeOffsets,
    Hostname,
    Mount,
    Dev,
    Mask,
    Readonly,
    Sysctl,
    Args,
    Env,
    Cwd,
    User,
    Groups,
    Umask,
    OomScoreAdj,
    Rlimit,
    Caps,
    NoNewPrivs,
    Cgroup,
    Stdio,
    Restart,
    Backoff,
    RestartBudget,
    Oneshot,
    After,
    ReadyFd,
    StopSignal,
    StopTimeout,
}

const KEY_COUNT: usize = 31;

/// Every directive: its word, and whether it may be given more than once
/// (`ns`, `caps`, `cgroup`, `rlimit` and `sysctl` may, but each kind, set,
/// file, resource or key only once).
const KEYS: [(&str, Key, bool); KEY_COUNT] = [
    ("root", Key::Root, false),
    ("ns", Key::Ns, true),
    ("uid_map", Key::UidMap, true),
    ("gid_map", Key::GidMap, true),
    ("time_offsets", Key::TimeOffsets, false),
    ("hostname", Key::Hostname, false),
    ("mount", Key::Mount, true),
    ("dev", Key::Dev, false),
    ("mask", Key::Mask, true),
    ("readonly", Key::Readonly, true),
    ("sysctl", Key::Sysctl, true),
    ("args", Key::Args, false),
    ("env", Key::Env, true),
    ("cwd", Key::Cwd, false),
    ("user", Key::User, false),
    ("groups", Key::Groups, false),
    ("umask", Key::Umask, false),
    ("oom_score_adj", Key::OomScoreAdj, false),
    ("rlimit", Key::Rlimit, true),
    ("caps", Key::Caps, true),
    ("no_new_privs", Key::NoNewPrivs, false),
    ("cgroup", Key::Cgroup, true),
    ("stdio", Key::Stdio, false),
    ("restart", Key::Restart, false),
    ("backoff", Key::Backoff, false),
    ("restart_budget", Key::RestartBudget, false),
    ("oneshot", Key::Oneshot, false),
    ("after", Key::After, true),
    ("ready_fd", Key::ReadyFd, false),
    ("stop_signal", Key::StopSignal, false),
    ("stop_timeout", Key::StopTimeout, false),
];

/// The words of the `caps` sets, in the order of [`St::caps_line`].
const CAP_SETS: [&str; 5] = ["bounding", "effective", "permitted", "inheritable", "ambient"];
const CAP_EFFECTIVE: usize = 1;
const CAP_AMBIENT: usize = 4;

/// The files `cgroup` may set, in the order of [`St::cgroup_line`].
const CGROUP_FILES: [&str; 4] = ["memory.max", "pids.max", "cpu.max", "cpu.weight"];

/// Largest time namespace offset, in seconds (the kernel's KTIME_SEC_MAX).
const TIME_OFFSET_MAX: i64 = i64::MAX / 1_000_000_000;

/// Longest host name (HOST_NAME_MAX).
const HOSTNAME_MAX: usize = 64;

/// The parse in progress: the Spec so far and where each thing was said.
struct St<'a> {
    spec: Spec<'a>,
    /// The first line of each key (0: not given), indexed by `Key as usize`.
    key_line: [u32; KEY_COUNT],
    /// The line of each `ns KIND`, indexed by [`NsKind::index`].
    ns_line: [u32; 8],
    /// The line of each `caps SET`, in [`CAP_SETS`] order.
    caps_line: [u32; 5],
    /// The line of each `cgroup FILE`, in [`CGROUP_FILES`] order.
    cgroup_line: [u32; 4],
    /// The line of each mount, in `spec.mounts` order.
    mount_line: [u32; MAX_MOUNTS],
    /// The line of each sysctl, in `spec.sysctls` order.
    sysctl_line: [u32; MAX_SYSCTLS],
}

impl Default for St<'_> {
    fn default() -> Self {
        St {
            spec: Spec::default(),
            key_line: [0; KEY_COUNT],
            ns_line: [0; 8],
            caps_line: [0; 5],
            cgroup_line: [0; 4],
            mount_line: [0; MAX_MOUNTS],
            sysctl_line: [0; MAX_SYSCTLS],
        }
    }
}

/// Error helpers over one line's tokens.
impl<'a> Toks<'a> {
    #[inline(never)]
    fn err(&self, msg: &'static str, token: &[u8]) -> ParseError {
        ParseError::new(self.line, msg, token)
    }

    /// The next word, or `msg` as the error.
    fn need(&mut self, msg: &'static str) -> Result<Tok<'a>, ParseError> {
        self.next_tok().ok_or(ParseError::new(self.line, msg, b""))
    }

    /// No words may follow.
    fn end(&mut self) -> Result<(), ParseError> {
        match self.next_tok() {
            None => Ok(()),
            Some(t) => Err(self.err("unexpected word", t.bytes())),
        }
    }

    /// The next word as an absolute path.
    fn need_path(&mut self, msg: &'static str) -> Result<&'a CStr, ParseError> {
        let t = self.need(msg)?;
        self.path(t)
    }

    fn path(&self, t: Tok<'a>) -> Result<&'a CStr, ParseError> {
        check_path(t.bytes()).map_err(|m| self.err(m, t.bytes()))?;
        Ok(t.cstr())
    }

    fn number<T: TryFrom<u64>>(&self, t: &Tok<'_>, msg: &'static str) -> Result<T, ParseError> {
        num::u64_dec(t.bytes())
            .and_then(|n| T::try_from(n).ok())
            .ok_or(self.err(msg, t.bytes()))
    }

    fn duration(&self, t: &Tok<'_>) -> Result<u32, ParseError> {
        num::duration_ms(t.bytes()).map_err(|m| self.err(m, t.bytes()))
    }
}

/// An absolute path with no `..` component.
fn check_path(b: &[u8]) -> Result<(), &'static str> {
    if b.first() != Some(&b'/') {
        return Err("not an absolute path");
    }
    if b.split(|&c| c == b'/').any(|c| c == b"..") {
        return Err("a path may not contain a .. component");
    }
    Ok(())
}

/// The suffix of a `name=VALUE` token as a C string, if `t` starts with `name=`.
fn suffix<'a>(t: Tok<'a>, name: &[u8]) -> Result<&'a [u8], Tok<'a>> {
    let b = t.bytes();
    if b.len() > name.len() && b.starts_with(name) && b.get(name.len()) == Some(&b'=') {
        let n = name.len().saturating_add(1);
        let all: &'a [u8] = t.into_mut();
        Ok(all.get(n..).unwrap_or(&[]))
    } else {
        Err(t)
    }
}

fn cstr_of(b: &[u8]) -> &CStr {
    CStr::from_bytes_until_nul(b).unwrap_or_default()
}

/// Without its NUL.
fn text(b: &[u8]) -> &[u8] {
    cstr_of(b).to_bytes()
}

/// A decimal rendering of `n`, for error tokens.
fn dec(n: u64) -> heapless::Vec<u8, 20> {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i = i.saturating_sub(1);
        if let Some(d) = digits.get_mut(i) {
            *d = b'0'.saturating_add((n % 10) as u8);
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    heapless::Vec::from_slice(digits.get(i..).unwrap_or(&[])).unwrap_or_default()
}

/// A mount flag word: the bits it sets and the bits it clears.
fn mount_flag(w: &[u8]) -> Option<(u64, u64)> {
    use mflags::*;
    const ATIME: u64 = NOATIME | RELATIME | STRICTATIME;
    Some(match w {
        b"ro" => (RDONLY, 0),
        b"rw" => (0, RDONLY),
        b"nosuid" => (NOSUID, 0),
        b"suid" => (0, NOSUID),
        b"nodev" => (NODEV, 0),
        b"dev" => (0, NODEV),
        b"noexec" => (NOEXEC, 0),
        b"exec" => (0, NOEXEC),
        b"noatime" => (NOATIME, ATIME),
        b"relatime" => (RELATIME, ATIME),
        b"strictatime" => (STRICTATIME, ATIME),
        b"nodiratime" => (NODIRATIME, 0),
        _ => return None,
    })
}

/// Splits a mount's OPTIONS token in place: flag words go into the returned
/// mask, every other word is moved to the front of the token (commas kept)
/// and NUL-terminated. Returns the mask and the length of the data.
fn mount_options(tok: &mut [u8], line: u32) -> Result<(u64, usize), ParseError> {
    let internal = || ParseError::new(line, "internal error: option rewrite out of bounds", b"");
    let len = text(tok).len();
    let mut flags = 0u64;
    let (mut r, mut w) = (0usize, 0usize);
    while r <= len {
        let word_len = tok
            .get(r..len)
            .and_then(|s| s.iter().position(|&c| c == b','))
            .unwrap_or(len.saturating_sub(r));
        let end = r.saturating_add(word_len);
        let word = tok.get(r..end).unwrap_or(&[]);
        if word.is_empty() {
            return Err(ParseError::new(line, "empty mount option", text(tok)));
        }
        if let Some((set, clear)) = mount_flag(word) {
            flags = (flags & !clear) | set;
        } else {
            if w > 0 {
                *tok.get_mut(w).ok_or_else(internal)? = b',';
                w = w.saturating_add(1);
            }
            for i in r..end {
                let c = tok.get(i).copied().ok_or_else(internal)?;
                *tok.get_mut(w).ok_or_else(internal)? = c;
                w = w.saturating_add(1);
            }
        }
        r = end.saturating_add(1);
    }
    *tok.get_mut(w).ok_or_else(internal)? = 0;
    Ok((flags, w))
}

/// Which new namespace a namespaced sysctl needs; Err for host-wide keys.
fn sysctl_ns(key: &[u8]) -> Result<NsKind, &'static str> {
    if key.is_empty() || key.split(|&c| c == b'.').any(|c| c.is_empty()) || key.contains(&b'/') {
        return Err("not a sysctl key (dotted words: net.ipv4.ip_forward)");
    }
    const IPC: [&[u8]; 8] = [
        b"kernel.msgmax",
        b"kernel.msgmnb",
        b"kernel.msgmni",
        b"kernel.sem",
        b"kernel.shmall",
        b"kernel.shmmax",
        b"kernel.shmmni",
        b"kernel.shm_rmid_forced",
    ];
    if key.starts_with(b"net.") {
        Ok(NsKind::Net)
    } else if key == b"kernel.hostname" || key == b"kernel.domainname" {
        Ok(NsKind::Uts)
    } else if IPC.contains(&key) || key.starts_with(b"fs.mqueue.") {
        Ok(NsKind::Ipc)
    } else {
        Err(
            "sysctl is host-wide, not namespaced (allowed: net.*, kernel.hostname, kernel.domainname, \
             kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, \
             kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*)",
        )
    }
}

/// A uid or gid: decimal, not 4294967295 (which means "no change" to the kernel).
fn id(t: &Toks<'_>, b: &[u8]) -> Result<u32, ParseError> {
    match num::u32_dec(b) {
        Some(u32::MAX) => Err(t.err("id 4294967295 is reserved", b)),
        Some(n) => Ok(n),
        None => Err(t.err("not a numeric id", b)),
    }
}

fn id_mapped(maps: &[IdMap], id: u32) -> bool {
    maps.iter()
        .any(|m| id >= m.inside && u64::from(id) < u64::from(m.inside).saturating_add(u64::from(m.count)))
}

fn overlaps(a_start: u32, b_start: u32, count_a: u32, count_b: u32) -> bool {
    let (a0, b0) = (u64::from(a_start), u64::from(b_start));
    a0 < b0.saturating_add(u64::from(count_b)) && b0 < a0.saturating_add(u64::from(count_a))
}

/// The first capability in `mask`, for error tokens.
fn first_cap(mask: u64) -> &'static [u8] {
    names::cap_name(mask.trailing_zeros()).unwrap_or("").as_bytes()
}

impl<'a> St<'a> {
    fn directive(&mut self, k: Key, t: &mut Toks<'a>) -> Result<(), ParseError> {
        let s = &mut self.spec;
        match k {
            Key::Root => {
                let first = t.need("root needs a path, or overlay and lower directories")?;
                if first.bytes() == b"overlay" {
                    s.root = St::overlay(t)?;
                } else {
                    let path = t.path(first)?;
                    let readonly = match t.next_tok() {
                        None => false,
                        Some(w) if w.bytes() == b"ro" => true,
                        Some(w) => return Err(t.err("unexpected word (only ro may follow the path)", w.bytes())),
                    };
                    t.end()?;
                    s.root = Root::Bind { path, readonly };
                }
            }
            Key::Ns => {
                let kt =
                    t.need("ns needs a kind (user mnt pid net uts ipc cgroup time) and new, host or share NAME")?;
                let kind = NsKind::from_name(kt.bytes()).ok_or(t.err("unknown namespace kind", kt.bytes()))?;
                let line = self
                    .ns_line
                    .get_mut(kind.index())
                    .ok_or(t.err("internal error: ns table", b""))?;
                if *line != 0 {
                    return Err(t.err("namespace kind given twice", kt.bytes()));
                }
                *line = t.line;
                let mt = t.need("ns needs new, host or share NAME")?;
                let mode = match mt.bytes() {
                    b"new" => NsMode::New,
                    b"host" => NsMode::Host,
                    b"share" => {
                        let n = t.need("ns share needs a container name")?;
                        if !valid_name(n.bytes()) {
                            return Err(t.err("not a valid container name", n.bytes()));
                        }
                        NsMode::Share(n.cstr())
                    }
                    other => return Err(t.err("unknown namespace mode (new, host, share NAME)", other)),
                };
                t.end()?;
                if let Some(m) = s.ns.modes.get_mut(kind.index()) {
                    *m = mode;
                }
            }
            Key::UidMap | Key::GidMap => {
                let mut v = [0u32; 3];
                for slot in v.iter_mut() {
                    let w = t.need("uid_map and gid_map need INSIDE OUTSIDE COUNT")?;
                    *slot = t.number(&w, "not a number from 0 to 4294967295")?;
                }
                t.end()?;
                let [inside, outside, count] = v;
                if count == 0 {
                    return Err(t.err("an id map needs a COUNT of at least 1", b"0"));
                }
                let limit = 1u64 << 32;
                if u64::from(inside).saturating_add(u64::from(count)) > limit
                    || u64::from(outside).saturating_add(u64::from(count)) > limit
                {
                    return Err(t.err("id range runs past 4294967295", &dec(u64::from(count))));
                }
                let maps = if k == Key::UidMap {
                    &mut s.uid_map
                } else {
                    &mut s.gid_map
                };
                for m in maps.iter() {
                    if overlaps(inside, m.inside, count, m.count) || overlaps(outside, m.outside, count, m.count) {
                        return Err(t.err("id range overlaps an earlier map", &dec(u64::from(inside))));
                    }
                }
                maps.push(IdMap { inside, outside, count })
                    .map_err(|_| t.err("too many id maps (limit 5)", b""))?;
            }
            Key::TimeOffsets => {
                let mut off = TimeOffsets::default();
                let (mut mono, mut boot) = (false, false);
                while let Some(w) = t.next_tok() {
                    let b = w.bytes();
                    let (seen, slot, v) = if let Some(v) = b.strip_prefix(b"monotonic=") {
                        (&mut mono, &mut off.monotonic, v)
                    } else if let Some(v) = b.strip_prefix(b"boottime=") {
                        (&mut boot, &mut off.boottime, v)
                    } else {
                        return Err(t.err("unknown offset (monotonic=SECONDS, boottime=SECONDS)", b));
                    };
                    if *seen {
                        return Err(t.err("offset given twice", b));
                    }
                    *seen = true;
                    *slot = num::i64_dec(v)
                        .filter(|n| (-TIME_OFFSET_MAX..=TIME_OFFSET_MAX).contains(n))
                        .ok_or(t.err("not a number of seconds from -9223372036 to 9223372036", b))?;
                }
                if !mono && !boot {
                    return Err(t.err("time_offsets needs monotonic=SECONDS or boottime=SECONDS", b""));
                }
                s.time_offsets = Some(off);
            }
            Key::Hostname => {
                let h = t.need("hostname needs a name")?;
                if h.bytes().is_empty() || h.bytes().len() > HOSTNAME_MAX {
                    return Err(t.err("a host name has 1 to 64 bytes", h.bytes()));
                }
                t.end()?;
                s.hostname = Some(h.cstr());
            }
            Key::Mount => {
                let line = t.line;
                let kt = t.need("mount needs a type (proc sysfs tmpfs devpts mqueue bind rbind) and a target")?;
                let kind = match kt.bytes() {
                    b"proc" => MountKind::Proc,
                    b"sysfs" => MountKind::Sysfs,
                    b"tmpfs" => MountKind::Tmpfs,
                    b"devpts" => MountKind::Devpts,
                    b"mqueue" => MountKind::Mqueue,
                    b"bind" | b"rbind" => {
                        let recursive = kt.bytes() == b"rbind";
                        let source = t.need_path("mount bind needs a source and a target")?;
                        MountKind::Bind { source, recursive }
                    }
                    other => return Err(t.err("unknown mount type (proc sysfs tmpfs devpts mqueue bind rbind)", other)),
                };
                let target = t.need_path("mount needs a target path")?;
                let (flags, data) = match t.next_tok() {
                    None => (0, None),
                    Some(o) => {
                        let o = o.into_mut();
                        let (flags, n) = mount_options(o, line)?;
                        let o: &'a [u8] = o;
                        let data = if n == 0 { None } else { Some(cstr_of(o)) };
                        if data.is_some() && matches!(kind, MountKind::Bind { .. }) {
                            return Err(t.err("a bind mount takes only flag options (ro, nosuid, nodev, ...)", text(o)));
                        }
                        (flags, data)
                    }
                };
                t.end()?;
                let i = s.mounts.len();
                s.mounts
                    .push(Mount {
                        kind,
                        target,
                        flags,
                        data,
                    })
                    .map_err(|_| t.err("too many mounts (limit 32)", b""))?;
                if let Some(l) = self.mount_line.get_mut(i) {
                    *l = line;
                }
            }
            Key::Dev => {
                let w = t.need("dev needs minimal or none")?;
                s.dev = match w.bytes() {
                    b"minimal" => Dev::Minimal,
                    b"none" => Dev::None,
                    other => return Err(t.err("unknown dev mode (minimal, none)", other)),
                };
                t.end()?;
            }
            Key::Mask | Key::Readonly => {
                let p = t.need_path("mask and readonly need a path")?;
                t.end()?;
                let list = if k == Key::Mask { &mut s.masked } else { &mut s.readonly };
                list.push(p).map_err(|_| t.err("too many paths (limit 32)", b""))?;
            }
            Key::Sysctl => {
                let line = t.line;
                let kt = t.need("sysctl needs a key and a value")?;
                sysctl_ns(kt.bytes()).map_err(|m| t.err(m, kt.bytes()))?;
                let key = kt.cstr();
                if s.sysctls.iter().any(|(k, _)| *k == key) {
                    return Err(t.err("sysctl key given twice", key.to_bytes()));
                }
                let v = t.need("sysctl needs a value")?;
                if v.bytes().is_empty() {
                    return Err(t.err("sysctl needs a value", key.to_bytes()));
                }
                let value = v.cstr();
                t.end()?;
                let i = s.sysctls.len();
                s.sysctls
                    .push((key, value))
                    .map_err(|_| t.err("too many sysctls (limit 16)", b""))?;
                if let Some(l) = self.sysctl_line.get_mut(i) {
                    *l = line;
                }
            }
            Key::Args => {
                let p = t.need("args needs a program")?;
                if p.bytes().is_empty() {
                    return Err(t.err("the program may not be empty", b""));
                }
                s.process
                    .args
                    .push(p.cstr())
                    .map_err(|_| t.err("too many args (limit 64)", b""))?;
                while let Some(a) = t.next_tok() {
                    s.process
                        .args
                        .push(a.cstr())
                        .map_err(|_| t.err("too many args (limit 64)", b""))?;
                }
            }
            Key::Env => {
                let e = t.need("env needs NAME=VALUE")?;
                let b = e.bytes();
                let name_len = b
                    .iter()
                    .position(|&c| c == b'=')
                    .ok_or(t.err("env needs NAME=VALUE", b))?;
                let name = b.get(..name_len).unwrap_or(&[]);
                if name.is_empty() {
                    return Err(t.err("env needs a NAME before =", b));
                }
                let dup = s.process.env.iter().any(|v| {
                    let v = v.to_bytes();
                    v.get(..name_len) == Some(name) && v.get(name_len) == Some(&b'=')
                });
                if dup {
                    return Err(t.err("env variable given twice", name));
                }
                let e = e.cstr();
                t.end()?;
                s.process
                    .env
                    .push(e)
                    .map_err(|_| t.err("too many env variables (limit 64)", b""))?;
            }
            Key::Cwd => {
                s.process.cwd = Some(t.need_path("cwd needs a path")?);
                t.end()?;
            }
            Key::User => {
                let u = t.need("user needs UID or UID:GID")?;
                let b = u.bytes();
                let (uid, gid) = match b.iter().position(|&c| c == b':') {
                    Some(i) => (
                        b.get(..i).unwrap_or(&[]),
                        Some(b.get(i.saturating_add(1)..).unwrap_or(&[])),
                    ),
                    None => (b, None),
                };
                s.process.uid = id(t, uid)?;
                if let Some(g) = gid {
                    s.process.gid = id(t, g)?;
                }
                t.end()?;
            }
            Key::Groups => {
                let g = t.need("groups needs one or more GIDs")?;
                let mut next = Some(g);
                while let Some(g) = next {
                    let n = id(t, g.bytes())?;
                    if !s.process.groups.contains(&n) {
                        s.process
                            .groups
                            .push(n)
                            .map_err(|_| t.err("too many groups (limit 32)", b""))?;
                    }
                    next = t.next_tok();
                }
            }
            Key::Umask => {
                let u = t.need("umask needs an octal mask")?;
                s.process.umask = num::octal(u.bytes())
                    .filter(|&m| m <= 0o777)
                    .and_then(|m| u32::try_from(m).ok())
                    .ok_or(t.err("not an octal mask (0 to 0777)", u.bytes()))?;
                t.end()?;
            }
            Key::OomScoreAdj => {
                let n = t.need("oom_score_adj needs a number")?;
                let v = num::i64_dec(n.bytes())
                    .filter(|v| (-1000..=1000).contains(v))
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or(t.err("not a number from -1000 to 1000", n.bytes()))?;
                s.process.oom_score_adj = Some(v);
                t.end()?;
            }
            Key::Rlimit => {
                let nt = t.need("rlimit needs NAME SOFT HARD")?;
                let resource = names::rlimit_by_name(nt.bytes()).ok_or(t.err("unknown resource limit", nt.bytes()))?;
                if s.rlimits.iter().any(|r| r.resource == resource) {
                    return Err(t.err("resource limit given twice", nt.bytes()));
                }
                let mut v = [0u64; 2];
                for slot in v.iter_mut() {
                    let w = t.need("rlimit needs NAME SOFT HARD")?;
                    *slot = match w.bytes() {
                        b"unlimited" => u64::MAX,
                        b => num::u64_dec(b).ok_or(t.err("not a number or unlimited", b))?,
                    };
                }
                t.end()?;
                let [soft, hard] = v;
                if soft > hard {
                    return Err(t.err("the soft limit is above the hard limit", nt.bytes()));
                }
                s.rlimits
                    .push(Rlimit { resource, soft, hard })
                    .map_err(|_| t.err("too many resource limits (limit 16)", b""))?;
            }
            Key::Caps => {
                let st =
                    t.need("caps needs a set (bounding effective permitted inheritable ambient) and capabilities")?;
                let set = CAP_SETS.iter().position(|n| n.as_bytes() == st.bytes()).ok_or(t.err(
                    "unknown capability set (bounding effective permitted inheritable ambient)",
                    st.bytes(),
                ))?;
                let line = self
                    .caps_line
                    .get_mut(set)
                    .ok_or(t.err("internal error: caps table", b""))?;
                if *line != 0 {
                    return Err(t.err("capability set given twice", st.bytes()));
                }
                *line = t.line;
                let (mut mask, mut words, mut none) = (0u64, 0u32, false);
                while let Some(c) = t.next_tok() {
                    words = words.saturating_add(1);
                    let b = c.bytes();
                    if b.eq_ignore_ascii_case(b"all") {
                        mask |= names::ALL_CAPS;
                    } else if b.eq_ignore_ascii_case(b"none") {
                        none = true;
                    } else {
                        let n = names::cap_by_name(b).ok_or(t.err("unknown capability", b))?;
                        mask |= 1u64.checked_shl(n).unwrap_or(0);
                    }
                }
                if words == 0 {
                    return Err(t.err("caps needs capabilities, all or none", st.bytes()));
                }
                if none && words > 1 {
                    return Err(t.err("none must stand alone", st.bytes()));
                }
                let c = &mut s.caps;
                let slot = match set {
                    0 => &mut c.bounding,
                    1 => &mut c.effective,
                    2 => &mut c.permitted,
                    3 => &mut c.inheritable,
                    _ => &mut c.ambient,
                };
                *slot = mask;
            }
            Key::NoNewPrivs => {
                t.end()?;
                s.no_new_privs = true;
            }
            Key::Cgroup => {
                let ft = t.need("cgroup needs a file (memory.max pids.max cpu.max cpu.weight) and a value")?;
                let file = CGROUP_FILES
                    .iter()
                    .position(|n| n.as_bytes() == ft.bytes())
                    .ok_or(t.err(
                        "unsupported cgroup file (memory.max, pids.max, cpu.max, cpu.weight)",
                        ft.bytes(),
                    ))?;
                let line = self
                    .cgroup_line
                    .get_mut(file)
                    .ok_or(t.err("internal error: cgroup table", b""))?;
                if *line != 0 {
                    return Err(t.err("cgroup file given twice", ft.bytes()));
                }
                *line = t.line;
                let v = t.need("cgroup needs a value")?;
                let b = v.bytes();
                let g = &mut s.cgroup;
                match file {
                    0 => {
                        g.memory_max = Some(if b == b"max" {
                            u64::MAX
                        } else {
                            num::size_bytes(b).ok_or(t.err("not a size (bytes, or with k, m, g, t; or max)", b))?
                        })
                    }
                    1 => {
                        g.pids_max = Some(if b == b"max" {
                            u64::MAX
                        } else {
                            t.number(&v, "not a number or max")?
                        })
                    }
                    2 => {
                        let quota = if b == b"max" {
                            u64::MAX
                        } else {
                            num::u64_dec(b)
                                .filter(|&q| q >= 1000)
                                .ok_or(t.err("cpu.max quota: microseconds, at least 1000, or max", b))?
                        };
                        let period = match t.next_tok() {
                            None => 100_000,
                            Some(p) => num::u64_dec(p.bytes())
                                .filter(|p| (1000..=1_000_000).contains(p))
                                .ok_or(t.err("cpu.max period: microseconds from 1000 to 1000000", p.bytes()))?,
                        };
                        g.cpu_max = Some((quota, period));
                    }
                    _ => {
                        g.cpu_weight = Some(
                            num::u32_dec(b)
                                .filter(|w| (1..=10_000).contains(w))
                                .ok_or(t.err("cpu.weight is a number from 1 to 10000", b))?,
                        )
                    }
                }
                t.end()?;
            }
            Key::Stdio => {
                let w = t.need("stdio needs inherit, null, log or file PATH")?;
                s.stdio = match w.bytes() {
                    b"inherit" => Stdio::Inherit,
                    b"null" => Stdio::Null,
                    b"log" => Stdio::Log,
                    b"file" => Stdio::File(t.need_path("stdio file needs a path")?),
                    other => return Err(t.err("unknown stdio mode (inherit, null, log, file PATH)", other)),
                };
                t.end()?;
            }
            Key::Restart => {
                let w = t.need("restart needs never, on-failure or always")?;
                s.restart.policy = match w.bytes() {
                    b"never" => RestartPolicy::Never,
                    b"on-failure" => RestartPolicy::OnFailure,
                    b"always" => RestartPolicy::Always,
                    other => return Err(t.err("unknown restart policy (never, on-failure, always)", other)),
                };
                t.end()?;
            }
            Key::Backoff => {
                let b = t.need("backoff needs BASE and CAP durations")?;
                let base = t.duration(&b)?;
                let c = t.need("backoff needs BASE and CAP durations")?;
                let cap = t.duration(&c)?;
                t.end()?;
                if base > cap {
                    return Err(t.err("the backoff base is above its cap", b.bytes()));
                }
                s.restart.backoff_base_ms = base;
                s.restart.backoff_cap_ms = cap;
            }
            Key::RestartBudget => {
                let n = t.need("restart_budget needs N and a WINDOW duration")?;
                let budget: u32 = t.number(&n, "not a number")?;
                if budget == 0 {
                    return Err(t.err("a restart budget of 0 never restarts: use restart never", n.bytes()));
                }
                let w = t.need("restart_budget needs N and a WINDOW duration")?;
                let window = t.duration(&w)?;
                if window == 0 {
                    return Err(t.err("the restart window must be longer than 0", w.bytes()));
                }
                t.end()?;
                s.restart.budget = budget;
                s.restart.window_ms = window;
            }
            Key::Oneshot => {
                t.end()?;
                s.oneshot = true;
            }
            Key::After => {
                let n = t.need("after needs one or more container names")?;
                let mut next = Some(n);
                while let Some(n) = next {
                    if !valid_name(n.bytes()) {
                        return Err(t.err("not a valid container name", n.bytes()));
                    }
                    let name = n.cstr();
                    if !s.after.contains(&name) {
                        s.after
                            .push(name)
                            .map_err(|_| t.err("too many after names (limit 8)", b""))?;
                    }
                    next = t.next_tok();
                }
            }
            Key::ReadyFd => {
                let n = t.need("ready_fd needs a file descriptor number")?;
                let fd: u32 = t.number(&n, "not a file descriptor number")?;
                if !(3..=i32::MAX as u32).contains(&fd) {
                    return Err(t.err("ready_fd must be 3 or more (0, 1 and 2 are stdio)", n.bytes()));
                }
                t.end()?;
                s.ready_fd = Some(fd);
            }
            Key::StopSignal => {
                let w = t.need("stop_signal needs a signal")?;
                s.stop_signal = names::parse_signal(w.bytes())
                    .ok_or(t.err("unknown signal (TERM, SIGTERM, 1..64, RTMIN+N)", w.bytes()))?;
                t.end()?;
            }
            Key::StopTimeout => {
                let w = t.need("stop_timeout needs a duration")?;
                s.stop_timeout_ms = t.duration(&w)?;
                t.end()?;
            }
        }
        Ok(())
    }

    /// `root overlay LOWER[:LOWER…] [upper=DIR] [work=DIR] [ro]`, after `overlay`.
    fn overlay(t: &mut Toks<'a>) -> Result<Root<'a>, ParseError> {
        let lt = t.need("root overlay needs lower directories (LOWER[:LOWER...])")?;
        let mut rest: &'a mut [u8] = lt.into_mut();
        let mut lower = Vec::new();
        loop {
            // Each word with the byte after it (':' or the token's NUL),
            // which becomes the word's NUL.
            let len = text(rest).len();
            let word_len = rest
                .get(..len)
                .and_then(|s| s.iter().position(|&c| c == b':'))
                .unwrap_or(len);
            let Some((word, after)) = core::mem::take(&mut rest).split_at_mut_checked(word_len.saturating_add(1))
            else {
                return Err(t.err("internal error: lower split", b""));
            };
            let more = word.last() == Some(&b':');
            if let Some(sep) = word.last_mut() {
                *sep = 0;
            }
            let word: &'a [u8] = word;
            if text(word).is_empty() {
                return Err(t.err("empty lower directory", b""));
            }
            check_path(text(word)).map_err(|m| t.err(m, text(word)))?;
            lower
                .push(cstr_of(word))
                .map_err(|_| t.err("too many lower directories (limit 8)", b""))?;
            if !more {
                break;
            }
            rest = after;
        }
        let (mut upper, mut work, mut readonly) = (None, None, false);
        while let Some(w) = t.next_tok() {
            if w.bytes() == b"ro" {
                if readonly {
                    return Err(t.err("ro given twice", b"ro"));
                }
                readonly = true;
                continue;
            }
            let (slot, v) = match suffix(w, b"upper") {
                Ok(v) => (&mut upper, v),
                Err(w) => match suffix(w, b"work") {
                    Ok(v) => (&mut work, v),
                    Err(w) => {
                        return Err(t.err("unknown root overlay option (upper=DIR, work=DIR, ro)", w.bytes()));
                    }
                },
            };
            if slot.is_some() {
                return Err(t.err("overlay option given twice", text(v)));
            }
            check_path(text(v)).map_err(|m| t.err(m, text(v)))?;
            *slot = Some(cstr_of(v));
        }
        if upper.is_some() != work.is_some() {
            return Err(t.err("root overlay needs upper= and work= together, or neither", b""));
        }
        Ok(Root::Overlay {
            lower,
            upper,
            work,
            readonly,
        })
    }

    /// Checks what directives require of each other and fills the
    /// defaults that depend on other directives.
    fn finish(mut self) -> Result<Spec<'a>, ParseError> {
        let line = |k: Key| self.key_line.get(k as usize).copied().unwrap_or(0);
        let ns_line = |k: NsKind| self.ns_line.get(k.index()).copied().unwrap_or(0);
        let e = |line: u32, msg: &'static str, token: &[u8]| Err(ParseError::new(line, msg, token));
        let s = &self.spec;
        let ns = s.ns;

        if s.process.args.is_empty() {
            return e(0, "no args: a container needs a program", b"");
        }

        // User namespace and id maps.
        let user = ns.get(NsKind::User);
        if user == NsMode::New {
            // A new user namespace has no rights over another container's
            // namespaces: setns into them fails (EPERM). Share the user
            // namespace as well, or keep them new or host.
            for k in NsKind::ALL {
                if let NsMode::Share(owner) = ns.get(k) {
                    return e(
                        ns_line(k),
                        "ns user new cannot join another container's namespaces (share the user namespace too)",
                        owner.to_bytes(),
                    );
                }
            }
        }
        if user == NsMode::New {
            if s.uid_map.is_empty() {
                return e(ns_line(NsKind::User), "ns user new needs uid_map", b"");
            }
            if s.gid_map.is_empty() {
                return e(ns_line(NsKind::User), "ns user new needs gid_map", b"");
            }
            let user_line = match line(Key::User) {
                0 => ns_line(NsKind::User),
                l => l,
            };
            if !id_mapped(&s.uid_map, s.process.uid) {
                return e(
                    user_line,
                    "the user's uid is not mapped by uid_map",
                    &dec(u64::from(s.process.uid)),
                );
            }
            if !id_mapped(&s.gid_map, s.process.gid) {
                return e(
                    user_line,
                    "the user's gid is not mapped by gid_map",
                    &dec(u64::from(s.process.gid)),
                );
            }
            if let Some(g) = s.process.groups.iter().find(|&&g| !id_mapped(&s.gid_map, g)) {
                return e(line(Key::Groups), "group not mapped by gid_map", &dec(u64::from(*g)));
            }
        } else {
            if !s.uid_map.is_empty() {
                return e(line(Key::UidMap), "uid_map needs ns user new", b"");
            }
            if !s.gid_map.is_empty() {
                return e(line(Key::GidMap), "gid_map needs ns user new", b"");
            }
        }

        // Time namespace.
        if ns.is_new(NsKind::Time) && s.time_offsets.is_none() {
            return e(ns_line(NsKind::Time), "ns time new needs time_offsets", b"");
        }
        if s.time_offsets.is_some() && !ns.is_new(NsKind::Time) {
            return e(line(Key::TimeOffsets), "time_offsets needs ns time new", b"");
        }

        if s.hostname.is_some() && !ns.is_new(NsKind::Uts) {
            return e(line(Key::Hostname), "hostname needs ns uts new", b"");
        }

        // Mount namespace.
        if !ns.is_new(NsKind::Mnt) {
            let needs_mnt: [(Key, &'static str); 5] = [
                (Key::Root, "root needs ns mnt new"),
                (Key::Mount, "mount needs ns mnt new"),
                (Key::Mask, "mask needs ns mnt new"),
                (Key::Readonly, "readonly needs ns mnt new"),
                (Key::Dev, "dev minimal needs ns mnt new"),
            ];
            for (k, msg) in needs_mnt {
                if line(k) != 0 && (k != Key::Dev || s.dev == Dev::Minimal) {
                    return e(line(k), msg, b"");
                }
            }
        }
        for (m, &l) in s.mounts.iter().zip(self.mount_line.iter()) {
            let user_new = user == NsMode::New;
            match m.kind {
                MountKind::Sysfs if user_new && !ns.is_new(NsKind::Net) => {
                    return e(l, "sysfs in a new user namespace needs ns net new", b"sysfs");
                }
                MountKind::Proc if user_new && !ns.is_new(NsKind::Pid) => {
                    return e(l, "proc in a new user namespace needs ns pid new", b"proc");
                }
                MountKind::Mqueue if !ns.is_new(NsKind::Ipc) => {
                    return e(l, "mqueue needs ns ipc new", b"mqueue");
                }
                _ => {}
            }
        }

        for ((k, _), &l) in s.sysctls.iter().zip(self.sysctl_line.iter()) {
            let kind = sysctl_ns(k.to_bytes()).map_err(|m| ParseError::new(l, m, k.to_bytes()))?;
            if !ns.is_new(kind) {
                let msg = match kind {
                    NsKind::Net => "this sysctl needs ns net new",
                    NsKind::Uts => "this sysctl needs ns uts new",
                    _ => "this sysctl needs ns ipc new",
                };
                return e(l, msg, k.to_bytes());
            }
        }

        // Capabilities: effective defaults to permitted.
        let eff_line = self.caps_line.get(CAP_EFFECTIVE).copied().unwrap_or(0);
        let amb_line = self.caps_line.get(CAP_AMBIENT).copied().unwrap_or(0);
        let mut caps = s.caps;
        if eff_line == 0 {
            caps.effective = caps.permitted;
        }
        let extra = caps.effective & !caps.permitted;
        if extra != 0 {
            return e(
                eff_line,
                "effective capability not in the permitted set",
                first_cap(extra),
            );
        }
        let extra = caps.ambient & !(caps.permitted & caps.inheritable);
        if extra != 0 {
            return e(
                amb_line,
                "ambient capability not in both the permitted and inheritable sets",
                first_cap(extra),
            );
        }

        if s.oneshot && s.restart.policy == RestartPolicy::Always {
            return e(line(Key::Restart), "restart always conflicts with oneshot", b"always");
        }

        let dev = if line(Key::Dev) == 0 && s.root != Root::Host {
            Dev::Minimal
        } else {
            s.dev
        };
        self.spec.caps = caps;
        self.spec.dev = dev;
        Ok(self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mflags::*;
    use std::vec::Vec;

    fn buf_with(src: &[u8]) -> &'static mut SpecBuf {
        let b = Box::leak(Box::new(SpecBuf::new()));
        assert!(b.set(src), "test input too large");
        b
    }

    /// Parses `src` as given.
    fn raw(src: &[u8]) -> Result<Spec<'static>, ParseError> {
        parse(buf_with(src))
    }

    /// Parses `src` plus an `args` line at the end (unless it has one), so
    /// tests of other directives keep their line numbers.
    fn p(src: &str) -> Result<Spec<'static>, ParseError> {
        if src.lines().any(|l| l.trim_start().starts_with("args")) {
            raw(src.as_bytes())
        } else {
            raw(format!("{src}\nargs /bin/sh").as_bytes())
        }
    }

    fn ok(src: &str) -> Spec<'static> {
        match p(src) {
            Ok(s) => s,
            Err(e) => panic!(
                "{src:?}: line {} {} {:?}",
                e.line,
                e.msg,
                String::from_utf8_lossy(&e.token)
            ),
        }
    }

    /// The error's line, message and token.
    fn bad(src: &str) -> (u32, &'static str, String) {
        match p(src) {
            Ok(s) => panic!("{src:?} parsed: {s:?}"),
            Err(e) => (e.line, e.msg, String::from_utf8_lossy(&e.token).into_owned()),
        }
    }

    fn s(c: &CStr) -> &str {
        c.to_str().unwrap()
    }

    fn render(e: &ParseError) -> String {
        let mut l = keel_rt::Line::new();
        e.render(b"web", &mut l);
        String::from_utf8(l.as_bytes().to_vec()).unwrap()
    }

    fn lines_of(word: &str, n: usize) -> String {
        (0..n).map(|i| format!("{word}{i}\n")).collect()
    }

    // --- The file and its format ---

    #[test]
    fn minimal_spec_takes_every_default() {
        let sp = ok("args /bin/true");
        let mut want = Spec::default();
        want.process.args.push(c"/bin/true").unwrap();
        assert_eq!(sp, want);
        assert_eq!(sp.dev, Dev::None);
        assert_eq!(sp.caps, Caps::default());
        assert_eq!(sp.restart, Restart::default());
        assert_eq!(sp.stop_signal, 15);
        assert_eq!(sp.stop_timeout_ms, 10_000);
        assert_eq!(sp.process.umask, 0o022);
        assert!(sp.ns.is_new(NsKind::Mnt) && !sp.ns.is_new(NsKind::User) && !sp.ns.is_new(NsKind::Time));
    }

    #[test]
    fn no_args_is_a_file_error() {
        for src in [&b""[..], b"\n\n", b"# only a comment\n", b"hostname x\n"] {
            let e = raw(src).unwrap_err();
            assert_eq!((e.line, e.msg), (0, "no args: a container needs a program"), "{src:?}");
        }
        let e = raw(b"").unwrap_err();
        assert_eq!(render(&e), "web: no args: a container needs a program");
    }

    #[test]
    fn unknown_key_names_its_line() {
        let e = p("\n# comment\nhostname a\nfoo bar\n").unwrap_err();
        assert_eq!((e.line, e.msg, &e.token[..]), (4, "unknown key", &b"foo"[..]));
        assert_eq!(render(&e), "web:4: unknown key \"foo\"");
        // Keys are exact.
        assert_eq!(bad("Hostname a").0, 1);
        assert_eq!(bad("\"hostname x\"").1, "unknown key");
    }

    #[test]
    fn non_repeatable_key_twice() {
        for (src, key) in [
            ("hostname a\nhostname b", "hostname"),
            ("cwd /a\ncwd /b", "cwd"),
            ("user 1\nuser 2", "user"),
            ("groups 1\ngroups 2", "groups"),
            ("umask 022\numask 027", "umask"),
            ("oom_score_adj 1\noom_score_adj 2", "oom_score_adj"),
            ("no_new_privs\nno_new_privs", "no_new_privs"),
            ("stdio null\nstdio log", "stdio"),
            ("restart never\nrestart always", "restart"),
            ("backoff 1s 2s\nbackoff 1s 2s", "backoff"),
            ("restart_budget 1 1s\nrestart_budget 1 1s", "restart_budget"),
            ("oneshot\noneshot", "oneshot"),
            ("ready_fd 3\nready_fd 4", "ready_fd"),
            ("stop_signal TERM\nstop_signal INT", "stop_signal"),
            ("stop_timeout 1s\nstop_timeout 2s", "stop_timeout"),
            ("dev none\ndev none", "dev"),
            ("root /a\nroot /b", "root"),
            (
                "ns time new\ntime_offsets boottime=1\ntime_offsets boottime=2",
                "time_offsets",
            ),
        ] {
            let (line, msg, tok) = bad(src);
            assert_eq!(msg, "key given twice", "{src}");
            assert_eq!(tok, key);
            assert_eq!(line, src.lines().count() as u32, "{src}");
        }
        let e = raw(b"args a\nargs b").unwrap_err();
        assert_eq!((e.line, e.msg), (2, "key given twice"));
    }

    #[test]
    fn quoting_and_escapes_reach_values() {
        let sp = ok("args /bin/echo \"two words\" a\"b c\"d \"\" \"\\x41\\t\\n\\\\\\\"\" # gone\nenv \"X=a # b\"");
        let a: Vec<&[u8]> = sp.process.args.iter().map(|c| c.to_bytes()).collect();
        assert_eq!(a, [&b"/bin/echo"[..], b"two words", b"ab cd", b"", b"A\t\n\\\""]);
        assert_eq!(s(sp.process.env[0]), "X=a # b");
        let e = p("env \"A=b").unwrap_err();
        assert_eq!((e.line, e.msg), (1, "unterminated quote"));
        assert!(p("env \"A=\\q\"").unwrap_err().msg.starts_with("unknown escape"));
        assert!(p("hostname \"\\x00\"").unwrap_err().msg.starts_with("\\x00"));
    }

    #[test]
    fn non_utf8_values() {
        let sp = raw(b"args /bin/x \xff\xfe\nhostname \"\\xc3(\"").unwrap();
        assert_eq!(sp.process.args[1].to_bytes(), b"\xff\xfe");
        assert_eq!(sp.hostname.unwrap().to_bytes(), b"\xc3(");
    }

    #[test]
    fn crlf_and_tabs() {
        let sp = raw(b"args\t/bin/sh\t-c  true\r\nhostname web\r\n").unwrap();
        assert_eq!(sp.process.args.len(), 3);
        assert_eq!(s(sp.hostname.unwrap()), "web");
    }

    #[test]
    fn last_line_without_newline_uses_the_spare_byte() {
        let b = buf_with(b"args /bin/sh x");
        b.bytes[b.len] = 0xAA;
        let sp = parse(b).unwrap();
        assert_eq!(s(sp.process.args[1]), "x");
    }

    #[test]
    fn strings_point_into_the_buffer() {
        let b = buf_with(b"args /bin/sh\nhostname web\nmount tmpfs /tmp ro,size=1m\n");
        let range = b.bytes.as_ptr_range();
        let sp = parse(b).unwrap();
        for c in [
            sp.process.args[0],
            sp.hostname.unwrap(),
            sp.mounts[0].target,
            sp.mounts[0].data.unwrap(),
        ] {
            assert!(range.contains(&(c.as_ptr() as *const u8)));
        }
    }

    #[test]
    fn file_and_line_limits() {
        let b = Box::leak(Box::new(SpecBuf::new()));
        b.len = SPEC_FILE_MAX + 1;
        let e = parse(b).unwrap_err();
        assert_eq!((e.line, e.msg), (0, "file larger than 16384 bytes"));
        // A full-size file is fine.
        let mut src = b"args /bin/sh\n".to_vec();
        while src.len() < SPEC_FILE_MAX {
            src.push(b'\n');
        }
        assert!(raw(&src).is_ok());
        // A full-size file whose last line has no newline.
        let mut src = b"args /bin/sh\n".to_vec();
        src.resize(SPEC_FILE_MAX - 4, b'\n');
        src.extend_from_slice(b"#abc");
        assert!(raw(&src).is_ok());
        let mut src = b"args /bin/sh\n".to_vec();
        src.resize(SPEC_FILE_MAX - 3, b'\n');
        src.extend_from_slice(b"x y");
        assert_eq!(raw(&src).unwrap_err().msg, "unknown key");
        // 1024 bytes per line, not counting the newline.
        let long = format!("env A={}", "x".repeat(1024 - 6));
        assert_eq!(long.len(), 1024);
        assert!(p(&long).is_ok());
        let e = p(&format!("hostname a\n{long}x\n")).unwrap_err();
        assert_eq!((e.line, e.msg), (2, "line longer than 1024 bytes"));
    }

    #[test]
    fn render_quotes_the_token() {
        let e = ParseError::new(12, "unknown key", b"a\"b\\c\nd\te\x01\xff");
        assert_eq!(render(&e), "web:12: unknown key \"a\\\"b\\\\c\\nd\\te\\x01\\xff\"");
        let e = ParseError::new(3, "hostname needs ns uts new", b"");
        assert_eq!(render(&e), "web:3: hostname needs ns uts new");
        let long = ParseError::new(1, "m", &[b'x'; 100]);
        assert_eq!(long.token.len(), ERROR_TOKEN_MAX);
    }

    // --- Filesystem ---

    #[test]
    fn root_bind() {
        assert_eq!(
            ok("root /srv/web").root,
            Root::Bind {
                path: c"/srv/web",
                readonly: false
            }
        );
        assert_eq!(
            ok("root /srv/web ro").root,
            Root::Bind {
                path: c"/srv/web",
                readonly: true
            }
        );
        assert_eq!(
            ok("root /srv/web").dev,
            Dev::Minimal,
            "dev defaults to minimal with a root"
        );
        assert_eq!(ok("root /srv/web\ndev none").dev, Dev::None);
        assert_eq!(bad("root srv"), (1, "not an absolute path", "srv".into()));
        assert_eq!(
            bad("root /srv/../etc"),
            (1, "a path may not contain a .. component", "/srv/../etc".into())
        );
        assert_eq!(bad("root /srv rw").1, "unexpected word (only ro may follow the path)");
        assert_eq!(bad("root /srv ro x"), (1, "unexpected word", "x".into()));
        assert_eq!(bad("root").1, "root needs a path, or overlay and lower directories");
        assert_eq!(bad("ns mnt host\nroot /srv"), (2, "root needs ns mnt new", "".into()));
    }

    #[test]
    fn root_overlay() {
        let sp = ok("root overlay /l1:/l2:/l3 work=/w upper=/u ro");
        let Root::Overlay {
            lower,
            upper,
            work,
            readonly,
        } = sp.root
        else {
            panic!()
        };
        let l: Vec<&str> = lower.iter().map(|c| s(c)).collect();
        assert_eq!(l, ["/l1", "/l2", "/l3"]);
        assert_eq!((upper, work, readonly), (Some(c"/u"), Some(c"/w"), true));
        let sp = ok("root overlay /only");
        assert_eq!(
            sp.root,
            Root::Overlay {
                lower: heapless::Vec::from_slice(&[c"/only"]).unwrap(),
                upper: None,
                work: None,
                readonly: false
            }
        );
        assert_eq!(sp.dev, Dev::Minimal);
        assert_eq!(
            bad("root overlay").1,
            "root overlay needs lower directories (LOWER[:LOWER...])"
        );
        assert_eq!(
            bad("root overlay /a upper=/u").1,
            "root overlay needs upper= and work= together, or neither"
        );
        assert_eq!(
            bad("root overlay /a work=/w").1,
            "root overlay needs upper= and work= together, or neither"
        );
        assert_eq!(bad("root overlay /a::/b").1, "empty lower directory");
        assert_eq!(bad("root overlay /a:").1, "empty lower directory");
        assert_eq!(bad("root overlay /a:b"), (1, "not an absolute path", "b".into()));
        assert_eq!(
            bad("root overlay /a upper=u work=/w"),
            (1, "not an absolute path", "u".into())
        );
        assert_eq!(
            bad("root overlay /a upper=/u upper=/v work=/w").1,
            "overlay option given twice"
        );
        assert_eq!(bad("root overlay /a ro ro").1, "ro given twice");
        assert_eq!(
            bad("root overlay /a upper= work=/w"),
            (1, "not an absolute path", "".into())
        );
        assert_eq!(bad("root overlay /a lower=/x").2, "lower=/x");
        let eight = (0..MAX_LOWER).map(|i| format!("/l{i}")).collect::<Vec<_>>().join(":");
        assert!(p(&format!("root overlay {eight}")).is_ok());
        assert_eq!(
            bad(&format!("root overlay {eight}:/l9")).1,
            "too many lower directories (limit 8)"
        );
    }

    #[test]
    fn mounts_of_every_type() {
        let sp = ok(
            "mount proc /proc\nmount sysfs /sys ro\nmount tmpfs /tmp size=64m,mode=1777\n\
                     mount devpts /dev/pts newinstance,ptmxmode=0666,gid=5\nmount mqueue /dev/mqueue\n\
                     mount bind /host /in ro,nosuid\nmount rbind /host2 /in2",
        );
        let m = &sp.mounts;
        assert_eq!(m.len(), 7);
        assert_eq!(
            m[0],
            Mount {
                kind: MountKind::Proc,
                target: c"/proc",
                flags: 0,
                data: None
            }
        );
        assert_eq!(
            m[1],
            Mount {
                kind: MountKind::Sysfs,
                target: c"/sys",
                flags: RDONLY,
                data: None
            }
        );
        assert_eq!(
            m[2],
            Mount {
                kind: MountKind::Tmpfs,
                target: c"/tmp",
                flags: 0,
                data: Some(c"size=64m,mode=1777")
            }
        );
        assert_eq!(m[3].kind, MountKind::Devpts);
        assert_eq!(m[3].data, Some(c"newinstance,ptmxmode=0666,gid=5"));
        assert_eq!(m[4].kind, MountKind::Mqueue);
        assert_eq!(
            m[5],
            Mount {
                kind: MountKind::Bind {
                    source: c"/host",
                    recursive: false
                },
                target: c"/in",
                flags: RDONLY | NOSUID,
                data: None
            }
        );
        assert_eq!(
            m[6].kind,
            MountKind::Bind {
                source: c"/host2",
                recursive: true
            }
        );
    }

    #[test]
    fn mount_options_split_in_place() {
        let sp = ok("mount tmpfs /t ro,size=64m,nosuid,nodev,noexec,mode=1777,relatime,nodiratime");
        assert_eq!(
            sp.mounts[0].flags,
            RDONLY | NOSUID | NODEV | NOEXEC | RELATIME | NODIRATIME
        );
        assert_eq!(sp.mounts[0].data, Some(c"size=64m,mode=1777"));
        // Later words override earlier ones.
        let f = |o: &str| ok(&format!("mount tmpfs /t {o}")).mounts[0].flags;
        assert_eq!(f("ro,rw"), 0);
        assert_eq!(f("nosuid,suid,nodev,dev,noexec,exec"), 0);
        assert_eq!(f("noatime,relatime"), RELATIME);
        assert_eq!(f("relatime,strictatime"), STRICTATIME);
        assert_eq!(f("strictatime,noatime"), NOATIME);
        assert_eq!(ok("mount tmpfs /t ro,nosuid").mounts[0].data, None);
        assert_eq!(ok("mount tmpfs /t \"mode=1777\"").mounts[0].data, Some(c"mode=1777"));
        assert_eq!(
            bad("mount tmpfs /t ro,,nosuid"),
            (1, "empty mount option", "ro,,nosuid".into())
        );
        assert_eq!(bad("mount tmpfs /t ,ro").1, "empty mount option");
        assert_eq!(bad("mount tmpfs /t ro,").1, "empty mount option");
        assert_eq!(bad("mount tmpfs /t \"\"").1, "empty mount option");
        assert_eq!(
            bad("mount bind /a /b ro,size=1m"),
            (
                1,
                "a bind mount takes only flag options (ro, nosuid, nodev, ...)",
                "size=1m".into()
            )
        );
        assert_eq!(bad("mount tmpfs /t ro nosuid"), (1, "unexpected word", "nosuid".into()));
    }

    #[test]
    fn mount_errors() {
        assert_eq!(
            bad("mount nfs /x").1,
            "unknown mount type (proc sysfs tmpfs devpts mqueue bind rbind)"
        );
        assert_eq!(
            bad("mount").1,
            "mount needs a type (proc sysfs tmpfs devpts mqueue bind rbind) and a target"
        );
        assert_eq!(bad("mount proc").1, "mount needs a target path");
        assert_eq!(bad("mount proc proc"), (1, "not an absolute path", "proc".into()));
        assert_eq!(bad("mount bind /a").1, "mount needs a target path");
        assert_eq!(bad("mount bind a /b").2, "a");
        assert_eq!(bad("mount bind").1, "mount bind needs a source and a target");
        assert_eq!(
            bad("mount bind /a /b/../../c").1,
            "a path may not contain a .. component"
        );
        let many = lines_of("mount tmpfs /t", MAX_MOUNTS);
        assert_eq!(ok(&many).mounts.len(), MAX_MOUNTS);
        assert_eq!(
            bad(&format!("{many}mount tmpfs /x")),
            (33, "too many mounts (limit 32)", "".into())
        );
    }

    #[test]
    fn mounts_need_their_namespaces() {
        assert_eq!(
            bad("ns mnt host\nhostname x\nmount tmpfs /t"),
            (3, "mount needs ns mnt new", "".into())
        );
        assert_eq!(bad("ns mnt share other\nmount tmpfs /t").0, 2);
        assert_eq!(
            bad("mount mqueue /m\nns ipc host"),
            (1, "mqueue needs ns ipc new", "mqueue".into())
        );
        assert!(p("mount mqueue /m").is_ok());
        let user = "ns user new\nuid_map 0 1000 1\ngid_map 0 1000 1\n";
        assert!(p(&format!("{user}mount sysfs /sys\nmount proc /proc")).is_ok());
        assert_eq!(
            bad(&format!("{user}ns net host\nmount tmpfs /t\nmount sysfs /sys")),
            (6, "sysfs in a new user namespace needs ns net new", "sysfs".into())
        );
        assert_eq!(
            bad(&format!("{user}mount proc /proc\nns user new")),
            (5, "namespace kind given twice", "user".into())
        );
        assert_eq!(
            bad(&format!("{user}mount proc /proc\nns pid host")),
            (4, "proc in a new user namespace needs ns pid new", "proc".into())
        );
        // Without a new user namespace the kernel allows them.
        assert!(p("ns net host\nns pid host\nmount sysfs /sys\nmount proc /proc").is_ok());
    }

    #[test]
    fn dev_mask_readonly() {
        assert_eq!(ok("dev minimal").dev, Dev::Minimal);
        assert_eq!(ok("dev none").dev, Dev::None);
        assert_eq!(bad("dev full").1, "unknown dev mode (minimal, none)");
        assert_eq!(bad("dev").1, "dev needs minimal or none");
        assert_eq!(
            bad("ns mnt host\ndev minimal"),
            (2, "dev minimal needs ns mnt new", "".into())
        );
        assert!(p("ns mnt host\ndev none").is_ok());
        let sp = ok("mask /proc/kcore\nmask /sys/firmware\nreadonly /proc/sys");
        assert_eq!(sp.masked.as_slice(), [c"/proc/kcore", c"/sys/firmware"]);
        assert_eq!(sp.readonly.as_slice(), [c"/proc/sys"]);
        assert_eq!(bad("mask proc").1, "not an absolute path");
        assert_eq!(bad("readonly /a /b"), (1, "unexpected word", "/b".into()));
        assert_eq!(bad("mask").1, "mask and readonly need a path");
        assert_eq!(bad("ns mnt host\nmask /a"), (2, "mask needs ns mnt new", "".into()));
        assert_eq!(
            bad("ns mnt host\nreadonly /a"),
            (2, "readonly needs ns mnt new", "".into())
        );
        for key in ["mask", "readonly"] {
            let many = lines_of(&format!("{key} /p"), MAX_PATHS);
            assert!(p(&many).is_ok());
            assert_eq!(
                bad(&format!("{many}{key} /x")),
                (33, "too many paths (limit 32)", "".into())
            );
        }
    }

    // --- Namespaces and identity ---

    #[test]
    fn namespaces() {
        let sp = ok("ns user host\nns mnt new\nns pid host\nns net share proxy\nns uts host\nns ipc share db.1\nns cgroup host\nns time host");
        assert_eq!(sp.ns.get(NsKind::Pid), NsMode::Host);
        assert_eq!(sp.ns.get(NsKind::Net), NsMode::Share(c"proxy"));
        assert_eq!(sp.ns.get(NsKind::Ipc), NsMode::Share(c"db.1"));
        assert_eq!(sp.ns.get(NsKind::Cgroup), NsMode::Host);
        assert_eq!(sp.ns.get(NsKind::Mnt), NsMode::New);
        assert_eq!(bad("ns foo new"), (1, "unknown namespace kind", "foo".into()));
        assert_eq!(
            bad("ns net private"),
            (1, "unknown namespace mode (new, host, share NAME)", "private".into())
        );
        assert_eq!(bad("ns net share"), (1, "ns share needs a container name", "".into()));
        for name in [
            ".hidden",
            "-x",
            "keel",
            "a/b",
            "memory.x",
            "cgroup.procs",
            "",
            &"x".repeat(64),
        ] {
            assert_eq!(
                bad(&format!("ns net share \"{name}\"")).1,
                "not a valid container name",
                "{name}"
            );
        }
        assert_eq!(
            bad("ns net new\nns net host"),
            (2, "namespace kind given twice", "net".into())
        );
        assert_eq!(bad("ns net new x"), (1, "unexpected word", "x".into()));
        assert_eq!(bad("ns net").1, "ns needs new, host or share NAME");
        assert_eq!(
            bad("ns").1,
            "ns needs a kind (user mnt pid net uts ipc cgroup time) and new, host or share NAME"
        );
    }

    #[test]
    fn user_share_and_user_new() {
        // Sharing a user namespace works with a new pid namespace (the
        // spawner forks once more inside it).
        assert!(p("ns user share base").is_ok());
        assert!(p("ns pid new\nns user share base").is_ok());
        assert!(p("ns user share base\nns pid share base").is_ok());
        assert!(p("ns user share base\nns pid host").is_ok());
        // A new user namespace cannot join anything of another container.
        let maps = "uid_map 0 100000 65536\ngid_map 0 100000 65536\n";
        let (line, msg, tok) = bad(&format!("{maps}ns user new\nns net share base"));
        assert_eq!((line, tok.as_str()), (4, "base"));
        assert!(msg.starts_with("ns user new cannot join"), "{msg}");
    }

    #[test]
    fn id_maps() {
        let sp = ok("ns user new\nuid_map 0 100000 65536\nuid_map 65536 300000 1\ngid_map 0 100000 65536");
        assert_eq!(
            sp.uid_map.as_slice(),
            [
                IdMap {
                    inside: 0,
                    outside: 100000,
                    count: 65536
                },
                IdMap {
                    inside: 65536,
                    outside: 300000,
                    count: 1
                }
            ]
        );
        assert_eq!(sp.gid_map.len(), 1);
        let u = "ns user new\ngid_map 0 1 1\n";
        assert_eq!(
            bad(&format!("{u}uid_map 0 1")).1,
            "uid_map and gid_map need INSIDE OUTSIDE COUNT"
        );
        assert_eq!(bad(&format!("{u}uid_map 0 1 1 1")).2, "1");
        assert_eq!(
            bad(&format!("{u}uid_map 0 x 1")),
            (3, "not a number from 0 to 4294967295", "x".into())
        );
        assert_eq!(bad(&format!("{u}uid_map 0 -1 1")).2, "-1");
        assert_eq!(
            bad(&format!("{u}uid_map 0 1 0")).1,
            "an id map needs a COUNT of at least 1"
        );
        assert!(p(&format!("{u}uid_map 0 4294967295 1")).is_ok());
        assert_eq!(
            bad(&format!("{u}uid_map 0 4294967295 2")).1,
            "id range runs past 4294967295"
        );
        assert_eq!(
            bad(&format!("{u}uid_map 4294967295 0 2")).1,
            "id range runs past 4294967295"
        );
        assert_eq!(
            bad(&format!("{u}uid_map 0 1000 10\nuid_map 5 5000 10")),
            (4, "id range overlaps an earlier map", "5".into())
        );
        assert_eq!(
            bad(&format!("{u}uid_map 0 1000 10\nuid_map 10 1005 10")).1,
            "id range overlaps an earlier map"
        );
        assert!(p(&format!("{u}uid_map 0 1000 10\nuid_map 10 1010 10")).is_ok());
        let five: String = (0..MAX_ID_MAPS)
            .map(|i| format!("uid_map {i} {} 1\n", 1000 + i))
            .collect();
        assert_eq!(ok(&format!("{u}{five}")).uid_map.len(), MAX_ID_MAPS);
        assert_eq!(
            bad(&format!("{u}{five}uid_map 9 9 1")),
            (8, "too many id maps (limit 5)", "".into())
        );
    }

    #[test]
    fn user_namespace_rules() {
        assert_eq!(
            bad("ns user new\ngid_map 0 1 1"),
            (1, "ns user new needs uid_map", "".into())
        );
        assert_eq!(
            bad("uid_map 0 1 1\nns user new"),
            (2, "ns user new needs gid_map", "".into())
        );
        assert_eq!(
            bad("hostname a\nuid_map 0 1 1"),
            (2, "uid_map needs ns user new", "".into())
        );
        assert_eq!(bad("gid_map 0 1 1"), (1, "gid_map needs ns user new", "".into()));
        assert_eq!(bad("ns user share x\nns pid host\nuid_map 0 1 1").0, 3);
        let u = "ns user new\nuid_map 0 1000 100\ngid_map 0 1000 50\n";
        assert!(p(&format!("{u}user 99:49\ngroups 0 49")).is_ok());
        assert_eq!(
            bad(&format!("{u}user 100")),
            (4, "the user's uid is not mapped by uid_map", "100".into())
        );
        assert_eq!(
            bad(&format!("{u}user 1:50")),
            (4, "the user's gid is not mapped by gid_map", "50".into())
        );
        assert_eq!(
            bad(&format!("{u}groups 1 2 60")),
            (4, "group not mapped by gid_map", "60".into())
        );
        // The default user 0:0 must be mapped too; the error names the ns line.
        assert_eq!(
            bad("uid_map 1 1000 10\ngid_map 0 1000 1\nns user new"),
            (3, "the user's uid is not mapped by uid_map", "0".into())
        );
    }

    #[test]
    fn time_namespace() {
        let sp = ok("ns time new\ntime_offsets monotonic=-3600 boottime=+86400");
        assert_eq!(
            sp.time_offsets,
            Some(TimeOffsets {
                monotonic: -3600,
                boottime: 86400
            })
        );
        let sp = ok("ns time new\ntime_offsets boottime=5");
        assert_eq!(
            sp.time_offsets,
            Some(TimeOffsets {
                monotonic: 0,
                boottime: 5
            })
        );
        assert!(p("ns time new\ntime_offsets monotonic=9223372036").is_ok());
        assert!(p("ns time new\ntime_offsets monotonic=-9223372036").is_ok());
        let t = "ns time new\n";
        assert_eq!(
            bad(&format!("{t}time_offsets monotonic=9223372037")).1,
            "not a number of seconds from -9223372036 to 9223372036"
        );
        assert_eq!(bad(&format!("{t}time_offsets monotonic=1.5")).2, "monotonic=1.5");
        assert_eq!(
            bad(&format!("{t}time_offsets monotonic=")).1,
            "not a number of seconds from -9223372036 to 9223372036"
        );
        assert_eq!(
            bad(&format!("{t}time_offsets realtime=1")).1,
            "unknown offset (monotonic=SECONDS, boottime=SECONDS)"
        );
        assert_eq!(
            bad(&format!("{t}time_offsets boottime=1 boottime=2")),
            (2, "offset given twice", "boottime=2".into())
        );
        assert_eq!(
            bad(&format!("{t}time_offsets")).1,
            "time_offsets needs monotonic=SECONDS or boottime=SECONDS"
        );
        assert_eq!(
            bad("hostname x\nns time new"),
            (2, "ns time new needs time_offsets", "".into())
        );
        assert_eq!(
            bad("time_offsets boottime=1"),
            (1, "time_offsets needs ns time new", "".into())
        );
        assert_eq!(bad("time_offsets boottime=1\nns time share x").0, 1);
    }

    #[test]
    fn hostname() {
        assert_eq!(ok("hostname web-1").hostname, Some(c"web-1"));
        let h64 = "h".repeat(64);
        assert_eq!(ok(&format!("hostname {h64}")).hostname.unwrap().to_bytes().len(), 64);
        assert_eq!(bad(&format!("hostname {h64}x")).1, "a host name has 1 to 64 bytes");
        assert_eq!(bad("hostname \"\"").1, "a host name has 1 to 64 bytes");
        assert_eq!(bad("hostname").1, "hostname needs a name");
        assert_eq!(bad("hostname a b"), (1, "unexpected word", "b".into()));
        assert_eq!(
            bad("hostname a\nns uts host"),
            (1, "hostname needs ns uts new", "".into())
        );
        assert_eq!(bad("ns uts share x\nhostname a").0, 2);
    }

    #[test]
    fn sysctls() {
        let sp = ok("sysctl net.ipv4.ip_forward 1\nsysctl kernel.hostname h\nsysctl kernel.domainname d\n\
                     sysctl kernel.msgmax 8192\nsysctl kernel.msgmnb 1\nsysctl kernel.msgmni 1\nsysctl kernel.sem \"250 32000 32 128\"\n\
                     sysctl kernel.shmall 1\nsysctl kernel.shmmax 1\nsysctl kernel.shmmni 1\nsysctl kernel.shm_rmid_forced 1\n\
                     sysctl fs.mqueue.msg_max 10");
        assert_eq!(sp.sysctls.len(), 12);
        assert_eq!(sp.sysctls[0], (c"net.ipv4.ip_forward", c"1"));
        assert_eq!(sp.sysctls[6], (c"kernel.sem", c"250 32000 32 128"));
        for key in [
            "kernel.core_pattern",
            "vm.swappiness",
            "fs.file-max",
            "kernel.msg_next_id",
            "kernel",
            "fs.mqueue",
            "network.x",
        ] {
            let (line, msg, tok) = bad(&format!("sysctl {key} 1"));
            assert!(msg.starts_with("sysctl is host-wide"), "{key}: {msg}");
            assert_eq!((line, tok.as_str()), (1, key));
        }
        for key in [
            "net..x",
            "net.",
            ".net.x",
            "net/ipv4/ip_forward",
            "net./../kernel/core_pattern",
            "\"\"",
        ] {
            assert_eq!(
                bad(&format!("sysctl {key} 1")).1,
                "not a sysctl key (dotted words: net.ipv4.ip_forward)",
                "{key}"
            );
        }
        assert_eq!(
            bad("sysctl net.a 1\nsysctl net.a 2"),
            (2, "sysctl key given twice", "net.a".into())
        );
        assert_eq!(bad("sysctl net.a").1, "sysctl needs a value");
        assert_eq!(bad("sysctl net.a \"\"").1, "sysctl needs a value");
        assert_eq!(bad("sysctl net.a 1 2").2, "2");
        assert_eq!(
            bad("ns net host\nsysctl net.a 1"),
            (2, "this sysctl needs ns net new", "net.a".into())
        );
        assert_eq!(
            bad("sysctl kernel.hostname x\nns uts host"),
            (1, "this sysctl needs ns uts new", "kernel.hostname".into())
        );
        assert_eq!(
            bad("ns ipc share db\nsysctl fs.mqueue.msg_max 1").1,
            "this sysctl needs ns ipc new"
        );
        let many: String = (0..MAX_SYSCTLS).map(|i| format!("sysctl net.k{i} 1\n")).collect();
        assert_eq!(ok(&many).sysctls.len(), MAX_SYSCTLS);
        assert_eq!(
            bad(&format!("{many}sysctl net.x 1")),
            (17, "too many sysctls (limit 16)", "".into())
        );
    }

    // --- The process ---

    #[test]
    fn args_env_cwd() {
        let sp = ok("args nginx -g \"daemon off;\"\nenv PATH=/bin\nenv EMPTY=\nenv X=a=b\ncwd /srv");
        let a: Vec<&str> = sp.process.args.iter().map(|c| s(c)).collect();
        assert_eq!(a, ["nginx", "-g", "daemon off;"]);
        let e: Vec<&str> = sp.process.env.iter().map(|c| s(c)).collect();
        assert_eq!(e, ["PATH=/bin", "EMPTY=", "X=a=b"]);
        assert_eq!(sp.process.cwd, Some(c"/srv"));
        assert_eq!(raw(b"args").unwrap_err().msg, "args needs a program");
        assert_eq!(raw(b"args \"\"").unwrap_err().msg, "the program may not be empty");
        let words: String = (0..MAX_ARGS).map(|i| format!(" a{i}")).collect();
        assert_eq!(
            raw(format!("args{words}").as_bytes()).unwrap().process.args.len(),
            MAX_ARGS
        );
        let e = raw(format!("\nargs{words} one-more").as_bytes()).unwrap_err();
        assert_eq!((e.line, e.msg), (2, "too many args (limit 64)"));
        assert_eq!(bad("env X").1, "env needs NAME=VALUE");
        assert_eq!(bad("env =x").1, "env needs a NAME before =");
        assert_eq!(bad("env").1, "env needs NAME=VALUE");
        assert_eq!(bad("env A=1 B=2"), (1, "unexpected word", "B=2".into()));
        assert_eq!(
            bad("env AB=1\nenv A=1\nenv AB=2"),
            (3, "env variable given twice", "AB".into())
        );
        let many = lines_of("env V=", MAX_ENV).replace("V=", "V").replace('\n', "=x\n");
        assert_eq!(ok(&many).process.env.len(), MAX_ENV);
        assert_eq!(
            bad(&format!("{many}env W=1")),
            (65, "too many env variables (limit 64)", "".into())
        );
        assert_eq!(bad("cwd srv").1, "not an absolute path");
        assert_eq!(bad("cwd").1, "cwd needs a path");
    }

    #[test]
    fn user_groups_umask_oom() {
        let sp = ok("user 1000:100\ngroups 10 20 10\numask 0o027\noom_score_adj -500");
        assert_eq!((sp.process.uid, sp.process.gid), (1000, 100));
        assert_eq!(sp.process.groups.as_slice(), [10, 20]);
        assert_eq!(sp.process.umask, 0o027);
        assert_eq!(sp.process.oom_score_adj, Some(-500));
        assert_eq!((ok("user 7").process.uid, ok("user 7").process.gid), (7, 0));
        assert_eq!(ok("umask 0").process.umask, 0);
        assert_eq!(ok("umask 777").process.umask, 0o777);
        assert_eq!(ok("oom_score_adj +1000").process.oom_score_adj, Some(1000));
        assert_eq!(bad("user 4294967295").1, "id 4294967295 is reserved");
        assert_eq!(bad("user 1:4294967295").1, "id 4294967295 is reserved");
        assert_eq!(bad("user www"), (1, "not a numeric id", "www".into()));
        assert_eq!(bad("user 1:").2, "");
        assert_eq!(bad("user :1").1, "not a numeric id");
        assert_eq!(bad("user 1:2:3").2, "2:3");
        assert_eq!(bad("user").1, "user needs UID or UID:GID");
        assert_eq!(bad("groups").1, "groups needs one or more GIDs");
        assert_eq!(bad("groups 1 x"), (1, "not a numeric id", "x".into()));
        let many: String = (0..MAX_GROUPS).map(|i| format!(" {i}")).collect();
        assert_eq!(ok(&format!("groups{many}")).process.groups.len(), MAX_GROUPS);
        assert_eq!(bad(&format!("groups{many} 99")).1, "too many groups (limit 32)");
        assert_eq!(bad("umask 1000").1, "not an octal mask (0 to 0777)");
        assert_eq!(bad("umask 089").1, "not an octal mask (0 to 0777)");
        assert_eq!(bad("umask").1, "umask needs an octal mask");
        assert_eq!(bad("oom_score_adj 1001").1, "not a number from -1000 to 1000");
        assert_eq!(bad("oom_score_adj -1001").1, "not a number from -1000 to 1000");
        assert_eq!(bad("oom_score_adj").1, "oom_score_adj needs a number");
    }

    #[test]
    fn rlimits() {
        let sp = ok("rlimit nofile 1024 4096\nrlimit RLIMIT_CORE 0 unlimited\nrlimit Stack unlimited unlimited");
        assert_eq!(
            sp.rlimits.as_slice(),
            [
                Rlimit {
                    resource: 7,
                    soft: 1024,
                    hard: 4096
                },
                Rlimit {
                    resource: 4,
                    soft: 0,
                    hard: u64::MAX
                },
                Rlimit {
                    resource: 3,
                    soft: u64::MAX,
                    hard: u64::MAX
                },
            ]
        );
        assert_eq!(bad("rlimit files 1 1"), (1, "unknown resource limit", "files".into()));
        assert_eq!(
            bad("rlimit nofile 2 1"),
            (1, "the soft limit is above the hard limit", "nofile".into())
        );
        assert_eq!(
            bad("rlimit nofile unlimited 1").1,
            "the soft limit is above the hard limit"
        );
        assert_eq!(bad("rlimit nofile 1").1, "rlimit needs NAME SOFT HARD");
        assert_eq!(bad("rlimit nofile 1 x").1, "not a number or unlimited");
        assert_eq!(bad("rlimit nofile 1 1 1").1, "unexpected word");
        assert_eq!(
            bad("rlimit nofile 1 1\nrlimit RLIMIT_NOFILE 2 2"),
            (2, "resource limit given twice", "RLIMIT_NOFILE".into())
        );
        // All sixteen resources fit; a seventeenth line can only repeat one.
        let all: String = names::RLIMITS.iter().map(|n| format!("rlimit {n} 1 1\n")).collect();
        assert_eq!(ok(&all).rlimits.len(), MAX_RLIMITS);
        assert_eq!(
            bad(&format!("{all}rlimit cpu 1 1")),
            (17, "resource limit given twice", "cpu".into())
        );
    }

    #[test]
    fn caps() {
        let bit = |n: &str| 1u64 << names::cap_by_name(n.as_bytes()).unwrap();
        let sp = ok("caps bounding all\ncaps permitted CAP_NET_ADMIN net_raw\ncaps inheritable net_admin\ncaps ambient Net_Admin");
        assert_eq!(sp.caps.bounding, names::ALL_CAPS);
        assert_eq!(sp.caps.permitted, bit("net_admin") | bit("net_raw"));
        assert_eq!(sp.caps.effective, sp.caps.permitted, "effective follows permitted");
        assert_eq!(sp.caps.inheritable, bit("net_admin"));
        assert_eq!(sp.caps.ambient, bit("net_admin"));
        let sp = ok("caps effective none\ncaps permitted kill");
        assert_eq!((sp.caps.effective, sp.caps.permitted), (0, bit("kill")));
        let sp = ok("caps bounding none");
        assert_eq!(sp.caps.bounding, 0);
        assert_eq!(
            sp.caps.permitted, DEFAULT_CAPS,
            "the bounding set is not checked against the others"
        );
        assert_eq!(ok("caps permitted ALL").caps.permitted, names::ALL_CAPS);
        assert_eq!(
            bad("caps bounding cap_nope"),
            (1, "unknown capability", "cap_nope".into())
        );
        assert_eq!(
            bad("caps all chown").1,
            "unknown capability set (bounding effective permitted inheritable ambient)"
        );
        assert_eq!(bad("caps bounding").1, "caps needs capabilities, all or none");
        assert_eq!(bad("caps bounding none chown").1, "none must stand alone");
        assert_eq!(
            bad("caps bounding chown\ncaps bounding kill"),
            (2, "capability set given twice", "bounding".into())
        );
        assert_eq!(
            bad("caps permitted chown\n\ncaps effective chown kill"),
            (3, "effective capability not in the permitted set", "CAP_KILL".into())
        );
        assert_eq!(
            bad("caps effective sys_admin"),
            (
                1,
                "effective capability not in the permitted set",
                "CAP_SYS_ADMIN".into()
            )
        );
        assert_eq!(
            bad("caps ambient chown\ncaps inheritable kill"),
            (
                1,
                "ambient capability not in both the permitted and inheritable sets",
                "CAP_CHOWN".into()
            )
        );
        assert_eq!(
            bad("caps ambient net_admin\ncaps inheritable net_admin").2,
            "CAP_NET_ADMIN"
        );
        assert!(p("caps ambient chown\ncaps inheritable chown").is_ok());
    }

    #[test]
    fn no_new_privs() {
        assert!(ok("no_new_privs").no_new_privs);
        assert_eq!(bad("no_new_privs yes"), (1, "unexpected word", "yes".into()));
    }

    #[test]
    fn cgroup_limits() {
        let sp =
            ok("cgroup memory.max 512m\ncgroup pids.max 100\ncgroup cpu.max 50000 200000\ncgroup cpu.weight 10000");
        assert_eq!(
            sp.cgroup,
            CgroupLimits {
                memory_max: Some(512 << 20),
                pids_max: Some(100),
                cpu_max: Some((50000, 200000)),
                cpu_weight: Some(10000),
            }
        );
        assert_eq!(ok("cgroup memory.max max").cgroup.memory_max, Some(u64::MAX));
        assert_eq!(ok("cgroup memory.max 4096").cgroup.memory_max, Some(4096));
        assert_eq!(ok("cgroup memory.max 2G").cgroup.memory_max, Some(2 << 30));
        assert_eq!(ok("cgroup pids.max max").cgroup.pids_max, Some(u64::MAX));
        assert_eq!(ok("cgroup cpu.max max 100000").cgroup.cpu_max, Some((u64::MAX, 100000)));
        assert_eq!(ok("cgroup cpu.max 1000").cgroup.cpu_max, Some((1000, 100000)));
        assert_eq!(ok("cgroup cpu.weight 1").cgroup.cpu_weight, Some(1));
        assert_eq!(
            bad("cgroup memory.max 5x").1,
            "not a size (bytes, or with k, m, g, t; or max)"
        );
        assert_eq!(bad("cgroup pids.max -1").1, "not a number or max");
        assert_eq!(
            bad("cgroup cpu.max 999").1,
            "cpu.max quota: microseconds, at least 1000, or max"
        );
        assert_eq!(
            bad("cgroup cpu.max 5000 999").1,
            "cpu.max period: microseconds from 1000 to 1000000"
        );
        assert_eq!(bad("cgroup cpu.max 5000 1000001").2, "1000001");
        assert_eq!(bad("cgroup cpu.max 5000 1000 x").1, "unexpected word");
        assert_eq!(bad("cgroup cpu.weight 0").1, "cpu.weight is a number from 1 to 10000");
        assert_eq!(
            bad("cgroup cpu.weight 10001").1,
            "cpu.weight is a number from 1 to 10000"
        );
        assert_eq!(
            bad("cgroup io.max 1"),
            (
                1,
                "unsupported cgroup file (memory.max, pids.max, cpu.max, cpu.weight)",
                "io.max".into()
            )
        );
        assert_eq!(
            bad("cgroup memory.max 1\ncgroup memory.max 2"),
            (2, "cgroup file given twice", "memory.max".into())
        );
        assert_eq!(bad("cgroup pids.max").1, "cgroup needs a value");
        assert_eq!(bad("cgroup pids.max 1 2").1, "unexpected word");
    }

    #[test]
    fn stdio() {
        assert_eq!(ok("hostname x").stdio, Stdio::Inherit);
        assert_eq!(ok("stdio inherit").stdio, Stdio::Inherit);
        assert_eq!(ok("stdio null").stdio, Stdio::Null);
        assert_eq!(ok("stdio log").stdio, Stdio::Log);
        assert_eq!(
            ok("stdio file /var/log/web.log").stdio,
            Stdio::File(c"/var/log/web.log")
        );
        assert_eq!(bad("stdio file web.log").1, "not an absolute path");
        assert_eq!(bad("stdio file").1, "stdio file needs a path");
        assert_eq!(
            bad("stdio journal").1,
            "unknown stdio mode (inherit, null, log, file PATH)"
        );
        assert_eq!(bad("stdio null x").1, "unexpected word");
    }

    // --- Lifecycle ---

    #[test]
    fn restart_policy_and_backoff() {
        assert_eq!(ok("restart never").restart.policy, RestartPolicy::Never);
        assert_eq!(ok("restart on-failure").restart.policy, RestartPolicy::OnFailure);
        assert_eq!(ok("restart always").restart.policy, RestartPolicy::Always);
        assert_eq!(
            bad("restart sometimes").1,
            "unknown restart policy (never, on-failure, always)"
        );
        let r = ok("backoff 250ms 1m\nrestart_budget 3 10s").restart;
        assert_eq!(
            (r.backoff_base_ms, r.backoff_cap_ms, r.budget, r.window_ms),
            (250, 60_000, 3, 10_000)
        );
        assert_eq!(r.policy, RestartPolicy::OnFailure);
        assert!(p("backoff 1s 1s").is_ok());
        assert_eq!(
            bad("backoff 2s 1s"),
            (1, "the backoff base is above its cap", "2s".into())
        );
        assert_eq!(bad("backoff 1s").1, "backoff needs BASE and CAP durations");
        assert_eq!(bad("backoff 1 2s").1, "a duration needs a unit: ms, s, m or h");
        assert_eq!(bad("backoff 1s 2d").1, "unknown duration unit (ms, s, m or h)");
        assert_eq!(bad("backoff 1s 50d").1, "unknown duration unit (ms, s, m or h)");
        assert_eq!(bad("backoff 1s 5000000s").1, "duration too long (at most 49 days)");
        assert_eq!(
            bad("restart_budget 0 1m").1,
            "a restart budget of 0 never restarts: use restart never"
        );
        assert_eq!(bad("restart_budget 3 0s").1, "the restart window must be longer than 0");
        assert_eq!(
            bad("restart_budget 3").1,
            "restart_budget needs N and a WINDOW duration"
        );
        assert_eq!(bad("restart_budget x 1m").1, "not a number");
    }

    #[test]
    fn oneshot_and_restart() {
        let sp = ok("oneshot");
        assert!(sp.oneshot);
        assert!(p("oneshot\nrestart never").is_ok());
        assert!(p("oneshot\nrestart on-failure").is_ok());
        assert_eq!(
            bad("oneshot\nrestart always"),
            (2, "restart always conflicts with oneshot", "always".into())
        );
        assert_eq!(bad("restart always\noneshot").0, 1);
        assert_eq!(bad("oneshot now").1, "unexpected word");
    }

    #[test]
    fn after_names() {
        let sp = ok("after db cache\nafter db proxy");
        let a: Vec<&str> = sp.after.iter().map(|c| s(c)).collect();
        assert_eq!(a, ["db", "cache", "proxy"]);
        assert_eq!(bad("after").1, "after needs one or more container names");
        assert_eq!(bad("after db ../x"), (1, "not a valid container name", "../x".into()));
        assert_eq!(bad("after keel").1, "not a valid container name");
        let eight: String = (0..MAX_AFTER).map(|i| format!(" c{i}")).collect();
        assert_eq!(ok(&format!("after{eight}\nafter c0")).after.len(), MAX_AFTER);
        assert_eq!(
            bad(&format!("after{eight}\nafter c9")),
            (2, "too many after names (limit 8)", "".into())
        );
    }

    #[test]
    fn ready_fd_and_stopping() {
        assert_eq!(ok("ready_fd 3").ready_fd, Some(3));
        assert_eq!(ok("ready_fd 2147483647").ready_fd, Some(i32::MAX as u32));
        assert_eq!(bad("ready_fd 2").1, "ready_fd must be 3 or more (0, 1 and 2 are stdio)");
        assert_eq!(
            bad("ready_fd 2147483648").1,
            "ready_fd must be 3 or more (0, 1 and 2 are stdio)"
        );
        assert_eq!(bad("ready_fd x").1, "not a file descriptor number");
        assert_eq!(bad("ready_fd").1, "ready_fd needs a file descriptor number");
        for (w, n) in [
            ("TERM", 15),
            ("SIGINT", 2),
            ("quit", 3),
            ("9", 9),
            ("RTMIN+3", 37),
            ("SIGRTMAX", 64),
            ("64", 64),
        ] {
            assert_eq!(ok(&format!("stop_signal {w}")).stop_signal, n, "{w}");
        }
        for w in ["0", "65", "TERMINATE", "RTMIN+31", "-15"] {
            assert_eq!(
                bad(&format!("stop_signal {w}")).1,
                "unknown signal (TERM, SIGTERM, 1..64, RTMIN+N)",
                "{w}"
            );
        }
        assert_eq!(ok("stop_timeout 1m").stop_timeout_ms, 60_000);
        assert_eq!(ok("stop_timeout 0ms").stop_timeout_ms, 0);
        assert_eq!(bad("stop_timeout 10").1, "a duration needs a unit: ms, s, m or h");
        assert_eq!(bad("stop_timeout").1, "stop_timeout needs a duration");
    }

    #[test]
    fn limit_messages_match_the_constants() {
        let pairs: [(&str, usize); 10] = [
            ("too many mounts (limit 32)", MAX_MOUNTS),
            ("too many paths (limit 32)", MAX_PATHS),
            ("too many sysctls (limit 16)", MAX_SYSCTLS),
            ("too many args (limit 64)", MAX_ARGS),
            ("too many env variables (limit 64)", MAX_ENV),
            ("too many after names (limit 8)", MAX_AFTER),
            ("too many id maps (limit 5)", MAX_ID_MAPS),
            ("too many groups (limit 32)", MAX_GROUPS),
            ("too many lower directories (limit 8)", MAX_LOWER),
            ("too many resource limits (limit 16)", MAX_RLIMITS),
        ];
        for (msg, n) in pairs {
            assert!(msg.ends_with(&format!("(limit {n})")), "{msg}");
        }
        assert!(p("hostname x").is_ok());
        assert_eq!(SPEC_FILE_MAX, 16384);
        assert_eq!(super::super::token::LINE_MAX, 1024);
    }

    // --- The worked example in docs/config.md ---

    fn docs_example() -> String {
        let doc = include_str!("../../../docs/config.md");
        let start = doc.find("```keel-spec\n").expect("the worked example") + "```keel-spec\n".len();
        let len = doc[start..].find("```").unwrap();
        doc[start..start + len].to_string()
    }

    #[test]
    fn docs_example_parses_field_by_field() {
        let src = docs_example();
        let sp = raw(src.as_bytes()).unwrap();
        let cs = |v: &[&CStr]| v.iter().map(|c| s(c).to_string()).collect::<Vec<_>>();

        let Root::Overlay {
            lower,
            upper,
            work,
            readonly,
        } = &sp.root
        else {
            panic!("{:?}", sp.root)
        };
        assert_eq!(cs(lower), ["/srv/images/web", "/srv/images/base"]);
        assert_eq!(
            (*upper, *work, *readonly),
            (Some(c"/var/lib/keel/web/upper"), Some(c"/var/lib/keel/web/work"), false)
        );

        assert_eq!(sp.ns.get(NsKind::User), NsMode::New);
        for k in [
            NsKind::Mnt,
            NsKind::Pid,
            NsKind::Net,
            NsKind::Uts,
            NsKind::Ipc,
            NsKind::Cgroup,
        ] {
            assert!(sp.ns.is_new(k));
        }
        assert_eq!(sp.ns.get(NsKind::Time), NsMode::Host);
        assert_eq!(
            sp.uid_map.as_slice(),
            [IdMap {
                inside: 0,
                outside: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            sp.gid_map.as_slice(),
            [IdMap {
                inside: 0,
                outside: 100000,
                count: 65536
            }]
        );
        assert_eq!(sp.time_offsets, None);
        assert_eq!(sp.hostname, Some(c"web"));

        assert_eq!(sp.mounts.len(), 5);
        assert_eq!(
            sp.mounts[0],
            Mount {
                kind: MountKind::Proc,
                target: c"/proc",
                flags: NOSUID | NODEV | NOEXEC,
                data: None
            }
        );
        assert_eq!(
            sp.mounts[1],
            Mount {
                kind: MountKind::Sysfs,
                target: c"/sys",
                flags: RDONLY | NOSUID | NODEV | NOEXEC,
                data: None
            }
        );
        assert_eq!(
            sp.mounts[2],
            Mount {
                kind: MountKind::Tmpfs,
                target: c"/tmp",
                flags: NOSUID | NODEV,
                data: Some(c"size=64m,mode=1777")
            }
        );
        assert_eq!(
            sp.mounts[3],
            Mount {
                kind: MountKind::Tmpfs,
                target: c"/run",
                flags: NOSUID | NODEV,
                data: Some(c"mode=0755")
            }
        );
        assert_eq!(
            sp.mounts[4],
            Mount {
                kind: MountKind::Bind {
                    source: c"/srv/web/static",
                    recursive: false
                },
                target: c"/var/www",
                flags: RDONLY | NOSUID | NODEV,
                data: None,
            }
        );
        assert_eq!(sp.dev, Dev::Minimal);
        assert_eq!(
            cs(&sp.masked),
            [
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/proc/scsi",
                "/sys/firmware",
            ]
        );
        assert_eq!(
            cs(&sp.readonly),
            ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        );
        assert_eq!(sp.sysctls.as_slice(), [(c"net.core.somaxconn", c"1024")]);

        let pr = &sp.process;
        assert_eq!(cs(&pr.args), ["/usr/sbin/nginx", "-g", "daemon off;"]);
        assert_eq!(cs(&pr.env), ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]);
        assert_eq!(pr.cwd, Some(c"/var/www"));
        assert_eq!((pr.uid, pr.gid), (101, 101));
        assert_eq!(pr.groups.as_slice(), [101]);
        assert_eq!(pr.umask, 0o027);
        assert_eq!(pr.oom_score_adj, Some(200));
        assert_eq!(
            sp.rlimits.as_slice(),
            [
                Rlimit {
                    resource: 7,
                    soft: 4096,
                    hard: 8192
                },
                Rlimit {
                    resource: 4,
                    soft: 0,
                    hard: 0
                }
            ]
        );

        let nbs = 1u64 << 10;
        assert_eq!(
            sp.caps,
            Caps {
                bounding: nbs,
                effective: nbs,
                permitted: nbs,
                inheritable: nbs,
                ambient: nbs
            }
        );
        assert!(sp.no_new_privs);
        assert_eq!(
            sp.cgroup,
            CgroupLimits {
                memory_max: Some(512 << 20),
                pids_max: Some(256),
                cpu_max: Some((50_000, 100_000)),
                cpu_weight: Some(200),
            }
        );
        assert_eq!(sp.stdio, Stdio::Log);
        assert_eq!(
            sp.restart,
            Restart {
                policy: RestartPolicy::Always,
                backoff_base_ms: 250,
                backoff_cap_ms: 30_000,
                budget: 5,
                window_ms: 60_000
            }
        );
        assert!(!sp.oneshot);
        assert_eq!(cs(&sp.after), ["db"]);
        assert_eq!(sp.ready_fd, Some(3));
        assert_eq!(sp.stop_signal, 3);
        assert_eq!(sp.stop_timeout_ms, 20_000);
    }

    // --- Totality ---

    /// A small deterministic fuzz: the docs example and a few snippets,
    /// mutated; every input must give Ok or Err (a panic fails the test)
    /// and errors must render.
    #[test]
    fn mutated_inputs_never_panic() {
        let mut seeds: Vec<Vec<u8>> = vec![docs_example().into_bytes()];
        seeds.push(b"root overlay /a:/b upper=/u work=/w ro\nmount tmpfs /t ro,size=1m,,x\nargs \"a\\x41\"".to_vec());
        seeds.push(b"ns user new\nuid_map 0 1 1\ngid_map 0 1 1\ncaps ambient all\nargs x".to_vec());
        let dict: [&[u8]; 12] = [
            b" ", b"\n", b"\"", b"\\", b"#", b":", b",", b"=", b"\\x", b"/", b"..", b"\0",
        ];
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let mut v = seeds[i % seeds.len()].clone();
            for _ in 0..1 + rnd() % 8 {
                let at = (rnd() as usize) % (v.len() + 1);
                match rnd() % 4 {
                    0 if at < v.len() => {
                        v.remove(at);
                    }
                    1 => v.insert(at, rnd() as u8),
                    2 => {
                        let d = dict[(rnd() as usize) % dict.len()];
                        v.splice(at..at, d.iter().copied());
                    }
                    _ if at < v.len() => v[at] = rnd() as u8,
                    _ => {}
                }
            }
            v.truncate(SPEC_FILE_MAX);
            match raw(&v) {
                Ok(_) => {}
                Err(e) => {
                    let mut l = keel_rt::Line::new();
                    e.render(b"f", &mut l);
                    assert!(!l.is_empty());
                }
            }
        }
    }
}
