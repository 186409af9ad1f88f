//! One key request, held in fixed buffers: filled by the broker from the
//! kernel (argv, KEYCTL_DESCRIBE, the callout, /proc/keys) or by the agent
//! from a wire message.

use crate::conf::Query;
use heapless::Vec;
use keel_wire::upcall::{self as w, MAX_CALLOUT, MAX_DESC, MAX_OP, MAX_TYPE};

pub struct Req {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub thread: i32,
    pub process: i32,
    pub session: i32,
    /// The requester's pid in the broker's pid namespace (0 = unknown).
    pub pid: i32,
    pub deadline_ms: u32,
    pub flags: u16,
    pub op: Vec<u8, MAX_OP>,
    pub ty: Vec<u8, MAX_TYPE>,
    pub desc: Vec<u8, MAX_DESC>,
    pub callout: Vec<u8, MAX_CALLOUT>,
}

/// Why a request cannot be held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TooLong {
    Op,
    Type,
    Description,
    Callout,
}

impl TooLong {
    pub fn as_str(self) -> &'static str {
        match self {
            TooLong::Op => "operation longer than 15 bytes",
            TooLong::Type => "key type longer than 31 bytes",
            TooLong::Description => "description longer than 4095 bytes",
            TooLong::Callout => "callout longer than 4096 bytes",
        }
    }
}

impl Req {
    pub const fn new() -> Req {
        Req {
            key: 0,
            uid: 0,
            gid: 0,
            thread: 0,
            process: 0,
            session: 0,
            pid: 0,
            deadline_ms: 0,
            flags: 0,
            op: Vec::new(),
            ty: Vec::new(),
            desc: Vec::new(),
            callout: Vec::new(),
        }
    }

    pub fn set_texts(&mut self, op: &[u8], ty: &[u8], desc: &[u8], callout: &[u8]) -> Result<(), TooLong> {
        self.op = Vec::from_slice(op).map_err(|_| TooLong::Op)?;
        self.ty = Vec::from_slice(ty).map_err(|_| TooLong::Type)?;
        self.desc = Vec::from_slice(desc).map_err(|_| TooLong::Description)?;
        self.callout = Vec::from_slice(callout).map_err(|_| TooLong::Callout)?;
        Ok(())
    }

    pub fn fill_from_wire(&mut self, r: &w::Request<'_>) -> Result<(), TooLong> {
        self.key = r.key;
        self.uid = r.uid;
        self.gid = r.gid;
        self.thread = r.thread;
        self.process = r.process;
        self.session = r.session;
        self.pid = r.pid;
        self.deadline_ms = r.deadline_ms;
        self.flags = r.flags;
        self.set_texts(r.op, r.ty, r.desc, r.callout)
    }

    pub fn wire(&self) -> w::Request<'_> {
        w::Request {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            thread: self.thread,
            process: self.process,
            session: self.session,
            pid: self.pid,
            deadline_ms: self.deadline_ms,
            flags: self.flags,
            op: &self.op,
            ty: &self.ty,
            desc: &self.desc,
            callout: &self.callout,
        }
    }

    /// The request as request-key.conf sees it, with operation `op`
    /// (`create`, or `negate` on the failure path of a pipe program).
    pub fn query<'a>(&'a self, op: &'a [u8]) -> Query<'a> {
        Query {
            op,
            ty: &self.ty,
            desc: &self.desc,
            callout: &self.callout,
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            thread: self.thread,
            process: self.process,
            session: self.session,
        }
    }
}

impl Default for Req {
    fn default() -> Self {
        Self::new()
    }
}
