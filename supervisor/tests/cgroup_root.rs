//! keel's cgroup2 layer against the real kernel, as root.
//!
//! `Cgroup2` may move the *calling process* into its leaf (delegation, on
//! the first limit whose controller the table lacks), so every test that
//! uses it runs its body in a fresh copy of this test binary (one
//! process per test, `--exact`, selected by KEEL_CG_CHILD): the harness's
//! own process is never moved, and each copy has its own pid, hence its own
//! `keel-<pid>` table — the tests run in parallel without colliding.
//!
//! On this host cgroup2 holds only hugetlb (implementation-notes §1.4), so
//! limits are checked for the exact "controller not available" error; where
//! the controllers exist (the VM) the same test checks the written values.
//! Skipped (with a note) when not root or without cgroup2. One test runs
//! under `unshare --pid --fork` (util-linux or busybox). Also run, passing,
//! in the VM (Debian's 6.1 kernel, pure cgroup2 at /sys/fs/cgroup) with the
//! root cgroup delegating nothing and then every controller.

use keel_rt::sys::{clone3, CloneArgs, Forked, CLONE_INTO_CGROUP};
use keel_supervisor::cgroup::{self, mountinfo, proc_cgroup, Cgroup2, ErrorKind};
use keel_supervisor::spec::CgroupLimits;
use rustix::event::epoll;
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::process::{Pid, WaitOptions};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KEEL_CG_CHILD";

fn skip() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return true;
    }
    if mount_point().is_none() {
        eprintln!("skipped: no cgroup2 mount");
        return true;
    }
    false
}

/// The first cgroup2 mount point, by keel's own parser.
fn mount_point() -> Option<String> {
    let text = std::fs::read("/proc/self/mountinfo").ok()?;
    let m = mountinfo::find_cgroup2(&text)?;
    let mut p = keel_rt::path::PathBuf::new();
    mountinfo::unescape(m.point, &mut p);
    String::from_utf8(p.as_bytes().to_vec()).ok()
}

/// The cgroup2 path of `pid` ("self" for this process).
fn cgroup_of(pid: &str) -> String {
    let text = std::fs::read(format!("/proc/{pid}/cgroup")).unwrap();
    String::from_utf8(proc_cgroup::own_path(&text).expect("a 0:: line").to_vec()).unwrap()
}

fn join(base: &str, rel: &str) -> String {
    match rel {
        "/" | "" => base.to_string(),
        r => format!("{}{}", base.trim_end_matches('/'), r),
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok<T>(r: Result<T, cgroup::Error>) -> T {
    r.unwrap_or_else(|e| panic!("{}", s(e.as_bytes())))
}

/// True in the parent, after the child copy running `name` succeeded; false
/// in that child, which then runs the body. `wrapper` is a command the child
/// runs under (e.g. `unshare --pid --fork`).
fn in_child(name: &str, wrapper: &[&str]) -> bool {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((w, rest)) => {
            let mut c = Command::new(w);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name);
    judge(name, cmd.output().unwrap());
    true
}

/// Cleans up after a child (whatever it left behind: a failed assertion
/// skips its teardown), then asserts it passed.
fn judge(name: &str, out: std::process::Output) {
    let (o, e) = (s(&out.stdout), s(&out.stderr));
    let mut leftovers = Vec::new();
    for table in o.lines().filter_map(|l| l.strip_prefix(TABLE_TAG)) {
        if Path::new(table).exists() {
            leftovers.push(table.to_string());
            force_remove(Path::new(table));
        }
    }
    assert!(
        out.status.success(),
        "child {name} failed: {}\n--- stdout\n{o}\n--- stderr\n{e}",
        out.status
    );
    assert!(o.contains("1 passed"), "child {name} ran no test:\n{o}\n{e}");
    assert!(leftovers.is_empty(), "child {name} left {leftovers:?} behind");
}

/// Printed by a child after setup, so that the parent can clean up.
const TABLE_TAG: &str = "KEEL_CG_TABLE=";

fn announce(cg: &Cgroup2) {
    println!("{TABLE_TAG}{}", s(cg.path()));
}

/// Kills everything in the cgroup tree at `p` and removes it, deepest first.
fn force_remove(p: &Path) {
    let _ = std::fs::write(p.join("cgroup.kill"), "1");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(p.join("cgroup.events")).is_ok_and(|t| t.contains("populated 1"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Ok(rd) = std::fs::read_dir(p) {
        for ent in rd.flatten() {
            if ent.file_type().is_ok_and(|t| t.is_dir()) {
                force_remove(&ent.path());
            }
        }
    }
    let _ = std::fs::remove_dir(p);
}

/// Starts `sleep 1000` with clone3(CLONE_INTO_CGROUP) into `dir`.
fn sleep_in(dir: &OwnedFd) -> i32 {
    let argv = [c"sleep".as_ptr(), c"1000".as_ptr(), core::ptr::null()];
    let envp = [core::ptr::null::<core::ffi::c_char>()];
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: linux_raw_sys::general::SIGCHLD as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: fork semantics (no CLONE_VM, no stack); the child only execs with pointers prepared before the call, or exits.
    match unsafe { clone3(&mut args) } {
        Ok(Forked::Child) => {
            // SAFETY: argv/envp are NULL-terminated arrays of C strings.
            unsafe {
                keel_rt::sys::execveat(
                    keel_rt::sys::AT_FDCWD,
                    c"/bin/sleep",
                    argv.as_ptr().cast(),
                    envp.as_ptr().cast(),
                    0,
                )
            };
            keel_rt::exit(127)
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => panic!("clone3 into cgroup: {e:?}"),
    }
}

fn reap(pid: i32) -> Option<i32> {
    let (_, st) = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty())
        .unwrap()
        .unwrap();
    st.terminating_signal()
}

fn pids_in(cg: &Cgroup2, name: &[u8], n: usize) -> Vec<i32> {
    // A clone3'd child is in its cgroup from its first instruction: no
    // waiting needed.
    let mut out = [0i32; 16];
    let got = ok(cg.procs(name, &mut out));
    assert_eq!(got, n, "pids in {}", s(name));
    out[..got].to_vec()
}

// ------------------------------------------------------------------- tests

#[test]
fn supervisor_mode_setup_and_teardown() {
    if skip() || in_child("supervisor_mode_setup_and_teardown", &[]) {
        return;
    }
    let mount = mount_point().unwrap();
    let before = cgroup_of("self");
    let cg = ok(Cgroup2::setup(false));
    announce(&cg);
    let pid = std::process::id();
    let table = format!("{}/keel-{pid}", join(&mount, &before));
    assert_eq!(s(cg.path()), table);
    assert_eq!(s(cg.mount_point()), mount);
    // Setting up does not move keel (a migration costs an RCU grace period).
    assert_eq!(cgroup_of("self"), before);
    // A limit whose controller the table lacks makes keel delegate: it
    // moves (every thread) into its leaf so its own cgroup may hand
    // controllers down. On this host memory is not in cgroup2 at all, so
    // the limit still fails — after the move.
    let _c = ok(cg.create(b"wants-memory"));
    let table_has_memory = std::fs::read_to_string(format!("{table}/cgroup.controllers"))
        .unwrap()
        .contains("memory");
    let r = cg.apply_limits(
        b"wants-memory",
        &CgroupLimits {
            memory_max: Some(1 << 30),
            ..Default::default()
        },
    );
    if !table_has_memory {
        let leaf_rel = format!("{}/keel-{pid}/keel", before.trim_end_matches('/'));
        for t in std::fs::read_dir("/proc/self/task").unwrap() {
            let tid = t.unwrap().file_name().into_string().unwrap();
            assert_eq!(cgroup_of(&format!("self/task/{tid}")), leaf_rel);
        }
        let mut pids = [0i32; 8];
        let n = ok(cg.leaf_procs(&mut pids));
        assert_eq!(&pids[..n], &[pid as i32]);
        let has_memory_anywhere = std::fs::read_to_string(format!("{mount}/cgroup.controllers"))
            .unwrap()
            .contains("memory");
        assert_eq!(r.is_ok(), has_memory_anywhere, "{:?}", r.err().map(|e| s(e.as_bytes())));
    }
    ok(cg.remove(b"wants-memory"));
    // Every controller the table may have is enabled for its children.
    let have = std::fs::read_to_string(format!("{table}/cgroup.controllers")).unwrap();
    let enabled = std::fs::read_to_string(format!("{table}/cgroup.subtree_control")).unwrap();
    let mut a: Vec<_> = have.split_whitespace().collect();
    let mut b: Vec<_> = enabled.split_whitespace().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    cg.teardown();
    assert_eq!(cgroup_of("self"), before);
    assert!(!Path::new(&table).exists(), "{table} left behind");
}

#[test]
fn placement_kill_and_events() {
    if skip() || in_child("placement_kill_and_events", &[]) {
        return;
    }
    let mount = mount_point().unwrap();
    let cg = ok(Cgroup2::setup(false));
    announce(&cg);
    let table_rel = s(&cg.path()[cg.mount_point().len()..]);
    let name = b"web";
    let dir = ok(cg.create(name));
    assert!(Path::new(&format!("{}/web", s(cg.path()))).is_dir());

    let kids: Vec<i32> = (0..3).map(|_| sleep_in(&dir)).collect();
    for k in &kids {
        assert_eq!(
            cgroup_of(&k.to_string()),
            format!("{table_rel}/web"),
            "placement of {k} (mount {mount})"
        );
    }
    let mut listed = pids_in(&cg, name, 3);
    listed.sort();
    let mut want = kids.clone();
    want.sort();
    assert_eq!(listed, want);

    // The events fd: EPOLLPRI only; quiet until something changes.
    let ev = ok(cg.open_events(name));
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    epoll::add(&ep, &ev, epoll::EventData::new_u64(7), epoll::EventFlags::PRI).unwrap();
    assert!(ok(cgroup::populated(&ev)));
    let mut events = [epoll::Event {
        flags: epoll::EventFlags::empty(),
        data: epoll::EventData::new_u64(0),
    }; 4];
    let quiet = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 200_000_000,
    };
    let n = epoll::wait(&ep, &mut events[..], Some(&quiet)).unwrap();
    assert_eq!(n, 0, "no event before any change");

    // Populated: rmdir is refused, and says why.
    let e = cg.remove(name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{}", s(e.as_bytes()));
    assert!(
        s(e.as_bytes()).ends_with("/web: EBUSY (still populated)"),
        "{}",
        s(e.as_bytes())
    );

    ok(cg.kill(name));
    // Observed by blocking in epoll_wait, never by polling: each wake-up
    // is followed by one re-read.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut wakeups = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "populated never went to 0");
        let t = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        let n = epoll::wait(&ep, &mut events[..], Some(&t)).unwrap();
        if n == 0 {
            continue;
        }
        wakeups += 1;
        let flags = events[0].flags;
        assert!(flags.contains(epoll::EventFlags::PRI), "{flags:?}");
        assert_eq!(events[0].data.u64(), 7);
        if !ok(Cgroup2::populated(&ev)) {
            break;
        }
    }
    assert!(wakeups <= 3, "{wakeups} wake-ups for one change");
    // The re-read re-armed it: quiet again.
    let n = epoll::wait(&ep, &mut events[..], Some(&quiet)).unwrap();
    let flags = events[0].flags;
    assert_eq!(n, 0, "an event after the re-read: {flags:?}");
    // The processes are gone (zombies until reaped: they do not populate).
    for k in kids {
        assert_eq!(reap(k), Some(9), "pid {k} killed by SIGKILL");
    }
    assert_eq!(pids_in(&cg, name, 0), Vec::<i32>::new());

    drop(dir);
    ok(cg.remove(name));
    assert!(!Path::new(&format!("{}/web", s(cg.path()))).exists());
    ok(cg.remove(name)); // already gone: fine
    let table = s(cg.path());
    cg.teardown();
    assert!(!Path::new(&table).exists(), "{table} left behind");
}

#[test]
fn limits_need_their_controllers() {
    if skip() || in_child("limits_need_their_controllers", &[]) {
        return;
    }
    let mount = mount_point().unwrap();
    let cg = ok(Cgroup2::setup(false));
    announce(&cg);
    let name = b"limited";
    let _dir = ok(cg.create(name));
    ok(cg.apply_limits(name, &CgroupLimits::default()));

    let table = s(cg.path());
    let has = |dir: &str, c: &str| {
        std::fs::read_to_string(format!("{dir}/cgroup.controllers"))
            .unwrap()
            .split_whitespace()
            .any(|x| x == c)
    };
    let mem = CgroupLimits {
        memory_max: Some(64 << 20),
        pids_max: Some(32),
        ..Default::default()
    };
    if has(&table, "memory") && has(&table, "pids") {
        // A pure cgroup2 that delegates to keel's table (the VM).
        ok(cg.apply_limits(name, &mem));
        let dir = format!("{table}/limited");
        assert_eq!(
            std::fs::read_to_string(format!("{dir}/memory.max")).unwrap().trim(),
            "67108864"
        );
        assert_eq!(std::fs::read_to_string(format!("{dir}/pids.max")).unwrap().trim(), "32");
        let more = CgroupLimits {
            memory_max: Some(u64::MAX),
            cpu_max: Some((50_000, 100_000)),
            cpu_weight: Some(200),
            ..Default::default()
        };
        if has(&table, "cpu") {
            ok(cg.apply_limits(name, &more));
            assert_eq!(
                std::fs::read_to_string(format!("{dir}/memory.max")).unwrap().trim(),
                "max"
            );
            assert_eq!(
                std::fs::read_to_string(format!("{dir}/cpu.max")).unwrap().trim(),
                "50000 100000"
            );
            assert_eq!(
                std::fs::read_to_string(format!("{dir}/cpu.weight")).unwrap().trim(),
                "200"
            );
        }
        // A value the kernel refuses names the file and the value.
        let bad = CgroupLimits {
            cpu_weight: Some(0),
            ..Default::default()
        };
        if has(&table, "cpu") {
            let e = cg.apply_limits(name, &bad).unwrap_err();
            assert_eq!(s(e.as_bytes()), format!("cgroup write 0 to {dir}/cpu.weight: ERANGE"));
        }
    } else if !has(&mount, "memory") {
        // This host: memory is bound to cgroup v1.
        let e = cg.apply_limits(name, &mem).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoController);
        assert_eq!(
            s(e.as_bytes()),
            format!("cgroup memory.max: memory controller not available in cgroup2 at {mount}")
        );
        if mount == "/sys/fs/cgroup/unified" {
            assert_eq!(
                e.as_bytes(),
                b"cgroup memory.max: memory controller not available in cgroup2 at /sys/fs/cgroup/unified"
            );
        }
        let line = keel_rt::line!("keel: container web: ", e);
        assert!(line
            .as_bytes()
            .starts_with(b"keel: container web: cgroup memory.max: memory controller"));
        if !has(&mount, "cpu") {
            let cpu = CgroupLimits {
                cpu_max: Some((50_000, 100_000)),
                ..Default::default()
            };
            let e = cg.apply_limits(name, &cpu).unwrap_err();
            assert_eq!(
                s(e.as_bytes()),
                format!("cgroup cpu.max: cpu controller not available in cgroup2 at {mount}")
            );
        }
    } else {
        // The hierarchy has it, but keel's parent does not delegate it.
        let e = cg.apply_limits(name, &mem).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NoController);
        assert_eq!(
            s(e.as_bytes()),
            format!("cgroup memory.max: memory controller not delegated to {table} (enable it in its parent's cgroup.subtree_control)")
        );
    }
    ok(cg.remove(name));
    cg.teardown();
    assert!(!Path::new(&table).exists(), "{table} left behind");
}

#[test]
fn reuse_nested_removal_names_and_place() {
    if skip() || in_child("reuse_nested_removal_names_and_place", &[]) {
        return;
    }
    let cg = ok(Cgroup2::setup(false));
    announce(&cg);
    let table = s(cg.path());
    let name = b"db";
    let dir = ok(cg.create(name));
    // The container made cgroups of its own below its cgroup.
    for d in ["a", "a/b", "a/b/c", "a2"] {
        std::fs::create_dir(format!("{table}/db/{d}")).unwrap();
    }
    drop(dir);
    // An unpopulated leftover is made anew (its sub-cgroups go with it).
    let dir = ok(cg.create(name));
    assert!(!Path::new(&format!("{table}/db/a")).exists());

    // A populated one is refused. The fallback placement (cgroup.procs)
    // puts a process there too.
    let other = ok(cg.create(b"other"));
    let k = sleep_in(&other);
    ok(cg.place(name, k));
    assert_eq!(
        cgroup_of(&k.to_string()),
        format!("{}/db", s(&cg.path()[cg.mount_point().len()..]))
    );
    let e = cg.create(name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Populated, "{}", s(e.as_bytes()));
    assert_eq!(
        s(e.as_bytes()),
        format!("cgroup mkdir {table}/db: EEXIST (a cgroup of that name still has processes)")
    );
    // Processes below: the whole subtree is killed and counted.
    std::fs::create_dir(format!("{table}/db/inner")).unwrap();
    std::fs::write(format!("{table}/db/inner/cgroup.procs"), k.to_string()).unwrap();
    assert_eq!(pids_in(&cg, name, 0), Vec::<i32>::new());
    let ev = ok(cg.open_events(name));
    assert!(ok(cgroup::populated(&ev)));
    ok(cg.kill(name));
    assert_eq!(reap(k), Some(9));
    assert!(!ok(cgroup::populated(&ev)));
    ok(cg.remove(name));
    assert!(!Path::new(&format!("{table}/db")).exists());
    drop(dir);

    // Names that are not container names never reach the file system.
    for bad in [
        &b"keel"[..],
        b"",
        b"..",
        b"a/b",
        b"../x",
        b"cgroup.procs",
        b"memory.max",
        b"-x",
        b"a\0b",
    ] {
        let e = cg.create(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadName, "{}", s(bad));
        assert_eq!(cg.remove(bad).unwrap_err().kind(), ErrorKind::BadName);
        assert_eq!(cg.kill(bad).unwrap_err().kind(), ErrorKind::BadName);
    }
    let e = cg.procs(b"missing", &mut []).unwrap_err();
    assert_eq!(e.errno(), Some(rustix::io::Errno::NOENT));
    assert_eq!(
        s(e.as_bytes()),
        format!("cgroup read {table}/missing/cgroup.procs: ENOENT")
    );

    // teardown removes what is left (empty container cgroups included).
    drop(other);
    cg.teardown();
    assert!(!Path::new(&table).exists(), "{table} left behind");
}

/// Several keels each pid 1 of their own pid namespace (with the host's
/// /proc) still get distinct tables: named by the pid /proc shows.
#[test]
fn pid_namespace_keel_is_named_by_its_host_pid() {
    if skip()
        || in_child(
            "pid_namespace_keel_is_named_by_its_host_pid",
            &["unshare", "--pid", "--fork"],
        )
    {
        return;
    }
    assert_eq!(std::process::id(), 1);
    let host_pid = std::fs::read_link("/proc/self")
        .unwrap()
        .into_os_string()
        .into_string()
        .unwrap();
    let cg = ok(Cgroup2::setup(false));
    announce(&cg);
    assert!(s(cg.path()).ends_with(&format!("/keel-{host_pid}")), "{}", s(cg.path()));
    let table = s(cg.path());
    cg.teardown();
    assert!(!Path::new(&table).exists());
}

/// Boot mode, in a cgroup namespace rooted at a cgroup of the test's own and
/// a private mount namespace with a fresh cgroup2 mount: the table is the
/// mount itself, keel's leaf is `/keel` there, and the host's cgroup2 mount
/// (root `/..` from inside) is passed over.
#[test]
fn boot_mode_in_a_cgroup_namespace() {
    const NAME: &str = "boot_mode_in_a_cgroup_namespace";
    if skip() {
        return;
    }
    if std::env::var(CHILD_ENV).as_deref() != Ok(NAME) {
        let host = mount_point().unwrap();
        let base = format!(
            "{}/keel-test-boot-{}",
            join(&host, &cgroup_of("self")),
            std::process::id()
        );
        let mnt = std::env::temp_dir().join(format!("keel-test-boot-mnt-{}", std::process::id()));
        std::fs::create_dir(&base).unwrap();
        std::fs::create_dir(&mnt).unwrap();
        let exe = std::env::current_exe().unwrap();
        let procs = std::ffi::CString::new(format!("{base}/cgroup.procs")).unwrap();
        let mut cmd = Command::new(&exe);
        cmd.args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, NAME)
            .env("KEEL_CG_MNT", &mnt);
        // SAFETY: the closure runs in the forked child before exec and makes only system calls (no allocation, no locks): move into `base`, then new cgroup and mount namespaces, the latter private.
        unsafe {
            cmd.pre_exec(move || {
                let errno = |e: rustix::io::Errno| std::io::Error::from_raw_os_error(e.raw_os_error());
                let fd = rustix::fs::open(procs.as_c_str(), rustix::fs::OFlags::WRONLY, rustix::fs::Mode::empty())
                    .map_err(errno)?;
                rustix::io::write(&fd, b"0").map_err(errno)?;
                rustix::thread::unshare_unsafe(
                    rustix::thread::UnshareFlags::NEWCGROUP | rustix::thread::UnshareFlags::NEWNS,
                )
                .map_err(errno)?;
                rustix::mount::mount_change(
                    c"/",
                    rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
                )
                .map_err(errno)?;
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        // Clean up before judging.
        let _ = std::fs::remove_dir(format!("{base}/ctr"));
        let leaf = std::fs::remove_dir(format!("{base}/keel"));
        let _ = std::fs::remove_dir(&base);
        let _ = std::fs::remove_dir(&mnt);
        let (o, e) = (s(&out.stdout), s(&out.stderr));
        assert!(out.status.success(), "child failed: {}\n{o}\n{e}", out.status);
        assert!(o.contains("1 passed"), "child ran no test:\n{o}\n{e}");
        assert!(leaf.is_err(), "boot mode stays in the root: no leaf {base}/keel");
        assert!(!Path::new(&base).exists(), "{base} left behind");
        return;
    }
    // The child: in a new cgroup namespace whose root is `base`.
    assert_eq!(cgroup_of("self"), "/");
    let mnt = std::env::var("KEEL_CG_MNT").unwrap();
    rustix::mount::mount(
        "none",
        mnt.as_str(),
        "cgroup2",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();
    let cg = ok(Cgroup2::setup(true));
    announce(&cg);
    assert_eq!(s(cg.path()), mnt);
    assert_eq!(s(cg.mount_point()), mnt);
    // The root cgroup may hold processes and hand controllers down: boot
    // mode never moves keel.
    assert_eq!(cgroup_of("self"), "/");
    let dir = ok(cg.create(b"ctr"));
    let k = sleep_in(&dir);
    assert_eq!(cgroup_of(&k.to_string()), "/ctr");
    ok(cg.kill(b"ctr"));
    assert_eq!(reap(k), Some(9));
    drop(dir);
    ok(cg.remove(b"ctr"));
    // A second setup (keel re-executed in boot mode) finds itself in place.
    let again = ok(Cgroup2::setup(true));
    assert_eq!(cgroup_of("self"), "/");
    again.teardown(); // boot mode: nothing to undo
    cg.teardown();
    assert_eq!(cgroup_of("self"), "/");
}
