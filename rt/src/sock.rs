//! Unix SOCK_SEQPACKET sockets with one descriptor passed alongside a
//! message (SCM_RIGHTS): the channels of the upcall path (one datagram is
//! one `wire::upcall` message).

use core::ffi::CStr;
use core::mem::MaybeUninit;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::{Errno, IoSlice, IoSliceMut};
use rustix::net::{
    self, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

type Result<T> = core::result::Result<T, Errno>;

fn seqpacket(nonblock: bool) -> Result<OwnedFd> {
    let mut f = SocketFlags::CLOEXEC;
    if nonblock {
        f |= SocketFlags::NONBLOCK;
    }
    net::socket_with(AddressFamily::UNIX, SocketType::SEQPACKET, f, None)
}

/// A listening socket at `path` (a stale socket file there is replaced).
/// Non-blocking: the caller accepts from its event loop.
pub fn listen(path: &CStr, backlog: i32) -> Result<OwnedFd> {
    let fd = seqpacket(true)?;
    let addr = SocketAddrUnix::new(path)?;
    match rustix::fs::unlink(path) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(e),
    }
    net::bind(&fd, &addr)?;
    net::listen(&fd, backlog)?;
    Ok(fd)
}

/// A blocking connection to the socket at `path`; with `timeout`, sends,
/// receives and the connect itself (a listener whose backlog is full) give
/// up after it (EAGAIN).
pub fn connect(path: &CStr, timeout: Option<core::time::Duration>) -> Result<OwnedFd> {
    let fd = seqpacket(false)?;
    if let Some(t) = timeout {
        net::sockopt::set_socket_timeout(&fd, net::sockopt::Timeout::Recv, Some(t))?;
        net::sockopt::set_socket_timeout(&fd, net::sockopt::Timeout::Send, Some(t))?;
    }
    let addr = SocketAddrUnix::new(path)?;
    net::connect(&fd, &addr)?;
    Ok(fd)
}

/// A connected pair (close-on-exec, blocking).
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
}

/// Accepts one connection, close-on-exec and non-blocking.
pub fn accept<Fd: AsFd>(listener: Fd) -> Result<OwnedFd> {
    net::accept_with(listener, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK)
}

/// Sends one datagram, with `fd` attached when given.
pub fn send<Fd: AsFd>(sock: Fd, msg: &[u8], fd: Option<rustix::fd::BorrowedFd<'_>>) -> Result<()> {
    let iov = [IoSlice::new(msg)];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(f) = fd {
        fds = [f];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(Errno::NOBUFS);
        }
    }
    let n = loop {
        match net::sendmsg(&sock, &iov, &mut control, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            r => break r?,
        }
    };
    if n != msg.len() {
        return Err(Errno::MSGSIZE);
    }
    Ok(())
}

/// Receives one datagram into `buf`: its length (0 = the peer closed) and
/// the descriptor that came with it (any further ones are closed). A
/// datagram longer than `buf` is an error (EMSGSIZE), not a cut message.
pub fn recv<Fd: AsFd>(sock: Fd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>)> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let r = loop {
        let mut iov = [IoSliceMut::new(buf)];
        match net::recvmsg(&sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Err(Errno::INTR) => continue,
            r => break r?,
        }
    };
    let mut got: Option<OwnedFd> = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = m {
            for fd in fds {
                if got.is_none() {
                    got = Some(fd);
                }
            }
        }
    }
    if r.flags.contains(net::ReturnFlags::TRUNC) {
        return Err(Errno::MSGSIZE);
    }
    Ok((r.bytes, got))
}

/// The peer's credentials: (pid in the receiver's pid namespace, 0 if it
/// has none there; uid; gid). A raw getsockopt: rustix's `UCred` holds a
/// non-zero `Pid`, and the kernel does report 0.
pub fn peer_cred<Fd: AsFd>(sock: Fd) -> Result<(i32, u32, u32)> {
    use rustix::fd::AsRawFd;
    let mut cred = [0u32; 3];
    let mut len: u32 = 12;
    // SAFETY: getsockopt(SOL_SOCKET, SO_PEERCRED) writes at most `len` (12) bytes into `cred`, a 12-byte array, and its length into `len`.
    unsafe {
        crate::sys::syscall(
            linux_raw_sys::general::__NR_getsockopt,
            [
                sock.as_fd().as_raw_fd() as usize,
                linux_raw_sys::net::SOL_SOCKET as usize,
                linux_raw_sys::net::SO_PEERCRED as usize,
                cred.as_mut_ptr() as usize,
                &mut len as *mut u32 as usize,
                0,
            ],
        )?;
    }
    Ok((cred[0] as i32, cred[1], cred[2]))
}
