//! request-key.conf matching and macro expansion (`keel_upcall::conf`) on
//! arbitrary bytes: a 31-byte header sets the query's field lengths and
//! numbers, then come the op, type, description and callout bytes, then up
//! to three config files separated by 0x1e. Feeding, choosing and expanding
//! every argument must never panic; a chosen line must obey the rules the
//! module states, and an argument must fit a buffer of 8 KiB.
#![no_main]

use keel_upcall::conf::{
    check_keysub_payload, expand, is_conf_name, Best, ConfNames, ExpandError, Expanded, Query, MAX_ARGS,
};
use libfuzzer_sys::fuzz_target;

fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = rest.split_at(n.min(rest.len()));
    *rest = tail;
    head
}

fn int(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((h, mut rest)) = data.split_at_checked(31) else {
        return;
    };
    let op = take(&mut rest, usize::from(h[0] % 32));
    let ty = take(&mut rest, usize::from(h[1] % 32));
    let desc = take(&mut rest, usize::from(u16::from_le_bytes([h[2], h[3]]) % 4096));
    let callout = take(&mut rest, usize::from(u16::from_le_bytes([h[4], h[5]]) % 4096));
    let files = usize::from(h[6] % 3) + 1;
    let q = Query {
        op,
        ty,
        desc,
        callout,
        key: int(&h[7..11]) as i32,
        uid: int(&h[11..15]),
        gid: int(&h[15..19]),
        thread: int(&h[19..23]) as i32,
        process: int(&h[23..27]) as i32,
        session: int(&h[27..31]) as i32,
    };

    let mut best = Best::new();
    let mut names = ConfNames::new();
    let mut fed = 0u16;
    for text in rest.splitn(files, |&b| b == 0x1e) {
        best.feed(fed, text, &q);
        fed += 1;
        let name = text.split(|&b| b == b'\n').next().unwrap_or_default();
        if is_conf_name(name) {
            let _ = names.insert(name);
        }
    }
    assert!(names.iter().zip(names.iter().skip(1)).all(|(a, b)| a <= b));
    if let Some(d) = best.first_diagnostic() {
        assert!(d.origin.file < fed && d.origin.line >= 1 && best.skipped() >= 1);
    }

    let Some(c) = best.chosen() else { return };
    assert!(best.wildness().is_some());
    assert!(c.origin().file < fed && c.origin().line >= 1);
    match c.builtin {
        Some(name) => assert_eq!(c.program.strip_prefix(b"builtin:"), Some(name)),
        None => assert!(c.program.starts_with(b"/")),
    }
    assert!(c.args().count() <= MAX_ARGS);
    for arg in c.args() {
        let mut out = [0u8; 8192];
        match expand(arg, &q, &mut out) {
            Ok(Expanded::Text(t)) => assert!(t.len() <= 4095),
            Ok(Expanded::Lookup { ty, desc }) => {
                assert!(!ty.is_empty() && !desc.is_empty() && !ty.contains(&b':'));
                let _ = check_keysub_payload(desc);
            }
            Err(e) => assert_ne!(e, ExpandError::TooSmall),
        }
        let _ = expand(arg, &q, &mut [0u8; 5]);
    }
});
