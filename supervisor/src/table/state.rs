//! A container's lifecycle as pure decisions: states, what an exit leads to,
//! backoff delays and the restart budget. No system calls; times are
//! milliseconds of a monotonic clock passed in by the caller (tests use
//! plain numbers as a fake clock).

use crate::spec::{Restart, RestartPolicy};

/// Where a container is in its life. Rendered in the status file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started yet: waiting for its `after` dependencies.
    Waiting,
    /// Spawned; its set-up has not reached execve yet.
    Starting,
    /// Its init has exec'd (and, with `ready_fd`, see `ready`).
    Running,
    /// Its stop signal was sent; waiting for it to end (then cgroup.kill).
    Stopping,
    /// Ended; a restart is scheduled after a backoff delay.
    Backoff,
    /// Ended successfully and will not restart (a finished oneshot).
    Exited,
    /// Ended unsuccessfully and will not restart (policy, or budget spent).
    Failed,
    /// Stopped on request (shutdown, removal).
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping => "stopping",
            State::Backoff => "backoff",
            State::Exited => "exited",
            State::Failed => "failed",
            State::Stopped => "stopped",
        }
    }

    /// A process of this container may be alive.
    pub fn is_live(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Stopping)
    }

    /// Nothing more will happen to this container by itself.
    pub fn is_final(self) -> bool {
        matches!(self, State::Exited | State::Failed | State::Stopped)
    }
}

/// How a container's init ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// exit(code).
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Its set-up failed before execve.
    SetupFailed,
}

impl Ending {
    pub fn success(self) -> bool {
        self == Ending::Code(0)
    }
    /// The shell's convention: code, or 128+signal; set-up failure is 127.
    pub fn status(self) -> i32 {
        match self {
            Ending::Code(c) => c,
            Ending::Signal(s) => 128 + s,
            Ending::SetupFailed => 127,
        }
    }
}

/// Restarts counted within the budget window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// Start of the current window (ms).
    pub window_start: u64,
    /// Restarts in the current window.
    pub used: u32,
}

/// What an unrequested end leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    /// Done for good, successfully.
    Exited,
    /// Done for good, unsuccessfully; with why.
    Failed(&'static str),
    /// Restart at this time (ms).
    RestartAt(u64),
}

/// Decides what follows an end the supervisor did not ask for.
/// `consecutive` is the number of restarts since the container last ran
/// long enough to be considered healthy (it drives the backoff).
pub fn after_exit(
    r: &Restart,
    oneshot: bool,
    ending: Ending,
    now: u64,
    budget: &mut Budget,
    consecutive: u32,
) -> AfterExit {
    let wants_restart = match r.policy {
        RestartPolicy::Never => false,
        RestartPolicy::OnFailure => !ending.success(),
        RestartPolicy::Always => !oneshot || !ending.success(),
    };
    if !wants_restart {
        return if ending.success() {
            AfterExit::Exited
        } else if ending == Ending::SetupFailed {
            AfterExit::Failed("set-up failed")
        } else {
            AfterExit::Failed("exited unsuccessfully")
        };
    }
    if now.saturating_sub(budget.window_start) >= u64::from(r.window_ms) {
        budget.window_start = now;
        budget.used = 0;
    }
    if budget.used >= r.budget {
        return AfterExit::Failed("restart budget spent");
    }
    budget.used += 1;
    AfterExit::RestartAt(now.saturating_add(u64::from(backoff_ms(r, consecutive))))
}

/// The delay before restart number `n` (0-based): base·2ⁿ, capped.
pub fn backoff_ms(r: &Restart, n: u32) -> u32 {
    let base = u64::from(r.backoff_base_ms);
    let d = base.checked_shl(n.min(40)).unwrap_or(u64::MAX);
    u32::try_from(d.min(u64::from(r.backoff_cap_ms))).unwrap_or(u32::MAX)
}

/// A run that lasted this long resets the consecutive-restart count.
pub const HEALTHY_AFTER_MS: u64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn restart(policy: RestartPolicy) -> Restart {
        Restart {
            policy,
            backoff_base_ms: 100,
            backoff_cap_ms: 1000,
            budget: 3,
            window_ms: 60_000,
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let r = restart(RestartPolicy::Always);
        let d: Vec<u32> = (0..6).map(|n| backoff_ms(&r, n)).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_ms(&r, 200), 1000);
        let big = Restart {
            backoff_base_ms: u32::MAX,
            backoff_cap_ms: u32::MAX,
            ..r
        };
        assert_eq!(backoff_ms(&big, 63), u32::MAX);
    }

    #[test]
    fn policies() {
        let mut b = Budget::default();
        let never = restart(RestartPolicy::Never);
        assert_eq!(
            after_exit(&never, false, Ending::Code(0), 0, &mut b, 0),
            AfterExit::Exited
        );
        assert!(matches!(
            after_exit(&never, false, Ending::Code(1), 0, &mut b, 0),
            AfterExit::Failed(_)
        ));
        assert!(matches!(
            after_exit(&never, false, Ending::SetupFailed, 0, &mut b, 0),
            AfterExit::Failed("set-up failed")
        ));
        let onf = restart(RestartPolicy::OnFailure);
        assert_eq!(
            after_exit(&onf, false, Ending::Code(0), 0, &mut b, 0),
            AfterExit::Exited
        );
        assert_eq!(
            after_exit(&onf, false, Ending::Signal(9), 5, &mut b, 0),
            AfterExit::RestartAt(105)
        );
        let always = restart(RestartPolicy::Always);
        let mut b = Budget::default();
        assert_eq!(
            after_exit(&always, false, Ending::Code(0), 0, &mut b, 2),
            AfterExit::RestartAt(400)
        );
        // A oneshot that succeeded is done even under `always`.
        assert_eq!(
            after_exit(&always, true, Ending::Code(0), 0, &mut b, 0),
            AfterExit::Exited
        );
    }

    #[test]
    fn crash_loop_spends_budget_then_fails() {
        let r = restart(RestartPolicy::OnFailure);
        let mut b = Budget::default();
        let mut now = 0;
        let mut delays = Vec::new();
        for n in 0.. {
            match after_exit(&r, false, Ending::Code(1), now, &mut b, n) {
                AfterExit::RestartAt(t) => {
                    delays.push(t - now);
                    now = t + 1;
                }
                AfterExit::Failed(why) => {
                    assert_eq!(why, "restart budget spent");
                    break;
                }
                AfterExit::Exited => panic!("a failure never exits cleanly"),
            }
        }
        assert_eq!(delays, [100, 200, 400]);
    }

    #[test]
    fn budget_window_renews() {
        let r = restart(RestartPolicy::OnFailure);
        let mut b = Budget::default();
        for _ in 0..3 {
            assert!(matches!(
                after_exit(&r, false, Ending::Code(1), 10, &mut b, 0),
                AfterExit::RestartAt(_)
            ));
        }
        assert!(matches!(
            after_exit(&r, false, Ending::Code(1), 20, &mut b, 0),
            AfterExit::Failed(_)
        ));
        // A minute later the window starts over.
        assert!(matches!(
            after_exit(&r, false, Ending::Code(1), 60_010, &mut b, 0),
            AfterExit::RestartAt(_)
        ));
        assert_eq!(b.used, 1);
    }

    #[test]
    fn statuses() {
        assert_eq!(Ending::Code(3).status(), 3);
        assert_eq!(Ending::Signal(9).status(), 137);
        assert_eq!(Ending::SetupFailed.status(), 127);
        assert!(State::Stopping.is_live() && !State::Backoff.is_live());
        assert!(State::Failed.is_final() && !State::Waiting.is_final());
    }
}
