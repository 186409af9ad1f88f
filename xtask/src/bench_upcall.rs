//! `cargo xtask bench`, the upcall section (issues 4 and 5): one
//! request_key(2), from the call to its return, on the host's kernel, six
//! ways in one run:
//!
//! - **A** keyutils' request-key with no matching line (the floor: the
//!   helper runs, finds nothing and exits; the kernel negates the key);
//! - **B** keyutils' request-key with a trivial handler on the host: a
//!   temporary /etc/request-key.d/zz-keel-bench.conf line
//!   `create user keelbench:h:* * /bin/keyctl instantiate %k x 0`;
//! - **C** keel's broker as /sbin/request-key, the requester in a container,
//!   answered by the agent's built-in handler (`builtin:instantiate x`);
//! - **D** the same, answered by the container's own exec'd keyutils
//!   `keyctl instantiate %k x 0`;
//! - **E** (issue 5) a dns_resolver key for a new name under `bench.test`,
//!   empty callout (what CIFS asks: one IPv4 address), answered by keyutils:
//!   the host's request-key runs the host's own
//!   `create dns_resolver * * /sbin/key.dns_resolver %k`, whose glibc asks
//!   the bench's dnsmasq through a bench resolv.conf bind-mounted over the
//!   host's /etc/resolv.conf for E's batches;
//! - **F** the same request from inside a container (`ns net host`, the
//!   bench resolv.conf bound on its /etc/resolv.conf, a request-key.conf
//!   `create dns_resolver * * builtin:dns_resolver`), routed by keel's
//!   broker to the container's agent, answered by its built-in resolver in
//!   its event loop, against the same dnsmasq.
//!
//! The requester is `reqloop` (xtask/scenarios/reqloop.c, static): N
//! requests with fresh descriptions in a new session keyring, each timed
//! alone, each key's payload checked; on the host for A, B and E, through
//! `keel enter` in a container for C, D and F. Each round runs one batch of
//! every variant, the order rotating from round to round (ABCDEF, BCDEFA,
//! …), so drift hits all alike.
//!
//! What the section changes on the host, and how it puts it back:
//!
//! - /sbin/request-key is bind-mounted with keel's broker (a copy of
//!   upcall-agent named `keel-bench-request-key`) for C, D and F batches
//!   only, in the kernel's initial mount namespace — kthreadd's
//!   (/proc/2/ns/mnt), where the kernel runs its helpers; `cargo xtask
//!   bench` itself may run in a private mount namespace (hybrid cgroups);
//! - /etc/resolv.conf is bind-mounted there with the bench's
//!   (`keel-bench-resolv.conf`: `nameserver 127.0.0.77`) for E batches only;
//! - /run/keel gets a tmpfs (source `keel-bench-run`) when it is not one
//!   already, as /run is on every real system: keel rewrites its status file
//!   after each upcall, and on ext4 each rewrite (rename over the old file)
//!   forces a data flush of milliseconds that keel's loop waits for — the
//!   next request with it. The broker always connects to
//!   /run/keel/upcall.sock, so the run directory cannot move elsewhere;
//! - the request-key.d file of B;
//! - keel itself (supervisor mode, in the initial mount namespace), with
//!   three containers;
//! - dnsmasq (/usr/sbin/dnsmasq) on 127.0.0.77:53 in the initial network
//!   namespace (127/8 is all loopback: nothing is added to lo), answering
//!   every `*.bench.test` with 10.7.7.7.
//!
//! A [`Guard`] undoes all of it on every path: its Drop, and a handler for
//! SIGINT, SIGTERM and SIGHUP that undoes it with raw system calls and dies
//! of the signal. A SIGKILLed run leaves them behind: every bench run first
//! removes the bench's own stale mounts, file and dnsmasq ([`clean_stale`]),
//! and refuses to run while a keel serves /run/keel/upcall.sock.

use super::kill_tree;
use crate::stats::quantile;
use crate::util::{self, Result};
use crate::{demo, image, keel};
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Requests per batch.
const BATCH: usize = 50;
/// Requests per variant before the rounds (a check that each works).
const WARMUP: usize = 5;
/// Where the kernel runs the helper.
const BROKER: &CStr = c"/sbin/request-key";
/// The broker's copy that is bind-mounted there: its name marks the mount
/// as the bench's in mountinfo.
const BROKER_COPY: &str = "keel-bench-request-key";
/// B's handler, on the host.
const HOST_CONF: &str = "/etc/request-key.d/zz-keel-bench.conf";
const HOST_CONF_IN_INIT: &CStr = c"/proc/2/root/etc/request-key.d/zz-keel-bench.conf";
const HOST_LINE: &str = "create user keelbench:h:* * /bin/keyctl instantiate %k x 0\n";
/// keel's run directory: the broker connects to RUN_DIR/upcall.sock.
const RUN_DIR: &str = "/run/keel";
const RUN_DIR_C: &CStr = c"/run/keel";
const SOCK_IN_INIT: &CStr = c"/proc/2/root/run/keel/upcall.sock";
/// The source name of the bench's tmpfs on /run/keel.
const RUN_TMPFS: &CStr = c"keel-bench-run";
const CT_BUILTIN: &str = "kb-builtin";
const CT_KEYCTL: &str = "kb-keyctl";
const CT_DNS: &str = "kb-dns";
const ENOKEY: i64 = 126;
/// E's resolv.conf target: glibc's, in the initial mount namespace.
const RESOLV: &CStr = c"/etc/resolv.conf";
/// The bench's resolv.conf: its name marks the mount as the bench's.
const RESOLV_COPY: &str = "keel-bench-resolv.conf";
/// The bench's DNS server: dnsmasq (Debian dnsmasq-base), on an address of
/// its own (127/8 is all loopback on Linux: nothing to add to lo).
const DNSMASQ: &str = "/usr/sbin/dnsmasq";
const DNS_ADDR: &str = "127.0.0.77";
/// The zone dnsmasq answers, and its one address.
const DNS_DOMAIN: &str = "bench.test";
const DNS_ANSWER: &str = "10.7.7.7";
/// keyutils' handler for E, as Debian's /etc/request-key.conf names it.
const KEY_DNS_RESOLVER: &str = "/sbin/key.dns_resolver";

/// The kernel's initial mount namespace, open (-1: not yet).
static INIT_MNT: AtomicI32 = AtomicI32::new(-1);
static BROKER_MOUNTED: AtomicBool = AtomicBool::new(false);
static RUN_MOUNTED: AtomicBool = AtomicBool::new(false);
static CONF_INSTALLED: AtomicBool = AtomicBool::new(false);
static RESOLV_MOUNTED: AtomicBool = AtomicBool::new(false);
/// dnsmasq's pid while it runs (0: none).
static DNSMASQ_PID: AtomicI32 = AtomicI32::new(0);
/// keel's pid while it runs (0: none).
static KEEL_PID: AtomicI32 = AtomicI32::new(0);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum V {
    /// A: keyutils, no matching line.
    Floor,
    /// B: keyutils, keyctl on the host.
    HostKeyctl,
    /// C: keel, built-in handler in a container.
    Builtin,
    /// D: keel, the container's exec'd keyctl.
    CtKeyctl,
    /// E: keyutils, dns_resolver by /sbin/key.dns_resolver on the host.
    DnsHost,
    /// F: keel, dns_resolver by the agent's built-in resolver in a container.
    DnsKeel,
}

/// How many variants.
const NV: usize = 6;
const ALL: [V; NV] = [V::Floor, V::HostKeyctl, V::Builtin, V::CtKeyctl, V::DnsHost, V::DnsKeel];

impl V {
    fn index(self) -> usize {
        self as usize
    }
    fn keel(self) -> bool {
        matches!(self, V::Builtin | V::CtKeyctl | V::DnsKeel)
    }
    fn dns(self) -> bool {
        matches!(self, V::DnsHost | V::DnsKeel)
    }
    fn letter(self) -> char {
        (b'A' + self as u8) as char
    }
    /// The container its requester runs in (keel variants).
    fn container(self) -> &'static str {
        match self {
            V::CtKeyctl => CT_KEYCTL,
            V::DnsKeel => CT_DNS,
            _ => CT_BUILTIN,
        }
    }
    /// The description's tag: each variant's own request-key.conf pattern.
    fn tag(self) -> &'static str {
        match self {
            V::Floor => "n",
            V::HostKeyctl => "h",
            V::Builtin => "b",
            V::CtKeyctl => "k",
            V::DnsHost => "e",
            V::DnsKeel => "f",
        }
    }
    fn label(self) -> &'static str {
        match self {
            V::Floor => "A keyutils, no matching line",
            V::HostKeyctl => "B keyutils, /bin/keyctl on the host",
            V::Builtin => "C keel, built-in handler in a container",
            V::CtKeyctl => "D keel, the container's /bin/keyctl",
            V::DnsHost => "E keyutils, /sbin/key.dns_resolver on the host",
            V::DnsKeel => "F keel, the agent's built-in dns_resolver in a container",
        }
    }
}

/// The figures of one run.
struct Figures {
    /// Per variant: every request's time (s), or why it has none.
    samples: [Result<Vec<f64>>; NV],
    /// Per variant and round: the batch's median (s).
    rounds: [Vec<Option<f64>>; NV],
    notes: Vec<String>,
    took: Duration,
}

// ------------------------------------------------------------ the host

/// `p` as the kernel's initial mount namespace sees it.
fn host(p: &str) -> PathBuf {
    PathBuf::from(format!("/proc/2/root{p}"))
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn strerror(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// Opens kthreadd's mount namespace: the kernel runs /sbin/request-key
/// there, whatever namespace this process is in.
fn open_initial_mnt() -> Result<()> {
    if INIT_MNT.load(SeqCst) >= 0 {
        return Ok(());
    }
    let comm = std::fs::read_to_string("/proc/2/comm").unwrap_or_default();
    if comm.trim() != "kthreadd" {
        return Err(
            "pid 2 is not kthreadd: not in the initial pid namespace, so the kernel's mount namespace is out of reach"
                .into(),
        );
    }
    // SAFETY: open(2) of a NUL-terminated path.
    let fd = unsafe { libc::open(c"/proc/2/ns/mnt".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!("/proc/2/ns/mnt: {}", std::io::Error::last_os_error()));
    }
    INIT_MNT.store(fd, SeqCst);
    Ok(())
}

/// Runs `op` in a child process that joined the kernel's initial mount
/// namespace; 0, or the errno of setns or of `op`. `op` makes raw system
/// calls only: this also runs in a signal handler, so the child is made
/// with the raw clone system call (glibc's fork takes locks and runs
/// atfork handlers) and leaves with _exit.
fn in_initial_ns(op: impl FnOnce() -> i32) -> i32 {
    let fd = INIT_MNT.load(SeqCst);
    if fd < 0 {
        return libc::EBADF;
    }
    // SAFETY: clone with only SIGCHLD is fork without glibc's wrapper; the child below makes raw system calls only and _exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return errno();
    }
    if pid == 0 {
        // SAFETY: setns with an open namespace fd; this child is single-threaded and shares no fs_struct.
        let r = if unsafe { libc::setns(fd, libc::CLONE_NEWNS) } != 0 {
            errno()
        } else {
            op()
        };
        // SAFETY: leaves the child without running anything of the parent's.
        unsafe { libc::_exit(r.clamp(0, 255)) }
    }
    let pid = pid as libc::pid_t;
    let mut st = 0;
    loop {
        // SAFETY: waits for the child made above; `st` is a valid int.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        if r < 0 && errno() != libc::EINTR {
            return libc::ECHILD;
        }
    }
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else {
        libc::EINTR
    }
}

fn ok_or_errno(r: libc::c_int) -> i32 {
    if r == 0 {
        0
    } else {
        errno()
    }
}

fn umount_broker() -> i32 {
    // SAFETY: umount2 of a NUL-terminated constant path.
    in_initial_ns(|| ok_or_errno(unsafe { libc::umount2(BROKER.as_ptr(), libc::MNT_DETACH) }))
}

fn mount_broker(src: &CStr) -> i32 {
    in_initial_ns(|| {
        // SAFETY: a bind mount between NUL-terminated paths; no data.
        ok_or_errno(unsafe {
            libc::mount(
                src.as_ptr(),
                BROKER.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        })
    })
}

fn mount_resolv(src: &CStr) -> i32 {
    in_initial_ns(|| {
        // SAFETY: a bind mount between NUL-terminated paths; no data.
        ok_or_errno(unsafe {
            libc::mount(
                src.as_ptr(),
                RESOLV.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        })
    })
}

/// Unmounts the top mount on /etc/resolv.conf (the bench's: it goes on top
/// of whatever is there, such as a container runtime's own bind mount).
fn umount_resolv() -> i32 {
    umount_at(RESOLV)
}

fn umount_at(p: &CStr) -> i32 {
    // SAFETY: umount2 of a NUL-terminated path.
    in_initial_ns(|| ok_or_errno(unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) }))
}

fn mount_run() -> i32 {
    in_initial_ns(|| {
        // SAFETY: a tmpfs mount with NUL-terminated strings.
        ok_or_errno(unsafe {
            libc::mount(
                RUN_TMPFS.as_ptr(),
                RUN_DIR_C.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"mode=0700".as_ptr().cast(),
            )
        })
    })
}

fn umount_run() -> i32 {
    // SAFETY: umount2 of a NUL-terminated constant path.
    in_initial_ns(|| ok_or_errno(unsafe { libc::umount2(RUN_DIR_C.as_ptr(), libc::MNT_DETACH) }))
}

/// The bench's mounts still in the initial namespace, and a foreign mount
/// where it would mount (mountinfo of kthreadd).
#[derive(Debug, PartialEq)]
struct Mounts {
    broker_ours: usize,
    broker_foreign: Option<String>,
    run_ours: usize,
    /// Mount points of the bench's resolv.conf (/etc/resolv.conf, or where
    /// its link led).
    resolv_ours: Vec<String>,
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn mounts() -> Result<Mounts> {
    let mi = std::fs::read_to_string("/proc/2/mountinfo").map_err(|e| format!("/proc/2/mountinfo: {e}"))?;
    // /sbin is a link to usr/sbin on merged-/usr systems: mountinfo names the target.
    let real = std::fs::canonicalize("/sbin")
        .map(|p| p.join("request-key").display().to_string())
        .unwrap_or_else(|_| "/sbin/request-key".into());
    Ok(parse_mounts(&mi, &real))
}

/// Reads a mountinfo text; `broker` is /sbin/request-key with its links
/// resolved.
fn parse_mounts(mi: &str, broker: &str) -> Mounts {
    let mut m = Mounts {
        broker_ours: 0,
        broker_foreign: None,
        run_ours: 0,
        resolv_ours: Vec::new(),
    };
    for line in mi.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (Some(root), Some(mp), Some(fstype), Some(source)) = (f.get(3), f.get(4), f.get(sep + 1), f.get(sep + 2))
        else {
            continue;
        };
        let (root, mp) = (unescape(root), unescape(mp));
        // A bind mount whose source was deleted since (a `cargo clean`).
        let root = root
            .strip_suffix("//deleted")
            .or_else(|| root.strip_suffix(" (deleted)"))
            .unwrap_or(&root);
        if root.ends_with(&format!("/{RESOLV_COPY}")) {
            m.resolv_ours.push(mp.clone());
        }
        if mp == broker || mp == "/sbin/request-key" {
            if root.ends_with(&format!("/{BROKER_COPY}")) {
                m.broker_ours += 1;
            } else {
                m.broker_foreign = Some(format!("{mp} is a mount point ({root} of {fstype} {source})"));
            }
        }
        if mp == RUN_DIR && *fstype == "tmpfs" && *source == RUN_TMPFS.to_str().unwrap_or("") {
            m.run_ours += 1;
        }
    }
    m
}

/// Whether /run/keel, as the initial namespace sees it, is on a tmpfs.
fn run_dir_is_tmpfs() -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let Ok(p) = CString::new(host(RUN_DIR).as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs fills a zeroed struct from a NUL-terminated path.
    unsafe {
        let mut s: libc::statfs = std::mem::zeroed();
        libc::statfs(p.as_ptr(), &mut s) == 0 && s.f_type as i64 == TMPFS_MAGIC
    }
}

/// Whether a keel answers on /run/keel/upcall.sock in the initial
/// namespace: Some(why not to go on) when one does.
fn keel_serving() -> Option<String> {
    let path = host(&format!("{RUN_DIR}/upcall.sock"));
    if std::fs::symlink_metadata(&path).is_err() {
        return None;
    }
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a zeroed sockaddr_un is valid; the path (33 bytes) fits sun_path with its NUL.
    let r = unsafe {
        let mut a: libc::sockaddr_un = std::mem::zeroed();
        a.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in a.sun_path.iter_mut().zip(SOCK_IN_INIT.to_bytes()) {
            *d = *s as libc::c_char;
        }
        let r = libc::connect(
            fd,
            (&a as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        let e = errno();
        libc::close(fd);
        if r == 0 {
            0
        } else {
            e
        }
    };
    if r == libc::ECONNREFUSED {
        return None; // a stale socket: keel unlinks it before binding
    }
    let pids = keel_pids();
    Some(format!(
        "a keel is serving {RUN_DIR}/upcall.sock{} — the broker always connects there; stop it first{}",
        if r == 0 {
            String::new()
        } else {
            format!(" (connect: {})", strerror(r))
        },
        if pids.is_empty() {
            String::new()
        } else {
            format!(" ({})", pids.join("; "))
        }
    ))
}

/// Every process's pid and command line (arguments split at their NULs).
fn processes() -> Vec<(i32, Vec<String>)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args = cmd
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Some((pid, args))
        })
        .collect()
}

/// keel processes in supervisor mode on /run/keel: "pid N: keel --config …".
fn keel_pids() -> Vec<String> {
    let mut v = Vec::new();
    for (pid, args) in processes() {
        let is_keel = args.first().is_some_and(|a| a == "keel" || a.ends_with("/keel"));
        let has_config = args.iter().any(|a| a == "--config");
        let run = args
            .iter()
            .position(|a| a == "--run-dir")
            .and_then(|i| args.get(i + 1))
            .map_or(RUN_DIR, String::as_str);
        if is_keel && has_config && run == RUN_DIR {
            let ours = if args.iter().any(|a| a.contains("/bench/upcalls/config")) {
                ", left by a killed bench run"
            } else {
                ""
            };
            v.push(format!("pid {pid}: {}{ours}", args.join(" ")));
        }
    }
    v
}

/// The bench's dnsmasq processes (its own command line: the listening
/// address and the zone together), as "pid: command".
fn bench_dnsmasqs() -> Vec<(i32, String)> {
    let (listen, zone) = (
        format!("--listen-address={DNS_ADDR}"),
        format!("--address=/{DNS_DOMAIN}/{DNS_ANSWER}"),
    );
    processes()
        .into_iter()
        .filter(|(pid, args)| {
            args.first().is_some_and(|a| a.ends_with("dnsmasq"))
                && args.contains(&listen)
                && args.contains(&zone)
                && !zombie(*pid)
        })
        .map(|(pid, args)| (pid, args.join(" ")))
        .collect()
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('Z')))
        .unwrap_or(true)
}

/// Removes what a killed run left: the bench's bind mounts on
/// /sbin/request-key and /etc/resolv.conf, its tmpfs on /run/keel, its
/// request-key.d file and its dnsmasq (when no keel serves there: a keel
/// serving may be another bench's, running now). Called at the start of
/// every bench run.
/// Ok(notes); Err when something that is not the bench's is in the way.
pub(super) fn clean_stale() -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if !util::is_root() || open_initial_mnt().is_err() {
        return Ok(notes);
    }
    // A keel serving there may be another bench's, running now: touch
    // nothing (the section refuses, naming it).
    if keel_serving().is_some() {
        return Ok(notes);
    }
    for _ in 0..8 {
        let m = mounts()?;
        if m.broker_ours > 0 {
            let e = umount_broker();
            if e != 0 {
                return Err(format!(
                    "a stale bind mount on /sbin/request-key (an earlier bench run's): umount: {}",
                    strerror(e)
                ));
            }
            notes.push(
                "removed a stale bind mount of keel's broker on /sbin/request-key, left by a killed bench run".into(),
            );
            continue;
        }
        if let Some(mp) = m.resolv_ours.first() {
            let e = CString::new(mp.as_bytes()).map_or(libc::EINVAL, |p| umount_at(&p));
            if e != 0 {
                return Err(format!(
                    "a stale bind mount of the bench's resolv.conf on {mp} (an earlier bench run's): umount: {}",
                    strerror(e)
                ));
            }
            notes.push(format!(
                "removed a stale bind mount of the bench's resolv.conf on {mp}, left by a killed bench run"
            ));
            continue;
        }
        if m.run_ours > 0 {
            let e = umount_run();
            if e != 0 {
                return Err(format!("the bench's stale tmpfs on {RUN_DIR}: umount: {}", strerror(e)));
            }
            notes.push(format!(
                "removed a stale tmpfs on {RUN_DIR}, left by a killed bench run"
            ));
            continue;
        }
        break;
    }
    let conf = host(HOST_CONF);
    if conf.exists() {
        std::fs::remove_file(&conf).map_err(|e| format!("{HOST_CONF}: {e}"))?;
        notes.push(format!("removed {HOST_CONF}, left by a killed bench run"));
    }
    for (pid, cmd) in bench_dnsmasqs() {
        util::kill(pid as u32, libc::SIGTERM);
        let gone = util::poll(Duration::from_secs(5), Duration::from_millis(20), || {
            zombie(pid).then_some(())
        });
        if gone.is_none() {
            util::kill(pid as u32, libc::SIGKILL);
        }
        notes.push(format!(
            "stopped the bench's dnsmasq left by a killed bench run (pid {pid}: {cmd})"
        ));
    }
    for n in &notes {
        println!("xtask: bench: {n}");
    }
    Ok(notes)
}

// ------------------------------------------------------------ the guard

/// Undoes everything the section changed on the host: on Drop, and on
/// SIGINT, SIGTERM and SIGHUP (then dies of the signal).
/// Bind-mounts (`on`) or unmounts one file, keeping `flag` true whenever
/// the mount may exist: set before mounting, so that a signal right after
/// the mount undoes it; cleared only once unmounted.
fn set_mount(
    flag: &AtomicBool,
    on: bool,
    mount: impl FnOnce() -> i32,
    umount: fn() -> i32,
    what: &str,
    target: &str,
) -> Result<()> {
    if on == flag.load(SeqCst) {
        return Ok(());
    }
    if on {
        flag.store(true, SeqCst);
        let e = mount();
        if e != 0 {
            flag.store(false, SeqCst);
            return Err(format!("bind-mounting {what} on {target}: {}", strerror(e)));
        }
    } else {
        let e = umount();
        if e != 0 {
            return Err(format!("unmounting {target}: {}", strerror(e)));
        }
        flag.store(false, SeqCst);
    }
    Ok(())
}

struct Guard {
    old: Vec<(libc::c_int, libc::sigaction)>,
    done: bool,
}

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int) {
    undo_raw();
    let msg = b"\nxtask: bench: upcalls: interrupted: /sbin/request-key, /etc/resolv.conf, /run/keel and request-key.d restored, dnsmasq and keel stopped\n";
    // SAFETY: write, signal and raise are async-signal-safe; the default action ends the process.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Stops a child with SIGTERM, then SIGKILL (its process group too) if it
/// has not ended within `tries` × 10 ms; reaps it. Raw system calls only.
fn stop_raw(pid: libc::pid_t, tries: u32) {
    // SAFETY: kill, waitpid and nanosleep are async-signal-safe; `pid` is our child, reaped here.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
        let mut st = 0;
        for _ in 0..tries {
            if libc::waitpid(pid, &mut st, libc::WNOHANG) == pid {
                return;
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 10_000_000,
            };
            libc::nanosleep(&ts, std::ptr::null_mut());
        }
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut st, 0);
    }
}

/// The signal handler's undo: raw system calls only.
fn undo_raw() {
    if BROKER_MOUNTED.load(SeqCst) {
        umount_broker();
        BROKER_MOUNTED.store(false, SeqCst);
    }
    if RESOLV_MOUNTED.load(SeqCst) {
        umount_resolv();
        RESOLV_MOUNTED.store(false, SeqCst);
    }
    let pid = DNSMASQ_PID.swap(0, SeqCst);
    if pid > 0 {
        stop_raw(pid, 300);
    }
    if CONF_INSTALLED.swap(false, SeqCst) {
        // SAFETY: unlink of a NUL-terminated constant path.
        unsafe { libc::unlink(HOST_CONF_IN_INIT.as_ptr()) };
    }
    let pid = KEEL_PID.swap(0, SeqCst);
    if pid > 0 {
        stop_raw(pid, 1000);
        // SAFETY: unlink of a NUL-terminated constant path (async-signal-safe).
        unsafe { libc::unlink(SOCK_IN_INIT.as_ptr()) };
    }
    if RUN_MOUNTED.load(SeqCst) {
        umount_run();
        RUN_MOUNTED.store(false, SeqCst);
    }
}

impl Guard {
    fn install() -> Guard {
        let mut old = Vec::new();
        for s in SIGNALS {
            // SAFETY: sigaction with a zeroed struct, a handler of the right type and an empty mask.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(s, &sa, &mut prev) == 0 {
                    old.push((s, prev));
                }
            }
        }
        Guard { old, done: false }
    }

    fn set_broker(&self, on: bool, src: &CStr) -> Result<()> {
        set_mount(
            &BROKER_MOUNTED,
            on,
            || mount_broker(src),
            umount_broker,
            "keel's broker",
            "/sbin/request-key",
        )
    }

    /// E's resolv.conf over the host's /etc/resolv.conf, or not.
    fn set_resolv(&self, on: bool, src: &CStr) -> Result<()> {
        set_mount(
            &RESOLV_MOUNTED,
            on,
            || mount_resolv(src),
            umount_resolv,
            "the bench's resolv.conf",
            "/etc/resolv.conf",
        )
    }

    /// Undoes everything; what it did or could not do, for the notes.
    fn undo(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.done {
            return notes;
        }
        self.done = true;
        if BROKER_MOUNTED.load(SeqCst) {
            let e = umount_broker();
            if e != 0 {
                notes.push(format!("unmounting /sbin/request-key: {}", strerror(e)));
            }
            BROKER_MOUNTED.store(false, SeqCst);
        }
        if RESOLV_MOUNTED.load(SeqCst) {
            let e = umount_resolv();
            if e != 0 {
                notes.push(format!("unmounting /etc/resolv.conf: {}", strerror(e)));
            }
            RESOLV_MOUNTED.store(false, SeqCst);
        }
        let pid = DNSMASQ_PID.swap(0, SeqCst);
        if pid > 0 {
            util::kill(pid as u32, libc::SIGTERM);
            let reaped = util::poll(Duration::from_secs(3), Duration::from_millis(10), || {
                let mut st = 0;
                // SAFETY: waitpid of our own child.
                (unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == pid).then_some(())
            });
            if reaped.is_none() {
                notes.push("dnsmasq did not stop within 3 s of SIGTERM: killed".into());
                util::kill(pid as u32, libc::SIGKILL);
                let mut st = 0;
                // SAFETY: as above, blocking.
                unsafe { libc::waitpid(pid, &mut st, 0) };
            }
        }
        if CONF_INSTALLED.swap(false, SeqCst) {
            if let Err(e) = std::fs::remove_file(host(HOST_CONF)) {
                notes.push(format!("removing {HOST_CONF}: {e}"));
            }
        }
        let pid = KEEL_PID.swap(0, SeqCst);
        if pid > 0 {
            util::kill(pid as u32, libc::SIGTERM);
            let t = Instant::now();
            let reaped = util::poll(Duration::from_secs(15), Duration::from_millis(10), || {
                let mut st = 0;
                // SAFETY: waitpid of our own child.
                (unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == pid).then_some(())
            });
            if reaped.is_none() {
                notes.push("keel did not stop within 15 s of SIGTERM: killed with its descendants".into());
                kill_tree(pid as u32);
                let mut st = 0;
                // SAFETY: as above, blocking.
                unsafe { libc::waitpid(pid, &mut st, 0) };
            } else {
                println!(
                    "xtask: bench: keel stopped {} after SIGTERM",
                    util::fmt_dur(t.elapsed())
                );
            }
            let sock = host(&format!("{RUN_DIR}/upcall.sock"));
            if std::fs::symlink_metadata(&sock).is_ok() {
                notes.push(format!("keel left {RUN_DIR}/upcall.sock behind: removed"));
                let _ = std::fs::remove_file(&sock);
            }
        }
        if RUN_MOUNTED.load(SeqCst) {
            let e = umount_run();
            if e != 0 {
                notes.push(format!("unmounting the tmpfs on {RUN_DIR}: {}", strerror(e)));
            }
            RUN_MOUNTED.store(false, SeqCst);
        }
        for (s, prev) in self.old.drain(..) {
            // SAFETY: restores the action saved by install.
            unsafe { libc::sigaction(s, &prev, std::ptr::null_mut()) };
        }
        // What is left, checked.
        match mounts() {
            Ok(m) if m.broker_ours == 0 && m.run_ours == 0 && m.resolv_ours.is_empty() => {}
            Ok(m) => notes.push(format!(
                "still mounted after the run: {} bind mount(s) on /sbin/request-key, {} of the bench's resolv.conf, {} tmpfs on {RUN_DIR}",
                m.broker_ours,
                m.resolv_ours.len(),
                m.run_ours
            )),
            Err(e) => notes.push(e),
        }
        for (pid, cmd) in bench_dnsmasqs() {
            notes.push(format!(
                "the bench's dnsmasq still runs after the run: pid {pid}: {cmd}"
            ));
        }
        if host(HOST_CONF).exists() {
            notes.push(format!("{HOST_CONF} is still there"));
        }
        notes
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for n in self.undo() {
            println!("xtask: bench: upcalls: {n}");
        }
    }
}

// ------------------------------------------------------------ the run

/// Runs `cmd` to its end within `timeout` (else kills it with its
/// descendants); its status and stdout, stderr.
fn output_within(cmd: &mut Command, timeout: Duration) -> Result<(ExitStatus, String, String)> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", util::show(cmd)))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        if rx.recv_timeout(timeout) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            kill_tree(pid);
            true
        } else {
            false
        }
    });
    let out = child.wait_with_output();
    let _ = tx.send(());
    let killed = dog.join().unwrap_or(false);
    let out = out.map_err(|e| format!("{}: {e}", util::show(cmd)))?;
    if killed {
        return Err(format!(
            "{} did not end within {} s",
            util::show(cmd),
            timeout.as_secs()
        ));
    }
    Ok((
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Makes `cmd` start in the kernel's initial mount namespace.
fn in_initial(cmd: &mut Command) -> &mut Command {
    let fd = INIT_MNT.load(SeqCst);
    // SAFETY: the closure runs in the forked child before exec and calls setns only (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

struct Run<'a> {
    guard: &'a Guard,
    keel: PathBuf,
    reqloop: PathBuf,
    broker: CString,
    /// The bench's resolv.conf, for E.
    resolv: CString,
}

impl Run<'_> {
    /// One batch of `n` requests of variant `v`: each request's time (s).
    fn batch(&self, v: V, round: &str, n: usize) -> Result<Vec<f64>> {
        self.guard.set_broker(v.keel(), &self.broker)?;
        self.guard.set_resolv(v == V::DnsHost, &self.resolv)?;
        let mut cmd = if v.keel() {
            let mut c = Command::new(&self.keel);
            c.args(["enter", "--run-dir", RUN_DIR])
                .arg(v.container())
                .arg("--")
                .arg(&self.reqloop);
            in_initial(&mut c);
            c
        } else {
            Command::new(&self.reqloop)
        };
        if v.dns() {
            // Names TAG-PID-I.bench.test, empty callout: one IPv4 address.
            cmd.args(["-t", "dns_resolver", "-d", DNS_DOMAIN, "-p", DNS_ANSWER])
                .arg(format!("{}-{round}", v.tag()));
        } else {
            if v != V::Floor {
                cmd.args(["-p", "x"]);
            }
            cmd.arg(format!("{}:{round}", v.tag()));
        }
        cmd.arg(n.to_string());
        let (st, out, err) = output_within(&mut cmd, Duration::from_secs(60 + n as u64))?;
        if !st.success() {
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            return Err(format!("reqloop ended with {}: {last}", util::describe(st)));
        }
        let mut v_ns = Vec::with_capacity(n);
        for (i, l) in out.lines().enumerate() {
            let mut f = l.split_whitespace();
            let (Some(ns), Some(res)) = (f.next().and_then(|x| x.parse::<f64>().ok()), f.next()) else {
                return Err(format!("reqloop printed {l:?}"));
            };
            let ok = match (v, res.parse::<i64>()) {
                (V::Floor, Ok(r)) => r == -ENOKEY,
                (_, Ok(r)) => r > 0,
                _ => false,
            };
            if !ok {
                let what = match res.parse::<i64>() {
                    Ok(r) if r < 0 => format!("failed with {}", strerror(-r as i32)),
                    Ok(_) => "got a key (a line matched)".to_string(),
                    Err(_) => format!("got a key with a wrong payload ({res})"),
                };
                return Err(format!(
                    "request {} of {n} {what}{}",
                    i + 1,
                    if v == V::Floor { ", not ENOKEY" } else { "" }
                ));
            }
            v_ns.push(ns / 1e9);
        }
        if v_ns.len() != n {
            return Err(format!("reqloop reported {} of {n} requests", v_ns.len()));
        }
        Ok(v_ns)
    }
}

/// The section: its markdown, with `n/a (reason)` where a side could not run.
pub(super) fn section(keel: &std::result::Result<PathBuf, String>, dir: &Path, rounds: usize) -> String {
    println!(
        "\nxtask: bench (f): upcalls — request_key(2) through keyutils' request-key on the host vs keel into a container, {rounds} rounds × {BATCH} requests"
    );
    let r = run(keel, &dir.join("upcalls"), rounds.max(1));
    render(r, rounds.max(1))
}

fn agent_for(keel: &Path) -> Result<PathBuf> {
    if std::env::var_os("KEEL_BIN").is_some_and(|v| !v.is_empty()) {
        let a = keel.with_file_name("upcall-agent");
        return if a.is_file() {
            Ok(a)
        } else {
            Err(format!("{} not built (beside $KEEL_BIN)", a.display()))
        };
    }
    keel::build_agent().map(|b| b.path)
}

// ------------------------------------------------------------ E and F: DNS

/// Why E and F cannot run here, if they cannot: checked before anything on
/// the host changes.
fn dns_prerequisites() -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let ns = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    if ns("/proc/self/ns/net").is_none() || ns("/proc/self/ns/net") != ns("/proc/2/ns/net") {
        return Err(
            "not in the kernel's initial network namespace: key.dns_resolver (run by the kernel there) and the container (ns net host: keel's) would not reach the same dnsmasq"
                .into(),
        );
    }
    if !host(DNSMASQ).is_file() {
        return Err(format!("{DNSMASQ} not found (Debian package dnsmasq-base)"));
    }
    if !host(KEY_DNS_RESOLVER).is_file() {
        return Err(format!("{KEY_DNS_RESOLVER} not found (Debian package keyutils)"));
    }
    // keyutils must answer with its own handler: the host's line, and no
    // other dns_resolver line in request-key.d.
    let fields = |l: &str| -> Vec<String> {
        let l = l.trim();
        if l.starts_with('#') {
            return Vec::new();
        }
        l.split_whitespace().map(str::to_string).collect()
    };
    let conf = std::fs::read_to_string(host("/etc/request-key.conf")).unwrap_or_default();
    match conf
        .lines()
        .map(fields)
        .find(|f| f.len() >= 4 && f[0] == "create" && f[1] == "dns_resolver")
    {
        Some(f) if f.get(4).map(String::as_str) == Some(KEY_DNS_RESOLVER) => {}
        Some(f) => {
            return Err(format!(
                "/etc/request-key.conf answers dns_resolver with `{}`, not keyutils' {KEY_DNS_RESOLVER}",
                f.join(" ")
            ))
        }
        None => {
            return Err(format!(
                "no `create dns_resolver * * {KEY_DNS_RESOLVER} %k` line in /etc/request-key.conf (keyutils' own)"
            ))
        }
    }
    if let Ok(rd) = std::fs::read_dir(host("/etc/request-key.d")) {
        for e in rd.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if text.lines().map(fields).any(|f| f.len() >= 2 && f[1] == "dns_resolver") {
                return Err(format!(
                    "/etc/request-key.d/{} has a dns_resolver line: E would not measure keyutils' {KEY_DNS_RESOLVER}",
                    e.file_name().to_string_lossy()
                ));
            }
        }
    }
    if !host("/etc/resolv.conf").exists() {
        return Err("no /etc/resolv.conf in the initial mount namespace to bind the bench's over".into());
    }
    match std::net::UdpSocket::bind((DNS_ADDR, 53)) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{DNS_ADDR}:53, the bench's DNS server's address: {e}")),
    }
}

/// The bench's resolv.conf: dnsmasq first, then up to two of the host's own
/// nameservers. dnsmasq answers every bench name, so the others are never
/// asked for them; but while the file is over the host's /etc/resolv.conf
/// (E's batches — or after a killed run, until the next run removes it) the
/// host's other lookups still work: dnsmasq refuses them (--no-resolv), or
/// is gone, and glibc moves on to the next server.
fn bench_resolv_conf() -> String {
    let mut t = format!(
        "# keel's upcall bench (xtask/src/bench_upcall.rs): its dnsmasq, then the host's own servers\nnameserver {DNS_ADDR}\n"
    );
    let host_conf = std::fs::read_to_string(host("/etc/resolv.conf")).unwrap_or_default();
    let theirs = host_conf
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver")).then(|| f.next()).flatten()
        })
        .filter(|a| *a != DNS_ADDR)
        .take(2);
    for a in theirs {
        t.push_str(&format!("nameserver {a}\n"));
    }
    t
}

/// One A query for `name` to the bench's dnsmasq: Ok when it answers
/// 10.7.7.7.
fn dns_probe(name: &str) -> Result<()> {
    let s = std::net::UdpSocket::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
    s.connect((DNS_ADDR, 53)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]); // root; A, IN
    s.send(&q).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let n = s.recv(&mut buf).map_err(|e| e.to_string())?;
    let r = &buf[..n];
    let want: Vec<u8> = DNS_ANSWER.split('.').filter_map(|x| x.parse().ok()).collect();
    if n > 12 && r[..2] == id.to_be_bytes() && r[2] & 0x80 != 0 && r[3] & 0x0f == 0 && r[7] > 0 && r.ends_with(&want) {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer ({n} bytes, rcode {})",
            r.get(3).map_or(0, |b| b & 0x0f)
        ))
    }
}

/// Starts dnsmasq in the initial namespaces and waits until it answers.
fn start_dnsmasq(dir: &Path) -> Result<()> {
    let log = dir.join("dnsmasq.log");
    let f = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let f2 = f.try_clone().map_err(|e| e.to_string())?;
    let mut c = Command::new(DNSMASQ);
    // --pid-file without a value: none written (the default is
    // /run/dnsmasq.pid, a system dnsmasq's).
    c.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--pid-file",
        "--user=nobody",
    ])
    .arg("--log-facility=-")
    .arg(format!("--listen-address={DNS_ADDR}"))
    .args(["--bind-interfaces", "--port=53", "--no-resolv", "--no-hosts"])
    .arg(format!("--address=/{DNS_DOMAIN}/{DNS_ANSWER}"))
    .arg("--local-ttl=60")
    .stdin(Stdio::null())
    .stdout(f)
    .stderr(f2)
    .process_group(0);
    in_initial(&mut c);
    let mut ch = c.spawn().map_err(|e| format!("cannot start {DNSMASQ}: {e}"))?;
    DNSMASQ_PID.store(ch.id() as i32, SeqCst);
    let mut last = String::new();
    let r = util::poll(Duration::from_secs(5), Duration::from_millis(20), || {
        if let Ok(Some(st)) = ch.try_wait() {
            DNSMASQ_PID.store(0, SeqCst);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let l = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            return Some(Err(format!("dnsmasq ended with {}: {l}", util::describe(st))));
        }
        match dns_probe(&format!("probe.{DNS_DOMAIN}")) {
            Ok(()) => Some(Ok(())),
            Err(e) => {
                last = e;
                None
            }
        }
    });
    r.unwrap_or_else(|| Err(format!("dnsmasq did not answer on {DNS_ADDR}:53 within 5 s: {last}")))
}

fn run(keel_bin: &std::result::Result<PathBuf, String>, dir: &Path, rounds: usize) -> Result<Figures> {
    let started = Instant::now();
    if !util::is_root() {
        return Err("needs root".into());
    }
    let keel_bin = keel_bin.clone()?;
    open_initial_mnt()?;
    for (p, what) in [
        ("/bin/keyctl", "keyutils' keyctl (Debian package keyutils)"),
        ("/sbin/request-key", "keyutils' request-key (Debian package keyutils)"),
    ] {
        if !host(p).is_file() {
            return Err(format!("{p} not found: {what}"));
        }
    }
    if let Some(why) = keel_serving() {
        return Err(why);
    }
    let mut notes = clean_stale()?;
    let m = mounts()?;
    if let Some(f) = m.broker_foreign {
        return Err(format!(
            "{f}, not the bench's: unmount it first (the bench bind-mounts keel's broker there)"
        ));
    }
    // E and F: n/a (with why) when they cannot run; the others go on.
    let mut dns_ok = dns_prerequisites();
    if let Err(e) = &dns_ok {
        println!("xtask: bench: upcalls: E and F (dns_resolver): n/a: {e}");
    }
    let agent = agent_for(&keel_bin)?;
    let reqloop = image::helper("reqloop")?;

    // The files: the broker's copy, the containers' request-key.conf, the specs.
    let _ = std::fs::remove_dir_all(dir);
    let config = dir.join("config");
    std::fs::create_dir_all(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let broker = dir.join(BROKER_COPY);
    std::fs::copy(&agent, &broker).map_err(|e| format!("{} → {}: {e}", agent.display(), broker.display()))?;
    let builtin_conf = dir.join("builtin.conf");
    let keyctl_conf = dir.join("keyctl.conf");
    super::write(&builtin_conf, "create user keelbench:b:* * builtin:instantiate x\n")?;
    super::write(
        &keyctl_conf,
        "create user keelbench:k:* * /bin/keyctl instantiate %k x 0\n",
    )?;
    // F: the built-in resolver named explicitly (it is also the fallback
    // when no line names dns_resolver, but without a file of its own the
    // container would read the host's request-key.conf, whose line execs
    // key.dns_resolver).
    let dns_conf = dir.join("dns.conf");
    super::write(&dns_conf, "create dns_resolver * * builtin:dns_resolver\n")?;
    let resolv = dir.join(RESOLV_COPY);
    super::write(&resolv, &bench_resolv_conf())?;
    // No root: the containers see the host's files (keyctl and its
    // libraries, reqloop, /etc/request-key.d) with their own
    // /etc/request-key.conf; sleep as PID 1 ignores SIGTERM, hence KILL.
    for (name, host_name, conf) in [(CT_BUILTIN, "kb-b", &builtin_conf), (CT_KEYCTL, "kb-k", &keyctl_conf)] {
        super::write(
            &config.join(name),
            &format!(
                "hostname {host_name}\nmount bind {} /etc/request-key.conf\nargs /bin/sleep 1000000\nstdio log\nrestart never\nstop_signal KILL\nstop_timeout 1s\n",
                conf.display()
            ),
        )?;
    }
    // F's container: keel's network namespace (the initial one, where
    // dnsmasq listens), the bench's resolv.conf.
    super::write(
        &config.join(CT_DNS),
        &format!(
            "hostname kb-d\nns net host\nmount bind {} /etc/resolv.conf\nmount bind {} /etc/request-key.conf\nargs /bin/sleep 1000000\nstdio log\nrestart never\nstop_signal KILL\nstop_timeout 1s\n",
            resolv.display(),
            dns_conf.display()
        ),
    )?;
    let broker = CString::new(broker.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let resolv = CString::new(resolv.as_os_str().as_bytes()).map_err(|e| e.to_string())?;

    let mut guard = Guard::install();
    let figures = (|| {
        // keel's run directory on a tmpfs.
        let d = host(RUN_DIR);
        std::fs::create_dir_all(&d).map_err(|e| format!("{RUN_DIR}: {e}"))?;
        if !run_dir_is_tmpfs() {
            RUN_MOUNTED.store(true, SeqCst);
            let e = mount_run();
            if e != 0 {
                RUN_MOUNTED.store(false, SeqCst);
                return Err(format!("mounting a tmpfs on {RUN_DIR}: {}", strerror(e)));
            }
            notes.push(format!(
                "{RUN_DIR} is not a tmpfs here ({} is on the root file system): the bench mounts one there for the run, as /run is on every real system — keel rewrites its status file (its upcall counters at most once a second), which on ext4 costs a flush of milliseconds",
                "/run"
            ));
        }
        CONF_INSTALLED.store(true, SeqCst);
        std::fs::write(host(HOST_CONF), HOST_LINE).map_err(|e| format!("{HOST_CONF}: {e}"))?;

        // keel, in the initial mount namespace (the broker must share it).
        let log = dir.join("keel.log");
        let logf = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let logf2 = logf.try_clone().map_err(|e| e.to_string())?;
        let mut c = Command::new(&keel_bin);
        c.arg("--config")
            .arg(&config)
            .args(["--run-dir", RUN_DIR, "--agent"])
            .arg(&agent)
            .stdin(Stdio::null())
            .stdout(logf)
            .stderr(logf2)
            .process_group(0);
        in_initial(&mut c);
        let ch = c.spawn().map_err(|e| format!("cannot start keel: {e}"))?;
        KEEL_PID.store(ch.id() as i32, SeqCst);
        let status = host(&format!("{RUN_DIR}/containers"));
        let ready = util::poll(Duration::from_secs(20), Duration::from_millis(20), || {
            let rows = demo::parse_table(&std::fs::read_to_string(&status).ok()?)?;
            let up = rows
                .iter()
                .filter(|r| {
                    r.get("state") == Some("running")
                        && r.get("agent_keyring")
                            .is_some_and(|k| k.parse::<i64>().is_ok_and(|k| k > 0))
                })
                .count();
            (up == 3).then_some(())
        });
        if ready.is_none() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            return Err(format!(
                "keel's three containers and their agents not running within 20 s: {last}"
            ));
        }
        if dns_ok.is_ok() {
            dns_ok = start_dnsmasq(dir);
            if let Err(e) = &dns_ok {
                println!("xtask: bench: upcalls: E and F (dns_resolver): n/a: {e}");
            }
        }
        let r = Run {
            guard: &guard,
            keel: keel_bin.clone(),
            reqloop: reqloop.clone(),
            broker: broker.clone(),
            resolv: resolv.clone(),
        };
        let mut samples: [Result<Vec<f64>>; NV] = std::array::from_fn(|i| match &dns_ok {
            Err(e) if ALL[i].dns() => Err(e.clone()),
            _ => Ok(Vec::new()),
        });
        let mut per_round: [Vec<Option<f64>>; NV] = Default::default();
        for v in ALL {
            if let Err(e) = r.batch(v, "w", WARMUP) {
                println!("xtask: bench: upcalls: {}: {e}", v.label());
                samples[v.index()] = Err(e);
            }
        }
        for round in 0..rounds {
            for k in 0..ALL.len() {
                let v = ALL[(round + k) % ALL.len()];
                let i = v.index();
                if samples[i].is_err() {
                    continue;
                }
                match r.batch(v, &format!("r{round}"), BATCH) {
                    Ok(xs) => {
                        let mut s = xs.clone();
                        s.sort_by(f64::total_cmp);
                        per_round[i].push(Some(quantile(&s, 0.5)));
                        if let Ok(all) = samples[i].as_mut() {
                            all.extend(xs);
                        }
                    }
                    Err(e) => {
                        println!("xtask: bench: upcalls: {}: {e}", v.label());
                        samples[i] = Err(e);
                    }
                }
            }
            for v in ALL {
                let i = v.index();
                if per_round[i].len() < round + 1 {
                    per_round[i].push(None);
                }
            }
            if (round + 1) % 10 == 0 || round + 1 == rounds {
                let med = |i: usize| match &samples[i] {
                    Ok(x) if !x.is_empty() => {
                        let mut s = x.clone();
                        s.sort_by(f64::total_cmp);
                        format!("{:.2} ms", quantile(&s, 0.5) * 1e3)
                    }
                    _ => "n/a".into(),
                };
                let all: Vec<String> = ALL
                    .iter()
                    .map(|v| format!("{} {}", v.letter(), med(v.index())))
                    .collect();
                println!(
                    "xtask: bench: upcalls: round {}/{rounds}: medians so far {}",
                    round + 1,
                    all.join(", ")
                );
            }
        }
        Ok((samples, per_round))
    })();
    notes.extend(guard.undo());
    drop(guard);
    let (samples, rounds_m) = figures?;
    Ok(Figures {
        samples,
        rounds: rounds_m,
        notes,
        took: started.elapsed(),
    })
}

// ------------------------------------------------------------ the table

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn cell(r: &Result<Vec<f64>>) -> String {
    match r {
        Ok(v) if !v.is_empty() => {
            let mut s = v.clone();
            s.sort_by(f64::total_cmp);
            format!("{} (p90 {})", ms(quantile(&s, 0.5)), ms(quantile(&s, 0.9)))
        }
        Ok(_) => "n/a (not run)".into(),
        Err(e) => format!("n/a ({e})"),
    }
}

fn median(r: &Result<Vec<f64>>) -> Option<f64> {
    match r {
        Ok(v) if !v.is_empty() => {
            let mut s = v.clone();
            s.sort_by(f64::total_cmp);
            Some(quantile(&s, 0.5))
        }
        _ => None,
    }
}

/// The median (IQR) of the per-round ratios of batch medians a/b.
fn ratio(f: &Figures, a: V, b: V) -> String {
    let (ra, rb) = (&f.rounds[a.index()], &f.rounds[b.index()]);
    let r: Vec<f64> = ra
        .iter()
        .zip(rb)
        .filter_map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) if *y > 0.0 => Some(x / y),
            _ => None,
        })
        .collect();
    if r.is_empty() || f.samples[a.index()].is_err() || f.samples[b.index()].is_err() {
        return "–".into();
    }
    let s = crate::stats::Summary::of(&r);
    format!("{:.2}× (IQR {:.2}, {} rounds)", s.median, s.iqr(), s.n)
}

/// The median (IQR) of the per-round differences of batch medians a − b.
fn difference(f: &Figures, a: V, b: V) -> String {
    let (ra, rb) = (&f.rounds[a.index()], &f.rounds[b.index()]);
    let d: Vec<f64> = ra
        .iter()
        .zip(rb)
        .filter_map(|(x, y)| Some(x.as_ref()? - y.as_ref()?))
        .collect();
    if d.is_empty() || f.samples[a.index()].is_err() || f.samples[b.index()].is_err() {
        return "not measured".into();
    }
    let s = crate::stats::Summary::of(&d);
    format!("{:+.2} ms (IQR {:.2})", s.median * 1e3, s.iqr() * 1e3)
}

fn render(r: Result<Figures>, rounds: usize) -> String {
    let f = match r {
        Ok(f) => f,
        Err(e) => {
            println!("xtask: bench: upcalls: n/a: {e}");
            return format!("Upcalls: n/a ({e})\n");
        }
    };
    let mut md = String::from(
        "| upcalls: one request_key(2), call to return (median, p90) | keel (requester in a container) | keyutils' request-key (requester on the host) | keel ÷ keyutils | target |\n|---|---|---|---|---|\n",
    );
    let [a, b, c, d, e, dns_keel] = &f.samples;
    let rows = [
        (
            "keel: built-in handler (`builtin:instantiate x`) — keyutils: no matching line, the no-rule floor",
            cell(c),
            format!("floor: {}", cell(a)),
            ratio(&f, V::Builtin, V::Floor),
            "≤ 0.93 ms (keyutils' floor when the issue was written), i.e. ≤ 1.00× the floor",
        ),
        (
            "keel: the container's exec'd `/bin/keyctl instantiate %k x 0` — keyutils: the same line on the host",
            cell(d),
            format!("keyctl: {}", cell(b)),
            ratio(&f, V::CtKeyctl, V::HostKeyctl),
            "≤ 1.37 ms (keyutils' trivial-handler time when the issue was written), i.e. ≤ 1.00× keyutils",
        ),
        (
            "keel's built-in handler vs keyutils with the keyctl handler",
            cell(c),
            format!("keyctl: {}", cell(b)),
            ratio(&f, V::Builtin, V::HostKeyctl),
            "–",
        ),
        (
            "dns_resolver, a new `*.bench.test` name, empty callout, against dnsmasq — keel: the agent's built-in resolver (`builtin:dns_resolver`) — keyutils: `/sbin/key.dns_resolver %k`",
            cell(dns_keel),
            format!("key.dns_resolver: {}", cell(e)),
            ratio(&f, V::DnsKeel, V::DnsHost),
            "≤ 0.50× keyutils (≤ 1.065 ms: half the 2.13 ms measured when the issue was written)",
        ),
    ];
    for (what, k, p, ra, t) in &rows {
        println!("xtask: bench: {what}: keel {k} | {p} | {ra}");
        md.push_str(&format!("| {what} | {k} | {p} | {ra} | {t} |\n"));
    }
    let n = |r: &Result<Vec<f64>>| r.as_ref().map_or(0, Vec::len);
    md.push_str(&format!(
        "\n{rounds} rounds × {BATCH} requests per variant (A no-rule {}, B keyctl {}, C built-in {}, D container keyctl {}, E key.dns_resolver {}, F built-in resolver {} requests); each round runs one batch of each, the order rotating; a fresh description per request, a new session keyring per batch; the ratio is the median of the per-round ratios of batch medians. Section took {}.\n\n",
        n(a),
        n(b),
        n(c),
        n(d),
        n(e),
        n(dns_keel),
        util::fmt_dur(f.took)
    ));
    let judge = |k: Option<f64>, target_ms: f64, peer: Option<f64>, peer_name: &str| match k {
        None => "not measured".to_string(),
        Some(k) => format!(
            "{} against {target_ms:.2} ms: {}; against {peer_name} of this run{}",
            ms(k),
            if k * 1e3 <= target_ms { "met" } else { "not met" },
            match peer {
                Some(p) => format!(" ({}): {}", ms(p), if k <= p { "met" } else { "not met" }),
                None => ": not measured".into(),
            }
        ),
    };
    // Issue 5's target is a ratio: keel's routed upcall at most half of
    // keyutils' in the same run.
    let dns = match (median(dns_keel), median(e)) {
        (Some(k), Some(h)) => format!(
            "{} against 0.50 × keyutils' {} of this run = {}: {}; the paired ratio {}; against 1.065 ms (half the issue's 2.13 ms): {}",
            ms(k),
            ms(h),
            ms(h / 2.0),
            if k <= h / 2.0 { "met" } else { "not met" },
            ratio(&f, V::DnsKeel, V::DnsHost),
            if k * 1e3 <= 1.065 { "met" } else { "not met" },
        ),
        _ => "not measured".into(),
    };
    md.push_str(&format!(
        "Targets — built-in handler: {}. Container keyctl: {}. dns_resolver (issue 5): {}.\n",
        judge(median(c), 0.93, median(a), "keyutils' floor"),
        judge(median(d), 1.37, median(b), "keyutils' keyctl"),
        dns,
    ));
    // Where a dns_resolver upcall's time goes: each side's lookup over its
    // own no-lookup path (the per-round differences of batch medians).
    md.push_str(&format!(
        "\ndns_resolver, the lookup over each side's path without one — keel: F − C (the same route, the built-in resolver instead of `builtin:instantiate`) {}; keyutils: E − A (key.dns_resolver's exec and glibc's lookup, over request-key finding no line) {}.\n",
        difference(&f, V::DnsKeel, V::Builtin),
        difference(&f, V::DnsHost, V::Floor),
    ));
    if !f.notes.is_empty() {
        md.push('\n');
    }
    for n in &f.notes {
        md.push_str(&format!("- note: {n}\n"));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_mounts_are_told_apart() {
        let mi = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
88 27 254:0 /work/main/target/bench/upcalls/keel-bench-request-key /usr/sbin/request-key rw,relatime - ext4 /dev/vda rw
89 27 0:41 / /run/keel rw,nosuid,nodev,noexec,relatime - tmpfs keel-bench-run rw,mode=700
90 27 0:42 / /run/other rw - tmpfs keel-bench-run rw
93 27 254:0 /work/main/target/bench/upcalls/keel-bench-resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw
94 27 254:0 /work/main/target/bench/upcalls/keel-bench-resolv.conf//deleted /run/systemd/resolve/stub-resolv.conf rw - ext4 /dev/vda rw
95 27 254:0 /docker/containers/abc/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda rw
";
        let m = parse_mounts(mi, "/usr/sbin/request-key");
        assert_eq!(
            m,
            Mounts {
                broker_ours: 1,
                broker_foreign: None,
                run_ours: 1,
                resolv_ours: vec![
                    "/etc/resolv.conf".into(),
                    "/run/systemd/resolve/stub-resolv.conf".into()
                ],
            }
        );
        // Someone's own bind mount (a path with a space) is not the bench's.
        let mi = "91 27 254:0 /srv/my\\040agent/upcall-agent /sbin/request-key rw - ext4 /dev/vda rw\n92 27 0:43 / /run/keel rw - tmpfs tmpfs rw\n";
        let m = parse_mounts(mi, "/usr/sbin/request-key");
        assert_eq!(m.broker_ours, 0);
        assert_eq!(m.run_ours, 0);
        assert!(m.resolv_ours.is_empty());
        assert_eq!(
            m.broker_foreign.as_deref(),
            Some("/sbin/request-key is a mount point (/srv/my agent/upcall-agent of ext4 /dev/vda)")
        );
    }
}
