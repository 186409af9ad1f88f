//! Just enough ELF reading to tell that a binary is static: no PT_INTERP,
//! no PT_DYNAMIC, no .interp/.dynamic/.dynsym section, fixed address (ET_EXEC).

use crate::util::Result;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ElfInfo {
    /// ET_EXEC (2) or ET_DYN (3).
    pub etype: u16,
    pub machine: u16,
    pub has_interp: bool,
    pub has_dynamic: bool,
    /// Names of the sections that betray dynamic linking.
    pub dynamic_sections: Vec<String>,
}

impl ElfInfo {
    pub fn is_static(&self) -> bool {
        !self.has_interp && !self.has_dynamic && self.dynamic_sections.is_empty()
    }
    pub fn machine_name(&self) -> &'static str {
        match self.machine {
            62 => "x86_64",
            183 => "aarch64",
            _ => "other",
        }
    }
}

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Reads a 64-bit little-endian ELF file's headers.
pub fn inspect(b: &[u8]) -> Result<ElfInfo> {
    let bad = |w: &str| format!("not a 64-bit little-endian ELF file: {w}");
    if b.get(..4) != Some(b"\x7fELF") {
        return Err(bad("no ELF magic"));
    }
    if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err(bad("class or byte order"));
    }
    let trunc = || bad("truncated header");
    let mut info = ElfInfo {
        etype: u16_at(b, 16).ok_or_else(trunc)?,
        machine: u16_at(b, 18).ok_or_else(trunc)?,
        ..ElfInfo::default()
    };
    let phoff = u64_at(b, 32).ok_or_else(trunc)? as usize;
    let shoff = u64_at(b, 40).ok_or_else(trunc)? as usize;
    let phentsize = u16_at(b, 54).ok_or_else(trunc)? as usize;
    let phnum = u16_at(b, 56).ok_or_else(trunc)? as usize;
    let shentsize = u16_at(b, 58).ok_or_else(trunc)? as usize;
    let shnum = u16_at(b, 60).ok_or_else(trunc)? as usize;
    let shstrndx = u16_at(b, 62).ok_or_else(trunc)? as usize;
    for i in 0..phnum {
        let t = u32_at(b, phoff + i * phentsize).ok_or_else(|| bad("truncated program headers"))?;
        info.has_interp |= t == PT_INTERP;
        info.has_dynamic |= t == PT_DYNAMIC;
    }
    // Section names (a stripped binary still has the section header table;
    // if it has none, the program headers above decide).
    if shnum > 0 && shstrndx < shnum {
        let sh = |i: usize| shoff + i * shentsize;
        let str_off = u64_at(b, sh(shstrndx) + 24).unwrap_or(0) as usize;
        for i in 0..shnum {
            let Some(name_off) = u32_at(b, sh(i)) else { break };
            let start = str_off + name_off as usize;
            let Some(rest) = b.get(start..) else { continue };
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            let name = String::from_utf8_lossy(&rest[..end]).into_owned();
            if matches!(name.as_str(), ".interp" | ".dynamic" | ".dynsym" | ".dynstr") {
                info.dynamic_sections.push(name);
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with the given program header types.
    fn fake(etype: u16, phdrs: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56 * phdrs.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&etype.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, t) in phdrs.iter().enumerate() {
            b[64 + 56 * i..64 + 56 * i + 4].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    #[test]
    fn static_and_dynamic() {
        let s = inspect(&fake(2, &[1, 1, 0x6474e551])).unwrap();
        assert!(s.is_static());
        assert_eq!(s.machine_name(), "x86_64");
        let d = inspect(&fake(3, &[6, 3, 1, 2])).unwrap();
        assert!(d.has_interp && d.has_dynamic && !d.is_static());
    }

    #[test]
    fn rejects_garbage() {
        assert!(inspect(b"").is_err());
        assert!(inspect(b"\x7fELF\x01\x01").is_err());
        let mut t = fake(2, &[1]);
        t.truncate(66);
        assert!(inspect(&t).is_err());
    }

    #[test]
    fn this_test_binary_is_dynamic() {
        // cargo's test binaries link glibc dynamically.
        let b = std::fs::read("/proc/self/exe").unwrap();
        let i = inspect(&b).unwrap();
        assert!(i.has_interp && !i.is_static(), "{i:?}");
        assert!(i.dynamic_sections.iter().any(|s| s == ".dynamic"));
    }
}
