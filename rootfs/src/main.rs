//! `keel-rootfs`: build and inspect initramfs images (see docs/images.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use keel_rootfs::cpio::{self, Compression};
use keel_rootfs::{kernel, Error, Image, ModuleTree, Resolver, Result};

const USAGE: &str = "\
keel-rootfs: initramfs images (cpio newc) for keel

usage:
  keel-rootfs build --out FILE [options]     build an image; options apply in order:
      --compress none|gzip[:0-9]|zstd[:1-22]  (default none)
      --mtime SECS             mtime of every entry (default $SOURCE_DATE_EPOCH or 0)
      --init PATH              PATH as /init (mode 0755) plus the boot skeleton
      --skeleton               /dev /proc /sys /run /tmp /root, /dev/console, /dev/null
      --tree HOSTDIR[:DEST]    a host directory tree at DEST (default /)
      --file HOST:DEST[:MODE]  a host file at DEST (MODE octal; default the host's)
      --program PATH           a program with its ELF interpreter and libraries
      --root DIR               look up later --program paths inside DIR (default /)
      --library-path DIRS      extra library directories for --program (like
                               LD_LIBRARY_PATH; inside the --root)
      --dir DEST[:MODE]        a directory (default mode 0755)
      --symlink DEST:TARGET    a symbolic link
      --dev DEST:c|b:MAJOR:MINOR[:MODE]  a device node (default mode 0600)
      --modules-root DIR       a module tree, lib/modules/VERSION
      --module NAME[,NAME…]    modules to add with their dependencies, into
                               /lib/modules/VERSION with a modules.dep
  keel-rootfs list FILE        list an image (plain, gzip or zstd; concatenated ok)
  keel-rootfs closure [--root DIR] PROGRAM…   print the files a program needs
  keel-rootfs modules --modules-root DIR NAME…  print a load order and modules.dep
  keel-rootfs fetch-kernel [--cache DIR]      fetch Debian's current kernel
                               (default cache: target/kernel)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("build") => build(&args[1..]),
        Some("list") => list(&args[1..]),
        Some("closure") => closure(&args[1..]),
        Some("modules") => modules(&args[1..]),
        Some("fetch-kernel") => fetch_kernel(&args[1..]),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keel-rootfs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `--opt value` and `--opt=value` pairs.
struct Args<'a> {
    it: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    fn new(a: &'a [String]) -> Self {
        Args { it: a.iter() }
    }
    /// The next (option, value) pair; options without values get "".
    fn next(&mut self, flags: &[&str]) -> Result<Option<(String, String)>> {
        let Some(a) = self.it.next() else {
            return Ok(None);
        };
        if !a.starts_with("--") {
            return Ok(Some((String::new(), a.clone())));
        }
        if let Some((k, v)) = a.split_once('=') {
            return Ok(Some((k.to_string(), v.to_string())));
        }
        if flags.contains(&a.as_str()) {
            return Ok(Some((a.clone(), String::new())));
        }
        let v = self.it.next().ok_or_else(|| Error::new(format!("{a} needs a value")))?;
        Ok(Some((a.clone(), v.clone())))
    }
}

fn octal(s: &str, what: &str) -> Result<u32> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| Error::new(format!("{what}: {s:?} is not an octal mode")))
}

fn num(s: &str, what: &str) -> Result<u32> {
    s.parse()
        .map_err(|_| Error::new(format!("{what}: {s:?} is not a number")))
}

fn build(args: &[String]) -> Result<()> {
    let mut out: Option<PathBuf> = None;
    let mut compression = Compression::None;
    let mut img = Image::new();
    let mut resolver = Resolver::host()?;
    let mut modules_root: Option<PathBuf> = None;
    let mut module_names: Vec<String> = Vec::new();
    let mut a = Args::new(args);
    while let Some((k, v)) = a.next(&["--skeleton"])? {
        match k.as_str() {
            "--out" | "-o" => out = Some(PathBuf::from(v)),
            "--compress" => compression = Compression::parse(&v)?,
            "--mtime" => {
                img.mtime(num(&v, "--mtime")?);
            }
            "--skeleton" => {
                img.boot_skeleton();
            }
            "--init" => {
                img.boot_skeleton().file_host("/init", &v, Some(0o755))?;
            }
            "--tree" => {
                let (host, dest) = v.split_once(':').unwrap_or((&v, "/"));
                img.add_tree(host, dest)?;
            }
            "--file" => {
                let mut p = v.splitn(3, ':');
                let (Some(host), Some(dest)) = (p.next(), p.next()) else {
                    return Err(Error::new(format!("--file {v}: expected HOST:DEST[:MODE]")));
                };
                let mode = p.next().map(|m| octal(m, "--file")).transpose()?;
                img.file_host(dest, host, mode)?;
            }
            "--program" => {
                img.add_program_with(&resolver, &v)?;
            }
            "--root" => {
                resolver = Resolver::new(&v)?;
            }
            "--library-path" => {
                resolver = resolver.library_path(v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
            }
            "--dir" => {
                let (dest, mode) = match v.split_once(':') {
                    Some((d, m)) => (d, octal(m, "--dir")?),
                    None => (v.as_str(), 0o755),
                };
                img.dir(dest, mode);
            }
            "--symlink" => {
                let (dest, target) = v
                    .split_once(':')
                    .ok_or_else(|| Error::new(format!("--symlink {v}: expected DEST:TARGET")))?;
                img.symlink(dest, target);
            }
            "--dev" => {
                let p: Vec<&str> = v.split(':').collect();
                if !(4..=5).contains(&p.len()) {
                    return Err(Error::new(format!("--dev {v}: expected DEST:c|b:MAJOR:MINOR[:MODE]")));
                }
                let (major, minor) = (num(p[2], "--dev")?, num(p[3], "--dev")?);
                let mode = p.get(4).map(|m| octal(m, "--dev")).transpose()?.unwrap_or(0o600);
                match p[1] {
                    "c" => img.dev_char(p[0], major, minor, mode),
                    "b" => img.dev_block(p[0], major, minor, mode),
                    t => return Err(Error::new(format!("--dev {v}: type {t:?} is not c or b"))),
                };
            }
            "--modules-root" => modules_root = Some(PathBuf::from(v)),
            "--module" => module_names.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string)),
            "" => return Err(Error::new(format!("unexpected argument {v:?}"))),
            _ => return Err(Error::new(format!("unknown option {k}"))),
        }
    }
    if !module_names.is_empty() {
        let root = modules_root.ok_or_else(|| Error::new("--module needs --modules-root"))?;
        let set = ModuleTree::open(&root)?.resolve(&module_names)?;
        img.add_modules(&set)?;
        let order: Vec<&str> = set.order().collect();
        eprintln!("keel-rootfs: modules, in load order: {}", order.join(" "));
        if !set.builtin.is_empty() {
            eprintln!("keel-rootfs: built into the kernel: {}", set.builtin.join(" "));
        }
    }
    let out = out.ok_or_else(|| Error::new("build needs --out FILE"))?;
    let w = img.write_file(&out, compression)?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "keel-rootfs: wrote {} ({} entries, {} bytes of cpio, {} bytes on disk)",
        out.display(),
        w.entries,
        w.cpio_bytes,
        size
    );
    Ok(())
}

fn list(args: &[String]) -> Result<()> {
    let [file] = args else {
        return Err(Error::new("usage: keel-rootfs list FILE"));
    };
    let p = Path::new(file);
    let data = std::fs::read(p).map_err(|e| Error::at("reading", p, e))?;
    let entries = cpio::parse(&data).map_err(|e| e.context(p.display()))?;
    let mut out = String::new();
    for e in entries {
        let h = &e.header;
        let size = match e.file_type() {
            cpio::S_IFCHR | cpio::S_IFBLK => format!("{},{}", h.rdev_major, h.rdev_minor),
            _ => h.filesize.to_string(),
        };
        out.push_str(&format!(
            "{} {:>5}/{:<5} {:>10} {}",
            cpio::mode_string(h.mode),
            h.uid,
            h.gid,
            size,
            e.name_str()
        ));
        if e.file_type() == cpio::S_IFLNK {
            out.push_str(" -> ");
            out.push_str(&String::from_utf8_lossy(&e.data));
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

fn closure(args: &[String]) -> Result<()> {
    let mut root = PathBuf::from("/");
    let mut progs = Vec::new();
    let mut a = Args::new(args);
    while let Some((k, v)) = a.next(&[])? {
        match k.as_str() {
            "--root" => root = PathBuf::from(v),
            "" => progs.push(v),
            _ => return Err(Error::new(format!("unknown option {k}"))),
        }
    }
    let r = Resolver::new(&root)?;
    for p in progs {
        let c = r.closure(&p)?;
        for o in c.objects() {
            if o.path == o.real_path {
                println!("{}", o.path.display());
            } else {
                println!("{} -> {}", o.path.display(), o.real_path.display());
            }
        }
    }
    Ok(())
}

fn modules(args: &[String]) -> Result<()> {
    let mut root = None;
    let mut names = Vec::new();
    let mut a = Args::new(args);
    while let Some((k, v)) = a.next(&[])? {
        match k.as_str() {
            "--modules-root" => root = Some(PathBuf::from(v)),
            "" => names.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string)),
            _ => return Err(Error::new(format!("unknown option {k}"))),
        }
    }
    let root = root.ok_or_else(|| Error::new("modules needs --modules-root DIR"))?;
    let set = ModuleTree::open(&root)?.resolve(&names)?;
    println!("# load order: {}", set.order().collect::<Vec<_>>().join(" "));
    if !set.builtin.is_empty() {
        println!("# built in: {}", set.builtin.join(" "));
    }
    print!("{}", set.modules_dep());
    Ok(())
}

fn fetch_kernel(args: &[String]) -> Result<()> {
    let mut cache = PathBuf::from("target/kernel");
    let mut a = Args::new(args);
    while let Some((k, v)) = a.next(&[])? {
        match k.as_str() {
            "--cache" => cache = PathBuf::from(v),
            _ => return Err(Error::new(format!("unexpected argument {k}{v}"))),
        }
    }
    let t = std::time::Instant::now();
    let k = kernel::fetch_debian_kernel(&cache)?;
    println!("package  {}", k.package);
    println!("version  {}", k.version);
    println!("vmlinuz  {}", k.vmlinuz.display());
    println!("vmlinux  {}", k.vmlinux.display());
    println!("modules  {}", k.modules_dir.display());
    eprintln!("keel-rootfs: ready in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
