//! Names the commit in `--version` when the crate is built from a git checkout, so a
//! binary on a host can be traced to its source. (Not a `LOGFERRY_*` name: cargo also
//! sets it when running tests, and the binary would warn about it as an unknown key.) Sets `BUILD_VERSION_WITH_COMMIT` to the crate
//! version, followed by ` (<short commit>)` (`-dirty` when the tree has changes) when
//! the manifest dir is a checkout and git runs; the version alone otherwise (a crate
//! tarball, no git).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    // Only this crate's own checkout: a tarball unpacked inside another repository
    // (`cargo package` does that under target/) must not take that repository's commit.
    let shown = match Path::new(&dir).join(".git").exists() {
        true => commit(&dir).map(|c| format!("{version} ({c})")),
        false => None,
    };
    println!(
        "cargo:rustc-env=BUILD_VERSION_WITH_COMMIT={}",
        shown.unwrap_or(version)
    );
}

/// The short commit, `-dirty` when anything differs from it; `None` when git fails.
fn commit(dir: &str) -> Option<String> {
    let short = git(dir, &["rev-parse", "--short", "HEAD"])?;
    // Rebuild when HEAD moves (a checkout, or a commit on the branch it names) and when
    // a source file changes (which may make the tree dirty). `--git-path` finds both in
    // a linked worktree too, where `.git` is a file.
    for path in ["HEAD", "index", "packed-refs"] {
        rerun_if_changed(dir, path);
    }
    if let Some(head_ref) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        rerun_if_changed(dir, &head_ref);
    }
    println!("cargo:rerun-if-changed=src");
    let dirty = git(dir, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{short}-dirty")
    } else {
        short
    })
}

/// Watches a file of the git dir, if it exists: cargo reruns the script on every build
/// for a missing one (a ref may live only in packed-refs).
fn rerun_if_changed(dir: &str, git_path: &str) {
    if let Some(p) = git(dir, &["rev-parse", "--git-path", git_path]) {
        let p = Path::new(dir).join(p);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}

/// Trimmed stdout of a successful `git ARGS` in `dir`.
fn git(dir: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}
