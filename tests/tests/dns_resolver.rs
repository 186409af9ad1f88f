//! The dns_resolver handler (issue 5) on the host, as root, with real
//! namespaces: `upcall-agent dns-resolver -D` (KEEL_AGENT_BIN) against
//! keyutils' key.dns_resolver and a real dnsmasq, against the kernel's own
//! dns_resolver_preparse, and against a hostile nameserver.
//!
//! 1. [`differential_against_keyutils`]: in a fresh network namespace (lo
//!    up) dnsmasq serves fixed records on 127.0.0.1:53; every lookup runs
//!    in a fresh mount and UTS namespace of its own with /etc/resolv.conf,
//!    /etc/hosts and /etc/nsswitch.conf (`hosts: files dns`) bind-mounted
//!    from the test and the host name `keeltest` (no domain), so glibc and
//!    keel read the same files. Each name is asked with every callout by
//!    `key.dns_resolver -D -v` (under `script`: it prints only on a
//!    terminal) and by `upcall-agent dns-resolver -D`. Both are checked
//!    against the records the test configured and against each other; the
//!    cases where keyutils is wrong (or where keel documents another
//!    choice) are listed in [`DIFFERENCES`] and asserted exactly.
//! 2. [`kernel_accepts_every_payload`]: every payload keel produced in (1)
//!    goes through add_key("dns_resolver", …) into a fresh session keyring
//!    (the kernel's dns_resolver_preparse; no VM, no upcall) and is read
//!    back; payloads the kernel must refuse are refused (EINVAL).
//! 3. [`hostile_nameserver`]: a fake nameserver in the test (UDP and TCP on
//!    127.0.0.1:53 of a namespace of its own) sends wrong, malformed and
//!    abusive answers; each lookup must end within its limit
//!    (`options timeout:1 attempts:1`) with a rejection, or — when a good
//!    answer follows the bad one — with the good answer.
//!
//! CI installs what these tests run (xtask/src/deps.rs, .ci/run):
//! dnsmasq-base (/usr/sbin/dnsmasq), keyutils (/sbin/key.dns_resolver) and
//! util-linux/bsdutils (`script`, Essential on Debian). Without dnsmasq the
//! tests that need it print why and pass; without keyutils the
//! differential compares keel with the configured records only.
//!
//! By hand: `cargo xtask build`, then
//! `KEEL_AGENT_BIN=$PWD/target/release/upcall-agent cargo test -p keel-tests --test dns_resolver -- --nocapture`
//! (the tables are printed to stdout).

use keel_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";
const KEY_DNS_RESOLVER: &str = "/sbin/key.dns_resolver";
/// key.dns_resolver.conf's `default_ttl`, given to both with `-c` (not the
/// default 5, so that keel's use of it shows).
const DEFAULT_TTL: u32 = 7;
/// keel's cap on DNS TTLs (KeyPolicy::max_ttl).
const MAX_TTL: u32 = 60;
const ENODATA: u16 = 61;
const EAGAIN: u16 = 11;
const ECONNREFUSED: u16 = 111;

// ------------------------------------------------------------------ namespaces

/// Runs `f` on a thread of its own in a new network namespace (only that
/// thread moves: unshare(CLONE_NEWNET) is per task) with lo up. Sockets it
/// opens, threads it starts and processes it spawns are in that namespace.
fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let h = std::thread::spawn(move || {
        // SAFETY: unshare(2) with a flag; it changes only this thread's namespace.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
        lo_up();
        f()
    });
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// SIOCSIFFLAGS: lo up in this thread's network namespace.
fn lo_up() {
    // SAFETY: plain socket(2); the fd is closed below.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(s >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: ifreq is plain data; zeroes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        assert_eq!(libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr), 0, "SIOCGIFFLAGS lo");
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(
            libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr),
            0,
            "SIOCSIFFLAGS lo: {}",
            std::io::Error::last_os_error()
        );
        libc::close(s);
    }
}

/// The files a lookup reads, bind-mounted over the host's in a mount
/// namespace of the lookup's own.
#[derive(Clone)]
struct Files {
    resolv_conf: PathBuf,
    hosts: PathBuf,
    nsswitch: PathBuf,
    key_conf: PathBuf,
}

impl Files {
    fn write(dir: &Path, resolv_conf: &str, hosts: &str) -> Files {
        let f = Files {
            resolv_conf: dir.join("resolv.conf"),
            hosts: dir.join("hosts"),
            nsswitch: dir.join("nsswitch.conf"),
            key_conf: dir.join("key.dns_resolver.conf"),
        };
        std::fs::write(&f.resolv_conf, resolv_conf).unwrap();
        std::fs::write(&f.hosts, hosts).unwrap();
        // glibc's order (keel always reads /etc/hosts, then DNS).
        std::fs::write(&f.nsswitch, "hosts: files dns\n").unwrap();
        std::fs::write(&f.key_conf, format!("default_ttl = {DEFAULT_TTL}\n")).unwrap();
        f
    }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// Makes `cmd` start in new mount and UTS namespaces with `files` over
/// /etc and the host name `keeltest` (no dot: no default search domain).
fn isolate(cmd: &mut Command, files: &Files) {
    for f in ["/etc/resolv.conf", "/etc/hosts"] {
        assert!(
            Path::new(f).exists(),
            "{f} is missing (or a dangling link): the test bind-mounts its own over it"
        );
    }
    let mut binds = vec![
        (cstr(&files.resolv_conf), c"/etc/resolv.conf".to_owned()),
        (cstr(&files.hosts), c"/etc/hosts".to_owned()),
    ];
    if Path::new("/etc/nsswitch.conf").exists() {
        binds.push((cstr(&files.nsswitch), c"/etc/nsswitch.conf".to_owned()));
    }
    // SAFETY: the closure runs between fork and exec; it only makes system calls on memory prepared before the fork (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS) != 0 {
                return fail();
            }
            let none = std::ptr::null();
            if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, none as _) != 0 {
                return fail();
            }
            for (src, dst) in &binds {
                if libc::mount(src.as_ptr(), dst.as_ptr(), none, libc::MS_BIND, none as _) != 0 {
                    return fail();
                }
            }
            let name = b"keeltest";
            if libc::sethostname(name.as_ptr().cast(), name.len()) != 0 {
                return fail();
            }
            Ok(())
        });
    }
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: Duration,
}

/// Runs `cmd` to its end (killed after `limit`).
fn run(cmd: &mut Command, limit: Duration) -> Ran {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let mut o = Vec::new();
    let killer = {
        let pid = child.id();
        std::thread::spawn(move || {
            let end = Instant::now() + limit;
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
                if !alive(pid) {
                    return;
                }
            }
            kill(pid, libc::SIGKILL);
        })
    };
    let _ = out.read_to_end(&mut o);
    let st = child.wait().unwrap();
    let wall = start.elapsed();
    let e = reader.join().unwrap();
    let _ = killer.join();
    Ran {
        code: st.code(),
        stdout: String::from_utf8_lossy(&o).replace('\r', ""),
        stderr: String::from_utf8_lossy(&e).into_owned(),
        wall,
    }
}

// ------------------------------------------------------------------ the two resolvers

/// What a resolver decided.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Res {
    /// `The key instantiation data is '…'` (binary payloads: the hex keel
    /// prints) and `The expiry time is Ns`.
    Data { payload: String, ttl: u32 },
    /// `Reject the key with error N`.
    Reject(u16),
}

impl Res {
    fn show(&self) -> String {
        match self {
            Res::Data { payload, ttl } => match decode_v1_hex(payload) {
                Some(v1) => format!("{} ({ttl}s)", v1.summary()),
                None => format!("{payload} ({ttl}s)"),
            },
            Res::Reject(e) => format!("reject {e}"),
        }
    }
}

/// Reads the `I:` lines of either program. keyutils may print a
/// rejection line before a later answer (its AFS path reports the failed
/// SRV lookup, then answers from AFSDB): an answer wins.
fn parse_output(out: &str) -> Option<Res> {
    let mut data = None;
    let mut ttl = None;
    let mut reject = None;
    for l in out.lines() {
        if let Some(r) = l.strip_prefix("I: The key instantiation data is '") {
            data = Some(r.strip_suffix('\'')?.to_string());
        } else if let Some(r) = l.strip_prefix("I: The expiry time is ") {
            ttl = r.strip_suffix('s')?.parse().ok();
        } else if let Some(r) = l.strip_prefix("I: Reject the key with error ") {
            reject = r.trim().parse().ok();
        }
    }
    match (data, ttl, reject) {
        (Some(payload), Some(ttl), _) => Some(Res::Data { payload, ttl }),
        (None, _, Some(e)) => Some(Res::Reject(e)),
        _ => None,
    }
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// glibc's reason for a failed host lookup, from key.dns_resolver's
/// `unable to resolve hostname: NAME [gai_strerror]` line: what -D's
/// always-61 rejection hides (D4).
fn gai_reason(out: &str) -> Option<&'static str> {
    let msg = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("I: unable to resolve hostname: "))?;
    let msg = msg.rsplit_once(" [")?.1.trim_end_matches(']');
    Some(match msg {
        "No address associated with hostname" => "EAI_NODATA",
        "Name or service not known" => "EAI_NONAME",
        "Temporary failure in name resolution" => "EAI_AGAIN",
        "Non-recoverable failure in name resolution" => "EAI_FAIL",
        "Address family for hostname not supported" => "EAI_ADDRFAMILY",
        _ => "other",
    })
}

fn keyutils(files: &Files, desc: &str, callout: &str) -> (Res, Option<&'static str>) {
    let line = [
        KEY_DNS_RESOLVER,
        "-D",
        "-v",
        "-c",
        files.key_conf.to_str().unwrap(),
        desc,
        callout,
    ]
    .iter()
    .map(|a| sh_quote(a))
    .collect::<Vec<_>>()
    .join(" ");
    let mut c = Command::new("script");
    c.args(["-q", "-c", &line, "/dev/null"]).env("SHELL", "/bin/sh");
    isolate(&mut c, files);
    let r = run(&mut c, Duration::from_secs(20));
    let res = parse_output(&r.stdout).unwrap_or_else(|| {
        panic!(
            "key.dns_resolver -D {desc:?} {callout:?}: no result (status {:?}):\n{}{}",
            r.code, r.stdout, r.stderr
        )
    });
    let gai = matches!(res, Res::Reject(_)).then(|| gai_reason(&r.stdout)).flatten();
    (res, gai)
}

fn keel_cmd(files: &Files, desc: &str, callout: &str) -> Command {
    let mut c = Command::new(agent_bin());
    c.args(["dns-resolver", "-D", "-c"])
        .arg(&files.key_conf)
        .args([desc, callout]);
    isolate(&mut c, files);
    c
}

fn keel_run(files: &Files, desc: &str, callout: &str, limit: Duration) -> (Res, Ran) {
    let r = run(&mut keel_cmd(files, desc, callout), limit);
    let res = parse_output(&r.stdout).unwrap_or_else(|| {
        panic!(
            "upcall-agent dns-resolver -D {desc:?} {callout:?}: no result (status {:?}):\n{}{}",
            r.code, r.stdout, r.stderr
        )
    });
    // -D: status 0 with an answer, 1 with a rejection.
    let want = if matches!(res, Res::Data { .. }) { 0 } else { 1 };
    assert_eq!(r.code, Some(want), "{desc:?} {callout:?}: {}{}", r.stdout, r.stderr);
    (res, r)
}

fn keel(files: &Files, desc: &str, callout: &str) -> Res {
    keel_run(files, desc, callout, Duration::from_secs(20)).0
}

// ------------------------------------------------------------------ the v1 server list

#[derive(Clone, Debug, PartialEq, Eq)]
struct V1Server {
    name: String,
    priority: u16,
    weight: u16,
    port: u16,
    source: u8,
    status: u8,
    protocol: u8,
    addrs: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct V1 {
    source: u8,
    status: u8,
    servers: Vec<V1Server>,
}

impl V1 {
    fn summary(&self) -> String {
        let servers: Vec<String> = self
            .servers
            .iter()
            .map(|s| {
                format!(
                    "{} p{} w{} :{} {{{}}}",
                    s.name,
                    s.priority,
                    s.weight,
                    s.port,
                    s.addrs.join(",")
                )
            })
            .collect();
        format!("v1 src={} [{}]", self.source, servers.join("; "))
    }
    /// Every address as key.dns_resolver's text would give it: `addr+port`.
    fn entries(&self) -> BTreeSet<String> {
        let mut v = BTreeSet::new();
        for s in &self.servers {
            for a in &s.addrs {
                v.insert(format!("{a}+{}", s.port));
            }
        }
        v
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 == 1 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The hex keel prints for a binary payload (it starts with a 0 byte;
/// text never does), as bytes.
fn binary_payload(payload: &str) -> Option<Vec<u8>> {
    unhex(payload).filter(|b| b.first() == Some(&0))
}

fn decode_v1_hex(payload: &str) -> Option<V1> {
    decode_v1(&binary_payload(payload)?)
}

/// A v1 server list per include/uapi/linux/dns_resolver.h (docs/upcalls.md
/// §2.3), decoded independently of keel; None if anything is off, or if
/// bytes are left over.
fn decode_v1(b: &[u8]) -> Option<V1> {
    let u16le = |o: usize| Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]));
    if b.get(..3)? != [0, 0, 1] {
        return None;
    }
    let (source, status, n) = (*b.get(3)?, *b.get(4)?, *b.get(5)?);
    let mut at = 6;
    let mut servers = Vec::new();
    for _ in 0..n {
        let name_len = usize::from(u16le(at)?);
        let mut s = V1Server {
            name: String::new(),
            priority: u16le(at + 2)?,
            weight: u16le(at + 4)?,
            port: u16le(at + 6)?,
            source: *b.get(at + 8)?,
            status: *b.get(at + 9)?,
            protocol: *b.get(at + 10)?,
            addrs: Vec::new(),
        };
        let nr_addrs = *b.get(at + 11)?;
        at += 12;
        s.name = String::from_utf8(b.get(at..at + name_len)?.to_vec()).ok()?;
        at += name_len;
        for _ in 0..nr_addrs {
            match *b.get(at)? {
                0 => {
                    let o: [u8; 4] = b.get(at + 1..at + 5)?.try_into().ok()?;
                    s.addrs.push(Ipv4Addr::from(o).to_string());
                    at += 5;
                }
                1 => {
                    let o: [u8; 16] = b.get(at + 1..at + 17)?.try_into().ok()?;
                    s.addrs.push(Ipv6Addr::from(o).to_string());
                    at += 17;
                }
                _ => return None,
            }
        }
        servers.push(s);
    }
    (at == b.len()).then_some(V1 {
        source,
        status,
        servers,
    })
}

// ------------------------------------------------------------------ 1. differential

/// The records dnsmasq serves (`.test` is local: other names there are
/// NXDOMAIN; names outside it are REFUSED, there being no upstream).
/// local-ttl (300) is the TTL of the SRV, AFSDB and TXT records.
fn dnsmasq_conf(dir: &Path) -> String {
    let mut c = format!(
        "no-resolv\nno-hosts\nlisten-address=127.0.0.1\nbind-interfaces\nuser=root\n\
         pid-file={d}/dnsmasq.pid\nlog-queries\nlog-facility={d}/dnsmasq.log\n\
         local=/test/\nlocal-ttl=300\n",
        d = dir.display()
    );
    c += "host-record=v4.test,10.0.0.4,40\n\
          host-record=v6.test,fd00::6,41\n\
          host-record=both.test,10.0.1.1,fd00::11,300\n\
          host-record=mixed.test,10.0.7.1,35\n\
          host-record=mixed.test,fd00::71,15\n\
          cname=c1.test,c2.test,50\n\
          cname=c2.test,c3.test,20\n\
          cname=c3.test,both.test,50\n\
          txt-record=txtonly.test,\"no addresses here\"\n\
          host-record=shadow.test,10.0.9.9,fd00::9,30\n\
          srv-host=_afs3-vlserver._udp.cell1.test,vl1.cell1.test,7003,10,5\n\
          srv-host=_afs3-vlserver._udp.cell1.test,vl2.cell1.test,7004,20,5\n\
          host-record=vl1.cell1.test,10.0.3.1,45\n\
          host-record=vl2.cell1.test,10.0.3.2,fd00::32,25\n\
          host-record=afsdb1.cell2.test,10.0.4.1,50\n";
    for i in 1..=4 {
        c += &format!("host-record=multi.test,10.0.2.{i},43\n");
    }
    for i in 1..=32 {
        c += &format!("host-record=big.test,10.0.5.{i},44\n");
    }
    for i in 1..=40 {
        c += &format!("host-record=huge.test,10.0.6.{i},45\n");
    }
    // AFSDB (type 18): subtype 1, then the host name uncompressed.
    let mut rdata = String::from("0001");
    for label in ["afsdb1", "cell2", "test"] {
        rdata += &format!("{:02x}", label.len());
        rdata += &label.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    }
    rdata += "00";
    c += &format!("dns-rr=cell2.test,18,{rdata}\n");
    c
}

const HOSTS: &str = "127.0.0.1 localhost\n\
                     10.9.9.1 hosted.test\n\
                     fd00::99 hosted.test\n\
                     10.9.9.2 shadow.test\n\
                     10.9.9.3 hosts2.test\n\
                     10.9.9.4 hosts2.test\n";

const RESOLV_CONF: &str = "nameserver 127.0.0.1\nsearch test\noptions timeout:1 attempts:2\n";

/// Address families a callout asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fam {
    V4,
    V6,
    Both,
}

/// key.dns_resolver's callout options for a host, and what each asks:
/// (callout, families, every address).
const HOST_CALLOUTS: [(&str, Fam, bool); 6] = [
    ("", Fam::V4, false), // legacy mode: IPv4 only, first address
    ("ipv4", Fam::V4, false),
    ("ipv6", Fam::V6, false),
    ("list", Fam::Both, true),
    ("ipv4 list", Fam::V4, true),
    ("ipv6 list", Fam::V6, true),
];

/// One family's answer as configured: addresses and the key timeout keel
/// must give (DNS: smallest record TTL capped at 60; /etc/hosts and
/// literals: default_ttl).
#[derive(Clone, Debug, Default)]
struct Addrs {
    addrs: Vec<String>,
    ttl: u32,
}

fn dns(addrs: &[&str], ttl: u32) -> Addrs {
    Addrs {
        addrs: addrs.iter().map(|s| s.to_string()).collect(),
        ttl: ttl.min(MAX_TTL),
    }
}

fn local(addrs: &[&str]) -> Addrs {
    Addrs {
        addrs: addrs.iter().map(|s| s.to_string()).collect(),
        ttl: DEFAULT_TTL,
    }
}

fn none() -> Addrs {
    Addrs::default()
}

/// A host name and what the records say.
struct HostCase {
    desc: &'static str,
    what: &'static str,
    v4: Addrs,
    v6: Addrs,
    /// Both families when that is not simply v4 then v6 (/etc/hosts
    /// answering one family ends the lookup there).
    both: Option<Addrs>,
    /// keel's errno when there is no address of the asked families.
    errno: u16,
    /// getaddrinfo's error then, per asked family (what keyutils' -D
    /// output says before its always-61 rejection line).
    gai: fn(Fam) -> &'static [&'static str],
    /// The listed difference a keel errno other than 61 is (see DIFFERENCES).
    errno_difference: Option<&'static str>,
}

impl HostCase {
    fn expect(&self, f: Fam) -> Addrs {
        match f {
            Fam::V4 => self.v4.clone(),
            Fam::V6 => self.v6.clone(),
            Fam::Both => self.both.clone().unwrap_or_else(|| {
                let mut a = self.v4.addrs.clone();
                a.extend(self.v6.addrs.iter().cloned());
                let ttl = [&self.v4, &self.v6]
                    .iter()
                    .filter(|x| !x.addrs.is_empty())
                    .map(|x| x.ttl)
                    .min()
                    .unwrap_or(0);
                Addrs { addrs: a, ttl }
            }),
        }
    }
}

/// getaddrinfo's errors for "no such address".
const NOT_FOUND: &[&str] = &["EAI_NODATA", "EAI_NONAME", "EAI_ADDRFAMILY"];

fn seq(prefix: &str, n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

fn host_cases() -> Vec<HostCase> {
    let c = |desc, what, v4, v6| HostCase {
        desc,
        what,
        v4,
        v6,
        both: None,
        errno: ENODATA,
        gai: |_| NOT_FOUND,
        errno_difference: None,
    };
    let mut v = vec![
        c("v4.test", "A only", dns(&["10.0.0.4"], 40), none()),
        c("v6.test", "AAAA only", none(), dns(&["fd00::6"], 41)),
        c(
            "both.test",
            "A and AAAA, TTL 300",
            dns(&["10.0.1.1"], 300),
            dns(&["fd00::11"], 300),
        ),
        c(
            "mixed.test",
            "A TTL 35, AAAA TTL 15",
            dns(&["10.0.7.1"], 35),
            dns(&["fd00::71"], 15),
        ),
        c(
            "multi.test",
            "4 A records",
            dns(&["10.0.2.1", "10.0.2.2", "10.0.2.3", "10.0.2.4"], 43),
            none(),
        ),
        c(
            "c1.test",
            "CNAME c1>c2>c3>both (TTLs 50,20,50)",
            dns(&["10.0.1.1"], 20),
            dns(&["fd00::11"], 20),
        ),
        c("nx.test", "NXDOMAIN", none(), none()),
        c("txtonly.test", "no data (TXT only)", none(), none()),
        c(
            "big.test",
            "32 A: TC over UDP, TCP",
            Addrs {
                addrs: seq("10.0.5.", 32),
                ttl: 44,
            },
            none(),
        ),
        c(
            "huge.test",
            "40 A: TC, TCP; keel keeps 32",
            Addrs {
                addrs: seq("10.0.6.", 40),
                ttl: 45,
            },
            none(),
        ),
        c(
            "hosted.test",
            "/etc/hosts A and AAAA",
            local(&["10.9.9.1"]),
            local(&["fd00::99"]),
        ),
        c(
            "hosts2.test",
            "/etc/hosts, 2 lines",
            local(&["10.9.9.3", "10.9.9.4"]),
            none(),
        ),
        c(
            "shadow.test",
            "/etc/hosts A over DNS A+AAAA",
            local(&["10.9.9.2"]),
            dns(&["fd00::9"], 30),
        ),
        c("v4", "short name, search test", dns(&["10.0.0.4"], 40), none()),
        c("V4.Test.", "case, final dot", dns(&["10.0.0.4"], 40), none()),
        c("10.1.2.3", "IPv4 literal", local(&["10.1.2.3"]), none()),
        c("a:fd00::1", "a: prefix, IPv6 literal", none(), local(&["fd00::1"])),
        c("aaaa:v6.test", "aaaa: prefix", none(), dns(&["fd00::6"], 41)),
        c("refused.example", "REFUSED (no upstream)", none(), none()),
    ];
    for h in v.iter_mut() {
        match h.desc {
            // /etc/hosts has an IPv4 address: glibc's files module and
            // keel answer from it and do not ask DNS for the AAAA.
            "shadow.test" => h.both = Some(local(&["10.9.9.2"])),
            // REFUSED for refused.example, then NXDOMAIN for
            // refused.example.test: keel says ECONNREFUSED; glibc says
            // "temporary failure", except for AF_INET alone where it keeps
            // the search name's NXDOMAIN; keyutils' -D says 61 whatever
            // happened (D4).
            "refused.example" => {
                h.errno = ECONNREFUSED;
                h.gai = |f| match f {
                    Fam::V4 => &["EAI_NONAME"],
                    _ => &["EAI_AGAIN"],
                };
                h.errno_difference = Some("D4 errors");
            }
            // IPv6 of `v4`: v4.test has no AAAA (NO_DATA), then the name
            // as it is, `v4.`, is REFUSED: like glibc's res_search, keel
            // keeps the NO_DATA of a search name (Failure::merge_names).
            _ => {}
        }
    }
    v
}

/// An AFS cell as configured.
struct AfsCase {
    cell: &'static str,
    what: &'static str,
    /// Header source of the v1 list (4 SRV, 3 AFSDB); 0 if no answer.
    source: u8,
    servers: Vec<V1Server>,
    /// keyutils' key timeout: the smallest SRV/AFSDB record TTL.
    keyutils_ttl: u32,
    /// keel's: the smallest of those and of every target's address
    /// records, capped at 60.
    keel_ttl: u32,
}

fn server(name: &str, priority: u16, weight: u16, port: u16, addrs: &[&str]) -> V1Server {
    V1Server {
        name: name.into(),
        priority,
        weight,
        port,
        source: 2,   // DNS_RECORD_FROM_DNS_A
        status: 1,   // DNS_LOOKUP_GOOD
        protocol: 1, // UDP
        addrs: addrs.iter().map(|s| s.to_string()).collect(),
    }
}

fn afs_cases() -> Vec<AfsCase> {
    vec![
        AfsCase {
            cell: "cell1.test",
            what: "SRV: vl1 (A, TTL 45), vl2 (A+AAAA, TTL 25)",
            source: 4,
            servers: vec![
                server("vl1.cell1.test", 10, 5, 7003, &["10.0.3.1"]),
                server("vl2.cell1.test", 20, 5, 7004, &["10.0.3.2", "fd00::32"]),
            ],
            keyutils_ttl: 300,
            keel_ttl: 25,
        },
        AfsCase {
            cell: "cell2.test",
            what: "AFSDB only: afsdb1 (A, TTL 50)",
            source: 3,
            servers: vec![server("afsdb1.cell2.test", 0, 0, 7003, &["10.0.4.1"])],
            keyutils_ttl: 300,
            keel_ttl: 50,
        },
        AfsCase {
            cell: "nocell.test",
            what: "neither SRV nor AFSDB",
            source: 0,
            servers: vec![],
            keyutils_ttl: 0,
            keel_ttl: 0,
        },
    ]
}

/// (callout, families) for afsdb: descriptions. `srv=1` asks keel for the
/// binary list; keyutils 1.6.3 ignores it.
const AFS_CALLOUTS: [(&str, Fam); 4] = [
    ("", Fam::Both),
    ("srv=1", Fam::Both),
    ("ipv4", Fam::V4),
    ("ipv6", Fam::V6),
];

/// Where keyutils and keel differ by design, each asserted exactly below.
const DIFFERENCES: &[(&str, &str)] = &[
    (
        "D1 TTL",
        "keyutils sets default_ttl (5, here 7 from -c) on every A/AAAA answer; keel uses the smallest TTL of the \
         records and CNAMEs used, capped at 60 s (the kernel's dns_resolver cache is shared by every network \
         namespace); /etc/hosts and literals: default_ttl on both sides",
    ),
    (
        "D2 AFS TTL",
        "keyutils takes the smallest SRV/AFSDB record TTL only, uncapped (300 here); keel also counts every \
         target's address records and caps at 60 s",
    ),
    (
        "D3 srv=1",
        "keyutils 1.6.3 ignores srv=1 and writes text; keel writes the binary server list v1 (the same servers \
         and addresses; an AFSDB server carries port 7003 in v1 where the text has no port)",
    ),
    (
        "D4 errors",
        "key.dns_resolver -D prints 61 for every failed host lookup (it calls nsError(NO_DATA) whatever \
         getaddrinfo said, and the live path rejects with the h_errno itself: 4 = EINTR); keel rejects per its \
         table: REFUSED -> 111 (ECONNREFUSED). glibc's own reason (the gai error keyutils prints first) is \
         compared instead: EAI_NONAME/EAI_NODATA <-> 61; for refused.example (REFUSED, then NXDOMAIN for the \
         search name) keel says 111 and glibc EAI_AGAIN (EAI_NONAME when asked for IPv4 alone)",
    ),
    (
        "D5 32 addresses",
        "keel keeps at most 32 addresses per lookup (dns/src/lib.rs fixed capacities): huge.test's 40 A \
         records give 32 of them; keyutils gives all 40",
    ),
    (
        "order",
        "list answers are compared as sets: glibc sorts by RFC 6724 (here IPv6 first) and dnsmasq rotates \
         records; keel gives IPv4 first, each family in the server's order (dns/src/key/mod.rs)",
    ),
];

/// One row of the differential.
#[derive(Clone, Debug)]
struct Row {
    desc: String,
    callout: String,
    what: &'static str,
    keyutils: Option<Res>,
    /// glibc's reason when keyutils rejected a host lookup.
    gai: Option<&'static str>,
    keel: Res,
}

struct Differential {
    rows: Vec<Row>,
    dnsmasq_log: String,
}

/// Why the differential can not run here, if it can not.
fn differential_missing() -> Option<String> {
    (!Path::new(DNSMASQ).is_file())
        .then(|| format!("{DNSMASQ} is missing (Debian package dnsmasq-base; CI installs it)"))
}

fn keyutils_missing() -> Option<String> {
    if !Path::new(KEY_DNS_RESOLVER).is_file() {
        return Some(format!(
            "{KEY_DNS_RESOLVER} is missing (Debian package keyutils; CI installs it)"
        ));
    }
    if which("script").is_none() {
        return Some("script is missing (util-linux/bsdutils)".into());
    }
    None
}

/// Runs every lookup once (shared by the differential and the kernel
/// test); None (with the reason printed) when dnsmasq is missing.
fn differential() -> Option<&'static Differential> {
    static RUN: OnceLock<Option<Differential>> = OnceLock::new();
    RUN.get_or_init(|| {
        require_root();
        if let Some(why) = differential_missing() {
            println!("skipped: {why}");
            return None;
        }
        let with_keyutils = match keyutils_missing() {
            Some(why) => {
                println!("keyutils side skipped: {why}; keel is checked against the records only");
                false
            }
            None => true,
        };
        let agent = agent_bin();
        assert!(agent.is_file());
        Some(in_new_netns(move || run_differential(with_keyutils)))
    })
    .as_ref()
}

fn run_differential(with_keyutils: bool) -> Differential {
    let dir = TestDir::new("dns-diff");
    std::fs::write(dir.join("dnsmasq.conf"), dnsmasq_conf(dir.path())).unwrap();
    let files = Files::write(dir.path(), RESOLV_CONF, HOSTS);
    let dnsmasq = Command::new(DNSMASQ)
        .arg("--keep-in-foreground")
        .arg(format!("--conf-file={}", dir.join("dnsmasq.conf").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dnsmasq");
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut dnsmasq = Guard(dnsmasq);
    let ready = poll(Duration::from_secs(5), || {
        if let Ok(Some(st)) = dnsmasq.0.try_wait() {
            let mut e = String::new();
            let _ = dnsmasq.0.stderr.take().map(|mut s| s.read_to_string(&mut e));
            panic!("dnsmasq exited: {st:?}: {e}");
        }
        TcpStream::connect("127.0.0.1:53").ok()
    });
    assert!(ready.is_some(), "dnsmasq is not listening on 127.0.0.1:53");

    // Every lookup, a few names at a time (threads started here are in
    // this network namespace too).
    let mut jobs: Vec<(String, String, &'static str)> = Vec::new();
    for h in host_cases() {
        for (c, _, _) in HOST_CALLOUTS {
            jobs.push((h.desc.to_string(), c.to_string(), h.what));
        }
    }
    for a in afs_cases() {
        for (c, _) in AFS_CALLOUTS {
            jobs.push((format!("afsdb:{}", a.cell), c.to_string(), a.what));
        }
    }
    let rows: Vec<Row> = std::thread::scope(|s| {
        let chunks: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(8))
            .map(|chunk| {
                let files = &files;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(d, c, what)| {
                            let (k, gai) = match with_keyutils.then(|| keyutils(files, d, c)) {
                                Some((k, gai)) => (Some(k), gai),
                                None => (None, None),
                            };
                            Row {
                                desc: d.clone(),
                                callout: c.clone(),
                                what,
                                keyutils: k,
                                gai,
                                keel: keel(files, d, c),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    drop(dnsmasq);
    Differential {
        rows,
        dnsmasq_log: std::fs::read_to_string(dir.join("dnsmasq.log")).unwrap_or_default(),
    }
}

fn print_table(rows: &[Row]) {
    println!("\n== dns_resolver differential: key.dns_resolver -D -v vs upcall-agent dns-resolver -D ==");
    println!("| name | records | callout | keyutils | keel |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let mut k = r.keyutils.as_ref().map_or("(not run)".into(), Res::show);
        if let Some(g) = r.gai {
            k += &format!(" [{g}]");
        }
        println!(
            "| {} | {} | `{}` | {} | {} |",
            r.desc,
            r.what,
            r.callout,
            k,
            r.keel.show()
        );
    }
    println!("\nDifferences (asserted):");
    for (tag, why) in DIFFERENCES {
        println!("- {tag}: {why}");
    }
}

fn log_tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn set(payload: &str) -> BTreeSet<String> {
    payload.split(',').map(str::to_string).collect()
}

/// The address part of `addr+port` (AFS text); hosts have no port.
fn addr_of(entry: &str) -> &str {
    entry.rsplit_once('+').map_or(entry, |(a, _)| a)
}

#[test]
fn differential_against_keyutils() {
    let Some(d) = differential() else { return };
    print_table(&d.rows);
    let rows: BTreeMap<(String, String), &Row> = d
        .rows
        .iter()
        .map(|r| ((r.desc.clone(), r.callout.clone()), r))
        .collect();
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };
    let mut differences_seen: BTreeSet<&str> = BTreeSet::new();

    for h in host_cases() {
        for (callout, fam, list) in HOST_CALLOUTS {
            let r = rows[&(h.desc.to_string(), callout.to_string())];
            let at = format!("{} `{callout}`", h.desc);
            let want = h.expect(fam);
            let want_set: BTreeSet<String> = want.addrs.iter().cloned().collect();
            // keyutils' full list for the same families: what a one-address
            // answer of keel must be one of.
            let list_callout = match fam {
                Fam::V4 => "ipv4 list",
                Fam::V6 => "ipv6 list",
                Fam::Both => "list",
            };
            let k_list = rows[&(h.desc.to_string(), list_callout.to_string())]
                .keyutils
                .as_ref()
                .and_then(|x| match x {
                    Res::Data { payload, .. } => Some(set(payload)),
                    Res::Reject(_) => None,
                });
            if want.addrs.is_empty() {
                check(
                    r.keel == Res::Reject(h.errno),
                    format!("{at}: keel {:?}, want reject {}", r.keel, h.errno),
                );
                if let Some(k) = &r.keyutils {
                    // D4: keyutils prints ENODATA whatever the failure;
                    // glibc's reason is what to compare.
                    check(
                        *k == Res::Reject(ENODATA),
                        format!("{at}: keyutils {k:?}, want reject 61"),
                    );
                    check(
                        r.gai.is_some_and(|g| (h.gai)(fam).contains(&g)),
                        format!("{at}: getaddrinfo said {:?}, want one of {:?}", r.gai, (h.gai)(fam)),
                    );
                    if h.errno != ENODATA {
                        differences_seen.insert(h.errno_difference.expect("a listed difference"));
                    }
                }
                continue;
            }
            // keel: the configured addresses, the configured TTL.
            match &r.keel {
                Res::Data { payload, ttl } => {
                    let got = set(payload);
                    check(
                        *ttl == want.ttl,
                        format!("{at}: keel TTL {ttl}, want {} (D1)", want.ttl),
                    );
                    if want.ttl != DEFAULT_TTL {
                        differences_seen.insert("D1 TTL");
                    }
                    if !list {
                        check(
                            got.len() == 1 && got.is_subset(&want_set),
                            format!("{at}: keel {payload}, want one of {want_set:?}"),
                        );
                        if let Some(kl) = &k_list {
                            check(
                                got.is_subset(kl),
                                format!("{at}: keel {payload} is not in keyutils' {list_callout} {kl:?}"),
                            );
                        }
                    } else if h.desc == "huge.test" {
                        // D5: 32 of the 40.
                        check(
                            got.len() == 32 && got.is_subset(&want_set),
                            format!("{at}: keel gave {} addresses, want 32 of the 40 (D5)", got.len()),
                        );
                        differences_seen.insert("D5 32 addresses");
                    } else {
                        check(got == want_set, format!("{at}: keel {payload}, want {want_set:?}"));
                    }
                    // keel's order: IPv4 before IPv6.
                    let v: Vec<&str> = payload.split(',').collect();
                    let first_v6 = v.iter().position(|a| a.contains(':')).unwrap_or(v.len());
                    check(
                        v[first_v6..].iter().all(|a| a.contains(':')),
                        format!("{at}: keel order {payload}: IPv4 first"),
                    );
                }
                Res::Reject(e) => check(false, format!("{at}: keel rejected ({e}), want {want_set:?}")),
            }
            let Some(k) = &r.keyutils else { continue };
            match k {
                Res::Data { payload, ttl } => {
                    let got = set(payload);
                    check(
                        *ttl == DEFAULT_TTL,
                        format!("{at}: keyutils TTL {ttl}, want default_ttl {DEFAULT_TTL} (D1)"),
                    );
                    if list {
                        check(got == want_set, format!("{at}: keyutils {payload}, want {want_set:?}"));
                    } else {
                        check(
                            got.len() == 1 && got.is_subset(&want_set),
                            format!("{at}: keyutils {payload}, want one of {want_set:?}"),
                        );
                    }
                }
                Res::Reject(e) => check(false, format!("{at}: keyutils rejected ({e}), want {want_set:?}")),
            }
            // The D5 case: keyutils has all 40, keel 32.
            if list && h.desc == "huge.test" {
                if let (Res::Data { payload: kp, .. }, Res::Data { payload: lp, .. }) = (k, &r.keel) {
                    check(
                        set(kp).len() == 40 && set(lp).is_subset(&set(kp)),
                        format!("{at}: D5 as documented"),
                    );
                }
            }
        }
    }

    for a in afs_cases() {
        for (callout, fam) in AFS_CALLOUTS {
            let desc = format!("afsdb:{}", a.cell);
            let r = rows[&(desc.clone(), callout.to_string())];
            let at = format!("{desc} `{callout}`");
            let fam_ok = |addr: &str| match fam {
                Fam::V4 => !addr.contains(':'),
                Fam::V6 => addr.contains(':'),
                Fam::Both => true,
            };
            // The text entries keyutils and keel write: `addr+port` for
            // SRV, `addr` for AFSDB (no port).
            let want_text: BTreeSet<String> = a
                .servers
                .iter()
                .flat_map(|s| {
                    s.addrs
                        .iter()
                        .filter(|x| fam_ok(x))
                        .map(|x| {
                            if a.source == 4 {
                                format!("{x}+{}", s.port)
                            } else {
                                x.clone()
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            if want_text.is_empty() {
                check(
                    r.keel == Res::Reject(ENODATA),
                    format!("{at}: keel {:?}, want reject 61", r.keel),
                );
                if let Some(k) = &r.keyutils {
                    check(
                        *k == Res::Reject(ENODATA),
                        format!("{at}: keyutils {k:?}, want reject 61"),
                    );
                }
                continue;
            }
            match &r.keel {
                Res::Data { payload, ttl } => {
                    check(
                        *ttl == a.keel_ttl,
                        format!("{at}: keel TTL {ttl}, want {} (D2)", a.keel_ttl),
                    );
                    differences_seen.insert("D2 AFS TTL");
                    if callout == "srv=1" {
                        differences_seen.insert("D3 srv=1");
                        match decode_v1_hex(payload) {
                            Some(v1) => {
                                check(
                                    (v1.source, v1.status) == (a.source, 1),
                                    format!("{at}: v1 header source {} status {}", v1.source, v1.status),
                                );
                                let mut got = v1.servers.clone();
                                got.sort_by(|x, y| x.name.cmp(&y.name));
                                check(
                                    got == a.servers,
                                    format!("{at}: v1 servers {got:?}, want {:?}", a.servers),
                                );
                                // D3: the same addresses as the text (AFSDB: +7003 in v1).
                                let as_text: BTreeSet<String> = v1
                                    .entries()
                                    .into_iter()
                                    .map(|e| if a.source == 4 { e } else { addr_of(&e).to_string() })
                                    .collect();
                                check(as_text == want_text, format!("{at}: v1 entries {as_text:?}"));
                            }
                            None => check(false, format!("{at}: keel's srv=1 payload is not a v1 list: {payload}")),
                        }
                    } else {
                        check(
                            set(payload) == want_text,
                            format!("{at}: keel {payload}, want {want_text:?}"),
                        );
                    }
                }
                Res::Reject(e) => check(false, format!("{at}: keel rejected ({e})")),
            }
            if let Some(k) = &r.keyutils {
                match k {
                    // keyutils ignores srv=1 (D3): text, like ``.
                    Res::Data { payload, ttl } => {
                        check(
                            set(payload) == want_text,
                            format!("{at}: keyutils {payload}, want {want_text:?}"),
                        );
                        check(
                            *ttl == a.keyutils_ttl,
                            format!("{at}: keyutils TTL {ttl}, want {} (D2)", a.keyutils_ttl),
                        );
                    }
                    Res::Reject(e) => check(false, format!("{at}: keyutils rejected ({e})")),
                }
            }
        }
    }

    // The answers too big for UDP really came over TCP: 32 A records do
    // not fit in 512 bytes (12 + 14 for the question + 16 per record: 30
    // at most), so a 32-address list means the TC retry worked.
    let big = rows[&("big.test".to_string(), "list".to_string())];
    check(
        matches!(&big.keel, Res::Data { payload, .. } if set(payload).len() == 32),
        "big.test list: keel must give all 32 (TCP retry)".into(),
    );

    let with_keyutils = d.rows.iter().any(|r| r.keyutils.is_some());
    if with_keyutils {
        for (tag, _) in DIFFERENCES {
            if *tag != "order" {
                check(
                    differences_seen.contains(tag),
                    format!("listed difference {tag} was never exercised"),
                );
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} mismatches:\n{}\n\ndnsmasq's log (the end):\n{}",
            failures.len(),
            failures.join("\n"),
            log_tail(&d.dnsmasq_log, 60)
        );
    }
}

// ------------------------------------------------------------------ 2. the kernel's preparse

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_CLEAR: libc::c_long = 7;
const KEYCTL_READ: libc::c_long = 11;

/// add_key(2) into `keyring`: the serial, or the errno.
fn add_key(ty: &str, desc: &str, payload: &[u8], keyring: i32) -> Result<i32, i32> {
    let ty = CString::new(ty).unwrap();
    let desc = CString::new(desc).unwrap();
    // SAFETY: add_key(2) with NUL-terminated strings and a payload buffer we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            keyring,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r as i32)
    }
}

/// KEYCTL_READ: the key's payload as the kernel stored it.
fn read_key(key: i32) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; 8192];
    // SAFETY: KEYCTL_READ writes at most buf.len() bytes into buf.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_READ, key, buf.as_mut_ptr(), buf.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    buf.truncate(r as usize);
    Ok(buf)
}

#[test]
fn kernel_accepts_every_payload() {
    let Some(d) = differential() else { return };
    // keel's payloads, as the bytes it instantiates with: text with its
    // NUL, binary as printed (hex).
    let mut payloads: BTreeSet<Vec<u8>> = BTreeSet::new();
    for r in &d.rows {
        if let Res::Data { payload, .. } = &r.keel {
            let bytes = binary_payload(payload).unwrap_or_else(|| {
                let mut b = payload.as_bytes().to_vec();
                b.push(0);
                b
            });
            payloads.insert(bytes);
        }
    }
    assert!(payloads.iter().any(|p| p[0] == 0), "no binary payload among keel's");
    assert!(payloads.len() > 20, "too few payloads: {}", payloads.len());
    let payloads: Vec<Vec<u8>> = payloads.into_iter().collect();

    // A fresh session keyring of a thread of our own (join-session changes
    // only the calling thread's credentials).
    let report = std::thread::spawn(move || {
        // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a null name: a new anonymous session keyring.
        let ring = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            )
        };
        assert!(ring > 0, "join session keyring: {}", std::io::Error::last_os_error());
        let ring = ring as i32;
        let mut lines = Vec::new();
        for (n, p) in payloads.iter().enumerate() {
            let desc = format!("keeltest:{n}");
            let key = match add_key("dns_resolver", &desc, p, ring) {
                Ok(k) => k,
                Err(libc::ENODEV) => {
                    lines.push("skipped: the kernel has no dns_resolver key type (CONFIG_DNS_RESOLVER)".into());
                    return lines;
                }
                Err(e) => panic!("add_key dns_resolver {:?}: errno {e}", String::from_utf8_lossy(p)),
            };
            let back = read_key(key).unwrap_or_else(|e| panic!("read key {key}: errno {e}"));
            // The kernel strips a text payload's NUL and stores a binary
            // list as it is.
            let want: &[u8] = if p[0] == 0 { p } else { &p[..p.len() - 1] };
            assert_eq!(back, want, "key {desc}: read back differs");
            lines.push(format!(
                "accepted {desc}: {} bytes, {}",
                p.len(),
                if p[0] == 0 {
                    decode_v1(p).map_or("v1 (undecodable!)".into(), |v| v.summary())
                } else {
                    String::from_utf8_lossy(want).into_owned()
                }
            ));
        }
        // The kernel does refuse what it must refuse, so the check above
        // can fail: text without its NUL, a v1 header of version 2.
        assert_eq!(
            add_key("dns_resolver", "keeltest:bad-text", b"10.0.0.1", ring),
            Err(libc::EINVAL),
            "a text payload without NUL must be refused"
        );
        assert_eq!(
            add_key("dns_resolver", "keeltest:bad-v1", &[0, 0, 2, 4, 1, 0], ring),
            Err(libc::EINVAL),
            "a v1 header of version 2 must be refused"
        );
        lines.push("refused (EINVAL): text without NUL; v1 header version 2".into());
        // SAFETY: KEYCTL_CLEAR of the keyring we created.
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_CLEAR, ring) };
        lines
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e));
    println!("\n== dns_resolver_preparse: keel's payloads through add_key ==");
    for l in report {
        println!("{l}");
    }
}

// ------------------------------------------------------------------ 3. hostile DNS

/// A query as the fake server saw it.
struct Query {
    id: u16,
    /// The question section as sent (name, type, class).
    question: Vec<u8>,
}

fn parse_query(q: &[u8]) -> Query {
    let mut at = 12;
    while q[at] != 0 {
        at += 1 + usize::from(q[at]);
    }
    Query {
        id: u16::from_be_bytes([q[0], q[1]]),
        question: q[12..at + 5].to_vec(),
    }
}

/// A response: the header (QR, RD, RA and `rcode`; TC if `tc`), the
/// question, `an` answer records in `answers` (the counts as given).
fn response(id: u16, rcode: u8, tc: bool, question: &[u8], an: u16, answers: &[u8]) -> Vec<u8> {
    let flags: u16 = 0x8180 | u16::from(rcode) | if tc { 0x0200 } else { 0 };
    let mut m = Vec::new();
    m.extend(id.to_be_bytes());
    m.extend(flags.to_be_bytes());
    m.extend(1u16.to_be_bytes());
    m.extend(an.to_be_bytes());
    m.extend([0, 0, 0, 0]);
    m.extend(question);
    m.extend(answers);
    m
}

/// An A record for the question's name (pointer to offset 12).
fn a_record(ip: [u8; 4]) -> Vec<u8> {
    let mut r = vec![0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4];
    r.extend(ip);
    r
}

const GOOD: [u8; 4] = [10, 0, 0, 1];
const BAD: [u8; 4] = [10, 66, 6, 6];

fn good(q: &Query) -> Vec<u8> {
    response(q.id, 0, false, &q.question, 1, &a_record(GOOD))
}

/// `n` chained CNAMEs from the question's name (c0., c1., …), no address
/// at the end. Each owner is a pointer to the previous target.
fn cname_chain(q: &Query, n: usize) -> Vec<u8> {
    let mut m = response(q.id, 0, false, &q.question, n as u16, &[]);
    let mut owner = 12u16;
    for i in 0..n {
        m.extend([0xc0 | (owner >> 8) as u8, owner as u8]);
        let label = format!("c{i}");
        m.extend([0, 5, 0, 1, 0, 0, 0, 30]);
        m.extend(((label.len() + 2) as u16).to_be_bytes());
        owner = m.len() as u16;
        m.push(label.len() as u8);
        m.extend(label.as_bytes());
        m.push(0);
    }
    m
}

/// A CNAME loop: the name → x. → the name.
fn cname_loop(q: &Query) -> Vec<u8> {
    let mut m = response(q.id, 0, false, &q.question, 2, &[]);
    m.extend([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 3]);
    let x = m.len() as u16;
    m.extend([1, b'x', 0]);
    m.extend([0xc0 | (x >> 8) as u8, x as u8, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xc0, 12]);
    m
}

/// What the fake server does with the query.
#[derive(Clone, Copy, Debug)]
enum Play {
    /// Nothing: the server never answers.
    Silent,
    /// Send these over UDP, in order (a few ms apart).
    Udp(&'static [Msg]),
    /// A TC answer over UDP, then this over TCP.
    TcThenTcp(Msg),
}

#[derive(Clone, Copy, Debug)]
enum Msg {
    /// The good answer (A 10.0.0.1) from 127.0.0.1:53.
    Good,
    /// The good answer from 127.0.0.2:53 (a wrong source address).
    FromOtherAddress,
    /// The good answer from 127.0.0.1:5353 (a wrong source port).
    FromOtherPort,
    /// A 10.66.6.6 under a wrong id.
    WrongId,
    /// A 10.66.6.6 for another name (a.evil.test).
    OtherName,
    /// A 10.66.6.6 with the question's type AAAA.
    OtherType,
    /// An answer whose owner name is a pointer to itself.
    CompressionLoop,
    /// An answer whose owner name points past the end of the message.
    PointerOutOfRange,
    /// The good answer cut short (no TC bit).
    Truncated,
    /// The good answer claiming 5 answer records.
    CountsTooLarge,
    /// NOERROR, no answer records.
    Empty,
    /// `n` chained CNAMEs.
    Cnames(usize),
    /// A → B → A.
    CnameLoop,
    ServFail,
    Refused,
}

fn build(s: Msg, q: &Query) -> (Vec<u8>, u8) {
    // (message, which socket: 0 the server's, 1 127.0.0.2:53, 2 127.0.0.1:5353)
    match s {
        Msg::Good => (good(q), 0),
        Msg::FromOtherAddress => (good(q), 1),
        Msg::FromOtherPort => (good(q), 2),
        Msg::WrongId => (response(q.id ^ 0x5a5a, 0, false, &q.question, 1, &a_record(BAD)), 0),
        Msg::OtherName => {
            let mut question = vec![1, b'a', 4];
            question.extend(b"evil");
            question.extend([4]);
            question.extend(b"test");
            question.extend([0, 0, 1, 0, 1]);
            (response(q.id, 0, false, &question, 1, &a_record(BAD)), 0)
        }
        Msg::OtherType => {
            let mut question = q.question.clone();
            let n = question.len();
            question[n - 3] = 28;
            (response(q.id, 0, false, &question, 1, &a_record(BAD)), 0)
        }
        Msg::CompressionLoop => {
            let mut m = response(q.id, 0, false, &q.question, 1, &[]);
            let at = m.len() as u16;
            m.extend([0xc0 | (at >> 8) as u8, at as u8, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
            m.extend(BAD);
            (m, 0)
        }
        Msg::PointerOutOfRange => {
            let mut m = response(q.id, 0, false, &q.question, 1, &[]);
            m.extend([0xc0 | 0x3f, 0xff, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
            m.extend(BAD);
            (m, 0)
        }
        Msg::Truncated => {
            let mut m = good(q);
            m.truncate(m.len() - 3);
            (m, 0)
        }
        Msg::CountsTooLarge => (response(q.id, 0, false, &q.question, 5, &a_record(BAD)), 0),
        Msg::Empty => (response(q.id, 0, false, &q.question, 0, &[]), 0),
        Msg::Cnames(n) => (cname_chain(q, n), 0),
        Msg::CnameLoop => (cname_loop(q), 0),
        Msg::ServFail => (response(q.id, 2, false, &q.question, 0, &[]), 0),
        Msg::Refused => (response(q.id, 5, false, &q.question, 0, &[]), 0),
    }
}

/// How a scenario must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// The good answer (10.0.0.1), at once.
    Answer,
    /// A rejection with this errno, at once (well before the 1 s timeout).
    RejectNow(u16),
    /// A rejection with this errno after the 1 s timeout (and well within
    /// the lookup's limit).
    RejectAtTimeout(u16),
}

struct Scenario {
    name: &'static str,
    play: Play,
    want: Want,
}

/// The scenarios. keel's UDP socket is connected to the server it asked,
/// so an answer from another address or port is dropped by the kernel
/// before keel reads it; keel checks the source itself too
/// (dns/src/lookup.rs `on_datagram`). Either way it must not count.
fn scenarios() -> Vec<Scenario> {
    use Msg::*;
    use Want::{RejectAtTimeout, RejectNow};
    let s = |name, play, want| Scenario { name, play, want };
    vec![
        s(
            "wrong source address only",
            Play::Udp(&[FromOtherAddress]),
            RejectAtTimeout(EAGAIN),
        ),
        s(
            "wrong source address, then good",
            Play::Udp(&[FromOtherAddress, Good]),
            Want::Answer,
        ),
        s(
            "wrong source port, then good",
            Play::Udp(&[FromOtherPort, Good]),
            Want::Answer,
        ),
        s("wrong id only", Play::Udp(&[WrongId]), RejectAtTimeout(EAGAIN)),
        s("wrong id, then good", Play::Udp(&[WrongId, Good]), Want::Answer),
        s(
            "mismatched question (name) only",
            Play::Udp(&[OtherName]),
            RejectAtTimeout(EAGAIN),
        ),
        s(
            "mismatched question (name), then good",
            Play::Udp(&[OtherName, Good]),
            Want::Answer,
        ),
        s(
            "mismatched question (type), then good",
            Play::Udp(&[OtherType, Good]),
            Want::Answer,
        ),
        s(
            "compression loop only",
            Play::Udp(&[CompressionLoop]),
            RejectAtTimeout(EAGAIN),
        ),
        s(
            "compression loop, then good",
            Play::Udp(&[CompressionLoop, Good]),
            Want::Answer,
        ),
        s(
            "pointer out of range, then good",
            Play::Udp(&[PointerOutOfRange, Good]),
            Want::Answer,
        ),
        s(
            "truncated message only",
            Play::Udp(&[Truncated]),
            RejectAtTimeout(EAGAIN),
        ),
        s(
            "truncated message, then good",
            Play::Udp(&[Truncated, Good]),
            Want::Answer,
        ),
        s(
            "counts larger than the message only",
            Play::Udp(&[CountsTooLarge]),
            RejectAtTimeout(EAGAIN),
        ),
        s(
            "counts larger than the message, then good",
            Play::Udp(&[CountsTooLarge, Good]),
            Want::Answer,
        ),
        s("20 CNAMEs (UDP)", Play::Udp(&[Cnames(20)]), RejectNow(EAGAIN)),
        s(
            "300 CNAMEs (TC, then TCP)",
            Play::TcThenTcp(Cnames(300)),
            RejectNow(EAGAIN),
        ),
        s("CNAME loop", Play::Udp(&[CnameLoop]), RejectNow(EAGAIN)),
        s("TC, then the good answer over TCP", Play::TcThenTcp(Good), Want::Answer),
        s("empty answer section", Play::Udp(&[Empty]), RejectNow(ENODATA)),
        s("SERVFAIL", Play::Udp(&[ServFail]), RejectNow(EAGAIN)),
        s("REFUSED", Play::Udp(&[Refused]), RejectNow(ECONNREFUSED)),
        s("never answers", Play::Silent, RejectAtTimeout(EAGAIN)),
    ]
}

/// The fake nameserver's side of one scenario: the first query, then the
/// play. Returns what it saw, for the report.
fn fake_server(udp: UdpSocket, tcp: TcpListener, play: Play) -> String {
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1500];
    let Ok((n, client)) = udp.recv_from(&mut buf) else {
        return "no query".into();
    };
    let q = parse_query(&buf[..n]);
    let other_addr = UdpSocket::bind("127.0.0.2:53").expect("bind 127.0.0.2:53");
    let other_port = UdpSocket::bind("127.0.0.1:5353").expect("bind 127.0.0.1:5353");
    match play {
        Play::Silent => "query ignored".into(),
        Play::Udp(sends) => {
            for s in sends {
                let (m, via) = build(*s, &q);
                let sock = [&udp, &other_addr, &other_port][usize::from(via)];
                sock.send_to(&m, client).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
            format!("sent {sends:?}")
        }
        Play::TcThenTcp(s) => {
            udp.send_to(&response(q.id, 0, true, &q.question, 0, &[]), client)
                .unwrap();
            tcp.set_nonblocking(false).unwrap();
            let (mut c, _) = tcp.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut len = [0u8; 2];
            c.read_exact(&mut len).unwrap();
            let mut tq = vec![0u8; usize::from(u16::from_be_bytes(len))];
            c.read_exact(&mut tq).unwrap();
            let tq = parse_query(&tq);
            let (m, _) = build(s, &tq);
            let mut framed = (m.len() as u16).to_be_bytes().to_vec();
            framed.extend(&m);
            c.write_all(&framed).unwrap();
            format!("TC, then {s:?} over TCP ({} bytes)", m.len())
        }
    }
}

struct Hostile {
    name: &'static str,
    want: Want,
    got: Res,
    wall: Duration,
    server: String,
}

fn run_hostile(s: Scenario) -> Hostile {
    let agent = agent_bin();
    assert!(agent.is_file());
    in_new_netns(move || {
        let dir = TestDir::new("dns-hostile");
        let files = Files::write(
            dir.path(),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
            "127.0.0.1 localhost\n",
        );
        let udp = UdpSocket::bind("127.0.0.1:53").expect("bind 127.0.0.1:53");
        let tcp = TcpListener::bind("127.0.0.1:53").expect("listen on 127.0.0.1:53");
        let play = s.play;
        let server = std::thread::spawn(move || fake_server(udp, tcp, play));
        let (got, ran) = keel_run(&files, "h.test", "", Duration::from_secs(10));
        let server = server.join().unwrap_or_else(|_| "the fake server panicked".into());
        Hostile {
            name: s.name,
            want: s.want,
            got,
            wall: ran.wall,
            server,
        }
    })
}

#[test]
fn hostile_nameserver() {
    require_root();
    let agent = agent_bin();
    assert!(agent.is_file());
    // Every scenario in a network namespace of its own, all at once.
    let handles: Vec<_> = scenarios()
        .into_iter()
        .map(|s| std::thread::spawn(move || run_hostile(s)))
        .collect();
    let results: Vec<Hostile> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect();
    println!("\n== hostile nameserver: upcall-agent dns-resolver -D h.test '' (timeout:1 attempts:1) ==");
    println!("| scenario | want | got | wall |");
    println!("|---|---|---|---|");
    let mut failures = Vec::new();
    for r in &results {
        println!(
            "| {} | {:?} | {} | {:.3} s |",
            r.name,
            r.want,
            r.got.show(),
            r.wall.as_secs_f64()
        );
        let t = r.wall.as_secs_f64();
        let ok = match r.want {
            Want::Answer => matches!(&r.got, Res::Data { payload, .. } if payload == "10.0.0.1") && t < 0.9,
            Want::RejectNow(e) => r.got == Res::Reject(e) && t < 0.9,
            Want::RejectAtTimeout(e) => r.got == Res::Reject(e) && (0.9..2.5).contains(&t),
        };
        if !ok {
            failures.push(format!(
                "{}: want {:?}, got {:?} in {t:.3} s (server: {})",
                r.name, r.want, r.got, r.server
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_parsing() {
    let k = "I: READ CONFIG x\nI: Key description: 'dns_resolver;-1;-1;0;afsdb:c'\nNS:c: Unknown host.\n\
             I: Reject the key with error 61\nI: The key instantiation data is '10.0.4.1'\nI: The expiry time is 300s\n";
    assert_eq!(
        parse_output(k),
        Some(Res::Data {
            payload: "10.0.4.1".into(),
            ttl: 300
        })
    );
    assert_eq!(
        parse_output("I: Reject the key with error 111\n"),
        Some(Res::Reject(111))
    );
    assert_eq!(parse_output("nothing\n"), None);
    // A v1 list: header, one server "vl" (prio 1, weight 2, port 7003), one IPv4, one IPv6.
    let mut b = vec![0, 0, 1, 4, 1, 1, 2, 0, 1, 0, 2, 0, 0x5b, 0x1b, 2, 1, 1, 2, b'v', b'l'];
    b.extend([0, 10, 0, 0, 1, 1]);
    b.extend(Ipv6Addr::LOCALHOST.octets());
    let v = decode_v1(&b).unwrap();
    assert_eq!(v.servers[0].port, 7003);
    assert_eq!(v.servers[0].addrs, ["10.0.0.1", "::1"]);
    assert_eq!(
        v.entries().into_iter().collect::<Vec<_>>(),
        ["10.0.0.1+7003", "::1+7003"]
    );
    assert!(decode_v1(&b[..b.len() - 1]).is_none());
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(decode_v1_hex(&hex), Some(v));
    assert!(binary_payload("10.0.0.1").is_none());
    assert_eq!(addr_of("fd00::1+7003"), "fd00::1");
}
