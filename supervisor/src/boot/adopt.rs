//! `--resume`: after a fault, keel re-executes itself and takes back the
//! containers that still run. Their inits stay keel's children across
//! execve; what keel knew of them is in the status file RUN_DIR/containers.
//!
//! The pure part reads status lines and /proc/PID/status; [`check`] makes
//! sure a listed pid is really that container's init (a child of PID 1 in
//! the container's cgroup) and returns its pidfd. The runtime puts it back
//! into the table (`Runtime::adopt`).
//!
//! Lost across the exec: the log pipes (a `stdio log` container's next
//! write gets EPIPE/SIGPIPE), readiness pipes (adopted containers count as
//! ready) and spawn report pipes (a container still in its set-up is taken
//! as running).

use heapless::Vec;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// One line of the status file, as far as resuming needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine<'a> {
    pub name: &'a [u8],
    pub state: &'a [u8],
    /// `pid=` (None for `-`).
    pub pid: Option<i32>,
    pub restarts: u32,
    /// `exit=` (None for `-`).
    pub exit: Option<i32>,
}

impl StatusLine<'_> {
    /// A process of the container may still run.
    pub fn live(&self) -> bool {
        matches!(self.state, b"starting" | b"running" | b"stopping")
    }
}

fn dec(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    b.iter()
        .try_fold(0u64, |a, &c| c.is_ascii_digit().then(|| a * 10 + u64::from(c - b'0')))
}

/// Parses one status line (`name=web state=running pid=812 …`). None for
/// the header, blank lines and anything malformed; unknown fields are
/// ignored (the format may grow).
pub fn parse_status_line(line: &[u8]) -> Option<StatusLine<'_>> {
    if line.first() == Some(&b'#') {
        return None;
    }
    let mut s = StatusLine {
        name: b"",
        state: b"",
        pid: None,
        restarts: 0,
        exit: None,
    };
    for f in line.split(|&c| c == b' ').filter(|f| !f.is_empty()) {
        let eq = f.iter().position(|&c| c == b'=')?;
        let (k, v) = (f.get(..eq)?, f.get(eq + 1..)?);
        match k {
            b"name" => s.name = v,
            b"state" => s.state = v,
            b"pid" if v != b"-" => s.pid = Some(i32::try_from(dec(v)?).ok().filter(|p| *p > 1)?),
            b"restarts" => s.restarts = u32::try_from(dec(v)?).unwrap_or(u32::MAX),
            b"exit" if v != b"-" => s.exit = Some(i32::try_from(dec(v)?).ok()?),
            _ => {}
        }
    }
    if !crate::spec::valid_name(s.name) || s.state.is_empty() {
        return None;
    }
    Some(s)
}

/// The table state of a status file's `state=` word, for the states a
/// resumed keel restores as they were (exited, failed, stopped).
pub fn final_state(word: &[u8]) -> Option<crate::table::state::State> {
    use crate::table::state::State;
    match word {
        b"exited" => Some(State::Exited),
        b"failed" => Some(State::Failed),
        b"stopped" => Some(State::Stopped),
        _ => None,
    }
}

/// `PPid:` of a /proc/PID/status text.
pub fn ppid_of(status: &[u8]) -> Option<i32> {
    status.split(|&c| c == b'\n').find_map(|l| {
        let v = l.strip_prefix(b"PPid:")?;
        i32::try_from(dec(v.trim_ascii())?).ok()
    })
}

/// Whether a /proc/PID/cgroup text puts the process in `/NAME` (or below
/// it) of the cgroup2 hierarchy: keel's boot-mode table is the root.
pub fn in_cgroup(proc_cgroup: &[u8], name: &[u8]) -> bool {
    proc_cgroup.split(|&c| c == b'\n').any(|l| {
        let Some(p) = l.strip_prefix(b"0::/") else { return false };
        p.strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'/'))
    })
}

/// Why a listed pid is not taken back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Gone(Errno),
    NotOurChild(i32),
    OtherCgroup,
}

/// Checks that `pid` is a child of PID 1 (and, with `cgroup`, in the
/// container's cgroup `/NAME`) and returns a pidfd for it.
pub fn check(pid: i32, name: &[u8], cgroup: bool) -> Result<OwnedFd, Refused> {
    let p = rustix::process::Pid::from_raw(pid).ok_or(Refused::Gone(Errno::SRCH))?;
    let fd = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).map_err(Refused::Gone)?;
    // The pidfd pins the pid: from here /proc/PID is this very process.
    let mut path = keel_rt::path::CBuf::<48>::from(b"/proc/");
    path.push_u64(pid as u64).push(b"/status");
    const BUF: usize = 2048;
    let mut buf = [0u8; BUF];
    let n = match path.as_cstr().and_then(|c| keel_rt::fs::read_into(c, &mut buf)) {
        Ok(n) => n,
        // A status larger than the buffer still has PPid in its first lines.
        Err(Errno::FBIG) => BUF,
        Err(e) => return Err(Refused::Gone(e)),
    };
    match ppid_of(buf.get(..n).unwrap_or(&[])) {
        Some(1) => {}
        Some(other) => return Err(Refused::NotOurChild(other)),
        None => return Err(Refused::Gone(Errno::SRCH)),
    }
    if cgroup {
        let mut path = keel_rt::path::CBuf::<48>::from(b"/proc/");
        path.push_u64(pid as u64).push(b"/cgroup");
        let n = path
            .as_cstr()
            .and_then(|c| keel_rt::fs::read_into(c, &mut buf))
            .map_err(Refused::Gone)?;
        if !in_cgroup(buf.get(..n).unwrap_or(&[]), name) {
            return Err(Refused::OtherCgroup);
        }
    }
    Ok(fd)
}

/// Most status lines read back.
pub const MAX_LINES: usize = crate::table::MAX_CONTAINERS;

/// An owned copy of a status line's fields (the file is read through a
/// small buffer).
#[derive(Clone, Debug)]
pub struct Saved {
    pub name: crate::table::Name,
    pub state: Vec<u8, 16>,
    pub pid: Option<i32>,
    pub restarts: u32,
    pub exit: Option<i32>,
}

impl Saved {
    pub fn live(&self) -> bool {
        matches!(&self.state[..], b"starting" | b"running" | b"stopping")
    }
}

/// Reads RUN_DIR/containers. A missing file is an empty list.
pub fn read_status(run_dir: &[u8]) -> Vec<Saved, MAX_LINES> {
    let mut out = Vec::new();
    let mut p = keel_rt::path::PathBuf::from(run_dir);
    p.join(b"containers");
    let Ok(c) = p.as_cstr() else { return out };
    let mut buf = [0u8; 1024];
    let _ = super::lines::for_each_line_of(c, &mut buf, |l| {
        if let Some(s) = parse_status_line(l) {
            let saved = Saved {
                name: Vec::from_slice(s.name).unwrap_or_default(),
                state: Vec::from_slice(s.state.get(..16.min(s.state.len())).unwrap_or(&[])).unwrap_or_default(),
                pid: s.pid,
                restarts: s.restarts,
                exit: s.exit,
            };
            let _ = out.push(saved);
        }
        false
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let l = b"name=web state=running pid=812 restarts=2 ready=- exit=- user_ns=- mnt_ns=4026532301 since=1.000 boot=0.005 reason=-";
        let s = parse_status_line(l).unwrap();
        assert_eq!(
            (s.name, s.state, s.pid, s.restarts, s.exit),
            (&b"web"[..], &b"running"[..], Some(812), 2, None)
        );
        assert!(s.live());
        let s = parse_status_line(b"name=job state=exited pid=- restarts=0 ready=- exit=3 reason=-").unwrap();
        assert_eq!((s.pid, s.exit), (None, Some(3)));
        assert!(!s.live());
        assert!(parse_status_line(b"name=x state=stopping pid=9 exit=137")
            .unwrap()
            .live());
        assert!(parse_status_line(b"name=x state=starting pid=9").unwrap().live());
        assert!(!parse_status_line(b"name=x state=backoff pid=-").unwrap().live());
        assert_eq!(parse_status_line(b"# keel-containers v1"), None);
        assert_eq!(parse_status_line(b""), None);
        assert_eq!(parse_status_line(b"name=web"), None);
        assert_eq!(parse_status_line(b"name=../x state=running"), None);
        assert_eq!(
            parse_status_line(b"name=web state=running pid=1"),
            None,
            "never adopt pid 1"
        );
        assert_eq!(parse_status_line(b"name=web state=running pid=0"), None);
        assert_eq!(parse_status_line(b"name=web state=running pid=99999999999"), None);
        assert_eq!(parse_status_line(b"name=web state=running pid=12a"), None);
        assert_eq!(parse_status_line(b"name=web state=running junk"), None);
        assert_eq!(parse_status_line(b"name=web state=running exit=-3"), None);
        let s = parse_status_line(b"name=web  state=running   restarts=99999999999").unwrap();
        assert_eq!(s.restarts, u32::MAX);
    }

    #[test]
    fn proc_files() {
        assert_eq!(
            ppid_of(b"Name:\tsh\nState:\tS (sleeping)\nTgid:\t5\nPid:\t5\nPPid:\t1\n"),
            Some(1)
        );
        assert_eq!(ppid_of(b"PPid:\t4242"), Some(4242));
        assert_eq!(ppid_of(b"Name:\tx\n"), None);
        assert!(in_cgroup(b"0::/web\n", b"web"));
        assert!(in_cgroup(b"0::/web/sub\n", b"web"));
        assert!(!in_cgroup(b"0::/webx\n", b"web"));
        assert!(!in_cgroup(b"0::/keel\n", b"web"));
        assert!(!in_cgroup(b"1:name=systemd:/web\n", b"web"));
    }

    #[test]
    fn table_takes_back_what_the_status_file_says() {
        use crate::table::state::{Ending, State};
        use crate::table::{Actions, Table};
        let mut t = Table::new();
        let web = t.add(b"web", 1, 0).unwrap();
        let job = t.add(b"job", 2, 0).unwrap();
        let bad = t.add(b"bad", 3, 0).unwrap();
        let wait = t.add(b"later", 4, 0).unwrap();
        assert!(!t.all_running());
        t.adopt(web, 812, true, 2, 100);
        let e = t.get(web).unwrap();
        assert_eq!(
            (e.state, e.pid, e.init_alive, e.ready, e.restarts),
            (State::Running, 812, true, true, 2)
        );
        assert_eq!(t.slot_of_pid(812), Some(web));
        t.restore_ended(job, final_state(b"exited").unwrap(), Some(0), 0, 100);
        t.restore_ended(bad, final_state(b"failed").unwrap(), Some(3), 5, 100);
        assert_eq!(t.get(bad).unwrap().state, State::Failed);
        assert_eq!(t.get(bad).unwrap().reason, "failed before keel resumed");
        assert_eq!(final_state(b"running"), None);
        // A live state is not restored as ended.
        t.restore_ended(wait, State::Running, None, 0, 100);
        assert_eq!(t.get(wait).unwrap().state, State::Waiting);
        assert!(!t.all_running(), "one is still waiting");
        assert_eq!(t.worst_status(), 3);
        // The waiting one starts and runs: now everything runs.
        let mut q = Actions::new();
        t.step(200, &mut q);
        t.on_spawned(wait, 900, 200);
        t.on_execd(wait, 201);
        assert!(t.all_running());
        // The adopted init's end is handled like any other.
        let mut q = Actions::new();
        t.on_cgroup_empty(web, 300, &mut q);
        t.on_exit(web, Ending::Code(0), 300, &mut q);
        assert_ne!(t.get(web).unwrap().state, State::Running);
    }

    #[test]
    fn checks_a_real_process() {
        // This test process is not a child of PID 1 (the test harness
        // runs it): refused for that, not for being gone.
        let me = std::process::id() as i32;
        match check(me, b"x", false) {
            Err(Refused::NotOurChild(p)) => assert_ne!(p, 1),
            Ok(_) => assert_eq!(std::os::unix::process::parent_id(), 1),
            Err(e) => panic!("{e:?}"),
        }
        assert!(matches!(check(0x3fff_fff0, b"x", false), Err(Refused::Gone(_))));
    }
}
