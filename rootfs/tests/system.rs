//! keel-rootfs against the reference tools of a Debian 12 machine: GNU cpio, ldd,
//! depmod, and Debian's current kernel package (fetched once, cached in the
//! workspace's target/kernel/, or $KEEL_KERNEL_CACHE).
//!
//! Needs the Debian packages cpio, keyutils, kmod, xz-utils (and gzip, libc-bin,
//! dpkg, apt, coreutils, which every Debian has). Device nodes, owners and the chroot
//! run are checked only as root (CI runs as root).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use keel_rootfs::modules::{module_name, parse_modules_dep};
use keel_rootfs::{cpio, kernel, Compression, Image, KernelTree, ModuleTree, Resolver};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("keel-rootfs-it-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn sh(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A host tree with the awkward cases: name lengths 1–8 (every padding), sizes 0–9,
/// setuid/setgid/sticky bits, symlinks (relative, absolute, dangling), a fifo.
fn sample_tree(dir: &Path) {
    fs::create_dir_all(dir.join("etc/sub")).unwrap();
    fs::create_dir_all(dir.join("srv/sticky")).unwrap();
    for i in 1..=8usize {
        let name = "abcdefgh"[..i].to_string();
        let p = dir.join("etc").join(&name);
        fs::write(&p, &b"0123456789"[..i + 1]).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600 + i as u32)).unwrap();
    }
    fs::write(dir.join("etc/empty"), b"").unwrap();
    fs::write(dir.join("etc/sub/suid"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(dir.join("etc/sub/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(dir.join("etc/sub/sgid"), vec![0xa5u8; 70_001]).unwrap();
    fs::set_permissions(dir.join("etc/sub/sgid"), fs::Permissions::from_mode(0o2711)).unwrap();
    fs::set_permissions(dir.join("srv/sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(dir.join("etc/sub"), fs::Permissions::from_mode(0o750)).unwrap();
    symlink("abc", dir.join("etc/rel-link")).unwrap();
    symlink("/etc/sub/suid", dir.join("etc/abs-link")).unwrap();
    symlink("does/not/exist", dir.join("etc/dangling")).unwrap();
    sh(Command::new("mkfifo").arg(dir.join("srv/fifo")));
}

fn sample_image(tree: &Path) -> Image {
    let mut img = Image::new();
    img.mtime(1_700_000_000);
    img.add_tree(tree, "/").unwrap();
    img.boot_skeleton()
        .dev_block("/dev/vda", 254, 0, 0o660)
        .dev_char("/dev/big", 511, 1_000_000, 0o600)
        .file_bytes("/etc/generated", "made in memory\n", 0o640)
        .symlink("/sbin/init", "/init")
        .file_bytes("/init", vec![0x7f; 5], 0o755)
        .dir("/home/user", 0o700)
        .owner("/home/user", 1000, 1000)
        .file_bytes("/home/user/f", "x", 0o644)
        .owner("/home/user/f", 1000, 100);
    img.check().unwrap();
    img
}

fn build(img: &Image, c: Compression) -> Vec<u8> {
    let mut v = Vec::new();
    img.write_to(&mut v, c).unwrap();
    v
}

/// `cpio -t` lists exactly the image's entries, and `cpio -idm` unpacks them with the
/// same types, modes, contents, link targets, device numbers, owners and mtimes.
#[test]
fn gnu_cpio_lists_and_unpacks_the_image() {
    let t = TempDir::new("cpio");
    let tree = t.path().join("tree");
    sample_tree(&tree);
    let img = sample_image(&tree);
    let archive = build(&img, Compression::None);
    let file = t.path().join("image.cpio");
    fs::write(&file, &archive).unwrap();

    let listed = sh(Command::new("cpio").args(["-t", "--quiet", "-F"]).arg(&file));
    let want: Vec<String> = img
        .entries()
        .map(|(p, _)| p.trim_start_matches('/').to_string())
        .collect();
    assert_eq!(listed.lines().collect::<Vec<_>>(), want);

    let out = t.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let root = is_root();
    let o = Command::new("cpio")
        .args(["-idm", "--quiet", "--no-absolute-filenames", "-F"])
        .arg(&file)
        .current_dir(&out)
        .output()
        .unwrap();
    // Not root: cpio cannot make the device nodes (checked only as root).
    assert!(
        o.status.success() || !root,
        "cpio -idm: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut checked = 0;
    for (path, node) in img.entries() {
        let p = out.join(path.trim_start_matches('/'));
        let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{path}: {e}"));
        let ft = md.file_type();
        use keel_rootfs::image::{Kind, Source};
        match &node.kind {
            Kind::Dir => assert!(ft.is_dir(), "{path}"),
            Kind::File(src) => {
                assert!(ft.is_file(), "{path}");
                let want = match src {
                    Source::Bytes(b) => b.to_vec(),
                    Source::Host(h) => fs::read(h).unwrap(),
                };
                assert_eq!(fs::read(&p).unwrap(), want, "{path}");
                assert_eq!(md.mtime(), 1_700_000_000, "{path}");
            }
            Kind::Symlink(target) => {
                assert!(ft.is_symlink(), "{path}");
                assert_eq!(
                    fs::read_link(&p).unwrap().as_os_str().as_encoded_bytes(),
                    &target[..],
                    "{path}"
                );
            }
            Kind::CharDev { major, minor } | Kind::BlockDev { major, minor } => {
                if !root {
                    continue;
                }
                assert!(
                    if matches!(node.kind, Kind::CharDev { .. }) {
                        ft.is_char_device()
                    } else {
                        ft.is_block_device()
                    },
                    "{path}"
                );
                let rdev = md.rdev();
                let (ma, mi) = (
                    ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff),
                    ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff),
                );
                assert_eq!((ma as u32, mi as u32), (*major, *minor), "{path}");
            }
            Kind::Fifo => assert!(ft.is_fifo(), "{path}"),
        }
        if !ft.is_symlink() {
            assert_eq!(md.mode() & 0o7777, node.mode, "{path}: mode");
        }
        if root {
            assert_eq!((md.uid(), md.gid()), (node.uid, node.gid), "{path}: owner");
        }
        checked += 1;
    }
    assert!(checked > 30, "only {checked} entries checked");

    // Compressed images decompress (with the reference gzip, and libzstd) to the very
    // same archive.
    let gz = build(&img, Compression::GZIP);
    let gz_file = t.path().join("image.cpio.gz");
    fs::write(&gz_file, &gz).unwrap();
    let o = Command::new("gzip").arg("-dc").arg(&gz_file).output().unwrap();
    assert!(o.status.success());
    assert_eq!(o.stdout, archive);
    let zst = build(&img, Compression::ZSTD);
    let mut plain = Vec::new();
    zstd::stream::read::Decoder::new(&zst[..])
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, archive);
}

/// Two builds from scratch, each from its own `Image`, give the same bytes.
#[test]
fn two_builds_are_byte_identical() {
    let t = TempDir::new("repro");
    let tree = t.path().join("tree");
    sample_tree(&tree);
    // (Levels low enough to be quick in a debug build: the code paths are the same.)
    for c in [
        Compression::None,
        Compression::Gzip { level: 6 },
        Compression::Zstd { level: 3 },
    ] {
        let mut a = sample_image(&tree);
        a.add_program("/usr/bin/keyctl").unwrap();
        let mut b = sample_image(&tree);
        b.add_program("/usr/bin/keyctl").unwrap();
        assert_eq!(build(&a, c), build(&b, c), "{c:?}");
    }
}

/// The libraries `ldd` lists for a program: (path as listed, canonical path), with
/// the interpreter; without the vDSO.
fn ldd(prog: &str) -> BTreeSet<(String, PathBuf)> {
    let out = sh(Command::new("ldd").arg(prog));
    let mut v = BTreeSet::new();
    for line in out.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim().split(" (").next().unwrap().trim().to_string(),
            None => line.split(" (").next().unwrap().trim().to_string(),
        };
        assert!(!line.contains("not found"), "ldd {prog}: {line}");
        if path.starts_with('/') {
            v.insert((path.clone(), fs::canonicalize(&path).unwrap()));
        }
    }
    v
}

fn ours(r: &Resolver, prog: &str) -> BTreeSet<(String, PathBuf)> {
    let c = r.closure(prog).unwrap();
    c.interpreter
        .iter()
        .chain(c.libraries.iter())
        .map(|o| {
            (
                o.path.to_string_lossy().into_owned(),
                fs::canonicalize(&o.path).unwrap(),
            )
        })
        .collect()
}

/// The closure of keyctl (package keyutils) is ldd's, path for path; and so for any
/// other common dynamically linked program this machine has.
#[test]
fn elf_closure_equals_ldd() {
    let r = Resolver::host().unwrap();
    let keyctl = ours(&r, "/usr/bin/keyctl");
    assert_eq!(keyctl, ldd("/usr/bin/keyctl"));
    assert!(keyctl.iter().any(|(p, _)| p.ends_with("/libkeyutils.so.1")));
    let c = r.closure("/usr/bin/keyctl").unwrap();
    assert_eq!(
        c.interpreter.as_ref().unwrap().path,
        Path::new("/lib64/ld-linux-x86-64.so.2")
    );

    let mut compared = 1;
    for p in [
        "/usr/bin/cpio",
        "/usr/sbin/depmod",
        "/usr/bin/ls",
        "/usr/bin/bash",
        "/usr/bin/python3",
        "/usr/bin/git",
        "/usr/bin/ssh",
        "/usr/bin/curl",
        "/usr/bin/qemu-system-x86_64",
        "/usr/sbin/dnsmasq",
        "/usr/bin/gpg",
        "/usr/bin/perl",
        "/usr/bin/xz",
        "/usr/bin/zstd",
        "/usr/sbin/key.dns_resolver",
        "/usr/sbin/request-key",
        "/usr/bin/crun",
    ] {
        let Ok(md) = fs::metadata(p) else { continue };
        if !md.is_file() {
            continue;
        }
        assert_eq!(ours(&r, p), ldd(p), "{p}");
        compared += 1;
    }
    eprintln!("compared {compared} programs with ldd");
}

/// keyctl copied into an image runs from it: unpacked with cpio, under chroot.
#[test]
fn program_image_runs_under_chroot() {
    if !is_root() {
        eprintln!("skipped: needs root for chroot");
        return;
    }
    let t = TempDir::new("chroot");
    let mut img = Image::new();
    img.dir("/lib/modules", 0o755); // a real /lib: the libraries go below it
    img.add_program("/usr/bin/keyctl").unwrap();
    let file = t.path().join("image.cpio");
    img.write_file(&file, Compression::None).unwrap();
    let out = t.path().join("root");
    fs::create_dir_all(&out).unwrap();
    sh(Command::new("cpio")
        .args(["-idm", "--quiet", "-F"])
        .arg(&file)
        .current_dir(&out));
    let o = Command::new("chroot")
        .arg(&out)
        .args(["/usr/bin/keyctl", "--version"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("keyctl"));

    // and with the host's merged-/usr links reproduced
    let mut img = Image::new();
    img.add_program("/usr/bin/keyctl").unwrap();
    if fs::symlink_metadata("/lib").unwrap().file_type().is_symlink() {
        assert!(matches!(
            img.get("/lib").unwrap().kind,
            keel_rootfs::image::Kind::Symlink(_)
        ));
    }
    img.write_file(&file, Compression::None).unwrap();
    let out = t.path().join("root2");
    fs::create_dir_all(&out).unwrap();
    sh(Command::new("cpio")
        .args(["-idm", "--quiet", "-F"])
        .arg(&file)
        .current_dir(&out));
    let o = Command::new("chroot")
        .arg(&out)
        .args(["/usr/bin/keyctl", "--version"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn kernel() -> &'static KernelTree {
    static K: OnceLock<KernelTree> = OnceLock::new();
    K.get_or_init(|| {
        let cache = std::env::var_os("KEEL_KERNEL_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kernel"));
        let t = std::time::Instant::now();
        let k = keel_rootfs::fetch_debian_kernel(&cache).unwrap_or_else(|e| panic!("fetching the kernel: {e}"));
        eprintln!("kernel {} ready in {:.1} s", k.package, t.elapsed().as_secs_f64());
        k
    })
}

fn depmod_deps() -> &'static BTreeMap<String, Vec<String>> {
    static D: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    D.get_or_init(|| {
        let k = kernel();
        let work = TempDir::new("depmod");
        let text = kernel::depmod(&k.modules_dir, work.path()).unwrap();
        parse_modules_dep(&text).into_iter().collect()
    })
}

fn check_set(names: &[&str]) {
    let k = kernel();
    let tree = ModuleTree::open(&k.modules_dir).unwrap();
    let set = tree.resolve(names).unwrap();
    let dep = depmod_deps();
    let mut loaded: BTreeSet<&str> = BTreeSet::new();
    for m in &set.modules {
        let want = dep
            .get(&m.path)
            .unwrap_or_else(|| panic!("{} not in depmod's modules.dep", m.path));
        // every dependency depmod names is loaded earlier
        for d in want {
            assert!(loaded.contains(d.as_str()), "{}: {d} is not loaded before it", m.name);
        }
        // and our closure is depmod's
        let ours: BTreeSet<&str> = set.all_depends(&m.name).iter().map(|d| d.path.as_str()).collect();
        let theirs: BTreeSet<&str> = want.iter().map(String::as_str).collect();
        assert_eq!(ours, theirs, "{}", m.name);
        loaded.insert(&m.path);
    }
    // the whole set is the asked-for modules plus depmod's dependencies of them
    let mut closure: BTreeSet<&str> = BTreeSet::new();
    for n in names {
        let p = tree.path_of(n).unwrap();
        closure.insert(p);
        closure.extend(dep[p].iter().map(String::as_str));
    }
    assert_eq!(loaded, closure);
    let order: Vec<&str> = set.order().collect();
    eprintln!("{names:?} -> {order:?}");
    // every asked-for module is in the set
    for n in names {
        assert!(order.contains(&module_name(&format!("{n}.ko")).unwrap().as_str()));
    }
}

#[test]
fn nfsv4_module_set_matches_depmod() {
    check_set(&[
        "netfs",
        "fscache",
        "sunrpc",
        "grace",
        "lockd",
        "dns_resolver",
        "nfs",
        "nfsv4",
    ]);
    check_set(&["nfsv4"]);
}

#[test]
fn knfsd_module_set_matches_depmod() {
    check_set(&["sunrpc", "auth_rpcgss", "nfs_acl", "grace", "lockd", "nfsd"]);
    check_set(&["nfsd"]);
}

/// Every module of the tree at once: the same dependency closures as depmod.
#[test]
fn whole_module_tree_matches_depmod() {
    let k = kernel();
    let tree = ModuleTree::open(&k.modules_dir).unwrap();
    let names: Vec<&str> = tree.names().collect();
    let set = tree.resolve(&names).unwrap();
    let dep = depmod_deps();
    assert_eq!(set.modules.len(), dep.len());
    let mut ours: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (m, deps) in parse_modules_dep(&set.modules_dep()) {
        ours.insert(m, deps);
    }
    let mut differ = Vec::new();
    for (m, deps) in dep {
        let a: BTreeSet<_> = deps.iter().collect();
        let b: BTreeSet<_> = ours[m].iter().collect();
        if a != b {
            differ.push(format!("{m}: depmod {a:?}, ours {b:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} modules differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// Modules in an image: the files at lib/modules/VERSION/…, a modules.dep and the
/// tree's modules.builtin.
#[test]
fn modules_in_an_image() {
    let k = kernel();
    let set = ModuleTree::open(&k.modules_dir).unwrap().resolve(&["nfsv4"]).unwrap();
    let mut img = Image::new();
    img.add_modules(&set).unwrap();
    let a = build(&img, Compression::None);
    let e = cpio::parse(&a).unwrap();
    let base = format!("lib/modules/{}", k.version);
    let names: BTreeSet<String> = e.iter().map(|e| e.name_str()).collect();
    for m in &set.modules {
        assert!(names.contains(&format!("{base}/{}", m.path)), "{}", m.path);
    }
    assert!(names.contains(&format!("{base}/modules.builtin")));
    let dep = e
        .iter()
        .find(|e| e.name_str() == format!("{base}/modules.dep"))
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&dep.data), set.modules_dep());
}

/// The extracted vmlinux is an ELF kernel with the PVH entry note (Xen, type 18)
/// qemu boots it through.
#[test]
fn vmlinux_has_a_pvh_entry() {
    let k = kernel();
    let data = fs::read(&k.vmlinux).unwrap();
    let e = keel_rootfs::elf::Elf::parse(&data).unwrap();
    assert_eq!(e.machine, keel_rootfs::elf::EM_X86_64);
    let notes = e.notes().unwrap();
    assert!(
        notes.iter().any(|n| n.name == b"Xen" && n.n_type == 18),
        "no XEN_ELFNOTE_PHYS32_ENTRY"
    );
}
