//! Container-init mode: `keel [OPTIONS] -- PROGRAM [ARGS…]` (or keel under
//! the name `tini`/`keel-init`): one program under keel's loop, a drop-in
//! for tini, catatonit and dumb-init (docs/container-init.md).
//!
//! - [`options`]: tini's options and environment, and keel's own — pure;
//! - [`signals`]: block everything, one signalfd, what to forward — and
//!   what the program gets back at exec;
//! - [`spawn`]: clone3 with the clone(2) fallback, the child's set-up, exec;
//! - [`status`]: exit codes — pure;
//! - [`listen`]: socket activation (LISTEN_FDS/LISTEN_PID) — pure;
//! - [`cgroup`], [`descend`]: who is left when the program exits;
//! - [`run`](self::run()): the loop itself, here.
//!
//! While the program runs keel sleeps in one blocking read(2) of its
//! signalfd: no timer, no wake-up until a signal arrives.

pub mod cgroup;
pub mod descend;
pub mod listen;
pub mod options;
pub mod signals;
pub mod spawn;
pub mod status;

use descend::Scope;
use keel_rt::sys::SignalfdSiginfo;
use options::{Action, Options};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions};
use signals::Disposition;
use status::Ended;

const HELP: &str = "\
usage: keel [OPTIONS] -- PROGRAM [ARGS...]
       tini [OPTIONS] PROGRAM [ARGS...]        (keel installed under the name tini)

Runs PROGRAM as the init of a container: reaps zombies, forwards signals,
returns PROGRAM's exit status (127 not found, 126 not executable, 128+N
killed by signal N).

  -s             register as a child subreaper (or TINI_SUBREAPER=1)
  -g             forward signals to PROGRAM's process group (or TINI_KILL_PROCESS_GROUP=1)
  -p SIGNAL      parent-death signal for keel (SIGTERM, TERM or 15)
  -e CODE        exit 0 when PROGRAM exits with CODE (repeatable)
  -v             more verbose (repeatable; TINI_VERBOSITY=N sets the level)
  -w             warn when reaping a zombie that is not PROGRAM
  --grace SECS   after PROGRAM exits: SIGTERM to the remaining descendants,
                 SIGKILL after SECS (default 5; 0: SIGKILL at once)
  --keep-fds     keep fds above 2 open for PROGRAM (default: closed,
                 except socket-activation fds when LISTEN_PID is keel)
  -l, --license  print the licence
  -h, --help     print this help
  --version      print the version
";

const LICENSE: &str = "\
keel is licensed under the MIT license or the Apache License, version 2.0,
at your option (SPDX: MIT OR Apache-2.0).
";

/// Runs container-init mode with the process's argv; returns the exit status.
/// Never inlined: its frame (several kB, probed page by page) must not be
/// paid by the other modes' `main`.
#[inline(never)]
pub fn run() -> i32 {
    keel_rt::log::to_stderr();
    let parsed = options::parse(keel_rt::args::get, keel_rt::args::env);
    let o = match parsed {
        Ok(Action::Run(o)) => o,
        Ok(Action::Help) => {
            keel_rt::log::write_all(1, HELP.as_bytes());
            return 0;
        }
        Ok(Action::License) => {
            keel_rt::log::write_all(1, LICENSE.as_bytes());
            return 0;
        }
        Ok(Action::Version) => {
            keel_rt::log::write_all(1, concat!("keel ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
            return 0;
        }
        Err(e) => {
            if e.arg.is_empty() {
                keel_rt::error!("keel: ", e.what);
            } else {
                keel_rt::error!("keel: ", e.what, ": ", e.arg);
            }
            keel_rt::log::write_all(2, HELP.as_bytes());
            return status::USAGE;
        }
    };
    keel_rt::log::set_max_level(options::level_for(o.verbosity));
    match Supervisor::start(&o) {
        Ok(code) => code,
        Err((what, e)) => {
            keel_rt::error!("keel: cannot run the program: ", what, ": ", e);
            status::KEEL_FAILED
        }
    }
}

struct Supervisor<'o> {
    o: &'o Options,
    me: i32,
    sfd: OwnedFd,
    child: i32,
    ended: Option<Ended>,
}

/// What one pass of the reaper found.
#[derive(PartialEq, Eq)]
enum Left {
    /// Children remain (running, or not yet exited).
    Some,
    /// keel has no child at all.
    None,
}

const REAPER_WARNING: &str = "keel: not running as PID 1 and not registered as a child subreaper. \
Zombie processes will not be re-parented to keel, so zombie reaping won't work. \
To fix the problem, use the -s option or set the environment variable TINI_SUBREAPER \
to register keel as a child subreaper, or run keel as PID 1.";

impl<'o> Supervisor<'o> {
    fn start(o: &'o Options) -> Result<i32, (&'static str, Errno)> {
        // Signals first, so that none sent from now on is lost.
        let (inherited, sfd) = signals::setup()?;
        let me = rustix::process::getpid().as_raw_nonzero().get();
        if let Some(sig) = o.pdeathsig {
            // SAFETY: options only accept signal numbers 1..=64.
            let s = unsafe { rustix::process::Signal::from_raw_unchecked(sig) };
            rustix::process::set_parent_process_death_signal(Some(s)).map_err(|e| ("prctl PR_SET_PDEATHSIG", e))?;
        }
        if o.subreaper {
            rustix::process::set_child_subreaper(Pid::from_raw(me)).map_err(|e| ("prctl PR_SET_CHILD_SUBREAPER", e))?;
        }
        let scope = Self::scope(o, me);

        let program = keel_rt::args::get_cstr(o.program).ok_or(("argv", Errno::INVAL))?;
        let argv = keel_rt::args::argv_ptr();
        if argv.is_null() || o.program >= keel_rt::args::len() {
            return Err(("argv", Errno::INVAL));
        }
        let listen = listen::kept_fds(keel_rt::args::env(b"LISTEN_PID"), keel_rt::args::env(b"LISTEN_FDS"), me);
        let plan = spawn::Plan {
            program,
            // SAFETY: o.program < argc (checked above): a suffix of the null-terminated argv array is itself one.
            argv: unsafe { argv.add(o.program) },
            envp: keel_rt::args::envp_ptr(),
            keep_fds: o.keep_fds,
            listen,
            inherited,
        };
        let sp = spawn::spawn(&plan)?;
        if sp.fell_back {
            keel_rt::info!("keel: clone3 refused (seccomp?); started the program with clone");
        }
        match sp.exec_error {
            Some(e) => keel_rt::error!("keel: ", program, ": ", status::exec_failure_reason(e), " (", e, ")"),
            None => keel_rt::info!("keel: started ", program, " as pid ", sp.pid),
        }

        let mut s = Supervisor {
            o,
            me,
            sfd,
            child: sp.pid,
            ended: None,
        };
        s.until_program_exits();
        let ended = s.ended.unwrap_or(Ended::Exited(status::KEEL_FAILED));
        match ended {
            Ended::Exited(c) => keel_rt::info!("keel: program exited with status ", c),
            Ended::Signaled(n) => keel_rt::info!("keel: program killed by signal ", n),
        }
        s.shutdown(&scope);
        Ok(status::exit_code(ended, &o.remap))
    }

    /// Who counts as a descendant once the program is gone.
    fn scope(o: &Options, me: i32) -> Scope {
        if me == 1 {
            return Scope::PidNs;
        }
        if let Some(cg) = cgroup::own_cgroup(me) {
            // keel waits for its cgroup's processes as their reaper.
            if !o.subreaper {
                if let Err(e) = rustix::process::set_child_subreaper(Pid::from_raw(me)) {
                    keel_rt::warn!("keel: prctl PR_SET_CHILD_SUBREAPER: ", e);
                }
            }
            keel_rt::debug!(
                "keel: alone in cgroup ",
                cg.as_bytes(),
                ": its processes are the descendants"
            );
            return Scope::Cgroup(cg);
        }
        let subreaper = rustix::process::child_subreaper().ok().flatten().is_some();
        if !subreaper {
            keel_rt::warn!(REAPER_WARNING);
        }
        Scope::Tree
    }

    /// The loop while the program runs: one blocking read at a time.
    fn until_program_exits(&mut self) {
        while self.ended.is_none() {
            self.handle_signals(None, true);
        }
    }

    /// Reads what the signalfd has (blocking, or up to `timeout_ms` when
    /// given) and acts on it. `forward`: pass signals on to the program.
    fn handle_signals(&mut self, timeout_ms: Option<u64>, forward: bool) {
        if let Some(ms) = timeout_ms {
            let ts = rustix::time::Timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: ((ms % 1000) * 1_000_000) as i64,
            };
            let mut fds = [rustix::event::PollFd::new(&self.sfd, rustix::event::PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) | Err(Errno::INTR) => return,
                Ok(_) => {}
                Err(e) => {
                    keel_rt::error!("keel: poll: ", e);
                    return;
                }
            }
        }
        let mut infos = [SignalfdSiginfo::default(); 8];
        let size = core::mem::size_of_val(&infos);
        // SAFETY: the array is plain integers (any byte pattern is valid) and the slice covers exactly its bytes for the read.
        let bytes = unsafe { core::slice::from_raw_parts_mut(infos.as_mut_ptr().cast::<u8>(), size) };
        let n = match rustix::io::read(&self.sfd, bytes) {
            Ok(n) => n,
            Err(Errno::INTR) | Err(Errno::AGAIN) => return,
            Err(e) => {
                // Signals can no longer be read: keel degrades to a plain
                // reaper, blocking in wait(2) so that it does not spin.
                keel_rt::error!("keel: reading signals: ", e, "; signals are no longer forwarded");
                self.reap_blocking();
                return;
            }
        };
        let count = n / core::mem::size_of::<SignalfdSiginfo>();
        for si in infos.iter().take(count) {
            let sig = si.ssi_signo as i32;
            let from_self = si.ssi_code == signals::SI_USER && si.ssi_pid as i32 == self.me;
            match signals::disposition(sig, from_self) {
                Disposition::Reap => {
                    self.reap();
                }
                Disposition::Forward if forward && self.ended.is_none() => self.forward(sig),
                Disposition::Forward => {
                    keel_rt::debug!(
                        "keel: ignoring SIG",
                        signals::signal_name(sig),
                        " (",
                        sig,
                        ") while shutting down"
                    )
                }
                Disposition::Drop => keel_rt::debug!("keel: dropping SIG", signals::signal_name(sig), " (", sig, ")"),
            }
        }
    }

    fn forward(&self, sig: i32) {
        let target = if self.o.kill_group { -self.child } else { self.child };
        match keel_rt::sys::kill(target, sig) {
            Ok(()) => keel_rt::debug!(
                "keel: forwarded SIG",
                signals::signal_name(sig),
                " (",
                sig,
                ") to ",
                target
            ),
            Err(e) => keel_rt::debug!("keel: forwarding signal ", sig, " to ", target, ": ", e),
        }
    }

    /// Reaps every child that has exited; records the program's end.
    fn reap(&mut self) -> Left {
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, st))) => {
                    let pid = pid.as_raw_nonzero().get();
                    if pid == self.child && self.ended.is_none() {
                        self.ended = match (st.exit_status(), st.terminating_signal()) {
                            (Some(c), _) => Some(Ended::Exited(c)),
                            (None, Some(s)) => Some(Ended::Signaled(s)),
                            (None, None) => None, // stopped/continued: not asked for
                        };
                    } else if self.o.warn_on_reap {
                        keel_rt::warn!("keel: reaped zombie process ", pid);
                    } else {
                        keel_rt::debug!("keel: reaped zombie process ", pid);
                    }
                }
                Ok(None) => return Left::Some,
                Err(Errno::CHILD) => return Left::None,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    keel_rt::error!("keel: wait: ", e);
                    return Left::Some;
                }
            }
        }
    }

    /// Waits (blocking) for one child to exit, and records it.
    fn reap_blocking(&mut self) {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, st))) => {
                if pid.as_raw_nonzero().get() == self.child && self.ended.is_none() {
                    self.ended = match (st.exit_status(), st.terminating_signal()) {
                        (Some(c), _) => Some(Ended::Exited(c)),
                        (None, Some(s)) => Some(Ended::Signaled(s)),
                        (None, None) => None,
                    };
                }
            }
            Ok(None) | Err(Errno::INTR) => {}
            Err(e) => {
                // No child at all (ECHILD) or wait itself fails: nothing
                // left to supervise.
                keel_rt::error!("keel: wait: ", e);
                if self.ended.is_none() {
                    self.ended = Some(Ended::Exited(status::KEEL_FAILED));
                }
            }
        }
    }

    /// After the program exited: SIGTERM to what is left, a grace period,
    /// SIGKILL, and the last reaping.
    fn shutdown(&mut self, scope: &Scope) {
        if self.reap() == Left::None {
            return;
        }
        let grace = self.o.grace_ms;
        if grace > 0 {
            let n = descend::signal_all(scope, self.me, signals::SIGTERM);
            keel_rt::info!(
                "keel: sent SIGTERM to ",
                n,
                " remaining process(es) in ",
                scope.name(),
                "; waiting up to ",
                grace,
                " ms"
            );
            let deadline = now_ms().saturating_add(grace);
            loop {
                if self.reap() == Left::None {
                    return;
                }
                let now = now_ms();
                if now >= deadline {
                    break;
                }
                self.handle_signals(Some(deadline - now), false);
            }
        }
        let n = descend::signal_all(scope, self.me, signals::SIGKILL);
        if grace > 0 {
            keel_rt::warn!(
                "keel: ",
                n,
                " process(es) still running after the ",
                grace,
                " ms grace period: sent SIGKILL"
            );
        }
        if self.me == 1 {
            // The kernel kills and reaps whatever is left when PID 1 exits.
            return;
        }
        while self.reap() == Left::Some {
            self.handle_signals(None, false);
        }
    }
}

/// CLOCK_MONOTONIC in milliseconds.
fn now_ms() -> u64 {
    keel_rt::clock::ms(rustix::time::ClockId::Monotonic)
}
