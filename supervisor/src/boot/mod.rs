//! Boot mode: keel as the PID 1 of a machine (docs/boot.md).
//!
//! In order: every signal blocked; fds 0–2 on the console; /proc, /sys,
//! /dev (+ /dev/pts, /dev/shm), /run and cgroup2 mounted where missing;
//! the log sink on /dev/kmsg + /dev/console; Ctrl-Alt-Del made a signal;
//! out of the initramfs ([`initramfs`]); the global configuration
//! ([`conf`]: host name, modules, sysctls, the modprobe upcall); then the
//! supervisor loop over the container specs. When the loop ends: what
//! `on_empty` or the signal says ([`power`]). PID 1 never exits: a panic
//! re-executes keel with `--resume` ([`adopt`]), and every path ends in
//! reboot(2) or a loop that still obeys the power signals.
//!
//! - [`early`], [`kmsg`]: the first steps and the log sink;
//! - [`cmdline`]: `keel.*` words of the kernel command line;
//! - [`conf`]: keel.conf — pure;
//! - [`modules`]: modules.dep and modules.builtin — pure — and finit_module;
//! - [`initramfs`]: leaving the initramfs;
//! - [`power`]: the shutdown, the verdict, reboot(2);
//! - [`adopt`]: taking back running containers after `--resume`;
//! - [`modprobe`]: the kernel's module upcall (Mode::Modprobe).

pub mod adopt;
pub mod cmdline;
pub mod conf;
pub mod early;
pub mod initramfs;
pub mod kmsg;
pub mod lines;
pub mod modprobe;
pub mod modules;
pub mod power;
mod sys;

use crate::run::{self, options::Options};
use crate::spec::SpecBuf;
use conf::{Conf, Modprobe, OnEmpty, Settings};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};
use keel_rt::line::{Line, Piece};
use keel_rt::path::PathBuf;
use keel_rt::{error, info, notice, warn};
use rustix::io::Errno;

/// The configuration directory unless `keel.config=DIR` is on the kernel
/// command line: DIR/keel.conf and DIR/containers/.
pub const DEFAULT_CONFIG_DIR: &[u8] = b"/etc/keel";
/// The symlink the kernel's modprobe upcall runs (`modprobe keel`).
pub const MODPROBE_LINK: &core::ffi::CStr = c"/run/keel/modprobe";

/// Boottime (µs) when keel started.
static START_US: AtomicU64 = AtomicU64::new(0);
/// PID 1's CPU time (µs) when this keel started: the kernel's own init
/// work (initcalls, unpacking the initramfs) ran as this task before the
/// exec and counts in its rusage (after --resume: the earlier keel too).
static START_CPU_US: AtomicU64 = AtomicU64::new(0);
/// keel's own binary (O_PATH), for the re-exec after a panic.
static EXE_FD: AtomicI32 = AtomicI32::new(-1);
static RESUMED: AtomicBool = AtomicBool::new(false);
static ALL_RUNNING: AtomicBool = AtomicBool::new(false);
/// keel's CPU time (µs) and boottime (µs) when the supervisor loop started.
static LOOP_CPU_US: AtomicU64 = AtomicU64::new(0);
static LOOP_START_US: AtomicU64 = AtomicU64::new(0);
/// The settings the panic path needs: verdict port (0x10000 = none) and
/// shutdown timeout.
static VERDICT_PORT: AtomicU32 = AtomicU32::new(0x1_0000);
static SHUTDOWN_MS: AtomicU32 = AtomicU32::new(conf::DEFAULT_SHUTDOWN_TIMEOUT_MS);

fn us(c: rustix::time::ClockId) -> u64 {
    let t = rustix::time::clock_gettime(c);
    (t.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000)
        .saturating_add((t.tv_nsec.max(0) as u64) / 1000)
}

fn boottime_us() -> u64 {
    us(rustix::time::ClockId::Boottime)
}

/// Microseconds shown as milliseconds with three decimals: `12.345`.
pub struct Ms(pub u64);

impl Piece for Ms {
    fn put(&self, l: &mut Line) {
        let frac = self.0 % 1000;
        l.u64(self.0 / 1000).str(".");
        if frac < 100 {
            l.str("0");
        }
        if frac < 10 {
            l.str("0");
        }
        l.u64(frac);
    }
}

/// Lower-case hexadecimal with `0x`.
pub struct Hex(pub u64);

impl Piece for Hex {
    fn put(&self, l: &mut Line) {
        l.str("0x").hex(self.0);
    }
}

/// `uname -r` and the module directory /lib/modules/RELEASE.
pub struct Release {
    dir: PathBuf,
}

impl Release {
    pub fn new() -> Self {
        let u = rustix::system::uname();
        let mut dir = PathBuf::from(b"/lib/modules/");
        dir.push(u.release().to_bytes());
        Release { dir }
    }
    pub fn moddir(&mut self) -> &[u8] {
        self.dir.as_bytes()
    }
}

impl Default for Release {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads and parses DIR/keel.conf into `buf`. None: there is no such file
/// (defaults apply). Errors are logged here, naming file and line.
pub fn read_conf<'b>(dir: &[u8], buf: &'b mut SpecBuf) -> Option<Result<Conf<'b>, ()>> {
    let mut path = PathBuf::from(dir);
    path.join(b"keel.conf");
    let read = path.as_cstr().and_then(|c| {
        let dst = buf.bytes.get_mut(..crate::spec::SPEC_FILE_MAX).ok_or(Errno::FBIG)?;
        keel_rt::fs::read_into(c, dst)
    });
    match read {
        Ok(n) => buf.len = n,
        Err(Errno::NOENT) => return None,
        Err(e) => {
            error!(
                "keel: ",
                path.as_bytes(),
                ": ",
                e,
                if e == Errno::FBIG {
                    " (larger than 16384 bytes)"
                } else {
                    ""
                }
            );
            return Some(Err(()));
        }
    }
    Some(conf::parse(buf).map_err(|pe| {
        let mut l = Line::new();
        pe.render(path.as_bytes(), &mut l);
        error!("keel: ", l);
    }))
}

/// Boot mode. Never returns.
pub fn run() -> ! {
    let t0 = boottime_us();
    START_US.store(t0, Relaxed);
    let (u0, s0) = sys::cpu_time_us();
    START_CPU_US.store(u0 + s0, Relaxed);
    early::block_signals();
    let stdio_ok = early::stdio();
    let resume = keel_rt::args::iter().skip(1).any(|a| a == b"--resume");
    RESUMED.store(resume, Relaxed);
    let mounted = early::mount_api();
    if !stdio_ok {
        // /dev/console exists now (devtmpfs).
        early::stdio();
    }
    cmdline::load();
    kmsg::setup();
    keel_rt::panic::set_hook(panic_hook);
    if resume {
        notice!("keel ", env!("CARGO_PKG_VERSION"), ": boot mode, resumed after a fault");
    } else {
        notice!(
            "keel ",
            env!("CARGO_PKG_VERSION"),
            ": boot mode, started ",
            Ms(t0),
            " ms after the kernel"
        );
    }
    if !mounted.done.is_empty() {
        info!("keel: mounted", mounted.done);
    }
    if !mounted.already.is_empty() {
        info!("keel: already mounted:", mounted.already);
    }
    early::cad_off();

    // keel's own binary: the path before the initramfs is left (the copy
    // keeps it), the fd after (so it is the copy's).
    let mut exe = PathBuf::new();
    let mut b = [0u8; 512];
    if let Ok(n) = rustix::fs::readlinkat_raw(rustix::fs::CWD, c"/proc/self/exe", &mut b[..]) {
        let p = b.get(..n).unwrap_or(&[]);
        if p.first() == Some(&b'/') && !p.ends_with(b" (deleted)") {
            exe.push(p);
        }
    }
    if !resume {
        leave_initramfs();
    }
    open_exe(&exe);

    let config_env = cmdline::param(b"keel.config").filter(|d| !d.is_empty());
    let config_dir = config_env.unwrap_or(DEFAULT_CONFIG_DIR);
    let settings = apply_config(config_dir, resume, &exe);
    VERDICT_PORT.store(settings.verdict_port.map_or(0x1_0000, u32::from), Relaxed);
    SHUTDOWN_MS.store(settings.shutdown_timeout_ms, Relaxed);

    let mut containers = PathBuf::from(config_dir);
    containers.join(b"containers");
    let opts = Options {
        config: containers.as_bytes(),
        run_dir: run::options::DEFAULT_RUN_DIR,
        stay: settings.on_empty == OnEmpty::Stay,
        verbosity: 1,
        resume,
        agent: run::options::DEFAULT_AGENT,
        upcalls: settings.upcalls,
    };
    let (u, s) = sys::cpu_time_us();
    LOOP_CPU_US.store(u + s, Relaxed);
    LOOP_START_US.store(boottime_us(), Relaxed);
    let (ended, worst) = run::run(run::Mode::Boot, &opts);
    print_table("keel: the table at its end:");
    let verdict = power::verdict_byte(worst);
    match power::after_loop(ended, settings.on_empty) {
        Some(p) => {
            let why = match ended {
                run::Ended::TableEnded => "the table ended",
                run::Ended::Requested(_) => "requested",
            };
            notice!("keel: ", p.name(), " (", why, "); worst container exit status ", worst);
            power::shutdown(p, &settings, verdict)
        }
        None => {
            notice!("keel: the supervisor loop could not run; staying up (on_empty stay), reaping");
            power::reap_forever(&settings, verdict)
        }
    }
}

fn leave_initramfs() {
    let t = us(rustix::time::ClockId::Monotonic);
    let (u0, s0) = sys::cpu_time_us();
    match initramfs::leave() {
        Ok(initramfs::Left::NotInitramfs) => {}
        Ok(initramfs::Left::Pivoted) => info!("keel: initramfs: left by pivot_root"),
        Ok(initramfs::Left::Copied(s)) => {
            let dt = us(rustix::time::ClockId::Monotonic).saturating_sub(t);
            let (u1, s1) = sys::cpu_time_us();
            info!(
                "keel: initramfs: copied into a tmpfs in ",
                Ms(dt),
                " ms (cpu ",
                Ms((u1 + s1).saturating_sub(u0 + s0)),
                " ms): ",
                s.files,
                " files (",
                s.bytes / 1024,
                " KiB), ",
                s.dirs,
                " directories, ",
                s.links,
                " symlinks, ",
                s.nodes,
                " nodes; ",
                s.mounts_moved,
                " mounts moved; old root emptied (",
                s.removed,
                " entries)"
            );
            if s.errors > 0 {
                warn!(
                    "keel: initramfs: ",
                    s.errors, " entries could not be copied (see above)"
                );
            }
        }
        Err((what, e)) => error!(
            "keel: initramfs: ",
            what,
            ": ",
            e,
            " — / stays the initramfs: a container with CAP_SYS_ADMIN and no user namespace can reach it"
        ),
    }
}

fn open_exe(exe: &PathBuf) {
    let flags = rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC;
    let fd = exe
        .as_cstr()
        .ok()
        .filter(|c| !c.is_empty())
        .and_then(|c| rustix::fs::open(c, flags, rustix::fs::Mode::empty()).ok())
        .or_else(|| rustix::fs::open(c"/proc/self/exe", flags, rustix::fs::Mode::empty()).ok());
    match fd {
        Some(fd) => EXE_FD.store(rustix::fd::IntoRawFd::into_raw_fd(fd), Relaxed),
        None => warn!("keel: cannot open its own binary: a fault will not be survived by a re-exec"),
    }
}

/// Reads DIR/keel.conf and applies it (not after `--resume`: it was
/// applied by the first incarnation). Returns what the end of the boot
/// needs.
#[inline(never)]
fn apply_config(dir: &[u8], resume: bool, exe: &PathBuf) -> Settings {
    let mut buf = SpecBuf::new();
    let conf = match read_conf(dir, &mut buf) {
        None => {
            info!("keel: no ", dir, "/keel.conf: defaults");
            return Settings::default();
        }
        Some(Err(())) => {
            error!("keel: ", dir, "/keel.conf is not used: defaults apply");
            return Settings::default();
        }
        Some(Ok(c)) => c,
    };
    if resume {
        return conf.settings();
    }
    if let Some(h) = conf.hostname {
        match rustix::system::sethostname(h.to_bytes()) {
            Ok(()) => info!("keel: hostname ", h),
            Err(e) => error!("keel: sethostname ", h, ": ", e),
        }
    }
    if !conf.modules.is_empty() {
        load_modules(&conf);
    }
    for (k, v) in conf.sysctls.iter() {
        let mut p = PathBuf::from(b"/proc/sys/");
        for &c in k.to_bytes() {
            p.push(&[if c == b'.' { b'/' } else { c }]);
        }
        let mut val = keel_rt::path::CBuf::<1100>::from(v.to_bytes());
        val.push(b"\n");
        match p.as_cstr().and_then(|c| keel_rt::fs::write_file(c, val.as_bytes())) {
            Ok(()) => info!("keel: sysctl ", *k, " = ", *v),
            Err(e) => error!("keel: sysctl ", *k, ": ", p.as_bytes(), ": ", e),
        }
    }
    set_modprobe(&conf, exe);
    conf.settings()
}

#[inline(never)]
fn load_modules(conf: &Conf<'_>) {
    let t = us(rustix::time::ClockId::Monotonic);
    let mut rel = Release::new();
    let moddir = rel.moddir();
    let mut plan = modules::Plan::new();
    if let Err(e) = modules::plan(moddir, conf.modules.iter().map(|m| m.name.to_bytes()), &mut plan) {
        error!("keel: modules: ", moddir, "/modules.dep: ", e);
    }
    if plan.skipped_lines > 0 {
        warn!(
            "keel: modules: ",
            plan.skipped_lines, " lines of ", moddir, "/modules.dep longer than 8192 bytes were skipped"
        );
    }
    let out = modules::load(moddir, &plan, |name, out| {
        conf.module(name).is_none_or(|l| conf::join_params(&l.params, out))
    });
    let dt = us(rustix::time::ClockId::Monotonic).saturating_sub(t);
    let (order, _) = plan.order();
    let mut names = Line::new();
    for &i in order.iter() {
        let i = usize::from(i);
        if let (Some(m), false) = (plan.mods.get(i), out.bad_mask & modules::bit(i) != 0) {
            names.str(" ").bytes(&m.name);
        }
    }
    let msg = keel_rt::line!(
        "keel: modules: ",
        out.loaded,
        " loaded, ",
        out.already,
        " already loaded, ",
        out.builtin,
        " built in, ",
        out.failed,
        " failed, in ",
        Ms(dt),
        " ms:",
        names
    );
    if out.failed > 0 {
        keel_rt::log::emit(keel_rt::log::Level::Warn, msg.as_bytes());
    } else {
        keel_rt::log::emit(keel_rt::log::Level::Info, msg.as_bytes());
    }
}

#[inline(never)]
fn set_modprobe(conf: &Conf<'_>, exe: &PathBuf) {
    const KNOB: &core::ffi::CStr = c"/proc/sys/kernel/modprobe";
    match conf.modprobe {
        Modprobe::Off => match keel_rt::fs::write_file(KNOB, b"\n") {
            Ok(()) => info!("keel: modprobe upcall off (the kernel runs no program for module requests)"),
            Err(e) => warn!("keel: modprobe off: ", KNOB, ": ", e),
        },
        Modprobe::Keel => {
            let made = (|| {
                match rustix::fs::mkdir(c"/run/keel", rustix::fs::Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(("mkdir /run/keel", e)),
                }
                let _ = rustix::fs::unlink(MODPROBE_LINK);
                let target = exe
                    .as_cstr()
                    .ok()
                    .filter(|c| !c.is_empty())
                    .ok_or(("keel's own path", Errno::NOENT))?;
                rustix::fs::symlink(target, MODPROBE_LINK).map_err(|e| ("symlink /run/keel/modprobe", e))?;
                let mut v = PathBuf::from(MODPROBE_LINK.to_bytes());
                v.push(b"\n");
                keel_rt::fs::write_file(KNOB, v.as_bytes()).map_err(|e| ("write /proc/sys/kernel/modprobe", e))
            })();
            match made {
                Ok(()) => {
                    let mut l = Line::new();
                    for a in conf.modprobe_allow.iter() {
                        l.str(" ").bytes(a.to_bytes());
                    }
                    info!(
                        "keel: modprobe upcall -> ",
                        MODPROBE_LINK,
                        " (keel), allowed:",
                        if l.is_empty() { &b" none"[..] } else { l.as_bytes() }
                    );
                }
                Err((what, e)) => {
                    error!("keel: modprobe keel: ", what, ": ", e, "; turning the upcall off");
                    let _ = keel_rt::fs::write_file(KNOB, b"\n");
                }
            }
        }
    }
}

/// Called by the supervisor loop (boot mode) each time the table is quiet
/// with every container running: the first time, the boot benchmark line
/// and the table on the console.
pub fn all_running(n: usize) {
    if ALL_RUNNING.swap(true, Relaxed) {
        return;
    }
    let wall = boottime_us().saturating_sub(START_US.load(Relaxed));
    let (u, s) = sys::cpu_time_us();
    let base = START_CPU_US.load(Relaxed);
    let cpu = (u + s).saturating_sub(base);
    // Deep set-up frames (copy, modules, spawns) are not part of the
    // steady state: give them back before measuring.
    keel_rt::sys::trim_stack(8 * 1024);
    let rss = vm_rss_kb();
    let now = boottime_us();
    let cpu_loop = (u + s).saturating_sub(LOOP_CPU_US.load(Relaxed));
    let wall_loop = now.saturating_sub(LOOP_START_US.load(Relaxed));
    notice!(
        "keel: all ",
        n,
        " containers running: keel's cpu ",
        Ms(cpu),
        " ms (supervisor loop ",
        Ms(cpu_loop),
        "), wall ",
        Ms(wall),
        " ms (loop ",
        Ms(wall_loop),
        ") since keel started, ",
        Ms(now),
        " ms since boot; pid 1's cpu before this keel ",
        Ms(base),
        " ms; VmRSS ",
        rss,
        " kB"
    );
    print_table("keel: containers:");
    #[cfg(feature = "fault-inject")]
    if !RESUMED.load(Relaxed) && cmdline::param(b"keel.panic") == Some(b"running") {
        panic!("injected by keel.panic=running");
    }
}

fn vm_rss_kb() -> u64 {
    let mut b = [0u8; 2048];
    let n = match keel_rt::fs::read_into(c"/proc/self/status", &mut b) {
        Ok(n) => n,
        Err(Errno::FBIG) => b.len(),
        Err(_) => return 0,
    };
    b.get(..n)
        .unwrap_or(&[])
        .split(|&c| c == b'\n')
        .find_map(|l| l.strip_prefix(b"VmRSS:"))
        .and_then(|v| v.trim_ascii().split(|&c| c == b' ').next())
        .and_then(|d| {
            d.iter()
                .try_fold(0u64, |a, &c| c.is_ascii_digit().then(|| a * 10 + u64::from(c - b'0')))
        })
        .unwrap_or(0)
}

/// The status file, compact, on the console (people only: kmsg gets the
/// summary lines).
fn print_table(title: &str) {
    let mut p = PathBuf::from(run::options::DEFAULT_RUN_DIR);
    p.join(b"containers");
    let Ok(c) = p.as_cstr() else { return };
    let Ok(fd) = keel_rt::fs::open_read(rustix::fs::CWD, c) else {
        return;
    };
    let mut out = Line::new();
    out.str(title).str("\n");
    kmsg::console_write(out.as_bytes());
    let mut buf = [0u8; 1024];
    let _ = lines::for_each_line(&fd, &mut buf, |l| {
        if l.first() == Some(&b'#') {
            return false;
        }
        out.clear();
        out.str("  ");
        let field = |k: &[u8]| {
            l.split(|&c| c == b' ')
                .find_map(|f| f.strip_prefix(k).and_then(|r| r.strip_prefix(b"=")))
                .unwrap_or(b"?")
        };
        let pad = |out: &mut Line, v: &[u8], w: usize| {
            out.bytes(v);
            for _ in v.len()..w {
                out.str(" ");
            }
        };
        pad(&mut out, field(b"name"), 20);
        pad(&mut out, field(b"state"), 10);
        out.str(" pid ");
        pad(&mut out, field(b"pid"), 7);
        out.str(" restarts ");
        pad(&mut out, field(b"restarts"), 4);
        out.str(" exit ").bytes(field(b"exit"));
        let reason = field(b"reason");
        if reason != b"-" && reason != b"?" {
            out.str(" (").bytes(reason).str(")");
        }
        out.str("\n");
        kmsg::console_write(out.as_bytes());
        false
    });
}

/// A resumed keel that faults sooner than this is not re-executed again.
const RESUME_AGAIN_AFTER_US: u64 = 10_000_000;

/// After a panic (the message is logged already): re-execute keel with
/// `--resume`, from the fd opened at start; if that fails, reap for ever.
fn panic_hook() -> ! {
    let fd = EXE_FD.load(Relaxed);
    let young = boottime_us().saturating_sub(START_US.load(Relaxed)) < RESUME_AGAIN_AFTER_US;
    if RESUMED.load(Relaxed) && young {
        error!("keel: a fault within 10 s of a resume: not re-executing again (a fault that repeats would loop)");
    } else if fd >= 0 {
        let argv0 = keel_rt::args::get_cstr(0).unwrap_or(c"/init");
        let argv: [*const u8; 3] = [argv0.as_ptr().cast(), c"--resume".as_ptr().cast(), core::ptr::null()];
        error!("keel: re-executing itself with --resume");
        // SAFETY: argv is a null-terminated array of pointers to NUL-terminated strings that live for the call (argv[0] is the kernel's initial stack, the other a literal); envp is the kernel's initial environment, null-terminated.
        let e = unsafe {
            keel_rt::sys::execveat(
                fd,
                c"",
                argv.as_ptr(),
                keel_rt::args::envp_ptr(),
                keel_rt::sys::AT_EMPTY_PATH,
            )
        };
        error!(
            "keel: re-exec failed: ",
            e, "; only reaping now (the power signals still work)"
        );
    } else {
        error!("keel: no binary to re-execute; only reaping now (the power signals still work)");
    }
    let port = VERDICT_PORT.load(Relaxed);
    let settings = Settings {
        on_empty: OnEmpty::Poweroff,
        verdict_port: u16::try_from(port).ok(),
        shutdown_timeout_ms: SHUTDOWN_MS.load(Relaxed),
        upcalls: crate::upcall::Settings::default(),
    };
    // keel lost track of the containers: the verdict says so.
    power::reap_forever(&settings, 255)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis() {
        assert_eq!(keel_rt::line!(Ms(12_345)).as_bytes(), b"12.345");
        assert_eq!(keel_rt::line!(Ms(5)).as_bytes(), b"0.005");
        assert_eq!(keel_rt::line!(Ms(1_000_050)).as_bytes(), b"1000.050");
        assert_eq!(keel_rt::line!(Hex(0xf4)).as_bytes(), b"0xf4");
    }

    #[test]
    fn rss_and_cpu_of_this_process() {
        assert!(vm_rss_kb() > 0);
        let (u, s) = sys::cpu_time_us();
        assert!(u + s > 0);
    }

    #[test]
    fn conf_file_missing_is_defaults() {
        let mut buf = SpecBuf::new();
        assert!(read_conf(b"/nonexistent-keel-dir", &mut buf).is_none());
        let d = std::env::temp_dir().join(format!("keel-boot-conf-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("keel.conf"), "on_empty halt\nverdict_port 0xf4\n").unwrap();
        let c = read_conf(d.to_str().unwrap().as_bytes(), &mut buf).unwrap().unwrap();
        assert_eq!(
            c.settings(),
            Settings {
                on_empty: OnEmpty::Halt,
                verdict_port: Some(0xf4),
                shutdown_timeout_ms: 10_000,
                upcalls: crate::upcall::Settings::default(),
            }
        );
        std::fs::write(d.join("keel.conf"), "bogus\n").unwrap();
        let mut buf = SpecBuf::new();
        assert!(read_conf(d.to_str().unwrap().as_bytes(), &mut buf).unwrap().is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
