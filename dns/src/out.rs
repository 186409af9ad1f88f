//! A bounded writer over a caller's buffer: what every text and binary
//! formatter of this crate writes into. Nothing here can panic: a write that
//! does not fit is dropped whole and remembered as an overflow.

/// Writes bytes into a fixed buffer, never past its end.
pub struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Out<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Out {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A write did not fit since the last [`Out::truncate`].
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// What has been written.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Forgets everything after `len` bytes (and any overflow): undoes a
    /// partial entry.
    pub fn truncate(&mut self, len: usize) {
        if len <= self.len {
            self.len = len;
        }
        self.overflow = false;
    }

    /// Overwrites bytes already written, from `at` (nothing if they were
    /// not all written).
    pub fn patch(&mut self, at: usize, bytes: &[u8]) {
        let Some(end) = at.checked_add(bytes.len()) else {
            return;
        };
        if end <= self.len {
            if let Some(dst) = self.buf.get_mut(at..end) {
                copy(dst, bytes);
            }
        }
    }

    /// Appends one byte.
    pub fn push(&mut self, b: u8) {
        self.extend(&[b]);
    }

    /// Appends `bytes`, or nothing if they do not all fit.
    pub fn extend(&mut self, bytes: &[u8]) {
        let Some(end) = self.len.checked_add(bytes.len()) else {
            self.overflow = true;
            return;
        };
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                copy(dst, bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
    }

    /// Appends `n` in decimal.
    pub fn decimal(&mut self, mut n: u32) {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0'.wrapping_add((n % 10) as u8);
            n /= 10;
            start = start.saturating_sub(1);
            if n == 0 {
                break;
            }
        }
        self.extend(digits.get(start..).unwrap_or(&[]));
    }

    /// Appends `n` in lower-case hexadecimal without leading zeros (`%x`).
    pub fn hex(&mut self, n: u16) {
        let mut started = false;
        for shift in [12u32, 8, 4, 0] {
            let d = (n.wrapping_shr(shift) & 0xf) as u8;
            if d != 0 || started || shift == 0 {
                started = true;
                self.push(if d < 10 {
                    b'0'.wrapping_add(d)
                } else {
                    b'a'.wrapping_add(d.wrapping_sub(10))
                });
            }
        }
    }
}

/// Copies what fits of `src` into `dst` (`copy_from_slice` without its
/// length-mismatch panic).
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_refuses_overflow_whole() {
        let mut buf = [0u8; 8];
        let mut o = Out::new(&mut buf);
        o.extend(b"abc");
        o.decimal(0);
        o.decimal(4_294_967_295);
        assert!(o.overflowed());
        assert_eq!(o.written(), b"abc0");
        o.truncate(3);
        assert!(!o.overflowed());
        o.hex(0x0a0f);
        o.hex(0);
        assert_eq!(o.written(), b"abca0f0");
    }
}
