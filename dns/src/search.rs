//! The names tried for one lookup, in glibc's order (`res_nsearch`):
//!
//! - a name ending with `.` is tried only as it is;
//! - a name with at least `ndots` dots is tried as it is first, then with
//!   each search domain appended;
//! - any other name is tried with each search domain, then as it is
//!   (not for a single-label name under `no-tld-query`).
//!
//! A candidate that is not a valid name (too long with its domain) is
//! skipped.

use crate::name::Name;
use crate::resolv_conf::Config;

/// The `index`th name to try.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // no allocator to box into; made once per name tried
pub enum Candidate {
    /// Ask for this name.
    Name(Name),
    /// Not a valid name: go on with the next index.
    Skip,
    /// No more names.
    End,
}

/// The `index`th name to try for `name`; with `search` false, only the name
/// as it is (what `res_query` does).
pub fn candidate(conf: &Config, name: &[u8], search: bool, index: usize) -> Candidate {
    let as_is = || match Name::from_text(name) {
        Ok(n) => Candidate::Name(n),
        Err(_) => Candidate::Skip,
    };
    let with_domain = |i: usize| match conf.search_domain(i) {
        Some(d) => match Name::from_texts(&[name, d]) {
            Ok(n) => Candidate::Name(n),
            Err(_) => Candidate::Skip,
        },
        None => Candidate::End,
    };
    if name.ends_with(b".") || !search {
        return if index == 0 { as_is() } else { Candidate::End };
    }
    let dots = name.iter().filter(|&&b| b == b'.').count();
    if dots >= usize::from(conf.ndots) {
        match index.checked_sub(1) {
            None => as_is(),
            Some(i) => with_domain(i),
        }
    } else if index < conf.search_len() {
        with_domain(index)
    } else if index == conf.search_len() && !(dots == 0 && conf.no_tld_query) {
        as_is()
    } else {
        Candidate::End
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(conf: &str, name: &str, search: bool) -> std::vec::Vec<String> {
        let c = Config::parse(conf.as_bytes());
        let mut v = std::vec::Vec::new();
        for i in 0.. {
            match candidate(&c, name.as_bytes(), search, i) {
                Candidate::Name(n) => v.push(format!("{n:?}")),
                Candidate::Skip => v.push("-".into()),
                Candidate::End => break,
            }
        }
        v
    }

    #[test]
    fn glibc_order() {
        let conf = "search a.example b.example\n";
        assert_eq!(all(conf, "host", true), ["host.a.example", "host.b.example", "host"]);
        assert_eq!(
            all(conf, "host.sub", true),
            ["host.sub", "host.sub.a.example", "host.sub.b.example"]
        );
        assert_eq!(all(conf, "host.sub.", true), ["host.sub"]);
        assert_eq!(all(conf, "host.sub", false), ["host.sub"]);
        let conf = "search a.example\noptions ndots:2\n";
        assert_eq!(all(conf, "host.sub", true), ["host.sub.a.example", "host.sub"]);
        assert_eq!(all(conf, "x.y.z", true), ["x.y.z", "x.y.z.a.example"]);
        let conf = "search a.example\noptions no-tld-query\n";
        assert_eq!(all(conf, "host", true), ["host.a.example"]);
        assert_eq!(all(conf, "host.sub", true), ["host.sub", "host.sub.a.example"]);
        assert_eq!(all("", "host", true), ["host"]);
    }

    #[test]
    fn invalid_candidates_skipped() {
        let long = "x".repeat(63);
        let conf = format!("search {long}.{long}.{long} ok.example\n");
        let name = format!("{long}.a");
        assert_eq!(
            all(&conf, &name, true),
            [name.clone(), "-".into(), format!("{name}.ok.example")]
        );
        assert_eq!(all("", "a..b", true), ["-"]);
    }
}
