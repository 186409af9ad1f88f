//! `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp` and `strlen` for the static
//! binaries: compiler_builtins does not export them on the -gnu target. On
//! x86_64 they are `rep movsb`/`rep stosb` in asm so LLVM cannot turn them
//! back into calls to themselves; elsewhere volatile byte loops do that job.

#[cfg(target_arch = "x86_64")]
mod imp {
    /// # Safety
    /// `n` bytes readable at `src` and writable at `dst`, not overlapping.
    #[no_mangle]
    pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract; rep movsb copies exactly rcx bytes forwards (DF is clear per the ABI).
        unsafe {
            core::arch::asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _,
                inout("rsi") src => _, options(nostack, preserves_flags));
        }
        dst
    }

    /// # Safety
    /// `n` bytes readable at `src` and writable at `dst`; may overlap.
    #[no_mangle]
    pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        if (dst as usize).wrapping_sub(src as usize) >= n {
            // SAFETY: dst is not inside (src, src+n): a forward copy is correct.
            unsafe { memcpy(dst, src, n) }
        } else {
            // SAFETY: overlapping with dst above src: copy backwards with DF set, restored before returning.
            unsafe {
                core::arch::asm!("std", "rep movsb", "cld",
                    inout("rcx") n => _, inout("rdi") dst.add(n).wrapping_sub(1) => _,
                    inout("rsi") src.add(n).wrapping_sub(1) => _, options(nostack));
            }
            dst
        }
    }

    /// # Safety
    /// `n` bytes writable at `dst`.
    #[no_mangle]
    pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract; rep stosb writes exactly rcx bytes.
        unsafe {
            core::arch::asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _,
                in("al") c as u8, options(nostack, preserves_flags));
        }
        dst
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    /// # Safety
    /// `n` bytes readable at `src` and writable at `dst`, not overlapping.
    #[no_mangle]
    pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        let mut i = 0;
        while i < n {
            // SAFETY: i < n, within both buffers; volatile keeps LLVM from recognising the loop as a memcpy call.
            unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
            i += 1;
        }
        dst
    }

    /// # Safety
    /// `n` bytes readable at `src` and writable at `dst`; may overlap.
    #[no_mangle]
    pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        if (dst as usize) <= (src as usize) {
            // SAFETY: forward copy is correct when dst is below src.
            unsafe { memcpy(dst, src, n) }
        } else {
            let mut i = n;
            while i > 0 {
                i -= 1;
                // SAFETY: i < n; backward copy is correct when dst is above src.
                unsafe { core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i))) };
            }
            dst
        }
    }

    /// # Safety
    /// `n` bytes writable at `dst`.
    #[no_mangle]
    pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
        let mut i = 0;
        while i < n {
            // SAFETY: i < n, within the buffer.
            unsafe { core::ptr::write_volatile(dst.add(i), c as u8) };
            i += 1;
        }
        dst
    }
}

/// # Safety
/// `n` bytes readable at `a` and at `b`.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n, within both buffers.
        let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

/// # Safety
/// `n` bytes readable at `a` and at `b`.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

pub use imp::*;

/// # Safety
/// `s` points to a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees a NUL within the readable string.
    while unsafe { core::ptr::read_volatile(s.add(n)) } != 0 {
        n += 1;
    }
    n
}
