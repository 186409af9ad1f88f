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
}

/// Parses the arguments after the program name.
pub fn parse<'a>(mut args: impl Iterator<Item = &'a [u8]>) -> Result<Options<'a>, &'static str> {
    let mut o = Options {
        config: b"",
        run_dir: DEFAULT_RUN_DIR,
        stay: false,
        verbosity: 1,
        resume: false,
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
