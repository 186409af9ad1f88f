//! The shared libraries a dynamically linked program needs, found the way glibc's
//! ld.so finds them on Debian — without running anything (no `ldd`).
//!
//! For each `DT_NEEDED` name, breadth-first from the program, like ld.so:
//! 1. a name with a `/` is a path;
//! 2. a name already loaded (by an earlier name, a `DT_SONAME`, or the interpreter's
//!    own soname) is that object;
//! 3. `DT_RPATH` of the requesting object and of its loaders up to the program, only
//!    if the requesting object has no `DT_RUNPATH`;
//! 4. [`Resolver::library_path`] (what `LD_LIBRARY_PATH` would give);
//! 5. `DT_RUNPATH` of the requesting object;
//! 6. the directories of `/etc/ld.so.conf` (with its `include`s) — what
//!    `/etc/ld.so.cache` is built from;
//! 7. the default directories: `/lib/<multiarch>`, `/usr/lib/<multiarch>`, `/lib`,
//!    `/usr/lib`.
//!
//! `$ORIGIN`, `$LIB` and `$PLATFORM` are expanded in RPATH and RUNPATH. A candidate
//! that is not an ELF file of the program's class, byte order and machine is skipped,
//! as ld.so skips it. glibc-hwcaps and legacy hwcap subdirectories are not searched
//! (their contents depend on the CPU that will run the image; Debian always ships the
//! baseline library in the directory itself).
//!
//! Everything happens inside a root directory: `/` for the host, or an unpacked system
//! tree.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use crate::elf::{self, Elf};
use crate::error::{Error, IoContext, Result};
use crate::hostpath::{self, join_in};

/// One ELF object of a closure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The path it is loaded from, absolute inside the root, as found (symbolic links
    /// not resolved): the path an image must have.
    pub path: PathBuf,
    /// The same with every symbolic link resolved.
    pub real_path: PathBuf,
    /// The name it was asked for (`DT_NEEDED`), or its path for the program and the
    /// interpreter.
    pub name: String,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
}

/// A program with its interpreter and every library it loads at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closure {
    /// The root everything was found in.
    pub root: PathBuf,
    pub program: Object,
    /// `PT_INTERP`; `None` for a static program or a shared library.
    pub interpreter: Option<Object>,
    /// The libraries, in ld.so's breadth-first load order.
    pub libraries: Vec<Object>,
}

impl Closure {
    /// The program, the interpreter and the libraries.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        std::iter::once(&self.program)
            .chain(self.interpreter.iter())
            .chain(self.libraries.iter())
    }
}

/// Finds libraries inside a root.
#[derive(Clone, Debug)]
pub struct Resolver {
    root: PathBuf,
    library_path: Vec<PathBuf>,
    conf_dirs: Vec<PathBuf>,
}

/// The Debian multiarch tuple for an ELF machine, if known.
pub fn multiarch(machine: u16, big_endian: bool) -> Option<&'static str> {
    Some(match (machine, big_endian) {
        (elf::EM_X86_64, false) => "x86_64-linux-gnu",
        (elf::EM_AARCH64, false) => "aarch64-linux-gnu",
        (elf::EM_RISCV, false) => "riscv64-linux-gnu",
        (21, false) => "powerpc64le-linux-gnu",
        (22, true) => "s390x-linux-gnu",
        _ => return None,
    })
}

fn platform(machine: u16) -> &'static str {
    match machine {
        elf::EM_X86_64 => "x86_64",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_RISCV => "riscv64",
        _ => "",
    }
}

/// The identity an object must share with the program to be loadable with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kind {
    machine: u16,
    big_endian: bool,
}

fn kind_of(e: &Elf<'_>) -> Kind {
    Kind {
        machine: e.machine,
        big_endian: e.data().get(5) == Some(&2),
    }
}

impl Resolver {
    /// A resolver for the host (`/`).
    pub fn host() -> Result<Self> {
        Resolver::new("/")
    }

    /// A resolver for a system tree at `root`; reads `root/etc/ld.so.conf`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let mut conf_dirs = Vec::new();
        let mut seen = Vec::new();
        read_ld_so_conf(&root, Path::new("/etc/ld.so.conf"), &mut conf_dirs, &mut seen, 0)?;
        Ok(Resolver {
            root,
            library_path: Vec::new(),
            conf_dirs,
        })
    }

    /// Directories searched before RUNPATH, like `LD_LIBRARY_PATH` (absolute, inside
    /// the root).
    pub fn library_path(mut self, dirs: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        self.library_path = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// The directories read from ld.so.conf, in order.
    pub fn conf_dirs(&self) -> &[PathBuf] {
        &self.conf_dirs
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn load(&self, path: &Path, name: &str) -> Result<(Object, Kind)> {
        let resolved = hostpath::resolve(&self.root, path)?;
        let host = resolved.host_path(&self.root);
        let data = fs::read(&host).at("reading", &host)?;
        let e = Elf::parse(&data).map_err(|e| Error::new(format!("{}: {e}", host.display())))?;
        let d = e
            .dynamic()
            .map_err(|e| Error::new(format!("{}: {e}", host.display())))?
            .unwrap_or_default();
        Ok((
            Object {
                path: path.to_path_buf(),
                real_path: resolved.real,
                name: name.to_string(),
                soname: d.soname,
                needed: d.needed,
                rpath: d.rpath,
                runpath: d.runpath,
            },
            kind_of(&e),
        ))
    }

    /// Is `path` (inside the root) a loadable ELF object of this kind?
    fn usable(&self, path: &Path, kind: Kind) -> bool {
        let Ok(resolved) = hostpath::resolve(&self.root, path) else {
            return false;
        };
        let host = resolved.host_path(&self.root);
        // Only the ELF header matters here; the whole file is read when it is loaded.
        let mut head = [0u8; 64];
        let n = match fs::File::open(&host).and_then(|mut f| read_full(&mut f, &mut head)) {
            Ok(n) => n,
            Err(_) => return false,
        };
        match elf::identify(&head[..n]) {
            Ok(id) => {
                Kind {
                    machine: id.machine,
                    big_endian: id.big_endian,
                } == kind
                    && matches!(id.e_type, elf::ET_DYN | elf::ET_EXEC)
            }
            Err(_) => false,
        }
    }

    fn expand(&self, s: &str, origin: &Path, kind: Kind) -> Vec<PathBuf> {
        let lib = match multiarch(kind.machine, kind.big_endian) {
            Some(t) => format!("lib/{t}"),
            None => "lib".to_string(),
        };
        let origin = origin.to_string_lossy();
        s.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| {
                let d = d
                    .replace("${ORIGIN}", &origin)
                    .replace("$ORIGIN", &origin)
                    .replace("${LIB}", &lib)
                    .replace("$LIB", &lib)
                    .replace("${PLATFORM}", platform(kind.machine))
                    .replace("$PLATFORM", platform(kind.machine));
                PathBuf::from(d)
            })
            .collect()
    }

    fn default_dirs(kind: Kind) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(t) = multiarch(kind.machine, kind.big_endian) {
            v.push(PathBuf::from(format!("/lib/{t}")));
            v.push(PathBuf::from(format!("/usr/lib/{t}")));
        }
        v.push(PathBuf::from("/lib"));
        v.push(PathBuf::from("/usr/lib"));
        v
    }

    /// The closure of a program (or of a shared library: then without interpreter).
    /// `program` is absolute inside the root.
    /// On the host (root `/`) a relative path is taken from the current directory;
    /// in another root, from the root.
    pub fn closure(&self, program: impl AsRef<Path>) -> Result<Closure> {
        let program = absolute_in(&self.root, program.as_ref())?;
        let program = program.as_path();
        let pname = program.to_string_lossy().into_owned();
        let ctx = |e: Error| e.context(format!("libraries of {}", program.display()));
        let (prog, kind) = self.load(program, &pname).map_err(ctx)?;
        let interp_path = {
            let host = join_in(&self.root, &prog.real_path);
            let data = fs::read(&host).at("reading", &host)?;
            let e = Elf::parse(&data).map_err(|e| Error::new(format!("{}: {e}", host.display())))?;
            e.interpreter()
                .map_err(|e| Error::new(format!("{}: {e}", host.display())))?
                .map(PathBuf::from)
        };
        let interpreter = match &interp_path {
            Some(p) => Some(
                self.load(p, &p.to_string_lossy())
                    .map_err(|e| ctx(e.context("its interpreter (PT_INTERP)")))?
                    .0,
            ),
            None => None,
        };

        // Names already satisfied → index into `objs` (0 = program, 1 = interpreter).
        let mut objs: Vec<Object> = vec![prog];
        let mut loader: Vec<Option<usize>> = vec![None];
        let mut names: HashMap<String, usize> = HashMap::new();
        if let Some(i) = &interpreter {
            objs.push(i.clone());
            loader.push(None);
            names.insert(i.name.clone(), 1);
            if let Some(s) = &i.soname {
                names.insert(s.clone(), 1);
            }
        }
        let mut queue = VecDeque::from([0usize]);
        let first_lib = objs.len();
        while let Some(idx) = queue.pop_front() {
            for need in objs[idx].needed.clone() {
                if names.contains_key(&need) {
                    continue;
                }
                let path = self.find(&need, idx, &objs, &loader, kind).map_err(ctx)?;
                // The same file reached under another name (e.g. two sonames that are
                // links to one file) is still loaded once by ld.so (same inode).
                let real = hostpath::resolve(&self.root, &path)?.real;
                if let Some(j) = objs.iter().position(|o| o.real_path == real) {
                    names.insert(need, j);
                    continue;
                }
                let (obj, k) = self.load(&path, &need).map_err(ctx)?;
                if k != kind {
                    return Err(ctx(Error::new(format!("{} is for another machine", path.display()))));
                }
                let j = objs.len();
                names.insert(need.clone(), j);
                if let Some(s) = &obj.soname {
                    names.entry(s.clone()).or_insert(j);
                }
                objs.push(obj);
                loader.push(Some(idx));
                queue.push_back(j);
            }
        }
        let libraries = objs.split_off(first_lib);
        let program = objs.swap_remove(0);
        Ok(Closure {
            root: self.root.clone(),
            program,
            interpreter,
            libraries,
        })
    }

    fn find(&self, need: &str, idx: usize, objs: &[Object], loader: &[Option<usize>], kind: Kind) -> Result<PathBuf> {
        if need.contains('/') {
            let p = if need.starts_with('/') {
                PathBuf::from(need)
            } else {
                Path::new("/").join(need)
            };
            return if self.usable(&p, kind) {
                Ok(p)
            } else {
                Err(Error::new(format!(
                    "{need} (needed by {}) is not a usable library",
                    objs[idx].path.display()
                )))
            };
        }
        let origin_of = |i: usize| -> PathBuf {
            // ld.so takes the program's $ORIGIN from /proc/self/exe (links resolved) and
            // a library's from the path it was found under.
            let p = if i == 0 { &objs[i].real_path } else { &objs[i].path };
            p.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
        };
        let mut dirs: Vec<PathBuf> = Vec::new();
        if objs[idx].runpath.is_none() {
            // The requesting object, its loader, and so on up to the program; an object
            // with a RUNPATH has its RPATH ignored (glibc's cache_rpath).
            let mut l = Some(idx);
            while let Some(i) = l {
                if let (Some(rp), None) = (&objs[i].rpath, &objs[i].runpath) {
                    dirs.extend(self.expand(rp, &origin_of(i), kind));
                }
                l = loader[i];
            }
        }
        dirs.extend(self.library_path.iter().cloned());
        if let Some(rp) = &objs[idx].runpath {
            dirs.extend(self.expand(rp, &origin_of(idx), kind));
        }
        dirs.extend(self.conf_dirs.iter().cloned());
        dirs.extend(Resolver::default_dirs(kind));
        for d in &dirs {
            let d = if d.is_absolute() {
                d.clone()
            } else {
                Path::new("/").join(d)
            };
            let p = d.join(need);
            if self.usable(&p, kind) {
                return Ok(p);
            }
        }
        Err(Error::new(format!(
            "library {need} (needed by {}) not found in {} (searched {})",
            objs[idx].path.display(),
            self.root.display(),
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        )))
    }
}

/// A path made absolute: from the current directory on the host, else from the root.
pub(crate) fn absolute_in(root: &Path, p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    if root == Path::new("/") {
        let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
        return Ok(cwd.join(p));
    }
    Ok(Path::new("/").join(p))
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Host convenience: the closure of a program on this machine.
pub fn closure(program: impl AsRef<Path>) -> Result<Closure> {
    Resolver::host()?.closure(program)
}

fn read_ld_so_conf(
    root: &Path,
    file: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut Vec<PathBuf>,
    depth: u32,
) -> Result<()> {
    if depth > 8 || seen.iter().any(|s| s == file) {
        return Ok(());
    }
    seen.push(file.to_path_buf());
    let host = join_in(root, file);
    let text = match fs::read_to_string(&host) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::at("reading", &host, e)),
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(pat) = line.strip_prefix("include").filter(|r| r.starts_with([' ', '\t'])) {
            for pat in pat.split_whitespace() {
                let pat = if pat.starts_with('/') {
                    PathBuf::from(pat)
                } else {
                    file.parent().unwrap_or(Path::new("/")).join(pat)
                };
                for f in glob(root, &pat)? {
                    read_ld_so_conf(root, &f, out, seen, depth + 1)?;
                }
            }
        } else if line.starts_with("hwcap ") || line.starts_with("hwcap\t") {
            continue;
        } else {
            // One directory per line; an old-style "=TYPE" suffix is ignored.
            let dir = line.split('=').next().unwrap_or("").trim();
            if dir.starts_with('/') {
                let dir = PathBuf::from(dir.trim_end_matches('/'));
                if !out.contains(&dir) {
                    out.push(dir);
                }
            }
        }
    }
    Ok(())
}

/// `*` and `?` in the last component of an absolute path inside `root`, sorted.
fn glob(root: &Path, pat: &Path) -> Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (pat.parent(), pat.file_name()) else {
        return Ok(Vec::new());
    };
    let name = name.to_string_lossy();
    if !name.contains(['*', '?']) {
        return Ok(vec![pat.to_path_buf()]);
    }
    let host_dir = join_in(root, dir);
    let rd = match fs::read_dir(&host_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::at("reading", &host_dir, e)),
    };
    let mut v = Vec::new();
    for ent in rd {
        let ent = ent.at("reading", &host_dir)?;
        let n = ent.file_name();
        let n = n.to_string_lossy();
        if wildmatch(name.as_bytes(), n.as_bytes()) && !n.starts_with('.') {
            v.push(dir.join(&*n));
        }
    }
    v.sort();
    Ok(v)
}

fn wildmatch(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildmatch(&p[1..], s) || (!s.is_empty() && wildmatch(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildmatch(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildmatch(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::symlink;

    #[test]
    fn wildcards() {
        assert!(wildmatch(b"*.conf", b"libc.conf"));
        assert!(!wildmatch(b"*.conf", b"libc.conf.bak"));
        assert!(wildmatch(b"a?c*", b"abcdef"));
    }

    #[test]
    fn ld_so_conf_with_includes() {
        let t = TempDir::new("ldconf");
        let r = t.path();
        fs::create_dir_all(r.join("etc/ld.so.conf.d")).unwrap();
        fs::write(
            r.join("etc/ld.so.conf"),
            "include /etc/ld.so.conf.d/*.conf\n/opt/lib # c\n",
        )
        .unwrap();
        fs::write(
            r.join("etc/ld.so.conf.d/b.conf"),
            "# multiarch\n/usr/lib/x86_64-linux-gnu\n",
        )
        .unwrap();
        fs::write(r.join("etc/ld.so.conf.d/a.conf"), "/usr/local/lib/\nhwcap 1 nosegneg\n").unwrap();
        fs::write(r.join("etc/ld.so.conf.d/c.conf.off"), "/nope\n").unwrap();
        let res = Resolver::new(r).unwrap();
        let want: Vec<PathBuf> = ["/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/opt/lib"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(res.conf_dirs(), &want[..]);
    }

    /// A fake system tree made of copies of the synthetic ELF sample: the program
    /// needs libc.so.6 (through RUNPATH $ORIGIN/../lib), found via a symlink chain.
    #[test]
    fn runpath_origin_and_symlinks() {
        let t = TempDir::new("ldso");
        let r = t.path();
        let sample = crate::elf::tests::sample();
        // The sample: NEEDED libc.so.6, SONAME libfoo.so.1, RUNPATH $ORIGIN/../lib,
        // interpreter /lib64/ld-linux-x86-64.so.2. As "libc" it needs itself by name,
        // which the closure must treat as already loaded.
        fs::create_dir_all(r.join("opt/app/bin")).unwrap();
        fs::create_dir_all(r.join("opt/app/lib")).unwrap();
        fs::create_dir_all(r.join("usr/lib64")).unwrap();
        symlink("usr/lib64", r.join("lib64")).unwrap();
        fs::write(r.join("opt/app/bin/prog"), &sample).unwrap();
        fs::write(r.join("opt/app/lib/libc.so.6.1"), &sample).unwrap();
        symlink("libc.so.6.1", r.join("opt/app/lib/libc.so.6")).unwrap();
        fs::write(r.join("usr/lib64/ld-linux-x86-64.so.2"), &sample).unwrap();
        let c = Resolver::new(r).unwrap().closure("/opt/app/bin/prog").unwrap();
        assert_eq!(
            c.interpreter.as_ref().unwrap().path,
            Path::new("/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(
            c.interpreter.as_ref().unwrap().real_path,
            Path::new("/usr/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(c.libraries.len(), 1);
        assert_eq!(c.libraries[0].path, Path::new("/opt/app/bin/../lib/libc.so.6"));
        assert_eq!(c.libraries[0].real_path, Path::new("/opt/app/lib/libc.so.6.1"));
        // Without the library: a clear error naming what is missing and who needs it.
        fs::remove_file(r.join("opt/app/lib/libc.so.6")).unwrap();
        let e = Resolver::new(r)
            .unwrap()
            .closure("/opt/app/bin/prog")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("library libc.so.6 (needed by /opt/app/bin/prog) not found"),
            "{e}"
        );
        // Not ELF: an error, no panic.
        fs::write(r.join("opt/app/bin/script"), "#!/bin/sh\n").unwrap();
        let e = Resolver::new(r)
            .unwrap()
            .closure("/opt/app/bin/script")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an ELF file"), "{e}");
    }
}
