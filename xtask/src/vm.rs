//! The VM harness: boots Debian's kernel under qemu (TCG) with an initramfs,
//! streams the console, reads machine-readable lines from the second serial
//! port and the verdict from `isa-debug-exit`.
//!
//! ```text
//! qemu-system-x86_64 -accel tcg -M pc -m 512 -smp 1 -nodefaults -display none -no-reboot
//!     -bios /usr/share/qemu/qboot.rom -kernel vmlinux -initrd IMG
//!     -append "console=ttyS0 quiet panic=-1 …"
//!     -serial stdio                 the console (ttyS0), streamed line by line
//!     -serial file:results.txt      the guest's /dev/ttyS1: result lines
//!     -device isa-debug-exit,iobase=0xf4,iosize=0x04
//! ```
//!
//! The guest writes one byte N to I/O port 0xf4 (keel's `verdict_port`);
//! qemu then exits with status 2N+1. A qemu that exits 0 got no verdict:
//! the guest powered off, or PID 1 died and the kernel panicked (`panic=-1`
//! reboots, and `-no-reboot` turns that into an exit). Only 0–127 survive
//! the trip (an exit status has 8 bits).
//!
//! Why these options: shared/vm/report.md (no KVM on these machines; the
//! uncompressed ELF vmlinux is entered through its PVH note, which skips
//! the in-guest decompression; qboot and `-nodefaults` save the rest). A
//! boot to /init takes about 2 s.
//!
//! At most [`max_vms`] VMs run at once (2 by default, `KEEL_VM_JOBS` to
//! change it): TCG takes one host core per VM.

use crate::util::{self, Result};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// qboot, the minimal firmware (Debian: qemu-system-data).
pub const QBOOT: &str = "/usr/share/qemu/qboot.rom";
pub const QEMU: &str = "qemu-system-x86_64";
/// The kernel command line every boot starts with.
pub const BASE_APPEND: &str = "console=ttyS0 quiet panic=-1";
/// The I/O port of `isa-debug-exit` (keel's `verdict_port`).
pub const VERDICT_PORT: u16 = 0xf4;

/// How a VM ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The guest wrote this byte to the verdict port.
    Verdict(u8),
    /// qemu ended without a verdict (poweroff, reboot).
    NoVerdict,
    /// The VM ran past its time and was killed.
    Timeout,
    /// The kernel panicked (the console says "Kernel panic").
    KernelPanic,
    /// qemu itself failed (could not start, bad options).
    Qemu(String),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Verdict(n) => write!(f, "verdict {n}"),
            Exit::NoVerdict => write!(
                f,
                "no verdict (qemu ended without one: the guest powered off or rebooted)"
            ),
            Exit::Timeout => write!(f, "timeout"),
            Exit::KernelPanic => write!(f, "kernel panic"),
            Exit::Qemu(m) => write!(f, "qemu failed: {m}"),
        }
    }
}

/// What a VM left behind.
#[derive(Clone, Debug)]
pub struct VmResult {
    pub name: String,
    pub exit: Exit,
    /// The whole console (ttyS0), `\r` removed.
    pub console: String,
    /// Every line the guest wrote to ttyS1.
    pub results: Vec<String>,
    /// Host wall time from qemu's start to its end.
    pub wall: Duration,
    /// Where the console and the result lines were saved.
    pub dir: PathBuf,
}

impl VmResult {
    /// The last `n` lines of the console.
    pub fn console_tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// A clear message about an unexpected end: what happened, the result
    /// lines, and the console's tail.
    pub fn failure(&self, what: &str) -> String {
        let mut s = format!(
            "{}: {what}\n  exit: {}; wall {}",
            self.name,
            self.exit,
            util::fmt_dur(self.wall)
        );
        match self.exit {
            Exit::Timeout => s.push_str("\n  the VM did not end in time: keel hung, or never powered off"),
            Exit::KernelPanic => s.push_str("\n  the kernel panicked: did PID 1 exit or crash?"),
            Exit::NoVerdict => {
                s.push_str("\n  no verdict: the guest powered off without writing to port 0xf4 (verdict_port missing?)")
            }
            _ => {}
        }
        s.push_str(&format!("\n  result lines ({}):", self.results.len()));
        for r in &self.results {
            s.push_str(&format!("\n    {r}"));
        }
        s.push_str(&format!(
            "\n  console tail (all of it: {}):",
            self.dir.join("console.log").display()
        ));
        for l in self.console_tail(40).lines() {
            s.push_str(&format!("\n    | {l}"));
        }
        s
    }

    /// The result lines that start with `word` (`RESULT`, `DATA`, …),
    /// split into words after it.
    pub fn lines_of(&self, word: &str) -> Vec<Vec<&str>> {
        self.results
            .iter()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(word)).then(|| w.collect())
            })
            .collect()
    }

    /// `DATA KEY VALUE…` lines: the value of KEY (the rest of the line).
    pub fn data(&self, key: &str) -> Option<String> {
        self.lines_of("DATA")
            .into_iter()
            .find(|w| w.first() == Some(&key))
            .map(|w| w[1..].join(" "))
    }
}

/// Where the console goes while the VM runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Each line to stdout, prefixed with `[name] ` (the test log).
    Prefixed,
    /// Each line to stdout as it is (the demo).
    Plain,
    /// Collected only.
    Quiet,
    /// The terminal is the console (stdin too); Ctrl-A X ends qemu.
    /// Nothing is collected.
    Terminal,
}

/// One VM to boot. See the module documentation.
pub struct Vm {
    name: String,
    vmlinux: Option<PathBuf>,
    initrd: Option<PathBuf>,
    append: Vec<String>,
    timeout: Duration,
    memory_mb: u32,
    console: Console,
    dir: Option<PathBuf>,
}

impl Vm {
    pub fn new(name: &str) -> Vm {
        Vm {
            name: name.to_string(),
            vmlinux: None,
            initrd: None,
            append: Vec::new(),
            timeout: Duration::from_secs(60),
            memory_mb: 512,
            console: Console::Prefixed,
            dir: None,
        }
    }

    /// The kernel: the tree's uncompressed vmlinux.
    pub fn kernel(mut self, k: &keel_rootfs::kernel::KernelTree) -> Vm {
        self.vmlinux = Some(k.vmlinux.clone());
        self
    }

    pub fn initrd(mut self, p: impl Into<PathBuf>) -> Vm {
        self.initrd = Some(p.into());
        self
    }

    /// Words added to the kernel command line (after [`BASE_APPEND`]).
    pub fn append(mut self, words: &str) -> Vm {
        self.append.extend(words.split_whitespace().map(str::to_string));
        self
    }

    pub fn timeout(mut self, t: Duration) -> Vm {
        self.timeout = t;
        self
    }

    pub fn console(mut self, c: Console) -> Vm {
        self.console = c;
        self
    }

    /// Where console.log and results.txt go (default target/vm/NAME/).
    pub fn dir(mut self, d: impl Into<PathBuf>) -> Vm {
        self.dir = Some(d.into());
        self
    }

    /// The qemu command line.
    fn command(&self, results: &Path) -> Result<Command> {
        let vmlinux = self.vmlinux.as_ref().ok_or("vm: no kernel given")?;
        let initrd = self.initrd.as_ref().ok_or("vm: no initrd given")?;
        let mut append = BASE_APPEND.to_string();
        for w in &self.append {
            append.push(' ');
            append.push_str(w);
        }
        let mut c = Command::new(QEMU);
        c.args(["-accel", "tcg", "-M", "pc", "-m"])
            .arg(self.memory_mb.to_string())
            .args([
                "-smp",
                "1",
                "-nodefaults",
                "-display",
                "none",
                "-no-reboot",
                "-bios",
                QBOOT,
                "-kernel",
            ])
            .arg(vmlinux)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(append)
            .arg("-serial")
            .arg(if self.console == Console::Terminal {
                "mon:stdio"
            } else {
                "stdio"
            })
            .arg("-serial")
            .arg(format!("file:{}", results.display()))
            .args([
                "-device",
                &format!("isa-debug-exit,iobase={VERDICT_PORT:#x},iosize=0x04"),
            ]);
        Ok(c)
    }

    /// Boots, waits for the end (or the timeout), and says how it went.
    /// Err only when the VM could not be set up at all.
    pub fn run(self) -> Result<VmResult> {
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| util::target_dir().join("vm").join(&self.name));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let results_path = dir.join("results.txt");
        let _ = std::fs::remove_file(&results_path);
        let mut cmd = self.command(&results_path)?;
        let _slot = Slot::take();
        let started = Instant::now();
        let (exit, console) = if self.console == Console::Terminal {
            let st = cmd.status().map_err(|e| format!("cannot start {QEMU}: {e}"))?;
            (decode(st.code(), "", ""), String::new())
        } else {
            self.run_piped(&mut cmd)?
        };
        let wall = started.elapsed();
        let results = std::fs::read(&results_path)
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .filter(|l| !l.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let _ = std::fs::write(dir.join("console.log"), &console);
        Ok(VmResult {
            name: self.name,
            exit,
            console,
            results,
            wall,
            dir,
        })
    }

    fn run_piped(&self, cmd: &mut Command) -> Result<(Exit, String)> {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {QEMU}: {e} (install qemu-system-x86)"))?;
        let out = child.stdout.take().ok_or("no stdout pipe")?;
        let mut err = child.stderr.take().ok_or("no stderr pipe")?;
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let rx = raw_lines(out);
        let deadline = Instant::now() + self.timeout;
        let mut console = String::new();
        let show = |l: &str, console: &mut String| {
            match self.console {
                Console::Prefixed => println!("[{}] {l}", self.name),
                Console::Plain => println!("{l}"),
                _ => {}
            }
            console.push_str(l);
            console.push('\n');
        };
        let mut timed_out = false;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(l) => show(&l, &mut console),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() > deadline {
                util::kill_group(child.id(), libc::SIGKILL);
                timed_out = true;
                break;
            }
        }
        let st = child.wait().map_err(|e| format!("wait for qemu: {e}"))?;
        // What is still in the pipe (qemu is gone, so this ends).
        let grace = Instant::now() + Duration::from_millis(500);
        while let Ok(l) = rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
            show(&l, &mut console);
        }
        let stderr = err_thread.join().unwrap_or_default();
        if !stderr.trim().is_empty() && self.console != Console::Quiet {
            for l in stderr.lines() {
                println!("[{}] qemu: {l}", self.name);
            }
        }
        let exit = if timed_out {
            Exit::Timeout
        } else {
            decode(st.code(), &console, &stderr)
        };
        Ok((exit, console))
    }
}

/// qemu's exit status → [`Exit`].
///
/// An exit status has 8 bits, so 2N+1 keeps only N's low 7 bits: a verdict
/// of 128 or more (keel's 128+N for a death by signal N) arrives as N−128.
/// keel also says `keel: verdict N to I/O port …` on the console; when that
/// N agrees with the status, it is the verdict.
pub fn decode(code: Option<i32>, console: &str, stderr: &str) -> Exit {
    let panicked = console.contains("Kernel panic");
    let said: Option<u8> = console.lines().rev().find_map(|l| {
        let rest = &l[l.find("keel: verdict ")? + "keel: verdict ".len()..];
        rest.contains(" to I/O port")
            .then(|| rest.split_whitespace().next()?.parse().ok())
            .flatten()
    });
    match code {
        Some(0) if panicked => Exit::KernelPanic,
        Some(0) => Exit::NoVerdict,
        // qemu's own errors are status 1 too, before the guest said anything.
        Some(1) if console.is_empty() && !stderr.trim().is_empty() => Exit::Qemu(stderr.trim().to_string()),
        Some(c) if c % 2 == 1 && said.is_some_and(|n| (2 * u32::from(n) + 1) & 0xff == c as u32) => {
            Exit::Verdict(said.unwrap_or(0))
        }
        Some(c) if c % 2 == 1 => Exit::Verdict(((c - 1) / 2) as u8),
        Some(c) => Exit::Qemu(format!("exit status {c}: {}", stderr.trim())),
        None => Exit::Qemu(format!("killed by a signal: {}", stderr.trim())),
    }
}

/// Lines of `r`, `\r` removed, bytes that are not UTF-8 replaced.
fn raw_lines<R: Read + Send + 'static>(r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut b = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match b.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    let l: String = String::from_utf8_lossy(&buf).replace('\r', "");
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

// ---- at most N VMs at once --------------------------------------------------

static RUNNING: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// How many VMs may run at once: $KEEL_VM_JOBS, else 2.
pub fn max_vms() -> usize {
    std::env::var("KEEL_VM_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(2)
}

/// One of the [`max_vms`] slots, held while a VM runs.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let max = max_vms();
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= max {
            n = FREED.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut n = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        FREED.notify_one();
    }
}

// ---- what the VMs need on the host ------------------------------------------

/// The Debian packages behind the VM layer: (package, what it gives).
pub const VM_PACKAGES: &[(&str, &str)] = &[
    (
        "qemu-system-x86",
        "qemu-system-x86_64 (and qemu-system-data: qboot.rom)",
    ),
    ("busybox-static", "the static busybox of the images"),
    ("xz-utils", "xz: the uncompressed vmlinux is cut out of vmlinuz"),
];

/// What is missing for the VMs: (package, why).
fn missing_tools() -> Vec<(&'static str, &'static str)> {
    let mut m = Vec::new();
    if util::which(QEMU).is_none() || !Path::new(QBOOT).is_file() {
        m.push(VM_PACKAGES[0]);
    }
    if crate::tree::busybox().is_err() {
        m.push(VM_PACKAGES[1]);
    }
    if util::which("xz").is_none() {
        m.push(VM_PACKAGES[2]);
    }
    m
}

/// Makes sure qemu (with qboot), a static busybox and xz are there:
/// installs them with apt-get as root on Debian (saying so), else says
/// exactly what to install.
pub fn ensure_tools(allow_install: bool) -> Result<()> {
    let missing = missing_tools();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|m| m.0).collect();
    let debian = util::which("apt-get").is_some() && util::which("dpkg-query").is_some();
    if !debian {
        return Err(format!(
            "the VMs need: {QEMU} with the qboot firmware at {QBOOT}, a static busybox (/bin/busybox), and xz; \
             on Debian these are the packages {}",
            names.join(" ")
        ));
    }
    if !allow_install || !util::is_root() {
        return Err(format!(
            "missing for the VMs: {}; install them with: sudo apt-get install -y --no-install-recommends {}",
            missing
                .iter()
                .map(|(p, w)| format!("{p} ({w})"))
                .collect::<Vec<_>>()
                .join(", "),
            names.join(" ")
        ));
    }
    println!(
        "xtask: vm: installing {} with apt-get (running as root)",
        names.join(" ")
    );
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        c
    };
    util::run(&mut apt(&["update", "-q"]))?;
    util::run(apt(&["install", "-y", "-q", "--no-install-recommends"]).args(&names))?;
    let still = missing_tools();
    if !still.is_empty() {
        return Err(format!(
            "still missing after apt-get: {}",
            still.iter().map(|m| m.0).collect::<Vec<_>>().join(" ")
        ));
    }
    Ok(())
}

/// Debian's current kernel (linux-image-amd64's dependency), fetched once
/// into target/kernel/ and reused.
pub fn kernel() -> Result<keel_rootfs::kernel::KernelTree> {
    let cache = util::root().join("target").join("kernel");
    let t = Instant::now();
    let k = keel_rootfs::kernel::fetch_debian_kernel(&cache).map_err(|e| {
        format!(
            "cannot get Debian's kernel into {}: {e}\n  (it needs apt-get, apt-cache, dpkg and xz, and Debian's package lists: apt-get update)",
            cache.display()
        )
    })?;
    if t.elapsed() > Duration::from_secs(5) {
        println!(
            "xtask: vm: kernel {} fetched into {} in {}",
            k.version,
            cache.display(),
            util::fmt_dur(t.elapsed())
        );
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_decode() {
        assert_eq!(decode(Some(1), "boot\n", ""), Exit::Verdict(0));
        assert_eq!(decode(Some(7), "x", ""), Exit::Verdict(3));
        assert_eq!(decode(Some(255), "x", ""), Exit::Verdict(127));
        assert_eq!(decode(Some(0), "x", ""), Exit::NoVerdict);
        assert_eq!(
            decode(
                Some(0),
                "[ 1.0] Kernel panic - not syncing: Attempted to kill init!",
                ""
            ),
            Exit::KernelPanic
        );
        assert!(matches!(
            decode(Some(1), "", "qemu-system-x86_64: -bios x: could not load"),
            Exit::Qemu(_)
        ));
        assert!(matches!(decode(Some(2), "", ""), Exit::Qemu(_)));
        // 137 = 128 + SIGKILL: 2·137+1 = 275 → 19 as an exit status.
        assert_eq!(
            decode(Some(19), "keel: verdict 137 to I/O port 0xf4\n", ""),
            Exit::Verdict(137)
        );
        assert_eq!(decode(Some(19), "", ""), Exit::Verdict(9));
        assert_eq!(
            decode(Some(7), "keel: verdict 3 to I/O port 0xf4\n", ""),
            Exit::Verdict(3)
        );
    }

    #[test]
    fn result_lines() {
        let r = VmResult {
            name: "t".into(),
            exit: Exit::Verdict(0),
            console: "a\nb\nc\n".into(),
            results: vec![
                "RESULT PASS mounts /proc /sys".into(),
                "DATA rss_kb 412".into(),
                "noise".into(),
            ],
            wall: Duration::ZERO,
            dir: PathBuf::from("/tmp"),
        };
        assert_eq!(r.lines_of("RESULT"), vec![vec!["PASS", "mounts", "/proc", "/sys"]]);
        assert_eq!(r.data("rss_kb").as_deref(), Some("412"));
        assert_eq!(r.data("nope"), None);
        assert_eq!(r.console_tail(2), "b\nc");
        assert!(r.failure("boom").contains("| c"));
    }
}
