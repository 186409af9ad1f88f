//! Ordering between containers as pure set logic: `after` dependencies
//! (sharing a namespace implies one), cycles, when a dependency counts as
//! met, and the reverse order for stopping. A set of containers is a `Set`
//! bit mask over table slots (MAX_CONTAINERS = 128 fits one u128).

use super::state::State;

/// A set of table slots, bit i for slot i.
pub type Set = u128;

/// Slots a Set can name.
pub const SET_BITS: usize = 128;

pub fn bit(i: usize) -> Set {
    if i < SET_BITS {
        1u128 << i
    } else {
        0
    }
}

/// Iterates over the slots in a set, lowest first.
pub fn members(s: Set) -> impl Iterator<Item = usize> {
    (0..SET_BITS).filter(move |i| s & (1u128 << i) != 0)
}

/// What a dependency looks like to a container waiting for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepStatus {
    Met,
    Pending,
    /// It will not come: the waiting container fails.
    Broken,
}

/// The facts about a dependency that decide whether it is met.
#[derive(Clone, Copy, Debug)]
pub struct DepView {
    pub state: State,
    pub oneshot: bool,
    /// It has a readiness fd and has not signalled readiness yet.
    pub awaiting_ready: bool,
}

/// `after X`: X's init has exec'd (and is ready, if it has a readiness fd);
/// for a oneshot X, it has exited 0.
pub fn dep_status(d: DepView) -> DepStatus {
    match (d.oneshot, d.state) {
        (true, State::Exited) => DepStatus::Met,
        (false, State::Running) if !d.awaiting_ready => DepStatus::Met,
        (_, State::Failed | State::Stopped) => DepStatus::Broken,
        (false, State::Exited) => DepStatus::Broken,
        _ => DepStatus::Pending,
    }
}

/// Combines the statuses of all of a container's dependencies.
pub fn all_deps(deps: Set, view: impl Fn(usize) -> Option<DepView>) -> DepStatus {
    let mut out = DepStatus::Met;
    for j in members(deps) {
        match view(j).map(dep_status) {
            Some(DepStatus::Broken) | None => return DepStatus::Broken,
            Some(DepStatus::Pending) => out = DepStatus::Pending,
            Some(DepStatus::Met) => {}
        }
    }
    out
}

/// The slots that lie on a dependency cycle (`after[i]` = what i waits for).
pub fn on_cycle(after: &[Set]) -> Set {
    let n = after.len().min(SET_BITS);
    // Transitive closure by repeated squaring over at most SET_BITS rounds.
    let mut reach: [Set; SET_BITS] = [0; SET_BITS];
    for (i, r) in reach.iter_mut().enumerate().take(n) {
        *r = after.get(i).copied().unwrap_or(0);
    }
    loop {
        let mut changed = false;
        for i in 0..n {
            let mut r = reach[i];
            for j in members(reach[i]) {
                if j < n {
                    r |= reach[j];
                }
            }
            if r != reach[i] {
                reach[i] = r;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut out = 0;
    for (i, r) in reach.iter().enumerate().take(n) {
        if r & bit(i) != 0 {
            out |= bit(i);
        }
    }
    out
}

/// The containers that wait for `i` (its dependents).
pub fn dependents(i: usize, after: &[Set]) -> Set {
    let mut out = 0;
    for (j, a) in after.iter().enumerate() {
        if a & bit(i) != 0 {
            out |= bit(j);
        }
    }
    out
}

/// `i` and everything that transitively depends on it through `rel`
/// (e.g. the containers sharing namespaces owned by i, and theirs).
pub fn closure_of_dependents(i: usize, rel: &[Set]) -> Set {
    let mut set = bit(i);
    loop {
        let mut next = set;
        for k in members(set) {
            next |= dependents(k, rel);
        }
        if next == set {
            return set;
        }
        set = next;
    }
}

/// May `i` be sent its stop signal now? Only once nothing that depends on
/// it is still live: shutdown runs in reverse dependency order.
pub fn may_stop(i: usize, after: &[Set], live: Set) -> bool {
    dependents(i, after) & live & !bit(i) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(state: State, oneshot: bool) -> DepView {
        DepView {
            state,
            oneshot,
            awaiting_ready: false,
        }
    }

    #[test]
    fn dependency_meaning() {
        assert_eq!(dep_status(v(State::Running, false)), DepStatus::Met);
        assert_eq!(
            dep_status(DepView {
                awaiting_ready: true,
                ..v(State::Running, false)
            }),
            DepStatus::Pending
        );
        assert_eq!(dep_status(v(State::Starting, false)), DepStatus::Pending);
        assert_eq!(dep_status(v(State::Backoff, false)), DepStatus::Pending);
        assert_eq!(dep_status(v(State::Failed, false)), DepStatus::Broken);
        assert_eq!(dep_status(v(State::Running, true)), DepStatus::Pending);
        assert_eq!(dep_status(v(State::Exited, true)), DepStatus::Met);
        assert_eq!(dep_status(v(State::Failed, true)), DepStatus::Broken);
        assert_eq!(dep_status(v(State::Exited, false)), DepStatus::Broken);
    }

    #[test]
    fn combined() {
        let states = [
            v(State::Running, false),
            v(State::Waiting, false),
            v(State::Failed, true),
        ];
        let view = |j: usize| states.get(j).copied();
        assert_eq!(all_deps(0, view), DepStatus::Met);
        assert_eq!(all_deps(bit(0), view), DepStatus::Met);
        assert_eq!(all_deps(bit(0) | bit(1), view), DepStatus::Pending);
        assert_eq!(all_deps(bit(1) | bit(2), view), DepStatus::Broken);
        assert_eq!(all_deps(bit(5), view), DepStatus::Broken);
    }

    #[test]
    fn cycles() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0, 4 alone, 5 -> 5
        let after = [bit(1), bit(2), bit(0), bit(0), 0, bit(5)];
        assert_eq!(on_cycle(&after), bit(0) | bit(1) | bit(2) | bit(5));
        assert_eq!(on_cycle(&[bit(1), 0]), 0);
    }

    #[test]
    fn stop_order_is_reverse_of_start_order() {
        // db <- app <- web ; db <- worker
        let (db, app, web, worker) = (0, 1, 2, 3);
        let after = [0, bit(db), bit(app), bit(db)];
        let live = bit(db) | bit(app) | bit(web) | bit(worker);
        assert!(may_stop(web, &after, live));
        assert!(may_stop(worker, &after, live));
        assert!(!may_stop(app, &after, live));
        assert!(!may_stop(db, &after, live));
        let live = live & !bit(web);
        assert!(may_stop(app, &after, live));
        assert!(!may_stop(db, &after, live));
        let live = bit(db);
        assert!(may_stop(db, &after, live));
    }

    #[test]
    fn sharer_closure() {
        // 1 and 2 share 0's namespaces; 3 shares 1's.
        let shares = [0, bit(0), bit(0), bit(1)];
        assert_eq!(closure_of_dependents(0, &shares), bit(0) | bit(1) | bit(2) | bit(3));
        assert_eq!(closure_of_dependents(1, &shares), bit(1) | bit(3));
        assert_eq!(members(bit(3) | bit(127)).collect::<Vec<_>>(), [3, 127]);
        assert_eq!(bit(128), 0);
        assert_eq!(members(bit(100)).collect::<Vec<_>>(), [100]);
    }
}
