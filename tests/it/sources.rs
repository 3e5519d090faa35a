//! Which files a source picks up: globs, symlinks, age, the newest file, bad names.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use logferry::{hash_file, run_once, Clock, DigestError, FileStat, Index, Outcome};

use crate::common::{Backend, Env};

fn archived(env_index: &Index) -> Vec<String> {
    env_index.entries().map(|e| e.path.clone()).collect()
}

#[tokio::test]
async fn exclude_without_slash_matches_names_at_any_depth() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\nexclude = [\"*.gz\"]\n",
    );
    env.write("a.log", b"a");
    env.write("a.log.gz", b"z");
    env.write("deep/er/b.gz", b"z");
    env.write("deep/er/b.log", b"b");
    env.pass().await;
    assert_eq!(archived(&env.index().await), ["a.log", "deep/er/b.log"]);
}

#[tokio::test]
async fn exclude_with_slash_matches_the_relative_path() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\nexclude = [\"tmp/*.log\", \"/top.log\"]\n",
    );
    env.write("top.log", b"1");
    env.write("sub/top.log", b"2");
    env.write("tmp/x.log", b"3");
    env.write("tmp/deeper/x.log", b"4");
    env.pass().await;
    assert_eq!(
        archived(&env.index().await),
        ["sub/top.log", "tmp/deeper/x.log"]
    );
}

#[tokio::test]
async fn include_limits_and_double_star_crosses_directories() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\ninclude = [\"*.log.[0-9]\", \"pg/**/0000*\"]\n",
    );
    env.write("app.log", b"live");
    env.write("app.log.1", b"closed");
    env.write("pg/wal/000000010000000000000001", b"wal");
    env.write("pg/other", b"no");
    env.pass().await;
    assert_eq!(
        archived(&env.index().await),
        ["app.log.1", "pg/wal/000000010000000000000001"]
    );
}

#[tokio::test]
async fn symlinks_are_not_followed() {
    let env = Env::new(Backend::Memory);
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("secret.txt"), b"not a log").unwrap();
    std::fs::write(outside.join("dir/inner.log"), b"not mine").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), env.path("link.log")).unwrap();
    std::os::unix::fs::symlink(outside.join("dir"), env.path("linkdir")).unwrap();
    env.write("real.log", b"mine");
    let r = env.pass().await;
    assert_eq!(r.files_scanned, 1);
    assert_eq!(archived(&env.index().await), ["real.log"]);
}

#[tokio::test]
async fn young_files_wait_for_min_age() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"1h\"\n",
    );
    env.write("old.log", b"old"); // a day old
    std::fs::write(env.path("fresh.log"), b"fresh").unwrap(); // now
    let r = env.pass().await;
    assert_eq!((r.files_scanned, r.files_waiting), (1, 1));
    assert_eq!(archived(&env.index().await), ["old.log"]);
}

/// The real clock, moved by a fixed offset.
struct Shifted(Duration);

impl Clock for Shifted {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.0
    }
}

#[tokio::test]
async fn a_file_with_a_future_mtime_is_archived_once_its_stat_held_for_min_age() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"10m\"\n",
    );
    let skewed = env.path("clock-skew.log");
    let set_mtime = |ahead: Duration| {
        let f = std::fs::File::options().write(true).open(&skewed).unwrap();
        f.set_modified(SystemTime::now() + ahead).unwrap();
    };
    std::fs::write(&skewed, b"x").unwrap();
    set_mtime(Duration::from_secs(3600));
    let pass_at = |minutes: u64| {
        let clock = Shifted(Duration::from_secs(minutes * 60));
        let config = env.config.clone();
        let store = Arc::clone(&env.store);
        async move { run_once(&config, &store, &clock).await.unwrap() }
    };
    let r = pass_at(0).await;
    assert_eq!((r.files_scanned, r.files_waiting, r.files_ahead), (0, 1, 1));
    let r = pass_at(5).await;
    assert_eq!(
        (r.files_scanned, r.files_waiting),
        (0, 1),
        "quiet for 5 of 10 minutes"
    );

    // A change restarts the wait, even while the mtime is still ahead.
    std::fs::write(&skewed, b"xy").unwrap();
    set_mtime(Duration::from_secs(3600));
    let r = pass_at(11).await;
    assert_eq!(
        (r.files_scanned, r.files_waiting),
        (0, 1),
        "changed at minute 11"
    );
    let r = pass_at(22).await;
    assert_eq!(
        (r.files_scanned, r.files_uploaded),
        (1, 1),
        "quiet since minute 11"
    );
    assert_eq!(archived(&env.index().await), ["clock-skew.log"]);

    // A clock stepped back behind the first sighting starts the wait again.
    std::fs::write(env.path("later.log"), b"z").unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(env.path("later.log"))
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(f);
    let r = pass_at(30).await;
    assert_eq!((r.files_waiting, r.files_uploaded), (1, 0));
    let r = pass_at(15).await;
    assert_eq!(r.files_uploaded, 0, "the clock went back 15 minutes");
    let r = pass_at(26).await;
    assert_eq!(
        r.files_uploaded, 1,
        "quiet for 11 minutes since the step back"
    );
}

#[tokio::test]
async fn not_newest_holds_back_the_highest_in_natural_order() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"binlog\"\npath = \"logs\"\nclosed_by = \"not-newest\"\ninclude = [\"binlog.[0-9]*\"]\n",
    );
    env.write("binlog.9", b"9");
    env.write("binlog.10", b"10"); // higher in natural order, though "binlog.10" < "binlog.9" as text
    env.write("binlog.index", b"not a log");
    std::fs::write(env.path("binlog.8"), b"8, just written: no age needed").unwrap();
    let r = env.pass().await;
    assert_eq!((r.files_scanned, r.files_waiting), (2, 1));
    assert_eq!(archived(&env.index().await), ["binlog.8", "binlog.9"]);
    env.write("binlog.11", b"11");
    env.pass().await;
    assert_eq!(
        archived(&env.index().await),
        ["binlog.10", "binlog.8", "binlog.9"]
    );
}

#[tokio::test]
async fn ready_marker_closes_only_marked_files_and_never_recycled_segments() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"pg\"\npath = \"logs\"\nclosed_by = \"ready-marker\"\n",
    );
    std::fs::create_dir_all(env.path("archive_status")).unwrap();
    let seg = |n: u32| format!("0000000100000000000000{n:02X}");
    for n in 1..=4 {
        std::fs::write(env.path(&seg(n)), format!("segment {n}")).unwrap();
    }
    std::fs::write(env.path(&format!("archive_status/{}.ready", seg(1))), b"").unwrap();
    std::fs::write(env.path(&format!("archive_status/{}.done", seg(2))), b"").unwrap();
    // 3: being written (no marker); 4: a recycled segment under a future name (no marker).
    let r = env.pass().await;
    assert_eq!((r.files_scanned, r.files_waiting), (2, 2));
    assert_eq!(archived(&env.index().await), [seg(1), seg(2)]);
    std::fs::write(env.path(&format!("archive_status/{}.ready", seg(3))), b"").unwrap();
    env.pass().await;
    assert_eq!(archived(&env.index().await), [seg(1), seg(2), seg(3)]);
    assert!(env
        .index()
        .await
        .entries()
        .all(|e| !e.path.starts_with("archive_status")));
}

#[tokio::test]
async fn missing_source_dir_is_a_counted_failure_not_a_crash() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"gone\"\npath = \"nowhere\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
    );
    env.write("a.log", b"a");
    let r = env.pass().await;
    assert_eq!(
        (r.outcome, r.files_failed, r.files_uploaded),
        (Outcome::Partial, 1, 1)
    );
    assert!(
        r.failures[0].error.contains("does not exist"),
        "{:?}",
        r.failures
    );
}

#[tokio::test]
async fn non_utf8_name_is_a_counted_failure_and_the_rest_is_archived() {
    let env = Env::new(Backend::Memory);
    let bad = std::ffi::OsStr::from_bytes(b"bad-\xff.log");
    std::fs::write(env.logs().join(bad), b"x").unwrap();
    env.write("good.log", b"ok");
    let r = env.pass().await;
    assert_eq!((r.files_failed, r.files_uploaded), (1, 1));
    assert!(r.failures[0].error.contains("UTF-8"));
}

#[test]
fn digest_refuses_a_file_that_changed_since_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    std::fs::write(&p, b"first").unwrap();
    let stat = FileStat::of_path(&p).unwrap();
    assert!(hash_file(&p, &stat).is_ok());
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .write_all(b" more")
        .unwrap();
    let err = hash_file(&p, &stat).unwrap_err();
    assert!(matches!(err, DigestError::Changed { .. }), "{err}");
}

#[tokio::test]
async fn a_source_containing_the_state_dir_and_mirror_does_not_archive_them() {
    for backend in [Backend::Local, Backend::Memory] {
        let env = Env::with_sources(
            backend,
            "[[sources]]\nname = \"all\"\npath = \".\"\nmin_age = \"0s\"\n",
        );
        env.write("app.log.1", b"log");
        env.pass().await;
        env.pass().await;
        let paths = archived(&env.index().await);
        assert_eq!(paths, ["logs/app.log.1"], "{backend:?}");
    }
}

#[tokio::test]
async fn a_source_path_that_is_a_file_is_a_counted_failure() {
    let env = Env::with_sources(
        Backend::Memory,
        "[[sources]]\nname = \"f\"\npath = \"logs/one.log\"\n",
    );
    env.write("one.log", b"x");
    let r = env.pass().await;
    assert_eq!(r.files_failed, 1);
    assert!(
        r.failures[0].error.contains("not a directory"),
        "{:?}",
        r.failures
    );
}
