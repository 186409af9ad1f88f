//! The container spec parser on arbitrary bytes: it must return Ok or Err
//! (never panic, never read or write outside the buffer), every string of
//! an Ok spec must point into the buffer, the rules it promises must hold,
//! and every error must render as one printable line.
#![no_main]

use core::ffi::CStr;
use keel_supervisor::spec::{parse, MountKind, NsKind, NsMode, Root, SpecBuf, Stdio};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = Box::new(SpecBuf::new());
    if !buf.set(data) {
        return;
    }
    // The spare byte after the file holds garbage: the parser may not rely
    // on it being zero.
    buf.bytes[data.len()] = 0xA5;
    let range = buf.bytes.as_ptr_range();
    let inside = |c: &CStr| {
        let b = c.to_bytes_with_nul();
        range.contains(&b.as_ptr()) && b.as_ptr_range().end <= range.end
    };
    let abs = |c: &CStr| c.to_bytes().first() == Some(&b'/');
    match parse(&mut buf) {
        Ok(spec) => {
            let p = &spec.process;
            assert!(!p.args.is_empty());
            for c in p.args.iter().chain(p.env.iter()).chain(spec.after.iter()) {
                assert!(inside(c));
            }
            for c in spec.masked.iter().chain(spec.readonly.iter()).chain(p.cwd.iter()) {
                assert!(inside(c) && abs(c));
            }
            for m in &spec.mounts {
                assert!(inside(m.target) && abs(m.target));
                if let Some(d) = m.data {
                    assert!(inside(d) && !d.to_bytes().is_empty());
                }
                if let MountKind::Bind { source, .. } = m.kind {
                    assert!(inside(source) && abs(source) && m.data.is_none());
                }
            }
            for (k, v) in &spec.sysctls {
                assert!(inside(k) && inside(v));
            }
            match &spec.root {
                Root::Host => {}
                Root::Bind { path, .. } => assert!(inside(path) && abs(path)),
                Root::Overlay { lower, upper, work, .. } => {
                    assert!(!lower.is_empty());
                    for c in lower.iter().chain(upper.iter()).chain(work.iter()) {
                        assert!(inside(c) && abs(c));
                    }
                    assert_eq!(upper.is_some(), work.is_some());
                }
            }
            if let Some(h) = spec.hostname {
                assert!(inside(h) && spec.ns.is_new(NsKind::Uts));
            }
            if let Stdio::File(f) = spec.stdio {
                assert!(inside(f) && abs(f));
            }
            for k in NsKind::ALL {
                if let NsMode::Share(n) = spec.ns.get(k) {
                    assert!(inside(n) && keel_supervisor::spec::valid_name(n.to_bytes()));
                }
            }
            let c = spec.caps;
            assert_eq!(c.effective & !c.permitted, 0);
            assert_eq!(c.ambient & !(c.permitted & c.inheritable), 0);
            assert_eq!(spec.ns.is_new(NsKind::User), !spec.uid_map.is_empty());
            assert_eq!(spec.ns.is_new(NsKind::User), !spec.gid_map.is_empty());
            assert_eq!(spec.ns.is_new(NsKind::Time), spec.time_offsets.is_some());
            assert!(spec.restart.backoff_base_ms <= spec.restart.backoff_cap_ms);
            for r in &spec.rlimits {
                assert!(r.soft <= r.hard);
            }
        }
        Err(e) => {
            let mut line = keel_rt::Line::new();
            e.render(b"fuzz", &mut line);
            assert!(line.as_bytes().starts_with(b"fuzz"));
            assert!(!line.as_bytes().iter().any(|&b| b < 0x20 || b == 0x7f));
            assert!(e.token.len() <= 48);
        }
    };
});
