//! /proc/keys: the requester's pid, from the `.request_key_auth` line of
//! the authorisation key (`key:<target hex> pid:<pid> ci:<len>`; upcalls.md
//! §1.5). The file is read in chunks; each whole line is handed here.

/// If `line` describes key `serial`, the `pid:` value on it (0 when the
/// line has none or the kernel printed 0: not visible).
pub fn pid_on_line(line: &[u8], serial: i32) -> Option<Option<i32>> {
    let mut hex = [0u8; 8];
    let s = serial as u32;
    for (i, h) in hex.iter_mut().enumerate() {
        let nib = (s >> (28 - 4 * i)) & 0xf;
        *h = b"0123456789abcdef".get(nib as usize).copied().unwrap_or(b'0');
    }
    if line.get(..8) != Some(&hex[..]) || line.get(8) != Some(&b' ') {
        return None;
    }
    let pid = line
        .split(|&c| c == b' ')
        .find_map(|w| w.strip_prefix(b"pid:"))
        .and_then(|d| {
            if d.is_empty() || d.len() > 10 || !d.iter().all(u8::is_ascii_digit) {
                return None;
            }
            d.iter()
                .try_fold(0i32, |n, &c| n.checked_mul(10)?.checked_add(i32::from(c - b'0')))
        });
    Some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_key_line() {
        let l = b"1745a4d1 I------     6 perm 1b010000     0     0 .request_ key:327db307 pid:22023 ci:10";
        assert_eq!(pid_on_line(l, 0x1745a4d1), Some(Some(22023)));
        assert_eq!(pid_on_line(l, 0x1745a4d2), None);
        assert_eq!(
            pid_on_line(b"0000000a I------ 1 perm 1b010000 0 0 .request_ key:b pid:0 ci:0", 10),
            Some(Some(0))
        );
        assert_eq!(
            pid_on_line(b"0000000a I------ 1 perm 1b010000 0 0 .request_ key:b ci:0", 10),
            Some(None)
        );
        assert_eq!(pid_on_line(b"0000000a x pid:99999999999", 10), Some(None));
        assert_eq!(pid_on_line(b"0000000a", 10), None);
        assert_eq!(pid_on_line(b"", 10), None);
    }
}
