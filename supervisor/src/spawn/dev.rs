//! `dev minimal`: a tmpfs /dev (mode 755) with the host's null, zero, full,
//! random, urandom and tty bind-mounted onto empty files (mknod is not
//! allowed in a user namespace, a bind is), devpts on /dev/pts with its own
//! ptmx, the usual symlinks, and a tmpfs /dev/shm.

use super::mounts::{fd_path, open_in, resolve, Create};
use super::steps::{DEV_LINKS, DEV_NODES};
use super::{Ctx, Failure, Step};
use keel_rt::path::CBuf;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;

/// Builds the minimal /dev under `root` (before pivot_root).
pub(super) fn minimal(ctx: Ctx, root: BorrowedFd<'_>) -> Result<(), Failure> {
    ctx.run(Step::DevTmpfs, || {
        let at = resolve(root, b"/dev", Create::Dir)?;
        let p = fd_path(at.as_fd());
        rustix::mount::mount(
            c"tmpfs",
            p.as_cstr()?,
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::STRICTATIME,
            Some(c"mode=755,size=65536k"),
        )
    })?;
    // The fresh tmpfs: nothing in it can be a symlink planted by the image.
    let dev = ctx.run(Step::DevTmpfs, || open_in(root, b"/dev"))?;
    for (i, name) in DEV_NODES.iter().enumerate() {
        ctx.run(Step::DevNode(i as u8), || {
            let n = CBuf::<16>::from(name.as_bytes());
            let n = n.as_cstr()?;
            rustix::fs::openat(
                &dev,
                n,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            )?;
            let target = rustix::fs::openat(
                &dev,
                n,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let mut src = CBuf::<32>::from(b"/dev/");
            src.push(name.as_bytes());
            rustix::mount::mount_bind(src.as_cstr()?, fd_path(target.as_fd()).as_cstr()?)
        })?;
    }
    ctx.run(Step::DevPts, || {
        rustix::fs::mkdirat(&dev, c"pts", Mode::from_raw_mode(0o755))?;
        let pts = rustix::fs::openat(
            &dev,
            c"pts",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::mount::mount(
            c"devpts",
            fd_path(pts.as_fd()).as_cstr()?,
            c"devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            Some(c"newinstance,ptmxmode=0666,mode=0620"),
        )
    })?;
    for (i, (name, target)) in DEV_LINKS.iter().enumerate() {
        ctx.run(Step::DevLink(i as u8), || {
            let n = CBuf::<16>::from(name.as_bytes());
            let t = CBuf::<32>::from(target.as_bytes());
            rustix::fs::symlinkat(t.as_cstr()?, &dev, n.as_cstr()?)
        })?;
    }
    ctx.run(Step::DevShm, || {
        match rustix::fs::mkdirat(&dev, c"shm", Mode::from_raw_mode(0o1777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
        let shm = rustix::fs::openat(
            &dev,
            c"shm",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::mount::mount(
            c"shm",
            fd_path(shm.as_fd()).as_cstr()?,
            c"tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            Some(c"mode=1777,size=65536k"),
        )
    })
}
