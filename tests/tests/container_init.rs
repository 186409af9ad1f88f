//! Container-init mode (issue 6): the built static keel binary as the init
//! of one program, the way tini, catatonit and dumb-init are used.
//!
//! Needs root (pid namespaces, cgroups), `busybox` (static), `unshare`,
//! `script` (util-linux), `env --default-signal` (coreutils ≥ 8.31) and a C
//! compiler that can link statically (`cc -static`, for the seccomp
//! helper). The binary under test comes from KEEL_BIN. Every test works in
//! a directory of its own, so they can run in parallel.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ helpers

fn keel() -> PathBuf {
    let p = std::env::var_os("KEEL_BIN").unwrap_or_else(|| {
        panic!(
            "KEEL_BIN is not set: build the static binary (cargo build --release -p keel-init) \
             and point KEEL_BIN at it, e.g. KEEL_BIN=$CARGO_TARGET_DIR/release/keel"
        )
    });
    let p = PathBuf::from(p);
    assert!(p.is_file(), "KEEL_BIN={} is not a file", p.display());
    p
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("keel-ci-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn s(&self, f: &str) -> String {
        self.path(f).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by signal {:?}; stderr: {}", self.status.signal(), self.stderr))
    }
}

/// Runs to completion with a deadline (the child is killed past it).
fn run_with(mut cmd: Command, limit: Duration) -> Out {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    finish(child, start, limit)
}

fn finish(mut child: Child, start: Instant, limit: Duration) -> Out {
    // Drain the pipes in threads so a chatty child cannot block.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let te = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let mut guard = Tree(Some(child));
    let status = loop {
        if let Some(st) = guard.child().try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            // The guard kills the whole tree; the pipes' readers are not
            // joined (a straggler outside the tree could hold them).
            drop(guard);
            panic!("timed out after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    guard.0 = None;
    let elapsed = start.elapsed();
    Out {
        status,
        stdout: to.join().unwrap(),
        stderr: te.join().unwrap(),
        elapsed,
    }
}

/// A running keel; if the test fails before it ended, everything below
/// it is killed (descendants first, while keel is still their reaper),
/// so a failing test leaves nothing running.
struct Tree(Option<Child>);

impl Tree {
    fn spawn(mut c: Command) -> Tree {
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        Tree(Some(c.spawn().unwrap_or_else(|e| panic!("spawning {c:?}: {e}"))))
    }
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
    fn id(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }
    /// Waits for the end and returns the output, like `run_with`.
    fn finish(mut self, start: Instant, limit: Duration) -> Out {
        finish(self.0.take().unwrap(), start, limit)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let Some(mut child) = self.0.take() else { return };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let root = child.id() as i32;
        for _ in 0..3 {
            for pid in descendants(root) {
                // SAFETY: kill(2) with plain integers.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Every process whose parent chain leads to `root`.
fn descendants(root: i32) -> Vec<i32> {
    let mut procs = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (_, f) = stat_fields(&stat);
        if let Some(ppid) = f.get(1).and_then(|p| p.parse::<i32>().ok()) {
            procs.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    loop {
        let before = found.len();
        for &(pid, ppid) in &procs {
            if found.contains(&ppid) && !found.contains(&pid) {
                found.push(pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(0);
    found
}

fn keel_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(keel());
    c.args(args);
    c
}

fn run_keel(args: &[&str]) -> Out {
    run_with(keel_cmd(args), Duration::from_secs(20))
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn file_has(p: &Path, needle: &str) -> bool {
    fs::read_to_string(p)
        .map(|s| s.lines().any(|l| l == needle))
        .unwrap_or(false)
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) with plain integers.
    let r = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(r, 0, "kill({pid}, {sig}): {}", std::io::Error::last_os_error());
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only probes.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Fields of /proc/PID/stat after the command name: [state, ppid, pgrp,
/// session, tty_nr, tpgid, ...].
fn stat_fields(line: &str) -> (i32, Vec<String>) {
    let pid = line.split_whitespace().next().unwrap().parse().unwrap();
    let rest = &line[line.rfind(')').unwrap() + 1..];
    (pid, rest.split_whitespace().map(str::to_owned).collect())
}

fn status_field(pid: u32, name: &str) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .parse()
        .unwrap()
}

const SIGNALS: [(i32, &str); 6] = [
    (libc::SIGTERM, "TERM"),
    (libc::SIGINT, "INT"),
    (libc::SIGHUP, "HUP"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGQUIT, "QUIT"),
];

/// Counts zombies whose parent is $1 (a shell function for the programs).
const COUNT_ZOMBIES: &str = r#"
count_zombies() {
  n=0
  for f in /proc/[0-9]*/stat; do
    read -r l < "$f" 2>/dev/null || continue
    set -- ${l##*") "}
    if [ "$1" = Z ] && [ "$2" = "$parent" ]; then n=$((n+1)); fi
  done
  echo $n
}
"#;

// ------------------------------------------------------------- exit codes

#[test]
fn exit_codes() {
    let d = Scratch::new("exit");
    assert_eq!(run_keel(&["-s", "--", "sh", "-c", "exit 0"]).code(), 0);
    assert_eq!(run_keel(&["-s", "--", "sh", "-c", "exit 7"]).code(), 7);
    // Death by signal N: 128+N.
    assert_eq!(
        run_keel(&["-s", "--", "sh", "-c", "kill -USR1 $$"]).code(),
        128 + libc::SIGUSR1
    );
    assert_eq!(
        run_keel(&["-s", "--", "sh", "-c", "kill -KILL $$"]).code(),
        128 + libc::SIGKILL
    );
    // Not found: a path, and a name searched in PATH.
    let o = run_keel(&["-s", "--", &d.s("missing")]);
    assert_eq!(o.code(), 127, "{}", o.stderr);
    assert!(o.stderr.contains("not found"), "{}", o.stderr);
    assert_eq!(run_keel(&["-s", "--", "keel-no-such-program-here"]).code(), 127);
    // Not executable: a plain file, and a directory.
    let f = d.path("data");
    fs::write(&f, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let o = run_keel(&["-s", "--", &d.s("data")]);
    assert_eq!(o.code(), 126, "{}", o.stderr);
    assert!(o.stderr.contains("not executable"), "{}", o.stderr);
    assert_eq!(run_keel(&["-s", "--", d.0.to_str().unwrap()]).code(), 126);
    // Found in PATH after a directory where the name is not executable.
    fs::create_dir(d.path("bin")).unwrap();
    fs::write(d.path("bin/prog"), "not a program").unwrap();
    let mut c = keel_cmd(["-s", "--", "prog"]);
    c.env("PATH", format!("{}:/bin:/usr/bin", d.s("bin")));
    assert_eq!(run_with(c, Duration::from_secs(10)).code(), 126);
    // -e remaps, after the 128+N mapping; other codes pass through.
    assert_eq!(run_keel(&["-s", "-e", "7", "--", "sh", "-c", "exit 7"]).code(), 0);
    assert_eq!(
        run_keel(&["-s", "-e", "3", "-e7", "--", "sh", "-c", "exit 4"]).code(),
        4
    );
    assert_eq!(
        run_keel(&["-s", "-e", "143", "--", "sh", "-c", "kill -TERM $$"]).code(),
        0
    );
    // A bad command line: status 1 and a message, as tini.
    let o = run_keel(&["-s", "-e", "300", "--", "true"]);
    assert_eq!(o.code(), 1);
    assert!(o.stderr.contains("-e") && o.stderr.contains("300"), "{}", o.stderr);
    // --version, and the name tini with tini's argument style (no `--`).
    let o = run_keel(&["--version"]);
    assert_eq!(o.code(), 0);
    assert!(o.stdout.starts_with("keel "), "{}", o.stdout);
    std::os::unix::fs::symlink(keel(), d.path("tini")).unwrap();
    let o = run_with(
        {
            let mut c = Command::new(d.path("tini"));
            c.args(["-s", "sh", "-c", "echo \"$0 $1\"; exit 9", "a", "-v"]);
            c
        },
        Duration::from_secs(10),
    );
    assert_eq!(o.code(), 9, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "a -v");
}

// ------------------------------------------------------------- signals

/// The program traps the six signals; a second program in its process
/// group (started with INT and QUIT back to default, since a shell's
/// background jobs get them ignored) traps them too.
fn forwarding(group: bool) {
    let d = Scratch::new(if group { "fwd-group" } else { "fwd-child" });
    let out = d.s("log");
    let traps = |who: &str| -> String {
        SIGNALS
            .iter()
            .map(|(_, n)| format!("trap 'echo {who}:{n} >> \"$out\"' {n}\n"))
            .collect()
    };
    let grand = format!(
        "out=\"$1\"\n{}echo ready > \"$out.gready\"\nwhile [ ! -e \"$out.stop\" ]; do sleep 0.05; done\n",
        traps("grand")
    );
    let script = format!(
        "out=\"$1\"\n{}/usr/bin/env --default-signal=INT,QUIT busybox sh -c '{}' grand \"$out\" &\n\
         echo ready > \"$out.ready\"\nwhile [ ! -e \"$out.stop\" ]; do sleep 0.05; done\nwait\n",
        traps("child"),
        grand.replace('\'', "'\\''")
    );
    let mut args = vec!["-s"];
    if group {
        args.push("-g");
    }
    args.extend(["--", "busybox", "sh", "-c", &script, "sh", &out]);
    let start = Instant::now();
    let child = Tree::spawn(keel_cmd(&args));
    let pid = child.id();
    wait_until("the programs to start", Duration::from_secs(10), || {
        d.path("log.ready").exists() && d.path("log.gready").exists()
    });
    for (sig, name) in SIGNALS {
        kill(pid, sig);
        let log = d.path("log");
        wait_until(
            &format!("SIG{name} to reach the program"),
            Duration::from_secs(10),
            || file_has(&log, &format!("child:{name}")) && (!group || file_has(&log, &format!("grand:{name}"))),
        );
    }
    if !group {
        // Give a wrongly sent signal time to show up before concluding.
        std::thread::sleep(Duration::from_millis(300));
        let log = fs::read_to_string(d.path("log")).unwrap();
        assert!(
            !log.contains("grand:"),
            "without -g only the program gets signals:\n{log}"
        );
    }
    fs::write(d.path("log.stop"), "").unwrap();
    let o = child.finish(start, Duration::from_secs(20));
    assert_eq!(o.code(), 0, "{}", o.stderr);
}

#[test]
fn forwards_signals_to_the_program() {
    forwarding(false);
}

#[test]
fn forwards_signals_to_the_process_group_with_g() {
    forwarding(true);
}

#[test]
fn signal_mask_and_dispositions_are_restored() {
    // A program that prints its own SigBlk and SigIgn.
    let show = ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"];
    let parse = |s: &str| -> (u64, u64) {
        let get = |k: &str| {
            let v = s
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_else(|| panic!("no {k} in {s}"));
            u64::from_str_radix(v.trim(), 16).unwrap()
        };
        (get("SigBlk:"), get("SigIgn:"))
    };
    let usr1 = 1u64 << (libc::SIGUSR1 - 1);
    let usr2 = 1u64 << (libc::SIGUSR2 - 1);
    let with_inherited = |c: &mut Command| {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR2);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                libc::signal(libc::SIGUSR1, libc::SIG_IGN);
                Ok(())
            });
        }
    };
    // What a program started directly sees is the reference (the test's
    // own environment may add ignored signals of its own).
    let direct = |inherit: bool| {
        let mut c = Command::new(show[0]);
        c.args(&show[1..]);
        if inherit {
            with_inherited(&mut c);
        }
        parse(&run_with(c, Duration::from_secs(10)).stdout)
    };
    for inherit in [true, false] {
        let want = direct(inherit);
        if inherit {
            assert_eq!(want.0, usr2, "the test's own set-up");
            assert_eq!(want.1 & usr1, usr1, "the test's own set-up");
        }
        // Under keel, which blocks everything and ignores TTIN/TTOU itself.
        let mut k = keel_cmd(["-s", "--"].iter().chain(show.iter()));
        if inherit {
            with_inherited(&mut k);
        }
        let o = run_with(k, Duration::from_secs(10));
        assert_eq!(o.code(), 0, "{}", o.stderr);
        assert_eq!(parse(&o.stdout), want, "inherited: {inherit}: {}", o.stdout);
    }
}

#[test]
fn program_gets_the_terminal_foreground() {
    // script(1) gives keel a pseudo-terminal as its controlling terminal;
    // the program prints its own stat: pgrp (own group) and tpgid.
    let cmd = format!("{} -s -- cat /proc/self/stat", keel().display());
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"]);
    let o = run_with(c, Duration::from_secs(10));
    assert_eq!(o.code(), 0, "{} {}", o.stdout, o.stderr);
    let line = o
        .stdout
        .lines()
        .find(|l| l.contains("(cat)"))
        .unwrap_or_else(|| panic!("no stat line: {:?}", o.stdout));
    let (pid, f) = stat_fields(line.trim());
    let (pgrp, tty, tpgid): (i32, i32, i32) = (f[2].parse().unwrap(), f[4].parse().unwrap(), f[5].parse().unwrap());
    assert_ne!(tty, 0, "the program has the terminal: {line}");
    assert_eq!(pgrp, pid, "the program leads its own process group: {line}");
    assert_eq!(tpgid, pgrp, "the program's group is the terminal's foreground: {line}");
}

// ------------------------------------------------------------- reaping

#[test]
fn reaps_orphans_as_pid_1_of_a_pid_namespace() {
    // An orphan is re-parented to keel (pid 1 in the namespace) and must
    // not stay a zombie.
    let script =
        format!("{COUNT_ZOMBIES}parent=1\nbusybox sh -c 'busybox sleep 0.2 &'\nsleep 1\nexit $(count_zombies)\n");
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc"])
        .arg(keel())
        .args(["-w", "--", "busybox", "sh", "-c", &script]);
    let o = run_with(c, Duration::from_secs(20));
    assert_eq!(o.code(), 0, "zombies left: {}", o.stderr);
    assert!(
        o.stderr.contains("reaped zombie process"),
        "-w reports the orphan: {}",
        o.stderr
    );
    assert!(!o.stderr.contains("not running as PID 1"), "{}", o.stderr);
}

#[test]
fn reaps_orphans_as_a_subreaper() {
    let script =
        format!("{COUNT_ZOMBIES}parent=$PPID\nbusybox sh -c 'busybox sleep 0.2 &'\nsleep 1\nexit $(count_zombies)\n");
    let o = run_keel(&["-s", "-w", "--", "busybox", "sh", "-c", &script]);
    assert_eq!(o.code(), 0, "zombies left: {}", o.stderr);
    assert!(o.stderr.contains("reaped zombie process"), "{}", o.stderr);
    assert!(!o.stderr.contains("not running as PID 1"), "{}", o.stderr);
    // TINI_SUBREAPER does the same as -s.
    let mut c = keel_cmd(["-w", "--", "busybox", "sh", "-c", &script]);
    c.env("TINI_SUBREAPER", "1");
    let o = run_with(c, Duration::from_secs(20));
    assert_eq!(o.code(), 0, "zombies left: {}", o.stderr);
}

#[test]
fn warns_when_it_cannot_reap() {
    let o = run_keel(&["--", "true"]);
    assert_eq!(o.code(), 0);
    assert!(
        o.stderr.contains("not running as PID 1") && o.stderr.contains("subreaper"),
        "{}",
        o.stderr
    );
    // TINI_VERBOSITY=0: errors only.
    let mut c = keel_cmd(["--", "true"]);
    c.env("TINI_VERBOSITY", "0");
    assert_eq!(run_with(c, Duration::from_secs(10)).stderr, "");
}

// ------------------------------------------------------------- descendants

/// A program that leaves a descendant behind and exits 3. The descendant
/// writes its pid to `pidfile`, then either ignores SIGTERM (stubborn) or
/// notes it in `pidfile.term` and exits.
fn leaver(pidfile: &str, stubborn: bool) -> String {
    let on_term = if stubborn {
        "trap '' TERM".to_owned()
    } else {
        format!("trap 'echo term > {pidfile}.term; exit 0' TERM")
    };
    format!(
        "busybox sh -c \"{on_term}; echo \\$\\$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; while :; do sleep 0.05; done\" &\n\
         while [ ! -s {pidfile} ]; do sleep 0.02; done\nexit 3\n"
    )
}

#[test]
fn descendants_get_term_then_kill_after_grace_as_subreaper() {
    let d = Scratch::new("grace-sub");
    // A stubborn one: SIGKILL after the 1 s grace period, then keel exits
    // with the program's status.
    let o = run_keel(&["-s", "--grace", "1", "--", "sh", "-c", &leaver(&d.s("p1"), true)]);
    assert_eq!(o.code(), 3, "{}", o.stderr);
    assert!(
        o.elapsed >= Duration::from_millis(1000),
        "waited the grace period: {:?}",
        o.elapsed
    );
    assert!(o.elapsed < Duration::from_secs(8), "{:?}", o.elapsed);
    assert!(o.stderr.contains("SIGKILL"), "{}", o.stderr);
    let pid: i32 = fs::read_to_string(d.path("p1")).unwrap().trim().parse().unwrap();
    assert!(!alive(pid), "the stubborn descendant is gone");
    // A cooperative one: gets SIGTERM, exits, keel does not wait longer.
    let o = run_keel(&["-s", "--grace", "30", "--", "sh", "-c", &leaver(&d.s("p2"), false)]);
    assert_eq!(o.code(), 3, "{}", o.stderr);
    assert!(o.elapsed < Duration::from_secs(10), "{:?}", o.elapsed);
    assert!(file_has(&d.path("p2.term"), "term"));
    // Nothing left behind: no wait at all (default grace is 5 s).
    let o = run_keel(&["-s", "--", "true"]);
    assert_eq!(o.code(), 0);
    assert!(o.elapsed < Duration::from_secs(3), "{:?}", o.elapsed);
}

#[test]
fn descendants_get_term_then_kill_after_grace_as_pid_1() {
    let d = Scratch::new("grace-pid1");
    let ns = |args: &[&str]| {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--mount-proc"]).arg(keel()).args(args);
        run_with(c, Duration::from_secs(30))
    };
    let o = ns(&["--grace", "1", "--", "sh", "-c", &leaver(&d.s("p1"), true)]);
    assert_eq!(o.code(), 3, "{}", o.stderr);
    assert!(o.elapsed >= Duration::from_millis(1000), "{:?}", o.elapsed);
    assert!(o.elapsed < Duration::from_secs(8), "{:?}", o.elapsed);
    let o = ns(&["--grace", "30", "--", "sh", "-c", &leaver(&d.s("p2"), false)]);
    assert_eq!(o.code(), 3, "{}", o.stderr);
    assert!(o.elapsed < Duration::from_secs(10), "{:?}", o.elapsed);
    assert!(file_has(&d.path("p2.term"), "term"));
}

/// The cgroup2 mount, from /proc/self/mountinfo.
fn cgroup2_root() -> Option<PathBuf> {
    let mi = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (a, b) = l.split_once(" - ")?;
        (b.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(a.split_whitespace().nth(4).unwrap()))
    })
}

#[test]
fn descendants_in_its_own_cgroup_are_waited_for_and_killed() {
    let root = cgroup2_root().expect("a cgroup2 mount");
    struct CgDir(PathBuf);
    impl Drop for CgDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir(&self.0);
        }
    }
    let cg = CgDir(root.join(format!("keel-ci-{}", std::process::id())));
    let _ = fs::remove_dir(&cg.0);
    fs::create_dir(&cg.0).unwrap();
    let cg = &cg.0;
    let d = Scratch::new("grace-cgroup");
    // The descendant leaves the program's tree (setsid in a double fork):
    // only the cgroup still says it belongs to this container. No -s:
    // keel registers as subreaper itself when it owns its cgroup.
    let pidfile = d.s("p");
    let program = format!(
        "setsid busybox sh -c \"trap '' TERM; echo \\$\\$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; while :; do sleep 0.05; done\" &\n\
         while [ ! -s {pidfile} ]; do sleep 0.02; done\nexit 4\n"
    );
    let wrapper = format!("echo $$ > {}/cgroup.procs && exec \"$0\" \"$@\"", cg.display());
    let mut c = Command::new("sh");
    c.args(["-c", &wrapper])
        .arg(keel())
        .args(["-vv", "--grace", "1", "--", "sh", "-c", &program]);
    let o = run_with(c, Duration::from_secs(20));
    let procs = fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
    assert_eq!(o.code(), 4, "{}", o.stderr);
    assert!(o.stderr.contains("alone in cgroup"), "{}", o.stderr);
    assert!(o.elapsed >= Duration::from_millis(1000), "{:?}", o.elapsed);
    assert!(procs.trim().is_empty(), "the cgroup is empty after keel: {procs}");
    let pid: i32 = fs::read_to_string(d.path("p")).unwrap().trim().parse().unwrap();
    assert!(!alive(pid));
}

// ------------------------------------------------------------- fds

#[test]
fn fds_above_2_are_closed_unless_kept_and_listen_fds_pass() {
    let probe = "for f in 3 4 5; do [ -e /proc/self/fd/$f ] && echo open:$f; done; echo pid:$LISTEN_PID:$$";
    let wrap = |keel_args: &str, env: &str| {
        let script =
            format!("exec 3</dev/null 4</dev/null 5</dev/null; {env} exec \"$0\" {keel_args} -- sh -c '{probe}'");
        let mut c = Command::new("sh");
        c.args(["-c", &script]).arg(keel());
        run_with(c, Duration::from_secs(10))
    };
    let o = wrap("-s", "");
    assert_eq!(o.code(), 0, "{}", o.stderr);
    assert!(!o.stdout.contains("open:"), "{}", o.stdout);
    let o = wrap("-s --keep-fds", "");
    assert!(
        o.stdout.contains("open:3") && o.stdout.contains("open:4") && o.stdout.contains("open:5"),
        "{}",
        o.stdout
    );
    // Socket activation meant for keel: 3 and 4 kept, LISTEN_PID = the program.
    let o = wrap("-s", "export LISTEN_FDS=2 LISTEN_PID=$$;");
    assert!(
        o.stdout.contains("open:3") && o.stdout.contains("open:4") && !o.stdout.contains("open:5"),
        "{}",
        o.stdout
    );
    let pids = o.stdout.lines().find_map(|l| l.strip_prefix("pid:")).unwrap();
    let (lp, me) = pids.split_once(':').unwrap();
    assert_eq!(lp, me, "LISTEN_PID names the program");
    // Meant for someone else: closed, and LISTEN_PID left alone.
    let o = wrap("-s", "export LISTEN_FDS=2 LISTEN_PID=1;");
    assert!(!o.stdout.contains("open:"), "{}", o.stdout);
    assert!(o.stdout.contains("pid:1:"), "{}", o.stdout);
}

// ------------------------------------------------------------- idle, seccomp

#[test]
fn no_wake_ups_while_idle() {
    let start = Instant::now();
    let child = Tree::spawn(keel_cmd(["-s", "--", "sleep", "60"]));
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    let switches = || status_field(pid, "voluntary_ctxt_switches") + status_field(pid, "nonvoluntary_ctxt_switches");
    let before = switches();
    std::thread::sleep(Duration::from_secs(5));
    let after = switches();
    kill(pid, libc::SIGTERM);
    let o = child.finish(start, Duration::from_secs(20));
    assert_eq!(after, before, "keel woke up while idle");
    assert_eq!(o.code(), 128 + libc::SIGTERM, "{}", o.stderr);
}

fn noclone3() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // Built once per test process into cargo's scratch dir for
        // integration tests; the rename makes concurrent runs safe.
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/noclone3.c");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = dir.join("noclone3");
        let tmp = dir.join(format!("noclone3.{}", std::process::id()));
        let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-static", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("a C compiler (cc) to build the seccomp helper");
        assert!(
            st.success(),
            "cc -static {} failed (static libc needed: libc6-dev)",
            src.display()
        );
        fs::rename(&tmp, &out).unwrap();
        out
    })
}

#[test]
fn runs_where_seccomp_refuses_clone3() {
    for errno in ["ENOSYS", "EPERM"] {
        let mut c = Command::new(noclone3());
        c.arg(errno).arg(keel()).args(["-s", "-vv", "--", "sh", "-c", "exit 5"]);
        let o = run_with(c, Duration::from_secs(10));
        assert_eq!(o.code(), 5, "{errno}: {}", o.stderr);
        assert!(o.stderr.contains("falling back to clone"), "{errno}: {}", o.stderr);
        // Signals still reach the program started through the fallback.
        let mut c = Command::new(noclone3());
        c.arg(errno).arg(keel()).args(["-s", "--", "sleep", "30"]);
        let start = Instant::now();
        let child = Tree::spawn(c);
        std::thread::sleep(Duration::from_millis(300));
        kill(child.id(), libc::SIGINT);
        let o = child.finish(start, Duration::from_secs(10));
        assert_eq!(o.code(), 128 + libc::SIGINT, "{errno}: {}", o.stderr);
    }
}

/// `keel-init`, the binary with container-init mode alone (built beside
/// `keel` by the same cargo run), behaves as `keel -- …`: exit codes,
/// remapping, and forwarding.
#[test]
fn the_keel_init_binary_is_the_same_mode() {
    let ki = keel().with_file_name("keel-init");
    assert!(
        ki.is_file(),
        "{} missing: it is built with keel (cargo build --release -p keel-init)",
        ki.display()
    );
    let code = |args: &[&str]| {
        let st = Command::new(&ki)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        st.code()
    };
    assert_eq!(code(&["--", "/bin/sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["-e", "7", "--", "/bin/sh", "-c", "exit 7"]), Some(0));
    assert_eq!(code(&["--", "/nonexistent/program"]), Some(127));
    assert_eq!(code(&["--", "/bin/sh", "-c", "kill -KILL $$"]), Some(128 + 9));
    let mut child = Command::new(&ki)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "trap 'exit 42' TERM; echo up; while :; do sleep 0.05; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = [0u8; 3];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"up\n");
    kill(child.id(), 15);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(42), "TERM forwarded to the program");
}
