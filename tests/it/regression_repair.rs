//! Issue 11, point 3: damage in an archive is seen, named and repaired — missing and
//! damaged manifest generations, missing and corrupt objects, orphans and leftovers.
//! Each case runs on the local mirror and on SeaweedFS (S3), through the built binary.

use std::path::PathBuf;
use std::process::{Command, Output};

use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::common::{destination_toml, Backend, Env};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

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
);

/// A workspace and a config file for the binary describing the same archive.
fn workspace(b: Backend) -> (Env, PathBuf) {
    let toml = format!("state_dir = \"state\"\n{}{SOURCES}", destination_toml(b));
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    let cfg = env.dir.path().join("logferry.toml");
    std::fs::write(&cfg, toml).unwrap();
    (env, cfg)
}

/// Runs the binary with `--config cfg` and `args`, off the async threads.
async fn logferry(cfg: &std::path::Path, args: &[&str]) -> Output {
    let mut all = vec!["--config".to_string(), cfg.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&all)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn manifest(g: u64) -> Path {
    logferry::store::manifest_key(g)
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

// Bug: a generation deleted from the middle of the chain was not named; verify listed the
// objects only it named as orphans, inviting their deletion.
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

// Bug: objects left by interrupted passes made verify exit 1 with no way to remove them.
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

// Bug: a damaged generation made verify exit 3 with a bare parse error and no fix named.
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
