//! A busybox root file system for the demo and the benchmarks.

use crate::elf;
use crate::util::Result;
use std::path::{Path, PathBuf};

/// The static busybox (Debian's busybox-static).
pub fn busybox() -> Result<PathBuf> {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        let p = PathBuf::from(p);
        if let Ok(b) = std::fs::read(&p) {
            if elf::inspect(&b).map(|i| i.is_static()).unwrap_or(false) {
                return Ok(p);
            }
            return Err(format!("{} is not static: install busybox-static", p.display()));
        }
    }
    Err("no busybox: install busybox-static".into())
}

/// Makes `dir` a root: bin/busybox with a symlink per applet, and the
/// directories a container needs as mount points.
pub fn busybox_rootfs(dir: &Path) -> Result<()> {
    let bb = busybox()?;
    let bin = dir.join("bin");
    let io = |e: std::io::Error, what: &Path| format!("{}: {e}", what.display());
    std::fs::create_dir_all(&bin).map_err(|e| io(e, &bin))?;
    for d in ["proc", "sys", "dev", "tmp", "etc", "run", "root"] {
        let p = dir.join(d);
        std::fs::create_dir_all(&p).map_err(|e| io(e, &p))?;
    }
    let target = bin.join("busybox");
    if !target.exists() {
        std::fs::copy(&bb, &target).map_err(|e| io(e, &target))?;
    }
    let list = std::process::Command::new(&bb)
        .arg("--list")
        .output()
        .map_err(|e| io(e, &bb))?;
    for name in String::from_utf8_lossy(&list.stdout).lines() {
        let name = name.trim();
        if name.is_empty() || name.contains('/') || name == "busybox" {
            continue;
        }
        let l = bin.join(name);
        if std::fs::symlink_metadata(&l).is_err() {
            std::os::unix::fs::symlink("busybox", &l).map_err(|e| io(e, &l))?;
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").map_err(|e| io(e, dir))?;
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").map_err(|e| io(e, dir))?;
    Ok(())
}
