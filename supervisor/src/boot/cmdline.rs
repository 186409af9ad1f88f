//! keel's words on the kernel command line: `keel.config=DIR`,
//! `keel.fault=STEP`, `keel.panic=running`.
//!
//! The kernel takes a `name.param=value` word for a module parameter: it
//! never reaches PID 1's environment (init/main.c, unknown_bootoption), so
//! boot mode reads them from /proc/cmdline. The environment is asked
//! first, so that tests of the other modes can still set them there.

use core::sync::atomic::{AtomicUsize, Ordering};

const CAP: usize = 4096;
static mut CMDLINE: [u8; CAP] = [0; CAP];
/// Length of CMDLINE once loaded (usize::MAX: not loaded).
static LEN: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Reads /proc/cmdline once (boot mode, after /proc is mounted).
pub fn load() {
    if LEN.load(Ordering::Acquire) != usize::MAX {
        return;
    }
    // SAFETY: keel has no threads; this is the only writer, it runs once (LEN guards it) and before any reader, which only reads after LEN is published.
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(CMDLINE) };
    let n = match keel_rt::fs::read_into(c"/proc/cmdline", buf) {
        Ok(n) => n,
        Err(rustix::io::Errno::FBIG) => CAP,
        Err(_) => 0,
    };
    LEN.store(n, Ordering::Release);
}

fn text() -> &'static [u8] {
    let n = LEN.load(Ordering::Acquire);
    if n == usize::MAX {
        return &[];
    }
    // SAFETY: after LEN is published CMDLINE is never written again.
    let buf: &'static [u8; CAP] = unsafe { &*core::ptr::addr_of!(CMDLINE) };
    buf.get(..n).unwrap_or(&[])
}

/// The value of `name=value`: from the environment, else from the kernel
/// command line (boot mode only).
pub fn param(name: &[u8]) -> Option<&'static [u8]> {
    keel_rt::args::env(name).or_else(|| value(text(), name))
}

/// The value of `name` in a kernel command line text: words are separated
/// by spaces, tabs or newlines; a value may be in double quotes
/// (`x="a b"`), as may the whole word; words after a lone `--` belong to
/// init's argv and are not parameters. The last occurrence wins, as in the
/// kernel. A bare `name` (no `=`) has no value.
pub fn value<'a>(text: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    let mut i = 0usize;
    while i < text.len() {
        while text.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        let mut quoted = false;
        while let Some(&c) = text.get(i) {
            if c == b'"' {
                quoted = !quoted;
            } else if !quoted && c.is_ascii_whitespace() {
                break;
            }
            i += 1;
        }
        let word = text.get(start..i).unwrap_or(&[]);
        if word.is_empty() {
            break;
        }
        if word == b"--" {
            break;
        }
        let word = word
            .strip_prefix(b"\"")
            .map_or(word, |w| w.strip_suffix(b"\"").unwrap_or(w));
        if let Some(eq) = word.iter().position(|&c| c == b'=') {
            if word.get(..eq) == Some(name) {
                let v = word.get(eq + 1..).unwrap_or(&[]);
                let v = v.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(v);
                found = Some(v);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let t = b"console=ttyS0 quiet panic=-1 keel.config=/etc/keel-x keel.fault=pivot-root\n";
        assert_eq!(value(t, b"keel.config"), Some(&b"/etc/keel-x"[..]));
        assert_eq!(value(t, b"keel.fault"), Some(&b"pivot-root"[..]));
        assert_eq!(value(t, b"keel.panic"), None);
        assert_eq!(value(t, b"quiet"), None);
        assert_eq!(value(t, b"keel"), None);
        assert_eq!(value(b"a=1 a=2", b"a"), Some(&b"2"[..]));
        assert_eq!(value(b"x=\"a b\" y=2", b"x"), Some(&b"a b"[..]));
        assert_eq!(value(b"\"x=a b\" y=2", b"x"), Some(&b"a b"[..]));
        assert_eq!(value(b"x=\"a b\" y=2", b"y"), Some(&b"2"[..]));
        assert_eq!(value(b"a=1 -- a=2 b=3", b"a"), Some(&b"1"[..]));
        assert_eq!(value(b"a=1 -- a=2 b=3", b"b"), None);
        assert_eq!(value(b"", b"a"), None);
        assert_eq!(value(b"   \t\n", b"a"), None);
        assert_eq!(value(b"a=", b"a"), Some(&b""[..]));
        assert_eq!(value(b"x=\"unterminated a=1", b"a"), None);
    }

    #[test]
    fn environment_first() {
        // Nothing loaded in a test process: only the environment answers.
        assert_eq!(param(b"keel.surely-not-set"), None);
    }
}
