//! Reading the config directory: one spec file per container, the file
//! name is the container name. Files are listed in byte order of their
//! names (readdir order is not stable), read whole into a SpecBuf, and
//! hashed (FNV-1a) so reload can tell changed files from unchanged ones.

use crate::spec::{valid_name, SpecBuf, SPEC_FILE_MAX};
use crate::table::{Name, MAX_CONTAINERS};
use core::mem::MaybeUninit;
use heapless::Vec;
use keel_rt::path::CBuf;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Names in the directory, sorted; at most MAX_CONTAINERS (more is an error
/// reported by the caller through `overflow`).
pub struct Listing {
    pub names: Vec<Name, MAX_CONTAINERS>,
    /// Files skipped because their name is not a valid container name.
    pub skipped: u32,
    /// Valid names that did not fit in the table.
    pub overflow: u32,
}

pub fn open_dir(path: &[u8]) -> Result<OwnedFd, Errno> {
    let p = CBuf::<4096>::from(path);
    rustix::fs::openat(
        rustix::fs::CWD,
        p.as_cstr()?,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Lists the spec files of `dir`. Hidden files, editor leftovers (`~`,
/// `.swp`) and anything that is not a valid name are skipped.
pub fn list(dir: &OwnedFd) -> Result<Listing, Errno> {
    let mut out = Listing {
        names: Vec::new(),
        skipped: 0,
        overflow: 0,
    };
    // Re-open "." so each listing starts at the beginning.
    let d = rustix::fs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut it = rustix::fs::RawDir::new(&d, &mut buf);
    while let Some(ent) = it.next() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n.first() == Some(&b'.') {
            continue;
        }
        if !valid_name(n) {
            out.skipped += 1;
            continue;
        }
        let Ok(name) = Name::from_slice(n) else {
            out.skipped += 1;
            continue;
        };
        if out.names.push(name).is_err() {
            out.overflow += 1;
        }
    }
    out.names.sort_unstable();
    Ok(out)
}

/// Reads `dir/name` into `buf`. EFBIG when larger than SPEC_FILE_MAX.
pub fn read(dir: &OwnedFd, name: &[u8], buf: &mut SpecBuf) -> Result<(), Errno> {
    let n = CBuf::<80>::from(name);
    let fd = rustix::fs::openat(
        dir.as_fd(),
        n.as_cstr()?,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    let dst = buf.bytes.get_mut(..SPEC_FILE_MAX).ok_or(Errno::FBIG)?;
    buf.len = keel_rt::fs::read_fd_into(&fd, dst)?;
    Ok(())
}

/// FNV-1a, 64 bits: enough to notice an edited file.
pub fn hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_sorted_valid_names_and_reads() {
        let d = std::env::temp_dir().join(format!("keel-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for n in ["web", "db", ".hidden", "bad name", "keel", "a.b", "x~"] {
            std::fs::write(d.join(n), format!("args /bin/{n}\n")).unwrap();
        }
        let fd = open_dir(d.to_str().unwrap().as_bytes()).unwrap();
        let l = list(&fd).unwrap();
        let names: std::vec::Vec<&[u8]> = l.names.iter().map(|n| n.as_slice()).collect();
        assert_eq!(names, [&b"a.b"[..], b"db", b"web"]);
        assert_eq!(l.skipped, 3);
        let mut buf = SpecBuf::new();
        read(&fd, b"web", &mut buf).unwrap();
        assert_eq!(&buf.bytes[..buf.len], b"args /bin/web\n");
        assert_eq!(read(&fd, b"nope", &mut buf), Err(Errno::NOENT));
        std::fs::write(d.join("big"), vec![b'#'; SPEC_FILE_MAX + 1]).unwrap();
        assert_eq!(read(&fd, b"big", &mut buf), Err(Errno::FBIG));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn hash_differs() {
        assert_ne!(hash(b"args a"), hash(b"args b"));
        assert_eq!(hash(b""), 0xcbf29ce484222325);
    }
}
