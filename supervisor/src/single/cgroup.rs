//! keel's own cgroup, when it has one to itself.
//!
//! keel's cgroup2 path comes from /proc/self/cgroup (`0::PATH`) and the
//! cgroup2 mount from /proc/self/mountinfo (never assumed to be
//! /sys/fs/cgroup: here it is /sys/fs/cgroup/unified; implementation-notes
//! §1.4). keel "owns" that cgroup when, at start, its cgroup.procs lists
//! keel alone: then every other process found there at shutdown was put
//! there by the program's tree.

use core::ffi::CStr;
use keel_rt::path::CBuf;
use rustix::io::Errno;

/// Capacity of a cgroup directory path.
pub type CgPath = CBuf<1024>;

/// `0::/some/path` → `/some/path` (the cgroup2 line of /proc/self/cgroup).
pub fn cgroup2_path(line: &[u8]) -> Option<&[u8]> {
    let p = line.strip_prefix(b"0::")?;
    p.starts_with(b"/").then_some(p)
}

/// A cgroup2 line of /proc/self/mountinfo: (root, mount point), both still
/// octal-escaped as the kernel writes them (`\040` for a space).
pub fn cgroup2_mount(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut fields = line.split(|c| *c == b' ');
    let root = fields.nth(3)?;
    let point = fields.next()?;
    // Optional fields end at a lone "-"; the file system type follows.
    let mut rest = fields.skip(1);
    loop {
        if rest.next()? == b"-" {
            break;
        }
    }
    (rest.next()? == b"cgroup2").then_some((root, point))
}

/// Appends `s` to `out`, decoding mountinfo's `\ooo` escapes.
pub fn push_unescaped<const N: usize>(out: &mut CBuf<N>, s: &[u8]) {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == b'\\' {
            if let Some(oct) = s.get(i + 1..i + 4) {
                if oct.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let v = oct.iter().fold(0u32, |a, d| a * 8 + u32::from(d - b'0'));
                    if let Ok(b) = u8::try_from(v) {
                        out.push(&[b]);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(&[c]);
        i += 1;
    }
}

/// If `root` (a mount's root inside the cgroup tree) holds `path`, the part
/// of `path` below it (`""` or `/x/y`).
pub fn below_root<'a>(root: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    if root == b"/" {
        return Some(if path == b"/" { b"" } else { path });
    }
    let rest = path.strip_prefix(root)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// Calls `f` on each line of the file at `path` (lines longer than the
/// buffer are skipped). Reads in chunks: no size limit on the file.
pub fn each_line<F: FnMut(&[u8])>(path: &CStr, mut f: F) -> Result<(), Errno> {
    let fd = keel_rt::fs::open_read(rustix::fs::CWD, path)?;
    let mut buf = [0u8; 1024];
    let mut len = 0usize;
    let mut skipping = false;
    loop {
        let Some(space) = buf.get_mut(len..) else {
            return Err(Errno::FAULT);
        };
        let n = match rustix::io::read(&fd, space) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if len > 0 && !skipping {
                f(buf.get(..len).unwrap_or(&[]));
            }
            return Ok(());
        }
        len += n;
        let mut start = 0;
        while let Some(nl) = buf.get(start..len).and_then(|b| b.iter().position(|c| *c == b'\n')) {
            if !skipping {
                f(buf.get(start..start + nl).unwrap_or(&[]));
            }
            skipping = false;
            start += nl + 1;
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if len == buf.len() {
            // One line fills the buffer: drop it up to its end.
            skipping = true;
            len = 0;
        }
    }
}

/// Calls `f` with each pid listed in the cgroup's cgroup.procs (0, shown
/// for processes outside our pid namespace, is skipped).
pub fn each_pid<F: FnMut(i32)>(cg: &CgPath, mut f: F) -> Result<(), Errno> {
    let mut p = cg.clone();
    p.join(b"cgroup.procs");
    each_line(p.as_cstr()?, |l| {
        if let Some(pid) = super::options::parse_u64(l).and_then(|n| i32::try_from(n).ok()) {
            if pid > 0 {
                f(pid);
            }
        }
    })
}

/// keel's cgroup2 directory, if keel is alone in it.
pub fn own_cgroup(me: i32) -> Option<CgPath> {
    let mut rel: CBuf<1024> = CBuf::new();
    each_line(c"/proc/self/cgroup", |l| {
        if let Some(p) = cgroup2_path(l) {
            rel = CBuf::from(p);
        }
    })
    .ok()?;
    if rel.is_empty() || rel.overflowed() {
        return None;
    }
    let mut best: Option<(usize, CgPath)> = None;
    each_line(c"/proc/self/mountinfo", |l| {
        let Some((root_esc, point_esc)) = cgroup2_mount(l) else {
            return;
        };
        let mut root: CBuf<1024> = CBuf::new();
        push_unescaped(&mut root, root_esc);
        let Some(below) = below_root(root.as_bytes(), rel.as_bytes()) else {
            return;
        };
        if best.as_ref().is_some_and(|(len, _)| *len >= root.len()) {
            return;
        }
        let mut full = CgPath::new();
        push_unescaped(&mut full, point_esc);
        full.push(below);
        if !full.overflowed() {
            best = Some((root.len(), full));
        }
    })
    .ok()?;
    let (_, dir) = best?;
    let (mut n, mut only_me) = (0u32, true);
    each_pid(&dir, |pid| {
        n += 1;
        only_me &= pid == me;
    })
    .ok()?;
    (n == 1 && only_me).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_self_cgroup() {
        assert_eq!(
            cgroup2_path(b"0::/user.slice/x.scope"),
            Some(&b"/user.slice/x.scope"[..])
        );
        assert_eq!(cgroup2_path(b"0::/"), Some(&b"/"[..]));
        assert_eq!(cgroup2_path(b"4:memory:/x"), None);
        assert_eq!(cgroup2_path(b"0::"), None);
    }

    #[test]
    fn mountinfo_lines() {
        let l = b"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_mount(l), Some((&b"/"[..], &b"/sys/fs/cgroup/unified"[..])));
        let l = b"41 31 0:38 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup ro";
        assert_eq!(cgroup2_mount(l), Some((&b"/docker/abc"[..], &b"/sys/fs/cgroup"[..])));
        let l = b"30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        assert_eq!(cgroup2_mount(l), None);
        assert_eq!(cgroup2_mount(b"garbage"), None);
        assert_eq!(cgroup2_mount(b"1 2 3 / /x rw a b c"), None);
    }

    #[test]
    fn unescape_and_roots() {
        let mut b: CBuf<64> = CBuf::new();
        push_unescaped(&mut b, b"/a\\040b\\\\c\\12");
        assert_eq!(b.as_bytes(), b"/a b\\\\c\\12");
        assert_eq!(below_root(b"/", b"/x/y"), Some(&b"/x/y"[..]));
        assert_eq!(below_root(b"/", b"/"), Some(&b""[..]));
        assert_eq!(below_root(b"/x", b"/x/y"), Some(&b"/y"[..]));
        assert_eq!(below_root(b"/x", b"/x"), Some(&b""[..]));
        assert_eq!(below_root(b"/x", b"/xy"), None);
        assert_eq!(below_root(b"/x", b"/"), None);
    }

    #[test]
    fn lines_of_real_files() {
        let mut n = 0;
        each_line(c"/proc/self/mountinfo", |l| {
            assert!(!l.contains(&b'\n'));
            n += 1;
        })
        .unwrap();
        assert!(n > 0);
        let dir = std::env::temp_dir().join(format!("keel-single-lines-{}", std::process::id()));
        let long = "x".repeat(3000);
        std::fs::write(&dir, format!("a\n{long}\nb\n\nc")).unwrap();
        let p = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let mut got = Vec::new();
        each_line(&p, |l| got.push(l.to_vec())).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"".to_vec(), b"c".to_vec()]);
    }
}
