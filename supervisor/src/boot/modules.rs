//! Kernel modules: which files to load, in which order, from
//! `/lib/modules/$(uname -r)/modules.dep` and `modules.builtin` — the pure
//! part ([`Plan`]) — and the `finit_module(2)` calls ([`load`]).
//!
//! modules.dep (depmod's output) has one line per module file:
//! `kernel/fs/nfs/nfsv4.ko: kernel/fs/nfs/nfs.ko kernel/net/sunrpc/sunrpc.ko …`,
//! the path relative to the module directory, then every module it needs
//! (directly or not). A module's name is its file name without `.ko`
//! (`.ko.xz`, `.ko.zst`, `.ko.gz`), `-` read as `_`. modules.builtin lists
//! the modules built into the kernel: they need no file and count as loaded.
//!
//! The files are streamed (a full Debian modules.dep is about 500 KB), a
//! line at a time, in passes: the first finds the wanted modules' lines and
//! adds the modules they need, the next finds those modules' own lines, and
//! so on until nothing new turns up (two passes for a consistent file).
//! The order does not trust the file's own order of dependencies: a module
//! is loaded only after every module its line names.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use heapless::Vec;

/// Most modules in one plan, dependencies included (a u64 bit set).
pub const MAX_MODS: usize = 64;
/// Longest module name kept (MODULE_NAME_LEN - 1).
pub const NAME_MAX: usize = 55;
/// Longest module path kept (relative to the module directory).
pub const PATH_MAX: usize = 200;

pub type ModName = Vec<u8, NAME_MAX>;
pub type ModPath = Vec<u8, PATH_MAX>;

/// File name suffixes of modules, the plain one first.
pub const SUFFIXES: [&[u8]; 4] = [b".ko", b".ko.xz", b".ko.zst", b".ko.gz"];

/// The module name of a path in modules.dep or modules.builtin:
/// `kernel/net/dns_resolver/dns_resolver.ko` → `dns_resolver`; `-` → `_`.
pub fn name_of_path(path: &[u8]) -> Option<ModName> {
    let base = path.rsplit(|&c| c == b'/').next()?;
    let stem = SUFFIXES.iter().find_map(|s| base.strip_suffix(*s))?;
    normalize(stem)
}

/// A module name in the kernel's spelling (`-` → `_`), if it fits.
pub fn normalize(name: &[u8]) -> Option<ModName> {
    if name.is_empty() {
        return None;
    }
    let mut n = ModName::new();
    for &c in name {
        n.push(if c == b'-' { b'_' } else { c }).ok()?;
    }
    Some(n)
}

/// Whether the file at `path` is compressed (needs the kernel's in-kernel
/// decompression: `MODULE_INIT_COMPRESSED_FILE`, Linux 6.4+).
pub fn compressed(path: &[u8]) -> bool {
    SUFFIXES.iter().skip(1).any(|s| path.ends_with(s))
}

/// Where a module was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Not (yet) in modules.dep nor modules.builtin.
    Unknown,
    /// A file: `path` is set.
    File,
    /// Built into the kernel.
    Builtin,
}

#[derive(Clone, Debug)]
pub struct Mod {
    pub name: ModName,
    pub path: ModPath,
    pub found: Found,
    /// The modules its modules.dep line names (bits are plan indices).
    pub deps: u64,
    /// Asked for by name (not only needed by another module).
    pub wanted: bool,
}

/// Why a plan is incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// More than MAX_MODS modules with dependencies.
    TooMany,
    /// A name or path too long, or a malformed name.
    BadName,
}

/// The modules to load and what each needs.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub mods: Vec<Mod, MAX_MODS>,
    /// Set when a module could not be added (the plan is then incomplete;
    /// the modules that needed it are reported as failed).
    pub error: Option<PlanError>,
    /// Lines of modules.dep too long for the reader's buffer.
    pub skipped_lines: u32,
}

pub fn bit(i: usize) -> u64 {
    if i < 64 {
        1u64 << i
    } else {
        0
    }
}

impl Plan {
    pub const fn new() -> Self {
        Plan {
            mods: Vec::new(),
            error: None,
            skipped_lines: 0,
        }
    }

    pub fn index_of(&self, name: &[u8]) -> Option<usize> {
        self.mods.iter().position(|m| m.name.as_slice() == name)
    }

    fn add(&mut self, name: ModName, wanted: bool) -> Option<usize> {
        if let Some(i) = self.index_of(&name) {
            if let Some(m) = self.mods.get_mut(i) {
                m.wanted |= wanted;
            }
            return Some(i);
        }
        let m = Mod {
            name,
            path: ModPath::new(),
            found: Found::Unknown,
            deps: 0,
            wanted,
        };
        match self.mods.push(m) {
            Ok(()) => Some(self.mods.len() - 1),
            Err(_) => {
                self.error = Some(PlanError::TooMany);
                None
            }
        }
    }

    /// Asks for module `name` (any spelling: `-` and `_` are the same).
    pub fn want(&mut self, name: &[u8]) -> Option<usize> {
        match normalize(name) {
            Some(n) => self.add(n, true),
            None => {
                self.error = Some(PlanError::BadName);
                None
            }
        }
    }

    /// Modules not found yet.
    pub fn unknown(&self) -> usize {
        self.mods.iter().filter(|m| m.found == Found::Unknown).count()
    }

    /// Takes one line of modules.dep. Returns true if it was the line of a
    /// module of the plan still unknown (which may add new modules).
    #[inline(never)]
    pub fn feed_dep_line(&mut self, line: &[u8]) -> bool {
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return false;
        };
        let (path, rest) = line.split_at(colon);
        let Some(name) = name_of_path(path) else { return false };
        let Some(i) = self.index_of(&name) else { return false };
        if self.mods.get(i).is_some_and(|m| m.found != Found::Unknown) {
            return false;
        }
        let Ok(p) = ModPath::from_slice(path) else {
            self.error = Some(PlanError::BadName);
            return false;
        };
        let mut deps = 0u64;
        for dep in rest.get(1..).unwrap_or(&[]).split(|&c| c == b' ' || c == b'\t') {
            if dep.is_empty() {
                continue;
            }
            let Some(dn) = name_of_path(dep) else {
                self.error = Some(PlanError::BadName);
                continue;
            };
            if dn == name {
                continue;
            }
            if let Some(j) = self.add(dn, false) {
                deps |= bit(j);
            }
        }
        if let Some(m) = self.mods.get_mut(i) {
            m.path = p;
            m.found = Found::File;
            m.deps = deps;
        }
        true
    }

    /// Takes one line of modules.builtin (`kernel/…/name.ko`).
    pub fn feed_builtin_line(&mut self, line: &[u8]) {
        let Some(name) = name_of_path(line.trim_ascii()) else {
            return;
        };
        if let Some(i) = self.index_of(&name) {
            if let Some(m) = self.mods.get_mut(i) {
                if m.found == Found::Unknown {
                    m.found = Found::Builtin;
                }
            }
        }
    }

    /// The load order: each module after every module it needs, otherwise
    /// in the order they were added. Modules on a dependency cycle are left
    /// out and returned as a bit set.
    #[inline(never)]
    pub fn order(&self) -> (Vec<u8, MAX_MODS>, u64) {
        let mut out: Vec<u8, MAX_MODS> = Vec::new();
        let mut done = 0u64;
        let all: u64 = (0..self.mods.len()).fold(0, |s, i| s | bit(i));
        loop {
            let mut progress = false;
            for (i, m) in self.mods.iter().enumerate() {
                if done & bit(i) != 0 || m.deps & !done & all != 0 {
                    continue;
                }
                // i < MAX_MODS ≤ 255: the push cannot fail or truncate.
                let _ = out.push(i as u8);
                done |= bit(i);
                progress = true;
            }
            if !progress {
                break;
            }
        }
        (out, all & !done)
    }
}

/// Looks `name` up in a modules.alias line (`alias fs-nfs4 nfsv4`): the
/// module it names, if the alias matches exactly (`-` and `_` the same).
/// Wildcard aliases (`pci:v*d*`) are not matched.
pub fn alias_target<'l>(line: &'l [u8], name: &[u8]) -> Option<&'l [u8]> {
    let mut w = line.split(|&c| c == b' ' || c == b'\t').filter(|w| !w.is_empty());
    if w.next()? != b"alias" {
        return None;
    }
    let alias = w.next()?;
    let module = w.next()?;
    crate::boot::conf::same_module(alias, name).then_some(module)
}

// ------------------------------------------------------------------ loading

/// `MODULE_INIT_COMPRESSED_FILE` (include/uapi/linux/module.h, Linux 6.4).
pub const MODULE_INIT_COMPRESSED_FILE: i32 = 4;

/// What became of the modules of one plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub loaded: u32,
    pub already: u32,
    pub builtin: u32,
    pub failed: u32,
    /// The wanted modules that are loaded (or built in) afterwards, as bits.
    pub ok_mask: u64,
    /// The modules that failed or were skipped, as bits.
    pub bad_mask: u64,
}

/// Builds the plan for `names` from the module directory `moddir`
/// (`/lib/modules/RELEASE`), streaming modules.dep and modules.builtin.
#[inline(never)]
pub fn plan<'n>(
    moddir: &[u8],
    names: impl Iterator<Item = &'n [u8]>,
    plan: &mut Plan,
) -> Result<(), rustix::io::Errno> {
    use super::lines::for_each_line;
    for n in names {
        plan.want(n);
    }
    let mut dep = keel_rt::path::PathBuf::from(moddir);
    dep.join(b"modules.dep");
    let mut buf = [0u8; 8192];
    for _ in 0..8 {
        let before = plan.mods.len();
        let mut filled = false;
        if plan.unknown() == 0 {
            break;
        }
        let fd = keel_rt::fs::open_read(rustix::fs::CWD, dep.as_cstr()?)?;
        let skipped = for_each_line(&fd, &mut buf, |l| {
            filled |= plan.feed_dep_line(l);
            false
        })?;
        plan.skipped_lines = skipped;
        if !filled || plan.mods.len() == before {
            break;
        }
    }
    if plan.unknown() > 0 {
        let mut b = keel_rt::path::PathBuf::from(moddir);
        b.join(b"modules.builtin");
        if let Ok(c) = b.as_cstr() {
            if let Ok(fd) = keel_rt::fs::open_read(rustix::fs::CWD, c) {
                let _ = for_each_line(&fd, &mut buf, |l| {
                    plan.feed_builtin_line(l);
                    false
                });
            }
        }
    }
    Ok(())
}

/// Loads the plan's modules in order. `params(name)` gives a wanted
/// module's parameter string. Every failure is logged with its reason and
/// the modules that need a failed one are skipped, naming it; nothing
/// stops the boot.
#[inline(never)]
pub fn load(
    moddir: &[u8],
    plan: &Plan,
    mut params: impl FnMut(&[u8], &mut keel_rt::path::CBuf<1024>) -> bool,
) -> Outcome {
    use keel_rt::{debug, error};
    use rustix::io::Errno;
    let mut out = Outcome::default();
    let (order, cycle) = plan.order();
    let mut bad = 0u64;
    for (i, m) in plan.mods.iter().enumerate() {
        if cycle & bit(i) != 0 {
            error!(
                "keel: module ",
                &m.name[..],
                ": dependency cycle in ",
                moddir,
                "/modules.dep"
            );
            bad |= bit(i);
            out.failed += 1;
        }
    }
    for &i in order.iter() {
        let i = usize::from(i);
        let Some(m) = plan.mods.get(i) else { continue };
        let name = &m.name[..];
        match m.found {
            Found::Builtin => {
                out.builtin += 1;
                debug!("keel: module ", name, ": built into the kernel");
                continue;
            }
            Found::Unknown => {
                let why = match plan.error {
                    Some(PlanError::TooMany) => " (the plan is full: more than 64 modules with dependencies)",
                    _ => "",
                };
                error!(
                    "keel: module ",
                    name, ": not found in ", moddir, "/modules.dep or modules.builtin", why
                );
                bad |= bit(i);
                out.failed += 1;
                continue;
            }
            Found::File => {}
        }
        let blocked = m.deps & bad;
        if blocked != 0 {
            let first = (0..plan.mods.len()).find(|&j| blocked & bit(j) != 0);
            let dep = first.and_then(|j| plan.mods.get(j)).map_or(&b"?"[..], |d| &d.name[..]);
            error!("keel: module ", name, ": not loaded: it needs ", dep, ", which failed");
            bad |= bit(i);
            out.failed += 1;
            continue;
        }
        let mut path = keel_rt::path::PathBuf::new();
        if m.path.first() != Some(&b'/') {
            path.push(moddir).push(b"/");
        }
        path.push(&m.path);
        let mut p = keel_rt::path::CBuf::<1024>::new();
        if m.wanted && !params(name, &mut p) {
            error!("keel: module ", name, ": parameters longer than 1023 bytes");
            bad |= bit(i);
            out.failed += 1;
            continue;
        }
        let flags = if compressed(&m.path) {
            MODULE_INIT_COMPRESSED_FILE
        } else {
            0
        };
        let r = path
            .as_cstr()
            .and_then(|c| keel_rt::fs::open_read(rustix::fs::CWD, c))
            .and_then(|fd| {
                let pc = p.as_cstr()?;
                loop {
                    match rustix::system::finit_module(&fd, pc, flags) {
                        Err(Errno::INTR) => continue,
                        r => return r,
                    }
                }
            });
        match r {
            Ok(()) => {
                out.loaded += 1;
                debug!("keel: module ", name, ": loaded");
            }
            Err(Errno::EXIST) => {
                out.already += 1;
                debug!("keel: module ", name, ": already loaded");
            }
            Err(e) => {
                bad |= bit(i);
                out.failed += 1;
                let hint = match e {
                    Errno::INVAL | Errno::OPNOTSUPP if flags != 0 => {
                        " (a compressed module: this kernel cannot decompress modules itself — that needs Linux 6.4+ \
                         with CONFIG_MODULE_DECOMPRESS — and keel has no decompressor: ship it uncompressed)"
                    }
                    Errno::NOENT => " (file missing, or a symbol it needs is not loaded)",
                    Errno::NOEXEC => " (not a module for this kernel: wrong format or version)",
                    Errno::KEYREJECTED | Errno::NOKEY => " (signature rejected)",
                    Errno::PERM => " (module loading is disabled or keel lacks CAP_SYS_MODULE)",
                    _ => "",
                };
                error!("keel: module ", name, ": finit_module ", path.as_bytes(), ": ", e, hint);
            }
        }
    }
    for (i, m) in plan.mods.iter().enumerate() {
        if m.wanted && bad & bit(i) == 0 && order.iter().any(|&j| usize::from(j) == i) {
            out.ok_mask |= bit(i);
        }
    }
    out.bad_mask = bad;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_from(dep: &str, builtin: &str, want: &[&str]) -> Plan {
        let mut p = Plan::new();
        for w in want {
            p.want(w.as_bytes());
        }
        for _ in 0..8 {
            let mut filled = false;
            for l in dep.lines() {
                filled |= p.feed_dep_line(l.as_bytes());
            }
            if !filled {
                break;
            }
        }
        for l in builtin.lines() {
            p.feed_builtin_line(l.as_bytes());
        }
        p
    }

    fn names(p: &Plan, order: &[u8]) -> std::vec::Vec<String> {
        order
            .iter()
            .map(|&i| String::from_utf8(p.mods[usize::from(i)].name.to_vec()).unwrap())
            .collect()
    }

    /// Every module comes after every module its line names.
    fn valid_order(p: &Plan, order: &[u8]) -> bool {
        let pos = |i: usize| order.iter().position(|&j| usize::from(j) == i);
        p.mods.iter().enumerate().all(|(i, m)| {
            (0..p.mods.len())
                .filter(|&j| m.deps & bit(j) != 0)
                .all(|j| pos(j).unwrap() < pos(i).unwrap())
        })
    }

    const DEP: &str = "\
kernel/fs/netfs/netfs.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/net/sunrpc/sunrpc.ko:
kernel/fs/nfs_common/grace.ko:
kernel/fs/lockd/lockd.ko: kernel/net/sunrpc/sunrpc.ko kernel/fs/nfs_common/grace.ko
kernel/net/dns_resolver/dns_resolver.ko:
kernel/fs/nfs/nfs.ko: kernel/fs/lockd/lockd.ko kernel/fs/nfs_common/grace.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko kernel/net/sunrpc/sunrpc.ko
kernel/fs/nfs/nfsv4.ko: kernel/fs/nfs/nfs.ko kernel/fs/lockd/lockd.ko kernel/fs/nfs_common/grace.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko kernel/net/sunrpc/sunrpc.ko kernel/net/dns_resolver/dns_resolver.ko
kernel/drivers/virtio/virtio-pci.ko.xz: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/a/cyc1.ko: kernel/a/cyc2.ko
kernel/a/cyc2.ko: kernel/a/cyc1.ko
";

    #[test]
    fn names_of_paths() {
        assert_eq!(
            &name_of_path(b"kernel/net/dns_resolver/dns_resolver.ko").unwrap()[..],
            b"dns_resolver"
        );
        assert_eq!(
            &name_of_path(b"kernel/drivers/virtio/virtio-pci.ko.xz").unwrap()[..],
            b"virtio_pci"
        );
        assert_eq!(&name_of_path(b"x.ko.zst").unwrap()[..], b"x");
        assert_eq!(&name_of_path(b"/abs/y.ko.gz").unwrap()[..], b"y");
        assert_eq!(name_of_path(b"kernel/x.o"), None);
        assert_eq!(name_of_path(b"kernel/.ko"), None);
        assert!(compressed(b"a.ko.xz") && compressed(b"a.ko.zst") && !compressed(b"a.ko"));
    }

    #[test]
    fn nfsv4_set_in_dependency_order() {
        let p = plan_from(DEP, "", &["nfsv4"]);
        assert_eq!(p.unknown(), 0);
        let (order, cycle) = p.order();
        assert_eq!(cycle, 0);
        let n = names(&p, &order);
        assert_eq!(n.len(), 8);
        assert!(valid_order(&p, &order));
        assert_eq!(n.last().unwrap(), "nfsv4");
        let mut sorted = n.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "dns_resolver",
                "fscache",
                "grace",
                "lockd",
                "netfs",
                "nfs",
                "nfsv4",
                "sunrpc"
            ]
        );
        assert!(p.mods[0].wanted && p.mods.iter().skip(1).all(|m| !m.wanted));
    }

    #[test]
    fn dependencies_are_not_trusted_to_be_in_order() {
        // The file lists nfs's needs in an order that is no load order.
        let p = plan_from(DEP, "", &["nfs", "lockd"]);
        let (order, _) = p.order();
        assert!(valid_order(&p, &order));
        let n = names(&p, &order);
        assert!(n.iter().position(|x| x == "lockd") < n.iter().position(|x| x == "nfs"));
    }

    #[test]
    fn builtin_unknown_compressed_and_cycles() {
        let p = plan_from(
            DEP,
            "kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c_generic.ko\n",
            &["ext4", "nope", "virtio-pci", "cyc1"],
        );
        let by = |n: &str| &p.mods[p.index_of(n.as_bytes()).unwrap()];
        assert_eq!(by("ext4").found, Found::Builtin);
        assert_eq!(by("nope").found, Found::Unknown);
        assert_eq!(by("virtio_pci").found, Found::File);
        assert!(compressed(&by("virtio_pci").path));
        let (order, cycle) = p.order();
        let n = names(&p, &order);
        assert!(n.iter().position(|x| x == "virtio") < n.iter().position(|x| x == "virtio_pci"));
        let c1 = p.index_of(b"cyc1").unwrap();
        let c2 = p.index_of(b"cyc2").unwrap();
        assert_eq!(cycle, bit(c1) | bit(c2));
        assert!(!n.contains(&"cyc1".to_string()));
    }

    #[test]
    fn full_plan_is_an_error_not_a_panic() {
        let mut dep = String::new();
        for i in 0..100 {
            // depmod lists every module needed, not only the direct ones.
            dep.push_str(&format!("kernel/m{i}.ko:"));
            for j in (0..i).rev() {
                dep.push_str(&format!(" kernel/m{j}.ko"));
            }
            dep.push('\n');
        }
        let p = plan_from(&dep, "", &["m99"]);
        assert_eq!(p.error, Some(PlanError::TooMany));
        assert_eq!(p.mods.len(), MAX_MODS);
        let (order, _) = p.order();
        assert!(order.len() <= MAX_MODS);
    }

    #[test]
    fn malformed_lines_are_ignored() {
        let mut p = Plan::new();
        p.want(b"a");
        assert!(!p.feed_dep_line(b"no colon here"));
        assert!(!p.feed_dep_line(b""));
        assert!(!p.feed_dep_line(b":"));
        assert!(!p.feed_dep_line(b"kernel/b.ko: kernel/a.ko"));
        assert!(p.feed_dep_line(b"kernel/a.ko:  kernel/c.ko\tjunk kernel/a.ko"));
        assert_eq!(p.error, Some(PlanError::BadName));
        assert_eq!(p.mods.len(), 2);
        p.feed_builtin_line(b"");
        p.feed_builtin_line(b"   ");
        assert!(p.want(b"").is_none());
    }

    #[test]
    fn aliases() {
        assert_eq!(alias_target(b"alias fs-nfs4 nfsv4", b"fs-nfs4"), Some(&b"nfsv4"[..]));
        assert_eq!(
            alias_target(b"alias key_type_dns_resolver dns_resolver", b"key-type-dns_resolver"),
            Some(&b"dns_resolver"[..])
        );
        assert_eq!(alias_target(b"alias fs-nfs nfs", b"fs-nfs4"), None);
        assert_eq!(alias_target(b"# comment", b"x"), None);
        assert_eq!(alias_target(b"alias x", b"x"), None);
    }

    /// Against a real Debian module tree and depmod's own modules.dep, when
    /// both are on this machine (`keel-rootfs fetch-kernel` puts the tree
    /// under target/kernel/): for every module, the plan's closure is the
    /// module plus everything depmod lists for it, and the order is valid.
    #[test]
    fn agrees_with_depmod_on_a_real_tree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/kernel");
        let Ok(cur) = std::fs::read_to_string(root.join("current")) else {
            eprintln!("no kernel tree under target/kernel: skipped");
            return;
        };
        let base = root.join(cur.trim()).join("root/lib/modules");
        let Some(ver) = std::fs::read_dir(&base)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
        else {
            eprintln!("no module tree: skipped");
            return;
        };
        let moddir = ver.path();
        let work = std::env::temp_dir().join(format!("keel-depmod-{}", std::process::id()));
        let dst = work.join("lib/modules").join(ver.file_name());
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&moddir).unwrap() {
            let e = e.unwrap();
            let n = e.file_name();
            let s = n.to_string_lossy();
            if e.file_type().unwrap().is_dir() {
                std::os::unix::fs::symlink(e.path(), dst.join(&n)).unwrap();
            } else if s == "modules.order" || s.starts_with("modules.builtin") {
                std::fs::copy(e.path(), dst.join(&n)).unwrap();
            }
        }
        let st = std::process::Command::new("depmod")
            .arg("-b")
            .arg(&work)
            .arg(ver.file_name())
            .status();
        if !st.map(|s| s.success()).unwrap_or(false) {
            eprintln!("depmod not available: skipped");
            let _ = std::fs::remove_dir_all(&work);
            return;
        }
        let dep = std::fs::read_to_string(dst.join("modules.dep")).unwrap();
        let builtin = std::fs::read_to_string(dst.join("modules.builtin")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&work);
        let table: std::collections::HashMap<String, std::collections::BTreeSet<String>> = dep
            .lines()
            .map(|l| {
                let (m, d) = l.split_once(':').unwrap();
                let n = |p: &str| String::from_utf8(name_of_path(p.as_bytes()).unwrap().to_vec()).unwrap();
                (n(m), d.split_whitespace().map(n).collect())
            })
            .collect();
        assert!(table.len() > 1000, "a real tree has thousands of modules");
        // Feeding a plan only the lines of its unknown modules is what
        // feeding it the whole file does (it ignores every other line),
        // and lets every module of the tree be checked in seconds.
        let line_of: std::collections::HashMap<String, &str> = dep
            .lines()
            .map(|l| {
                (
                    String::from_utf8(name_of_path(l.split(':').next().unwrap().as_bytes()).unwrap().to_vec()).unwrap(),
                    l,
                )
            })
            .collect();
        let plan_fast = |want: &str| {
            let mut p = Plan::new();
            p.want(want.as_bytes());
            loop {
                let unknown: std::vec::Vec<String> = p
                    .mods
                    .iter()
                    .filter(|m| m.found == Found::Unknown)
                    .map(|m| String::from_utf8(m.name.to_vec()).unwrap())
                    .collect();
                let mut filled = false;
                for u in &unknown {
                    if let Some(l) = line_of.get(u) {
                        filled |= p.feed_dep_line(l.as_bytes());
                    }
                }
                if !filled {
                    break;
                }
            }
            for l in builtin.lines() {
                p.feed_builtin_line(l.as_bytes());
            }
            p
        };
        let mut checked = 0;
        for (name, deps) in &table {
            if deps.len() + 1 > MAX_MODS {
                continue;
            }
            let p = plan_fast(name);
            assert_eq!(p.unknown(), 0, "{name}");
            assert_eq!(p.error, None, "{name}");
            let (order, cycle) = p.order();
            assert_eq!(cycle, 0, "{name}");
            assert!(valid_order(&p, &order), "{name}");
            let got: std::collections::BTreeSet<String> = names(&p, &order).into_iter().collect();
            let mut want = deps.clone();
            want.insert(name.clone());
            assert_eq!(got, want, "{name}");
            assert_eq!(names(&p, &order).last().unwrap(), name);
            checked += 1;
        }
        assert!(checked > 1000, "{checked}");
        // The NFSv4 set of the VM (shared/vm/README.md).
        let p = plan_from(&dep, &builtin, &["nfsv4"]);
        let (order, _) = p.order();
        let mut n = names(&p, &order);
        n.sort();
        assert_eq!(
            n,
            [
                "dns_resolver",
                "fscache",
                "grace",
                "lockd",
                "netfs",
                "nfs",
                "nfsv4",
                "sunrpc"
            ]
        );
    }
}
