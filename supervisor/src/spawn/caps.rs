//! Credentials of the exec'd program: bounding set, ids, capability sets,
//! ambient set, no_new_privs, in the only order that works (§1.6):
//! PR_CAPBSET_DROP needs CAP_SETPCAP, so before setuid; a 0 → non-0 setuid
//! clears the permitted set unless keep-caps is set; capset then narrows
//! the sets, and ambient capabilities need permitted and inheritable.
//! See the module documentation of [`super`] for what execve makes of them.

use super::{Ctx, Failure, Step};
use crate::spec::{Caps, MAX_GROUPS};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Who the program runs as.
pub(super) struct Creds<'x> {
    pub uid: u32,
    pub gid: u32,
    pub groups: &'x [u32],
    /// None: leave the capability sets as the id change leaves them.
    pub caps: Option<Caps>,
    pub no_new_privs: bool,
}

/// The sets passed to capset: ambient needs permitted and inheritable,
/// effective needs permitted.
pub(super) fn capset_sets(c: &Caps) -> (u64, u64, u64) {
    (
        c.effective,
        c.permitted | c.effective | c.ambient,
        c.inheritable | c.ambient,
    )
}

fn cap(n: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1u64 << (n & 63))
}

/// Applies `c`; every step fails with its own [`Step`].
pub(super) fn apply(ctx: Ctx, c: &Creds<'_>) -> Result<(), Failure> {
    if c.uid == u32::MAX {
        return Err(Failure::new(Step::Uid, Errno::INVAL));
    }
    if c.gid == u32::MAX {
        return Err(Failure::new(Step::Gid, Errno::INVAL));
    }
    if let Some(caps) = &c.caps {
        for n in 0..64u32 {
            if caps.bounding & (1u64 << n) != 0 {
                continue;
            }
            ctx.at(Step::Bounding(n as u8))?;
            match rustix::thread::remove_capability_from_bounding_set(cap(n)) {
                Ok(()) => {}
                // Past the kernel's last capability.
                Err(Errno::INVAL) => break,
                Err(e) => return Err(Failure::new(Step::Bounding(n as u8), e)),
            }
        }
        ctx.run(Step::KeepCaps, || rustix::thread::set_keep_capabilities(true))?;
    }
    ctx.run(Step::Groups, || {
        let mut gids = [Gid::ROOT; MAX_GROUPS];
        let n = c.groups.len().min(MAX_GROUPS);
        for (slot, &g) in gids.iter_mut().zip(c.groups) {
            if g == u32::MAX {
                return Err(Errno::INVAL);
            }
            *slot = Gid::from_raw_unchecked(g);
        }
        rustix::thread::set_thread_groups(gids.get(..n).unwrap_or(&[]))
    })?;
    ctx.run(Step::Gid, || {
        let g = Gid::from_raw_unchecked(c.gid);
        rustix::thread::set_thread_res_gid(g, g, g)
    })?;
    ctx.run(Step::Uid, || {
        let u = Uid::from_raw_unchecked(c.uid);
        rustix::thread::set_thread_res_uid(u, u, u)
    })?;
    if let Some(caps) = &c.caps {
        let (eff, perm, inh) = capset_sets(caps);
        ctx.run(Step::Capset, || {
            rustix::thread::set_capabilities(
                None,
                CapabilitySets {
                    effective: CapabilitySet::from_bits_retain(eff),
                    permitted: CapabilitySet::from_bits_retain(perm),
                    inheritable: CapabilitySet::from_bits_retain(inh),
                },
            )
        })?;
        for n in 0..64u32 {
            if caps.ambient & (1u64 << n) != 0 {
                ctx.run(Step::Ambient(n as u8), || {
                    rustix::thread::configure_capability_in_ambient_set(cap(n), true)
                })?;
            }
        }
    }
    if c.no_new_privs {
        ctx.run(Step::NoNewPrivs, || rustix::thread::set_no_new_privs(true))?;
    }
    Ok(())
}

/// Becomes uid and gid 0 of a user namespace the child has just created
/// or joined, if 0 is mapped there (EINVAL: it is not; then the set-up
/// runs with the ids it has). Files the set-up creates (/dev, mount
/// points) then belong to the container's root, and the process is made
/// dumpable again so /proc/self stays its own.
pub(super) fn become_root(ctx: Ctx) -> Result<(), Failure> {
    ctx.run(Step::IdRoot, || {
        match rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT) {
            Ok(()) | Err(Errno::INVAL) => {}
            Err(e) => return Err(e),
        }
        match rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT) {
            Ok(()) | Err(Errno::INVAL) => {}
            Err(e) => return Err(e),
        }
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambient_implies_permitted_and_inheritable() {
        let c = Caps {
            bounding: 0b1111,
            effective: 0b0001,
            permitted: 0,
            inheritable: 0b0100,
            ambient: 0b0010,
        };
        assert_eq!(capset_sets(&c), (0b0001, 0b0011, 0b0110));
    }
}
