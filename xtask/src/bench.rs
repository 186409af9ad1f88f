//! `cargo xtask bench [--pairs N] [--starts N]`: keel beside its floor and
//! its peers, in one run, paired and interleaved. Figures, not assertions:
//! a side that cannot run shows `n/a (reason)` and the others still report.
//!
//! Supervisor mode (issue 2):
//! - (a) one oneshot container (busybox `true`, new mnt/pid/net/uts/ipc/
//!   cgroup namespaces, pivot_root) as a whole `keel --config DIR` process,
//!   against the floor program doing only clone3 + pivot_root + exec;
//! - (b) crun's default bundle, trimmed (proc, /dev, devpts, shm, mqueue,
//!   read-only sysfs, masked and read-only paths, read-only root), against
//!   keel with the equivalent spec;
//! - (c) 100 oneshot containers chained with `after`, against 100 floor runs;
//! - (d) keel's VmRSS and RssAnon supervising 10 sleeping containers, and
//!   the binary's size.
//!
//! Container-init mode (issue 6): keel against tini, tini-static, catatonit
//! and dumb-init: binary size, RSS as PID 1 of a new pid namespace with one
//! sleeping child, and starting and reaping /bin/true N times in a row.
//!
//! Upcalls (issue 4, [`upcall`]): request_key(2) through keyutils'
//! request-key on the host against keel's broker routing into a container,
//! answered there by a built-in handler or the container's own keyctl.
//!
//! Each pair runs both sides back to back, alternating which goes first.
//! The table (markdown) is printed and written to target/bench.md.
//! `KEEL_BENCH_ONLY=upcalls cargo xtask bench` runs the upcall section
//! alone (target/bench-upcalls.md).

use crate::stats::{paired_ratio, Summary};
use crate::util::{self, Result};
use crate::{demo, keel, tree};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[path = "bench_upcall.rs"]
mod upcall;

pub struct Options {
    /// Pairs per comparison (at least 30 for the figures in the issues).
    pub pairs: usize,
    /// Rounds of the container-init start+reap comparison.
    pub starts: usize,
}

type Runner<'a> = Box<dyn FnMut() -> Result<f64> + 'a>;

struct Row {
    what: String,
    keel: String,
    peer: String,
    ratio: String,
    target: String,
}

struct Bench {
    o: Options,
    keel: std::result::Result<PathBuf, String>,
    floor: std::result::Result<PathBuf, String>,
    root: PathBuf,
    dir: PathBuf,
    rows: Vec<Row>,
    notes: Vec<String>,
}

pub fn cmd_bench(o: Options) -> Result<()> {
    let started = Instant::now();
    let dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut notes = Vec::new();
    if !util::is_root() {
        notes.push("not run as root: every namespace benchmark is n/a".to_string());
    }
    // What a killed run of the upcall section left on the host goes first.
    match upcall::clean_stale() {
        Ok(n) => notes.extend(n),
        Err(e) => notes.push(format!("upcalls: {e}")),
    }
    match std::env::var("KEEL_BENCH_ONLY")
        .ok()
        .filter(|s| !s.is_empty())
        .as_deref()
    {
        None => {}
        Some("upcalls") => return upcalls_only(o, started, &dir, &notes),
        Some(other) => {
            return Err(format!(
                "KEEL_BENCH_ONLY={other}: only `upcalls` runs alone this way (the VM figures: --vm-only)"
            ))
        }
    }
    // Before any thread exists (unshare(CLONE_NEWNS) needs that).
    match private_cgroup2() {
        Ok(Some(n)) | Err(n) => notes.push(n),
        Ok(None) => {}
    }
    let keel = keel::keel_from_env_or_build().map_err(|e| format!("build failed: {e}"));
    let floor = keel::build_floor()
        .map(|b| b.path)
        .map_err(|e| format!("build failed: {e}"));
    let root = dir.join("rootfs");
    tree::busybox_rootfs(&root)?;
    let mut b = Bench {
        o,
        keel,
        floor,
        root,
        dir,
        rows: Vec::new(),
        notes,
    };
    b.supervisor_start();
    b.crun();
    b.chain();
    b.memory();
    let init_table = b.container_init();
    let upcall_table = upcall::section(&b.keel, &b.dir, b.o.pairs);
    let vm_section = crate::bench_vm::section();
    let md = format!(
        "{}\n{upcall_table}\n{vm_section}",
        b.render(&init_table, started.elapsed())
    );
    println!("\n{md}");
    let out = util::target_dir().join("bench.md");
    std::fs::write(&out, &md).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "xtask: bench: written to {} in {}",
        out.display(),
        util::fmt_dur(started.elapsed())
    );
    Ok(())
}

/// `KEEL_BENCH_ONLY=upcalls`: the upcall section alone, written to
/// target/bench-upcalls.md.
fn upcalls_only(o: Options, started: Instant, dir: &Path, notes: &[String]) -> Result<()> {
    let keel = keel::keel_from_env_or_build().map_err(|e| format!("build failed: {e}"));
    let table = upcall::section(&keel, dir, o.pairs);
    let mut md = format!("# keel benchmarks: upcalls\n\n{}\n\n", environment());
    for n in notes {
        md.push_str(&format!("- note: {n}\n"));
    }
    if !notes.is_empty() {
        md.push('\n');
    }
    md.push_str(&table);
    println!("\n{md}");
    let out = util::target_dir().join("bench-upcalls.md");
    std::fs::write(&out, &md).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "xtask: bench: written to {} in {}",
        out.display(),
        util::fmt_dur(started.elapsed())
    );
    Ok(())
}

/// crun 1.8 refuses the hybrid cgroup layout of these hosts ("cgroups in
/// hybrid mode not supported"). The bench runs in a private mount namespace
/// where the hybrid tree is replaced by the cgroup2 hierarchy alone, mounted
/// at /sys/fs/cgroup, for crun and keel alike.
fn private_cgroup2() -> std::result::Result<Option<String>, String> {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    // SAFETY: statfs fills a zeroed struct from a NUL-terminated path.
    let is_v2 = unsafe {
        let mut s: libc::statfs = std::mem::zeroed();
        libc::statfs(c"/sys/fs/cgroup".as_ptr(), &mut s) == 0 && s.f_type as i64 == CGROUP2_SUPER_MAGIC
    };
    if is_v2 || !util::is_root() {
        return Ok(None);
    }
    // SAFETY: plain system calls with NUL-terminated strings; the process is single-threaded here, as unshare(CLONE_NEWNS) requires.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(format!("unshare(CLONE_NEWNS): {}", std::io::Error::last_os_error()));
        }
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!("make / private: {}", std::io::Error::last_os_error()));
        }
        // Detach the hybrid tree (its tmpfs, the v1 hierarchies and the
        // cgroup2 at unified/) so that this namespace has one cgroup2 mount
        // only: a shadowed one would still be listed in mountinfo.
        if libc::umount2(c"/sys/fs/cgroup".as_ptr(), libc::MNT_DETACH) != 0 {
            return Err(format!("detach /sys/fs/cgroup: {}", std::io::Error::last_os_error()));
        }
        if libc::mount(
            c"cgroup2".as_ptr(),
            c"/sys/fs/cgroup".as_ptr(),
            c"cgroup2".as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!(
                "mount cgroup2 on /sys/fs/cgroup: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(Some("hybrid cgroups here: the bench runs in a private mount namespace where /sys/fs/cgroup is the cgroup2 hierarchy alone (crun needs it; keel uses it too)".into()))
}

/// Runs a command to its end; its wall time in seconds; an error unless it exits 0.
fn time_run(cmd: &mut Command) -> Result<f64> {
    let t = Instant::now();
    let st = cmd.status().map_err(|e| format!("{}: {e}", util::show(cmd)))?;
    let d = t.elapsed().as_secs_f64();
    if st.success() {
        Ok(d)
    } else {
        Err(format!("{} ended with {}", util::show(cmd), util::describe(st)))
    }
}

fn quiet(mut c: Command) -> Command {
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Runs `cmd` once with a timeout, stderr kept: the first check of a side.
fn try_once(cmd: &mut Command, timeout: Duration) -> Result<()> {
    let log = std::env::temp_dir().join(format!("keel-bench-{}.err", std::process::id()));
    let f = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut ch = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(f)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", util::show(cmd)))?;
    let st: Option<ExitStatus> = util::poll(timeout, Duration::from_millis(10), || ch.try_wait().ok().flatten());
    let err = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    // The first line that is not a routine state change says most.
    let routine = |l: &str| l.trim().is_empty() || l.contains(": running, pid ") || l.contains("exited with status 0");
    let last = err
        .lines()
        .find(|l| !routine(l))
        .or_else(|| err.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim()
        .to_string();
    match st {
        Some(st) if st.success() => Ok(()),
        Some(st) => Err(format!(
            "{}{}",
            util::describe(st),
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        )),
        None => {
            kill_tree(ch.id());
            let _ = ch.wait();
            Err(format!(
                "no end within {} s{}",
                timeout.as_secs(),
                if last.is_empty() {
                    String::new()
                } else {
                    format!(": {last}")
                }
            ))
        }
    }
}

/// SIGKILLs `pid` and every descendant.
fn kill_tree(pid: u32) {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let c = util::children(all[i]);
        all.extend(c);
        i += 1;
    }
    for p in all.iter().rev() {
        util::kill(*p, libc::SIGKILL);
    }
}

/// Runs both sides `n` times each, alternating which goes first. A side
/// whose runner could not be made reports that error; a side that fails
/// stops and reports its error; the other goes on.
fn paired<'a>(n: usize, a: Result<Runner<'a>>, b: Result<Runner<'a>>) -> (Result<Vec<f64>>, Result<Vec<f64>>) {
    fn split(r: Result<Runner<'_>>) -> (Option<Runner<'_>>, Result<Vec<f64>>) {
        match r {
            Ok(r) => (Some(r), Ok(Vec::new())),
            Err(e) => (None, Err(e)),
        }
    }
    let ((a, ra), (b, rb)) = (split(a), split(b));
    let mut sides = [a, b];
    let mut res: [Result<Vec<f64>>; 2] = [ra, rb];
    for i in 0..n {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for s in order {
            if let (Some(r), Ok(v)) = (sides[s].as_mut(), res[s].as_mut()) {
                match r() {
                    Ok(x) => v.push(x),
                    Err(e) => {
                        res[s] = Err(e);
                        sides[s] = None;
                    }
                }
            }
        }
    }
    let [r0, r1] = res;
    (r0, r1)
}

fn fmt_time(s: &Summary) -> String {
    format!(
        "{} (IQR {})",
        util::fmt_dur(Duration::from_secs_f64(s.median)),
        util::fmt_dur(Duration::from_secs_f64(s.iqr()))
    )
}

fn cell(r: &Result<Vec<f64>>, scale: f64) -> String {
    match r {
        Ok(v) if !v.is_empty() => {
            let v: Vec<f64> = v.iter().map(|x| x / scale).collect();
            fmt_time(&Summary::of(&v))
        }
        Ok(_) => "n/a (not run)".into(),
        Err(e) => format!("n/a ({e})"),
    }
}

fn ratio_cell(a: &Result<Vec<f64>>, b: &Result<Vec<f64>>) -> String {
    match (a, b) {
        (Ok(a), Ok(b)) if !a.is_empty() && a.len() == b.len() => {
            let r = paired_ratio(a, b);
            format!("{:.2}× (IQR {:.2}, {} pairs)", r.median, r.iqr(), r.n)
        }
        _ => "–".into(),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A fresh config directory with the given (name, spec) files.
fn config_dir(dir: &Path, specs: &[(String, String)]) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (n, s) in specs {
        write(&dir.join(n), s)?;
    }
    Ok(())
}

/// The spec of (a) and (c): busybox `true` in new mnt, pid, net, uts, ipc
/// and cgroup namespaces with a root, nothing else (no /dev, no mounts).
fn true_spec(root: &Path, after: Option<&str>) -> String {
    let mut s = format!(
        "root {}\nns mnt new\nns pid new\nns net new\nns uts new\nns ipc new\nns cgroup new\ndev none\nargs /bin/true\noneshot\nrestart never\nstdio null\n",
        root.display()
    );
    if let Some(a) = after {
        s.push_str(&format!("after {a}\n"));
    }
    s
}

impl Bench {
    fn keel_cmd(&self, config: &Path, run: &Path) -> Option<Command> {
        let k = self.keel.as_ref().ok()?;
        let mut c = quiet(Command::new(k));
        c.arg("--config").arg(config).arg("--run-dir").arg(run);
        Some(c)
    }

    /// A runner for `keel --config DIR`, after one checked run.
    fn keel_runner(&self, name: &str, specs: &[(String, String)]) -> std::result::Result<Runner<'static>, String> {
        let k = self.keel.clone()?;
        if !util::is_root() {
            return Err("needs root".into());
        }
        let config = self.dir.join(name).join("config");
        // The run directory is a tmpfs, as /run is on every real system:
        // on ext4 each atomic rewrite of the status file (rename over the
        // old one) forces a data flush of ~3 ms that no deployment pays.
        let run = std::path::Path::new("/dev/shm/keel-bench").join(name).join("run");
        config_dir(&config, specs)?;
        std::fs::create_dir_all(&run).map_err(|e| e.to_string())?;
        let mut c = self.keel_cmd(&config, &run).ok_or("keel not built")?;
        try_once(&mut c, Duration::from_secs(30)).map_err(|e| format!("keel: {e}"))?;
        // Every container must have run to its end, or the times mean nothing.
        let table = std::fs::read_to_string(run.join("containers")).map_err(|e| format!("keel wrote no table: {e}"))?;
        let rows = demo::parse_table(&table).ok_or("keel's table does not parse")?;
        let exited = rows.iter().filter(|r| r.get("state") == Some("exited")).count();
        if exited != specs.len() {
            let other = rows.iter().find(|r| r.get("state") != Some("exited"));
            let what = other.map_or(String::new(), |r| {
                format!(
                    "; {} is {} ({})",
                    r.get("name").unwrap_or("?"),
                    r.get("state").unwrap_or("?"),
                    r.get("reason").unwrap_or("-")
                )
            });
            return Err(format!(
                "keel ran {exited} of {} containers to `exited` ({} in its table{what})",
                specs.len(),
                rows.len()
            ));
        }
        Ok(Box::new(move || {
            let mut c = quiet(Command::new(&k));
            c.arg("--config").arg(&config).arg("--run-dir").arg(&run);
            time_run(&mut c)
        }))
    }

    /// A runner for `floor ROOT /bin/true`, `times` runs in a row per sample.
    fn floor_runner(&self, times: usize) -> std::result::Result<Runner<'static>, String> {
        let f = self.floor.clone()?;
        if !util::is_root() {
            return Err("needs root".into());
        }
        let root = self.root.clone();
        let mut c = quiet(Command::new(&f));
        c.arg(&root).arg("/bin/true");
        try_once(&mut c, Duration::from_secs(10)).map_err(|e| format!("floor: {e}"))?;
        Ok(Box::new(move || {
            let mut total = 0.0;
            for _ in 0..times {
                let mut c = quiet(Command::new(&f));
                c.arg(&root).arg("/bin/true");
                total += time_run(&mut c)?;
            }
            Ok(total)
        }))
    }

    fn push(&mut self, what: &str, keel: String, peer: String, ratio: String, target: &str) {
        println!("xtask: bench: {what}: keel {keel} | {peer} | {ratio}");
        self.rows.push(Row {
            what: what.into(),
            keel,
            peer,
            ratio,
            target: target.into(),
        });
    }

    /// (a) one oneshot container vs the floor.
    fn supervisor_start(&mut self) {
        println!(
            "\nxtask: bench (a): one oneshot container vs the floor, {} pairs",
            self.o.pairs
        );
        let k = self.keel_runner("a", &[("t".into(), true_spec(&self.root, None))]);
        let f = self.floor_runner(1);
        let (kr, fr) = paired(self.o.pairs, k, f);
        self.push(
            "start+exit of one container (busybox true, 6 new ns, pivot_root) — whole process",
            cell(&kr, 1.0),
            format!("floor: {}", cell(&fr, 1.0)),
            ratio_cell(&kr, &fr),
            "≤ 1.10× the floor (floor 2.55 ms when the issue was written)",
        );
    }

    /// (b) crun's trimmed default bundle vs keel's equivalent spec.
    fn crun(&mut self) {
        println!(
            "\nxtask: bench (b): crun's trimmed default bundle vs keel's equivalent, {} pairs",
            self.o.pairs
        );
        let bundle = self.dir.join("crun-bundle");
        let c = self.crun_bundle(&bundle);
        let (cr, spec) = match c {
            Ok((r, spec)) => (Ok(r), Some(spec)),
            Err(e) => (Err(e), None),
        };
        let spec = spec.unwrap_or_else(|| crun_equivalent_spec(&self.root, &[], &[]));
        let k = self.keel_runner("b", &[("c".into(), spec)]);
        let (kr, crr) = paired(self.o.pairs, k, cr);
        self.push(
            "start+exit, crun's default bundle trimmed (proc, /dev, devpts, shm, mqueue, ro sysfs, masked paths, ro root)",
            cell(&kr, 1.0),
            format!("crun: {}", cell(&crr, 1.0)),
            ratio_cell(&kr, &crr),
            "≤ 0.35× crun (crun 13.3 ms, runc 34.7 ms when the issue was written)",
        );
    }

    /// Writes the trimmed bundle; a runner for crun and keel's equivalent spec.
    fn crun_bundle(&self, bundle: &Path) -> std::result::Result<(Runner<'static>, String), String> {
        let crun = util::which("crun").ok_or("crun not installed")?;
        if !util::is_root() {
            return Err("needs root".into());
        }
        let _ = std::fs::remove_dir_all(bundle);
        std::fs::create_dir_all(bundle).map_err(|e| e.to_string())?;
        util::run(
            Command::new(&crun)
                .arg("spec")
                .current_dir(bundle)
                .stdout(Stdio::null()),
        )?;
        let path = bundle.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let mut cfg: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("crun spec: {e}"))?;
        cfg["root"] = serde_json::json!({ "path": self.root.display().to_string(), "readonly": true });
        cfg["process"]["terminal"] = false.into();
        cfg["process"]["args"] = serde_json::json!(["/bin/true"]);
        if let Some(m) = cfg["mounts"].as_array_mut() {
            // Keep proc, /dev, devpts, shm, mqueue and sysfs; drop the cgroup mount.
            m.retain(|m| m["type"] != "cgroup" && m["type"] != "cgroup2");
        }
        if let Some(l) = cfg["linux"].as_object_mut() {
            // keel has no device cgroup (docs/config.md: not yet supported).
            l.remove("resources");
        }
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let masked = strings(&cfg["linux"]["maskedPaths"]);
        let readonly = strings(&cfg["linux"]["readonlyPaths"]);
        std::fs::write(&path, serde_json::to_string_pretty(&cfg).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let spec = crun_equivalent_spec(&self.root, &masked, &readonly);
        write(&self.dir.join("b/keel-equivalent.spec"), &spec)?;
        let id = format!("keel-bench-{}", std::process::id());
        let mk = {
            let (crun, bundle, id) = (crun.clone(), bundle.to_path_buf(), id.clone());
            move || {
                let mut c = quiet(Command::new(&crun));
                c.args(["run", "--bundle"]).arg(&bundle).arg(&id);
                c
            }
        };
        let mut first = mk();
        try_once(&mut first, Duration::from_secs(30)).map_err(|e| format!("crun: {e}"))?;
        Ok((Box::new(move || time_run(&mut mk())), spec))
    }

    /// (c) 100 chained oneshots vs 100 floor runs; per container.
    fn chain(&mut self) {
        const N: usize = 100;
        println!(
            "\nxtask: bench (c): {N} oneshot containers chained with `after` vs {N} floor runs, {} pairs",
            self.o.pairs
        );
        let specs: Vec<(String, String)> = (0..N)
            .map(|i| {
                let prev = (i > 0).then(|| format!("c{:03}", i - 1));
                (format!("c{i:03}"), true_spec(&self.root, prev.as_deref()))
            })
            .collect();
        let k = self.keel_runner("c", &specs);
        let f = self.floor_runner(N);
        let (kr, fr) = paired(self.o.pairs, k, f);
        self.push(
            "100 oneshot containers chained with `after`, per container",
            cell(&kr, N as f64),
            format!("floor, 100 runs: {}", cell(&fr, N as f64)),
            ratio_cell(&kr, &fr),
            "≤ 1.05× the floor's per-container time",
        );
    }

    /// (d) keel's memory with 10 sleeping containers; binary size.
    fn memory(&mut self) {
        println!("\nxtask: bench (d): keel's memory supervising 10 sleeping containers");
        let (rss, anon) = match self.keel_ten() {
            Ok((r, a)) => (format!("{r} kB"), format!("{a} kB")),
            Err(e) => (format!("n/a ({e})"), format!("n/a ({e})")),
        };
        self.push(
            "VmRSS supervising 10 sleeping containers",
            rss,
            "catatonit 696 kB, tini-static 708 kB (as PID 1, one child; see below)".into(),
            "–".into(),
            "≤ 128 kB",
        );
        self.push(
            "RssAnon supervising 10 sleeping containers",
            anon,
            "–".into(),
            "–".into(),
            "≤ 32 kB",
        );
        let size = match &self.keel {
            Ok(p) => std::fs::metadata(p)
                .map(|m| format!("{} ({} bytes)", util::fmt_size(m.len()), m.len()))
                .unwrap_or_else(|e| format!("n/a ({e})")),
            Err(e) => format!("n/a ({e})"),
        };
        let floor = match &self.floor {
            Ok(p) => std::fs::metadata(p)
                .map(|m| format!("floor: {}", util::fmt_size(m.len())))
                .unwrap_or_default(),
            Err(_) => "–".into(),
        };
        self.push("binary size (static, stripped)", size, floor, "–".into(), "≤ 128 KiB");
    }

    fn keel_ten(&self) -> Result<(u64, u64)> {
        let k = self.keel.clone()?;
        if !util::is_root() {
            return Err("needs root".into());
        }
        let config = self.dir.join("d/config");
        let run = self.dir.join("d/run");
        let specs: Vec<(String, String)> = (0..10)
            .map(|i| {
                (
                    format!("sleep{i}"),
                    format!(
                        "root {} ro\nmount proc /proc\nargs /bin/sleep 3600\nrestart never\nstop_timeout 1s\nstdio null\n",
                        self.root.display()
                    ),
                )
            })
            .collect();
        config_dir(&config, &specs)?;
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).map_err(|e| e.to_string())?;
        let log = self.dir.join("d/keel.log");
        let logf = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut ch = Command::new(&k)
            .arg("--config")
            .arg(&config)
            .arg("--run-dir")
            .arg(&run)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .map_err(|e| e.to_string())?;
        let pid = ch.id();
        let status = run.join("containers");
        let all_running = util::poll(Duration::from_secs(20), Duration::from_millis(20), || {
            if let Ok(Some(_)) = ch.try_wait() {
                return Some(false);
            }
            let rows = demo::parse_table(&std::fs::read_to_string(&status).ok()?)?;
            (rows.iter().filter(|r| r.get("state") == Some("running")).count() == 10).then_some(true)
        });
        let result = match all_running {
            Some(true) => {
                std::thread::sleep(Duration::from_millis(300));
                match (util::proc_status_kb(pid, "VmRSS"), util::proc_status_kb(pid, "RssAnon")) {
                    (Some(r), Some(a)) => Ok((r, a)),
                    _ => Err("cannot read /proc/PID/status".to_string()),
                }
            }
            other => {
                let last = std::fs::read_to_string(&log).unwrap_or_default();
                let last = last
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let why = if other == Some(false) {
                    "keel exited early"
                } else {
                    "not all 10 running within 20 s"
                };
                Err(if last.is_empty() {
                    why.to_string()
                } else {
                    format!("{why}: {last}")
                })
            }
        };
        // Orderly stop, then make sure.
        util::kill(pid, libc::SIGTERM);
        if util::poll(Duration::from_secs(15), Duration::from_millis(20), || {
            ch.try_wait().ok().flatten()
        })
        .is_none()
        {
            kill_tree(pid);
            let _ = ch.wait();
        }
        result
    }

    /// Container-init mode: returns the markdown table.
    fn container_init(&mut self) -> String {
        println!("\nxtask: bench (e): container-init mode vs tini, tini-static, catatonit, dumb-init");
        // (name, program, args before the command)
        let keel_init = self.keel.clone().map(|k| k.with_file_name("keel-init")).and_then(|k| {
            if k.is_file() {
                Ok(k)
            } else {
                Err(format!("{} not built", k.display()))
            }
        });
        let mut peers: Vec<(String, std::result::Result<PathBuf, String>, Vec<&str>)> = vec![
            ("keel".into(), self.keel.clone(), vec!["--"]),
            ("keel-init".into(), keel_init, vec!["--"]),
        ];
        for (n, p) in [
            ("tini", "/usr/bin/tini"),
            ("tini-static", "/usr/bin/tini-static"),
            ("catatonit", "/usr/bin/catatonit"),
            ("dumb-init", "/usr/bin/dumb-init"),
        ] {
            let path = PathBuf::from(p);
            let r = if path.is_file() {
                Ok(path)
            } else {
                Err(format!("{p} not installed"))
            };
            peers.push((n.into(), r, vec!["--"]));
        }
        // Check each runs `-- /bin/true`.
        for p in peers.iter_mut() {
            if let Ok(path) = &p.1 {
                let mut c = Command::new(path);
                c.args(&p.2).arg("/bin/true");
                if let Err(e) = try_once(&mut c, Duration::from_secs(10)) {
                    p.1 = Err(e);
                }
            }
        }
        let names: Vec<String> = peers.iter().map(|p| p.0.clone()).collect();
        let mut size_row = Vec::new();
        let mut rss_row = Vec::new();
        let mut anon_row = Vec::new();
        for (n, p, pre) in &peers {
            let path = match p {
                Ok(path) => path.clone(),
                Err(e) => {
                    let na = format!("n/a ({e})");
                    // The size is still worth showing when the binary exists.
                    let s = if n == "keel" {
                        self.keel.as_ref().ok().cloned()
                    } else {
                        None
                    };
                    size_row.push(s.map_or(na.clone(), |s| size_cell(&s)));
                    rss_row.push(na.clone());
                    anon_row.push(na);
                    continue;
                }
            };
            size_row.push(size_cell(&path));
            match rss_as_pid1(&path, pre) {
                Ok((r, a)) => {
                    rss_row.push(format!("{r} kB"));
                    anon_row.push(format!("{a} kB"));
                }
                Err(e) => {
                    rss_row.push(format!("n/a ({e})"));
                    anon_row.push(format!("n/a ({e})"));
                }
            }
            println!(
                "xtask: bench: {n}: size {}, VmRSS {}, RssAnon {}",
                size_row.last().unwrap(),
                rss_row.last().unwrap(),
                anon_row.last().unwrap()
            );
        }
        // Start and reap /bin/true, interleaved rounds with a rotating order.
        let n = self.o.starts;
        println!(
            "xtask: bench: start+reap /bin/true, {n} rounds over {} programs",
            peers.len()
        );
        let mut samples: Vec<std::result::Result<Vec<f64>, String>> = peers
            .iter()
            .map(|p| p.1.as_ref().map(|_| Vec::with_capacity(n)).map_err(|e| e.clone()))
            .collect();
        for r in 0..n {
            for k in 0..peers.len() {
                let i = (r + k) % peers.len();
                let (Ok(path), Ok(v)) = (&peers[i].1, &mut samples[i]) else {
                    continue;
                };
                let mut c = quiet(Command::new(path));
                c.args(&peers[i].2).arg("/bin/true");
                match time_run(&mut c) {
                    Ok(x) => v.push(x),
                    Err(e) => samples[i] = Err(e),
                }
            }
        }
        let mut per_start = Vec::new();
        let mut total = Vec::new();
        for s in &samples {
            match s {
                Ok(v) if !v.is_empty() => {
                    per_start.push(fmt_time(&Summary::of(v)));
                    total.push(util::fmt_dur(Duration::from_secs_f64(v.iter().sum())));
                }
                Ok(_) => {
                    per_start.push("n/a".into());
                    total.push("n/a".into());
                }
                Err(e) => {
                    per_start.push(format!("n/a ({e})"));
                    total.push("n/a".into());
                }
            }
        }
        // keel and keel-init (the first two) against the fastest peer,
        // paired by round.
        let fastest = samples
            .iter()
            .enumerate()
            .skip(2)
            .filter_map(|(i, s)| {
                s.as_ref()
                    .ok()
                    .filter(|v| v.len() == n && n > 0)
                    .map(|v| (i, Summary::of(v).median))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let versus = |k: usize| match (&samples[k], fastest) {
            (Ok(kv), Some((i, _))) if kv.len() == n && n > 0 => {
                let peer = samples[i].as_ref().map(|v| v.as_slice()).unwrap_or(&[]);
                let r = paired_ratio(kv, peer);
                format!("{:.2}× {} (IQR {:.2}, {} rounds)", r.median, names[i], r.iqr(), r.n)
            }
            _ => "–".into(),
        };
        let vs = format!("keel {}; keel-init {}", versus(0), versus(1));
        let mut md = String::new();
        md.push_str(&format!(
            "| container-init mode | {} | target (keel) |\n",
            names.join(" | ")
        ));
        md.push_str(&format!("|---|{}---|\n", "---|".repeat(names.len())));
        let row = |md: &mut String, what: &str, cells: &[String], target: &str| {
            md.push_str(&format!("| {what} | {} | {target} |\n", cells.join(" | ")));
        };
        row(&mut md, "binary size", &size_row, "–");
        row(
            &mut md,
            "VmRSS as PID 1 of a new pid ns, one sleeping child",
            &rss_row,
            "≤ 128 kB",
        );
        row(&mut md, "RssAnon, same", &anon_row, "≤ 32 kB");
        row(
            &mut md,
            "start+reap /bin/true, per start (median, IQR)",
            &per_start,
            "–",
        );
        row(&mut md, &format!("{n} start+reaps in a row (sum)"), &total, "–");
        md.push_str(&format!(
            "\n÷ the fastest peer, start+reap, paired by round: {vs} (target ≤ 0.9×)\n"
        ));
        md
    }

    fn render(&self, init_table: &str, took: Duration) -> String {
        let mut md = String::new();
        md.push_str("# keel benchmarks\n\n");
        md.push_str(&format!("{}\n\n", environment()));
        md.push_str(&format!(
            "Paired and interleaved: {} pairs per comparison (each pair runs both sides back to back, alternating which goes first); median and interquartile range; the ratio is the median of the per-pair ratios. Run took {}.\n\n",
            self.o.pairs,
            util::fmt_dur(took)
        ));
        for n in &self.notes {
            md.push_str(&format!("- note: {n}\n"));
        }
        if !self.notes.is_empty() {
            md.push('\n');
        }
        md.push_str("| supervisor mode | keel | peer | keel ÷ peer | target |\n|---|---|---|---|---|\n");
        for r in &self.rows {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.what, r.keel, r.peer, r.ratio, r.target
            ));
        }
        md.push('\n');
        md.push_str(init_table);
        md
    }
}

fn size_cell(p: &Path) -> String {
    let Ok(b) = std::fs::read(p) else { return "n/a".into() };
    let kind = match crate::elf::inspect(&b) {
        Ok(i) if i.is_static() => "static",
        Ok(_) => "dynamic",
        Err(_) => "?",
    };
    format!("{} ({kind})", util::fmt_size(b.len() as u64))
}

/// keel's spec equivalent to crun's trimmed default bundle.
fn crun_equivalent_spec(root: &Path, masked: &[String], readonly: &[String]) -> String {
    let mut s = format!(
        "# Equivalent to crun's default bundle, trimmed (cargo xtask bench, (b)).\n\
         root {} ro\n\
         ns mnt new\nns pid new\nns net new\nns ipc new\nns uts new\nns cgroup host\n\
         hostname crun\n\
         mount proc /proc\n\
         dev minimal\n\
         mount tmpfs /dev/shm nosuid,noexec,nodev,mode=1777,size=65536k\n\
         mount mqueue /dev/mqueue nosuid,noexec,nodev\n\
         mount sysfs /sys ro,nosuid,noexec,nodev\n",
        root.display()
    );
    // crun's default also lists these three in `ambient`, but with an empty
    // inheritable set the kernel cannot raise them (keel's parser refuses
    // the combination); for uid 0 they change nothing. So: no ambient line.
    for m in masked {
        s.push_str(&format!("mask {m}\n"));
    }
    for r in readonly {
        s.push_str(&format!("readonly {r}\n"));
    }
    s.push_str(
        "caps bounding CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE\n\
         caps effective CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE\n\
         caps permitted CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE\n\
         no_new_privs\n\
         rlimit nofile 1024 1024\n\
         env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         env TERM=xterm\n\
         args /bin/true\n\
         oneshot\n\
         restart never\n\
         stdio null\n",
    );
    s
}

/// VmRSS and RssAnon (kB) of `prog PRE… /bin/sleep 1000` as PID 1 of a new
/// pid namespace, once its child is there.
fn rss_as_pid1(prog: &Path, pre: &[&str]) -> Result<(u64, u64)> {
    if !util::is_root() {
        return Err("needs root".into());
    }
    let unshare = util::which("unshare").ok_or("unshare not found")?;
    let mut args: Vec<OsString> = vec![
        "--pid".into(),
        "--fork".into(),
        "--kill-child".into(),
        "--".into(),
        prog.into(),
    ];
    args.extend(pre.iter().map(OsString::from));
    args.extend(["/bin/sleep".into(), "1000".into()]);
    let mut ch = quiet(Command::new(unshare))
        .args(&args)
        .spawn()
        .map_err(|e| e.to_string())?;
    let r = (|| {
        let init = util::poll(Duration::from_secs(5), Duration::from_millis(5), || {
            util::children(ch.id()).first().copied()
        })
        .ok_or("no PID 1 appeared")?;
        util::poll(Duration::from_secs(5), Duration::from_millis(5), || {
            util::children(init).first().copied()
        })
        .ok_or("PID 1 started no child")?;
        std::thread::sleep(Duration::from_millis(300));
        let r = util::proc_status_kb(init, "VmRSS").ok_or("no VmRSS")?;
        let a = util::proc_status_kb(init, "RssAnon").ok_or("no RssAnon")?;
        util::kill(init, libc::SIGKILL);
        Ok::<_, String>((r, a))
    })();
    if util::poll(Duration::from_secs(5), Duration::from_millis(10), || {
        ch.try_wait().ok().flatten()
    })
    .is_none()
    {
        kill_tree(ch.id());
        let _ = ch.wait();
    }
    r
}

/// One line about where the figures come from.
fn environment() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let rev = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(util::root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "(no git)".into());
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date}; kernel {kernel}; {cpu}, {cores} cores; keel at {rev}")
}
