//! The process arguments and environment, as the kernel laid them on the
//! initial stack. Recorded once by the entry point; readable anywhere after.

use core::ffi::CStr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::Relaxed};

static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicPtr<*const u8> = AtomicPtr::new(core::ptr::null_mut());
static ENVP: AtomicPtr<*const u8> = AtomicPtr::new(core::ptr::null_mut());

/// Records argv and envp.
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings followed by a
/// null pointer, and `envp` to a null-terminated array of NUL-terminated
/// strings, all living for the rest of the process (the kernel's initial
/// stack satisfies this).
pub unsafe fn init(argc: usize, argv: *const *const u8, envp: *const *const u8) {
    ARGC.store(argc, Relaxed);
    ARGV.store(argv as *mut _, Relaxed);
    ENVP.store(envp as *mut _, Relaxed);
}

/// The raw `argv` pointer (null-terminated), for execve of ourselves.
pub fn argv_ptr() -> *const *const u8 {
    ARGV.load(Relaxed)
}

/// The raw `envp` pointer (null-terminated), for execve.
pub fn envp_ptr() -> *const *const u8 {
    ENVP.load(Relaxed)
}

/// Number of arguments, program name included.
pub fn len() -> usize {
    if ARGV.load(Relaxed).is_null() {
        0
    } else {
        ARGC.load(Relaxed)
    }
}

/// Argument `i` (0 is the program name), without its NUL.
pub fn get(i: usize) -> Option<&'static [u8]> {
    get_cstr(i).map(CStr::to_bytes)
}

/// Argument `i` as a C string.
pub fn get_cstr(i: usize) -> Option<&'static CStr> {
    if i >= len() {
        return None;
    }
    let argv = ARGV.load(Relaxed);
    // SAFETY: `init` was given argc valid string pointers; i < argc.
    unsafe {
        let p = *argv.add(i);
        if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p.cast()))
        }
    }
}

/// Iterates over the arguments, program name first.
pub fn iter() -> impl Iterator<Item = &'static [u8]> {
    (0..len()).filter_map(get)
}

/// Iterates over the environment's `NAME=value` strings.
pub fn env_iter() -> EnvIter {
    EnvIter { p: ENVP.load(Relaxed) }
}

pub struct EnvIter {
    p: *const *const u8,
}

impl Iterator for EnvIter {
    type Item = &'static CStr;
    fn next(&mut self) -> Option<&'static CStr> {
        if self.p.is_null() {
            return None;
        }
        // SAFETY: `init` was given a null-terminated array of valid strings; we stop at the null entry and never step past it.
        unsafe {
            let s = *self.p;
            if s.is_null() {
                self.p = core::ptr::null();
                return None;
            }
            self.p = self.p.add(1);
            Some(CStr::from_ptr(s.cast()))
        }
    }
}

/// The value of environment variable `name`, if set.
pub fn env(name: &[u8]) -> Option<&'static [u8]> {
    env_iter().find_map(|kv| env_value(kv.to_bytes(), name))
}

/// `value` if `kv` is `name=value`.
pub fn env_value<'a>(kv: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = kv.strip_prefix(name)?;
    rest.strip_prefix(b"=")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn env_value_matches_whole_name_only() {
        assert_eq!(env_value(b"PATH=/bin", b"PATH"), Some(&b"/bin"[..]));
        assert_eq!(env_value(b"PATHX=/bin", b"PATH"), None);
        assert_eq!(env_value(b"PATH", b"PATH"), None);
        assert_eq!(env_value(b"A=", b"A"), Some(&b""[..]));
    }
}
