//! Small whole-file helpers over rustix, for /proc, /sys and config files.

use core::ffi::CStr;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Opens `path` (relative to `dir`, or absolute) read-only, close-on-exec.
pub fn open_read<Fd: AsFd>(dir: Fd, path: &CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
}

/// Reads all of `fd` into `buf`. EFBIG if it does not fit.
pub fn read_fd_into<Fd: AsFd>(fd: Fd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    loop {
        let Some(rest) = buf.get_mut(n..) else {
            return Err(Errno::FBIG);
        };
        if rest.is_empty() {
            // Full: it fits only if the file ends exactly here.
            let mut probe = [0u8; 1];
            return match rustix::io::read(&fd, &mut probe) {
                Ok(0) => Ok(n),
                Ok(_) => Err(Errno::FBIG),
                Err(Errno::INTR) => continue,
                Err(e) => Err(e),
            };
        }
        match rustix::io::read(&fd, rest) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads the whole file at `path` into `buf`; returns its length.
pub fn read_into(path: &CStr, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = open_read(rustix::fs::CWD, path)?;
    read_fd_into(&fd, buf)
}

/// Writes `data` to an existing file (a /proc or /sys knob) in one write.
pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    write_all(&fd, data)
}

/// Writes all of `data` to `fd`.
pub fn write_all<Fd: AsFd>(fd: Fd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match rustix::io::write(&fd, data) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => data = data.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_and_reports_too_big() {
        let mut buf = [0u8; 4096];
        let n = read_into(c"/proc/self/stat", &mut buf).unwrap();
        assert!(n > 10);
        let mut small = [0u8; 4];
        assert_eq!(read_into(c"/proc/self/stat", &mut small), Err(Errno::FBIG));
        assert_eq!(read_into(c"/nonexistent/x", &mut buf), Err(Errno::NOENT));
    }

    #[test]
    fn exact_fit_is_not_too_big() {
        let dir = std::env::temp_dir().join(format!("keel-rt-fs-{}", std::process::id()));
        std::fs::write(&dir, b"abcd").unwrap();
        let p = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let mut b = [0u8; 4];
        assert_eq!(read_into(&p, &mut b), Ok(4));
        write_file(&p, b"xy").unwrap();
        assert_eq!(std::fs::read(&dir).unwrap(), b"xycd");
        std::fs::remove_file(&dir).unwrap();
    }
}
