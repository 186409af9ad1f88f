//! The keyctl operations the upcall path uses (docs: shared upcalls.md
//! §1.6), as safe functions over [`crate::sys::keyctl`].

use crate::sys::{keyctl, KeySerial, Result};
use rustix::io::Errno;

pub const KEY_SPEC_THREAD_KEYRING: KeySerial = -1;
pub const KEY_SPEC_PROCESS_KEYRING: KeySerial = -2;
pub const KEY_SPEC_SESSION_KEYRING: KeySerial = -3;
/// The authorisation key of the authority assumed (keyctl's `@a`).
pub const KEY_SPEC_REQKEY_AUTH_KEY: KeySerial = -7;

const KEYCTL_GET_KEYRING_ID: u32 = 0;
const KEYCTL_JOIN_SESSION_KEYRING: u32 = 1;
const KEYCTL_DESCRIBE: u32 = 6;
const KEYCTL_LINK: u32 = 8;
const KEYCTL_SEARCH: u32 = 10;
const KEYCTL_READ: u32 = 11;
const KEYCTL_INSTANTIATE: u32 = 12;
const KEYCTL_SETPERM: u32 = 5;
const KEYCTL_SET_TIMEOUT: u32 = 15;
const KEYCTL_ASSUME_AUTHORITY: u32 = 16;
const KEYCTL_REJECT: u32 = 19;

/// The serial of a special keyring (`create`: make it if missing).
pub fn keyring_id(special: KeySerial, create: bool) -> Result<KeySerial> {
    // SAFETY: integer arguments only.
    unsafe { keyctl(KEYCTL_GET_KEYRING_ID, special as u32 as usize, create as usize, 0, 0).map(|r| r as KeySerial) }
}

/// Joins a new anonymous session keyring (no name: nobody can join it by
/// name). Returns its serial.
pub fn join_anonymous_session() -> Result<KeySerial> {
    // SAFETY: a null name pointer asks for an anonymous keyring.
    unsafe { keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0).map(|r| r as KeySerial) }
}

pub fn setperm(key: KeySerial, perm: u32) -> Result<()> {
    // SAFETY: integer arguments only.
    unsafe { keyctl(KEYCTL_SETPERM, key as u32 as usize, perm as usize, 0, 0).map(|_| ()) }
}

pub fn link(key: KeySerial, keyring: KeySerial) -> Result<()> {
    // SAFETY: integer arguments only.
    unsafe { keyctl(KEYCTL_LINK, key as u32 as usize, keyring as u32 as usize, 0, 0).map(|_| ()) }
}

/// KEYCTL_ASSUME_AUTHORITY: returns the authorisation key's serial (0 = drop).
pub fn assume_authority(key: KeySerial) -> Result<KeySerial> {
    // SAFETY: integer arguments only.
    unsafe { keyctl(KEYCTL_ASSUME_AUTHORITY, key as u32 as usize, 0, 0, 0).map(|r| r as KeySerial) }
}

/// Copies a key's description or payload into `buf`; returns the whole
/// length, which may exceed `buf` (the caller sees the cut).
fn read_like(op: u32, key: KeySerial, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: `buf` is writable for its length.
    unsafe { keyctl(op, key as u32 as usize, buf.as_mut_ptr() as usize, buf.len(), 0) }
}

/// KEYCTL_DESCRIBE: `type;uid;gid;perm;description` (the kernel's NUL is
/// dropped). Errno::RANGE if `buf` is too small.
pub fn describe(key: KeySerial, buf: &mut [u8]) -> Result<&[u8]> {
    let n = read_like(KEYCTL_DESCRIBE, key, buf)?;
    let s = buf.get(..n).ok_or(Errno::RANGE)?;
    Ok(s.strip_suffix(&[0]).unwrap_or(s))
}

/// KEYCTL_READ into `buf`. Errno::RANGE if `buf` is too small.
pub fn read(key: KeySerial, buf: &mut [u8]) -> Result<&[u8]> {
    let n = read_like(KEYCTL_READ, key, buf)?;
    buf.get(..n).ok_or(Errno::RANGE)
}

pub fn instantiate(key: KeySerial, payload: &[u8], dest: KeySerial) -> Result<()> {
    // SAFETY: `payload` is readable for its length.
    unsafe {
        keyctl(
            KEYCTL_INSTANTIATE,
            key as u32 as usize,
            payload.as_ptr() as usize,
            payload.len(),
            dest as u32 as usize,
        )
        .map(|_| ())
    }
}

/// KEYCTL_REJECT: the key fails with `errno` for `timeout_s` seconds.
pub fn reject(key: KeySerial, timeout_s: u32, errno: u16, dest: KeySerial) -> Result<()> {
    // SAFETY: integer arguments only.
    unsafe {
        keyctl(
            KEYCTL_REJECT,
            key as u32 as usize,
            timeout_s as usize,
            errno as usize,
            dest as u32 as usize,
        )
        .map(|_| ())
    }
}

pub fn set_timeout(key: KeySerial, timeout_s: u32) -> Result<()> {
    // SAFETY: integer arguments only.
    unsafe { keyctl(KEYCTL_SET_TIMEOUT, key as u32 as usize, timeout_s as usize, 0, 0).map(|_| ()) }
}

/// KEYCTL_SEARCH from `keyring` for a key of type `ty` and description `desc`.
pub fn search(keyring: KeySerial, ty: &core::ffi::CStr, desc: &core::ffi::CStr) -> Result<KeySerial> {
    // SAFETY: NUL-terminated strings.
    unsafe {
        keyctl(
            KEYCTL_SEARCH,
            keyring as u32 as usize,
            ty.as_ptr() as usize,
            desc.as_ptr() as usize,
            0,
        )
        .map(|r| r as KeySerial)
    }
}

/// Splits a KEYCTL_DESCRIBE text into (type, description): the type is
/// before the first `;`, the description after the fourth (descriptions may
/// hold `;` themselves).
pub fn split_description(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut semis = d.iter().enumerate().filter(|(_, &c)| c == b';').map(|(i, _)| i);
    let first = semis.next()?;
    let fourth = semis.nth(2)?;
    Some((d.get(..first)?, d.get(fourth + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_split_at_the_first_and_fourth_semicolon() {
        assert_eq!(
            split_description(b"user;0;0;3f010000;debug:a;b"),
            Some((&b"user"[..], &b"debug:a;b"[..]))
        );
        assert_eq!(
            split_description(b"dns_resolver;0;0;1;"),
            Some((&b"dns_resolver"[..], &b""[..]))
        );
        assert_eq!(split_description(b"user;0;0"), None);
        assert_eq!(split_description(b""), None);
    }
}
