//! A fixed-size line builder: strings, numbers and errno names without
//! `core::fmt` (which costs tens of kilobytes; only the panic path uses it).
//! A line that does not fit is cut and ends with `...`.

use rustix::io::Errno;

/// Capacity of one line, in bytes.
pub const LINE_MAX: usize = 512;

pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
    cut: bool,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    pub const fn new() -> Self {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
            cut: false,
        }
    }

    /// The bytes written so far (with a `...` marker if cut).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.cut = false;
    }

    /// Appends raw bytes; past the capacity the line is cut.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        if self.cut {
            return self;
        }
        let room = LINE_MAX - self.len;
        if b.len() <= room {
            if let Some(dst) = self.buf.get_mut(self.len..self.len + b.len()) {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
        } else {
            // Keep what fits before a 3-byte "..." marker at the very end.
            let cap = LINE_MAX - 3;
            self.len = self.len.min(cap);
            let keep = (cap - self.len).min(b.len());
            if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + keep), b.get(..keep)) {
                dst.copy_from_slice(src);
            }
            self.len += keep;
            if let Some(dst) = self.buf.get_mut(self.len..self.len + 3) {
                dst.copy_from_slice(b"...");
                self.len += 3;
            }
            self.cut = true;
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn u64(&mut self, n: u64) -> &mut Self {
        let mut b = itoa::Buffer::new();
        self.str(b.format(n))
    }

    pub fn i64(&mut self, n: i64) -> &mut Self {
        let mut b = itoa::Buffer::new();
        self.str(b.format(n))
    }

    /// Lower-case hexadecimal, no prefix.
    pub fn hex(&mut self, n: u64) -> &mut Self {
        let mut tmp = [0u8; 16];
        self.bytes(hex(n, &mut tmp))
    }

    /// An errno as its name (`EINVAL`), or `errno N` if unnamed.
    pub fn errno(&mut self, e: Errno) -> &mut Self {
        let n = e.raw_os_error();
        match errno_name(n) {
            Some(name) => self.str(name),
            None => self.str("errno ").i64(n as i64),
        }
    }

    pub fn put(&mut self, p: &dyn Piece) -> &mut Self {
        p.put(self);
        self
    }
}

/// The name of errno `n` (`EINVAL`), if it has one.
pub fn errno_name(n: i32) -> Option<&'static str> {
    let name = crate::errno_names::NAMES.get(usize::try_from(n).ok()?)?;
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

/// The errno number of a name (`EINVAL` → 22).
pub fn errno_by_name(name: &[u8]) -> Option<i32> {
    crate::errno_names::NAMES
        .iter()
        .position(|n| !n.is_empty() && n.as_bytes() == name)
        .and_then(|i| i32::try_from(i).ok())
}

/// Formats `n` in lower-case hexadecimal into `buf`.
pub fn hex(mut n: u64, buf: &mut [u8; 16]) -> &[u8] {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut i = 16;
    loop {
        i -= 1;
        buf[i] = D[(n & 15) as usize];
        n >>= 4;
        if n == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Something that can be appended to a [`Line`]; the log macros take these.
pub trait Piece {
    fn put(&self, l: &mut Line);
}

impl Piece for &str {
    fn put(&self, l: &mut Line) {
        l.str(self);
    }
}
impl Piece for str {
    fn put(&self, l: &mut Line) {
        l.str(self);
    }
}
impl Piece for &[u8] {
    fn put(&self, l: &mut Line) {
        l.bytes(self);
    }
}
impl<const N: usize> Piece for &[u8; N] {
    fn put(&self, l: &mut Line) {
        l.bytes(&self[..]);
    }
}
impl Piece for &core::ffi::CStr {
    fn put(&self, l: &mut Line) {
        l.bytes(self.to_bytes());
    }
}
impl Piece for Errno {
    fn put(&self, l: &mut Line) {
        l.errno(*self);
    }
}
macro_rules! piece_int {
    ($($t:ty => $m:ident),*) => {$(
        impl Piece for $t {
            fn put(&self, l: &mut Line) { l.$m(*self as _); }
        }
    )*};
}
piece_int!(u8 => u64, u16 => u64, u32 => u64, u64 => u64, usize => u64,
           i8 => i64, i16 => i64, i32 => i64, i64 => i64, isize => i64);
impl Piece for Line {
    fn put(&self, l: &mut Line) {
        l.bytes(self.as_bytes());
    }
}
impl<T: Piece + ?Sized> Piece for &&T {
    fn put(&self, l: &mut Line) {
        (**self).put(l);
    }
}

/// Builds a [`Line`] from pieces: `line!("container ", name, ": ", errno)`.
/// The pieces go through one out-of-line function as trait objects, so each
/// log call site costs a few instructions, not an inlined formatter.
#[macro_export]
macro_rules! line {
    ($($p:expr),* $(,)?) => {
        $crate::line::build(&[$(&$p as &dyn $crate::line::Piece),*])
    };
}

/// Concatenates pieces into a new line (the body of [`line!`]).
#[inline(never)]
pub fn build(pieces: &[&dyn Piece]) -> Line {
    let mut l = Line::new();
    for p in pieces {
        p.put(&mut l);
    }
    l
}

/// Builds the line and emits it at `level` (the body of the log macros).
#[inline(never)]
pub fn emit(level: crate::log::Level, pieces: &[&dyn Piece]) {
    if crate::log::enabled(level) {
        let l = build(pieces);
        crate::log::emit(level, l.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_pieces() {
        let e = Errno::INVAL;
        let l = crate::line!(
            "keel: container ",
            &b"web"[..],
            ": pivot_root: ",
            e,
            " ",
            42u32,
            " ",
            -7i32
        );
        assert_eq!(l.as_bytes(), b"keel: container web: pivot_root: EINVAL 42 -7");
    }

    #[test]
    fn cuts_long_lines() {
        let mut l = Line::new();
        for _ in 0..100 {
            l.str("0123456789");
        }
        assert_eq!(l.len(), LINE_MAX);
        assert!(l.as_bytes().ends_with(b"..."));
        l.str("more");
        assert_eq!(l.len(), LINE_MAX);
    }

    #[test]
    fn errno_names_round_trip() {
        assert_eq!(errno_name(1), Some("EPERM"));
        assert_eq!(errno_name(22), Some("EINVAL"));
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(-1), None);
        assert_eq!(errno_name(100000), None);
        assert_eq!(errno_by_name(b"ENOENT"), Some(2));
        assert_eq!(errno_by_name(b"EKEYREJECTED"), Some(129));
        let mut l = Line::new();
        l.errno(Errno::from_raw_os_error(4000));
        assert_eq!(l.as_bytes(), b"errno 4000");
    }

    #[test]
    fn hex_digits() {
        let mut b = [0; 16];
        assert_eq!(hex(0, &mut b), b"0");
        assert_eq!(hex(0x3f040000, &mut b), b"3f040000");
        assert_eq!(hex(u64::MAX, &mut b), b"ffffffffffffffff");
    }
}
