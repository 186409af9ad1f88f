//! Upcall messages between the broker (`/sbin/request-key`, run by the
//! kernel), the supervisor and each container's resident agent
//! (docs/upcalls.md). One SOCK_SEQPACKET datagram is one message:
//!
//! ```text
//! header   8 bytes   version u8, kind u8, 0u16, total length u32 (LE, header included)
//! body     by kind, little-endian, at most MAX_MSG - 8 bytes
//! ```
//!
//! | kind       | from → to                          | body |
//! |------------|------------------------------------|------|
//! | Request    | broker → supervisor, broker → agent | ids, deadline, op, type, description, callout |
//! | Route      | supervisor → broker                | host / agent (+ an fd) / reject with errno |
//! | Outcome    | agent → broker, broker → supervisor | served / rejected / timed out / …, ms |
//! | Assign     | supervisor → agent                 | empty; carries the request socket (fd) |
//! | Hello      | agent's set-up child → supervisor  | the agent's session keyring serial |
//!
//! Decoders are total: any bytes give a message or an error, never a panic.

/// Protocol version; a message of another version is refused.
pub const VERSION: u8 = 1;
/// Header length.
pub const HEADER: usize = 8;
/// Largest message: type, description 4096, callout 4096 and the ids fit.
pub const MAX_MSG: usize = 8704;
/// Key type names are shorter than 32 bytes (the kernel's limit).
pub const MAX_TYPE: usize = 31;
/// The operation (`create`, or `negate` on keyutils' failure path).
pub const MAX_OP: usize = 15;
/// A key description: at most 4095 bytes and its NUL (KEY_MAX_DESC_SIZE).
pub const MAX_DESC: usize = 4095;
/// Callout information: the kernel copies at most a page.
pub const MAX_CALLOUT: usize = 4096;
/// A container name in a route (for log lines).
pub const MAX_NAME: usize = 63;

/// The supervisor's socket, in its run directory (mode 0700).
pub const SOCKET_NAME: &[u8] = b"upcall.sock";
/// Where the broker finds it: keel's default run directory. The kernel
/// gives the helper no way to be told another place.
pub const DEFAULT_SOCKET: &core::ffi::CStr = c"/run/keel/upcall.sock";
/// The agent's channel to the supervisor: this fd number in `serve` mode.
pub const AGENT_FD: u32 = 3;
/// The broker's deadline unless keel's configuration says otherwise.
pub const DEFAULT_DEADLINE_MS: u32 = 5000;
/// The longest deadline keel accepts (the kernel's hung-task warning comes
/// at 120 s; a requester sits in D state meanwhile).
pub const MAX_DEADLINE_MS: u32 = 30_000;
/// Requests in flight per container before brokers are refused (EDQUOT).
pub const DEFAULT_CAP: u32 = 8;
/// How long the broker waits for the supervisor's route.
pub const ROUTE_TIMEOUT_MS: u32 = 1000;

const REQUEST_FIXED: usize = 40;
/// A kernel-originated request: the thread keyring the kernel passed is
/// one of its subsystems' private keyrings (`.dns_resolver`, `.id_resolver`,
/// …), which userspace cannot make its own.
pub const FLAG_KERNEL: u16 = 1;
const KNOWN_FLAGS: u16 = FLAG_KERNEL;
static_assertions::const_assert!(HEADER + REQUEST_FIXED + MAX_OP + MAX_TYPE + MAX_DESC + MAX_CALLOUT <= MAX_MSG);
static_assertions::const_assert!(MAX_MSG <= 8 * 1024 + 512);
static_assertions::const_assert!(MAX_MSG <= u16::MAX as usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Request = 1,
    Route = 2,
    Outcome = 3,
    Assign = 4,
    Hello = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Request,
            2 => Kind::Route,
            3 => Kind::Outcome,
            4 => Kind::Assign,
            5 => Kind::Hello,
            _ => return None,
        })
    }
}

/// Why bytes are not a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Short,
    Version,
    UnknownKind,
    /// The header's length is not the datagram's.
    Length,
    /// A field is out of its range (a length past its limit, an unknown code).
    Field,
    /// The buffer is too small for the message (encoding).
    NoRoom,
}

impl Error {
    pub fn as_str(self) -> &'static str {
        match self {
            Error::Short => "message shorter than its header",
            Error::Version => "protocol version not supported",
            Error::UnknownKind => "unknown message kind",
            Error::Length => "message length does not match its header",
            Error::Field => "field out of range",
            Error::NoRoom => "message does not fit",
        }
    }
}

/// A key request as the kernel gave it to `/sbin/request-key`, plus what
/// the broker learnt: the requester's pid (from /proc/keys) and the time
/// left until the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The key to instantiate.
    pub key: i32,
    /// Requester's fsuid and fsgid in the initial user namespace.
    pub uid: u32,
    pub gid: u32,
    /// Requester's thread, process and session keyrings (0 = none).
    pub thread: i32,
    pub process: i32,
    pub session: i32,
    /// Requester's pid in the broker's pid namespace (0 = unknown).
    pub pid: i32,
    /// Milliseconds left before the broker rejects the key with ETIMEDOUT.
    pub deadline_ms: u32,
    /// [`FLAG_KERNEL`]: made by the kernel itself (see there).
    pub flags: u16,
    pub op: &'a [u8],
    pub ty: &'a [u8],
    pub desc: &'a [u8],
    pub callout: &'a [u8],
}

/// Where the supervisor sends a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The host's own configuration (the broker handles it).
    Host,
    /// The container's agent: the broker links its authority into
    /// `keyring` and writes the request to the socket that comes with this
    /// message.
    Agent { keyring: i32 },
    /// Reject the key at once with this error and negative timeout.
    Reject { errno: u16, timeout_s: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    pub decision: Decision,
    /// The whole time the broker may take, milliseconds from its start.
    pub deadline_ms: u32,
    /// The container's name ("" for the host), for log lines.
    pub name: &'a [u8],
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Result {
    /// The handler ran to completion (exit status 0, or a built-in settled the key).
    Served,
    /// The key was rejected with this errno.
    Rejected(u16),
    /// The deadline passed; the key was rejected with ETIMEDOUT.
    TimedOut,
    /// No configuration line matched.
    NoHandler,
    /// The handler failed (exit status or errno) without settling the key.
    Failed(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result,
    /// Milliseconds the handling took, as seen by the sender.
    pub ms: u32,
}

/// A decoded message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    Request(Request<'a>),
    Route(Route<'a>),
    Outcome(Outcome),
    Assign,
    Hello { keyring: i32 },
}

// ------------------------------------------------------------ encoding

struct W<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl W<'_> {
    fn put(&mut self, b: &[u8]) -> core::result::Result<(), Error> {
        let end = self.len.checked_add(b.len()).ok_or(Error::NoRoom)?;
        self.buf.get_mut(self.len..end).ok_or(Error::NoRoom)?.copy_from_slice(b);
        self.len = end;
        Ok(())
    }
    fn u8(&mut self, v: u8) -> core::result::Result<(), Error> {
        self.put(&[v])
    }
    fn u16(&mut self, v: u16) -> core::result::Result<(), Error> {
        self.put(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) -> core::result::Result<(), Error> {
        self.put(&v.to_le_bytes())
    }
    fn i32(&mut self, v: i32) -> core::result::Result<(), Error> {
        self.put(&v.to_le_bytes())
    }
    fn begin(buf: &mut [u8], kind: Kind) -> core::result::Result<W<'_>, Error> {
        let mut w = W { buf, len: 0 };
        w.put(&[VERSION, kind as u8, 0, 0, 0, 0, 0, 0])?;
        Ok(w)
    }
    fn finish(self) -> core::result::Result<usize, Error> {
        if self.len > MAX_MSG {
            return Err(Error::NoRoom);
        }
        let n = (self.len as u32).to_le_bytes();
        self.buf.get_mut(4..8).ok_or(Error::NoRoom)?.copy_from_slice(&n);
        Ok(self.len)
    }
}

fn fits(b: &[u8], max: usize) -> core::result::Result<(), Error> {
    if b.len() > max {
        Err(Error::Field)
    } else {
        Ok(())
    }
}

impl Msg<'_> {
    /// Writes the message into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> core::result::Result<usize, Error> {
        match *self {
            Msg::Request(r) => {
                fits(r.op, MAX_OP)?;
                fits(r.ty, MAX_TYPE)?;
                fits(r.desc, MAX_DESC)?;
                fits(r.callout, MAX_CALLOUT)?;
                let mut w = W::begin(buf, Kind::Request)?;
                w.i32(r.key)?;
                w.u32(r.uid)?;
                w.u32(r.gid)?;
                w.i32(r.thread)?;
                w.i32(r.process)?;
                w.i32(r.session)?;
                w.i32(r.pid)?;
                w.u32(r.deadline_ms)?;
                w.u8(r.op.len() as u8)?;
                w.u8(r.ty.len() as u8)?;
                w.u16(r.desc.len() as u16)?;
                w.u16(r.callout.len() as u16)?;
                w.u16(r.flags)?;
                w.put(r.op)?;
                w.put(r.ty)?;
                w.put(r.desc)?;
                w.put(r.callout)?;
                w.finish()
            }
            Msg::Route(r) => {
                fits(r.name, MAX_NAME)?;
                let mut w = W::begin(buf, Kind::Route)?;
                let (code, errno, timeout, keyring) = match r.decision {
                    Decision::Host => (0u8, 0u16, 0u32, 0i32),
                    Decision::Agent { keyring } => (1, 0, 0, keyring),
                    Decision::Reject { errno, timeout_s } => (2, errno, timeout_s, 0),
                };
                w.u8(code)?;
                w.u8(r.name.len() as u8)?;
                w.u16(errno)?;
                w.u32(timeout)?;
                w.i32(keyring)?;
                w.u32(r.deadline_ms)?;
                w.put(r.name)?;
                w.finish()
            }
            Msg::Outcome(o) => {
                let mut w = W::begin(buf, Kind::Outcome)?;
                let (code, errno) = match o.result {
                    Result::Served => (0u8, 0u16),
                    Result::Rejected(e) => (1, e),
                    Result::TimedOut => (2, 0),
                    Result::NoHandler => (3, 0),
                    Result::Failed(e) => (4, e),
                };
                w.u8(code)?;
                w.u8(0)?;
                w.u16(errno)?;
                w.u32(o.ms)?;
                w.finish()
            }
            Msg::Assign => W::begin(buf, Kind::Assign)?.finish(),
            Msg::Hello { keyring } => {
                let mut w = W::begin(buf, Kind::Hello)?;
                w.i32(keyring)?;
                w.finish()
            }
        }
    }
}

// ------------------------------------------------------------ decoding

struct R<'a> {
    b: &'a [u8],
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> core::result::Result<&'a [u8], Error> {
        if n > self.b.len() {
            return Err(Error::Field);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn arr<const N: usize>(&mut self) -> core::result::Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> core::result::Result<u8, Error> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16(&mut self) -> core::result::Result<u16, Error> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> core::result::Result<u32, Error> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i32(&mut self) -> core::result::Result<i32, Error> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    fn bytes(&mut self, n: usize, max: usize) -> core::result::Result<&'a [u8], Error> {
        if n > max {
            return Err(Error::Field);
        }
        self.take(n)
    }
    fn end(&self) -> core::result::Result<(), Error> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(Error::Length)
        }
    }
}

/// Decodes one datagram.
pub fn decode(b: &[u8]) -> core::result::Result<Msg<'_>, Error> {
    if b.len() < HEADER {
        return Err(Error::Short);
    }
    let mut r = R { b };
    let hdr: [u8; HEADER] = r.arr()?;
    if hdr[0] != VERSION {
        return Err(Error::Version);
    }
    let kind = Kind::from_u8(hdr[1]).ok_or(Error::UnknownKind)?;
    let len = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
    if len != b.len() || len > MAX_MSG || hdr[2] != 0 || hdr[3] != 0 {
        return Err(Error::Length);
    }
    let msg = match kind {
        Kind::Request => {
            let key = r.i32()?;
            let uid = r.u32()?;
            let gid = r.u32()?;
            let thread = r.i32()?;
            let process = r.i32()?;
            let session = r.i32()?;
            let pid = r.i32()?;
            let deadline_ms = r.u32()?;
            let op_len = r.u8()? as usize;
            let ty_len = r.u8()? as usize;
            let desc_len = r.u16()? as usize;
            let callout_len = r.u16()? as usize;
            let flags = r.u16()?;
            if flags & !KNOWN_FLAGS != 0 {
                return Err(Error::Field);
            }
            Msg::Request(Request {
                key,
                uid,
                gid,
                thread,
                process,
                session,
                pid,
                deadline_ms,
                flags,
                op: r.bytes(op_len, MAX_OP)?,
                ty: r.bytes(ty_len, MAX_TYPE)?,
                desc: r.bytes(desc_len, MAX_DESC)?,
                callout: r.bytes(callout_len, MAX_CALLOUT)?,
            })
        }
        Kind::Route => {
            let code = r.u8()?;
            let name_len = r.u8()? as usize;
            let errno = r.u16()?;
            let timeout_s = r.u32()?;
            let keyring = r.i32()?;
            let deadline_ms = r.u32()?;
            // One encoding per message: fields a decision does not use are 0.
            let decision = match (code, errno, timeout_s, keyring) {
                (0, 0, 0, 0) => Decision::Host,
                (1, 0, 0, k) => Decision::Agent { keyring: k },
                (2, e, t, 0) => Decision::Reject { errno: e, timeout_s: t },
                _ => return Err(Error::Field),
            };
            Msg::Route(Route {
                decision,
                deadline_ms,
                name: r.bytes(name_len, MAX_NAME)?,
            })
        }
        Kind::Outcome => {
            let code = r.u8()?;
            let pad = r.u8()?;
            let errno = r.u16()?;
            let ms = r.u32()?;
            let result = match (code, pad, errno) {
                (0, 0, 0) => Result::Served,
                (1, 0, e) => Result::Rejected(e),
                (2, 0, 0) => Result::TimedOut,
                (3, 0, 0) => Result::NoHandler,
                (4, 0, e) => Result::Failed(e),
                _ => return Err(Error::Field),
            };
            Msg::Outcome(Outcome { result, ms })
        }
        Kind::Assign => Msg::Assign,
        Kind::Hello => Msg::Hello { keyring: r.i32()? },
    };
    r.end()?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(m: Msg<'_>) {
        let mut buf = [0u8; MAX_MSG];
        let n = m.encode(&mut buf).unwrap();
        assert_eq!(decode(&buf[..n]).unwrap(), m);
        // Every shorter prefix is refused, never misread.
        for k in 0..n {
            assert!(decode(&buf[..k]).is_err(), "prefix {k} of {m:?}");
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let desc = [b'x'; MAX_DESC];
        let callout = [0xffu8; MAX_CALLOUT];
        round(Msg::Request(Request {
            key: 0x1234_5678,
            uid: 100000,
            gid: 100000,
            thread: -1,
            process: 0,
            session: 7,
            pid: 42,
            deadline_ms: 5000,
            flags: FLAG_KERNEL,
            op: b"create",
            ty: &[b't'; MAX_TYPE],
            desc: &desc,
            callout: &callout,
        }));
        round(Msg::Request(Request {
            key: 1,
            uid: 0,
            gid: 0,
            thread: 0,
            process: 0,
            session: 0,
            pid: 0,
            deadline_ms: 0,
            flags: 0,
            op: b"",
            ty: b"",
            desc: b"",
            callout: b"",
        }));
        for d in [
            Decision::Host,
            Decision::Agent { keyring: 99 },
            Decision::Reject {
                errno: 122,
                timeout_s: 1,
            },
        ] {
            round(Msg::Route(Route {
                decision: d,
                deadline_ms: 5000,
                name: b"web",
            }));
        }
        for r in [
            Result::Served,
            Result::Rejected(61),
            Result::TimedOut,
            Result::NoHandler,
            Result::Failed(2),
        ] {
            round(Msg::Outcome(Outcome { result: r, ms: 12 }));
        }
        round(Msg::Assign);
        round(Msg::Hello { keyring: 123 });
    }

    #[test]
    fn oversize_fields_are_refused_when_encoding() {
        let mut buf = [0u8; MAX_MSG];
        let big = [0u8; MAX_DESC + 1];
        let r = Request {
            key: 1,
            uid: 0,
            gid: 0,
            thread: 0,
            process: 0,
            session: 0,
            pid: 0,
            deadline_ms: 0,
            flags: 0,
            op: b"create",
            ty: b"user",
            desc: &big,
            callout: b"",
        };
        assert_eq!(Msg::Request(r).encode(&mut buf), Err(Error::Field));
        let mut small = [0u8; 10];
        assert_eq!(
            Msg::Outcome(Outcome {
                result: Result::Served,
                ms: 0
            })
            .encode(&mut small),
            Err(Error::NoRoom)
        );
    }

    #[test]
    fn bad_headers_and_trailing_bytes() {
        let mut buf = [0u8; 64];
        let n = Msg::Hello { keyring: 5 }.encode(&mut buf).unwrap();
        let mut b = buf;
        b[0] = 2;
        assert_eq!(decode(&b[..n]), Err(Error::Version));
        let mut b = buf;
        b[1] = 77;
        assert_eq!(decode(&b[..n]), Err(Error::UnknownKind));
        // A length field that lies.
        let mut b = buf;
        b[4] = 200;
        assert_eq!(decode(&b[..n]), Err(Error::Length));
        // Extra bytes after the body, length fixed up to match.
        let mut b = buf;
        b[4] = (n + 1) as u8;
        assert_eq!(decode(&b[..n + 1]), Err(Error::Length));
        // Lengths in a request past their limits.
        let mut b = [0u8; 64];
        let n = Msg::Request(Request {
            key: 1,
            uid: 0,
            gid: 0,
            thread: 0,
            process: 0,
            session: 0,
            pid: 0,
            deadline_ms: 0,
            flags: 0,
            op: b"create",
            ty: b"user",
            desc: b"d",
            callout: b"",
        })
        .encode(&mut b)
        .unwrap();
        let mut c = b;
        c[HEADER + 33] = 200; // type length
        assert!(decode(&c[..n]).is_err());
    }
}
