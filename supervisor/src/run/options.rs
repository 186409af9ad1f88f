//! Supervisor mode's command line: `keel --config DIR [--run-dir DIR]
//! [--stay] [-v|--verbose] [-q|--quiet]`. Pure.

/// Default directory of the status file.
pub const DEFAULT_RUN_DIR: &[u8] = b"/run/keel";

#[derive(Debug, PartialEq, Eq)]
pub struct Options<'a> {
    pub config: &'a [u8],
    pub run_dir: &'a [u8],
    /// Keep running when the table ends (wait for reload or a signal).
    pub stay: bool,
    /// 0 = errors and warnings, 1 = + info (default), 2 = + debug.
    pub verbosity: u8,
    /// Boot mode's re-exec after a fault: adopt running containers.
    pub resume: bool,
    /// The upcall agent's binary (`--agent PATH`; empty = none).
    pub agent: &'a [u8],
    pub upcalls: crate::upcall::Settings,
}

/// Where keel finds upcall-agent unless told otherwise.
pub const DEFAULT_AGENT: &[u8] = b"/sbin/upcall-agent";

/// Parses the arguments after the program name.
pub fn parse<'a>(mut args: impl Iterator<Item = &'a [u8]>) -> Result<Options<'a>, &'static str> {
    let mut o = Options {
        config: b"",
        run_dir: DEFAULT_RUN_DIR,
        stay: false,
        verbosity: 1,
        resume: false,
        agent: DEFAULT_AGENT,
        upcalls: crate::upcall::Settings::default(),
    };
    let mut have_config = false;
    while let Some(a) = args.next() {
        match a {
            b"--config" => {
                o.config = args.next().ok_or("--config needs a directory")?;
                have_config = true;
            }
            b"--run-dir" => o.run_dir = args.next().ok_or("--run-dir needs a directory")?,
            b"--stay" => o.stay = true,
            b"--resume" => o.resume = true,
            b"--agent" => {
                o.agent = args.next().ok_or("--agent needs a path (or none)")?;
                if o.agent == b"none" {
                    o.agent = b"";
                }
            }
            b"--upcall-deadline" => {
                let v = args.next().ok_or("--upcall-deadline needs a duration")?;
                o.upcalls.deadline_ms = upcall_deadline(v)?;
            }
            b"--upcall-cap" => {
                let v = args.next().ok_or("--upcall-cap needs a number")?;
                o.upcalls.cap = upcall_cap(v)?;
            }
            b"-v" | b"--verbose" => o.verbosity = o.verbosity.saturating_add(1),
            b"-q" | b"--quiet" => o.verbosity = 0,
            _ => return Err("unknown argument"),
        }
    }
    if !have_config || o.config.is_empty() {
        return Err("--config DIR is required");
    }
    if o.run_dir.is_empty() {
        return Err("--run-dir needs a directory");
    }
    Ok(o)
}

/// An upcall deadline: a duration of at most 30 s.
pub fn upcall_deadline(v: &[u8]) -> Result<u32, &'static str> {
    let ms = crate::spec::num::duration_ms(v)?;
    if ms == 0 || ms > keel_wire::upcall::MAX_DEADLINE_MS {
        return Err("the upcall deadline is more than 0 and at most 30s");
    }
    Ok(ms)
}

/// Requests in flight per container: 1 to 16 (the agent has 16 slots;
/// keel refuses past the cap before the agent does).
pub fn upcall_cap(v: &[u8]) -> Result<u32, &'static str> {
    match crate::spec::num::u64_dec(v) {
        Some(n @ 1..=16) => Ok(n as u32),
        _ => Err("the upcall cap is a number from 1 to 16"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&'static str]) -> Result<Options<'static>, &'static str> {
        parse(a.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn options() {
        let o = p(&["--config", "/etc/keel", "--stay", "-v"]).unwrap();
        assert_eq!(
            (o.config, o.run_dir, o.stay, o.verbosity),
            (&b"/etc/keel"[..], DEFAULT_RUN_DIR, true, 2)
        );
        let o = p(&["--run-dir", "/tmp/r", "--config", "c", "-q"]).unwrap();
        assert_eq!((o.run_dir, o.verbosity), (&b"/tmp/r"[..], 0));
        assert_eq!(p(&[]), Err("--config DIR is required"));
        assert_eq!(p(&["--config"]), Err("--config needs a directory"));
        assert_eq!(p(&["--config", "x", "--bogus"]), Err("unknown argument"));
        assert_eq!(
            p(&["--config", "x", "--run-dir", ""]),
            Err("--run-dir needs a directory")
        );
    }
}
