//! An initramfs image being put together: a sorted tree of entries written out as a
//! reproducible cpio newc archive.
//!
//! Rules:
//! - Paths are absolute inside the image (a leading `/` is optional); `.` and `..` are
//!   resolved lexically. Parent directories are created implicitly (mode 0755, 0:0).
//! - Adding below a symbolic link that is already in the image goes through it, as
//!   writing into a filesystem would: with `/lib -> usr/lib` in the image,
//!   `lib/modules/…` lands in `usr/lib/modules/…`.
//! - A later entry replaces an earlier one at the same path, except that an implicit
//!   directory never replaces anything, and a directory that already has entries below
//!   it cannot be replaced by a non-directory (an error).
//! - Every entry is owned by 0:0 unless [`Image::owner`] says otherwise, and has the
//!   image's mtime (`SOURCE_DATE_EPOCH`, or 0).
//! - The methods that cannot fail on the spot (`dir`, `symlink`, …) record their errors;
//!   [`Image::check`] and [`Image::write_to`] report them all.
//!
//! Output: entries sorted by path components (so every directory comes before its
//! contents), inode numbers 1, 2, … in that order, `nlink` 2 for directories and 1
//! otherwise, `TRAILER!!!`, padding to 512 bytes; optionally compressed. The same
//! inputs give the same bytes.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::ops::Bound;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cpio::{self, Compression, Header};
use crate::error::{Error, IoContext, Result};
use crate::hostpath;
use crate::ldso::{Closure, Resolver};
use crate::modules::ModuleSet;

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Source),
    /// A symbolic link with this target (as written).
    Symlink(Vec<u8>),
    CharDev {
        major: u32,
        minor: u32,
    },
    BlockDev {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// Where a regular file's contents come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Bytes(Arc<[u8]>),
    /// Read when the image is written.
    Host(PathBuf),
}

/// One entry of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits (0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Created as the parent of another entry, not asked for.
    pub implicit: bool,
}

impl Node {
    fn new(kind: Kind, mode: u32) -> Self {
        Node {
            kind,
            mode: mode & 0o7777,
            uid: 0,
            gid: 0,
            implicit: false,
        }
    }
    fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
    fn type_bits(&self) -> u32 {
        match self.kind {
            Kind::Dir => cpio::S_IFDIR,
            Kind::File(_) => cpio::S_IFREG,
            Kind::Symlink(_) => cpio::S_IFLNK,
            Kind::CharDev { .. } => cpio::S_IFCHR,
            Kind::BlockDev { .. } => cpio::S_IFBLK,
            Kind::Fifo => cpio::S_IFIFO,
        }
    }
    fn what(&self) -> &'static str {
        match self.kind {
            Kind::Dir => "directory",
            Kind::File(_) => "file",
            Kind::Symlink(_) => "symbolic link",
            Kind::CharDev { .. } => "character device",
            Kind::BlockDev { .. } => "block device",
            Kind::Fifo => "fifo",
        }
    }
}

type Comps = Vec<Vec<u8>>;

/// Splits a path into components, resolving `.` and `..` lexically.
fn split(p: &[u8]) -> Comps {
    let mut v: Comps = Vec::new();
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                v.pop();
            }
            c => v.push(c.to_vec()),
        }
    }
    v
}

fn show(c: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for x in c {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(x));
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn bytes_of(p: &(impl AsRef<OsStr> + ?Sized)) -> &[u8] {
    p.as_ref().as_bytes()
}

/// Counts of a written image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Entries, without the trailer.
    pub entries: usize,
    /// Size of the cpio archive before compression.
    pub cpio_bytes: u64,
}

/// An initramfs image under construction. See the module documentation for the rules.
#[derive(Clone, Debug)]
pub struct Image {
    nodes: BTreeMap<Comps, Node>,
    mtime: u32,
    errors: Vec<String>,
}

impl Default for Image {
    fn default() -> Self {
        Image::new()
    }
}

impl Image {
    /// An empty image; mtime from `SOURCE_DATE_EPOCH`, or 0.
    pub fn new() -> Self {
        let mut img = Image {
            nodes: BTreeMap::new(),
            mtime: 0,
            errors: Vec::new(),
        };
        if let Some(v) = std::env::var_os("SOURCE_DATE_EPOCH") {
            match v.to_str().and_then(|s| s.trim().parse::<u32>().ok()) {
                Some(t) => img.mtime = t,
                None => img
                    .errors
                    .push(format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")),
            }
        }
        img
    }

    /// Sets the mtime of every entry.
    pub fn mtime(&mut self, secs: u32) -> &mut Self {
        self.mtime = secs;
        self
    }

    /// The mtime every entry gets.
    pub fn get_mtime(&self) -> u32 {
        self.mtime
    }

    // ---- placement -------------------------------------------------------------

    /// Where `c` lands: symbolic links of the image in all components but the last are
    /// followed.
    fn place(&self, c: &[Vec<u8>]) -> std::result::Result<Comps, String> {
        let mut todo: std::collections::VecDeque<Vec<u8>> = c.iter().cloned().collect();
        let mut done: Comps = Vec::new();
        let mut hops = 0;
        while let Some(x) = todo.pop_front() {
            match &x[..] {
                b"" | b"." => continue,
                b".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(x);
            if todo.is_empty() {
                break;
            }
            match self.nodes.get(&done) {
                None => {}
                Some(n) => match &n.kind {
                    Kind::Dir => {}
                    Kind::Symlink(t) => {
                        hops += 1;
                        if hops > 40 {
                            return Err(format!("{}: too many levels of symbolic links in the image", show(c)));
                        }
                        done.pop();
                        if t.first() == Some(&b'/') {
                            done.clear();
                        }
                        for y in t.split(|&b| b == b'/').rev() {
                            todo.push_front(y.to_vec());
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{}: {} is a {} in the image, not a directory",
                            show(c),
                            show(&done),
                            n.what()
                        ))
                    }
                },
            }
        }
        Ok(done)
    }

    fn has_children(&self, c: &Comps) -> bool {
        self.nodes
            .range::<Comps, _>((Bound::Excluded(c), Bound::Unbounded))
            .next()
            .is_some_and(|(k, _)| k.len() > c.len() && k[..c.len()] == c[..])
    }

    fn insert(&mut self, path: &[u8], node: Node) -> std::result::Result<Comps, String> {
        let c = split(path);
        if c.is_empty() {
            return if node.is_dir() {
                Ok(c) // the root directory itself is not an entry
            } else {
                Err(format!("cannot put a {} at /", node.what()))
            };
        }
        let c = self.place(&c)?;
        for i in 1..c.len() {
            let k = c[..i].to_vec();
            match self.nodes.get(&k) {
                None => {
                    let mut d = Node::new(Kind::Dir, 0o755);
                    d.implicit = true;
                    self.nodes.insert(k, d);
                }
                Some(n) if n.is_dir() => {}
                Some(n) => return Err(format!("{}: {} is a {}, not a directory", show(&c), show(&k), n.what())),
            }
        }
        let children = self.has_children(&c);
        match self.nodes.get_mut(&c) {
            None => {
                self.nodes.insert(c.clone(), node);
            }
            Some(old) => match (old.is_dir(), node.is_dir()) {
                (_, true) if node.implicit => {}
                (true, false) if children => {
                    return Err(format!(
                        "{}: cannot replace a directory that has entries with a {}",
                        show(&c),
                        node.what()
                    ))
                }
                _ => *old = node,
            },
        }
        Ok(c)
    }

    fn record(&mut self, r: std::result::Result<Comps, String>) -> &mut Self {
        if let Err(e) = r {
            self.errors.push(e);
        }
        self
    }

    // ---- entries -----------------------------------------------------------------

    /// A directory.
    pub fn dir(&mut self, path: impl AsRef<OsStr>, mode: u32) -> &mut Self {
        let r = self.insert(bytes_of(&path), Node::new(Kind::Dir, mode));
        self.record(r)
    }

    /// A regular file with these contents.
    pub fn file_bytes(&mut self, path: impl AsRef<OsStr>, contents: impl Into<Vec<u8>>, mode: u32) -> &mut Self {
        let data: Arc<[u8]> = contents.into().into();
        let r = self.insert(bytes_of(&path), Node::new(Kind::File(Source::Bytes(data)), mode));
        self.record(r)
    }

    /// A regular file copied from the host when the image is written; `mode` `None`
    /// keeps the host file's permission bits. Fails now if `host` is not a regular
    /// file (symbolic links are followed).
    pub fn file_host(
        &mut self,
        path: impl AsRef<OsStr>,
        host: impl AsRef<Path>,
        mode: Option<u32>,
    ) -> Result<&mut Self> {
        let host = host.as_ref();
        let md = fs::metadata(host).at("reading", host)?;
        if !md.is_file() {
            return Err(Error::new(format!("{} is not a regular file", host.display())));
        }
        let mode = mode.unwrap_or(md.mode());
        let r = self.insert(
            bytes_of(&path),
            Node::new(Kind::File(Source::Host(host.to_path_buf())), mode),
        );
        r.map_err(Error::new)?;
        Ok(self)
    }

    /// A symbolic link to `target` (stored as written).
    pub fn symlink(&mut self, path: impl AsRef<OsStr>, target: impl AsRef<OsStr>) -> &mut Self {
        let t = bytes_of(&target).to_vec();
        let r = if t.is_empty() {
            Err(format!(
                "{}: empty symbolic link target",
                path.as_ref().to_string_lossy()
            ))
        } else {
            self.insert(bytes_of(&path), Node::new(Kind::Symlink(t), 0o777))
        };
        self.record(r)
    }

    /// A character device node.
    pub fn dev_char(&mut self, path: impl AsRef<OsStr>, major: u32, minor: u32, mode: u32) -> &mut Self {
        let r = self.insert(bytes_of(&path), Node::new(Kind::CharDev { major, minor }, mode));
        self.record(r)
    }

    /// A block device node.
    pub fn dev_block(&mut self, path: impl AsRef<OsStr>, major: u32, minor: u32, mode: u32) -> &mut Self {
        let r = self.insert(bytes_of(&path), Node::new(Kind::BlockDev { major, minor }, mode));
        self.record(r)
    }

    /// A named pipe.
    pub fn fifo(&mut self, path: impl AsRef<OsStr>, mode: u32) -> &mut Self {
        let r = self.insert(bytes_of(&path), Node::new(Kind::Fifo, mode));
        self.record(r)
    }

    /// Sets the owner of an entry already in the image.
    pub fn owner(&mut self, path: impl AsRef<OsStr>, uid: u32, gid: u32) -> &mut Self {
        let c = split(bytes_of(&path));
        let r = self.place(&c).and_then(|c| match self.nodes.get_mut(&c) {
            Some(n) => {
                n.uid = uid;
                n.gid = gid;
                Ok(c)
            }
            None => Err(format!("owner: {} is not in the image", show(&c))),
        });
        self.record(r)
    }

    /// What a boot image needs before any program runs: `/dev`, `/proc`, `/sys`,
    /// `/run`, `/tmp`, `/root`, and the device nodes `/dev/console` (5,1), which the
    /// kernel opens for /init's standard streams before devtmpfs is mounted, and
    /// `/dev/null` (1,3).
    pub fn boot_skeleton(&mut self) -> &mut Self {
        self.dir("/dev", 0o755)
            .dir("/proc", 0o555)
            .dir("/sys", 0o555)
            .dir("/run", 0o755)
            .dir("/tmp", 0o1777)
            .dir("/root", 0o700)
            .dev_char("/dev/console", 5, 1, 0o600)
            .dev_char("/dev/null", 1, 3, 0o666)
    }

    // ---- from the host -------------------------------------------------------------

    fn node_from_host(host: &Path, md: &fs::Metadata) -> Result<Option<Node>> {
        let ft = md.file_type();
        let mode = md.mode();
        let rdev = md.rdev();
        // glibc's gnu_dev_major/minor
        let major = (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)) as u32;
        let minor = (((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)) as u32;
        Ok(Some(if ft.is_symlink() {
            let t = fs::read_link(host).at("reading the symbolic link", host)?;
            Node::new(Kind::Symlink(t.as_os_str().as_bytes().to_vec()), 0o777)
        } else if ft.is_dir() {
            Node::new(Kind::Dir, mode)
        } else if ft.is_file() {
            Node::new(Kind::File(Source::Host(host.to_path_buf())), mode)
        } else if ft.is_char_device() {
            Node::new(Kind::CharDev { major, minor }, mode)
        } else if ft.is_block_device() {
            Node::new(Kind::BlockDev { major, minor }, mode)
        } else if ft.is_fifo() {
            Node::new(Kind::Fifo, mode)
        } else {
            return Ok(None); // sockets
        }))
    }

    /// A host directory tree at `dest` (`/` for the image root): directories, regular
    /// files, symbolic links (as they are), device nodes and fifos, with their
    /// permission bits; owners are 0:0 (see [`Image::owner`]); sockets are skipped.
    /// A symbolic link given as `host_dir` itself is followed.
    pub fn add_tree(&mut self, host_dir: impl AsRef<Path>, dest: impl AsRef<OsStr>) -> Result<&mut Self> {
        let host_dir = host_dir.as_ref();
        let md = fs::metadata(host_dir).at("reading", host_dir)?;
        if !md.is_dir() {
            return Err(Error::new(format!("{} is not a directory", host_dir.display())));
        }
        let dest = split(bytes_of(&dest));
        self.add_tree_at(host_dir, &md, &dest)?;
        Ok(self)
    }

    fn add_tree_at(&mut self, host: &Path, md: &fs::Metadata, dest: &[Vec<u8>]) -> Result<()> {
        let node = match Image::node_from_host(host, md)? {
            Some(n) => n,
            None => return Ok(()),
        };
        let is_dir = node.is_dir();
        let placed = self
            .insert(&dest.join(&b'/'), node)
            .map_err(|e| Error::new(format!("adding {}: {e}", host.display())))?;
        if !is_dir {
            return Ok(());
        }
        let mut ents: Vec<_> = fs::read_dir(host)
            .at("reading the directory", host)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .at("reading the directory", host)?;
        ents.sort();
        for name in ents {
            let p = host.join(&name);
            let md = fs::symlink_metadata(&p).at("reading", &p)?;
            let mut d = placed.clone();
            d.push(name.as_bytes().to_vec());
            self.add_tree_at(&p, &md, &d)?;
        }
        Ok(())
    }

    /// A file of a system tree at `root` (`/` for the host; there a relative `path` is
    /// taken from the current directory), put at the same absolute path, with every symbolic link on the way reproduced in the image: for
    /// `/lib64/ld-linux-x86-64.so.2` on merged-/usr Debian that is the links `/lib64`,
    /// `/usr/lib64/ld-linux-x86-64.so.2` and `/lib`, and the file
    /// `/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`. Where the image already has a
    /// real directory at the place of a directory link (say `/lib`, made for kernel
    /// modules), that directory is kept and the rest of the path goes below it.
    pub fn add_host_path(&mut self, root: impl AsRef<Path>, path: impl AsRef<Path>) -> Result<&mut Self> {
        let root = root.as_ref();
        let path = &crate::ldso::absolute_in(root, path.as_ref())?;
        let res = hostpath::resolve(root, path)?;
        let ctx = |e: String| Error::new(format!("adding {} from {}: {e}", path.display(), root.display()));
        // Directory links the image keeps as directories: resolved target → image path.
        let mut subst: Vec<(Comps, Comps)> = Vec::new();
        let map = |subst: &[(Comps, Comps)], p: &Path| -> Comps {
            let c = split(p.as_os_str().as_bytes());
            let best = subst
                .iter()
                .filter(|(from, _)| c.len() >= from.len() && c[..from.len()] == from[..])
                .max_by_key(|(from, _)| from.len());
            match best {
                Some((from, to)) => to.iter().chain(c[from.len()..].iter()).cloned().collect(),
                None => c,
            }
        };
        for link in &res.links {
            let at = map(&subst, &link.path);
            if let Some(target) = &link.dir_target {
                let placed = self.place(&at).map_err(ctx)?;
                if self.nodes.get(&placed).is_some_and(Node::is_dir) {
                    subst.push((split(target.as_os_str().as_bytes()), placed));
                    continue;
                }
            }
            let node = Node::new(Kind::Symlink(link.target.as_os_str().as_bytes().to_vec()), 0o777);
            self.insert(&at.join(&b'/'), node).map_err(ctx)?;
        }
        let host = res.host_path(root);
        let md = fs::metadata(&host).at("reading", &host)?;
        let node =
            Image::node_from_host(&host, &md)?.ok_or_else(|| Error::new(format!("{} is a socket", host.display())))?;
        let at = map(&subst, &res.real);
        self.insert(&at.join(&b'/'), node).map_err(ctx)?;
        Ok(self)
    }

    /// Every object of a closure (program, interpreter, libraries) at its path, with
    /// its symbolic links (see [`Image::add_host_path`]).
    pub fn add_closure(&mut self, closure: &Closure) -> Result<&mut Self> {
        for o in closure.objects() {
            self.add_host_path(&closure.root, &o.path)?;
        }
        Ok(self)
    }

    /// A dynamically linked program of this machine with its interpreter and
    /// libraries, found like ld.so would (see [`crate::ldso`]). Libraries that the
    /// program opens with dlopen() are not found; add them with `add_program` too.
    pub fn add_program(&mut self, program: impl AsRef<Path>) -> Result<&mut Self> {
        let c = Resolver::host()?.closure(program)?;
        self.add_closure(&c)
    }

    /// Like [`Image::add_program`], with a resolver for another root.
    pub fn add_program_with(&mut self, resolver: &Resolver, program: impl AsRef<Path>) -> Result<&mut Self> {
        let c = resolver.closure(program)?;
        self.add_closure(&c)
    }

    /// Kernel modules at `/lib/modules/VERSION/…`, their `modules.dep`, and the
    /// tree's `modules.builtin` and `modules.builtin.modinfo` if it has them.
    pub fn add_modules(&mut self, set: &ModuleSet) -> Result<&mut Self> {
        let base = format!("/lib/modules/{}", set.version);
        for m in &set.modules {
            let host = set.dir.join(&m.path);
            self.file_host(format!("{base}/{}", m.path), &host, Some(0o644))?;
        }
        self.file_bytes(format!("{base}/modules.dep"), set.modules_dep(), 0o644);
        for extra in ["modules.builtin", "modules.builtin.modinfo"] {
            let p = set.dir.join(extra);
            if p.is_file() {
                self.file_host(format!("{base}/{extra}"), &p, Some(0o644))?;
            }
        }
        Ok(self)
    }

    // ---- inspection and output ---------------------------------------------------------

    /// The entry at `path`, if any (symbolic links of the image followed except in the
    /// last component).
    pub fn get(&self, path: impl AsRef<OsStr>) -> Option<&Node> {
        let c = self.place(&split(bytes_of(&path))).ok()?;
        self.nodes.get(&c)
    }

    /// Every entry in output order, with its absolute path.
    pub fn entries(&self) -> impl Iterator<Item = (String, &Node)> {
        self.nodes.iter().map(|(k, n)| (show(k), n))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The recorded errors, if any, as one error.
    pub fn check(&self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::new(format!(
                "the image has errors:\n  {}",
                self.errors.join("\n  ")
            )))
        }
    }

    /// Writes the image as a cpio newc archive, compressed as asked.
    pub fn write_to<W: Write>(&self, w: W, compression: Compression) -> Result<Written> {
        self.check()?;
        let enc = compression
            .encoder(BufWriter::with_capacity(1 << 16, w))
            .map_err(|e| Error::io("starting the compressor", e))?;
        let mut cw = cpio::Writer::new(enc);
        for (i, (k, n)) in self.nodes.iter().enumerate() {
            let ino = u32::try_from(i + 1).map_err(|_| Error::new("more than 2^32 entries"))?;
            let name = k.join(&b'/');
            let shown = || show(k);
            let mut h = Header {
                ino,
                mode: n.type_bits() | n.mode,
                uid: n.uid,
                gid: n.gid,
                nlink: if n.is_dir() { 2 } else { 1 },
                mtime: self.mtime,
                ..Header::default()
            };
            let too_big =
                |len: u64| Error::new(format!("{}: {len} bytes is over the 4 GiB limit of cpio newc", shown()));
            let r = match &n.kind {
                Kind::File(Source::Bytes(b)) => {
                    h.filesize = u32::try_from(b.len()).map_err(|_| too_big(b.len() as u64))?;
                    cw.entry(&name, &h, &mut &b[..])
                }
                Kind::File(Source::Host(p)) => {
                    let mut f = fs::File::open(p).at("opening", p)?;
                    let md = f.metadata().at("reading", p)?;
                    if !md.is_file() {
                        return Err(Error::new(format!(
                            "{}: {} is no longer a regular file",
                            shown(),
                            p.display()
                        )));
                    }
                    h.filesize = u32::try_from(md.len()).map_err(|_| too_big(md.len()))?;
                    cw.entry(&name, &h, &mut f as &mut dyn Read)
                        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
                }
                Kind::Symlink(t) => {
                    h.filesize = t.len() as u32;
                    cw.entry(&name, &h, &mut &t[..])
                }
                Kind::CharDev { major, minor } | Kind::BlockDev { major, minor } => {
                    h.rdev_major = *major;
                    h.rdev_minor = *minor;
                    cw.entry(&name, &h, &mut io::empty())
                }
                Kind::Dir | Kind::Fifo => cw.entry(&name, &h, &mut io::empty()),
            };
            r.map_err(|e| Error::io(format!("writing {} into the image", shown()), e))?;
        }
        let (enc, cpio_bytes) = cw.finish().map_err(|e| Error::io("writing the image trailer", e))?;
        let bw = enc
            .finish()
            .map_err(|e| Error::io("finishing the compressed stream", e))?;
        bw.into_inner()
            .map_err(|e| Error::io("writing the image", e.into_error()))?;
        Ok(Written {
            entries: self.nodes.len(),
            cpio_bytes,
        })
    }

    /// Writes the image to a file (through a temporary file renamed into place).
    pub fn write_file(&self, path: impl AsRef<Path>, compression: Compression) -> Result<Written> {
        let path = path.as_ref();
        let tmp = {
            let mut n = path.as_os_str().to_os_string();
            n.push(format!(".tmp-{}", std::process::id()));
            PathBuf::from(n)
        };
        let f = fs::File::create(&tmp).at("creating", &tmp)?;
        let r = self.write_to(&f, compression).and_then(|w| {
            f.sync_all().at("writing", &tmp)?;
            fs::rename(&tmp, path).at("renaming into place", path)?;
            Ok(w)
        });
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::symlink;

    fn names(img: &Image) -> Vec<String> {
        img.entries().map(|(p, _)| p).collect()
    }

    fn build(img: &Image) -> Vec<u8> {
        let mut v = Vec::new();
        img.write_to(&mut v, Compression::None).unwrap();
        v
    }

    #[test]
    fn sorted_with_implicit_parents() {
        let mut img = Image::new();
        img.mtime(7)
            .file_bytes("/usr/bin/b", "B", 0o755)
            .dir("/proc", 0o555)
            .symlink("/bin", "usr/bin")
            .dev_char("/dev/console", 5, 1, 0o600)
            .file_bytes("usr/bin-x", "X", 0o644)
            .file_bytes("/usr/bin/a", "A", 0o4755);
        assert_eq!(
            names(&img),
            [
                "/bin",
                "/dev",
                "/dev/console",
                "/proc",
                "/usr",
                "/usr/bin",
                "/usr/bin/a",
                "/usr/bin/b",
                "/usr/bin-x"
            ]
        );
        let a = build(&img);
        assert_eq!(a.len() % 512, 0);
        let got = cpio::parse(&a).unwrap();
        let by: Vec<_> = got
            .iter()
            .map(|e| (e.name_str(), e.header.mode, e.header.ino, e.header.mtime))
            .collect();
        assert_eq!(by[0], ("bin".to_string(), cpio::S_IFLNK | 0o777, 1, 7));
        assert_eq!(by[2], ("dev/console".to_string(), cpio::S_IFCHR | 0o600, 3, 7));
        assert_eq!(by[6], ("usr/bin/a".to_string(), cpio::S_IFREG | 0o4755, 7, 7));
        assert_eq!(got[0].data, b"usr/bin");
        assert_eq!((got[2].header.rdev_major, got[2].header.rdev_minor), (5, 1));
        assert_eq!(got[4].header.nlink, 2);
        // implicit parents are 0755 and owned by root
        assert_eq!(got[4].header.mode, cpio::S_IFDIR | 0o755);
        let mut w = Vec::new();
        let stats = img.write_to(&mut w, Compression::None).unwrap();
        assert_eq!(stats.cpio_bytes, w.len() as u64);
        assert_eq!(stats.entries, 9);
    }

    #[test]
    fn explicit_dir_mode_wins_over_implicit() {
        let mut img = Image::new();
        img.file_bytes("/tmp/x", "", 0o644)
            .dir("/tmp", 0o1777)
            .file_bytes("/tmp/y", "", 0o644);
        assert_eq!(img.get("/tmp").unwrap().mode, 0o1777);
        img.dir("/tmp", 0o700);
        assert_eq!(img.get("/tmp").unwrap().mode, 0o700);
    }

    #[test]
    fn writing_through_image_symlinks() {
        let mut img = Image::new();
        img.symlink("/lib", "usr/lib")
            .file_bytes("/lib/modules/6.1/modules.dep", "", 0o644);
        assert_eq!(
            names(&img),
            [
                "/lib",
                "/usr",
                "/usr/lib",
                "/usr/lib/modules",
                "/usr/lib/modules/6.1",
                "/usr/lib/modules/6.1/modules.dep"
            ]
        );
        // absolute targets too, and chains
        img.symlink("/l2", "/lib").file_bytes("/l2/x", "", 0o644);
        assert!(img.get("/usr/lib/x").is_some());
        assert!(img.get("/l2/x").is_some());
        img.check().unwrap();
    }

    #[test]
    fn conflicts_are_reported() {
        let mut img = Image::new();
        img.file_bytes("/etc/x", "", 0o644).file_bytes("/etc", "oops", 0o644);
        img.file_bytes("/f", "", 0o644).file_bytes("/f/g", "", 0o644);
        img.symlink("/a", "b").symlink("/b", "a").file_bytes("/a/x", "", 0o644);
        img.dev_char("/", 1, 1, 0);
        img.owner("/nothere", 1, 1);
        let e = img.check().unwrap_err().to_string();
        assert!(
            e.contains("/etc: cannot replace a directory that has entries with a file"),
            "{e}"
        );
        assert!(e.contains("/f is a file"), "{e}");
        assert!(e.contains("too many levels"), "{e}");
        assert!(e.contains("cannot put a character device at /"), "{e}");
        assert!(e.contains("/nothere is not in the image"), "{e}");
        assert!(img.write_to(Vec::new(), Compression::None).is_err());
        // replacing a leaf is fine: last wins
        let mut img = Image::new();
        img.file_bytes("/x", "1", 0o644)
            .symlink("/x", "y")
            .file_bytes("/d/e", "", 0o644)
            .dir("/d", 0o700);
        img.check().unwrap();
        assert_eq!(img.get("/x").unwrap().kind, Kind::Symlink(b"y".to_vec()));
    }

    #[test]
    fn owners_and_reproducibility() {
        let mut img = Image::new();
        img.mtime(1_700_000_000)
            .file_bytes("/home/u/f", "data", 0o600)
            .owner("/home/u/f", 1000, 100)
            .owner("/home/u", 1000, 100);
        let a = build(&img);
        let b = build(&img.clone());
        assert_eq!(a, b);
        let e = cpio::parse(&a).unwrap();
        assert_eq!((e[2].header.uid, e[2].header.gid), (1000, 100));
        assert_eq!((e[0].header.uid, e[0].header.gid), (0, 0));
        for c in [Compression::GZIP, Compression::Zstd { level: 3 }] {
            let mut x = Vec::new();
            let mut y = Vec::new();
            img.write_to(&mut x, c).unwrap();
            img.write_to(&mut y, c).unwrap();
            assert_eq!(x, y);
            assert_eq!(cpio::parse(&x).unwrap(), e);
        }
    }

    #[test]
    fn host_tree_and_host_paths() {
        let t = TempDir::new("image-tree");
        let r = t.path();
        fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs::create_dir_all(r.join("usr/lib64")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("usr/lib64", r.join("lib64")).unwrap();
        fs::write(r.join("usr/lib/x86_64-linux-gnu/ld.so"), b"LD").unwrap();
        fs::write(r.join("usr/lib/x86_64-linux-gnu/libc.so.6"), b"LIBC").unwrap();
        symlink("/lib/x86_64-linux-gnu/ld.so", r.join("usr/lib64/ld.so")).unwrap();

        // Nothing in the image yet: the links are reproduced.
        let mut img = Image::new();
        img.add_host_path(r, "/lib64/ld.so").unwrap();
        img.add_host_path(r, "/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert_eq!(
            names(&img),
            [
                "/lib",
                "/lib64",
                "/usr",
                "/usr/lib",
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu/ld.so",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/usr/lib64",
                "/usr/lib64/ld.so"
            ]
        );
        assert_eq!(img.get("/lib").unwrap().kind, Kind::Symlink(b"usr/lib".to_vec()));
        // modules added afterwards go through /lib -> usr/lib
        img.file_bytes("/lib/modules/v/modules.dep", "", 0o644);
        assert!(img.get("/usr/lib/modules/v/modules.dep").is_some());

        // A real /lib already in the image: kept, the files go below it.
        let mut img = Image::new();
        img.dir("/lib/modules", 0o755);
        img.add_host_path(r, "/lib64/ld.so").unwrap();
        img.add_host_path(r, "/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert_eq!(img.get("/lib").unwrap().kind, Kind::Dir);
        assert_eq!(
            img.get("/lib/x86_64-linux-gnu/ld.so").unwrap().kind,
            Kind::File(Source::Host(r.join("usr/lib/x86_64-linux-gnu/ld.so")))
        );
        assert!(img.get("/lib/x86_64-linux-gnu/libc.so.6").is_some());
        assert_eq!(
            img.get("/usr/lib64/ld.so").unwrap().kind,
            Kind::Symlink(b"/lib/x86_64-linux-gnu/ld.so".to_vec())
        );
        img.check().unwrap();

        // add_tree: everything as it is, sorted, owners 0:0
        let mut img = Image::new();
        img.add_tree(r, "/").unwrap();
        assert_eq!(img.get("/lib").unwrap().kind, Kind::Symlink(b"usr/lib".to_vec()));
        assert_eq!(
            img.get("/usr/lib/x86_64-linux-gnu/libc.so.6").unwrap().mode & 0o777,
            fs::metadata(r.join("usr/lib/x86_64-linux-gnu/libc.so.6"))
                .unwrap()
                .mode()
                & 0o777
        );
        let mut img2 = Image::new();
        img2.add_tree(r, "/sysroot").unwrap();
        assert!(img2.get("/sysroot/usr/lib64/ld.so").is_some());
        let e = cpio::parse(&build(&img)).unwrap();
        let libc = e
            .iter()
            .find(|e| e.name == b"usr/lib/x86_64-linux-gnu/libc.so.6")
            .unwrap();
        assert_eq!(libc.data, b"LIBC");
        assert_eq!((libc.header.uid, libc.header.gid), (0, 0));
    }
}
