//! Reading request-key configuration from a root: the files of
//! `/etc/request-key.d/` whose names pass [`conf::is_conf_name`], in byte
//! order of their names (keyutils takes readdir order, which differs from
//! machine to machine), then `/etc/request-key.conf`; `-l` reads
//! `./request-key.d/` and `./request-key.conf` instead. Each file is fed to
//! the best-line accumulator in chunks cut at line ends.

use crate::conf::{self, Best, Query};
use core::ffi::CStr;
use keel_rt::path::CBuf;
use rustix::fd::OwnedFd;
use rustix::io::Errno;

/// Read only when no line of the configuration matched: dns_resolver
/// requests are served by the built-in resolver when the configuration says
/// nothing about them (a container image rarely ships a request-key.conf,
/// and the kernel's DNS requests must not go unanswered); a catch-all line
/// of its own (`create * * * …`) keeps them.
pub const FALLBACK: &[u8] = b"create dns_resolver * * builtin:dns_resolver\n";

/// Where the configuration lives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `/etc/request-key.d/` and `/etc/request-key.conf`.
    Etc,
    /// `./request-key.d/` and `./request-key.conf` (`-l`).
    Local,
}

impl Root {
    fn dir(self) -> &'static [u8] {
        match self {
            Root::Etc => b"/etc/request-key.d",
            Root::Local => b"request-key.d",
        }
    }
    fn main(self) -> &'static CStr {
        match self {
            Root::Etc => c"/etc/request-key.conf",
            Root::Local => c"request-key.conf",
        }
    }
}

/// What reading found besides the lines: a file that could not be read,
/// files past [`conf::MAX_CONF_FILES`] or with too long a name, the first
/// malformed line. The caller logs it ([`Report::log`]); the lookup goes on
/// without them.
#[derive(Default)]
pub struct Report {
    pub unreadable: Option<(CBuf<300>, Errno)>,
    pub skipped_files: usize,
    pub files: usize,
    /// The file of the first malformed line (its line and reason are
    /// [`Best::first_diagnostic`]'s).
    pub first_bad_file: Option<CBuf<300>>,
}

impl Report {
    /// One line per problem, prefixed with `who` ("request-key",
    /// "upcall-agent").
    pub fn log(&self, who: &str, best: &Best) {
        if let Some((p, e)) = &self.unreadable {
            keel_rt::error!(who, ": ", p.as_bytes(), ": ", *e);
        }
        if self.skipped_files > 0 {
            keel_rt::warn!(
                who,
                ": ",
                self.skipped_files as u64,
                " configuration files passed over (too many, or too long a name)"
            );
        }
        if let (Some(p), Some(d)) = (&self.first_bad_file, best.first_diagnostic()) {
            keel_rt::warn!(
                who,
                ": ",
                p.as_bytes(),
                ":",
                u64::from(d.origin.line),
                ": ",
                d.reason,
                " (",
                u64::from(best.skipped()),
                " malformed lines passed over)"
            );
        }
    }
}

/// The `.d` names in byte order.
fn sorted_names(dir: &OwnedFd, report: &mut Report, names: &mut conf::ConfNames) {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 2048];
    let mut it = rustix::fs::RawDir::new(dir, &mut buf);
    while let Some(ent) = it.next() {
        let Ok(ent) = ent else { break };
        let n = ent.file_name().to_bytes();
        if !conf::is_conf_name(n) {
            continue;
        }
        // Regular files (or unknown type, as keyutils).
        let t = ent.file_type();
        if t != rustix::fs::FileType::RegularFile && t != rustix::fs::FileType::Unknown {
            continue;
        }
        if names.insert(n).is_err() {
            report.skipped_files += 1;
        }
    }
}

/// Feeds one open file to `best` in chunks of `buf`, cut after the last
/// newline of each chunk (a line longer than `buf` is fed alone, cut: the
/// matcher reports it as too long).
fn feed_file(fd: &OwnedFd, index: u16, q: &Query<'_>, best: &mut Best, buf: &mut [u8]) -> Result<(), Errno> {
    let mut have = 0usize;
    loop {
        let room = buf.get_mut(have..).ok_or(Errno::FAULT)?;
        let n = match rustix::io::read(fd, room) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        let end = have + n;
        let data = buf.get(..end).ok_or(Errno::FAULT)?;
        if n == 0 {
            if end > 0 {
                best.feed(index, data, q);
            }
            return Ok(());
        }
        let cut = match data.iter().rposition(|&c| c == b'\n') {
            Some(i) => i + 1,
            None if end == buf.len() => end,
            None => {
                have = end;
                continue;
            }
        };
        best.feed(index, data.get(..cut).unwrap_or(&[]), q);
        buf.copy_within(cut..end, 0);
        have = end - cut;
    }
}

/// Reads every configuration file of `root` into `best`.
pub fn choose(root: Root, q: &Query<'_>, best: &mut Best, buf: &mut [u8]) -> Report {
    let mut report = Report::default();
    let mut index: u16 = 0;
    let dir_path = CBuf::<64>::from(root.dir());
    let dir = dir_path.as_cstr().ok().and_then(|p| {
        rustix::fs::open(
            p,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok()
    });
    if let Some(dir) = dir {
        let mut names = conf::ConfNames::new();
        sorted_names(&dir, &mut report, &mut names);
        for name in names.iter() {
            let path = CBuf::<300>::from(name);
            let Ok(cs) = path.as_cstr() else { continue };
            match keel_rt::fs::open_read(&dir, cs) {
                Ok(fd) => {
                    let had = best.first_diagnostic().is_some();
                    if let Err(e) = feed_file(&fd, index, q, best, buf) {
                        note(&mut report, root.dir(), name, e);
                    }
                    if !had && best.first_diagnostic().is_some() {
                        report.first_bad_file = Some(joined(root.dir(), name));
                    }
                    report.files += 1;
                }
                Err(e) => note(&mut report, root.dir(), name, e),
            }
            index = index.saturating_add(1);
        }
    }
    match keel_rt::fs::open_read(rustix::fs::CWD, root.main()) {
        Ok(fd) => {
            let had = best.first_diagnostic().is_some();
            if let Err(e) = feed_file(&fd, index, q, best, buf) {
                note(&mut report, b"", root.main().to_bytes(), e);
            }
            if !had && best.first_diagnostic().is_some() {
                report.first_bad_file = Some(CBuf::from(root.main().to_bytes()));
            }
            report.files += 1;
        }
        Err(Errno::NOENT) => {}
        Err(e) => note(&mut report, b"", root.main().to_bytes(), e),
    }
    if best.chosen().is_none() {
        best.feed(index.saturating_add(1), FALLBACK, q);
    }
    report
}

fn joined(dir: &[u8], name: &[u8]) -> CBuf<300> {
    let mut p = CBuf::<300>::from(dir);
    if dir.is_empty() {
        p.push(name);
    } else {
        p.join(name);
    }
    p
}

fn note(r: &mut Report, dir: &[u8], name: &[u8], e: Errno) {
    if r.unreadable.is_none() {
        r.unreadable = Some((joined(dir, name), e));
    }
}
