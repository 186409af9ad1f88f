// Link the static binary without libc: our own _start (rt), no start files,
// no default libraries, not position-independent (nothing would relocate it).
// These are bin-only link args: target rustflags would also hit build scripts.
fn main() {
    for a in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--gc-sections",
        "-Wl,--build-id=none",
        "-Wl,-z,noexecstack",
    ] {
        println!("cargo:rustc-link-arg-bins={a}");
    }
}
