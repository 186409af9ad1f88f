//! The program entry: `_start` takes the kernel's initial stack
//! (argc, argv…, NULL, envp…, NULL, auxv…), records argv/envp, hands envp to
//! rustix (its explicitly-provided auxv: the default path reads
//! /proc/self/auxv and panics before /proc exists), then calls the binary's
//! `rt_main`, which [`crate::entry!`] defines.

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {start}",
    "ud2",
    start = sym start_rust,
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "and sp, x0, #-16",
    "bl {start}",
    "udf #0",
    start = sym start_rust,
);

extern "Rust" {
    /// Defined by the binary through [`crate::entry!`].
    fn rt_main() -> i32;
}

/// # Safety
/// Called once, from `_start`, with the kernel's initial stack pointer.
unsafe extern "C" fn start_rust(sp: *const usize) -> ! {
    // SAFETY: the kernel's initial stack layout (ELF ABI): argc at sp, then argc argv pointers and a NULL, then envp pointers and a NULL.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        crate::args::init(argc, argv, envp);
        rustix::param::init(envp as *mut *mut u8);
        let code = rt_main();
        crate::sys::exit_group(code)
    }
}

/// Declares the binary's main function: `rt::entry!(main);` where
/// `fn main() -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        fn rt_main() -> i32 {
            $main()
        }
    };
}
