//! The benchmark floor: `keel-bench-floor ROOT PROGRAM [ARGS...]`.
//!
//! Does the least a container start needs and nothing else, so that
//! `cargo xtask bench` can put keel's own cost beside it:
//!
//! 1. clone3 with new mnt, pid, net, uts, ipc and cgroup namespaces;
//! 2. in the child: `/` made recursively private, ROOT bind-mounted onto
//!    itself, chdir into it, `pivot_root(".", ".")`, the old root detached
//!    (`umount2(".", MNT_DETACH)`), then execve PROGRAM with ARGS and the
//!    caller's environment;
//! 3. the parent waits and exits with the child's status (128+N for a signal).
//!
//! A failing step prints one line naming it and its errno; the child then
//! exits 127. Static and no-libc like keel itself (same link arguments,
//! same runtime), so both are started by the kernel at the same cost.
#![no_std]
#![no_main]

use core::ffi::CStr;
use keel_rt::sys::{self, CloneArgs, Forked};
use rustix::io::Errno;
use rustix::mount::{self, MountPropagationFlags, UnmountFlags};
use rustix::process::{self, WaitOptions};

keel_rt::entry!(main);

const USAGE: &[u8] = b"usage: keel-bench-floor ROOT PROGRAM [ARGS...]\n";

fn main() -> i32 {
    let (Some(root), Some(prog)) = (keel_rt::args::get_cstr(1), keel_rt::args::get_cstr(2)) else {
        keel_rt::log::write_all(2, USAGE);
        return 2;
    };
    let mut args = CloneArgs {
        flags: sys::CLONE_NEWNS
            | sys::CLONE_NEWPID
            | sys::CLONE_NEWNET
            | sys::CLONE_NEWUTS
            | sys::CLONE_NEWIPC
            | sys::CLONE_NEWCGROUP,
        exit_signal: 17, // SIGCHLD
        ..CloneArgs::default()
    };
    // SAFETY: single-threaded; no CLONE_VM, no stack, no pointers in args: fork semantics, and the child only runs `child` below, then execs or exits.
    match unsafe { sys::clone3(&mut args) } {
        Err(e) => fail("clone3", e),
        Ok(Forked::Child) => {
            let e = child(root, prog);
            keel_rt::sys::exit_group(fail(e.0, e.1))
        }
        Ok(Forked::Parent(pid)) => wait(pid),
    }
}

/// Sets up the new root and execs; returns only on failure, naming the step.
fn child(root: &CStr, prog: &CStr) -> (&'static str, Errno) {
    if let Err(e) = mount::mount_change(c"/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE) {
        return ("make / rprivate", e);
    }
    if let Err(e) = mount::mount_bind_recursive(root, root) {
        return ("bind the root onto itself", e);
    }
    if let Err(e) = process::chdir(root) {
        return ("chdir into the root", e);
    }
    if let Err(e) = process::pivot_root(c".", c".") {
        return ("pivot_root", e);
    }
    if let Err(e) = mount::unmount(c".", UnmountFlags::DETACH) {
        return ("detach the old root", e);
    }
    // argv[2..] is PROGRAM ARGS... followed by the kernel's NULL.
    let argv = keel_rt::args::argv_ptr().wrapping_add(2);
    // SAFETY: argv[2..] and envp are the kernel's null-terminated arrays of NUL-terminated strings, alive for the whole process.
    let e = unsafe { sys::execveat(sys::AT_FDCWD, prog, argv, keel_rt::args::envp_ptr(), 0) };
    ("execve", e)
}

/// Waits for the child; its exit code, or 128+N for signal N.
fn wait(pid: i32) -> i32 {
    let Some(pid) = process::Pid::from_raw(pid) else {
        return 1;
    };
    loop {
        match process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(c) = st.exit_status() {
                    return c;
                }
                if let Some(s) = st.terminating_signal() {
                    return 128 + s;
                }
            }
            Ok(None) => {}
            Err(Errno::INTR) => {}
            Err(e) => return fail("waitpid", e),
        }
    }
}

fn fail(step: &str, e: Errno) -> i32 {
    keel_rt::error!("keel-bench-floor: ", step, ": ", e);
    127
}
