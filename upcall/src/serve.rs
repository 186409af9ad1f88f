//! The resident agent (`upcall-agent serve`): one per container, started
//! by keel inside it — its namespaces, root, cgroup and credentials — with
//! its channel to keel on fd 3 and an anonymous session keyring the broker
//! links each authorisation into.
//!
//! keel passes it one socket per routed request (an Assign message with
//! the fd); the broker writes the request there and waits for the outcome.
//! Every request in flight is a slot of one event loop: built-in handlers
//! answer at once, programs run in forked workers watched through pidfds,
//! and a timer kills a worker whose deadline passed. A hanging handler
//! holds one slot, never the agent.

use crate::conf::Best;
use crate::dns::inputs as dns_inputs;
use crate::dns::job::{Jobs, Step as DnsStep, Watch};
use crate::files::{self, Root};
use crate::handle::{self, Argv};
use crate::proc;
use crate::req::Req;
use keel_rt::keys;
use keel_rt::{error, warn};
use keel_wire::upcall::{self as w, Msg, Outcome, Result as Res};
use rustix::event::epoll;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

/// Requests in flight at once; keel's per-container cap is below this.
pub const SLOTS: usize = 16;
/// A worker is killed this long before the broker's deadline, so that the
/// outcome reaches the broker in time.
const MARGIN_MS: u64 = 100;

const K_CHANNEL: u64 = 1 << 32;
const K_SOCK: u64 = 2 << 32;
const K_PID: u64 = 3 << 32;
const K_TIMER: u64 = 4 << 32;
const K_KILLED: u64 = 5 << 32;
const K_DNS: u64 = 6 << 32;

struct Running {
    pid: i32,
    pidfd: OwnedFd,
    deadline: u64,
}

struct Slot {
    sock: OwnedFd,
    key: i32,
    started: u64,
    running: Option<Running>,
}

pub fn run() -> i32 {
    keel_rt::log::to_stderr();
    // SAFETY: fd 3 is the channel keel put there before exec; this process owns it from here on.
    let channel = unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(w::AGENT_FD as i32) };
    let _ = keel_rt::sys::set_cloexec(w::AGENT_FD as i32);
    match Agent::new(channel) {
        Ok(mut a) => a.run(),
        Err(e) => {
            error!("upcall-agent: ", e);
            1
        }
    }
}

struct Agent {
    channel: OwnedFd,
    epoll: OwnedFd,
    timer: OwnedFd,
    slots: [Option<Slot>; SLOTS],
    /// Workers killed at their deadline, reaped when their pidfd says so:
    /// the loop never waits for a process to die.
    killed: [Option<Running>; SLOTS],
    /// The built-in resolver's lookups, by slot (no process per lookup).
    dns: Jobs,
    /// A slot's DNS lookup: its key and its deadline.
    dns_slots: [Option<(i32, u64)>; SLOTS],
}

/// The agent's epoll as the resolver's [`Watch`].
struct EpollWatch<'e> {
    epoll: &'e OwnedFd,
}

impl Watch for EpollWatch<'_> {
    fn add(&mut self, fd: BorrowedFd<'_>, token: u64, write: bool) {
        let mut flags = epoll::EventFlags::IN;
        if write {
            flags |= epoll::EventFlags::OUT;
        }
        let _ = epoll::add(self.epoll, fd, epoll::EventData::new_u64(K_DNS | token), flags);
    }
    fn remove(&mut self, fd: BorrowedFd<'_>) {
        let _ = epoll::delete(self.epoll, fd);
    }
}

impl Agent {
    fn new(channel: OwnedFd) -> Result<Agent, Errno> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let timer = rustix::time::timerfd_create(
            rustix::time::TimerfdClockId::Monotonic,
            rustix::time::TimerfdFlags::CLOEXEC | rustix::time::TimerfdFlags::NONBLOCK,
        )?;
        epoll::add(
            &epoll,
            &channel,
            epoll::EventData::new_u64(K_CHANNEL),
            epoll::EventFlags::IN,
        )?;
        epoll::add(
            &epoll,
            &timer,
            epoll::EventData::new_u64(K_TIMER),
            epoll::EventFlags::IN,
        )?;
        Ok(Agent {
            channel,
            epoll,
            timer,
            slots: [const { None }; SLOTS],
            killed: [const { None }; SLOTS],
            dns: Jobs::take().ok_or(Errno::BUSY)?,
            dns_slots: [None; SLOTS],
        })
    }

    fn run(&mut self) -> i32 {
        let mut events = [core::mem::MaybeUninit::<epoll::Event>::uninit(); 8];
        loop {
            let toks: heapless::Vec<(u64, epoll::EventFlags), 8> = match epoll::wait(&self.epoll, &mut events, None) {
                Ok((ready, _)) => ready.iter().map(|e| (e.data.u64(), e.flags)).collect(),
                Err(Errno::INTR) => continue,
                Err(e) => {
                    error!("upcall-agent: epoll_wait: ", e);
                    return 1;
                }
            };
            for (tok, flags) in toks {
                let i = (tok & 0xffff_ffff) as usize;
                match tok & !0xffff_ffff {
                    K_CHANNEL if !self.on_channel(flags) => return 0,
                    K_CHANNEL => {}
                    K_SOCK => self.on_sock(i),
                    K_PID => self.on_exit(i),
                    K_TIMER => self.on_timer(),
                    K_DNS => self.on_dns(tok & 0xffff_ffff),
                    K_KILLED => {
                        let reaped = matches!(self.killed.get(i), Some(Some(r)) if proc::try_reap(r.pid).is_some());
                        if reaped {
                            if let Some(k) = self.killed.get_mut(i) {
                                *k = None;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// A message from keel. False when keel closed the channel.
    fn on_channel(&mut self, _flags: epoll::EventFlags) -> bool {
        let mut b = [0u8; 64];
        match keel_rt::sock::recv(&self.channel, &mut b) {
            Ok((0, _)) => false,
            Ok((n, fd)) => {
                match (w::decode(b.get(..n).unwrap_or(&[])), fd) {
                    (Ok(Msg::Assign), Some(sock)) => self.assign(sock),
                    _ => warn!("upcall-agent: unexpected message from keel"),
                }
                true
            }
            Err(Errno::AGAIN) | Err(Errno::INTR) => true,
            Err(e) => {
                error!("upcall-agent: channel: ", e);
                false
            }
        }
    }

    fn assign(&mut self, sock: OwnedFd) {
        let Some(i) = self.slots.iter().position(Option::is_none) else {
            // Full: dropping the socket tells the broker at once (EAGAIN).
            warn!("upcall-agent: ", SLOTS as u64, " requests in flight: one refused");
            return;
        };
        // Non-blocking: an event left over from the slot's previous request
        // must not hold the loop in recv.
        let _ = rustix::fs::fcntl_setfl(&sock, rustix::fs::OFlags::NONBLOCK);
        let tok = epoll::EventData::new_u64(K_SOCK | i as u64);
        if epoll::add(&self.epoll, &sock, tok, epoll::EventFlags::IN).is_err() {
            return;
        }
        if let Some(s) = self.slots.get_mut(i) {
            *s = Some(Slot {
                sock,
                key: 0,
                started: proc::now_ms(),
                running: None,
            });
        }
    }

    /// The broker wrote its request, or went away.
    fn on_sock(&mut self, i: usize) {
        let mut buf = [0u8; w::MAX_MSG];
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let got = keel_rt::sock::recv(&slot.sock, &mut buf);
        let n = match got {
            Ok((n, _)) if n > 0 && slot.running.is_none() && slot.key == 0 => n,
            Err(Errno::AGAIN) | Err(Errno::INTR) => return,
            // End of file (the broker is gone), an error, or a second message.
            _ => return self.finish(i, None),
        };
        let mut req = Req::new();
        match w::decode(buf.get(..n).unwrap_or(&[])) {
            Ok(Msg::Request(r)) if r.key > 0 => {
                if let Err(t) = req.fill_from_wire(&r) {
                    error!("upcall-agent: key ", r.key, ": ", t.as_str());
                    return self.finish(i, Some(Res::Failed(Errno::INVAL.raw_os_error() as u16)));
                }
            }
            _ => return self.finish(i, Some(Res::Failed(Errno::PROTO.raw_os_error() as u16))),
        }
        slot.key = req.key;
        self.start(i, &req);
    }

    /// Chooses the line for `req` in this container's configuration and
    /// starts it.
    fn start(&mut self, i: usize, req: &Req) {
        let mut best = Best::new();
        let mut buf = [0u8; 4096 + 512];
        let q = req.query(&req.op);
        let report = files::choose(Root::Etc, &q, &mut best, &mut buf);
        report.log("upcall-agent", &best);
        let Some(line) = best.chosen() else {
            return self.finish(i, Some(Res::NoHandler));
        };
        if line.builtin == Some(b"dns_resolver") {
            return self.start_dns(i, req);
        }
        if let Some(name) = line.builtin {
            let r = match keys::assume_authority(req.key) {
                Ok(_) => {
                    let mut argv = Argv::new();
                    let r = match handle::expand(&line, &q, &mut argv, handle::Lookups::Refused) {
                        Ok(()) => handle::builtin(name, &argv, req.key),
                        Err(e) => Res::Failed(e.raw_os_error() as u16),
                    };
                    let _ = keys::assume_authority(0);
                    r
                }
                Err(e) => Res::Failed(e.raw_os_error() as u16),
            };
            return self.finish(i, Some(r));
        }
        let deadline = proc::now_ms() + u64::from(req.deadline_ms).saturating_sub(MARGIN_MS);
        match proc::fork() {
            Ok(proc::Side::Child) => handle::worker(req, Root::Etc, &best, &req.op),
            Ok(proc::Side::Parent { pid, pidfd }) => {
                let tok = epoll::EventData::new_u64(K_PID | i as u64);
                let _ = epoll::add(&self.epoll, &pidfd, tok, epoll::EventFlags::IN);
                if let Some(Some(s)) = self.slots.get_mut(i) {
                    s.running = Some(Running { pid, pidfd, deadline });
                }
                self.arm();
            }
            Err(e) => {
                error!("upcall-agent: key ", req.key, ": fork: ", e);
                self.finish(i, Some(Res::Failed(e.raw_os_error() as u16)));
            }
        }
    }

    /// The built-in resolver: a lookup in this loop, over the container's
    /// network and files.
    fn start_dns(&mut self, i: usize, req: &Req) {
        let policy = match dns_inputs::policy(dns_inputs::KEY_CONF) {
            Ok((p, _)) => p,
            Err(_) => keel_dns::KeyPolicy::default(),
        };
        let deadline = proc::now_ms() + u64::from(req.deadline_ms).saturating_sub(MARGIN_MS);
        if self.dns.start(i, policy, &req.desc, &req.callout, deadline).is_err() {
            return self.finish(i, Some(Res::Failed(Errno::BUSY.raw_os_error() as u16)));
        }
        if let Some(d) = self.dns_slots.get_mut(i) {
            *d = Some((req.key, deadline));
        }
        self.step_dns(i);
    }

    /// Runs slot `i`'s lookup until it waits or ends (then settles the key).
    fn step_dns(&mut self, i: usize) {
        let Some(Some((key, _))) = self.dns_slots.get(i).copied() else {
            return;
        };
        let now = proc::now_ms();
        let mut w = EpollWatch { epoll: &self.epoll };
        let r = match self.dns.step(i, now, &mut w) {
            Some(DnsStep::Wait(_)) => None,
            Some(DnsStep::Done(o)) => Some(match keys::assume_authority(key) {
                Ok(_) => {
                    let r = crate::dns::settle(key, &o);
                    let _ = keys::assume_authority(0);
                    r
                }
                Err(e) => Res::Failed(e.raw_os_error() as u16),
            }),
            None => Some(Res::Failed(Errno::INVAL.raw_os_error() as u16)),
        };
        match r {
            Some(r) => self.finish(i, Some(r)),
            None => self.arm(),
        }
    }

    fn on_dns(&mut self, token: u64) {
        let (i, sub) = crate::dns::job::untoken(token);
        let mut w = EpollWatch { epoll: &self.epoll };
        self.dns.on_ready(i, sub, proc::now_ms(), &mut w);
        self.step_dns(i);
    }

    fn on_exit(&mut self, i: usize) {
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let Some(run) = &slot.running else { return };
        let Some(exit) = proc::try_reap(run.pid) else { return };
        // Reaped: closing the pidfd takes it out of the epoll set.
        slot.running = None;
        let key = slot.key;
        let outcome = handle::outcome_of(exit);
        if let Res::Failed(code) = outcome {
            warn!(
                "upcall-agent: key ",
                key,
                ": handler ended with status ",
                u64::from(code),
                handle::status_words(code)
            );
        }
        self.finish(i, Some(outcome));
    }

    fn on_timer(&mut self) {
        let mut b = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut b);
        let now = proc::now_ms();
        for i in 0..SLOTS {
            let late = matches!(self.slots.get(i), Some(Some(Slot { running: Some(r), .. })) if r.deadline <= now);
            if late {
                self.finish(i, Some(Res::TimedOut));
            }
            if self.dns.is_live(i) {
                self.dns.on_timeout(i, now);
                self.step_dns(i);
            }
        }
        self.arm();
    }

    /// Arms the timer for the earliest deadline of a running worker.
    fn arm(&mut self) {
        let next = self
            .slots
            .iter()
            .flatten()
            .filter_map(|s| s.running.as_ref().map(|r| r.deadline))
            .min();
        let value = match next {
            Some(d) => {
                let left = d.saturating_sub(proc::now_ms()).max(1);
                keel_rt::clock::timespec(left)
            }
            None => rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 },
        };
        let spec = rustix::time::Itimerspec {
            it_interval: rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: value,
        };
        let _ = rustix::time::timerfd_settime(&self.timer, rustix::time::TimerfdTimerFlags::empty(), &spec);
    }

    /// Ends slot `i`: kills its worker if still running, sends the outcome
    /// (if any) and closes the request socket.
    fn finish(&mut self, i: usize, result: Option<Res>) {
        if self.dns.is_live(i) {
            let mut w = EpollWatch { epoll: &self.epoll };
            self.dns.end(i, &mut w);
        }
        if let Some(d) = self.dns_slots.get_mut(i) {
            *d = None;
        }
        let Some(s) = self.slots.get_mut(i) else { return };
        let Some(slot) = s.take() else { return };
        if let Some(run) = slot.running {
            if proc::try_reap(run.pid).is_none() {
                proc::kill_group(run.pid);
                let _ = epoll::delete(&self.epoll, &run.pidfd);
                match self.killed.iter().position(Option::is_none) {
                    Some(k) => {
                        let tok = epoll::EventData::new_u64(K_KILLED | k as u64);
                        let _ = epoll::add(&self.epoll, &run.pidfd, tok, epoll::EventFlags::IN);
                        if let Some(slot) = self.killed.get_mut(k) {
                            *slot = Some(run);
                        }
                    }
                    // Every zombie slot taken: wait for this one (SIGKILL
                    // ends it unless it sits in an uninterruptible sleep).
                    None => {
                        let _ = proc::wait_until(run.pid, run.pidfd.as_fd(), proc::now_ms() + 1000);
                    }
                }
            }
        }
        let _ = epoll::delete(&self.epoll, &slot.sock);
        if let Some(result) = result {
            let ms = proc::now_ms().saturating_sub(slot.started).min(u64::from(u32::MAX)) as u32;
            send_outcome(slot.sock.as_fd(), Outcome { result, ms });
        }
    }
}

fn send_outcome(sock: BorrowedFd<'_>, o: Outcome) {
    let mut b = [0u8; 32];
    if let Ok(n) = Msg::Outcome(o).encode(&mut b) {
        let _ = keel_rt::sock::send(sock, b.get(..n).unwrap_or(&[]), None);
    }
}
