//! Small helpers shared by the xtask commands: paths, commands, timing,
//! process groups, formatting.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, String>;

/// The workspace root (the parent of xtask/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// cargo's target directory: $CARGO_TARGET_DIR if set (relative to the
/// workspace root), else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let p = PathBuf::from(d);
            if p.is_absolute() {
                p
            } else {
                root().join(p)
            }
        }
        _ => root().join("target"),
    }
}

/// A `cargo` command (the same cargo that runs xtask) in the workspace root.
pub fn cargo() -> Command {
    let exe = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut c = Command::new(exe);
    c.current_dir(root());
    c
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The full path of `prog` found in $PATH (or the path itself if it has a slash).
pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// Runs `cmd` with inherited stdio; an error naming it unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let st = cmd.status().map_err(|e| format!("cannot start {}: {e}", show(cmd)))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{} failed: {}", show(cmd), describe(st)))
    }
}

/// The command line, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// "exit status 3" / "killed by signal 9".
pub fn describe(st: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{st}"),
    }
}

/// Sends `sig` to a process group (pgid = the leader's pid).
pub fn kill_group(pgid: u32, sig: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory involved.
    unsafe {
        libc::kill(-(pgid as i32), sig);
    }
}

pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) takes plain integers.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// How a streamed command ended.
pub enum Ended {
    Exited(ExitStatus),
    TimedOut,
}

/// Runs `cmd` in its own process group with stdout piped: every stdout line
/// is echoed and handed to `on_line`; stderr is inherited. After `timeout`
/// the whole group is killed. Lines still buffered when the command exits
/// are drained for a moment, so a stray grandchild holding the pipe cannot
/// hang us.
pub fn run_streaming(cmd: &mut Command, timeout: Duration, mut on_line: impl FnMut(&str)) -> Result<Ended> {
    use std::os::unix::process::CommandExt;
    cmd.stdout(Stdio::piped()).stdin(Stdio::null()).process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", show(cmd)))?;
    let out = child.stdout.take().ok_or("no stdout pipe")?;
    let rx = line_channel(out);
    let deadline = Instant::now() + timeout;
    let echo = |l: String, on_line: &mut dyn FnMut(&str)| {
        println!("{l}");
        on_line(&l);
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => echo(l, &mut on_line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            return Ok(Ended::TimedOut);
        }
    }
    let st = wait_child(&mut child)?;
    let grace = Instant::now() + Duration::from_secs(1);
    while let Ok(l) = rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
        echo(l, &mut on_line);
    }
    Ok(Ended::Exited(st))
}

fn wait_child(child: &mut Child) -> Result<ExitStatus> {
    child.wait().map_err(|e| format!("wait: {e}"))
}

/// A thread reading `r` line by line into a channel.
pub fn line_channel<R: Read + Send + 'static>(r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines() {
            match l {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// "1.23 s", "45.6 ms", "789 µs".
pub fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.1} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// "7.7 KiB (7 896 bytes)".
pub fn fmt_size(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// A field (`VmRSS:    1234 kB`) of /proc/PID/status, as its number.
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The children of `pid` (/proc/PID/task/*/children).
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

/// Waits up to `timeout` for `f` to return Some, checking every `every`.
pub fn poll<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(t) = f() {
            return Some(t);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The rustc host triple's installed targets, if rustup is there.
pub fn installed_targets() -> Option<Vec<String>> {
    let o = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .collect()
    })
}
