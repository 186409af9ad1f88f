//! The parsers of files that come from the kernel or from an image, on
//! arbitrary bytes: /proc/self/mountinfo lines and their escapes,
//! /proc/self/cgroup, /proc/cmdline words, and modules.dep /
//! modules.builtin / modules.alias lines (an image's files: untrusted).
//! Each must return a value or nothing, never panic, and stay in bounds.
#![no_main]

use keel_rt::path::CBuf;
use keel_supervisor::boot::{cmdline, modules};
use keel_supervisor::cgroup::{mountinfo, proc_cgroup};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // mountinfo and /proc/self/cgroup.
    for line in data.split(|&c| c == b'\n') {
        if let Some(m) = mountinfo::parse_line(line) {
            let mut p = CBuf::<4096>::new();
            mountinfo::unescape(m.point, &mut p);
            assert!(p.len() <= m.point.len());
            let _ = p.as_cstr();
        }
    }
    let _ = mountinfo::find_cgroup2(data);
    if let Some(p) = proc_cgroup::own_path(data) {
        assert!(p.starts_with(b"/"));
    }
    // /proc/cmdline.
    for name in [&b"keel.config"[..], b"keel.fault", b"keel.panic", b""] {
        if let Some(v) = cmdline::value(data, name) {
            let r = data.as_ptr_range();
            assert!(r.contains(&v.as_ptr()) || v.is_empty());
        }
    }
    // modules.dep, modules.builtin and modules.alias lines.
    let mut plan = Box::new(modules::Plan::default());
    for name in [&b"nfsv4"[..], b"sunrpc", b"dns_resolver"] {
        let _ = plan.want(name);
    }
    for line in data.split(|&c| c == b'\n') {
        let _ = plan.feed_dep_line(line);
        plan.feed_builtin_line(line);
        let _ = modules::alias_target(line, b"fs-nfs4");
        let _ = modules::name_of_path(line);
        let _ = modules::normalize(line);
    }
    let (order, _failed) = plan.order();
    for &i in order.iter() {
        assert!((i as usize) < plan.mods.len());
    }
});
