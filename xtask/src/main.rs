//! `cargo xtask` — keel's developer commands.
//!
//! ```text
//! cargo xtask build [--features fault-inject]   the static keel binary, checked static
//! cargo xtask test [--quick] [--no-install]     every test layer (installs what it needs)
//! cargo xtask image                             the demo appliance: target/demo.cpio
//! cargo xtask run [--interactive] [--host]      the demo: boots the appliance under qemu
//! cargo xtask bench [--pairs N] [--starts N]    keel beside its floor and its peers
//! ```

mod bench;
mod bench_vm;
mod demo;
mod demo_vm;
mod deps;
mod dns_vm;
mod elf;
mod image;
mod keel;
mod scenarios;
mod stats;
mod test;
mod tree;
mod upcall_vm;
mod util;
mod vm;

const USAGE: &str = "\
usage: cargo xtask COMMAND

  build [--features fault-inject]  build keel (release, static, no libc), check that it is
                                   static, print its size and path; compile-check aarch64
                                   if that target is installed
  test [--quick] [--no-install]    every test: packages (apt-get as root), build, cargo test
                                   (unit + integration, KEEL_BIN set), fuzz targets 30 s each
                                   (--quick: none), the demo, the VM tests
       [--vm-only] [--scenario NAME]…  only the VM tests (those whose name starts with NAME)
  image                            the demo appliance (keel as /init, busybox, NFSv4 modules,
                                   demo containers): target/demo.cpio
  run [--interactive]              the demo: boots the appliance under qemu, console on the
                                   terminal; it powers off by itself (--interactive: a shell
                                   on the console, the machine stays up until `poweroff`)
  run --host                       the demo on this host: keel in supervisor mode as PID 1 of
                                   a new pid namespace
  bench [--pairs N] [--starts N]   benchmarks, paired and interleaved (default 30 pairs,
                                   1000 starts); table printed and written to target/bench.md
       [--vm-only]                 only the VM figures (keel as PID 1 under qemu):
                                   target/bench-vm.md

run and bench use $KEEL_BIN instead of building keel when it is set.
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(&args) {
        Ok(()) => 0,
        Err(Error::Usage(m)) => {
            eprintln!("xtask: {m}\n\n{USAGE}");
            2
        }
        Err(Error::Failed(m)) => {
            eprintln!("xtask: {m}");
            1
        }
    };
    std::process::exit(code);
}

enum Error {
    Usage(String),
    Failed(String),
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error::Failed(s)
    }
}

fn number(it: &mut std::slice::Iter<String>, flag: &str) -> Result<usize, Error> {
    it.next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Usage(format!("{flag} needs a number")))
}

fn run(args: &[String]) -> Result<(), Error> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(Error::Usage("no command".into()));
    };
    let mut it = rest.iter();
    match cmd.as_str() {
        "build" => {
            let mut features = Vec::new();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--features" => {
                        let f = it
                            .next()
                            .ok_or_else(|| Error::Usage("--features needs a value".into()))?;
                        features.extend(f.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string));
                    }
                    s if s.starts_with("--features=") => features.extend(
                        s["--features=".len()..]
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                    ),
                    other => return Err(Error::Usage(format!("build: unknown argument {other}"))),
                }
            }
            keel::cmd_build(&features)?;
        }
        "test" => {
            let mut o = test::Options {
                quick: false,
                install: true,
                vm_only: false,
                scenarios: Vec::new(),
            };
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--quick" => o.quick = true,
                    "--no-install" => o.install = false,
                    "--vm-only" => o.vm_only = true,
                    "--scenario" => o.scenarios.push(
                        it.next()
                            .ok_or_else(|| Error::Usage("--scenario needs a name".into()))?
                            .clone(),
                    ),
                    other => return Err(Error::Usage(format!("test: unknown argument {other}"))),
                }
            }
            test::cmd_test(&o)?;
        }
        "image" => {
            if let Some(a) = it.next() {
                return Err(Error::Usage(format!("image: unknown argument {a}")));
            }
            demo_vm::cmd_image()?;
        }
        "run" => {
            let (mut host, mut interactive) = (false, false);
            for a in it {
                match a.as_str() {
                    "--host" => host = true,
                    "--interactive" => interactive = true,
                    other => return Err(Error::Usage(format!("run: unknown argument {other}"))),
                }
            }
            if host {
                demo::cmd_run()?;
            } else {
                demo_vm::cmd_run(interactive)?;
            }
        }
        "bench" => {
            let mut o = bench::Options {
                pairs: 30,
                starts: 1000,
            };
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--pairs" => o.pairs = number(&mut it, "--pairs")?,
                    "--starts" => o.starts = number(&mut it, "--starts")?,
                    "--vm-only" => {
                        let md = bench_vm::section();
                        println!("\n{md}");
                        let out = util::target_dir().join("bench-vm.md");
                        std::fs::write(&out, &md).map_err(|e| format!("{}: {e}", out.display()))?;
                        println!("xtask: bench: written to {}", out.display());
                        return Ok(());
                    }
                    other => return Err(Error::Usage(format!("bench: unknown argument {other}"))),
                }
            }
            bench::cmd_bench(o)?;
        }
        "help" | "--help" | "-h" => print!("{USAGE}"),
        other => return Err(Error::Usage(format!("unknown command {other}"))),
    }
    Ok(())
}
