//! Helpers shared by keel's integration tests (tests/tests/*.rs).
//!
//! The tests drive the built static binary, as root, with real namespaces.
//! `cargo xtask test` builds it and sets `KEEL_BIN`; by hand:
//!
//! ```text
//! cargo xtask build && KEEL_BIN=$PWD/target/release/keel cargo test -p keel-tests
//! ```
//!
//! A test typically:
//!
//! ```no_run
//! use keel_tests::*;
//! use std::time::Duration;
//!
//! let mut k = Keel::new();
//! let root = k.busybox_root();
//! k.spec("web", &format!("root {}\nargs /bin/sleep 60\n", root.display()));
//! k.start();
//! let st = k.wait_for_state("web", "running", Duration::from_secs(5));
//! let pid = st.pid().unwrap();
//! assert_ne!(ns_inode(pid, "net"), ns_inode(k.pid(), "net"));
//! // Dropping `k` stops keel and kills everything it started.
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ binary

/// The keel binary under test: `$KEEL_BIN`.
pub fn keel_bin() -> PathBuf {
    match std::env::var_os("KEEL_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "KEEL_BIN={} does not exist: run `cargo xtask build`",
                p.display()
            );
            p
        }
        _ => panic!(
            "KEEL_BIN is not set: these tests drive the built static binary. Run `cargo xtask test`, \
             or `cargo xtask build` and then KEEL_BIN=$PWD/target/release/keel cargo test"
        ),
    }
}

/// The upcall-agent binary under test: `$KEEL_AGENT_BIN` (`cargo xtask
/// test` builds it and sets it; by hand: `cargo xtask build`, then
/// KEEL_AGENT_BIN=$PWD/target/release/upcall-agent).
pub fn agent_bin() -> PathBuf {
    match std::env::var_os("KEEL_AGENT_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "KEEL_AGENT_BIN={} does not exist: run `cargo xtask build`",
                p.display()
            );
            p
        }
        _ => panic!(
            "KEEL_AGENT_BIN is not set: these tests drive the built upcall-agent. Run `cargo xtask test`, \
             or `cargo xtask build` and then KEEL_AGENT_BIN=$PWD/target/release/upcall-agent cargo test"
        ),
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Panics with a clear message unless running as root (CI runs as root).
pub fn require_root() {
    assert!(
        is_root(),
        "this test needs root (real namespaces, mounts, cgroups): run it as root, e.g. via `cargo xtask test`"
    );
}

// ------------------------------------------------------------------ temp dirs

/// A unique temporary directory, removed (with its contents) on drop.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tag: String = tag
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        let path = std::env::temp_dir().join(format!("keel-test-{tag}-{}-{n}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TestDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ------------------------------------------------------------------ rootfs

/// The static busybox of Debian's busybox-static.
pub fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("no busybox: install Debian's busybox-static (cargo xtask test does it as root)")
}

/// Makes `dir` a container root: the static busybox at /bin/busybox with a
/// symlink per applet in /bin, and the directories /proc /sys /dev /tmp /etc
/// (plus /run and /root), /etc/passwd and /etc/group for root.
pub fn busybox_rootfs(dir: &Path) {
    let bb = busybox();
    let bin = dir.join("bin");
    let mk = |p: &Path| std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    mk(&bin);
    for d in ["proc", "sys", "dev", "tmp", "etc", "run", "root"] {
        mk(&dir.join(d));
    }
    let target = bin.join("busybox");
    std::fs::copy(&bb, &target).unwrap_or_else(|e| panic!("copy {} to {}: {e}", bb.display(), target.display()));
    let list = Command::new(&bb)
        .arg("--list")
        .output()
        .unwrap_or_else(|e| panic!("{} --list: {e}", bb.display()));
    for name in String::from_utf8_lossy(&list.stdout).lines().map(str::trim) {
        if name.is_empty() || name.contains('/') || name == "busybox" {
            continue;
        }
        let l = bin.join(name);
        if std::fs::symlink_metadata(&l).is_err() {
            std::os::unix::fs::symlink("busybox", &l).unwrap_or_else(|e| panic!("symlink {}: {e}", l.display()));
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("write etc/passwd");
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").expect("write etc/group");
}

// ------------------------------------------------------------------ /proc

/// The inode number of /proc/PID/ns/KIND (KIND: mnt, pid, net, uts, ipc,
/// cgroup, user, time, or pid_for_children, time_for_children).
pub fn ns_inode(pid: u32, kind: &str) -> u64 {
    try_ns_inode(pid, kind).unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
}

pub fn try_ns_inode(pid: u32, kind: &str) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}")).map(|m| m.ino())
}

/// A field of /proc/PID/status, as text (`status_field(pid, "CapEff")` →
/// `"00000000a80425fb"`); None if the process or the field is not there.
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_field(&s, field)
}

/// `field` of a /proc/PID/status text.
pub fn parse_status_field(status: &str, field: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// A capability mask field (CapInh, CapPrm, CapEff, CapBnd, CapAmb) as a number.
pub fn cap_mask(pid: u32, field: &str) -> u64 {
    let v = status_field(pid, field).unwrap_or_else(|| panic!("/proc/{pid}/status has no {field}"));
    u64::from_str_radix(&v, 16).unwrap_or_else(|e| panic!("{field} {v:?}: {e}"))
}

/// voluntary_ctxt_switches of /proc/PID/status.
pub fn voluntary_ctxt_switches(pid: u32) -> u64 {
    status_field(pid, "voluntary_ctxt_switches")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("/proc/{pid}/status: no voluntary_ctxt_switches"))
}

/// The children of `pid`, from /proc/PID/task/*/children.
pub fn children(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                v.extend(s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
            }
        }
    }
    v
}

/// Every descendant of `pid` (children first, then theirs…), not `pid` itself.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut all = children(pid);
    let mut i = 0;
    while i < all.len() {
        let c = children(all[i]);
        all.extend(c);
        i += 1;
    }
    all
}

/// The NSpid line of /proc/PID/status: the pid in each nested pid
/// namespace, outermost (the test's) first.
pub fn ns_pids(pid: u32) -> Vec<u32> {
    status_field(pid, "NSpid")
        .map(|v| v.split_whitespace().filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default()
}

/// Is `pid` alive (and not a zombie)?
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the ")" that ends the command name.
        Ok(s) => s
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The comm of /proc/PID/comm.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Sends `sig` to `pid`.
pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) takes plain integers.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// Waits up to `timeout` for `f` to return Some, every 20 ms.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(t) = f() {
            return Some(t);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------ status file

/// The status file's header line (format version 1).
pub const STATUS_HEADER: &str = "# keel-containers v1";

/// One container's line of RUN/containers: `key=value` fields, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStatus {
    pub fields: Vec<(String, String)>,
}

impl ContainerStatus {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.0 == key).map(|f| f.1.as_str())
    }
    pub fn name(&self) -> &str {
        self.get("name").unwrap_or("")
    }
    pub fn state(&self) -> &str {
        self.get("state").unwrap_or("")
    }
    /// Host pid of the container's init (None for `-`).
    pub fn pid(&self) -> Option<u32> {
        self.get("pid").and_then(|v| v.parse().ok())
    }
    pub fn restarts(&self) -> u32 {
        self.get("restarts").and_then(|v| v.parse().ok()).unwrap_or(0)
    }
    /// The last exit status (None for `-`).
    pub fn exit(&self) -> Option<i32> {
        self.get("exit").and_then(|v| v.parse().ok())
    }
    /// The inode of namespace `kind` (`mnt`, `pid`, `net`, …): the field
    /// `KIND_ns` (None for `-`).
    pub fn ns(&self, kind: &str) -> Option<u64> {
        self.get(&format!("{kind}_ns")).and_then(|v| v.parse().ok())
    }
    /// `since=` (realtime, seconds.milliseconds) as milliseconds.
    pub fn since_ms(&self) -> Option<u64> {
        self.get("since").and_then(parse_stamp_ms)
    }
    /// `boot=` (boottime, seconds.milliseconds) as milliseconds.
    pub fn boot_ms(&self) -> Option<u64> {
        self.get("boot").and_then(parse_stamp_ms)
    }
    /// `reason=` (words joined by `-`; None for `-`).
    pub fn reason(&self) -> Option<&str> {
        self.get("reason").filter(|r| *r != "-")
    }
}

/// "12.345" → 12345 (milliseconds); "12" → 12000.
pub fn parse_stamp_ms(s: &str) -> Option<u64> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: u64 = secs.parse().ok()?;
    let ms = match frac.len() {
        0 => 0,
        1..=3 if frac.bytes().all(|b| b.is_ascii_digit()) => {
            let v: u64 = frac.parse().ok()?;
            v * 10u64.pow(3 - frac.len() as u32)
        }
        _ => return None,
    };
    secs.checked_mul(1000)?.checked_add(ms)
}

/// Parses RUN/containers: the header, then one line per container. An error
/// names the line and what is wrong.
pub fn parse_status(text: &str) -> Result<Vec<ContainerStatus>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim_end() == STATUS_HEADER => {}
        Some((_, h)) => return Err(format!("line 1: expected {STATUS_HEADER:?}, got {h:?}")),
        None => return Err("empty status file".into()),
    }
    let mut out = Vec::new();
    for (i, l) in lines {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let mut fields = Vec::new();
        for tok in l.split_whitespace() {
            let (k, v) = tok
                .split_once('=')
                .ok_or_else(|| format!("line {}: {tok:?} is not key=value", i + 1))?;
            if k.is_empty() {
                return Err(format!("line {}: empty key in {tok:?}", i + 1));
            }
            fields.push((k.to_string(), v.to_string()));
        }
        let c = ContainerStatus { fields };
        if c.get("name").is_none() || c.get("state").is_none() {
            return Err(format!("line {}: no name= or state=: {l:?}", i + 1));
        }
        out.push(c);
    }
    Ok(out)
}

// ------------------------------------------------------------------ keel runner

/// One keel under test: a config dir and a run dir in a [`TestDir`], the
/// process (optionally PID 1 of a new pid namespace), and its output.
///
/// keel's stdout and stderr lines are collected (both into one list, in
/// arrival order) and echoed as `[keel] …` to the test's output (shown when
/// the test fails). Drop stops keel (TERM, then after 3 s SIGKILL for it and
/// every descendant) and removes the directory.
pub struct Keel {
    dir: TestDir,
    config: PathBuf,
    run: PathBuf,
    pid_ns: bool,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    child: Option<Child>,
    keel_pid: Option<u32>,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl Default for Keel {
    fn default() -> Self {
        Self::new()
    }
}

impl Keel {
    /// A keel with an empty config dir `DIR/config` and run dir `DIR/run`.
    pub fn new() -> Keel {
        let dir = TestDir::new("keel");
        let config = dir.join("config");
        let run = dir.join("run");
        std::fs::create_dir_all(&config).expect("mkdir config");
        std::fs::create_dir_all(&run).expect("mkdir run");
        Keel {
            dir,
            config,
            run,
            pid_ns: false,
            args: Vec::new(),
            env: Vec::new(),
            child: None,
            keel_pid: None,
            lines: Arc::new(Mutex::new(Vec::new())),
            readers: Vec::new(),
            exit: None,
        }
    }

    /// Run keel as PID 1 of a new pid namespace, with its own /proc
    /// (`unshare --pid --fork --mount-proc`: a new mount namespace whose
    /// /proc matches keel's pids). The status file's `pid=` values are then
    /// pids in keel's namespace: turn them into the test's view with
    /// [`Keel::host_pid`] (or use [`Keel::init_pid`]).
    pub fn in_pid_namespace(&mut self) -> &mut Self {
        self.pid_ns = true;
        self
    }

    /// An extra argument after `--config DIR --run-dir RUN` (e.g. `--stay`).
    pub fn arg(&mut self, a: impl Into<OsString>) -> &mut Self {
        self.args.push(a.into());
        self
    }

    /// An environment variable for keel.
    pub fn env(&mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> &mut Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The test's own directory (removed on drop): put roots and files here.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn config_dir(&self) -> &Path {
        &self.config
    }
    pub fn run_dir(&self) -> &Path {
        &self.run
    }
    pub fn status_path(&self) -> PathBuf {
        self.run.join("containers")
    }

    /// A busybox root at DIR/rootfs (made on first use).
    pub fn busybox_root(&self) -> PathBuf {
        let r = self.dir.join("rootfs");
        if !r.join("bin/busybox").exists() {
            busybox_rootfs(&r);
        }
        r
    }

    /// Writes the spec file `name` (atomically: a temporary file outside the
    /// config dir, then rename, so keel never reads half a file).
    pub fn spec(&self, name: &str, text: &str) -> &Self {
        let tmp = self.dir.join(format!(".spec-{name}.tmp"));
        std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
        let dst = self.config.join(name);
        std::fs::rename(&tmp, &dst).unwrap_or_else(|e| panic!("rename to {}: {e}", dst.display()));
        self
    }

    /// Removes the spec file `name`.
    pub fn remove_spec(&self, name: &str) -> &Self {
        let p = self.config.join(name);
        std::fs::remove_file(&p).unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
        self
    }

    /// Starts `keel --config DIR --run-dir RUN [ARGS…]`.
    pub fn start(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        assert!(self.child.is_none(), "keel already started");
        let bin = keel_bin();
        let mut c = if self.pid_ns {
            let mut c = Command::new(which("unshare").unwrap_or_else(|| PathBuf::from("/usr/bin/unshare")));
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        c.arg("--config")
            .arg(&self.config)
            .arg("--run-dir")
            .arg(&self.run)
            .args(&self.args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let out = child.stdout.take().expect("stdout pipe");
        let err = child.stderr.take().expect("stderr pipe");
        self.readers.push(collect(out, self.lines.clone()));
        self.readers.push(collect(err, self.lines.clone()));
        let id = child.id();
        self.child = Some(child);
        self.keel_pid = Some(if self.pid_ns {
            // keel is unshare's only child.
            poll(Duration::from_secs(5), || children(id).first().copied())
                .unwrap_or_else(|| panic!("unshare started no keel; log:\n{}", self.log()))
        } else {
            id
        });
        self
    }

    /// keel's pid as seen from the test (the host's pid namespace).
    pub fn pid(&self) -> u32 {
        self.keel_pid.expect("keel not started")
    }

    /// The test's view of a pid that keel reports (its own view). The same
    /// number unless keel runs in its own pid namespace; then the process
    /// below keel whose NSpid's second entry is `pid`.
    pub fn host_pid(&self, pid: u32) -> Option<u32> {
        if !self.pid_ns {
            return Some(pid);
        }
        if pid == 1 {
            return Some(self.pid());
        }
        self.descendants()
            .into_iter()
            .find(|d| ns_pids(*d).get(1) == Some(&pid))
    }

    /// The test's view of container `name`'s init pid, from the table now.
    pub fn init_pid(&self, name: &str) -> Option<u32> {
        self.host_pid(self.container(name)?.pid()?)
    }

    /// Every line keel has written so far (stdout and stderr).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The log so far, one string.
    pub fn log(&self) -> String {
        self.lines().join("\n")
    }

    /// Waits for a line containing `pattern`; the first such line.
    pub fn try_wait_for_line(&self, pattern: &str, timeout: Duration) -> Option<String> {
        poll(timeout, || self.lines().into_iter().find(|l| l.contains(pattern)))
    }

    /// Waits for a line containing `pattern`; panics (with the log) on timeout.
    pub fn wait_for_line(&self, pattern: &str, timeout: Duration) -> String {
        self.try_wait_for_line(pattern, timeout).unwrap_or_else(|| {
            panic!(
                "no line containing {pattern:?} within {timeout:?}; keel's log:\n{}",
                self.log()
            )
        })
    }

    /// The container table now (empty if keel has not written it yet).
    pub fn status(&self) -> Vec<ContainerStatus> {
        match std::fs::read_to_string(self.status_path()) {
            Ok(t) => parse_status(&t).unwrap_or_else(|e| panic!("{}: {e}\n{t}", self.status_path().display())),
            Err(_) => Vec::new(),
        }
    }

    /// One container's row now.
    pub fn container(&self, name: &str) -> Option<ContainerStatus> {
        self.status().into_iter().find(|c| c.name() == name)
    }

    /// Waits until `f` returns Some for the table; panics with `what` on timeout.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut(&[ContainerStatus]) -> Option<T>) -> T {
        poll(timeout, || f(&self.status())).unwrap_or_else(|| {
            let table = std::fs::read_to_string(self.status_path()).unwrap_or_else(|_| "(no status file)".into());
            panic!(
                "timed out after {timeout:?} waiting for {what}; table:\n{table}\nkeel's log:\n{}",
                self.log()
            )
        })
    }

    /// Waits until container `name` is in `state` (polling every 20 ms).
    pub fn wait_for_state(&self, name: &str, state: &str, timeout: Duration) -> ContainerStatus {
        self.wait_for(&format!("{name} to be {state}"), timeout, |t| {
            t.iter().find(|c| c.name() == name && c.state() == state).cloned()
        })
    }

    /// Sends `sig` to keel itself.
    pub fn signal(&self, sig: i32) {
        kill(self.pid(), sig);
    }

    /// Waits for keel to exit.
    pub fn try_wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(st) = self.exit {
            return Some(st);
        }
        let child = self.child.as_mut().expect("keel not started");
        let st = poll(timeout, || child.try_wait().ok().flatten())?;
        self.exit = Some(st);
        // The readers end with the pipes (unless a stray process holds them).
        let end = Instant::now() + Duration::from_secs(1);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(st)
    }

    /// Waits for keel to exit; panics (with the log) on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match self.try_wait_exit(timeout) {
            Some(st) => st,
            None => panic!("keel did not exit within {timeout:?}; log:\n{}", self.log()),
        }
    }

    /// Is keel still running?
    pub fn running(&mut self) -> bool {
        self.exit.is_none()
            && self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Every process keel started and that is still below it.
    pub fn descendants(&self) -> Vec<u32> {
        descendants(self.pid())
    }

    /// Stops keel now: SIGKILL to it and every descendant (stopped first so
    /// nothing new appears), then its process group.
    pub fn kill_all(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        if self.exit.is_some() {
            return;
        }
        let top = child.id();
        kill(self.keel_pid.unwrap_or(top), libc::SIGSTOP);
        for _ in 0..3 {
            let mut all = vec![top];
            all.extend(descendants(top));
            for p in all.iter().rev() {
                kill(*p, libc::SIGKILL);
            }
        }
        // SAFETY: kill(2) of our child's process group (it leads its own group).
        unsafe {
            libc::kill(-(top as i32), libc::SIGKILL);
        }
        if let Ok(st) = child.wait() {
            self.exit = Some(st);
        }
    }
}

impl Drop for Keel {
    fn drop(&mut self) {
        if self.child.is_none() || self.exit.is_some() {
            return;
        }
        if self.running() {
            // An orderly stop first, so keel can remove its cgroups.
            kill(self.pid(), libc::SIGTERM);
            if self.try_wait_exit(Duration::from_secs(3)).is_none() {
                self.kill_all();
            }
        }
    }
}

/// A thread reading `r` line by line into `lines`, echoing each line.
fn collect<R: Read + Send + 'static>(r: R, lines: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let l = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
                    eprintln!("[keel] {l}");
                    if let Ok(mut v) = lines.lock() {
                        v.push(l);
                    }
                }
            }
        }
    })
}

/// `prog` in $PATH.
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// A map of the table by name (for tests that look at several rows).
pub fn by_name(t: &[ContainerStatus]) -> BTreeMap<String, ContainerStatus> {
    t.iter().map(|c| (c.name().to_string(), c.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# keel-containers v1\n\
name=web state=running pid=812 restarts=0 ready=- exit=- user_ns=- mnt_ns=4026532301 pid_ns=4026532304 net_ns=4026532306 uts_ns=4026532302 ipc_ns=4026532303 cgroup_ns=4026532305 time_ns=- since=1764410000.123 boot=12.345 reason=-\n\
name=crash state=failed pid=- restarts=4 ready=- exit=3 user_ns=- mnt_ns=- pid_ns=- net_ns=- uts_ns=- ipc_ns=- cgroup_ns=- time_ns=- since=1764410001.5 boot=13 reason=restart-budget-spent\n";

    #[test]
    fn parses_the_status_file() {
        let t = parse_status(SAMPLE).unwrap();
        assert_eq!(t.len(), 2);
        let w = &t[0];
        assert_eq!(
            (w.name(), w.state(), w.pid(), w.restarts(), w.exit()),
            ("web", "running", Some(812), 0, None)
        );
        assert_eq!(w.ns("mnt"), Some(4026532301));
        assert_eq!(w.ns("pid"), Some(4026532304));
        assert_eq!(w.ns("net"), Some(4026532306));
        assert_eq!(w.ns("cgroup"), Some(4026532305));
        assert_eq!(w.ns("user"), None);
        assert_eq!(w.since_ms(), Some(1764410000123));
        assert_eq!(w.boot_ms(), Some(12345));
        assert_eq!(w.reason(), None);
        let c = &t[1];
        assert_eq!(
            (c.state(), c.pid(), c.restarts(), c.exit()),
            ("failed", None, 4, Some(3))
        );
        assert_eq!(c.reason(), Some("restart-budget-spent"));
        assert_eq!(c.since_ms(), Some(1764410001500));
        assert_eq!(c.boot_ms(), Some(13000));
        assert_eq!(by_name(&t)["crash"].restarts(), 4);
    }

    #[test]
    fn status_errors_name_the_line() {
        assert_eq!(parse_status("").unwrap_err(), "empty status file");
        assert!(parse_status("# keel-containers v2\n")
            .unwrap_err()
            .starts_with("line 1:"));
        let e = parse_status("# keel-containers v1\nname=a state=running\nname=b oops\n").unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
        let e = parse_status("# keel-containers v1\nstate=running\n").unwrap_err();
        assert!(e.contains("no name="), "{e}");
        assert_eq!(parse_status("# keel-containers v1\n\n").unwrap(), vec![]);
    }

    #[test]
    fn stamps() {
        assert_eq!(parse_stamp_ms("1.2"), Some(1200));
        assert_eq!(parse_stamp_ms("1.02"), Some(1020));
        assert_eq!(parse_stamp_ms("0.001"), Some(1));
        assert_eq!(parse_stamp_ms("1.0001"), None);
        assert_eq!(parse_stamp_ms("x"), None);
        assert_eq!(parse_stamp_ms("-"), None);
    }

    #[test]
    fn proc_status_fields() {
        let s = "Name:\tsleep\nCapEff:\t000001ffffffffff\nvoluntary_ctxt_switches:\t7\n";
        assert_eq!(parse_status_field(s, "CapEff").as_deref(), Some("000001ffffffffff"));
        assert_eq!(parse_status_field(s, "voluntary_ctxt_switches").as_deref(), Some("7"));
        assert_eq!(parse_status_field(s, "Cap"), None);
        let me = std::process::id();
        assert!(status_field(me, "VmRSS").is_some());
        assert!(voluntary_ctxt_switches(me) < u64::MAX);
        assert_eq!(ns_inode(me, "net"), ns_inode(me, "net"));
        assert!(alive(me));
        assert_eq!(ns_pids(me).first(), Some(&me));
        assert!(!alive(u32::MAX / 2));
    }

    #[test]
    fn test_dirs_are_unique_and_removed() {
        let (a, b) = (TestDir::new("x"), TestDir::new("x"));
        assert_ne!(a.path(), b.path());
        let p = a.path().to_path_buf();
        std::fs::write(a.join("f"), "1").unwrap();
        drop(a);
        assert!(!p.exists());
    }

    #[test]
    fn busybox_root_has_applets() {
        if !Path::new("/bin/busybox").exists() && !Path::new("/usr/bin/busybox").exists() {
            eprintln!("skipped: no busybox");
            return;
        }
        let d = TestDir::new("bb");
        busybox_rootfs(d.path());
        assert!(d.join("bin/sh").symlink_metadata().unwrap().file_type().is_symlink());
        assert!(d.join("bin/busybox").is_file());
        for x in ["proc", "sys", "dev", "tmp", "etc"] {
            assert!(d.join(x).is_dir(), "{x}");
        }
    }

    /// The runner against the real binary (skipped without KEEL_BIN or root):
    /// plain and as PID 1 of a pid namespace, a oneshot and a sleeper, pid
    /// translation, the exit status, and that Drop leaves nothing behind.
    #[test]
    fn drives_the_real_keel() {
        if std::env::var_os("KEEL_BIN").is_none() || !is_root() {
            eprintln!("skipped: needs KEEL_BIN and root (cargo xtask test)");
            return;
        }
        for pid_ns in [false, true] {
            let mut k = Keel::new();
            if pid_ns {
                k.in_pid_namespace();
            }
            let root = k.busybox_root();
            k.spec(
                "once",
                &format!("root {}\nargs /bin/true\noneshot\nrestart never\n", root.display()),
            );
            k.spec(
                "sleeper",
                &format!(
                    "root {}\nargs /bin/sleep 60\nrestart never\nstop_timeout 1s\n",
                    root.display()
                ),
            );
            k.start();
            let t = Duration::from_secs(10);
            k.wait_for_state("once", "exited", t);
            let s = k.wait_for_state("sleeper", "running", t);
            let host = k.init_pid("sleeper").expect("the sleeper's pid, in the test's view");
            assert_eq!(comm(host).as_deref(), Some("sleep"), "pid_ns={pid_ns}");
            assert_eq!(s.ns("net"), Some(ns_inode(host, "net")), "pid_ns={pid_ns}");
            assert_ne!(ns_inode(host, "net"), ns_inode(k.pid(), "net"));
            let keel_pid = k.pid();
            k.signal(libc::SIGTERM);
            let st = k.wait_exit(t);
            assert_eq!(st.code(), Some(0), "pid_ns={pid_ns}: {st:?}\n{}", k.log());
            assert!(!alive(host) && !alive(keel_pid));
        }
    }

    #[test]
    fn runs_a_child_through_the_runner_machinery() {
        // The reader threads and the exit wait, on a stand-in for keel.
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let r1 = collect(child.stdout.take().unwrap(), lines.clone());
        let r2 = collect(child.stderr.take().unwrap(), lines.clone());
        assert_eq!(child.wait().unwrap().code(), Some(3));
        r1.join().unwrap();
        r2.join().unwrap();
        let mut l = lines.lock().unwrap().clone();
        l.sort();
        assert_eq!(l, vec!["err", "out"]);
    }
}
