//! Regressions of the read commands (issue 10), through the built binary.
//!
//! `fetch` exited 1 (or 2, or 3) whenever it failed, and PostgreSQL reads any exit below
//! 126 as "not in the archive": with the bucket unreachable a recovery stopped at the
//! base backup and promoted. Now only "never archived, in an archive that exists" exits 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// `fetch`'s codes: see the README's table.
const FETCH_OBJECT: i32 = 201;
const FETCH_USAGE: i32 = 202;
const FETCH_CANNOT_RUN: i32 = 203;

const SOURCES: &str = "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";

struct Ws {
    dir: tempfile::TempDir,
}

impl Ws {
    /// Two closed logs and a config with this `[destination]` table.
    fn new(destination: &str) -> Ws {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/a.log.1"), b"one\n").unwrap();
        std::fs::write(dir.path().join("logs/000000010000000000000003"), b"wal\n").unwrap();
        let ws = Ws { dir };
        ws.config(destination);
        ws
    }

    fn config(&self, destination: &str) {
        std::fs::write(
            self.path("logferry.toml"),
            format!("state_dir = \"state\"\n{destination}{SOURCES}"),
        )
        .unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(self.path("logferry.toml"))
            .args(args)
            .env_remove("RUST_LOG");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LOGFERRY_")) {
            cmd.env_remove(k);
        }
        cmd.output().unwrap()
    }

    fn dest(&self) -> String {
        self.path("RECOVERYXLOG").display().to_string()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The data objects of a local mirror.
fn objects(mirror: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![mirror.join("data")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

// Bug: a destination that did not answer made `fetch` exit 3, which PostgreSQL takes
// for "end of the archive" and promotes.
#[test]
fn fetch_with_the_destination_unreachable_exits_above_125() {
    let ws = Ws::new(
        "[destination]\nurl = \"s3://bucket/p\"\nmax_retries = 0\nretry_timeout = \"1s\"\nconnect_timeout = \"1s\"\n[destination.options]\naws_endpoint = \"http://127.0.0.1:9\"\naws_access_key_id = \"k\"\naws_secret_access_key = \"s\"\naws_region = \"us-east-1\"\naws_allow_http = true\n",
    );
    let o = ws.run(&["fetch", "000000010000000000000003", &ws.dest()]);
    assert_eq!(code(&o), FETCH_CANNOT_RUN, "{}", err(&o));
    assert!(
        err(&o).contains("destination s3://bucket/p") && err(&o).contains("cannot reach"),
        "{}",
        err(&o)
    );
    assert!(!Path::new(&ws.dest()).exists());
    // Other commands keep their codes.
    assert_eq!(code(&ws.run(&["ls"])), 3);
}

// Bug: an archive with no generation answered "never archived" (exit 1): recovery
// ended at the base backup on a host pointed at the wrong prefix.
#[test]
fn fetch_from_an_archive_without_generations_exits_above_125_naming_the_url() {
    let ws = Ws::new("[destination]\nurl = \"mirror\"\n");
    let o = ws.run(&["fetch", "000000010000000000000003", &ws.dest()]);
    assert_eq!(code(&o), FETCH_CANNOT_RUN, "{}", err(&o));
    let mirror = format!("file://{}", ws.path("mirror").display());
    assert!(
        err(&o).contains(&format!("no archive at {mirror}")),
        "{}",
        err(&o)
    );
}

// Bug: a missing or corrupt object made `fetch` exit 1, "not in the archive".
#[test]
fn fetch_of_a_missing_or_corrupt_object_exits_above_125() {
    let ws = Ws::new("[destination]\nurl = \"mirror\"\n");
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    // Never archived, in an archive that exists: the one exit 1.
    let o = ws.run(&["fetch", "000000010000000000000099", &ws.dest()]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    assert!(err(&o).contains("never archived"), "{}", err(&o));

    let wal = objects(&ws.path("mirror"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("000000010000000000000003"))
        .unwrap();
    std::fs::write(&wal, b"wax\n").unwrap();
    let o = ws.run(&["fetch", "000000010000000000000003", &ws.dest()]);
    assert_eq!(code(&o), FETCH_OBJECT, "{}", err(&o));
    assert!(err(&o).contains("hashing to"), "{}", err(&o));
    std::fs::remove_file(&wal).unwrap();
    let o = ws.run(&["fetch", "000000010000000000000003", &ws.dest()]);
    assert_eq!(code(&o), FETCH_OBJECT, "{}", err(&o));
    assert!(err(&o).contains("is missing"), "{}", err(&o));
    assert!(!Path::new(&ws.dest()).exists());
}

// Bug: bad config, bad arguments and an ambiguous name made `fetch` exit 2: a typo in
// the config or in restore_command ended recovery quietly.
#[test]
fn fetch_with_bad_config_or_usage_exits_above_125() {
    let ws = Ws::new("[destination]\nurl = \"mirror\"\n");
    std::fs::create_dir_all(ws.path("logs/other")).unwrap();
    std::fs::write(ws.path("logs/other/a.log.1"), b"another one\n").unwrap();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let dest = ws.dest();
    for (args, words) in [
        (
            vec!["fetch", "a.log.1", &dest],
            "names several archived files",
        ),
        (
            vec!["fetch", "a.log.1", &dest, "--source", "nope"],
            "no source named `nope`",
        ),
        (vec!["fetch", "a.log.1"], "<DEST>"),
        (
            vec!["fetch", "a.log.1", &dest, "--no-such-flag"],
            "--no-such-flag",
        ),
    ] {
        let o = ws.run(&args);
        assert_eq!(code(&o), FETCH_USAGE, "{args:?}: {}", err(&o));
        assert!(err(&o).contains(words), "{args:?}: {}", err(&o));
    }
    std::fs::write(ws.path("logferry.toml"), "state_dir = 5\n").unwrap();
    let o = ws.run(&["fetch", "a.log.1", &dest]);
    assert_eq!(code(&o), FETCH_USAGE, "{}", err(&o));
    assert!(err(&o).contains("state_dir"), "{}", err(&o));
    assert_eq!(code(&ws.run(&["ls"])), 2, "other commands keep exit 2");
    let o = Command::new(BIN)
        .args([
            "--config",
            "/nonexistent/logferry.toml",
            "fetch",
            "a",
            &dest,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), FETCH_USAGE, "{}", err(&o));
    assert!(!Path::new(&dest).exists());
    let help = ws.run(&["fetch", "--help"]);
    assert_eq!(code(&help), 0, "help is not a failure");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for c in ["201", "202", "203", "below 126"] {
        assert!(help.contains(c), "fetch --help documents {c}: {help}");
    }
}
