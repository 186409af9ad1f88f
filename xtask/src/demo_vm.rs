//! The demo appliance: `cargo xtask image` builds it (target/demo.cpio),
//! `cargo xtask run` boots it under qemu with the console on the terminal.
//!
//! keel is /init; keel.conf loads the NFSv4 modules and powers off when the
//! table ends, writing the worst exit status to the verdict port. The
//! containers:
//!
//! - `shell`: a busybox shell on a root that lives in the initramfs
//!   (/srv/box), in its own pid, uts, mount… namespaces: shows what it sees;
//! - `web`: a service in its own network namespace (only `lo`): busybox
//!   httpd on 127.0.0.1:80, asked three times by wget, then it stops;
//! - `crashloop`: exits 3 at once, every time; keel restarts it after
//!   200 ms, 400 ms, 800 ms, then leaves it `failed`;
//! - `table`: prints keel's container table (/run/keel/containers) while
//!   the others run and once they are done.
//!
//! The verdict is 3, the crash-looper's exit status: that is the demo
//! ending as it should. `--interactive` adds a shell on the console (in
//! keel's namespaces: its `poweroff` asks keel to power off) and keeps the
//! machine up when the table ends (`on_empty stay`).

use crate::image::{self, Base, Contents, BOX};
use crate::scenarios::{BaseKind, Scenario};
use crate::util::{self, Result};
use crate::vm::{Console, Exit, Vm};
use std::path::PathBuf;
use std::time::Duration;

const CONF: &str = "\
# The demo appliance (cargo xtask image).
hostname keel-demo
# The NFSv4 client: keel loads each module's dependencies first (modules.dep).
module nfsv4
on_empty poweroff
# For the test harness: the worst container exit status goes to qemu's
# isa-debug-exit port before the poweroff.
verdict_port 0xf4
shutdown_timeout 5s
";

const SPECS: &[(&str, &str)] = &[
    (
        "shell",
        "# A busybox shell in its own namespaces, on a root that lives in the initramfs.
root /srv/box ro
hostname shell
mount proc /proc
mount tmpfs /tmp
mount bind /dev/ttyS1 /dev/ttyS1
args /bin/sh /t/shell.sh
oneshot
restart never
stdio log
",
    ),
    (
        "web",
        "# A service in its own network namespace (keel brought up lo): busybox httpd.
root /srv/box ro
ns net new
hostname web
mount proc /proc
mount tmpfs /tmp
mount bind /dev/ttyS1 /dev/ttyS1
args /bin/sh /t/web.sh
restart on-failure
stop_timeout 2s
stdio log
",
    ),
    (
        "crashloop",
        "# Crashes at once, every time: keel restarts it after 200 ms, 400 ms, 800 ms,
# then its restart budget is spent and it stays failed.
root /srv/box ro
args /bin/sh -c \"echo starting... and crashing; exit 3\"
restart on-failure
backoff 200ms 2s
restart_budget 3 1m
stdio log
",
    ),
    (
        "table",
        "# Shows keel's container table while the others run, and once they are done.
args /bin/sh /t/table.sh
oneshot
restart never
stdio log
",
    ),
];

const SHELL_SH: &str = r#"echo "hello from $(hostname): I am pid $$ in my own pid namespace; my processes:"
ps -o pid,comm | sed 's/^/    /'
echo "my root (it lives in the initramfs): $(ls / | tr '\n' ' ')"
echo "kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s"
echo "RESULT PASS demo-shell" > /dev/ttyS1
"#;

const WEB_SH: &str = r#"echo "my network namespace has: $(ip -o link | awk -F': ' '{print $2}' | tr '\n' ' ')"
mkdir -p /tmp/www && echo "hello from $(hostname), inside its own network namespace" > /tmp/www/index.html
httpd -f -p 127.0.0.1:80 -h /tmp/www &
ok=0
for i in 1 2 3; do
    sleep 1
    a=$(wget -qO- http://127.0.0.1/) && ok=$((ok+1))
    echo "request $i: $a"
done
kill $!
echo "done serving"
[ $ok = 3 ] && echo "RESULT PASS demo-web" > /dev/ttyS1 || echo "RESULT FAIL demo-web $ok of 3 requests answered" > /dev/ttyS1
"#;

const TABLE_SH: &str = r#"show() {
    echo "keel's container table at $(cut -d' ' -f1 /proc/uptime) s (/run/keel/containers):"
    awk '!/^#/ { delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        printf "    %-10s %-8s %6s %8s %12s\n", f["name"], f["state"], f["pid"], f["restarts"], f["net_ns"] }
        BEGIN { printf "    %-10s %-8s %6s %8s %12s\n", "NAME", "STATE", "PID", "RESTARTS", "NET NS" }' /run/keel/containers
}
sleep 1.5
show
# Until the others are done (web serves for about 3 s).
busy() { grep -Ev '^name=(table|console) ' /run/keel/containers | grep -Eq 'state=(waiting|starting|running|backoff|stopping)'; }
i=0
while busy && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
show
"#;

/// The demo's files; `interactive` adds a console shell and keeps the
/// machine up.
pub fn contents(interactive: bool) -> Contents {
    let mut c = Contents {
        conf: CONF.to_string(),
        ..Contents::default()
    };
    if interactive {
        c.conf = c.conf.replace("on_empty poweroff", "on_empty stay");
        c.container(
            "console",
            "# An interactive shell on the console, in keel's own namespaces: `poweroff` asks keel
# (PID 1) to stop the containers and power off.
ns mnt host
ns pid host
ns net host
ns uts host
ns ipc host
ns cgroup host
args /bin/cttyhack /bin/sh -l
env PATH=/bin
env \"PS1=keel-demo# \"
stdio inherit
restart always
# An interactive shell ignores SIGTERM; it ends on a hangup.
stop_signal HUP
stop_timeout 2s
",
        );
    }
    for (n, s) in SPECS {
        c.container(n, s);
    }
    for (n, body) in [("shell", SHELL_SH), ("web", WEB_SH), ("table", TABLE_SH)] {
        c.file(&format!("{BOX}/t/{n}.sh"), body, 0o755);
        c.file(&format!("/t/{n}.sh"), body, 0o755);
    }
    c
}

/// The verdict of a demo that ended as it should: the crash-looper's.
pub const VERDICT: u8 = 3;

/// The demo as a VM test.
pub fn scenario() -> Scenario {
    let mut s = Scenario::keel("demo")
        .base(BaseKind::KeelModules)
        .verdict(VERDICT)
        .pass(&["demo-shell", "demo-web"])
        .timeout(90);
    s.contents = contents(false);
    s
}

/// Builds the demo image: target/demo.cpio (target/demo-interactive.cpio).
pub fn build(interactive: bool, install: bool) -> Result<(PathBuf, keel_rootfs::KernelTree, u64)> {
    crate::vm::ensure_tools(install)?;
    let kernel = crate::vm::kernel()?;
    let keel = crate::keel::keel_from_env_or_build()?;
    let base = Base::new(&keel, Some(&kernel), image::NFS4_MODULES)?;
    let out = util::target_dir().join(if interactive {
        "demo-interactive.cpio"
    } else {
        "demo.cpio"
    });
    let size = base.write(&contents(interactive), &out)?;
    Ok((out, kernel, size))
}

/// `cargo xtask image`.
pub fn cmd_image() -> Result<()> {
    let (out, kernel, size) = build(false, true)?;
    println!(
        "xtask: image: {} — {} (uncompressed cpio: keel as /init, busybox, the NFSv4 modules of {}, {} containers)",
        out.display(),
        util::fmt_size(size),
        kernel.version,
        SPECS.len()
    );
    println!("xtask: boot it: cargo xtask run, or by hand:");
    println!(
        "  {} -accel tcg -M pc -m 512 -nodefaults -display none -no-reboot -bios {} -kernel {} -initrd {} -append \"{}\" -serial stdio -serial file:results.txt -device isa-debug-exit,iobase=0xf4,iosize=0x04",
        crate::vm::QEMU,
        crate::vm::QBOOT,
        kernel.vmlinux.display(),
        out.display(),
        crate::vm::BASE_APPEND
    );
    Ok(())
}

/// `cargo xtask run [--interactive]`: boots the demo, console on the terminal.
pub fn cmd_run(interactive: bool) -> Result<()> {
    let (img, kernel, size) = build(interactive, true)?;
    println!(
        "xtask: run: booting {} ({}) with Debian's kernel {} under qemu (TCG: software emulation)",
        img.display(),
        util::fmt_size(size),
        kernel.version
    );
    if interactive {
        println!("xtask: run: a shell comes up on the console; `poweroff` there ends the VM (or Ctrl-A X: qemu's own exit)\n");
        let r = Vm::new("demo")
            .kernel(&kernel)
            .initrd(&img)
            .console(Console::Terminal)
            .timeout(Duration::from_secs(24 * 3600))
            .run()?;
        println!("\nxtask: run: the VM ended after {}: {}", util::fmt_dur(r.wall), r.exit);
        return Ok(());
    }
    println!("xtask: run: the containers end by themselves, then keel powers the machine off\n");
    let r = Vm::new("demo")
        .kernel(&kernel)
        .initrd(&img)
        .console(Console::Plain)
        .timeout(Duration::from_secs(120))
        .run()?;
    println!();
    let s = scenario();
    match s.judge(&r) {
        Ok(()) => {
            println!(
                "xtask: run: the demo ended as it should after {}: keel powered off with verdict {VERDICT} (the crash-looper's exit status; shell and web exited 0)",
                util::fmt_dur(r.wall)
            );
            Ok(())
        }
        Err(e) => {
            if matches!(r.exit, Exit::Verdict(_)) {
                Err(r.failure(&e))
            } else {
                Err(r.failure(&format!("the demo did not end as it should: {e}")))
            }
        }
    }
}
