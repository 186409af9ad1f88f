//! Starting a container's upcall agent: `upcall-agent serve` from a sealed
//! memfd copy of the binary (implementation-notes §1.12: a container root
//! that opens /proc/AGENT/exe finds the memfd, not the host's file), inside
//! every namespace of the container's init, in its cgroup, as uid 0 of its
//! user namespace with its bounding set, its rlimits and no_new_privs, and
//! with an anonymous session keyring made before it entered the user
//! namespace ([`crate::spawn::EnterRequest::agent_keyring`]).

use crate::spawn::{self, EnterRequest, ExecTarget, Failure, Spawned};
use crate::spec::{Caps, NsKind, Spec};
use keel_wire::upcall::AGENT_FD;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::io::Errno;

/// The agent's binary, sealed in memory once at keel's start.
pub struct Image {
    fd: OwnedFd,
}

/// MFD_EXEC (Linux 6.3+): executable even where vm.memfd_noexec asks for
/// non-executable memfds by default; older kernels refuse the flag.
const MFD_EXEC: u32 = 0x10;

impl Image {
    /// Copies the file at `path` into a memfd and seals it (no write, no
    /// resize, no further seals).
    pub fn load(path: &core::ffi::CStr) -> Result<Image, Errno> {
        let src = keel_rt::fs::open_read(rustix::fs::CWD, path)?;
        let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        let fd = match rustix::fs::memfd_create(c"upcall-agent", base | MemfdFlags::from_bits_retain(MFD_EXEC)) {
            Err(Errno::INVAL) => rustix::fs::memfd_create(c"upcall-agent", base)?,
            r => r?,
        };
        let mut buf = [0u8; 8192];
        loop {
            let n = match rustix::io::read(&src, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
            };
            keel_rt::fs::write_all(&fd, buf.get(..n).unwrap_or(&[]))?;
        }
        rustix::fs::fcntl_add_seals(
            &fd,
            SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
        )?;
        Ok(Image { fd })
    }
}

/// A started agent: its pid and pidfd, keel's end of its channel (the
/// Hello with the keyring serial comes first on it), and the set-up report.
pub struct Started {
    pub spawned: Spawned,
    pub channel: OwnedFd,
}

const ARGV: [&core::ffi::CStr; 2] = [c"upcall-agent", c"serve"];
const ENVP: [&core::ffi::CStr; 2] = [c"PATH=/usr/sbin:/usr/bin:/sbin:/bin", c"HOME=/"];

/// Starts the agent of the container whose init is `init` (a pidfd).
pub fn start(
    image: &Image,
    init: BorrowedFd<'_>,
    cgroup: Option<BorrowedFd<'_>>,
    spec: &Spec<'_>,
    fault: Option<u16>,
) -> Result<Started, Failure> {
    let (ours, theirs) = keel_rt::sock::pair().map_err(|e| Failure::new(spawn::Step::Pipe, e))?;
    // keel's end never blocks: an agent that stops reading (a container's
    // root can SIGSTOP its own agent) fills its queue, and then keel refuses
    // that container's requests (EAGAIN) instead of hanging in send.
    rustix::fs::fcntl_setfl(&ours, rustix::fs::OFlags::NONBLOCK).map_err(|e| Failure::new(spawn::Step::Pipe, e))?;
    let b = spec.caps.bounding;
    // SAFETY: fd 2 is keel's own stderr (or console), open for its whole life.
    let stderr = unsafe { BorrowedFd::borrow_raw(2) };
    let req = EnterRequest {
        target: init,
        kinds: &NsKind::ALL,
        program: ExecTarget::Fd(image.fd.as_fd()),
        argv: &ARGV,
        envp: &ENVP,
        cgroup,
        uid: 0,
        gid: 0,
        // uid 0 after exec: the permitted and effective sets come from the
        // bounding set.
        caps: Some(Caps {
            bounding: b,
            effective: b,
            permitted: b,
            inheritable: 0,
            ambient: 0,
        }),
        no_new_privs: true,
        stdin: None,
        stdout: None,
        stderr: Some(stderr),
        pass: Some((theirs.as_fd(), AGENT_FD)),
        agent_keyring: true,
        rlimits: &spec.rlimits,
        fault,
    };
    let spawned = spawn::enter(&req)?;
    drop(theirs);
    Ok(Started { spawned, channel: ours })
}

/// Restart delay after the agent's `n`th quick death: 100 ms doubling,
/// at most 10 s.
pub fn backoff_ms(n: u8) -> u64 {
    (100u64 << n.min(7)).min(10_000)
}
