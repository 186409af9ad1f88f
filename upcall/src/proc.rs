//! Processes and time for the upcall path: forking a handler with a pidfd,
//! waiting for it until a deadline, killing its process group, stdio.

use keel_rt::sys::{self as ksys, Forked};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd};
use rustix::io::Errno;

/// Milliseconds on the monotonic clock.
pub fn now_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add((t.tv_nsec as u64) / 1_000_000)
}

/// Which side of a fork we are on.
pub enum Side {
    Child,
    Parent { pid: i32, pidfd: OwnedFd },
}

/// Forks. The child gets its own process group, so that killing the group
/// at a deadline takes the handler's own children too.
pub fn fork() -> Result<Side, Errno> {
    // SAFETY: the upcall binaries are single-threaded; the child continues into code written for it (exec or exit).
    let (side, pidfd) = unsafe { ksys::fork_pidfd() }?;
    match side {
        Forked::Child => {
            let _ = rustix::process::setpgid(None, None);
            Ok(Side::Child)
        }
        Forked::Parent(pid) => {
            if pidfd < 0 {
                return Err(Errno::BADF);
            }
            // The parent also sets the group: whichever runs first, the
            // group exists before anyone signals it.
            let _ = rustix::process::setpgid(rustix::process::Pid::from_raw(pid), rustix::process::Pid::from_raw(pid));
            // SAFETY: CLONE_PIDFD just created this fd; nothing else owns it.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok(Side::Parent { pid, pidfd })
        }
    }
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// Reaps `pid` if it has ended (non-blocking). A child that is not ours
/// (already reaped) counts as ended, with status 255.
pub fn try_reap(pid: i32) -> Option<Exit> {
    let p = rustix::process::Pid::from_raw(pid)?;
    match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG) {
        Ok(Some((_, st))) => st
            .exit_status()
            .map(Exit::Code)
            .or_else(|| st.terminating_signal().map(Exit::Signal)),
        Ok(None) => None,
        Err(Errno::CHILD) => Some(Exit::Code(255)),
        Err(_) => None,
    }
}

/// Waits for the child behind `pidfd` until `deadline` (monotonic ms).
/// None: the deadline passed (the child is left running).
pub fn wait_until(pid: i32, pidfd: BorrowedFd<'_>, deadline: u64) -> Option<Exit> {
    loop {
        let now = now_ms();
        let left = deadline.saturating_sub(now);
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        let ts = keel_rt::clock::timespec(left);
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => return None,
            Ok(_) => {
                // Readable: the child ended (reap it; a zombie stays readable).
                if let Some(e) = try_reap(pid) {
                    return Some(e);
                }
            }
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
        if now_ms() >= deadline {
            return None;
        }
    }
}

/// SIGKILLs the child's process group (and the child itself).
pub fn kill_group(pid: i32) {
    let _ = ksys::kill(-pid, 9);
    let _ = ksys::kill(pid, 9);
}

/// Puts /dev/null on fds 0–2 where they are closed (the kernel starts the
/// helper with none open).
pub fn ensure_stdio() {
    for fd in 0..3 {
        // SAFETY: a probe of whether `fd` is open; the borrow is not used past the call.
        let open = rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(fd) }).is_ok();
        if !open {
            // open() takes the lowest free number: this one.
            if let Ok(f) = rustix::fs::open(c"/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()) {
                core::mem::forget(f);
            }
        }
    }
}

/// In a child about to exec: /dev/null (or the given fds) on 0–2, every
/// other fd closed at exec.
pub fn child_stdio(stdin: Option<i32>, stdout: Option<i32>) {
    let null = rustix::fs::open(c"/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty())
        .map(|f| {
            let n = rustix::fd::AsRawFd::as_raw_fd(&f);
            core::mem::forget(f);
            n
        })
        .unwrap_or(-1);
    for (target, src) in [(0, stdin), (1, stdout), (2, None)] {
        let src = src.unwrap_or(null);
        if src >= 0 && src != target {
            let _ = ksys::dup3(src, target, 0);
        } else if src == target {
            // SAFETY: `target` is open (it is `src`); clearing its close-on-exec flag keeps it across exec.
            let _ = rustix::io::fcntl_setfd(unsafe { BorrowedFd::borrow_raw(target) }, rustix::io::FdFlags::empty());
        }
    }
    let _ = ksys::close_range(3, u32::MAX, ksys::CLOSE_RANGE_CLOEXEC);
}
