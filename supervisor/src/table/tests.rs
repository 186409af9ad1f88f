//! Table scenarios with a fake clock: the runtime's side is played by hand.

use super::*;
use crate::spec::RestartPolicy;

struct Sim {
    t: Table,
    now: u64,
    next_pid: i32,
    log: std::vec::Vec<Action>,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            t: Table::new(),
            now: 1000,
            next_pid: 100,
            log: vec![],
        }
    }
    fn add(&mut self, name: &str, policy: Policy, after: &[usize], shares: &[usize]) -> usize {
        let i = self.t.add(name.as_bytes(), 1, self.now).unwrap();
        let a = after.iter().fold(0, |s, &j| s | bit(j));
        let s = shares.iter().fold(0, |s, &j| s | bit(j));
        self.t.set_links(i, policy, a, s);
        i
    }
    /// Runs step and plays the runtime: spawns succeed and exec at once
    /// (unless `hold` says otherwise), signals are recorded.
    fn step(&mut self) -> std::vec::Vec<Action> {
        let mut all = vec![];
        loop {
            let mut out = Actions::new();
            self.t.step(self.now, &mut out);
            if out.is_empty() {
                break;
            }
            for a in out.iter().copied() {
                all.push(a);
                self.log.push(a);
                if let Action::Spawn(i) = a {
                    self.next_pid += 1;
                    self.t.on_spawned(i, self.next_pid, self.now);
                    self.t.on_execd(i, self.now);
                }
            }
        }
        all
    }
    fn exit(&mut self, i: usize, ending: Ending) -> std::vec::Vec<Action> {
        let mut out = Actions::new();
        self.t.on_exit(i, ending, self.now, &mut out);
        let mut v: std::vec::Vec<Action> = out.iter().copied().collect();
        if v.contains(&Action::Kill(i)) {
            let mut out = Actions::new();
            self.t.on_cgroup_empty(i, self.now, &mut out);
            v.extend(out.iter().copied());
        }
        v
    }
    fn state(&self, i: usize) -> State {
        self.t.get(i).unwrap().state
    }
    fn spawned(&self) -> std::vec::Vec<usize> {
        self.log
            .iter()
            .filter_map(|a| if let Action::Spawn(i) = a { Some(*i) } else { None })
            .collect()
    }
}

fn service() -> Policy {
    Policy::default()
}
fn oneshot() -> Policy {
    Policy {
        oneshot: true,
        restart: Restart {
            policy: RestartPolicy::Never,
            ..Restart::default()
        },
        ..Policy::default()
    }
}

#[test]
fn starts_in_dependency_order() {
    let mut s = Sim::new();
    let c = s.add("c", service(), &[1], &[]);
    let b = s.add("b", service(), &[2], &[]);
    let a = s.add("a", service(), &[], &[]);
    assert_eq!((c, b, a), (0, 1, 2));
    s.step();
    assert_eq!(s.spawned(), [a, b, c]);
    assert!(s.t.iter().all(|(_, e)| e.state == State::Running));
}

#[test]
fn starting_is_not_enough_for_after() {
    let mut s = Sim::new();
    let a = s.add("a", service(), &[], &[]);
    let b = s.add("b", service(), &[a], &[]);
    let mut out = Actions::new();
    s.t.step(s.now, &mut out);
    assert_eq!(out.as_slice(), [Action::Spawn(a)]);
    s.t.on_spawned(a, 50, s.now);
    let mut out = Actions::new();
    s.t.step(s.now, &mut out);
    assert!(out.is_empty(), "b must wait for a's exec: {out:?}");
    s.t.on_execd(a, s.now);
    let mut out = Actions::new();
    s.t.step(s.now, &mut out);
    assert_eq!(out.as_slice(), [Action::Spawn(b)]);
}

#[test]
fn oneshot_dependency_means_exited_zero() {
    let mut s = Sim::new();
    let init = s.add("init", oneshot(), &[], &[]);
    let app = s.add("app", service(), &[init], &[]);
    s.step();
    assert_eq!(s.spawned(), [init]);
    assert_eq!(s.state(app), State::Waiting);
    s.exit(init, Ending::Code(0));
    assert_eq!(s.state(init), State::Exited);
    s.step();
    assert_eq!(s.spawned(), [init, app]);

    let mut s = Sim::new();
    let init = s.add("init", oneshot(), &[], &[]);
    let app = s.add("app", service(), &[init], &[]);
    s.step();
    let acts = s.exit(init, Ending::Code(3));
    assert!(acts.contains(&Action::LogFailed(init)));
    s.step();
    assert_eq!(s.state(app), State::Failed);
    assert_eq!(s.t.get(app).unwrap().reason, "a dependency failed or stopped");
    assert!(s.t.finished());
    assert_eq!(s.t.worst_status(), 3);
}

#[test]
fn readiness_gates_after() {
    let mut s = Sim::new();
    let db = s.add(
        "db",
        Policy {
            has_ready: true,
            ..service()
        },
        &[],
        &[],
    );
    let web = s.add("web", service(), &[db], &[]);
    s.step();
    assert_eq!(s.spawned(), [db]);
    s.t.on_ready(db);
    s.step();
    assert_eq!(s.spawned(), [db, web]);
}

#[test]
fn crash_loop_backs_off_then_fails() {
    let mut s = Sim::new();
    let p = Policy {
        restart: Restart {
            policy: RestartPolicy::Always,
            backoff_base_ms: 100,
            backoff_cap_ms: 300,
            budget: 4,
            window_ms: 60_000,
        },
        ..service()
    };
    let c = s.add("crash", p, &[], &[]);
    s.step();
    let mut delays = vec![];
    loop {
        s.exit(c, Ending::Code(1));
        match s.state(c) {
            State::Backoff => {
                let d = s.t.next_deadline().unwrap();
                delays.push(d - s.now);
                s.now = d - 1;
                assert!(s.step().is_empty(), "no restart before the deadline");
                s.now = d;
                s.step();
                assert_eq!(s.state(c), State::Running);
            }
            State::Failed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(delays, [100, 200, 300, 300]);
    assert_eq!(s.t.get(c).unwrap().restarts, 4);
    assert_eq!(s.t.get(c).unwrap().reason, "restart budget spent");
    assert!(s.t.finished());
    assert_eq!(s.t.next_deadline(), None);
}

#[test]
fn shutdown_runs_in_reverse_order() {
    let mut s = Sim::new();
    let db = s.add("db", service(), &[], &[]);
    let app = s.add("app", service(), &[db], &[]);
    let web = s.add("web", service(), &[app], &[]);
    let side = s.add("side", service(), &[db], &[]);
    s.step();
    let mut out = Actions::new();
    s.t.start_shutdown(s.now, &mut out);
    let acts = s.step();
    assert_eq!(acts, [Action::Signal(web, 15), Action::Signal(side, 15)]);
    s.exit(web, Ending::Signal(15));
    assert_eq!(s.step(), [Action::Signal(app, 15)]);
    s.exit(side, Ending::Code(0));
    assert!(s.step().is_empty(), "db waits for app");
    s.exit(app, Ending::Code(0));
    assert_eq!(s.step(), [Action::Signal(db, 15)]);
    s.exit(db, Ending::Code(0));
    assert!(s.t.finished());
    assert!(s.t.iter().all(|(_, e)| e.state == State::Stopped));
    assert_eq!(s.t.worst_status(), 0);
}

#[test]
fn stop_timeout_kills() {
    let mut s = Sim::new();
    let stubborn = s.add(
        "stubborn",
        Policy {
            stop_timeout_ms: 2000,
            stop_signal: 2,
            ..service()
        },
        &[],
        &[],
    );
    s.step();
    let mut out = Actions::new();
    s.t.start_shutdown(s.now, &mut out);
    assert_eq!(s.step(), [Action::Signal(stubborn, 2)]);
    s.now += 1999;
    assert!(s.step().is_empty());
    s.now += 1;
    assert_eq!(s.step(), [Action::Kill(stubborn)]);
    s.exit(stubborn, Ending::Signal(9));
    assert_eq!(s.state(stubborn), State::Stopped);
}

#[test]
fn exit_waits_for_the_cgroup_to_empty() {
    let mut s = Sim::new();
    let c = s.add(
        "c",
        Policy {
            restart: Restart {
                policy: RestartPolicy::Never,
                ..Restart::default()
            },
            ..service()
        },
        &[],
        &[],
    );
    s.step();
    let mut out = Actions::new();
    s.t.on_exit(c, Ending::Code(0), s.now, &mut out);
    assert_eq!(out.as_slice(), [Action::Kill(c)]);
    assert_eq!(s.state(c), State::Running, "not ended while processes remain");
    assert!(!s.t.finished());
    let mut out = Actions::new();
    s.t.on_cgroup_empty(c, s.now, &mut out);
    assert_eq!(s.state(c), State::Exited);
    assert!(s.t.finished());
}

#[test]
fn reload_restart_and_remove() {
    let mut s = Sim::new();
    let a = s.add("a", service(), &[], &[]);
    let b = s.add("b", service(), &[], &[]);
    s.step();
    let mut out = Actions::new();
    s.t.request_stop(a, Then::Restart, s.now, &mut out);
    s.t.request_stop(b, Then::Remove, s.now, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.step(), [Action::Signal(a, 15), Action::Signal(b, 15)]);
    s.exit(a, Ending::Signal(15));
    assert_eq!(s.state(a), State::Waiting);
    let acts = s.exit(b, Ending::Signal(15));
    assert!(acts.contains(&Action::Release(b)));
    assert!(s.t.get(b).is_none());
    s.step();
    assert_eq!(s.spawned(), [a, b, a]);
    assert_eq!(s.state(a), State::Running);
    // A failed container whose file changed gets a fresh start.
    let mut out = Actions::new();
    s.t.fail(b, "x", s.now, &mut out); // slot b is free: no effect
    let c = s.add("c", service(), &[], &[]);
    s.t.fail(c, "bad spec", s.now, &mut out);
    s.t.request_stop(c, Then::Restart, s.now, &mut out);
    assert_eq!(s.state(c), State::Waiting);
}

#[test]
fn sharers_restart_after_their_owner() {
    let mut s = Sim::new();
    let p = Policy {
        restart: Restart {
            policy: RestartPolicy::Always,
            ..Restart::default()
        },
        ..service()
    };
    let owner = s.add("owner", p, &[], &[]);
    let sharer = s.add("sharer", p, &[], &[owner]);
    s.step();
    assert_eq!(s.spawned(), [owner, sharer]);
    s.exit(owner, Ending::Code(1));
    assert_eq!(s.state(owner), State::Backoff);
    assert_eq!(s.step(), [Action::Signal(sharer, 15)]);
    s.exit(sharer, Ending::Signal(15));
    assert_eq!(s.state(sharer), State::Waiting, "sharer waits for its owner");
    s.step();
    assert_eq!(s.spawned(), [owner, sharer]);
    s.now = s.t.next_deadline().unwrap();
    s.step();
    assert_eq!(s.spawned(), [owner, sharer, owner, sharer]);
}

#[test]
fn cycles_fail() {
    let mut s = Sim::new();
    let a = s.add("a", service(), &[1], &[]);
    let b = s.add("b", service(), &[0], &[]);
    let c = s.add("c", service(), &[], &[]);
    let mut out = Actions::new();
    s.t.fail_cycles(s.now, &mut out);
    assert_eq!(out.as_slice(), [Action::LogFailed(a), Action::LogFailed(b)]);
    s.step();
    assert_eq!(s.spawned(), [c]);
}

#[test]
fn table_capacity_is_a_clear_none() {
    let mut t = Table::new();
    for n in 0..MAX_CONTAINERS {
        assert!(t.add(format!("c{n}").as_bytes(), 0, 0).is_some());
    }
    assert_eq!(t.add(b"one-too-many", 0, 0), None);
    assert_eq!(t.len(), MAX_CONTAINERS);
    assert_eq!(t.add(&[b'x'; 100], 0, 0), None);
}

#[test]
fn shutdown_of_waiting_and_backoff() {
    let mut s = Sim::new();
    let a = s.add("a", service(), &[], &[]);
    let b = s.add("b", service(), &[a], &[]);
    let mut out = Actions::new();
    s.t.start_shutdown(s.now, &mut out);
    assert!(s.step().is_empty());
    assert_eq!((s.state(a), s.state(b)), (State::Stopped, State::Stopped));
    assert!(s.t.finished());
}

#[test]
fn ended_sharers_stay_ended_and_owners_that_stop_for_good_leave_sharers_alone() {
    let mut s = Sim::new();
    let always = Policy {
        restart: Restart {
            policy: RestartPolicy::Always,
            ..Restart::default()
        },
        ..service()
    };
    let owner = s.add("owner", always, &[], &[]);
    let job = s.add("job", oneshot(), &[], &[owner]);
    let svc = s.add("svc", service(), &[], &[owner]);
    s.step();
    s.exit(job, Ending::Code(0));
    assert_eq!(s.state(job), State::Exited);
    // The owner crashes and restarts: the running sharer restarts after
    // it, the finished oneshot stays finished.
    s.exit(owner, Ending::Code(1));
    assert_eq!(s.step(), [Action::Signal(svc, 15)]);
    assert_eq!(s.state(job), State::Exited);
    s.exit(svc, Ending::Signal(15));
    s.now = s.t.next_deadline().unwrap();
    s.step();
    assert_eq!(
        (s.state(owner), s.state(svc), s.state(job)),
        (State::Running, State::Running, State::Exited)
    );
    assert_eq!(s.t.worst_status(), 0);

    // An owner that ends for good does not take its sharers down.
    let mut s = Sim::new();
    let never = Policy {
        restart: Restart {
            policy: RestartPolicy::Never,
            ..Restart::default()
        },
        ..service()
    };
    let owner = s.add("owner", never, &[], &[]);
    let svc = s.add("svc", service(), &[], &[owner]);
    s.step();
    assert_eq!(s.state(svc), State::Running);
    s.exit(owner, Ending::Code(0));
    assert!(s.step().is_empty());
    assert_eq!(s.state(svc), State::Running);
}
