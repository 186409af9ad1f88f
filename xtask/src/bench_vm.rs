//! `cargo xtask bench`, the VM section: keel as PID 1 of Debian's kernel
//! under qemu (TCG). Figures, not assertions.
//!
//! - keel's own CPU time (getrusage, user + system) from its first
//!   instruction to all containers running, for 1 and 10 containers, with
//!   the wall time beside it: keel prints both on the console once every
//!   container of the first start runs (docs/boot.md);
//! - the initramfs copy (keel leaves the kernel's rootfs for a tmpfs);
//! - keel's VmRSS as PID 1 with 10 containers running (a container in
//!   keel's pid namespace reads /proc/1/status);
//! - the demo image's size (target/demo.cpio);
//! - the guest kernel's own boot time: the uptime at which it ran /init
//!   (its `Run /init as init process` line, read with dmesg).
//!
//! Each configuration boots [`RUNS`] times, one VM at a time; the table
//! shows the median and the range. Under emulation wall times are 10–30×
//! slower than on hardware and noisy; CPU times are inflated as well.

use crate::image::{Base, Contents};
use crate::scenarios::{Scenario, BASE_CONF, LIB_SH};
use crate::util::{self, Result};
use crate::vm::{Console, Vm, VmResult};
use std::time::Duration;

/// Boots per configuration.
pub const RUNS: usize = 5;

/// The figures keel prints about itself, read from the console.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeelFigures {
    /// CPU time (user + system), µs, first instruction → all running.
    pub cpu_us: Option<f64>,
    /// Wall time (monotonic), µs, first instruction → all running.
    pub wall_us: Option<f64>,
    /// The initramfs copy into a tmpfs, µs.
    pub copy_us: Option<f64>,
}

/// A number with a unit (`1.234ms`, `850us`, `850µs`, `2s`, `12`) → µs.
fn micros(s: &str) -> Option<f64> {
    let s = s.trim_end_matches([',', ';', ')']);
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "us"),
    };
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "ns" => n / 1000.0,
        "us" | "µs" => n,
        "ms" => n * 1000.0,
        "s" => n * 1e6,
        _ => return None,
    })
}

/// The value after `key` (`key=VALUE` or `key VALUE`) in a line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(v) = w.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
        if *w == key {
            return words.get(i + 1).copied();
        }
    }
    None
}

/// Reads keel's figures from the console: the line that says all
/// containers are running (with `cpu=` and `wall=`), and the initramfs
/// copy line (with its time).
pub fn keel_figures(console: &str) -> KeelFigures {
    let mut f = KeelFigures::default();
    for l in console.lines() {
        if !l.contains("keel") {
            continue;
        }
        if f.cpu_us.is_none() {
            if let Some(c) = field(l, "cpu").and_then(micros) {
                f.cpu_us = Some(c);
                f.wall_us = field(l, "wall").and_then(micros);
            }
        }
        if f.copy_us.is_none() && l.contains("initramfs") {
            f.copy_us = l.split_whitespace().filter_map(|w| if w.chars().next()?.is_ascii_digit() { micros(w) } else { None }).find(|_| true).filter(|_| l.contains("copied") || l.contains("copy"));
        }
    }
    f
}

/// One sample of a boot with N containers.
#[derive(Clone, Debug, Default)]
struct Sample {
    keel: KeelFigures,
    rss_kb: Option<f64>,
    run_init_s: Option<f64>,
    vm_wall_s: f64,
}

fn scenario(n: usize) -> Scenario {
    let mut s = Scenario::keel(&format!("bench-{n}"));
    s.contents = Contents { conf: BASE_CONF.to_string(), ..Contents::default() };
    s = s.file("/t/lib.sh", LIB_SH, 0o644).script(
        "probe",
        &format!(
            r#". /t/lib.sh
# Until all {n} containers run.
i=0
while [ "$(grep -c 'state=running' /run/keel/containers)" != {n} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
sleep 0.5
data rss_kb $(awk '/^VmRSS/{{print $2}}' /proc/1/status)
data run_init $(dmesg | grep -m1 'Run /init' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')
touch /run/bench-done
"#
        ),
    );
    s = s.container("c1", "ns pid host\nargs /bin/sh /t/probe.sh\nrestart never\nstdio log\n");
    for i in 2..=n {
        s = s.container(&format!("c{i}"), "args /bin/sh -c \". /t/lib.sh; waitfor /run/bench-done 60\"\nrestart never\nstdio log\n");
    }
    s
}

fn sample(base: &Base, kernel: &keel_rootfs::KernelTree, n: usize, run: usize) -> Result<Sample> {
    let s = scenario(n);
    let dir = util::target_dir().join("vm").join(format!("bench-{n}"));
    let img = dir.join("initramfs.cpio");
    base.write(&s.contents, &img)?;
    let r: VmResult = Vm::new(&format!("bench-{n}#{run}")).kernel(kernel).initrd(&img).timeout(Duration::from_secs(90)).console(Console::Quiet).dir(&dir).run()?;
    if let Err(e) = s.judge(&r) {
        return Err(r.failure(&e));
    }
    let num = |k: &str| r.data(k).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    Ok(Sample { keel: keel_figures(&r.console), rss_kb: num("rss_kb"), run_init_s: num("run_init"), vm_wall_s: r.wall.as_secs_f64() })
}

/// "median (min–max)" of the values, scaled and with a unit; n/a if none.
fn cell(v: &[f64], scale: f64, unit: &str, digits: usize) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    let mut s: Vec<f64> = v.iter().map(|x| x * scale).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let med = if s.len() % 2 == 1 { s[s.len() / 2] } else { (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0 };
    format!("{med:.digits$} {unit} ({:.digits$}–{:.digits$}, n={})", s[0], s[s.len() - 1], s.len())
}

/// Runs the VM benchmarks; returns the markdown section (or why not).
pub fn section() -> String {
    match run() {
        Ok(md) => md,
        Err(e) => format!("## In the VM\n\nn/a: {e}\n"),
    }
}

fn run() -> Result<String> {
    crate::vm::ensure_tools(true)?;
    let kernel = crate::vm::kernel()?;
    let keel = crate::keel::keel_from_env_or_build()?;
    let base = Base::new(&keel, None, &[])?;
    let mut rows = Vec::new();
    let mut per_n: Vec<(usize, Vec<Sample>)> = Vec::new();
    let mut notes = Vec::new();
    for n in [1usize, 10] {
        let mut v = Vec::new();
        for run in 0..RUNS {
            match sample(&base, &kernel, n, run) {
                Ok(s) => {
                    println!(
                        "xtask: bench: vm, {n} containers, run {}: keel cpu {:?} µs, wall {:?} µs, copy {:?} µs, VmRSS {:?} kB, /init at {:?} s, VM {:.1} s",
                        run + 1,
                        s.keel.cpu_us,
                        s.keel.wall_us,
                        s.keel.copy_us,
                        s.rss_kb,
                        s.run_init_s,
                        s.vm_wall_s
                    );
                    v.push(s)
                }
                Err(e) => {
                    notes.push(format!("{n} containers, run {}: {}", run + 1, e.lines().next().unwrap_or("")));
                    println!("xtask: bench: vm: {e}");
                }
            }
        }
        per_n.push((n, v));
    }
    let col = |f: &dyn Fn(&Sample) -> Option<f64>, n: usize| -> Vec<f64> {
        per_n.iter().find(|p| p.0 == n).map(|p| p.1.iter().filter_map(f).collect()).unwrap_or_default()
    };
    for n in [1usize, 10] {
        rows.push((
            format!("keel CPU time, first instruction → {n} container{} running (getrusage)", if n == 1 { "" } else { "s" }),
            cell(&col(&|s| s.keel.cpu_us, n), 1e-3, "ms", 2),
            if n == 10 { "≤ 10 ms" } else { "–" }.to_string(),
        ));
        rows.push((format!("wall time beside it ({n})"), cell(&col(&|s| s.keel.wall_us, n), 1e-3, "ms", 1), "–".into()));
    }
    let all: Vec<Sample> = per_n.iter().flat_map(|p| p.1.clone()).collect();
    rows.push(("initramfs copy into a tmpfs".into(), cell(&all.iter().filter_map(|s| s.keel.copy_us).collect::<Vec<_>>(), 1e-3, "ms", 1), "–".into()));
    rows.push(("keel VmRSS as PID 1, 10 containers".into(), cell(&col(&|s| s.rss_kb, 10), 1.0, "kB", 0), "–".into()));
    rows.push(("guest kernel boot (uptime at /init)".into(), cell(&all.iter().filter_map(|s| s.run_init_s).collect::<Vec<_>>(), 1.0, "s", 2), "–".into()));
    rows.push(("whole VM, qemu start → exit, 1 container".into(), cell(&col(&|s| Some(s.vm_wall_s), 1), 1.0, "s", 1), "–".into()));
    let demo = match crate::demo_vm::build(false, true) {
        Ok((p, _, size)) => format!("{} ({} bytes, {})", util::fmt_size(size), size, p.display()),
        Err(e) => format!("n/a ({e})"),
    };
    rows.push(("demo image (uncompressed cpio)".into(), demo, "–".into()));
    let mut md = String::new();
    md.push_str(&format!(
        "## In the VM\n\nDebian's kernel {} under qemu TCG (no KVM), 1 vCPU, 512 MiB; {RUNS} boots per configuration, one VM at a time; median (min–max). Emulated: wall times are 10–30× those on hardware.\n\n",
        kernel.version
    ));
    md.push_str("| in the VM | keel | target |\n|---|---|---|\n");
    for (w, v, t) in rows {
        md.push_str(&format!("| {w} | {v} | {t} |\n"));
    }
    for n in notes {
        md.push_str(&format!("\n- failed: {n}"));
    }
    md.push('\n');
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(micros("1.5ms"), Some(1500.0));
        assert_eq!(micros("850us"), Some(850.0));
        assert_eq!(micros("850µs"), Some(850.0));
        assert_eq!(micros("2s"), Some(2e6));
        assert_eq!(micros("12"), Some(12.0));
        assert_eq!(micros("x"), None);
        assert_eq!(field("keel: all running: cpu=1.2ms wall=30ms", "cpu"), Some("1.2ms"));
        assert_eq!(field("keel: cpu 1.2ms", "cpu"), Some("1.2ms"));
        assert!(cell(&[], 1.0, "s", 1).starts_with("n/a"));
        assert_eq!(cell(&[3.0, 1.0, 2.0], 1.0, "s", 1), "2.0 s (1.0–3.0, n=3)");
    }
}
