//! The cpio "newc" format, as the kernel's initramfs unpacker reads it
//! (init/initramfs.c) and as the kernel's own usr/gen_init_cpio writes it.
//!
//! An entry is a 110-byte ASCII header (`070701` and thirteen 8-digit hex fields),
//! the NUL-terminated name, zero padding up to a multiple of 4 counted from the start
//! of the archive, the data, and zero padding up to a multiple of 4 again. The archive
//! ends with an entry named `TRAILER!!!`; like gen_init_cpio, the writer then pads the
//! archive to a multiple of 512 bytes. The kernel skips zero bytes between archives, so
//! archives (plain or compressed) may be concatenated.
//!
//! [`Writer`] writes entries; [`parse`] reads an archive back (plain, gzip or zstd,
//! concatenated or not) with a total parser, for `keel-rootfs list` and the tests.

use std::io::{self, BufRead, Read, Write};

use crate::error::{Error, Result};

/// The newc magic.
pub const MAGIC: &[u8; 6] = b"070701";
/// The length of a newc header.
pub const HEADER_LEN: usize = 110;
/// Longest name (with its NUL) and link target the kernel's unpacker accepts.
pub const PATH_MAX: usize = 4096;
/// The name of the last entry of an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// File type bits of `mode`, as in `<sys/stat.h>`.
pub const S_IFMT: u32 = 0o170000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;

/// The numeric fields of a newc header, except `namesize` and `check` (the writer
/// computes the first and writes 0 for the second).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub ino: u32,
    /// File type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    /// The device the file lives on (ignored by the kernel; 0 here).
    pub dev_major: u32,
    pub dev_minor: u32,
    /// For device nodes: the device the node stands for.
    pub rdev_major: u32,
    pub rdev_minor: u32,
}

/// Padding needed after `offset` bytes to reach a multiple of `align`.
fn pad(offset: u64, align: u64) -> usize {
    ((align - offset % align) % align) as usize
}

/// Writes a newc archive entry by entry, keeping the stream offset so that
/// padding is counted from the start of the archive as the kernel counts it.
pub struct Writer<W: Write> {
    w: W,
    offset: u64,
}

impl<W: Write> Writer<W> {
    /// A writer at offset 0.
    pub fn new(w: W) -> Self {
        Writer { w, offset: 0 }
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.offset += b.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, align: u64) -> io::Result<()> {
        let n = pad(self.offset, align);
        self.put(&[0u8; 512][..n])
    }

    /// One entry: header, name (given without a leading `/`, written with its NUL),
    /// padding, exactly `h.filesize` bytes from `data`, padding. Fails if `data` ends
    /// early or the name contains a NUL.
    pub fn entry(&mut self, name: &[u8], h: &Header, data: &mut dyn Read) -> io::Result<()> {
        if name.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "NUL byte in a cpio entry name",
            ));
        }
        // The kernel refuses longer names, and skips longer link targets (init/initramfs.c).
        if name.len() + 1 > PATH_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "name of {} bytes: the kernel takes at most {PATH_MAX} with the NUL",
                    name.len()
                ),
            ));
        }
        if h.mode & S_IFMT == S_IFLNK && h.filesize as usize > PATH_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "symbolic link target of {} bytes: the kernel takes at most {PATH_MAX}",
                    h.filesize
                ),
            ));
        }
        let namesize = (name.len() + 1) as u32;

        let mut hdr = Vec::with_capacity(HEADER_LEN);
        hdr.extend_from_slice(MAGIC);
        for v in [
            h.ino,
            h.mode,
            h.uid,
            h.gid,
            h.nlink,
            h.mtime,
            h.filesize,
            h.dev_major,
            h.dev_minor,
            h.rdev_major,
            h.rdev_minor,
            namesize,
            0,
        ] {
            hdr.extend_from_slice(format!("{v:08X}").as_bytes());
        }
        debug_assert_eq!(hdr.len(), HEADER_LEN);
        self.put(&hdr)?;
        self.put(name)?;
        self.put(&[0])?;
        self.pad_to(4)?;
        let want = u64::from(h.filesize);
        let copied = io::copy(&mut data.take(want), &mut CountingWrite { w: &mut self.w })?;
        self.offset += copied;
        if copied != want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("cpio entry data ended after {copied} of {want} bytes (did the file change?)"),
            ));
        }
        self.pad_to(4)
    }

    /// The `TRAILER!!!` entry and padding to a multiple of 512 bytes; returns the
    /// inner writer and the archive's length.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let h = Header {
            nlink: 1,
            ..Header::default()
        };
        self.entry(TRAILER.as_bytes(), &h, &mut io::empty())?;
        self.pad_to(512)?;
        Ok((self.w, self.offset))
    }
}

struct CountingWrite<'a, W: Write> {
    w: &'a mut W,
}

impl<W: Write> Write for CountingWrite<'_, W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.w.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// How an image is compressed. The Debian kernel decompresses gzip, xz, lz4 and zstd
/// initramfs images; an uncompressed one is the fastest to boot under emulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// gzip, level 0–9 (header with mtime 0 and no name: reproducible).
    Gzip {
        level: u32,
    },
    /// zstd, level 1–22, single-threaded (reproducible), with a content checksum.
    Zstd {
        level: i32,
    },
}

impl Compression {
    /// gzip -9, as the kernel build compresses its own initramfs.
    pub const GZIP: Compression = Compression::Gzip { level: 9 };
    /// zstd -19.
    pub const ZSTD: Compression = Compression::Zstd { level: 19 };

    /// Parses `none`, `gzip`, `gzip:N`, `zstd`, `zstd:N`.
    pub fn parse(s: &str) -> Result<Self> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad = || Error::new(format!("compression {s:?}: expected none, gzip[:0-9] or zstd[:1-22]"));
        match (name, level) {
            ("none", None) => Ok(Compression::None),
            ("gzip" | "gz", None) => Ok(Compression::GZIP),
            ("zstd" | "zst", None) => Ok(Compression::ZSTD),
            ("gzip" | "gz", Some(l)) => match l.parse::<u32>() {
                Ok(level) if level <= 9 => Ok(Compression::Gzip { level }),
                _ => Err(bad()),
            },
            ("zstd" | "zst", Some(l)) => match l.parse::<i32>() {
                Ok(level) if (1..=22).contains(&level) => Ok(Compression::Zstd { level }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// Wraps `w` in the compressor. Call [`Encoder::finish`] at the end.
    pub fn encoder<'a, W: Write + 'a>(self, w: W) -> io::Result<Encoder<'a, W>> {
        Ok(match self {
            Compression::None => Encoder::None(w),
            Compression::Gzip { level } => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(3)
                    .write(w, flate2::Compression::new(level)),
            ),
            Compression::Zstd { level } => {
                let mut e = zstd::stream::write::Encoder::new(w, level)?;
                e.include_checksum(true)?;
                Encoder::Zstd(e)
            }
        })
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Compression::parse(s)
    }
}

/// A compressing writer (see [`Compression::encoder`]).
pub enum Encoder<'a, W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'a, W>),
}

impl<W: Write> Encoder<'_, W> {
    /// Ends the compressed stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(b),
            Encoder::Gzip(e) => e.write(b),
            Encoder::Zstd(e) => e.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

/// An entry read back from an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored (without the NUL).
    pub name: Vec<u8>,
    pub header: Header,
    /// The data: file contents, or a symlink's target.
    pub data: Vec<u8>,
    /// Offset of the header in the (decompressed) segment it came from.
    pub offset: usize,
}

impl Entry {
    /// The name, lossily as text.
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
    /// The file type bits.
    pub fn file_type(&self) -> u32 {
        self.header.mode & S_IFMT
    }
}

/// What compression a buffer starts with, by magic number.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(MAGIC) || b.starts_with(b"070702") {
        Some("cpio")
    } else if b.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else if b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if b.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
        Some("lz4")
    } else if b.starts_with(b"BZh") {
        Some("bzip2")
    } else {
        None
    }
}

/// Reads every entry of an archive: plain or compressed with gzip or zstd, and any
/// number of archives concatenated with zero padding between them, as the kernel
/// accepts them. The trailers are not returned. A total parser: malformed input is
/// an error that names the offset, never a panic.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    parse_into(bytes, &mut out, 0)?;
    Ok(out)
}

fn parse_into(mut b: &[u8], out: &mut Vec<Entry>, depth: u32) -> Result<()> {
    if depth > 16 {
        return Err(Error::new("cpio: compressed segments nested too deeply"));
    }
    loop {
        // The kernel skips zero bytes between archives.
        let zeros = b.iter().take_while(|&&c| c == 0).count();
        b = &b[zeros..];
        if b.is_empty() {
            return Ok(());
        }
        match sniff(b) {
            Some("cpio") => {
                let used = parse_one(b, out)?;
                b = &b[used..];
            }
            Some("gzip") => {
                let mut rest = b;
                let mut data = Vec::new();
                flate2::bufread::GzDecoder::new(&mut rest)
                    .read_to_end(&mut data)
                    .map_err(|e| Error::io("cpio: gzip segment", e))?;
                parse_into(&data, out, depth + 1)?;
                b = rest;
            }
            Some("zstd") => {
                let mut rest = b;
                let mut data = Vec::new();
                {
                    let mut d = zstd::stream::read::Decoder::with_buffer(&mut rest)
                        .map_err(|e| Error::io("cpio: zstd segment", e))?
                        .single_frame();
                    d.read_to_end(&mut data)
                        .map_err(|e| Error::io("cpio: zstd segment", e))?;
                }
                parse_into(&data, out, depth + 1)?;
                b = rest;
            }
            Some(other) => {
                return Err(Error::new(format!(
                    "cpio: a {other} segment: not supported here (decompress it first)"
                )))
            }
            None => return Err(Error::new("cpio: not a newc archive (no 070701 magic)")),
        }
    }
}

fn hex_field(h: &[u8], i: usize, at: usize) -> Result<u32> {
    let f = h
        .get(6 + i * 8..6 + i * 8 + 8)
        .ok_or_else(|| Error::new(format!("cpio: truncated header at offset {at}")))?;
    let s = std::str::from_utf8(f).map_err(|_| Error::new(format!("cpio: bad header field at offset {at}")))?;
    u32::from_str_radix(s, 16).map_err(|_| Error::new(format!("cpio: bad header field {s:?} at offset {at}")))
}

/// Parses one archive up to and including its trailer; returns the bytes used.
fn parse_one(b: &[u8], out: &mut Vec<Entry>) -> Result<usize> {
    let mut off = 0usize;
    loop {
        let at = off;
        let h = b
            .get(off..off + HEADER_LEN)
            .ok_or_else(|| Error::new(format!("cpio: truncated header at offset {at}")))?;
        if &h[..6] != MAGIC {
            if &h[..6] == b"070702" {
                return Err(Error::new(format!(
                    "cpio: crc format (070702) at offset {at}: only newc is read"
                )));
            }
            return Err(Error::new(format!("cpio: bad magic at offset {at}")));
        }
        let f = |i| hex_field(h, i, at);
        let header = Header {
            ino: f(0)?,
            mode: f(1)?,
            uid: f(2)?,
            gid: f(3)?,
            nlink: f(4)?,
            mtime: f(5)?,
            filesize: f(6)?,
            dev_major: f(7)?,
            dev_minor: f(8)?,
            rdev_major: f(9)?,
            rdev_minor: f(10)?,
        };
        let namesize = f(11)? as usize;
        off += HEADER_LEN;
        let name_end = off
            .checked_add(namesize)
            .filter(|&e| e <= b.len() && namesize > 0)
            .ok_or_else(|| Error::new(format!("cpio: bad or truncated name at offset {at}")))?;
        let raw = &b[off..name_end];
        if raw.last() != Some(&0) {
            return Err(Error::new(format!("cpio: name not NUL-terminated at offset {at}")));
        }
        let name = raw[..raw.len() - 1].to_vec();
        off = name_end;
        off += pad(off as u64, 4);
        let data_end = off
            .checked_add(header.filesize as usize)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| Error::new(format!("cpio: truncated data of entry at offset {at}")))?;
        let data = b[off..data_end].to_vec();
        off = data_end;
        off += pad(off as u64, 4);
        if name == TRAILER.as_bytes() {
            return Ok(off.min(b.len()));
        }
        out.push(Entry {
            name,
            header,
            data,
            offset: at,
        });
        if off > b.len() {
            return Err(Error::new(format!(
                "cpio: archive ends without {TRAILER} after offset {at}"
            )));
        }
    }
}

/// Reads a whole (possibly compressed) archive from a reader.
pub fn read(r: &mut dyn BufRead) -> Result<Vec<Entry>> {
    let mut b = Vec::new();
    r.read_to_end(&mut b)
        .map_err(|e| Error::io("cpio: reading the archive", e))?;
    parse(&b)
}

/// `ls -l`-style permission string for a mode, e.g. `drwxr-xr-x`.
pub fn mode_string(mode: u32) -> String {
    let t = match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFLNK => 'l',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFSOCK => 's',
        S_IFREG => '-',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        let on = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        s.push(match (special, on, i) {
            (true, true, 8) => 't',
            (true, false, 8) => 'T',
            (true, true, _) => 's',
            (true, false, _) => 'S',
            (false, true, _) => *c,
            (false, false, _) => '-',
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, Header, &[u8])]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        for (n, h, d) in entries {
            w.entry(n.as_bytes(), h, &mut &d[..]).unwrap();
        }
        w.finish().unwrap().0
    }

    #[test]
    fn layout_matches_the_kernel() {
        let h = Header {
            ino: 1,
            mode: S_IFREG | 0o644,
            nlink: 1,
            filesize: 3,
            ..Header::default()
        };
        let a = archive(&[("a", h, b"xyz")]);
        // header 110 + "a\0" = 112 (aligned), data 3 + 1 pad = 116, then the trailer.
        assert_eq!(&a[..6], MAGIC);
        assert_eq!(&a[110..112], b"a\0");
        assert_eq!(&a[112..116], b"xyz\0");
        assert_eq!(&a[116..122], MAGIC);
        // trailer: 110 + 11 = 121 -> 124, then zero padding to 512.
        assert_eq!(&a[116 + 110..116 + 121], b"TRAILER!!!\0");
        assert_eq!(a.len(), 512);
        assert!(a[116 + 121..].iter().all(|&c| c == 0));
        // The header is upper-case hex, as gen_init_cpio writes it.
        assert_eq!(&a[6..14], b"00000001");
        assert_eq!(&a[14..22], b"000081A4");
        let e = parse(&a).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, b"a");
        assert_eq!(e[0].data, b"xyz");
        assert_eq!(e[0].header, h);
    }

    #[test]
    fn every_header_is_four_byte_aligned() {
        let mut entries = Vec::new();
        let names: Vec<String> = (0..9).map(|i| "n".repeat(i + 1)).collect();
        for (i, n) in names.iter().enumerate() {
            let h = Header {
                ino: i as u32 + 1,
                mode: S_IFREG | 0o600,
                nlink: 1,
                filesize: i as u32,
                ..Header::default()
            };
            entries.push((n.as_str(), h, &b"0123456789"[..i]));
        }
        let a = archive(&entries);
        let got = parse(&a).unwrap();
        assert_eq!(got.len(), 9);
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.offset % 4, 0);
            assert_eq!(e.data.len(), i);
        }
    }

    #[test]
    fn short_data_is_an_error() {
        let mut w = Writer::new(Vec::new());
        let h = Header {
            mode: S_IFREG,
            filesize: 10,
            ..Header::default()
        };
        assert!(w.entry(b"x", &h, &mut &b"abc"[..]).is_err());
        assert!(w.entry(b"a\0b", &Header::default(), &mut io::empty()).is_err());
        assert!(w
            .entry(&[b'x'; PATH_MAX], &Header::default(), &mut io::empty())
            .is_err());
        let long = [b'y'; PATH_MAX + 1];
        let h = Header {
            mode: S_IFLNK | 0o777,
            filesize: long.len() as u32,
            ..Header::default()
        };
        assert!(w.entry(b"l", &h, &mut &long[..]).is_err());
    }

    #[test]
    fn concatenated_and_compressed_segments() {
        let h = |ino, n: usize| Header {
            ino,
            mode: S_IFREG | 0o644,
            nlink: 1,
            filesize: n as u32,
            ..Header::default()
        };
        let a = archive(&[("one", h(1, 1), b"1")]);
        let b = archive(&[("two", h(2, 2), b"22")]);
        let c = archive(&[("three", h(3, 3), b"333")]);
        let mut all = a.clone();
        let mut e = Compression::GZIP.encoder(Vec::new()).unwrap();
        e.write_all(&b).unwrap();
        all.extend(e.finish().unwrap());
        all.extend([0u8; 4]);
        let mut e = Compression::Zstd { level: 3 }.encoder(Vec::new()).unwrap();
        e.write_all(&c).unwrap();
        all.extend(e.finish().unwrap());
        all.extend_from_slice(&a);
        let names: Vec<_> = parse(&all).unwrap().into_iter().map(|e| e.name_str()).collect();
        assert_eq!(names, ["one", "two", "three", "one"]);
    }

    #[test]
    fn parser_is_total() {
        let h = Header {
            ino: 1,
            mode: S_IFREG | 0o644,
            nlink: 1,
            filesize: 5,
            ..Header::default()
        };
        let a = archive(&[("file", h, b"hello"), ("other", h, b"world")]);
        // Every truncation and many single-byte corruptions: errors, no panics.
        for n in 0..a.len() {
            let _ = parse(&a[..n]);
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut b = a.clone();
            let i = x as usize % b.len();
            b[i] = (x >> 8) as u8;
            let _ = parse(&b);
        }
        assert!(parse(b"garbage").is_err());
    }

    #[test]
    fn compression_names() {
        assert_eq!(Compression::parse("none").unwrap(), Compression::None);
        assert_eq!(Compression::parse("gzip:1").unwrap(), Compression::Gzip { level: 1 });
        assert_eq!(Compression::parse("zstd").unwrap(), Compression::ZSTD);
        assert!(Compression::parse("zstd:99").is_err());
        assert!(Compression::parse("xz").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(mode_string(S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(S_IFCHR | 0o600), "crw-------");
    }
}
