//! The container's file system, built in the child's new mount namespace
//! before pivot_root: the root, the spec's mounts, masked and read-only
//! paths, and the pivot itself.
//!
//! Every path inside the root is resolved with `openat2(RESOLVE_IN_ROOT)`
//! relative to an fd of the root, missing components are created one at a
//! time below an already resolved parent, and mounts go onto the resolved
//! fd through `/proc/self/fd/N`. A symlink in the image (`/proc ->
//! /host/etc`) therefore resolves inside the root, never outside it.

use super::{Ctx, Failure, Step};
use crate::spec::{mflags, Mount, MountKind, Root, Spec};
use core::ffi::CStr;
use keel_rt::path::{CBuf, PathBuf};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, StatVfsMountFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

/// `/proc/self/fd/N`: the path through which a resolved fd is mounted on.
pub(super) type FdPath = CBuf<40>;

pub(super) fn fd_path(fd: BorrowedFd<'_>) -> FdPath {
    let mut p = FdPath::from(b"/proc/self/fd/");
    p.push_i64(fd.as_raw_fd().into());
    p
}

/// What to create at a missing path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    No,
    Dir,
    File,
}

fn rel(path: &[u8]) -> &[u8] {
    let start = path.iter().position(|c| *c != b'/').unwrap_or(path.len());
    path.get(start..).unwrap_or(&[])
}

/// How often a `..` lookup is retried when a mount or rename anywhere on
/// the machine raced with it (EAGAIN: other containers are being set up at
/// the same time).
const EAGAIN_RETRIES: u32 = 1000;

/// openat2(root, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
pub(super) fn open_in(root: BorrowedFd<'_>, path: &[u8]) -> Result<OwnedFd, Errno> {
    let r = rel(path);
    let mut p = PathBuf::new();
    p.push(if r.is_empty() { b"." } else { r });
    let p = p.as_cstr()?;
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(
            root,
            p,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(Errno::AGAIN) | Err(Errno::INTR) if tries < EAGAIN_RETRIES => tries += 1,
            r => return r,
        }
    }
}

/// Resolves `path` inside `root`, creating what is missing (directories
/// 0755; the last component as an empty file 0644 for [`Create::File`]).
pub(super) fn resolve(root: BorrowedFd<'_>, path: &[u8], create: Create) -> Result<OwnedFd, Errno> {
    match open_in(root, path) {
        Err(Errno::NOENT) if create != Create::No => {}
        r => return r,
    }
    let r = rel(path);
    let mut cur = open_in(root, b"")?;
    let mut prefix = PathBuf::new();
    let mut comps = r
        .split(|c| *c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .peekable();
    while let Some(comp) = comps.next() {
        let last = comps.peek().is_none();
        if !prefix.is_empty() {
            prefix.push(b"/");
        }
        prefix.push(comp);
        match open_in(root, prefix.as_bytes()) {
            Ok(fd) => cur = fd,
            Err(Errno::NOENT) => {
                let name = CBuf::<256>::from(comp);
                let name = name.as_cstr()?;
                if last && create == Create::File {
                    match rustix::fs::openat(
                        &cur,
                        name,
                        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                        Mode::from_raw_mode(0o644),
                    ) {
                        Ok(_) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e),
                    }
                } else {
                    match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e),
                    }
                }
                cur = open_in(root, prefix.as_bytes())?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// The per-mount flags the kernel keeps locked in a user namespace
/// (nosuid, nodev, noexec, read-only, atime): a bind remount must repeat
/// them or fail with EPERM.
fn locked_flags(fd: BorrowedFd<'_>, asked: u64) -> Result<u64, Errno> {
    let st = rustix::fs::fstatvfs(fd)?;
    let f = st.f_flag;
    let mut out = 0;
    for (st_bit, ms) in [
        (StatVfsMountFlags::RDONLY, mflags::RDONLY),
        (StatVfsMountFlags::NOSUID, mflags::NOSUID),
        (StatVfsMountFlags::NODEV, mflags::NODEV),
        (StatVfsMountFlags::NOEXEC, mflags::NOEXEC),
    ] {
        if f.contains(st_bit) {
            out |= ms;
        }
    }
    let atime = mflags::NOATIME | mflags::RELATIME | mflags::STRICTATIME;
    if asked & atime == 0 {
        if f.contains(StatVfsMountFlags::NOATIME) {
            out |= mflags::NOATIME;
        } else if f.contains(StatVfsMountFlags::RELATIME) {
            out |= mflags::RELATIME;
        }
        if f.contains(StatVfsMountFlags::NODIRATIME) {
            out |= mflags::NODIRATIME;
        }
    }
    Ok(out)
}

fn ms(flags: u64) -> MountFlags {
    MountFlags::from_bits_retain(flags as u32)
}

/// `MS_REMOUNT | MS_BIND | flags` on the mount whose root `fd` is, keeping
/// the locked flags.
pub(super) fn bind_remount(fd: BorrowedFd<'_>, flags: u64) -> Result<(), Errno> {
    let all = flags | locked_flags(fd, flags)?;
    rustix::mount::mount_remount(fd_path(fd).as_cstr()?, MountFlags::BIND | ms(all), c"")
}

/// Makes `/` rprivate: nothing set up here propagates back to keel.
pub(super) fn make_private(ctx: Ctx) -> Result<(), Failure> {
    ctx.run(Step::Propagation, || {
        rustix::mount::mount_change(c"/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
    })
}

fn open_dir(path: &CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Makes the root a mount point (bind onto itself, or the overlay mounted
/// on its top lower directory) and returns an fd of it; `/` for
/// [`Root::Host`].
pub(super) fn setup_root(ctx: Ctx, spec: &Spec<'_>) -> Result<OwnedFd, Failure> {
    ctx.run(Step::Root, || match &spec.root {
        Root::Host => open_dir(c"/"),
        Root::Bind { path, .. } => {
            rustix::mount::mount_bind_recursive(*path, *path)?;
            open_dir(path)
        }
        Root::Overlay { lower, upper, work, .. } => {
            let top = lower.first().ok_or(Errno::INVAL)?;
            let mut data = PathBuf::from(b"lowerdir=");
            for (i, l) in lower.iter().enumerate() {
                if i > 0 {
                    data.push(b":");
                }
                data.push(l.to_bytes());
            }
            match (upper, work) {
                (Some(u), Some(w)) => {
                    data.push(b",upperdir=")
                        .push(u.to_bytes())
                        .push(b",workdir=")
                        .push(w.to_bytes());
                }
                (None, None) => {}
                _ => return Err(Errno::INVAL),
            }
            rustix::mount::mount(c"overlay", *top, c"overlay", MountFlags::empty(), Some(data.as_cstr()?))?;
            open_dir(top)
        }
    })
}

fn fstype(k: &MountKind<'_>) -> &'static CStr {
    match k {
        MountKind::Proc => c"proc",
        MountKind::Sysfs => c"sysfs",
        MountKind::Tmpfs => c"tmpfs",
        MountKind::Devpts => c"devpts",
        MountKind::Mqueue => c"mqueue",
        MountKind::Bind { .. } => c"none",
    }
}

/// One spec mount, inside the root.
fn one_mount(ctx: Ctx, root: BorrowedFd<'_>, i: u8, m: &Mount<'_>) -> Result<(), Failure> {
    let create = match m.kind {
        MountKind::Bind { source, .. } => {
            let st = ctx.run(Step::Mount(i), || {
                rustix::fs::statat(rustix::fs::CWD, source, rustix::fs::AtFlags::empty())
            })?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                Create::Dir
            } else {
                Create::File
            }
        }
        _ => Create::Dir,
    };
    let target = ctx.run(Step::MountPoint(i), || resolve(root, m.target.to_bytes(), create))?;
    ctx.run(Step::Mount(i), || {
        let tp = fd_path(target.as_fd());
        let tp = tp.as_cstr()?;
        match m.kind {
            MountKind::Bind { source, recursive } => {
                if recursive {
                    rustix::mount::mount_bind_recursive(source, tp)
                } else {
                    rustix::mount::mount_bind(source, tp)
                }
            }
            ref k => rustix::mount::mount(fstype(k), tp, fstype(k), ms(m.flags), m.data),
        }
    })?;
    if matches!(m.kind, MountKind::Bind { .. }) && m.flags != 0 {
        ctx.run(Step::MountRemount(i), || {
            let top = open_in(root, m.target.to_bytes())?;
            bind_remount(top.as_fd(), m.flags)
        })?;
    }
    Ok(())
}

/// Every spec mount, in order.
pub(super) fn spec_mounts(ctx: Ctx, root: BorrowedFd<'_>, spec: &Spec<'_>) -> Result<(), Failure> {
    for (i, m) in spec.mounts.iter().enumerate() {
        one_mount(ctx, root, i as u8, m)?;
    }
    Ok(())
}

/// `mask PATH`: /dev/null over a file, an empty read-only tmpfs over a
/// directory; an absent path is skipped.
pub(super) fn masked(ctx: Ctx, root: BorrowedFd<'_>, spec: &Spec<'_>) -> Result<(), Failure> {
    for (i, p) in spec.masked.iter().enumerate() {
        ctx.run(Step::Mask(i as u8), || {
            let fd = match open_in(root, p.to_bytes()) {
                Err(Errno::NOENT) => return Ok(()),
                r => r?,
            };
            let st = rustix::fs::fstat(&fd)?;
            let tp = fd_path(fd.as_fd());
            let tp = tp.as_cstr()?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                rustix::mount::mount(
                    c"tmpfs",
                    tp,
                    c"tmpfs",
                    MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                    None,
                )
            } else {
                rustix::mount::mount_bind(c"/dev/null", tp)
            }
        })?;
    }
    Ok(())
}

/// `readonly PATH`: bound onto itself, then remounted read-only; an absent
/// path is skipped.
pub(super) fn readonly(ctx: Ctx, root: BorrowedFd<'_>, spec: &Spec<'_>) -> Result<(), Failure> {
    for (i, p) in spec.readonly.iter().enumerate() {
        ctx.run(Step::Readonly(i as u8), || {
            let fd = match open_in(root, p.to_bytes()) {
                Err(Errno::NOENT) => return Ok(()),
                r => r?,
            };
            let tp = fd_path(fd.as_fd());
            let tp = tp.as_cstr()?;
            rustix::mount::mount_bind_recursive(tp, tp)?;
            let top = open_in(root, p.to_bytes())?;
            bind_remount(top.as_fd(), mflags::RDONLY)
        })?;
    }
    Ok(())
}

/// `pivot_root(".", ".")` in the new root, then the old root (now on top
/// of it) is detached. Never a move + chroot (implementation-notes §1.1).
pub(super) fn pivot(ctx: Ctx, root: &OwnedFd) -> Result<(), Failure> {
    ctx.run(Step::PivotRoot, || {
        rustix::process::fchdir(root)?;
        rustix::process::pivot_root(c".", c".")
    })?;
    ctx.run(Step::DetachOldRoot, || {
        rustix::mount::unmount(c".", UnmountFlags::DETACH)?;
        rustix::process::chdir(c"/")
    })
}

/// `root … ro`: the root mount read-only, after the pivot (by path: the
/// container may have no /proc).
pub(super) fn root_readonly(ctx: Ctx) -> Result<(), Failure> {
    ctx.run(Step::RootReadonly, || {
        let fd = open_dir(c"/")?;
        let all = mflags::RDONLY | locked_flags(fd.as_fd(), mflags::RDONLY)?;
        rustix::mount::mount_remount(c"/", MountFlags::BIND | ms(all), c"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_strips_leading_slashes() {
        assert_eq!(rel(b"/proc"), b"proc");
        assert_eq!(rel(b"///a/b"), b"a/b");
        assert_eq!(rel(b"/"), b"");
        assert_eq!(rel(b""), b"");
    }
}
