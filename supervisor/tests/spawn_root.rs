//! Root tests of `keel_supervisor::spawn`: real namespaces, real mounts,
//! a busybox root. Run as root: `cargo test -p keel-supervisor --test
//! spawn_root`. Each test makes its own temporary directory, container
//! names and cgroup, so they run in parallel.
#![allow(clippy::field_reassign_with_default)]

use keel_supervisor::spawn::{
    self, enter, ns_inodes, read_report, signal, spawn, wait_report, EnterRequest, ExecTarget, Failure, Outcome,
    SpawnRequest, Spawned, Step, FAULT_ERRNO,
};
use keel_supervisor::spec::{
    mflags, Caps, Dev, IdMap, Mount, MountKind, NsKind, NsMode, Rlimit, Root, Spec, TimeOffsets, DEFAULT_CAPS,
};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ALL_CAPS: u64 = (1u64 << 41) - 1;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_CHOWN: u64 = 1;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// std's File as rustix's OwnedFd (rustix is built without std here).
fn owned(f: fs::File) -> OwnedFd {
    use std::os::fd::IntoRawFd;
    // SAFETY: into_raw_fd hands over sole ownership of an open fd.
    unsafe { rustix::fd::FromRawFd::from_raw_fd(f.into_raw_fd()) }
}

fn c(s: &str) -> &'static CStr {
    Box::leak(CString::new(s).unwrap().into_boxed_c_str())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A temporary directory with a busybox root (`root/`) and an output
/// directory (`out/`, mode 0777, bound at /out in the containers).
struct Tmp {
    dir: PathBuf,
}

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(format!("/tmp/keel-spawn-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("root");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "out", "run", "ro"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::copy("/bin/busybox", root.join("bin/busybox")).expect("/bin/busybox (apt-get install busybox-static)");
        let list = std::process::Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8(list.stdout).unwrap().lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
            }
        }
        fs::write(root.join("marker"), b"inside-root\n").unwrap();
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
        Tmp { dir }
    }
    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }
    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }
    fn read_out(&self, name: &str) -> String {
        fs::read_to_string(self.out().join(name)).unwrap_or_default()
    }
    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
    fn log_file(&self) -> OwnedFd {
        let f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .unwrap();
        owned(f)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A container's spec over `t`'s root: bind root, minimal /dev, proc,
/// /out bound read-write, `sh -c script`.
fn spec_for(t: &Tmp, script: &str) -> Spec<'static> {
    let mut s = Spec::default();
    s.root = Root::Bind {
        path: c(t.root().to_str().unwrap()),
        readonly: false,
    };
    s.dev = Dev::Minimal;
    s.mounts
        .push(Mount {
            kind: MountKind::Proc,
            target: c("/proc"),
            flags: mflags::NOSUID | mflags::NODEV | mflags::NOEXEC,
            data: None,
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Bind {
                source: c(t.out().to_str().unwrap()),
                recursive: false,
            },
            target: c("/out"),
            flags: 0,
            data: None,
        })
        .unwrap();
    for a in ["/bin/sh", "-c", script] {
        s.process.args.push(c(a)).unwrap();
    }
    s.process.env.push(c("PATH=/bin")).unwrap();
    s
}

/// A container whose init is `sleep` itself (no shell in between: the
/// exec'd program is the one /proc/PID/status describes).
fn sleeper(t: &Tmp) -> Spec<'static> {
    let mut s = spec_for(t, "");
    s.process.args.clear();
    s.process.args.push(c("/bin/sleep")).unwrap();
    s.process.args.push(c("1000")).unwrap();
    s
}

/// User namespace: 0..65536 inside = 100000.. outside.
fn with_userns(s: &mut Spec<'static>) {
    s.ns.modes[NsKind::User.index()] = NsMode::New;
    s.uid_map
        .push(IdMap {
            inside: 0,
            outside: 100000,
            count: 65536,
        })
        .unwrap();
    s.gid_map
        .push(IdMap {
            inside: 0,
            outside: 100000,
            count: 65536,
        })
        .unwrap();
}

/// A cgroup2 directory, removed when dropped (after its processes are gone).
struct CgDir(PathBuf);

impl CgDir {
    fn new(dir: PathBuf) -> CgDir {
        fs::create_dir(&dir).unwrap();
        CgDir(dir)
    }
}

impl Drop for CgDir {
    fn drop(&mut self) {
        let t0 = Instant::now();
        while fs::remove_dir(&self.0).is_err() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A running child that is killed and reaped if the test ends early.
struct Running {
    sp: Option<Spawned>,
}

impl Running {
    fn pid(&self) -> i32 {
        self.sp.as_ref().unwrap().pid
    }
    fn pidfd(&self) -> BorrowedFd<'_> {
        self.sp.as_ref().unwrap().pidfd.as_fd()
    }
    fn report(&self) -> BorrowedFd<'_> {
        self.sp.as_ref().unwrap().report.as_fd()
    }
    /// Waits for the report (exec or failure).
    fn outcome(&self) -> Outcome {
        wait_report(self.report(), Some(20_000))
    }
    /// Waits for the exit; returns the exit status (128+N for a signal).
    fn wait(mut self) -> i32 {
        let sp = self.sp.take().unwrap();
        wait_exit(&sp.pidfd)
    }
    fn kill(self) -> i32 {
        signal(self.pidfd(), 9).unwrap();
        self.wait()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(sp) = self.sp.take() {
            let _ = signal(&sp.pidfd, 9);
            wait_exit(&sp.pidfd);
        }
    }
}

fn wait_exit(pidfd: &OwnedFd) -> i32 {
    loop {
        match rustix::process::waitid(
            rustix::process::WaitId::PidFd(pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        ) {
            Ok(Some(st)) => {
                if let Some(code) = st.exit_status() {
                    return code;
                }
                return 128 + st.terminating_signal().unwrap_or(0);
            }
            Ok(None) => continue,
            Err(Errno::INTR) => continue,
            Err(e) => panic!("waitid: {e}"),
        }
    }
}

#[derive(Default)]
struct Io<'a> {
    stdout: Option<BorrowedFd<'a>>,
    ready: Option<BorrowedFd<'a>>,
    cgroup: Option<BorrowedFd<'a>>,
    share: [Option<BorrowedFd<'a>>; 8],
    fault: Option<u16>,
}

fn start(spec: &Spec<'_>, io: Io<'_>) -> Result<Running, Failure> {
    let req = SpawnRequest {
        name: b"test",
        spec,
        cgroup: io.cgroup,
        share: io.share,
        stdin: None,
        stdout: io.stdout,
        stderr: io.stdout,
        ready: io.ready,
        fault: io.fault,
    };
    spawn(&req).map(|sp| Running { sp: Some(sp) })
}

/// Starts, expects exec, waits for exit 0.
fn run_ok(t: &Tmp, spec: &Spec<'_>) {
    let log = t.log_file();
    let r = start(
        spec,
        Io {
            stdout: Some(log.as_fd()),
            ..Io::default()
        },
    )
    .expect("spawn");
    let o = r.outcome();
    assert_eq!(o, Outcome::Execd, "outcome; log: {}", t.log());
    let code = r.wait();
    assert_eq!(code, 0, "exit status; log: {}", t.log());
}

fn wait_for(path: &Path) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "timed out waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn status_field(pid: i32, field: &str) -> String {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"))
}

fn cap_field(pid: i32, field: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, field), 16).unwrap()
}

fn render(f: &Failure, spec: Option<&Spec<'_>>) -> String {
    let mut l = keel_rt::Line::new();
    f.render(b"web", spec, &mut l);
    String::from_utf8(l.as_bytes().to_vec()).unwrap()
}

fn expect_failed(r: Running) -> Failure {
    let o = r.outcome();
    let f = match o {
        Outcome::Failed(f) => f,
        o => panic!("expected a failure, got {o:?}"),
    };
    let report = r.sp.as_ref().unwrap().report.try_clone().unwrap();
    assert_eq!(r.wait(), 127);
    // End of file once the child is gone (a parallel test's child may hold
    // the write end for a moment while it sets up).
    assert_eq!(
        wait_report(&report, Some(10_000)),
        Outcome::Execd,
        "end of file after the report"
    );
    assert_eq!(read_report(&report), Outcome::Execd);
    f
}

// ------------------------------------------------------------------ tests

#[test]
fn user_namespace_container_is_isolated() {
    need_root!();
    let t = Tmp::new("iso");
    let script = "hostname > /out/hostname; ls / > /out/ls; test -e /usr && echo yes > /out/usr; \
                  cat /sys/class/net/lo/flags > /out/loflags; umount -l / 2> /out/umount; echo $? >> /out/umount; \
                  id -u > /out/uid; touch /out/done; exec sleep 1000";
    let mut s = spec_for(&t, script);
    with_userns(&mut s);
    s.hostname = Some(c("keel-iso"));
    s.caps = Caps {
        bounding: ALL_CAPS,
        effective: ALL_CAPS,
        permitted: ALL_CAPS,
        inheritable: 0,
        ambient: 0,
    };
    s.mounts
        .push(Mount {
            kind: MountKind::Sysfs,
            target: c("/sys"),
            flags: mflags::RDONLY,
            data: None,
        })
        .unwrap();
    let log = t.log_file();
    let r = start(
        &s,
        Io {
            stdout: Some(log.as_fd()),
            ..Io::default()
        },
    )
    .expect("spawn");
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    wait_for(&t.out().join("done"));

    // Every new namespace differs from ours; time (host) is ours.
    let ours = ns_inodes(0);
    let theirs = ns_inodes(r.pid());
    for k in NsKind::ALL {
        let i = k.index();
        assert_ne!(theirs[i], 0, "{}", k.name());
        if k == NsKind::Time {
            assert_eq!(theirs[i], ours[i], "time is shared with the host");
        } else {
            assert_ne!(theirs[i], ours[i], "{} namespace is new", k.name());
        }
    }
    assert_eq!(t.read_out("hostname").trim(), "keel-iso");
    let ls = t.read_out("ls");
    assert!(ls.contains("marker") && ls.contains("bin"), "ls /: {ls}");
    assert!(
        !ls.contains("usr") && t.read_out("usr").is_empty(),
        "host files visible: {ls}"
    );
    // lo: IFF_UP | IFF_LOOPBACK.
    assert_eq!(t.read_out("loflags").trim(), "0x9");
    // umount2("/", MNT_DETACH) fails after pivot_root: the lock moved.
    let um = t.read_out("umount");
    assert!(um.contains("Invalid argument"), "umount -l /: {um}");
    assert_eq!(um.lines().last(), Some("1"));
    // uid 0 inside is host uid 100000.
    assert_eq!(t.read_out("uid").trim(), "0");
    assert_eq!(fs::metadata(t.out().join("done")).unwrap().uid(), 100000);
    assert!(
        status_field(r.pid(), "Uid").starts_with("100000\t"),
        "{}",
        status_field(r.pid(), "Uid")
    );
    assert!(status_field(r.pid(), "Gid").starts_with("100000\t"));
    // pid 1 of its own pid namespace.
    let nspid = status_field(r.pid(), "NSpid");
    assert!(nspid.ends_with("\t1"), "NSpid {nspid}");
    assert_eq!(r.kill(), 128 + 9);
}

#[test]
fn host_user_container_and_shared_time() {
    need_root!();
    let t = Tmp::new("hostuser");
    let script = "hostname > /out/hostname; echo $$ > /out/pid; cat /proc/self/cgroup > /out/cgroup; exit 0";
    let mut s = spec_for(&t, script);
    s.hostname = Some(c("keel-host"));
    run_ok(&t, &s);
    assert_eq!(t.read_out("hostname").trim(), "keel-host");
    assert_eq!(t.read_out("pid").trim(), "1");
    // The host's hostname is untouched.
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(),
        "keel-host"
    );
}

#[test]
fn capabilities_of_root_and_non_root() {
    need_root!();
    let t = Tmp::new("caps");
    // Root: effective/permitted from the spec do not matter, the bounding
    // set does.
    let mut s = sleeper(&t);
    s.caps = Caps {
        bounding: DEFAULT_CAPS,
        effective: CAP_CHOWN,
        permitted: CAP_CHOWN,
        inheritable: 0,
        ambient: 0,
    };
    let r = start(&s, Io::default()).unwrap();
    assert_eq!(r.outcome(), Outcome::Execd);
    let pid = r.pid();
    assert_eq!(cap_field(pid, "CapBnd"), DEFAULT_CAPS);
    assert_eq!(cap_field(pid, "CapEff"), DEFAULT_CAPS);
    assert_eq!(cap_field(pid, "CapPrm"), DEFAULT_CAPS);
    assert_eq!(cap_field(pid, "CapInh"), 0);
    assert_eq!(cap_field(pid, "CapAmb"), 0);
    assert_eq!(status_field(pid, "NoNewPrivs"), "0");
    r.kill();

    // Non-root: only ambient survives execve.
    let mut s = sleeper(&t);
    s.process.uid = 1000;
    s.process.gid = 1000;
    s.process.groups.push(1001).unwrap();
    s.no_new_privs = true;
    s.caps = Caps {
        bounding: DEFAULT_CAPS,
        effective: DEFAULT_CAPS,
        permitted: DEFAULT_CAPS,
        inheritable: 0,
        ambient: CAP_NET_BIND_SERVICE,
    };
    // Like keel, block every signal (and the Rust runtime ignores SIGPIPE):
    // the init must start with an empty mask and default dispositions.
    let old = keel_rt::sys::sigprocmask(keel_rt::sys::SIG_SETMASK, Some(&keel_rt::sys::SigSet::FULL)).unwrap();
    let r = start(&s, Io::default());
    keel_rt::sys::sigprocmask(keel_rt::sys::SIG_SETMASK, Some(&old)).unwrap();
    let r = r.unwrap();
    assert_eq!(r.outcome(), Outcome::Execd);
    let pid = r.pid();
    assert_eq!(cap_field(pid, "CapBnd"), DEFAULT_CAPS);
    assert_eq!(cap_field(pid, "CapEff"), CAP_NET_BIND_SERVICE);
    assert_eq!(cap_field(pid, "CapPrm"), CAP_NET_BIND_SERVICE);
    assert_eq!(cap_field(pid, "CapInh"), CAP_NET_BIND_SERVICE);
    assert_eq!(cap_field(pid, "CapAmb"), CAP_NET_BIND_SERVICE);
    assert!(status_field(pid, "Uid").starts_with("1000\t"));
    assert!(status_field(pid, "Gid").starts_with("1000\t"));
    assert_eq!(status_field(pid, "Groups"), "1001");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    // Signals: nothing blocked or ignored after keel's all-blocked mask.
    assert_eq!(status_field(pid, "SigBlk"), "0000000000000000");
    assert_eq!(status_field(pid, "SigIgn"), "0000000000000000");
    r.kill();

    // Non-root in a user namespace: the same rule.
    let mut s = sleeper(&t);
    with_userns(&mut s);
    s.process.uid = 1000;
    s.process.gid = 1000;
    s.caps.ambient = CAP_NET_BIND_SERVICE;
    let r = start(&s, Io::default()).unwrap();
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    assert_eq!(cap_field(r.pid(), "CapEff"), CAP_NET_BIND_SERVICE);
    assert!(status_field(r.pid(), "Uid").starts_with("101000\t"));
    r.kill();
}

#[test]
fn mounts_dev_masks_and_readonly_paths() {
    need_root!();
    let t = Tmp::new("mounts");
    let data = t.dir.join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("file"), b"host data\n").unwrap();
    let hostfile = t.dir.join("single");
    fs::write(&hostfile, b"one file\n").unwrap();
    let script = "test -c /dev/null && echo null-ok > /out/dev; echo x > /dev/null && echo write-ok >> /out/dev; \
        head -c 4 /dev/zero | wc -c >> /out/dev; readlink /dev/ptmx >> /out/dev; readlink /dev/fd >> /out/dev; \
        test -c /dev/pts/ptmx && echo pts-ok >> /out/dev; \
        cat /data/file > /out/data; touch /data/new 2> /out/data-w; cat /etc/single > /out/single; \
        cat /proc/timer_list > /out/timer_list 2>&1; ls /proc/acpi /sys/firmware > /out/firmware 2>&1; \
        echo 1 2> /out/procsys > /proc/sys/kernel/sem; touch /out/done; exec sleep 1000";
    let mut s = spec_for(&t, script);
    s.mounts
        .push(Mount {
            kind: MountKind::Tmpfs,
            target: c("/run/deep/er"),
            flags: mflags::NOSUID | mflags::NODEV,
            data: Some(c("size=1m,mode=0710")),
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Bind {
                source: c(data.to_str().unwrap()),
                recursive: false,
            },
            target: c("/data"),
            flags: mflags::RDONLY | mflags::NOEXEC,
            data: None,
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Bind {
                source: c(hostfile.to_str().unwrap()),
                recursive: false,
            },
            target: c("/etc/single"),
            flags: 0,
            data: None,
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Sysfs,
            target: c("/sys"),
            flags: mflags::RDONLY,
            data: None,
        })
        .unwrap();
    s.masked.push(c("/proc/timer_list")).unwrap();
    s.masked.push(c("/proc/acpi")).unwrap();
    s.masked.push(c("/sys/firmware")).unwrap();
    s.masked.push(c("/does/not/exist")).unwrap();
    s.readonly.push(c("/proc/sys")).unwrap();
    s.readonly.push(c("/nope")).unwrap();
    let log = t.log_file();
    let r = start(
        &s,
        Io {
            stdout: Some(log.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    wait_for(&t.out().join("done"));

    let mi = fs::read_to_string(format!("/proc/{}/mountinfo", r.pid())).unwrap();
    let line = |target: &str| -> String {
        mi.lines()
            .rfind(|l| l.split(' ').nth(4) == Some(target))
            .unwrap_or_else(|| panic!("{target} not mounted:\n{mi}"))
            .to_string()
    };
    let opts = |target: &str| line(target).split(' ').nth(5).unwrap().to_string();
    let fstype = |target: &str| {
        line(target)
            .split(" - ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(fstype("/"), "ext4", "root: {}", line("/"));
    assert_eq!(fstype("/proc"), "proc");
    assert_eq!(fstype("/dev"), "tmpfs");
    assert!(opts("/dev").contains("nosuid"));
    assert_eq!(fstype("/dev/pts"), "devpts");
    assert_eq!(fstype("/dev/shm"), "tmpfs");
    assert_eq!(fstype("/dev/null"), "devtmpfs");
    assert_eq!(fstype("/run/deep/er"), "tmpfs");
    let run = opts("/run/deep/er");
    assert!(
        run.contains("nosuid") && run.contains("nodev") && !run.contains("ro"),
        "{run}"
    );
    assert!(line("/run/deep/er").contains("mode=710"), "{}", line("/run/deep/er"));
    let d = opts("/data");
    assert!(d.starts_with("ro,") && d.contains("noexec"), "/data: {d}");
    assert!(opts("/proc/sys").starts_with("ro,"), "/proc/sys: {}", opts("/proc/sys"));
    assert_eq!(fstype("/proc/timer_list"), "devtmpfs", "timer_list masked by /dev/null");
    assert_eq!(fstype("/proc/acpi"), "tmpfs");
    assert_eq!(fstype("/sys/firmware"), "tmpfs");
    assert!(opts("/sys/firmware").starts_with("ro,"));
    assert!(!mi.contains("/does/not/exist") && !mi.contains(" /nope "));

    let dev = t.read_out("dev");
    assert_eq!(
        dev, "null-ok\nwrite-ok\n4\npts/ptmx\n/proc/self/fd\npts-ok\n",
        "dev: {dev}"
    );
    assert_eq!(t.read_out("data"), "host data\n");
    assert!(t.read_out("data-w").contains("Read-only"), "{}", t.read_out("data-w"));
    assert!(!data.join("new").exists());
    assert_eq!(t.read_out("single"), "one file\n");
    assert_eq!(t.read_out("timer_list"), "");
    assert_eq!(t.read_out("firmware"), "/proc/acpi:\n\n/sys/firmware:\n");
    assert!(t.read_out("procsys").contains("Read-only"), "{}", t.read_out("procsys"));
    // Mount points were created inside the root, not on the host.
    assert!(t.root().join("run/deep/er").is_dir());
    assert!(t.root().join("etc/single").is_file());
    assert!(!Path::new("/run/deep/er").exists());
    r.kill();
}

#[test]
fn mount_target_symlink_stays_inside_the_root() {
    need_root!();
    let t = Tmp::new("symlink");
    // The image points /escape at a host directory (absolute): the path is
    // resolved inside the root, where it does not exist; nothing is
    // created on the host.
    let victim = t.dir.join("victim");
    fs::create_dir_all(&victim).unwrap();
    std::os::unix::fs::symlink(&victim, t.root().join("escape")).unwrap();
    let mut s = spec_for(&t, "exit 0");
    s.mounts
        .push(Mount {
            kind: MountKind::Tmpfs,
            target: c("/escape/x"),
            flags: 0,
            data: None,
        })
        .unwrap();
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::MountPoint(2),
            errno: Errno::NOENT
        }
    );
    assert!(!victim.join("x").exists(), "mount point created outside the root");

    // A symlink to /tmp and a relative one through ..: both land in the
    // root's /tmp, not the host's.
    let unique = format!(
        "keel-escape-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    std::os::unix::fs::symlink("/tmp", t.root().join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../tmp", t.root().join("etc/rel")).unwrap();
    let mut s = spec_for(&t, "grep -c keel-escape /proc/self/mountinfo > /out/n");
    let a = format!("/abs/{unique}-a");
    let b = format!("/etc/rel/{unique}-b");
    s.mounts
        .push(Mount {
            kind: MountKind::Tmpfs,
            target: c(&a),
            flags: 0,
            data: None,
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Tmpfs,
            target: c(&b),
            flags: 0,
            data: None,
        })
        .unwrap();
    run_ok(&t, &s);
    assert_eq!(t.read_out("n").trim(), "2");
    assert!(t.root().join(format!("tmp/{unique}-a")).is_dir());
    assert!(t.root().join(format!("tmp/{unique}-b")).is_dir());
    assert!(!Path::new(&format!("/tmp/{unique}-a")).exists());
    assert!(!Path::new(&format!("/tmp/{unique}-b")).exists());
}

#[test]
fn time_namespace_offsets() {
    need_root!();
    let t = Tmp::new("time");
    let mut s = spec_for(&t, "cat /proc/uptime > /out/uptime; touch /out/done; exec sleep 1000");
    s.ns.modes[NsKind::Time.index()] = NsMode::New;
    s.time_offsets = Some(TimeOffsets {
        monotonic: 10 * 86400,
        boottime: 20 * 86400,
    });
    let r = start(&s, Io::default()).unwrap();
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    wait_for(&t.out().join("done"));
    let up: f64 = t.read_out("uptime").split(' ').next().unwrap().parse().unwrap();
    let host_up: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(up >= host_up + 20.0 * 86400.0 - 5.0, "uptime {up} vs host {host_up}");
    let offs = fs::read_to_string(format!("/proc/{}/timens_offsets", r.pid())).unwrap();
    let offs: Vec<Vec<&str>> = offs.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        offs,
        vec![vec!["monotonic", "864000", "0"], vec!["boottime", "1728000", "0"]]
    );
    assert_ne!(
        ns_inodes(r.pid())[NsKind::Time.index()],
        ns_inodes(0)[NsKind::Time.index()]
    );
    r.kill();
}

#[test]
fn sysctl_rlimit_oom_cwd_umask_env_ready() {
    need_root!();
    let t = Tmp::new("misc");
    let script =
        "cat /proc/sys/net/ipv4/ip_forward > /out/fwd; ulimit -n > /out/nofile; pwd > /out/pwd; umask > /out/umask; \
                  echo \"$FOO\" > /out/env; cat /proc/self/oom_score_adj > /out/oom; echo ready >&3; exit 0";
    let mut s = spec_for(&t, script);
    s.sysctls.push((c("net.ipv4.ip_forward"), c("1"))).unwrap();
    s.rlimits
        .push(Rlimit {
            resource: 7,
            soft: 100,
            hard: 200,
        })
        .unwrap();
    s.process.oom_score_adj = Some(500);
    s.process.cwd = Some(c("/tmp"));
    s.process.umask = 0o027;
    s.process.env.push(c("FOO=bar baz")).unwrap();
    s.ready_fd = Some(3);
    let (ready_r, ready_w) = rustix::pipe::pipe().unwrap();
    let log = t.log_file();
    let host_fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let r = start(
        &s,
        Io {
            stdout: Some(log.as_fd()),
            ready: Some(ready_w.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    drop(ready_w);
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    let mut buf = [0u8; 16];
    let n = rustix::io::read(&ready_r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"ready\n");
    assert_eq!(r.wait(), 0, "log: {}", t.log());
    assert_eq!(t.read_out("fwd").trim(), "1");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd,
        "host sysctl untouched"
    );
    assert_eq!(t.read_out("nofile").trim(), "100");
    assert_eq!(t.read_out("oom").trim(), "500");
    assert_eq!(t.read_out("pwd").trim(), "/tmp");
    assert_eq!(t.read_out("umask").trim(), "0027");
    assert_eq!(t.read_out("env").trim(), "bar baz");
}

#[test]
fn cgroup_placement_and_namespace() {
    need_root!();
    let base = Path::new("/sys/fs/cgroup/unified");
    if !base.join("cgroup.procs").exists() {
        eprintln!("skipped: no cgroup2 at {}", base.display());
        return;
    }
    let name = format!(
        "keel-spawn-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let dir = base.join(&name);
    let cgdir = CgDir::new(dir.clone());
    let cg = owned(fs::File::open(&dir).unwrap());
    let t = Tmp::new("cgroup");
    let mut s = spec_for(
        &t,
        "cat /proc/self/cgroup > /out/cgroup; touch /out/done; exec sleep 1000",
    );
    let log = t.log_file();
    let r = start(
        &s,
        Io {
            stdout: Some(log.as_fd()),
            cgroup: Some(cg.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(r.outcome(), Outcome::Execd);
    wait_for(&t.out().join("done"));
    let host_view = fs::read_to_string(format!("/proc/{}/cgroup", r.pid())).unwrap();
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == r.pid().to_string()), "cgroup.procs: {procs}");
    r.kill();
    assert!(
        host_view.lines().any(|l| l == format!("0::/{name}")),
        "host view: {host_view}"
    );
    // The container's cgroup namespace starts at its cgroup.
    assert!(
        t.read_out("cgroup").lines().any(|l| l == "0::/"),
        "inside: {}",
        t.read_out("cgroup")
    );
    // Host cgroup namespace: the container sees its real path.
    s.ns.modes[NsKind::Cgroup.index()] = NsMode::Host;
    s.process.args.pop();
    s.process
        .args
        .push(c("cat /proc/self/cgroup > /out/cgroup; exit 0"))
        .unwrap();
    run_ok_cg(&t, &s, &cg);
    assert!(
        t.read_out("cgroup").lines().any(|l| l == format!("0::/{name}")),
        "{}",
        t.read_out("cgroup")
    );
    drop(cgdir);
    assert!(!dir.exists(), "cgroup {} left behind", dir.display());
}

fn run_ok_cg(t: &Tmp, s: &Spec<'_>, cg: &OwnedFd) {
    let log = t.log_file();
    let r = start(
        s,
        Io {
            stdout: Some(log.as_fd()),
            cgroup: Some(cg.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(r.outcome(), Outcome::Execd);
    assert_eq!(r.wait(), 0, "log: {}", t.log());
}

#[test]
fn real_failures_are_reported_with_their_step() {
    need_root!();
    let t = Tmp::new("fail");

    // A root that does not exist.
    let mut s = spec_for(&t, "exit 0");
    s.root = Root::Bind {
        path: c("/nonexistent/keel-root"),
        readonly: false,
    };
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Root,
            errno: Errno::NOENT
        }
    );
    assert_eq!(
        render(&f, Some(&s)),
        "keel: container web: bind the root /nonexistent/keel-root onto itself: ENOENT (the root directory does not exist)"
    );

    // A program that is not in PATH.
    let mut s = spec_for(&t, "");
    s.process.args.clear();
    s.process.args.push(c("no-such-program")).unwrap();
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Exec,
            errno: Errno::NOENT
        }
    );
    assert_eq!(
        render(&f, Some(&s)),
        "keel: container web: execute no-such-program: ENOENT (not found in PATH inside the container)"
    );

    // A mount point below a regular file.
    let mut s = spec_for(&t, "exit 0");
    s.mounts
        .push(Mount {
            kind: MountKind::Tmpfs,
            target: c("/marker/sub"),
            flags: 0,
            data: None,
        })
        .unwrap();
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::MountPoint(2),
            errno: Errno::NOTDIR
        }
    );
    let line = render(&f, Some(&s));
    assert_eq!(
        line,
        format!(
            "keel: container web: create the mount point {}/marker/sub: ENOTDIR",
            t.root().display()
        )
    );

    // A bind source that does not exist names the mount.
    let mut s = spec_for(&t, "exit 0");
    s.mounts
        .push(Mount {
            kind: MountKind::Bind {
                source: c("/nonexistent/src"),
                recursive: true,
            },
            target: c("/x"),
            flags: 0,
            data: None,
        })
        .unwrap();
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Mount(2),
            errno: Errno::NOENT
        }
    );
    assert!(
        render(&f, Some(&s)).contains(": mount rbind /nonexistent/src on "),
        "{}",
        render(&f, Some(&s))
    );

    // An unknown sysctl.
    let mut s = spec_for(&t, "exit 0");
    s.sysctls.push((c("net.ipv4.no_such_knob"), c("1"))).unwrap();
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Sysctl(0),
            errno: Errno::NOENT
        }
    );
    assert_eq!(
        render(&f, Some(&s)),
        "keel: container web: sysctl net.ipv4.no_such_knob=1: ENOENT"
    );

    // A sysctl key that tries to leave /proc/sys.
    let mut s = spec_for(&t, "exit 0");
    s.sysctls.push((c("net/../../../etc/passwd"), c("x"))).unwrap();
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Sysctl(0),
            errno: Errno::INVAL
        }
    );

    // uid not mapped in the user namespace.
    let mut s = spec_for(&t, "exit 0");
    with_userns(&mut s);
    s.process.uid = 70000;
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Uid,
            errno: Errno::INVAL
        }
    );
    assert_eq!(
        render(&f, Some(&s)),
        "keel: container web: setresuid 70000: EINVAL (the id is not mapped in the container's user namespace)"
    );

    // Mount work without a new mount namespace.
    let mut s = spec_for(&t, "exit 0");
    s.ns.modes[NsKind::Mnt.index()] = NsMode::Host;
    let f = expect_failed(start(&s, Io::default()).unwrap());
    assert_eq!(
        f,
        Failure {
            step: Step::Propagation,
            errno: Errno::INVAL
        }
    );

    // Parent side: no args, a missing share.
    let mut s = spec_for(&t, "exit 0");
    s.process.args.clear();
    assert_eq!(
        start(&s, Io::default()).err(),
        Some(Failure {
            step: Step::Exec,
            errno: Errno::INVAL
        })
    );
    let mut s = spec_for(&t, "exit 0");
    s.ns.modes[NsKind::Net.index()] = NsMode::Share(c("other"));
    let f = start(&s, Io::default()).err().unwrap();
    assert_eq!(
        f,
        Failure {
            step: Step::Setns(NsKind::Net),
            errno: Errno::BADF
        }
    );
    assert_eq!(
        render(&f, Some(&s)),
        "keel: container web: join the net namespace of container other: EBADF (the container to share with is not running)"
    );
}

/// Every step on the way of a full-featured container, failed on purpose
/// one at a time: each comes back as itself, parent-side ones from spawn,
/// child-side ones through the report pipe.
#[test]
fn every_step_reports_itself() {
    need_root!();
    let t = Tmp::new("steps");
    let mut s = spec_for(&t, "exit 0");
    with_userns(&mut s);
    s.hostname = Some(c("steps"));
    s.ns.modes[NsKind::Time.index()] = NsMode::New;
    s.time_offsets = Some(TimeOffsets {
        monotonic: 1,
        boottime: 2,
    });
    s.mounts
        .push(Mount {
            kind: MountKind::Sysfs,
            target: c("/sys"),
            flags: mflags::RDONLY,
            data: None,
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Tmpfs,
            target: c("/run"),
            flags: mflags::NOSUID,
            data: None,
        })
        .unwrap();
    s.mounts
        .push(Mount {
            kind: MountKind::Bind {
                source: c(t.out().to_str().unwrap()),
                recursive: false,
            },
            target: c("/ro"),
            flags: mflags::RDONLY,
            data: None,
        })
        .unwrap();
    s.masked.push(c("/proc/timer_list")).unwrap();
    s.readonly.push(c("/proc/sys")).unwrap();
    s.sysctls.push((c("net.ipv4.ip_forward"), c("1"))).unwrap();
    s.rlimits
        .push(Rlimit {
            resource: 7,
            soft: 64,
            hard: 64,
        })
        .unwrap();
    s.process.oom_score_adj = Some(100);
    s.process.cwd = Some(c("/tmp"));
    s.process.uid = 1000;
    s.process.gid = 1000;
    s.process.groups.push(1000).unwrap();
    s.caps.ambient = CAP_NET_BIND_SERVICE;
    s.no_new_privs = true;
    s.root = Root::Bind {
        path: c(t.root().to_str().unwrap()),
        readonly: true,
    };
    s.ready_fd = Some(3);
    let (_ready_r, ready_w) = rustix::pipe::pipe().unwrap();

    // First without a fault: it must run.
    let log = t.log_file();
    let r = start(
        &s,
        Io {
            stdout: Some(log.as_fd()),
            ready: Some(ready_w.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    assert_eq!(r.wait(), 0, "log: {}", t.log());

    let parent = [
        Step::Pipe,
        Step::Clone,
        Step::UidMap,
        Step::GidMap,
        Step::OomScoreAdj,
        Step::Release,
    ];
    let mut child = vec![
        Step::Sync,
        Step::Fds,
        Step::DevNull,
        Step::TimeOffsets,
        Step::IdRoot,
        Step::Propagation,
        Step::Root,
        Step::DevTmpfs,
        Step::DevPts,
        Step::DevShm,
        Step::Mask(0),
        Step::Readonly(0),
        Step::Sysctl(0),
        Step::PivotRoot,
        Step::DetachOldRoot,
        Step::RootReadonly,
        Step::Loopback,
        Step::Hostname,
        Step::Cwd,
        Step::Rlimit(0),
        Step::Bounding(21),
        Step::KeepCaps,
        Step::Groups,
        Step::Gid,
        Step::Uid,
        Step::Capset,
        Step::Ambient(10),
        Step::NoNewPrivs,
        Step::Signals,
        Step::Setsid,
        Step::Stdio,
        Step::ReadyFd,
        Step::CloseFds,
        Step::Exec,
    ];
    for i in 0..spawn::DEV_NODES.len() as u8 {
        child.push(Step::DevNode(i));
    }
    for i in 0..spawn::DEV_LINKS.len() as u8 {
        child.push(Step::DevLink(i));
    }
    for i in 0..s.mounts.len() as u8 {
        child.push(Step::MountPoint(i));
        child.push(Step::Mount(i));
    }
    child.push(Step::MountRemount(4));
    // DevNull is opened only for unset stdio: leave stdout unset there.
    for step in parent {
        let r = start(
            &s,
            Io {
                fault: Some(step.id()),
                ready: Some(ready_w.as_fd()),
                ..Io::default()
            },
        );
        assert_eq!(
            r.err(),
            Some(Failure {
                step,
                errno: FAULT_ERRNO
            }),
            "{step:?}"
        );
    }
    for step in child {
        let r = start(
            &s,
            Io {
                fault: Some(step.id()),
                ready: Some(ready_w.as_fd()),
                ..Io::default()
            },
        )
        .unwrap_or_else(|f| panic!("{step:?}: spawn failed: {f:?}"));
        let f = expect_failed(r);
        assert_eq!(
            f,
            Failure {
                step,
                errno: FAULT_ERRNO
            },
            "{step:?}"
        );
        let line = render(&f, Some(&s));
        assert!(
            line.starts_with("keel: container web: ") && line.ends_with(": ECANCELED"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
}

#[test]
fn shared_namespaces_with_host_user() {
    need_root!();
    let t = Tmp::new("share");
    let mut a = spec_for(&t, "exec sleep 1000");
    a.hostname = Some(c("owner"));
    let ra = start(&a, Io::default()).unwrap();
    assert_eq!(ra.outcome(), Outcome::Execd);

    let mut b = spec_for(&t, "hostname > /out/b-hostname; echo $$ > /out/b-pid; exec sleep 1000");
    for k in [NsKind::Net, NsKind::Uts, NsKind::Ipc, NsKind::Pid] {
        b.ns.modes[k.index()] = NsMode::Share(c("owner"));
    }
    let mut share = [None; 8];
    for k in [NsKind::Net, NsKind::Uts, NsKind::Ipc, NsKind::Pid] {
        share[k.index()] = Some(ra.pidfd());
    }
    let log = t.log_file();
    let rb = start(
        &b,
        Io {
            stdout: Some(log.as_fd()),
            share,
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(rb.outcome(), Outcome::Execd, "log: {}", t.log());
    wait_for(&t.out().join("b-pid"));
    let (ia, ib) = (ns_inodes(ra.pid()), ns_inodes(rb.pid()));
    for k in [NsKind::Net, NsKind::Uts, NsKind::Ipc, NsKind::Pid] {
        assert_eq!(ia[k.index()], ib[k.index()], "{} shared", k.name());
    }
    assert_ne!(ia[NsKind::Mnt.index()], ib[NsKind::Mnt.index()]);
    assert_eq!(t.read_out("b-hostname").trim(), "owner");
    // In the owner's pid namespace, not its init.
    let p: i32 = t.read_out("b-pid").trim().parse().unwrap();
    assert!(p > 1, "pid in shared namespace {p}");
    // keel's own pid namespace for children was restored.
    let pfc = fs::read_link("/proc/thread-self/ns/pid_for_children").unwrap();
    let own = fs::read_link("/proc/thread-self/ns/pid").unwrap();
    assert_eq!(pfc, own);
    rb.kill();

    // Failures on this path name the shared namespace.
    let f = start(
        &b,
        Io {
            share,
            fault: Some(Step::PidnsEnter.id()),
            ..Io::default()
        },
    )
    .err();
    assert_eq!(
        f,
        Some(Failure {
            step: Step::PidnsEnter,
            errno: FAULT_ERRNO
        })
    );
    assert_eq!(fs::read_link("/proc/thread-self/ns/pid_for_children").unwrap(), own);
    let f = expect_failed(
        start(
            &b,
            Io {
                share,
                fault: Some(Step::Setns(NsKind::Uts).id()),
                ..Io::default()
            },
        )
        .unwrap(),
    );
    assert_eq!(
        f,
        Failure {
            step: Step::Setns(NsKind::Uts),
            errno: FAULT_ERRNO
        }
    );
    assert_eq!(
        render(&f, Some(&b)),
        "keel: container web: join the uts namespace of container owner: ECANCELED"
    );
    ra.kill();
}

#[test]
fn shared_user_namespace_with_new_pid_namespace() {
    need_root!();
    let t = Tmp::new("shareuser");
    let mut a = spec_for(&t, "exec sleep 1000");
    with_userns(&mut a);
    let ra = start(&a, Io::default()).unwrap();
    assert_eq!(ra.outcome(), Outcome::Execd, "log: {}", t.log());

    // B joins A's user namespace, and creates the rest inside it: pid
    // (second fork), mnt, net (sysfs needs the net namespace to belong to
    // the container's user namespace), uts.
    let mut b = spec_for(
        &t,
        "echo $$ > /out/b-pid; id -u > /out/b-uid; cat /sys/class/net/lo/flags > /out/b-lo; \
                              touch /out/b-done; exec sleep 1000",
    );
    b.ns.modes[NsKind::User.index()] = NsMode::Share(c("owner"));
    b.hostname = Some(c("b"));
    b.mounts
        .push(Mount {
            kind: MountKind::Sysfs,
            target: c("/sys"),
            flags: mflags::RDONLY,
            data: None,
        })
        .unwrap();
    let mut share = [None; 8];
    share[NsKind::User.index()] = Some(ra.pidfd());
    let log = t.log_file();
    let rb = start(
        &b,
        Io {
            stdout: Some(log.as_fd()),
            share,
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(rb.outcome(), Outcome::Execd, "log: {}", t.log());
    wait_for(&t.out().join("b-done"));
    let (ia, ib) = (ns_inodes(ra.pid()), ns_inodes(rb.pid()));
    assert_eq!(ia[NsKind::User.index()], ib[NsKind::User.index()]);
    for k in [NsKind::Pid, NsKind::Mnt, NsKind::Net, NsKind::Uts] {
        assert_ne!(ia[k.index()], ib[k.index()], "{}", k.name());
    }
    assert_eq!(t.read_out("b-pid").trim(), "1");
    assert_eq!(t.read_out("b-uid").trim(), "0");
    assert_eq!(t.read_out("b-lo").trim(), "0x9");
    // keel is the init's parent.
    let ppid: i32 = status_field(rb.pid(), "PPid").parse().unwrap();
    assert_eq!(ppid, std::process::id() as i32);
    assert!(status_field(rb.pid(), "Uid").starts_with("100000\t"));
    rb.kill();

    // Failures on the way: in the intermediate (reported, it exits 127),
    // at the hand-over (keel kills and reaps both).
    for step in [
        Step::Setns(NsKind::User),
        Step::Unshare(NsKind::Net),
        Step::Unshare(NsKind::Pid),
        Step::Fork,
        Step::IdRoot,
    ] {
        let f = expect_failed(
            start(
                &b,
                Io {
                    share,
                    fault: Some(step.id()),
                    ..Io::default()
                },
            )
            .unwrap(),
        );
        assert_eq!(
            f,
            Failure {
                step,
                errno: FAULT_ERRNO
            }
        );
    }
    let f = start(
        &b,
        Io {
            share,
            fault: Some(Step::Handoff.id()),
            ..Io::default()
        },
    )
    .err();
    assert_eq!(
        f,
        Some(Failure {
            step: Step::Handoff,
            errno: FAULT_ERRNO
        })
    );
    // Nothing left behind: this thread's only child is A (the
    // intermediates and the killed inits are reaped).
    let children = fs::read_to_string("/proc/thread-self/children").unwrap();
    assert_eq!(
        children.split_whitespace().collect::<Vec<_>>(),
        vec![ra.pid().to_string()]
    );
    ra.kill();
}

#[test]
fn enter_a_running_container() {
    need_root!();
    let t = Tmp::new("enter");
    for user in [false, true] {
        let mut s = spec_for(&t, "exec sleep 1000");
        s.hostname = Some(c("entered"));
        if user {
            with_userns(&mut s);
        }
        s.ns.modes[NsKind::Time.index()] = NsMode::New;
        s.time_offsets = Some(TimeOffsets {
            monotonic: 0,
            boottime: 30 * 86400,
        });
        let rc = start(&s, Io::default()).unwrap();
        assert_eq!(rc.outcome(), Outcome::Execd);

        // By path inside the container.
        let out = t.dir.join(format!("enter-{user}"));
        let f = owned(fs::File::create(&out).unwrap());
        let argv = [
            c("sh"),
            c("-c"),
            c("hostname; cat /marker; for n in user mnt pid net uts ipc cgroup time; do readlink /proc/self/ns/$n; done; \
               id -u; pwd; cut -d' ' -f1 /proc/uptime; echo $$"),
        ];
        let envp = [c("PATH=/bin")];
        let kinds = NsKind::ALL;
        let req = EnterRequest {
            target: rc.pidfd(),
            kinds: &kinds,
            program: ExecTarget::Path(c("sh")),
            argv: &argv,
            envp: &envp,
            cgroup: None,
            uid: 0,
            gid: 0,
            caps: None,
            no_new_privs: false,
            stdin: None,
            stdout: Some(f.as_fd()),
            stderr: Some(f.as_fd()),
            pass: None,
            agent_keyring: false,
            rlimits: &[],
            fault: None,
        };
        let re = Running {
            sp: Some(enter(&req).expect("enter")),
        };
        assert_eq!(re.outcome(), Outcome::Execd);
        assert_eq!(re.wait(), 0, "{}", fs::read_to_string(&out).unwrap());
        let text = fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "entered", "{text}");
        assert_eq!(lines[1], "inside-root");
        for (i, k) in NsKind::ALL.iter().enumerate() {
            let want = fs::read_link(format!("/proc/{}/ns/{}", rc.pid(), k.name())).unwrap();
            assert_eq!(lines[2 + i], want.to_str().unwrap(), "{} (user ns {user})", k.name());
        }
        assert_eq!(lines[10], "0");
        assert_eq!(lines[11], "/");
        let up: f64 = lines[12].parse().unwrap();
        assert!(up > 30.0 * 86400.0, "uptime {up}");
        let p: i32 = lines[13].parse().unwrap();
        assert!(p > 1, "ns pid {p}");

        // From an fd of keel's (a host binary): argv[0] picks the applet.
        let exe = owned(fs::File::open("/bin/busybox").unwrap());
        let out2 = t.dir.join(format!("enter-fd-{user}"));
        let f2 = owned(fs::File::create(&out2).unwrap());
        let argv = [c("cat"), c("/marker"), c("/proc/1/cmdline")];
        let (sock, theirs) = rustix::pipe::pipe().unwrap();
        let req = EnterRequest {
            target: rc.pidfd(),
            kinds: &kinds,
            program: ExecTarget::Fd(exe.as_fd()),
            argv: &argv,
            envp: &[],
            cgroup: None,
            uid: 0,
            gid: 0,
            caps: Some(Caps {
                bounding: 0,
                effective: 0,
                permitted: 0,
                inheritable: 0,
                ambient: 0,
            }),
            no_new_privs: true,
            stdin: None,
            stdout: Some(f2.as_fd()),
            stderr: Some(f2.as_fd()),
            pass: Some((theirs.as_fd(), 7)),
            agent_keyring: false,
            rlimits: &[],
            fault: None,
        };
        let re = Running {
            sp: Some(enter(&req).expect("enter fd")),
        };
        assert_eq!(re.outcome(), Outcome::Execd);
        assert_eq!(re.wait(), 0, "{}", fs::read_to_string(&out2).unwrap());
        let text = fs::read_to_string(&out2).unwrap();
        assert_eq!(text, "inside-root\nsleep\x001000\x00", "{text:?}");
        drop(sock);
        let _ = &theirs;

        // A failing enter reports its step.
        let req = EnterRequest {
            program: ExecTarget::Path(c("/bin/nope")),
            argv: &argv,
            fault: None,
            ..req
        };
        let re = Running {
            sp: Some(enter(&req).unwrap()),
        };
        let f = expect_failed(re);
        assert_eq!(
            f,
            Failure {
                step: Step::Exec,
                errno: Errno::NOENT
            }
        );
        let req = EnterRequest {
            fault: Some(Step::Setns(NsKind::Mnt).id()),
            ..req
        };
        let f = expect_failed(Running {
            sp: Some(enter(&req).unwrap()),
        });
        assert_eq!(
            f,
            Failure {
                step: Step::Setns(NsKind::Mnt),
                errno: FAULT_ERRNO
            }
        );
        let mut l = keel_rt::Line::new();
        f.render(b"web", None, &mut l);
        assert_eq!(
            l.as_bytes(),
            b"keel: container web: join the mnt namespace of the target: ECANCELED"
        );
        rc.kill();
    }
}

#[test]
fn overlay_root_and_readonly_root() {
    need_root!();
    let t = Tmp::new("overlay");
    let upper = t.dir.join("upper");
    let work = t.dir.join("work");
    let extra = t.dir.join("extra");
    for d in [&upper, &work, &extra] {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(extra.join("from-extra"), b"extra layer\n").unwrap();

    // Writable overlay: changes land in the upper directory.
    let mut s = spec_for(&t, "echo new > /newfile && rm /marker && ls / > /out/ls");
    let mut lower = heapless::Vec::new();
    lower.push(c(t.root().to_str().unwrap())).unwrap();
    s.root = Root::Overlay {
        lower: lower.clone(),
        upper: Some(c(upper.to_str().unwrap())),
        work: Some(c(work.to_str().unwrap())),
        readonly: false,
    };
    run_ok(&t, &s);
    assert_eq!(fs::read_to_string(upper.join("newfile")).unwrap(), "new\n");
    assert!(!t.root().join("newfile").exists(), "the lower layer changed");
    assert!(t.root().join("marker").exists());
    let ls = t.read_out("ls");
    assert!(ls.contains("newfile") && !ls.contains("marker"), "{ls}");

    // Two lower layers, no upper: read-only, both visible.
    let mut s = spec_for(&t, "cat /from-extra > /out/extra; touch /x 2> /out/touch; exit 0");
    let mut lower = heapless::Vec::new();
    lower.push(c(extra.to_str().unwrap())).unwrap();
    lower.push(c(t.root().to_str().unwrap())).unwrap();
    s.root = Root::Overlay {
        lower,
        upper: None,
        work: None,
        readonly: false,
    };
    run_ok(&t, &s);
    assert_eq!(t.read_out("extra"), "extra layer\n");
    assert!(t.read_out("touch").contains("Read-only"), "{}", t.read_out("touch"));

    // A read-only bind root: / is ro, /out (its own mount) is not.
    let mut s = spec_for(
        &t,
        "touch /x 2> /out/touch; touch /out/ok; cat /proc/self/mountinfo > /out/mi; exit 0",
    );
    s.root = Root::Bind {
        path: c(t.root().to_str().unwrap()),
        readonly: true,
    };
    run_ok(&t, &s);
    assert!(t.read_out("touch").contains("Read-only"), "{}", t.read_out("touch"));
    assert!(t.out().join("ok").exists());
    let mi = t.read_out("mi");
    let root_line = mi
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("{mi}"));
    assert!(root_line.split(' ').nth(5).unwrap().starts_with("ro,"), "{root_line}");
    assert!(!t.root().join("x").exists());
}

/// Installs, on this thread only (and its future children), a seccomp
/// filter that answers clone3 with ENOSYS, as Docker's default profile does.
#[cfg(target_arch = "x86_64")]
fn refuse_clone3() {
    #[repr(C)]
    struct SockFilter {
        code: u16,
        jt: u8,
        jf: u8,
        k: u32,
    }
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const SockFilter,
    }
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let prog = [
        SockFilter {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 4,
        },
        SockFilter {
            code: JEQ_K,
            jt: 0,
            jf: 3,
            k: 0xc000_003e,
        },
        SockFilter {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        SockFilter {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: linux_raw_sys::general::__NR_clone3,
        },
        SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | 38,
        },
        SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        },
    ];
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // SAFETY: PR_SET_SECCOMP(SECCOMP_MODE_FILTER) reads the sock_fprog and its filter array, both live for the call.
    unsafe {
        keel_rt::sys::syscall(
            linux_raw_sys::general::__NR_prctl,
            [22, 2, &fprog as *const SockFprog as usize, 0, 0, 0],
        )
        .expect("seccomp filter");
    }
    // clone3 with a zero size is EINVAL from the kernel, ENOSYS from the
    // filter: proof the filter is on without forking anything.
    // SAFETY: a null args pointer of size 0 is rejected before any access.
    let r = unsafe { keel_rt::sys::syscall(linux_raw_sys::general::__NR_clone3, [0, 0, 0, 0, 0, 0]) };
    assert_eq!(r, Err(Errno::NOSYS));
}

/// §1.10: under a seccomp profile that refuses clone3, spawning falls back
/// to clone(2) and keel places the child in its cgroup itself; the cgroup
/// namespace is still rooted at the container's cgroup.
#[cfg(target_arch = "x86_64")]
#[test]
fn clone3_refused_by_seccomp_falls_back_to_clone() {
    need_root!();
    let base = Path::new("/sys/fs/cgroup/unified");
    if !base.join("cgroup.procs").exists() {
        eprintln!("skipped: no cgroup2 at {}", base.display());
        return;
    }
    let t = Tmp::new("seccomp");
    let name = format!(
        "keel-spawn-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let dir = base.join(&name);
    let cgdir = CgDir::new(dir.clone());
    let cg = owned(fs::File::open(&dir).unwrap());
    refuse_clone3();

    let mut s = spec_for(
        &t,
        "cat /proc/self/cgroup > /out/cgroup; echo $$ > /out/pid; touch /out/done; exec sleep 1000",
    );
    with_userns(&mut s);
    let log = t.log_file();
    let r = start(
        &s,
        Io {
            stdout: Some(log.as_fd()),
            cgroup: Some(cg.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(r.outcome(), Outcome::Execd, "log: {}", t.log());
    wait_for(&t.out().join("done"));
    let host_view = fs::read_to_string(format!("/proc/{}/cgroup", r.pid())).unwrap();
    assert!(
        host_view.lines().any(|l| l == format!("0::/{name}")),
        "host view: {host_view}"
    );
    assert!(
        t.read_out("cgroup").lines().any(|l| l == "0::/"),
        "inside: {}",
        t.read_out("cgroup")
    );
    assert_eq!(t.read_out("pid").trim(), "1");
    assert_ne!(
        ns_inodes(r.pid())[NsKind::Cgroup.index()],
        ns_inodes(0)[NsKind::Cgroup.index()]
    );

    // enter() falls back the same way and is placed in the cgroup too.
    let out = t.dir.join("entered");
    let f = owned(fs::File::create(&out).unwrap());
    let kinds = NsKind::ALL;
    let argv = [c("sh"), c("-c"), c("cat /proc/self/cgroup")];
    let req = EnterRequest {
        target: r.pidfd(),
        kinds: &kinds,
        program: ExecTarget::Path(c("/bin/sh")),
        argv: &argv,
        envp: &[],
        cgroup: Some(cg.as_fd()),
        uid: 0,
        gid: 0,
        caps: None,
        no_new_privs: false,
        stdin: None,
        stdout: Some(f.as_fd()),
        stderr: Some(f.as_fd()),
        pass: None,
        agent_keyring: false,
        rlimits: &[],
        fault: None,
    };
    let re = Running {
        sp: Some(enter(&req).expect("enter")),
    };
    assert_eq!(re.outcome(), Outcome::Execd);
    assert_eq!(re.wait(), 0);
    assert!(
        fs::read_to_string(&out).unwrap().lines().any(|l| l == "0::/"),
        "{}",
        fs::read_to_string(&out).unwrap()
    );
    r.kill();

    // A failed placement kills and reaps the child.
    let f = start(
        &s,
        Io {
            cgroup: Some(cg.as_fd()),
            fault: Some(Step::CgroupProcs.id()),
            ..Io::default()
        },
    )
    .err();
    assert_eq!(
        f,
        Some(Failure {
            step: Step::CgroupProcs,
            errno: FAULT_ERRNO
        })
    );

    // The double fork (shared user namespace, new pid namespace) falls
    // back to clone(CLONE_PARENT) as well.
    let mut a = spec_for(&t, "exec sleep 1000");
    with_userns(&mut a);
    let ra = start(&a, Io::default()).unwrap();
    assert_eq!(ra.outcome(), Outcome::Execd);
    let mut b = spec_for(&t, "echo $$ > /out/b-pid; exit 0");
    b.ns.modes[NsKind::User.index()] = NsMode::Share(c("a"));
    let mut share = [None; 8];
    share[NsKind::User.index()] = Some(ra.pidfd());
    let rb = start(
        &b,
        Io {
            share,
            cgroup: Some(cg.as_fd()),
            ..Io::default()
        },
    )
    .unwrap();
    assert_eq!(rb.outcome(), Outcome::Execd);
    assert_eq!(rb.wait(), 0);
    assert_eq!(t.read_out("b-pid").trim(), "1");
    ra.kill();

    drop(cgdir);
    assert!(!dir.exists(), "cgroup {} left behind", dir.display());
}
