//! The listings made for people, and the JSON made for scripts: `ls` fits a terminal
//! (`--long` and `--json` keep full values), `generations` counts the files each
//! generation holds, every `--json` output keeps the top-level keys README.md's "JSON
//! output" documents, and outcome words are the same in logs and JSON.

use std::collections::BTreeSet;

use crate::cli::{code, stderr, stdout, Workspace};

/// A workspace after one pass, whose archive holds `a.log.1` and `a.log.2`.
fn archived() -> Workspace {
    let ws = Workspace::new();
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    ws
}

/// Runs `args`, which must exit 0, and parses what it printed.
fn json(ws: &Workspace, args: &[&str]) -> serde_json::Value {
    let o = ws.run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)))
}

/// The keys of a JSON object.
fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// The keys of the first object of a JSON array, which must not be empty.
fn first_keys(v: &serde_json::Value) -> BTreeSet<String> {
    let all = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert!(!all.is_empty(), "an empty array shows no keys");
    keys(&all[0])
}

#[test]
fn ls_fits_a_terminal_and_long_and_json_keep_full_values() {
    let ws = archived();
    let sha = crate::common::sha(b"one\n");
    let text = stdout(&ws.run(&["ls"]));
    let head = text.lines().next().unwrap();
    assert!(
        head.starts_with("SOURCE") && !head.contains("KEY"),
        "{text}"
    );
    assert!(text.contains(&format!(" {} ", &sha[..12])), "{text}");
    assert!(!text.contains(&sha), "the hash is cut: {text}");
    assert!(text.contains("4 B"), "sizes for people: {text}");
    let line = text.lines().find(|l| l.contains("a.log.1")).unwrap();
    let time = line.split_whitespace().last().unwrap();
    assert!(
        time.ends_with('Z') && !time.contains('.'),
        "to the second: {line}"
    );
    assert!(text.lines().all(|l| l.len() <= 100), "{text}");

    let long = stdout(&ws.run(&["ls", "--long"]));
    let line = long.lines().find(|l| l.contains("a.log.1")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[2], "4", "exact bytes: {long}");
    assert_eq!(cells[3], sha, "{long}");
    assert!(cells[4].starts_with("data/app/a.log.1-"), "the key: {long}");
    assert!(cells[5].contains('.'), "milliseconds: {long}");

    let v = json(&ws, &["ls", "--json"]);
    let e = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "a.log.1")
        .unwrap();
    assert_eq!(e["sha256"], sha.as_str());
    assert_eq!(e["size"], 4);
    let o = ws.run(&["ls", "--long", "--json"]);
    assert_eq!(
        code(&o),
        2,
        "--long has no meaning with --json: {}",
        stderr(&o)
    );
}

#[test]
fn generations_count_the_files_each_generation_holds() {
    let ws = archived();
    std::fs::write(ws.path("logs/a.log.3"), b"three\n").unwrap();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let v = json(&ws, &["generations", "--json"]);
    let files: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["files"].clone())
        .collect();
    assert_eq!(files, [2, 3], "the whole archive, not the delta: {v}");
    assert_eq!(v[1]["entries"], 1, "the delta's own entries: {v}");
    let text = stdout(&ws.run(&["generations"]));
    let columns: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    let at = columns.iter().position(|c| *c == "FILES").unwrap();
    let second: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!((second[0], second[at]), ("2", "3"), "{text}");
}

#[test]
fn every_json_output_keeps_its_documented_top_level_keys() {
    let ws = archived();
    let config = json(&ws, &["check-config", "--json"]);
    assert_eq!(
        keys(&config),
        set(&[
            "destination",
            "file",
            "hash_workers",
            "heartbeat_url",
            "hooks",
            "jitter",
            "log_format",
            "metrics_listen",
            "metrics_textfile",
            "multipart_threshold",
            "next_passes",
            "part_size",
            "requests_in_flight",
            "retention",
            "schedule",
            "shutdown_grace",
            "sources",
            "state_dir",
            "timezone",
        ])
    );
    let report = [
        "bytes_read",
        "bytes_uploaded",
        "conflicts",
        "current_generation",
        "deleted_local",
        "deleted_local_bytes",
        "duration_ms",
        "error",
        "failures",
        "files_adopted",
        "files_ahead",
        "files_changed",
        "files_changing",
        "files_failed",
        "files_new",
        "files_pending",
        "files_renamed",
        "files_scanned",
        "files_unchanged",
        "files_uploaded",
        "files_vanished",
        "files_waiting",
        "generation",
        "name_conflicts",
        "oldest_pending_mtime_ns",
        "outcome",
        "peak_rss_bytes",
        "started_at",
    ];
    let status = json(&ws, &["status", "--json"]);
    let mut with_sources = set(&report);
    with_sources.insert("sources".into());
    assert_eq!(first_keys(&status), with_sources);
    assert_eq!(status[0]["outcome"], "ok");
    let entry = set(&[
        "source",
        "path",
        "size",
        "mtime_ns",
        "sha256",
        "key",
        "archived_at",
        "generation",
    ]);
    assert_eq!(first_keys(&json(&ws, &["ls", "--json"])), entry);
    assert_eq!(
        first_keys(&json(&ws, &["ls", "--all-versions", "--json"])),
        entry
    );
    let gens = json(&ws, &["generations", "--json"]);
    assert_eq!(
        first_keys(&gens),
        set(&[
            "archive",
            "generation",
            "kind",
            "base",
            "created_at",
            "files",
            "entries",
            "expired_versions",
            "report",
        ])
    );
    assert_eq!(
        keys(&gens[0]["report"]),
        set(&report),
        "a pass's report, as status has it"
    );
    assert_eq!(
        first_keys(&json(&ws, &["verify", "--json"])),
        set(&[
            "generations",
            "objects",
            "objects_read",
            "bytes_read",
            "missing",
            "corrupt",
            "orphaned",
            "unaccounted",
            "missing_generations",
            "damaged_generations",
            "newest",
        ])
    );
    let to = ws.path("restored");
    let restored = json(&ws, &["restore", "--to", to.to_str().unwrap(), "--json"]);
    assert_eq!(
        first_keys(&restored),
        set(&["generation", "files", "bytes", "results"])
    );
    assert_eq!(
        first_keys(&restored[0]["results"]),
        set(&["source", "path", "result"])
    );
    assert_eq!(restored[0]["results"][0]["result"], "restored");
    let expired = json(
        &ws,
        &[
            "expire",
            "--dry-run",
            "--before",
            "2000-01-01T00:00:00Z",
            "--json",
        ],
    );
    assert_eq!(
        first_keys(&expired),
        set(&[
            "dry_run",
            "committed",
            "versions_expired",
            "kept_present",
            "window_start",
            "floor",
            "objects_deleted",
            "bytes_deleted",
            "generations_removed",
            "catalog_objects_deleted",
            "uploads_aborted",
            "kept_young",
            "locked",
            "archive_bytes",
        ])
    );
}

#[test]
fn a_pass_logs_its_outcome_in_the_word_json_uses() {
    let ws = Workspace::new();
    let toml = std::fs::read_to_string(ws.path("logferry.toml")).unwrap();
    ws.config(&format!("log_format = \"json\"\n{toml}"));
    let o = ws.run(&["-v", "--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let line = stderr(&o)
        .lines()
        .find(|l| l.contains("pass finished"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no pass line: {}", stderr(&o)));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["fields"]["outcome"], "ok", "{line}");
    assert!(line.contains("\"outcome\":\"ok\""), "{line}");
}
