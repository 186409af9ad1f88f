//! Starting a process inside a running container (the upcall agent, an
//! `exec` into a container): its namespaces, its root, its cgroup, the
//! credentials asked for (implementation-notes §1.8, E6).
//!
//! keel calls `setns(target, CLONE_NEWPID)` for its children only, clones
//! (into the container's cgroup), and returns to its own pid namespace at
//! once. The child joins user first, then mnt, net, uts, ipc, cgroup and
//! time with `setns(pidfd, kind)`; joining the mount namespace puts its
//! root and cwd at the container's root (the one its init pivoted into).
//! It then takes the asked ids and capabilities, `chdir("/")`, and execs a
//! path inside the container or an fd from keel (`execveat(fd, "",
//! AT_EMPTY_PATH)`, so the container's root need not hold the program).

use super::caps::{self, Creds};
use super::exec::{self, Program, PTRS};
use super::{fork_child, kill_and_reap, ns_inodes, pidfd_pid, pidns_for_children, write_cgroup_procs};
use super::{Ctx, Failure, Side, Spawned, Step};
use crate::spec::{Caps, NsKind};
use core::convert::Infallible;
use core::ffi::CStr;
use keel_rt::sys as ksys;
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::thread::ThreadNameSpaceType;

/// The program to run inside the container.
#[derive(Clone, Copy)]
pub enum ExecTarget<'a> {
    /// A path inside the container; a bare name is looked up in `PATH` of
    /// the given environment (else /usr/sbin:/usr/bin:/sbin:/bin).
    Path(&'a CStr),
    /// An fd of keel's (a sealed memfd of the agent, §1.12).
    Fd(BorrowedFd<'a>),
}

/// A process to start inside the namespaces of a running init.
pub struct EnterRequest<'a> {
    /// pidfd of the container's init.
    pub target: BorrowedFd<'a>,
    /// The namespaces to join. Kinds the target shares with keel are
    /// skipped (joining one's own user namespace is EINVAL).
    pub kinds: &'a [NsKind],
    pub program: ExecTarget<'a>,
    /// argv, program name first; at most MAX_ARGS.
    pub argv: &'a [&'a CStr],
    /// The whole environment; at most MAX_ENV.
    pub envp: &'a [&'a CStr],
    /// The container's cgroup2 directory (CLONE_INTO_CGROUP).
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Ids inside the container's user namespace.
    pub uid: u32,
    pub gid: u32,
    /// None: what the id change leaves (full for uid 0, none otherwise).
    pub caps: Option<Caps>,
    pub no_new_privs: bool,
    /// None = /dev/null.
    pub stdin: Option<BorrowedFd<'a>>,
    pub stdout: Option<BorrowedFd<'a>>,
    pub stderr: Option<BorrowedFd<'a>>,
    /// An fd put on a fixed number (the agent's socket).
    pub pass: Option<(BorrowedFd<'a>, u32)>,
    /// The upcall agent: before joining the container's user namespace the
    /// child joins a new anonymous session keyring, owned by host root with
    /// permissions [`AGENT_KEYRING_PERM`], and sends its serial to keel as
    /// the first message on the `pass` socket (wire::upcall Hello). keel
    /// learns it from keel's own code, not from the agent.
    pub agent_keyring: bool,
    /// Resource limits set before the credentials change.
    pub rlimits: &'a [crate::spec::Rlimit],
    /// Test only: fail at the step with this id.
    pub fault: Option<u16>,
}

/// The agent keyring's permissions: the possessor (the agent, through its
/// session) has everything; the owner (host root, which is also every
/// container without a user namespace) may only Write — what the broker's
/// KEYCTL_LINK needs — and cannot view, read, search, link or set it
/// (implementation-notes §1.3).
pub const AGENT_KEYRING_PERM: u32 = 0x3f04_0000;

const ENTER_ORDER: [NsKind; 7] = [
    NsKind::User,
    NsKind::Mnt,
    NsKind::Net,
    NsKind::Uts,
    NsKind::Ipc,
    NsKind::Cgroup,
    NsKind::Time,
];

/// Starts `req.program` inside the target's namespaces.
pub fn enter(req: &EnterRequest<'_>) -> Result<Spawned, Failure> {
    let ctx = Ctx { fault: req.fault };
    if req.argv.is_empty() || req.argv.len() >= PTRS {
        return Err(Failure::new(
            Step::Exec,
            if req.argv.is_empty() {
                Errno::INVAL
            } else {
                Errno::TOOBIG
            },
        ));
    }
    if req.envp.len() >= PTRS {
        return Err(Failure::new(Step::Exec, Errno::TOOBIG));
    }
    // Which of the asked kinds differ from keel's own.
    let theirs = pidfd_pid(req.target).map_or([0; 8], ns_inodes);
    let ours = ns_inodes(0);
    let mut mask = 0u8;
    for &k in req.kinds {
        let i = k.index();
        let same = matches!((theirs.get(i), ours.get(i)), (Some(&t), Some(&o)) if t != 0 && t == o);
        if !same {
            mask |= 1 << i;
        }
    }
    let has = |k: NsKind| mask & (1 << k.index()) != 0;

    let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC);
    let (report_r, report_w) = ctx.run(Step::Pipe, pipe)?;
    let (sync_r, sync_w) = ctx.run(Step::Pipe, pipe)?;

    let guard = if has(NsKind::Pid) {
        Some(pidns_for_children(ctx, req.target)?)
    } else {
        None
    };
    let side = fork_child(ctx, 0, req.cgroup);
    let (pid, pidfd, into_cgroup): (i32, OwnedFd, bool) = match side {
        Ok(Side::Child { into_cgroup }) => {
            let wait = req.cgroup.is_some() && !into_cgroup;
            let mut report = report_w.as_raw_fd();
            let f = match child(
                req,
                ctx,
                mask,
                &mut report,
                if wait { Some(sync_r.as_raw_fd()) } else { None },
            ) {
                Err(f) => f,
                Ok(never) => match never {},
            };
            let _ = ksys::write(report, &f.to_report().encode());
            ksys::exit_group(127)
        }
        Ok(Side::Parent {
            pid,
            pidfd,
            into_cgroup,
        }) => {
            if let Some(g) = guard {
                if let Err(f) = g.restore() {
                    kill_and_reap(&pidfd);
                    return Err(f);
                }
            }
            (pid, pidfd, into_cgroup)
        }
        Err(f) => {
            if let Some(g) = guard {
                let _ = g.restore();
            }
            return Err(f);
        }
    };
    drop(report_w);
    drop(sync_r);
    if let (Some(cg), false) = (req.cgroup, into_cgroup) {
        let placed = ctx
            .run(Step::CgroupProcs, || write_cgroup_procs(cg, pid))
            .and_then(|()| {
                ctx.run(Step::Release, || match keel_rt::fs::write_all(&sync_w, b"g") {
                    // The child is already gone: its report says why.
                    Err(Errno::PIPE) => Ok(()),
                    r => r,
                })
            });
        if let Err(f) = placed {
            kill_and_reap(&pidfd);
            return Err(f);
        }
    }
    drop(sync_w);
    let _ = rustix::fs::fcntl_setfl(&report_r, rustix::fs::OFlags::NONBLOCK);
    Ok(Spawned {
        pid,
        pidfd,
        report: report_r,
    })
}

fn child(
    req: &EnterRequest<'_>,
    ctx: Ctx,
    mask: u8,
    report_out: &mut i32,
    sync: Option<i32>,
) -> Result<Infallible, Failure> {
    if let Some(fd) = sync {
        ctx.run(Step::Sync, || {
            let mut b = [0u8; 1];
            // SAFETY: the sync pipe's read end is open in the child.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            loop {
                return match rustix::io::read(fd, &mut b) {
                    Ok(1) => Ok(()),
                    Ok(_) => Err(Errno::PIPE),
                    Err(Errno::INTR) => continue,
                    Err(e) => Err(e),
                };
            }
        })?;
    }
    let stdio = [req.stdin, req.stdout, req.stderr].map(|f| f.map(|f| f.as_raw_fd()));
    let devnull = if stdio.iter().any(Option::is_none) {
        Some(exec::open_devnull(ctx)?)
    } else {
        None
    };
    let exec_fd = match req.program {
        ExecTarget::Fd(fd) => Some(fd.as_raw_fd()),
        ExecTarget::Path(_) => None,
    };
    let fds = exec::relocate(
        ctx,
        *report_out,
        stdio,
        devnull,
        req.pass.map(|(f, n)| (f.as_raw_fd(), n)),
        exec_fd,
    )?;
    *report_out = fds.report;

    if req.agent_keyring {
        let Some((chan, _)) = fds.pass else {
            return Err(Failure::new(Step::AgentKeyring, Errno::BADF));
        };
        ctx.run(Step::AgentKeyring, || {
            let serial = keel_rt::keys::join_anonymous_session()?;
            keel_rt::keys::setperm(serial, AGENT_KEYRING_PERM)?;
            let mut b = [0u8; 16];
            let n = keel_wire::upcall::Msg::Hello { keyring: serial }
                .encode(&mut b)
                .map_err(|_| Errno::INVAL)?;
            // SAFETY: the relocated channel fd is open in the child until exec.
            let chan = unsafe { BorrowedFd::borrow_raw(chan) };
            keel_rt::sock::send(chan, b.get(..n).unwrap_or(&[]), None)
        })?;
    }
    for k in ENTER_ORDER {
        if mask & (1 << k.index()) != 0 {
            ctx.run(Step::Setns(k), || {
                rustix::thread::move_into_thread_name_spaces(
                    req.target,
                    ThreadNameSpaceType::from_bits_retain(k.clone_flag() as u32),
                )
            })?;
        }
    }
    ctx.run(Step::Cwd, || rustix::process::chdir(c"/"))?;
    for (i, r) in req.rlimits.iter().enumerate() {
        ctx.run(Step::Rlimit(i as u8), || super::child::rlimit(r))?;
    }
    caps::apply(
        ctx,
        &Creds {
            uid: req.uid,
            gid: req.gid,
            groups: &[],
            caps: req.caps,
            no_new_privs: req.no_new_privs,
        },
    )?;

    let mut argv = [core::ptr::null(); PTRS];
    let mut envp = [core::ptr::null(); PTRS];
    ctx.run(Step::Exec, || {
        exec::ptr_array(req.argv.iter().copied(), &mut argv)?;
        exec::ptr_array(req.envp.iter().copied(), &mut envp)
    })?;
    let program = match (req.program, fds.exec) {
        (ExecTarget::Fd(_), Some(fd)) => Program::Fd(fd),
        (ExecTarget::Path(p), _) => Program::Search {
            name: p,
            path: exec::path_of(req.envp.iter().copied()),
        },
        (ExecTarget::Fd(_), None) => return Err(Failure::new(Step::Exec, Errno::BADF)),
    };
    exec::finish(ctx, &fds, program, &argv, &envp)
}
