//! The runtime's side of upcalls (see [`crate::upcall`]): the listening
//! socket, broker connections, and each container's agent — started when
//! its init has exec'd, restarted with a backoff when it dies while the
//! init lives, killed with the init.

use super::{clock, config, token, Runtime};
use crate::spawn::{self, Outcome};
use crate::spec::{self, NsKind, SpecBuf};
use crate::table::state::Ending;
use crate::upcall::agent::{self, Image};
use crate::upcall::route::{self, Candidate, Requester, Route};
use crate::upcall::{self as up, probe, Settings, Tally, MAX_CONNS};
use heapless::Vec;
use keel_rt::{debug, error, info, warn};
use keel_wire::upcall::{self as w, Decision, Msg};
use rustix::event::epoll;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;

pub(super) const K_LISTEN: u64 = 7;
pub(super) const K_CONN: u64 = 8;
pub(super) const K_AGENT: u64 = 9;

/// The longest the status file's upcall counters lag behind.
const COUNTERS_EVERY_MS: u64 = 1000;

/// Accepts per wake-up (bounded work per event).
const ACCEPTS_PER_EVENT: usize = 16;

/// keel's upcall resources.
pub(super) struct Upcalls {
    listener: OwnedFd,
    image: Option<Image>,
    /// keel's own namespaces (brokers must share user, mnt and pid).
    own_ns: [u64; 8],
    settings: Settings,
}

/// One broker connection.
pub(super) struct Conn {
    fd: OwnedFd,
    /// The container it came from.
    container: Option<usize>,
    /// Handed to that container's agent: counted in its requests in flight
    /// until the broker goes.
    in_flight: bool,
    routed: bool,
    logged: bool,
    t0: u64,
    ty: Vec<u8, { w::MAX_TYPE }>,
    /// Made by the kernel itself (wire::upcall::FLAG_KERNEL).
    kernel: bool,
    /// Routed to this container, whose agent's Hello has not come yet.
    waiting_for: Option<usize>,
}

/// A container's running agent.
pub(super) struct AgentRes {
    pid: i32,
    pidfd: OwnedFd,
    channel: OwnedFd,
    report: OwnedFd,
    /// Its session keyring, from the set-up child's Hello (0 until then).
    keyring: i32,
    started: u64,
}

/// Per container: the agent, its restart schedule, the pid namespace held
/// open while the container lives (its inode cannot be reused while it is
/// indexed), and the requests in flight.
pub(super) struct ContainerUpcalls {
    agent: Option<AgentRes>,
    quick_deaths: u8,
    restart_at: Option<u64>,
    /// How the last agent ended, told when it is restarted (an agent that
    /// died with its container is not worth a line).
    last_end: Option<(i32, Ending, Option<spawn::Failure>)>,
    pidns: Option<OwnedFd>,
    pidns_ino: u64,
    in_flight: u32,
}

impl ContainerUpcalls {
    pub(super) const NEW: ContainerUpcalls = ContainerUpcalls {
        agent: None,
        quick_deaths: 0,
        restart_at: None,
        last_end: None,
        pidns: None,
        pidns_ino: 0,
        in_flight: 0,
    };

    pub(super) fn agent_pidfd(&self) -> Option<&OwnedFd> {
        self.agent.as_ref().map(|a| &a.pidfd)
    }
}

impl Runtime<'_> {
    /// Opens RUN_DIR/upcall.sock and loads the agent's image.
    pub(super) fn upcalls_init(&mut self) {
        let mut path = keel_rt::path::PathBuf::from(self.opts.run_dir);
        path.join(w::SOCKET_NAME);
        let Ok(p) = path.as_cstr() else { return };
        // A live keel on the same run directory keeps its socket.
        if keel_rt::sock::connect(p, Some(core::time::Duration::from_millis(200))).is_ok() {
            error!(
                "keel: upcalls: another keel serves ",
                path.as_bytes(),
                " (two keels share a run directory?): upcalls stay with it"
            );
            return;
        }
        // Only root reaches the socket: the directory is 0700.
        if let Ok(dir) = keel_rt::path::PathBuf::from(self.opts.run_dir).as_cstr() {
            let _ = rustix::fs::chmod(dir, rustix::fs::Mode::from_raw_mode(0o700));
        }
        let listener = match keel_rt::sock::listen(p, 64) {
            Ok(l) => l,
            Err(e) => {
                error!(
                    "keel: upcalls: listening on ",
                    path.as_bytes(),
                    ": ",
                    e,
                    " (upcalls are refused)"
                );
                return;
            }
        };
        if let Err(e) = epoll::add(&self.epoll, &listener, token(K_LISTEN, 0), epoll::EventFlags::IN) {
            error!("keel: upcalls: epoll: ", e);
            return;
        }
        let image = match keel_rt::path::PathBuf::from(self.opts.agent).as_cstr() {
            _ if self.opts.agent.is_empty() => None,
            Ok(a) => match Image::load(a) {
                Ok(i) => Some(i),
                Err(Errno::NOENT) => {
                    info!(
                        "keel: upcalls: no agent at ",
                        self.opts.agent, ": containers' key requests are refused"
                    );
                    None
                }
                Err(e) => {
                    error!(
                        "keel: upcalls: agent ",
                        self.opts.agent, ": ", e, " (containers' key requests are refused)"
                    );
                    None
                }
            },
            Err(e) => {
                error!("keel: upcalls: agent path: ", e);
                None
            }
        };
        if image.is_some() && path.as_bytes() != w::DEFAULT_SOCKET.to_bytes() {
            warn!(
                "keel: upcalls: brokers look for ",
                w::DEFAULT_SOCKET.to_bytes(),
                ", not ",
                path.as_bytes(),
                ": the kernel's key requests will not reach this keel"
            );
        }
        self.up = Some(Upcalls {
            listener,
            image,
            own_ns: spawn::ns_inodes(0),
            settings: self.opts.upcalls,
        });
    }

    /// keel is ending: the socket goes (a broker then finds no keel).
    pub(super) fn upcalls_finish(&mut self) {
        if self.up.take().is_some() {
            let mut path = keel_rt::path::PathBuf::from(self.opts.run_dir);
            path.join(w::SOCKET_NAME);
            if let Ok(p) = path.as_cstr() {
                let _ = rustix::fs::unlink(p);
            }
        }
    }

    // ------------------------------------------------------------ brokers

    pub(super) fn on_listener(&mut self) {
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some(up) = &self.up else { return };
            let fd = match keel_rt::sock::accept(&up.listener) {
                Ok(fd) => fd,
                Err(Errno::INTR) => continue,
                Err(_) => return,
            };
            if let Err(why) = broker_is_trusted(&fd, &up.own_ns) {
                warn!("keel: upcalls: connection refused: ", why);
                continue;
            }
            let Some(c) = self.st.conns.free() else {
                warn!("keel: upcalls: ", MAX_CONNS as u64, " brokers connected: one refused");
                continue;
            };
            if epoll::add(&self.epoll, &fd, token(K_CONN, c), epoll::EventFlags::IN).is_err() {
                continue;
            }
            let conn = Conn {
                fd,
                container: None,
                in_flight: false,
                routed: false,
                logged: false,
                t0: clock::now(),
                ty: Vec::new(),
                kernel: false,
                waiting_for: None,
            };
            if let Err(conn) = self.st.conns.set(c, conn) {
                let _ = epoll::delete(&self.epoll, &conn.fd);
            }
        }
    }

    pub(super) fn on_conn(&mut self, c: usize, flags: epoll::EventFlags) {
        let mut buf = [0u8; w::MAX_MSG];
        let Some(conn) = self.st.conns.get(c) else { return };
        let got = keel_rt::sock::recv(&conn.fd, &mut buf);
        let n = match got {
            Ok((n, _)) if n > 0 => n,
            Err(Errno::AGAIN) | Err(Errno::INTR) if !flags.contains(epoll::EventFlags::HUP) => return,
            _ => return self.close_conn(c),
        };
        match (w::decode(buf.get(..n).unwrap_or(&[])), conn.routed) {
            (Ok(Msg::Request(r)), false) => self.route_request(c, &r),
            (Ok(Msg::Outcome(o)), true) => {
                self.log_outcome(c, o);
                if flags.intersects(epoll::EventFlags::HUP | epoll::EventFlags::RDHUP) {
                    self.close_conn(c);
                }
            }
            (Ok(_), _) => {
                warn!("keel: upcalls: unexpected message from a broker");
                self.close_conn(c);
            }
            (Err(e), _) => {
                warn!("keel: upcalls: bad message from a broker: ", e.as_str());
                self.close_conn(c);
            }
        }
    }

    fn route_request(&mut self, c: usize, r: &w::Request<'_>) {
        let Some(up) = &self.up else { return };
        let own_pidns = up.own_ns.get(NsKind::Pid.index()).copied().unwrap_or(0);
        let facts = probe::requester(r.pid, own_pidns);
        let mut cands: Vec<Candidate, { crate::table::MAX_CONTAINERS }> = Vec::new();
        for (i, e) in self.st.table.iter() {
            if !e.init_alive {
                continue;
            }
            let ino = self.st.upc.get(i).map_or(0, |u| u.pidns_ino);
            let _ = cands.push(Candidate {
                slot: i,
                pidns: if ino == own_pidns { 0 } else { ino },
            });
        }
        let cgroup_container = self.cgroup.as_ref().and_then(|cg| {
            let rel = crate::cgroup::proc_cgroup::strip_root(cg.table_rel(), &facts.cgroup)?;
            let name = rel.strip_prefix(b"/")?.split(|&b| b == b'/').next()?;
            self.st
                .table
                .slot_of(name)
                .filter(|&i| self.st.table.get(i).is_some_and(|e| e.init_alive))
        });
        let route = route::decide(
            &Requester {
                unknown: facts.unknown,
                kthread: facts.kthread,
                pidns_chain: &facts.chain,
                cgroup_container,
            },
            &cands,
        );
        if let Some(conn) = self.st.conns.get_mut(c) {
            conn.routed = true;
            conn.ty = Vec::from_slice(r.ty).unwrap_or_default();
            conn.kernel = r.flags & w::FLAG_KERNEL != 0;
        }
        match route {
            Route::Host => self.answer(c, None),
            Route::Container(i) => {
                let starting = self
                    .st
                    .upc
                    .get(i)
                    .and_then(|u| u.agent.as_ref())
                    .is_some_and(|a| a.keyring == 0);
                if starting {
                    // The agent is starting (its keyring comes in its Hello,
                    // within milliseconds): the broker waits for it, within
                    // its own 1 s route timeout.
                    if let Some(conn) = self.st.conns.get_mut(c) {
                        conn.waiting_for = Some(i);
                    }
                } else {
                    self.answer(c, Some(i));
                }
            }
        }
    }

    /// Answers broker `c`: the host, or container `i`'s agent (a socket to
    /// it), or a refusal (no agent: EAGAIN; the cap reached: EDQUOT).
    fn answer(&mut self, c: usize, container: Option<usize>) {
        let Some(up) = &self.up else { return };
        let deadline_ms = up.settings.deadline_ms;
        let cap = up.settings.cap;
        let refuse = |errno| Decision::Reject {
            errno,
            timeout_s: up::REFUSAL_TIMEOUT_S,
        };
        let mut passed: Option<OwnedFd> = None;
        let decision = match container {
            None => Decision::Host,
            Some(i) => {
                let u = self.st.upc.get(i);
                let agent = u.and_then(|u| u.agent.as_ref()).filter(|a| a.keyring > 0);
                match agent {
                    None => refuse(up::EAGAIN),
                    Some(_) if u.is_some_and(|u| u.in_flight >= cap) => refuse(up::EDQUOT),
                    Some(a) => match assign(a) {
                        Ok(fd) => {
                            passed = Some(fd);
                            Decision::Agent { keyring: a.keyring }
                        }
                        Err(e) => {
                            warn!(
                                "keel: upcalls: container ",
                                self.name(i),
                                ": handing a request to its agent: ",
                                e
                            );
                            refuse(up::EAGAIN)
                        }
                    },
                }
            }
        };
        let name: Vec<u8, { w::MAX_NAME }> = match container {
            Some(i) => Vec::from_slice(self.name(i)).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut out = [0u8; 128];
        let msg = Msg::Route(w::Route {
            decision,
            deadline_ms,
            name: &name,
        });
        let Some(conn) = self.st.conns.get_mut(c) else { return };
        conn.waiting_for = None;
        conn.container = container;
        let handed = container.is_some() && matches!(decision, Decision::Agent { .. });
        conn.in_flight = handed;
        let sent = msg.encode(&mut out).map_err(|_| Errno::INVAL).and_then(|n| {
            keel_rt::sock::send(
                &conn.fd,
                out.get(..n).unwrap_or(&[]),
                passed.as_ref().map(|f| f.as_fd()),
            )
        });
        if let Err(e) = sent {
            debug!("keel: upcalls: answering a broker: ", e);
        }
        // From now on keel waits for the broker to end, and reads its
        // outcome then: woken by the outcome itself, keel (at a higher
        // priority) would run before the broker exits — and the requester
        // waits for that exit.
        let _ = epoll::modify(&self.epoll, &conn.fd, token(K_CONN, c), epoll::EventFlags::RDHUP);
        if let (Some(i), true) = (container, handed) {
            if let Some(u) = self.st.upc.get_mut(i) {
                u.in_flight += 1;
            }
        }
    }

    /// Answers the brokers waiting for container `i`'s agent (its Hello
    /// came, or it is gone: then they are refused).
    fn answer_waiting(&mut self, i: usize) {
        let waiting: Vec<usize, { MAX_CONNS }> = self
            .st
            .conns
            .iter()
            .filter(|(_, conn)| conn.waiting_for == Some(i))
            .map(|(c, _)| c)
            .collect();
        for c in waiting {
            self.answer(c, Some(i));
        }
    }

    fn log_outcome(&mut self, c: usize, o: w::Outcome) {
        let Some(conn) = self.st.conns.get_mut(c) else { return };
        conn.logged = true;
        let container = conn.container;
        let mut l = keel_rt::Line::new();
        l.str("keel: upcall from ");
        match container {
            Some(i) => l
                .str("container ")
                .bytes(self.st.table.get(i).map_or(&b"?"[..], |e| &e.name)),
            None => l.str("the host"),
        };
        l.str(": ").bytes(&conn.ty).str(" key ");
        if conn.kernel {
            l.str("(kernel-originated) ");
        }
        up::outcome_words(o.result, &mut l);
        l.str(" in ").u64(u64::from(o.ms)).str(" ms");
        keel_rt::log::record(keel_rt::log::Level::Info, l.as_bytes());
        if let Some(x) = container.and_then(|i| self.st.extra.get_mut(i)) {
            match up::tally(o.result) {
                Tally::Served => x.served = x.served.saturating_add(1),
                Tally::Rejected => x.rejected = x.rejected.saturating_add(1),
                Tally::TimedOut => x.timed_out = x.timed_out.saturating_add(1),
            }
            // The counters reach the status file within a second, not with
            // every upcall: a rewrite costs a rename (on a disk-backed /run,
            // a journal flush of milliseconds) that would sit in the path
            // of the next request.
            if self.status_due.is_none() {
                self.status_due = Some(clock::now() + COUNTERS_EVERY_MS);
            }
        }
    }

    fn close_conn(&mut self, c: usize) {
        let Some(conn) = self.st.conns.take(c) else { return };
        let _ = epoll::delete(&self.epoll, &conn.fd);
        if let (Some(i), true) = (conn.container, conn.in_flight) {
            if let Some(u) = self.st.upc.get_mut(i) {
                u.in_flight = u.in_flight.saturating_sub(1);
            }
        }
        if conn.routed && !conn.logged {
            warn!(
                "keel: upcall: a broker ended without an outcome (",
                clock::now().saturating_sub(conn.t0),
                " ms)"
            );
        }
    }

    // ------------------------------------------------------------ agents

    /// The container's init has exec'd: hold its pid namespace and start
    /// its agent.
    pub(super) fn upcalls_on_execd(&mut self, i: usize) {
        let pid = self.st.table.get(i).map_or(0, |e| e.pid);
        let _ = self.st.upc.set(i, ContainerUpcalls::NEW);
        if let Some(u) = self.st.upc.get_mut(i) {
            let mut p = keel_rt::path::CBuf::<64>::from(b"/proc/");
            p.push_u64(pid as u64).push(b"/ns/pid");
            if let Ok(fd) = p.as_cstr().and_then(|c| keel_rt::fs::open_read(rustix::fs::CWD, c)) {
                u.pidns_ino = rustix::fs::fstat(&fd).map_or(0, |s| s.st_ino);
                u.pidns = Some(fd);
            }
        }
        self.start_agent(i);
    }

    fn start_agent(&mut self, i: usize) {
        let Some(up) = &self.up else { return };
        let Some(image) = &up.image else { return };
        let Some(r) = self.st.res.get(i) else { return };
        let Some(init) = r.pidfd.as_ref() else { return };
        let name = self.name(i);
        let mut buf = SpecBuf::new();
        let Some(dir) = &self.config_dir else { return };
        // The agent takes the container's bounding set and rlimits from its
        // spec as it is now (a changed file restarts the container anyway).
        if let Err(e) = config::read(dir, name, &mut buf) {
            error!(
                "keel: container ",
                name, ": upcall agent: reading its spec: ", e, " (no agent: its key requests are refused)"
            );
            return;
        }
        let Ok(spec) = spec::parse(&mut buf) else {
            error!(
                "keel: container ",
                self.name(i),
                ": upcall agent: its spec no longer parses (no agent: its key requests are refused)"
            );
            return;
        };
        let started = agent::start(image, init.as_fd(), r.cgroup.as_ref().map(|f| f.as_fd()), &spec, None);
        match started {
            Ok(s) => {
                let ok = epoll::add(&self.epoll, &s.channel, token(K_AGENT, i), epoll::EventFlags::IN).is_ok();
                if !ok {
                    warn!("keel: container ", self.name(i), ": cannot watch its agent's channel");
                }
                let pid = s.spawned.pid;
                if let Some(u) = self.st.upc.get_mut(i) {
                    u.restart_at = None;
                    u.agent = Some(AgentRes {
                        pid,
                        pidfd: s.spawned.pidfd,
                        channel: s.channel,
                        report: s.spawned.report,
                        keyring: 0,
                        started: clock::now(),
                    });
                }
                if let Some(x) = self.st.extra.get_mut(i) {
                    x.agent_pid = pid;
                }
                self.st.table.dirty = true;
                debug!("keel: container ", self.name(i), ": upcall agent pid ", pid);
            }
            Err(f) => {
                if let Some(u) = self.st.upc.get_mut(i) {
                    u.last_end = Some((0, Ending::Code(127), Some(f)));
                }
                self.schedule_agent(i);
            }
        }
    }

    /// The agent's set-up child sent its keyring (the first message).
    pub(super) fn on_agent_channel(&mut self, i: usize) {
        let Some(a) = self.st.upc.get_mut(i).and_then(|u| u.agent.as_mut()) else {
            return;
        };
        let mut b = [0u8; 64];
        match keel_rt::sock::recv(&a.channel, &mut b) {
            Ok((n, _)) if n > 0 => match w::decode(b.get(..n).unwrap_or(&[])) {
                Ok(Msg::Hello { keyring }) if a.keyring == 0 && keyring > 0 => {
                    a.keyring = keyring;
                    if let Some(x) = self.st.extra.get_mut(i) {
                        x.agent_keyring = keyring;
                    }
                    self.st.table.dirty = true;
                    self.answer_waiting(i);
                }
                // After the Hello the agent speaks for the container: nothing
                // it says changes what keel believes.
                _ => {}
            },
            Err(Errno::AGAIN) | Err(Errno::INTR) => {}
            Ok(_) | Err(_) => {
                // The agent is gone; the reap restarts it.
                let _ = epoll::delete(&self.epoll, &a.channel);
            }
        }
    }

    /// `pid` was reaped: if it was an agent, schedule its restart (which
    /// happens, and is logged, only if the container still runs then).
    /// False if it was no agent.
    pub(super) fn agent_reaped(&mut self, pid: i32, ending: Ending) -> bool {
        let Some(i) = self
            .st
            .upc
            .iter()
            .find(|(_, u)| u.agent.as_ref().is_some_and(|a| a.pid == pid))
            .map(|(i, _)| i)
        else {
            return false;
        };
        let Some(a) = self.st.upc.get_mut(i).and_then(|u| u.agent.take()) else {
            return true;
        };
        let _ = epoll::delete(&self.epoll, &a.channel);
        let failure = match spawn::read_report(&a.report) {
            Outcome::Failed(f) => Some(f),
            _ => None,
        };
        if let Some(x) = self.st.extra.get_mut(i) {
            x.agent_pid = 0;
            x.agent_keyring = 0;
        }
        self.st.table.dirty = true;
        if let Some(u) = self.st.upc.get_mut(i) {
            if clock::now().saturating_sub(a.started) > 10_000 {
                u.quick_deaths = 0;
            }
            u.last_end = Some((pid, ending, failure));
        }
        self.schedule_agent(i);
        true
    }

    /// Whether container `i`'s init still runs: its pidfd is not readable
    /// (the table may not have seen an exit the kernel already reported: an
    /// agent killed with its pid namespace is often reaped first).
    fn init_running(&self, i: usize) -> bool {
        self.st.res.get(i).and_then(|r| r.pidfd.as_ref()).is_some_and(running)
    }

    fn schedule_agent(&mut self, i: usize) {
        if let Some(u) = self.st.upc.get_mut(i) {
            let d = agent::backoff_ms(u.quick_deaths);
            u.quick_deaths = u.quick_deaths.saturating_add(1);
            u.restart_at = Some(clock::now() + d);
        }
    }

    /// The earliest agent restart or counters write (for the timer).
    pub(super) fn next_agent_restart(&self) -> Option<u64> {
        let r = self.st.upc.iter().filter_map(|(_, u)| u.restart_at).min();
        match (r, self.status_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Restarts the agents whose time has come (and lets the upcall
    /// counters into the status file when theirs has).
    pub(super) fn restart_agents(&mut self) {
        let now = clock::now();
        if self.status_due.is_some_and(|t| t <= now) {
            self.status_due = None;
            self.st.table.dirty = true;
        }
        for i in 0..crate::table::MAX_CONTAINERS {
            let due = self.st.upc.get(i).and_then(|u| u.restart_at).is_some_and(|t| t <= now);
            if !due {
                continue;
            }
            if let Some(u) = self.st.upc.get_mut(i) {
                u.restart_at = None;
            }
            if !self.init_running(i) {
                continue;
            }
            match self.st.upc.get_mut(i).and_then(|u| u.last_end.take()) {
                Some((_, _, Some(f))) => {
                    let mut l = keel_rt::Line::new();
                    f.render(self.name(i), None, &mut l);
                    l.str(" (starting its upcall agent; trying again)");
                    keel_rt::log::emit(keel_rt::log::Level::Err, l.as_bytes());
                }
                Some((pid, ending, None)) => warn!(
                    "keel: container ",
                    self.name(i),
                    ": upcall agent ",
                    pid,
                    " ended with status ",
                    ending.status(),
                    "; restarting it"
                ),
                None => {}
            }
            self.start_agent(i);
        }
    }

    /// The init ended: the agent goes with it (a container that shares
    /// keel's pid namespace would otherwise keep it), and nothing restarts.
    pub(super) fn upcalls_on_init_exit(&mut self, i: usize) {
        let Some(u) = self.st.upc.get_mut(i) else { return };
        u.restart_at = None;
        u.pidns = None;
        u.pidns_ino = 0;
        if let Some(a) = &u.agent {
            let _ = spawn::signal(&a.pidfd, super::signals::SIGKILL);
        }
    }
}

/// A new request socket pair: one end goes to the agent (Assign), the
/// other is returned for the broker.
fn assign(a: &AgentRes) -> Result<OwnedFd, Errno> {
    let (for_agent, for_broker) = keel_rt::sock::pair()?;
    let mut b = [0u8; 16];
    let n = Msg::Assign.encode(&mut b).map_err(|_| Errno::INVAL)?;
    keel_rt::sock::send(&a.channel, b.get(..n).unwrap_or(&[]), Some(for_agent.as_fd()))?;
    Ok(for_broker)
}

/// A broker is root in keel's own user, mount and pid namespaces: checked
/// through its pidfd, so that a recycled pid cannot pass for it.
fn broker_is_trusted(fd: &OwnedFd, own: &[u64; 8]) -> Result<(), &'static str> {
    let (pid, uid, _) = keel_rt::sock::peer_cred(fd).map_err(|_| "no peer credentials")?;
    if uid != 0 {
        return Err("peer is not root");
    }
    if pid <= 0 {
        return Err("peer is outside keel's pid namespace");
    }
    let pidfd = rustix::process::Pid::from_raw(pid)
        .ok_or("bad peer pid")
        .and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).map_err(|_| "peer is gone")
        })?;
    for k in [NsKind::User, NsKind::Mnt, NsKind::Pid] {
        let mut p = keel_rt::path::CBuf::<64>::from(b"/proc/");
        p.push_u64(pid as u64).push(b"/ns/").push(k.name().as_bytes());
        let theirs = p.as_cstr().and_then(rustix::fs::stat).map_or(0, |s| s.st_ino);
        if theirs == 0 || Some(&theirs) != own.get(k.index()) {
            return Err("peer is not in keel's user, mount and pid namespaces");
        }
    }
    // Still the same process.
    if running(&pidfd) {
        Ok(())
    } else {
        Err("peer exited during the check")
    }
}

/// The process behind `pidfd` has not exited (a pidfd becomes readable when
/// it does).
fn running(pidfd: &OwnedFd) -> bool {
    let mut fds = [rustix::event::PollFd::new(pidfd, rustix::event::PollFlags::IN)];
    matches!(rustix::event::poll(&mut fds, Some(&keel_rt::clock::timespec(0))), Ok(0))
}
