//! The step table: every set-up step of a container's init (and of a
//! process entered into a running container), its wire id (the `step` of a
//! [`keel_wire::spawn::Report`]), its stable name, and how a failure of it
//! is told to a person.
//!
//! Ids: single steps are 1..=63; per-namespace steps are `0x40 + kind` and
//! `0x48 + kind`; /dev steps `0x50 + i`, `0x58 + i`; per-entry steps carry
//! the entry's index (the spec's mount, masked path, sysctl, rlimit, or a
//! capability number) in the low byte of a family in the high byte, so a
//! report names *which* mount failed.

use super::Failure;
use crate::spec::names::{cap_name, rlimit_name};
use crate::spec::{MountKind, NsKind, NsMode, Root, Spec};
use keel_rt::line::Line;
use rustix::io::Errno;

/// One set-up step. Indexed steps hold the index of the spec entry (or the
/// capability number) they handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    // ---- parent side
    /// Creating the report and sync pipes.
    Pipe,
    /// clone3 (or the clone fallback) with the new namespaces.
    Clone,
    /// setns(share, CLONE_NEWPID) for the child (pid shared or entered).
    PidnsEnter,
    /// setns back to keel's own pid namespace for later children.
    PidnsRestore,
    UidMap,
    GidMap,
    /// Writing the child's pid to cgroup.procs (clone fallback only).
    CgroupProcs,
    OomScoreAdj,
    /// Releasing the child through the sync pipe.
    Release,
    /// Taking over the init that the intermediate child forked (user
    /// namespace shared, pid namespace new).
    Handoff,
    /// Reading the child's report (a garbled one is EPROTO).
    Report,
    // ---- child side
    /// Waiting for the parent's go-ahead.
    Sync,
    DevNull,
    /// Moving inherited fds above the numbers they must land on.
    Fds,
    Setns(NsKind),
    Unshare(NsKind),
    TimeOffsets,
    /// Becoming uid/gid 0 of a new or joined user namespace for the set-up.
    IdRoot,
    Propagation,
    Root,
    RootReadonly,
    DevTmpfs,
    /// Index into [`DEV_NODES`].
    DevNode(u8),
    DevPts,
    /// Index into [`DEV_LINKS`].
    DevLink(u8),
    DevShm,
    MountPoint(u8),
    Mount(u8),
    MountRemount(u8),
    Mask(u8),
    Readonly(u8),
    Sysctl(u8),
    PivotRoot,
    DetachOldRoot,
    Loopback,
    Hostname,
    Cwd,
    Rlimit(u8),
    /// Dropping capability N from the bounding set.
    Bounding(u8),
    KeepCaps,
    Groups,
    Gid,
    Uid,
    Capset,
    /// Raising capability N into the ambient set.
    Ambient(u8),
    NoNewPrivs,
    Signals,
    Setsid,
    Stdio,
    ReadyFd,
    CloseFds,
    Exec,
    /// The second fork of the intermediate child (user shared, pid new).
    Fork,
    /// An upcall agent's anonymous session keyring, made before it enters
    /// the container's user namespace, and its serial sent to keel.
    AgentKeyring,
}

/// Host device nodes bind-mounted into a minimal /dev.
pub const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
/// Symlinks of a minimal /dev: (name, target).
pub const DEV_LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

const SIMPLE: &[(Step, u16, &str)] = &[
    (Step::Pipe, 1, "pipe"),
    (Step::Clone, 2, "clone"),
    (Step::PidnsEnter, 3, "pidns-enter"),
    (Step::PidnsRestore, 4, "pidns-restore"),
    (Step::UidMap, 5, "uid-map"),
    (Step::GidMap, 6, "gid-map"),
    (Step::CgroupProcs, 7, "cgroup-procs"),
    (Step::OomScoreAdj, 8, "oom-score-adj"),
    (Step::Release, 9, "release"),
    (Step::Handoff, 10, "handoff"),
    (Step::Report, 11, "report"),
    (Step::Sync, 16, "sync"),
    (Step::DevNull, 17, "dev-null"),
    (Step::Fds, 18, "fds"),
    (Step::TimeOffsets, 19, "time-offsets"),
    (Step::IdRoot, 20, "id-root"),
    (Step::Propagation, 21, "propagation"),
    (Step::Root, 22, "root"),
    (Step::RootReadonly, 23, "root-readonly"),
    (Step::DevTmpfs, 24, "dev-tmpfs"),
    (Step::DevPts, 25, "dev-pts"),
    (Step::DevShm, 26, "dev-shm"),
    (Step::PivotRoot, 27, "pivot-root"),
    (Step::DetachOldRoot, 28, "detach-old-root"),
    (Step::Loopback, 29, "loopback"),
    (Step::Hostname, 30, "hostname"),
    (Step::Cwd, 31, "cwd"),
    (Step::KeepCaps, 32, "keep-caps"),
    (Step::Groups, 33, "groups"),
    (Step::Gid, 34, "gid"),
    (Step::Uid, 35, "uid"),
    (Step::Capset, 36, "capset"),
    (Step::NoNewPrivs, 37, "no-new-privs"),
    (Step::Signals, 38, "signals"),
    (Step::Setsid, 39, "setsid"),
    (Step::Stdio, 40, "stdio"),
    (Step::ReadyFd, 41, "ready-fd"),
    (Step::CloseFds, 42, "close-fds"),
    (Step::Exec, 43, "exec"),
    (Step::Fork, 44, "fork"),
    (Step::AgentKeyring, 45, "agent-keyring"),
];

/// Families of indexed steps: (high byte, name).
const FAMILIES: [(u16, &str); 9] = [
    (0x100, "mount-point"),
    (0x200, "mount"),
    (0x300, "mount-remount"),
    (0x400, "mask"),
    (0x500, "readonly"),
    (0x600, "sysctl"),
    (0x700, "rlimit"),
    (0x800, "bounding"),
    (0x900, "ambient"),
];

impl Step {
    /// The wire id (never 0).
    pub fn id(self) -> u16 {
        match self {
            Step::Setns(k) => 0x40 + k as u16,
            Step::Unshare(k) => 0x48 + k as u16,
            Step::DevNode(i) => 0x50 + (i as u16 & 7),
            Step::DevLink(i) => 0x58 + (i as u16 & 7),
            Step::MountPoint(i) => 0x100 | i as u16,
            Step::Mount(i) => 0x200 | i as u16,
            Step::MountRemount(i) => 0x300 | i as u16,
            Step::Mask(i) => 0x400 | i as u16,
            Step::Readonly(i) => 0x500 | i as u16,
            Step::Sysctl(i) => 0x600 | i as u16,
            Step::Rlimit(i) => 0x700 | i as u16,
            Step::Bounding(i) => 0x800 | i as u16,
            Step::Ambient(i) => 0x900 | i as u16,
            s => SIMPLE.iter().find(|(t, _, _)| *t == s).map_or(0, |&(_, id, _)| id),
        }
    }

    /// The step with wire id `id`, if there is one.
    pub fn from_id(id: u16) -> Option<Step> {
        let lo = (id & 0xff) as u8;
        let kind = |base: u16| NsKind::ALL.get(usize::from(id.wrapping_sub(base))).copied();
        match id {
            0 => None,
            0x40..=0x47 => kind(0x40).map(Step::Setns),
            0x48..=0x4f => kind(0x48).map(Step::Unshare),
            0x50..=0x57 => (usize::from(lo - 0x50) < DEV_NODES.len()).then_some(Step::DevNode(lo - 0x50)),
            0x58..=0x5f => (usize::from(lo - 0x58) < DEV_LINKS.len()).then_some(Step::DevLink(lo - 0x58)),
            0x100..=0x1ff => Some(Step::MountPoint(lo)),
            0x200..=0x2ff => Some(Step::Mount(lo)),
            0x300..=0x3ff => Some(Step::MountRemount(lo)),
            0x400..=0x4ff => Some(Step::Mask(lo)),
            0x500..=0x5ff => Some(Step::Readonly(lo)),
            0x600..=0x6ff => Some(Step::Sysctl(lo)),
            0x700..=0x7ff => Some(Step::Rlimit(lo)),
            0x800..=0x8ff => Some(Step::Bounding(lo)),
            0x900..=0x9ff => Some(Step::Ambient(lo)),
            _ => SIMPLE.iter().find(|(_, i, _)| *i == id).map(|&(s, _, _)| s),
        }
    }

    /// A short stable name (`pivot-root`, `mount`, `setns`): the family for
    /// indexed steps. For fault injection and logs.
    pub fn name(self) -> &'static str {
        match self {
            Step::Setns(_) => "setns",
            Step::Unshare(_) => "unshare",
            Step::DevNode(_) => "dev-node",
            Step::DevLink(_) => "dev-link",
            s => {
                let id = s.id();
                if id >= 0x100 {
                    FAMILIES
                        .iter()
                        .find(|(f, _)| *f == id & 0xff00)
                        .map_or("unknown", |&(_, n)| n)
                } else {
                    SIMPLE
                        .iter()
                        .find(|(t, _, _)| *t == s)
                        .map_or("unknown", |&(_, _, n)| n)
                }
            }
        }
    }
}

fn ns_word(l: &mut Line, k: NsKind) {
    l.str(k.name());
}

fn root_path<'a>(spec: &Spec<'a>) -> Option<&'a [u8]> {
    match &spec.root {
        Root::Host => None,
        Root::Bind { path, .. } => Some(path.to_bytes()),
        Root::Overlay { lower, .. } => lower.first().map(|p| p.to_bytes()),
    }
}

fn mount_kind_word(k: &MountKind<'_>) -> &'static str {
    match k {
        MountKind::Proc => "proc",
        MountKind::Sysfs => "sysfs",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Devpts => "devpts",
        MountKind::Mqueue => "mqueue",
        MountKind::Bind { recursive: false, .. } => "bind",
        MountKind::Bind { recursive: true, .. } => "rbind",
    }
}

fn cap_word(l: &mut Line, cap: u8) {
    match cap_name(u32::from(cap)) {
        Some(n) => l.str(n),
        None => l.str("capability ").u64(u64::from(cap)),
    };
}

/// Appends what step `s` was doing, with the spec's own words and paths.
pub fn describe(s: Step, spec: Option<&Spec<'_>>, l: &mut Line) {
    let root = spec.and_then(root_path);
    let with_root = |l: &mut Line, p: &[u8]| {
        if let Some(r) = root {
            l.bytes(r);
        }
        l.bytes(p);
    };
    match s {
        Step::Pipe => l.str("create the report and sync pipes"),
        Step::Clone => {
            l.str("clone3");
            if let Some(spec) = spec {
                let mut first = true;
                for k in NsKind::ALL {
                    if spec.ns.is_new(k) && k != NsKind::Time {
                        l.str(if first { " with new " } else { ", " });
                        ns_word(l, k);
                        first = false;
                    }
                }
                if !first {
                    l.str(" namespaces");
                }
            }
            l
        }
        Step::PidnsEnter => l.str("enter the pid namespace to share for the child"),
        Step::PidnsRestore => l.str("return to keel's own pid namespace"),
        Step::UidMap | Step::GidMap => {
            l.str(if s == Step::UidMap {
                "write uid_map"
            } else {
                "write gid_map"
            });
            if let Some(spec) = spec {
                let maps = if s == Step::UidMap {
                    &spec.uid_map
                } else {
                    &spec.gid_map
                };
                if maps.is_empty() {
                    l.str(" (empty)");
                }
                for m in maps.iter() {
                    l.str(" ")
                        .u64(m.inside.into())
                        .str(" ")
                        .u64(m.outside.into())
                        .str(" ")
                        .u64(m.count.into());
                    l.str(";");
                }
            }
            l
        }
        Step::CgroupProcs => l.str("move the child into its cgroup (cgroup.procs)"),
        Step::OomScoreAdj => {
            l.str("set oom_score_adj");
            if let Some(v) = spec.and_then(|s| s.process.oom_score_adj) {
                l.str(" to ").i64(v.into());
            }
            l
        }
        Step::Release => l.str("release the child"),
        Step::Handoff => l.str("take over the init forked into the new pid namespace"),
        Step::Report => l.str("read the set-up report"),
        Step::Sync => l.str("wait for keel's go-ahead"),
        Step::DevNull => l.str("open /dev/null"),
        Step::Fds => l.str("move inherited fds out of the way"),
        Step::Setns(k) => {
            l.str("join the ");
            ns_word(l, k);
            l.str(" namespace of ");
            match spec.map(|s| s.ns.get(k)) {
                Some(NsMode::Share(n)) => l.str("container ").bytes(n.to_bytes()),
                _ => l.str("the target"),
            }
        }
        Step::Unshare(k) => {
            l.str("create a new ");
            ns_word(l, k);
            l.str(" namespace")
        }
        Step::TimeOffsets => {
            l.str("write /proc/self/timens_offsets");
            if let Some(t) = spec.and_then(|s| s.time_offsets) {
                l.str(" (monotonic ")
                    .i64(t.monotonic)
                    .str(", boottime ")
                    .i64(t.boottime)
                    .str(")");
            }
            l
        }
        Step::IdRoot => l.str("become root of the container's user namespace"),
        Step::Propagation => l.str("make / rprivate in the new mount namespace"),
        Step::Root => match spec.map(|s| &s.root) {
            Some(Root::Overlay { .. }) => {
                l.str("mount the overlay root on ");
                with_root(l, b"");
                l
            }
            _ => {
                l.str("bind the root ");
                with_root(l, b"");
                l.str(" onto itself")
            }
        },
        Step::RootReadonly => {
            l.str("remount the root ");
            with_root(l, b"");
            l.str(" read-only")
        }
        Step::DevTmpfs => {
            l.str("mount tmpfs on ");
            with_root(l, b"/dev");
            l
        }
        Step::DevNode(i) => {
            let n = DEV_NODES.get(usize::from(i)).copied().unwrap_or("?");
            l.str("bind /dev/").str(n).str(" onto ");
            with_root(l, b"/dev/");
            l.str(n)
        }
        Step::DevPts => {
            l.str("mount devpts on ");
            with_root(l, b"/dev/pts");
            l
        }
        Step::DevLink(i) => {
            let (n, t) = DEV_LINKS.get(usize::from(i)).copied().unwrap_or(("?", "?"));
            l.str("symlink ");
            with_root(l, b"/dev/");
            l.str(n).str(" -> ").str(t)
        }
        Step::DevShm => {
            l.str("mount tmpfs on ");
            with_root(l, b"/dev/shm");
            l
        }
        Step::MountPoint(i) | Step::Mount(i) | Step::MountRemount(i) => {
            let m = spec.and_then(|s| s.mounts.get(usize::from(i)));
            match (s, m) {
                (_, None) => l.str("mount #").u64(u64::from(i)),
                (Step::MountPoint(_), Some(m)) => {
                    l.str("create the mount point ");
                    with_root(l, m.target.to_bytes());
                    l
                }
                (Step::Mount(_), Some(m)) => {
                    l.str("mount ").str(mount_kind_word(&m.kind));
                    if let MountKind::Bind { source, .. } = m.kind {
                        l.str(" ").bytes(source.to_bytes());
                    }
                    l.str(" on ");
                    with_root(l, m.target.to_bytes());
                    l
                }
                (_, Some(m)) => {
                    l.str("remount ");
                    with_root(l, m.target.to_bytes());
                    l.str(" with its flags");
                    if m.flags & crate::spec::mflags::RDONLY != 0 {
                        l.str(" (read-only)");
                    }
                    l
                }
            }
        }
        Step::Mask(i) => {
            l.str("mask ");
            match spec.and_then(|s| s.masked.get(usize::from(i))) {
                Some(p) => {
                    with_root(l, p.to_bytes());
                    l
                }
                None => l.str("path #").u64(u64::from(i)),
            }
        }
        Step::Readonly(i) => {
            l.str("make read-only ");
            match spec.and_then(|s| s.readonly.get(usize::from(i))) {
                Some(p) => {
                    with_root(l, p.to_bytes());
                    l
                }
                None => l.str("path #").u64(u64::from(i)),
            }
        }
        Step::Sysctl(i) => {
            l.str("sysctl ");
            match spec.and_then(|s| s.sysctls.get(usize::from(i))) {
                Some((k, v)) => l.bytes(k.to_bytes()).str("=").bytes(v.to_bytes()),
                None => l.str("#").u64(u64::from(i)),
            }
        }
        Step::PivotRoot => {
            l.str("pivot_root into ");
            l.bytes(root.unwrap_or(b"/"))
        }
        Step::DetachOldRoot => l.str("detach the old root (umount2 . MNT_DETACH)"),
        Step::Loopback => l.str("bring up lo"),
        Step::Hostname => {
            l.str("set hostname");
            if let Some(h) = spec.and_then(|s| s.hostname) {
                l.str(" ").bytes(h.to_bytes());
            }
            l
        }
        Step::Cwd => {
            l.str("chdir to ");
            match spec.and_then(|s| s.process.cwd) {
                Some(c) => l.bytes(c.to_bytes()),
                None => l.str("/"),
            }
        }
        Step::Rlimit(i) => {
            l.str("set rlimit ");
            match spec.and_then(|s| s.rlimits.get(usize::from(i))) {
                Some(r) => {
                    match rlimit_name(r.resource) {
                        Some(n) => l.str(n),
                        None => l.u64(r.resource.into()),
                    };
                    l.str(" ");
                    for (j, v) in [r.soft, r.hard].into_iter().enumerate() {
                        if j == 1 {
                            l.str(" ");
                        }
                        if v == u64::MAX {
                            l.str("unlimited");
                        } else {
                            l.u64(v);
                        }
                    }
                    l
                }
                None => l.str("#").u64(u64::from(i)),
            }
        }
        Step::Bounding(c) => {
            l.str("drop ");
            cap_word(l, c);
            l.str(" from the bounding set")
        }
        Step::KeepCaps => l.str("set SECBIT_KEEP_CAPS"),
        Step::AgentKeyring => l.str("make the upcall agent's session keyring"),
        Step::Groups => l.str("setgroups"),
        Step::Gid => {
            l.str("setresgid");
            if let Some(s) = spec {
                l.str(" ").u64(s.process.gid.into());
            }
            l
        }
        Step::Uid => {
            l.str("setresuid");
            if let Some(s) = spec {
                l.str(" ").u64(s.process.uid.into());
            }
            l
        }
        Step::Capset => {
            l.str("capset");
            if let Some(s) = spec {
                l.str(" effective 0x").hex(s.caps.effective);
                l.str(" permitted 0x").hex(s.caps.permitted);
                l.str(" inheritable 0x").hex(s.caps.inheritable);
            }
            l
        }
        Step::Ambient(c) => {
            l.str("raise ");
            cap_word(l, c);
            l.str(" into the ambient set")
        }
        Step::NoNewPrivs => l.str("set no_new_privs"),
        Step::Signals => l.str("reset the signal mask"),
        Step::Setsid => l.str("setsid"),
        Step::Stdio => l.str("set up stdin, stdout and stderr"),
        Step::ReadyFd => {
            l.str("put the ready pipe on fd");
            if let Some(n) = spec.and_then(|s| s.ready_fd) {
                l.str(" ").u64(n.into());
            }
            l
        }
        Step::CloseFds => l.str("close inherited fds"),
        Step::Exec => {
            l.str("execute");
            if let Some(a) = spec.and_then(|s| s.process.args.first()) {
                l.str(" ").bytes(a.to_bytes());
            }
            l
        }
        Step::Fork => l.str("fork the init into the new pid namespace"),
    };
}

/// A likely cause for some (step, errno) pairs, or None.
pub fn hint(s: Step, e: Errno, spec: Option<&Spec<'_>>) -> Option<&'static str> {
    let user_new = spec.is_some_and(|s| s.ns.is_new(NsKind::User));
    let user_any = spec.is_some_and(|s| s.ns.get(NsKind::User) != NsMode::Host);
    Some(match (s, e) {
        (Step::Root, Errno::NOENT) => "the root directory does not exist",
        (Step::PivotRoot, Errno::INVAL) => "the root is not a mount point, or / is the initramfs rootfs",
        (Step::Clone, Errno::NOSPC) if user_new => {
            "the user namespace limit (/proc/sys/user/max_user_namespaces) is reached"
        }
        (Step::Clone, Errno::PERM) | (Step::Clone, Errno::NOSPC) => "namespaces of this kind are not allowed here",
        (Step::Setns(_), Errno::PERM) => {
            "the namespace belongs to another user namespace; share the owner's user namespace too"
        }
        (Step::Setns(_), Errno::BADF) => "the container to share with is not running",
        (Step::Mount(_), Errno::PERM) if user_any => {
            "proc and sysfs need the container's own pid and net namespaces and a fully visible host /proc and /sys"
        }
        (Step::Exec, Errno::NOENT) => match spec.and_then(|s| s.process.args.first()) {
            Some(a) if !a.to_bytes().contains(&b'/') => "not found in PATH inside the container",
            _ => "no such file inside the container",
        },
        (Step::Exec, Errno::INVAL) if spec.is_some_and(|s| s.process.args.is_empty()) => "the spec has no args",
        (Step::Uid, Errno::INVAL) | (Step::Gid, Errno::INVAL) => {
            "the id is not mapped in the container's user namespace"
        }
        (Step::Propagation, Errno::INVAL) => "mounts, a root or /dev need `ns mnt new`",
        (Step::TimeOffsets, Errno::INVAL) if spec.is_some_and(|s| s.time_offsets.is_none()) => {
            "`ns time new` needs time_offsets"
        }
        _ => return None,
    })
}

impl Failure {
    /// One log line: `keel: container web: pivot_root into /srv/web: EINVAL
    /// (the root is not a mount point, …)`. `spec` gives the paths and
    /// values of the failed step; without it the line is shorter.
    pub fn render(&self, name: &[u8], spec: Option<&Spec<'_>>, l: &mut Line) {
        l.str("keel: container ").bytes(name).str(": ");
        describe(self.step, spec, l);
        l.str(": ").errno(self.errno);
        if let Some(h) = hint(self.step, self.errno, spec) {
            l.str(" (").str(h).str(")");
        }
    }
}

fn dec_u16(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    u16::try_from(n).ok()
}

/// The id of a step named as [`Step::name`] names it, with `:INDEX` for the
/// indexed families (`mount:2`, `bounding:21`, `dev-node:0`) and `:KIND` for
/// the namespace steps (`setns:net`); or a decimal id. For fault injection
/// (`keel.fault=pivot-root`).
pub fn step_id_by_name(b: &[u8]) -> Option<u16> {
    if let Some(n) = dec_u16(b) {
        return Step::from_id(n).map(Step::id);
    }
    let (name, arg) = match b.iter().position(|c| *c == b':') {
        Some(i) => (b.get(..i)?, Some(b.get(i + 1..)?)),
        None => (b, None),
    };
    if let Some(&(_, id, _)) = SIMPLE.iter().find(|(_, _, n)| n.as_bytes() == name) {
        return arg.is_none().then_some(id);
    }
    let index = || arg.and_then(dec_u16).and_then(|n| u8::try_from(n).ok());
    let step = match name {
        b"setns" => Step::Setns(NsKind::from_name(arg?)?),
        b"unshare" => Step::Unshare(NsKind::from_name(arg?)?),
        b"dev-node" => Step::DevNode(index()?),
        b"dev-link" => Step::DevLink(index()?),
        _ => {
            let &(base, _) = FAMILIES.iter().find(|(_, n)| n.as_bytes() == name)?;
            return Step::from_id(base | u16::from(index()?)).map(Step::id);
        }
    };
    Step::from_id(step.id()).map(Step::id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut all: std::vec::Vec<Step> = SIMPLE.iter().map(|r| r.0).collect();
        for k in NsKind::ALL {
            all.push(Step::Setns(k));
            all.push(Step::Unshare(k));
        }
        for i in 0..DEV_NODES.len() as u8 {
            all.push(Step::DevNode(i));
        }
        for i in 0..DEV_LINKS.len() as u8 {
            all.push(Step::DevLink(i));
        }
        for i in [0u8, 1, 31, 255] {
            all.extend([
                Step::MountPoint(i),
                Step::Mount(i),
                Step::MountRemount(i),
                Step::Mask(i),
                Step::Readonly(i),
                Step::Sysctl(i),
                Step::Rlimit(i),
                Step::Bounding(i),
                Step::Ambient(i),
            ]);
        }
        let mut ids = std::collections::HashSet::new();
        for s in &all {
            let id = s.id();
            assert_ne!(id, 0, "{s:?}");
            assert!(ids.insert(id), "duplicate id {id} for {s:?}");
            assert_eq!(Step::from_id(id), Some(*s), "{s:?}");
            assert_ne!(s.name(), "unknown", "{s:?}");
        }
        assert_eq!(Step::from_id(0), None);
        assert_eq!(Step::from_id(0x56), None);
        assert_eq!(Step::from_id(0xa00), None);
        assert_eq!(Step::Mount(3).name(), "mount");
        assert_eq!(Step::PivotRoot.name(), "pivot-root");
    }

    #[test]
    fn ids_by_name() {
        assert_eq!(step_id_by_name(b"pivot-root"), Some(Step::PivotRoot.id()));
        assert_eq!(step_id_by_name(b"mount:3"), Some(Step::Mount(3).id()));
        assert_eq!(step_id_by_name(b"setns:net"), Some(Step::Setns(NsKind::Net).id()));
        assert_eq!(step_id_by_name(b"dev-node:5"), Some(Step::DevNode(5).id()));
        assert_eq!(step_id_by_name(b"dev-node:6"), None);
        assert_eq!(step_id_by_name(b"43"), Some(Step::Exec.id()));
        assert_eq!(step_id_by_name(b"mount"), None);
        assert_eq!(step_id_by_name(b"pivot-root:1"), None);
        assert_eq!(step_id_by_name(b"setns:bogus"), None);
        assert_eq!(step_id_by_name(b""), None);
        for s in [
            Step::Bounding(21),
            Step::Ambient(10),
            Step::Sysctl(0),
            Step::Unshare(NsKind::Pid),
        ] {
            let mut n = std::string::String::from(s.name());
            match s {
                Step::Unshare(k) => n.push_str(&format!(":{}", k.name())),
                _ => n.push_str(&format!(":{}", s.id() & 0xff)),
            }
            assert_eq!(step_id_by_name(n.as_bytes()), Some(s.id()), "{n}");
        }
    }
}
