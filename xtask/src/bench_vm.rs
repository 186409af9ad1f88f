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

/// The figures keel prints about itself on the console (docs/boot.md):
///
/// ```text
/// keel 0.1.0: boot mode, started 1912.345 ms after the kernel
/// keel: initramfs: copied into a tmpfs in 236.088 ms: …
/// keel: all 3 containers running: keel's cpu 457.259 ms (supervisor loop 197.343), wall 673.218 ms (loop 448.646) since keel started, … VmRSS 392 kB
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeelFigures {
    /// CPU time (user + system), ms, first instruction → all running.
    pub cpu_ms: Option<f64>,
    /// Wall time, ms, first instruction → all running.
    pub wall_ms: Option<f64>,
    /// The CPU time of the supervisor loop alone (the spawns), ms.
    pub loop_cpu_ms: Option<f64>,
    /// The initramfs copy into a tmpfs, ms.
    pub copy_ms: Option<f64>,
    /// The kernel's uptime when keel started, ms.
    pub kernel_ms: Option<f64>,
    /// keel's VmRSS when all containers run, kB.
    pub rss_kb: Option<f64>,
}

/// The number right after `marker` in `line` (up to a space, `,` or `)`).
fn number_after(line: &str, marker: &str) -> Option<f64> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Reads keel's figures from the console.
pub fn keel_figures(console: &str) -> KeelFigures {
    let mut f = KeelFigures::default();
    for l in console.lines() {
        if f.kernel_ms.is_none() && l.contains(": boot mode, started ") {
            f.kernel_ms = number_after(l, ": boot mode, started ");
        }
        if f.copy_ms.is_none() {
            f.copy_ms = number_after(l, "keel: initramfs: copied into a tmpfs in ");
        }
        if f.cpu_ms.is_none() && l.contains("containers running: keel's cpu ") {
            f.cpu_ms = number_after(l, "keel's cpu ");
            f.wall_ms = number_after(l, "), wall ");
            f.loop_cpu_ms = number_after(l, "(supervisor loop ");
            f.rss_kb = number_after(l, "VmRSS ");
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
    s.contents = Contents {
        conf: BASE_CONF.to_string(),
        ..Contents::default()
    };
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
    s = s.container(
        "c1",
        "ns pid host\ncaps bounding all\nargs /bin/sh /t/probe.sh\nrestart never\nstdio log\n",
    );
    for i in 2..=n {
        s = s.container(
            &format!("c{i}"),
            "args /bin/sh -c \". /t/lib.sh; waitfor /run/bench-done 60\"\nrestart never\nstdio log\n",
        );
    }
    s
}

fn sample(base: &Base, kernel: &keel_rootfs::KernelTree, n: usize, run: usize) -> Result<Sample> {
    let s = scenario(n);
    let dir = util::target_dir().join("vm").join(format!("bench-{n}"));
    let img = dir.join("initramfs.cpio");
    base.write(&s.contents, &img)?;
    let r: VmResult = Vm::new(&format!("bench-{n}#{run}"))
        .kernel(kernel)
        .initrd(&img)
        .timeout(Duration::from_secs(90))
        .console(Console::Quiet)
        .dir(&dir)
        .run()?;
    if let Err(e) = s.judge(&r) {
        return Err(r.failure(&e));
    }
    let num = |k: &str| r.data(k).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    Ok(Sample {
        keel: keel_figures(&r.console),
        rss_kb: num("rss_kb"),
        run_init_s: num("run_init"),
        vm_wall_s: r.wall.as_secs_f64(),
    })
}

/// "median (min–max)" of the values, scaled and with a unit; n/a if none.
fn cell(v: &[f64], scale: f64, unit: &str, digits: usize) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    let mut s: Vec<f64> = v.iter().map(|x| x * scale).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let med = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    format!(
        "{med:.digits$} {unit} ({:.digits$}–{:.digits$}, n={})",
        s[0],
        s[s.len() - 1],
        s.len()
    )
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
    let mut per_n: Vec<(usize, Vec<Sample>)> = Vec::new();
    let mut notes = Vec::new();
    for n in [1usize, 10] {
        let mut v = Vec::new();
        for run in 0..RUNS {
            match sample(&base, &kernel, n, run) {
                Ok(s) => {
                    let k = &s.keel;
                    println!(
                        "xtask: bench: vm, {n} containers, run {}: keel cpu {:?} ms, wall {:?} ms, copy {:?} ms, VmRSS {:?} kB (probe {:?} kB), keel started at {:?} ms, VM {:.1} s",
                        run + 1,
                        k.cpu_ms,
                        k.wall_ms,
                        k.copy_ms,
                        k.rss_kb,
                        s.rss_kb,
                        k.kernel_ms,
                        s.vm_wall_s
                    );
                    v.push(s)
                }
                Err(e) => {
                    notes.push(format!(
                        "{n} containers, run {}: {}",
                        run + 1,
                        e.lines().next().unwrap_or("")
                    ));
                    println!("xtask: bench: vm: {e}");
                }
            }
        }
        per_n.push((n, v));
    }
    let col = |f: &dyn Fn(&Sample) -> Option<f64>, n: usize| -> Vec<f64> {
        per_n
            .iter()
            .find(|p| p.0 == n)
            .map(|p| p.1.iter().filter_map(f).collect())
            .unwrap_or_default()
    };
    let all: Vec<Sample> = per_n.iter().flat_map(|p| p.1.clone()).collect();
    let all_of = |f: &dyn Fn(&Sample) -> Option<f64>| -> Vec<f64> { all.iter().filter_map(f).collect() };
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for n in [1usize, 10] {
        let what = if n == 1 {
            "1 container".to_string()
        } else {
            format!("{n} containers")
        };
        rows.push((
            format!("keel's CPU time (getrusage), first instruction → {what} running"),
            cell(&col(&|s| s.keel.cpu_ms, n), 1.0, "ms", 1),
            if n == 10 { "≤ 10 ms" } else { "–" }.to_string(),
        ));
        rows.push((
            format!("of which the supervisor loop (spawning), {what}"),
            cell(&col(&|s| s.keel.loop_cpu_ms, n), 1.0, "ms", 1),
            "–".into(),
        ));
        rows.push((
            format!("wall time beside it, {what}"),
            cell(&col(&|s| s.keel.wall_ms, n), 1.0, "ms", 1),
            "–".into(),
        ));
    }
    rows.push((
        "initramfs copy into a tmpfs (part of the above)".into(),
        cell(&all_of(&|s| s.keel.copy_ms), 1.0, "ms", 1),
        "–".into(),
    ));
    rows.push((
        "keel's VmRSS as PID 1, 10 containers running (read from a container)".into(),
        cell(&col(&|s| s.rss_kb, 10), 1.0, "kB", 0),
        "–".into(),
    ));
    rows.push((
        "the same, as keel reports it when all run".into(),
        cell(&col(&|s| s.keel.rss_kb, 10), 1.0, "kB", 0),
        "–".into(),
    ));
    rows.push((
        "guest kernel boot: uptime when keel starts".into(),
        cell(&all_of(&|s| s.keel.kernel_ms), 1e-3, "s", 2),
        "–".into(),
    ));
    rows.push((
        "the same, from the kernel's `Run /init` line".into(),
        cell(&all_of(&|s| s.run_init_s), 1.0, "s", 2),
        "–".into(),
    ));
    rows.push((
        "whole VM, qemu start → exit, 1 container".into(),
        cell(&col(&|s| Some(s.vm_wall_s), 1), 1.0, "s", 1),
        "–".into(),
    ));
    let demo = match crate::demo_vm::build(false, true) {
        Ok((p, _, size)) => format!("{} ({size} bytes, {})", util::fmt_size(size), p.display()),
        Err(e) => format!("n/a ({e})"),
    };
    rows.push(("demo image (uncompressed cpio)".into(), demo, "–".into()));
    let mut md = String::new();
    md.push_str(&format!(
        "## In the VM\n\nDebian's kernel {} under qemu TCG (no KVM), 1 vCPU, 512 MiB; {RUNS} boots per configuration, one VM at a time; median (min–max, n). Emulated: times are many times those on hardware, and noisy.\n\n",
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
    fn figures_from_the_console() {
        let c = "keel 0.1.0: boot mode, started 1912.345 ms after the kernel\n\
                 keel: initramfs: copied into a tmpfs in 236.088 ms: 20 files (4140 KiB)\n\
                 keel: all 3 containers running: keel's cpu 457.259 ms (supervisor loop 197.343), wall 673.218 ms (loop 448.646) since keel started, 5526.377 ms since boot; pid 1's cpu before this keel 1.0 ms; VmRSS 392 kB\n";
        let f = keel_figures(c);
        assert_eq!(f.kernel_ms, Some(1912.345));
        assert_eq!(f.copy_ms, Some(236.088));
        assert_eq!(f.cpu_ms, Some(457.259));
        assert_eq!(f.wall_ms, Some(673.218));
        assert_eq!(f.loop_cpu_ms, Some(197.343));
        assert_eq!(f.rss_kb, Some(392.0));
        assert_eq!(keel_figures("nothing"), KeelFigures::default());
        assert!(cell(&[], 1.0, "s", 1).starts_with("n/a"));
        assert_eq!(cell(&[3.0, 1.0, 2.0], 1.0, "s", 1), "2.0 s (1.0–3.0, n=3)");
    }
}
