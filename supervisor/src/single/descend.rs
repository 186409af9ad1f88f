//! The program's remaining descendants, after it exited: who they are and
//! how they are signalled (implementation-notes §1.13).
//!
//! - PID 1 of a pid namespace: `kill(-1)` reaches every other process of
//!   the namespace;
//! - keel alone in its cgroup (not PID 1): every process in that cgroup;
//! - otherwise: the processes whose parent chain leads to keel, found by a
//!   walk of /proc (as a subreaper, every orphan of the tree is keel's).
//!
//! In every case the wait is for keel's last child: keel is PID 1 or a
//! subreaper whenever it has descendants to wait for, so "no child left"
//! (ECHILD) means "no descendant left".

use super::cgroup::{self, CgPath};
use core::mem::MaybeUninit;
use keel_rt::path::CBuf;
use keel_rt::sys;
use rustix::io::Errno;

// One Scope lives on keel's stack for the whole run: the path's kilobyte
// is paid once, and there is no allocator to box it.
#[allow(clippy::large_enum_variant)]
pub enum Scope {
    PidNs,
    Cgroup(CgPath),
    Tree,
}

impl Scope {
    pub fn name(&self) -> &'static str {
        match self {
            Scope::PidNs => "the pid namespace",
            Scope::Cgroup(_) => "keel's cgroup",
            Scope::Tree => "keel's process tree",
        }
    }
}

/// Sends `sig` to every remaining descendant; returns how many were
/// signalled (for PID 1: 1 if any process was, 0 if none).
pub fn signal_all(scope: &Scope, me: i32, sig: i32) -> u32 {
    match scope {
        Scope::PidNs => u32::from(sys::kill(-1, sig).is_ok()),
        Scope::Cgroup(cg) => {
            let mut n = 0;
            let r = cgroup::each_pid(cg, |pid| {
                if pid != me && sys::kill(pid, sig).is_ok() {
                    n += 1;
                }
            });
            if let Err(e) = r {
                keel_rt::warn!(
                    "keel: reading ",
                    cg.as_bytes(),
                    "/cgroup.procs: ",
                    e,
                    "; signalling keel's process tree instead"
                );
                return signal_tree(me, sig);
            }
            n
        }
        Scope::Tree => signal_tree(me, sig),
    }
}

/// The most descendants one tree walk tracks (more are reached on the
/// next walk, after the first ones are gone).
const TREE_MAX: usize = 1024;

/// Signals every process whose parent chain leads to `me`: repeated walks
/// of /proc, each adding the children of the processes already found.
fn signal_tree(me: i32, sig: i32) -> u32 {
    let mut found: heapless::Vec<i32, TREE_MAX> = heapless::Vec::new();
    let _ = found.push(me);
    let mut full = false;
    loop {
        let before = found.len();
        let r = each_process(|pid, ppid| {
            if found.contains(&ppid) && !found.contains(&pid) {
                if found.push(pid).is_ok() {
                    let _ = sys::kill(pid, sig);
                } else {
                    full = true;
                }
            }
        });
        if let Err(e) = r {
            keel_rt::warn!("keel: walking /proc: ", e);
            break;
        }
        if found.len() == before {
            break;
        }
    }
    if full {
        keel_rt::warn!(
            "keel: more than ",
            TREE_MAX,
            " descendants; the others are signalled on the next pass"
        );
    }
    found.len().saturating_sub(1) as u32
}

/// Calls `f(pid, ppid)` for every process in /proc.
fn each_process<F: FnMut(i32, i32)>(mut f: F) -> Result<(), Errno> {
    let dir = rustix::fs::openat(
        rustix::fs::CWD,
        c"/proc",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut it = rustix::fs::RawDir::new(&dir, &mut buf);
    while let Some(ent) = it.next() {
        let ent = ent?;
        let Some(pid) = super::options::parse_u64(ent.file_name().to_bytes()).and_then(|n| i32::try_from(n).ok())
        else {
            continue;
        };
        let mut path: CBuf<32> = CBuf::from(b"/proc/");
        path.push_u64(pid as u64).push(b"/stat");
        let Ok(p) = path.as_cstr() else { continue };
        let Ok(fd) = keel_rt::fs::open_read(rustix::fs::CWD, p) else {
            continue;
        };
        let mut stat = [0u8; 512];
        let n = match rustix::io::read(&fd, &mut stat) {
            Ok(n) => n,
            Err(_) => continue,
        };
        if let Some((_, ppid)) = parse_stat(stat.get(..n).unwrap_or(&[])) {
            f(pid, ppid);
        }
    }
    Ok(())
}

/// `/proc/PID/stat` → (pid, ppid). The command name may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(s: &[u8]) -> Option<(i32, i32)> {
    let open = s.iter().position(|c| *c == b' ')?;
    let pid = super::options::parse_u64(s.get(..open)?)?;
    let close = s.iter().rposition(|c| *c == b')')?;
    let mut f = s.get(close + 1..)?.split(|c| *c == b' ').filter(|w| !w.is_empty());
    let _state = f.next()?;
    let ppid = super::options::parse_u64(f.next()?)?;
    Some((i32::try_from(pid).ok()?, i32::try_from(ppid).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        assert_eq!(parse_stat(b"123 (sh) S 45 123 123 0 -1"), Some((123, 45)));
        assert_eq!(parse_stat(b"7 (a b) c)) Z 1 7 7"), Some((7, 1)));
        assert_eq!(parse_stat(b"7 (x"), None);
        assert_eq!(parse_stat(b"x (y) S 1"), None);
        assert_eq!(parse_stat(b""), None);
        let me = std::fs::read("/proc/self/stat").unwrap();
        let (pid, ppid) = parse_stat(&me).unwrap();
        assert_eq!(pid as u32, std::process::id());
        assert_eq!(ppid as u32, std::os::unix::process::parent_id());
    }

    #[test]
    fn walk_sees_ourselves() {
        let mut seen = false;
        each_process(|pid, _| seen |= pid as u32 == std::process::id()).unwrap();
        assert!(seen);
    }
}
