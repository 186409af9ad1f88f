//! What the tests and benchmarks need from the system, and installing it on
//! Debian: as root, missing packages are installed with apt-get (saying so);
//! elsewhere the exact command to run is printed.

use crate::util::{self, Result};
use std::process::{Command, Stdio};

/// Debian packages, with why each is needed.
pub const PACKAGES: &[(&str, &str)] = &[
    ("busybox-static", "the static busybox that container roots are made of"),
    ("crun", "benchmark peer (OCI runtime)"),
    ("tini", "benchmark peer (tini, tini-static)"),
    ("catatonit", "benchmark peer"),
    ("dumb-init", "benchmark peer"),
    ("keyutils", "keyctl and request-key: upcall tests"),
    ("dnsmasq-base", "a real DNS server in a network namespace"),
    ("cpio", "checks the initramfs images"),
    ("kmod", "modinfo/depmod: the module order tests"),
    ("iproute2", "ip: network namespaces"),
    ("qemu-system-x86", "the VM tests"),
    ("util-linux", "unshare: a fresh pid namespace"),
    ("xz-utils", "unpacks the VM kernel (vmlinuz is xz-compressed)"),
    (
        "gcc",
        "builds the small static test helpers (seccomp, mount namespace probe)",
    ),
    ("libc6-dev", "static libc for those helpers"),
    ("binutils", "objcopy: drops unwind tables from keel's binary"),
];

/// Is the Debian package installed?
fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", pkg])
        .stderr(Stdio::null())
        .output()
        .map(|o| o.status.success() && o.stdout.starts_with(b"ii"))
        .unwrap_or(false)
}

/// Installs what is missing (as root on Debian), or says what to install.
/// `allow_install = false` only reports.
pub fn ensure(allow_install: bool) -> Result<String> {
    if util::which("dpkg-query").is_none() {
        let names: Vec<&str> = PACKAGES.iter().map(|p| p.0).collect();
        println!("xtask: not a Debian system (no dpkg-query): make sure the equivalents of these Debian packages are installed: {}", names.join(" "));
        return Ok("not Debian: not checked".into());
    }
    let missing: Vec<&(&str, &str)> = PACKAGES.iter().filter(|p| !installed(p.0)).collect();
    if missing.is_empty() {
        return Ok("all present".into());
    }
    println!("xtask: missing Debian packages:");
    for (p, why) in &missing {
        println!("  {p:16} {why}");
    }
    let names: Vec<&str> = missing.iter().map(|p| p.0).collect();
    if !allow_install || !util::is_root() {
        let cmd = format!("sudo apt-get install -y --no-install-recommends {}", names.join(" "));
        return Err(format!("install them first: {cmd}"));
    }
    println!("xtask: installing them with apt-get (running as root)");
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        c
    };
    util::run(apt(&["update", "-q"]).arg("-o").arg("Acquire::Retries=3"))?;
    util::run(apt(&["install", "-y", "-q", "--no-install-recommends"]).args(&names))?;
    Ok(format!("installed {}", names.join(" ")))
}

/// cargo-fuzz, installed with `cargo install --locked` when missing.
pub fn ensure_cargo_fuzz() -> Result<()> {
    let have = util::cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if matches!(have, Ok(s) if s.success()) {
        return Ok(());
    }
    println!("xtask: cargo-fuzz is missing: cargo install cargo-fuzz --locked (takes a few minutes)");
    util::run(util::cargo().args(["install", "cargo-fuzz", "--locked"]))
}
