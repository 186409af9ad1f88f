//! The VM tests of the upcall path (docs/upcalls.md): the real kernel runs
//! /sbin/request-key — keel's broker — for every request_key(2), and the
//! request is served in the container that made it.
//!
//! Every scenario here has upcall-agent at /sbin/upcall-agent (keel starts
//! it in each container) and at /sbin/request-key, keyutils' keyctl with
//! its libraries at /usr/bin/keyctl (the requester, and a handler), a host
//! /etc/request-key.conf, and /t/handler.sh: a pipe-mode handler that
//! prints who ran it — its tag, host name, net and pid namespaces, uid,
//! cgroup and the callout — which becomes the key's payload.

use crate::image::BOX;
use crate::scenarios::Scenario;

/// The handler every configuration here runs in pipe mode.
const HANDLER: &str = r#"#!/bin/sh
# request-key pipe mode: the callout on stdin, the payload on stdout.
read -r callout
printf '%s %s %s %s %s %s %s' "$1" "$(hostname)" "$(readlink /proc/self/ns/net)" "$(readlink /proc/self/ns/pid)" "$(id -u)" "$(grep '^0::' /proc/self/cgroup)" "$callout"
"#;

/// `who TAG CALLOUT`: what HANDLER prints when run here with TAG.
const WHO_SH: &str = r#"who() { printf '%s %s %s %s %s %s %s' "$1" "$(hostname)" "$(readlink /proc/self/ns/net)" "$(readlink /proc/self/ns/pid)" "$(id -u)" "$(grep '^0::' /proc/self/cgroup)" "$2"; }
# req DESC CALLOUT: request a user key in a new session keyring, print its payload.
req() { keyctl session - sh -c 'k=$(keyctl request2 user "$1" "$2" @s 2>&1) || { echo "$k"; exit 1; }; keyctl print "$k" 2>&1' x "$1" "$2" 2>/dev/null; }
"#;

pub(crate) fn files_for_upcalls(mut s: Scenario) -> Scenario {
    match crate::keel::build_agent()
        .and_then(|b| std::fs::read(&b.path).map_err(|e| format!("{}: {e}", b.path.display())))
    {
        Ok(agent) => {
            s = s.file(&format!("{BOX}/bin/upcall-agent"), agent.clone(), 0o755).file(
                &format!("{BOX}/bin/request-key"),
                agent,
                0o755,
            );
        }
        Err(e) => s = s.check(move |_| Err(format!("no upcall-agent: {e}"))),
    }
    match keel_rootfs::ldso::closure("/bin/keyctl") {
        Ok(c) => {
            for o in c.objects() {
                let at = if o.path == std::path::Path::new("/bin/keyctl") {
                    std::path::PathBuf::from("/usr/bin/keyctl")
                } else {
                    o.path.clone()
                };
                match std::fs::read(&o.real_path) {
                    Ok(b) => s = s.file(&at.to_string_lossy(), b, 0o755),
                    Err(e) => {
                        let p = o.real_path.display().to_string();
                        s = s.check(move |_| Err(format!("{p}: {e}")));
                    }
                }
            }
        }
        Err(e) => {
            let e = e.to_string();
            s = s.check(move |_| Err(format!("keyctl (Debian package keyutils): {e}")));
        }
    }
    s.file("/t/handler.sh", HANDLER, 0o755).file("/t/who.sh", WHO_SH, 0o644)
}

/// A static helper from xtask/scenarios/NAME.c at /usr/bin/NAME.
pub(crate) fn with_helper(s: Scenario, name: &str) -> Scenario {
    match crate::image::helper(name).and_then(|p| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))) {
        Ok(b) => s.file(&format!("/usr/bin/{name}"), b, 0o755),
        Err(e) => s.check(move |_| Err(format!("helper: {e}"))),
    }
}

pub fn all() -> Vec<Scenario> {
    vec![
        flood(),
        route(),
        keyring(),
        agent_death(),
        stopped_agent(),
        unreachable(),
        hostile(),
    ]
}

/// Two containers with their own request-key.conf, host name and network
/// namespace are each served by their own handler; a process that
/// unshares user, net, mount and pid namespaces inside one is still served
/// by it; keyctl instantiate settles a key from inside a container; a
/// process outside every container is served by the host's configuration.
fn route() -> Scenario {
    let s = Scenario::keel("upcall-route")
        .file(
            "/etc/request-key.conf",
            "# the host's configuration\ncreate user test:* * |/bin/sh /t/handler.sh host\n",
            0o644,
        )
        .file("/t/a.conf", "create user test:* * |/bin/sh /t/handler.sh A\n", 0o644)
        .file(
            "/t/b.conf",
            "# keyutils' keyctl, run inside container b\ncreate user test:* * /usr/bin/keyctl instantiate %k B-keyctl 0\n",
            0o644,
        )
        .script(
            "req-a",
            r#". /t/lib.sh
. /t/who.sh
eq route-a "$(req test:a call-a)" "$(who A call-a)"
# Nested namespaces inside container a: still a's handler (a's view).
want=$(who A call-n)
got=$(unshare -U -r -n -m -p -f sh -c ". /t/who.sh; req test:nested call-n")
eq route-nested "$got" "$want"
# The status file counts what a's agent served.
i=0; while ! grep -q "^name=a .* upcalls_served=2 " /run/keel/containers; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
row=$(grep "^name=a " /run/keel/containers)
data status_a $row
check counted-a sh -c "echo '$row' | grep -q ' upcalls_served=2 '"
check agent-listed sh -c "echo '$row' | grep -q ' agent=[0-9]'"
touch /run/a-done
"#,
        )
        .script(
            "req-b",
            r#". /t/lib.sh
. /t/who.sh
eq keyctl-b "$(req test:b call-b)" "B-keyctl"
touch /run/b-done
"#,
        )
        .script(
            "req-host",
            r#". /t/lib.sh
. /t/who.sh
waitfor /run/a-done 60; waitfor /run/b-done 60
# Out of every container's cgroup, in the initial namespaces: the host.
out=$(sh -c 'echo $$ > /sys/fs/cgroup/cgroup.procs && . /t/who.sh && who host call-h && echo && req test:h call-h')
eq route-host "$(echo "$out" | tail -n 1)" "$(echo "$out" | head -n 1)"
# The same from inside this container's cgroup (pid host): this container's
# agent (its cgroup), with the configuration it sees (the host's file).
eq route-pidhost "$(req test:h2 call-h2)" "$(who host call-h2)"
"#,
        )
        .container(
            "a",
            "hostname ha\nmount bind /t/a.conf /etc/request-key.conf\nargs /bin/sh /t/req-a.sh\nstdio log\nrestart never\n",
        )
        .container(
            "b",
            "hostname hb\nmount bind /t/b.conf /etc/request-key.conf\nargs /bin/sh /t/req-b.sh\nstdio log\nrestart never\n",
        )
        .container(
            "hostreq",
            "ns mnt host\nns pid host\nns net host\nns uts host\nns ipc host\nns cgroup host\nargs /bin/sh /t/req-host.sh\nstdio log\nrestart never\n",
        )
        .pass(&["route-a", "route-nested", "counted-a", "agent-listed", "keyctl-b", "route-host", "route-pidhost"])
        .timeout(120);
    files_for_upcalls(s)
}

/// A root container without a user namespace cannot use another
/// container's agent keyring (implementation-notes §1.3): link, search,
/// describe, read and setperm fail with EACCES; joining `_ses` by name
/// never lands in it; assuming the authority of a key being served there
/// fails; and the agent's /proc/PID/exe cannot be opened for writing while
/// the host's binary stays as it was (§1.12).
fn keyring() -> Scenario {
    let s = Scenario::keel("upcall-keyring")
        .file(
            "/t/v.conf",
            "create user slow:* * |/bin/sh /t/slow.sh\n\
             create user lookup:* * |/bin/sh /t/arg.sh %{user:planted}\n\
             create user blookup:* * builtin:instantiate %{user:planted}\n",
            0o644,
        )
        .file("/t/slow.sh", "#!/bin/sh\nsleep 4\necho late\n", 0o755)
        .file("/t/arg.sh", "#!/bin/sh\ncat > /dev/null\nprintf '%s' \"$1\"\n", 0o755)
        .script(
            "victim",
            r#". /t/lib.sh
. /t/who.sh
# A request the agent holds for 4 s: its authority sits in the agent's keyring.
req slow:held x > /run/held.out &
waitfor /run/evil-done 60
wait
# A key another container linked into this agent's keyring is not what a
# handler's %{user:planted} finds: programs run with a keyring of their own,
# and the agent refuses lookups in built-ins.
got=$(req lookup:1 x)
case "$got" in *secret*) fail planted-not-seen "the handler found the planted key: $got";; *) pass planted-not-seen "$got";; esac
got=$(req blookup:1 x)
case "$got" in *secret*) fail planted-not-seen-builtin "$got";; *) pass planted-not-seen-builtin "$got";; esac
"#,
        )
        .script(
            "evil",
            r#". /t/lib.sh
i=0; while ! grep -q "^name=victim .* agent_keyring=[0-9]" /run/keel/containers; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
row=$(grep "^name=victim " /run/keel/containers)
K=$(echo "$row" | sed 's/.* agent_keyring=\([0-9]*\) .*/\1/')
A=$(echo "$row" | sed 's/.* agent=\([0-9]*\) .*/\1/')
data victim_keyring $K agent $A
for op in link search describe read setperm; do
    eq keyring-$op "$(keyprobe $op $K)" "errno 13 EACCES"
done
j=$(keyprobe join _ses)
case "$j" in "ok $K") fail keyring-join "joined the agent's keyring: $j";; *) pass keyring-join "$j";; esac
# The key being served in the victim: find it, try to take its authority.
i=0; while ! grep -q ' slow:held' /proc/keys; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
T=$(printf %d 0x$(grep ' slow:held' /proc/keys | head -n 1 | cut -d' ' -f1))
data held_key $T "$(grep ' slow:held' /proc/keys)"
r=$(keyprobe assume $T)
case "$r" in ok*) fail keyring-assume "assumed the authority of key $T";; *) pass keyring-assume "$r";; esac
before=$(sha256sum /sbin/upcall-agent | cut -d' ' -f1)
if ( exec 3>>/proc/$A/exe ) 2>/dev/null; then fail exe-write "opened /proc/$A/exe for writing"; else pass exe-write; fi
if ( echo x >> /proc/$A/exe ) 2>/dev/null; then fail exe-append "wrote to /proc/$A/exe"; else pass exe-append; fi
eq exe-hash "$(sha256sum /sbin/upcall-agent | cut -d' ' -f1)" "$before"
eq exe-is-memfd "$(readlink /proc/$A/exe | cut -c1-18)" "/memfd:upcall-agen"
# Write is the one right its owner has: linking a key of ours in works.
data plant "$(keyctl session - keyprobe plant $K 2>/dev/null)"
touch /run/evil-done
"#,
        )
        .container(
            "victim",
            "hostname hv\nmount bind /t/v.conf /etc/request-key.conf\nargs /bin/sh /t/victim.sh\nstdio log\nrestart never\n",
        )
        .container("evil", "ns pid host\nargs /bin/sh /t/evil.sh\nstdio log\nrestart never\n")
        .pass(&[
            "keyring-link",
            "keyring-search",
            "keyring-describe",
            "keyring-read",
            "keyring-setperm",
            "keyring-join",
            "keyring-assume",
            "exe-write",
            "exe-append",
            "exe-hash",
            "exe-is-memfd",
            "planted-not-seen",
            "planted-not-seen-builtin",
        ])
        .timeout(120);
    with_helper(files_for_upcalls(s), "keyprobe")
}

/// The agent is killed in the middle of a request: the requester gets an
/// error at once (well within the deadline), keel restarts the agent, and
/// the next request succeeds.
fn agent_death() -> Scenario {
    let s = Scenario::keel("upcall-agent-death")
        .file(
            "/t/c.conf",
            "create user slow:* * |/bin/sh /t/slow.sh\ncreate user ok:* * builtin:instantiate fine\n",
            0o644,
        )
        .file("/t/slow.sh", "#!/bin/sh\nsleep 30\necho late\n", 0o755)
        .script(
            "c",
            r#". /t/lib.sh
. /t/who.sh
agent() { grep "^name=c " /run/keel/containers | sed 's/.* agent=\([0-9-]*\) .*/\1/'; }
i=0; while [ "$(agent)" = "-" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
A=$(agent)
t0=$(up)
( req slow:1 x > /run/slow.out; up > /run/slow.t1 ) &
sleep 1
kill -9 $A
wait
t1=$(cat /run/slow.t1)
data slow_request "$(cat /run/slow.out)" from $t0 to $t1
check killed-fails grep -q 'Resource temporarily unavailable' /run/slow.out
check killed-fast awk "BEGIN { exit !($t1 - $t0 < 4) }"
i=0; while [ "$(agent)" = "-" ] || [ "$(agent)" = "$A" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
data agents $A "$(agent)"
check agent-restarted sh -c "[ '$(agent)' != '-' ] && [ '$(agent)' != '$A' ]"
eq after-restart "$(req ok:2 y)" "fine"
"#,
        )
        .container(
            "c",
            "hostname hc\nns pid host\nmount bind /t/c.conf /etc/request-key.conf\nargs /bin/sh /t/c.sh\nstdio log\nrestart never\n",
        )
        .pass(&["killed-fails", "killed-fast", "agent-restarted", "after-restart"])
        .console_has("restarting it")
        .timeout(120);
    files_for_upcalls(s)
}

/// A container's root stops its own agent (SIGSTOP) and makes 24 requests
/// with the cap at its most (16): they time out at the deadline or are
/// refused past the cap, none is served, and another container's requests
/// are served at once meanwhile — a stopped agent holds its own container's
/// slots, never keel (whose end of every agent channel is non-blocking).
fn stopped_agent() -> Scenario {
    let s = Scenario::keel("upcall-stopped-agent")
        .conf("upcall_deadline 3s\nupcall_cap 16\n")
        .file("/t/s.conf", "create user s:* * builtin:instantiate never\n", 0o644)
        .file("/t/o.conf", "create user o:* * builtin:instantiate fine\n", 0o644)
        .script(
            "stopper",
            r#". /t/lib.sh
agent() { grep "^name=stopper " /run/keel/containers | sed 's/.* agent=\([0-9-]*\) .*/\1/'; }
i=0; while [ "$(agent)" = "-" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
kill -STOP $(agent)
w=0
while [ $w -lt 24 ]; do w=$((w+1)); flood s:$w 1 > /tmp/s.$w & done
touch /run/stopped
wait
cat /tmp/s.* > /tmp/all
data stopped_results "$(sort /tmp/all | awk '{ print $2 }' | sort | uniq -c | tr '\n' ';')"
check stopped-none-served sh -c "! grep -q ' ok$' /tmp/all"
touch /run/stopper-done
"#,
        )
        .script(
            "other",
            r#". /t/lib.sh
waitfor /run/stopped 60
sleep 1
flood o:x 3 > /tmp/o
data other "$(tr '\n' ';' < /tmp/o)"
eq other-served "$(grep -c ' ok$' /tmp/o)" 3
worst=$(awk '{ if ($1 > m) m = $1 } END { print m + 0 }' /tmp/o)
check other-fast awk "BEGIN { exit !($worst < 1000) }"
"#,
        )
        .container(
            "stopper",
            "hostname hs\nns pid host\nmount bind /t/s.conf /etc/request-key.conf\nargs /bin/sh /t/stopper.sh\nstdio log\nrestart never\n",
        )
        .container(
            "other",
            "hostname ho\nmount bind /t/o.conf /etc/request-key.conf\nargs /bin/sh /t/other.sh\nstdio log\nrestart never\n",
        )
        .pass(&["stopped-none-served", "other-served", "other-fast"])
        .timeout(120);
    with_helper(files_for_upcalls(s), "flood")
}

/// keel unreachable: a socket that never answers (what a stopped keel
/// looks like: connections wait in its backlog) makes a container's
/// request fail with EAGAIN within about 1 s; no socket at all fails it at
/// once; neither is served by the host's configuration, which would
/// instantiate the key. With keel back, the request is served.
fn unreachable() -> Scenario {
    let s = Scenario::keel("upcall-unreachable")
        .file(
            "/etc/request-key.conf",
            "create user test:* * builtin:instantiate host-served\n",
            0o644,
        )
        .file(
            "/t/u.conf",
            "create user test:* * builtin:instantiate container-served\n",
            0o644,
        )
        .script(
            "u",
            r#". /t/lib.sh
. /t/who.sh
S=/run/keel/upcall.sock
mv $S $S.real
deafsock $S & D=$!
sleep 0.5
t0=$(up); got=$(req test:deaf x); t1=$(up)
data deaf "$got" $t0 $t1
eq deaf-refused "$got" "request_key: Resource temporarily unavailable"
check deaf-within-2s awk "BEGIN { exit !($t1 - $t0 < 2) }"
kill $D; rm -f $S
t0=$(up); got=$(req test:gone x); t1=$(up)
data gone "$got" $t0 $t1
eq gone-refused "$got" "request_key: Resource temporarily unavailable"
check gone-within-1s awk "BEGIN { exit !($t1 - $t0 < 1) }"
mv $S.real $S
eq back "$(req test:back x)" "container-served"
"#,
        )
        .container(
            "u",
            "hostname hu\nmount bind /t/u.conf /etc/request-key.conf\nargs /bin/sh /t/u.sh\nstdio log\nrestart never\n",
        )
        .pass(&[
            "deaf-refused",
            "deaf-within-2s",
            "gone-refused",
            "gone-within-1s",
            "back",
        ])
        .timeout(120);
    with_helper(files_for_upcalls(s), "deafsock")
}

/// Hostile descriptions and callouts are data: shell metacharacters, paths,
/// 4095 bytes, invalid UTF-8 come back byte for byte as payloads and run
/// nothing; a type no line names gets ENOKEY (no handler).
fn hostile() -> Scenario {
    let s = Scenario::keel("upcall-hostile")
        .file(
            "/t/h.conf",
            "create user echo:* * builtin:instantiate %d\ncreate user pipe:* * |/bin/cat\ncreate user too-few-fields\n",
            0o644,
        )
        .script(
            "h",
            r#". /t/lib.sh
# keyctl pipe writes the payload raw; compare bytes with cmp.
raw() { keyctl session - sh -c "keyctl pipe \$(keyctl request2 user \"\$1\" \"\$2\" @s)" x "$1" "$2" 2>/dev/null; }
meta='echo:$(touch /tmp/pwned-d);`touch /tmp/pwned-e`|&>;*?[x]'
raw "$meta" "" > /tmp/m.out
printf '%s' "$meta" > /tmp/m.want
check meta-desc cmp -s /tmp/m.out /tmp/m.want
callout='$(touch /tmp/pwned-c) ; rm -rf / `id` %k %d'
raw "pipe:c" "$callout" > /tmp/c.out
printf '%s' "$callout" > /tmp/c.want
check meta-callout cmp -s /tmp/c.out /tmp/c.want
check nothing-ran sh -c '! ls /tmp/pwned-* 2>/dev/null'
raw "echo:../../../etc/passwd" "" > /tmp/p.out
eq path-desc "$(cat /tmp/p.out)" "echo:../../../etc/passwd"
long="echo:$(head -c 4090 /dev/zero | tr '\0' 'x')"
raw "$long" "" > /tmp/l.out
eq long-desc "$(wc -c < /tmp/l.out | tr -d ' ')" 4095
bad=$(printf 'echo:\377\376\001bad')
raw "$bad" "" > /tmp/b.out
printf '%s' "$bad" > /tmp/b.want
check utf8-desc cmp -s /tmp/b.out /tmp/b.want
got=$(keyctl session - sh -c 'keyctl request2 user nomatch:1 x @s 2>&1' 2>/dev/null)
eq no-line "$got" "request_key: Required key not available"
"#,
        )
        .container(
            "h",
            "hostname hh\nmount bind /t/h.conf /etc/request-key.conf\nargs /bin/sh /t/h.sh\nstdio log\nrestart never\n",
        )
        .pass(&[
            "meta-desc",
            "meta-callout",
            "nothing-ran",
            "path-desc",
            "long-desc",
            "utf8-desc",
            "no-line",
        ])
        .timeout(120);
    files_for_upcalls(s)
}

/// 64 concurrent requesters make 1000 requests against a hanging handler
/// in one container; the cap (8 in flight) refuses the excess with EDQUOT
/// at once; another container's 20 requests, made during the flood, each
/// finish within the deadline + 1 s.
fn flood() -> Scenario {
    let s = Scenario::keel("upcall-flood")
        .conf("upcall_deadline 2s\nupcall_cap 8\n")
        .file("/t/f.conf", "create user flood:* * /bin/sleep 60\n", 0o644)
        .file("/t/v.conf", "create user v:* * builtin:instantiate ok\n", 0o644)
        .script(
            "flooder",
            r#". /t/lib.sh
# 64 requesters, 1000 requests in all (40 × 16 + 24 × 15), each line
# "MS RESULT" from /usr/bin/flood (no fork per request).
touch /run/flood-started
w=0
while [ $w -lt 64 ]; do
    w=$((w+1))
    if [ $w -le 40 ]; then n=16; else n=15; fi
    flood flood:$w $n > /tmp/w.$w &
done
wait
cat /tmp/w.* > /tmp/all
edquot=$(grep -c ' 122$' /tmp/all)
data flood_total $(wc -l < /tmp/all) edquot $edquot timedout $(grep -c ' 110$' /tmp/all) other "$(grep -v ' 122$' /tmp/all | grep -v ' 110$' | head -n 3 | tr '\n' ';')"
eq flood-count "$(wc -l < /tmp/all | tr -d ' ')" 1000
check flood-refused [ "$edquot" -gt 0 ]
# EDQUOT comes at once: keel refuses without waiting for a slot (which
# would take the 2 s deadline). Two clocks: the broker's own (start to
# outcome, keel's log line in kmsg) and the requester's (request_key(2) in
# /usr/bin/flood), which also holds the kernel starting each helper — on one
# emulated CPU shared by 64 concurrent upcalls (and a host shared with
# another VM) that queues behind the others. By the broker's clock every
# refusal must come before the deadline and 95 % within 1 s; by the
# requester's, half within 1 s (its worst is reported).
timeout 2 cat /dev/kmsg > /tmp/kmsg 2>/dev/null
data broker_errors "$(grep 'request-key:' /tmp/kmsg | sed 's/^[^;]*;//; s/key [0-9]*/key N/' | sort | uniq -c | head -n 5 | tr '\n' ';')"
data keel_outcomes "$(grep 'keel: upcall' /tmp/kmsg | sed 's/^[^;]*;//; s/ in [0-9]* ms//' | sort | uniq -c | tr '\n' ';')"
grep 'rejected with EDQUOT' /tmp/kmsg | sed 's/.* in \([0-9]*\) ms$/\1/' > /tmp/bk
bworst=$(sort -n /tmp/bk | tail -n 1)
bp95=$(sort -n /tmp/bk | awk '{ a[NR] = $1 } END { i = int(NR * 0.95); if (i < 1) i = 1; print a[i] + 0 }')
data broker_edquot_ms count $(wc -l < /tmp/bk) worst $bworst p95 $bp95 median $(sort -n /tmp/bk | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
worst=$(grep ' 122$' /tmp/all | awk '{ if ($1 > m) m = $1 } END { print m + 0 }')
median=$(grep ' 122$' /tmp/all | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] + 0 }')
data requester_edquot_ms median $median worst $worst slower_than_1s $(grep ' 122$' /tmp/all | awk '$1 >= 1000 { n++ } END { print n + 0 }')
check flood-edquot-logged [ "$(wc -l < /tmp/bk)" -gt 0 ]
check flood-edquot-no-wait [ "${bworst:-9999}" -lt 2000 ]
check flood-edquot-fast [ "${bp95:-9999}" -lt 1000 ]
check flood-edquot-median awk "BEGIN { exit !($median < 1000) }"
touch /run/flood-done
"#,
        )
        .script(
            "victim",
            r#". /t/lib.sh
waitfor /run/flood-started 60
sleep 2
flood v:x 20 > /tmp/v
data victim "$(cat /tmp/v | tr '\n' ';')"
eq victim-served "$(grep -c ' ok$' /tmp/v)" 20
worst=$(awk '{ if ($1 > m) m = $1 } END { print m + 0 }' /tmp/v)
data victim_worst_ms $worst
check victim-in-time awk "BEGIN { exit !($worst <= 3000) }"
check victim-during-flood test ! -e /run/flood-done
"#,
        )
        .container(
            "flooder",
            "hostname hf\nmount bind /t/f.conf /etc/request-key.conf\ncaps bounding all\nargs /bin/sh /t/flooder.sh\nstdio log\nrestart never\n",
        )
        .container(
            "victim",
            "hostname hv\nmount bind /t/v.conf /etc/request-key.conf\nargs /bin/sh /t/victim.sh\nstdio log\nrestart never\n",
        )
        .pass(&[
            "flood-count",
            "flood-refused",
            "flood-edquot-logged",
            "flood-edquot-no-wait",
            "flood-edquot-fast",
            "flood-edquot-median",
            "victim-served",
            "victim-in-time",
            "victim-during-flood",
        ])
        .timeout(600);
    with_helper(files_for_upcalls(s), "flood")
}
