//! `upcall-agent dns-resolver` — also run under the name key.dns_resolver
//! — a drop-in for keyutils' key.dns_resolver (request-key.conf:
//! `create dns_resolver * * /sbin/upcall-agent dns-resolver %k`):
//!
//! ```text
//! dns-resolver [-v] [-c CONF] KEY         settle KEY (its authority assumed by request-key)
//! dns-resolver -D [-v] [-c CONF] DESC CALLOUT
//!                                          debug: no key touched; print what KEY would get
//! dns-resolver --dump-config [-c CONF]     print the configuration (default_ttl = N)
//! ```
//!
//! The lookup runs in the caller's namespaces, with its /etc/resolv.conf
//! and /etc/hosts. With -D the two lines key.dns_resolver prints on a
//! terminal come on stdout — `I: The key instantiation data is '…'` and
//! `I: The expiry time is Ns` (binary payloads as hex) — and the status is
//! 1 with `I: Reject the key with error N` when there is no answer.

use super::inputs;
use super::job::{Jobs, Step, Watch};
use keel_rt::keys;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsRawFd, BorrowedFd};

#[derive(Debug, PartialEq, Eq, Default)]
pub struct Args<'a> {
    pub verbose: u8,
    pub conf: Option<&'a [u8]>,
    pub dump_config: bool,
    /// -D: description and callout.
    pub debug: Option<(&'a [u8], &'a [u8])>,
    pub key: Option<i32>,
}

pub const USAGE: &str = "usage: dns-resolver [-v] [-c CONF] KEY\n       dns-resolver -D [-v] [-c CONF] DESCRIPTION CALLOUT\n       dns-resolver --dump-config [-c CONF]\n";

/// Parses the arguments after the mode (or after key.dns_resolver).
pub fn parse<'a>(args: &[&'a [u8]]) -> Result<Args<'a>, &'static str> {
    let mut a = Args::default();
    let mut debug = false;
    let mut pos: heapless::Vec<&[u8], 2> = heapless::Vec::new();
    let mut it = args.iter();
    while let Some(&w) = it.next() {
        match w {
            b"-v" => a.verbose = a.verbose.saturating_add(1),
            b"-vv" => a.verbose = a.verbose.saturating_add(2),
            b"-D" => debug = true,
            b"-c" => a.conf = Some(*it.next().ok_or("-c needs a file")?),
            b"--dump-config" => a.dump_config = true,
            w if w.starts_with(b"-") && w.len() > 1 => return Err("unknown option"),
            w => pos.push(w).map_err(|_| "too many arguments")?,
        }
    }
    match (debug, a.dump_config, pos.as_slice()) {
        (false, true, []) => {}
        (true, false, [d, c]) => a.debug = Some((d, c)),
        (false, false, [k]) => {
            let k = core::str::from_utf8(k)
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .ok_or("KEY: not a key serial")?;
            a.key = Some(k);
        }
        (true, false, _) => return Err("-D needs DESCRIPTION and CALLOUT"),
        _ => return Err("expected KEY"),
    }
    Ok(a)
}

struct PollSet {
    fds: heapless::Vec<(i32, u64, bool), 8>,
}

impl Watch for PollSet {
    fn add(&mut self, fd: BorrowedFd<'_>, token: u64, write: bool) {
        let _ = self.fds.push((fd.as_raw_fd(), token, write));
    }
    fn remove(&mut self, fd: BorrowedFd<'_>) {
        let n = fd.as_raw_fd();
        self.fds.retain(|(f, _, _)| *f != n);
    }
}

fn out(parts: &[&[u8]]) {
    for p in parts {
        keel_rt::log::write_all(1, p);
    }
}

/// Runs the command; the exit status.
pub fn run(a: &Args<'_>) -> i32 {
    let conf_path = keel_rt::path::PathBuf::from(a.conf.unwrap_or(inputs::KEY_CONF.to_bytes()));
    let Ok(cp) = conf_path.as_cstr() else {
        keel_rt::error!("dns-resolver: -c: path too long");
        return 2;
    };
    let (policy, _) = match inputs::policy(cp) {
        Ok(p) => p,
        Err(inputs::PolicyError::Read(e)) => {
            keel_rt::error!("dns-resolver: ", conf_path.as_bytes(), ": ", e);
            return 1;
        }
        Err(inputs::PolicyError::Syntax(e)) => {
            keel_rt::error!(
                "dns-resolver: ",
                conf_path.as_bytes(),
                ":",
                e.line,
                ": ",
                e.kind.message()
            );
            return 1;
        }
    };
    if a.dump_config {
        let mut l = keel_rt::Line::new();
        l.str("default_ttl = ").u64(u64::from(policy.default_ttl)).str("\n");
        out(&[l.as_bytes()]);
        return 0;
    }
    // The key's description and callout: from -D, or from the key whose
    // authority request-key assumed for us.
    let mut dbuf = [0u8; 4200];
    let mut cbuf = [0u8; 4097];
    let (desc, callout): (&[u8], &[u8]) = match (a.debug, a.key) {
        (Some((d, c)), _) => (d, c),
        (None, Some(k)) => {
            let d = match keys::describe(k, &mut dbuf) {
                Ok(t) => keys::split_description(t).map(|(_, d)| d).unwrap_or(b""),
                Err(e) => {
                    keel_rt::error!("dns-resolver: key ", k, ": describe: ", e);
                    return 1;
                }
            };
            let c = keys::read(keys::KEY_SPEC_REQKEY_AUTH_KEY, &mut cbuf).unwrap_or(b"");
            (d, c)
        }
        _ => return 2,
    };
    if a.verbose > 0 {
        out(&[
            b"I: Key description: '",
            desc,
            b"'\nI: Callout info: '",
            callout,
            b"'\n",
        ]);
    }
    let deadline = crate::proc::now_ms() + u64::from(keel_wire::upcall::MAX_DEADLINE_MS);
    let mut status = 1;
    let done = resolve(policy, desc, callout, deadline, |o| {
        status = match a.key {
            Some(k) if a.debug.is_none() => match super::settle(k, o) {
                keel_wire::upcall::Result::Served | keel_wire::upcall::Result::Rejected(_) => 0,
                _ => 1,
            },
            _ => print_debug(o),
        };
    });
    if !done {
        keel_rt::error!("dns-resolver: the lookup could not start");
    }
    status
}

/// Resolves a dns_resolver request in this process (blocking, until
/// `deadline`) and hands the outcome to `then`. False if no lookup could
/// start (the table is taken: one per process).
pub fn resolve(
    policy: keel_dns::KeyPolicy,
    desc: &[u8],
    callout: &[u8],
    deadline: u64,
    then: impl FnOnce(&keel_dns::KeyOutcome<'_>),
) -> bool {
    let Some(mut jobs) = Jobs::take() else { return false };
    let mut set = PollSet {
        fds: heapless::Vec::new(),
    };
    if jobs.start(0, policy, desc, callout, deadline).is_err() {
        return false;
    }
    let mut then = Some(then);
    loop {
        let now = crate::proc::now_ms();
        match jobs.step(0, now, &mut set) {
            Some(Step::Done(o)) => {
                if let Some(f) = then.take() {
                    f(&o);
                }
                break;
            }
            Some(Step::Wait(until)) => wait(&mut jobs, &mut set, until),
            None => break,
        }
    }
    jobs.end(0, &mut set);
    Jobs::give_back(jobs);
    true
}

/// The broker's built-in `dns_resolver` for the host's configuration: the
/// key's authority is assumed; settles it and says how.
pub fn serve_key(key: i32, desc: &[u8], callout: &[u8], deadline: u64) -> keel_wire::upcall::Result {
    let policy = match inputs::policy(inputs::KEY_CONF) {
        Ok((p, _)) => p,
        Err(_) => keel_dns::KeyPolicy::default(),
    };
    let mut r = keel_wire::upcall::Result::Failed(rustix::io::Errno::AGAIN.raw_os_error() as u16);
    resolve(policy, desc, callout, deadline, |o| r = super::settle(key, o));
    r
}

fn wait(jobs: &mut Jobs, set: &mut PollSet, until: u64) {
    let now = crate::proc::now_ms();
    let left = until.saturating_sub(now);
    let entries: heapless::Vec<(i32, u64, bool), 8> = set.fds.clone();
    let borrow = |fd: i32| {
        // SAFETY: every fd in the set is open: a job removes a socket from the set before closing it, and nothing closes one during this call.
        unsafe { BorrowedFd::borrow_raw(fd) }
    };
    let borrowed: heapless::Vec<BorrowedFd<'_>, 8> = entries.iter().map(|&(fd, _, _)| borrow(fd)).collect();
    let mut pfds: heapless::Vec<PollFd<'_>, 8> = heapless::Vec::new();
    for (fd, &(_, _, write)) in borrowed.iter().zip(entries.iter()) {
        let flags = if write {
            PollFlags::IN | PollFlags::OUT
        } else {
            PollFlags::IN
        };
        let _ = pfds.push(PollFd::new(fd, flags));
    }
    let ts = keel_rt::clock::timespec(left);
    let ready: heapless::Vec<u64, 8> = match poll(&mut pfds, Some(&ts)) {
        Ok(_) => pfds
            .iter()
            .zip(entries.iter())
            .filter(|(p, _)| !p.revents().is_empty())
            .map(|(_, &(_, t, _))| t)
            .collect(),
        Err(_) => heapless::Vec::new(),
    };
    drop(pfds);
    let now = crate::proc::now_ms();
    for t in ready {
        let (i, sub) = super::job::untoken(t);
        jobs.on_ready(i, sub, now, set);
    }
    jobs.on_timeout(0, now);
}

/// -D: key.dns_resolver's two terminal lines, or the rejection (status 1).
fn print_debug(o: &keel_dns::KeyOutcome<'_>) -> i32 {
    match *o {
        keel_dns::KeyOutcome::Instantiate { payload, timeout_s } => {
            let text = payload.strip_suffix(&[0]).unwrap_or(payload);
            out(&[b"I: The key instantiation data is '"]);
            if payload.first() == Some(&0) {
                // The binary server list: as hex.
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for &b in payload {
                    let h = [
                        HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
                        HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
                    ];
                    out(&[&h]);
                }
            } else {
                out(&[text]);
            }
            let mut l = keel_rt::Line::new();
            l.str("'\nI: The expiry time is ").u64(u64::from(timeout_s)).str("s\n");
            out(&[l.as_bytes()]);
            0
        }
        keel_dns::KeyOutcome::Reject { errno, .. } => {
            let mut l = keel_rt::Line::new();
            l.str("I: Reject the key with error ").u64(u64::from(errno)).str("\n");
            out(&[l.as_bytes()]);
            keel_rt::error!(
                "dns-resolver: no answer: ",
                rustix::io::Errno::from_raw_os_error(i32::from(errno))
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<&[u8]> {
        s.split(' ').filter(|w| !w.is_empty()).map(str::as_bytes).collect()
    }

    #[test]
    fn command_lines() {
        assert_eq!(parse(&v("1234")).unwrap().key, Some(1234));
        let a = parse(&v("-v -c /x.conf 77")).unwrap();
        assert_eq!((a.verbose, a.conf, a.key), (1, Some(&b"/x.conf"[..]), Some(77)));
        let a = parse(&v("-D -v host.example list")).unwrap();
        assert_eq!(a.debug, Some((&b"host.example"[..], &b"list"[..])));
        assert!(parse(&v("--dump-config")).unwrap().dump_config);
        assert!(parse(&v("")).is_err());
        assert!(parse(&v("-D onlyone")).is_err());
        assert!(parse(&v("notanumber")).is_err());
        assert!(parse(&v("-x 1")).is_err());
        assert!(parse(&v("-c")).is_err());
    }
}
