//! Following CNAMEs inside one answer section, as a stub resolver does: the
//! recursive server has already chased the chain and put every link and the
//! final records in the answer. Links are found by owner name, in any
//! order; the chain is bounded.

use super::response::{RData, Record, Response};
use super::{rtype, CLASS_IN};
use crate::name::Name;

/// The most CNAME links followed; one more is an error (a loop, or a
/// hostile answer such as 300 chained aliases).
pub const MAX_CNAME_HOPS: usize = 16;

/// Where a chain led.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Records of the asked type were found (handed to the callback);
    /// `min_ttl` is the smallest TTL of them and of the links followed.
    Data {
        /// Seconds.
        min_ttl: u32,
    },
    /// The name (or the end of its chain) has no records of the type.
    NoData,
    /// More than [`MAX_CNAME_HOPS`] links.
    TooLong,
}

/// Follows `qname` through the answers of `resp` and hands each record of
/// `qtype` at the end of the chain to `each`.
pub fn follow<'m>(resp: &Response<'m>, qname: &Name, qtype: u16, mut each: impl FnMut(&Record<'m>)) -> Chain {
    let mut current = qname.clone();
    let mut min_ttl = u32::MAX;
    for _ in 0..=MAX_CNAME_HOPS {
        let mut found = false;
        let mut next: Option<(Name, u32)> = None;
        for rec in resp.answers() {
            if rec.class != CLASS_IN || !rec.owner.eq_name(&current) {
                continue;
            }
            if rec.rtype == qtype {
                found = true;
                min_ttl = min_ttl.min(rec.ttl);
                each(&rec);
            } else if let (rtype::CNAME, RData::Cname(target), None) = (rec.rtype, rec.data, &next) {
                next = target.to_name().map(|t| (t, rec.ttl));
            }
        }
        if found {
            return Chain::Data { min_ttl };
        }
        match next {
            Some((target, ttl)) => {
                min_ttl = min_ttl.min(ttl);
                current = target;
            }
            None => return Chain::NoData,
        }
    }
    Chain::TooLong
}

#[cfg(test)]
mod tests {
    use super::super::response::build::*;
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s.as_bytes()).unwrap()
    }

    fn run(m: &[u8], q: &str, t: u16) -> (Chain, usize) {
        let r = Response::parse(m).unwrap();
        let mut count = 0;
        let c = follow(&r, &n(q), t, |_| count += 1);
        (c, count)
    }

    #[test]
    fn follows_links_in_any_order() {
        let m = response(
            1,
            0,
            "www.example",
            rtype::A,
            &[
                a("real.example", 30, [10, 0, 0, 2]),
                cname("alias.example", 100, "real.example"),
                a("other.example", 1, [9, 9, 9, 9]),
                cname("WWW.example", 50, "alias.example"),
                a("real.example", 40, [10, 0, 0, 3]),
            ],
        );
        assert_eq!(run(&m, "www.example", rtype::A), (Chain::Data { min_ttl: 30 }, 2));
        assert_eq!(run(&m, "www.example", rtype::AAAA), (Chain::NoData, 0));
        assert_eq!(run(&m, "nothing.example", rtype::A), (Chain::NoData, 0));
    }

    fn chain_of(len: usize) -> Vec<u8> {
        let mut answers = Vec::new();
        for i in 0..len {
            answers.push(cname(&format!("c{i}.example"), 60, &format!("c{}.example", i + 1)));
        }
        answers.push(a(&format!("c{len}.example"), 60, [10, 0, 0, 1]));
        response(1, 0, "c0.example", rtype::A, &answers)
    }

    #[test]
    fn bounded() {
        assert_eq!(
            run(&chain_of(16), "c0.example", rtype::A),
            (Chain::Data { min_ttl: 60 }, 1)
        );
        assert_eq!(run(&chain_of(17), "c0.example", rtype::A).0, Chain::TooLong);
        assert_eq!(run(&chain_of(300), "c0.example", rtype::A).0, Chain::TooLong);
        // A loop.
        let m = response(
            1,
            0,
            "a.example",
            rtype::A,
            &[cname("a.example", 1, "b.example"), cname("b.example", 1, "a.example")],
        );
        assert_eq!(run(&m, "a.example", rtype::A).0, Chain::TooLong);
    }
}
