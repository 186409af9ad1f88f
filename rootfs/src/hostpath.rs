//! Resolving a path inside a root directory (`/` for the host, or an unpacked system
//! tree) the way the kernel would if that root were `/`, remembering every symbolic
//! link met on the way, so that an image can reproduce the same chain.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// A symbolic link met while resolving a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Where the link is: absolute, inside the root, with the components before it
    /// already resolved.
    pub path: PathBuf,
    /// The link's contents, as written.
    pub target: PathBuf,
    /// For a link that was followed as a directory (a component in the middle of the
    /// path): the resolved directory it stands for. `None` for the last component.
    pub dir_target: Option<PathBuf>,
}

/// A path resolved inside a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The links, in the order they were followed.
    pub links: Vec<Link>,
    /// The resolved path: absolute, inside the root, free of links.
    pub real: PathBuf,
}

impl Resolved {
    /// `root` joined with the resolved path: where the file is on the host.
    pub fn host_path(&self, root: &Path) -> PathBuf {
        join_in(root, &self.real)
    }
}

/// `root` + an absolute path inside it.
pub fn join_in(root: &Path, abs: &Path) -> PathBuf {
    let rel = abs.strip_prefix("/").unwrap_or(abs);
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

enum Tok {
    C(OsString),
    Mark(usize),
}

fn toks(p: &Path) -> impl Iterator<Item = Tok> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(s) => Some(Tok::C(s.to_os_string())),
        Component::ParentDir => Some(Tok::C(OsString::from(".."))),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn abs(done: &[OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    for c in done {
        p.push(c);
    }
    p
}

/// Resolves `path` (absolute, or relative to the root) inside `root`, following
/// symbolic links with absolute targets relative to `root`, at most 40 of them.
pub fn resolve(root: &Path, path: &Path) -> Result<Resolved> {
    let mut todo: VecDeque<Tok> = toks(path).collect();
    let mut done: Vec<OsString> = Vec::new();
    let mut links: Vec<Link> = Vec::new();
    while let Some(t) = todo.pop_front() {
        let c = match t {
            Tok::Mark(i) => {
                links[i].dir_target = Some(abs(&done));
                continue;
            }
            Tok::C(c) => c,
        };
        if c == OsStr::new("..") {
            done.pop();
            continue;
        }
        done.push(c);
        let here = abs(&done);
        let host = join_in(root, &here);
        let md = fs::symlink_metadata(&host).map_err(|e| {
            Error::io(
                format!("resolving {} in {}: {}", path.display(), root.display(), here.display()),
                e,
            )
        })?;
        let more = todo.iter().any(|t| matches!(t, Tok::C(_)));
        if md.file_type().is_symlink() {
            if links.len() >= 40 {
                return Err(Error::new(format!(
                    "resolving {} in {}: too many levels of symbolic links",
                    path.display(),
                    root.display()
                )));
            }
            let target = fs::read_link(&host).at("reading the symbolic link", &host)?;
            done.pop();
            if target.is_absolute() {
                done.clear();
            }
            let idx = links.len();
            links.push(Link {
                path: here,
                target: target.clone(),
                dir_target: None,
            });
            let mut new: Vec<Tok> = toks(&target).collect();
            if more {
                new.push(Tok::Mark(idx));
            }
            for t in new.into_iter().rev() {
                todo.push_front(t);
            }
        } else if more && !md.is_dir() {
            return Err(Error::new(format!(
                "resolving {} in {}: {} is not a directory",
                path.display(),
                root.display(),
                here.display()
            )));
        }
    }
    Ok(Resolved {
        links,
        real: abs(&done),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn merged_usr_chain() {
        let t = crate::testutil::TempDir::new("hostpath");
        let r = t.path();
        fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs::create_dir_all(r.join("usr/lib64")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("usr/lib64", r.join("lib64")).unwrap();
        fs::write(r.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), b"x").unwrap();
        symlink(
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            r.join("usr/lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
        let got = resolve(r, Path::new("/lib64/ld-linux-x86-64.so.2")).unwrap();
        assert_eq!(got.real, Path::new("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
        let l: Vec<_> = got
            .links
            .iter()
            .map(|l| (l.path.clone(), l.target.clone(), l.dir_target.clone()))
            .collect();
        assert_eq!(
            l,
            [
                ("/lib64".into(), "usr/lib64".into(), Some("/usr/lib64".into())),
                (
                    "/usr/lib64/ld-linux-x86-64.so.2".into(),
                    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2".into(),
                    None
                ),
                ("/lib".into(), "usr/lib".into(), Some("/usr/lib".into())),
            ]
        );
        assert_eq!(
            got.host_path(r),
            r.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        );
    }

    #[test]
    fn dotdot_loops_and_missing() {
        let t = crate::testutil::TempDir::new("hostpath2");
        let r = t.path();
        fs::create_dir_all(r.join("a/b")).unwrap();
        fs::write(r.join("a/f"), b"").unwrap();
        symlink("../../a/b/..", r.join("a/b/up")).unwrap();
        assert_eq!(resolve(r, Path::new("/a/b/up/f")).unwrap().real, Path::new("/a/f"));
        // ".." never leaves the root
        assert_eq!(resolve(r, Path::new("/../../a/f")).unwrap().real, Path::new("/a/f"));
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        assert!(resolve(r, Path::new("/loop1"))
            .unwrap_err()
            .to_string()
            .contains("too many levels"));
        assert!(resolve(r, Path::new("/a/missing")).is_err());
        assert!(resolve(r, Path::new("/a/f/x"))
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
    }
}
