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

/// If `line` is a keyring whose description starts with `.` — a kernel
/// subsystem's private keyring (`.dns_resolver`, `.id_resolver`,
/// `.cifs_spnego`, …), which no userspace process can have as its thread
/// keyring — its serial.
pub fn private_keyring_on_line(line: &[u8]) -> Option<i32> {
    let mut words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let serial = words.next()?;
    // flags, usage, expiry, perm, uid, gid, type, description
    let ty = words.nth(6)?;
    let desc = words.next()?;
    if ty != b"keyring" || desc.first() != Some(&b'.') {
        return None;
    }
    if serial.len() != 8 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in serial {
        let d = (c as char).to_digit(16)?;
        n = n.checked_mul(16)?.checked_add(d)?;
    }
    Some(n as i32)
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

    #[test]
    fn the_kernels_private_keyrings() {
        let l = b"208d36f9 I------     1 perm 1f030000     0     0 keyring   .dns_resolver: empty";
        assert_eq!(private_keyring_on_line(l), Some(0x208d36f9));
        let l = b"3a2c1b0e I------     1 perm 1f030000     0     0 keyring   .id_resolver: 1";
        assert_eq!(private_keyring_on_line(l), Some(0x3a2c1b0e));
        let user = b"1b2c3d4e I------     1 perm 3f030000     0     0 keyring   _ses: 1";
        assert_eq!(private_keyring_on_line(user), None);
        let key = b"25a05621 I--Q---     2   5s 3b010000     0     0 dns_resol .localhost: 9";
        assert_eq!(private_keyring_on_line(key), None);
        assert_eq!(private_keyring_on_line(b"zzzzzzzz I 1 perm 1 0 0 keyring .x"), None);
        assert_eq!(private_keyring_on_line(b""), None);
    }
}
