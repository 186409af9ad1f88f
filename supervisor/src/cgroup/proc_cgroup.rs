//! Total parsers for `/proc/PID/cgroup` and for cgroup paths.
//!
//! `/proc/PID/cgroup` has one `ID:CONTROLLERS:PATH` line per hierarchy; the
//! cgroup2 (unified) hierarchy is the line `0::PATH`. PATH is relative to the
//! reader's cgroup namespace root and is not escaped: cgroup names cannot
//! hold a newline (cgroup_mkdir refuses one) nor a `/`.

/// The cgroup2 path in a `/proc/PID/cgroup` text: `0::/x/y` → `/x/y`.
/// `None` if there is no `0::` line or its path is not a clean absolute
/// path (see [`valid_path`]).
pub fn own_path(proc_self_cgroup: &[u8]) -> Option<&[u8]> {
    proc_self_cgroup
        .split(|&c| c == b'\n')
        .find_map(|l| l.strip_prefix(b"0::"))
        .filter(|p| valid_path(p))
}

/// An absolute path with no empty, `.` or `..` component (except the root
/// `/` itself) and no NUL: what a cgroup path inside the namespace looks
/// like. A process outside its cgroup namespace's root sees `/../x`: keel
/// refuses to work from there.
pub fn valid_path(p: &[u8]) -> bool {
    if p == b"/" {
        return true;
    }
    let Some(rest) = p.strip_prefix(b"/") else { return false };
    !p.contains(&0)
        && rest
            .split(|&c| c == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// `path` relative to `root`, compared component by component: `/a/b/c`
/// under `/a/b` is `/c`; `/a/b` under `/a/b` is `` (the root itself); `/a/bc`
/// is not under `/a/b`. Both must be [`valid_path`]s (a mount root of `/..`
/// contains nothing).
pub fn strip_root<'a>(root: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    if !valid_path(root) || !valid_path(path) {
        return None;
    }
    if root == b"/" {
        return Some(if path == b"/" { &[] } else { path });
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() || rest.first() == Some(&b'/') {
        Some(rest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_host_and_pure_v2() {
        let host = b"9:name=systemd:/\n4:memory:/process_api/cc14\n1:cpu:/\n0::/\n";
        assert_eq!(own_path(host), Some(&b"/"[..]));
        assert_eq!(own_path(b"0::/keel-12/keel\n"), Some(&b"/keel-12/keel"[..]));
        assert_eq!(
            own_path(b"0::/user.slice/user-0.slice/session-1.scope"),
            Some(&b"/user.slice/user-0.slice/session-1.scope"[..])
        );
        assert_eq!(own_path(b"0::/with space/x\n"), Some(&b"/with space/x"[..]));
    }

    #[test]
    fn garbage_and_outside_the_namespace() {
        for t in [
            &b""[..],
            b"\n",
            b"0:",
            b"0::",
            b"0::relative",
            b"1::/x",
            b"10::/x",
            b"0:cpu:/x",
            b"0::/../x",
            b"0::/a/./b",
            b"0::/a//b",
            b"0::/a/",
            b"0::/a\0b",
            b"\xff0::/x",
        ] {
            assert_eq!(own_path(t), None, "{:?}", String::from_utf8_lossy(t));
        }
        // The first 0:: line decides.
        assert_eq!(own_path(b"0::/../x\n0::/y\n"), None);
        for n in 0..40 {
            let t = b"12:pids:/a\n0::/keel-1/keel\n3:x:/y\n";
            let _ = own_path(&t[..n.min(t.len())]);
        }
    }

    #[test]
    fn roots() {
        assert_eq!(strip_root(b"/", b"/"), Some(&b""[..]));
        assert_eq!(strip_root(b"/", b"/a/b"), Some(&b"/a/b"[..]));
        assert_eq!(strip_root(b"/a/b", b"/a/b/c"), Some(&b"/c"[..]));
        assert_eq!(strip_root(b"/a/b", b"/a/b"), Some(&b""[..]));
        assert_eq!(strip_root(b"/a/b", b"/a/bc"), None);
        assert_eq!(strip_root(b"/a/b", b"/a"), None);
        assert_eq!(strip_root(b"/..", b"/"), None);
        assert_eq!(strip_root(b"/", b"/.."), None);
        assert_eq!(strip_root(b"", b"/x"), None);
        assert_eq!(strip_root(b"/a/", b"/a/b"), None);
    }
}
