//! The event loop and the carrying-out of table actions (see mod.rs).

use super::options::Options;
use super::signals::{self, SignalAction};
use super::{clock, config, statusfile};
use crate::cgroup::Cgroup2;
use crate::spawn::{self, Outcome, SpawnRequest};
use crate::spec::{self, NsKind, NsMode, Spec, SpecBuf, Stdio};
use crate::table::order::{bit, Set};
use crate::table::slots::Slots;
use crate::table::state::Ending;
use crate::table::status::Extra;
use crate::table::{Action, Actions, Policy, Table, Then, MAX_CONTAINERS};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use heapless::Vec;
use keel_rt::sys::{self as sys, SigSet};
use keel_rt::{debug, error, info, notice, warn};
use rustix::event::epoll;
use rustix::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::io::Errno;
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};

/// Which init mode owns the loop (the signal table differs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Supervisor,
    Boot,
}

/// What ended the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The table ended by itself (supervisor mode without --stay).
    TableEnded,
    /// A stop signal (supervisor mode) or a halt/poweroff/reboot request.
    Requested(SignalAction),
}

// epoll tokens: kind in the high 32 bits, table slot in the low ones.
const K_SIGNAL: u64 = 1;
const K_TIMER: u64 = 2;
const K_REPORT: u64 = 3;
const K_LOG: u64 = 4;
const K_READY: u64 = 5;
const K_EVENTS: u64 = 6;

#[path = "upcalls.rs"]
mod upcalls;
use upcalls::{Conn, ContainerUpcalls, Upcalls};
const _: () = assert!(crate::upcall::MAX_CONNS <= 128);

fn token(kind: u64, slot: usize) -> epoll::EventData {
    epoll::EventData::new_u64(kind << 32 | slot as u64)
}

/// A partial log line kept between reads of a container's log pipe.
const LOG_PARTIAL_MAX: usize = 160;
/// Most events taken from epoll per wake-up.
const EVENTS_PER_WAIT: usize = 16;
/// Stack kept resident below the event loop's frame when trimming.
const STACK_KEEP: usize = 8 * 1024;
/// keel's scheduling priority (nice) in boot and supervisor modes.
const KEEL_NICE: i32 = -10;
/// Most table-action rounds per wake-up (bounded time per event).
const MAX_ROUNDS: usize = 256;

/// The kernel resources of one table slot.
#[derive(Default)]
struct Res {
    pidfd: Option<OwnedFd>,
    report: Option<OwnedFd>,
    log: Option<OwnedFd>,
    ready: Option<OwnedFd>,
    cgroup: Option<OwnedFd>,
    events: Option<OwnedFd>,
    setup_failed: bool,
    partial: Vec<u8, LOG_PARTIAL_MAX>,
}

/// The table and each slot's resources. It lives in a static so that it
/// sits in .bss: only the pages of slots in use become resident.
struct State {
    table: Table,
    res: Slots<Res, MAX_CONTAINERS>,
    extra: [Extra; MAX_CONTAINERS],
    /// Upcall state by table slot: agents, pid namespaces, requests in flight.
    upc: Slots<ContainerUpcalls, MAX_CONTAINERS>,
    /// Broker connections.
    conns: Slots<Conn, { crate::upcall::MAX_CONNS }>,
}

static mut STATE: State = State {
    table: Table::new(),
    res: Slots::new(),
    extra: [Extra::ZERO; MAX_CONTAINERS],
    upc: Slots::new(),
    conns: Slots::new(),
};
static STATE_TAKEN: AtomicBool = AtomicBool::new(false);

/// The one mutable reference to STATE, or None if already taken.
fn take_state() -> Option<&'static mut State> {
    if STATE_TAKEN.swap(true, Ordering::Relaxed) {
        return None;
    }
    // SAFETY: keel has no threads, and STATE_TAKEN lets this reference be created once for the process's life: it is the only access to STATE.
    Some(unsafe { &mut *core::ptr::addr_of_mut!(STATE) })
}

pub struct Runtime<'o> {
    opts: &'o Options<'o>,
    mode: Mode,
    st: &'static mut State,
    epoll: OwnedFd,
    sigfd: OwnedFd,
    timer: OwnedFd,
    config_dir: Option<OwnedFd>,
    cgroup: Option<Cgroup2>,
    ended: Option<Ended>,
    armed: Option<u64>,
    /// Boot mode: "all containers running" was reported.
    all_running_seen: bool,
    up: Option<Upcalls>,
    /// When the upcall counters are next written to the status file.
    status_due: Option<u64>,
    /// A deep path ran (spawn, reload, adoption): trim the stack before
    /// sleeping; else at most once a second.
    trim_due: bool,
    trimmed_at: u64,
}

/// Runs the table until it ends (or, with --stay, until a stop signal).
/// Returns what ended it and the worst container exit status.
pub fn run(mode: Mode, opts: &Options<'_>) -> (Ended, i32) {
    let mut rt = match Runtime::new(mode, opts) {
        Ok(rt) => rt,
        Err(()) => return (Ended::TableEnded, 1),
    };
    rt.upcalls_init();
    rt.load_config();
    if opts.resume && mode == Mode::Boot {
        rt.adopt();
    }
    rt.main_loop();
    let worst = rt.st.table.worst_status();
    let ended = rt.ended.unwrap_or(Ended::TableEnded);
    rt.finish();
    (ended, worst)
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a new descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

impl<'o> Runtime<'o> {
    #[inline(never)]
    fn new(mode: Mode, opts: &'o Options<'o>) -> Result<Self, ()> {
        // Every signal arrives through the signalfd; children get an empty
        // mask back before exec.
        let _ = sys::sigprocmask(sys::SIG_SETMASK, Some(&SigSet::FULL));
        let sigfd = match sys::signalfd4(-1, &SigSet::FULL, sys::SFD_CLOEXEC | sys::SFD_NONBLOCK) {
            Ok(fd) => owned(fd),
            Err(e) => {
                error!("keel: signalfd: ", e);
                return Err(());
            }
        };
        // keel's work per event is small and bounded, and brokers wait for
        // its answers with a 1 s timeout: under load (a flood of upcalls,
        // each a process of its own) it must not queue behind them.
        // Children go back to nice 0 before exec (spawn/exec.rs).
        if let Err(e) = rustix::process::setpriority_process(None, KEEL_NICE) {
            debug!("keel: setpriority ", KEEL_NICE as i64, ": ", e);
        }
        if mode == Mode::Supervisor && rustix::process::getpid().as_raw_nonzero().get() != 1 {
            if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
                warn!(
                    "keel: PR_SET_CHILD_SUBREAPER: ",
                    e, " (orphans will not be reaped by keel)"
                );
            }
        }
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| error!("keel: epoll_create: ", e))?;
        let timer =
            rustix::time::timerfd_create(TimerfdClockId::Boottime, TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK)
                .map_err(|e| error!("keel: timerfd_create: ", e))?;
        epoll::add(&epoll, &sigfd, token(K_SIGNAL, 0), epoll::EventFlags::IN)
            .map_err(|e| error!("keel: epoll_ctl: ", e))?;
        epoll::add(&epoll, &timer, token(K_TIMER, 0), epoll::EventFlags::IN)
            .map_err(|e| error!("keel: epoll_ctl: ", e))?;
        if let Err(e) = statusfile::make_run_dir(opts.run_dir) {
            error!("keel: run directory ", opts.run_dir, ": ", e);
            return Err(());
        }
        let config_dir = match config::open_dir(opts.config) {
            Ok(d) => Some(d),
            Err(e) => {
                error!("keel: config directory ", opts.config, ": ", e);
                return Err(());
            }
        };
        let cgroup = match Cgroup2::setup(mode == Mode::Boot) {
            Ok(c) => Some(c),
            Err(e) => {
                let mut l = keel_rt::Line::new();
                e.render(&mut l);
                warn!("keel: cgroups: ", l, " (containers run without a cgroup of their own)");
                None
            }
        };
        let Some(st) = take_state() else {
            error!("keel: the supervisor loop runs once per process");
            return Err(());
        };
        st.table.dirty = true;
        Ok(Runtime {
            opts,
            mode,
            st,
            epoll,
            sigfd,
            timer,
            config_dir,
            cgroup,
            ended: None,
            armed: None,
            all_running_seen: false,
            up: None,
            status_due: None,
            trim_due: true,
            trimmed_at: 0,
        })
    }

    #[inline(never)]
    fn finish(mut self) {
        // Close every container fd before removing cgroups.
        for i in 0..MAX_CONTAINERS {
            self.release(i);
        }
        self.upcalls_finish();
        if let Some(cg) = self.cgroup.take() {
            cg.teardown();
        }
    }

    fn name(&self, i: usize) -> &[u8] {
        self.st.table.get(i).map_or(&b"?"[..], |e| e.name.as_slice())
    }

    // ------------------------------------------------------------ loop

    fn main_loop(&mut self) {
        let mut events = [MaybeUninit::<epoll::Event>::uninit(); EVENTS_PER_WAIT];
        loop {
            self.drive();
            self.restart_agents();
            if self.st.table.dirty {
                self.st.table.dirty = false;
                if let Err(e) = statusfile::write(
                    self.opts.run_dir,
                    &self.st.table,
                    &self.st.extra,
                    clock::now(),
                    clock::real_now(),
                ) {
                    warn!("keel: status file in ", self.opts.run_dir, ": ", e);
                }
            }
            if self.mode == Mode::Boot && !self.all_running_seen && self.st.table.all_running() {
                self.all_running_seen = true;
                crate::boot::all_running(self.st.table.len());
            }
            if self.st.table.finished() {
                if self.st.table.shutting_down() {
                    return;
                }
                if !self.opts.stay {
                    self.ended = Some(Ended::TableEnded);
                    return;
                }
            }
            self.arm_timer();
            // Deep paths (spawn, reload) leave their frames resident: give
            // them back before sleeping (the RSS budget of issue 2). Upcall
            // events come by the thousand and touch the same few pages each
            // time: for them, at most once a second (each trim costs two
            // system calls and the pages' faults on the next event).
            let now = clock::now();
            if self.trim_due || now.saturating_sub(self.trimmed_at) >= 1000 {
                sys::trim_stack(STACK_KEEP);
                self.trim_due = false;
                self.trimmed_at = now;
            }
            let n = match epoll::wait(&self.epoll, &mut events, None) {
                Ok((ready, _)) => {
                    let mut toks: Vec<(u64, epoll::EventFlags), EVENTS_PER_WAIT> = Vec::new();
                    for ev in ready.iter() {
                        let _ = toks.push((ev.data.u64(), ev.flags));
                    }
                    toks
                }
                Err(Errno::INTR) => continue,
                Err(e) => {
                    error!("keel: epoll_wait: ", e);
                    continue;
                }
            };
            for (tok, flags) in n {
                self.dispatch(tok, flags);
            }
        }
    }

    #[inline(never)]
    fn dispatch(&mut self, tok: u64, flags: epoll::EventFlags) {
        let slot = (tok & 0xffff_ffff) as usize;
        if !matches!(tok >> 32, upcalls::K_LISTEN | upcalls::K_CONN) {
            self.trim_due = true;
        }
        match tok >> 32 {
            K_SIGNAL => self.on_signals(),
            K_TIMER => {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(&self.timer, &mut b);
                self.armed = None;
            }
            K_REPORT => self.on_report(slot),
            K_LOG => self.on_log(slot, flags),
            K_READY => self.on_ready(slot),
            K_EVENTS => self.on_events(slot),
            upcalls::K_LISTEN => self.on_listener(),
            upcalls::K_CONN => self.on_conn(slot, flags),
            upcalls::K_AGENT => self.on_agent_channel(slot),
            _ => {}
        }
    }

    /// Runs the table's steps and carries out their actions until quiet.
    #[inline(never)]
    fn drive(&mut self) {
        let mut q = Actions::new();
        for _ in 0..MAX_ROUNDS {
            if q.is_empty() {
                self.st.table.step(clock::now(), &mut q);
                if q.is_empty() {
                    return;
                }
            }
            let batch = core::mem::take(&mut q);
            for a in batch {
                self.execute(a, &mut q);
            }
        }
        warn!("keel: table did not settle in ", MAX_ROUNDS, " rounds");
    }

    fn arm_timer(&mut self) {
        let next = match (self.st.table.next_deadline(), self.next_agent_restart()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if next == self.armed {
            return;
        }
        let value = match next {
            Some(ms) => Timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: ((ms % 1000) * 1_000_000) as i64,
            },
            None => Timespec { tv_sec: 0, tv_nsec: 0 },
        };
        // A deadline already past still fires: ABSTIME with a past value
        // expires at once (value 0 would disarm, so use at least 1 ns).
        let value = if next.is_some() && value.tv_sec == 0 && value.tv_nsec == 0 {
            Timespec { tv_sec: 0, tv_nsec: 1 }
        } else {
            value
        };
        let spec = Itimerspec {
            it_interval: Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: value,
        };
        match rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::ABSTIME, &spec) {
            Ok(_) => self.armed = next,
            Err(e) => error!("keel: timerfd_settime: ", e),
        }
    }

    // ------------------------------------------------------------ signals

    #[inline(never)]
    fn on_signals(&mut self) {
        let mut buf = [0u8; 128 * 8];
        loop {
            let n = match rustix::io::read(&self.sigfd, &mut buf) {
                Ok(0) | Err(Errno::AGAIN) => return,
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    error!("keel: signalfd read: ", e);
                    return;
                }
            };
            for rec in buf.get(..n).unwrap_or(&[]).chunks_exact(128) {
                let signo = rec
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u32::from_ne_bytes) as i32;
                self.on_signal(signo);
            }
        }
    }

    fn on_signal(&mut self, signo: i32) {
        let action = match self.mode {
            Mode::Supervisor => signals::supervisor(signo),
            Mode::Boot => signals::boot(signo),
        };
        let now = clock::now();
        match action {
            SignalAction::Reap => self.reap(),
            SignalAction::Reload => {
                notice!("keel: reloading ", self.opts.config);
                self.load_config();
            }
            SignalAction::Ignore => debug!("keel: ignoring signal ", signo),
            a @ (SignalAction::StopAndExit | SignalAction::Halt | SignalAction::Poweroff | SignalAction::Reboot) => {
                if self.ended.is_none() {
                    notice!("keel: signal ", signo, ": stopping every container");
                }
                self.ended = Some(Ended::Requested(a));
                let mut q = Actions::new();
                self.st.table.start_shutdown(now, &mut q);
                self.execute_all(q);
            }
        }
    }

    #[inline(never)]
    fn execute_all(&mut self, q: Actions) {
        let mut next = Actions::new();
        for a in q {
            self.execute(a, &mut next);
        }
        // Follow-ups are picked up by the next drive().
        for a in next {
            let mut more = Actions::new();
            self.execute(a, &mut more);
        }
    }

    // ------------------------------------------------------------ children

    #[inline(never)]
    fn reap(&mut self) {
        loop {
            match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
                Ok(Some((pid, st))) => {
                    let pid = pid.as_raw_nonzero().get();
                    let ending = if let Some(code) = st.exit_status() {
                        Ending::Code(code)
                    } else if let Some(sig) = st.terminating_signal() {
                        Ending::Signal(sig)
                    } else {
                        continue;
                    };
                    match self.st.table.slot_of_pid(pid) {
                        Some(i) => self.init_exited(i, ending),
                        None if self.agent_reaped(pid, ending) => {}
                        None => debug!("keel: reaped orphan ", pid),
                    }
                }
                Ok(None) | Err(Errno::CHILD) => return,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    error!("keel: wait: ", e);
                    return;
                }
            }
        }
    }

    #[inline(never)]
    fn init_exited(&mut self, i: usize, ending: Ending) {
        // A failure report may still sit in the pipe: read it first.
        if self.st.res.get(i).is_some_and(|r| r.report.is_some()) {
            self.on_report(i);
        }
        self.drain_log(i, true);
        self.upcalls_on_init_exit(i);
        let now = clock::now();
        let Some(r) = self.st.res.get_mut(i) else { return };
        r.pidfd = None;
        let ending = if core::mem::take(&mut r.setup_failed) {
            Ending::SetupFailed
        } else {
            ending
        };
        let empty = match &r.events {
            Some(ev) => !crate::cgroup::populated(ev).unwrap_or(true),
            None => true,
        };
        let mut q = Actions::new();
        if empty {
            self.st.table.on_cgroup_empty(i, now, &mut q);
        }
        self.st.table.on_exit(i, ending, now, &mut q);
        let e = self.st.table.get(i).map(|e| e.state.name()).unwrap_or("gone");
        info!(
            "keel: container ",
            self.name(i),
            ": exited with status ",
            ending.status(),
            " (",
            e,
            ")"
        );
        self.execute_all(q);
    }

    #[inline(never)]
    fn on_report(&mut self, i: usize) {
        let Some(fd) = self.st.res.get(i).and_then(|r| r.report.as_ref()) else {
            return;
        };
        match spawn::read_report(fd) {
            Outcome::Pending => {}
            Outcome::Execd => {
                if let Some(r) = self.st.res.get_mut(i) {
                    r.report = None;
                }
                let pid = self.st.table.get(i).map_or(0, |e| e.pid);
                if let Some(x) = self.st.extra.get_mut(i) {
                    x.ns = spawn::ns_inodes(pid);
                }
                self.st.table.on_execd(i, clock::now());
                info!("keel: container ", self.name(i), ": running, pid ", pid);
                self.upcalls_on_execd(i);
            }
            Outcome::Failed(f) => {
                if let Some(r) = self.st.res.get_mut(i) {
                    r.report = None;
                    r.setup_failed = true;
                }
                let mut l = keel_rt::Line::new();
                self.with_spec(i, |name, spec| f.render(name, spec, &mut l));
                error!(l);
            }
        }
    }

    /// Calls `f` with the container's freshly parsed spec (or none).
    #[inline(never)]
    fn with_spec(&self, i: usize, f: impl FnOnce(&[u8], Option<&Spec<'_>>)) {
        let name = self.name(i);
        let mut buf = SpecBuf::new();
        let spec = match &self.config_dir {
            Some(d) if config::read(d, name, &mut buf).is_ok() => spec::parse(&mut buf).ok(),
            _ => None,
        };
        f(name, spec.as_ref());
    }

    fn on_log(&mut self, i: usize, flags: epoll::EventFlags) {
        let hup = flags.intersects(epoll::EventFlags::HUP | epoll::EventFlags::ERR);
        self.drain_log(i, hup);
    }

    /// Reads what the container wrote and logs it line by line, prefixed
    /// with its name. At end of file the pipe is closed.
    #[inline(never)]
    fn drain_log(&mut self, i: usize, closing: bool) {
        let name: Vec<u8, 64> = Vec::from_slice(self.name(i)).unwrap_or_default();
        let Some(r) = self.st.res.get_mut(i) else { return };
        let Some(fd) = r.log.as_ref() else { return };
        let mut buf = [0u8; 1024];
        let mut eof = false;
        // Bounded work per event: a few reads, then back to the loop.
        for _ in 0..8 {
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    for &c in buf.get(..n).unwrap_or(&[]) {
                        if c == b'\n' {
                            emit_log(&name, &r.partial);
                            r.partial.clear();
                        } else if r.partial.push(c).is_err() {
                            emit_log(&name, &r.partial);
                            r.partial.clear();
                            let _ = r.partial.push(c);
                        }
                    }
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        let _ = closing; // other processes of the container may still write
        if eof {
            if !r.partial.is_empty() {
                emit_log(&name, &r.partial);
                r.partial.clear();
            }
            r.log = None;
        }
    }

    #[inline(never)]
    fn on_ready(&mut self, i: usize) {
        let Some(r) = self.st.res.get_mut(i) else { return };
        let Some(fd) = r.ready.as_ref() else { return };
        let mut b = [0u8; 64];
        let got = match rustix::io::read(fd, &mut b) {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(b.get(..n).unwrap_or(&[]).contains(&b'\n')),
        };
        match got {
            Some(true) => {
                r.ready = None;
                self.st.table.on_ready(i);
                info!("keel: container ", self.name(i), ": ready");
            }
            Some(false) => {}
            None => r.ready = None,
        }
    }

    #[inline(never)]
    fn on_events(&mut self, i: usize) {
        let Some(ev) = self.st.res.get(i).and_then(|r| r.events.as_ref()) else {
            return;
        };
        if let Ok(false) = crate::cgroup::populated(ev) {
            let mut q = Actions::new();
            self.st.table.on_cgroup_empty(i, clock::now(), &mut q);
            self.execute_all(q);
        }
    }

    // ------------------------------------------------------------ actions

    #[inline(never)]
    fn execute(&mut self, a: Action, q: &mut Actions) {
        match a {
            Action::Spawn(i) => self.spawn(i, q),
            Action::Signal(i, sig) => {
                if let Some(fd) = self.st.res.get(i).and_then(|r| r.pidfd.as_ref()) {
                    debug!("keel: container ", self.name(i), ": sending signal ", sig);
                    if let Err(e) = spawn::signal(fd, sig) {
                        if e != Errno::SRCH {
                            warn!("keel: container ", self.name(i), ": signal ", sig, ": ", e);
                        }
                    }
                }
            }
            Action::Kill(i) => self.kill(i),
            Action::Release(i) => self.release(i),
            Action::LogFailed(i) => {
                let Some(e) = self.st.table.get(i) else { return };
                match e.last {
                    Some(end) => error!(
                        "keel: container ",
                        &e.name[..],
                        ": failed: ",
                        e.reason,
                        " (exit status ",
                        end.status(),
                        ")"
                    ),
                    None => error!("keel: container ", &e.name[..], ": failed: ", e.reason),
                }
            }
        }
    }

    #[inline(never)]
    fn kill(&mut self, i: usize) {
        let name: Vec<u8, 64> = Vec::from_slice(self.name(i)).unwrap_or_default();
        if let (Some(cg), true) = (&self.cgroup, self.st.res.get(i).is_some_and(|r| r.cgroup.is_some())) {
            if let Err(e) = cg.kill(&name) {
                let mut l = keel_rt::Line::new();
                e.render(&mut l);
                warn!("keel: container ", &name[..], ": ", l);
            }
        }
        if let Some(fd) = self.st.res.get(i).and_then(|r| r.pidfd.as_ref()) {
            let _ = spawn::signal(fd, signals::SIGKILL);
        }
    }

    #[inline(never)]
    fn release(&mut self, i: usize) {
        let had_cgroup = self.st.res.get(i).is_some_and(|r| r.cgroup.is_some());
        drop(self.st.res.take(i));
        if let Some(x) = self.st.extra.get_mut(i) {
            *x = Extra::default();
        }
        if let Some(u) = self.st.upc.take(i) {
            if let Some(a) = u.agent_pidfd() {
                let _ = spawn::signal(a, signals::SIGKILL);
            }
        }
        if had_cgroup {
            let name: Vec<u8, 64> = Vec::from_slice(self.name(i)).unwrap_or_default();
            if let Some(cg) = &self.cgroup {
                let _ = cg.remove(&name);
            }
        }
    }

    #[inline(never)]
    fn spawn(&mut self, i: usize, q: &mut Actions) {
        let now = clock::now();
        let name: Vec<u8, 64> = Vec::from_slice(self.name(i)).unwrap_or_default();
        let mut buf = SpecBuf::new();
        let Some(dir) = &self.config_dir else { return };
        if let Err(e) = config::read(dir, &name, &mut buf) {
            error!("keel: container ", &name[..], ": reading its spec: ", e);
            self.st.table.fail(i, "spec file unreadable", now, q);
            return;
        }
        let spec = match spec::parse(&mut buf) {
            Ok(s) => s,
            Err(pe) => {
                let mut l = keel_rt::Line::new();
                pe.render(&name, &mut l);
                error!("keel: spec ", l);
                self.st.table.fail(i, "invalid spec", now, q);
                return;
            }
        };
        // The container's cgroup, with its limits.
        let mut cgroup_fd = None;
        if let Some(cg) = &self.cgroup {
            let made = cg
                .create(&name)
                .and_then(|fd| cg.apply_limits(&name, &spec.cgroup).map(|()| fd));
            match made {
                Ok(fd) => cgroup_fd = Some(fd),
                Err(e) => {
                    let mut l = keel_rt::Line::new();
                    e.render(&mut l);
                    error!("keel: container ", &name[..], ": ", l);
                    self.st.table.fail(i, "cgroup set-up failed", now, q);
                    return;
                }
            }
        }
        // Shared namespaces: the owners' pidfds.
        let mut share: [Option<BorrowedFd<'_>>; 8] = [None; 8];
        for k in NsKind::ALL {
            if let NsMode::Share(owner) = spec.ns.get(k) {
                let fd = self
                    .st
                    .table
                    .slot_of(owner.to_bytes())
                    .and_then(|j| self.st.res.get(j))
                    .and_then(|r| r.pidfd.as_ref())
                    .map(|fd| fd.as_fd());
                match fd {
                    Some(fd) => {
                        if let Some(s) = share.get_mut(k.index()) {
                            *s = Some(fd);
                        }
                    }
                    None => {
                        error!(
                            "keel: container ",
                            &name[..],
                            ": ns ",
                            k.name(),
                            ": container ",
                            owner,
                            " is not running"
                        );
                        self.st.table.fail(i, "namespace owner not running", now, q);
                        return;
                    }
                }
            }
        }
        // stdio.
        let mut log_read = None;
        let mut out_fd: Option<OwnedFd> = None;
        match spec.stdio {
            Stdio::Log => match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                Ok((r, w)) => {
                    let _ = rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK);
                    log_read = Some(r);
                    out_fd = Some(w);
                }
                Err(e) => error!("keel: container ", &name[..], ": log pipe: ", e),
            },
            Stdio::File(path) => match rustix::fs::open(
                path,
                rustix::fs::OFlags::WRONLY
                    | rustix::fs::OFlags::APPEND
                    | rustix::fs::OFlags::CREATE
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::from_raw_mode(0o640),
            ) {
                Ok(fd) => out_fd = Some(fd),
                Err(e) => {
                    error!("keel: container ", &name[..], ": stdio file ", path, ": ", e);
                    self.st.table.fail(i, "stdio file cannot be opened", now, q);
                    return;
                }
            },
            Stdio::Inherit | Stdio::Null => {}
        }
        // SAFETY: fds 0, 1 and 2 are keel's own stdio, open for its whole life (boot mode puts /dev/console or /dev/null there first).
        let (in0, out1, err2) = unsafe {
            (
                BorrowedFd::borrow_raw(0),
                BorrowedFd::borrow_raw(1),
                BorrowedFd::borrow_raw(2),
            )
        };
        let (stdin, stdout, stderr) = match spec.stdio {
            Stdio::Inherit => (Some(in0), Some(out1), Some(err2)),
            Stdio::Null => (None, None, None),
            Stdio::Log | Stdio::File(_) => {
                let o = out_fd.as_ref().map(|f| f.as_fd());
                (None, o, o)
            }
        };
        // Readiness pipe.
        let mut ready_read = None;
        let mut ready_write = None;
        if spec.ready_fd.is_some() {
            match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK) {
                Ok((r, w)) => {
                    ready_read = Some(r);
                    ready_write = Some(w);
                }
                Err(e) => error!("keel: container ", &name[..], ": readiness pipe: ", e),
            }
        }
        let req = SpawnRequest {
            name: &name,
            spec: &spec,
            cgroup: cgroup_fd.as_ref().map(|f| f.as_fd()),
            share,
            stdin,
            stdout,
            stderr,
            ready: ready_write.as_ref().map(|f| f.as_fd()),
            fault: fault_step(),
        };
        let spawned = spawn::spawn(&req);
        drop(out_fd);
        drop(ready_write);
        match spawned {
            Ok(s) => {
                let pid = s.pid;
                if !self.st.res.is_set(i) {
                    let _ = self.st.res.set(i, Res::default());
                }
                let r = self.st.res.get_mut(i);
                let Some(r) = r else { return };
                let ok = epoll::add(&self.epoll, &s.report, token(K_REPORT, i), epoll::EventFlags::IN).is_ok();
                if !ok {
                    warn!("keel: container ", &name[..], ": cannot watch its set-up pipe");
                }
                r.report = Some(s.report);
                r.pidfd = Some(s.pidfd);
                r.setup_failed = false;
                r.partial.clear();
                if let Some(l) = log_read {
                    let _ = epoll::add(&self.epoll, &l, token(K_LOG, i), epoll::EventFlags::IN);
                    r.log = Some(l);
                }
                if let Some(rd) = ready_read {
                    let _ = epoll::add(&self.epoll, &rd, token(K_READY, i), epoll::EventFlags::IN);
                    r.ready = Some(rd);
                }
                r.events = None;
                if let (Some(cg), Some(fd)) = (&self.cgroup, cgroup_fd) {
                    if let Ok(ev) = cg.open_events(&name) {
                        let _ = epoll::add(
                            &self.epoll,
                            &ev,
                            token(K_EVENTS, i),
                            epoll::EventFlags::PRI | epoll::EventFlags::ERR,
                        );
                        r.events = Some(ev);
                    }
                    r.cgroup = Some(fd);
                }
                let no_cgroup = r.events.is_none();
                self.st.table.on_spawned(i, pid, now);
                if no_cgroup {
                    // Without cgroup.events the init's exit ends the container.
                    let mut none = Actions::new();
                    self.st.table.on_cgroup_empty(i, now, &mut none);
                }
                debug!("keel: container ", &name[..], ": spawned pid ", pid);
            }
            Err(f) => {
                let mut l = keel_rt::Line::new();
                f.render(&name, Some(&spec), &mut l);
                error!(l);
                let _ = self.st.res.set(
                    i,
                    Res {
                        cgroup: cgroup_fd,
                        ..Res::default()
                    },
                );
                self.st.table.on_spawn_error(i, now, q);
            }
        }
    }

    // ------------------------------------------------------------ resume

    /// Boot mode after `--resume`: takes back the containers the status
    /// file lists as live whose init is still a child of PID 1 in its
    /// cgroup (boot/adopt.rs), and restores those that had ended for good.
    /// Log, readiness and report pipes died with the old process.
    #[inline(never)]
    fn adopt(&mut self) {
        use crate::boot::adopt::{self, Refused};
        let saved = adopt::read_status(self.opts.run_dir);
        let now = clock::now();
        for s in saved.iter() {
            let name = &s.name[..];
            let Some(i) = self.st.table.slot_of(name) else {
                // Its spec is gone: stop what is left of it.
                if let (true, Some(pid)) = (s.live(), s.pid) {
                    if let Ok(fd) = adopt::check(pid, name, self.cgroup.is_some()) {
                        warn!("keel: container ", name, ": no spec any more; killing pid ", pid);
                        let _ = spawn::signal(&fd, signals::SIGKILL);
                        if let Some(cg) = &self.cgroup {
                            let _ = cg.kill(name);
                        }
                    }
                }
                continue;
            };
            if !s.live() {
                if let Some(state) = adopt::final_state(&s.state) {
                    self.st.table.restore_ended(i, state, s.exit, s.restarts, now);
                }
                continue;
            }
            let Some(pid) = s.pid else { continue };
            let pidfd = match adopt::check(pid, name, self.cgroup.is_some()) {
                Ok(fd) => fd,
                Err(r) => {
                    match r {
                        Refused::Gone(e) => warn!("keel: container ", name, ": pid ", pid, " not adopted: ", e),
                        Refused::NotOurChild(pp) => warn!(
                            "keel: container ",
                            name, ": pid ", pid, " not adopted: its parent is ", pp
                        ),
                        Refused::OtherCgroup => warn!(
                            "keel: container ",
                            name, ": pid ", pid, " not adopted: not in its cgroup"
                        ),
                    }
                    continue;
                }
            };
            let mut r = Res {
                pidfd: Some(pidfd),
                ..Res::default()
            };
            if let Some(cg) = &self.cgroup {
                r.cgroup = cg.open(name).ok();
                if let Ok(ev) = cg.open_events(name) {
                    let _ = epoll::add(
                        &self.epoll,
                        &ev,
                        token(K_EVENTS, i),
                        epoll::EventFlags::PRI | epoll::EventFlags::ERR,
                    );
                    r.events = Some(ev);
                }
            }
            let watched = r.events.is_some();
            let _ = self.st.res.set(i, r);
            self.st.table.adopt(i, pid, watched, s.restarts, now);
            if !watched {
                let mut none = Actions::new();
                self.st.table.on_cgroup_empty(i, now, &mut none);
            }
            if let Some(x) = self.st.extra.get_mut(i) {
                x.ns = spawn::ns_inodes(pid);
            }
            info!("keel: container ", name, ": adopted, pid ", pid);
        }
        // Inits that ended while keel was away are zombies now.
        self.reap();
    }

    // ------------------------------------------------------------ config

    /// Reads the config directory and reconciles the table with it.
    #[inline(never)]
    fn load_config(&mut self) {
        let now = clock::now();
        let mut q = Actions::new();
        let Some(dir) = &self.config_dir else { return };
        let listing = match config::list(dir) {
            Ok(l) => l,
            Err(e) => {
                error!("keel: config directory ", self.opts.config, ": ", e);
                return;
            }
        };
        if listing.overflow > 0 {
            error!(
                "keel: config directory ",
                self.opts.config,
                ": ",
                listing.overflow,
                " spec files beyond the limit of ",
                MAX_CONTAINERS,
                " containers are ignored"
            );
        }
        // Removed files.
        let present: Vec<usize, MAX_CONTAINERS> = self.st.table.iter().map(|(i, _)| i).collect();
        for i in present {
            let gone = self
                .st
                .table
                .get(i)
                .is_some_and(|e| !listing.names.iter().any(|n| n == &e.name));
            if gone {
                info!("keel: container ", self.name(i), ": spec removed, stopping");
                self.st.table.request_stop(i, Then::Remove, now, &mut q);
            }
        }
        // New and changed files.
        let mut buf = SpecBuf::new();
        for name in listing.names.iter() {
            let Some(dir) = &self.config_dir else { return };
            let read = config::read(dir, name, &mut buf);
            let h = match read {
                Ok(()) => config::hash(buf.bytes.get(..buf.len).unwrap_or(&[])),
                Err(e) => {
                    error!("keel: spec ", &name[..], ": ", e);
                    0
                }
            };
            match self.st.table.slot_of(name) {
                None => match self.st.table.add(name, h, now) {
                    Some(_) => {}
                    None => error!(
                        "keel: container ",
                        &name[..],
                        ": the table is full (",
                        MAX_CONTAINERS,
                        ")"
                    ),
                },
                Some(i) => {
                    if self.st.table.get(i).is_some_and(|e| e.hash != h) {
                        let valid = read.is_ok() && spec::parse(&mut buf).is_ok();
                        let live = self.st.table.get(i).is_some_and(|e| e.state.is_live());
                        if !valid && live {
                            error!(
                                "keel: container ",
                                &name[..],
                                ": its new spec is invalid; the running one is kept"
                            );
                            continue;
                        }
                        if let Some(e) = self.st.table.get_mut(i) {
                            e.hash = h;
                        }
                        info!("keel: container ", &name[..], ": spec changed, restarting");
                        self.st.table.request_stop(i, Then::Restart, now, &mut q);
                    }
                }
            }
        }
        // Links and policies, now that every name has a slot (not for
        // containers on their way out: their file is gone).
        let slots: Vec<usize, MAX_CONTAINERS> = self
            .st
            .table
            .iter()
            .filter(|(_, e)| e.then != Then::Remove)
            .map(|(i, _)| i)
            .collect();
        for i in slots {
            self.link(i, now, &mut q);
        }
        self.st.table.fail_cycles(now, &mut q);
        self.st.table.dirty = true;
        self.execute_all(q);
    }

    /// Parses container i's spec for its policy and links.
    #[inline(never)]
    fn link(&mut self, i: usize, now: u64, q: &mut Actions) {
        let name: Vec<u8, 64> = Vec::from_slice(self.name(i)).unwrap_or_default();
        let mut buf = SpecBuf::new();
        let Some(dir) = &self.config_dir else { return };
        if let Err(e) = config::read(dir, &name, &mut buf) {
            error!("keel: spec ", &name[..], ": ", e);
            self.st.table.fail(i, "spec file unreadable", now, q);
            return;
        }
        let spec = match spec::parse(&mut buf) {
            Ok(s) => s,
            Err(pe) => {
                if self.st.table.get(i).is_some_and(|e| e.state.is_live()) {
                    return;
                }
                let mut l = keel_rt::Line::new();
                pe.render(&name, &mut l);
                error!("keel: spec ", l);
                self.st.table.fail(i, "invalid spec", now, q);
                return;
            }
        };
        let policy = Policy {
            restart: spec.restart,
            oneshot: spec.oneshot,
            has_ready: spec.ready_fd.is_some(),
            stop_signal: spec.stop_signal,
            stop_timeout_ms: spec.stop_timeout_ms,
        };
        let mut after: Set = 0;
        for a in spec.after.iter() {
            match self.st.table.slot_of(a.to_bytes()) {
                Some(j) => after |= bit(j),
                None => {
                    error!("keel: container ", &name[..], ": after: no container named ", *a);
                    self.st.table.fail(i, "unknown dependency", now, q);
                    return;
                }
            }
        }
        let mut shares: Set = 0;
        for k in NsKind::ALL {
            if let NsMode::Share(owner) = spec.ns.get(k) {
                match self.st.table.slot_of(owner.to_bytes()) {
                    Some(j) if j != i => shares |= bit(j),
                    _ => {
                        error!(
                            "keel: container ",
                            &name[..],
                            ": ns ",
                            k.name(),
                            " share: no other container named ",
                            owner
                        );
                        self.st.table.fail(i, "unknown namespace owner", now, q);
                        return;
                    }
                }
            }
        }
        self.st.table.set_links(i, policy, after, shares);
    }
}

fn emit_log(name: &[u8], text: &[u8]) {
    keel_rt::log!(keel_rt::log::Level::Info, name, ": ", text);
}

/// The set-up step to fail on purpose (test builds with fault-inject only).
fn fault_step() -> Option<u16> {
    #[cfg(feature = "fault-inject")]
    {
        // keel.fault=STEP on the kernel command line (boot mode), or in
        // the environment.
        crate::boot::cmdline::param(b"keel.fault").and_then(spawn::step_id_by_name)
    }
    #[cfg(not(feature = "fault-inject"))]
    {
        None
    }
}

#[cfg(test)]
mod size_probe {
    #[test]
    fn sizes() {
        eprintln!(
            "Runtime {} State {} Entry {} Res {} Extra {} Cgroup2 {} SpecBuf {} Spec {} Line {}",
            core::mem::size_of::<super::Runtime<'static>>(),
            core::mem::size_of::<super::State>(),
            core::mem::size_of::<crate::table::Entry>(),
            core::mem::size_of::<super::Res>(),
            core::mem::size_of::<crate::table::status::Extra>(),
            core::mem::size_of::<crate::cgroup::Cgroup2>(),
            core::mem::size_of::<crate::spec::SpecBuf>(),
            core::mem::size_of::<crate::spec::Spec<'static>>(),
            core::mem::size_of::<keel_rt::Line>()
        );
    }
}
