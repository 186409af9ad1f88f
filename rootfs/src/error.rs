//! One error type for the crate: what failed, where, and why.

use std::fmt;
use std::io;
use std::path::Path;

/// An error of the rootfs crate. The message says what was being done and where
/// (a path, a module name, an archive offset); the source, when there is one, says why.
#[derive(Debug)]
pub struct Error {
    msg: String,
    source: Option<io::Error>,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with a message and no underlying cause.
    pub fn new(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            source: None,
        }
    }

    /// An I/O error, with what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error {
            msg: what.into(),
            source: Some(source),
        }
    }

    /// An I/O error on a path: `"{what} {path}: {source}"`.
    pub fn at(what: &str, path: &Path, source: io::Error) -> Self {
        Error::io(format!("{what} {}", path.display()), source)
    }

    /// The kind of the underlying I/O error, if there is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.source.as_ref().map(io::Error::kind)
    }

    /// The message without the cause.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Prefix the message with more context: `"{ctx}: {msg}"`.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.msg = format!("{ctx}: {}", self.msg);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(e) => write!(f, "{}: {}", self.msg, e),
            None => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// Attach a path and an action to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::at(what, path, e))
    }
}
