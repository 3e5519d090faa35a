//! The stat cache through the binary: a state dir an earlier release left (`seen.json`
//! version 3) moves to `seen.bin` on the first pass, which still finds nothing to do
//! and reads no file; a changed file is still found after the move; a damaged
//! `seen.bin` costs one more read of every file and a warning naming it, never a file
//! taken for archived.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use logferry::{ContentHash, FileStat};

use crate::cli::{code, stderr, stdout, Workspace};

/// A workspace whose two logs were archived by one pass, with mtimes an hour old so the
/// records are trusted at once (no racy margin to wait out).
fn archived() -> Workspace {
    let ws = Workspace::new();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for name in ["a.log.1", "a.log.2"] {
        let f = std::fs::File::options()
            .write(true)
            .open(ws.path(&format!("logs/{name}")))
            .unwrap();
        f.set_modified(hour_ago).unwrap();
    }
    let first = ws.run(&["--run-once"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with("archived 2 files"),
        "{}",
        stdout(&first)
    );
    ws
}

/// The last pass's bytes read, from `status --json`.
fn bytes_read(ws: &Workspace) -> u64 {
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&ws.run(&["status", "--json"]))).unwrap();
    status[0]["bytes_read"].as_u64().unwrap()
}

fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// `seen.json` version 3 as the last JSON release wrote it, for the workspace's logs as
/// they are on disk now.
fn seen_v3(ws: &Workspace) -> String {
    let records: Vec<String> = ["a.log.1", "a.log.2"]
        .iter()
        .map(|name| {
            let path = ws.path(&format!("logs/{name}"));
            let s = FileStat::of_path(&path).unwrap();
            let sha = ContentHash::of(&std::fs::read(&path).unwrap());
            let btime = s.btime_ns.map_or("null".to_string(), |b| b.to_string());
            format!(
                r#"{{"source":"app","path":"{name}","dev":{},"ino":{},"size":{},"mtime_ns":{},"ctime_ns":{},"btime_ns":{btime},"sha256":"{sha}","seen_at_ns":{}}}"#,
                s.dev,
                s.ino,
                s.size,
                s.mtime_ns,
                s.ctime_ns,
                nanos(SystemTime::now()),
            )
        })
        .collect();
    format!(r#"{{"version":3,"seen":[{}]}}"#, records.join(","))
}

#[test]
fn a_v3_stat_cache_moves_to_seen_bin_and_the_no_op_pass_stays_a_no_op() {
    let ws = archived();
    let (json, bin) = (ws.path("state/seen.json"), ws.path("state/seen.bin"));
    assert!(
        bin.exists() && !json.exists(),
        "this release writes seen.bin"
    );
    // The state dir as the last JSON release left it.
    std::fs::write(&json, seen_v3(&ws)).unwrap();
    std::fs::remove_file(&bin).unwrap();

    let moved = ws.run(&["--run-once"]);
    assert_eq!(code(&moved), 0, "{}", stderr(&moved));
    assert!(
        stdout(&moved).starts_with("nothing new: 2 files unchanged"),
        "{}",
        stdout(&moved)
    );
    assert_eq!(
        bytes_read(&ws),
        0,
        "the v3 records were trusted: no file read"
    );
    assert!(bin.exists() && !json.exists(), "moved to seen.bin");

    let again = ws.run(&["--run-once"]);
    assert!(
        stdout(&again).starts_with("nothing new: 2 files unchanged"),
        "{}",
        stdout(&again)
    );
    assert_eq!(bytes_read(&ws), 0, "read back from seen.bin: no file read");

    std::fs::write(ws.path("logs/a.log.2"), b"two, and more\n").unwrap();
    let changed = ws.run(&["--run-once"]);
    assert_eq!(code(&changed), 0, "{}", stderr(&changed));
    assert!(
        stdout(&changed).contains("(0 new, 1 changed, 0 renamed)"),
        "{}",
        stdout(&changed)
    );
}

#[test]
fn a_damaged_seen_bin_is_named_and_every_file_is_hashed_once_more() {
    let ws = archived();
    let bin = ws.path("state/seen.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&bin, &bytes).unwrap();

    let second = ws.run(&["--run-once"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(
        stderr(&second).contains("seen.bin") && stderr(&second).contains("hashed once more"),
        "the warning names the file and what follows: {}",
        stderr(&second)
    );
    assert!(
        stdout(&second).starts_with("nothing new: 2 files unchanged"),
        "{}",
        stdout(&second)
    );
    assert_eq!(bytes_read(&ws), 8, "both files read again");

    let third = ws.run(&["--run-once"]);
    assert!(!stderr(&third).contains("seen.bin"), "{}", stderr(&third));
    assert_eq!(bytes_read(&ws), 0, "seen.bin written again");
}
