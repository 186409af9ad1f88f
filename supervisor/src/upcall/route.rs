//! Where a key request goes, decided from facts about the requester
//! (implementation-notes §1.2). Pure: the facts are gathered by
//! [`super::probe`], the containers' side comes from the table.
//!
//! By ancestry, never by equality and never by the description or callout:
//!
//! 1. a kernel thread, or a request without a process: the host;
//! 2. the requester's pid namespace, then each parent up to keel's own:
//!    the first that is a container's pid namespace names the container
//!    (when several containers share it, the one whose cgroup holds the
//!    requester, else its owner — the first listed);
//! 3. in keel's own pid namespace: the container whose cgroup holds the
//!    requester's cgroup (containers that share the host's pid namespace);
//! 4. otherwise the host.

/// What keel learnt about the requester.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requester<'a> {
    /// The request names no process, or keel could not see it.
    pub unknown: bool,
    /// A kernel thread (PF_KTHREAD).
    pub kthread: bool,
    /// Inode numbers of the requester's pid namespace and its parents,
    /// nearest first, up to but not including keel's own.
    pub pidns_chain: &'a [u64],
    /// The container the requester's cgroup lies in (by name, from its
    /// cgroup path below keel's table), if any.
    pub cgroup_container: Option<usize>,
}

/// One container as routing sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub slot: usize,
    /// Its init's pid namespace inode; 0 when it shares keel's.
    pub pidns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Host,
    Container(usize),
}

pub fn decide(r: &Requester<'_>, containers: &[Candidate]) -> Route {
    if r.unknown || r.kthread {
        return Route::Host;
    }
    for &ns in r.pidns_chain {
        if ns == 0 {
            continue;
        }
        let mut first = None;
        for c in containers.iter().filter(|c| c.pidns == ns) {
            if r.cgroup_container == Some(c.slot) {
                return Route::Container(c.slot);
            }
            first = first.or(Some(c.slot));
        }
        if let Some(s) = first {
            return Route::Container(s);
        }
    }
    match r.cgroup_container {
        Some(s) => Route::Container(s),
        None => Route::Host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: [Candidate; 4] = [
        Candidate { slot: 0, pidns: 100 },
        Candidate { slot: 1, pidns: 200 },
        // Shares container 1's pid namespace.
        Candidate { slot: 2, pidns: 200 },
        // Shares keel's pid namespace.
        Candidate { slot: 3, pidns: 0 },
    ];

    fn req(chain: &[u64], cg: Option<usize>) -> Requester<'_> {
        Requester {
            pidns_chain: chain,
            cgroup_container: cg,
            ..Requester::default()
        }
    }

    #[test]
    fn a_containers_own_pid_namespace() {
        assert_eq!(decide(&req(&[100], Some(0)), &C), Route::Container(0));
        // The cgroup is not needed when the pid namespace says it.
        assert_eq!(decide(&req(&[100], None), &C), Route::Container(0));
    }

    #[test]
    fn nested_namespaces_walk_up_to_the_container() {
        // A process that unshared new user/net/mnt/pid namespaces inside
        // container 0 (and maybe moved its cgroup): still container 0.
        assert_eq!(decide(&req(&[999, 998, 100], None), &C), Route::Container(0));
        assert_eq!(decide(&req(&[999, 100], Some(3)), &C), Route::Container(0));
    }

    #[test]
    fn shared_pid_namespaces_are_told_apart_by_cgroup() {
        assert_eq!(decide(&req(&[200], Some(2)), &C), Route::Container(2));
        assert_eq!(decide(&req(&[200], Some(1)), &C), Route::Container(1));
        // No cgroup of theirs: the first listed (the owner).
        assert_eq!(decide(&req(&[200], None), &C), Route::Container(1));
    }

    #[test]
    fn keels_own_pid_namespace_goes_by_cgroup() {
        assert_eq!(decide(&req(&[], Some(3)), &C), Route::Container(3));
        assert_eq!(decide(&req(&[], None), &C), Route::Host);
        // A pid namespace of no container, below keel's: by cgroup, else host.
        assert_eq!(decide(&req(&[555], None), &C), Route::Host);
        assert_eq!(decide(&req(&[555], Some(3)), &C), Route::Container(3));
    }

    #[test]
    fn kernel_threads_and_unknown_requesters_are_the_hosts() {
        let mut r = req(&[100], Some(0));
        r.kthread = true;
        assert_eq!(decide(&r, &C), Route::Host);
        let mut r = req(&[100], Some(0));
        r.unknown = true;
        assert_eq!(decide(&r, &C), Route::Host);
    }
}
