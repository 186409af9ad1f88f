//! A total parser of `/proc/self/mountinfo` lines (proc(5)):
//!
//! ```text
//! 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:7 - cgroup2 cgroup2 rw
//! (1)(2) (3) (4)       (5)               (6)        (7)   (8)  (9)    (10)  (11)
//! ```
//!
//! (4) is the root of the mount inside its filesystem, (5) the mount point,
//! (7) zero or more optional fields ended by a lone `-` (8), then (9) the
//! filesystem type. The kernel escapes space, tab, newline and backslash in
//! (4) and (5) as `\ooo` octal (`\040`, `\011`, `\012`, `\134`); fields are
//! separated by single spaces. For cgroup2, (4) is shown relative to the
//! reader's cgroup namespace root, so it can be `/..` for a mount of a
//! hierarchy above it.

use keel_rt::path::CBuf;

/// The fields of one mountinfo line that keel uses, still escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountEntry<'a> {
    /// Field 4: the mount's root inside its filesystem (escaped).
    pub root: &'a [u8],
    /// Field 5: the mount point (escaped).
    pub point: &'a [u8],
    /// Field 9: the filesystem type (`cgroup2`).
    pub fstype: &'a [u8],
}

/// Parses one line (without its newline). `None` for anything that is not a
/// well-formed mountinfo line: too few fields, no `-` separator, an empty
/// or relative root or mount point.
pub fn parse_line(line: &[u8]) -> Option<MountEntry<'_>> {
    let mut f = line.split(|&c| c == b' ');
    let id = f.next()?;
    let parent = f.next()?;
    let devno = f.next()?;
    let root = f.next()?;
    let point = f.next()?;
    let _opts = f.next()?;
    if !all_digits(id) || !all_digits(parent) || !devno.contains(&b':') {
        return None;
    }
    // Optional fields, then the lone "-".
    loop {
        let opt = f.next()?;
        if opt == b"-" {
            break;
        }
    }
    let fstype = f.next()?;
    // Field 10 (source) must exist; field 11 (super options) may be cut in
    // odd lines, but a real line always has both.
    let _source = f.next()?;
    if fstype.is_empty() || root.first() != Some(&b'/') || point.first() != Some(&b'/') {
        return None;
    }
    Some(MountEntry { root, point, fstype })
}

fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// The first cgroup2 mount in a whole mountinfo text.
pub fn find_cgroup2(mountinfo: &[u8]) -> Option<MountEntry<'_>> {
    cgroup2_mounts(mountinfo).next()
}

/// Every cgroup2 mount in a whole mountinfo text, in order.
pub fn cgroup2_mounts(mountinfo: &[u8]) -> impl Iterator<Item = MountEntry<'_>> {
    mountinfo
        .split(|&c| c == b'\n')
        .filter_map(parse_line)
        .filter(|m| m.fstype == b"cgroup2")
}

/// Appends the unescaped form of a mountinfo path field to `out`. `\ooo`
/// with three octal digits of value ≤ 0o377 is one byte; any other
/// backslash is kept as it is. A `\000` (never produced by the kernel)
/// makes `out` overflowed, so it cannot name a wrong path.
pub fn unescape<const N: usize>(raw: &[u8], out: &mut CBuf<N>) {
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c == b'\\' {
            if let Some(v) = raw.get(i + 1..i + 4).and_then(octal3) {
                out.push(&[v]);
                i += 4;
                continue;
            }
        }
        out.push(&[c]);
        i += 1;
    }
}

fn octal3(d: &[u8]) -> Option<u8> {
    let mut v: u32 = 0;
    for &c in d {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        v = v * 8 + u32::from(c - b'0');
    }
    u8::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &[u8] = b"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_the_hosts_cgroup2() {
        let m = find_cgroup2(HOST).unwrap();
        assert_eq!(m.point, b"/sys/fs/cgroup/unified");
        assert_eq!(m.root, b"/");
        assert_eq!(m.fstype, b"cgroup2");
        assert_eq!(cgroup2_mounts(HOST).count(), 1);
    }

    #[test]
    fn optional_fields_and_vm_layout() {
        let l = b"25 1 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";
        let m = parse_line(l).unwrap();
        assert_eq!(
            (m.root, m.point, m.fstype),
            (&b"/"[..], &b"/sys/fs/cgroup"[..], &b"cgroup2"[..])
        );
        // A cgroup namespace's view of a mount of an ancestor hierarchy.
        let l = b"700 600 0:38 /.. /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
        assert_eq!(parse_line(l).unwrap().root, b"/..");
    }

    #[test]
    fn escapes() {
        let l = b"90 41 0:38 /a\\040b /mnt/with\\040space\\011tab\\012nl\\134bs rw - cgroup2 none rw";
        let m = parse_line(l).unwrap();
        let mut p = CBuf::<128>::new();
        unescape(m.point, &mut p);
        assert_eq!(p.as_bytes(), b"/mnt/with space\ttab\nnl\\bs");
        let mut r = CBuf::<64>::new();
        unescape(m.root, &mut r);
        assert_eq!(r.as_bytes(), b"/a b");
        // Broken escapes stay literal: short, non-octal, too large, at the end.
        let mut q = CBuf::<64>::new();
        unescape(b"/x\\04\\09x\\777\\", &mut q);
        assert_eq!(q.as_bytes(), b"/x\\04\\09x\\777\\");
        // \000 would be a NUL: the path becomes unusable, not wrong.
        let mut z = CBuf::<64>::new();
        unescape(b"/x\\000y", &mut z);
        assert!(z.as_cstr().is_err());
        // Too long for the buffer: overflowed, not truncated.
        let mut s = CBuf::<8>::new();
        unescape(b"/0123456789", &mut s);
        assert!(s.as_cstr().is_err());
    }

    #[test]
    fn a_dash_mount_point_is_not_the_separator() {
        let l = b"90 41 0:38 / /- rw shared:1 - cgroup2 cgroup2 rw";
        let m = parse_line(l).unwrap();
        assert_eq!(m.point, b"/-");
        assert_eq!(m.fstype, b"cgroup2");
    }

    #[test]
    fn hostile_lines_are_rejected() {
        for l in [
            &b""[..],
            b"\n",
            b"garbage",
            b"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime cgroup2 cgroup2 rw", // no "-"
            b"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime -",                  // nothing after "-"
            b"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2",          // no source
            b"x 31 0:38 / /u rw - cgroup2 cgroup2 rw",                             // bad id
            b"41 31 038 / /u rw - cgroup2 cgroup2 rw",                             // bad devno
            b"41 31 0:38 relative /u rw - cgroup2 cgroup2 rw",                     // relative root
            b"41 31 0:38 / u rw - cgroup2 cgroup2 rw",                             // relative point
            b"41 31 0:38  /u rw - cgroup2 cgroup2 rw",                             // empty root
            b"41 31 0:38 / /u rw -  cgroup2 rw",                                   // empty fstype
            b"\xff\xfe \x00 : / / - - -",
        ] {
            assert_eq!(
                parse_line(l).filter(|m| m.fstype == b"cgroup2"),
                None,
                "{:?}",
                String::from_utf8_lossy(l)
            );
        }
        assert_eq!(find_cgroup2(b"\n\n\0\0 - cgroup2\n- cgroup2 cgroup2"), None);
    }

    #[test]
    fn total_on_every_prefix_and_byte_flip() {
        // No input makes the parser panic: every prefix of a real text, and
        // every single-byte change of one line.
        let text = HOST;
        for n in 0..=text.len() {
            let _ = cgroup2_mounts(&text[..n]).count();
        }
        let line = b"41 31 0:38 /a\\040 /sys/fs/cgroup/unified rw shared:7 - cgroup2 cgroup2 rw";
        for i in 0..line.len() {
            for b in [0u8, b' ', b'\\', b'-', b'\n', 0xff, b'7'] {
                let mut l = line.to_vec();
                l[i] = b;
                if let Some(m) = parse_line(&l) {
                    let mut p = CBuf::<64>::new();
                    unescape(m.point, &mut p);
                    unescape(m.root, &mut p);
                }
            }
        }
    }

    #[test]
    fn this_machines_mountinfo_parses() {
        let text = std::fs::read("/proc/self/mountinfo").unwrap();
        let lines = text.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count();
        let parsed = text.split(|&c| c == b'\n').filter_map(parse_line).count();
        assert_eq!(lines, parsed, "every real line parses");
    }
}
