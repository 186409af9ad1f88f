//! Exit codes: what keel returns for the way the program ended. Pure.

use super::options::RemapSet;
use rustix::io::Errno;

/// The program was not found (the shell's convention, and tini's).
pub const NOT_FOUND: i32 = 127;
/// The program was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// keel itself could not do its job (tini also exits 1 then).
pub const KEEL_FAILED: i32 = 1;
/// A usage error (tini's status for a bad command line).
pub const USAGE: i32 = 1;

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signaled(i32),
}

/// keel's exit status: the program's own code, 128+N for a death by
/// signal N, and 0 for a code listed with `-e` (applied after the 128+N
/// mapping, so `-e 143` accepts a death by SIGTERM).
pub fn exit_code(ended: Ended, remap: &RemapSet) -> i32 {
    let raw = match ended {
        Ended::Exited(c) => c,
        Ended::Signaled(s) => 128 + s,
    };
    let code = (raw & 0xff) as u8;
    if remap.contains(code) {
        0
    } else {
        i32::from(code)
    }
}

/// The child's exit code when exec fails with `e`.
pub fn exec_failure_code(e: Errno) -> i32 {
    if e == Errno::NOENT || e == Errno::NOTDIR || e == Errno::NAMETOOLONG || e == Errno::LOOP {
        NOT_FOUND
    } else {
        NOT_EXECUTABLE
    }
}

/// A word for the log line about an exec failure.
pub fn exec_failure_reason(e: Errno) -> &'static str {
    if exec_failure_code(e) == NOT_FOUND {
        "not found"
    } else if e == Errno::ACCESS || e == Errno::PERM {
        "not executable (permission denied)"
    } else if e == Errno::NOEXEC {
        "not executable (not a binary keel can exec; scripts need a #! line)"
    } else {
        "not executable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let none = RemapSet::default();
        assert_eq!(exit_code(Ended::Exited(0), &none), 0);
        assert_eq!(exit_code(Ended::Exited(7), &none), 7);
        assert_eq!(exit_code(Ended::Signaled(15), &none), 143);
        assert_eq!(exit_code(Ended::Signaled(9), &none), 137);
        let mut r = RemapSet::default();
        r.insert(7);
        r.insert(143);
        assert_eq!(exit_code(Ended::Exited(7), &r), 0);
        assert_eq!(exit_code(Ended::Exited(8), &r), 8);
        assert_eq!(exit_code(Ended::Signaled(15), &r), 0);
        assert_eq!(exit_code(Ended::Signaled(2), &r), 130);
    }

    #[test]
    fn exec_errors() {
        assert_eq!(exec_failure_code(Errno::NOENT), 127);
        assert_eq!(exec_failure_code(Errno::NOTDIR), 127);
        assert_eq!(exec_failure_code(Errno::ACCESS), 126);
        assert_eq!(exec_failure_code(Errno::NOEXEC), 126);
        assert_eq!(exec_failure_code(Errno::TXTBSY), 126);
        assert_eq!(exec_failure_reason(Errno::NOENT), "not found");
    }
}
