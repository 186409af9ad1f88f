//! The keel.conf parser (boot mode's global configuration) on arbitrary
//! bytes: it must return Ok or Err (never panic, never read or write outside
//! the buffer), every string of an Ok config must point into the buffer and
//! obey the rules docs/boot.md states, and every error must render as one
//! printable line.
#![no_main]

use core::ffi::CStr;
use keel_supervisor::boot::conf::{self, parse, Modprobe};
use keel_supervisor::spec::SpecBuf;
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
    match parse(&mut buf) {
        Ok(c) => {
            if let Some(h) = c.hostname {
                assert!(inside(h));
                assert!((1..=64).contains(&h.to_bytes().len()));
            }
            for (i, m) in c.modules.iter().enumerate() {
                assert!(inside(m.name) && conf::valid_module_name(m.name.to_bytes()));
                assert!(m.params.iter().all(|p| inside(p) && !p.to_bytes().contains(&b'"')));
                // Each module once (`-` and `_` the same).
                assert!(c
                    .modules
                    .iter()
                    .skip(i + 1)
                    .all(|o| !conf::same_module(o.name.to_bytes(), m.name.to_bytes())));
                let mut s = keel_rt::path::CBuf::<4096>::new();
                let _ = conf::join_params(&m.params, &mut s);
            }
            for (k, v) in c.sysctls.iter() {
                assert!(inside(k) && inside(v));
                assert!(!k.to_bytes().is_empty() && !k.to_bytes().contains(&b'/') && !v.to_bytes().is_empty());
                assert!(k.to_bytes().split(|&b| b == b'.').all(|w| !w.is_empty()));
            }
            for a in c.modprobe_allow.iter() {
                assert!(inside(a) && conf::valid_module_name(a.to_bytes()));
            }
            if !c.modprobe_allow.is_empty() {
                assert_eq!(c.modprobe, Modprobe::Keel);
            }
            let _ = c.settings();
        }
        Err(e) => {
            let mut l = keel_rt::Line::new();
            e.render(b"keel.conf", &mut l);
            assert!(!l.as_bytes().contains(&b'\n'));
        }
    };
});
