//! Raw Linux system calls that rustix does not offer (clone3, signalfd4,
//! rt_sigprocmask, rt_sigaction, execveat, close_range, keyctl, add_key,
//! request_key), plus `write` and `exit_group` for the logger and the panic
//! path. Numbers come from linux-raw-sys, so another architecture is a
//! recompile. Each wrapper states its contract in a `SAFETY:` comment.

use core::ffi::CStr;
use linux_raw_sys::general as g;
use rustix::io::Errno;

pub type Result<T> = core::result::Result<T, Errno>;

mod arch {
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the x86_64 Linux syscall ABI: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered. The caller guarantees the arguments are valid for `nr`.
        unsafe {
            core::arch::asm!("syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
                in("r10") a[3], in("r8") a[4], in("r9") a[5],
                lateout("rcx") _, lateout("r11") _,
                options(nostack));
        }
        ret
    }

    #[cfg(target_arch = "aarch64")]
    pub unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the aarch64 Linux syscall ABI: number in x8, arguments in x0..x5, result in x0. The caller guarantees the arguments.
        unsafe {
            core::arch::asm!("svc 0",
                in("x8") nr,
                inlateout("x0") a[0] as isize => ret,
                in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
                options(nostack));
        }
        ret
    }
}

/// Performs system call `nr`.
///
/// # Safety
/// The arguments must satisfy the kernel's contract for `nr` (valid
/// pointers of the right sizes, live for the call).
pub unsafe fn syscall(nr: u32, a: [usize; 6]) -> Result<usize> {
    // SAFETY: forwarded contract.
    let r = unsafe { arch::syscall6(nr as usize, a) };
    if (-4095..0).contains(&r) {
        Err(Errno::from_raw_os_error(-r as i32))
    } else {
        Ok(r as usize)
    }
}

/// Ends every thread of the process.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an int and does not return.
    unsafe {
        let _ = syscall(g::__NR_exit_group, [code as usize, 0, 0, 0, 0, 0]);
    }
    loop {
        core::hint::spin_loop();
    }
}

/// write(2) on a raw fd (the logger's fds are raw integers).
pub fn write(fd: i32, b: &[u8]) -> Result<usize> {
    // SAFETY: `b` is a valid readable buffer of b.len() bytes for the call.
    unsafe { syscall(g::__NR_write, [fd as usize, b.as_ptr() as usize, b.len(), 0, 0, 0]) }
}

// ---------------------------------------------------------------- clone3

/// `struct clone_args` (include/uapi/linux/sched.h), version 2 (88 bytes:
/// with set_tid and cgroup).
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}
static_assertions::const_assert_eq!(core::mem::size_of::<CloneArgs>(), 88);

pub const CLONE_PIDFD: u64 = g::CLONE_PIDFD as u64;
#[allow(clippy::unnecessary_cast)] // u32 or u64 by architecture in linux-raw-sys
pub const CLONE_INTO_CGROUP: u64 = g::CLONE_INTO_CGROUP as u64;
pub const CLONE_PARENT: u64 = g::CLONE_PARENT as u64;
pub const CLONE_NEWNS: u64 = g::CLONE_NEWNS as u64;
pub const CLONE_NEWCGROUP: u64 = g::CLONE_NEWCGROUP as u64;
pub const CLONE_NEWUTS: u64 = g::CLONE_NEWUTS as u64;
pub const CLONE_NEWIPC: u64 = g::CLONE_NEWIPC as u64;
pub const CLONE_NEWUSER: u64 = g::CLONE_NEWUSER as u64;
pub const CLONE_NEWPID: u64 = g::CLONE_NEWPID as u64;
pub const CLONE_NEWNET: u64 = g::CLONE_NEWNET as u64;
pub const CLONE_NEWTIME: u64 = g::CLONE_NEWTIME as u64;

/// Which side of a fork-like call we are on.
pub enum Forked {
    /// In the parent; the child's pid (in the caller's pid namespace).
    Parent(i32),
    /// In the child.
    Child,
}

/// clone3(2) without CLONE_VM and without a new stack: fork semantics (the
/// child runs on a copy of the caller's stack and returns here).
///
/// # Safety
/// Like fork: the caller must be single-threaded, `args.flags` must not
/// contain CLONE_VM, CLONE_THREAD, CLONE_SIGHAND, CLONE_SETTLS or a stack,
/// and every pointer in `args` (pidfd, cgroup fd as integer, set_tid) must be
/// valid. The child must only continue into code that is correct after a
/// fork (no locks held elsewhere: keel has no threads).
#[inline(never)]
pub unsafe fn clone3(args: &mut CloneArgs) -> Result<Forked> {
    // SAFETY: forwarded contract; size is the struct's size.
    let r = unsafe {
        syscall(
            g::__NR_clone3,
            [
                args as *mut CloneArgs as usize,
                core::mem::size_of::<CloneArgs>(),
                0,
                0,
                0,
                0,
            ],
        )?
    };
    Ok(if r == 0 {
        Forked::Child
    } else {
        Forked::Parent(r as i32)
    })
}

/// clone(2) with fork semantics (no new stack): the fallback where seccomp
/// refuses clone3 (Docker's default profile answers ENOSYS).
///
/// # Safety
/// As for [`clone3`]; `flags` may hold namespace flags and SIGCHLD.
#[inline(never)]
pub unsafe fn clone_fork(flags: u64, pidfd_out: *mut i32) -> Result<Forked> {
    // x86_64: clone(flags, stack, parent_tid, child_tid, tls);
    // aarch64: clone(flags, stack, parent_tid, tls, child_tid). With
    // CLONE_PIDFD the pidfd is stored through parent_tid on both.
    // SAFETY: forwarded contract; stack 0 means "same stack" (fork).
    let r = unsafe { syscall(g::__NR_clone, [flags as usize, 0, pidfd_out as usize, 0, 0, 0])? };
    Ok(if r == 0 {
        Forked::Child
    } else {
        Forked::Parent(r as i32)
    })
}

/// A plain fork that also returns a pidfd of the child: clone3, or clone(2)
/// where seccomp refuses clone3. `Ok((Forked::Child, -1))` in the child.
///
/// # Safety
/// As for [`clone3`]: the caller is single-threaded and the child only
/// continues into code that is correct after a fork.
pub unsafe fn fork_pidfd() -> Result<(Forked, i32)> {
    let mut pidfd: i32 = -1;
    let mut args = CloneArgs {
        flags: CLONE_PIDFD,
        pidfd: &mut pidfd as *mut i32 as u64,
        exit_signal: u64::from(g::SIGCHLD),
        ..CloneArgs::default()
    };
    // SAFETY: forwarded contract; the pidfd pointer is a live local.
    let r = match unsafe { clone3(&mut args) } {
        // SAFETY: as above; clone(2) stores the pidfd through parent_tid, a live local.
        Err(Errno::NOSYS) | Err(Errno::PERM) => unsafe { clone_fork(CLONE_PIDFD | u64::from(g::SIGCHLD), &mut pidfd) },
        r => r,
    }?;
    Ok((r, pidfd))
}

// ---------------------------------------------------------------- signals

/// The kernel's sigset_t: 64 signals, one bit each (bit N-1 for signal N).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigSet(pub u64);
static_assertions::const_assert_eq!(core::mem::size_of::<SigSet>(), 8);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);
    pub const FULL: SigSet = SigSet(!0);
    pub fn with(self, sig: i32) -> SigSet {
        if (1..=64).contains(&sig) {
            SigSet(self.0 | 1u64 << (sig - 1))
        } else {
            self
        }
    }
    pub fn contains(self, sig: i32) -> bool {
        (1..=64).contains(&sig) && self.0 & (1u64 << (sig - 1)) != 0
    }
}

pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

/// rt_sigprocmask(2). Returns the previous mask.
pub fn sigprocmask(how: u32, set: Option<&SigSet>) -> Result<SigSet> {
    let mut old = SigSet::EMPTY;
    let p = set.map_or(0, |s| s as *const SigSet as usize);
    // SAFETY: `set` (if any) and `old` are valid sigset_t of 8 bytes.
    unsafe {
        syscall(
            g::__NR_rt_sigprocmask,
            [how as usize, p, &mut old as *mut SigSet as usize, 8, 0, 0],
        )?;
    }
    Ok(old)
}

/// The kernel's `struct sigaction` for rt_sigaction (not libc's).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: SigSet,
}

pub const SIG_DFL: usize = 0;
pub const SIG_IGN: usize = 1;

/// rt_sigaction(2). keel only ever installs SIG_DFL or SIG_IGN (it takes
/// signals through a signalfd), so no restorer is needed.
pub fn sigaction(sig: i32, act: Option<&KSigaction>) -> Result<KSigaction> {
    let mut old = KSigaction::default();
    let p = act.map_or(0, |a| a as *const KSigaction as usize);
    // SAFETY: both structs are the kernel layout; sigsetsize is 8.
    unsafe {
        syscall(
            g::__NR_rt_sigaction,
            [sig as usize, p, &mut old as *mut KSigaction as usize, 8, 0, 0],
        )?;
    }
    Ok(old)
}

/// `struct signalfd_siginfo` (include/uapi/linux/signalfd.h), 128 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SignalfdSiginfo {
    pub ssi_signo: u32,
    pub ssi_errno: i32,
    pub ssi_code: i32,
    pub ssi_pid: u32,
    pub ssi_uid: u32,
    pub ssi_fd: i32,
    pub ssi_tid: u32,
    pub ssi_band: u32,
    pub ssi_overrun: u32,
    pub ssi_trapno: u32,
    pub ssi_status: i32,
    pub ssi_int: i32,
    pub ssi_ptr: u64,
    pub ssi_utime: u64,
    pub ssi_stime: u64,
    pub ssi_addr: u64,
    pub ssi_addr_lsb: u16,
    pub pad2: u16,
    pub ssi_syscall: i32,
    pub ssi_call_addr: u64,
    pub ssi_arch: u32,
    pub pad: [u8; 28],
}
static_assertions::const_assert_eq!(core::mem::size_of::<SignalfdSiginfo>(), 128);

impl Default for SignalfdSiginfo {
    fn default() -> Self {
        // SAFETY: all-zero bytes are a valid value of this plain-integer struct.
        unsafe { core::mem::zeroed() }
    }
}

pub const SFD_CLOEXEC: u32 = g::O_CLOEXEC;
pub const SFD_NONBLOCK: u32 = g::O_NONBLOCK;

/// signalfd4(2): a new signalfd (fd = -1) or an update of one.
pub fn signalfd4(fd: i32, mask: &SigSet, flags: u32) -> Result<i32> {
    // SAFETY: mask is a valid 8-byte sigset_t.
    unsafe {
        syscall(
            g::__NR_signalfd4,
            [fd as usize, mask as *const SigSet as usize, 8, flags as usize, 0, 0],
        )
        .map(|r| r as i32)
    }
}

// ---------------------------------------------------------------- exec, fds

/// execveat(2). Returns only on failure.
///
/// # Safety
/// `argv` and `envp` must be null-terminated arrays of pointers to
/// NUL-terminated strings, valid for the call.
pub unsafe fn execveat(dirfd: i32, path: &CStr, argv: *const *const u8, envp: *const *const u8, flags: u32) -> Errno {
    // SAFETY: forwarded contract; path is NUL-terminated.
    match unsafe {
        syscall(
            g::__NR_execveat,
            [
                dirfd as usize,
                path.as_ptr() as usize,
                argv as usize,
                envp as usize,
                flags as usize,
                0,
            ],
        )
    } {
        Ok(_) => Errno::NOEXEC, // execveat does not return on success
        Err(e) => e,
    }
}

pub const AT_FDCWD: i32 = g::AT_FDCWD;
pub const AT_EMPTY_PATH: u32 = g::AT_EMPTY_PATH;
pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
pub const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;

/// close_range(2): closes (or marks close-on-exec) fds first..=last.
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<()> {
    // SAFETY: plain integers. Closing fds the caller still uses is a logic error, not memory unsafety: rustix's OwnedFds would report EBADF.
    unsafe {
        syscall(
            g::__NR_close_range,
            [first as usize, last as usize, flags as usize, 0, 0, 0],
        )
        .map(|_| ())
    }
}

// ---------------------------------------------------------------- processes, terminals

/// kill(2) with a raw pid: `pid > 0` one process, `pid < -1` the process
/// group -pid, `-1` every process keel may signal (as PID 1 of a pid
/// namespace: every other process of that namespace). rustix has no `-1`.
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: plain integers; no memory is passed.
    unsafe { syscall(g::__NR_kill, [pid as isize as usize, sig as usize, 0, 0, 0, 0]).map(|_| ()) }
}

/// `TIOCSPGRP` (asm-generic/ioctls.h; the same on x86_64 and aarch64).
/// linux-raw-sys has it only behind its `ioctl` feature, which keel does
/// not enable.
pub const TIOCSPGRP: u32 = 0x5410;

/// tcsetpgrp(3): makes `pgrp` the foreground process group of the
/// terminal on `fd` (ENOTTY when `fd` is not the caller's controlling
/// terminal). rustix has it only behind its `termios` feature.
pub fn tcsetpgrp(fd: i32, pgrp: i32) -> Result<()> {
    let p: i32 = pgrp;
    // SAFETY: TIOCSPGRP reads one pid_t (i32) through the pointer, which points at a live local for the duration of the call.
    unsafe {
        syscall(
            g::__NR_ioctl,
            [fd as usize, TIOCSPGRP as usize, &p as *const i32 as usize, 0, 0, 0],
        )
        .map(|_| ())
    }
}

/// fcntl(fd, F_SETFD, FD_CLOEXEC) on a raw fd that may not be open (EBADF
/// then): the fallback where close_range(CLOSE_RANGE_CLOEXEC) is missing.
pub fn set_cloexec(fd: i32) -> Result<()> {
    // SAFETY: plain integers; F_SETFD takes its flag by value.
    unsafe {
        syscall(
            g::__NR_fcntl,
            [fd as usize, g::F_SETFD as usize, g::FD_CLOEXEC as usize, 0, 0, 0],
        )
        .map(|_| ())
    }
}

/// dup3(2) on raw fd numbers: makes `new` a copy of `old` (flags 0 or
/// O_CLOEXEC). Used where the target number is fixed (0, 1, 2, a ready fd)
/// and no OwnedFd exists for it yet.
pub fn dup3(old: i32, new: i32, flags: u32) -> Result<i32> {
    // SAFETY: plain integers. Replacing an fd the caller still uses is a logic error, not memory unsafety (as for close_range).
    unsafe { syscall(g::__NR_dup3, [old as usize, new as usize, flags as usize, 0, 0, 0]).map(|r| r as i32) }
}

// ---------------------------------------------------------------- keys

pub type KeySerial = i32;

/// keyctl(2) with integer arguments.
///
/// # Safety
/// For operations that take pointers, the arguments must be valid pointers
/// of the sizes that operation expects.
pub unsafe fn keyctl(op: u32, a2: usize, a3: usize, a4: usize, a5: usize) -> Result<usize> {
    // SAFETY: forwarded contract.
    unsafe { syscall(g::__NR_keyctl, [op as usize, a2, a3, a4, a5, 0]) }
}

/// add_key(2).
pub fn add_key(ty: &CStr, desc: &CStr, payload: &[u8], keyring: KeySerial) -> Result<KeySerial> {
    // SAFETY: NUL-terminated strings and a payload buffer of its length.
    unsafe {
        syscall(
            g::__NR_add_key,
            [
                ty.as_ptr() as usize,
                desc.as_ptr() as usize,
                payload.as_ptr() as usize,
                payload.len(),
                keyring as u32 as usize,
                0,
            ],
        )
        .map(|r| r as KeySerial)
    }
}

/// request_key(2).
pub fn request_key(ty: &CStr, desc: &CStr, callout: Option<&CStr>, dest: KeySerial) -> Result<KeySerial> {
    let c = callout.map_or(0, |c| c.as_ptr() as usize);
    // SAFETY: NUL-terminated strings (callout may be null).
    unsafe {
        syscall(
            g::__NR_request_key,
            [
                ty.as_ptr() as usize,
                desc.as_ptr() as usize,
                c,
                dest as u32 as usize,
                0,
                0,
            ],
        )
        .map(|r| r as KeySerial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigset_bits() {
        let s = SigSet::EMPTY.with(1).with(17).with(64).with(0).with(65);
        assert!(s.contains(1) && s.contains(17) && s.contains(64));
        assert!(!s.contains(2) && !s.contains(0) && !s.contains(65));
        assert_eq!(s.0, 1 | 1 << 16 | 1 << 63);
    }

    #[test]
    fn raw_write_and_errors() {
        assert_eq!(write(-1, b"x"), Err(Errno::BADF));
        let (r, w) = rustix::pipe::pipe().unwrap();
        use rustix::fd::AsRawFd;
        assert_eq!(write(w.as_raw_fd(), b"abc"), Ok(3));
        let mut b = [0u8; 3];
        rustix::io::read(&r, &mut b).unwrap();
        assert_eq!(&b, b"abc");
    }

    #[test]
    fn sigprocmask_round_trip() {
        let old = sigprocmask(SIG_BLOCK, Some(&SigSet::EMPTY.with(10))).unwrap();
        let cur = sigprocmask(SIG_BLOCK, None).unwrap();
        assert!(cur.contains(10));
        sigprocmask(SIG_SETMASK, Some(&old)).unwrap();
    }

    #[test]
    fn kill_and_terminal_helpers() {
        // Signal 0 probes: ourselves exists, a negative non-group is ESRCH.
        assert_eq!(kill(std::process::id() as i32, 0), Ok(()));
        assert_eq!(kill(-0x3fff_fff0, 0), Err(Errno::SRCH));
        let (r, _w) = rustix::pipe::pipe().unwrap();
        use rustix::fd::AsRawFd;
        assert_eq!(tcsetpgrp(r.as_raw_fd(), 1), Err(Errno::NOTTY));
        assert_eq!(set_cloexec(r.as_raw_fd()), Ok(()));
        assert_eq!(set_cloexec(-1), Err(Errno::BADF));
    }

    #[test]
    fn close_range_rejects_inverted_range() {
        assert_eq!(close_range(10, 5, 0), Err(Errno::INVAL));
    }
}

// ---------------------------------------------------------------- memory

const PAGE: usize = 4096;
/// Lowest mapped page of the stack seen so far (0 = not measured yet).
static STACK_LOW: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Is the page at `addr` mapped? (mincore answers ENOMEM if not.)
fn mapped(addr: usize) -> bool {
    let mut v = 0u8;
    // SAFETY: mincore writes one byte per page of the range into `v`; the range is one page, so one byte. It does not touch the page itself.
    unsafe { syscall(g::__NR_mincore, [addr, PAGE, &mut v as *mut u8 as usize, 0, 0, 0]).is_ok() }
}

/// The lowest address of the stack mapping below `top` (it only grows
/// down, so the last answer is re-checked with one probe).
fn stack_low(top: usize) -> usize {
    use core::sync::atomic::Ordering::Relaxed;
    let cached = STACK_LOW.load(Relaxed);
    if cached != 0 && cached <= top && !mapped(cached.wrapping_sub(PAGE)) {
        return cached;
    }
    // Binary search for the lowest mapped page under `top` (the stack is
    // one contiguous mapping; below it lies the unmapped guard gap).
    let mut lo = top.saturating_sub(8 << 20); // RLIMIT_STACK's usual 8 MiB
    let mut hi = top;
    if mapped(lo) {
        hi = lo;
    } else {
        while hi - lo > PAGE {
            let mid = (lo + (hi - lo) / 2) & !(PAGE - 1);
            if mid <= lo || mid >= hi {
                break;
            }
            if mapped(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
    }
    STACK_LOW.store(hi, Relaxed);
    hi
}

/// Returns the stack pages more than `keep` bytes below the caller's frame
/// to the kernel (MADV_DONTNEED): after a deep but rare call path (spawn,
/// reload) its frames would otherwise stay resident for the process's life.
/// They come back as zero pages when touched again. Usually two syscalls.
/// (The kernel refuses a range that reaches below the mapping, so its exact
/// lower end is found with mincore first.)
#[inline(never)]
pub fn trim_stack(keep: usize) {
    let marker = 0u8;
    let sp = core::ptr::addr_of!(marker) as usize;
    let top = sp.saturating_sub(keep) & !(PAGE - 1);
    let low = stack_low(top);
    if low >= top {
        return;
    }
    // SAFETY: [low, top) lies entirely below the current stack frame (with `keep` bytes of margin), where no live data exists: nothing refers to stack memory below the deepest active frame. MADV_DONTNEED on private anonymous memory only replaces those pages with zero pages.
    unsafe {
        let _ = syscall(g::__NR_madvise, [low, top - low, 4 /* MADV_DONTNEED */, 0, 0, 0]);
    }
}
