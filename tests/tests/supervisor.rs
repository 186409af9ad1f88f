//! Supervisor mode, driving the built static binary as root with real
//! namespaces (issue 2's integration list). Each test has its own keel, its
//! own directories and its own cgroup table, so they run in parallel.

use keel_tests::*;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn shell(root: &Path, extra: &str, script: &str) -> String {
    format!(
        "root {}\nmount proc /proc\n{extra}\nargs /bin/sh -c {:?}\n",
        root.display(),
        script
    )
}

fn own_ns(kind: &str) -> u64 {
    ns_inode(std::process::id(), kind)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn new_namespaces_are_new_host_and_shared_ones_are_not() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec(
        "owner",
        &shell(
            &root,
            "ns user new\nuid_map 0 100000 65536\ngid_map 0 100000 65536\nns time new\ntime_offsets boottime=3600",
            "sleep 60",
        ),
    );
    k.spec(
        "hosty",
        &shell(&root, "ns net host\nns ipc host\nns cgroup host", "sleep 60"),
    );
    k.spec(
        "sharer",
        &shell(
            &root,
            "ns user share owner\nns pid share owner\nns net share owner\nns uts share owner\nns ipc share owner",
            "sleep 60",
        ),
    );
    k.start();
    let o = k.wait_for_state("owner", "running", T).pid().unwrap();
    let h = k.wait_for_state("hosty", "running", T).pid().unwrap();
    let s = k.wait_for_state("sharer", "running", T).pid().unwrap();
    let keel = k.pid();
    for kind in ["mnt", "pid", "net", "uts", "ipc", "cgroup", "user", "time"] {
        assert_ne!(
            ns_inode(o, kind),
            ns_inode(keel, kind),
            "owner's {kind} namespace must be new"
        );
    }
    for kind in ["net", "ipc", "cgroup", "user", "time"] {
        assert_eq!(
            ns_inode(h, kind),
            ns_inode(keel, kind),
            "hosty's {kind} namespace is the host's"
        );
    }
    for kind in ["mnt", "pid", "uts"] {
        assert_ne!(
            ns_inode(h, kind),
            ns_inode(keel, kind),
            "hosty's {kind} namespace must be new"
        );
    }
    for kind in ["user", "pid", "net", "uts", "ipc"] {
        assert_eq!(ns_inode(s, kind), ns_inode(o, kind), "sharer shares owner's {kind}");
    }
    for kind in ["mnt"] {
        assert_ne!(ns_inode(s, kind), ns_inode(o, kind), "sharer's {kind} is its own");
    }
    // The status file reports the same inodes.
    let row = k.container("owner").unwrap();
    assert_eq!(row.ns("net"), Some(ns_inode(o, "net")));
    assert_eq!(row.ns("user"), Some(ns_inode(o, "user")));
    assert_eq!(own_ns("net"), ns_inode(keel, "net"));
}

#[test]
fn hostname_root_mounts_dev_lo_and_log_prefix() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    std::fs::write(root.join("marker-inside"), "x").unwrap();
    let script = "hostname; ls /; cat /proc/self/mountinfo; ls -l /dev; cat /sys/class/net/lo/flags; \
                  test -e /work && echo HOST-WORK-VISIBLE; echo done";
    k.spec(
        "c1",
        &format!(
            "root {}\nhostname box1\nmount proc /proc\nmount sysfs /sys ro\nmount tmpfs /tmp size=1m,nosuid,nodev\n\
             args /bin/sh -c {script:?}\nstdio log\noneshot\n",
            root.display()
        ),
    );
    k.start();
    k.wait_for_state("c1", "exited", T);
    let log = k.log();
    let lines: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("c1: ")).collect();
    assert!(lines.contains(&"box1"), "hostname inside: {log}");
    assert!(lines.contains(&"marker-inside"), "the root is the container's: {log}");
    assert!(
        !lines.iter().any(|l| l.contains("HOST-WORK-VISIBLE")),
        "host files must be invisible: {log}"
    );
    let tmp = lines
        .iter()
        .find(|l| l.contains(" /tmp ") && l.contains("tmpfs"))
        .expect("tmpfs on /tmp");
    assert!(tmp.contains("nosuid") && tmp.contains("nodev"), "{tmp}");
    let sys = lines
        .iter()
        .find(|l| l.contains(" /sys ") && l.contains("sysfs"))
        .expect("sysfs on /sys");
    assert!(sys.contains(" ro,") || sys.contains(" ro "), "{sys}");
    for node in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with(&format!(" {node}")) || l.contains(&format!(" {node} -> "))),
            "/dev/{node}: {log}"
        );
    }
    // IFF_UP | IFF_LOOPBACK
    assert!(lines.contains(&"0x9"), "lo must be up: {log}");
    assert!(lines.contains(&"done"), "{log}");
}

#[test]
fn root_cannot_be_detached_inside_a_user_namespace() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec(
        "u",
        &shell(
            &root,
            "ns user new\nuid_map 0 100000 65536\ngid_map 0 100000 65536\ncaps bounding all\ncaps effective all\ncaps permitted all\nstdio log\noneshot",
            "umount -l / && echo DETACHED || echo umount-failed; ls /",
        ),
    );
    k.start();
    k.wait_for_state("u", "exited", T);
    let log = k.log();
    assert!(
        log.contains("u: umount-failed"),
        "umount2(/) must fail after pivot_root: {log}"
    );
    assert!(!log.contains("DETACHED"), "{log}");
}

#[test]
fn uid_map_and_capabilities() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec(
        "mapped",
        &shell(
            &root,
            "ns user new\nuid_map 0 100000 65536\ngid_map 0 100000 65536",
            "sleep 60",
        ),
    );
    k.spec(
        "rootcaps",
        &shell(
            &root,
            "caps bounding chown kill net_bind_service\ncaps effective kill\ncaps permitted kill chown\n",
            "sleep 60",
        ),
    );
    k.spec(
        "nonroot",
        &shell(
            &root,
            "user 1000:1000\ncaps bounding kill net_bind_service net_raw\ncaps effective net_bind_service\ncaps permitted net_bind_service\n\
             caps inheritable net_bind_service\ncaps ambient net_bind_service\nno_new_privs",
            "sleep 60",
        ),
    );
    k.start();
    let m = k.wait_for_state("mapped", "running", T).pid().unwrap();
    let uid = status_field(m, "Uid").unwrap();
    assert!(
        uid.split_whitespace().all(|u| u == "100000"),
        "uid 0 inside is host 100000: {uid}"
    );
    let r = k.wait_for_state("rootcaps", "running", T).pid().unwrap();
    let (chown, kill, nbs, net_raw) = (1u64 << 0, 1u64 << 5, 1u64 << 10, 1u64 << 13);
    assert_eq!(cap_mask(r, "CapBnd"), chown | kill | nbs);
    // uid 0: execve grants the bounding set to permitted and effective.
    assert_eq!(cap_mask(r, "CapPrm"), chown | kill | nbs);
    assert_eq!(cap_mask(r, "CapEff"), chown | kill | nbs);
    assert_eq!(cap_mask(r, "CapAmb"), 0);
    let n = k.wait_for_state("nonroot", "running", T).pid().unwrap();
    assert!(status_field(n, "Uid").unwrap().split_whitespace().all(|u| u == "1000"));
    assert_eq!(cap_mask(n, "CapBnd"), kill | nbs | net_raw);
    assert_eq!(cap_mask(n, "CapAmb"), nbs, "ambient survives a non-root exec");
    assert_eq!(cap_mask(n, "CapPrm"), nbs);
    assert_eq!(cap_mask(n, "CapEff"), nbs);
    assert_eq!(status_field(n, "NoNewPrivs").as_deref(), Some("1"));
}

#[test]
fn time_namespace_offsets_are_seen_inside() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec(
        "t",
        &shell(
            &root,
            "ns time new\ntime_offsets boottime=864000 monotonic=864000\nstdio log\noneshot",
            "cat /proc/uptime",
        ),
    );
    k.start();
    k.wait_for_state("t", "exited", T);
    let line = k
        .lines()
        .into_iter()
        .find(|l| l.starts_with("t: "))
        .expect("the container's output");
    let up: f64 = line
        .trim_start_matches("t: ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let host: f64 = read(Path::new("/proc/uptime"))
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(up >= host + 864000.0 - 60.0, "uptime inside {up} vs host {host}");
}

#[test]
fn containers_are_placed_in_their_cgroup() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec("placed", &shell(&root, "ns cgroup host", "sleep 60"));
    k.start();
    let p = k.wait_for_state("placed", "running", T).pid().unwrap();
    let cg = read(Path::new(&format!("/proc/{p}/cgroup")));
    let line = cg.lines().find(|l| l.starts_with("0::")).unwrap_or("");
    assert!(
        line.ends_with(&format!("/keel-{}/placed", k.pid())),
        "cgroup of the init: {cg}"
    );
    // keel itself stays where it was started (it moves into a leaf only to
    // delegate controllers, which no container here asks for).
    let kc = read(Path::new(&format!("/proc/{}/cgroup", k.pid())));
    let mine = read(Path::new("/proc/self/cgroup"));
    assert_eq!(
        kc.lines().find(|l| l.starts_with("0::")),
        mine.lines().find(|l| l.starts_with("0::")),
        "keel was not moved"
    );
}

#[test]
fn crash_loop_backs_off_with_growing_delays_then_fails() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    let out = k.dir().join("out");
    std::fs::create_dir_all(&out).unwrap();
    k.spec(
        "crash",
        &format!(
            "root {}\nmount proc /proc\nmount bind {} /out\nargs /bin/sh -c \"cut -d' ' -f1 /proc/uptime >> /out/starts; exit 3\"\n\
             restart on-failure\nbackoff 100ms 2s\nrestart_budget 4 1m\n",
            root.display(),
            out.display()
        ),
    );
    k.start();
    let st = k.wait_for_state("crash", "failed", Duration::from_secs(20));
    assert_eq!(st.restarts(), 4);
    assert_eq!(st.exit(), Some(3));
    assert_eq!(st.reason(), Some("restart-budget-spent"));
    let starts: Vec<f64> = read(&out.join("starts")).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(starts.len(), 5, "first run + 4 restarts: {starts:?}");
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, g) in gaps.iter().enumerate() {
        let want = 0.1 * f64::from(1u32 << i);
        assert!(*g >= want - 0.02, "gap {i} = {g:.3}s, backoff {want}s: {gaps:?}");
    }
    assert!(gaps[3] > gaps[0] * 3.0, "delays grow: {gaps:?}");
    // The table ended: keel exits with the worst status.
    let code = k.wait_exit(T).code();
    assert_eq!(code, Some(3), "{}", k.log());
}

#[test]
fn after_and_readiness_order_starts() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    let out = k.dir().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let bind = format!("mount bind {} /out", out.display());
    k.spec(
        "db",
        &shell(
            &root,
            &format!("{bind}\nready_fd 3"),
            "sleep 0.5; echo db-ready >> /out/order; echo ready >&3; sleep 60",
        ),
    );
    k.spec(
        "app",
        &shell(
            &root,
            &format!("{bind}\nafter db"),
            "echo app-start >> /out/order; sleep 60",
        ),
    );
    k.spec(
        "migrate",
        &shell(
            &root,
            &format!("{bind}\noneshot\nafter db"),
            "sleep 0.3; echo migrate-done >> /out/order",
        ),
    );
    k.spec(
        "web",
        &shell(
            &root,
            &format!("{bind}\nafter app migrate"),
            "echo web-start >> /out/order; sleep 60",
        ),
    );
    k.start();
    k.wait_for_state("web", "running", T);
    let order: Vec<String> = read(&out.join("order")).lines().map(String::from).collect();
    let pos = |s: &str| {
        order
            .iter()
            .position(|l| l == s)
            .unwrap_or_else(|| panic!("{s} missing: {order:?}"))
    };
    assert!(pos("db-ready") < pos("app-start"), "{order:?}");
    assert!(pos("db-ready") < pos("migrate-done"), "{order:?}");
    assert!(pos("migrate-done") < pos("web-start"), "{order:?}");
    assert!(pos("app-start") < pos("web-start"), "{order:?}");
    assert_eq!(k.container("db").unwrap().get("ready"), Some("yes"));
}

#[test]
fn orphans_are_reaped() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    // Host pid namespace: the double-forked sleep is re-parented to keel
    // (the subreaper) and must not stay a zombie.
    k.spec(
        "orphaner",
        &shell(&root, "ns pid host", "sh -c 'sleep 0.3 &'; sleep 60"),
    );
    k.start();
    let init = k.wait_for_state("orphaner", "running", T).pid().unwrap();
    let keel = k.pid();
    std::thread::sleep(Duration::from_millis(200));
    let adopted = poll(T, || {
        let c: Vec<u32> = children(keel)
            .into_iter()
            .filter(|p| *p != init && comm(*p).as_deref() == Some("sleep"))
            .collect();
        (!c.is_empty()).then_some(c)
    });
    assert!(adopted.is_some(), "the orphan was re-parented to keel");
    let gone = poll(T, || {
        let zombies: Vec<u32> = children(keel).into_iter().filter(|p| *p != init).collect();
        zombies.is_empty().then_some(())
    });
    assert!(gone.is_some(), "the orphan was reaped: children {:?}", children(keel));
}

#[test]
fn stubborn_container_is_killed_at_its_timeout() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec(
        "stubborn",
        &shell(&root, "stop_timeout 1s", "trap '' TERM; while true; do sleep 0.1; done"),
    );
    k.start();
    k.wait_for_state("stubborn", "running", T);
    let t0 = Instant::now();
    k.signal(15);
    let st = k.wait_exit(T);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "killed only after the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "killed at the timeout: {took:?}");
    assert_eq!(st.code(), Some(0), "stopped on request: {}", k.log());
    assert!(k.descendants().is_empty());
}

#[test]
fn shutdown_runs_in_reverse_start_order() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    let out = k.dir().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let body = |n: &str| {
        format!("trap 'echo stop-{n} >> /out/order; exit 0' TERM; echo start-{n} >> /out/order; while true; do sleep 0.05; done")
    };
    let bind = format!("mount bind {} /out", out.display());
    k.spec("a", &shell(&root, &bind, &body("a")));
    k.spec("b", &shell(&root, &format!("{bind}\nafter a"), &body("b")));
    k.spec("c", &shell(&root, &format!("{bind}\nafter b"), &body("c")));
    k.start();
    k.wait_for_state("c", "running", T);
    poll(T, || read(&out.join("order")).contains("start-c").then_some(()));
    k.signal(15);
    k.wait_exit(T);
    let order: Vec<String> = read(&out.join("order")).lines().map(String::from).collect();
    assert_eq!(order, ["start-a", "start-b", "start-c", "stop-c", "stop-b", "stop-a"]);
}

#[test]
fn hup_reload_adds_removes_and_restarts() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    // A sleep as pid 1 of its namespace ignores TERM: the stop timeout
    // (1 s) kills it.
    let stop = "stop_timeout 1s";
    k.spec("keep", &shell(&root, stop, "sleep 60"));
    k.spec("change", &shell(&root, stop, "sleep 60"));
    k.spec("drop", &shell(&root, stop, "sleep 60"));
    k.start();
    let keep = k.wait_for_state("keep", "running", T).pid().unwrap();
    let change = k.wait_for_state("change", "running", T).pid().unwrap();
    k.wait_for_state("drop", "running", T);
    k.spec("change", &shell(&root, "hostname changed\nstop_timeout 1s", "sleep 61"));
    k.remove_spec("drop");
    k.spec("added", &shell(&root, stop, "sleep 60"));
    k.signal(1);
    k.wait_for_state("added", "running", T);
    assert!(
        !k.log().contains("spec drop: ENOENT"),
        "a removed spec is not read again: {}",
        k.log()
    );
    k.wait_for("drop to leave the table", T, |t| {
        (!t.iter().any(|c| c.name() == "drop")).then_some(())
    });
    let new = k.wait_for("change to restart", T, |t| {
        t.iter()
            .find(|c| c.name() == "change" && c.state() == "running" && c.pid() != Some(change))
            .and_then(|c| c.pid())
    });
    assert_ne!(new, change);
    assert_eq!(
        k.container("keep").unwrap().pid(),
        Some(keep),
        "an unchanged container keeps running"
    );
    assert!(!alive(change));
}

#[test]
fn a_broken_spec_leaves_the_others_running() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec("good", &shell(&root, "", "sleep 60"));
    k.spec("broken", "root /nonexistent\nfrobnicate yes\n");
    k.spec(
        "badroot",
        &shell(Path::new("/nonexistent-root"), "restart never", "true"),
    );
    k.start();
    k.wait_for_state("good", "running", T);
    let b = k.wait_for_state("broken", "failed", T);
    assert_eq!(b.reason(), Some("invalid-spec"));
    let line = k.wait_for_line("broken:2", T);
    assert!(line.contains("unknown key") && line.contains("frobnicate"), "{line}");
    let r = k.wait_for_state("badroot", "failed", T);
    assert_eq!(r.exit(), Some(127));
    let err = k.wait_for_line("container badroot:", T);
    assert!(
        err.contains("/nonexistent-root") && err.contains("ENOENT"),
        "one line naming step, path and errno: {err}"
    );
    assert_eq!(k.container("good").unwrap().state(), "running");
}

#[test]
fn an_idle_keel_does_not_wake_up() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec("idle", &shell(&root, "", "sleep 60"));
    k.start();
    k.wait_for_state("idle", "running", T);
    std::thread::sleep(Duration::from_millis(300));
    let before = voluntary_ctxt_switches(k.pid());
    std::thread::sleep(Duration::from_secs(5));
    let after = voluntary_ctxt_switches(k.pid());
    assert_eq!(after, before, "keel woke up while idle");
}

#[test]
fn enter_runs_a_process_inside_a_container() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    std::fs::write(root.join("marker"), "inside-root\n").unwrap();
    k.spec(
        "target",
        &format!(
            "root {}\nhostname target-host\nmount proc /proc\nargs /bin/sleep 60\n",
            root.display()
        ),
    );
    k.start();
    let init = k.wait_for_state("target", "running", T).pid().unwrap();
    let out = std::process::Command::new(keel_bin())
        .args(["enter", "--run-dir"])
        .arg(k.run_dir())
        .args(["target", "--", "/bin/sh", "-c", "cat /marker; hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; echo $$"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "inside-root");
    assert_eq!(lines[1], "target-host");
    assert_eq!(lines[2], format!("net:[{}]", ns_inode(init, "net")));
    assert_eq!(lines[3], format!("mnt:[{}]", ns_inode(init, "mnt")));
    assert_eq!(lines[4], format!("pid:[{}]", ns_inode(init, "pid")));
    let inner_pid: u32 = lines[5].parse().unwrap();
    assert!(
        inner_pid > 1 && inner_pid < 1000,
        "a pid of the container's namespace: {inner_pid}"
    );
}

#[test]
fn keel_leaves_nothing_behind() {
    require_root();
    let mut k = Keel::new();
    let root = k.busybox_root();
    k.spec("tree", &shell(&root, "ns pid host", "sleep 60 & sleep 60 & sleep 60"));
    k.start();
    k.wait_for_state("tree", "running", T);
    poll(T, || (k.descendants().len() >= 4).then_some(()));
    k.signal(2);
    k.wait_exit(T);
    assert!(k.descendants().is_empty());
    let keel = k.pid();
    let left: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|p: &u32| read(Path::new(&format!("/proc/{p}/cgroup"))).contains(&format!("/keel-{keel}/")))
        .collect();
    assert!(left.is_empty(), "processes left in keel's cgroups: {left:?}");
}
