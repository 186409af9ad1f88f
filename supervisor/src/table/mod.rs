//! The container table as pure decisions. It holds one compact [`Entry`]
//! per container (never the parsed spec: that is re-read at each spawn),
//! takes events (spawned, exec'd, exited, ready, cgroup empty, timer,
//! reload, shutdown) with the time they happened, and answers with
//! [`Action`]s for the runtime to carry out. No system calls here, so every
//! rule (ordering, backoff, budget, reload, shutdown order) is unit-tested
//! with a fake clock.

pub mod order;
pub mod slots;
pub mod state;
pub mod status;

use heapless::Vec;
use order::{bit, members, Set};
use state::{AfterExit, Budget, Ending, State};

use crate::spec::{Restart, NAME_MAX};

/// Most containers one keel supervises (a u128 bit mask per dependency set).
pub const MAX_CONTAINERS: usize = 128;
/// Most actions one event can produce (every container twice, and some).
pub const MAX_ACTIONS: usize = 2 * MAX_CONTAINERS + 8;

pub type Name = Vec<u8, NAME_MAX>;

/// The part of a spec the table keeps between spawns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub restart: Restart,
    pub oneshot: bool,
    /// It has a readiness fd: `after` it waits for readiness.
    pub has_ready: bool,
    pub stop_signal: i32,
    pub stop_timeout_ms: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            restart: Restart::default(),
            oneshot: false,
            has_ready: false,
            stop_signal: 15,
            stop_timeout_ms: 10_000,
        }
    }
}

/// What to do once a requested stop is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Nothing was requested (an end of its own) or just stop (shutdown).
    Stay,
    /// Start again (its file changed, or a namespace owner restarted).
    Restart,
    /// Its file is gone: free the slot.
    Remove,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Name,
    /// Hash of the spec file's content (reload restarts on change).
    pub hash: u64,
    pub policy: Policy,
    /// What it waits for (`after`, plus every namespace owner).
    pub after: Set,
    /// The containers whose namespaces it shares.
    pub shares: Set,
    pub state: State,
    /// Readiness signalled (only meaningful with `policy.has_ready`).
    pub ready: bool,
    /// Host pid of its init while live, else 0.
    pub pid: i32,
    pub init_alive: bool,
    pub cg_populated: bool,
    /// A stop was requested and has not completed.
    pub stop_requested: bool,
    pub then: Then,
    /// Restarts since the table started it first.
    pub restarts: u32,
    /// Restarts since it last ran healthily (drives the backoff).
    pub consecutive: u32,
    pub budget: Budget,
    pub started_at: u64,
    /// Restart time (Backoff) or kill time (Stopping).
    pub deadline: Option<u64>,
    pub last: Option<Ending>,
    /// Why it failed, for the log and the status file.
    pub reason: &'static str,
    /// Monotonic time of the last state change.
    pub changed_at: u64,
}

impl Entry {
    pub fn new(name: &[u8], hash: u64) -> Option<Entry> {
        Some(Entry {
            name: Vec::from_slice(name).ok()?,
            hash,
            policy: Policy::default(),
            after: 0,
            shares: 0,
            state: State::Waiting,
            ready: false,
            pid: 0,
            init_alive: false,
            cg_populated: false,
            stop_requested: false,
            then: Then::Stay,
            restarts: 0,
            consecutive: 0,
            budget: Budget::default(),
            started_at: 0,
            deadline: None,
            last: None,
            reason: "",
            changed_at: 0,
        })
    }
}

/// What the runtime must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Re-read the spec and spawn the container's init.
    Spawn(usize),
    /// Send this signal to the container's init.
    Signal(usize, i32),
    /// cgroup.kill the container (and SIGKILL its init).
    Kill(usize),
    /// The container is gone for good: close its fds, remove its cgroup.
    Release(usize),
    /// A container failed: log why (entry.reason).
    LogFailed(usize),
}

pub type Actions = Vec<Action, MAX_ACTIONS>;

fn push(out: &mut Actions, a: Action) {
    // MAX_ACTIONS covers every container twice per event; dropping beyond
    // that would be a table bug, never a panic.
    let _ = out.push(a);
}

pub struct Table {
    slots: slots::Slots<Entry, MAX_CONTAINERS>,
    shutting_down: bool,
    /// Set when anything visible changed (the status file is rewritten).
    pub dirty: bool,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    pub const fn new() -> Self {
        // All zero bits when empty, so a static Table lives in .bss; the
        // runtime marks it dirty once it starts.
        Table {
            slots: slots::Slots::new(),
            shutting_down: false,
            dirty: false,
        }
    }

    pub fn get(&self, i: usize) -> Option<&Entry> {
        self.slots.get(i)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut Entry> {
        self.slots.get_mut(i)
    }

    /// Occupied slots with their entries.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.slots.iter()
    }

    pub fn slot_of(&self, name: &[u8]) -> Option<usize> {
        self.iter().find(|(_, e)| e.name.as_slice() == name).map(|(i, _)| i)
    }

    pub fn slot_of_pid(&self, pid: i32) -> Option<usize> {
        if pid <= 0 {
            return None;
        }
        self.iter().find(|(_, e)| e.pid == pid && e.init_alive).map(|(i, _)| i)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn shutting_down(&self) -> bool {
        self.shutting_down
    }

    fn set_state(&mut self, i: usize, s: State, now: u64) {
        if let Some(e) = self.get_mut(i) {
            if e.state != s {
                e.state = s;
                e.changed_at = now;
            }
        }
        self.dirty = true;
    }

    /// Adds a container; `None` when the table is full or the name too long.
    pub fn add(&mut self, name: &[u8], hash: u64, now: u64) -> Option<usize> {
        let i = self.slots.free()?;
        let mut e = Entry::new(name, hash)?;
        e.changed_at = now;
        self.slots.set(i, e).ok()?;
        self.dirty = true;
        Some(i)
    }

    /// Sets what the spec says about policy and links (after load/reload).
    pub fn set_links(&mut self, i: usize, policy: Policy, after: Set, shares: Set) {
        if let Some(e) = self.get_mut(i) {
            e.policy = policy;
            e.shares = shares & !bit(i);
            e.after = (after | shares) & !bit(i);
        }
    }

    /// Marks a container failed when no process of it runs (bad spec, bad
    /// links, a spawn that could not be attempted).
    pub fn fail(&mut self, i: usize, reason: &'static str, now: u64, out: &mut Actions) {
        if let Some(e) = self.get_mut(i) {
            if e.init_alive {
                return;
            }
            e.reason = reason;
            e.deadline = None;
        } else {
            return;
        }
        self.set_state(i, State::Failed, now);
        push(out, Action::LogFailed(i));
    }

    /// Fails every container on a dependency cycle.
    pub fn fail_cycles(&mut self, now: u64, out: &mut Actions) {
        let mut after: [Set; MAX_CONTAINERS] = [0; MAX_CONTAINERS];
        for (i, e) in self.iter() {
            if let Some(a) = after.get_mut(i) {
                *a = e.after;
            }
        }
        for i in members(order::on_cycle(&after)) {
            if self.get(i).is_some_and(|e| !e.state.is_live() && !e.state.is_final()) {
                self.fail(i, "dependency cycle", now, out);
            }
        }
    }

    fn after_sets(&self) -> [Set; MAX_CONTAINERS] {
        let mut a: [Set; MAX_CONTAINERS] = [0; MAX_CONTAINERS];
        for (i, e) in self.iter() {
            if let Some(x) = a.get_mut(i) {
                *x = e.after;
            }
        }
        a
    }

    fn share_sets(&self) -> [Set; MAX_CONTAINERS] {
        let mut a: [Set; MAX_CONTAINERS] = [0; MAX_CONTAINERS];
        for (i, e) in self.iter() {
            if let Some(x) = a.get_mut(i) {
                *x = e.shares;
            }
        }
        a
    }

    fn live_set(&self) -> Set {
        self.iter()
            .filter(|(_, e)| e.state.is_live())
            .fold(0, |s, (i, _)| s | bit(i))
    }

    fn dep_view(&self, j: usize) -> Option<order::DepView> {
        self.get(j).map(|d| order::DepView {
            state: d.state,
            oneshot: d.policy.oneshot,
            awaiting_ready: d.policy.has_ready && !d.ready,
        })
    }

    // ------------------------------------------------------------ events

    /// The runtime spawned container i's init (its set-up is running).
    pub fn on_spawned(&mut self, i: usize, pid: i32, now: u64) {
        if let Some(e) = self.get_mut(i) {
            e.pid = pid;
            e.init_alive = true;
            e.cg_populated = true;
            e.ready = false;
            e.started_at = now;
            e.deadline = None;
            e.last = None;
            e.reason = "";
        }
        self.set_state(i, State::Starting, now);
    }

    /// The init reached execve.
    pub fn on_execd(&mut self, i: usize, now: u64) {
        if self.get(i).is_some_and(|e| e.state == State::Starting) {
            self.set_state(i, State::Running, now);
        }
    }

    /// The container signalled readiness.
    pub fn on_ready(&mut self, i: usize) {
        if let Some(e) = self.get_mut(i) {
            if !e.ready {
                e.ready = true;
                self.dirty = true;
            }
        }
    }

    /// The spawn could not even start (clone3, id maps, unreadable spec):
    /// treated as an end of the set-up.
    pub fn on_spawn_error(&mut self, i: usize, now: u64, out: &mut Actions) {
        if let Some(e) = self.get_mut(i) {
            e.init_alive = false;
            e.cg_populated = false;
            e.pid = 0;
            e.started_at = now;
        }
        self.end(i, Ending::SetupFailed, now, out);
    }

    /// Container i's init ended.
    pub fn on_exit(&mut self, i: usize, ending: Ending, now: u64, out: &mut Actions) {
        let Some(e) = self.get_mut(i) else { return };
        e.init_alive = false;
        e.last = Some(ending);
        if e.cg_populated {
            // The rest of the container dies with its init.
            push(out, Action::Kill(i));
            self.dirty = true;
            return;
        }
        self.end(i, ending, now, out);
    }

    /// Container i's cgroup has no process left.
    pub fn on_cgroup_empty(&mut self, i: usize, now: u64, out: &mut Actions) {
        let Some(e) = self.get_mut(i) else { return };
        if !e.cg_populated {
            return;
        }
        e.cg_populated = false;
        if e.init_alive {
            return;
        }
        let ending = e.last.unwrap_or(Ending::Code(0));
        self.end(i, ending, now, out);
    }

    /// Init and cgroup are both done: decide what follows.
    fn end(&mut self, i: usize, ending: Ending, now: u64, out: &mut Actions) {
        let shutting_down = self.shutting_down;
        let Some(e) = self.get_mut(i) else { return };
        e.pid = 0;
        e.deadline = None;
        e.last = Some(ending);
        let requested = e.stop_requested;
        e.stop_requested = false;
        let then = core::mem::replace(&mut e.then, Then::Stay);
        if now.saturating_sub(e.started_at) >= state::HEALTHY_AFTER_MS {
            e.consecutive = 0;
        }
        if requested || shutting_down {
            match then {
                Then::Remove => {
                    push(out, Action::Release(i));
                    self.slots.take(i);
                    self.dirty = true;
                }
                Then::Restart if !shutting_down => {
                    e.consecutive = 0;
                    self.set_state(i, State::Waiting, now);
                }
                _ => self.set_state(i, State::Stopped, now),
            }
            return;
        }
        let policy = e.policy;
        let consecutive = e.consecutive;
        match state::after_exit(&policy.restart, policy.oneshot, ending, now, &mut e.budget, consecutive) {
            AfterExit::Exited => self.set_state(i, State::Exited, now),
            AfterExit::Failed(why) => {
                e.reason = why;
                self.set_state(i, State::Failed, now);
                push(out, Action::LogFailed(i));
            }
            AfterExit::RestartAt(t) => {
                e.deadline = Some(t);
                e.consecutive = consecutive.saturating_add(1);
                self.set_state(i, State::Backoff, now);
                // Containers sharing its namespaces must restart after it
                // (its new instance has new namespaces). When it does not
                // restart, they keep the namespaces they hold.
                self.restart_sharers(i, now, out);
            }
        }
    }

    fn restart_sharers(&mut self, owner: usize, now: u64, out: &mut Actions) {
        let shares = self.share_sets();
        let sharers = order::closure_of_dependents(owner, &shares) & !bit(owner);
        for j in members(sharers) {
            // Only running ones: an ended sharer stays ended, a waiting one
            // already waits for its owner.
            if self.get(j).is_some_and(|e| e.state.is_live()) {
                self.request_stop(j, Then::Restart, now, out);
            }
        }
    }

    /// Asks container i to stop, then do `then`.
    pub fn request_stop(&mut self, i: usize, then: Then, now: u64, out: &mut Actions) {
        let Some(e) = self.get_mut(i) else { return };
        if e.state.is_live() {
            e.stop_requested = true;
            // Remove beats Restart beats Stay.
            e.then = match (e.then, then) {
                (Then::Remove, _) | (_, Then::Remove) => Then::Remove,
                (Then::Restart, _) | (_, Then::Restart) => Then::Restart,
                _ => Then::Stay,
            };
            // The actual signal goes out in `step`, in dependency order.
            self.dirty = true;
            return;
        }
        match then {
            Then::Remove => {
                push(out, Action::Release(i));
                self.slots.take(i);
                self.dirty = true;
            }
            Then::Restart => {
                if let Some(e) = self.get_mut(i) {
                    e.deadline = None;
                    e.consecutive = 0;
                    e.budget = Budget::default();
                }
                self.set_state(i, State::Waiting, now);
            }
            Then::Stay => {
                if let Some(e) = self.get_mut(i) {
                    e.deadline = None;
                }
                if !matches!(self.get(i).map(|e| e.state), Some(State::Exited | State::Failed)) {
                    self.set_state(i, State::Stopped, now);
                }
            }
        }
    }

    /// Orderly stop of everything (TERM, poweroff).
    pub fn start_shutdown(&mut self, now: u64, out: &mut Actions) {
        self.shutting_down = true;
        let all: Vec<usize, MAX_CONTAINERS> = self.iter().map(|(i, _)| i).collect();
        for i in all {
            self.request_stop(i, Then::Stay, now, out);
        }
        self.dirty = true;
    }

    /// Advances the table at time `now`: deadlines, stops in reverse
    /// dependency order, starts in dependency order.
    pub fn step(&mut self, now: u64, out: &mut Actions) {
        // Deadlines: restart after backoff, kill after the stop timeout.
        for i in 0..MAX_CONTAINERS {
            let Some(e) = self.get_mut(i) else { continue };
            match (e.state, e.deadline) {
                (State::Backoff, Some(t)) if t <= now => {
                    e.deadline = None;
                    e.restarts = e.restarts.saturating_add(1);
                    self.set_state(i, State::Waiting, now);
                }
                (State::Stopping, Some(t)) if t <= now => {
                    e.deadline = None;
                    push(out, Action::Kill(i));
                }
                _ => {}
            }
        }
        // Requested stops go out once nothing live depends on them.
        let after = self.after_sets();
        let live = self.live_set();
        for i in 0..MAX_CONTAINERS {
            let Some(e) = self.get(i) else { continue };
            if !e.stop_requested || e.state == State::Stopping || !e.state.is_live() {
                continue;
            }
            // Dependents that are themselves being stopped or restarted
            // must go first; dependents not asked to stop do not hold it.
            let holders = order::dependents(i, &after) & live & self.stopping_or_requested();
            if holders & !bit(i) != 0 {
                continue;
            }
            let (sig, timeout) = (e.policy.stop_signal, e.policy.stop_timeout_ms);
            if e.state == State::Starting {
                // Not exec'd yet: nothing to be graceful with.
                push(out, Action::Kill(i));
            } else {
                push(out, Action::Signal(i, sig));
            }
            if let Some(e) = self.get_mut(i) {
                e.deadline = Some(now.saturating_add(u64::from(timeout)));
            }
            self.set_state(i, State::Stopping, now);
        }
        if self.shutting_down {
            return;
        }
        // Starts: every waiting container whose dependencies are met.
        // Loop until nothing changes (a failure can break others' deps).
        loop {
            let mut changed = false;
            for i in 0..MAX_CONTAINERS {
                let Some(e) = self.get(i) else { continue };
                if e.state != State::Waiting {
                    continue;
                }
                match order::all_deps(e.after, |j| self.dep_view(j)) {
                    order::DepStatus::Met => {
                        push(out, Action::Spawn(i));
                        // The runtime reports on_spawned or on_spawn_error.
                        self.set_state(i, State::Starting, now);
                        if let Some(e) = self.get_mut(i) {
                            e.started_at = now;
                        }
                        changed = true;
                    }
                    order::DepStatus::Broken => {
                        self.fail(i, "a dependency failed or stopped", now, out);
                        changed = true;
                    }
                    order::DepStatus::Pending => {}
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn stopping_or_requested(&self) -> Set {
        self.iter()
            .filter(|(_, e)| e.stop_requested || e.state == State::Stopping || self.shutting_down)
            .fold(0, |s, (i, _)| s | bit(i))
    }

    /// The earliest deadline, for the timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.iter().filter_map(|(_, e)| e.deadline).min()
    }

    /// Nothing runs and nothing will start by itself.
    pub fn finished(&self) -> bool {
        self.iter().all(|(_, e)| e.state.is_final())
    }

    /// At least one container runs and none is waiting, starting, in
    /// backoff or stopping (boot mode's "all containers running" line).
    pub fn all_running(&self) -> bool {
        self.iter().any(|(_, e)| e.state == State::Running)
            && self
                .iter()
                .all(|(_, e)| matches!(e.state, State::Running | State::Exited | State::Failed | State::Stopped))
    }

    /// Resume (boot mode's re-exec after a fault): container i's init
    /// `pid` survived and is taken back as running. Its readiness pipe was
    /// lost with the old process, so it counts as ready.
    pub fn adopt(&mut self, i: usize, pid: i32, cg_populated: bool, restarts: u32, now: u64) {
        if let Some(e) = self.get_mut(i) {
            e.pid = pid;
            e.init_alive = true;
            e.cg_populated = cg_populated;
            e.ready = true;
            e.started_at = now;
            e.deadline = None;
            e.last = None;
            e.reason = "";
            e.restarts = restarts;
        }
        self.set_state(i, State::Running, now);
    }

    /// Resume: container i had ended for good (exited, failed, stopped)
    /// before keel re-executed itself; it stays so, with its exit status.
    pub fn restore_ended(&mut self, i: usize, state: State, exit: Option<i32>, restarts: u32, now: u64) {
        if !state.is_final() {
            return;
        }
        if let Some(e) = self.get_mut(i) {
            e.last = exit.map(Ending::Code);
            e.restarts = restarts;
            e.deadline = None;
            e.reason = if state == State::Failed {
                "failed before keel resumed"
            } else {
                ""
            };
        }
        self.set_state(i, state, now);
    }

    /// The worst exit status among the containers (0 if all succeeded):
    /// for a verdict.
    pub fn worst_status(&self) -> i32 {
        self.iter()
            .map(|(_, e)| match (e.state, e.last) {
                (State::Failed, Some(l)) if l.status() != 0 => l.status(),
                (State::Failed, _) => 1,
                (_, Some(l)) if e.state != State::Stopped => l.status(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
