//! The host's name behind `{hostname}`, driven for real: the binary runs in a UTS
//! namespace of its own (`unshare --uts`, which needs root) whose host name is set to
//! one that cannot be a prefix segment. Where no namespace can be made the tests fail
//! and say why (`scripts/test` runs as root, as it installs the database servers); the
//! pure part is unit-tested in src/config/hostname.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// Fails the test, saying why, when this process may not make a UTS namespace: a test
/// that cannot run must not pass.
fn namespaces() {
    let ok = Command::new("unshare")
        .args(["--uts", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`unshare --uts` is not permitted here: run the suite as root (scripts/test does)"
    );
}

/// `logferry --config <dir>/logferry.toml <args>` on a host named `host`.
fn run_as_host(host: &str, dir: &Path, args: &[&str]) -> Output {
    let config = dir.join("logferry.toml");
    Command::new("unshare")
        .args(["--uts", "sh", "-c"])
        .arg("printf %s \"$1\" > /proc/sys/kernel/hostname && shift && exec \"$@\"")
        .args(["sh", host, BIN, "--config"])
        .arg(&config)
        .args(args)
        .output()
        .unwrap()
}

fn workspace(url: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let toml = format!(
        "state_dir = \"state\"\n[destination]\nurl = \"{url}\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n"
    );
    std::fs::write(dir.path().join("logferry.toml"), toml).unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// Pins: a host whose name could not be read archived under `localhost`, sharing that
// prefix (and the archive) with every other such host.
#[test]
fn an_unusable_host_name_is_a_config_error_not_a_shared_prefix() {
    namespaces();
    let (_keep, dir) = workspace("mirror/{hostname}");
    let o = run_as_host("a/b", &dir, &["--run-once"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("key `destination.url`: cannot use this host's name for {hostname}")
            && err.contains("it holds `/`")
            && err.contains("--hostname NAME"),
        "{err}"
    );
    assert!(!dir.join("mirror").exists(), "nothing may be archived");
}

// Pins: (same) the fixes the message names must work on such a host: a URL without
// `{hostname}`, and a read command's --hostname.
#[test]
fn an_unusable_host_name_does_not_stop_what_does_not_need_it() {
    namespaces();
    let (_keep, dir) = workspace("mirror/fixed");
    let o = run_as_host("a/b", &dir, &["--run-once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("mirror/fixed").exists());

    let (_keep, dir) = workspace("mirror/{hostname}");
    let o = run_as_host("a/b", &dir, &["ls", "--hostname", "db-1"]);
    let err = stderr(&o);
    assert!(!err.contains("cannot use this host's name"), "{err}");
    assert!(err.contains("mirror/db-1"), "{err}");
}
