//! The first things PID 1 does: block every signal, make sure fds 0–2 are
//! open, mount the API file systems (each only if it is not there yet),
//! and turn Ctrl-Alt-Del into a signal.

use keel_rt::line::Line;
use keel_rt::sys::{self, SigSet};
use keel_rt::{notice, warn};
use linux_raw_sys::general as g;
use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::MountFlags;

/// Every signal blocked: they arrive through the supervisor's signalfd
/// (and a signal sent before it exists stays pending, not lost).
pub fn block_signals() {
    let _ = sys::sigprocmask(sys::SIG_SETMASK, Some(&SigSet::FULL));
}

fn fd_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the flags of the descriptor number; a closed number gives EBADF.
    let r = unsafe { sys::syscall(g::__NR_fcntl, [fd as usize, g::F_GETFD as usize, 0, 0, 0, 0]) };
    r.is_ok()
}

/// Puts /dev/console (or /dev/null) on whichever of fds 0, 1, 2 is closed.
/// The kernel opens /dev/console for /init only if the image has that
/// node; without it all three are closed and the first open would land on
/// fd 0 — so this runs before anything else opens a file. Returns whether
/// all three are open afterwards.
pub fn stdio() -> bool {
    let missing = (0..3).filter(|&fd| !fd_open(fd)).count();
    if missing == 0 {
        return true;
    }
    for path in [c"/dev/console", c"/dev/null"] {
        let Ok(fd) = rustix::fs::open(path, OFlags::RDWR | OFlags::NOCTTY, Mode::empty()) else {
            continue;
        };
        let raw = rustix::fd::IntoRawFd::into_raw_fd(fd);
        for target in 0..3 {
            if target != raw && !fd_open(target) {
                let _ = sys::dup3(raw, target, 0);
            }
        }
        if raw > 2 {
            // SAFETY: `raw` came from into_raw_fd above and is owned here.
            drop(unsafe { <rustix::fd::OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(raw) });
        }
        return (0..3).all(fd_open);
    }
    false
}

/// How to tell that something is mounted on a path already.
#[derive(Clone, Copy)]
enum Probe {
    /// statfs f_type is this magic.
    Magic(u64),
    /// It is on another file system than this parent directory.
    OtherDev(&'static core::ffi::CStr),
}

/// One API file system.
struct Api {
    target: &'static core::ffi::CStr,
    fstype: &'static core::ffi::CStr,
    flags: MountFlags,
    data: Option<&'static core::ffi::CStr>,
    probe: Probe,
}

const NOSUID_NODEV_NOEXEC: MountFlags = MountFlags::NOSUID.union(MountFlags::NODEV).union(MountFlags::NOEXEC);

/// In order: each target exists once the ones before it are mounted.
fn api() -> [Api; 7] {
    [
        Api {
            target: c"/proc",
            fstype: c"proc",
            flags: NOSUID_NODEV_NOEXEC,
            data: None,
            probe: Probe::Magic(g::PROC_SUPER_MAGIC as u64),
        },
        Api {
            target: c"/sys",
            fstype: c"sysfs",
            flags: NOSUID_NODEV_NOEXEC,
            data: None,
            probe: Probe::Magic(g::SYSFS_MAGIC as u64),
        },
        Api {
            target: c"/dev",
            fstype: c"devtmpfs",
            flags: MountFlags::NOSUID,
            data: Some(c"mode=0755"),
            probe: Probe::OtherDev(c"/"),
        },
        Api {
            target: c"/dev/pts",
            fstype: c"devpts",
            flags: MountFlags::NOSUID.union(MountFlags::NOEXEC),
            data: Some(c"gid=5,mode=0620,ptmxmode=0666"),
            probe: Probe::Magic(g::DEVPTS_SUPER_MAGIC as u64),
        },
        Api {
            target: c"/dev/shm",
            fstype: c"tmpfs",
            flags: MountFlags::NOSUID.union(MountFlags::NODEV),
            data: Some(c"mode=1777"),
            probe: Probe::OtherDev(c"/dev"),
        },
        Api {
            target: c"/run",
            fstype: c"tmpfs",
            flags: MountFlags::NOSUID.union(MountFlags::NODEV),
            data: Some(c"mode=0755"),
            probe: Probe::OtherDev(c"/"),
        },
        Api {
            target: c"/sys/fs/cgroup",
            fstype: c"cgroup2",
            flags: NOSUID_NODEV_NOEXEC,
            data: None,
            probe: Probe::Magic(g::CGROUP2_SUPER_MAGIC as u64),
        },
    ]
}

fn is_mounted(target: &core::ffi::CStr, probe: Probe) -> bool {
    match probe {
        Probe::Magic(m) => rustix::fs::statfs(target).is_ok_and(|s| s.f_type as u64 == m),
        Probe::OtherDev(parent) => match (rustix::fs::stat(target), rustix::fs::stat(parent)) {
            (Ok(a), Ok(b)) => a.st_dev != b.st_dev,
            _ => false,
        },
    }
}

/// What [`mount_api`] did, for the boot line.
pub struct Mounted {
    pub done: Line,
    pub already: Line,
    pub failed: u32,
}

/// Mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm, /run (tmpfs)
/// and cgroup2 at /sys/fs/cgroup, each unless already mounted. Failures
/// are logged and the boot goes on.
pub fn mount_api() -> Mounted {
    let mut m = Mounted {
        done: Line::new(),
        already: Line::new(),
        failed: 0,
    };
    for a in api() {
        let name = a.target.to_bytes();
        if is_mounted(a.target, a.probe) {
            m.already.bytes(b" ").bytes(name);
            continue;
        }
        match rustix::fs::mkdir(a.target, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => warn!("keel: mkdir ", name, ": ", e),
        }
        match rustix::mount::mount(a.fstype, a.target, a.fstype, a.flags, a.data) {
            Ok(()) => {
                m.done.bytes(b" ").bytes(name);
            }
            Err(e) => {
                m.failed += 1;
                let hint = if a.fstype == c"cgroup2" && e == Errno::NODEV {
                    " (kernel without cgroup2)"
                } else {
                    ""
                };
                warn!("keel: mount ", a.fstype.to_bytes(), " on ", name, ": ", e, hint);
            }
        }
    }
    m
}

/// Ctrl-Alt-Del sends SIGINT to PID 1 instead of rebooting at once.
pub fn cad_off() {
    if let Err(e) = rustix::system::reboot(rustix::system::RebootCommand::CadOff) {
        notice!("keel: Ctrl-Alt-Del stays a hard reboot: reboot(CAD_OFF): ", e);
    }
}

/// Opens `path` for writing (the console, kmsg), close-on-exec, or -1.
pub fn open_write(path: &core::ffi::CStr) -> i32 {
    match rustix::fs::openat(
        CWD,
        path,
        OFlags::WRONLY | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => rustix::fd::IntoRawFd::into_raw_fd(fd),
        Err(_) => -1,
    }
}
