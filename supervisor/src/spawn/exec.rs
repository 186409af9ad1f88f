//! The end of every child's set-up, shared by [`super::spawn`] and
//! [`super::enter`]: fds moved out of the way early, then signals, session,
//! stdio, the passed fd, closing everything else, and execve.

use super::{Ctx, Failure, Step};
use core::convert::Infallible;
use core::ffi::CStr;
use keel_rt::path::PathBuf;
use keel_rt::sys as ksys;
use rustix::fd::{BorrowedFd, IntoRawFd};
use rustix::io::Errno;

/// Room for argv and envp: the spec's limits plus the terminating null.
pub(super) const PTRS: usize = crate::spec::MAX_ARGS + 1;
static_assertions::const_assert!(crate::spec::MAX_ENV < PTRS);

/// The child's fds after [`relocate`]: every one at or above a floor that
/// none of the fixed targets (0, 1, 2, the passed fd's number) reaches.
pub(super) struct Fds {
    pub report: i32,
    pub stdio: [i32; 3],
    /// (relocated source, target number).
    pub pass: Option<(i32, u32)>,
    /// An fd to execveat (kept close-on-exec until then).
    pub exec: Option<i32>,
}

/// Borrows a raw fd of this process.
///
/// # Safety
/// `fd` must be open for the lifetime of the borrow (the child's fds stay
/// open until it closes them in [`finish`] or execs).
unsafe fn borrow<'x>(fd: i32) -> BorrowedFd<'x> {
    // SAFETY: forwarded contract.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

fn dup_above(fd: i32, floor: u32) -> Result<i32, Errno> {
    // SAFETY: `fd` is one of the child's inherited fds, open here.
    let b = unsafe { borrow(fd) };
    let min = i32::try_from(floor).map_err(|_| Errno::BADF)?;
    Ok(rustix::io::fcntl_dupfd_cloexec(b, min)?.into_raw_fd())
}

/// Copies every fd the child will need above the fixed targets, close-on-
/// exec, so that putting stdio and the passed fd in place cannot clobber a
/// source that happens to sit on a target number.
pub(super) fn relocate(
    ctx: Ctx,
    report: i32,
    stdio: [Option<i32>; 3],
    devnull: Option<i32>,
    pass: Option<(i32, u32)>,
    exec: Option<i32>,
) -> Result<Fds, Failure> {
    ctx.run(Step::Fds, || {
        let floor = pass.map_or(0, |(_, n)| n.saturating_add(1)).max(10);
        let report = dup_above(report, floor)?;
        let mut out = [-1i32; 3];
        for (slot, src) in out.iter_mut().zip(stdio) {
            let src = src.or(devnull).ok_or(Errno::BADF)?;
            *slot = dup_above(src, floor)?;
        }
        let pass = match pass {
            Some((fd, n)) => Some((dup_above(fd, floor)?, n)),
            None => None,
        };
        let exec = match exec {
            Some(fd) => Some(dup_above(fd, floor)?),
            None => None,
        };
        Ok(Fds {
            report,
            stdio: out,
            pass,
            exec,
        })
    })
}

/// Opens the host's /dev/null (before any pivot) for stdio left unset.
pub(super) fn open_devnull(ctx: Ctx) -> Result<i32, Failure> {
    ctx.run(Step::DevNull, || {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            c"/dev/null",
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )?;
        Ok(fd.into_raw_fd())
    })
}

/// What to execute.
pub(super) enum Program<'x> {
    /// A path, or a bare name looked up in `path` (a `PATH` value).
    Search { name: &'x CStr, path: &'x [u8] },
    /// execveat(fd, "", AT_EMPTY_PATH).
    Fd(i32),
}

/// The default PATH when the spec's environment has none.
pub(super) const DEFAULT_PATH: &[u8] = b"/usr/sbin:/usr/bin:/sbin:/bin";

/// The value of `PATH=` in `env`, or [`DEFAULT_PATH`].
pub(super) fn path_of<'x>(env: impl Iterator<Item = &'x CStr>) -> &'x [u8] {
    for e in env {
        if let Some(v) = e.to_bytes().strip_prefix(b"PATH=") {
            return v;
        }
    }
    DEFAULT_PATH
}

/// Fills `out` with pointers to `items` and a terminating null.
pub(super) fn ptr_array<'x>(items: impl Iterator<Item = &'x CStr>, out: &mut [*const u8; PTRS]) -> Result<(), Errno> {
    let mut n = 0;
    for it in items {
        // Keep one slot for the null.
        if n + 1 >= PTRS {
            return Err(Errno::TOOBIG);
        }
        if let Some(slot) = out.get_mut(n) {
            *slot = it.as_ptr().cast();
        }
        n += 1;
    }
    if let Some(slot) = out.get_mut(n) {
        *slot = core::ptr::null();
    }
    Ok(())
}

/// Resets signals, starts a session, puts stdio and the passed fd in place,
/// closes every other fd but the report pipe (and the exec fd, both
/// close-on-exec), and executes. Returns only on failure.
pub(super) fn finish(
    ctx: Ctx,
    fds: &Fds,
    program: Program<'_>,
    argv: &[*const u8; PTRS],
    envp: &[*const u8; PTRS],
) -> Result<Infallible, Failure> {
    ctx.run(Step::Signals, || {
        // keel blocks every signal and a child inherits the mask across
        // execve; dispositions other than SIG_DFL/SIG_IGN reset at exec,
        // but SIG_IGN would survive: every signal goes back to SIG_DFL.
        ksys::sigprocmask(ksys::SIG_SETMASK, Some(&ksys::SigSet::EMPTY))?;
        let dfl = ksys::KSigaction {
            handler: ksys::SIG_DFL,
            ..ksys::KSigaction::default()
        };
        for sig in 1..=64 {
            // SIGKILL and SIGSTOP answer EINVAL; nothing else can fail.
            let _ = ksys::sigaction(sig, Some(&dfl));
        }
        // keel runs at a raised priority (run/runtime.rs); its children
        // start at the ordinary one (raising nice needs no privilege).
        let _ = rustix::process::setpriority_process(None, 0);
        Ok(())
    })?;
    ctx.run(Step::Setsid, || rustix::process::setsid().map(|_| ()))?;
    ctx.run(Step::Stdio, || {
        for (target, &src) in fds.stdio.iter().enumerate() {
            ksys::dup3(src, target as i32, 0)?;
        }
        Ok(())
    })?;
    if let Some((src, n)) = fds.pass {
        ctx.run(Step::ReadyFd, || {
            let n = i32::try_from(n).map_err(|_| Errno::BADF)?;
            ksys::dup3(src, n, 0).map(|_| ())
        })?;
    }
    ctx.run(Step::CloseFds, || {
        // Keep 0..=2, the passed fd, the report pipe and the exec fd.
        let mut keep = [u32::MAX; 3];
        let mut k = 0;
        for fd in [
            fds.pass.map(|p| p.1),
            u32::try_from(fds.report).ok(),
            fds.exec.and_then(|e| u32::try_from(e).ok()),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(slot) = keep.get_mut(k) {
                *slot = fd;
                k += 1;
            }
        }
        keep.sort_unstable();
        let mut from: u32 = 3;
        for &fd in keep.iter().filter(|&&fd| fd != u32::MAX) {
            if fd >= from {
                if fd > from {
                    ksys::close_range(from, fd - 1, 0)?;
                }
                from = fd + 1;
            }
        }
        ksys::close_range(from, u32::MAX, 0)
    })?;
    ctx.at(Step::Exec)?;
    let e = exec(program, argv, envp);
    Err(Failure::new(Step::Exec, e))
}

fn exec(program: Program<'_>, argv: &[*const u8; PTRS], envp: &[*const u8; PTRS]) -> Errno {
    match program {
        Program::Fd(fd) => {
            // SAFETY: argv and envp are null-terminated arrays of pointers to NUL-terminated strings that live until execve.
            unsafe { ksys::execveat(fd, c"", argv.as_ptr(), envp.as_ptr(), ksys::AT_EMPTY_PATH) }
        }
        Program::Search { name, path } => {
            if name.to_bytes().contains(&b'/') {
                // SAFETY: as above; `name` is NUL-terminated.
                return unsafe { ksys::execveat(ksys::AT_FDCWD, name, argv.as_ptr(), envp.as_ptr(), 0) };
            }
            // execvp's rules: try each directory; remember EACCES; stop on
            // any error other than "not here".
            let mut seen_eacces = false;
            for dir in path.split(|c| *c == b':') {
                let mut p = PathBuf::new();
                p.push(if dir.is_empty() { b"." } else { dir });
                p.join(name.to_bytes());
                let Ok(c) = p.as_cstr() else { continue };
                // SAFETY: as above; `c` is NUL-terminated and lives on.
                match unsafe { ksys::execveat(ksys::AT_FDCWD, c, argv.as_ptr(), envp.as_ptr(), 0) } {
                    Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG | Errno::LOOP => {}
                    Errno::ACCESS => seen_eacces = true,
                    e => return e,
                }
            }
            if seen_eacces {
                Errno::ACCESS
            } else {
                Errno::NOENT
            }
        }
    }
}
