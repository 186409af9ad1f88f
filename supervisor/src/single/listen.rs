//! Socket activation (sd_listen_fds): LISTEN_PID/LISTEN_FDS. Pure.
//!
//! When LISTEN_PID names keel, the fds 3..3+LISTEN_FDS-1 were meant for
//! the program keel runs: they are kept open across the fd clean-up and
//! LISTEN_PID is rewritten to the program's pid. Otherwise the variables
//! are passed on unchanged and the fds are closed like any other.

use super::options::parse_u64;

/// The most fds keel keeps for socket activation (far above any real use;
/// bounds the arithmetic).
pub const MAX_LISTEN_FDS: u32 = 1 << 16;

/// How many activation fds to keep, when LISTEN_PID is `my_pid`.
pub fn kept_fds(listen_pid: Option<&[u8]>, listen_fds: Option<&[u8]>, my_pid: i32) -> Option<u32> {
    let pid = parse_u64(listen_pid?)?;
    if i64::try_from(pid).ok()? != i64::from(my_pid) {
        return None;
    }
    let n = parse_u64(listen_fds?)?;
    let n = u32::try_from(n).ok()?;
    (1..=MAX_LISTEN_FDS).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_when_it_names_us() {
        assert_eq!(kept_fds(Some(b"42"), Some(b"2"), 42), Some(2));
        assert_eq!(kept_fds(Some(b"42"), Some(b"2"), 43), None);
        assert_eq!(kept_fds(None, Some(b"2"), 42), None);
        assert_eq!(kept_fds(Some(b"42"), None, 42), None);
        assert_eq!(kept_fds(Some(b"42"), Some(b"0"), 42), None);
        assert_eq!(kept_fds(Some(b"42"), Some(b"x"), 42), None);
        assert_eq!(kept_fds(Some(b" 42"), Some(b"1"), 42), None);
        assert_eq!(kept_fds(Some(b"42"), Some(b"65537"), 42), None);
    }
}
