//! Kernel modules with their dependencies, from a module tree (`lib/modules/VERSION`)
//! that need not have been through depmod: dependencies come from each module's
//! `.modinfo` `depends=` field, which modpost fills from the same symbol information
//! depmod uses.
//!
//! Names are compared with `-` and `_` taken as equal (the kernel's rule); a module is
//! found by file name (`.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`), preferring one under
//! `updates/` as depmod does. `modules.builtin` names modules built into the kernel:
//! they need no file and count as loaded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::elf::{self, Elf};
use crate::error::{Error, IoContext, Result};

/// The kernel's spelling of a module name: `-` becomes `_`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

const SUFFIXES: [&str; 4] = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// The module name of a file name, if it is a module.
pub fn module_name(file_name: &str) -> Option<String> {
    SUFFIXES
        .iter()
        .find_map(|s| file_name.strip_suffix(s))
        .filter(|n| !n.is_empty())
        .map(normalize)
}

/// A module tree: `…/lib/modules/VERSION`.
#[derive(Clone, Debug)]
pub struct ModuleTree {
    dir: PathBuf,
    version: String,
    /// name → path relative to `dir`
    files: BTreeMap<String, String>,
    builtin: BTreeSet<String>,
}

/// What a module's `.modinfo` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// `name=` (or the file's name).
    pub name: String,
    /// `depends=`, normalized.
    pub depends: Vec<String>,
    /// `softdep=` lines, as written.
    pub softdeps: Vec<String>,
    pub aliases: Vec<String>,
    pub vermagic: Option<String>,
}

/// One module to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Path relative to the tree, e.g. `kernel/fs/nfs/nfs.ko`.
    pub path: String,
    /// Direct dependencies (modules with files; built-in ones left out).
    pub depends: Vec<String>,
}

/// Modules with every dependency, in a load order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSet {
    pub version: String,
    /// The tree the files come from.
    pub dir: PathBuf,
    /// Dependencies before the modules that need them.
    pub modules: Vec<Module>,
    /// Asked-for modules that are built into the kernel.
    pub builtin: Vec<String>,
}

impl ModuleTree {
    /// Indexes the module files below `dir` and reads `modules.builtin`. The directory's
    /// name is the kernel version.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir: PathBuf = dir.into();
        let version = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::new(format!(
                    "{}: a module tree is named after its kernel version",
                    dir.display()
                ))
            })?;
        let md = fs::metadata(&dir).at("reading the module tree", &dir)?;
        if !md.is_dir() {
            return Err(Error::new(format!("{} is not a directory", dir.display())));
        }
        let mut files = BTreeMap::new();
        scan(&dir, "", &mut files)?;
        let mut builtin = BTreeSet::new();
        let bpath = dir.join("modules.builtin");
        match fs::read_to_string(&bpath) {
            Ok(t) => {
                for line in t.lines() {
                    if let Some(n) = line.rsplit('/').next().and_then(module_name) {
                        builtin.insert(n);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::at("reading", &bpath, e)),
        }
        Ok(ModuleTree {
            dir,
            version,
            files,
            builtin,
        })
    }

    /// The tree's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kernel version (the directory's name).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every module name with a file, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The file of a module, relative to the tree.
    pub fn path_of(&self, name: &str) -> Option<&str> {
        self.files.get(&normalize(name)).map(String::as_str)
    }

    /// Is the module built into the kernel (listed in modules.builtin)?
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    /// The `.modinfo` of a module.
    pub fn modinfo(&self, name: &str) -> Result<ModInfo> {
        let n = normalize(name);
        let rel = self
            .files
            .get(&n)
            .ok_or_else(|| Error::new(format!("module {n} not found in {}", self.dir.display())))?;
        let path = self.dir.join(rel);
        let sec = read_modinfo(&path)?
            .ok_or_else(|| Error::new(format!("{}: no .modinfo section: not a kernel module", path.display())))?;
        let mut info = ModInfo {
            name: n,
            ..ModInfo::default()
        };
        for (k, v) in elf::modinfo(&sec) {
            match k.as_str() {
                "name" => info.name = normalize(&v),
                "depends" => info.depends = v.split(',').filter(|s| !s.is_empty()).map(normalize).collect(),
                "softdep" => info.softdeps.push(v),
                "alias" => info.aliases.push(v),
                "vermagic" => info.vermagic = Some(v),
                _ => {}
            }
        }
        Ok(info)
    }

    /// The modules with all their dependencies, dependencies first. The order is
    /// deterministic: depth-first, in the order asked and the order of `depends=`.
    pub fn resolve<S: AsRef<str>>(&self, names: &[S]) -> Result<ModuleSet> {
        let mut st = Walk {
            state: HashMap::new(),
            stack: Vec::new(),
            out: Vec::new(),
            builtin: Vec::new(),
        };
        for n in names {
            self.visit(&normalize(n.as_ref()), None, &mut st)?;
        }
        Ok(ModuleSet {
            version: self.version.clone(),
            dir: self.dir.clone(),
            modules: st.out,
            builtin: st.builtin,
        })
    }

    fn visit(&self, name: &str, needed_by: Option<&str>, st: &mut Walk) -> Result<()> {
        match st.state.get(name) {
            Some(true) => return Ok(()),
            Some(false) => {
                let from = st.stack.iter().position(|s| s == name).unwrap_or(0);
                let mut cycle = st.stack[from..].to_vec();
                cycle.push(name.to_string());
                return Err(Error::new(format!("module dependency cycle: {}", cycle.join(" -> "))));
            }
            None => {}
        }
        let Some(path) = self.files.get(name) else {
            if self.builtin.contains(name) {
                st.state.insert(name.to_string(), true);
                if needed_by.is_none() {
                    st.builtin.push(name.to_string());
                }
                return Ok(());
            }
            let who = needed_by.map(|w| format!(" (needed by {w})")).unwrap_or_default();
            return Err(Error::new(format!(
                "module {name}{who} not found in {} and not built into the kernel",
                self.dir.display()
            )));
        };
        let info = self.modinfo(name)?;
        st.state.insert(name.to_string(), false);
        st.stack.push(name.to_string());
        for d in &info.depends {
            self.visit(d, Some(name), st)?;
        }
        st.stack.pop();
        st.state.insert(name.to_string(), true);
        let depends = info
            .depends
            .iter()
            .filter(|d| self.files.contains_key(*d))
            .cloned()
            .collect();
        st.out.push(Module {
            name: name.to_string(),
            path: path.clone(),
            depends,
        });
        Ok(())
    }
}

struct Walk {
    /// false: being visited; true: done
    state: HashMap<String, bool>,
    stack: Vec<String>,
    out: Vec<Module>,
    builtin: Vec<String>,
}

fn scan(dir: &Path, rel: &str, files: &mut BTreeMap<String, String>) -> Result<()> {
    let here = if rel.is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(rel)
    };
    let mut ents: Vec<_> = fs::read_dir(&here)
        .at("reading the directory", &here)?
        .collect::<std::io::Result<_>>()
        .at("reading the directory", &here)?;
    ents.sort_by_key(|e| e.file_name());
    for e in ents {
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type().at("reading", &e.path())?;
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // "build" and "source" are links to kernel headers: not followed.
        if ft.is_dir() {
            scan(dir, &r, files)?;
        } else if ft.is_file() {
            if let Some(n) = module_name(&name) {
                match files.get(&n) {
                    // depmod's default search order puts updates/ first.
                    Some(old) if old.starts_with("updates/") || !r.starts_with("updates/") => {}
                    _ => {
                        files.insert(n, r);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The `.modinfo` section of a module file. An uncompressed module is read in pieces
/// (headers and the section only); a compressed one is decompressed first.
pub fn read_modinfo(path: &Path) -> Result<Option<Vec<u8>>> {
    let ctx = |e: elf::ReadError| match e {
        elf::ReadError::Io(e) => Error::at("reading", path, e),
        elf::ReadError::Elf(e) => Error::new(format!("{}: {e}", path.display())),
    };
    if path.extension().is_some_and(|x| x == "ko") {
        use std::os::unix::fs::FileExt;
        let f = fs::File::open(path).at("opening", path)?;
        let len = f.metadata().at("reading", path)?.len();
        let mut read_at = |off: u64, n: usize| {
            let mut b = vec![0u8; n];
            f.read_exact_at(&mut b, off)?;
            Ok(b)
        };
        return elf::read_section(len, &mut read_at, ".modinfo").map_err(ctx);
    }
    let data = read_module(path)?;
    let e = Elf::parse(&data).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    Ok(e.section(".modinfo")
        .map_err(|e| Error::new(format!("{}: {e}", path.display())))?
        .map(<[u8]>::to_vec))
}

/// A module file's ELF bytes, decompressed according to its name.
pub fn read_module(path: &Path) -> Result<Vec<u8>> {
    let name = path.to_string_lossy();
    let raw = fs::read(path).at("reading", path)?;
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .at("decompressing (gzip)", path)?;
    } else if name.ends_with(".zst") {
        out = zstd::stream::decode_all(&raw[..]).at("decompressing (zstd)", path)?;
    } else if name.ends_with(".xz") {
        let o = Command::new("xz").args(["-dc", "--"]).arg(path).output().map_err(|e| {
            Error::io(
                format!("running xz to decompress {} (install xz-utils)", path.display()),
                e,
            )
        })?;
        if !o.status.success() {
            return Err(Error::new(format!(
                "xz -dc {}: {}",
                path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        out = o.stdout;
    } else {
        out = raw;
    }
    Ok(out)
}

impl ModuleSet {
    /// Module names in load order.
    pub fn order(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|m| m.name.as_str())
    }

    /// Every module a module needs, directly or not, in modules.dep's order: the
    /// reverse of a load order (a loader that walks the list from its end loads each
    /// dependency after its own dependencies).
    pub fn all_depends(&self, name: &str) -> Vec<&Module> {
        self.all_depends_in(&self.index(), name)
    }

    fn index(&self) -> HashMap<&str, usize> {
        self.modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect()
    }

    fn all_depends_in(&self, pos: &HashMap<&str, usize>, name: &str) -> Vec<&Module> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = vec![];
        if let Some(&i) = pos.get(normalize(name).as_str()) {
            todo.extend(self.modules[i].depends.iter().map(String::as_str));
        }
        while let Some(d) = todo.pop() {
            if let Some(&i) = pos.get(d) {
                if seen.insert(i) {
                    todo.extend(self.modules[i].depends.iter().map(String::as_str));
                }
            }
        }
        seen.into_iter().rev().map(|i| &self.modules[i]).collect()
    }

    /// A modules.dep for these modules, in depmod's format: one line per module in
    /// load order, `path: dep dep …` with every dependency, direct or not.
    pub fn modules_dep(&self) -> String {
        let pos = self.index();
        let mut s = String::new();
        for m in &self.modules {
            s.push_str(&m.path);
            s.push(':');
            for d in self.all_depends_in(&pos, &m.name) {
                s.push(' ');
                s.push_str(&d.path);
            }
            s.push('\n');
        }
        s
    }
}

/// Parses a modules.dep: module path → its dependencies' paths, in file order.
pub fn parse_modules_dep(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (m, deps) = l.split_once(':')?;
            Some((
                m.trim().to_string(),
                deps.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// A fake module: an ELF64 relocatable file whose only section is .modinfo.
    fn fake_module(name: &str, depends: &str) -> Vec<u8> {
        let mi = format!("license=GPL\0depends={depends}\0name={name}\0vermagic=6.1.0 SMP\0");
        let names = b"\0.shstrtab\0.modinfo\0";
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&1u16.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        let names_off = f.len();
        f.extend_from_slice(names);
        let mi_off = f.len();
        f.extend_from_slice(mi.as_bytes());
        while f.len() & 7 != 0 {
            f.push(0);
        }
        let shoff = f.len();
        f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&3u16.to_le_bytes());
        f[62..64].copy_from_slice(&1u16.to_le_bytes());
        let mut sh = |name: u32, off: usize, size: usize| {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&1u32.to_le_bytes());
            h[24..32].copy_from_slice(&(off as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            f.extend(h);
        };
        sh(0, 0, 0);
        sh(1, names_off, names.len());
        sh(11, mi_off, mi.len());
        f
    }

    fn tree(t: &TempDir) -> PathBuf {
        let d = t.path().join("lib/modules/6.1.0-test");
        let put = |rel: &str, name: &str, deps: &str| {
            let p = d.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            let data = fake_module(name, deps);
            if rel.ends_with(".gz") {
                use std::io::Write;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&data).unwrap();
                fs::write(p, e.finish().unwrap()).unwrap();
            } else if rel.ends_with(".zst") {
                fs::write(p, zstd::stream::encode_all(&data[..], 3).unwrap()).unwrap();
            } else if rel.ends_with(".xz") {
                // as the kernel build compresses modules
                use std::io::Write;
                let mut c = Command::new("xz")
                    .args(["--check=crc32", "--lzma2=dict=1MiB", "-c"])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                c.stdin.take().unwrap().write_all(&data).unwrap();
                let o = c.wait_with_output().unwrap();
                assert!(o.status.success());
                fs::write(p, o.stdout).unwrap();
            } else {
                fs::write(p, data).unwrap();
            }
        };
        put("kernel/net/sunrpc/sunrpc.ko", "sunrpc", "");
        put("kernel/fs/nfs_common/grace.ko.gz", "grace", "");
        put("kernel/fs/lockd/lockd.ko.zst", "lockd", "grace,sunrpc");
        put("kernel/fs/nfs/nfs.ko", "nfs", "sunrpc,lockd,fscache,netfs");
        put("kernel/fs/netfs/netfs.ko", "netfs", "");
        put("kernel/fs/nfs/nfsv4.ko", "nfsv4", "sunrpc,nfs,dns_resolver");
        put("kernel/net/dns_resolver/dns_resolver.ko.xz", "dns_resolver", "");
        put("kernel/drivers/x/dash-name.ko", "dash_name", "");
        put("kernel/a/cyc-a.ko", "cyc_a", "cyc_b");
        put("kernel/a/cyc-b.ko", "cyc_b", "cyc_a");
        put("kernel/a/needs-missing.ko", "needs_missing", "nothere");
        put("updates/nfs.ko", "nfs", "sunrpc,lockd,fscache,netfs");
        fs::write(
            d.join("modules.builtin"),
            "kernel/fs/fscache/fscache.ko\nkernel/fs/ext4/ext4.ko\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn order_closure_and_modules_dep() {
        let t = TempDir::new("modules");
        let d = tree(&t);
        let mt = ModuleTree::open(&d).unwrap();
        assert_eq!(mt.version(), "6.1.0-test");
        assert_eq!(mt.path_of("nfs"), Some("updates/nfs.ko"));
        assert_eq!(mt.path_of("dash-name"), Some("kernel/drivers/x/dash-name.ko"));
        assert!(mt.is_builtin("fscache"));
        let set = mt.resolve(&["nfsv4", "dash-name", "ext4"]).unwrap();
        let order: Vec<_> = set.order().collect();
        assert_eq!(
            order,
            [
                "sunrpc",
                "grace",
                "lockd",
                "netfs",
                "nfs",
                "dns_resolver",
                "nfsv4",
                "dash_name"
            ]
        );
        assert_eq!(set.builtin, ["ext4"]);
        let dep = set.modules_dep();
        let lines: Vec<_> = dep.lines().collect();
        assert_eq!(lines[0], "kernel/net/sunrpc/sunrpc.ko:");
        assert_eq!(
            lines[2],
            "kernel/fs/lockd/lockd.ko.zst: kernel/fs/nfs_common/grace.ko.gz kernel/net/sunrpc/sunrpc.ko"
        );
        assert_eq!(
            lines[6],
            "kernel/fs/nfs/nfsv4.ko: kernel/net/dns_resolver/dns_resolver.ko.xz updates/nfs.ko kernel/fs/netfs/netfs.ko \
             kernel/fs/lockd/lockd.ko.zst kernel/fs/nfs_common/grace.ko.gz kernel/net/sunrpc/sunrpc.ko"
        );
        // Loading each line's dependencies from the end, then the module, never loads a
        // module before its own dependencies.
        for (m, deps) in parse_modules_dep(&dep) {
            let mut loaded: Vec<&str> = Vec::new();
            for d in deps.iter().rev().chain(std::iter::once(&m)) {
                let name = module_name(d.rsplit('/').next().unwrap()).unwrap();
                for need in &set.modules.iter().find(|x| x.name == name).unwrap().depends {
                    let p = set.modules.iter().find(|x| &x.name == need).unwrap().path.as_str();
                    assert!(loaded.contains(&p), "{m}: {d} before {p}");
                }
                loaded.push(d);
            }
        }
    }

    #[test]
    fn errors() {
        let t = TempDir::new("modules-err");
        let d = tree(&t);
        let mt = ModuleTree::open(&d).unwrap();
        let e = mt.resolve(&["cyc-a"]).unwrap_err().to_string();
        assert!(e.contains("cycle: cyc_a -> cyc_b -> cyc_a"), "{e}");
        let e = mt.resolve(&["needs_missing"]).unwrap_err().to_string();
        assert!(e.contains("module nothere (needed by needs_missing) not found"), "{e}");
        let e = mt.resolve(&["nope"]).unwrap_err().to_string();
        assert!(e.contains("module nope not found"), "{e}");
        assert!(ModuleTree::open(t.path().join("nothere")).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(module_name("nfs-v4.ko.xz").as_deref(), Some("nfs_v4"));
        assert_eq!(module_name("x.ko.bz2"), None);
        assert_eq!(module_name(".ko"), None);
    }
}
