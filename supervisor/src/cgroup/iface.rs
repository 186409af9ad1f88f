//! Total parsers for the cgroup2 interface files keel reads:
//! `cgroup.events` (flat keyed: `populated 1\nfrozen 0\n`),
//! `cgroup.controllers` (space separated: `cpuset cpu io memory pids\n`) and
//! `cgroup.procs` (one pid per line, any length: read in pieces).

/// The `populated` value of a `cgroup.events` text: `Some(true)` for
/// `populated 1`, `Some(false)` for `populated 0`, `None` if absent or
/// malformed.
pub fn populated(events: &[u8]) -> Option<bool> {
    events
        .split(|&c| c == b'\n')
        .find_map(|l| match l.strip_prefix(b"populated ")? {
            b"1" => Some(true),
            b"0" => Some(false),
            _ => None,
        })
}

/// The controller names of a `cgroup.controllers` or
/// `cgroup.subtree_control` text.
pub fn controllers(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|c| c.is_ascii_whitespace()).filter(|t| !t.is_empty())
}

/// Whether `name` is one of the controllers in `list`.
pub fn listed(list: &[u8], name: &[u8]) -> bool {
    controllers(list).any(|t| t == name)
}

/// A streaming parser of `cgroup.procs`: feed it the file in pieces of any
/// size; it calls back once per pid. A line that is not a positive decimal
/// i32 is skipped whole.
#[derive(Default)]
pub struct Pids {
    cur: i64,
    digits: usize,
    bad: bool,
}

impl Pids {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, chunk: &[u8], mut pid: impl FnMut(i32)) {
        for &c in chunk {
            match c {
                b'\n' => self.end_line(&mut pid),
                b'0'..=b'9' if !self.bad => {
                    self.cur = self.cur * 10 + i64::from(c - b'0');
                    self.digits += 1;
                    if self.cur > i64::from(i32::MAX) {
                        self.bad = true;
                    }
                }
                _ => self.bad = true,
            }
        }
    }

    /// Ends the text (a last line without a newline counts).
    pub fn finish(mut self, mut pid: impl FnMut(i32)) {
        self.end_line(&mut pid);
    }

    fn end_line(&mut self, pid: &mut impl FnMut(i32)) {
        if !self.bad && self.digits > 0 && self.cur > 0 {
            if let Ok(p) = i32::try_from(self.cur) {
                pid(p);
            }
        }
        *self = Pids::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events() {
        assert_eq!(populated(b"populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(populated(b"populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(populated(b"frozen 1\npopulated 0"), Some(false));
        for t in [
            &b""[..],
            b"populated",
            b"populated 2\n",
            b"populated  1",
            b"populated 1 \n",
            b"xpopulated 1",
            b"\xff\n",
        ] {
            assert_eq!(populated(t), None, "{:?}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn controller_lists() {
        let l = b"cpuset cpu io memory hugetlb pids rdma misc\n";
        assert_eq!(controllers(l).count(), 8);
        assert!(listed(l, b"memory") && listed(l, b"pids") && listed(l, b"cpu"));
        assert!(!listed(l, b"mem") && !listed(l, b"cpus"));
        assert!(listed(b"hugetlb\n", b"hugetlb"));
        assert!(!listed(b"\n", b"hugetlb") && !listed(b"", b""));
        assert_eq!(controllers(b"  a\t\tb \n").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
    }

    fn all(pieces: &[&[u8]]) -> Vec<i32> {
        let mut v = Vec::new();
        let mut p = Pids::new();
        for c in pieces {
            p.feed(c, |x| v.push(x));
        }
        p.finish(|x| v.push(x));
        v
    }

    #[test]
    fn pids_in_pieces() {
        assert_eq!(all(&[b"12\n345\n6"]), [12, 345, 6]);
        assert_eq!(all(&[b"1", b"2\n3", b"45\n", b"6\n"]), [12, 345, 6]);
        assert_eq!(all(&[b""]), Vec::<i32>::new());
        assert_eq!(
            all(&[b"2147483647\n2147483648\n99999999999999999999999\n7\n"]),
            [2147483647, 7]
        );
        assert_eq!(all(&[b"0\n-1\n1x\n\n \n8\n"]), [8]);
        let bytes: Vec<u8> = (0..=255u8).collect();
        let _ = all(&[&bytes]);
    }
}
