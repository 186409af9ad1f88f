//! The contents keel writes into a container's cgroup2 limit files, from the
//! spec's [`CgroupLimits`] — pure.
//!
//! | spec            | file         | controller | content                 |
//! |-----------------|--------------|------------|-------------------------|
//! | `memory_max`    | `memory.max` | memory     | bytes, or `max`         |
//! | `pids_max`      | `pids.max`   | pids       | count, or `max`         |
//! | `cpu_max`       | `cpu.max`    | cpu        | `QUOTA PERIOD` (µs); QUOTA may be `max` |
//! | `cpu_weight`    | `cpu.weight` | cpu        | 1..=10000               |
//!
//! `u64::MAX` stands for `max` (no limit). Values are written without a
//! newline (the kernel accepts both).

use crate::spec::CgroupLimits;
use core::ffi::CStr;

/// Room for the longest content: `18446744073709551614 18446744073709551615`.
pub const VALUE_MAX: usize = 48;

/// One write: `value` into `file`, which exists only if `controller` is
/// enabled for the cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitWrite {
    pub file: &'static CStr,
    pub controller: &'static str,
    value: [u8; VALUE_MAX],
    len: usize,
}

impl LimitWrite {
    fn new(file: &'static CStr, controller: &'static str) -> Self {
        LimitWrite {
            file,
            controller,
            value: [0; VALUE_MAX],
            len: 0,
        }
    }

    /// The bytes to write.
    pub fn value(&self) -> &[u8] {
        self.value.get(..self.len).unwrap_or(&[])
    }

    /// The file name as bytes (`memory.max`).
    pub fn file_name(&self) -> &'static [u8] {
        self.file.to_bytes()
    }

    fn push(&mut self, b: &[u8]) -> &mut Self {
        if let Some(dst) = self.value.get_mut(self.len..self.len + b.len()) {
            dst.copy_from_slice(b);
            self.len += b.len();
        }
        self
    }

    fn num_or_max(&mut self, n: u64) -> &mut Self {
        if n == u64::MAX {
            self.push(b"max")
        } else {
            let mut b = keel_rt::path::CBuf::<24>::new();
            b.push_u64(n);
            self.push(b.as_bytes())
        }
    }
}

/// The writes for `l`, in a fixed order (memory, pids, cpu.max,
/// cpu.weight); unset limits are left out.
pub fn writes(l: &CgroupLimits) -> heapless::Vec<LimitWrite, 4> {
    let mut v = heapless::Vec::new();
    if let Some(m) = l.memory_max {
        let mut w = LimitWrite::new(c"memory.max", "memory");
        w.num_or_max(m);
        let _ = v.push(w);
    }
    if let Some(p) = l.pids_max {
        let mut w = LimitWrite::new(c"pids.max", "pids");
        w.num_or_max(p);
        let _ = v.push(w);
    }
    if let Some((quota, period)) = l.cpu_max {
        let mut w = LimitWrite::new(c"cpu.max", "cpu");
        w.num_or_max(quota).push(b" ").num_or_max(period);
        let _ = v.push(w);
    }
    if let Some(weight) = l.cpu_weight {
        let mut w = LimitWrite::new(c"cpu.weight", "cpu");
        w.num_or_max(u64::from(weight));
        let _ = v.push(w);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(l: &CgroupLimits) -> Vec<(String, &'static str, String)> {
        writes(l)
            .iter()
            .map(|w| {
                (
                    String::from_utf8(w.file_name().to_vec()).unwrap(),
                    w.controller,
                    String::from_utf8(w.value().to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn nothing_set_writes_nothing() {
        assert!(writes(&CgroupLimits::default()).is_empty());
    }

    #[test]
    fn every_limit() {
        let l = CgroupLimits {
            memory_max: Some(256 << 20),
            pids_max: Some(64),
            cpu_max: Some((50_000, 100_000)),
            cpu_weight: Some(200),
        };
        assert_eq!(
            show(&l),
            [
                ("memory.max".into(), "memory", "268435456".into()),
                ("pids.max".into(), "pids", "64".into()),
                ("cpu.max".into(), "cpu", "50000 100000".into()),
                ("cpu.weight".into(), "cpu", "200".into()),
            ]
        );
    }

    #[test]
    fn max_and_extremes() {
        let l = CgroupLimits {
            memory_max: Some(u64::MAX),
            pids_max: Some(u64::MAX),
            cpu_max: Some((u64::MAX, 100_000)),
            cpu_weight: Some(10_000),
        };
        assert_eq!(
            show(&l).into_iter().map(|t| t.2).collect::<Vec<_>>(),
            ["max", "max", "max 100000", "10000"]
        );
        let l = CgroupLimits {
            memory_max: Some(0),
            cpu_max: Some((u64::MAX - 1, u64::MAX - 1)),
            ..Default::default()
        };
        assert_eq!(
            show(&l).into_iter().map(|t| t.2).collect::<Vec<_>>(),
            ["0", "18446744073709551614 18446744073709551614"]
        );
        let l = CgroupLimits {
            cpu_max: Some((u64::MAX, u64::MAX)),
            cpu_weight: Some(u32::MAX),
            ..Default::default()
        };
        assert_eq!(
            show(&l).into_iter().map(|t| t.2).collect::<Vec<_>>(),
            ["max max", "4294967295"]
        );
    }
}
