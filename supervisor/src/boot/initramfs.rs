//! Leaving the initramfs (implementation-notes §1.1).
//!
//! The kernel unpacks the initramfs into its *rootfs*, the root of the
//! initial mount namespace. pivot_root cannot leave it (EINVAL), and a
//! move-and-chroot leaves it underneath every mount namespace: a container
//! with CAP_SYS_ADMIN and no user namespace can `umount2("/", MNT_DETACH)`
//! and `setns()` into its own mount namespace, which lands it at the
//! namespace's root — the rootfs, with the whole image in it.
//!
//! So when / is the rootfs, keel first tries pivot_root (kernels booted
//! with `nullfs_rootfs` put the initramfs on a mount of its own above an
//! empty root, and there it works); otherwise it copies the tree into a new
//! tmpfs, moves the API mounts into it, deletes the rootfs's contents (as
//! switch_root does, never crossing into another mount), moves the tmpfs
//! onto / and chroots into it. What stays below is one empty directory.
//! Containers then always pivot_root, and none runs above a non-empty
//! rootfs.

use keel_rt::path::PathBuf;
use keel_rt::warn;
use linux_raw_sys::general as g;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Stat, CWD};
use rustix::io::Errno;

// ------------------------------------------------------------------ detection (pure)

/// What / is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootKind {
    /// The kernel's rootfs holding the unpacked initramfs.
    Initramfs,
    /// Anything else (a disk, a tmpfs keel already moved there, an
    /// initramfs on its own mount above nullfs): nothing to do.
    Other,
}

pub const RAMFS_MAGIC: u64 = g::RAMFS_MAGIC as u64;
pub const TMPFS_MAGIC: u64 = g::TMPFS_MAGIC as u64;

/// Decides from the file system type of the top-most mount on / in
/// /proc/self/mountinfo (None: no such line, or mountinfo unreadable) and
/// statfs(/)'s f_type. The rootfs shows as type `rootfs`; without a
/// mountinfo answer, a ramfs or tmpfs / is taken for it (copying a tmpfs
/// that was not the rootfs only costs time; leaving the rootfs full would
/// leave the escape open).
pub fn classify(root_fstype: Option<&[u8]>, statfs_magic: u64) -> RootKind {
    match root_fstype {
        Some(b"rootfs") => RootKind::Initramfs,
        Some(_) => RootKind::Other,
        None if statfs_magic == RAMFS_MAGIC || statfs_magic == TMPFS_MAGIC => RootKind::Initramfs,
        None => RootKind::Other,
    }
}

/// The file system type of the top-most mount on `/` in a mountinfo line
/// sequence: call with each line, keep the last answer.
pub fn root_fstype_of_line(line: &[u8]) -> Option<&[u8]> {
    let m = crate::cgroup::mountinfo::parse_line(line)?;
    (m.point == b"/").then_some(m.fstype)
}

/// Looks at this process's / (needs /proc).
pub fn detect() -> (RootKind, heapless::Vec<u8, 32>) {
    let mut fstype: Option<heapless::Vec<u8, 32>> = None;
    let mut buf = [0u8; 1024];
    let _ = super::lines::for_each_line_of(c"/proc/self/mountinfo", &mut buf, |l| {
        if let Some(t) = root_fstype_of_line(l) {
            fstype = Some(heapless::Vec::from_slice(t.get(..32.min(t.len())).unwrap_or(&[])).unwrap_or_default());
        }
        false
    });
    let magic = rustix::fs::statfs(c"/").map_or(0, |s| s.f_type as u64);
    let kind = classify(fstype.as_deref(), magic);
    (kind, fstype.unwrap_or_default())
}

// ------------------------------------------------------------------ leaving it

/// Where the new root is assembled (a directory of the rootfs, removed at
/// the end).
const STAGE: &core::ffi::CStr = c"/.keel-root";
const STAGE_NAME: &[u8] = b".keel-root";
/// Deepest directory nesting copied.
const MAX_DEPTH: usize = 48;
/// Most mounts found inside the tree (moved along, not copied).
const MAX_MOUNTS: usize = 16;

/// What the copy did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub files: u32,
    pub dirs: u32,
    pub links: u32,
    pub nodes: u32,
    pub bytes: u64,
    pub errors: u32,
    pub mounts_moved: u32,
    pub removed: u32,
}

/// How / was left.
pub enum Left {
    /// / was not the initramfs.
    NotInitramfs,
    /// pivot_root worked (the initramfs had a mount of its own).
    Pivoted,
    /// Copied into a tmpfs.
    Copied(Stats),
}

/// Leaves the initramfs if / is one. An error means keel could not leave
/// it: the boot goes on (logged loudly), the containers stay confined by
/// whatever their specs give them.
pub fn leave() -> Result<Left, (&'static str, Errno)> {
    let (kind, _) = detect();
    if kind == RootKind::Other {
        return Ok(Left::NotInitramfs);
    }
    // 1. pivot_root, which works where the initramfs is a mount of its own.
    let _ = rustix::process::chdir(c"/");
    if rustix::process::pivot_root(c".", c".").is_ok() {
        if let Err(e) = rustix::mount::unmount(c".", rustix::mount::UnmountFlags::DETACH) {
            warn!("keel: initramfs: detach the old root after pivot_root: ", e);
        }
        let _ = rustix::process::chdir(c"/");
        return Ok(Left::Pivoted);
    }
    // 2. The copy.
    copy_and_switch().map(Left::Copied)
}

fn open_dir<Fd: AsFd>(dir: Fd, name: &core::ffi::CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn copy_and_switch() -> Result<Stats, (&'static str, Errno)> {
    let root_dev = rustix::fs::stat(c"/").map_err(|e| ("stat /", e))?.st_dev;
    match rustix::fs::mkdir(STAGE, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(("mkdir /.keel-root", e)),
    }
    rustix::mount::mount(
        c"tmpfs",
        STAGE,
        c"tmpfs",
        rustix::mount::MountFlags::empty(),
        Some(c"mode=0755"),
    )
    .map_err(|e| ("mount a tmpfs on /.keel-root", e))?;
    let old = open_dir(CWD, c"/").map_err(|e| ("open /", e))?;
    let new = match open_dir(CWD, STAGE) {
        Ok(fd) => fd,
        Err(e) => {
            abandon(&[]);
            return Err(("open /.keel-root", e));
        }
    };
    let old_umask = rustix::process::umask(Mode::empty());
    let mut st = Stats::default();
    let mut path = PathBuf::from(b"/");
    let mut mounts: heapless::Vec<PathBuf, MAX_MOUNTS> = heapless::Vec::new();
    copy_dir(old.as_fd(), new.as_fd(), root_dev, 0, &mut path, &mut mounts, &mut st);
    if let Ok(s) = rustix::fs::fstat(&old) {
        set_meta_fd(&new, &s);
    }
    rustix::process::umask(old_umask);
    if st.errors > 0 {
        // A root with files missing is worse than staying: nothing moved
        // or deleted yet.
        drop(new);
        abandon(&[]);
        return Err(("copy (entries failed, see above; nothing was switched)", Errno::IO));
    }
    // The API mounts (and any other) go along, not copied.
    let mut moved: heapless::Vec<&PathBuf, MAX_MOUNTS> = heapless::Vec::new();
    for m in mounts.iter() {
        let mut to = PathBuf::from(STAGE.to_bytes());
        to.push(m.as_bytes());
        let r = match (m.as_cstr(), to.as_cstr()) {
            (Ok(from), Ok(to)) => rustix::mount::mount_move(from, to),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        match r {
            Ok(()) => {
                st.mounts_moved += 1;
                let _ = moved.push(m);
            }
            Err(e) => {
                st.errors += 1;
                warn!(
                    "keel: initramfs: move mount ",
                    m.as_bytes(),
                    " into the new root: ",
                    e,
                    " (it stays behind, hidden)"
                );
            }
        }
    }
    // The switch: the tmpfs onto /, chroot into it.
    let switched = rustix::process::fchdir(&new)
        .map_err(|e| ("chdir /.keel-root", e))
        .and_then(|()| rustix::mount::mount_move(c".", c"/").map_err(|e| ("move the new root onto /", e)));
    if let Err(e) = switched {
        let _ = rustix::process::chdir(c"/");
        drop(new);
        abandon(&moved);
        return Err(e);
    }
    rustix::process::chroot(c".").map_err(|e| ("chroot", e))?;
    let _ = rustix::process::chdir(c"/");
    // Empty the old root through its fd (switch_root's delete_contents,
    // never crossing into a mount); the stage directory is a plain empty
    // directory there now and goes too.
    delete_dir(old.as_fd(), root_dev, 0, &mut st);
    let left = count_entries(old.as_fd());
    if left > 0 {
        warn!("keel: initramfs: ", left, " entries are left in the old root");
    }
    Ok(st)
}

/// Entries of a directory, `.` and `..` aside.
fn count_entries(dir: BorrowedFd<'_>) -> u32 {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 512];
    let Ok(d) = open_dir(dir, c".") else { return 0 };
    let mut it = RawDir::new(&d, &mut buf);
    let mut n = 0;
    while let Some(Ok(e)) = it.next() {
        if name_cstr(e.file_name()) {
            n += 1;
        }
    }
    n
}

/// Undoes a copy that will not be used: the moved mounts back, the
/// stage unmounted and removed.
fn abandon(moved: &[&PathBuf]) {
    for m in moved {
        let mut from = PathBuf::from(STAGE.to_bytes());
        from.push(m.as_bytes());
        if let (Ok(f), Ok(t)) = (from.as_cstr(), m.as_cstr()) {
            if let Err(e) = rustix::mount::mount_move(f, t) {
                warn!("keel: initramfs: move mount ", m.as_bytes(), " back: ", e);
            }
        }
    }
    let _ = rustix::mount::unmount(STAGE, rustix::mount::UnmountFlags::DETACH);
    let _ = rustix::fs::unlinkat(CWD, STAGE, AtFlags::REMOVEDIR);
}

fn set_meta_fd(fd: &OwnedFd, s: &Stat) {
    let _ = rustix::fs::fchown(
        fd,
        Some(rustix::fs::Uid::from_raw_unchecked(s.st_uid)),
        Some(rustix::fs::Gid::from_raw_unchecked(s.st_gid)),
    );
    let _ = rustix::fs::fchmod(fd, Mode::from_raw_mode(s.st_mode & 0o7777));
    let _ = rustix::fs::futimens(fd, &times(s));
}

fn times(s: &Stat) -> rustix::fs::Timestamps {
    rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: s.st_atime,
            tv_nsec: s.st_atime_nsec as _,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: s.st_mtime,
            tv_nsec: s.st_mtime_nsec as _,
        },
    }
}

fn name_cstr(n: &core::ffi::CStr) -> bool {
    let b = n.to_bytes();
    b != b"." && b != b".."
}

/// Copies the entries of `src` into `dst`. `path` is src's absolute path
/// (for mount points and messages).
#[allow(clippy::too_many_arguments)]
fn copy_dir(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    root_dev: u64,
    depth: usize,
    path: &mut PathBuf,
    mounts: &mut heapless::Vec<PathBuf, MAX_MOUNTS>,
    st: &mut Stats,
) {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 2048];
    let Ok(it_fd) = open_dir(src, c".") else { return };
    let mut it = RawDir::new(&it_fd, &mut buf);
    while let Some(ent) = it.next() {
        let Ok(ent) = ent else {
            st.errors += 1;
            break;
        };
        let name = ent.file_name();
        if !name_cstr(name) || (depth == 0 && name.to_bytes() == STAGE_NAME) {
            continue;
        }
        let len = path.len();
        path.join(name.to_bytes());
        if let Err(e) = copy_entry(src, dst, name, root_dev, depth, path, mounts, st) {
            st.errors += 1;
            warn!("keel: initramfs: copy ", path.as_bytes(), ": ", e);
        }
        path.truncate(len);
    }
}

#[allow(clippy::too_many_arguments)]
fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &core::ffi::CStr,
    root_dev: u64,
    depth: usize,
    path: &mut PathBuf,
    mounts: &mut heapless::Vec<PathBuf, MAX_MOUNTS>,
    st: &mut Stats,
) -> Result<(), Errno> {
    let s = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let perm = Mode::from_raw_mode(s.st_mode & 0o7777);
    let (uid, gid) = (
        rustix::fs::Uid::from_raw_unchecked(s.st_uid),
        rustix::fs::Gid::from_raw_unchecked(s.st_gid),
    );
    match FileType::from_raw_mode(s.st_mode) {
        FileType::Directory => {
            match rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e),
            }
            let d = open_dir(dst, name)?;
            if s.st_dev != root_dev {
                // A mount point: moved along later, not copied.
                if mounts.push(path.clone()).is_err() {
                    warn!(
                        "keel: initramfs: more than ",
                        MAX_MOUNTS,
                        " mounts: ",
                        path.as_bytes(),
                        " is not moved"
                    );
                }
            } else if depth >= MAX_DEPTH {
                warn!(
                    "keel: initramfs: ",
                    path.as_bytes(),
                    ": deeper than ",
                    MAX_DEPTH,
                    " directories, not copied"
                );
                st.errors += 1;
            } else {
                let sd = open_dir(src, name)?;
                copy_dir(sd.as_fd(), d.as_fd(), root_dev, depth + 1, path, mounts, st);
            }
            set_meta_fd(&d, &s);
            st.dirs += 1;
        }
        FileType::RegularFile => {
            let from = rustix::fs::openat(
                src,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let to = rustix::fs::openat(
                dst,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let n = copy_data(&from, &to, u64::try_from(s.st_size).unwrap_or(0))?;
            set_meta_fd(&to, &s);
            st.files += 1;
            st.bytes += n;
        }
        FileType::Symlink => {
            let mut t = [0u8; 4096];
            let n = rustix::fs::readlinkat_raw(src, name, &mut t[..])?;
            let target = keel_rt::path::PathBuf::from(t.get(..n).unwrap_or(&[]));
            rustix::fs::symlinkat(target.as_cstr()?, dst, name)?;
            let _ = rustix::fs::chownat(dst, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW);
            let _ = rustix::fs::utimensat(dst, name, &times(&s), AtFlags::SYMLINK_NOFOLLOW);
            st.links += 1;
        }
        ft @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket) => {
            rustix::fs::mknodat(dst, name, ft, perm, s.st_rdev)?;
            let _ = rustix::fs::chownat(dst, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW);
            let _ = rustix::fs::chmodat(dst, name, perm, AtFlags::empty());
            let _ = rustix::fs::utimensat(dst, name, &times(&s), AtFlags::SYMLINK_NOFOLLOW);
            st.nodes += 1;
        }
        FileType::Unknown => return Err(Errno::INVAL),
    }
    Ok(())
}

/// sendfile, or read/write where the kernel refuses it.
fn copy_data(from: &OwnedFd, to: &OwnedFd, size: u64) -> Result<u64, Errno> {
    let mut done = 0u64;
    let mut sendfile_ok = true;
    loop {
        if sendfile_ok {
            let want = usize::try_from(size.saturating_sub(done))
                .unwrap_or(usize::MAX)
                .clamp(1 << 16, 1 << 30);
            match rustix::fs::sendfile(to, from, None, want) {
                Ok(0) => return Ok(done),
                Ok(n) => {
                    done += n as u64;
                    continue;
                }
                Err(Errno::INTR) => continue,
                Err(Errno::INVAL | Errno::NOSYS) if done == 0 => sendfile_ok = false,
                Err(e) => return Err(e),
            }
        }
        let mut b = [0u8; 8192];
        let n = match rustix::io::read(from, &mut b) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        keel_rt::fs::write_all(to, b.get(..n).unwrap_or(&[]))?;
        done += n as u64;
    }
}

/// Deletes the entries of `dir` that are on the root's file system
/// (switch_root's rule: never cross into another mount).
fn delete_dir(dir: BorrowedFd<'_>, root_dev: u64, depth: usize, st: &mut Stats) {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 2048];
    let Ok(it_fd) = open_dir(dir, c".") else { return };
    let mut it = RawDir::new(&it_fd, &mut buf);
    while let Some(ent) = it.next() {
        let Ok(ent) = ent else { break };
        let name = ent.file_name();
        if !name_cstr(name) {
            continue;
        }
        let Ok(s) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        if s.st_dev != root_dev {
            continue;
        }
        if FileType::from_raw_mode(s.st_mode) == FileType::Directory {
            if depth < MAX_DEPTH + 1 {
                if let Ok(sub) = open_dir(dir, name) {
                    delete_dir(sub.as_fd(), root_dev, depth + 1, st);
                }
            }
            if rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).is_ok() {
                st.removed += 1;
            }
        } else if rustix::fs::unlinkat(dir, name, AtFlags::empty()).is_ok() {
            st.removed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(Some(b"rootfs"), TMPFS_MAGIC), RootKind::Initramfs);
        assert_eq!(classify(Some(b"rootfs"), RAMFS_MAGIC), RootKind::Initramfs);
        // After keel's copy: a tmpfs mounted on top of the rootfs.
        assert_eq!(classify(Some(b"tmpfs"), TMPFS_MAGIC), RootKind::Other);
        assert_eq!(classify(Some(b"ext4"), 0xef53), RootKind::Other);
        assert_eq!(classify(None, TMPFS_MAGIC), RootKind::Initramfs);
        assert_eq!(classify(None, RAMFS_MAGIC), RootKind::Initramfs);
        assert_eq!(classify(None, 0xef53), RootKind::Other);
    }

    #[test]
    fn root_line_of_mountinfo() {
        // 6.1 booted from an initramfs: the rootfs is mount 1, its own parent.
        assert_eq!(
            root_fstype_of_line(b"1 1 0:2 / / rw - rootfs rootfs rw,size=233852k,nr_inodes=58463"),
            Some(&b"rootfs"[..])
        );
        // After the copy and chroot: the tmpfs on / (its parent, the
        // rootfs, is no longer visible).
        assert_eq!(
            root_fstype_of_line(b"25 1 0:22 / / rw,relatime - tmpfs tmpfs rw,mode=755"),
            Some(&b"tmpfs"[..])
        );
        assert_eq!(
            root_fstype_of_line(b"26 25 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw"),
            None
        );
        assert_eq!(root_fstype_of_line(b"garbage"), None);
        // The top-most line for / wins: the caller keeps the last one.
        let text = "1 1 0:2 / / rw - rootfs rootfs rw\n30 1 0:40 / / rw - tmpfs tmpfs rw\n";
        let last = text
            .lines()
            .filter_map(|l| root_fstype_of_line(l.as_bytes()))
            .next_back();
        assert_eq!(last, Some(&b"tmpfs"[..]));
    }

    #[test]
    fn copies_a_tree_and_empties_it() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let base = std::env::temp_dir().join(format!("keel-initramfs-{}", std::process::id()));
        let (src, dst) = (base.join("src"), base.join("dst"));
        std::fs::create_dir_all(src.join("a/b/c")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("a/b/c/file"), vec![7u8; 200_000]).unwrap();
        std::fs::write(src.join("suid"), b"x").unwrap();
        std::fs::set_permissions(src.join("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::set_permissions(src.join("a/b"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("a/b/c/file", src.join("link")).unwrap();
        std::os::unix::fs::symlink("/nowhere", src.join("dangling")).unwrap();
        let fifo = std::ffi::CString::new(src.join("fifo").to_str().unwrap()).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            fifo.as_c_str(),
            FileType::Fifo,
            Mode::from_raw_mode(0o640),
            0,
        )
        .unwrap();
        rustix::fs::chmodat(
            rustix::fs::CWD,
            fifo.as_c_str(),
            Mode::from_raw_mode(0o640),
            AtFlags::empty(),
        )
        .unwrap();
        std::fs::write(src.join(".keel-root"), b"skipped at the top").unwrap();
        let s = open_dir(CWD, std::ffi::CString::new(src.to_str().unwrap()).unwrap().as_c_str()).unwrap();
        let d = open_dir(CWD, std::ffi::CString::new(dst.to_str().unwrap()).unwrap().as_c_str()).unwrap();
        let dev = rustix::fs::fstat(&s).unwrap().st_dev;
        let mut st = Stats::default();
        let mut path = PathBuf::from(b"/");
        let mut mounts = heapless::Vec::new();
        copy_dir(s.as_fd(), d.as_fd(), dev, 0, &mut path, &mut mounts, &mut st);
        assert_eq!(st.errors, 0);
        assert!(mounts.is_empty());
        assert_eq!((st.files, st.dirs, st.links, st.nodes), (2, 3, 2, 1));
        assert_eq!(st.bytes, 200_001);
        assert_eq!(std::fs::read(dst.join("a/b/c/file")).unwrap(), vec![7u8; 200_000]);
        assert_eq!(std::fs::metadata(dst.join("suid")).unwrap().mode() & 0o7777, 0o4755);
        assert_eq!(std::fs::metadata(dst.join("a/b")).unwrap().mode() & 0o7777, 0o700);
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap().to_str(),
            Some("a/b/c/file")
        );
        assert_eq!(
            std::fs::read_link(dst.join("dangling")).unwrap().to_str(),
            Some("/nowhere")
        );
        assert!(!std::fs::symlink_metadata(dst.join("fifo"))
            .unwrap()
            .file_type()
            .is_file());
        assert_eq!(
            std::fs::symlink_metadata(dst.join("fifo")).unwrap().mode() & 0o7777,
            0o640
        );
        assert!(!dst.join(".keel-root").exists());
        assert_eq!(
            std::fs::metadata(src.join("a/b/c/file")).unwrap().mtime(),
            std::fs::metadata(dst.join("a/b/c/file")).unwrap().mtime()
        );
        // Emptying: everything on the source's file system goes.
        delete_dir(s.as_fd(), dev, 0, &mut st);
        assert_eq!(count_entries(s.as_fd()), 0);
        assert_eq!(st.removed, 9);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn this_host_is_not_an_initramfs() {
        // The host's / is a disk (or an overlay in a container): detect()
        // must not ask for a copy.
        let (k, t) = detect();
        assert_eq!(k, RootKind::Other, "fstype {:?}", String::from_utf8_lossy(&t));
    }
}
