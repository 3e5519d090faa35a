//! Regressions of the read commands (issue 10, points 2 and 3), through the built binary.
//!
//! Point 2: `fetch` exited 1 (or 2, or 3) whenever it failed, and PostgreSQL reads any
//! exit below 126 as "not in the archive": with the bucket unreachable a recovery stopped
//! at the base backup and promoted. Now only "never archived, in an archive that exists"
//! exits 1. Point 3: with `{hostname}` in the URL a replacement host read an empty prefix
//! and `restore` exited 0 having restored nothing; now an absent archive is an error
//! naming the URL and the hosts that do have one, and `--hostname` reads theirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{s3_destination_toml, testbed, unique_prefix};

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

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), err(o))
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

/// Bug: a destination that did not answer made `fetch` exit 3, which PostgreSQL takes
/// for "end of the archive" and promotes.
// Pins: an unreachable destination made `fetch` exit 3, which PostgreSQL takes for the end.
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

/// Bug: an archive with no generation answered "never archived" (exit 1): recovery
/// ended at the base backup on a host pointed at the wrong prefix.
// Pins: `fetch` from an archive with no generation said "never archived" (exit 1).
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

// Pins: a missing or corrupt object made `fetch` exit 1, "not in the archive".
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

/// Bug: bad config, bad arguments and an ambiguous name made `fetch` exit 2: a typo in
/// the config or in restore_command ended recovery quietly.
// Pins: bad config, bad arguments or an ambiguous name made `fetch` exit 2, ending recovery.
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
        (
            vec!["--run-once", "fetch", "a.log.1", &dest],
            "--run-once only applies",
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

/// This host's archive moved to `mirror/old-db`, as if another host had written it.
fn archive_of_another_host(ws: &Ws) {
    let host = logferry::system_hostname().unwrap();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    std::fs::rename(ws.path(&format!("mirror/{host}")), ws.path("mirror/old-db")).unwrap();
    // A directory without manifests is not an archive.
    std::fs::create_dir_all(ws.path("mirror/stray/data")).unwrap();
    std::fs::remove_dir_all(ws.path("state")).unwrap();
}

/// Bug: on a replacement host, every read of a `{hostname}` archive looked at an empty
/// prefix; `restore` exited 0 having restored nothing, `fetch` said "never archived".
// Pins: on a replacement host, reads of a `{hostname}` archive saw an empty prefix and exited 0.
#[test]
fn reads_of_an_absent_templated_archive_fail_naming_the_url_and_the_hosts() {
    let ws = Ws::new("[destination]\nurl = \"mirror/{hostname}\"\n");
    archive_of_another_host(&ws);
    let host = logferry::system_hostname().unwrap();
    let url = format!("file://{}", ws.path(&format!("mirror/{host}")).display());
    let listed = format!("file://{}", ws.path("mirror").display());
    let to = ws.path("restored").display().to_string();
    let dest = ws.dest();
    for (args, want) in [
        (vec!["restore", "--to", &to], 3),
        (
            vec!["restore", "--to", &to, "--at", "2026-01-01T00:00:00Z"],
            3,
        ),
        (vec!["ls"], 3),
        (vec!["ls", "--generation", "1"], 3),
        (vec!["generations"], 3),
        (vec!["verify"], 3),
        (vec!["fetch", "a.log.1", &dest], FETCH_CANNOT_RUN),
    ] {
        let o = ws.run(&args);
        assert_eq!(code(&o), want, "{args:?}: {}", text(&o));
        let e = err(&o);
        assert!(e.contains(&format!("no archive at {url}")), "{args:?}: {e}");
        assert!(
            e.contains(&format!("hosts with an archive under {listed}/: old-db "))
                && e.contains("--hostname"),
            "{args:?}: {e}"
        );
        assert!(!e.contains("stray"), "no manifests, no archive: {e}");
    }
    assert!(
        !ws.path("restored").exists() || objects_under(&ws.path("restored")) == 0,
        "nothing restored"
    );
    assert!(!Path::new(&dest).exists());
}

fn objects_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

// Pins: a replacement host had no way to read the archive of the host it replaces.
#[test]
fn hostname_reads_another_hosts_archive_with_every_read_command() {
    let ws = Ws::new("[destination]\nurl = \"mirror/{hostname}\"\n");
    archive_of_another_host(&ws);
    let o = ws.run(&["ls", "--hostname", "old-db", "--json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let entries: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 2);
    let o = ws.run(&["generations", "--hostname", "old-db", "--json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = ws.run(&["verify", "--hostname", "old-db", "--read-data=50"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        !ws.path("state/verify-cursor.json").exists(),
        "another host's archive moves no cursor of this host's"
    );
    let to = ws.path("restored");
    let o = ws.run(&[
        "restore",
        "--hostname",
        "old-db",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(std::fs::read(to.join("app/a.log.1")).unwrap(), b"one\n");
    let o = ws.run(&[
        "fetch",
        "--hostname",
        "old-db",
        "000000010000000000000003",
        &ws.dest(),
    ]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(std::fs::read(ws.dest()).unwrap(), b"wal\n");
    // A host that has no archive there either: the same error, for that host's URL.
    let o = ws.run(&["ls", "--hostname", "nobody"]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(
        err(&o).contains("mirror/nobody: no manifest generation"),
        "{}",
        err(&o)
    );
    for bad in ["", "a/b", ".."] {
        let o = ws.run(&["ls", "--hostname", bad]);
        assert_eq!(code(&o), 2, "{bad:?}: {}", err(&o));
        assert!(err(&o).contains("--hostname"), "{}", err(&o));
    }
}

/// `--hostname` on a URL without `{hostname}` would silently read this host's own
/// archive: a usage error that says why.
// Pins: `--hostname` on a URL without `{hostname}` would silently read this host's archive.
#[test]
fn hostname_on_a_url_without_the_placeholder_is_a_usage_error() {
    let ws = Ws::new("[destination]\nurl = \"mirror\"\n");
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let o = ws.run(&["ls", "--hostname", "old-db"]);
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("has no {hostname}"), "{}", err(&o));
    let o = ws.run(&["fetch", "--hostname", "old-db", "a.log.1", &ws.dest()]);
    assert_eq!(code(&o), FETCH_USAGE, "{}", err(&o));
}

/// Bug: `ls`, `generations`, `verify` and `restore` of a prefix that holds no generation
/// exited 0 ("nothing archived yet", "restored 0 files").
// Pins: ls, generations, verify and restore of a prefix with no generation exited 0.
#[test]
fn reads_of_a_prefix_without_generations_fail_naming_the_url() {
    let ws = Ws::new("[destination]\nurl = \"mirror\"\n");
    let url = format!("file://{}", ws.path("mirror").display());
    let to = ws.path("restored").display().to_string();
    for args in [
        vec!["ls"],
        vec!["ls", "--json"],
        vec!["generations"],
        vec!["verify"],
        vec!["restore", "--to", &to],
    ] {
        let o = ws.run(&args);
        assert_eq!(code(&o), 3, "{args:?}: {}", text(&o));
        assert!(
            err(&o).contains(&format!("no archive at {url}: no manifest generation")),
            "{args:?}: {}",
            err(&o)
        );
        assert!(!err(&o).contains("hosts with"), "{}", err(&o));
    }
}

/// The host list comes from one delimited LIST of a real S3 server, and a host prefix
/// without manifests is not counted.
// Pins: the replacement-host fix on real S3: hosts from one delimited LIST, empty ones skipped.
#[test]
fn s3_replacement_host_is_told_the_hosts_and_reads_the_old_one() {
    let base = unique_prefix();
    let bucket = testbed("TESTBED_S3_BUCKET");
    let at = |tail: &str| {
        let toml = s3_destination_toml(
            &testbed("TESTBED_S3_ENDPOINT"),
            &testbed("TESTBED_S3_SECRET_KEY"),
            "max_retries = 1\nretry_timeout = \"5s\"\n",
        );
        let url = format!("url = \"s3://{bucket}/{base}/{tail}\"");
        toml.lines()
            .map(|l| {
                if l.starts_with("url = ") {
                    url.as_str()
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    // Two other hosts archive; then this host reads with `{hostname}`.
    let ws = Ws::new(&at("db-old"));
    for host in ["db-old", "db-other"] {
        ws.config(&at(host));
        let o = ws.run(&["--run-once"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        std::fs::remove_dir_all(ws.path("state")).unwrap();
    }
    // A host prefix with data but no manifest (a first pass that never committed) is
    // no archive.
    let stray = logferry::config_from_toml(
        &format!("{}{SOURCES}", at("stray")),
        ws.dir.path(),
        std::iter::empty(),
    )
    .unwrap();
    let store = logferry::open_store(&stray.destination).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use object_store::ObjectStoreExt;
        let key = object_store::path::Path::from("data/app/a.log.1-00");
        store.put(&key, b"x".to_vec().into()).await.unwrap();
    });
    ws.config(&at("{hostname}"));
    let o = ws.run(&["restore", "--to", ws.path("r").to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let listed = format!("s3://{bucket}/{base}/");
    assert!(
        err(&o).contains(&format!(
            "hosts with an archive under {listed}: db-old, db-other "
        )),
        "{}",
        err(&o)
    );
    let o = ws.run(&["fetch", "a.log.1", &ws.dest()]);
    assert_eq!(code(&o), FETCH_CANNOT_RUN, "{}", err(&o));
    assert!(!err(&o).contains("stray"), "{}", err(&o));
    let o = ws.run(&["fetch", "a.log.1", &ws.dest(), "--hostname", "db-old"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(std::fs::read(ws.dest()).unwrap(), b"one\n");
}

/// The host's name may be part of a path segment (`db-{hostname}`): only the segments
/// with that shape are hosts, and the name is what stands for `{hostname}`.
// Pins: the replacement-host fix with `db-{hostname}`: only segments of that shape are hosts.
#[test]
fn hosts_are_found_when_the_name_is_part_of_a_segment() {
    let ws = Ws::new("[destination]\nurl = \"mirror/db-{hostname}.arch/all\"\n");
    let host = logferry::system_hostname().unwrap();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    std::fs::rename(
        ws.path(&format!("mirror/db-{host}.arch")),
        ws.path("mirror/db-old.arch"),
    )
    .unwrap();
    std::fs::create_dir_all(ws.path("mirror/elsewhere/all/manifests")).unwrap();
    let o = ws.run(&["ls"]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains(": old (hint"), "{}", err(&o));
    let o = ws.run(&["ls", "--hostname", "old"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
}

/// With `{source}`, an archive of a source that has archived nothing yet does not make
/// every other name "not archived" fail: "never archived" needs one archive that holds a
/// generation; with none at all, fetch stops the recovery.
// Pins: with `{source}`, a source with nothing archived made every other name "not archived".
#[test]
fn fetch_over_per_source_archives_says_never_archived_only_with_one_generation() {
    let ws = Ws::new("[destination]\nurl = \"mirror/{source}\"\n");
    let quiet = "[[sources]]\nname = \"dumps\"\npath = \"dumps\"\nmin_age = \"0s\"\n";
    std::fs::create_dir_all(ws.path("dumps")).unwrap();
    let text = std::fs::read_to_string(ws.path("logferry.toml")).unwrap();
    std::fs::write(ws.path("logferry.toml"), format!("{text}{quiet}")).unwrap();
    let o = ws.run(&["fetch", "a.log.1", &ws.dest()]);
    assert_eq!(code(&o), FETCH_CANNOT_RUN, "no archive at all: {}", err(&o));
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let o = ws.run(&["fetch", "000000010000000000000003", &ws.dest()]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = ws.run(&["fetch", "000000010000000000000099", &ws.dest()]);
    assert_eq!(code(&o), 1, "{}", err(&o));
    // `restore` restores what exists and says which archive does not.
    let to = ws.path("restored");
    let o = ws.run(&["restore", "--to", to.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains("[dumps] no archive at"), "{}", err(&o));
    assert_eq!(std::fs::read(to.join("app/a.log.1")).unwrap(), b"one\n");
}
