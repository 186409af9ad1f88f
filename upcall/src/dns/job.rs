//! One dns_resolver request in flight: its inputs, its [`KeyLookup`] and
//! the sockets the lookup asks for — a new UDP socket per try, bound to a
//! random port (getrandom) and connected to the server asked; a TCP
//! connection when an answer comes back truncated.
//!
//! The lookup borrows its inputs, so both live in a static table of
//! [`JOBS`] entries (in .bss: a page becomes resident only when used).
//! [`Jobs`] is the one handle to it: an entry's inputs are written only
//! while it holds no lookup.
//!
//! The event loop that owns a [`Jobs`] registers each socket with the token
//! [`Job::token`] gives and calls [`Jobs::on_ready`], [`Jobs::step`] and,
//! when a wait ends, [`Jobs::on_timeout`].

use super::inputs::{self, Inputs};
use core::mem::MaybeUninit;
use core::net::{IpAddr, SocketAddr};
use core::sync::atomic::{AtomicBool, Ordering};
use keel_dns::lookup::Action;
use keel_dns::{KeyLookup, KeyOutcome, KeyPolicy};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};

/// Lookups in flight at once (one per agent slot).
pub const JOBS: usize = 16;
/// UDP sockets kept per lookup (one per nameserver).
const UDP_PER_JOB: usize = 3;
/// Largest TCP answer read (larger ones fail that try).
const TCP_MAX: usize = 16 * 1024;
/// Largest query the lookup writes (a name of 255 bytes and the header).
const QUERY_MAX: usize = 600;

struct Udp {
    fd: OwnedFd,
    server: usize,
}

struct Tcp {
    fd: OwnedFd,
    server: usize,
    query: [u8; QUERY_MAX],
    query_len: usize,
    sent: usize,
    answer: [u8; TCP_MAX + 2],
    have: usize,
}

/// A lookup with its sockets.
pub struct Job {
    index: usize,
    conf: &'static keel_dns::Config,
    lookup: KeyLookup<'static>,
    udp: [Option<Udp>; UDP_PER_JOB],
    tcp: Option<Tcp>,
    /// The earliest time the lookup waits for (None: not waiting).
    wait_until: Option<u64>,
    next_udp: usize,
}

/// Where an event loop watches a job's sockets.
pub trait Watch {
    /// Watch `fd` for reading (and writing, when `write`) under `token`.
    fn add(&mut self, fd: BorrowedFd<'_>, token: u64, write: bool);
    fn remove(&mut self, fd: BorrowedFd<'_>);
}

/// What a step leaves.
pub enum Step<'j> {
    /// Waiting for an answer, or until this time (monotonic ms).
    Wait(u64),
    Done(KeyOutcome<'j>),
}

static mut INPUTS: [MaybeUninit<Inputs>; JOBS] = [const { MaybeUninit::uninit() }; JOBS];
static mut LIVE: [MaybeUninit<Job>; JOBS] = [const { MaybeUninit::uninit() }; JOBS];
static TAKEN: AtomicBool = AtomicBool::new(false);

/// A job index out of range or still in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// The table of jobs; at most one per process.
pub struct Jobs {
    live: u32,
}

/// Random numbers from getrandom(2) (query ids, source ports).
pub struct Rng;

impl keel_dns::Random for Rng {
    fn next_u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
        u16::from_ne_bytes(b)
    }
}

impl Jobs {
    /// The one table (None if already taken).
    pub fn take() -> Option<Jobs> {
        if TAKEN.swap(true, Ordering::Relaxed) {
            return None;
        }
        Some(Jobs { live: 0 })
    }

    /// Returns the table (every job ended) for a later [`Jobs::take`].
    pub fn give_back(self) {
        if self.live == 0 {
            TAKEN.store(false, Ordering::Relaxed);
        }
    }

    pub fn is_live(&self, i: usize) -> bool {
        i < JOBS && self.live & (1 << i) != 0
    }

    /// Starts job `i` for a request: reads the inputs (in this process's
    /// mount namespace) and begins the lookup. Err if `i` is out of range
    /// or still live.
    pub fn start(
        &mut self,
        i: usize,
        policy: KeyPolicy,
        desc: &[u8],
        callout: &[u8],
        deadline: u64,
    ) -> Result<(), Busy> {
        if i >= JOBS || self.is_live(i) {
            return Err(Busy);
        }
        // SAFETY: job `i` holds no lookup (its bit is clear), so nothing borrows INPUTS[i]; this is the only access to it now (one Jobs per process, single-threaded).
        let inputs: &'static mut Inputs = unsafe {
            let slot = &mut *core::ptr::addr_of_mut!(INPUTS[i]);
            // Zero it first: Inputs is plain data (a Config of integers and
            // heapless vectors, a byte array, a length), all valid as zeros.
            slot.as_mut_ptr().write_bytes(0, 1);
            slot.assume_init_mut()
        };
        inputs::read(inputs);
        let inputs: &'static Inputs = inputs;
        let mut lookup = KeyLookup::new(&inputs.conf, inputs.hosts(), policy, desc, callout);
        lookup.set_deadline(deadline);
        let job = Job {
            index: i,
            conf: &inputs.conf,
            lookup,
            udp: [const { None }; UDP_PER_JOB],
            tcp: None,
            wait_until: None,
            next_udp: 0,
        };
        // SAFETY: LIVE[i] is not initialised (bit clear); writing it is the only access.
        unsafe {
            (*core::ptr::addr_of_mut!(LIVE[i])).write(job);
        }
        self.live |= 1 << i;
        Ok(())
    }

    fn job(&mut self, i: usize) -> Option<&mut Job> {
        if !self.is_live(i) {
            return None;
        }
        // SAFETY: bit i set: LIVE[i] is initialised; &mut self makes this the only reference.
        Some(unsafe { (*core::ptr::addr_of_mut!(LIVE[i])).assume_init_mut() })
    }

    /// Ends job `i`: closes its sockets (out of `watch`) and drops the
    /// lookup, which frees its inputs.
    pub fn end(&mut self, i: usize, watch: &mut dyn Watch) {
        if let Some(j) = self.job(i) {
            j.close_all(watch);
        } else {
            return;
        }
        // SAFETY: bit i set: LIVE[i] is initialised and dropped exactly once here; the bit is cleared right after.
        unsafe { (*core::ptr::addr_of_mut!(LIVE[i])).assume_init_drop() };
        self.live &= !(1 << i);
    }

    /// Runs job `i` until it waits or is done. `token(i, sub)` names the
    /// job's sockets for the event loop.
    pub fn step(&mut self, i: usize, now: u64, watch: &mut dyn Watch) -> Option<Step<'_>> {
        let j = self.job(i)?;
        Some(j.step(now, watch))
    }

    /// A socket of job `i` (`sub` from its token) is ready.
    pub fn on_ready(&mut self, i: usize, sub: usize, now: u64, watch: &mut dyn Watch) {
        if let Some(j) = self.job(i) {
            j.on_ready(sub, now, watch);
        }
    }

    /// Job `i`'s wait ended at `now`.
    pub fn on_timeout(&mut self, i: usize, now: u64) {
        if let Some(j) = self.job(i) {
            if j.wait_until.is_some_and(|t| t <= now) {
                j.wait_until = None;
                j.lookup.on_timeout(now);
            }
        }
    }

    /// The earliest wait of any live job.
    pub fn next_wait(&mut self) -> Option<u64> {
        (0..JOBS).filter_map(|i| self.job(i).and_then(|j| j.wait_until)).min()
    }
}

/// The event-loop token of job `i`'s socket `sub` (0..3 UDP, 3 TCP).
pub fn token(i: usize, sub: usize) -> u64 {
    ((i as u64) << 4) | sub as u64
}

/// (job, sub) from a token.
pub fn untoken(t: u64) -> (usize, usize) {
    (((t >> 4) & 0xffff) as usize, (t & 0xf) as usize)
}

const TCP_SUB: usize = UDP_PER_JOB;

impl Job {
    fn step(&mut self, now: u64, watch: &mut dyn Watch) -> Step<'_> {
        let i = self.index;
        // Bounded: each round sends one query or ends.
        for _ in 0..8 {
            let mut rng = Rng;
            let act = match self.lookup.next_action(now, &mut rng) {
                Action::Done(_) => break,
                Action::Wait { until_ms } => {
                    self.wait_until = Some(until_ms);
                    return Step::Wait(until_ms);
                }
                Action::SendUdp { server, bytes } => Send::Udp(server, copy(bytes)),
                Action::SendTcp { server, bytes } => Send::Tcp(server, copy(bytes)),
            };
            match act {
                Send::Udp(server, (q, n)) => self.send_udp(i, server, q.get(..n).unwrap_or(&[]), now, watch),
                Send::Tcp(server, (q, n)) => self.send_tcp(i, server, q.get(..n).unwrap_or(&[]), now, watch),
            }
        }
        match self.lookup.outcome() {
            Some(o) => {
                self.wait_until = None;
                Step::Done(o)
            }
            None => {
                let t = now.saturating_add(10);
                self.wait_until = Some(t);
                Step::Wait(t)
            }
        }
    }

    fn nameserver(&self, server: usize) -> Option<SocketAddr> {
        self.conf.nameservers.get(server).map(|ns| {
            let scope = match &ns.scope {
                keel_dns::resolv_conf::Scope::Id(n) => *n,
                keel_dns::resolv_conf::Scope::Interface(name) => interface_index(name),
                keel_dns::resolv_conf::Scope::None => 0,
            };
            ns.socket_addr(scope)
        })
    }

    fn send_udp(&mut self, i: usize, server: usize, q: &[u8], now: u64, watch: &mut dyn Watch) {
        let sent = self
            .nameserver(server)
            .ok_or(Errno::INVAL)
            .and_then(|to| udp_socket(&to))
            .and_then(|fd| net::send(&fd, q, net::SendFlags::empty()).map(|_| fd));
        let fd = match sent {
            Ok(fd) => fd,
            // Nothing sent (no route, no address): that try has failed now.
            Err(_) => return self.lookup.on_udp_failed(server, now),
        };
        // The server's own socket if it has one, else the next in turn.
        let k = self
            .udp
            .iter()
            .position(|u| u.as_ref().is_some_and(|u| u.server == server))
            .unwrap_or_else(|| {
                let k = self.next_udp % UDP_PER_JOB;
                self.next_udp = self.next_udp.wrapping_add(1);
                k
            });
        if let Some(slot) = self.udp.get_mut(k) {
            if let Some(old) = slot.take() {
                watch.remove(old.fd.as_fd());
            }
            watch.add(fd.as_fd(), token(i, k), false);
            *slot = Some(Udp { fd, server });
        }
    }

    fn send_tcp(&mut self, i: usize, server: usize, q: &[u8], now: u64, watch: &mut dyn Watch) {
        if let Some(old) = self.tcp.take() {
            watch.remove(old.fd.as_fd());
        }
        let Some(to) = self.nameserver(server) else { return };
        let fd = match tcp_connect(&to) {
            Ok(fd) => fd,
            Err(_) => return self.lookup.on_tcp_failed(server, now),
        };
        let mut query = [0u8; QUERY_MAX];
        let n = q.len().min(QUERY_MAX);
        if let (Some(d), Some(s)) = (query.get_mut(..n), q.get(..n)) {
            d.copy_from_slice(s);
        }
        watch.add(fd.as_fd(), token(i, TCP_SUB), true);
        self.tcp = Some(Tcp {
            fd,
            server,
            query,
            query_len: n,
            sent: 0,
            answer: [0; TCP_MAX + 2],
            have: 0,
        });
    }

    fn on_ready(&mut self, sub: usize, now: u64, watch: &mut dyn Watch) {
        if sub == TCP_SUB {
            return self.on_tcp_ready(now, watch);
        }
        let Some(Some(u)) = self.udp.get(sub) else { return };
        let mut buf = [0u8; 1500];
        // Bounded: a few datagrams per wake-up.
        for _ in 0..8 {
            match net::recvfrom(&u.fd, &mut buf, net::RecvFlags::empty()) {
                Ok((n, _, Some(from))) => {
                    let Ok(from) = SocketAddr::try_from(from) else { continue };
                    let msg = buf.get(..n).unwrap_or(&[]);
                    self.lookup.on_datagram(from, msg, now);
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }

    fn on_tcp_ready(&mut self, now: u64, watch: &mut dyn Watch) {
        let Some(t) = self.tcp.as_mut() else { return };
        let server = t.server;
        let failed = |job: &mut Job, watch: &mut dyn Watch| {
            if let Some(t) = job.tcp.take() {
                watch.remove(t.fd.as_fd());
            }
            job.lookup.on_tcp_failed(server, now);
        };
        if t.sent < t.query_len {
            if net::sockopt::socket_error(&t.fd).ok().and_then(|r| r.err()).is_some() {
                return failed(self, watch);
            }
            match rustix::io::write(&t.fd, t.query.get(t.sent..t.query_len).unwrap_or(&[])) {
                Ok(n) => t.sent += n,
                Err(Errno::AGAIN) | Err(Errno::INTR) => return,
                Err(_) => return failed(self, watch),
            }
            if t.sent < t.query_len {
                return;
            }
            // Written: from now on only reading.
            watch.remove(t.fd.as_fd());
            watch.add(t.fd.as_fd(), token(self.index, TCP_SUB), false);
            return;
        }
        loop {
            let Some(room) = t.answer.get_mut(t.have..) else {
                return failed(self, watch);
            };
            if room.is_empty() {
                return failed(self, watch);
            }
            match rustix::io::read(&t.fd, room) {
                Ok(0) => return failed(self, watch),
                Ok(n) => t.have += n,
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR) => continue,
                Err(_) => return failed(self, watch),
            }
            let want = match (t.answer.first(), t.answer.get(1)) {
                (Some(&a), Some(&b)) if t.have >= 2 => usize::from(u16::from_be_bytes([a, b])),
                _ => continue,
            };
            if want > TCP_MAX {
                return failed(self, watch);
            }
            if t.have >= want + 2 {
                let msg = t.answer.get(2..2 + want).unwrap_or(&[]);
                // A copy: on_tcp borrows the lookup mutably.
                let mut m = [0u8; TCP_MAX];
                let len = msg.len();
                if let Some(d) = m.get_mut(..len) {
                    d.copy_from_slice(msg);
                }
                if let Some(t) = self.tcp.take() {
                    watch.remove(t.fd.as_fd());
                }
                self.lookup.on_tcp(server, m.get(..len).unwrap_or(&[]), now);
                return;
            }
        }
    }

    fn close_all(&mut self, watch: &mut dyn Watch) {
        for u in self.udp.iter_mut() {
            if let Some(u) = u.take() {
                watch.remove(u.fd.as_fd());
            }
        }
        if let Some(t) = self.tcp.take() {
            watch.remove(t.fd.as_fd());
        }
    }
}

enum Send {
    Udp(usize, ([u8; QUERY_MAX], usize)),
    Tcp(usize, ([u8; QUERY_MAX], usize)),
}

fn copy(b: &[u8]) -> ([u8; QUERY_MAX], usize) {
    let mut q = [0u8; QUERY_MAX];
    let n = b.len().min(QUERY_MAX);
    if let (Some(d), Some(s)) = (q.get_mut(..n), b.get(..n)) {
        d.copy_from_slice(s);
    }
    (q, n)
}

fn family(to: &SocketAddr) -> AddressFamily {
    match to.ip() {
        IpAddr::V4(_) => AddressFamily::INET,
        IpAddr::V6(_) => AddressFamily::INET6,
    }
}

/// A UDP socket bound to a random port (getrandom; the kernel's own choice
/// after 16 ports in use) and connected to `to`.
fn udp_socket(to: &SocketAddr) -> Result<OwnedFd, Errno> {
    let fd = net::socket_with(
        family(to),
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    let mut rng = Rng;
    for _ in 0..16 {
        let port = 1024 + keel_dns::Random::next_u16(&mut rng) % (65535 - 1024);
        let local = match to {
            SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED), port),
        };
        match net::bind(&fd, &local) {
            Ok(()) => break,
            Err(Errno::ADDRINUSE) => continue,
            Err(e) => return Err(e),
        }
    }
    net::connect(&fd, to)?;
    Ok(fd)
}

fn tcp_connect(to: &SocketAddr) -> Result<OwnedFd, Errno> {
    let fd = net::socket_with(
        family(to),
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    match net::connect(&fd, to) {
        Ok(()) | Err(Errno::INPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}

/// SIOCGIFINDEX in this network namespace; 0 if unknown.
fn interface_index(name: &[u8]) -> u32 {
    let Ok(n) = core::str::from_utf8(name) else { return 0 };
    let Ok(s) = net::socket_with(AddressFamily::INET, SocketType::DGRAM, SocketFlags::CLOEXEC, None) else {
        return 0;
    };
    net::netdevice::name_to_index(&s, n).unwrap_or(0)
}
