//! `delete_after_archive`: a local file goes only once its exact content has been in a
//! committed generation for the source's duration, measured on an injected clock offset
//! from real now (the files' mtimes are real); and the disk guard's per-source figures.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use logferry::{read_status, run_once, Clock, Metrics, Result, RunReport, Store};

use crate::common::{Backend, Env, FaultStore};

const DAY: u64 = 86_400;

/// The real clock, moved by a fixed offset.
struct Shifted(Duration);

impl Clock for Shifted {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.0
    }
}

fn env(extra: &str) -> Env {
    Env::with_sources(
        Backend::Local,
        &format!("[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n{extra}"),
    )
}

/// A pass whose clock is `secs` after real now.
async fn pass_at(env: &Env, store: &Store, secs: u64) -> Result<RunReport> {
    run_once(&env.config, store, &Shifted(Duration::from_secs(secs))).await
}

async fn ok_at(env: &Env, secs: u64) -> RunReport {
    pass_at(env, &env.store, secs).await.expect("pass runs")
}

#[tokio::test]
async fn a_file_is_deleted_only_once_archived_for_delete_after_archive() {
    let env = env("delete_after_archive = \"2days\"\n");
    env.write("a.log", b"alpha\n");
    env.write("b.log", b"bravo!\n");
    let r = ok_at(&env, 0).await;
    assert_eq!((r.files_new, r.deleted_local), (2, 0), "archived just now");
    let r = ok_at(&env, DAY).await;
    assert_eq!(r.deleted_local, 0, "a day is not two");
    assert!(env.path("a.log").exists() && env.path("b.log").exists());

    let r = ok_at(&env, 2 * DAY + 60).await;
    assert_eq!((r.deleted_local, r.deleted_local_bytes), (2, 13), "{r:?}");
    assert!(
        r.generation.is_none(),
        "a pass that committed nothing cleans up"
    );
    assert!(!env.path("a.log").exists() && !env.path("b.log").exists());
    assert!(
        r.summary().contains("deleted 2 local files"),
        "{}",
        r.summary()
    );
    let archived: Vec<String> = env
        .index()
        .await
        .entries()
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(archived, ["a.log", "b.log"], "the archive keeps them");

    let status = read_status(&env.config.state_dir).unwrap();
    assert_eq!(status[0].deleted_local, 2, "status shows the deletions");
    let metrics = Metrics::default();
    for report in status.iter().rev() {
        metrics.record("main", report);
    }
    let text = metrics.render(SystemTime::now());
    assert!(
        text.contains("logferry_local_files_deleted_total{archive=\"main\"} 2"),
        "{text}"
    );
    assert!(text.contains("logferry_local_bytes_deleted_total{archive=\"main\"} 13"));

    let r = ok_at(&env, 3 * DAY).await;
    assert_eq!(
        (r.files_scanned, r.deleted_local, r.outcome.as_str()),
        (0, 0, "ok")
    );
}

#[tokio::test]
async fn a_source_without_delete_after_archive_keeps_its_files() {
    let env = env("");
    env.write("a.log", b"alpha\n");
    ok_at(&env, 0).await;
    let r = ok_at(&env, 365 * DAY).await;
    assert_eq!((r.files_unchanged, r.deleted_local), (1, 0));
    assert!(env.path("a.log").exists());
}

#[tokio::test]
async fn a_file_rewritten_after_archiving_waits_for_its_new_content() {
    let env = env("delete_after_archive = \"1day\"\n");
    env.write("a.log", b"first\n");
    env.write("b.log", b"same size\n");
    ok_at(&env, 0).await;
    env.append("a.log", b"more\n");
    // Same size, other bytes, mtime put back: the ctime tells it apart.
    let mtime = env.mtime_of("b.log");
    env.write_with_mtime("b.log", b"SAME SIZE\n", mtime);
    let r = ok_at(&env, 2 * DAY).await;
    assert_eq!((r.files_changed, r.deleted_local), (2, 0), "{r:?}");
    let r = ok_at(&env, 2 * DAY + 3600).await;
    assert_eq!(r.deleted_local, 0, "the new content is an hour old");
    assert!(env.path("a.log").exists() && env.path("b.log").exists());
    let r = ok_at(&env, 3 * DAY + 60).await;
    assert_eq!(r.deleted_local, 2);
    assert!(!env.path("a.log").exists() && !env.path("b.log").exists());
}

#[tokio::test]
async fn the_open_file_of_a_not_newest_source_is_never_deleted() {
    let env = Env::with_sources(
        Backend::Local,
        "[[sources]]\nname = \"binlog\"\npath = \"logs\"\nclosed_by = \"not-newest\"\ndelete_after_archive = \"1h\"\n",
    );
    env.write("binlog.000001", b"one\n");
    env.write("binlog.000002", b"two\n");
    env.write("binlog.000010", b"ten, open\n");
    ok_at(&env, 0).await;
    let r = ok_at(&env, DAY).await;
    assert_eq!(r.deleted_local, 2, "{r:?}");
    assert!(!env.path("binlog.000001").exists() && !env.path("binlog.000002").exists());
    for days in [2, 30] {
        let r = ok_at(&env, days * DAY).await;
        assert_eq!((r.deleted_local, r.files_waiting), (0, 1));
        assert!(env.path("binlog.000010").exists(), "the newest file stays");
    }
}

#[tokio::test]
async fn a_file_whose_commit_failed_is_not_deleted_and_counts_as_pending() {
    let env = env("delete_after_archive = \"1day\"\n");
    env.write("old.log", b"archived long ago\n");
    ok_at(&env, 0).await;
    env.write("new.log", b"not yet\n");
    let faulty = FaultStore::wrap(&env.store);
    faulty.fail_manifest_puts.store(true, Ordering::SeqCst);
    let store: Store = Arc::<FaultStore>::clone(&faulty);
    assert!(pass_at(&env, &store, 5 * DAY).await.is_err());
    assert!(
        env.path("old.log").exists(),
        "a failed pass deletes nothing"
    );
    assert!(env.path("new.log").exists());
    let failed = &read_status(&env.config.state_dir).unwrap()[0];
    let disk = &failed.sources[0];
    assert_eq!(
        (disk.source.as_str(), disk.pending_files, disk.pending_bytes),
        ("app", 1, 8)
    );
    assert!(disk.fs_free_bytes.is_some() && disk.fs_size_bytes.is_some());

    // The commit succeeds: the old file goes, the new one waits for its own day.
    let r = ok_at(&env, 5 * DAY).await;
    assert_eq!((r.files_new, r.deleted_local), (1, 1), "{r:?}");
    assert!(!env.path("old.log").exists() && env.path("new.log").exists());
    assert_eq!(r.sources[0].pending_bytes, 0);
    let r = ok_at(&env, 6 * DAY + 60).await;
    assert_eq!(r.deleted_local, 1);
    assert!(!env.path("new.log").exists());
}

#[tokio::test]
async fn the_disk_guard_shows_each_source_in_the_metrics() {
    let env = env("");
    env.write("a.log", b"alpha\n");
    let r = ok_at(&env, 0).await;
    let metrics = Metrics::default();
    metrics.record("main", &r);
    let text = metrics.render(SystemTime::now());
    for name in [
        "logferry_source_pending_bytes{archive=\"main\",source=\"app\"} 0",
        "logferry_source_fs_free_bytes{archive=\"main\",source=\"app\"} ",
        "logferry_source_fs_size_bytes{archive=\"main\",source=\"app\"} ",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}
