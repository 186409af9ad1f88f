//! Numbers as the spec writes them: decimal, octal, signed, durations and
//! sizes. Each is total: None (or a reason) instead of overflow.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

/// Unsigned decimal: one or more ASCII digits, no sign, no separators.
pub fn u64_dec(b: &[u8]) -> Option<u64> {
    radix(b, 10)
}

pub fn u32_dec(b: &[u8]) -> Option<u32> {
    u64_dec(b).and_then(|n| u32::try_from(n).ok())
}

/// Octal digits (a leading `0` or `0o` is allowed: `022`, `0o022`, `22`).
pub fn octal(b: &[u8]) -> Option<u64> {
    let b = b.strip_prefix(b"0o").unwrap_or(b);
    radix(b, 8)
}

fn radix(b: &[u8], radix: u8) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        let d = c.checked_sub(b'0').filter(|d| *d < radix)?;
        acc.checked_mul(u64::from(radix))?.checked_add(u64::from(d))
    })
}

/// Signed decimal with an optional `+` or `-`.
pub fn i64_dec(b: &[u8]) -> Option<i64> {
    match b.split_first() {
        Some((b'-', rest)) => {
            let m = u64_dec(rest)?;
            // -(2^63) is the one magnitude that does not fit in i64.
            if m == 1u64 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(m).ok()?.checked_neg()
            }
        }
        Some((b'+', rest)) => i64::try_from(u64_dec(rest)?).ok(),
        _ => i64::try_from(u64_dec(b)?).ok(),
    }
}

/// A duration in milliseconds: digits and a unit, `ms`, `s`, `m` or `h`
/// (`250ms`, `2s`, `1m`). At most u32::MAX ms (about 49 days).
pub fn duration_ms(b: &[u8]) -> Result<u32, &'static str> {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let (n, unit) = (b.get(..digits).unwrap_or(&[]), b.get(digits..).unwrap_or(&[]));
    if n.is_empty() {
        return Err("not a duration (digits and a unit: 250ms, 2s, 1m, 1h)");
    }
    let mult: u64 = match unit {
        b"ms" => 1,
        b"s" => 1000,
        b"m" => 60_000,
        b"h" => 3_600_000,
        b"" => return Err("a duration needs a unit: ms, s, m or h"),
        _ => return Err("unknown duration unit (ms, s, m or h)"),
    };
    u64_dec(n)
        .and_then(|n| n.checked_mul(mult))
        .and_then(|ms| u32::try_from(ms).ok())
        .ok_or("duration too long (at most 49 days)")
}

/// A size in bytes: digits with an optional binary suffix `k`, `m`, `g` or
/// `t` (any case; 1024-based).
pub fn size_bytes(b: &[u8]) -> Option<u64> {
    let (n, shift) = match b.split_last() {
        Some((c, n)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_lowercase() {
                b'k' => 10,
                b'm' => 20,
                b'g' => 30,
                b't' => 40,
                _ => return None,
            };
            (n, shift)
        }
        _ => (b, 0),
    };
    let n = u64_dec(n)?;
    let out = n.checked_shl(shift)?;
    // checked_shl only rejects big shifts; make sure no bits fell off.
    (out.checked_shr(shift)? == n).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(u64_dec(b"0"), Some(0));
        assert_eq!(u64_dec(b"0042"), Some(42));
        assert_eq!(u64_dec(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(u64_dec(b"18446744073709551616"), None);
        assert_eq!(u64_dec(b""), None);
        assert_eq!(u64_dec(b"+1"), None);
        assert_eq!(u64_dec(b"1a"), None);
        assert_eq!(u64_dec(b" 1"), None);
        assert_eq!(u32_dec(b"4294967295"), Some(u32::MAX));
        assert_eq!(u32_dec(b"4294967296"), None);
    }

    #[test]
    fn signed() {
        assert_eq!(i64_dec(b"-5"), Some(-5));
        assert_eq!(i64_dec(b"+5"), Some(5));
        assert_eq!(i64_dec(b"5"), Some(5));
        assert_eq!(i64_dec(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(i64_dec(b"-9223372036854775809"), None);
        assert_eq!(i64_dec(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(i64_dec(b"9223372036854775808"), None);
        assert_eq!(i64_dec(b"-"), None);
        assert_eq!(i64_dec(b"--1"), None);
        assert_eq!(i64_dec(b""), None);
    }

    #[test]
    fn octals() {
        assert_eq!(octal(b"022"), Some(0o22));
        assert_eq!(octal(b"0o777"), Some(0o777));
        assert_eq!(octal(b"7"), Some(7));
        assert_eq!(octal(b"8"), None);
        assert_eq!(octal(b"0o"), None);
        assert_eq!(octal(b""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(b"250ms"), Ok(250));
        assert_eq!(duration_ms(b"2s"), Ok(2000));
        assert_eq!(duration_ms(b"1m"), Ok(60_000));
        assert_eq!(duration_ms(b"2h"), Ok(7_200_000));
        assert_eq!(duration_ms(b"0s"), Ok(0));
        assert!(duration_ms(b"5").is_err());
        assert!(duration_ms(b"s").is_err());
        assert!(duration_ms(b"5d").is_err());
        assert!(duration_ms(b"1.5s").is_err());
        assert!(duration_ms(b"-1s").is_err());
        assert_eq!(duration_ms(b"4294967295ms"), Ok(u32::MAX));
        assert!(duration_ms(b"4294967296ms").is_err());
        assert!(duration_ms(b"1193h").is_ok());
        assert!(duration_ms(b"1194h").is_err());
        assert!(duration_ms(b"99999999999999999999999s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size_bytes(b"100"), Some(100));
        assert_eq!(size_bytes(b"64k"), Some(64 << 10));
        assert_eq!(size_bytes(b"512M"), Some(512 << 20));
        assert_eq!(size_bytes(b"2g"), Some(2 << 30));
        assert_eq!(size_bytes(b"1T"), Some(1 << 40));
        assert_eq!(size_bytes(b"16777215t"), Some(16777215 << 40));
        assert_eq!(size_bytes(b"16777216t"), None);
        assert_eq!(size_bytes(b"k"), None);
        assert_eq!(size_bytes(b"1x"), None);
        assert_eq!(size_bytes(b"1kb"), None);
        assert_eq!(size_bytes(b""), None);
    }
}
