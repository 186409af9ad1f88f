//! Initramfs images for the VMs, built with keel_rootfs.
//!
//! Every image has the same base ([`Base`]):
//!
//! ```text
//! /init                       keel (the static binary)
//! /srv/box/                   a busybox root for containers whose root lives
//!                             in the initramfs (bin/, etc/, proc/, dev/, tmp/…)
//! /bin, /sbin                 → srv/box/bin: static busybox and a link per
//!                             applet, once (keel copies the whole image into
//!                             a tmpfs at boot: under emulation every
//!                             megabyte costs)
//! /lib/modules/VERSION/…      the asked-for modules with their dependencies
//!                             and a modules.dep written for them
//! /etc/passwd, /etc/group     root only
//! /dev/console, /dev/null     (keel_rootfs' boot skeleton)
//! ```
//!
//! and a scenario adds [`Contents`]: `/etc/keel/keel.conf`, the container
//! specs in `/etc/keel/containers/NAME`, and any other files (scripts). The
//! archive is written uncompressed: under TCG decompression in the guest
//! costs more than reading a few more megabytes.

use crate::util::{self, Result};
use keel_rootfs::{Compression, Image, ModuleSet};
use std::path::{Path, PathBuf};

/// Where keel looks for its global configuration and its containers.
pub const CONF: &str = "/etc/keel/keel.conf";
pub const CONTAINERS: &str = "/etc/keel/containers";
/// The busybox root inside the initramfs.
pub const BOX: &str = "/srv/box";

/// The NFSv4 client and its key type (shared/vm/README.md).
pub const NFS4_MODULES: &[&str] = &[
    "netfs",
    "fscache",
    "sunrpc",
    "grace",
    "lockd",
    "dns_resolver",
    "nfs",
    "nfsv4",
];

/// The parts every image is made of.
#[derive(Clone)]
pub struct Base {
    image: Image,
    /// The kernel tree and the module set the base was made with: a
    /// scenario's [`Contents::modules`] are added to that set.
    kernel: Option<keel_rootfs::KernelTree>,
    modules: Vec<String>,
}

/// busybox's applets (from `busybox --list`).
pub fn applets(busybox: &Path) -> Result<Vec<String>> {
    let o = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("{}: {e}", busybox.display()))?;
    if !o.status.success() {
        return Err(format!("{} --list failed", busybox.display()));
    }
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('/') && *n != "busybox")
        .map(str::to_string)
        .collect())
}

fn err(e: keel_rootfs::Error) -> String {
    e.to_string()
}

/// Adds busybox at `dir`/bin with its applet links.
fn add_busybox(img: &mut Image, dir: &str, busybox: &Path, applets: &[String]) -> Result<()> {
    img.file_host(format!("{dir}/bin/busybox"), busybox, Some(0o755))
        .map_err(err)?;
    for a in applets {
        img.symlink(format!("{dir}/bin/{a}"), "busybox");
    }
    img.symlink(format!("{dir}/sbin"), "bin");
    Ok(())
}

impl Base {
    /// keel as /init, busybox, the busybox root at /srv/box, and `modules`
    /// (with their dependencies) from the kernel tree.
    pub fn new(keel: &Path, kernel: Option<&keel_rootfs::KernelTree>, modules: &[&str]) -> Result<Base> {
        let bb = crate::tree::busybox()?;
        let apps = applets(&bb)?;
        let mut img = Image::new();
        img.boot_skeleton();
        img.file_host("/init", keel, Some(0o755)).map_err(err)?;
        img.symlink("/bin", "srv/box/bin").symlink("/sbin", "srv/box/bin");
        img.file_bytes("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644)
            .file_bytes("/etc/group", "root:x:0:\n", 0o644)
            .dir(CONTAINERS, 0o755)
            .dir("/mnt", 0o755)
            .dir("/var", 0o755);
        // The container root in the initramfs.
        add_busybox(&mut img, BOX, &bb, &apps)?;
        for d in ["proc", "sys", "dev", "tmp", "etc", "run", "root", "mnt", "t"] {
            img.dir(format!("{BOX}/{d}"), if d == "tmp" { 0o1777 } else { 0o755 });
        }
        img.file_bytes(format!("{BOX}/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0o644)
            .file_bytes(format!("{BOX}/etc/group"), "root:x:0:\n", 0o644)
            .file_bytes(
                format!("{BOX}/etc/box-marker"),
                "this root lives in the initramfs\n",
                0o644,
            );
        if !modules.is_empty() {
            let k = kernel.ok_or("modules asked for, but no kernel tree")?;
            img.add_modules(&module_set(k, modules)?).map_err(err)?;
        }
        Ok(Base {
            image: img,
            kernel: kernel.cloned(),
            modules: modules.iter().map(|m| m.to_string()).collect(),
        })
    }

    /// Replaces /init (a busybox script for the harness' own test).
    pub fn with_init_script(mut self, script: &str) -> Base {
        self.image.file_bytes("/init", script, 0o755);
        self
    }

    /// The base plus `c`, written to `out` (uncompressed). Returns the size.
    pub fn write(&self, c: &Contents, out: &Path) -> Result<u64> {
        let mut img = self.image.clone();
        if !c.modules.is_empty() {
            // The base's set and the scenario's, with one modules.dep for both.
            let k = self
                .kernel
                .as_ref()
                .ok_or("the scenario adds modules, but its base has no kernel tree (BaseKind::KeelModules)")?;
            let all: Vec<&str> = self.modules.iter().chain(&c.modules).map(String::as_str).collect();
            img.add_modules(&module_set(k, &all)?).map_err(err)?;
        }
        c.add_to(&mut img);
        if let Some(d) = out.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        img.write_file(out, Compression::None)
            .map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
    }
}

/// The modules with their dependencies, from the kernel's tree.
pub fn module_set(k: &keel_rootfs::KernelTree, modules: &[&str]) -> Result<ModuleSet> {
    let tree = keel_rootfs::ModuleTree::open(&k.modules_dir).map_err(err)?;
    tree.resolve(modules).map_err(err)
}

/// What a scenario adds to the base.
#[derive(Clone, Debug, Default)]
pub struct Contents {
    /// /etc/keel/keel.conf.
    pub conf: String,
    /// (name, spec) → /etc/keel/containers/NAME.
    pub containers: Vec<(String, String)>,
    /// (absolute path, contents, mode).
    pub files: Vec<(String, Vec<u8>, u32)>,
    /// Kernel modules added to the base's set, with their dependencies (a
    /// base with a kernel tree: BaseKind::KeelModules).
    pub modules: Vec<String>,
}

impl Contents {
    pub fn container(&mut self, name: &str, spec: &str) -> &mut Self {
        self.containers.retain(|(n, _)| n != name);
        self.containers.push((name.to_string(), spec.to_string()));
        self
    }

    pub fn file(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> &mut Self {
        self.files.retain(|f| f.0 != path);
        self.files.push((path.to_string(), data.into(), mode));
        self
    }

    fn add_to(&self, img: &mut Image) {
        img.file_bytes(CONF, self.conf.as_bytes(), 0o644);
        for (n, s) in &self.containers {
            img.file_bytes(format!("{CONTAINERS}/{n}"), s.as_bytes(), 0o644);
        }
        for (p, d, m) in &self.files {
            img.file_bytes(p, d.clone(), *m);
        }
    }
}

/// A small static C program compiled once into target/vm/bin/ (the test
/// helpers in xtask/scenarios/*.c). Needs a C compiler with a static libc
/// (Debian: gcc and libc6-dev, which building Rust already needs).
pub fn helper(name: &str) -> Result<PathBuf> {
    let src = util::root().join("xtask/scenarios").join(format!("{name}.c"));
    let out_dir = util::target_dir().join("vm/bin");
    let out = out_dir.join(name);
    let stale = match (
        std::fs::metadata(&src).and_then(|m| m.modified()),
        std::fs::metadata(&out).and_then(|m| m.modified()),
    ) {
        (Ok(s), Ok(o)) => s > o,
        (Err(e), _) => return Err(format!("{}: {e}", src.display())),
        _ => true,
    };
    if stale {
        std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        util::run(
            std::process::Command::new(&cc)
                .args(["-static", "-Os", "-s", "-o"])
                .arg(&out)
                .arg(&src),
        )
        .map_err(|e| format!("{e}\n  (the VM tests compile a small static helper: install gcc and libc6-dev)"))?;
    }
    Ok(out)
}
