//! Facts about a requester, from /proc (the requester is blocked in the
//! kernel for the whole upcall, so its pid cannot be reused meanwhile).

use keel_rt::path::CBuf;
use rustix::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use rustix::io::Errno;

/// Most pid namespace levels walked (the kernel allows 32).
pub const MAX_DEPTH: usize = 33;
/// PF_KTHREAD in /proc/PID/stat's flags.
const PF_KTHREAD: u64 = 0x0020_0000;

pub struct Facts {
    pub unknown: bool,
    pub kthread: bool,
    pub chain: heapless::Vec<u64, MAX_DEPTH>,
    /// The requester's cgroup2 path (`0::` line of /proc/PID/cgroup).
    pub cgroup: heapless::Vec<u8, 512>,
}

fn proc_path(pid: i32, leaf: &[u8]) -> CBuf<64> {
    let mut p = CBuf::<64>::from(b"/proc/");
    p.push_u64(pid as u64).push(leaf);
    p
}

fn ino<Fd: AsFd>(fd: Fd) -> Result<u64, Errno> {
    rustix::fs::fstat(fd).map(|s| s.st_ino)
}

/// NS_GET_PARENT: the parent pid namespace, or EPERM above the caller's own.
fn parent(ns: &OwnedFd) -> Result<OwnedFd, Errno> {
    // SAFETY: NS_GET_PARENT takes no argument and returns a new fd, which nothing else owns.
    unsafe {
        let fd = keel_rt::sys::syscall(
            linux_raw_sys::general::__NR_ioctl,
            [
                ns.as_raw_fd() as usize,
                linux_raw_sys::ioctl::NS_GET_PARENT as usize,
                0,
                0,
                0,
                0,
            ],
        )?;
        Ok(OwnedFd::from_raw_fd(fd as i32))
    }
}

/// Gathers the facts for `pid` (in keel's pid namespace); `own_pidns` is
/// keel's own pid namespace inode, where the walk stops.
pub fn requester(pid: i32, own_pidns: u64) -> Facts {
    let mut f = Facts {
        unknown: pid <= 0,
        kthread: false,
        chain: heapless::Vec::new(),
        cgroup: heapless::Vec::new(),
    };
    if f.unknown {
        return f;
    }
    let mut buf = [0u8; 1024];
    match proc_path(pid, b"/stat")
        .as_cstr()
        .and_then(|p| keel_rt::fs::read_into(p, &mut buf))
    {
        Ok(n) => f.kthread = stat_flags(buf.get(..n).unwrap_or(&[])).is_some_and(|fl| fl & PF_KTHREAD != 0),
        Err(_) => {
            f.unknown = true;
            return f;
        }
    }
    let mut ns = proc_path(pid, b"/ns/pid")
        .as_cstr()
        .and_then(|p| keel_rt::fs::open_read(rustix::fs::CWD, p))
        .ok();
    while let Some(fd) = ns.take() {
        let Ok(i) = ino(&fd) else { break };
        if i == own_pidns || f.chain.push(i).is_err() {
            break;
        }
        ns = parent(&fd).ok();
    }
    let mut cg = [0u8; 2048];
    if let Ok(n) = proc_path(pid, b"/cgroup")
        .as_cstr()
        .and_then(|p| keel_rt::fs::read_into(p, &mut cg))
    {
        if let Some(p) = crate::cgroup::proc_cgroup::own_path(cg.get(..n).unwrap_or(&[])) {
            let _ = f.cgroup.extend_from_slice(p.get(..512.min(p.len())).unwrap_or(&[]));
        }
    }
    f
}

/// The flags field (the 9th) of /proc/PID/stat. The command name (2nd,
/// in parentheses) may hold spaces and parentheses: fields are counted
/// after its last `)`.
pub fn stat_flags(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    let rest = stat.get(close + 1..)?;
    // After ")": state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9).
    let field = rest.split(|&c| c == b' ').filter(|w| !w.is_empty()).nth(6)?;
    if field.is_empty() || field.len() > 20 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    field
        .iter()
        .try_fold(0u64, |n, &c| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
}

/// The pid namespace inode of `/proc/self` (keel's own).
pub fn own_pidns() -> u64 {
    rustix::fs::stat(c"/proc/self/ns/pid").map_or(0, |s| s.st_ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_after_the_command_name() {
        let s = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0";
        assert_eq!(stat_flags(s), Some(2129984));
        assert!(stat_flags(s).unwrap() & PF_KTHREAD != 0);
        let s = b"77 (a) b) (c) S 1 77 77 0 -1 4194560 12 0";
        assert_eq!(stat_flags(s), Some(4194560));
        assert_eq!(stat_flags(b"77 (x"), None);
        assert_eq!(stat_flags(b"77 (x) S 1 2"), None);
        assert_eq!(stat_flags(b""), None);
    }

    #[test]
    fn this_process_is_not_a_kernel_thread_and_is_in_its_own_pidns() {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let f = requester(me, own_pidns());
        assert!(!f.unknown && !f.kthread);
        assert!(f.chain.is_empty());
        let f = requester(0, own_pidns());
        assert!(f.unknown);
    }
}
