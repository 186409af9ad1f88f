//! What a lookup reads before it starts: /etc/resolv.conf (glibc's
//! default — one nameserver 127.0.0.1 — when missing), /etc/hosts (its
//! first [`HOSTS_MAX`] bytes, cut at a line end), the host name for the
//! default search domain, and key.dns_resolver.conf's `default_ttl`.

use keel_dns::key::conf::{parse_key_conf, KeyConf, KeyConfError};
use keel_dns::{Config, KeyPolicy};
use rustix::io::Errno;

/// /etc/hosts bytes kept per lookup.
pub const HOSTS_MAX: usize = 16 * 1024;
/// keyutils' configuration file (the code's path; its man page names
/// /etc/key.dns_resolver.conf, which keyutils never reads).
pub const KEY_CONF: &core::ffi::CStr = c"/etc/keyutils/key.dns_resolver.conf";

pub struct Inputs {
    pub conf: Config,
    pub hosts: [u8; HOSTS_MAX],
    pub hosts_len: usize,
}

impl Inputs {
    pub fn hosts(&self) -> &[u8] {
        self.hosts.get(..self.hosts_len).unwrap_or(&[])
    }
}

/// Reads resolv.conf, /etc/hosts and the host name into `into`.
pub fn read(into: &mut Inputs) {
    let mut buf = [0u8; 4096];
    let text = match keel_rt::fs::read_into(c"/etc/resolv.conf", &mut buf) {
        Ok(n) => buf.get(..n).unwrap_or(&[]),
        // A longer file: its first 4 KiB (glibc reads line by line and
        // keeps at most 3 servers and 6 search domains anyway).
        Err(Errno::FBIG) => cut_at_line(&buf),
        Err(_) => &[],
    };
    into.conf = Config::parse(text);
    if let Ok(u) = rustix::system::uname().nodename().to_str() {
        into.conf.set_domain_from_hostname(u.as_bytes());
    }
    into.hosts_len = match keel_rt::fs::read_into(c"/etc/hosts", &mut into.hosts) {
        Ok(n) => n,
        Err(Errno::FBIG) => cut_at_line(&into.hosts).len(),
        Err(_) => 0,
    };
}

fn cut_at_line(b: &[u8]) -> &[u8] {
    match b.iter().rposition(|&c| c == b'\n') {
        Some(i) => b.get(..=i).unwrap_or(&[]),
        None => &[],
    }
}

/// The key policy: `default_ttl` from key.dns_resolver.conf at `path`
/// (missing file: the defaults), the 60 s cap.
pub fn policy(path: &core::ffi::CStr) -> Result<(KeyPolicy, KeyConf), PolicyError> {
    let mut buf = [0u8; 4096];
    let conf = match keel_rt::fs::read_into(path, &mut buf) {
        Ok(n) => parse_key_conf(buf.get(..n).unwrap_or(&[])).map_err(PolicyError::Syntax)?,
        Err(Errno::NOENT) => KeyConf::default(),
        Err(e) => return Err(PolicyError::Read(e)),
    };
    let policy = KeyPolicy {
        default_ttl: conf.default_ttl,
        ..KeyPolicy::default()
    };
    Ok((policy, conf))
}

#[derive(Clone, Copy, Debug)]
pub enum PolicyError {
    Read(Errno),
    Syntax(KeyConfError),
}
