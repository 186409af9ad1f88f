//! The kernel's module upcall, answered by keel (`modprobe keel` in
//! keel.conf). Boot mode points /proc/sys/kernel/modprobe at the symlink
//! /run/keel/modprobe → keel's own binary; invoked under the name
//! `modprobe`, keel runs this mode.
//!
//! The kernel runs it as `modprobe -q -- NAME` in the initial namespaces,
//! as root, without fds 0–2, and waits for it. NAME is a module name or an
//! alias (`fs-nfs4`, `key-type-dns_resolver`); an alias is looked up in
//! modules.alias (exact names only, no wildcards). keel loads NAME with its
//! dependencies only if `modprobe_allow` names it (the alias or the
//! module), and refuses anything else with exit status 1: the kernel never
//! runs an arbitrary program for a module request.

use super::conf::{self, Modprobe};
use super::modules::{self, Plan};
use keel_rt::{error, info};

/// The NAME of `[-q] [-b] [-s] [--] NAME` (what the kernel passes), or why
/// not. argv without the program name.
pub fn parse_args<'a>(args: impl Iterator<Item = &'a [u8]>) -> Result<&'a [u8], &'static str> {
    let mut name = None;
    let mut opts = true;
    for a in args {
        if opts && a == b"--" {
            opts = false;
            continue;
        }
        if opts && a.first() == Some(&b'-') {
            match a {
                b"-q" | b"--quiet" | b"-b" | b"--use-blacklist" | b"-s" | b"--syslog" => continue,
                _ => return Err("only `modprobe [-q] [--] NAME` is supported"),
            }
        }
        if name.is_some() {
            return Err("one module name only (no parameters)");
        }
        name = Some(a);
    }
    let n = name.ok_or("a module name is needed")?;
    if n.is_empty() || n.len() > 200 || n.iter().any(|&c| c <= b' ' || c == b'/' || c == 0x7f) {
        return Err("not a module name");
    }
    Ok(n)
}

/// The configuration directory of the running boot, found as PID 1 found
/// it (the upcall's own environment is the kernel's): `keel.config` in
/// PID 1's environment, else on the kernel command line, else the default.
fn config_dir(buf: &mut [u8; 4096]) -> &[u8] {
    let n = keel_rt::fs::read_into(c"/proc/1/environ", buf).unwrap_or(0);
    let env = buf.get(..n).unwrap_or(&[]);
    let from_env = env
        .split(|&c| c == 0)
        .find_map(|kv| keel_rt::args::env_value(kv, b"keel.config"));
    super::cmdline::load();
    from_env
        .or_else(|| super::cmdline::param(b"keel.config"))
        .filter(|d| !d.is_empty())
        .unwrap_or(super::DEFAULT_CONFIG_DIR)
}

/// Mode::Modprobe. Exit status 0: loaded (or already there); 1: refused
/// or failed; 2: usage.
#[inline(never)]
pub fn run() -> i32 {
    // No fds 0–2 under the kernel: log to kmsg.
    let k = super::early::open_write(c"/dev/kmsg");
    if k >= 0 {
        keel_rt::log::to_kmsg(k, -1);
    }
    let name = match parse_args(keel_rt::args::iter().skip(1)) {
        Ok(n) => n,
        Err(msg) => {
            error!("keel: modprobe: ", msg);
            return 2;
        }
    };
    let mut envbuf = [0u8; 4096];
    let dir = config_dir(&mut envbuf);
    let mut buf = crate::spec::SpecBuf::new();
    let conf = match super::read_conf(dir, &mut buf) {
        Some(Ok(c)) => c,
        _ => {
            error!("keel: modprobe ", name, ": refused (no usable keel.conf in ", dir, ")");
            return 1;
        }
    };
    if conf.modprobe != Modprobe::Keel {
        error!("keel: modprobe ", name, ": refused (modprobe is off in keel.conf)");
        return 1;
    }
    let mut rel = super::Release::new();
    let moddir = rel.moddir();
    // Module or alias?
    let mut plan = Plan::new();
    if modules::plan(moddir, core::iter::once(name), &mut plan).is_err() || plan.unknown() > 0 {
        let mut target: heapless::Vec<u8, 64> = heapless::Vec::new();
        let mut p = keel_rt::path::PathBuf::from(moddir);
        p.join(b"modules.alias");
        let mut lb = [0u8; 1024];
        if let Ok(c) = p.as_cstr() {
            let _ = super::lines::for_each_line_of(c, &mut lb, |l| match modules::alias_target(l, name) {
                Some(t) => {
                    target = heapless::Vec::from_slice(t.get(..64.min(t.len())).unwrap_or(&[])).unwrap_or_default();
                    true
                }
                None => false,
            });
        }
        if !target.is_empty() {
            plan = Plan::new();
            let _ = modules::plan(moddir, core::iter::once(&target[..]), &mut plan);
            if !(conf.allows(name) || conf.allows(&target)) {
                error!(
                    "keel: modprobe ",
                    name,
                    " (module ",
                    &target[..],
                    "): refused: not in modprobe_allow"
                );
                return 1;
            }
        }
    }
    let module = plan.mods.first().map(|m| m.name.clone()).unwrap_or_default();
    if !(conf.allows(name) || conf.allows(&module)) {
        error!("keel: modprobe ", name, ": refused: not in modprobe_allow");
        return 1;
    }
    let out = modules::load(moddir, &plan, |m, out| {
        conf.module(m).is_none_or(|l| conf::join_params(&l.params, out))
    });
    if out.ok_mask & modules::bit(0) != 0 {
        info!(
            "keel: modprobe ",
            name, ": loaded (", out.loaded, " loaded, ", out.already, " already there)"
        );
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<String, &'static str> {
        parse_args(a.iter().map(|s| s.as_bytes())).map(|n| String::from_utf8(n.to_vec()).unwrap())
    }

    #[test]
    fn kernel_arguments() {
        assert_eq!(p(&["-q", "--", "fs-nfs4"]).unwrap(), "fs-nfs4");
        assert_eq!(p(&["-q", "--", "-weird"]).unwrap(), "-weird");
        assert_eq!(p(&["dns_resolver"]).unwrap(), "dns_resolver");
        assert_eq!(p(&["-q", "-b", "crypto-sha256"]).unwrap(), "crypto-sha256");
        assert_eq!(p(&["-r", "x"]), Err("only `modprobe [-q] [--] NAME` is supported"));
        assert_eq!(p(&["-q", "--"]), Err("a module name is needed"));
        assert_eq!(p(&["a", "b=1"]), Err("one module name only (no parameters)"));
        assert_eq!(p(&["../x"]), Err("not a module name"));
        assert_eq!(p(&[""]), Err("not a module name"));
    }
}
