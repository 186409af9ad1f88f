//! `cargo xtask run`: the demo.
//!
//! Until boot mode and the qemu harness exist (issue 3), the demo runs keel
//! in supervisor mode on this host, as PID 1 of a new pid namespace
//! (`unshare --pid --fork --mount-proc`: its own /proc, as any PID 1 of a
//! pid namespace has), over three containers on a busybox root:
//!
//! - `hello`: a oneshot that says hello from its own pid and uts namespaces;
//! - `web`: a service, started after hello, in its own network namespace,
//!   that prints its namespace's inode and its links, works a little, ends;
//! - `crashloop`: exits 3 every time; keel restarts it with growing delays
//!   until its restart budget is spent and it stays `failed`.
//!
//! keel's log streams to the terminal; each change of the container table
//! (RUN/containers) is shown as it happens, the whole table at the end. The
//! demo ends when the table does: no container running or waiting.

use crate::tree;
use crate::util::{self, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(90);

/// The demo containers: (name, spec). `@ROOT@` is the busybox root.
pub const SPECS: &[(&str, &str)] = &[
    (
        "hello",
        r#"# A oneshot: runs once to completion; `after hello` waits for its exit 0.
root @ROOT@ ro
hostname hello
mount proc /proc
args /bin/sh -c "echo hello from $(hostname): I am pid $$ in my own pid namespace"
oneshot
restart never
stdio log
"#,
    ),
    (
        "web",
        r#"# A service in its own network namespace (only lo, which keel brought up).
root @ROOT@ ro
ns net new
hostname web
mount proc /proc
args /bin/sh -c "echo my network namespace: $(readlink /proc/self/ns/net); ip link show lo | head -n 1; for i in 1 2 3; do echo serving request $i; sleep 1; done; echo done serving"
after hello
restart on-failure
stop_timeout 2s
stdio log
"#,
    ),
    (
        "crashloop",
        r#"# Crashes at once, every time: keel backs off (100 ms, 200 ms, 400 ms…)
# and after 4 restarts within 30 s leaves it `failed`.
root @ROOT@ ro
args /bin/sh -c "echo starting... and crashing; exit 3"
restart on-failure
backoff 100ms 1s
restart_budget 4 30s
stdio log
"#,
    ),
];

/// `cargo xtask run`.
pub fn cmd_run() -> Result<()> {
    let keel = crate::keel::keel_from_env_or_build()?;
    run_demo(Some(&keel), true)
}

/// One row of RUN/containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub fields: Vec<(String, String)>,
}

impl Row {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.0 == k).map(|f| f.1.as_str())
    }
}

/// Parses RUN/containers (`# keel-containers v1`, then `key=value` lines).
pub fn parse_table(text: &str) -> Option<Vec<Row>> {
    let mut lines = text.lines();
    if !lines.next()?.starts_with("# keel-containers v1") {
        return None;
    }
    Some(
        lines
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| Row {
                fields: l
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                    .collect(),
            })
            .collect(),
    )
}

fn one_line(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| {
            let n = r.get("name").unwrap_or("?");
            let s = r.get("state").unwrap_or("?");
            match r.get("restarts") {
                Some(x) if x != "0" => format!("{n}={s}(restarts {x})"),
                _ => format!("{n}={s}"),
            }
        })
        .collect::<Vec<_>>()
        .join("  ")
}

pub fn print_table(rows: &[Row]) {
    println!(
        "{:12} {:10} {:>8} {:>8}  {:>12} {:>12} {:>12}",
        "NAME", "STATE", "PID", "RESTARTS", "PID NS", "NET NS", "UTS NS"
    );
    for r in rows {
        let g = |k: &str| r.get(k).unwrap_or("-").to_string();
        let (pidns, net, uts) = (g("pid_ns"), g("net_ns"), g("uts_ns"));
        println!(
            "{:12} {:10} {:>8} {:>8}  {:>12} {:>12} {:>12}",
            g("name"),
            g("state"),
            g("pid"),
            g("restarts"),
            pidns,
            net,
            uts
        );
    }
}

/// Writes the demo under target/demo and runs it; Ok when keel ended the
/// table by itself with status 0.
pub fn run_demo(keel: Option<&Path>, interactive: bool) -> Result<()> {
    let keel = keel.ok_or("keel did not build")?;
    if !util::is_root() {
        return Err("the demo needs root (namespaces, mounts, cgroups): run it as root".into());
    }
    let unshare = util::which("unshare").ok_or("unshare not found: install util-linux")?;
    let dir = util::target_dir().join("demo");
    let root = dir.join("rootfs");
    let config = dir.join("config");
    let run = dir.join("run");
    let _ = std::fs::remove_dir_all(&config);
    let _ = std::fs::remove_dir_all(&run);
    tree::busybox_rootfs(&root)?;
    std::fs::create_dir_all(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    std::fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
    for (name, spec) in SPECS {
        let p = config.join(name);
        std::fs::write(&p, spec.replace("@ROOT@", &root.display().to_string()))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    println!(
        "xtask: demo: {} containers in {} (root: {})",
        SPECS.len(),
        config.display(),
        root.display()
    );
    println!(
        "xtask: demo: keel --config {} --run-dir {}, as PID 1 of a new pid namespace",
        config.display(),
        run.display()
    );
    if interactive {
        println!("xtask: demo: (until boot mode exists this runs on the host; later it boots a VM)");
    }
    println!();
    let mut child = Command::new(unshare)
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
        .arg(keel)
        .arg("--config")
        .arg(&config)
        .arg("--run-dir")
        .arg(&run)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start unshare: {e}"))?;
    let status_file = run.join("containers");
    let start = Instant::now();
    let mut last: Option<Vec<Row>> = None;
    let mut last_line = String::new();
    let st = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            if let Some(rows) = &last {
                print_table(rows);
            }
            return Err(format!("the demo did not end within {} s", TIMEOUT.as_secs()));
        }
        if let Some(rows) = std::fs::read_to_string(&status_file).ok().and_then(|t| parse_table(&t)) {
            let l = one_line(&rows);
            if l != last_line {
                println!("xtask: table: {l}");
                last_line = l;
            }
            last = Some(rows);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if let Some(rows) = std::fs::read_to_string(&status_file).ok().and_then(|t| parse_table(&t)) {
        last = Some(rows);
    }
    println!();
    match &last {
        Some(rows) => {
            println!(
                "xtask: demo: the container table at the end ({}):",
                status_file.display()
            );
            print_table(rows);
        }
        None => println!("xtask: demo: keel wrote no container table ({})", status_file.display()),
    }
    println!(
        "xtask: demo: keel ended after {}: {}",
        util::fmt_dur(start.elapsed()),
        util::describe(st)
    );
    let rows = last.ok_or_else(|| format!("keel ended ({}) without writing its table", util::describe(st)))?;
    check_end(&rows, st.code())?;
    println!("xtask: demo: as expected — hello and web exited 0, crashloop failed after {CRASH_RESTARTS} restarts, keel's status {EXPECTED_EXIT} is the crash-looper's");
    Ok(())
}

/// The crash-looper's restart budget (its spec's `restart_budget`).
const CRASH_RESTARTS: &str = "4";
/// keel exits with the worst status among the containers that ended on
/// their own (docs/modes.md): the crash-looper's `exit 3`.
const EXPECTED_EXIT: i32 = 3;

/// The table the demo must end with, and keel's status.
fn check_end(rows: &[Row], code: Option<i32>) -> Result<()> {
    let expect = [
        ("hello", "exited", None),
        ("web", "exited", None),
        ("crashloop", "failed", Some(CRASH_RESTARTS)),
    ];
    for (name, state, restarts) in expect {
        let r = rows
            .iter()
            .find(|r| r.get("name") == Some(name))
            .ok_or_else(|| format!("{name} is not in keel's table"))?;
        let got = r.get("state").unwrap_or("?");
        if got != state {
            return Err(format!(
                "{name} ended {got}, expected {state} (reason: {})",
                r.get("reason").unwrap_or("-")
            ));
        }
        if let Some(n) = restarts {
            let got = r.get("restarts").unwrap_or("?");
            if got != n {
                return Err(format!("{name} restarted {got} times, expected {n}"));
            }
        }
    }
    if code != Some(EXPECTED_EXIT) {
        return Err(format!(
            "keel's exit status is {code:?}, expected {EXPECTED_EXIT} (the crash-looper's)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses() {
        let t = "# keel-containers v1\nname=a state=running pid=12 restarts=0 net=4026531840\nname=b state=failed pid=0 restarts=4\n";
        let r = parse_table(t).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].get("pid"), Some("12"));
        assert_eq!(r[1].get("state"), Some("failed"));
        assert_eq!(one_line(&r), "a=running  b=failed(restarts 4)");
        assert!(parse_table("name=a\n").is_none());
    }

    #[test]
    fn the_end_is_checked() {
        let t = "# keel-containers v1\nname=hello state=exited restarts=0\nname=web state=exited restarts=0\nname=crashloop state=failed restarts=4\n";
        let rows = parse_table(t).unwrap();
        assert!(check_end(&rows, Some(3)).is_ok());
        assert!(check_end(&rows, Some(0)).is_err());
        let bad = parse_table(&t.replace("web state=exited", "web state=failed")).unwrap();
        assert!(check_end(&bad, Some(3)).unwrap_err().contains("web ended failed"));
        let few = parse_table(&t.replace("restarts=4", "restarts=2")).unwrap();
        assert!(check_end(&few, Some(3)).is_err());
    }

    #[test]
    fn specs_name_their_root() {
        for (n, s) in SPECS {
            assert!(s.contains("root @ROOT@"), "{n}");
            assert!(s.contains("stdio log"), "{n}");
        }
    }
}
