//! The `keel-rootfs` command line.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keel-rootfs"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).env_remove("SOURCE_DATE_EPOCH").output().unwrap()
}

fn tmp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("keel-rootfs-cli-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn build_and_list() {
    let d = tmp("build");
    fs::create_dir_all(d.join("tree/etc")).unwrap();
    fs::write(d.join("tree/etc/motd"), "hello\n").unwrap();
    fs::write(d.join("init"), "#!/bin/sh\n").unwrap();
    fs::write(d.join("spec"), "args /bin/sh\n").unwrap();
    let out = d.join("img.cpio.gz");
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let args = [
        "build",
        "--out",
        &s(&out),
        "--compress",
        "gzip:6",
        "--mtime",
        "1234",
        "--init",
        &s(&d.join("init")),
        "--tree",
        &format!("{}:/srv/c", s(&d.join("tree"))),
        "--file",
        &format!("{}:/etc/keel/c:0600", s(&d.join("spec"))),
        "--program",
        "/usr/bin/keyctl",
        "--dir",
        "/data:0700",
        "--symlink",
        "/sbin/request-key:/init",
        "--dev",
        "/dev/vda:b:254:0:0660",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = fs::read(&out).unwrap();
    let o = run(&args);
    assert!(o.status.success());
    assert_eq!(fs::read(&out).unwrap(), first, "two builds differ");

    let o = run(&["list", &s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "-rwxr-xr-x     0/0             10 init",
        "crw-------     0/0            5,1 dev/console",
        "brw-rw----     0/0          254,0 dev/vda",
        "drwx------     0/0              0 data",
        "-rw-------     0/0             13 etc/keel/c",
        "lrwxrwxrwx     0/0              5 sbin/request-key -> /init",
        "srv/c/etc/motd",
        "usr/bin/keyctl",
        "lib64 -> usr/lib64",
    ] {
        assert!(text.lines().any(|l| l.contains(want)), "no {want:?} in\n{text}");
    }

    let o = run(&["closure", "/usr/bin/keyctl"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("libkeyutils.so.1"), "{text}");
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn usage_errors() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["build", "--out"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out needs a value"));
    let o = run(&["build", "--out", "/tmp/x.cpio", "--compress", "lzma"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected none, gzip"));
    let o = run(&["build", "--out", "/tmp/x.cpio", "--module", "nfs"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--module needs --modules-root"));
    let o = run(&["build", "--out", "/nonexistent/dir/x.cpio", "--dir", "/a"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["list", "/etc/hostname"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a newc archive"));
}
