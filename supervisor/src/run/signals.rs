//! What each signal means, per mode (docs/modes.md has the tables). Pure.

/// What keel does on a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalAction {
    /// Reap children.
    Reap,
    /// Orderly stop of every container, then exit (supervisor mode).
    StopAndExit,
    /// Re-read the config directory.
    Reload,
    /// Boot mode: orderly stop, then the reboot(2) command.
    Halt,
    Poweroff,
    Reboot,
    Ignore,
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGRTMIN: i32 = 34;

/// Supervisor mode: TERM and INT stop everything and exit; HUP reloads.
pub fn supervisor(sig: i32) -> SignalAction {
    match sig {
        SIGCHLD => SignalAction::Reap,
        SIGTERM | SIGINT => SignalAction::StopAndExit,
        SIGHUP => SignalAction::Reload,
        _ => SignalAction::Ignore,
    }
}

/// Boot mode: busybox init's convention (USR1 halt, USR2 poweroff, TERM
/// reboot, INT — Ctrl-Alt-Del — reboot), systemd's SIGRTMIN+3 halt, +4
/// poweroff, +5 reboot; HUP reloads.
pub fn boot(sig: i32) -> SignalAction {
    match sig {
        SIGCHLD => SignalAction::Reap,
        SIGHUP => SignalAction::Reload,
        SIGUSR1 => SignalAction::Halt,
        SIGUSR2 => SignalAction::Poweroff,
        SIGTERM | SIGINT => SignalAction::Reboot,
        s if s == SIGRTMIN + 3 => SignalAction::Halt,
        s if s == SIGRTMIN + 4 => SignalAction::Poweroff,
        s if s == SIGRTMIN + 5 => SignalAction::Reboot,
        _ => SignalAction::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tables() {
        assert_eq!(supervisor(SIGTERM), SignalAction::StopAndExit);
        assert_eq!(supervisor(SIGINT), SignalAction::StopAndExit);
        assert_eq!(supervisor(SIGHUP), SignalAction::Reload);
        assert_eq!(supervisor(SIGCHLD), SignalAction::Reap);
        assert_eq!(supervisor(SIGUSR1), SignalAction::Ignore);
        assert_eq!(boot(SIGUSR1), SignalAction::Halt);
        assert_eq!(boot(SIGUSR2), SignalAction::Poweroff);
        assert_eq!(boot(SIGTERM), SignalAction::Reboot);
        assert_eq!(boot(SIGINT), SignalAction::Reboot);
        assert_eq!(boot(37), SignalAction::Halt);
        assert_eq!(boot(38), SignalAction::Poweroff);
        assert_eq!(boot(39), SignalAction::Reboot);
        assert_eq!(boot(40), SignalAction::Ignore);
    }
}
