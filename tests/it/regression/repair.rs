//! Issue 11, point 3: damage in an archive is seen, named and repaired — missing and
//! damaged manifest generations, missing and corrupt objects, orphans and leftovers.
//! Each case runs on the local mirror and on SeaweedFS (S3), through the built binary;
//! multipart uploads abandoned on S3 are swept by a later pass.

use std::path::PathBuf;
use std::time::Duration;

use logferry::{run_once, s3_builder, Clock};
use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::common::{destination_toml, logferry, text, Backend, Env};
use crate::remote::{pending_multipart_uploads, s3_env_with_prefix};

const SOURCES: &str = "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::common::Backend::Local).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::common::Backend::S3).await
                }
            )*
        }
    };
}

cases!(
    verify_names_a_missing_generation_and_calls_its_objects_no_orphans,
    verify_with_only_orphans_exits_0_and_names_the_prune,
    verify_names_a_damaged_generation_and_the_repair,
    a_pass_stops_on_a_damaged_generation_it_builds_on,
    a_pass_stops_on_a_replaced_head_generation,
    repair_commits_a_checkpoint_and_readers_skip_the_damaged_generation,
    repair_without_the_good_copy_names_what_to_do,
    repair_reuploads_missing_and_corrupt_objects_from_local_files,
    a_rebuilt_pass_reuploads_missing_objects_of_files_it_holds,
    prune_orphans_deletes_only_orphans_older_than_the_grace,
    a_pass_removes_temp_files_of_dead_processes_from_the_state_dir,
    a_pass_accepts_generations_copied_with_their_content,
    a_deleted_head_generation_stops_the_pass_and_repair_recommits_it,
    a_lost_fold_is_named_by_verify_and_repaired,
);

/// A workspace and a config file for the binary describing the same archive.
fn workspace(b: Backend) -> (Env, PathBuf) {
    let toml = format!("state_dir = \"state\"\n{}{SOURCES}", destination_toml(b));
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    let cfg = env.dir.path().join("logferry.toml");
    std::fs::write(&cfg, toml).unwrap();
    (env, cfg)
}

fn manifest(g: u64) -> Path {
    logferry::manifest_key(logferry::GenerationNo(g))
}

/// Three passes: a full generation 1 (a.log), deltas 2 (b.log) and 3 (c.log).
async fn three_generations(env: &Env) {
    env.write("a.log", b"a\n");
    env.pass().await;
    env.write("b.log", b"b\n");
    env.pass().await;
    env.write("c.log", b"c\n");
    env.pass().await;
}

/// Bug: a generation deleted from the middle of the chain was not named; verify listed the
/// objects only it named as orphans, inviting their deletion.
// Pins: a generation deleted mid-chain went unnamed and verify called its objects orphans.
async fn verify_names_a_missing_generation_and_calls_its_objects_no_orphans(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    let b_key = env.index().await.get("app", "b.log").unwrap().key.clone();
    env.store.delete(&manifest(2)).await.unwrap();

    let o = logferry(&cfg, &["verify"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("MISSING-GENERATION  2 "), "{t}");
    assert!(t.contains("logferry verify --repair"), "{t}");
    assert!(!t.contains("ORPHAN"), "b.log's object is no orphan: {t}");
    assert!(t.contains(&format!("UNACCOUNTED  {b_key}")), "{t}");
}

// Pins: objects left by interrupted passes made verify exit 1 with no way to remove them.
async fn verify_with_only_orphans_exits_0_and_names_the_prune(b: Backend) {
    let (env, cfg) = workspace(b);
    env.write("a.log", b"a\n");
    env.pass().await;
    let stray = Path::from("data/app/stray.log-0000");
    env.store
        .put(&stray, b"stray".to_vec().into())
        .await
        .unwrap();

    let o = logferry(&cfg, &["verify"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "orphans are no failure: {t}");
    assert!(t.contains(&format!("ORPHAN  {stray}")), "{t}");
    assert!(t.contains("logferry verify --prune-orphans"), "{t}");
}

// Pins: a damaged generation made verify exit 3 with a bare parse error and no fix named.
async fn verify_names_a_damaged_generation_and_the_repair(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    let whole = env.get(manifest(2).as_ref()).await;
    env.store
        .put(&manifest(2), whole[..whole.len() / 2].to_vec().into())
        .await
        .unwrap();

    let o = logferry(&cfg, &["verify"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("DAMAGED-GENERATION  2 "), "{t}");
    assert!(t.contains("generation 2 breaks the chain"), "{t}");
    assert!(t.contains("logferry verify --repair"), "{t}");
}

/// Truncates generation `g` to half its bytes.
async fn truncate(env: &Env, g: u64) {
    let whole = env.get(manifest(g).as_ref()).await;
    env.store
        .put(&manifest(g), whole[..whole.len() / 2].to_vec().into())
        .await
        .unwrap();
}

async fn newest_generation(env: &Env) -> u64 {
    logferry::list_generations(&env.store, None)
        .await
        .unwrap()
        .last()
        .copied()
        .unwrap_or_default()
        .get()
}

/// Bug: an agent whose state dir was intact kept committing deltas on top of a damaged
/// generation, while every reader of the archive failed.
// Pins: an agent kept committing deltas on a damaged generation every reader failed on.
async fn a_pass_stops_on_a_damaged_generation_it_builds_on(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    truncate(&env, 2).await;
    env.write("d.log", b"d\n");

    let o = logferry(&cfg, &["--run-once"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("generation 2"), "{t}");
    assert!(t.contains("is damaged"), "{t}");
    assert!(t.contains("logferry verify --repair"), "{t}");
    assert_eq!(newest_generation(&env).await, 3, "nothing committed on top");
}

/// Bug: a head generation replaced with other bytes of the same size (a wrong version)
/// went unnoticed by the agent that committed it.
// Pins: a head generation replaced by same-size other bytes went unnoticed by its agent.
async fn a_pass_stops_on_a_replaced_head_generation(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    let whole = String::from_utf8(env.get(manifest(3).as_ref()).await.to_vec()).unwrap();
    let wrong = whole.replacen("\"version\":4", "\"version\":9", 1);
    assert_ne!(whole, wrong);
    env.store
        .put(&manifest(3), wrong.into_bytes().into())
        .await
        .unwrap();
    env.write("d.log", b"d\n");

    let o = logferry(&cfg, &["--run-once"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("generation 3"), "{t}");
    assert!(t.contains("logferry verify --repair"), "{t}");
    assert_eq!(newest_generation(&env).await, 3, "nothing committed on top");
}

// Pins: a damaged generation had no repair: ls, verify and restore failed for good.
async fn repair_commits_a_checkpoint_and_readers_skip_the_damaged_generation(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    truncate(&env, 2).await;
    assert_eq!(logferry(&cfg, &["ls"]).await.status.code(), Some(3));

    let o = logferry(&cfg, &["verify", "--repair"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("REPAIRED  committed full checkpoint 4"), "{t}");
    assert!(t.contains("superseded by full checkpoint 4"), "{t}");

    let o = logferry(&cfg, &["ls"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for f in ["a.log", "b.log", "c.log"] {
        assert!(t.contains(f), "{f} listed: {t}");
    }
    env.write("d.log", b"d\n");
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(newest_generation(&env).await, 5);
    let o = logferry(&cfg, &["verify", "--read-data"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let to = env.dir.path().join("restored");
    let o = logferry(&cfg, &["restore", "--to", to.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (f, c) in [
        ("a.log", "a\n"),
        ("b.log", "b\n"),
        ("c.log", "c\n"),
        ("d.log", "d\n"),
    ] {
        assert_eq!(std::fs::read_to_string(to.join("app").join(f)).unwrap(), c);
    }
}

// Pins: repair with no good copy of a generation did not say what was still possible.
async fn repair_without_the_good_copy_names_what_to_do(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    truncate(&env, 2).await;
    std::fs::remove_dir_all(env.dir.path().join("state")).unwrap();

    let o = logferry(&cfg, &["verify", "--repair"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("cannot repair generation 2"), "{t}");
    assert!(t.contains("--generation 1"), "{t}");
    assert_eq!(newest_generation(&env).await, 3, "nothing committed");
}

async fn key_of(env: &Env, file: &str) -> Path {
    Path::parse(&env.index().await.get("app", file).unwrap().key).unwrap()
}

/// Bug: verify found missing and corrupt objects but nothing put them back, though the
/// local files still held their content.
// Pins: missing and corrupt objects were found but never put back from the local files.
async fn repair_reuploads_missing_and_corrupt_objects_from_local_files(b: Backend) {
    let (env, cfg) = workspace(b);
    for (f, c) in [
        ("a.log", "aaa\n"),
        ("b.log", "bbb\n"),
        ("c.log", "ccc\n"),
        ("d.log", "ddd\n"),
    ] {
        env.write(f, c.as_bytes());
    }
    env.pass().await;
    let (a, bk, c, d) = (
        key_of(&env, "a.log").await,
        key_of(&env, "b.log").await,
        key_of(&env, "c.log").await,
        key_of(&env, "d.log").await,
    );
    env.store.delete(&a).await.unwrap();
    env.store.put(&bk, b"BBB\n".to_vec().into()).await.unwrap();
    env.store.delete(&c).await.unwrap();
    env.remove("c.log");
    let d_before = env.store.head(&d).await.unwrap();

    let o = logferry(&cfg, &["verify", "--read-data", "--repair"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "c.log cannot be repaired: {t}");
    assert!(
        t.contains(&format!("REPAIRED  {a}: re-uploaded from")),
        "{t}"
    );
    assert!(
        t.contains(&format!("REPAIRED  {bk}: re-uploaded from")),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "NOT-REPAIRED  {c}: no local file holds its content"
        )),
        "{t}"
    );
    assert_eq!(&env.get(a.as_ref()).await[..], b"aaa\n");
    assert_eq!(
        &env.get(bk.as_ref()).await[..],
        b"bbb\n",
        "corrupt bytes replaced"
    );
    let d_after = env.store.head(&d).await.unwrap();
    assert_eq!(
        (d_before.e_tag, d_before.last_modified),
        (d_after.e_tag, d_after.last_modified),
        "an intact object is never rewritten"
    );
    let o = logferry(&cfg, &["verify", "--read-data", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["missing"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["missing"][0]["key"], c.to_string());
    assert!(v[0]["corrupt"].as_array().unwrap().is_empty(), "{v}");
}

/// Bug: a pass whose state dir was wiped rebuilt it and trusted the remote: an object
/// deleted from the destination stayed missing though the file was still here.
// Pins: a pass with a wiped state dir trusted the remote and left deleted objects missing.
async fn a_rebuilt_pass_reuploads_missing_objects_of_files_it_holds(b: Backend) {
    let (env, cfg) = workspace(b);
    env.write("a.log", b"aaa\n");
    env.write("b.log", b"bbb\n");
    env.pass().await;
    let a = key_of(&env, "a.log").await;
    env.store.delete(&a).await.unwrap();
    std::fs::remove_dir_all(env.dir.path().join("state")).unwrap();

    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(&env.get(a.as_ref()).await[..], b"aaa\n");
    assert_eq!(newest_generation(&env).await, 1, "nothing new to commit");
    let o = logferry(&cfg, &["verify", "--read-data"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Bug: orphans left by interrupted passes could not be removed, and nothing protected an
/// upload in flight from a hand-made cleanup.
// Pins: orphans could not be removed, and nothing protected an upload in flight from cleanup.
async fn prune_orphans_deletes_only_orphans_older_than_the_grace(b: Backend) {
    let (env, cfg) = workspace(b);
    env.write("a.log", b"a\n");
    env.pass().await;
    let a = key_of(&env, "a.log").await;
    let stray = Path::from("data/app/stray.log-0000");
    env.store
        .put(&stray, b"stray".to_vec().into())
        .await
        .unwrap();

    let o = logferry(&cfg, &["verify", "--prune-orphans", "--grace", "0s"]).await;
    assert_eq!(
        o.status.code(),
        Some(2),
        "a zero grace is refused: {}",
        text(&o)
    );
    assert!(text(&o).contains("upload in flight"), "{}", text(&o));

    let o = logferry(&cfg, &["verify", "--prune-orphans"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!(
            "KEPT  {stray}: younger than the grace period (1day)"
        )),
        "{t}"
    );
    assert!(
        env.store.head(&stray).await.is_ok(),
        "a young orphan is kept"
    );

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let o = logferry(&cfg, &["verify", "--prune-orphans", "--grace", "1s"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains(&format!("PRUNED  {stray}")), "{t}");
    assert!(
        env.store.head(&stray).await.is_err(),
        "the old orphan is gone"
    );
    assert!(
        env.store.head(&a).await.is_ok(),
        "archived objects are never pruned"
    );
    let o = logferry(&cfg, &["verify"]).await;
    assert!(!text(&o).contains("ORPHAN"), "{}", text(&o));
}

/// Bug: a pass killed inside an atomic write left `.<name>.tmp.<pid>` files in the state
/// dir for good.
// Pins: a pass killed mid atomic write left `.<name>.tmp.<pid>` files in the state dir for good.
async fn a_pass_removes_temp_files_of_dead_processes_from_the_state_dir(b: Backend) {
    let (env, cfg) = workspace(b);
    env.write("a.log", b"a\n");
    let state = env.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // Above the kernel's pid limit: no process has it.
    let dead = state.join(".seen.json.tmp.999999999");
    let alive = state.join(format!(".status.json.tmp.{}", std::process::id()));
    for p in [&dead, &alive] {
        std::fs::write(p, b"partial").unwrap();
    }
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dead.exists(), "a dead writer's temp files go");
    assert!(alive.exists(), "a live process's temp file is left alone");
}

/// Bug: killed passes left the local mirror's multipart staging files (`<key>#N`) behind:
/// 35 MiB after 220 kills.
// Pins: killed passes left the local mirror's multipart staging files (`<key>#N`) behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_removes_old_staging_files_from_the_local_mirror() {
    let (env, cfg) = workspace(Backend::Local);
    env.write("a.log", b"a\n");
    let dir = env.dir.path().join("mirror/data/app");
    std::fs::create_dir_all(&dir).unwrap();
    let old = dir.join("big.log-00ff#3");
    let young = dir.join("big.log-00ff#4");
    let named = dir.join("notes#draft");
    for p in [&old, &young, &named] {
        std::fs::write(p, b"part").unwrap();
    }
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    for p in [&old, &named] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    }
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!old.exists(), "a staging file older than the grace goes");
    assert!(
        young.exists(),
        "an upload that may be in flight is left alone"
    );
    assert!(named.exists(), "only `<key>#<number>` is a staging file");
    let o = logferry(&cfg, &["verify", "--read-data"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

// Pins: one damaged generation made `generations` exit 3 and list nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_lists_the_readable_ones_and_names_the_damaged() {
    let (env, cfg) = workspace(Backend::Local);
    three_generations(&env).await;
    truncate(&env, 2).await;
    let o = logferry(&cfg, &["generations"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("generation 2 ("), "{t}");
    assert!(t.contains("logferry verify"), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(rows, ["1", "3"], "{t}");
}

/// Guards the damage check against a false alarm: a bucket migrated or a mirror copied
/// (new ETags, new inodes) holds the same generations, and passes carry on.
// Pins: the damage check must not take a migrated bucket or copied mirror for damage.
async fn a_pass_accepts_generations_copied_with_their_content(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    for g in 1..=3 {
        let bytes = env.get(manifest(g).as_ref()).await;
        env.store.delete(&manifest(g)).await.unwrap();
        env.store
            .put(&manifest(g), bytes.to_vec().into())
            .await
            .unwrap();
    }
    env.write("d.log", b"d\n");
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(newest_generation(&env).await, 4);
}

/// Bug: with its newest generation deleted, the agent rebuilt on the one before and
/// committed over the gap, dropping from the index what the deleted one recorded.
// Pins: with its head generation deleted, the agent committed over the gap and lost records.
async fn a_deleted_head_generation_stops_the_pass_and_repair_recommits_it(b: Backend) {
    let (env, cfg) = workspace(b);
    three_generations(&env).await;
    env.store.delete(&manifest(3)).await.unwrap();
    env.remove("c.log");
    env.write("d.log", b"d\n");

    let o = logferry(&cfg, &["--run-once"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("generation 3"), "{t}");
    assert!(t.contains("logferry verify --repair"), "{t}");
    assert_eq!(
        newest_generation(&env).await,
        2,
        "nothing committed over the gap"
    );

    let o = logferry(&cfg, &["verify", "--repair"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("REPAIRED  committed full checkpoint 4"), "{t}");
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let index = env.index().await;
    for f in ["a.log", "b.log", "c.log", "d.log"] {
        assert!(index.get("app", f).is_some(), "{f} still archived");
    }
}

/// Bug: `restore --at` searched the generations by time and stopped at a damaged one, even
/// when a later checkpoint superseded it.
// Pins: `restore --at` stopped at a damaged generation a later checkpoint superseded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_at_a_time_steps_over_a_damaged_generation() {
    let (env, cfg) = workspace(Backend::Local);
    env.write("a.log", b"a\n");
    env.pass().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = logferry::rfc3339(std::time::SystemTime::now());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for f in ["b.log", "c.log", "d.log"] {
        env.write(f, b"x\n");
        env.pass().await;
    }
    truncate(&env, 2).await;
    let o = logferry(&cfg, &["verify", "--repair"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let to = env.dir.path().join("restored");
    let o = logferry(
        &cfg,
        &["restore", "--to", to.to_str().unwrap(), "--at", &between],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(to.join("app/a.log").exists());
    assert!(!to.join("app/b.log").exists(), "as of generation 1");
}

/// The real clock, moved by a fixed offset.
struct Later(Duration);

impl Clock for Later {
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now() + self.0
    }
}

/// Multipart uploads left open by killed passes stayed on S3 for good (9
/// after a kill campaign), their parts stored and billed. A later pass now aborts those
/// initiated longer ago than the grace period, and leaves younger ones (an upload in
/// flight) alone.
// Pins: multipart uploads left open by killed passes stayed on S3 for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_pass_aborts_multipart_uploads_abandoned_longer_ago_than_the_grace() {
    use object_store::multipart::MultipartStore;
    let (env, prefix) = s3_env_with_prefix();
    env.write("a.log", b"a\n");
    // What a pass killed mid-upload leaves: an upload with a part, never completed.
    let s3 = s3_builder(&env.config.destination)
        .unwrap()
        .unwrap()
        .build()
        .unwrap();
    let key = object_store::path::Path::from(format!("{prefix}/data/app/big.log-00"));
    let id = s3.create_multipart(&key).await.unwrap();
    s3.put_part(&key, &id, 0, vec![b'x'; 5 << 20].into())
        .await
        .unwrap();
    assert_eq!(pending_multipart_uploads(&prefix), 1);

    let config = env.config.clone();
    let r = run_once(&config, &env.store, &Later(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(r.files_uploaded, 1);
    assert_eq!(
        pending_multipart_uploads(&prefix),
        1,
        "younger than the grace: kept"
    );

    let day = Duration::from_secs(25 * 3600);
    run_once(&config, &env.store, &Later(day)).await.unwrap();
    assert_eq!(pending_multipart_uploads(&prefix), 0, "aborted");
}

/// Bug (in format 3 as first written): a fold's part lost from the bucket broke every
/// load of the newest generation (`ls`, `restore`, a rebuild), and `verify` said all was
/// well, since it read each generation but not the folds the newest one names.
// Pins: a lost fold part broke every load of the newest generation and verify said nothing.
async fn a_lost_fold_is_named_by_verify_and_repaired(b: Backend) {
    let (env, cfg) = workspace(b);
    for i in 0..10 {
        env.write(&format!("f{i}.log"), format!("{i}\n").as_bytes());
        env.pass().await;
    }
    let parts: Vec<String> = env
        .catalog_keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("catalog/parts/"))
        .collect();
    assert!(!parts.is_empty(), "generation 10 names a fold");
    for k in &parts {
        env.store.delete(&Path::from(k.as_str())).await.unwrap();
    }
    assert_ne!(logferry(&cfg, &["ls"]).await.status.code(), Some(0));

    let o = logferry(&cfg, &["verify"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("generation 10") || t.contains("00000000000000000010"),
        "{t}"
    );
    assert!(t.contains("absent from the destination"), "{t}");

    let o = logferry(&cfg, &["verify", "--repair"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("committed full checkpoint 11"), "{t}");
    let o = logferry(&cfg, &["ls", "--long"]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert_eq!(
        t.matches(".log").count(),
        10 * 2,
        "path and key of each: {t}"
    );
}
