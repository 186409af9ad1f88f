//! The container init's set-up, run in the cloned child until execve.
//! Each step either succeeds or ends the child: the report pipe gets
//! `{step, errno}` and the child exits 127. Nothing here allocates, locks
//! or returns to the caller of [`super::spawn`].

use super::caps::{self, Creds};
use super::exec::{self, Program, PTRS};
use super::{dev, mounts, Ctx, Failure, SpawnRequest, Step};
use crate::spec::{Dev, NsKind, NsMode, Root, Spec};
use core::convert::Infallible;
use keel_rt::path::PathBuf;
use keel_rt::sys as ksys;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::Errno;
use rustix::thread::{ThreadNameSpaceType, UnshareFlags};

/// What the parent decided before the clone.
pub(super) struct Plan<'r, 'a> {
    pub req: &'r SpawnRequest<'a>,
    /// Write end of the report pipe.
    pub report: i32,
    /// Read end of the sync pipe, when the child must wait for keel.
    pub sync: Option<i32>,
    /// Write end of the back pipe: this child is the intermediate that
    /// forks the init into a new pid namespace (user namespace shared).
    pub back: Option<i32>,
    /// The user namespace is shared: join it, then create the new ones.
    pub join_user: bool,
    /// The clone fallback could not create the cgroup namespace inside the
    /// container's cgroup: create it now that keel has moved us there.
    pub late_cgroupns: bool,
}

/// Runs the set-up; on failure reports and exits 127.
pub(super) fn run(p: &Plan<'_, '_>) -> ! {
    let mut report = p.report;
    let f = match setup(p, &mut report) {
        Err(f) => f,
        Ok(never) => match never {},
    };
    let _ = ksys::write(report, &f.to_report().encode());
    ksys::exit_group(127)
}

/// The kinds joined with setns, in the order the kernel needs (user first:
/// it decides the privileges for the rest). Pid is joined by keel for its
/// children (§1.8).
const JOIN_ORDER: [NsKind; 7] = [
    NsKind::User,
    NsKind::Mnt,
    NsKind::Net,
    NsKind::Uts,
    NsKind::Ipc,
    NsKind::Cgroup,
    NsKind::Time,
];

fn setns_flag(k: NsKind) -> ThreadNameSpaceType {
    ThreadNameSpaceType::from_bits_retain(k.clone_flag() as u32)
}

fn unshare(k: NsKind) -> Result<(), Errno> {
    // SAFETY: no CLONE_FILES in the flags: the fd table is not unshared, and the child is single-threaded anyway.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::from_bits_retain(k.clone_flag() as u32)) }
}

/// `monotonic S 0` and `boottime S 0` lines into /proc/self/timens_offsets,
/// right after unshare(CLONE_NEWTIME): the namespace is ours until a
/// process enters it (our execve does).
fn time_offsets(spec: &Spec<'_>) -> Result<(), Errno> {
    let t = spec.time_offsets.ok_or(Errno::INVAL)?;
    unshare(NsKind::Time)?;
    let mut text = keel_rt::path::CBuf::<96>::new();
    text.push(b"monotonic ").push_i64(t.monotonic).push(b" 0\n");
    text.push(b"boottime ").push_i64(t.boottime).push(b" 0\n");
    text.as_cstr()?;
    keel_rt::fs::write_file(c"/proc/self/timens_offsets", text.as_bytes())
}

/// `sysctl KEY VALUE` through /proc/sys (dots become slashes; a slash in
/// the key would escape /proc/sys and is refused).
fn sysctl(key: &[u8], value: &[u8]) -> Result<(), Errno> {
    if key.is_empty() || key.contains(&b'/') {
        return Err(Errno::INVAL);
    }
    let mut p = PathBuf::from(b"/proc/sys/");
    for &c in key {
        p.push(&[if c == b'.' { b'/' } else { c }]);
    }
    keel_rt::fs::write_file(p.as_cstr()?, value)
}

/// `struct ifreq` with the flags member of its union (40 bytes).
#[repr(C)]
struct IfreqFlags {
    name: [u8; 16],
    flags: i16,
    pad: [u8; 22],
}
static_assertions::const_assert_eq!(core::mem::size_of::<IfreqFlags>(), 40);

const SIOCGIFFLAGS: rustix::ioctl::Opcode = 0x8913;
const SIOCSIFFLAGS: rustix::ioctl::Opcode = 0x8914;
const IFF_UP: i16 = 1;

/// Brings up `lo` in the new network namespace.
pub(super) fn loopback_up() -> Result<(), Errno> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let s = rustix::net::socket_with(AddressFamily::INET, SocketType::DGRAM, SocketFlags::CLOEXEC, None)?;
    let mut ifr = IfreqFlags {
        name: [0; 16],
        flags: 0,
        pad: [0; 22],
    };
    if let Some(n) = ifr.name.get_mut(..2) {
        n.copy_from_slice(b"lo");
    }
    // SAFETY: SIOCGIFFLAGS reads and writes a `struct ifreq`, which IfreqFlags lays out (name, then the union's short flags, 40 bytes).
    unsafe { rustix::ioctl::ioctl(&s, rustix::ioctl::Updater::<SIOCGIFFLAGS, IfreqFlags>::new(&mut ifr))? };
    ifr.flags |= IFF_UP;
    // SAFETY: as above for SIOCSIFFLAGS.
    unsafe { rustix::ioctl::ioctl(&s, rustix::ioctl::Updater::<SIOCSIFFLAGS, IfreqFlags>::new(&mut ifr)) }
}

pub(super) fn rlimit(r: &crate::spec::Rlimit) -> Result<(), Errno> {
    use rustix::process::Resource as R;
    let res = match r.resource {
        0 => R::Cpu,
        1 => R::Fsize,
        2 => R::Data,
        3 => R::Stack,
        4 => R::Core,
        5 => R::Rss,
        6 => R::Nproc,
        7 => R::Nofile,
        8 => R::Memlock,
        9 => R::As,
        10 => R::Locks,
        11 => R::Sigpending,
        12 => R::Msgqueue,
        13 => R::Nice,
        14 => R::Rtprio,
        15 => R::Rttime,
        _ => return Err(Errno::INVAL),
    };
    let v = |x: u64| if x == u64::MAX { None } else { Some(x) };
    rustix::process::prlimit(
        None,
        res,
        rustix::process::Rlimit {
            current: v(r.soft),
            maximum: v(r.hard),
        },
    )
    .map(|_| ())
}

/// Does the spec ask for any mount work?
fn wants_mounts(spec: &Spec<'_>) -> bool {
    spec.root != Root::Host
        || !spec.mounts.is_empty()
        || spec.dev == Dev::Minimal
        || !spec.masked.is_empty()
        || !spec.readonly.is_empty()
}

/// Waits for keel's one-byte go-ahead (end of file: keel gave up on us).
fn wait_sync(fd: i32) -> Result<(), Errno> {
    let mut b = [0u8; 1];
    // SAFETY: the sync pipe's read end is open in the child until exec.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    loop {
        return match rustix::io::read(fd, &mut b) {
            Ok(1) => Ok(()),
            Ok(_) => Err(Errno::PIPE),
            Err(Errno::INTR) => continue,
            Err(e) => Err(e),
        };
    }
}

/// The intermediate child's second fork (user shared, pid new): the init
/// becomes keel's child (CLONE_PARENT), in the pid namespace this process
/// created for its children. The intermediate writes the init's pid to
/// keel and exits; only the init returns.
fn fork_init(ctx: Ctx, back: i32) -> Result<(), Failure> {
    ctx.at(Step::Fork)?;
    let mut args = ksys::CloneArgs {
        flags: ksys::CLONE_PARENT,
        ..ksys::CloneArgs::default()
    };
    // SAFETY: fork semantics (no CLONE_VM, no stack); the child is single- threaded. CLONE_PARENT takes exit_signal 0 (the init inherits SIGCHLD as keel's child).
    let r = match unsafe { ksys::clone3(&mut args) } {
        // SAFETY: as above, for the clone(2) fallback.
        Err(Errno::NOSYS) | Err(Errno::PERM) => unsafe { ksys::clone_fork(ksys::CLONE_PARENT, core::ptr::null_mut()) },
        r => r,
    };
    match r {
        Ok(ksys::Forked::Child) => Ok(()),
        Ok(ksys::Forked::Parent(pid)) => {
            let _ = ksys::write(back, &pid.to_ne_bytes());
            ksys::exit_group(0)
        }
        Err(e) => Err(Failure::new(Step::Fork, e)),
    }
}

fn setup(p: &Plan<'_, '_>, report_out: &mut i32) -> Result<Infallible, Failure> {
    let req = p.req;
    let spec = req.spec;
    let ctx = Ctx { fault: req.fault };
    let user = spec.ns.get(NsKind::User);

    if let Some(fd) = p.sync {
        ctx.run(Step::Sync, || wait_sync(fd))?;
    }
    // keel writes oom_score_adj for a child already in a new user
    // namespace; otherwise the child, still with keel's privileges, does.
    if let (Some(v), false) = (spec.process.oom_score_adj, user == NsMode::New) {
        ctx.run(Step::OomScoreAdj, || write_self_oom(v))?;
    }
    let stdio = [req.stdin, req.stdout, req.stderr].map(|f| f.map(|f| f.as_raw_fd()));
    let devnull = if stdio.iter().any(Option::is_none) {
        Some(exec::open_devnull(ctx)?)
    } else {
        None
    };
    let pass = match (req.ready, spec.ready_fd) {
        (Some(fd), Some(n)) => Some((fd.as_raw_fd(), n)),
        _ => None,
    };
    let fds = exec::relocate(ctx, p.report, stdio, devnull, pass, None)?;
    *report_out = fds.report;

    // Shared namespaces, user first.
    for k in JOIN_ORDER {
        if let NsMode::Share(_) = spec.ns.get(k) {
            let t = req.share.get(k.index()).copied().flatten();
            ctx.run(Step::Setns(k), || {
                rustix::thread::move_into_thread_name_spaces(t.ok_or(Errno::BADF)?, setns_flag(k))
            })?;
        }
    }
    if p.join_user {
        // New namespaces must belong to the joined user namespace.
        for k in [
            NsKind::Mnt,
            NsKind::Net,
            NsKind::Uts,
            NsKind::Ipc,
            NsKind::Cgroup,
            NsKind::Pid,
        ] {
            if spec.ns.is_new(k) {
                ctx.run(Step::Unshare(k), || unshare(k))?;
            }
        }
    } else if p.late_cgroupns {
        ctx.run(Step::Unshare(NsKind::Cgroup), || unshare(NsKind::Cgroup))?;
    }
    if spec.ns.is_new(NsKind::Time) {
        ctx.run(Step::TimeOffsets, || time_offsets(spec))?;
    }
    if let Some(back) = p.back {
        fork_init(ctx, back)?;
        // The init: the back pipe is the intermediate's business.
        let _ = ksys::close_range(back as u32, back as u32, 0);
    }
    if user != NsMode::Host {
        caps::become_root(ctx)?;
    }

    let mut root_fd = None;
    if wants_mounts(spec) {
        if !spec.ns.is_new(NsKind::Mnt) {
            return Err(Failure::new(Step::Propagation, Errno::INVAL));
        }
        mounts::make_private(ctx)?;
        let root = mounts::setup_root(ctx, spec)?;
        if spec.dev == Dev::Minimal {
            dev::minimal(ctx, root.as_fd())?;
        }
        mounts::spec_mounts(ctx, root.as_fd(), spec)?;
        mounts::masked(ctx, root.as_fd(), spec)?;
        mounts::readonly(ctx, root.as_fd(), spec)?;
        root_fd = Some(root);
    }
    for (i, (k, v)) in spec.sysctls.iter().enumerate() {
        ctx.run(Step::Sysctl(i as u8), || sysctl(k.to_bytes(), v.to_bytes()))?;
    }
    if let (Some(root), false) = (&root_fd, spec.root == Root::Host) {
        mounts::pivot(ctx, root)?;
        let ro = match &spec.root {
            Root::Bind { readonly, .. } | Root::Overlay { readonly, .. } => *readonly,
            Root::Host => false,
        };
        if ro {
            mounts::root_readonly(ctx)?;
        }
    }
    drop(root_fd);

    if spec.ns.is_new(NsKind::Net) {
        ctx.run(Step::Loopback, loopback_up)?;
    }
    if let Some(h) = spec.hostname {
        ctx.run(Step::Hostname, || rustix::system::sethostname(h.to_bytes()))?;
    }
    ctx.run(Step::Cwd, || rustix::process::chdir(spec.process.cwd.unwrap_or(c"/")))?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(spec.process.umask & 0o777));
    for (i, r) in spec.rlimits.iter().enumerate() {
        ctx.run(Step::Rlimit(i as u8), || rlimit(r))?;
    }
    caps::apply(
        ctx,
        &Creds {
            uid: spec.process.uid,
            gid: spec.process.gid,
            groups: &spec.process.groups,
            caps: Some(spec.caps),
            no_new_privs: spec.no_new_privs,
        },
    )?;

    let mut argv = [core::ptr::null(); PTRS];
    let mut envp = [core::ptr::null(); PTRS];
    ctx.run(Step::Exec, || {
        exec::ptr_array(spec.process.args.iter().copied(), &mut argv)?;
        exec::ptr_array(spec.process.env.iter().copied(), &mut envp)
    })?;
    let name = spec
        .process
        .args
        .first()
        .copied()
        .ok_or(Failure::new(Step::Exec, Errno::INVAL))?;
    let program = Program::Search {
        name,
        path: exec::path_of(spec.process.env.iter().copied()),
    };
    exec::finish(ctx, &fds, program, &argv, &envp)
}

fn write_self_oom(v: i32) -> Result<(), Errno> {
    let mut b = keel_rt::path::CBuf::<24>::new();
    b.push_i64(v.into());
    keel_rt::fs::write_file(c"/proc/self/oom_score_adj", b.as_bytes())
}
