//! Carrying out a chosen request-key.conf line: the built-in handlers run
//! in the calling process; a program runs in a forked worker that assumes
//! the authority, expands the arguments and execs it (keyutils' plain
//! mode), or feeds it the callout and instantiates the key with what it
//! prints (`|` pipe mode; on failure the `negate` line runs, as keyutils).
//!
//! Built-in handlers (`builtin:NAME` as the program of a line):
//!
//! | line's program and arguments   | effect |
//! |--------------------------------|--------|
//! | `builtin:instantiate ARGS…`    | instantiates the key with the expanded arguments joined by one space |
//! | `builtin:reject ERRNO [SECS]`  | rejects the key with ERRNO (a number) for SECS seconds (default 60) |
//! | `builtin:negate [SECS]`        | negates the key (ENOKEY) for SECS seconds (default 60) |

use crate::conf::{self, Best, Chosen, Expanded, Query};
use crate::files::{self, Root};
use crate::proc;
use crate::req::Req;
use keel_rt::keys;
use keel_wire::upcall::Result as Outcome;
use rustix::io::Errno;

/// Largest payload a pipe program may print (keyutils' limit).
pub const PIPE_MAX: usize = 32768;
/// Room for one line's expanded arguments.
const ARGS_BYTES: usize = 8192;
const MAX_ARGV: usize = 64;

/// The expanded argv of a line: NUL-separated strings in one buffer.
pub struct Argv {
    buf: [u8; ARGS_BYTES],
    used: usize,
    starts: [usize; MAX_ARGV],
    count: usize,
}

impl Argv {
    pub const fn new() -> Argv {
        Argv {
            buf: [0; ARGS_BYTES],
            used: 0,
            starts: [0; MAX_ARGV],
            count: 0,
        }
    }

    fn push(&mut self, a: &[u8]) -> Result<(), Errno> {
        if a.contains(&0) {
            return Err(Errno::INVAL);
        }
        let end = self.used.checked_add(a.len() + 1).ok_or(Errno::TOOBIG)?;
        if self.count >= MAX_ARGV - 1 || end > ARGS_BYTES {
            return Err(Errno::TOOBIG);
        }
        self.buf
            .get_mut(self.used..self.used + a.len())
            .ok_or(Errno::TOOBIG)?
            .copy_from_slice(a);
        *self.buf.get_mut(self.used + a.len()).ok_or(Errno::TOOBIG)? = 0;
        *self.starts.get_mut(self.count).ok_or(Errno::TOOBIG)? = self.used;
        self.count += 1;
        self.used = end;
        Ok(())
    }

    /// Argument `i` without its NUL.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.count {
            return None;
        }
        let s = *self.starts.get(i)?;
        let e = self
            .starts
            .get(i + 1)
            .filter(|_| i + 1 < self.count)
            .map_or(self.used, |&e| e);
        self.buf.get(s..e.checked_sub(1)?)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// A null-terminated pointer array over the strings.
    fn ptrs(&self, out: &mut [*const u8; MAX_ARGV]) {
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = if i < self.count {
                self.starts
                    .get(i)
                    .and_then(|&s| self.buf.get(s..))
                    .map_or(core::ptr::null(), |b| b.as_ptr())
            } else {
                core::ptr::null()
            };
        }
    }
}

impl Default for Argv {
    fn default() -> Self {
        Self::new()
    }
}

/// Expands every argument of `line` (program name first, as its basename)
/// into `argv`. `%{type:desc}` is looked up in the requester's keyrings,
/// which needs the authority assumed.
pub fn expand(line: &Chosen<'_>, q: &Query<'_>, argv: &mut Argv, lookups: Lookups) -> Result<(), Errno> {
    argv.push(crate::cli::basename(line.program))?;
    let mut tmp = [0u8; 4200];
    for a in line.args() {
        match conf::expand(a, q, &mut tmp).map_err(|_| Errno::INVAL)? {
            Expanded::Text(t) => argv.push(t)?,
            Expanded::Lookup { .. } if lookups == Lookups::Refused => return Err(Errno::PERM),
            Expanded::Lookup { ty, desc } => {
                let mut val = [0u8; 4096];
                let v = lookup(ty, desc, &mut val)?;
                argv.push(v)?;
            }
        }
    }
    Ok(())
}

/// Whether `%{type:desc}` may be looked up where a line is expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookups {
    Allowed,
    /// In the agent itself: its searches would cover its own keyring, which
    /// holds other requests' authorities and whatever a container root
    /// without a user namespace linked into it. Workers (which run a
    /// program) switch to a keyring of their own first and may look up.
    Refused,
}

/// `%{type:desc}`: the payload of a key found with request_key(type, desc)
/// (no callout: no upcall), printable only (keyutils' rule).
fn lookup<'b>(ty: &[u8], desc: &[u8], out: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let t = keel_rt::path::CBuf::<64>::from(ty);
    let d = keel_rt::path::CBuf::<4200>::from(desc);
    let key = keel_rt::sys::request_key(t.as_cstr()?, d.as_cstr()?, None, 0)?;
    let v = keys::read(key, out)?;
    conf::check_keysub_payload(v).map_err(|_| Errno::INVAL)?;
    Ok(v)
}

/// Runs a built-in handler in this process. The authority must be assumed.
pub fn builtin(name: &[u8], argv: &Argv, key: i32) -> Outcome {
    let num = |i: usize, default: u32| -> Option<u32> {
        match argv.get(i) {
            None => Some(default),
            Some(a) => parse_u32(a),
        }
    };
    let r = match name {
        b"instantiate" => {
            let mut payload = [0u8; ARGS_BYTES];
            let mut n = 0;
            for i in 1..argv.len() {
                let a = argv.get(i).unwrap_or(&[]);
                let sep = usize::from(i > 1);
                let Some(dst) = payload.get_mut(n..n + sep + a.len()) else {
                    return Outcome::Failed(Errno::TOOBIG.raw_os_error() as u16);
                };
                if sep == 1 {
                    if let Some(b) = dst.first_mut() {
                        *b = b' ';
                    }
                }
                if let Some(d) = dst.get_mut(sep..) {
                    d.copy_from_slice(a);
                }
                n += sep + a.len();
            }
            keys::instantiate(key, payload.get(..n).unwrap_or(&[]), 0).map(|()| Outcome::Served)
        }
        b"reject" => match (argv.get(1).and_then(parse_u32), num(2, 60)) {
            (Some(e), Some(t)) if (1..4095).contains(&e) => {
                keys::reject(key, t, e as u16, 0).map(|()| Outcome::Rejected(e as u16))
            }
            _ => Err(Errno::INVAL),
        },
        b"negate" => match num(1, 60) {
            Some(t) => keys::reject(key, t, Errno::NOKEY.raw_os_error() as u16, 0)
                .map(|()| Outcome::Rejected(Errno::NOKEY.raw_os_error() as u16)),
            None => Err(Errno::INVAL),
        },
        _ => Err(Errno::NOSYS),
    };
    r.unwrap_or_else(|e| Outcome::Failed(e.raw_os_error() as u16))
}

fn parse_u32(a: &[u8]) -> Option<u32> {
    if a.is_empty() || a.len() > 10 || !a.iter().all(u8::is_ascii_digit) {
        return None;
    }
    a.iter()
        .try_fold(0u32, |n, &c| n.checked_mul(10)?.checked_add(u32::from(c - b'0')))
}

/// execve of an absolute program with `argv` and this process's
/// environment. Returns only on failure.
fn exec(program: &[u8], argv: &Argv) -> Errno {
    let path = keel_rt::path::PathBuf::from(program);
    let Ok(p) = path.as_cstr() else {
        return Errno::NAMETOOLONG;
    };
    let mut ptrs = [core::ptr::null(); MAX_ARGV];
    argv.ptrs(&mut ptrs);
    // SAFETY: `p` is NUL-terminated; `ptrs` is a null-terminated array of pointers into `argv`'s NUL-terminated strings, alive across the call; envp is the process's own environment from the kernel.
    unsafe { keel_rt::sys::execveat(keel_rt::sys::AT_FDCWD, p, ptrs.as_ptr(), keel_rt::args::envp_ptr(), 0) }
}

/// Exit statuses of a worker, read by whoever waits for it. The worker's
/// own failures use 243–246, statuses programs seldom give, so that a log
/// line can tell them from the program's.
pub mod status {
    /// The program exited 0, or the pipe program's output instantiated the key.
    pub const OK: i32 = 0;
    /// The pipe program failed and the negate line ran (or none matched).
    pub const NEGATED: i32 = 243;
    pub const NO_AUTHORITY: i32 = 244;
    pub const BAD_ARGS: i32 = 245;
    pub const EXEC_FAILED: i32 = 246;
}

/// The forked worker: assumes the authority for `req.key`, then runs the
/// chosen line. Never returns.
pub fn worker(req: &Req, root: Root, best: &Best, op: &[u8]) -> ! {
    // Nothing of the parent's (the broker's connections, the agent's
    // request sockets) stays open here: a peer must see the parent's death.
    let _ = keel_rt::sys::close_range(3, u32::MAX, 0);
    // The worker and its program die with the agent (or broker) that waits
    // for them.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if keys::assume_authority(req.key).is_err() {
        keel_rt::exit(status::NO_AUTHORITY);
    }
    // The handler gets a session keyring of its own holding only this
    // request's authorisation key — what keyutils' handlers get (the
    // kernel's `_req` keyring) — not the agent's keyring, which holds other
    // requests' authorities and whatever a container root without a user
    // namespace could link into it (its owner may Write): neither reaches
    // the handler's searches (`%{type:desc}`, the program's own
    // request_key). The authorisation key itself stays possessed, so the
    // program can still describe the key through it.
    if keys::join_anonymous_session().is_ok() {
        let _ = keys::link(keys::KEY_SPEC_REQKEY_AUTH_KEY, keys::KEY_SPEC_SESSION_KEYRING);
    }
    let Some(line) = best.chosen() else {
        keel_rt::exit(status::BAD_ARGS)
    };
    let q = req.query(op);
    let mut argv = Argv::new();
    if expand(&line, &q, &mut argv, Lookups::Allowed).is_err() {
        keel_rt::exit(status::BAD_ARGS);
    }
    if !line.pipe {
        proc::child_stdio(None, None);
        let _ = exec(line.program, &argv);
        keel_rt::exit(status::EXEC_FAILED);
    }
    match pipe_program(line.program, &argv, req) {
        Ok(()) => keel_rt::exit(status::OK),
        Err(_) => negate(req, root),
    }
}

/// keyutils' pipe mode: callout on the program's stdin, its stdout (at
/// most [`PIPE_MAX`]) instantiates the key when it exits 0.
fn pipe_program(program: &[u8], argv: &Argv, req: &Req) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    let (in_r, in_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let pid = match proc::fork()? {
        proc::Side::Child => {
            let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
            proc::child_stdio(Some(in_r.as_raw_fd()), Some(out_w.as_raw_fd()));
            let _ = exec(program, argv);
            keel_rt::exit(127)
        }
        proc::Side::Parent { pid, .. } => pid,
    };
    drop(in_r);
    drop(out_w);
    // The callout fits the pipe's buffer: the write cannot block.
    let _ = keel_rt::fs::write_all(&in_w, &req.callout);
    drop(in_w);
    let mut out = [0u8; PIPE_MAX];
    let got = keel_rt::fs::read_fd_into(&out_r, &mut out);
    let exit = loop {
        match rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        ) {
            Ok(Some((_, st))) => break st.exit_status(),
            Err(Errno::INTR) => continue,
            _ => break None,
        }
    };
    let n = got?;
    if exit != Some(0) {
        return Err(Errno::CHILD);
    }
    keys::instantiate(req.key, out.get(..n).unwrap_or(&[]), 0)
}

/// The failure path of a pipe program: the line chosen for op `negate`
/// runs in this process (exec), else the worker just ends.
fn negate(req: &Req, root: Root) -> ! {
    let mut best = Best::new();
    let mut buf = [0u8; 4096 + 512];
    let q = req.query(b"negate");
    let _ = files::choose(root, &q, &mut best, &mut buf);
    if let Some(line) = best.chosen() {
        let mut argv = Argv::new();
        if expand(&line, &q, &mut argv, Lookups::Allowed).is_ok() {
            if let Some(b) = line.builtin {
                let _ = builtin(b, &argv, req.key);
                keel_rt::exit(status::NEGATED);
            }
            if !line.pipe {
                proc::child_stdio(None, None);
                let _ = exec(line.program, &argv);
            }
        }
    }
    keel_rt::exit(status::NEGATED)
}

/// Words for a worker's exit status, for log lines.
pub fn status_words(code: u16) -> &'static str {
    match i32::from(code) {
        status::NEGATED => " (the pipe program failed; negated)",
        status::NO_AUTHORITY => " (could not assume the key's authority)",
        status::BAD_ARGS => " (bad arguments in the configuration line)",
        status::EXEC_FAILED => " (the program could not be executed)",
        c if c > 128 => " (killed by a signal)",
        _ => "",
    }
}

/// What a worker's end means for the request.
pub fn outcome_of(exit: proc::Exit) -> Outcome {
    match exit {
        proc::Exit::Code(status::OK) => Outcome::Served,
        proc::Exit::Code(c) => Outcome::Failed(c as u16),
        proc::Exit::Signal(s) => Outcome::Failed(128 + s as u16),
    }
}
