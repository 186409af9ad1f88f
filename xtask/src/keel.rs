//! `cargo xtask build`: the static keel binary, checked and measured.
//!
//! keel is built in a cargo run of its own (`-p keel-init`): a
//! workspace-wide build would unify rustix's features with the std crates'.
//! A build with features goes to its own target directory
//! (target/features-fault-inject/…), so the plain binary is never replaced
//! by a test-only one.

use crate::elf;
use crate::util::{self, Result};
use std::path::PathBuf;

pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub arch: &'static str,
}

/// The target directory for a feature set.
fn target_dir_for(features: &[String]) -> PathBuf {
    let base = util::target_dir();
    if features.is_empty() {
        base
    } else {
        let mut f = features.to_vec();
        f.sort();
        base.join(format!("features-{}", f.join("-")))
    }
}

/// Builds a static binary of `package` (bin `bin`) in release mode and
/// checks that it is static.
pub fn build_static(package: &str, bin: &str, features: &[String]) -> Result<Built> {
    let tdir = target_dir_for(features);
    let mut c = util::cargo();
    c.args(["build", "--release", "-p", package, "--target-dir"]).arg(&tdir);
    if !features.is_empty() {
        c.args(["--features", &features.join(",")]);
    }
    util::run(&mut c)?;
    let path = tdir.join("release").join(bin);
    drop_unwind_tables(&path)?;
    // keel-init builds two binaries: keel and keel-init (container-init
    // mode alone).
    if package == "keel-init" && bin == "keel" {
        drop_unwind_tables(&tdir.join("release").join("keel-init"))?;
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let info = elf::inspect(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if !info.is_static() {
        return Err(format!(
            "{} is not static: interp={} dynamic={} sections={:?}",
            path.display(),
            info.has_interp,
            info.has_dynamic,
            info.dynamic_sections
        ));
    }
    Ok(Built {
        path,
        size: bytes.len() as u64,
        arch: info.machine_name(),
    })
}

/// Removes .eh_frame and .eh_frame_hdr: the static binaries abort on panic
/// and never unwind or print backtraces, yet the precompiled core brings
/// its unwind tables (about 30 KiB of keel's file). Needs binutils'
/// objcopy (gcc's companion on Debian); without it the tables stay.
fn drop_unwind_tables(path: &std::path::Path) -> Result<()> {
    let Some(objcopy) = util::which("objcopy") else {
        println!(
            "xtask: objcopy not found (Debian package binutils): unwind tables kept in {}",
            path.display()
        );
        return Ok(());
    };
    let tmp = path.with_extension("stripping");
    util::run(
        std::process::Command::new(objcopy)
            .args(["-R", ".eh_frame", "-R", ".eh_frame_hdr"])
            .arg(path)
            .arg(&tmp),
    )?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename {} to {}: {e}", tmp.display(), path.display()))
}

/// Builds keel; prints what and where.
pub fn build_keel(features: &[String]) -> Result<Built> {
    let b = build_static("keel-init", "keel", features)?;
    println!(
        "xtask: keel: {} — {} static (no PT_INTERP, no dynamic section), {} ({} bytes){}",
        b.path.display(),
        b.arch,
        util::fmt_size(b.size),
        b.size,
        if features.is_empty() {
            String::new()
        } else {
            format!(", features: {}", features.join(","))
        }
    );
    Ok(b)
}

/// Builds upcall-agent (the broker, agent and handlers); prints what and where.
pub fn build_agent() -> Result<Built> {
    let b = build_static("keel-upcall-agent", "upcall-agent", &[])?;
    println!(
        "xtask: upcall-agent: {} — {} static, {} ({} bytes)",
        b.path.display(),
        b.arch,
        util::fmt_size(b.size),
        b.size
    );
    Ok(b)
}

/// keel for `run` and `bench`: $KEEL_BIN when set (said aloud), else a
/// fresh release build.
pub fn keel_from_env_or_build() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEEL_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(format!("KEEL_BIN={} is not a file", p.display()));
        }
        println!("xtask: using KEEL_BIN={} (unset it to build keel)", p.display());
        return Ok(p);
    }
    build_keel(&[]).map(|b| b.path)
}

/// Builds the benchmark floor program.
pub fn build_floor() -> Result<Built> {
    let b = build_static("keel-bench-floor", "keel-bench-floor", &[])?;
    println!(
        "xtask: floor: {} — static, {}",
        b.path.display(),
        util::fmt_size(b.size)
    );
    Ok(b)
}

/// Compile-checks keel for aarch64 when that target is installed.
pub fn check_aarch64() -> Result<String> {
    let Some(installed) = util::installed_targets() else {
        return Ok("skipped: rustup not found".into());
    };
    let Some(t) = ["aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl"]
        .into_iter()
        .find(|t| installed.iter().any(|i| i == t))
    else {
        return Ok("skipped: target not installed".into());
    };
    let tdir = util::target_dir();
    util::run(
        util::cargo()
            .args(["check", "-p", "keel-init", "--target", t, "--target-dir"])
            .arg(&tdir),
    )?;
    Ok(format!("ok ({t})"))
}

/// `cargo xtask build [--features F,…]`.
pub fn cmd_build(features: &[String]) -> Result<()> {
    build_keel(features)?;
    build_agent()?;
    let a = check_aarch64()?;
    println!("xtask: aarch64 compile check: {a}");
    Ok(())
}
