//! Debian's current kernel, fetched once and cached: the package `linux-image-amd64`
//! depends on (never a hard-coded version), unpacked with `dpkg -x`, and its
//! uncompressed ELF `vmlinux` extracted from `vmlinuz` (qemu boots it through its PVH
//! note, skipping the in-guest decompression).
//!
//! Cache layout, under the cache directory (the project uses `target/kernel/`):
//!
//! ```text
//! linux-image-6.1.0-NN-amd64/
//!     root/boot/vmlinuz-6.1.0-NN-amd64
//!     root/lib/modules/6.1.0-NN-amd64/…     (no modules.dep: the .deb has none)
//!     vmlinux
//! current        the package apt named last (reused until apt's lists change)
//! ```
//!
//! A fetch unpacks into a temporary directory and renames it into place, so an
//! interrupted fetch leaves nothing half-made and concurrent fetches do not collide.
//! Needs `apt-get`, `apt-cache`, `dpkg` and `xz` (xz-utils).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{Error, IoContext, Result};

/// The meta-package whose dependency names the current kernel.
pub const META_PACKAGE: &str = "linux-image-amd64";

/// A kernel unpacked in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelTree {
    /// e.g. `linux-image-6.1.0-57-amd64`
    pub package: String,
    /// e.g. `6.1.0-57-amd64`
    pub version: String,
    /// The unpacked package.
    pub root: PathBuf,
    pub vmlinuz: PathBuf,
    /// The uncompressed ELF kernel.
    pub vmlinux: PathBuf,
    /// `root/lib/modules/VERSION`.
    pub modules_dir: PathBuf,
}

fn run(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {shown}"), e))?;
    if !o.status.success() {
        return Err(Error::new(format!(
            "{shown} failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The kernel package `linux-image-amd64` currently depends on, from `apt-cache`.
pub fn debian_kernel_package() -> Result<String> {
    let out = run(Command::new("apt-cache").args(["depends", META_PACKAGE]))?;
    parse_depends(&out).ok_or_else(|| {
        Error::new(format!(
            "apt-cache depends {META_PACKAGE} names no linux-image-N package (run apt-get update?)"
        ))
    })
}

fn parse_depends(out: &str) -> Option<String> {
    out.lines().find_map(|l| {
        let p = l.trim().strip_prefix("Depends:")?.trim();
        let rest = p.strip_prefix("linux-image-")?;
        rest.starts_with(|c: char| c.is_ascii_digit())
            .then(|| p.split_whitespace().next().unwrap_or(p).to_string())
    })
}

fn tree_at(dir: &Path, package: &str) -> Result<KernelTree> {
    let version = package.strip_prefix("linux-image-").unwrap_or(package).to_string();
    let root = dir.join("root");
    let vmlinuz = root.join(format!("boot/vmlinuz-{version}"));
    let modules_dir = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| root.join(m).join(&version))
        .find(|p| p.is_dir())
        .ok_or_else(|| {
            Error::new(format!(
                "{}: no lib/modules/{version} in the unpacked package",
                root.display()
            ))
        })?;
    if !vmlinuz.is_file() {
        return Err(Error::new(format!(
            "{}: missing from the unpacked package",
            vmlinuz.display()
        )));
    }
    Ok(KernelTree {
        package: package.to_string(),
        version,
        root,
        vmlinuz,
        vmlinux: dir.join("vmlinux"),
        modules_dir,
    })
}

/// The current Debian kernel, from the cache or downloaded (`apt-get download`) and
/// unpacked into it. Progress goes to stderr. When apt cannot name the package (no
/// package lists, offline), the newest kernel already in the cache is used.
pub fn fetch_debian_kernel(cache_dir: impl AsRef<Path>) -> Result<KernelTree> {
    let cache_dir = cache_dir.as_ref();
    // apt-cache takes seconds; its answer only changes when the package lists do.
    let stamp = cache_dir.join("current");
    if let Some(p) = fresh_stamp(&stamp) {
        if let Ok(t) = tree_at(&cache_dir.join(&p), &p) {
            if t.vmlinux.is_file() {
                return Ok(t);
            }
        }
    }
    let package = match debian_kernel_package() {
        Ok(p) => {
            let _ = fs::create_dir_all(cache_dir);
            let _ = fs::write(&stamp, format!("{p}\n"));
            p
        }
        Err(e) => match newest_cached(cache_dir) {
            Some(p) => {
                eprintln!("keel-rootfs: {e}; using the cached {p}");
                p
            }
            None => return Err(e),
        },
    };
    fetch_package(cache_dir, &package)
}

/// The package named in the stamp file, if the stamp is newer than apt's package
/// lists.
fn fresh_stamp(stamp: &Path) -> Option<String> {
    let t = fs::metadata(stamp).ok()?.modified().ok()?;
    let lists = Path::new("/var/lib/apt/lists");
    let mut newest = fs::metadata(lists).ok()?.modified().ok()?;
    for e in fs::read_dir(lists).ok()?.flatten() {
        if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
            newest = newest.max(m);
        }
    }
    if t <= newest {
        return None;
    }
    let p = fs::read_to_string(stamp).ok()?.trim().to_string();
    p.starts_with("linux-image-").then_some(p)
}

fn newest_cached(cache_dir: &Path) -> Option<String> {
    let mut v: Vec<String> = fs::read_dir(cache_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("linux-image-") && cache_dir.join(n).join("vmlinux").is_file())
        .collect();
    v.sort_by(|a, b| version_cmp(a, b));
    v.pop()
}

/// Compares strings with digit runs compared as numbers (6.1.0-9 < 6.1.0-10).
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut v: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let d = c.is_ascii_digit();
            match v.last_mut() {
                Some((kd, t)) if *kd == d => t.push(c),
                _ => v.push((d, c.to_string())),
            }
        }
        v
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (xs, ys) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                xs.len().cmp(&ys.len()).then_with(|| xs.cmp(ys))
            }
            _ => x.1.cmp(&y.1),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// A given kernel package, from the cache or downloaded and unpacked into it.
pub fn fetch_package(cache_dir: &Path, package: &str) -> Result<KernelTree> {
    if package.is_empty() || package.contains(['/', ' ']) || package.starts_with('.') {
        return Err(Error::new(format!("{package:?} is not a package name")));
    }
    let dir = cache_dir.join(package);
    if dir.join("vmlinux").is_file() {
        return tree_at(&dir, package);
    }
    fs::create_dir_all(cache_dir).at("creating the kernel cache", cache_dir)?;
    let tmp = cache_dir.join(format!(".tmp-{package}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).at("creating", &tmp)?;
    let r = unpack_into(&tmp, package);
    match r {
        Ok(()) => {}
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    if let Err(e) = fs::rename(&tmp, &dir) {
        let _ = fs::remove_dir_all(&tmp);
        // Another fetch finished first: use its result.
        if !dir.join("vmlinux").is_file() {
            return Err(Error::at("moving the unpacked kernel to", &dir, e));
        }
    }
    tree_at(&dir, package)
}

fn unpack_into(tmp: &Path, package: &str) -> Result<()> {
    let t0 = Instant::now();
    eprintln!("keel-rootfs: downloading {package} (apt-get download) …");
    run(Command::new("apt-get")
        .args(["download", "-q", package])
        .current_dir(tmp))?;
    let deb = fs::read_dir(tmp)
        .at("reading", tmp)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| Error::new(format!("apt-get download {package} left no .deb in {}", tmp.display())))?;
    let t1 = Instant::now();
    let root = tmp.join("root");
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    fs::remove_file(&deb).at("removing", &deb)?;
    let t2 = Instant::now();
    let tree = tree_at(tmp, package)?;
    extract_vmlinux(&tree.vmlinuz, &tmp.join("vmlinux"))?;
    eprintln!(
        "keel-rootfs: {package}: download {:.1} s, unpack {:.1} s, vmlinux {:.1} s",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        t2.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Offset of the first xz stream in a compressed kernel image.
pub fn find_xz(image: &[u8]) -> Option<usize> {
    const MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
    image.windows(MAGIC.len()).position(|w| w == MAGIC)
}

/// Extracts the uncompressed ELF kernel from an xz-compressed `vmlinuz` (bzImage):
/// finds the xz stream and decompresses it with `xz --single-stream` (the kernel's xz
/// uses the x86 BCJ filter; the bytes after the stream are ignored). Checks that the
/// result is ELF.
pub fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<()> {
    let img = fs::read(vmlinuz).at("reading", vmlinuz)?;
    let off = find_xz(&img).ok_or_else(|| {
        Error::new(format!(
            "{}: no xz stream found (not an xz-compressed kernel?)",
            vmlinuz.display()
        ))
    })?;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("running xz (install xz-utils)", e))?;
    let mut stdin = child.stdin.take().ok_or_else(|| Error::new("xz: no stdin"))?;
    let data = img[off..].to_vec();
    let feeder = std::thread::spawn(move || {
        // xz stops reading after the stream: a broken pipe here is expected.
        let _ = stdin.write_all(&data);
    });
    let o = child.wait_with_output().map_err(|e| Error::io("running xz", e))?;
    let _ = feeder.join();
    if !o.status.success() {
        return Err(Error::new(format!(
            "xz -dc --single-stream on {} at offset {off}: {}",
            vmlinuz.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    if !o.stdout.starts_with(b"\x7fELF") {
        return Err(Error::new(format!(
            "{}: the xz stream at offset {off} is not an ELF kernel",
            vmlinuz.display()
        )));
    }
    let tmp = out.with_extension("tmp");
    fs::write(&tmp, &o.stdout).at("writing", &tmp)?;
    fs::rename(&tmp, out).at("renaming into place", out)?;
    Ok(())
}

/// Runs `depmod -b ROOT VERSION` on a copy of a module tree's layout in `work` (links to
/// the module directories; nothing is written to the tree itself) and returns the
/// text of the resulting modules.dep. Needs `depmod` (kmod).
pub fn depmod(modules_dir: &Path, work: &Path) -> Result<String> {
    let version = modules_dir
        .file_name()
        .ok_or_else(|| Error::new(format!("{}: no version in the path", modules_dir.display())))?;
    let dst = work.join("lib/modules").join(version);
    let _ = fs::remove_dir_all(work);
    fs::create_dir_all(&dst).at("creating", &dst)?;
    for e in fs::read_dir(modules_dir).at("reading", modules_dir)? {
        let e = e.at("reading", modules_dir)?;
        let ft = e.file_type().at("reading", &e.path())?;
        let name = e.file_name();
        if ft.is_dir() {
            std::os::unix::fs::symlink(e.path(), dst.join(&name)).at("linking", &dst.join(&name))?;
        } else if ft.is_file() && name.to_string_lossy().starts_with("modules.") {
            // modules.order and modules.builtin are input to depmod.
            let n = name.to_string_lossy();
            if n == "modules.order" || n.starts_with("modules.builtin") {
                fs::copy(e.path(), dst.join(&name)).at("copying", &e.path())?;
            }
        }
    }
    run(Command::new("depmod").arg("-b").arg(work).arg(version))?;
    let dep = dst.join("modules.dep");
    fs::read_to_string(&dep).at("reading", &dep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_cache_output() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n  Depends: other\n";
        assert_eq!(parse_depends(out).as_deref(), Some("linux-image-6.1.0-57-amd64"));
        assert_eq!(
            parse_depends("linux-image-amd64\n  Depends: linux-image-amd64-signed\n"),
            None
        );
        assert_eq!(parse_depends(""), None);
    }

    #[test]
    fn versions() {
        use std::cmp::Ordering::*;
        assert_eq!(
            version_cmp("linux-image-6.1.0-9-amd64", "linux-image-6.1.0-10-amd64"),
            Less
        );
        assert_eq!(
            version_cmp("linux-image-6.1.0-57-amd64", "linux-image-6.1.0-57-amd64"),
            Equal
        );
        assert_eq!(
            version_cmp("linux-image-6.10.0-1-amd64", "linux-image-6.9.0-1-amd64"),
            Greater
        );
    }

    #[test]
    fn xz_magic() {
        assert_eq!(find_xz(b"MZ....\xfd7zXZ\x00rest"), Some(6));
        assert_eq!(find_xz(b"nothing"), None);
        assert!(fetch_package(Path::new("/nonexistent"), "../x").is_err());
    }
}
