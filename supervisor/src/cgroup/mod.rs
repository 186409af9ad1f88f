//! keel's cgroup2 layer: the table of container cgroups.
//!
//! keel never assumes `/sys/fs/cgroup`: it finds the cgroup2 mount in
//! `/proc/self/mountinfo` that holds its own cgroup (`0::PATH` in
//! `/proc/self/cgroup`), and checks with statfs that the mount point is
//! cgroup2 (implementation-notes §1.4).
//!
//! The *table* is the directory that holds keel's cgroups:
//!
//! ```text
//! boot mode        <mount>/                 <- table (the hierarchy root)
//!                  <mount>/keel             <- keel itself (leaf)
//!                  <mount>/<container>      <- one per container
//! supervisor mode  <mount><own>/keel-<pid>/ <- table; <own> is where keel started
//!                  <mount><own>/keel-<pid>/keel
//!                  <mount><own>/keel-<pid>/<container>
//! ```
//!
//! `<pid>` is keel's pid as /proc (normally the host's) shows it, so keels
//! in pid namespaces of their own, each pid 1 there, still get distinct
//! tables. keel moves itself into the leaf `keel` before it enables
//! controllers in the table's `cgroup.subtree_control` (the
//! no-internal-process rule). `keel` can never be a container name
//! ([`crate::spec::valid_name`]).
//!
//! Every container gets a cgroup, with or without limits: keel places the
//! container's init there with `clone3(CLONE_INTO_CGROUP)` (the fd from
//! [`Cgroup2::create`]), kills the whole container with `cgroup.kill`, and
//! learns that it is empty from `cgroup.events` — see
//! [`Cgroup2::open_events`] for how that is waited for without polling.
//!
//! Everything here is fd-relative (openat/mkdirat/unlinkat on the table's
//! directory fd); paths are kept only to write error messages. The parsers
//! of what the kernel writes are pure and total: [`mountinfo`],
//! [`proc_cgroup`], [`iface`]; the limit files' contents come from
//! [`limits`].

// An Error carries its rendered line (about 530 bytes) so that it can say
// what, where and why without an allocator; it only travels on error paths.
#![allow(clippy::result_large_err)]

pub mod iface;
pub mod limits;
pub mod mountinfo;
pub mod proc_cgroup;

use crate::spec::{valid_name, CgroupLimits};
use core::ffi::CStr;
use core::mem::MaybeUninit;
use keel_rt::line::Line;
use keel_rt::path::{CBuf, PathBuf};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, CWD};
use rustix::io::Errno;

/// The name of keel's own leaf cgroup in the table.
pub const LEAF: &[u8] = b"keel";

/// statfs f_type of cgroup2.
const CGROUP2_SUPER_MAGIC: u64 = linux_raw_sys::general::CGROUP2_SUPER_MAGIC as u64;

/// Bounds of [`Cgroup2::remove`]'s walk of a container's own sub-cgroups.
const MAX_DEPTH: usize = 64;
const MAX_REMOVALS: usize = 4096;

/// A name plus an interface file, relative to the table: `web/cgroup.events`.
type Rel = CBuf<160>;
/// A directory entry name.
type Name = CBuf<256>;

// ------------------------------------------------------------------ errors

/// What kind of failure an [`Error`] is, for callers that act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A system call failed; [`Error::errno`] says which errno.
    Sys,
    /// No usable cgroup2 mount, or keel's own cgroup is not in one.
    NoCgroup2,
    /// A limit needs a controller the container's cgroup does not have.
    NoController,
    /// `create`: a cgroup of that name exists and still has processes.
    Populated,
    /// `remove`: the cgroup (or one below it) still has processes (EBUSY).
    Busy,
    /// Not a valid container name (spec::valid_name).
    BadName,
}

/// A failure, rendered once when it happens: what, where, why. The message
/// starts with `cgroup `; callers prefix it (`keel: container web: `).
pub struct Error {
    kind: ErrorKind,
    errno: Option<Errno>,
    msg: Line,
}

impl Error {
    fn new(kind: ErrorKind, errno: Option<Errno>) -> Self {
        let mut msg = Line::new();
        msg.str("cgroup ");
        Error { kind, errno, msg }
    }

    /// `cgroup OP PATH…: ERRNO` plus ` (WHY)` if `why` is not empty.
    fn sys(e: Errno, op: &str, path: &[&[u8]], why: &str) -> Self {
        let kind = if e == Errno::BUSY {
            ErrorKind::Busy
        } else {
            ErrorKind::Sys
        };
        let mut err = Error::new(kind, Some(e));
        err.msg.str(op).str(" ");
        for p in path {
            err.msg.bytes(p);
        }
        err.msg.str(": ").errno(e);
        if !why.is_empty() {
            err.msg.str(" (").str(why).str(")");
        }
        err
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// The message, e.g. `cgroup memory.max: memory controller not
    /// available in cgroup2 at /sys/fs/cgroup/unified`.
    pub fn as_bytes(&self) -> &[u8] {
        self.msg.as_bytes()
    }

    /// Appends the message to `l`.
    pub fn render(&self, l: &mut Line) {
        l.bytes(self.msg.as_bytes());
    }
}

impl keel_rt::Piece for Error {
    fn put(&self, l: &mut Line) {
        self.render(l);
    }
}

impl core::fmt::Debug for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for c in self.msg.as_bytes().utf8_chunks() {
            f.write_str(c.valid())?;
            for b in c.invalid() {
                f.write_str("\\x")?;
                let mut h = [0u8; 16];
                f.write_str(core::str::from_utf8(keel_rt::line::hex(u64::from(*b), &mut h)).unwrap_or("?"))?;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------ small helpers

fn open_dir_at<Fd: AsFd>(dir: Fd, rel: &CStr) -> Result<OwnedFd, Errno> {
    retry(|| {
        rustix::fs::openat(
            &dir,
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    })
}

fn write_at<Fd: AsFd>(dir: Fd, rel: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = retry(|| rustix::fs::openat(&dir, rel, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()))?;
    keel_rt::fs::write_all(&fd, data)
}

fn read_at<Fd: AsFd>(dir: Fd, rel: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = retry(|| keel_rt::fs::open_read(&dir, rel))?;
    keel_rt::fs::read_fd_into(&fd, buf)
}

fn retry<T>(mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            r => return r,
        }
    }
}

/// `a/b` relative path, or ENAMETOOLONG.
fn rel(name: &[u8], file: &[u8]) -> Rel {
    let mut r = Rel::from(name);
    r.push(b"/").push(file);
    r
}

/// Calls `f` on each line of `fd` (without the newline) until it returns
/// true. Lines longer than `buf` are skipped whole.
fn scan_lines<Fd: AsFd>(fd: Fd, buf: &mut [u8], mut f: impl FnMut(&[u8]) -> bool) -> Result<(), Errno> {
    let (mut start, mut end, mut skipping) = (0usize, 0usize, false);
    loop {
        if start > 0 {
            // start <= end <= buf.len() always holds; the test keeps
            // copy_within from ever panicking if it did not.
            if start <= end && end <= buf.len() {
                buf.copy_within(start..end, 0);
                end -= start;
            } else {
                end = 0;
            }
            start = 0;
        }
        if end == buf.len() {
            // One line fills the buffer: drop it up to its newline.
            skipping = true;
            end = 0;
        }
        let n = match rustix::io::read(&fd, buf.get_mut(end..).unwrap_or(&mut [])) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if end > start && !skipping {
                f(buf.get(start..end).unwrap_or(&[]));
            }
            return Ok(());
        }
        end += n;
        while let Some(pos) = buf.get(start..end).and_then(|b| b.iter().position(|&c| c == b'\n')) {
            let line = buf.get(start..start + pos).unwrap_or(&[]);
            if skipping {
                skipping = false;
            } else if f(line) {
                return Ok(());
            }
            start += pos + 1;
        }
    }
}

/// keel's pid as /proc shows it (the host's pid when /proc is the host's,
/// even inside a pid namespace of keel's own), else getpid().
fn table_id() -> u64 {
    let mut b = [0u8; 24];
    if let Ok(n) = rustix::fs::readlinkat_raw(CWD, c"/proc/self", &mut b[..]) {
        let digits = b.get(..n).unwrap_or(&[]);
        if !digits.is_empty() && digits.len() < 20 && digits.iter().all(u8::is_ascii_digit) {
            return digits.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        }
    }
    rustix::process::getpid().as_raw_nonzero().get() as u64
}

/// Reads `cgroup.events` at offset 0 and returns its `populated` value.
fn read_populated<Fd: AsFd>(fd: Fd) -> Result<bool, Errno> {
    let mut buf = [0u8; 128];
    let n = retry(|| rustix::io::pread(&fd, &mut buf[..], 0))?;
    iface::populated(buf.get(..n).unwrap_or(&[])).ok_or(Errno::INVAL)
}

/// Finds one subdirectory of `dir` (a fresh fd: RawDir reads from its
/// offset). `.`/`..` excluded.
fn first_subdir(dir: BorrowedFd<'_>, out: &mut Name) -> Result<bool, Errno> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut it = RawDir::new(dir, &mut buf);
    while let Some(ent) = it.next() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if ent.file_type() == FileType::Directory && n != b"." && n != b".." {
            *out = Name::from(n);
            return Ok(true);
        }
    }
    Ok(false)
}

/// Re-reads a `cgroup.events` fd from [`Cgroup2::open_events`] (pread at
/// offset 0, which also re-arms its EPOLLPRI) and returns `populated`.
pub fn populated<Fd: AsFd>(events: Fd) -> Result<bool, Error> {
    read_populated(events).map_err(|e| {
        Error::sys(
            e,
            "read",
            &[b"cgroup.events"],
            if e == Errno::INVAL { "no populated line" } else { "" },
        )
    })
}

// ---------------------------------------------------------------- Cgroup2

/// keel's cgroup table (see the module documentation).
pub struct Cgroup2 {
    /// The table's path; `path[..mount_len]` is the mount point. For
    /// messages only.
    path: PathBuf,
    mount_len: usize,
    /// The mount point's directory (the hierarchy as keel sees it).
    mount: OwnedFd,
    /// The table's directory: every operation is relative to it.
    table: OwnedFd,
    /// Supervisor mode: the cgroup keel started in, which holds the table
    /// `table_name`; teardown moves keel back there.
    origin: Option<OwnedFd>,
    table_name: CBuf<48>,
    /// keel has moved itself into `<table>/keel` (see [`Cgroup2::delegate`]).
    in_leaf: core::cell::Cell<bool>,
}

impl Cgroup2 {
    /// Sets up the table. Boot mode: the table is the cgroup2 mount itself.
    /// Supervisor mode: a new `keel-<pid>` below the cgroup keel runs in (an
    /// unpopulated leftover of that name, from a keel that died, is reused).
    /// Then every controller listed in the table's `cgroup.controllers` is
    /// enabled in its `cgroup.subtree_control`, one by one; a refusal is
    /// logged, not fatal.
    ///
    /// keel does not move itself here: moving a running process between
    /// cgroups takes the cgroup threadgroup lock for writing, an RCU grace
    /// period (14 ms measured on these machines, twice: in and back out).
    /// It is only needed to free keel's own cgroup for delegation, so it is
    /// done the first time a container asks for a controller the table
    /// lacks ([`Cgroup2::delegate`]). The root cgroup (boot mode) is exempt
    /// from the no-internal-process rule and never needs it.
    pub fn setup(mode_boot: bool) -> Result<Cgroup2, Error> {
        let mut buf = [0u8; 4096];

        // 1. keel's cgroup2 path.
        let mut own = PathBuf::new();
        let mut line0 = false;
        let fd = keel_rt::fs::open_read(CWD, c"/proc/self/cgroup")
            .map_err(|e| Error::sys(e, "read", &[b"/proc/self/cgroup"], ""))?;
        scan_lines(&fd, &mut buf, |l| {
            if !l.starts_with(b"0::") {
                return false;
            }
            line0 = true;
            if let Some(p) = proc_cgroup::own_path(l) {
                own.push(p);
            }
            true
        })
        .map_err(|e| Error::sys(e, "read", &[b"/proc/self/cgroup"], ""))?;
        drop(fd);
        if own.is_empty() || own.overflowed() {
            let mut err = Error::new(ErrorKind::NoCgroup2, None);
            if line0 {
                err.msg.str(
                    "path of keel in /proc/self/cgroup is unusable (outside keel's cgroup namespace, or too long)",
                );
            } else {
                err.msg.str("hierarchy missing: no 0:: line in /proc/self/cgroup");
            }
            return Err(err);
        }

        // 2. The first cgroup2 mount that holds it.
        let mut point = PathBuf::new();
        let mut rel = PathBuf::new();
        let mut seen = false;
        let fd = keel_rt::fs::open_read(CWD, c"/proc/self/mountinfo")
            .map_err(|e| Error::sys(e, "read", &[b"/proc/self/mountinfo"], ""))?;
        scan_lines(&fd, &mut buf, |l| {
            let Some(m) = mountinfo::parse_line(l) else {
                return false;
            };
            if m.fstype != b"cgroup2" {
                return false;
            }
            seen = true;
            let mut root = PathBuf::new();
            mountinfo::unescape(m.root, &mut root);
            let Some(r) = proc_cgroup::strip_root(root.as_bytes(), own.as_bytes()) else {
                return false;
            };
            let mut p = PathBuf::new();
            mountinfo::unescape(m.point, &mut p);
            if p.as_cstr().is_err() {
                return false;
            }
            point = p;
            rel = PathBuf::from(r);
            true
        })
        .map_err(|e| Error::sys(e, "read", &[b"/proc/self/mountinfo"], ""))?;
        drop(fd);
        if point.is_empty() {
            let mut err = Error::new(ErrorKind::NoCgroup2, None);
            if seen {
                err.msg
                    .str("hierarchy: keel's cgroup ")
                    .bytes(own.as_bytes())
                    .str(" is below no cgroup2 mount in /proc/self/mountinfo");
            } else {
                err.msg
                    .str("hierarchy missing: no cgroup2 mount in /proc/self/mountinfo");
            }
            return Err(err);
        }
        let point_c = point
            .as_cstr()
            .map_err(|e| Error::sys(e, "open", &[point.as_bytes()], ""))?;
        let mount = open_dir_at(CWD, point_c).map_err(|e| Error::sys(e, "open", &[point.as_bytes()], ""))?;
        match rustix::fs::fstatfs(&mount) {
            Ok(s) if s.f_type as u64 == CGROUP2_SUPER_MAGIC => {}
            Ok(_) => {
                let mut err = Error::new(ErrorKind::NoCgroup2, None);
                err.msg
                    .str("mount ")
                    .bytes(point.as_bytes())
                    .str(": not a cgroup2 filesystem (hidden by a later mount?)");
                return Err(err);
            }
            Err(e) => return Err(Error::sys(e, "statfs", &[point.as_bytes()], "")),
        }

        // 3. The table.
        let mut path = point.clone();
        let mount_len = path.len();
        let (table, origin, table_name) = if mode_boot {
            let t = open_dir_at(&mount, c".").map_err(|e| Error::sys(e, "open", &[path.as_bytes()], ""))?;
            (t, None, CBuf::new())
        } else {
            if !rel.is_empty() {
                path.join(rel.as_bytes());
            }
            let origin = match path.as_cstr() {
                Ok(p) => open_dir_at(CWD, p),
                Err(e) => Err(e),
            }
            .map_err(|e| Error::sys(e, "open", &[path.as_bytes()], "keel's own cgroup"))?;
            let (t, name) = Self::make_table(&origin, &path)?;
            path.join(name.as_bytes());
            (t, Some(origin), name)
        };
        if path.overflowed() {
            return Err(Error::sys(
                Errno::NAMETOOLONG,
                "table",
                &[point.as_bytes(), rel.as_bytes()],
                "",
            ));
        }
        let cg = Cgroup2 {
            path,
            mount_len,
            mount,
            table,
            origin,
            table_name,
            in_leaf: core::cell::Cell::new(false),
        };

        // 4. The controllers keel's cgroup already hands down.
        cg.enable_controllers(&mut buf);
        Ok(cg)
    }

    /// Makes (or reuses, if unpopulated) `keel-<id>` in `origin`.
    fn make_table(origin: &OwnedFd, origin_path: &PathBuf) -> Result<(OwnedFd, CBuf<48>), Error> {
        let id = table_id();
        let mut last = Errno::EXIST;
        for attempt in 0u64..8 {
            let mut name = CBuf::<48>::from(b"keel-");
            name.push_u64(id);
            if attempt > 0 {
                name.push(b"-").push_u64(attempt);
            }
            let Ok(c) = name.as_cstr() else { continue };
            match retry(|| rustix::fs::mkdirat(origin, c, Mode::from_raw_mode(0o755))) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    // A leftover of a keel that died with this pid, or a live
                    // keel (same pid in another pid namespace with its own
                    // /proc): reuse only what nobody is in.
                    let events = rel(name.as_bytes(), b"cgroup.events");
                    let busy = match events.as_cstr() {
                        Ok(ev) => retry(|| keel_rt::fs::open_read(origin, ev)).and_then(read_populated),
                        Err(e) => Err(e),
                    };
                    if busy != Ok(false) {
                        continue;
                    }
                    keel_rt::notice!(
                        "keel: cgroup: reusing the empty ",
                        origin_path.as_bytes(),
                        "/",
                        name.as_bytes(),
                        " left by an earlier keel"
                    );
                }
                Err(e) => {
                    last = e;
                    break;
                }
            }
            let t = open_dir_at(origin, c)
                .map_err(|e| Error::sys(e, "open", &[origin_path.as_bytes(), b"/", name.as_bytes()], ""))?;
            return Ok((t, name));
        }
        let mut id_buf = CBuf::<48>::from(b"/keel-");
        id_buf.push_u64(id);
        Err(Error::sys(
            last,
            "mkdir",
            &[origin_path.as_bytes(), id_buf.as_bytes()],
            if last == Errno::EXIST {
                "every candidate name is in use by a live cgroup"
            } else {
                ""
            },
        ))
    }

    /// Delegation, the first time a limit needs a controller the table
    /// lacks (supervisor mode): keel leaves its own cgroup for the leaf
    /// `<table>/keel` so that its own cgroup may enable controllers in its
    /// `cgroup.subtree_control` (the no-internal-process rule), enables
    /// there every controller it has, then in the table. Refusals (other
    /// processes still in keel's cgroup: EBUSY) are logged; the caller then
    /// reports the controller as missing.
    fn delegate(&self) {
        let Some(origin) = &self.origin else { return };
        if self.in_leaf.get() {
            return;
        }
        if let Err(e) = self.enter_leaf() {
            keel_rt::warn!("keel: ", e);
            return;
        }
        self.in_leaf.set(true);
        let mut buf = [0u8; 512];
        let n = read_at(origin, c"cgroup.controllers", &mut buf).unwrap_or(0);
        let list = buf.get(..n).unwrap_or(&[]);
        for c in iface::controllers(list) {
            let mut w = CBuf::<64>::from(b"+");
            w.push(c);
            if w.overflowed() {
                continue;
            }
            if let Err(e) = write_at(origin, c"cgroup.subtree_control", w.as_bytes()) {
                keel_rt::warn!("keel: cgroup: enabling ", c, " for keel's table: ", e);
            }
        }
        self.enable_controllers(&mut buf);
    }

    fn enter_leaf(&self) -> Result<(), Error> {
        match retry(|| rustix::fs::mkdirat(&self.table, c"keel", Mode::from_raw_mode(0o755))) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::sys(e, "mkdir", &[self.path.as_bytes(), b"/keel"], "")),
        }
        // "0" is the writing process; cgroup.procs moves its whole thread group.
        write_at(&self.table, c"keel/cgroup.procs", b"0")
            .map_err(|e| Error::sys(e, "move keel into", &[self.path.as_bytes(), b"/keel"], ""))
    }

    fn enable_controllers(&self, buf: &mut [u8]) {
        let n = match read_at(&self.table, c"cgroup.controllers", buf) {
            Ok(n) => n,
            Err(e) => {
                keel_rt::warn!(
                    "keel: cgroup read ",
                    self.path.as_bytes(),
                    "/cgroup.controllers: ",
                    e,
                    " (no controllers enabled)"
                );
                return;
            }
        };
        let list = buf.get(..n).unwrap_or(&[]);
        let ctl = match retry(|| {
            rustix::fs::openat(
                &self.table,
                c"cgroup.subtree_control",
                OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        }) {
            Ok(fd) => fd,
            Err(e) => {
                keel_rt::warn!(
                    "keel: cgroup open ",
                    self.path.as_bytes(),
                    "/cgroup.subtree_control: ",
                    e,
                    " (no controllers enabled)"
                );
                return;
            }
        };
        for c in iface::controllers(list) {
            let mut w = CBuf::<64>::from(b"+");
            w.push(c);
            if w.overflowed() {
                continue;
            }
            // One write per controller: the kernel applies a write whole,
            // so one refusal must not take the others with it.
            if let Err(e) = keel_rt::fs::write_all(&ctl, w.as_bytes()) {
                keel_rt::warn!(
                    "keel: cgroup enable ",
                    c,
                    " in ",
                    self.path.as_bytes(),
                    "/cgroup.subtree_control: ",
                    e,
                    " (limits on this controller will fail)"
                );
            }
        }
    }

    /// The table's path (for messages and tests).
    pub fn path(&self) -> &[u8] {
        self.path.as_bytes()
    }

    /// The table's cgroup path inside the hierarchy (`/` in boot mode,
    /// `/…/keel-PID` in supervisor mode), as /proc/PID/cgroup shows paths
    /// to keel.
    pub fn table_rel(&self) -> &[u8] {
        match self.path.as_bytes().get(self.mount_len..) {
            Some(r) if !r.is_empty() => r,
            _ => b"/",
        }
    }

    /// The cgroup2 mount point.
    pub fn mount_point(&self) -> &[u8] {
        self.path.as_bytes().get(..self.mount_len).unwrap_or(&[])
    }

    /// The table's directory fd.
    pub fn table_fd(&self) -> BorrowedFd<'_> {
        self.table.as_fd()
    }

    fn name_c(&self, name: &[u8]) -> Result<CBuf<80>, Error> {
        let c = CBuf::<80>::from(name);
        if !valid_name(name) || c.as_cstr().is_err() {
            let mut err = Error::new(ErrorKind::BadName, None);
            err.msg
                .str("name ")
                .bytes(name)
                .str(" in ")
                .bytes(self.path.as_bytes())
                .str(": not a valid container name");
            return Err(err);
        }
        Ok(c)
    }

    /// Opens `<name>/<file>` relative to the table.
    fn rel_c(&self, name: &[u8], file: &[u8]) -> Result<Rel, Error> {
        self.name_c(name)?;
        let r = rel(name, file);
        r.as_cstr()
            .map_err(|e| Error::sys(e, "open", &[self.path.as_bytes(), b"/", name, b"/", file], ""))?;
        Ok(r)
    }

    /// Makes the container's cgroup `<table>/<name>` and returns its
    /// directory fd, for `clone3(CLONE_INTO_CGROUP)` (an O_PATH fd would
    /// not do: the kernel wants a real open directory). A cgroup of that
    /// name that already exists is emptied of limits by being made anew if
    /// it has no processes (it is a leftover: its old limits must not leak
    /// into the new spec); if it has processes, this fails with
    /// [`ErrorKind::Populated`].
    pub fn create(&self, name: &[u8]) -> Result<OwnedFd, Error> {
        let c = self.name_c(name)?;
        let cs = c
            .as_cstr()
            .map_err(|e| Error::sys(e, "mkdir", &[self.path.as_bytes(), b"/", name], ""))?;
        let mkdir = || retry(|| rustix::fs::mkdirat(&self.table, cs, Mode::from_raw_mode(0o755)));
        match mkdir() {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                let fd = self.open_events(name)?;
                if Self::populated(&fd)? {
                    let mut err = Error::new(ErrorKind::Populated, Some(Errno::EXIST));
                    err.msg
                        .str("mkdir ")
                        .bytes(self.path.as_bytes())
                        .str("/")
                        .bytes(name)
                        .str(": EEXIST (a cgroup of that name still has processes)");
                    return Err(err);
                }
                self.remove(name)?;
                mkdir().map_err(|e| Error::sys(e, "mkdir", &[self.path.as_bytes(), b"/", name], ""))?;
            }
            Err(e) => return Err(Error::sys(e, "mkdir", &[self.path.as_bytes(), b"/", name], "")),
        }
        self.open(name)
    }

    /// Opens the existing cgroup `<table>/<name>` (e.g. to adopt a running
    /// container after keel re-executed itself).
    pub fn open(&self, name: &[u8]) -> Result<OwnedFd, Error> {
        let c = self.name_c(name)?;
        let r = c.as_cstr().and_then(|cs| open_dir_at(&self.table, cs));
        r.map_err(|e| Error::sys(e, "open", &[self.path.as_bytes(), b"/", name], ""))
    }

    /// Writes the container's limits. Every limit's controller is checked
    /// first (nothing is written unless all are available); a missing one
    /// fails with [`ErrorKind::NoController`] and a line such as
    /// `cgroup memory.max: memory controller not available in cgroup2 at
    /// /sys/fs/cgroup/unified`.
    pub fn apply_limits(&self, name: &[u8], l: &CgroupLimits) -> Result<(), Error> {
        let writes = limits::writes(l);
        if writes.is_empty() {
            return Ok(());
        }
        let mut buf = [0u8; 512];
        let r = self.rel_c(name, b"cgroup.controllers")?;
        let n = r
            .as_cstr()
            .and_then(|c| read_at(&self.table, c, &mut buf))
            .map_err(|e| Error::sys(e, "read", &[self.path.as_bytes(), b"/", r.as_bytes()], ""))?;
        let mut have = buf.get(..n).unwrap_or(&[]);
        if writes.iter().any(|w| !iface::listed(have, w.controller.as_bytes()))
            && !self.in_leaf.get()
            && self.origin.is_some()
        {
            self.delegate();
            let n = r.as_cstr().and_then(|c| read_at(&self.table, c, &mut buf)).unwrap_or(0);
            have = buf.get(..n).unwrap_or(&[]);
        }
        for w in writes.iter() {
            if !iface::listed(have, w.controller.as_bytes()) {
                return Err(self.missing_controller(w));
            }
        }
        for w in writes.iter() {
            let r = self.rel_c(name, w.file_name())?;
            r.as_cstr()
                .and_then(|c| write_at(&self.table, c, w.value()))
                .map_err(|e| {
                    let mut err = Error::sys(
                        e,
                        "write",
                        &[w.value(), b" to ", self.path.as_bytes(), b"/", r.as_bytes()],
                        "",
                    );
                    if e == Errno::INVAL {
                        err.msg.str(" (value out of range)");
                    }
                    err
                })?;
        }
        Ok(())
    }

    /// Why `w.controller` is missing: not in the hierarchy at all, not
    /// delegated to the table, or refused in the table's subtree_control.
    fn missing_controller(&self, w: &limits::LimitWrite) -> Error {
        let mut buf = [0u8; 512];
        let ctl = w.controller.as_bytes();
        let listed_at = |dir: &OwnedFd, buf: &mut [u8]| {
            read_at(dir, c"cgroup.controllers", buf)
                .map(|n| iface::listed(buf.get(..n).unwrap_or(&[]), ctl))
                .unwrap_or(false)
        };
        let mut err = Error::new(ErrorKind::NoController, None);
        err.msg
            .bytes(w.file_name())
            .str(": ")
            .str(w.controller)
            .str(" controller ");
        if !listed_at(&self.mount, &mut buf) {
            err.msg.str("not available in cgroup2 at ").bytes(self.mount_point());
        } else if !listed_at(&self.table, &mut buf) {
            err.msg
                .str("not delegated to ")
                .bytes(self.path.as_bytes())
                .str(" (enable it in its parent's cgroup.subtree_control)");
        } else {
            err.msg
                .str("not enabled in ")
                .bytes(self.path.as_bytes())
                .str("/cgroup.subtree_control (refused at start: see keel's log)");
        }
        err
    }

    /// Opens `<name>/cgroup.events` for the event loop.
    ///
    /// How to wait on it: cgroup interface files are kernfs files; when
    /// `populated` (or `frozen`) changes, the kernel calls kernfs_notify,
    /// which wakes pollers of the file and raises the file's event count.
    /// kernfs_generic_poll always reports EPOLLIN|EPOLLOUT (so those must
    /// not be asked for) and adds EPOLLPRI|EPOLLERR while the count differs
    /// from the one this open file saw at its last read. So: add the fd to
    /// epoll with `EPOLLPRI` only (EPOLLERR is always reported), then read
    /// with [`Cgroup2::populated`]; on each wake-up read it again — the read
    /// is what re-arms it (level-triggered otherwise), and its value, not
    /// the wake-up, is the truth. Reading after adding the fd closes the
    /// race with a change in between. `populated` counts the whole subtree
    /// (zombies do not count: a task leaves its cgroup when it exits, not
    /// when it is reaped), and the kernel may delay a notification by a few
    /// milliseconds (cgroup_file_notify's rate limit), never drop it. Once
    /// the cgroup is removed, poll reports EPOLLERR|EPOLLPRI forever: take
    /// the fd out of epoll (or close it) before [`Cgroup2::remove`].
    pub fn open_events(&self, name: &[u8]) -> Result<OwnedFd, Error> {
        let r = self.rel_c(name, b"cgroup.events")?;
        r.as_cstr()
            .and_then(|c| retry(|| keel_rt::fs::open_read(&self.table, c)))
            .map_err(|e| Error::sys(e, "open", &[self.path.as_bytes(), b"/", r.as_bytes()], ""))
    }

    /// Re-reads an events fd (pread at 0) and returns its `populated`
    /// (the same as the free function [`populated`]).
    pub fn populated<Fd: AsFd>(events: Fd) -> Result<bool, Error> {
        populated(events)
    }

    /// Kills every process in `<name>` and below (`cgroup.kill`, Linux ≥
    /// 5.14). The end shows on cgroup.events as `populated 0`.
    pub fn kill(&self, name: &[u8]) -> Result<(), Error> {
        let r = self.rel_c(name, b"cgroup.kill")?;
        r.as_cstr().and_then(|c| write_at(&self.table, c, b"1")).map_err(|e| {
            let why = if e == Errno::NOENT {
                "no such cgroup, or a kernel before 5.14 without cgroup.kill"
            } else {
                ""
            };
            Error::sys(e, "write 1 to", &[self.path.as_bytes(), b"/", r.as_bytes()], why)
        })
    }

    /// Moves process `pid` into `<name>` (the fallback when clone3 with
    /// CLONE_INTO_CGROUP is refused, implementation-notes §1.10).
    pub fn place(&self, name: &[u8], pid: i32) -> Result<(), Error> {
        let r = self.rel_c(name, b"cgroup.procs")?;
        let mut v = CBuf::<24>::new();
        v.push_i64(i64::from(pid));
        r.as_cstr()
            .and_then(|c| write_at(&self.table, c, v.as_bytes()))
            .map_err(|e| {
                Error::sys(
                    e,
                    "write",
                    &[v.as_bytes(), b" to ", self.path.as_bytes(), b"/", r.as_bytes()],
                    "",
                )
            })
    }

    /// Removes `<name>` and every cgroup the container made below it,
    /// deepest first. Fails with [`ErrorKind::Busy`] (EBUSY) while any of
    /// them has processes: retry when cgroup.events says `populated 0`.
    /// A cgroup that is already gone is not an error.
    pub fn remove(&self, name: &[u8]) -> Result<(), Error> {
        let c = self.name_c(name)?;
        Self::remove_tree_impl(&self.table, self.path.as_bytes(), &c)
    }

    /// Bottom-up rmdir of `parent/name` with constant memory: descend along
    /// the first subdirectory to a cgroup without children, remove it,
    /// start again from the top.
    /// `base` is `parent`'s path, for messages.
    fn remove_tree_impl(parent: &OwnedFd, base: &[u8], c: &CBuf<80>) -> Result<(), Error> {
        let shown = c.as_bytes();
        let fail = |e: Errno, below: &[u8]| {
            let why = match e {
                Errno::BUSY => "still populated",
                Errno::NOTEMPTY => "it has child cgroups",
                _ => "",
            };
            let sep: &[u8] = if below.is_empty() { b"" } else { b"/" };
            Error::sys(e, "rmdir", &[base, b"/", shown, sep, below], why)
        };
        let cs = c.as_cstr().map_err(|e| fail(e, b""))?;
        // Usually there is nothing below: one rmdir. (Listing a cgroup that
        // has just been emptied can wait milliseconds on its release.)
        match retry(|| rustix::fs::unlinkat(parent, cs, AtFlags::REMOVEDIR)) {
            Ok(()) | Err(Errno::NOENT) => return Ok(()),
            Err(Errno::BUSY) | Err(Errno::NOTEMPTY) => {}
            Err(e) => return Err(fail(e, b"")),
        }
        let mut below = Name::new();
        for _ in 0..MAX_REMOVALS {
            let mut dir = match open_dir_at(parent, cs) {
                Ok(d) => d,
                Err(Errno::NOENT) => return Ok(()),
                Err(e) => return Err(fail(e, b"")),
            };
            let mut up: Option<OwnedFd> = None;
            let mut depth = 0;
            let mut child = Name::new();
            while first_subdir(dir.as_fd(), &mut child).map_err(|e| fail(e, b""))? {
                if depth >= MAX_DEPTH {
                    return Err(fail(Errno::LOOP, child.as_bytes()));
                }
                let cc = child.as_cstr().map_err(|e| fail(e, child.as_bytes()))?;
                let next = open_dir_at(&dir, cc).map_err(|e| fail(e, child.as_bytes()))?;
                up = Some(core::mem::replace(&mut dir, next));
                below = child.clone();
                depth += 1;
            }
            let Some(up) = up else {
                return match retry(|| rustix::fs::unlinkat(parent, cs, AtFlags::REMOVEDIR)) {
                    Ok(()) | Err(Errno::NOENT) => Ok(()),
                    Err(e) => Err(fail(e, b"")),
                };
            };
            let bc = below.as_cstr().map_err(|e| fail(e, below.as_bytes()))?;
            match retry(|| rustix::fs::unlinkat(&up, bc, AtFlags::REMOVEDIR)) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(fail(e, below.as_bytes())),
            }
        }
        Err(fail(Errno::MLINK, b""))
    }

    /// Lists the pids in `<name>` (not below it) into `out`. Returns how
    /// many the cgroup holds; if that is more than `out.len()`, only the
    /// first `out.len()` were stored.
    pub fn procs(&self, name: &[u8], out: &mut [i32]) -> Result<usize, Error> {
        let r = self.rel_c(name, b"cgroup.procs")?;
        self.procs_at(&r, out)
    }

    /// Lists the pids in keel's own leaf (keel and whatever it forked
    /// without placing elsewhere, orphans adopted by a subreaper keel
    /// included) — as for [`Cgroup2::procs`].
    pub fn leaf_procs(&self, out: &mut [i32]) -> Result<usize, Error> {
        self.procs_at(&Rel::from(b"keel/cgroup.procs"), out)
    }

    fn procs_at(&self, r: &Rel, out: &mut [i32]) -> Result<usize, Error> {
        let fail = |e| Error::sys(e, "read", &[self.path.as_bytes(), b"/", r.as_bytes()], "");
        let fd = r
            .as_cstr()
            .and_then(|c| retry(|| keel_rt::fs::open_read(&self.table, c)))
            .map_err(fail)?;
        let mut buf = [0u8; 1024];
        let mut total = 0usize;
        let mut p = iface::Pids::new();
        let mut store = |pid: i32| {
            if let Some(slot) = out.get_mut(total) {
                *slot = pid;
            }
            total += 1;
        };
        loop {
            match rustix::io::read(&fd, &mut buf[..]) {
                Ok(0) => break,
                Ok(n) => p.feed(buf.get(..n).unwrap_or(&[]), &mut store),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(fail(e)),
            }
        }
        p.finish(&mut store);
        Ok(total)
    }

    /// Supervisor mode: moves keel back to the cgroup it started in and
    /// removes the table (its leaf, and any container cgroup left empty).
    /// Best effort: failures are logged. Boot mode: nothing (the table is
    /// the hierarchy's root and keel stays in its leaf).
    pub fn teardown(self) {
        let Some(origin) = &self.origin else { return };
        let origin_path = self
            .path
            .as_bytes()
            .get(..self.path.len().saturating_sub(self.table_name.len() + 1))
            .unwrap_or(&[]);
        if self.in_leaf.get() {
            if let Err(e) = write_at(origin, c"cgroup.procs", b"0") {
                keel_rt::warn!("keel: cgroup move keel back to ", origin_path, ": ", e);
            }
        }
        let c = CBuf::<80>::from(self.table_name.as_bytes());
        if let Err(e) = Self::remove_tree_impl(origin, origin_path, &c) {
            keel_rt::warn!("keel: ", e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_lines_in_small_pieces() {
        let dir = std::env::temp_dir().join(format!("keel-cg-scan-{}", std::process::id()));
        let text = b"one\ntwo\nthis line is far too long for the buffer\nthree\nlast";
        std::fs::write(&dir, text).unwrap();
        let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let f = keel_rt::fs::open_read(CWD, &c).unwrap();
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        scan_lines(&f, &mut buf, |l| {
            got.push(l.to_vec());
            false
        })
        .unwrap();
        assert_eq!(got, [&b"one"[..], b"two", b"three", b"last"]);
        let f = keel_rt::fs::open_read(CWD, &c).unwrap();
        let mut n = 0;
        scan_lines(&f, &mut buf, |_| {
            n += 1;
            n == 2
        })
        .unwrap();
        assert_eq!(n, 2);
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn scan_lines_reads_this_mountinfo() {
        let f = keel_rt::fs::open_read(CWD, c"/proc/self/mountinfo").unwrap();
        let mut buf = [0u8; 4096];
        let mut n = 0;
        scan_lines(&f, &mut buf, |l| {
            assert!(mountinfo::parse_line(l).is_some());
            n += 1;
            false
        })
        .unwrap();
        let all = std::fs::read("/proc/self/mountinfo").unwrap();
        assert_eq!(n, all.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count());
    }

    #[test]
    fn table_id_is_this_process() {
        assert_eq!(table_id(), u64::from(std::process::id()));
    }

    #[test]
    fn error_rendering() {
        let e = Error::sys(
            Errno::BUSY,
            "rmdir",
            &[b"/sys/fs/cgroup/keel-1", b"/web"],
            "still populated",
        );
        assert_eq!(
            e.as_bytes(),
            b"cgroup rmdir /sys/fs/cgroup/keel-1/web: EBUSY (still populated)"
        );
        assert_eq!(e.kind(), ErrorKind::Busy);
        let mut l = keel_rt::line!("keel: container web: ", e);
        assert_eq!(
            l.as_bytes(),
            b"keel: container web: cgroup rmdir /sys/fs/cgroup/keel-1/web: EBUSY (still populated)"
        );
        l.clear();
        Error::sys(Errno::ACCESS, "mkdir", &[b"/x"], "").render(&mut l);
        assert_eq!(l.as_bytes(), b"cgroup mkdir /x: EACCES");
        assert_eq!(
            format!("{:?}", Error::sys(Errno::ACCESS, "open", &[b"/\xff"], "")),
            "cgroup open /\\xff: EACCES"
        );
    }
}
