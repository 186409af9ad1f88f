//! request-key.conf: parsing, matching, macro expansion — the pure part of
//! keyutils' `request-key(8)` (1.6.3, `request-key.c`), on fixed buffers.
//!
//! The caller reads the files (`request-key.d/*.conf` in the order
//! [`ConfNames`] keeps, then `request-key.conf`) one at a time into a buffer
//! and hands each to [`Best::feed`]; [`Best`] keeps a copy of the best line so
//! far, so the buffer can be reused. [`Best::chosen`] then gives the program
//! and its raw argument tokens, and [`expand`] turns each token into the
//! argument to pass.
//!
//! Rules kept from keyutils (docs/upcalls.md §1.10): lines are split on
//! `\n`; blank lines, lines starting with `#` and lines starting with
//! whitespace are ignored; fields are separated by C-locale `isspace` bytes
//! (space, `\t`, `\n`, `\v`, `\f`, `\r`); a line may hold 4094 bytes before
//! its `\n` ([`MAX_LINE`]); the best line is the one with the smallest
//! wildness tuple (op, type, description, callout), the first one fed on a
//! tie; macros are whole-argument only.
//!
//! Differences from keyutils, on purpose:
//!
//! 1. `prefix*suffix` patterns match a datum that starts with the prefix and
//!    ends with the suffix. keyutils compares the datum's tail with the
//!    *start* of the pattern, so `abc*def` never matches `abcXXdef` while
//!    `ab*xy` matches `abQab`.
//! 2. A pattern with more than one `*` makes the line a diagnostic (skipped).
//!    keyutils treats every `*` after the first as a literal byte (and then
//!    applies the bug above).
//! 3. A malformed line (too few fields, too long, a bad pattern or program,
//!    too many arguments, a NUL byte) is skipped and reported (the first
//!    diagnostic and a count), whatever the query. keyutils exits at the first
//!    syntax error it meets, and meets a missing field only when the fields
//!    before it matched the query.
//! 4. The program must be an absolute path or `builtin:NAME` (keel's built-in
//!    handlers, NAME in `[a-z0-9_.-]+`). keyutils does not check: a program
//!    without `/` crashes it (`strrchr(prog, '/') + 1`), one with a `/`
//!    elsewhere is run relative to its working directory.
//! 5. A last line without `\n` is taken whole. keyutils 1.6.3 drops its last
//!    byte (`/bin/true` runs `/bin/tru`); upstream later made it an error.
//! 6. More than [`MAX_ARGS`] arguments make the line a diagnostic; keyutils
//!    fails when it runs the chosen line. A NUL byte makes the line a
//!    diagnostic; keyutils reads the line as a C string and stops there.
//! 7. `request-key.d` is read in name order ([`ConfNames`]); keyutils uses
//!    `readdir` order, so ties between its files fall at random.
//! 8. `%{type:desc}` is not looked up here: [`expand`] returns
//!    [`Expanded::Lookup`] and the caller does the `request_key` call and
//!    checks the payload with [`check_keysub_payload`].

mod best;
mod expand;
mod names;
mod parse;
mod pattern;

pub use best::{Args, Best, Chosen, Diagnostic, Origin};
pub use expand::{check_keysub_payload, expand, ExpandError, Expanded, NotPrintable};
pub use names::{is_conf_name, ConfNames, NamesError, MAX_CONF_FILES, MAX_NAME};
pub use parse::{MAX_ARGS, MAX_LINE};
pub use pattern::Pattern;

/// One key request, as request-key's command line and the key describe it.
///
/// The numbers are formatted back the way the kernel wrote them into
/// request-key's argv (`"%d"`, `call_sbin_request_key`), which is what
/// keyutils' macros pass on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query<'a> {
    /// The operation: `create` from the kernel, `negate` on keyutils' retry.
    pub op: &'a [u8],
    /// The key type.
    pub ty: &'a [u8],
    /// The key description.
    pub desc: &'a [u8],
    /// The callout info (empty if none).
    pub callout: &'a [u8],
    /// The serial of the key to instantiate (`%k`).
    pub key: i32,
    /// The requester's fsuid in the initial user namespace (`%u`).
    pub uid: u32,
    /// The requester's fsgid in the initial user namespace (`%g`).
    pub gid: u32,
    /// The requester's thread keyring serial or 0 (`%T`).
    pub thread: i32,
    /// The requester's process keyring serial or 0 (`%P`).
    pub process: i32,
    /// The requester's session keyring serial (`%S`).
    pub session: i32,
}
