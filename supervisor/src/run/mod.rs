//! The supervisor's runtime: one epoll over a signalfd, a timerfd and each
//! container's fds (spawn report pipe, log pipe, readiness pipe,
//! cgroup.events). It turns what the kernel says into table events and
//! carries out the table's actions. No polling: with nothing to do, keel
//! sleeps in epoll_wait with no timeout.

pub mod clock;
pub mod config;
pub mod options;
mod runtime;
pub mod signals;
mod statusfile;

pub use runtime::{run, Ended, Mode};
