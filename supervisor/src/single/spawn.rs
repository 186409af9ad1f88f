//! Starting the program: clone3, or clone(2) where a seccomp profile
//! refuses clone3 (Docker's and containerd's answer ENOSYS, older ones
//! EPERM; implementation-notes §1.10), then the child's set-up and exec.
//!
//! No pidfd is asked for: the program's pid cannot be reused before keel
//! reaps it, and keel signals it only until then; waiting is waitid-style
//! over all children, which needs none either.
//!
//! The child reports an exec failure through a close-on-exec pipe (4
//! bytes: the errno) and exits 127 or 126; an empty read means the exec
//! happened.

use super::signals::{self, Inherited};
use super::status;
use core::ffi::CStr;
use keel_rt::path::{CBuf, PathBuf};
use keel_rt::sys::{self, CloneArgs, Forked};
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::io::Errno;

/// PATH when the environment has none (glibc's execvp default, plus sbin).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything the child needs, prepared by the parent before the fork.
pub struct Plan<'a> {
    /// The program's name or path (argv[0] of the program).
    pub program: &'a CStr,
    /// The program's argv: a null-terminated array (a suffix of keel's).
    pub argv: *const *const u8,
    /// The environment handed to the program (keel's own).
    pub envp: *const *const u8,
    pub keep_fds: bool,
    /// Socket-activation fds to keep (3..3+n-1); LISTEN_PID is rewritten.
    pub listen: Option<u32>,
    pub inherited: Inherited,
}

pub struct Spawned {
    pub pid: i32,
    /// Set when exec failed: the child has exited (or is exiting) 127/126.
    pub exec_error: Option<Errno>,
    /// True when clone3 was refused and clone(2) was used.
    pub fell_back: bool,
}

/// Forks and execs the program. The error names the step that failed.
pub fn spawn(plan: &Plan<'_>) -> Result<Spawned, (&'static str, Errno)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| ("pipe", e))?;
    let mut args = CloneArgs {
        exit_signal: signals::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    let mut fell_back = false;
    // SAFETY: keel is single-threaded; no CLONE_VM/THREAD/SIGHAND/SETTLS and no stack (fork semantics); the child only runs `child`, which ends in exec or exit_group.
    let forked = match unsafe { sys::clone3(&mut args) } {
        Err(e) if e == Errno::NOSYS || e == Errno::PERM => {
            keel_rt::debug!("keel: clone3: ", e, ", falling back to clone");
            fell_back = true;
            // SAFETY: as above; flags are only the exit signal, no pidfd.
            unsafe { sys::clone_fork(signals::SIGCHLD as u64, core::ptr::null_mut()) }
        }
        other => other,
    };
    match forked {
        Err(e) => Err((if fell_back { "clone" } else { "clone3" }, e)),
        Ok(Forked::Child) => {
            drop(r);
            child(plan, &w)
        }
        Ok(Forked::Parent(pid)) => {
            drop(w);
            // The child does this too; doing it here as well closes the
            // window in which a `-g` forward would find no group yet.
            // EACCES after the child's exec is expected and harmless.
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::setpgid(Some(p), Some(p));
            }
            Ok(Spawned {
                pid,
                exec_error: read_exec_error(&r),
                fell_back,
            })
        }
    }
}

fn read_exec_error(r: &OwnedFd) -> Option<Errno> {
    let mut b = [0u8; 4];
    let mut n = 0;
    while n < b.len() {
        let Some(rest) = b.get_mut(n..) else { break };
        match rustix::io::read(r, rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => continue,
            Err(_) => break,
        }
    }
    (n == b.len()).then(|| Errno::from_raw_os_error(i32::from_ne_bytes(b)))
}

/// The child: own process group, the terminal's foreground, fd clean-up,
/// socket activation, the inherited signal state, exec. Never returns.
fn child(plan: &Plan<'_>, err_w: &OwnedFd) -> ! {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    if let Err(e) = rustix::process::setpgid(None, None) {
        keel_rt::warn!("keel: setpgid for the program: ", e);
    }
    // The terminal, if stdin is one: the program's group becomes its
    // foreground. SIGTTOU is ignored and blocked here, so this works from
    // a background group too (tini does the same, in the child, so that
    // nested inits hand the terminal down in order).
    match sys::tcsetpgrp(0, me) {
        Ok(()) => {}
        Err(e) if e == Errno::NOTTY || e == Errno::NXIO || e == Errno::BADF || e == Errno::INVAL => {}
        Err(e) => keel_rt::warn!("keel: tcsetpgrp: ", e, " (the program stays in the background)"),
    }
    let mut envp = plan.envp;
    // Kept on this frame until exec: the rewritten LISTEN_PID string.
    let mut listen_pid: CBuf<32> = CBuf::new();
    if let Some(n) = plan.listen {
        listen_pid.push(b"LISTEN_PID=").push_i64(i64::from(me));
        if let Ok(s) = listen_pid.as_cstr() {
            envp = rewrite_listen_pid(envp, s.as_ptr().cast());
        }
        keel_rt::debug!("keel: keeping ", n, " socket-activation fds");
    }
    if !plan.keep_fds {
        close_fds_above(2 + plan.listen.unwrap_or(0));
    }
    if let Err(e) = signals::restore(&plan.inherited) {
        keel_rt::warn!("keel: restoring the signal state for the program: ", e);
    }
    let e = exec_program(plan.program, plan.argv, envp);
    let b = e.raw_os_error().to_ne_bytes();
    let _ = sys::write(err_w.as_raw_fd(), &b);
    sys::exit_group(status::exec_failure_code(e))
}

/// Marks every fd above `last_kept` close-on-exec (the exec-error pipe is
/// close-on-exec already and must stay open until the exec).
fn close_fds_above(last_kept: u32) {
    let first = last_kept.saturating_add(1);
    if sys::close_range(first, u32::MAX, sys::CLOSE_RANGE_CLOEXEC).is_ok() {
        return;
    }
    // Kernels before 5.11, or a seccomp profile without close_range: one
    // fcntl per possible fd, up to the soft limit (bounded).
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1 << 16);
    let top = lim.min(1 << 16) as u32;
    for fd in first..top {
        let _ = sys::set_cloexec(fd as i32);
    }
}

/// In the child only: points the environment's LISTEN_PID entry at `new`.
fn rewrite_listen_pid(envp: *const *const u8, new: *const u8) -> *const *const u8 {
    if envp.is_null() {
        return envp;
    }
    let mut i = 0usize;
    loop {
        // SAFETY: envp is the null-terminated array the kernel laid on our initial stack; we stop at its null entry.
        let p = unsafe { *envp.add(i) };
        if p.is_null() {
            return envp;
        }
        // SAFETY: every entry is a NUL-terminated string.
        let s = unsafe { CStr::from_ptr(p.cast()) };
        if s.to_bytes().starts_with(b"LISTEN_PID=") {
            // SAFETY: the array lives in this process's writable initial stack; after the fork it is the child's private copy, and nothing else reads it until execve copies it. `new` lives on the child's frame until exec.
            unsafe { *(envp as *mut *const u8).add(i) = new };
            return envp;
        }
        i += 1;
    }
}

/// execve with a PATH search for names without a slash (execvp's rules:
/// EACCES is remembered and reported if nothing else runs; ENOENT and
/// ENOTDIR go on to the next directory; other errors stop the search).
/// Returns the error that stopped it.
fn exec_program(program: &CStr, argv: *const *const u8, envp: *const *const u8) -> Errno {
    let name = program.to_bytes();
    if name.is_empty() {
        return Errno::NOENT;
    }
    if name.contains(&b'/') {
        // SAFETY: argv and envp are null-terminated arrays of strings.
        return unsafe { sys::execveat(sys::AT_FDCWD, program, argv, envp, 0) };
    }
    let path = keel_rt::args::env(b"PATH").unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    let mut last = Errno::NOENT;
    for dir in path.split(|c| *c == b':') {
        let mut full = PathBuf::new();
        full.push(if dir.is_empty() { b"." } else { dir }).push(b"/").push(name);
        let Ok(c) = full.as_cstr() else {
            last = Errno::NAMETOOLONG;
            continue;
        };
        // SAFETY: as above.
        let e = unsafe { sys::execveat(sys::AT_FDCWD, c, argv, envp, 0) };
        if e == Errno::ACCESS {
            denied = true;
        } else if e == Errno::NOENT || e == Errno::NOTDIR || e == Errno::NAMETOOLONG || e == Errno::LOOP {
            last = e;
        } else {
            return e;
        }
    }
    if denied {
        Errno::ACCESS
    } else {
        last
    }
}
