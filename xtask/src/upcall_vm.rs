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
req() { keyctl session - sh -c "keyctl print \$(keyctl request2 user '$1' '$2' @s) 2>&1" 2>/dev/null; }
"#;

fn files_for_upcalls(mut s: Scenario) -> Scenario {
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

pub fn all() -> Vec<Scenario> {
    vec![route()]
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
