//! The container spec: one text file per container (docs/config.md is the
//! reference). This module holds the parsed form; [`parse`] builds it.
//!
//! Zero-copy: the parser rewrites the file's buffer in place (quotes and
//! escapes removed, each token NUL-terminated), so every string in a
//! [`Spec`] is a `&CStr` pointing into the caller's [`SpecBuf`]. Nothing
//! is allocated; every list has a fixed capacity (the `MAX_*` constants) and
//! going past one is a parse error naming the line.

use core::ffi::CStr;
use heapless::Vec;

pub mod names;
pub(crate) mod num;
mod parse;
pub(crate) mod token;
pub use parse::{parse, ParseError};

/// Largest spec file, in bytes.
pub const SPEC_FILE_MAX: usize = 16 * 1024;
/// Longest container name (the file name), in bytes.
pub const NAME_MAX: usize = 63;
pub const MAX_ARGS: usize = 64;
pub const MAX_ENV: usize = 64;
pub const MAX_MOUNTS: usize = 32;
pub const MAX_PATHS: usize = 32; // masked paths; read-only paths
pub const MAX_SYSCTLS: usize = 16;
pub const MAX_AFTER: usize = 8;
pub const MAX_ID_MAPS: usize = 5;
pub const MAX_GROUPS: usize = 32;
pub const MAX_LOWER: usize = 8;
pub const MAX_RLIMITS: usize = 16;

/// A spec file's bytes, with one spare byte for the last token's NUL.
pub struct SpecBuf {
    pub bytes: [u8; SPEC_FILE_MAX + 1],
    pub len: usize,
}

impl SpecBuf {
    pub const fn new() -> Self {
        SpecBuf {
            bytes: [0; SPEC_FILE_MAX + 1],
            len: 0,
        }
    }
    /// Loads `src` (a test or fuzz convenience); false if it is too large.
    pub fn set(&mut self, src: &[u8]) -> bool {
        match self.bytes.get_mut(..src.len()) {
            Some(dst) if src.len() <= SPEC_FILE_MAX => {
                dst.copy_from_slice(src);
                self.len = src.len();
                true
            }
            _ => false,
        }
    }
}

impl Default for SpecBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// The eight namespace kinds, in the order keel enters shared ones (user
/// first, as the kernel requires for ownership).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NsKind {
    User = 0,
    Mnt = 1,
    Pid = 2,
    Net = 3,
    Uts = 4,
    Ipc = 5,
    Cgroup = 6,
    Time = 7,
}

impl NsKind {
    pub const ALL: [NsKind; 8] = [
        NsKind::User,
        NsKind::Mnt,
        NsKind::Pid,
        NsKind::Net,
        NsKind::Uts,
        NsKind::Ipc,
        NsKind::Cgroup,
        NsKind::Time,
    ];
    /// The spec's word and the /proc/PID/ns/ file name.
    pub fn name(self) -> &'static str {
        match self {
            NsKind::User => "user",
            NsKind::Mnt => "mnt",
            NsKind::Pid => "pid",
            NsKind::Net => "net",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }
    pub fn from_name(b: &[u8]) -> Option<NsKind> {
        NsKind::ALL.into_iter().find(|k| k.name().as_bytes() == b)
    }
    /// The CLONE_NEW* flag.
    pub fn clone_flag(self) -> u64 {
        use keel_rt::sys as s;
        match self {
            NsKind::User => s::CLONE_NEWUSER,
            NsKind::Mnt => s::CLONE_NEWNS,
            NsKind::Pid => s::CLONE_NEWPID,
            NsKind::Net => s::CLONE_NEWNET,
            NsKind::Uts => s::CLONE_NEWUTS,
            NsKind::Ipc => s::CLONE_NEWIPC,
            NsKind::Cgroup => s::CLONE_NEWCGROUP,
            NsKind::Time => s::CLONE_NEWTIME,
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a container gets one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsMode<'a> {
    /// A fresh namespace.
    New,
    /// keel's own (the host's) namespace.
    Host,
    /// The namespace of the named container's init (implies `after NAME`).
    Share(&'a CStr),
}

/// `ns KIND new|host|share NAME`. Defaults: mnt, pid, net, uts, ipc and
/// cgroup new; user and time host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces<'a> {
    /// Indexed by [`NsKind::index`].
    pub modes: [NsMode<'a>; 8],
}

impl<'a> Namespaces<'a> {
    pub fn get(&self, k: NsKind) -> NsMode<'a> {
        self.modes[k.index()]
    }
    pub fn is_new(&self, k: NsKind) -> bool {
        self.get(k) == NsMode::New
    }
}

impl Default for Namespaces<'_> {
    fn default() -> Self {
        let mut modes = [NsMode::New; 8];
        modes[NsKind::User.index()] = NsMode::Host;
        modes[NsKind::Time.index()] = NsMode::Host;
        Namespaces { modes }
    }
}

/// `root PATH [ro]` or `root overlay LOWER[:LOWER…] [upper=DIR work=DIR] [ro]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Root<'a> {
    /// No root directive: the container keeps keel's root (needs no pivot).
    #[default]
    Host,
    /// A bind mount of a host directory.
    Bind { path: &'a CStr, readonly: bool },
    /// An overlay of lower directories (first is the top), with an optional
    /// upper and work directory (without them the overlay is read-only).
    Overlay {
        lower: Vec<&'a CStr, MAX_LOWER>,
        upper: Option<&'a CStr>,
        work: Option<&'a CStr>,
        readonly: bool,
    },
}

/// One `uid_map`/`gid_map` line: INSIDE OUTSIDE COUNT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// `time_offsets monotonic=S boottime=S` (seconds, may be negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeOffsets {
    pub monotonic: i64,
    pub boottime: i64,
}

/// Mount flags a spec may set (MS_* values from the kernel).
pub mod mflags {
    pub const RDONLY: u64 = 1;
    pub const NOSUID: u64 = 2;
    pub const NODEV: u64 = 4;
    pub const NOEXEC: u64 = 8;
    pub const NOATIME: u64 = 1024;
    pub const NODIRATIME: u64 = 2048;
    pub const RELATIME: u64 = 1 << 21;
    pub const STRICTATIME: u64 = 1 << 24;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountKind<'a> {
    Proc,
    Sysfs,
    Tmpfs,
    Devpts,
    Mqueue,
    /// `mount bind SOURCE TARGET` (recursive: `rbind`).
    Bind {
        source: &'a CStr,
        recursive: bool,
    },
}

/// `mount TYPE [SOURCE] TARGET [OPTIONS]`: OPTIONS is one comma-separated
/// token; the flag words become `flags`, the rest (`size=64m,mode=1777`)
/// stays in `data`, compacted in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mount<'a> {
    pub kind: MountKind<'a>,
    /// Absolute path inside the container's root.
    pub target: &'a CStr,
    /// [`mflags`] bits.
    pub flags: u64,
    /// File-system options for mount(2)'s data argument.
    pub data: Option<&'a CStr>,
}

/// `dev minimal|none`: a tmpfs /dev with null, zero, full, random, urandom
/// and tty bind-mounted from the host, devpts with ptmx, fd/stdin/stdout/
/// stderr links. Default: minimal when the container has a root, else none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dev {
    None,
    Minimal,
}

/// `stdio inherit|null|log|file PATH` (stdout and stderr; stdin is
/// /dev/null except with inherit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio<'a> {
    Inherit,
    Null,
    /// keel reads a pipe and logs each line prefixed with the container's name.
    Log,
    /// Appended to this host path.
    File(&'a CStr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    Never,
    OnFailure,
    Always,
}

/// `restart POLICY`, `backoff BASE CAP`, `restart_budget N WINDOW`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    pub policy: RestartPolicy,
    pub backoff_base_ms: u32,
    pub backoff_cap_ms: u32,
    /// At most this many restarts within `window_ms`; past it, `failed`.
    pub budget: u32,
    pub window_ms: u32,
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            policy: RestartPolicy::OnFailure,
            backoff_base_ms: 100,
            backoff_cap_ms: 30_000,
            budget: 5,
            window_ms: 60_000,
        }
    }
}

/// `rlimit NAME SOFT HARD` (`unlimited` = u64::MAX).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    /// RLIMIT_* number.
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Capability sets as bit masks (bit N = capability N).
/// `caps SET CAP…` with SET one of bounding, effective, permitted,
/// inheritable, ambient; CAP as `CAP_NET_ADMIN` or `net_admin`, or `all`,
/// or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Docker's and crun's default set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
/// KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
/// MKNOD, AUDIT_WRITE, SETFCAP.
pub const DEFAULT_CAPS: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 10)
    | (1 << 13)
    | (1 << 18)
    | (1 << 27)
    | (1 << 29)
    | (1 << 31);

impl Default for Caps {
    fn default() -> Self {
        Caps {
            bounding: DEFAULT_CAPS,
            effective: DEFAULT_CAPS,
            permitted: DEFAULT_CAPS,
            inheritable: 0,
            ambient: 0,
        }
    }
}

/// `cgroup KEY VALUE` for the four supported limit files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CgroupLimits {
    /// memory.max in bytes; `Some(u64::MAX)` writes "max".
    pub memory_max: Option<u64>,
    /// pids.max; `Some(u64::MAX)` writes "max".
    pub pids_max: Option<u64>,
    /// cpu.max: (quota µs or u64::MAX for "max", period µs).
    pub cpu_max: Option<(u64, u64)>,
    /// cpu.weight, 1..=10000.
    pub cpu_weight: Option<u32>,
}

/// The program and its credentials.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Process<'a> {
    /// `args PROGRAM ARG…` (PROGRAM is a path inside the container, or a
    /// name looked up in the spec's PATH, else /usr/sbin:/usr/bin:/sbin:/bin).
    pub args: Vec<&'a CStr, MAX_ARGS>,
    /// `env NAME=VALUE`, repeatable.
    pub env: Vec<&'a CStr, MAX_ENV>,
    /// `cwd PATH` (default /).
    pub cwd: Option<&'a CStr>,
    /// `user UID[:GID]` (default 0:0).
    pub uid: u32,
    pub gid: u32,
    /// `groups GID…` (default none).
    pub groups: Vec<u32, MAX_GROUPS>,
    /// `umask OCTAL` (default 0022).
    pub umask: u32,
    /// `oom_score_adj N` (-1000..=1000).
    pub oom_score_adj: Option<i32>,
}

/// One parsed container spec. Strings point into the [`SpecBuf`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec<'a> {
    pub ns: Namespaces<'a>,
    pub root: Root<'a>,
    pub uid_map: Vec<IdMap, MAX_ID_MAPS>,
    pub gid_map: Vec<IdMap, MAX_ID_MAPS>,
    pub time_offsets: Option<TimeOffsets>,
    pub hostname: Option<&'a CStr>,
    pub mounts: Vec<Mount<'a>, MAX_MOUNTS>,
    pub dev: Dev,
    /// `mask PATH`: a file gets /dev/null over it, a directory an empty
    /// read-only tmpfs.
    pub masked: Vec<&'a CStr, MAX_PATHS>,
    /// `readonly PATH`: bind-remounted read-only.
    pub readonly: Vec<&'a CStr, MAX_PATHS>,
    /// `sysctl KEY VALUE` (namespaced keys only: net.*, kernel.hostname,
    /// kernel.domainname, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*).
    pub sysctls: Vec<(&'a CStr, &'a CStr), MAX_SYSCTLS>,
    pub process: Process<'a>,
    pub rlimits: Vec<Rlimit, MAX_RLIMITS>,
    pub caps: Caps,
    /// `no_new_privs` (default off).
    pub no_new_privs: bool,
    pub cgroup: CgroupLimits,
    pub stdio: Stdio<'a>,
    pub restart: Restart,
    /// `oneshot`: runs once to completion; `after` it means "exited 0".
    pub oneshot: bool,
    /// `after NAME…`, repeatable.
    pub after: Vec<&'a CStr, MAX_AFTER>,
    /// `ready_fd N`: the container writes a line on fd N when ready (s6).
    pub ready_fd: Option<u32>,
    /// `stop_signal SIG` (default TERM).
    pub stop_signal: i32,
    /// `stop_timeout DURATION` (default 10s): then cgroup.kill.
    pub stop_timeout_ms: u32,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            ns: Namespaces::default(),
            root: Root::Host,
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            time_offsets: None,
            hostname: None,
            mounts: Vec::new(),
            dev: Dev::None,
            masked: Vec::new(),
            readonly: Vec::new(),
            sysctls: Vec::new(),
            process: Process {
                umask: 0o022,
                ..Process::default()
            },
            rlimits: Vec::new(),
            caps: Caps::default(),
            no_new_privs: false,
            cgroup: CgroupLimits::default(),
            stdio: Stdio::Inherit,
            restart: Restart::default(),
            oneshot: false,
            after: Vec::new(),
            ready_fd: None,
            stop_signal: 15,
            stop_timeout_ms: 10_000,
        }
    }
}

/// A container name is its file name: 1..=NAME_MAX bytes of
/// `[A-Za-z0-9_.-]`, not starting with `.` or `-`. It is also the name of
/// the container's cgroup beside keel's own leaf `keel`, so `keel` and names
/// that look like cgroup interface files (`cgroup.*`, `memory.*`, …) are
/// reserved.
pub fn valid_name(n: &[u8]) -> bool {
    const RESERVED_PREFIXES: [&[u8]; 9] = [
        b"cgroup.",
        b"cpu.",
        b"cpuset.",
        b"io.",
        b"memory.",
        b"pids.",
        b"rdma.",
        b"hugetlb.",
        b"misc.",
    ];
    !n.is_empty()
        && n.len() <= NAME_MAX
        && n != b"keel"
        && !matches!(n.first(), Some(b'.') | Some(b'-'))
        && n.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        && !RESERVED_PREFIXES.iter().any(|p| n.starts_with(p))
}
