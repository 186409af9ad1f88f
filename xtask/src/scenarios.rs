//! The VM tests: each scenario is an initramfs (keel as /init, a keel.conf,
//! container specs, shell scripts), a kernel command line, and what must
//! come out: the verdict, the result lines, words on the console.
//!
//! # Result lines (the guest → the host)
//!
//! Containers write lines to the second serial port, `/dev/ttyS1` (a
//! container with its own root binds it in: [`BOX_TTY`]). The scripts get
//! helpers from `/t/lib.sh`:
//!
//! ```text
//! RESULT PASS NAME [detail…]   a check passed      (pass NAME …, check NAME CMD…, eq NAME GOT WANT)
//! RESULT FAIL NAME [detail…]   a check failed      (fail NAME …)
//! DATA KEY VALUE…              a figure or a fact  (data KEY VALUE…)
//! ```
//!
//! Any FAIL fails the scenario; every PASS name the scenario expects must
//! be there; the verdict (the worst container exit status, which keel
//! writes to port 0xf4 before powering off: `verdict_port` in keel.conf)
//! must be the expected one. A failing scenario prints the result lines and
//! the tail of the console.
//!
//! # Adding a scenario
//!
//! In [`all`]:
//!
//! ```ignore
//! v.push(Scenario::keel("hello")
//!     .script("hello", ". /t/lib.sh\ncheck hello-works true\n")
//!     .container("hello", "ns mnt new\nargs /bin/sh /t/hello.sh\nstdio log\nrestart never\n")
//!     .pass(&["hello-works"]));
//! ```
//!
//! and run it alone with `cargo xtask test --vm-only --scenario hello`.
//! Each VM leaves `target/vm/NAME/`: initramfs.cpio, console.log,
//! results.txt.
//!
//! # The scenarios
//!
//! `boot` (PID 1's mounts, host name, sysctl, kmsg, CAD), `modules` (the
//! NFSv4 set, a parameter, a missing module), `namespaces` (three
//! containers, none sharing a namespace with PID 1 or each other),
//! `cgroups` (memory.max, pids.max, cpu.max written and enforced: an OOM
//! kill, a fork bomb stopped, throttling), `crashloop` (doubling restart
//! delays, then failed; its exit status is the verdict), `initramfs-root`
//! (a root inside the initramfs; the detach-and-setns escape finds an empty
//! directory), `shutdown-order` (reverse dependency order on SIGUSR2, the
//! worst status as verdict), `stop-timeout` (SIGTERM ignored: killed after
//! stop_timeout), `orphan` (reaped by keel), `panic-resume`
//! (keel.panic=running: the containers are adopted), `fault-STEP` (one boot
//! per spawn step: keel.fault=STEP is logged and survived; the groups of
//! containers that reach each step are in [`fault_steps`], the steps no
//! spec reaches in [`NOT_INJECTABLE`]), `fault-baseline` (those groups
//! with no fault), `demo` (`cargo xtask run`), `harness` and
//! `harness-panic` (the harness itself, with a busybox /init).
//!
//! Environment: `KEEL_VM_JOBS` (VMs at once, default 2), `KEEL_BIN` and
//! `KEEL_FAULT_BIN` (use these keel binaries instead of building them),
//! `KEEL_VM_ALL_FAULTS=1` (every index of the indexed steps, not only the
//! first).

use crate::image::{self, Base, Contents, BOX};
use crate::util::{self, Result};
use crate::vm::{Console, Exit, Vm, VmResult};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The global configuration every keel scenario starts from.
pub const BASE_CONF: &str = "\
# cargo xtask: VM test
hostname keel-vm
on_empty poweroff
verdict_port 0xf4
shutdown_timeout 10s
";

/// A container with its own root binds the results port in.
pub const BOX_TTY: &str = "mount bind /dev/ttyS1 /dev/ttyS1\n";

/// The scripts' helpers, at /t/lib.sh (and /srv/box/t/lib.sh).
pub const LIB_SH: &str = r#"# Result lines for the host (xtask/src/scenarios.rs): the second serial port.
R=/dev/ttyS1
up() { cut -d' ' -f1 /proc/uptime; }
pass() { echo "RESULT PASS $*" > $R; }
fail() { echo "RESULT FAIL $*" > $R; }
data() { echo "DATA $*" > $R; }
# check NAME CMD…: PASS if CMD succeeds, else FAIL naming the command.
check() { _n=$1; shift; if "$@"; then pass "$_n"; else fail "$_n" "($*)"; fi; }
# eq NAME GOT WANT
eq() { if [ "$2" = "$3" ]; then pass "$1" "$2"; else fail "$1" "got '$2' want '$3'"; fi; }
# waitfor FILE SECONDS: until FILE exists (false after SECONDS).
waitfor() { _i=0; while [ ! -e "$1" ]; do _i=$((_i+1)); [ $_i -gt $(($2*10)) ] && return 1; sleep 0.1; done; }
"#;

/// Which keel (or none) is /init, and what else the base holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BaseKind {
    /// keel as built for users.
    Keel,
    /// keel, and the NFSv4 modules.
    KeelModules,
    /// keel built with `--features fault-inject`.
    Fault,
    /// A busybox script as /init (the harness' own test).
    Busybox,
}

pub type Check = Arc<dyn Fn(&VmResult) -> std::result::Result<(), String> + Send + Sync>;

/// One VM test.
#[derive(Clone)]
pub struct Scenario {
    pub name: String,
    pub base: BaseKind,
    pub contents: Contents,
    /// Added to the kernel command line.
    pub append: String,
    pub timeout: Duration,
    /// The expected end (default: verdict 0).
    pub exit: Exit,
    /// RESULT PASS names that must be there.
    pub pass: Vec<String>,
    /// Strings the console must contain.
    pub console: Vec<String>,
    pub checks: Vec<Check>,
    /// A busybox /init script (BaseKind::Busybox).
    pub init_script: Option<String>,
}

impl Scenario {
    /// A scenario with keel as /init and [`BASE_CONF`].
    pub fn keel(name: &str) -> Scenario {
        let mut c = Contents {
            conf: BASE_CONF.to_string(),
            ..Contents::default()
        };
        c.file("/t/lib.sh", LIB_SH, 0o644)
            .file(&format!("{BOX}/t/lib.sh"), LIB_SH, 0o644);
        Scenario {
            name: name.to_string(),
            base: BaseKind::Keel,
            contents: c,
            append: String::new(),
            timeout: Duration::from_secs(60),
            exit: Exit::Verdict(0),
            pass: Vec::new(),
            console: Vec::new(),
            checks: Vec::new(),
            init_script: None,
        }
    }

    pub fn base(mut self, b: BaseKind) -> Self {
        self.base = b;
        self
    }

    /// A container spec: /etc/keel/containers/NAME.
    pub fn container(mut self, name: &str, spec: &str) -> Self {
        self.contents.container(name, spec);
        self
    }

    /// A shell script at /t/NAME.sh, and at /srv/box/t/NAME.sh for
    /// containers rooted there.
    pub fn script(mut self, name: &str, body: &str) -> Self {
        self.contents
            .file(&format!("/t/{name}.sh"), body, 0o755)
            .file(&format!("{BOX}/t/{name}.sh"), body, 0o755);
        self
    }

    pub fn file(mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.contents.file(path, data, mode);
        self
    }

    /// Lines added to keel.conf.
    pub fn conf(mut self, lines: &str) -> Self {
        self.contents.conf.push_str(lines);
        if !lines.ends_with('\n') {
            self.contents.conf.push('\n');
        }
        self
    }

    pub fn append(mut self, words: &str) -> Self {
        if !self.append.is_empty() {
            self.append.push(' ');
        }
        self.append.push_str(words);
        self
    }

    pub fn timeout(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }

    pub fn verdict(mut self, n: u8) -> Self {
        self.exit = Exit::Verdict(n);
        self
    }

    pub fn exit(mut self, e: Exit) -> Self {
        self.exit = e;
        self
    }

    pub fn pass(mut self, names: &[&str]) -> Self {
        self.pass.extend(names.iter().map(|s| s.to_string()));
        self
    }

    pub fn console_has(mut self, s: &str) -> Self {
        self.console.push(s.to_string());
        self
    }

    pub fn check(mut self, f: impl Fn(&VmResult) -> std::result::Result<(), String> + Send + Sync + 'static) -> Self {
        self.checks.push(Arc::new(f));
        self
    }

    /// Everything wrong with `r`, or Ok.
    pub fn judge(&self, r: &VmResult) -> std::result::Result<(), String> {
        let mut errs = Vec::new();
        if r.exit != self.exit {
            errs.push(format!("expected {}, got {}", self.exit, r.exit));
        }
        for w in r.lines_of("RESULT") {
            if w.first() == Some(&"FAIL") {
                errs.push(format!("FAIL {}", w[1..].join(" ")));
            }
        }
        let passed: Vec<&str> = r
            .lines_of("RESULT")
            .iter()
            .filter(|w| w.first() == Some(&"PASS"))
            .filter_map(|w| w.get(1).copied())
            .collect();
        for p in &self.pass {
            if !passed.contains(&p.as_str()) {
                errs.push(format!("no RESULT PASS {p}"));
            }
        }
        for s in &self.console {
            if !r.console.contains(s.as_str()) {
                errs.push(format!("the console does not say {s:?}"));
            }
        }
        // Extra checks only when the VM ended as it should: their messages
        // would only repeat the first error.
        if errs.is_empty() {
            for c in &self.checks {
                if let Err(e) = c(r) {
                    errs.push(e);
                }
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// `DATA KEY …` values of every line with that key, in order.
pub fn data_all(r: &VmResult, key: &str) -> Vec<Vec<String>> {
    r.lines_of("DATA")
        .into_iter()
        .filter(|w| w.first() == Some(&key))
        .map(|w| w[1..].iter().map(|s| s.to_string()).collect())
        .collect()
}

fn f64_of(s: &str) -> std::result::Result<f64, String> {
    s.parse::<f64>().map_err(|_| format!("not a number: {s:?}"))
}

// ---- the scenarios --------------------------------------------------------------

/// Every VM test.
pub fn all() -> Vec<Scenario> {
    // The longest first: two VMs at a time pack better that way.
    let mut v = vec![
        crate::demo_vm::scenario(),
        cgroups(),
        panic_resume(),
        crashloop(),
        modules(),
        namespaces(),
        shutdown_order(),
        stop_timeout(),
    ];
    v.extend([
        boot(),
        initramfs_root(),
        orphan(),
        fault_baseline(),
        harness(),
        harness_panic(),
    ]);
    v.extend(crate::upcall_vm::all());
    v.extend(crate::dns_vm::all());
    v.extend(faults());
    v
}

/// The harness itself, with a busybox /init: the second serial port and
/// the verdict port work.
fn harness() -> Scenario {
    let mut s = Scenario::keel("harness")
        .base(BaseKind::Busybox)
        .verdict(5)
        .pass(&["ttyS1"])
        .console_has("harness: hello");
    s.init_script = Some(
        r#"#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "harness: hello from a busybox /init at $(cut -d' ' -f1 /proc/uptime) s"
echo "RESULT PASS ttyS1" > /dev/ttyS1
echo "DATA uptime_at_init $(cut -d' ' -f1 /proc/uptime)" > /dev/ttyS1
case " $(cat /proc/cmdline) " in *" harness=panic "*) echo "harness: exiting PID 1"; exit 1;; esac
printf '\005' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
"#
        .into(),
    );
    s.timeout = Duration::from_secs(30);
    s
}

/// The harness sees a kernel panic (PID 1 exits) as one.
fn harness_panic() -> Scenario {
    let mut s = harness().exit(Exit::KernelPanic).append("harness=panic");
    s.name = "harness-panic".into();
    s
}

/// keel boots Debian's kernel as PID 1: its mounts, hostname, sysctl,
/// kmsg, console, CAD.
fn boot() -> Scenario {
    Scenario::keel("boot")
        .conf("sysctl net.ipv4.ip_forward 1\nmodprobe off\n")
        .script(
            "probe",
            r#". /t/lib.sh
data uptime_probe $(up)
mi=/proc/1/mountinfo
# mount point and type of each line of PID 1's mountinfo
mounts=$(awk '{for(i=1;i<=NF;i++) if($i=="-") print $5, $(i+1)}' $mi)
has() { echo "$mounts" | grep -qx "$1 $2"; }
check root-is-not-rootfs has / tmpfs
check mount-proc has /proc proc
check mount-sys has /sys sysfs
check mount-dev has /dev devtmpfs
check mount-devpts has /dev/pts devpts
check mount-devshm has /dev/shm tmpfs
check mount-run has /run tmpfs
check mount-cgroup2 has /sys/fs/cgroup cgroup2
check no-cgroup1 sh -c "! awk '{for(i=1;i<=NF;i++) if(\$i==\"-\") print \$(i+1)}' $mi | grep -qx cgroup"
data pid1_mounts $(echo "$mounts" | tr ' \n' ':,')
exe=$(readlink /proc/1/exe)
# keel runs from the initramfs it emptied: "/init (deleted)".
case "$exe" in /init*) pass pid1-exe "$exe";; *) fail pid1-exe "$exe";; esac
data pid1_fds $(ls -l /proc/1/fd | awk 'NR>1{print $9 $10 $11}' | tr '\n' ' ')
eq hostname "$(hostname)" keel-vm
eq sysctl "$(cat /proc/sys/net/ipv4/ip_forward)" 1
eq printk-devkmsg "$(cat /proc/sys/kernel/printk_devkmsg)" on
eq cad-off "$(cat /proc/sys/kernel/ctrl-alt-del)" 0
data modprobe "$(cat /proc/sys/kernel/modprobe)"
check kmsg-lines sh -c "dmesg | grep -q 'keel: '"
fd0=$(readlink /proc/1/fd/0)
case "$fd0" in /dev/console*|/dev/null*|/dev/ttyS0) pass stdin-console "$fd0";; *) fail stdin-console "fd 0 of PID 1: $fd0";; esac
data kernel_run_init "$(dmesg | grep -m1 'Run /init' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')"
data pid1_vmrss_kb $(awk '/^VmRSS/{print $2}' /proc/1/status)
"#,
        )
        .container("probe", "ns mnt host\nns pid host\nns net host\nns uts host\nns ipc host\nns cgroup host\ncaps bounding all\nargs /bin/sh /t/probe.sh\nstdio log\nrestart never\noneshot\n")
        .pass(&[
            "root-is-not-rootfs",
            "mount-proc",
            "mount-sys",
            "mount-dev",
            "mount-devpts",
            "mount-devshm",
            "mount-run",
            "mount-cgroup2",
            "no-cgroup1",
            "pid1-exe",
            "hostname",
            "sysctl",
            "printk-devkmsg",
            "cad-off",
            "kmsg-lines",
            "stdin-console",
        ])
}

/// keel loads the NFSv4 set from keel.conf (dependencies from modules.dep,
/// a parameter), and a missing module is reported without halting.
fn modules() -> Scenario {
    let mut checks = String::from(". /t/lib.sh\n");
    for m in image::NFS4_MODULES {
        checks.push_str(&format!("check module-{m} grep -q '^{m} ' /proc/modules\n"));
    }
    checks.push_str("check fs-nfs4 grep -qw nfs4 /proc/filesystems\n");
    checks.push_str("eq module-param \"$(cat /sys/module/lockd/parameters/nlm_tcpport)\" 4045\n");
    checks.push_str("data modules $(awk '{print $1}' /proc/modules | tr '\\n' ,)\n");
    let names: Vec<String> = image::NFS4_MODULES.iter().map(|m| format!("module-{m}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Scenario::keel("modules")
        .base(BaseKind::KeelModules)
        .conf("module lockd nlm_tcpport=4045\nmodule nfsv4\nmodule no_such_module\n")
        .script("mods", &checks)
        .container(
            "mods",
            "ns mnt new\nmount proc /proc\nargs /bin/sh /t/mods.sh\nstdio log\nrestart never\n",
        )
        .pass(&names)
        .pass(&["fs-nfs4", "module-param"])
        .console_has("no_such_module")
}

/// Three containers whose namespaces differ from PID 1's and from each
/// other's; a checker in PID 1's namespaces compares them.
fn namespaces() -> Scenario {
    let worker = "args /bin/sh -c \". /t/lib.sh; waitfor /run/ns-done 60\"\nstdio log\nrestart never\n";
    Scenario::keel("namespaces")
        .script(
            "nscheck",
            r#". /t/lib.sh
kinds="mnt pid net uts ipc cgroup"
all=""
for c in c1 c2 c3; do
    row=$(grep "^name=$c " /run/keel/containers)
    pid=$(echo "$row" | sed 's/.* pid=\([0-9]*\) .*/\1/')
    data row $row
    ok=1
    for k in $kinds; do
        mine=$(readlink /proc/1/ns/$k); theirs=$(readlink /proc/$pid/ns/$k)
        [ -n "$theirs" ] && [ "$mine" != "$theirs" ] || { ok=0; fail ns-$c-$k "pid $pid: $theirs (PID 1: $mine)"; }
        all="$all $k:$theirs"
        ino=$(echo "$theirs" | sed 's/.*\[\([0-9]*\)\]/\1/')
        echo "$row" | grep -q " ${k}_ns=$ino " || { ok=0; fail table-$c-$k "the status file does not say ${k}_ns=$ino"; }
    done
    [ $ok = 1 ] && pass ns-$c
done
# No two containers share a namespace.
dups=$(echo $all | tr ' ' '\n' | sort | uniq -d)
eq ns-distinct "$dups" ""
touch /run/ns-done
"#,
        )
        .container("c1", worker)
        .container("c2", worker)
        .container("c3", worker)
        .container(
            "nscheck",
            "ns mnt host\nns pid host\nns net host\nns uts host\nns ipc host\nns cgroup host\nafter c1 c2 c3\nargs /bin/sh /t/nscheck.sh\nstdio log\nrestart never\noneshot\n",
        )
        .pass(&["ns-c1", "ns-c2", "ns-c3", "ns-distinct"])
}

/// memory.max, pids.max and cpu.max are written and enforced. cpu.max is
/// tested in a container of its own: at 10 % of the CPU every other test
/// would take ten times as long.
fn cgroups() -> Scenario {
    Scenario::keel("cgroups")
        .script(
            "limits",
            r#". /t/lib.sh
mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg || fail cgroup2-mount
eq cgroupns "$(cat /proc/self/cgroup)" "0::/"
eq inside-memory.max "$(cat /tmp/cg/memory.max)" 33554432
eq inside-pids.max "$(cat /tmp/cg/pids.max)" 20
touch /run/limits-up

# pids.max 20: start background sleeps until fork fails.
( n=0; while :; do sleep 60 & n=$((n+1)); echo $n > /tmp/forks; done ) 2>/dev/null
n=$(cat /tmp/forks)
data forks_before_pids.max $n pids.current $(cat /tmp/cg/pids.current)
check fork-bomb-stopped [ $n -lt 20 -a $n -ge 10 ]
check pids-events [ "$(awk '$1=="max"{print $2}' /tmp/cg/pids.events)" -gt 0 ]
kill -9 -1 2>/dev/null; wait 2>/dev/null

# memory.max 32m: a string that doubles until the OOM killer stops it.
awk 'BEGIN{s="x"; while (1) s = s s}' 2>/dev/null; st=$?
data oom_exit $st memory.events $(tr '\n' ' ' < /tmp/cg/memory.events)
eq memory-oom-killed $st 137
check memory-events [ "$(awk '$1=="oom_kill"{print $2}' /tmp/cg/memory.events)" -gt 0 ]
waitfor /run/observed 30
"#,
        )
        .script(
            "cpu",
            r#". /t/lib.sh
mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg || fail cgroup2-mount
eq inside-cpu.max "$(cat /tmp/cg/cpu.max)" "10000 100000"
# cpu.max 10 %: a busy loop for 1.5 s gets about 0.15 s.
st() { awk -v k=$1 '$1==k{print $2}' /tmp/cg/cpu.stat; }
u0=$(st usage_usec); t0=$(st nr_throttled)
sh -c 'while :; do :; done' & busy=$!
sleep 1.5; kill $busy; wait $busy 2>/dev/null
u1=$(st usage_usec); t1=$(st nr_throttled)
data cpu_usage_usec_in_1.5s $((u1-u0)) throttled $((t1-t0))
check cpu-throttled [ $((t1-t0)) -gt 0 ]
check cpu-limited [ $((u1-u0)) -lt 750000 ]
waitfor /run/observed 30
"#,
        )
        .script(
            "observer",
            r#". /t/lib.sh
waitfor /run/limits-up 60 || fail observer "limits never came up"
cg=/sys/fs/cgroup
eq outside-memory.max "$(cat $cg/limits/memory.max)" 33554432
eq outside-pids.max "$(cat $cg/limits/pids.max)" 20
eq outside-cpu.max "$(cat $cg/cpu/cpu.max)" "10000 100000"
procs=$(cat $cg/limits/cgroup.procs | tr '\n' ' ')
data limits_procs $procs
check outside-member [ -n "$procs" ]
touch /run/observed
"#,
        )
        .container(
            "limits",
            "ns mnt new\nmount proc /proc\ncaps bounding all\ncgroup memory.max 32m\ncgroup pids.max 20\nargs /bin/sh /t/limits.sh\nstdio log\nrestart never\n",
        )
        .container("cpu", "ns mnt new\nmount proc /proc\ncaps bounding all\ncgroup cpu.max 10000 100000\nargs /bin/sh /t/cpu.sh\nstdio log\nrestart never\n")
        .container("observer", "ns cgroup host\nns pid host\nafter limits cpu\nargs /bin/sh /t/observer.sh\nstdio log\nrestart never\n")
        .pass(&[
            "cgroupns",
            "inside-memory.max",
            "inside-pids.max",
            "inside-cpu.max",
            "cpu-throttled",
            "cpu-limited",
            "fork-bomb-stopped",
            "pids-events",
            "memory-oom-killed",
            "memory-events",
            "outside-memory.max",
            "outside-pids.max",
            "outside-cpu.max",
            "outside-member",
        ])
        .timeout(90)
}

/// A crash-looping container: restarts with doubling delays, then failed;
/// keel's verdict is its exit status.
fn crashloop() -> Scenario {
    Scenario::keel("crashloop")
        .script("crash", ". /t/lib.sh\ndata crash_start $(up)\nexit 3\n")
        .container(
            "crash",
            "args /bin/sh /t/crash.sh\nrestart on-failure\nbackoff 200ms 5s\nrestart_budget 4 1m\nstdio log\n",
        )
        .verdict(3)
        .check(|r| {
            let t: Vec<f64> = data_all(r, "crash_start")
                .iter()
                .filter_map(|w| w.first().and_then(|s| f64_of(s).ok()))
                .collect();
            if t.len() != 5 {
                return Err(format!(
                    "crash started {} times, expected 5 (1 + restart_budget 4): {t:?}",
                    t.len()
                ));
            }
            let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
            // Each delay is the backoff (200 ms, doubling) plus the time a
            // start takes, which emulation makes long and uneven.
            for (i, g) in gaps.iter().enumerate() {
                let want = 0.2 * f64::from(1u32 << i);
                if *g < want * 0.9 || *g > want * 1.5 + 0.6 {
                    return Err(format!(
                        "restart {} came after {g:.3} s, the backoff is {want:.1} s (gaps {gaps:.3?})",
                        i + 1
                    ));
                }
            }
            if gaps[3] < gaps[0] * 3.0 {
                return Err(format!("the delays do not grow: {gaps:.3?}"));
            }
            println!("[crashloop] restart gaps: {gaps:.3?} s");
            Ok(())
        })
}

/// A container rooted in the initramfs runs; one with CAP_SYS_ADMIN and no
/// user namespace that detaches its root and re-enters its mount namespace
/// finds an empty directory (keel emptied the initramfs rootfs).
fn initramfs_root() -> Scenario {
    let helper = image::helper("mntns-ls").ok();
    let mut s = Scenario::keel("initramfs-root")
        .script(
            "boxed",
            r#". /t/lib.sh
check boxed-marker [ -f /etc/box-marker ]
check boxed-no-init [ ! -e /init ]
check boxed-no-srv [ ! -e /srv ]
data boxed_root "$(ls / | tr '\n' ' ')"
"#,
        )
        .script(
            "detach",
            r#". /t/lib.sh
data detach_caps $(grep CapEff /proc/self/status)
check detach-before [ -f /etc/box-marker ]
# /proc and /dev/ttyS1 are mounts below /: they go with it. Open what is
# needed after the detach first: the namespace (fd 3), the results (fd 4).
exec 3</proc/self/ns/mnt 4>/dev/ttyS1
umount -l / || fail detach-umount "umount -l / failed"
out=$(/bin/mntns-ls 3 2>&1); st=$?
echo "DATA detach_listing $(echo "$out" | tr '\n' ' ')" >&4
[ $st = 0 ] && echo "RESULT PASS detach-setns" >&4 || echo "RESULT FAIL detach-setns status $st" >&4
last=$(echo "$out" | tail -n 1)
[ "$last" = "entries 0" ] && echo "RESULT PASS detach-empty" >&4 || echo "RESULT FAIL detach-empty the namespace's root holds: $out" >&4
"#,
        )
        .container("boxed", &format!("root {BOX} ro\nmount proc /proc\n{BOX_TTY}args /bin/sh /t/boxed.sh\nstdio log\nrestart never\n"))
        .container("detach", &format!("root {BOX}\nmount proc /proc\n{BOX_TTY}caps bounding all\nargs /bin/sh /t/detach.sh\nstdio log\nrestart never\n"))
        .pass(&["boxed-marker", "boxed-no-init", "boxed-no-srv", "detach-before", "detach-setns", "detach-empty"]);
    match helper {
        Some(h) => match std::fs::read(&h) {
            Ok(b) => s = s.file(&format!("{BOX}/bin/mntns-ls"), b, 0o755),
            Err(e) => s = s.check(move |_| Err(format!("{}: {e}", h.display()))),
        },
        None => {
            let e = image::helper("mntns-ls").err().unwrap_or_default();
            s = s.check(move |_| Err(format!("no mntns-ls helper: {e}")));
        }
    }
    s
}

const SLEEPER: &str = r#". /t/lib.sh
trap 'data stop $NAME $(up); exit 0' TERM
data start $NAME $(up)
sleep 1000 & wait
"#;

/// Poweroff (SIGUSR2 to PID 1) stops the containers in reverse order, and
/// qemu ends with the verdict: the worst exit status (7, of `sevens`).
fn shutdown_order() -> Scenario {
    let spec = |name: &str, after: &str| {
        format!("env NAME={name}\n{after}args /bin/sh /t/sleeper.sh\nstdio log\nrestart never\nstop_timeout 5s\n")
    };
    Scenario::keel("shutdown-order")
        .script("sleeper", SLEEPER)
        .script("trigger", ". /t/lib.sh\nsleep 0.5\ndata poweroff $(up)\nkill -USR2 1\n")
        .container("a", &spec("a", ""))
        .container("b", &spec("b", "after a\n"))
        .container("c", &spec("c", "after b\n"))
        .container(
            "sevens",
            "args /bin/sh -c \"exit 7\"\noneshot\nrestart never\nstdio log\n",
        )
        .container(
            "trigger",
            "ns pid host\nafter c\nargs /bin/sh /t/trigger.sh\noneshot\nrestart never\nstdio log\n",
        )
        .verdict(7)
        .check(|r| {
            let stops: Vec<String> = data_all(r, "stop").iter().filter_map(|w| w.first().cloned()).collect();
            if stops != ["c", "b", "a"] {
                return Err(format!(
                    "stop order {stops:?}, expected [c, b, a] (the reverse of a ← b ← c)"
                ));
            }
            Ok(())
        })
}

/// A container that ignores SIGTERM is killed at its stop_timeout (2 s).
fn stop_timeout() -> Scenario {
    Scenario::keel("stop-timeout")
        .script(
            "stubborn",
            ". /t/lib.sh\ntrap '' TERM\nwhile :; do data alive $(up); sleep 0.2; done\n",
        )
        .script("trigger", ". /t/lib.sh\nsleep 1\ndata poweroff $(up)\nkill -USR2 1\n")
        .container(
            "stubborn",
            "args /bin/sh /t/stubborn.sh\nstop_timeout 2s\nstdio log\nrestart never\n",
        )
        .container(
            "trigger",
            "ns pid host\nafter stubborn\nargs /bin/sh /t/trigger.sh\noneshot\nrestart never\nstdio log\n",
        )
        .check(|r| {
            let off = data_all(r, "poweroff")
                .first()
                .and_then(|w| w.first().and_then(|s| f64_of(s).ok()))
                .ok_or("no DATA poweroff")?;
            let last = data_all(r, "alive")
                .last()
                .and_then(|w| w.first().and_then(|s| f64_of(s).ok()))
                .ok_or("no DATA alive")?;
            let lived = last - off;
            println!(
                "[stop-timeout] the stubborn container lived {lived:.2} s after the poweroff request (stop_timeout 2s)"
            );
            if !(1.5..6.0).contains(&lived) {
                return Err(format!(
                    "it lived {lived:.2} s after the stop request; stop_timeout is 2 s"
                ));
            }
            Ok(())
        })
}

/// An orphan (its parent exited) is reparented to keel and reaped.
fn orphan() -> Scenario {
    Scenario::keel("orphan")
        .script(
            "parent",
            ". /t/lib.sh\nsleep 1 &\necho $! > /run/orphan.pid\ndata orphan $!\n",
        )
        .script(
            "reaped",
            r#". /t/lib.sh
p=$(cat /run/orphan.pid)
[ -e /proc/$p ] && data orphan_ppid $(awk '{print $4}' /proc/$p/stat) state $(awk '{print $3}' /proc/$p/stat)
i=0
while [ -e /proc/$p ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
check orphan-reaped [ ! -e /proc/$p ]
sleep 0.5
z=$(for s in /proc/[0-9]*/stat; do awk '$3=="Z" && $4==1 {print $1}' $s 2>/dev/null; done)
eq no-zombies-of-pid1 "$z" ""
"#,
        )
        .container(
            "parent",
            "ns pid host\nargs /bin/sh /t/parent.sh\noneshot\nrestart never\nstdio log\n",
        )
        .container(
            "reaped",
            "ns pid host\nafter parent\nargs /bin/sh /t/reaped.sh\noneshot\nrestart never\nstdio log\n",
        )
        .pass(&["orphan-reaped", "no-zombies-of-pid1"])
}

/// keel.panic=running: keel panics once its containers run, re-executes
/// itself with --resume and adopts them: same pids, one start each, their
/// exit statuses collected.
fn panic_resume() -> Scenario {
    let w = |n: &str| format!("env NAME={n}\nns pid host\nargs /bin/sh /t/worker.sh\nrestart never\nstdio log\n");
    Scenario::keel("panic-resume")
        .base(BaseKind::Fault)
        .append("keel.panic=running")
        .script(
            "worker",
            r#". /t/lib.sh
data start $NAME $$
sleep 6
row=$(grep "^name=$NAME " /run/keel/containers)
data row $NAME $row
echo "$row" | grep -q " pid=$$ " && pass adopted-$NAME || fail adopted-$NAME "keel's table after the resume: $row (my pid $$)"
"#,
        )
        .container("w1", &w("w1"))
        .container("w2", &w("w2"))
        .pass(&["adopted-w1", "adopted-w2"])
        .console_has("panic")
        .console_has("resumed")
        .console_has("adopted")
        .check(|r| {
            for n in ["w1", "w2"] {
                let starts = data_all(r, "start").iter().filter(|w| w.first().map(String::as_str) == Some(n)).count();
                if starts != 1 {
                    return Err(format!("{n} started {starts} times: the resumed keel started it again instead of adopting it"));
                }
            }
            Ok(())
        })
}

// ---- injected faults -------------------------------------------------------------

/// Containers that reach the steps: G1 a rich spec in keel's user
/// namespace; G2 a new user namespace; G3 a shared user and pid namespace;
/// G4 shared mnt/net/uts/ipc/cgroup/time namespaces.
fn fault_group(s: Scenario, g: u8) -> Scenario {
    match g {
        1 => s.container(
            "victim",
            &format!(
                "root {BOX} ro\nns time new\ntime_offsets monotonic=100\nhostname victim\n\
                 mount bind {BOX}/etc /mnt ro\nmount tmpfs /tmp\nmask /etc/group\nreadonly /etc\n\
                 sysctl net.ipv4.ip_default_ttl 63\nrlimit nofile 1024 2048\n\
                 caps inheritable net_bind_service\ncaps ambient net_bind_service\ngroups 10\nno_new_privs\n\
                 oom_score_adj 100\nready_fd 3\ncwd /tmp\nargs /bin/true\nstdio log\nrestart never\n"
            ),
        ),
        2 => s.container(
            "victim-user",
            "ns user new\nuid_map 0 100000 65536\ngid_map 0 100000 65536\noom_score_adj 100\nargs /bin/true\nstdio log\nrestart never\n",
        ),
        3 => s
            .container("owner-u", "ns user new\nuid_map 0 100000 65536\ngid_map 0 100000 65536\nargs /bin/sleep 1\nstdio log\nrestart never\n")
            .container("sharer-u", "ns user share owner-u\nns pid share owner-u\nafter owner-u\nargs /bin/true\nstdio log\nrestart never\n"),
        _ => s
            .container("owner-n", "ns time new\ntime_offsets monotonic=100\nargs /bin/sleep 1\nstdio log\nrestart never\n")
            .container(
                "sharer-n",
                "ns mnt share owner-n\nns net share owner-n\nns uts share owner-n\nns ipc share owner-n\n\
                 ns cgroup share owner-n\nns time share owner-n\nafter owner-n\nargs /bin/true\nstdio log\nrestart never\n",
            ),
    }
}

/// Every injectable spawn step (supervisor/src/spawn/steps.rs) and the
/// group whose containers reach it.
pub fn fault_steps() -> Vec<(String, u8)> {
    let mut v: Vec<(String, u8)> = Vec::new();
    let mut add = |names: &[&str], g: u8| v.extend(names.iter().map(|n| (n.to_string(), g)));
    add(
        &[
            "pipe",
            "clone",
            "oom-score-adj",
            "dev-null",
            "fds",
            "time-offsets",
            "propagation",
            "root",
            "root-readonly",
            "dev-tmpfs",
            "dev-pts",
            "dev-shm",
            "mount-point:0",
            "mount:0",
            "mount-remount:0",
            "mask:0",
            "readonly:0",
            "sysctl:0",
            "pivot-root",
            "detach-old-root",
            "loopback",
            "hostname",
            "cwd",
            "rlimit:0",
            "bounding:2",
            "keep-caps",
            "groups",
            "gid",
            "uid",
            "capset",
            "ambient:10",
            "no-new-privs",
            "signals",
            "setsid",
            "stdio",
            "ready-fd",
            "close-fds",
            "exec",
        ],
        1,
    );
    // Indexed steps: the first of each family (the others run the same
    // code with another index); every index with KEEL_VM_ALL_FAULTS=1.
    let all = std::env::var_os("KEEL_VM_ALL_FAULTS").is_some_and(|v| v == "1");
    let dev_nodes: Vec<String> = (0..if all { 6 } else { 1 }).map(|i| format!("dev-node:{i}")).collect();
    let dev_links: Vec<String> = (0..if all { 5 } else { 1 }).map(|i| format!("dev-link:{i}")).collect();
    for n in dev_nodes.iter().chain(&dev_links) {
        v.push((n.clone(), 1));
    }
    let mut add = |names: &[&str], g: u8| v.extend(names.iter().map(|n| (n.to_string(), g)));
    add(&["uid-map", "gid-map", "release", "sync", "id-root"], 2);
    add(
        &[
            "pidns-enter",
            "setns:user",
            "unshare:mnt",
            "unshare:net",
            "unshare:uts",
            "unshare:ipc",
            "unshare:cgroup",
        ],
        3,
    );
    add(
        &[
            "setns:mnt",
            "setns:net",
            "setns:uts",
            "setns:ipc",
            "setns:cgroup",
            "setns:time",
        ],
        4,
    );
    v
}

/// Steps no spec can make fail by injection, and why.
pub const NOT_INJECTABLE: &[(&str, &str)] = &[
    ("report", "keel reading the child's report: no fault check"),
    ("pidns-restore", "PidnsGuard::restore has no fault check"),
    (
        "cgroup-procs",
        "only after the clone(2) fallback (clone3 refused by seccomp)",
    ),
    (
        "setns:pid",
        "pid namespaces are joined by keel (pidns-enter), never by the child",
    ),
    ("unshare:user", "a new user namespace always comes from clone3"),
    ("unshare:time", "the time namespace is made by the time-offsets step"),
    (
        "unshare:pid",
        "only with user share + pid new, which the spec parser refuses",
    ),
    ("fork", "only with user share + pid new, which the spec parser refuses"),
    (
        "handoff",
        "only with user share + pid new, which the spec parser refuses",
    ),
];

/// All four groups with the fault-inject keel and no fault: they all run.
fn fault_baseline() -> Scenario {
    let mut s = Scenario::keel("fault-baseline").base(BaseKind::Fault);
    for g in 1..=4 {
        s = fault_group(s, g);
    }
    s.check(|r| {
        if r.console.contains("ECANCELED") {
            Err("a fault without keel.fault".into())
        } else {
            Ok(())
        }
    })
}

/// One boot per step: keel.fault=STEP makes it fail with ECANCELED; keel
/// logs it, keeps going, and powers off with verdict 127 (a container that
/// failed its set-up).
fn faults() -> Vec<Scenario> {
    fault_steps()
        .into_iter()
        .map(|(step, g)| {
            let s = Scenario::keel(&format!("fault-{}", step.replace(':', "-")))
                .base(BaseKind::Fault)
                .append(&format!("keel.fault={step}"))
                .verdict(127)
                .timeout(40);
            fault_group(s, g).check(|r| {
                if r.console
                    .lines()
                    .any(|l| l.contains("ECANCELED") && l.contains("container"))
                {
                    Ok(())
                } else {
                    Err("no line on the console says a container's step failed with ECANCELED".into())
                }
            })
        })
        .collect()
}

// ---- running them ------------------------------------------------------------------

pub struct Options {
    /// Run the scenarios whose name starts with one of these (all if empty).
    pub filter: Vec<String>,
    pub install: bool,
}

pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub wall: Duration,
    /// One line per scenario.
    pub lines: Vec<String>,
    pub failures: Vec<String>,
}

/// Builds what the selected scenarios need, then boots them, at most
/// [`crate::vm::max_vms`] at once.
pub fn run(o: &Options) -> Result<Report> {
    let started = Instant::now();
    let mut list: Vec<Scenario> = all();
    if !o.filter.is_empty() {
        list.retain(|s| o.filter.iter().any(|f| s.name == *f || s.name.starts_with(f.as_str())));
        if list.is_empty() {
            return Err(format!(
                "no scenario matches {:?}; there are: {}",
                o.filter,
                all().iter().map(|s| s.name.clone()).collect::<Vec<_>>().join(" ")
            ));
        }
    }
    crate::vm::ensure_tools(o.install)?;
    let kernel = crate::vm::kernel()?;
    println!("xtask: vm: kernel {} ({})", kernel.version, kernel.vmlinux.display());
    let mut bases: BTreeMap<BaseKind, Base> = BTreeMap::new();
    let kinds: std::collections::BTreeSet<BaseKind> = list.iter().map(|s| s.base).collect();
    let plain = if kinds
        .iter()
        .any(|k| matches!(k, BaseKind::Keel | BaseKind::KeelModules | BaseKind::Busybox))
    {
        Some(crate::keel::keel_from_env_or_build()?)
    } else {
        None
    };
    for k in kinds {
        let b = match k {
            BaseKind::Keel | BaseKind::Busybox => Base::new(plain.as_deref().ok_or("no keel")?, None, &[])?,
            BaseKind::KeelModules => Base::new(plain.as_deref().ok_or("no keel")?, Some(&kernel), image::NFS4_MODULES)?,
            BaseKind::Fault => Base::new(&fault_keel()?, None, &[])?,
        };
        bases.insert(k, b);
    }
    if list
        .iter()
        .any(|s| s.name.starts_with("fault-") && s.name != "fault-baseline")
    {
        let n: Vec<&str> = NOT_INJECTABLE.iter().map(|x| x.0).collect();
        println!(
            "xtask: vm: {} spawn steps get a fault each; not injectable: {} (see scenarios::NOT_INJECTABLE)",
            fault_steps().len(),
            n.join(" ")
        );
    }
    let prep = started.elapsed();
    println!(
        "xtask: vm: {} scenarios, {} VMs at once (prepared in {})",
        list.len(),
        crate::vm::max_vms(),
        util::fmt_dur(prep)
    );
    let boots = Instant::now();
    let names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
    // Workers take the scenarios in order (the VM slots bound them too).
    let queue = std::sync::Mutex::new(list.into_iter().enumerate().collect::<std::collections::VecDeque<_>>());
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..crate::vm::max_vms() {
            sc.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((i, s)) = next else { break };
                let r = run_one(&s, &bases, &kernel);
                done.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|d| d.0);
    let mut rep = Report {
        passed: 0,
        failed: 0,
        wall: Duration::ZERO,
        lines: Vec::new(),
        failures: Vec::new(),
    };
    for (i, r) in done {
        let name = &names[i];
        match r {
            Ok(w) => {
                rep.passed += 1;
                rep.lines.push(format!("{name:32} ok      {:>7}", util::fmt_dur(w)));
            }
            Err(e) => {
                rep.failed += 1;
                rep.lines
                    .push(format!("{name:32} FAILED  {}", e.lines().next().unwrap_or("")));
                rep.failures.push(e);
            }
        }
    }
    rep.wall = started.elapsed();
    println!();
    println!(
        "== xtask: vm tests: {} passed, {} failed in {} (boots {}, preparation {}) ==",
        rep.passed,
        rep.failed,
        util::fmt_dur(rep.wall),
        util::fmt_dur(boots.elapsed()),
        util::fmt_dur(prep)
    );
    for l in &rep.lines {
        println!("  {l}");
    }
    for f in &rep.failures {
        println!("\nxtask: vm: FAILED {f}");
    }
    Ok(rep)
}

/// keel built with the fault-inject feature ($KEEL_FAULT_BIN if set).
pub fn fault_keel() -> Result<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("KEEL_FAULT_BIN").filter(|p| !p.is_empty()) {
        return Ok(p.into());
    }
    crate::keel::build_keel(&["fault-inject".to_string()]).map(|b| b.path)
}

/// Builds the scenario's image and boots it; Ok(wall time) when it passed.
fn run_one(
    s: &Scenario,
    bases: &BTreeMap<BaseKind, Base>,
    kernel: &keel_rootfs::KernelTree,
) -> std::result::Result<Duration, String> {
    let base = bases.get(&s.base).ok_or("no base image")?;
    let dir = util::target_dir().join("vm").join(&s.name);
    let img = dir.join("initramfs.cpio");
    let b = match &s.init_script {
        Some(init) => base.clone().with_init_script(init),
        None => base.clone(),
    };
    b.write(&s.contents, &img)
        .map_err(|e| format!("{}: image: {e}", s.name))?;
    let r = Vm::new(&s.name)
        .kernel(kernel)
        .initrd(&img)
        .append(&s.append)
        .timeout(s.timeout)
        .console(Console::Prefixed)
        .dir(&dir)
        .run()
        .map_err(|e| format!("{}: {e}", s.name))?;
    println!("[{}] ended: {} after {}", s.name, r.exit, util::fmt_dur(r.wall));
    match s.judge(&r) {
        Ok(()) => Ok(r.wall),
        Err(e) => Err(r.failure(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn result(exit: Exit, results: &[&str], console: &str) -> VmResult {
        VmResult {
            name: "t".into(),
            exit,
            console: console.into(),
            results: results.iter().map(|s| s.to_string()).collect(),
            wall: Duration::ZERO,
            dir: PathBuf::from("/tmp"),
        }
    }

    #[test]
    fn judging() {
        let s = Scenario::keel("t").pass(&["a"]).console_has("hello");
        assert!(s
            .judge(&result(Exit::Verdict(0), &["RESULT PASS a x"], "hello\n"))
            .is_ok());
        let e = s
            .judge(&result(Exit::Verdict(1), &["RESULT PASS b", "RESULT FAIL c why"], ""))
            .unwrap_err();
        assert!(e.contains("expected verdict 0, got verdict 1"), "{e}");
        assert!(e.contains("FAIL c why"), "{e}");
        assert!(e.contains("no RESULT PASS a"), "{e}");
        assert!(e.contains("\"hello\""), "{e}");
    }

    #[test]
    fn names_are_unique_and_steps_known() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate scenario names");
        for (step, _) in fault_steps() {
            assert!(keel_supervisor_step_known(&step), "{step}");
        }
    }

    /// The step names follow steps.rs's grammar (NAME, NAME:INDEX, NAME:KIND).
    fn keel_supervisor_step_known(s: &str) -> bool {
        let (name, _) = s.split_once(':').unwrap_or((s, ""));
        !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    }
}
