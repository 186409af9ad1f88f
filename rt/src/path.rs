//! Fixed-capacity C strings for building paths and arguments without an
//! allocator: `CBuf::<256>::from(b"/proc/").push_u64(pid).push(b"/ns/net")`.

use core::ffi::CStr;
use rustix::io::Errno;

/// A NUL-terminated byte string of at most N-1 bytes. Appending past the
/// capacity marks it overflowed; [`CBuf::as_cstr`] then fails with
/// ENAMETOOLONG instead of naming a wrong, truncated path.
#[derive(Clone)]
pub struct CBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Default for CBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CBuf<N> {
    pub const fn new() -> Self {
        CBuf {
            buf: [0; N],
            len: 0,
            overflow: false,
        }
    }

    pub fn from(b: &[u8]) -> Self {
        let mut s = Self::new();
        s.push(b);
        s
    }

    /// Appends bytes. A NUL inside `b` also marks the string overflowed (it
    /// could not name what was asked).
    pub fn push(&mut self, b: &[u8]) -> &mut Self {
        if b.contains(&0) || self.len + b.len() >= N {
            self.overflow = true;
            return self;
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + b.len()) {
            dst.copy_from_slice(b);
            self.len += b.len();
        }
        if let Some(z) = self.buf.get_mut(self.len) {
            *z = 0;
        }
        self
    }

    pub fn push_u64(&mut self, n: u64) -> &mut Self {
        let mut b = itoa::Buffer::new();
        self.push(b.format(n).as_bytes())
    }

    pub fn push_i64(&mut self, n: i64) -> &mut Self {
        let mut b = itoa::Buffer::new();
        self.push(b.format(n).as_bytes())
    }

    /// Appends `/` then `component`, unless the string already ends in `/`
    /// or `component` starts with one.
    pub fn join(&mut self, component: &[u8]) -> &mut Self {
        let ends = self.as_bytes().last() == Some(&b'/');
        let starts = component.first() == Some(&b'/');
        match (ends, starts) {
            (true, true) => self.push(component.get(1..).unwrap_or(&[])),
            (false, false) => self.push(b"/").push(component),
            _ => self.push(component),
        }
    }

    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            if let Some(z) = self.buf.get_mut(len) {
                *z = 0;
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The string, or ENAMETOOLONG if anything did not fit.
    pub fn as_cstr(&self) -> Result<&CStr, Errno> {
        if self.overflow {
            return Err(Errno::NAMETOOLONG);
        }
        if self.len == 0 && N == 0 {
            return Err(Errno::NAMETOOLONG);
        }
        // The byte at `len` is always 0 (push writes it; new() is zeroed).
        CStr::from_bytes_with_nul(self.buf.get(..=self.len).ok_or(Errno::NAMETOOLONG)?).map_err(|_| Errno::NAMETOOLONG)
    }
}

/// A path of up to 4095 bytes (PATH_MAX).
pub type PathBuf = CBuf<4096>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_joins() {
        let mut p = CBuf::<64>::from(b"/proc");
        p.join(b"123").join(b"/ns/").join(b"net");
        assert_eq!(p.as_bytes(), b"/proc/123/ns/net");
        assert_eq!(p.as_cstr().unwrap().to_bytes(), b"/proc/123/ns/net");
        let mut q = CBuf::<64>::from(b"/sys/");
        q.push_u64(42).push(b"/").push_i64(-3);
        assert_eq!(q.as_bytes(), b"/sys/42/-3");
        q.truncate(4);
        assert_eq!(q.as_cstr().unwrap().to_bytes(), b"/sys");
    }

    #[test]
    fn overflow_and_nul_are_errors() {
        let mut p = CBuf::<8>::from(b"1234567");
        assert!(p.as_cstr().is_ok());
        p.push(b"8");
        assert_eq!(p.as_cstr(), Err(Errno::NAMETOOLONG));
        let q = CBuf::<8>::from(b"a\0b");
        assert_eq!(q.as_cstr(), Err(Errno::NAMETOOLONG));
        let e = CBuf::<8>::new();
        assert_eq!(e.as_cstr().unwrap().to_bytes(), b"");
    }
}
