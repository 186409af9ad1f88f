//! The panic handler of the static binaries (`panic` feature) and its
//! per-mode hook.
//!
//! A panic writes `keel: panic: MESSAGE at FILE:LINE` through the log sink
//! (core::fmt is used here and nowhere else), then runs the hook the binary
//! registered for its mode: boot mode re-executes keel with `--resume`
//! (PID 1 must never exit); other modes end the process with status 101.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

static HOOK: AtomicUsize = AtomicUsize::new(0);
static PANICKING: AtomicBool = AtomicBool::new(false);

/// What runs after the panic message is logged. It must not return.
pub type Hook = fn() -> !;

/// Registers the after-panic action for this process.
pub fn set_hook(h: Hook) {
    HOOK.store(h as usize, Relaxed);
}

/// Runs the registered hook, or exits 101.
pub fn run_hook() -> ! {
    let h = HOOK.load(Relaxed);
    if h != 0 {
        // SAFETY: HOOK only ever holds 0 or a `Hook` stored by set_hook.
        let f: Hook = unsafe { core::mem::transmute::<usize, Hook>(h) };
        f()
    }
    crate::sys::exit_group(101)
}

#[cfg(all(feature = "panic", not(test)))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Relaxed) {
        // A panic inside the hook or the message: no second attempt.
        crate::sys::exit_group(101);
    }
    let mut w = FmtLine(crate::line::Line::new());
    let _ = core::fmt::write(&mut w, format_args!("keel: panic: {}", info.message()));
    if let Some(loc) = info.location() {
        let _ = core::fmt::write(&mut w, format_args!(" at {}:{}", loc.file(), loc.line()));
    }
    crate::log::emit(crate::log::Level::Err, w.0.as_bytes());
    run_hook()
}

#[cfg(all(feature = "panic", not(test)))]
struct FmtLine(crate::line::Line);

#[cfg(all(feature = "panic", not(test)))]
impl core::fmt::Write for FmtLine {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.str(s);
        Ok(())
    }
}

/// True once a panic has started (for code that must not log again).
pub fn panicking() -> bool {
    PANICKING.load(Relaxed)
}
