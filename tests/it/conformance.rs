//! The behaviour of an archive pass, run against every destination backend: each case is
//! an `async fn(Backend)` and `conformance_suite!` instantiates all of them per backend.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use logferry::{
    all_versions, data_key, download_verified, fetch_generation, find_archived, load_at,
    load_latest, manifest_key, restorable_versions, restore, run_once, version_path, Compression,
    ContentHash, Error, GenerationNo, Kind, Lookup, RestoreOptions, Store, SystemClock, Window,
};

use object_store::ObjectStoreExt;

use crate::common::{sha, Backend, Env, FaultStore, Hook};
use crate::retention::{
    expiry_removes_generations_older_than_the_window, expiry_takes_out_what_the_rules_let_go,
    nothing_younger_than_the_grace_period_is_deleted,
};

macro_rules! cases {
    ($backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case($backend).await
            }
        )*
    };
}

macro_rules! conformance_suite {
    ($backend:expr) => {
        cases!($backend;
            second_pass_uploads_and_writes_nothing,
            appended_file_gets_a_new_object_and_the_old_stays,
            logrotate_rename_is_recorded_without_upload,
            copied_content_is_recorded_without_upload,
            touched_file_with_same_content_writes_nothing,
            deleted_local_file_stays_archived,
            file_changed_during_upload_is_not_archived,
            file_rewritten_in_place_during_upload_is_not_archived,
            crash_between_upload_and_commit_loses_nothing,
            commit_race_is_detected_and_not_overwritten,
            empty_state_dir_rebuilds_from_the_remote,
            wiped_destination_gets_everything_again,
            delta_generation_holds_only_the_change,
            long_history_rebuilds_through_checkpoints,
            large_file_goes_up_in_parts,
            requests_follow_the_change_not_the_history,
            a_second_state_dir_catches_up_with_the_first,
            a_damaged_local_index_is_reloaded_from_the_remote,
            foreign_object_at_a_content_key_is_left_alone,
            every_version_of_a_rotated_name_is_listed_and_restorable,
            a_file_is_found_in_three_requests_at_any_age,
            the_latest_state_loads_from_a_bounded_number_of_objects,
            a_version_committed_but_not_yet_published_is_found,
            expiry_takes_out_what_the_rules_let_go,
            expiry_removes_generations_older_than_the_window,
            nothing_younger_than_the_grace_period_is_deleted,
        );
    };
}

mod memory {
    conformance_suite!(crate::common::Backend::Memory);
}

mod local {
    conformance_suite!(crate::common::Backend::Local);
}

mod s3 {
    conformance_suite!(crate::common::Backend::S3);
}

mod azure {
    conformance_suite!(crate::common::Backend::Azure);
}

mod gcs {
    conformance_suite!(crate::common::Backend::Gcs);
}

async fn second_pass_uploads_and_writes_nothing(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"alpha\n");
    env.write("b.log", b"beta\n");
    env.write("sub/c.log", b"gamma\n");
    let first = env.pass().await;
    assert_eq!(
        (first.files_new, first.files_uploaded, first.generation),
        (3, 3, Some(1))
    );
    assert_eq!(first.bytes_uploaded, 17);
    let keys = env.keys().await;
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys.contains(&format!("data/app/sub/c.log-{}", sha(b"gamma\n"))));

    let second = env.pass().await;
    assert_eq!((second.files_uploaded, second.generation), (0, None));
    assert_eq!(
        (second.files_unchanged, second.bytes_read),
        (3, 0),
        "quick check reads nothing"
    );
    assert!(
        second.summary().starts_with("nothing new"),
        "{}",
        second.summary()
    );
    assert_eq!(
        env.keys().await,
        keys,
        "a pass with nothing new writes nothing remote"
    );
}

async fn appended_file_gets_a_new_object_and_the_old_stays(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"one\n");
    env.pass().await;
    let old_key = env.index().await.get("app", "a.log").unwrap().key.clone();
    env.append("a.log", b"two\n");
    let r = env.pass().await;
    assert_eq!(
        (r.files_changed, r.files_uploaded, r.generation),
        (1, 1, Some(2))
    );
    let index = env.index().await;
    let e = index.get("app", "a.log").unwrap();
    assert_eq!(e.sha256.to_string(), sha(b"one\ntwo\n"));
    assert_ne!(e.key, old_key);
    assert_eq!(
        &env.get(&old_key).await[..],
        b"one\n",
        "the old content stays restorable"
    );
    let then = load_at(&env.store, GenerationNo(1)).await.unwrap();
    assert_eq!(then.get("app", "a.log").unwrap().key, old_key);
    env.assert_objects_match(&index).await;
}

async fn logrotate_rename_is_recorded_without_upload(b: Backend) {
    let env = Env::new(b);
    env.write("app.log.1", b"day one\n");
    env.pass().await;
    let key1 = env
        .index()
        .await
        .get("app", "app.log.1")
        .unwrap()
        .key
        .clone();

    env.rename("app.log.1", "app.log.2");
    env.write("app.log.1", b"day two\n");
    let r = env.pass().await;
    assert_eq!((r.files_renamed, r.files_new, r.files_changed), (1, 0, 1));
    assert_eq!(r.files_uploaded, 1, "only the new day is uploaded");
    let index = env.index().await;
    assert_eq!(index.get("app", "app.log.2").unwrap().key, key1);
    assert_eq!(
        index.get("app", "app.log.2").unwrap().sha256.to_string(),
        sha(b"day one\n")
    );
    assert_eq!(
        index.get("app", "app.log.1").unwrap().sha256.to_string(),
        sha(b"day two\n")
    );
    env.assert_objects_match(&index).await;
}

async fn copied_content_is_recorded_without_upload(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"same bytes\n");
    env.pass().await;
    env.write("copy-of-a.log", b"same bytes\n");
    let r = env.pass().await;
    assert_eq!(
        (r.files_renamed, r.files_uploaded, r.generation),
        (1, 0, Some(2))
    );
    let index = env.index().await;
    assert_eq!(
        index.get("app", "copy-of-a.log").unwrap().key,
        index.get("app", "a.log").unwrap().key
    );
}

async fn touched_file_with_same_content_writes_nothing(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"x\n");
    env.pass().await;
    let keys = env.keys().await;
    env.write("a.log", b"x\n"); // rewritten: new mtime, same bytes
    let r = env.pass().await;
    assert_eq!(
        (r.files_unchanged, r.files_uploaded, r.generation),
        (1, 0, None)
    );
    assert_eq!(r.bytes_read, 2, "hashed once because the stat moved");
    assert_eq!(env.keys().await, keys);
    let again = env.pass().await;
    assert_eq!(again.bytes_read, 0, "the new stat was remembered");
}

async fn deleted_local_file_stays_archived(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"keep me\n");
    env.write("b.log", b"and me\n");
    env.pass().await;
    env.remove("a.log");
    let r = env.pass().await;
    assert_eq!((r.files_uploaded, r.generation), (0, None));
    let index = env.index().await;
    assert_eq!(index.len(), 2);
    env.assert_objects_match(&index).await;
}

async fn file_changed_during_upload_is_not_archived(b: Backend) {
    let env = Env::new(b);
    // Above the multipart threshold, so the upload looks for an existing object (the
    // hook) first.
    let mut first = vec![b'x'; env.config.multipart_threshold as usize];
    first.extend_from_slice(b"first line\n");
    env.write("growing.log", &first);
    let path = env.path("growing.log");
    let faulty = FaultStore::wrap(&env.store);
    *faulty.before_first_data_head.lock().unwrap() = Some(Hook(Box::new(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"second line\n").unwrap();
    })));
    let store: Store = Arc::<FaultStore>::clone(&faulty);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(
        (r.files_changing, r.files_uploaded, r.generation),
        (1, 0, None)
    );
    assert!(
        env.keys().await.iter().all(|k| !k.starts_with("data/")),
        "no object for half a file"
    );
    assert!(env.index().await.is_empty());

    let r = env.pass().await;
    assert_eq!((r.files_new, r.files_uploaded), (1, 1));
    let index = env.index().await;
    let mut whole = first.clone();
    whole.extend_from_slice(b"second line\n");
    assert_eq!(
        index.get("app", "growing.log").unwrap().sha256.to_string(),
        sha(&whole)
    );
    env.assert_objects_match(&index).await;
}

/// A big file is hashed, then read again to be sent without a second hash once its
/// ctime is older than the racy margin: the re-stat after the last byte is the proof. A
/// same-size rewrite in between with its mtime put back moves the ctime, so the pass
/// still refuses the bytes it sent.
async fn file_rewritten_in_place_during_upload_is_not_archived(b: Backend) {
    let env = Env::new(b);
    let first = vec![b'a'; env.config.multipart_threshold as usize + 1];
    env.write("big.log", &first);
    let path = env.path("big.log");
    // Old enough that the bytes sent are not hashed again.
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let faulty = FaultStore::wrap(&env.store);
    *faulty.before_first_data_head.lock().unwrap() = Some(Hook(Box::new(move || {
        use std::io::{Seek, Write};
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(std::io::SeekFrom::Start(7)).unwrap();
        f.write_all(b"B").unwrap();
        f.set_modified(mtime).unwrap();
    })));
    let store: Store = Arc::<FaultStore>::clone(&faulty);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(
        (r.files_changing, r.files_uploaded, r.generation),
        (1, 0, None),
        "the rewrite is seen"
    );
    assert!(
        env.keys().await.iter().all(|k| !k.starts_with("data/")),
        "no object holds bytes its key does not name"
    );
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 1);
    let index = env.index().await;
    let mut now = first;
    now[7] = b'B';
    assert_eq!(
        index.get("app", "big.log").unwrap().sha256.to_string(),
        sha(&now)
    );
    env.assert_objects_match(&index).await;
}

async fn crash_between_upload_and_commit_loses_nothing(b: Backend) {
    let env = Env::new(b);
    for i in 0..3 {
        env.write(&format!("old{i}.log"), format!("old {i}\n").as_bytes());
    }
    env.pass().await;
    for i in 0..2 {
        env.write(&format!("new{i}.log"), format!("new {i}\n").as_bytes());
    }
    let faulty = FaultStore::wrap(&env.store);
    faulty.fail_manifest_puts.store(true, Ordering::SeqCst);
    let store: Store = Arc::<FaultStore>::clone(&faulty);
    let err = env.pass_with(&store).await.unwrap_err();
    assert!(err.to_string().contains("injected crash"), "{err}");
    assert_eq!(
        faulty.data_puts.load(Ordering::SeqCst),
        2,
        "data went up before the commit failed"
    );

    let index = env.index().await;
    assert_eq!(
        (index.generation().get(), index.len()),
        (1, 3),
        "the previous generation is intact"
    );
    env.assert_objects_match(&index).await;

    let r = env.pass().await;
    assert_eq!(
        (r.files_new, r.files_adopted, r.files_uploaded),
        (2, 2, 0),
        "orphans adopted"
    );
    let index = env.index().await;
    assert_eq!((index.generation().get(), index.len()), (2, 5));
    env.assert_objects_match(&index).await;
}

async fn commit_race_is_detected_and_not_overwritten(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"a\n");
    env.pass().await;
    env.write("b.log", b"b\n");
    let theirs = bytes::Bytes::from_static(b"{\"written by\": \"another agent\"}");
    let faulty = FaultStore::wrap(&env.store);
    // Between the pass's catch-up listing and its commit: put before the first data
    // upload instead, the listing (sent ahead, answered whenever the store answers)
    // could already see it, and the pass would stop at catching up rather than at its
    // commit.
    *faulty.before_first_manifest_put_object.lock().unwrap() =
        Some((manifest_key(GenerationNo(2)), theirs.clone()));
    let store: Store = faulty;
    let err = env.pass_with(&store).await.unwrap_err();
    assert!(
        matches!(err, Error::CommitConflict { generation: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("another writer"), "{err}");
    let kept = env
        .store
        .get(&manifest_key(GenerationNo(2)))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        kept, theirs,
        "the other writer's generation is not overwritten"
    );
}

async fn empty_state_dir_rebuilds_from_the_remote(b: Backend) {
    let env = Env::new(b);
    for i in 0..3 {
        env.write(&format!("f{i}.log"), format!("{i}\n").as_bytes());
    }
    env.pass().await;
    env.write("f3.log", b"3\n");
    env.pass().await;
    let keys = env.keys().await;
    std::fs::remove_dir_all(&env.config.state_dir).unwrap();
    let r = env.pass().await;
    assert_eq!(
        (r.files_uploaded, r.generation, r.files_unchanged),
        (0, None, 4)
    );
    assert_eq!(r.current_generation, 2);
    assert_eq!(env.keys().await, keys);
}

async fn wiped_destination_gets_everything_again(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"a\n");
    env.write("b.log", b"b\n");
    env.pass().await;
    env.pass().await;
    for k in env.keys().await {
        env.store
            .delete(&object_store::path::Path::from(k))
            .await
            .unwrap();
    }
    let r = env.pass().await;
    assert_eq!((r.files_uploaded, r.generation), (2, Some(1)));
    env.assert_objects_match(&env.index().await).await;
}

async fn delta_generation_holds_only_the_change(b: Backend) {
    let env = Env::new(b);
    for i in 0..300 {
        env.write(&format!("old-{i:04}.log"), format!("line {i}\n").as_bytes());
    }
    env.pass().await;
    let full_size = env
        .store
        .head(&manifest_key(GenerationNo(1)))
        .await
        .unwrap()
        .size;
    env.write("new-1.log", b"n1\n");
    env.write("new-2.log", b"n2\n");
    let r = env.pass().await;
    assert_eq!(r.generation, Some(2));
    let g = fetch_generation(&env.store, GenerationNo(2)).await.unwrap();
    assert_eq!((g.kind, g.entries.len()), (Kind::Delta, 2));
    let delta_size = env
        .store
        .head(&manifest_key(GenerationNo(2)))
        .await
        .unwrap()
        .size;
    assert!(delta_size < 2048, "delta of 2 files is {delta_size} bytes");
    assert!(
        full_size > 50 * delta_size,
        "full {full_size} vs delta {delta_size}"
    );
    assert_eq!(env.index().await.len(), 302);
}

async fn long_history_rebuilds_through_checkpoints(b: Backend) {
    let env = Env::new(b);
    for i in 0..25 {
        env.write(&format!("f{i:02}.log"), format!("{i}\n").as_bytes());
        let r = env.pass().await;
        assert_eq!(r.generation, Some(i + 1));
    }
    for g in [1u64, 13, 25] {
        let at = load_at(&env.store, GenerationNo(g)).await.unwrap();
        assert_eq!(
            at.len() as u64,
            g,
            "generation {g} holds the files archived by then"
        );
    }
    std::fs::remove_dir_all(&env.config.state_dir).unwrap();
    let r = env.pass().await;
    assert_eq!(
        (r.files_unchanged, r.files_uploaded, r.current_generation),
        (25, 0, 25)
    );
}

async fn large_file_goes_up_in_parts(b: Backend) {
    let env = Env::new(b);
    // Above the multipart threshold: parts of part_size.
    let size = env.config.multipart_threshold as usize + 12345;
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    env.write("big.log", &content);
    let r = env.pass().await;
    assert_eq!(
        (r.files_uploaded, r.bytes_uploaded),
        (1, content.len() as u64)
    );
    let index = env.index().await;
    assert_eq!(
        index.get("app", "big.log").unwrap().sha256.to_string(),
        sha(&content)
    );
    env.assert_objects_match(&index).await;
}

async fn requests_follow_the_change_not_the_history(b: Backend) {
    let env = Env::new(b);
    for i in 0..200 {
        env.write(&format!("old-{i:03}.log"), format!("{i}\n").as_bytes());
    }
    env.pass().await;

    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(r.generation, None);
    let (reqs, writes) = (
        counting.requests.load(Ordering::SeqCst),
        counting.writes.load(Ordering::SeqCst),
    );
    assert_eq!(writes, 0, "a pass with nothing new writes nothing remote");
    assert!(
        reqs <= 2,
        "no-op pass made {reqs} requests over a 200-file archive"
    );

    env.write("new-1.log", b"n1\n");
    env.write("new-2.log", b"n2\n");
    if matches!(b, Backend::Gcs) {
        // GCS's mark is rewritten at most once a second: let this pass write it.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!((r.files_new, r.generation), (2, Some(2)), "{r:?}");
    let (reqs, writes) = (
        counting.requests.load(Ordering::SeqCst),
        counting.writes.load(Ordering::SeqCst),
    );
    // Per new file a HEAD, a PUT and its version record; per pass a HEAD, a LIST, the
    // commit and the published mark.
    assert_eq!(
        writes,
        2 + 2 + 1 + 1,
        "two objects, two records, a generation, a mark"
    );
    assert!(reqs <= 2 * 3 + 4, "a 2-file pass made {reqs} requests");
}

async fn foreign_object_at_a_content_key_is_left_alone(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"real content\n");
    let key = data_key(
        "app",
        "a.log",
        &ContentHash::of(b"real content\n"),
        Compression::None,
    );
    env.store
        .put(&key, bytes::Bytes::from_static(b"junk").into())
        .await
        .unwrap();
    let r = env.pass().await;
    assert_eq!(
        (r.files_failed, r.files_uploaded, r.generation),
        (1, 0, None)
    );
    assert!(
        r.failures[0].error.contains("left untouched"),
        "{:?}",
        r.failures
    );
    let kept = env.store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(&kept[..], b"junk", "never overwritten");
}

async fn a_second_state_dir_catches_up_with_the_first(b: Backend) {
    // Two state dirs taking turns on one archive (a host replaced, or a failover):
    // each catches up with the generations the other committed.
    let env = Env::new(b);
    let mut other = env.config.clone();
    other.state_dir = env.dir.path().join("state-b");
    env.write("a.log", b"a\n");
    env.pass().await;
    let r = run_once(&other, &env.store, &SystemClock).await.unwrap();
    assert_eq!((r.generation, r.current_generation), (None, 1));
    env.write("b.log", b"b\n");
    assert_eq!(env.pass().await.generation, Some(2));
    env.write("c.log", b"c\n");
    let r = run_once(&other, &env.store, &SystemClock).await.unwrap();
    assert_eq!((r.files_new, r.generation), (1, Some(3)), "{r:?}");
    let r = env.pass().await;
    assert_eq!((r.files_uploaded, r.current_generation), (0, 3));
    assert_eq!(env.index().await.len(), 3);
}

async fn a_damaged_local_index_is_reloaded_from_the_remote(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"a\n");
    env.pass().await;
    env.write("b.log", b"b\n");
    env.pass().await;
    let db = env.config.state_dir.join("catalog.db");
    for p in ["catalog.db-wal", "catalog.db-shm"] {
        let _ = std::fs::remove_file(env.config.state_dir.join(p));
    }
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    env.write("c.log", b"c\n");
    let r = env.pass().await;
    assert_eq!((r.files_new, r.generation), (1, Some(3)));
    assert_eq!(env.index().await.len(), 3);
}

async fn every_version_of_a_rotated_name_is_listed_and_restorable(b: Backend) {
    let env = Env::new(b);
    for batch in ["batch 1\n", "batch 2\n", "batch 3\n"] {
        env.write("app.log.1", batch.as_bytes());
        env.pass().await;
    }
    let versions = all_versions(&env.store).await.unwrap().expect("an archive");
    let bodies: Vec<String> = versions.iter().map(|e| e.sha256.to_string()).collect();
    assert_eq!(
        bodies,
        ["batch 1\n", "batch 2\n", "batch 3\n"].map(|b| crate::common::sha(b.as_bytes())),
        "oldest first, each once"
    );
    let to = env.dir.path().join("versions");
    let view = restorable_versions(&versions, &Window::default());
    let report = restore(&env.store, &view, &RestoreOptions::new(&to), &|_| {}).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    let read = |rel: &str| std::fs::read_to_string(to.join("app").join(rel)).unwrap();
    assert_eq!(read("app.log.1"), "batch 3\n");
    assert_eq!(read(&version_path(&versions[0])), "batch 1\n");
    assert_eq!(read(&version_path(&versions[1])), "batch 2\n");
}

/// An archive of `n` generations, one WAL-like segment each (`seg-001` …), and a
/// rotated name (`app.log.1`) that takes new content every 10th.
async fn aged(env: &Env, n: usize) {
    for i in 1..=n {
        env.write(&format!("seg-{i:03}"), format!("segment {i}\n").as_bytes());
        if i % 10 == 0 {
            env.write("app.log.1", format!("rotated at {i}\n").as_bytes());
        }
        let r = env.pass().await;
        assert_eq!(r.generation, Some(i as u64));
    }
}

/// Counts the requests of finding `name` and downloading it, as `fetch` does.
async fn fetch_counted(env: &Env, name: &str) -> (Option<Vec<u8>>, usize) {
    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let found = match find_archived(&store, name, None).await.unwrap() {
        Lookup::Found(e) => {
            let dir = tempfile::tempdir().unwrap();
            let to = dir.path().join("out");
            download_verified(&store, &e, &to, &|_| {}).await.unwrap();
            Some(std::fs::read(&to).unwrap())
        }
        Lookup::NotArchived(g) => {
            assert_eq!(g.get(), 40, "as of the newest generation");
            None
        }
        other => panic!("{name}: {other:?}"),
    };
    (found, counting.requests.load(Ordering::SeqCst))
}

async fn a_file_is_found_in_three_requests_at_any_age(b: Backend) {
    let env = Env::new(b);
    aged(&env, 40).await;
    for (name, content) in [
        ("seg-001", "segment 1\n"),
        ("seg-023", "segment 23\n"),
        ("seg-040", "segment 40\n"),
        ("app.log.1", "rotated at 40\n"),
    ] {
        let (got, requests) = fetch_counted(&env, name).await;
        assert_eq!(got.as_deref(), Some(content.as_bytes()), "{name}");
        assert!(requests <= 3, "fetch {name} made {requests} requests");
    }
    let (got, requests) = fetch_counted(&env, "seg-041").await;
    assert_eq!(got, None, "never archived");
    // On GCS the published mark is rewritten at most once a second, so after passes this
    // quick it trails by up to 7 generations, each one read more.
    let allowed = if matches!(b, Backend::Gcs) { 3 + 7 } else { 3 };
    assert!(
        requests <= allowed,
        "a name never archived took {requests} requests"
    );
}

async fn the_latest_state_loads_from_a_bounded_number_of_objects(b: Backend) {
    let env = Env::new(b);
    aged(&env, 70).await;
    let newest = fetch_generation(&env.store, GenerationNo(70))
        .await
        .unwrap();
    assert_eq!(newest.kind, Kind::Delta);
    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let index = load_latest(&store).await.unwrap();
    assert_eq!(index.len(), 71, "70 segments and app.log.1");
    assert_eq!(
        index.get("app", "app.log.1").map(|e| e.size),
        Some("rotated at 70\n".len() as u64)
    );
    env.assert_objects_match(&index).await;
    // 69 deltas after the checkpoint read as 8 folds and 5 generations, not 69 objects:
    // the mark and one listing, the head, the checkpoint and the runs.
    let requests = counting.requests.load(Ordering::SeqCst);
    assert!(
        requests <= 2 + 2 + newest.runs.len() && newest.runs.len() <= 13,
        "{requests} requests, {} runs",
        newest.runs.len()
    );
    assert!(
        newest
            .runs
            .iter()
            .any(|r| r.level > 0 && r.parts.len() == 1),
        "folds, each in one part"
    );
    assert!(env
        .catalog_keys()
        .await
        .iter()
        .any(|k| k.starts_with("catalog/parts/")));
}

async fn a_version_committed_but_not_yet_published_is_found(b: Backend) {
    let env = Env::new(b);
    aged(&env, 2).await;
    // The destination stops taking the catalog's objects right after commit 3.
    env.write("seg-003", b"segment 3\n");
    let faulty = FaultStore::wrap(&env.store);
    *faulty.failing_puts_under.lock().unwrap() = Some("catalog/".into());
    let store: Store = Arc::<FaultStore>::clone(&faulty);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(
        r.generation,
        Some(3),
        "the commit stands without its records"
    );
    let Lookup::Found(e) = find_archived(&env.store, "seg-003", None).await.unwrap() else {
        panic!("seg-003 is committed");
    };
    assert_eq!(e.generation, GenerationNo(3));
    // The next pass writes what was missing.
    env.write("seg-004", b"segment 4\n");
    env.pass().await;
    let (got, requests) = fetch_counted_at(&env, "seg-003").await;
    assert_eq!(got.as_deref(), Some(&b"segment 3\n"[..]));
    assert!(requests <= 3, "{requests}");
}

async fn fetch_counted_at(env: &Env, name: &str) -> (Option<Vec<u8>>, usize) {
    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let Lookup::Found(e) = find_archived(&store, name, None).await.unwrap() else {
        return (None, counting.requests.load(Ordering::SeqCst));
    };
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("out");
    download_verified(&store, &e, &to, &|_| {}).await.unwrap();
    (
        Some(std::fs::read(&to).unwrap()),
        counting.requests.load(Ordering::SeqCst),
    )
}
