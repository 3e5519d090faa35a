//! One test per fixed bug in what a pass says about itself once its generation is
//! committed: the exit code, the summary, the report in the generation and in `status`.
//! An unwritable state file is a directory in its place (tests run as root, so
//! permissions would not stop the write).

use crate::cli::{code, stderr, stdout, Workspace};

const CONFIG: &str = "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";

fn generation_exists(ws: &Workspace, g: u64) -> bool {
    ws.path(&format!("mirror/manifests/{g:020}.json")).exists()
}

/// A pass whose generation was committed but whose `seen.json` could not be written
/// used to exit 3 with no summary, though the files were archived. It now exits 0 with
/// a warning, and the next pass re-reads those files (nothing uploaded, nothing
/// committed) instead of failing again.
// Pins: an unwritable seen.json turned a committed pass into exit 3 with no summary.
#[test]
fn a_committed_pass_whose_seen_cache_cannot_be_written_exits_0_with_a_warning() {
    let ws = Workspace::new();
    ws.config(CONFIG);
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    std::fs::remove_file(ws.path("state/seen.bin")).unwrap();
    std::fs::create_dir_all(ws.path("state/seen.bin/blocker")).unwrap();
    std::fs::write(ws.path("logs/b.log.1"), b"three\n").unwrap();

    let second = ws.run(&["--run-once"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("archived 1 file"),
        "{}",
        stdout(&second)
    );
    assert!(generation_exists(&ws, 2));
    assert!(
        stderr(&second).contains("seen.bin"),
        "the warning names the file: {}",
        stderr(&second)
    );

    let third = ws.run(&["--run-once"]);
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    assert!(
        stdout(&third).starts_with("nothing new: 3 files unchanged"),
        "{}",
        stdout(&third)
    );
    assert!(!generation_exists(&ws, 3));
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&ws.run(&["status", "--json"]))).unwrap();
    assert_eq!(status[0]["files_uploaded"], 0);
    assert_eq!(
        status[0]["bytes_read"], 14,
        "re-read, as seen.bin is unwritable"
    );
}

/// The same with `status.json` unwritable: the pass exits 0, prints its summary and
/// warns, and the metrics textfile shows this pass, not the last one that was recorded.
// Pins: an unwritable status.json failed a committed pass and left stale metrics.
#[test]
fn a_committed_pass_whose_status_file_cannot_be_written_exits_0_and_fills_the_textfile() {
    let ws = Workspace::new();
    ws.config(&format!(
        "metrics_textfile = \"metrics/logferry.prom\"\n{CONFIG}"
    ));
    std::fs::create_dir_all(ws.path("metrics")).unwrap();
    std::fs::create_dir_all(ws.path("state/status.json/blocker")).unwrap();

    let first = ws.run(&["--run-once"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(stdout(&first).starts_with("archived 2 files"));
    assert!(stderr(&first).contains("status"), "{}", stderr(&first));
    let text = std::fs::read_to_string(ws.path("metrics/logferry.prom")).unwrap();
    assert!(
        text.contains("logferry_files_uploaded_total{archive=\"main\"} 2"),
        "{text}"
    );
}

/// A metrics textfile that could not be written turned a committed pass into exit 3.
// Pins: an unwritable metrics textfile turned a committed pass into exit 3.
#[test]
fn a_committed_pass_whose_metrics_textfile_cannot_be_written_exits_0_with_a_warning() {
    let ws = Workspace::new();
    ws.config(&format!(
        "metrics_textfile = \"metrics/logferry.prom\"\n{CONFIG}"
    ));
    std::fs::create_dir_all(ws.path("metrics/logferry.prom/blocker")).unwrap();

    let first = ws.run(&["--run-once"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(stdout(&first).starts_with("archived 2 files"));
    assert!(
        stderr(&first).contains("logferry.prom"),
        "{}",
        stderr(&first)
    );
    assert!(generation_exists(&ws, 1));
}

/// The local manifest cache broken (it was unwritable: a full state disk): every pass
/// used to fail after its commit. The cache is now a database; one that is no longer
/// a database (overwritten, truncated) is rebuilt from the destination, each pass
/// commits and exits 0, and a pass with nothing new then writes nothing remote.
// Pins: with the local manifest cache unwritable, every pass failed after its commit.
#[test]
fn passes_with_a_broken_local_index_commit_and_catch_up_from_the_destination() {
    let ws = Workspace::new();
    ws.config(CONFIG);
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let broken = || {
        for p in ["state/catalog.db-wal", "state/catalog.db-shm"] {
            let _ = std::fs::remove_file(ws.path(p));
        }
        std::fs::write(ws.path("state/catalog.db"), vec![0x5a; 8192]).unwrap();
    };
    broken();
    std::fs::write(ws.path("logs/b.log.1"), b"three\n").unwrap();
    let second = ws.run(&["--run-once"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("archived 1 file"),
        "{}",
        stdout(&second)
    );
    assert!(generation_exists(&ws, 2));

    broken();
    std::fs::write(ws.path("logs/b.log.2"), b"four\n").unwrap();
    let third = ws.run(&["--run-once"]);
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    assert!(
        stdout(&third).starts_with("archived 1 file") && stdout(&third).contains("generation 3"),
        "rebuilt with generation 2 from the destination: {}",
        stdout(&third)
    );
    for _ in 0..2 {
        let again = ws.run(&["--run-once"]);
        assert_eq!(code(&again), 0, "{}", stderr(&again));
        assert!(
            stdout(&again).starts_with("nothing new"),
            "{}",
            stdout(&again)
        );
    }
    assert!(!generation_exists(&ws, 4));
    let ls = stdout(&ws.run(&["ls"]));
    for f in ["a.log.1", "a.log.2", "b.log.1", "b.log.2"] {
        assert!(ls.contains(f), "{f} archived: {ls}");
    }
}

/// The report embedded in a committed generation said `files_pending` was every file
/// the pass meant to record, and had no `peak_rss_bytes`, while `status` said the pass
/// left only its failures pending. Both now state the same figures; only the timings
/// differ, the embedded ones being taken at the commit.
// Pins: a generation's embedded report disagreed with `status` on files_pending, lacked peak RSS.
#[test]
fn the_report_in_a_generation_agrees_with_status() {
    let ws = Workspace::new();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\nnames = \"immutable\"\n",
    );
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    // One name conflict (left pending) and one new file (recorded).
    std::fs::write(ws.path("logs/a.log.1"), b"other content\n").unwrap();
    std::fs::write(ws.path("logs/b.log.1"), b"three\n").unwrap();
    let second = ws.run(&["--run-once"]);
    assert_eq!(code(&second), 1, "{}", stderr(&second));

    let status: serde_json::Value =
        serde_json::from_str(&stdout(&ws.run(&["status", "--json"]))).unwrap();
    let mut status = status[0].clone();
    let generations: serde_json::Value =
        serde_json::from_str(&stdout(&ws.run(&["generations", "--json"]))).unwrap();
    let mut embedded = generations
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["generation"] == 2)
        .expect("generation 2 listed")["report"]
        .clone();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.path(&format!("mirror/manifests/{:020}.json", 2))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["report"], embedded);

    assert_eq!(status["files_pending"], 1, "{status}");
    let peak_embedded = embedded["peak_rss_bytes"].as_u64().expect("peak rss known");
    let peak_status = status["peak_rss_bytes"].as_u64().expect("peak rss known");
    assert!(peak_embedded > 0 && peak_embedded <= peak_status);
    for timing in ["duration_ms", "peak_rss_bytes"] {
        status.as_object_mut().unwrap().remove(timing);
        embedded.as_object_mut().unwrap().remove(timing);
    }
    // The disk guard measures the host after the commit, for the status history only.
    assert!(embedded.get("sources").is_none(), "{embedded}");
    assert_eq!(status["sources"][0]["pending_bytes"], 14, "{status}");
    status.as_object_mut().unwrap().remove("sources");
    assert_eq!(embedded, status);
}
