//! Writes RUN_DIR/containers atomically: a temporary file, then rename.

use crate::table::status::{self, Extra, HEADER};
use crate::table::{Table, MAX_CONTAINERS};
use keel_rt::path::PathBuf;
use keel_rt::Line;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Creates the run directory (and its parents) if missing.
pub fn make_run_dir(dir: &[u8]) -> Result<(), Errno> {
    let mut p = PathBuf::new();
    for (i, c) in dir.iter().enumerate() {
        if *c == b'/' && i > 0 {
            mkdir(&p)?;
        }
        p.push(&[*c]);
    }
    mkdir(&p)
}

fn mkdir(p: &PathBuf) -> Result<(), Errno> {
    match rustix::fs::mkdir(p.as_cstr()?, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Renders the table to RUN_DIR/containers.
pub fn write(run_dir: &[u8], table: &Table, extra: &[Extra; MAX_CONTAINERS], now: u64, real: u64) -> Result<(), Errno> {
    let mut tmp = PathBuf::from(run_dir);
    tmp.join(b".containers.tmp");
    let mut fin = PathBuf::from(run_dir);
    fin.join(b"containers");
    let fd = rustix::fs::open(
        tmp.as_cstr()?,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o644),
    )?;
    keel_rt::fs::write_all(&fd, HEADER)?;
    let mut l = Line::new();
    for (i, e) in table.iter() {
        l.clear();
        let x = extra.get(i).copied().unwrap_or_default();
        status::render(e, &x, now, real, &mut l);
        keel_rt::fs::write_all(&fd, l.as_bytes())?;
    }
    drop(fd);
    rustix::fs::rename(tmp.as_cstr()?, fin.as_cstr()?)
}
