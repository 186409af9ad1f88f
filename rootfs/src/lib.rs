//! Host-side image building for keel (initramfs, program closures, modules).
