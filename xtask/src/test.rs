//! `cargo xtask test [--quick] [--no-install]`: every test layer, with a
//! summary at the end and a non-zero exit on any failure.
//!
//! 1. packages: the Debian packages the tests use (installed as root);
//! 2. build: the static keel binary (release), checked static; aarch64 check;
//! 3. cargo test: every host crate's unit tests, the integration tests in
//!    tests/ and supervisor/tests/ (KEEL_BIN points at keel, KEEL_AGENT_BIN
//!    at upcall-agent);
//! 4. fuzz: each target in fuzz/fuzz_targets/ for 30 s (`--quick`: skipped);
//! 5. demo: `cargo xtask run --host` must end by itself with status 0;
//! 6. vm: the VM tests ([`vm_tests`]: xtask/src/scenarios.rs), the VM demo
//!    (`cargo xtask run`) among them. `--vm-only` runs just this layer.

use crate::util::{self, Ended, Result};
use crate::{demo, deps, keel};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The longest the cargo test step may take before it is killed.
const CARGO_TEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const FUZZ_SECONDS: u32 = 30;
/// Steps that run no test of their own.
const SETUP_STEPS: [&str; 5] = [
    "packages",
    "build keel",
    "build upcall-agent",
    "aarch64 check",
    "fuzz: build",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed,
    Skipped,
}

struct Step {
    name: String,
    outcome: Outcome,
    time: Duration,
    detail: String,
}

#[derive(Default)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

pub struct Options {
    pub quick: bool,
    pub install: bool,
    /// Only the VM layer.
    pub vm_only: bool,
    /// VM scenarios to run (name prefixes; all if empty).
    pub scenarios: Vec<String>,
}

pub fn cmd_test(o: &Options) -> Result<()> {
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let mut counts = Counts::default();
    if o.vm_only || !o.scenarios.is_empty() {
        let (outcome, d) = vm_tests(o, &mut counts);
        println!("xtask: vm tests: {d}");
        return if outcome == Outcome::Failed { Err(d) } else { Ok(()) };
    }
    if !util::is_root() {
        println!("xtask: warning: not root — the integration tests need root (real namespaces, mounts, cgroups) and will fail or skip");
    }

    step(&mut steps, "packages", || {
        deps::ensure(o.install).map(|d| (Outcome::Ok, d))
    });

    let mut keel_bin: Option<PathBuf> = None;
    step(&mut steps, "build keel", || {
        let b = keel::build_keel(&[])?;
        let d = format!("{}, {}", b.path.display(), util::fmt_size(b.size));
        keel_bin = Some(b.path);
        Ok((Outcome::Ok, d))
    });
    let mut agent_bin: Option<PathBuf> = None;
    step(&mut steps, "build upcall-agent", || {
        let b = keel::build_agent()?;
        let d = format!("{}, {}", b.path.display(), util::fmt_size(b.size));
        agent_bin = Some(b.path);
        Ok((Outcome::Ok, d))
    });
    step(&mut steps, "aarch64 check", || {
        let r = keel::check_aarch64()?;
        Ok((
            if r.starts_with("skipped") {
                Outcome::Skipped
            } else {
                Outcome::Ok
            },
            r,
        ))
    });

    step(&mut steps, "cargo test", || {
        cargo_test(keel_bin.as_ref(), agent_bin.as_ref(), &mut counts)
    });

    if o.quick {
        steps.push(Step {
            name: "fuzz".into(),
            outcome: Outcome::Skipped,
            time: Duration::ZERO,
            detail: "--quick".into(),
        });
    } else {
        fuzz(&mut steps, &mut counts);
    }

    step(&mut steps, "demo (cargo xtask run --host)", || {
        let r = demo::run_demo(keel_bin.as_deref(), false);
        match r {
            Ok(()) => {
                counts.passed += 1;
                Ok((Outcome::Ok, "ended by itself".into()))
            }
            Err(e) => {
                counts.failed += 1;
                Err(e)
            }
        }
    });

    let vm_started = Instant::now();
    let (o2, d) = vm_tests(o, &mut counts);
    steps.push(Step {
        name: "vm tests".into(),
        outcome: o2,
        time: vm_started.elapsed(),
        detail: d,
    });

    // Summary.
    println!();
    println!("== xtask test: summary ({}) ==", util::fmt_dur(started.elapsed()));
    for s in &steps {
        let r = match s.outcome {
            Outcome::Ok => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        };
        let t = if s.time.is_zero() {
            "-".to_string()
        } else {
            util::fmt_dur(s.time)
        };
        println!("{:28} {:8} {:>9}  {}", s.name, r, t, s.detail);
    }
    let failed_steps: Vec<&str> = steps
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
        .map(|s| s.name.as_str())
        .collect();
    // Steps that are not tests themselves count as one failure each when
    // they fail (the others bump the counts as they go).
    let setup_failures = steps
        .iter()
        .filter(|s| s.outcome == Outcome::Failed && SETUP_STEPS.contains(&s.name.as_str()))
        .count() as u64;
    println!(
        "xtask: {} passed, {} failed, {} skipped",
        counts.passed,
        counts.failed + setup_failures,
        counts.ignored
    );
    if failed_steps.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed_steps.join(", ")))
    }
}

/// Runs one step, timing it and recording its outcome.
fn step(steps: &mut Vec<Step>, name: &str, f: impl FnOnce() -> Result<(Outcome, String)>) {
    println!("\n== xtask test: {name} ==");
    let t = Instant::now();
    let (outcome, detail) = match f() {
        Ok(x) => x,
        Err(e) => {
            println!("xtask: {name}: FAILED: {e}");
            (Outcome::Failed, e)
        }
    };
    steps.push(Step {
        name: name.into(),
        outcome,
        time: t.elapsed(),
        detail,
    });
}

/// Parses libtest's `test result: ok. 3 passed; 1 failed; 2 ignored; …`.
pub fn parse_test_result(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let num = |word: &str| -> Option<u64> {
        rest.split(';').find_map(|p| {
            let p = p.trim();
            let p = p.split_once(". ").map_or(p, |(_, b)| b);
            let (n, w) = p.split_once(' ')?;
            (w.trim() == word).then(|| n.parse().ok()).flatten()
        })
    };
    Some((num("passed")?, num("failed")?, num("ignored").unwrap_or(0)))
}

fn cargo_test(
    keel_bin: Option<&PathBuf>,
    agent_bin: Option<&PathBuf>,
    counts: &mut Counts,
) -> Result<(Outcome, String)> {
    let mut c = util::cargo();
    c.args(["test", "--workspace", "--no-fail-fast"]);
    // The static no_std binaries (keel-init, the floor, …) are built on their
    // own (xtask build): in this std build they would pull rt's entry point.
    for p in static_packages() {
        c.args(["--exclude", &p]);
    }
    match keel_bin {
        Some(b) => {
            c.env("KEEL_BIN", b);
        }
        None => println!("xtask: keel did not build: KEEL_BIN is unset, the integration tests will say so"),
    }
    match agent_bin {
        Some(b) => {
            c.env("KEEL_AGENT_BIN", b);
        }
        None => {
            println!("xtask: upcall-agent did not build: KEEL_AGENT_BIN is unset, the integration tests will say so")
        }
    }
    let (mut p, mut f, mut i) = (0, 0, 0);
    let ended = util::run_streaming(&mut c, CARGO_TEST_TIMEOUT, |l| {
        if let Some((a, b, c)) = parse_test_result(l) {
            p += a;
            f += b;
            i += c;
        }
    })?;
    counts.passed += p;
    counts.failed += f;
    counts.ignored += i;
    let ok = matches!(ended, Ended::Exited(st) if st.success());
    if !ok && f == 0 {
        // A build error or a timeout: no test said "failed", one failure all the same.
        counts.failed += 1;
    }
    let d = format!("{p} passed, {f} failed, {i} ignored");
    match ended {
        Ended::TimedOut => Err(format!("timed out after {} ({d})", util::fmt_dur(CARGO_TEST_TIMEOUT))),
        Ended::Exited(st) if st.success() => Ok((Outcome::Ok, d)),
        Ended::Exited(st) => Err(format!("{} ({d})", util::describe(st))),
    }
}

/// The workspace members left out of `default-members`: by the workspace's
/// rule, the static binaries that need a cargo run of their own.
fn static_packages() -> Vec<String> {
    let root = util::root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let members = toml_string_list(&manifest, "members");
    let defaults = toml_string_list(&manifest, "default-members");
    let mut v: Vec<String> = members
        .iter()
        .filter(|m| !defaults.contains(m))
        .filter_map(|m| package_name(&std::fs::read_to_string(root.join(m).join("Cargo.toml")).ok()?))
        .collect();
    if v.is_empty() {
        v = vec!["keel-init".into(), "keel-bench-floor".into()];
    }
    v
}

/// The strings of `key = ["a", "b"]` (one line or several) in a TOML text.
fn toml_string_list(text: &str, key: &str) -> Vec<String> {
    let Some(start) = text.lines().position(|l| {
        let l = l.trim_start();
        l.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='))
    }) else {
        return Vec::new();
    };
    let mut body = String::new();
    for l in text.lines().skip(start) {
        let l = l.split('#').next().unwrap_or("");
        body.push_str(l);
        if l.contains(']') {
            break;
        }
    }
    let inner = body.split_once('[').map(|x| x.1).unwrap_or("");
    let inner = inner.split(']').next().unwrap_or("");
    inner
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `name = "…"` of a package manifest's [package] section.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for l in manifest.lines().map(str::trim) {
        if l.starts_with('[') {
            in_package = l == "[package]";
        } else if in_package {
            if let Some(v) = l
                .strip_prefix("name")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
            {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The fuzz targets: fuzz/fuzz_targets/*.rs.
fn fuzz_targets() -> Vec<String> {
    let dir = util::root().join("fuzz/fuzz_targets");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn fuzz(steps: &mut Vec<Step>, counts: &mut Counts) {
    let targets = fuzz_targets();
    if targets.is_empty() {
        steps.push(Step {
            name: "fuzz".into(),
            outcome: Outcome::Skipped,
            time: Duration::ZERO,
            detail: "no targets in fuzz/fuzz_targets/".into(),
        });
        return;
    }
    let mut built = false;
    step(steps, "fuzz: build", || {
        deps::ensure_cargo_fuzz()?;
        util::run(util::cargo().args(["fuzz", "build", "--sanitizer", "none"]))?;
        built = true;
        Ok((Outcome::Ok, format!("{} targets", targets.len())))
    });
    for t in &targets {
        if !built {
            steps.push(Step {
                name: format!("fuzz {t}"),
                outcome: Outcome::Failed,
                time: Duration::ZERO,
                detail: "not built".into(),
            });
            counts.failed += 1;
            continue;
        }
        step(steps, &format!("fuzz {t}"), || {
            // A scratch corpus first (libFuzzer writes new inputs there), then
            // the committed seeds and dictionary when the target has them.
            let fz = util::root().join("fuzz");
            let corpus = fz.join("corpus").join(t);
            std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
            let mut c = util::cargo();
            c.args(["fuzz", "run", t, "--sanitizer", "none"]).arg(&corpus);
            let seeds = fz.join("seeds").join(t);
            if seeds.is_dir() {
                c.arg(&seeds);
            }
            c.arg("--").arg(format!("-max_total_time={FUZZ_SECONDS}"));
            let dict = fz.join(format!("{t}.dict"));
            if dict.is_file() {
                c.arg(format!("-dict={}", dict.display()));
            }
            let r = util::run(&mut c);
            match r {
                Ok(()) => {
                    counts.passed += 1;
                    Ok((Outcome::Ok, format!("{FUZZ_SECONDS} s, no crash")))
                }
                Err(e) => {
                    counts.failed += 1;
                    Err(format!("{e} (the crashing input is in fuzz/artifacts/{t}/)"))
                }
            }
        });
    }
}

/// The VM test layer: keel as PID 1 under qemu (xtask/src/scenarios.rs).
fn vm_tests(o: &Options, counts: &mut Counts) -> (Outcome, String) {
    println!("\n== xtask test: vm tests ==");
    let opts = crate::scenarios::Options {
        filter: o.scenarios.clone(),
        install: o.install,
    };
    match crate::scenarios::run(&opts) {
        Ok(r) => {
            counts.passed += r.passed as u64;
            counts.failed += r.failed as u64;
            let d = format!("{} passed, {} failed in {}", r.passed, r.failed, util::fmt_dur(r.wall));
            (if r.failed == 0 { Outcome::Ok } else { Outcome::Failed }, d)
        }
        Err(e) => {
            counts.failed += 1;
            println!("xtask: vm tests: FAILED: {e}");
            (Outcome::Failed, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_static_packages() {
        let m = "[workspace]\nmembers = [\"rt\", \"init\",\n  \"bench\"] # all\ndefault-members = [\"rt\"]\n";
        assert_eq!(toml_string_list(m, "members"), ["rt", "init", "bench"]);
        assert_eq!(toml_string_list(m, "default-members"), ["rt"]);
        assert!(toml_string_list(m, "nope").is_empty());
        assert_eq!(
            package_name("[package]\nname = \"keel-init\"\n[dependencies]\nname = 1\n").as_deref(),
            Some("keel-init")
        );
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
        // This workspace: the static binaries, and nothing else.
        let v = static_packages();
        assert!(
            v.contains(&"keel-init".to_string()) && v.contains(&"keel-bench-floor".to_string()),
            "{v:?}"
        );
        assert!(!v.contains(&"keel-supervisor".to_string()));
    }

    #[test]
    fn parses_libtest_summaries() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0, 1))
        );
        assert_eq!(
            parse_test_result(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s"
            ),
            Some((3, 2, 0))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(parse_test_result("test foo ... ok"), None);
    }
}
