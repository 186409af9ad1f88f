//! Host-side image building for keel: initramfs images (cpio newc, plain or
//! compressed, reproducible), dynamically linked programs copied with their ELF
//! interpreter and libraries, kernel modules with their dependencies, and Debian's
//! kernel fetched for the VM tests.
//!
//! ```no_run
//! use keel_rootfs::{Compression, Image, ModuleTree};
//! # fn main() -> keel_rootfs::Result<()> {
//! let modules = ModuleTree::open("/lib/modules/6.1.0-57-amd64")?.resolve(&["nfsv4"])?;
//! let mut img = Image::new();
//! img.boot_skeleton()
//!     .file_host("/init", "target/release/keel", Some(0o755))?
//!     .add_program("/usr/bin/keyctl")?
//!     .add_modules(&modules)?
//!     .dir("/srv", 0o755)
//!     .symlink("/sbin/request-key", "/init");
//! img.write_file("initramfs.cpio", Compression::None)?;
//! # Ok(()) }
//! ```
//!
//! A floor-1 crate of keel: it uses nothing else of keel.

pub mod cpio;
pub mod elf;
pub mod error;
pub mod hostpath;
pub mod image;
pub mod kernel;
pub mod ldso;
pub mod modules;

pub use cpio::Compression;
pub use error::{Error, Result};
pub use image::Image;
pub use kernel::{fetch_debian_kernel, KernelTree};
pub use ldso::{Closure, Resolver};
pub use modules::{ModuleSet, ModuleTree};

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory removed when dropped.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "keel-rootfs-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
