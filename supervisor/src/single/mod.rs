//! Container-init mode: `keel [OPTIONS] -- PROGRAM [ARGS…]`.

/// Runs container-init mode with the process's argv; returns the exit status.
pub fn run() -> i32 {
    keel_rt::error!("keel: container-init mode is not built yet");
    70
}
