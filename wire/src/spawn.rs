//! The report a container's set-up child sends its supervisor when a set-up
//! step fails: 4 bytes on a close-on-exec pipe, `step: u16` then
//! `errno: u16`, native endian (both ends are the same binary on the same
//! machine). End of file without a report means the child reached execve.

/// Size of one report on the pipe.
pub const REPORT_LEN: usize = 4;

/// A failed set-up step: which one (the supervisor's step table) and errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub step: u16,
    pub errno: u16,
}

impl Report {
    pub fn encode(self) -> [u8; REPORT_LEN] {
        let s = self.step.to_ne_bytes();
        let e = self.errno.to_ne_bytes();
        [s[0], s[1], e[0], e[1]]
    }

    /// Decodes exactly one report; any other length is `None`.
    pub fn decode(b: &[u8]) -> Option<Report> {
        match *b {
            [s0, s1, e0, e1] => Some(Report {
                step: u16::from_ne_bytes([s0, s1]),
                errno: u16::from_ne_bytes([e0, e1]),
            }),
            _ => None,
        }
    }
}

static_assertions::const_assert_eq!(REPORT_LEN, 2 * core::mem::size_of::<u16>());

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip_and_bad_lengths() {
        let r = Report { step: 7, errno: 22 };
        assert_eq!(Report::decode(&r.encode()), Some(r));
        assert_eq!(Report::decode(&[1, 2, 3]), None);
        assert_eq!(Report::decode(&[1, 2, 3, 4, 5]), None);
        assert_eq!(Report::decode(&[]), None);
    }
}
