//! Which mode the keel binary runs in, decided once from argv and the pid.

/// The modes of the keel binary.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    /// pid 1 with no mode argument: boots the machine (or `--resume`).
    Boot,
    /// `--config DIR …`: a supervisor below another init.
    Supervisor,
    /// `[OPTIONS] -- PROGRAM …`, or invoked as `tini`/`keel-init`.
    ContainerInit,
    /// `enter [--run-dir DIR] NAME -- PROGRAM…`: run a program inside a
    /// running container.
    Enter,
    /// Invoked as `modprobe` (the kernel's module upcall, through the
    /// symlink /run/keel/modprobe): `modprobe -q -- NAME`.
    Modprobe,
    /// `--version` alone.
    Version,
    /// A usage error, with what is wrong.
    Usage(&'static str),
}

pub const USAGE: &str = "\
usage: keel                                    boot mode (as pid 1)
       keel --config DIR [--run-dir DIR] [--stay]
                                               supervise the containers in DIR
       keel [OPTIONS] -- PROGRAM [ARGS...]     run one program as a container's init
       keel enter [--run-dir DIR] NAME -- PROGRAM [ARGS...]
                                               run a program inside a running container
       keel --version
";

/// Picks the mode from argv (program name first) and our pid.
pub fn pick<'a>(mut argv: impl Iterator<Item = &'a [u8]>, pid: i32) -> Mode {
    let argv0 = argv.next().unwrap_or(b"keel");
    let base = argv0.rsplit(|c| *c == b'/').next().unwrap_or(argv0);
    if base == b"tini" || base == b"keel-init" {
        return Mode::ContainerInit;
    }
    if base == b"modprobe" {
        return Mode::Modprobe;
    }
    let mut argv = argv.peekable();
    if argv.peek() == Some(&&b"enter"[..]) {
        return Mode::Enter;
    }
    let mut saw_dashdash = false;
    let mut saw_config = false;
    let mut saw_resume = false;
    let mut first: Option<&[u8]> = None;
    let mut n = 0;
    for a in argv {
        n += 1;
        if first.is_none() {
            first = Some(a);
        }
        match a {
            b"--" => {
                saw_dashdash = true;
                break;
            }
            b"--config" => saw_config = true,
            b"--resume" => saw_resume = true,
            _ => {}
        }
    }
    if saw_dashdash && !saw_config {
        return Mode::ContainerInit;
    }
    if saw_config {
        return Mode::Supervisor;
    }
    if n == 1 && first == Some(b"--version") {
        return Mode::Version;
    }
    if pid == 1 && (n == 0 || saw_resume) {
        return Mode::Boot;
    }
    // pid 1 may also get bare words from the kernel command line.
    if pid == 1 {
        return Mode::Boot;
    }
    if n == 0 {
        return Mode::Usage("no mode given and not pid 1");
    }
    Mode::Usage("unknown arguments")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str], pid: i32) -> Mode {
        pick(args.iter().map(|s| s.as_bytes()), pid)
    }

    #[test]
    fn modes() {
        assert_eq!(p(&["keel"], 1), Mode::Boot);
        assert_eq!(p(&["/init", "single"], 1), Mode::Boot);
        assert_eq!(p(&["/init", "--resume"], 1), Mode::Boot);
        assert_eq!(p(&["keel", "--config", "/etc/keel"], 1), Mode::Supervisor);
        assert_eq!(p(&["keel", "--config", "/x", "--stay"], 77), Mode::Supervisor);
        assert_eq!(p(&["keel", "--", "sh"], 77), Mode::ContainerInit);
        assert_eq!(p(&["keel", "-g", "-e", "3", "--", "sh"], 1), Mode::ContainerInit);
        assert_eq!(p(&["/usr/bin/tini", "sh"], 1), Mode::ContainerInit);
        assert_eq!(p(&["keel-init"], 5), Mode::ContainerInit);
        assert_eq!(p(&["keel", "--version"], 5), Mode::Version);
        assert_eq!(p(&["keel", "enter", "web", "--", "sh"], 5), Mode::Enter);
        assert_eq!(p(&["keel"], 5), Mode::Usage("no mode given and not pid 1"));
        assert_eq!(p(&["keel", "bogus"], 5), Mode::Usage("unknown arguments"));
        assert_eq!(p(&["/run/keel/modprobe", "-q", "--", "fs-nfs4"], 4321), Mode::Modprobe);
        assert_eq!(p(&["modprobe", "-q", "--", "x"], 1), Mode::Modprobe);
        assert_eq!(
            p(&["/sbin/modprobe.real"], 5),
            Mode::Usage("no mode given and not pid 1")
        );
    }
}
