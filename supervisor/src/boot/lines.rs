//! Reading a file a line at a time through a fixed buffer (modules.dep,
//! mountinfo, the status file, /proc/PID/status), without an allocator.

use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;

/// Calls `f` on each line of `fd` (without its newline) until it returns
/// true. A line longer than `buf` is skipped whole; the number skipped is
/// returned.
pub fn for_each_line<Fd: AsFd>(fd: Fd, buf: &mut [u8], mut f: impl FnMut(&[u8]) -> bool) -> Result<u32, Errno> {
    lines_dyn(fd.as_fd(), buf, &mut f)
}

/// One copy of the loop for every caller (the static binary's size).
#[inline(never)]
fn lines_dyn(fd: BorrowedFd<'_>, buf: &mut [u8], f: &mut dyn FnMut(&[u8]) -> bool) -> Result<u32, Errno> {
    let (mut start, mut end, mut skipping, mut skipped) = (0usize, 0usize, false, 0u32);
    loop {
        if start > 0 {
            if start <= end && end <= buf.len() {
                buf.copy_within(start..end, 0);
                end -= start;
            } else {
                end = 0;
            }
            start = 0;
        }
        if end == buf.len() {
            // One line fills the buffer: drop it up to its newline.
            if !skipping {
                skipped = skipped.saturating_add(1);
            }
            skipping = true;
            end = 0;
        }
        let n = match rustix::io::read(fd, buf.get_mut(end..).unwrap_or(&mut [])) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if end > start && !skipping {
                f(buf.get(start..end).unwrap_or(&[]));
            }
            return Ok(skipped);
        }
        end += n;
        while let Some(pos) = buf.get(start..end).and_then(|b| b.iter().position(|&c| c == b'\n')) {
            let line = buf.get(start..start + pos).unwrap_or(&[]);
            if skipping {
                skipping = false;
            } else if f(line) {
                return Ok(skipped);
            }
            start += pos + 1;
        }
    }
}

/// Same, for the file at `path`.
pub fn for_each_line_of(path: &core::ffi::CStr, buf: &mut [u8], f: impl FnMut(&[u8]) -> bool) -> Result<u32, Errno> {
    let fd = keel_rt::fs::open_read(rustix::fs::CWD, path)?;
    for_each_line(&fd, buf, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_through_a_small_buffer() {
        let p = std::env::temp_dir().join(format!("keel-boot-lines-{}", std::process::id()));
        std::fs::write(&p, b"one\ntwo\nthis line is far too long\nthree\nlast").unwrap();
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        let skipped = for_each_line_of(&c, &mut buf, |l| {
            got.push(l.to_vec());
            false
        })
        .unwrap();
        assert_eq!(got, [&b"one"[..], b"two", b"three", b"last"]);
        assert_eq!(skipped, 1);
        let mut n = 0;
        for_each_line_of(&c, &mut buf, |_| {
            n += 1;
            n == 2
        })
        .unwrap();
        assert_eq!(n, 2);
        std::fs::remove_file(&p).unwrap();
    }
}
