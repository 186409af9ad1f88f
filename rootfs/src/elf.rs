//! A small, total ELF64 reader: just what images need.
//!
//! - program headers: `PT_INTERP` (the program interpreter), `PT_DYNAMIC` (`DT_NEEDED`,
//!   `DT_SONAME`, `DT_RPATH`, `DT_RUNPATH`, with `DT_STRTAB` mapped from its virtual
//!   address to a file offset through the `PT_LOAD` segments), `PT_NOTE`;
//! - section headers by name (e.g. a kernel module's `.modinfo`).
//!
//! Every offset, size and count read from the file is checked; a malformed file gives an
//! [`ElfError`], never a panic. Both byte orders are read; ELF32 is refused.

use std::fmt;

/// Why a file could not be read as ELF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// No `\x7fELF` magic.
    NotElf,
    /// Something the reader does not handle (e.g. ELF32).
    Unsupported(String),
    /// A structure lies (partly) outside the file or is inconsistent.
    Malformed(String),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => f.write_str("not an ELF file"),
            ElfError::Unsupported(s) => write!(f, "unsupported ELF: {s}"),
            ElfError::Malformed(s) => write!(f, "malformed ELF: {s}"),
        }
    }
}

impl std::error::Error for ElfError {}

type R<T> = Result<T, ElfError>;

fn bad<T>(what: impl Into<String>) -> R<T> {
    Err(ElfError::Malformed(what.into()))
}

/// `e_type` values.
pub const ET_REL: u16 = 1;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
/// `e_machine` values.
pub const EM_386: u16 = 3;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const EM_RISCV: u16 = 243;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;

const DT_NULL: i64 = 0;
const DT_NEEDED: i64 = 1;
const DT_STRTAB: i64 = 5;
const DT_STRSZ: i64 = 10;
const DT_SONAME: i64 = 14;
const DT_RPATH: i64 = 15;
const DT_RUNPATH: i64 = 29;

/// One program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

/// One section header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionHeader {
    pub sh_name: u32,
    pub sh_type: u32,
    pub sh_offset: u64,
    pub sh_size: u64,
    pub sh_link: u32,
    pub sh_info: u32,
}

/// What the dynamic section says about linking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dynamic {
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
}

/// One note of a `PT_NOTE` segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note<'a> {
    /// The owner name without its NUL, e.g. `b"GNU"` or `b"Xen"`.
    pub name: &'a [u8],
    pub n_type: u32,
    pub desc: &'a [u8],
}

/// What the ELF header alone says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident {
    pub e_type: u16,
    pub machine: u16,
    pub big_endian: bool,
}

/// Reads only the identification and the first fields of an ELF64 header (the first
/// 20 bytes suffice): enough to tell whether a library fits a program.
pub fn identify(data: &[u8]) -> R<Ident> {
    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    let Some(h) = data.get(..20) else {
        return bad("file shorter than the ELF header");
    };
    match h[4] {
        2 => {}
        1 => return Err(ElfError::Unsupported("32-bit ELF (ELFCLASS32)".into())),
        c => return bad(format!("unknown ELF class {c}")),
    }
    let big_endian = match h[5] {
        1 => false,
        2 => true,
        d => return bad(format!("unknown ELF data encoding {d}")),
    };
    let rd = |o: usize| {
        let b = [h[o], h[o + 1]];
        if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    Ok(Ident {
        e_type: rd(16),
        machine: rd(18),
        big_endian,
    })
}

/// A parsed ELF64 file, borrowing its bytes.
#[derive(Clone, Debug)]
pub struct Elf<'a> {
    data: &'a [u8],
    big_endian: bool,
    /// `e_type` (ET_REL, ET_EXEC, ET_DYN, ...).
    pub e_type: u16,
    /// `e_machine` (EM_X86_64, ...).
    pub machine: u16,
    /// `EI_OSABI`.
    pub osabi: u8,
    phdrs: Vec<ProgramHeader>,
    shdrs: Vec<SectionHeader>,
    shstrndx: usize,
}

fn slice<'d>(data: &'d [u8], off: u64, len: u64, what: &str) -> R<&'d [u8]> {
    let start = usize::try_from(off).ok();
    let end = off.checked_add(len).and_then(|e| usize::try_from(e).ok());
    match (start, end) {
        (Some(s), Some(e)) if e <= data.len() => Ok(&data[s..e]),
        _ => bad(format!(
            "{what} (offset {off:#x}, size {len:#x}) lies outside the file ({:#x} bytes)",
            data.len()
        )),
    }
}

/// Byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Endian {
    big: bool,
}

impl Endian {
    fn bytes<const N: usize>(data: &[u8], off: u64) -> R<[u8; N]> {
        let s = slice(data, off, N as u64, "a header field")?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u16(self, data: &[u8], off: u64) -> R<u16> {
        let b = Endian::bytes::<2>(data, off)?;
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(self, data: &[u8], off: u64) -> R<u32> {
        let b = Endian::bytes::<4>(data, off)?;
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(self, data: &[u8], off: u64) -> R<u64> {
        let b = Endian::bytes::<8>(data, off)?;
        Ok(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

/// The fields of the ELF64 file header that locate everything else.
#[derive(Clone, Copy, Debug)]
struct FileHeader {
    endian: Endian,
    e_type: u16,
    machine: u16,
    osabi: u8,
    phoff: u64,
    shoff: u64,
    phentsize: u64,
    phnum: u64,
    shentsize: u64,
    shnum: u64,
    shstrndx: u64,
}

impl FileHeader {
    /// From the first 64 bytes. The counts are as stored (see `fix_counts`).
    fn parse(data: &[u8]) -> R<FileHeader> {
        if data.len() < 4 || &data[..4] != b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        if data.len() < 64 {
            return bad("file shorter than the ELF64 header");
        }
        match data[4] {
            2 => {}
            1 => return Err(ElfError::Unsupported("32-bit ELF (ELFCLASS32)".into())),
            c => return bad(format!("unknown ELF class {c}")),
        }
        let endian = match data[5] {
            1 => Endian { big: false },
            2 => Endian { big: true },
            d => return bad(format!("unknown ELF data encoding {d}")),
        };
        let e = endian;
        let h = FileHeader {
            endian,
            e_type: e.u16(data, 16)?,
            machine: e.u16(data, 18)?,
            osabi: data[7],
            phoff: e.u64(data, 32)?,
            shoff: e.u64(data, 40)?,
            phentsize: u64::from(e.u16(data, 54)?),
            phnum: u64::from(e.u16(data, 56)?),
            shentsize: u64::from(e.u16(data, 58)?),
            shnum: u64::from(e.u16(data, 60)?),
            shstrndx: u64::from(e.u16(data, 62)?),
        };
        if h.shoff != 0 && h.shentsize < 64 {
            return bad(format!(
                "e_shentsize {} is smaller than an ELF64 section header",
                h.shentsize
            ));
        }
        Ok(h)
    }

    /// Section 0 holds the real counts when they overflow the 16-bit fields.
    fn fix_counts(&mut self, s0: &SectionHeader) {
        if self.shnum == 0 {
            self.shnum = s0.sh_size;
        }
        if self.shstrndx == 0xffff {
            self.shstrndx = u64::from(s0.sh_link);
        }
        if self.phnum == 0xffff {
            self.phnum = u64::from(s0.sh_info);
        }
    }

    fn section_table_len(&self) -> R<u64> {
        self.shnum
            .checked_mul(self.shentsize)
            .ok_or_else(|| ElfError::Malformed("section table size overflows".into()))
    }
}

/// Section header `i` of a table that starts at `base` in `data`.
fn section_header(e: Endian, data: &[u8], base: u64, shentsize: u64, i: u64) -> R<SectionHeader> {
    let b = i
        .checked_mul(shentsize)
        .and_then(|x| x.checked_add(base))
        .ok_or_else(|| ElfError::Malformed("section header offset overflows".into()))?;
    Ok(SectionHeader {
        sh_name: e.u32(data, b)?,
        sh_type: e.u32(data, b + 4)?,
        sh_offset: e.u64(data, b + 24)?,
        sh_size: e.u64(data, b + 32)?,
        sh_link: e.u32(data, b + 40)?,
        sh_info: e.u32(data, b + 44)?,
    })
}

/// A NUL-terminated name at `idx` of a string table.
fn name_at(table: &[u8], idx: u32) -> R<&[u8]> {
    let s = table
        .get(idx as usize..)
        .ok_or_else(|| ElfError::Malformed(format!("section name index {idx} outside the name table")))?;
    let end = s
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| ElfError::Malformed("unterminated section name".into()))?;
    Ok(&s[..end])
}

/// Why [`read_section`] failed.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Elf(ElfError),
}

impl From<ElfError> for ReadError {
    fn from(e: ElfError) -> Self {
        ReadError::Elf(e)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => e.fmt(f),
            ReadError::Elf(e) => e.fmt(f),
        }
    }
}

/// One section of an ELF64 file read through positioned reads — the file header, the
/// section header table, the name table and the section — instead of the whole file
/// (a kernel module's `.modinfo` is a few hundred bytes of a file of hundreds of KiB).
/// `read_at(offset, len)` must return exactly `len` bytes; it is never asked for bytes
/// past `file_len`.
pub fn read_section(
    file_len: u64,
    read_at: &mut dyn FnMut(u64, usize) -> std::io::Result<Vec<u8>>,
    name: &str,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut get = |off: u64, len: u64, what: &str| -> Result<Vec<u8>, ReadError> {
        match off.checked_add(len) {
            Some(end) if end <= file_len => read_at(off, len as usize).map_err(ReadError::Io),
            _ => Err(ReadError::Elf(ElfError::Malformed(format!(
                "{what} (offset {off:#x}, size {len:#x}) lies outside the file ({file_len:#x} bytes)"
            )))),
        }
    };
    let head = get(0, file_len.min(64), "the ELF header")?;
    let mut h = FileHeader::parse(&head)?;
    if h.shoff == 0 {
        return Ok(None);
    }
    let s0 = get(h.shoff, h.shentsize, "section header 0")?;
    h.fix_counts(&section_header(h.endian, &s0, 0, h.shentsize, 0)?);
    let table = get(h.shoff, h.section_table_len()?, "the section header table")?;
    if h.shstrndx >= h.shnum {
        return Err(ElfError::Malformed(format!(
            "e_shstrndx {} is not below the section count {}",
            h.shstrndx, h.shnum
        ))
        .into());
    }
    let strs = section_header(h.endian, &table, 0, h.shentsize, h.shstrndx)?;
    let names = get(strs.sh_offset, strs.sh_size, "the section name table")?;
    for i in 0..h.shnum {
        let sh = section_header(h.endian, &table, 0, h.shentsize, i)?;
        if name_at(&names, sh.sh_name)? == name.as_bytes() {
            if sh.sh_type == 8 {
                return Ok(Some(Vec::new()));
            }
            return get(sh.sh_offset, sh.sh_size, "a section").map(Some);
        }
    }
    Ok(None)
}

impl<'a> Elf<'a> {
    /// Parses the ELF header, the program headers and the section headers.
    pub fn parse(data: &'a [u8]) -> R<Elf<'a>> {
        let mut h = FileHeader::parse(data)?;
        let e = h.endian;
        let mut elf = Elf {
            data,
            big_endian: e.big,
            e_type: h.e_type,
            machine: h.machine,
            osabi: h.osabi,
            phdrs: Vec::new(),
            shdrs: Vec::new(),
            shstrndx: 0,
        };
        if h.shoff != 0 {
            h.fix_counts(&section_header(e, data, h.shoff, h.shentsize, 0)?);
            slice(data, h.shoff, h.section_table_len()?, "the section header table")?;
            let mut shdrs = Vec::with_capacity(h.shnum.min(65536) as usize);
            for i in 0..h.shnum {
                shdrs.push(section_header(e, data, h.shoff, h.shentsize, i)?);
            }
            elf.shdrs = shdrs;
            if h.shnum > 0 && h.shstrndx >= h.shnum {
                return bad(format!(
                    "e_shstrndx {} is not below the section count {}",
                    h.shstrndx, h.shnum
                ));
            }
            elf.shstrndx = h.shstrndx as usize;
        }
        if h.phnum > 0 {
            if h.phentsize < 56 {
                return bad(format!(
                    "e_phentsize {} is smaller than an ELF64 program header",
                    h.phentsize
                ));
            }
            let table = h
                .phnum
                .checked_mul(h.phentsize)
                .ok_or_else(|| ElfError::Malformed("program header table size overflows".into()))?;
            slice(data, h.phoff, table, "the program header table")?;
            let mut phdrs = Vec::with_capacity(h.phnum.min(65536) as usize);
            for i in 0..h.phnum {
                let b = h.phoff + i * h.phentsize;
                phdrs.push(ProgramHeader {
                    p_type: e.u32(data, b)?,
                    p_flags: e.u32(data, b + 4)?,
                    p_offset: e.u64(data, b + 8)?,
                    p_vaddr: e.u64(data, b + 16)?,
                    p_filesz: e.u64(data, b + 32)?,
                    p_memsz: e.u64(data, b + 40)?,
                    p_align: e.u64(data, b + 48)?,
                });
            }
            elf.phdrs = phdrs;
        }
        Ok(elf)
    }

    fn endian(&self) -> Endian {
        Endian { big: self.big_endian }
    }
    fn u32_at(&self, off: u64) -> R<u32> {
        self.endian().u32(self.data, off)
    }
    fn u64_at(&self, off: u64) -> R<u64> {
        self.endian().u64(self.data, off)
    }

    /// The whole file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The program headers.
    pub fn program_headers(&self) -> &[ProgramHeader] {
        &self.phdrs
    }

    /// The section headers.
    pub fn section_headers(&self) -> &[SectionHeader] {
        &self.shdrs
    }

    /// The contents of a segment as stored in the file.
    pub fn segment_data(&self, ph: &ProgramHeader) -> R<&'a [u8]> {
        slice(self.data, ph.p_offset, ph.p_filesz, "a segment")
    }

    /// The program interpreter named by `PT_INTERP`, if any.
    pub fn interpreter(&self) -> R<Option<&'a str>> {
        let Some(ph) = self.phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
            return Ok(None);
        };
        let raw = self.segment_data(ph)?;
        let s = raw.split(|&c| c == 0).next().unwrap_or_default();
        if s.is_empty() {
            return bad("empty PT_INTERP");
        }
        std::str::from_utf8(s)
            .map(Some)
            .map_err(|_| ElfError::Malformed("PT_INTERP is not UTF-8".into()))
    }

    /// Maps a virtual address to a file offset through the `PT_LOAD` segments.
    pub fn vaddr_to_offset(&self, vaddr: u64) -> R<u64> {
        for ph in self.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
            if vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz {
                return (vaddr - ph.p_vaddr)
                    .checked_add(ph.p_offset)
                    .ok_or_else(|| ElfError::Malformed("PT_LOAD offset overflows".into()));
            }
        }
        bad(format!("virtual address {vaddr:#x} is in no PT_LOAD segment"))
    }

    /// The dynamic section's linking information, if the file has `PT_DYNAMIC`.
    pub fn dynamic(&self) -> R<Option<Dynamic>> {
        let Some(ph) = self.phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else {
            return Ok(None);
        };
        let raw = self.segment_data(ph)?;
        let mut strtab = None;
        let mut strsz = None;
        let mut needed = Vec::new();
        let (mut soname, mut rpath, mut runpath) = (None, None, None);
        let mut i = 0u64;
        loop {
            if (i + 1) * 16 > raw.len() as u64 {
                break; // no DT_NULL: the segment's end ends the table
            }
            let base = ph.p_offset + i * 16;
            let tag = self.u64_at(base)? as i64;
            let val = self.u64_at(base + 8)?;
            match tag {
                DT_NULL => break,
                DT_NEEDED => needed.push(val),
                DT_STRTAB => strtab = Some(val),
                DT_STRSZ => strsz = Some(val),
                DT_SONAME => soname = Some(val),
                DT_RPATH => rpath = Some(val),
                DT_RUNPATH => runpath = Some(val),
                _ => {}
            }
            i += 1;
        }
        let has_strings = !needed.is_empty() || soname.is_some() || rpath.is_some() || runpath.is_some();
        if !has_strings {
            return Ok(Some(Dynamic::default()));
        }
        let Some(strtab) = strtab else {
            return bad("PT_DYNAMIC has string entries but no DT_STRTAB");
        };
        let off = self.vaddr_to_offset(strtab)?;
        let avail = (self.data.len() as u64).saturating_sub(off);
        let size = strsz.map_or(avail, |s| s.min(avail));
        let table = slice(self.data, off, size, "the dynamic string table")?;
        let get = |idx: u64| -> R<String> {
            let s = usize::try_from(idx)
                .ok()
                .and_then(|i| table.get(i..))
                .ok_or_else(|| ElfError::Malformed(format!("dynamic string index {idx:#x} outside DT_STRTAB")))?;
            let end = s
                .iter()
                .position(|&c| c == 0)
                .ok_or_else(|| ElfError::Malformed("unterminated dynamic string".into()))?;
            String::from_utf8(s[..end].to_vec()).map_err(|_| ElfError::Malformed("dynamic string is not UTF-8".into()))
        };
        Ok(Some(Dynamic {
            needed: needed.into_iter().map(get).collect::<R<_>>()?,
            soname: soname.map(get).transpose()?,
            rpath: rpath.map(get).transpose()?,
            runpath: runpath.map(get).transpose()?,
        }))
    }

    /// The name of a section.
    pub fn section_name(&self, sh: &SectionHeader) -> R<&'a [u8]> {
        let Some(strs) = self.shdrs.get(self.shstrndx) else {
            return bad("no section name table");
        };
        let table = slice(self.data, strs.sh_offset, strs.sh_size, "the section name table")?;
        name_at(table, sh.sh_name)
    }

    /// The contents of the first section with this name (SHT_NOBITS sections read as
    /// empty).
    pub fn section(&self, name: &str) -> R<Option<&'a [u8]>> {
        for sh in &self.shdrs {
            if self.section_name(sh)? == name.as_bytes() {
                if sh.sh_type == 8 {
                    return Ok(Some(&[]));
                }
                return slice(self.data, sh.sh_offset, sh.sh_size, "a section").map(Some);
            }
        }
        Ok(None)
    }

    /// Every note of every `PT_NOTE` segment.
    pub fn notes(&self) -> R<Vec<Note<'a>>> {
        let mut out = Vec::new();
        for ph in self.phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
            let seg = self.segment_data(ph)?;
            let align: usize = if ph.p_align == 8 { 8 } else { 4 };
            let up = |n: usize| n.checked_add(align - 1).map(|x| x & !(align - 1));
            let mut off = 0usize;
            while off + 12 <= seg.len() {
                let base = ph.p_offset + off as u64;
                let namesz = self.u32_at(base)? as usize;
                let descsz = self.u32_at(base + 4)? as usize;
                let n_type = self.u32_at(base + 8)?;
                let name_start = off + 12;
                let name_end = name_start.checked_add(namesz).filter(|&e| e <= seg.len());
                let Some(name_end) = name_end else {
                    return bad("note name outside its segment");
                };
                let desc_start = up(name_end).ok_or_else(|| ElfError::Malformed("note size overflows".into()))?;
                let desc_end = desc_start.checked_add(descsz).filter(|&e| e <= seg.len());
                let Some(desc_end) = desc_end else {
                    return bad("note descriptor outside its segment");
                };
                let mut name = &seg[name_start..name_end];
                if let Some(i) = name.iter().position(|&c| c == 0) {
                    name = &name[..i];
                }
                out.push(Note {
                    name,
                    n_type,
                    desc: &seg[desc_start..desc_end],
                });
                off = up(desc_end).ok_or_else(|| ElfError::Malformed("note size overflows".into()))?;
            }
        }
        Ok(out)
    }
}

/// The `key=value` strings of a kernel module's `.modinfo` section, in order.
pub fn modinfo(section: &[u8]) -> Vec<(String, String)> {
    section
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let s = String::from_utf8_lossy(s);
            s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal little-endian ELF64 shared object: one PT_LOAD at vaddr 0x1000
    /// (file offset 0, 0x400 bytes), PT_INTERP, PT_DYNAMIC with NEEDED/SONAME/RUNPATH, a PT_NOTE,
    /// and two sections (.shstrtab and .modinfo).
    pub(crate) fn sample() -> Vec<u8> {
        let mut f = vec![0u8; 0x480];
        let put16 = |f: &mut Vec<u8>, o: usize, v: u16| f[o..o + 2].copy_from_slice(&v.to_le_bytes());
        let put32 = |f: &mut Vec<u8>, o: usize, v: u32| f[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put64 = |f: &mut Vec<u8>, o: usize, v: u64| f[o..o + 8].copy_from_slice(&v.to_le_bytes());
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        put16(&mut f, 16, ET_DYN);
        put16(&mut f, 18, EM_X86_64);
        put64(&mut f, 32, 0x40); // phoff
        put64(&mut f, 40, 0x300); // shoff
        put16(&mut f, 54, 56);
        put16(&mut f, 56, 4);
        put16(&mut f, 58, 64);
        put16(&mut f, 60, 3);
        put16(&mut f, 62, 1);
        let ph = |f: &mut Vec<u8>, i: usize, t: u32, off: u64, vaddr: u64, sz: u64, align: u64| {
            let b = 0x40 + i * 56;
            put32(f, b, t);
            put64(f, b + 8, off);
            put64(f, b + 16, vaddr);
            put64(f, b + 32, sz);
            put64(f, b + 40, sz);
            put64(f, b + 48, align);
        };
        ph(&mut f, 0, PT_LOAD, 0, 0x1000, 0x400, 0x1000);
        ph(&mut f, 1, PT_INTERP, 0x200, 0x1200, 28, 1);
        ph(&mut f, 2, PT_DYNAMIC, 0x240, 0x1240, 16 * 6, 8);
        ph(&mut f, 3, PT_NOTE, 0x2c0, 0x12c0, 20, 4);
        f[0x200..0x200 + 28].copy_from_slice(b"/lib64/ld-linux-x86-64.so.2\0");
        // dynamic string table at file 0x1a0 (vaddr 0x11a0)
        let strs = b"\0libc.so.6\0libfoo.so.1\0$ORIGIN/../lib\0";
        f[0x1a0..0x1a0 + strs.len()].copy_from_slice(strs);
        let dynent = |f: &mut Vec<u8>, i: usize, tag: i64, val: u64| {
            put64(f, 0x240 + i * 16, tag as u64);
            put64(f, 0x240 + i * 16 + 8, val);
        };
        dynent(&mut f, 0, DT_NEEDED, 1);
        dynent(&mut f, 1, DT_SONAME, 11);
        dynent(&mut f, 2, DT_RUNPATH, 23);
        dynent(&mut f, 3, DT_STRTAB, 0x11a0);
        dynent(&mut f, 4, DT_STRSZ, strs.len() as u64);
        dynent(&mut f, 5, DT_NULL, 0);
        // note: name "Xen\0", type 18, desc 4 bytes
        put32(&mut f, 0x2c0, 4);
        put32(&mut f, 0x2c4, 4);
        put32(&mut f, 0x2c8, 18);
        f[0x2cc..0x2d0].copy_from_slice(b"Xen\0");
        f[0x2d0..0x2d4].copy_from_slice(&[1, 2, 3, 4]);
        // section names at 0x3c0, modinfo at 0x3e0
        let names = b"\0.shstrtab\0.modinfo\0";
        f[0x3c0..0x3c0 + names.len()].copy_from_slice(names);
        let mi = b"license=GPL\0depends=sunrpc,grace\0name=nfsd\0";
        f[0x3e0..0x3e0 + mi.len()].copy_from_slice(mi);
        let sh = |f: &mut Vec<u8>, i: usize, name: u32, t: u32, off: u64, sz: u64| {
            let b = 0x300 + i * 64;
            put32(f, b, name);
            put32(f, b + 4, t);
            put64(f, b + 24, off);
            put64(f, b + 32, sz);
        };
        sh(&mut f, 1, 1, 3, 0x3c0, names.len() as u64);
        sh(&mut f, 2, 11, 1, 0x3e0, mi.len() as u64);
        f
    }

    #[test]
    fn reads_the_sample() {
        let f = sample();
        let e = Elf::parse(&f).unwrap();
        assert_eq!(e.machine, EM_X86_64);
        assert_eq!(e.interpreter().unwrap(), Some("/lib64/ld-linux-x86-64.so.2"));
        let d = e.dynamic().unwrap().unwrap();
        assert_eq!(d.needed, ["libc.so.6"]);
        assert_eq!(d.soname.as_deref(), Some("libfoo.so.1"));
        assert_eq!(d.runpath.as_deref(), Some("$ORIGIN/../lib"));
        assert_eq!(d.rpath, None);
        let notes = e.notes().unwrap();
        assert_eq!(
            notes,
            [Note {
                name: b"Xen",
                n_type: 18,
                desc: &[1, 2, 3, 4]
            }]
        );
        let mi = modinfo(e.section(".modinfo").unwrap().unwrap());
        assert_eq!(mi[1], ("depends".to_string(), "sunrpc,grace".to_string()));
        assert_eq!(e.section(".nothere").unwrap(), None);
    }

    fn read_at(f: &[u8]) -> impl FnMut(u64, usize) -> std::io::Result<Vec<u8>> + '_ {
        move |off, len| Ok(f[off as usize..off as usize + len].to_vec())
    }

    #[test]
    fn positioned_section_reads() {
        let f = sample();
        let mi = read_section(f.len() as u64, &mut read_at(&f), ".modinfo")
            .unwrap()
            .unwrap();
        assert_eq!(Some(&mi[..]), Elf::parse(&f).unwrap().section(".modinfo").unwrap());
        assert!(read_section(f.len() as u64, &mut read_at(&f), ".text")
            .unwrap()
            .is_none());
        for n in 0..f.len() {
            let _ = read_section(n as u64, &mut read_at(&f[..n]), ".modinfo");
        }
    }

    #[test]
    fn not_elf_and_elf32() {
        assert_eq!(Elf::parse(b"#!/bin/sh\n").unwrap_err(), ElfError::NotElf);
        let mut f = sample();
        f[4] = 1;
        assert!(matches!(Elf::parse(&f), Err(ElfError::Unsupported(_))));
    }

    /// Truncations and random corruptions of a valid file: errors, never a panic.
    #[test]
    fn parser_is_total() {
        let f = sample();
        fn all(b: &[u8]) {
            if let Ok(e) = Elf::parse(b) {
                let _ = e.interpreter();
                let _ = e.dynamic();
                let _ = e.notes();
                let _ = e.section(".modinfo");
            }
            let _ = read_section(b.len() as u64, &mut read_at(b), ".modinfo");
        }
        for n in 0..f.len() {
            all(&f[..n]);
        }
        let mut x = 0x9e37_79b9u32;
        for _ in 0..20000 {
            let mut b = f.clone();
            for _ in 0..(x % 4 + 1) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % b.len();
                b[i] = if x & 0x100 != 0 { 0xff } else { (x >> 16) as u8 };
            }
            all(&b);
        }
    }

    #[test]
    fn strtab_outside_every_load_segment() {
        let mut f = sample();
        // DT_STRTAB (entry 3) -> an unmapped address
        f[0x240 + 3 * 16 + 8..0x240 + 3 * 16 + 16].copy_from_slice(&0x9999_0000u64.to_le_bytes());
        let e = Elf::parse(&f).unwrap();
        assert!(matches!(e.dynamic(), Err(ElfError::Malformed(_))));
    }
}
