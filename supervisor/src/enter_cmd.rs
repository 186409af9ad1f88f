//! `keel enter [--run-dir DIR] NAME -- PROGRAM [ARGS…]`: runs a program
//! inside a running container — its namespaces (pid included), its root and
//! its cgroup — as uid 0 of the container, and exits with its status. The
//! container's init is found in RUN_DIR/containers and held by a pidfd, so
//! a recycled pid cannot be entered by mistake between reading and joining.

use crate::run::options::DEFAULT_RUN_DIR;
use crate::spawn::{self, EnterRequest, ExecTarget, Outcome};
use crate::spec::{NsKind, MAX_ARGS};
use core::ffi::CStr;
use heapless::Vec;
use keel_rt::error;
use keel_rt::path::{CBuf, PathBuf};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

#[derive(Debug, PartialEq, Eq)]
pub struct EnterArgs<'a> {
    pub run_dir: &'a [u8],
    pub name: &'a [u8],
    /// Index in argv of PROGRAM (after `--`).
    pub program_at: usize,
}

/// Parses `enter [--run-dir DIR] NAME -- PROGRAM…` (argv without argv[0]).
pub fn parse<'a>(args: &[&'a [u8]]) -> Result<EnterArgs<'a>, &'static str> {
    let mut it = args.iter().enumerate();
    match it.next() {
        Some((_, a)) if *a == b"enter" => {}
        _ => return Err("expected `enter`"),
    }
    let mut run_dir: &[u8] = DEFAULT_RUN_DIR;
    let mut name: Option<&[u8]> = None;
    while let Some((i, a)) = it.next() {
        match *a {
            b"--run-dir" => run_dir = it.next().map(|(_, d)| *d).ok_or("--run-dir needs a directory")?,
            b"--" => {
                let name = name.ok_or("enter needs a container name")?;
                if i + 1 >= args.len() {
                    return Err("enter needs a program after --");
                }
                return Ok(EnterArgs {
                    run_dir,
                    name,
                    program_at: i + 1 + 1,
                });
            }
            n if name.is_none() && !n.starts_with(b"-") => name = Some(n),
            _ => return Err("unknown argument to enter"),
        }
    }
    Err("enter needs `-- PROGRAM`")
}

/// The host pid of container `name` in a status file's text.
pub fn pid_of(status: &[u8], name: &[u8]) -> Option<i32> {
    for line in status.split(|&c| c == b'\n') {
        let mut fields = line.split(|&c| c == b' ');
        if fields.next().and_then(|f| f.strip_prefix(b"name=")) != Some(name) {
            continue;
        }
        for f in fields {
            if let Some(p) = f.strip_prefix(b"pid=") {
                return core::str::from_utf8(p).ok()?.parse().ok();
            }
        }
    }
    None
}

/// Runs the enter command; returns keel's exit status. Not inlined: its
/// buffers must not sit in every mode's stack frame.
#[inline(never)]
pub fn run() -> i32 {
    let mut argv: Vec<&'static [u8], { MAX_ARGS + 8 }> = Vec::new();
    for a in keel_rt::args::iter().skip(1) {
        if argv.push(a).is_err() {
            error!("keel: enter: too many arguments (at most ", MAX_ARGS, ")");
            return 2;
        }
    }
    let a = match parse(&argv) {
        Ok(a) => a,
        Err(m) => {
            error!("keel: ", m);
            return 2;
        }
    };
    let mut path = PathBuf::from(a.run_dir);
    path.join(b"containers");
    let mut buf = [0u8; 16384];
    let status = match path.as_cstr().and_then(|p| keel_rt::fs::read_into(p, &mut buf)) {
        Ok(n) => buf.get(..n).unwrap_or(&[]),
        Err(e) => {
            error!("keel: enter: ", path.as_bytes(), ": ", e);
            return 1;
        }
    };
    let Some(pid) = pid_of(status, a.name) else {
        error!(
            "keel: enter: container ",
            a.name,
            " is not running (",
            path.as_bytes(),
            ")"
        );
        return 1;
    };
    let pidfd = match rustix::process::Pid::from_raw(pid)
        .map(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()))
    {
        Some(Ok(fd)) => fd,
        Some(Err(e)) => {
            error!("keel: enter: pidfd_open ", pid, ": ", e);
            return 1;
        }
        None => return 1,
    };
    let cgroup = container_cgroup(pid);
    // argv of the program, as C strings.
    let mut cargv: Vec<&CStr, MAX_ARGS> = Vec::new();
    for i in a.program_at..keel_rt::args::len() {
        if let Some(c) = keel_rt::args::get_cstr(i) {
            let _ = cargv.push(c);
        }
    }
    let Some(&prog) = cargv.first() else { return 2 };
    let envp: [&CStr; 2] = [c"PATH=/usr/sbin:/usr/bin:/sbin:/bin", c"TERM=linux"];
    // SAFETY: fds 0-2 are this process's stdio, open for its life.
    let (i0, o1, e2) = unsafe {
        (
            BorrowedFd::borrow_raw(0),
            BorrowedFd::borrow_raw(1),
            BorrowedFd::borrow_raw(2),
        )
    };
    let req = EnterRequest {
        target: pidfd.as_fd(),
        kinds: &NsKind::ALL,
        program: ExecTarget::Path(prog),
        argv: &cargv,
        envp: &envp,
        cgroup: cgroup.as_ref().map(|f| f.as_fd()),
        uid: 0,
        gid: 0,
        caps: None,
        no_new_privs: false,
        stdin: Some(i0),
        stdout: Some(o1),
        stderr: Some(e2),
        pass: None,
        agent_keyring: false,
        rlimits: &[],
        fault: None,
    };
    let child = match spawn::enter(&req) {
        Ok(c) => c,
        Err(f) => {
            let mut l = keel_rt::Line::new();
            f.render(a.name, None, &mut l);
            error!(l);
            return 1;
        }
    };
    if let Outcome::Failed(f) = spawn::wait_report(&child.report, None) {
        let mut l = keel_rt::Line::new();
        f.render(a.name, None, &mut l);
        error!(l);
    }
    loop {
        match rustix::process::waitpid(
            rustix::process::Pid::from_raw(child.pid),
            rustix::process::WaitOptions::empty(),
        ) {
            Ok(Some((_, st))) => {
                if let Some(c) = st.exit_status() {
                    return c;
                }
                if let Some(s) = st.terminating_signal() {
                    return 128 + s;
                }
            }
            Err(Errno::INTR) => continue,
            _ => return 1,
        }
    }
}

/// The container's cgroup2 directory, from /proc/PID/cgroup and the
/// cgroup2 mount (None, with a warning, when it cannot be found).
fn container_cgroup(pid: i32) -> Option<OwnedFd> {
    let mut mi = [0u8; 32768];
    let n = keel_rt::fs::read_into(c"/proc/self/mountinfo", &mut mi).ok()?;
    let m = crate::cgroup::mountinfo::find_cgroup2(mi.get(..n)?)?;
    if m.root != b"/" {
        return None;
    }
    let mut p = CBuf::<64>::from(b"/proc/");
    p.push_i64(i64::from(pid)).push(b"/cgroup");
    let mut cg = [0u8; 4096];
    let k = keel_rt::fs::read_into(p.as_cstr().ok()?, &mut cg).ok()?;
    let rel = crate::cgroup::proc_cgroup::own_path(cg.get(..k)?)?;
    let mut dir = PathBuf::new();
    crate::cgroup::mountinfo::unescape(m.point, &mut dir);
    dir.join(rel);
    rustix::fs::open(
        dir.as_cstr().ok()?,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&'static str]) -> Result<EnterArgs<'static>, &'static str> {
        let v: std::vec::Vec<&'static [u8]> = a.iter().map(|s| s.as_bytes()).collect();
        parse(&v)
    }

    #[test]
    fn args() {
        assert_eq!(
            p(&["enter", "web", "--", "sh"]),
            Ok(EnterArgs {
                run_dir: DEFAULT_RUN_DIR,
                name: b"web",
                program_at: 4
            })
        );
        assert_eq!(
            p(&["enter", "--run-dir", "/r", "db", "--", "ls", "/"]),
            Ok(EnterArgs {
                run_dir: b"/r",
                name: b"db",
                program_at: 6
            })
        );
        assert_eq!(p(&["enter", "--", "sh"]), Err("enter needs a container name"));
        assert_eq!(p(&["enter", "web", "--"]), Err("enter needs a program after --"));
        assert_eq!(p(&["enter", "web"]), Err("enter needs `-- PROGRAM`"));
        assert_eq!(p(&["enter", "web", "x", "--", "sh"]), Err("unknown argument to enter"));
    }

    #[test]
    fn finds_pids() {
        let s = b"# keel-containers v1\nname=web state=running pid=812 restarts=0\nname=db state=failed pid=- x=1\n";
        assert_eq!(pid_of(s, b"web"), Some(812));
        assert_eq!(pid_of(s, b"db"), None);
        assert_eq!(pid_of(s, b"we"), None);
        assert_eq!(pid_of(b"garbage\n\n", b"web"), None);
    }
}
