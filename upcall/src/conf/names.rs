//! Which files of `request-key.d` are read, and in which order.

use heapless::Vec;

/// The most `request-key.d` files read.
pub const MAX_CONF_FILES: usize = 64;

/// The longest file name (`NAME_MAX`).
pub const MAX_NAME: usize = 255;

/// keyutils' filter on `request-key.d` entries: the name ends in `.conf` and
/// does not start with `.`. (keyutils also wants a regular file, or
/// `DT_UNKNOWN`; that is the caller's check.)
pub fn is_conf_name(name: &[u8]) -> bool {
    name.ends_with(b".conf") && name.first() != Some(&b'.')
}

/// Why a name was not added to [`ConfNames`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamesError {
    /// Already [`MAX_CONF_FILES`] names.
    Full,
    /// Longer than [`MAX_NAME`] bytes.
    TooLong,
}

/// File names kept sorted by their bytes, the order keel reads
/// `request-key.d` in.
#[derive(Clone, Debug, Default)]
pub struct ConfNames {
    names: Vec<Vec<u8, MAX_NAME>, MAX_CONF_FILES>,
}

impl ConfNames {
    /// No names.
    pub const fn new() -> Self {
        Self { names: Vec::new() }
    }

    /// Adds a name in its place (after equal ones).
    pub fn insert(&mut self, name: &[u8]) -> Result<(), NamesError> {
        let mut copy = Vec::new();
        copy.extend_from_slice(name).map_err(|_| NamesError::TooLong)?;
        let at = self
            .names
            .iter()
            .position(|n| n.as_slice() > name)
            .unwrap_or(self.names.len());
        self.names.insert(at, copy).map_err(|_| NamesError::Full)
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.names.iter().map(|n| n.as_slice())
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No names.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_names() {
        for n in ["a.conf", "id_resolver.conf", "x.y.conf", "\u{e9}.conf"] {
            assert!(is_conf_name(n.as_bytes()), "{n}");
        }
        for n in [".conf", ".a.conf", "conf", "a.CONF", "a.conf~", "a.conf.bak", "", "."] {
            assert!(!is_conf_name(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn sorted_by_bytes() {
        let mut names = ConfNames::new();
        for n in [
            &b"b.conf"[..],
            b"a.conf",
            b"B.conf",
            b"\xff.conf",
            b"a.conf",
            b"ab.conf",
        ] {
            names.insert(n).unwrap();
        }
        let got: std::vec::Vec<_> = names.iter().collect();
        let want: [&[u8]; 6] = [b"B.conf", b"a.conf", b"a.conf", b"ab.conf", b"b.conf", b"\xff.conf"];
        assert_eq!(got, want);
    }

    #[test]
    fn limits() {
        let mut names = ConfNames::new();
        assert_eq!(names.insert(&[b'a'; MAX_NAME + 1]), Err(NamesError::TooLong));
        names.insert(&[b'a'; MAX_NAME]).unwrap();
        for i in 1..MAX_CONF_FILES {
            names.insert(format!("{i:03}.conf").as_bytes()).unwrap();
        }
        assert_eq!(names.len(), MAX_CONF_FILES);
        assert_eq!(names.insert(b"0.conf"), Err(NamesError::Full));
        assert_eq!(names.iter().next(), Some(&b"001.conf"[..]));
    }
}
