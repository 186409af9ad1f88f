//! uid_map and gid_map of a child's new user namespace, written by keel
//! (privileged in the parent namespace, so `setgroups` stays `allow` and
//! the container may call setgroups(2)).

use super::{Ctx, Failure, Step};
use crate::spec::{IdMap, Spec};
use keel_rt::path::CBuf;
use rustix::io::Errno;

/// Up to MAX_ID_MAPS lines of three u32 (at most 33 bytes each).
type MapText = CBuf<{ crate::spec::MAX_ID_MAPS * 34 + 1 }>;

/// `inside outside count\n` per line, as the kernel wants it in one write.
pub(super) fn format(maps: &[IdMap], out: &mut MapText) {
    for m in maps {
        out.push_u64(m.inside.into())
            .push(b" ")
            .push_u64(m.outside.into())
            .push(b" ")
            .push_u64(m.count.into())
            .push(b"\n");
    }
}

fn write_one(pid: i32, file: &[u8], maps: &[IdMap]) -> Result<(), Errno> {
    let mut p = CBuf::<48>::from(b"/proc/");
    p.push_i64(pid.into()).push(b"/").push(file);
    let mut text = MapText::new();
    format(maps, &mut text);
    // An empty map writes nothing: the child then cannot become any id
    // inside and fails at its uid step, which says so.
    if text.is_empty() {
        return Ok(());
    }
    text.as_cstr()?;
    keel_rt::fs::write_file(p.as_cstr()?, text.as_bytes())
}

/// Writes the spec's uid_map then gid_map for child `pid`.
pub(super) fn write_maps(ctx: Ctx, pid: i32, spec: &Spec<'_>) -> Result<(), Failure> {
    ctx.run(Step::UidMap, || write_one(pid, b"uid_map", &spec.uid_map))?;
    ctx.run(Step::GidMap, || write_one(pid, b"gid_map", &spec.gid_map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_lines() {
        let mut t = MapText::new();
        format(
            &[
                IdMap {
                    inside: 0,
                    outside: 100000,
                    count: 65536,
                },
                IdMap {
                    inside: 65536,
                    outside: 1,
                    count: 1,
                },
            ],
            &mut t,
        );
        assert_eq!(t.as_bytes(), b"0 100000 65536\n65536 1 1\n");
        let max = [IdMap {
            inside: u32::MAX,
            outside: u32::MAX,
            count: u32::MAX,
        }; crate::spec::MAX_ID_MAPS];
        let mut t = MapText::new();
        format(&max, &mut t);
        assert!(t.as_cstr().is_ok());
    }
}
