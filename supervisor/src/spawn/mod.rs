//! Starting a container's init, and starting a process inside a running
//! container. The system-call side of the container table.
//!
//! # The sequence (implementation-notes §1.6)
//!
//! Parent (keel), non-blocking for the caller apart from a few quick system
//! calls:
//!
//! 1. a close-on-exec report pipe (the child writes a 4-byte
//!    [`keel_wire::spawn::Report`] on failure; end of file means it reached
//!    execve) and a sync pipe (the child waits on it only when keel has
//!    something to do first: id maps, or cgroup placement after the clone
//!    fallback);
//! 2. `pid share`: `setns(owner, CLONE_NEWPID)` for keel's children only
//!    (§1.8), undone right after the clone;
//! 3. `clone3(CLONE_PIDFD | CLONE_INTO_CGROUP | CLONE_NEW*)` for the kinds
//!    the spec says `new` (time excepted, §1.7). Under a seccomp profile that
//!    refuses clone3 (ENOSYS, EPERM: §1.10) keel falls back to clone(2)
//!    without CLONE_INTO_CGROUP, writes the child's pid to `cgroup.procs`
//!    itself before releasing it, and the child creates its cgroup
//!    namespace once it is in place;
//! 4. uid_map / gid_map (`setgroups` stays `allow`: keel is privileged),
//!    oom_score_adj when the child is already in its user namespace, then
//!    the release.
//!
//! Child ([`child`]): joins shared namespaces (user first) → time namespace
//! (`unshare` + offsets: the exec'd program is in it) → uid/gid 0 of a new
//! user namespace → `/` rprivate → root bound (or overlaid) onto itself →
//! minimal /dev → every spec mount *inside the new root* (proc and sysfs
//! fail after the old root is gone, §1.6 E5) → masked and read-only paths →
//! sysctls (written through /proc/sys while already in the new namespaces:
//! namespaced sysctls apply to the writer's) → `pivot_root(".", ".")` and
//! `umount2(".", MNT_DETACH)` (never a move + chroot: §1.1) → read-only root
//! → lo up → hostname → cwd, umask → rlimits → bounding set (needs
//! CAP_SETPCAP, so before setuid) → SECBIT_KEEP_CAPS → setgroups,
//! setresgid, setresuid → capset → ambient → no_new_privs → empty signal
//! mask, SIG_DFL everywhere (keel blocks every signal) → setsid → stdio, the
//! ready fd → every other fd closed but the report pipe → execve (PATH
//! search in the spec's `PATH`, else /usr/sbin:/usr/bin:/sbin:/bin).
//!
//! A failed step writes `{step, errno}` and the child exits 127. Mount
//! targets are resolved inside the root with `openat2(RESOLVE_IN_ROOT)` and
//! mounted through `/proc/self/fd/N`, so a symlink in the container's
//! image cannot send a mount outside its root.
//!
//! # Who does the set-up
//!
//! With `user host` the child keeps keel's credentials until its uid step.
//! In a new (or joined) user namespace it is already inside it after the
//! clone, so it first becomes uid/gid 0 *of that namespace* (host uid
//! 100000 with the usual map): it has every capability there and none
//! over host-owned files it does not own. The root and the bind sources
//! must be reachable by the mapped ids, and a mount point that does not
//! exist yet can only be created where the mapped root may write (an image
//! owned by the mapped ids, as for rootless containers); otherwise the
//! `mount point` step fails with EACCES and says which path.
//!
//! # Shared user namespace
//!
//! Namespaces created by `clone3` belong to keel's user namespace. When the
//! spec *shares* a user namespace, the new ones must belong to that one
//! instead, so the child joins it and `unshare`s them. A new pid namespace
//! cannot be entered that way by the caller itself: that child then forks
//! the init (`CLONE_PARENT`, so keel stays its parent) into it, hands its
//! pid to keel and exits; keel opens a pidfd for the init and reaps the
//! intermediate.
//!
//! # Capabilities: uid 0 and the others
//!
//! keel sets the five sets as the spec says, with two adjustments the
//! kernel requires: every ambient capability is added to permitted and
//! inheritable (it cannot be raised otherwise), and effective is added to
//! permitted. What the *exec'd* program holds then depends on its uid,
//! because execve recomputes the sets (capabilities(7)):
//!
//! - **uid 0** (inside its user namespace; keel never sets SECBIT_NOROOT):
//!   the file is treated as having every capability, so
//!   `permitted = effective = inheritable | bounding` (plus ambient).
//!   The spec's effective and permitted sets do not matter: the **bounding
//!   set is what a root container gets**.
//! - **any other uid**: a program without file capabilities keeps **only
//!   its ambient set**: `permitted = effective = ambient`. Bounding still
//!   limits what a setuid or file-capability program may gain.
//!
//! In both cases `CapBnd` is the spec's bounding set and `CapAmb` its
//! ambient set.

mod caps;
mod child;
mod dev;
mod enter;
mod exec;
mod idmap;
mod mounts;
mod steps;

pub use enter::{enter, EnterRequest, ExecTarget};
pub use steps::{describe, hint, step_id_by_name, Step, DEV_LINKS, DEV_NODES};

use crate::spec::{NsKind, NsMode, Spec};
use keel_rt::path::CBuf;
use keel_rt::sys::{self as ksys, CloneArgs, Forked};
use keel_wire::spawn::{Report, REPORT_LEN};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::io::Errno;

/// Everything needed to start one container's init.
pub struct SpawnRequest<'a> {
    /// The container's name (for nothing but the caller's messages).
    pub name: &'a [u8],
    pub spec: &'a Spec<'a>,
    /// An O_DIRECTORY fd of the container's cgroup2 directory: the child
    /// starts there (CLONE_INTO_CGROUP).
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Per [`NsKind::index`]: a pidfd of the init whose namespace is shared
    /// where the spec says [`NsMode::Share`].
    pub share: [Option<BorrowedFd<'a>>; 8],
    /// fds 0, 1, 2 of the init; None = /dev/null (opened by the child). The
    /// caller resolves `stdio inherit|log|file`.
    pub stdin: Option<BorrowedFd<'a>>,
    pub stdout: Option<BorrowedFd<'a>>,
    pub stderr: Option<BorrowedFd<'a>>,
    /// Write end of the readiness pipe, put on `spec.ready_fd`.
    pub ready: Option<BorrowedFd<'a>>,
    /// Test only: fail at the step with this id (errno [`FAULT_ERRNO`]).
    pub fault: Option<u16>,
}

/// A started child: its pid (in keel's pid namespace), a pidfd, and the
/// read end of its report pipe (non-blocking; see [`read_report`]).
pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub report: OwnedFd,
}

/// A failed step and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub errno: Errno,
}

impl Failure {
    pub fn new(step: Step, errno: Errno) -> Failure {
        Failure { step, errno }
    }

    /// The wire form.
    pub fn to_report(self) -> Report {
        Report {
            step: self.step.id(),
            errno: self.errno.raw_os_error() as u16,
        }
    }

    /// From the wire form; an unknown step id becomes [`Step::Report`]
    /// with EPROTO.
    pub fn from_report(r: Report) -> Failure {
        match Step::from_id(r.step) {
            Some(step) => Failure {
                step,
                errno: Errno::from_raw_os_error(i32::from(r.errno)),
            },
            None => Failure {
                step: Step::Report,
                errno: Errno::PROTO,
            },
        }
    }
}

/// What the report pipe says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// End of file without a report: the child reached execve.
    Execd,
    /// A set-up step failed; the child exits 127.
    Failed(Failure),
    /// Nothing yet (the pipe is non-blocking).
    Pending,
}

/// The errno of an injected fault.
pub const FAULT_ERRNO: Errno = Errno::CANCELED;

/// Fault injection and error mapping shared by both sides.
#[derive(Clone, Copy)]
pub(crate) struct Ctx {
    pub fault: Option<u16>,
}

impl Ctx {
    /// Fails with [`FAULT_ERRNO`] if `s` is the injected step.
    pub fn at(self, s: Step) -> Result<(), Failure> {
        if self.fault == Some(s.id()) {
            Err(Failure::new(s, FAULT_ERRNO))
        } else {
            Ok(())
        }
    }

    /// Runs `f` as step `s`.
    pub fn run<T>(self, s: Step, f: impl FnOnce() -> Result<T, Errno>) -> Result<T, Failure> {
        self.at(s)?;
        f().map_err(|e| Failure::new(s, e))
    }
}

/// Which side of [`fork_child`] we are on.
pub(crate) enum Side {
    Parent {
        pid: i32,
        pidfd: OwnedFd,
        into_cgroup: bool,
    },
    /// In the child; `into_cgroup`: CLONE_INTO_CGROUP placed it (false after
    /// the clone(2) fallback, where keel writes cgroup.procs instead).
    Child { into_cgroup: bool },
}

/// clone3 with CLONE_PIDFD, `ns` (CLONE_NEW* flags) and CLONE_INTO_CGROUP,
/// exit signal SIGCHLD; on ENOSYS or EPERM (seccomp, §1.10) clone(2)
/// without the cgroup and without CLONE_NEWCGROUP (the child creates its
/// cgroup namespace once keel has placed it).
///
/// Returns in both processes, like fork. keel has no threads; in the child
/// only async-signal-safe work follows (no allocator, no locks exist).
pub(crate) fn fork_child(ctx: Ctx, ns: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Side, Failure> {
    ctx.at(Step::Clone)?;
    let mut pidfd: i32 = -1;
    let mut args = CloneArgs {
        flags: ksys::CLONE_PIDFD | ns | if cgroup.is_some() { ksys::CLONE_INTO_CGROUP } else { 0 },
        pidfd: &mut pidfd as *mut i32 as u64,
        exit_signal: u64::from(linux_raw_sys::general::SIGCHLD),
        cgroup: cgroup.map_or(0, |c| c.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    // SAFETY: fork semantics: no CLONE_VM/THREAD/SETTLS and no stack; the pidfd pointer is a live local; the cgroup fd is open for the call. keel (and each caller) is single-threaded at this point, or, in tests, the child only runs code that takes no locks.
    let first = unsafe { ksys::clone3(&mut args) };
    let (r, into_cgroup) = match first {
        Err(Errno::NOSYS) | Err(Errno::PERM) => {
            let mut flags = ksys::CLONE_PIDFD | ns | u64::from(linux_raw_sys::general::SIGCHLD);
            if cgroup.is_some() {
                flags &= !ksys::CLONE_NEWCGROUP;
            }
            // SAFETY: as above; clone(2) stores the pidfd through the parent_tid pointer, a live local.
            (unsafe { ksys::clone_fork(flags, &mut pidfd) }, false)
        }
        r => (r, cgroup.is_some()),
    };
    match r {
        Ok(Forked::Child) => Ok(Side::Child { into_cgroup }),
        Ok(Forked::Parent(pid)) => {
            if pidfd < 0 {
                return Err(Failure::new(Step::Clone, Errno::BADF));
            }
            // SAFETY: the kernel just created this fd for us (CLONE_PIDFD) and nothing else owns it.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok(Side::Parent {
                pid,
                pidfd,
                into_cgroup,
            })
        }
        Err(e) => Err(Failure::new(Step::Clone, e)),
    }
}

/// keel's own pid namespace, kept while its children go elsewhere.
pub(crate) struct PidnsGuard {
    own: OwnedFd,
}

/// `setns(target, CLONE_NEWPID)`: keel's next children start in the pid
/// namespace of `target` (a pidfd), keel itself stays where it is (§1.8).
pub(crate) fn pidns_for_children(ctx: Ctx, target: BorrowedFd<'_>) -> Result<PidnsGuard, Failure> {
    ctx.run(Step::PidnsEnter, || {
        let own = keel_rt::fs::open_read(rustix::fs::CWD, c"/proc/thread-self/ns/pid")?;
        rustix::thread::move_into_thread_name_spaces(target, rustix::thread::ThreadNameSpaceType::PROCESS_ID)?;
        Ok(PidnsGuard { own })
    })
}

impl PidnsGuard {
    /// Back to keel's own pid namespace for its children.
    pub(crate) fn restore(self) -> Result<(), Failure> {
        rustix::thread::move_into_link_name_space(self.own.as_fd(), Some(rustix::thread::LinkNameSpaceType::ProcessID))
            .map_err(|e| Failure::new(Step::PidnsRestore, e))
    }
}

/// Kills and reaps a child that keel gives up on before handing it out.
pub(crate) fn kill_and_reap(pidfd: &OwnedFd) {
    let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
    reap(pidfd);
}

/// Reaps a child that is about to exit (or has).
pub(crate) fn reap(pidfd: &OwnedFd) {
    use rustix::process::{waitid, WaitId, WaitIdOptions};
    while let Err(Errno::INTR) = waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED) {}
}

/// Writes `pid` to `cgroup.procs` of the directory `cgroup`.
pub(crate) fn write_cgroup_procs(cgroup: BorrowedFd<'_>, pid: i32) -> Result<(), Errno> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(cgroup, c"cgroup.procs", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut b = CBuf::<24>::new();
    b.push_i64(pid.into());
    keel_rt::fs::write_all(&fd, b.as_bytes())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
}

/// Starts a container's init as the spec says. Parent-side failures (the
/// pipes, clone3, the id maps, cgroup placement) come back here, with the
/// half-made child killed and reaped; set-up failures inside the child come
/// through [`Spawned::report`].
pub fn spawn(req: &SpawnRequest<'_>) -> Result<Spawned, Failure> {
    let ctx = Ctx { fault: req.fault };
    let spec = req.spec;
    if spec.process.args.is_empty() {
        return Err(Failure::new(Step::Exec, Errno::INVAL));
    }
    for k in NsKind::ALL {
        if matches!(spec.ns.get(k), NsMode::Share(_)) && req.share.get(k.index()).copied().flatten().is_none() {
            return Err(Failure::new(Step::Setns(k), Errno::BADF));
        }
    }
    let user = spec.ns.get(NsKind::User);
    let user_new = user == NsMode::New;
    let join_user = matches!(user, NsMode::Share(_));
    // With a shared user namespace the child joins it first and creates
    // the others itself (they must belong to it); a new pid namespace then
    // takes a second fork.
    let double_fork = join_user && spec.ns.is_new(NsKind::Pid);
    let mut ns_flags = 0;
    if !join_user {
        for k in NsKind::ALL {
            if k != NsKind::Time && spec.ns.is_new(k) {
                ns_flags |= k.clone_flag();
            }
        }
    }

    let (report_r, report_w) = ctx.run(Step::Pipe, pipe)?;
    // The sync pipe only when keel may have to act before the child goes
    // on (id maps; cgroup placement after the clone fallback), the back
    // pipe only for the double fork.
    let (sync_r, sync_w) = match user_new || req.cgroup.is_some() {
        true => ctx.run(Step::Pipe, pipe).map(|(r, w)| (Some(r), Some(w)))?,
        false => (None, None),
    };
    let (back_r, back_w) = match double_fork {
        true => ctx.run(Step::Pipe, pipe).map(|(r, w)| (Some(r), Some(w)))?,
        false => (None, None),
    };

    let share = |k: NsKind| req.share.get(k.index()).copied().flatten();
    let pid_guard = match (spec.ns.get(NsKind::Pid), share(NsKind::Pid)) {
        (NsMode::Share(_), Some(t)) => Some(pidns_for_children(ctx, t)?),
        _ => None,
    };
    let side = fork_child(ctx, ns_flags, req.cgroup);
    let (pid, pidfd, into_cgroup) = match side {
        Ok(Side::Child { into_cgroup }) => {
            let wait = user_new || (req.cgroup.is_some() && !into_cgroup);
            let plan = child::Plan {
                req,
                report: report_w.as_raw_fd(),
                sync: if wait {
                    sync_r.as_ref().map(|f| f.as_raw_fd())
                } else {
                    None
                },
                back: back_w.as_ref().map(|f| f.as_raw_fd()),
                join_user,
                late_cgroupns: !join_user && !into_cgroup && req.cgroup.is_some() && spec.ns.is_new(NsKind::Cgroup),
            };
            child::run(&plan)
        }
        Ok(Side::Parent {
            pid,
            pidfd,
            into_cgroup,
        }) => {
            if let Some(g) = pid_guard {
                if let Err(f) = g.restore() {
                    kill_and_reap(&pidfd);
                    return Err(f);
                }
            }
            (pid, pidfd, into_cgroup)
        }
        Err(f) => {
            if let Some(g) = pid_guard {
                let _ = g.restore();
            }
            return Err(f);
        }
    };
    drop(report_w);
    drop(sync_r);
    drop(back_w);

    let parent_steps = || -> Result<(), Failure> {
        if user_new {
            idmap::write_maps(ctx, pid, spec)?;
        }
        if let (Some(cg), false) = (req.cgroup, into_cgroup) {
            ctx.run(Step::CgroupProcs, || write_cgroup_procs(cg, pid))?;
        }
        if let (Some(v), true) = (spec.process.oom_score_adj, user_new) {
            ctx.run(Step::OomScoreAdj, || write_oom_score_adj(pid, v))?;
        }
        if user_new || (req.cgroup.is_some() && !into_cgroup) {
            ctx.run(Step::Release, || {
                match keel_rt::fs::write_all(sync_w.as_ref().ok_or(Errno::BADF)?, b"g") {
                    // The child is already gone: its report says why.
                    Err(Errno::PIPE) => Ok(()),
                    r => r,
                }
            })?;
        }
        Ok(())
    };
    if let Err(f) = parent_steps() {
        kill_and_reap(&pidfd);
        return Err(f);
    }
    drop(sync_w);

    let _ = rustix::fs::fcntl_setfl(&report_r, rustix::fs::OFlags::NONBLOCK);
    let Some(back_r) = back_r else {
        return Ok(Spawned {
            pid,
            pidfd,
            report: report_r,
        });
    };
    // The intermediate child forks the init and writes its pid (in keel's
    // pid namespace: the intermediate never left it) on the back pipe.
    let mut b = [0u8; 4];
    let got = read_full(&back_r, &mut b);
    match got {
        Ok(4) => {
            let init = i32::from_ne_bytes(b);
            let opened = ctx.run(Step::Handoff, || {
                let p = rustix::process::Pid::from_raw(init).ok_or(Errno::SRCH)?;
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
            });
            reap(&pidfd);
            match opened {
                Ok(init_fd) => Ok(Spawned {
                    pid: init,
                    pidfd: init_fd,
                    report: report_r,
                }),
                Err(f) => {
                    // The init is keel's child but has no pidfd here: kill
                    // and reap it by pid (it cannot have been reaped, so
                    // the pid is still its own).
                    let _ = ksys::kill(init, linux_raw_sys::general::SIGKILL as i32);
                    if let Some(p) = rustix::process::Pid::from_raw(init) {
                        while let Err(Errno::INTR) =
                            rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty())
                        {
                        }
                    }
                    Err(f)
                }
            }
        }
        // The intermediate failed before the fork; its report says why and
        // the caller reaps it as usual.
        _ => Ok(Spawned {
            pid,
            pidfd,
            report: report_r,
        }),
    }
}

/// Reads until `buf` is full or end of file; returns the count.
fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match rustix::io::read(fd, rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(crate) fn write_oom_score_adj(pid: i32, v: i32) -> Result<(), Errno> {
    let mut p = CBuf::<48>::from(b"/proc/");
    p.push_i64(pid.into()).push(b"/oom_score_adj");
    let mut b = CBuf::<24>::new();
    b.push_i64(v.into());
    keel_rt::fs::write_file(p.as_cstr()?, b.as_bytes())
}

/// Reads the child's report without blocking (the pipe is non-blocking):
/// [`Outcome::Pending`] until the child execs (end of file) or fails.
pub fn read_report<Fd: AsFd>(fd: Fd) -> Outcome {
    let mut b = [0u8; REPORT_LEN];
    loop {
        return match rustix::io::read(&fd, &mut b) {
            Ok(0) => Outcome::Execd,
            Ok(n) => match b.get(..n).and_then(Report::decode) {
                Some(r) => Outcome::Failed(Failure::from_report(r)),
                None => Outcome::Failed(Failure::new(Step::Report, Errno::PROTO)),
            },
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => Outcome::Pending,
            Err(e) => Outcome::Failed(Failure::new(Step::Report, e)),
        };
    }
}

/// Waits up to `timeout_ms` (None: for ever) for the report, then reads it.
pub fn wait_report<Fd: AsFd>(fd: Fd, timeout_ms: Option<u32>) -> Outcome {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let ts = timeout_ms.map(|ms| Timespec {
        tv_sec: i64::from(ms / 1000),
        tv_nsec: i64::from(ms % 1000) * 1_000_000,
    });
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, ts.as_ref()) {
            Err(Errno::INTR) => continue,
            Err(e) => return Outcome::Failed(Failure::new(Step::Report, e)),
            Ok(0) => return Outcome::Pending,
            Ok(_) => return read_report(&fd),
        }
    }
}

/// The inode numbers of /proc/PID/ns/* (PID 0: this process), by
/// [`NsKind::index`]; 0 where unreadable. Equal numbers = same namespace.
pub fn ns_inodes(pid: i32) -> [u64; 8] {
    let mut out = [0u64; 8];
    for k in NsKind::ALL {
        let mut p = CBuf::<64>::from(b"/proc/");
        if pid == 0 {
            p.push(b"self");
        } else {
            p.push_i64(pid.into());
        }
        p.push(b"/ns/").push(k.name().as_bytes());
        let ino = p
            .as_cstr()
            .and_then(|c| rustix::fs::statat(rustix::fs::CWD, c, rustix::fs::AtFlags::empty()))
            .map_or(0, |st| st.st_ino);
        if let Some(slot) = out.get_mut(k.index()) {
            *slot = ino;
        }
    }
    out
}

/// Sends signal `sig` (1..=64) through a pidfd: no pid reuse race.
pub fn signal<Fd: AsFd>(pidfd: Fd, sig: i32) -> Result<(), Errno> {
    if !(1..=64).contains(&sig) {
        return Err(Errno::INVAL);
    }
    // SAFETY: 1..=64 are the kernel's signal numbers (RT ones included).
    let s = unsafe { rustix::process::Signal::from_raw_unchecked(sig) };
    rustix::process::pidfd_send_signal(pidfd, s)
}

/// The pid (in keel's pid namespace) behind a pidfd, from
/// /proc/self/fdinfo (`Pid:` line); ESRCH once the process is reaped.
pub fn pidfd_pid(pidfd: BorrowedFd<'_>) -> Result<i32, Errno> {
    let mut p = CBuf::<48>::from(b"/proc/self/fdinfo/");
    p.push_i64(pidfd.as_raw_fd().into());
    let mut buf = [0u8; 1024];
    let n = match keel_rt::fs::read_into(p.as_cstr()?, &mut buf) {
        Ok(n) => n,
        Err(Errno::FBIG) => buf.len(),
        Err(e) => return Err(e),
    };
    let text = buf.get(..n).unwrap_or(&[]);
    for line in text.split(|c| *c == b'\n') {
        if let Some(v) = line.strip_prefix(b"Pid:") {
            let v = v.trim_ascii();
            if v.first() == Some(&b'-') {
                return Err(Errno::SRCH);
            }
            let mut n: i32 = 0;
            for &c in v {
                if !c.is_ascii_digit() {
                    return Err(Errno::INVAL);
                }
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i32::from(c - b'0')))
                    .ok_or(Errno::INVAL)?;
            }
            return if n > 0 { Ok(n) } else { Err(Errno::SRCH) };
        }
    }
    Err(Errno::INVAL)
}
