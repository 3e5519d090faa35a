//! Getting the archive back: round trips on every backend, points in time, corruption,
//! hostile manifests, `fetch` and `verify`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use logferry::{
    commit_generation, data_key, generation_at, load_at, restore, run_once, verify, Codec,
    Compression, ContentHash, Entry, FileResult, Generation, GenerationNo, Kind, ReadData,
    RestoreOptions, Store, SystemClock,
};

use object_store::ObjectStoreExt;

use crate::common::{s3_destination_toml, sha, testbed, Backend, Env};
use crate::proxy::Proxy;

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

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

macro_rules! restore_suite {
    ($backend:expr) => {
        cases!($backend;
            round_trip_is_byte_identical_with_mtimes,
            each_generation_restores_its_own_content,
            corrupt_object_is_reported_and_the_rest_restores,
            verify_finds_missing_and_orphaned_objects,
            compressed_and_plain_objects_coexist_and_restore,
            compressed_leftovers_are_adopted_after_a_check,
        );
    };
}

mod memory {
    restore_suite!(crate::common::Backend::Memory);
}
mod local {
    restore_suite!(crate::common::Backend::Local);
}
mod s3 {
    restore_suite!(crate::common::Backend::S3);
}
mod azure {
    restore_suite!(crate::common::Backend::Azure);
}
mod gcs {
    restore_suite!(crate::common::Backend::Gcs);
}

fn opts(to: &Path) -> RestoreOptions {
    RestoreOptions::new(to)
}

/// sha256 and mtime of every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, (String, i64)> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).into_iter().map(Result::unwrap) {
        if e.file_type().is_file() {
            let m = e.metadata().unwrap();
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            out.insert(
                rel,
                (
                    sha(&std::fs::read(e.path()).unwrap()),
                    m.mtime() * 1_000_000_000 + m.mtime_nsec(),
                ),
            );
        }
    }
    out
}

async fn round_trip_is_byte_identical_with_mtimes(b: Backend) {
    let env = Env::new(b);
    env.write("a.log.1", b"first\n");
    env.write("deep/dir/b.log", &vec![7u8; 3 * 1024 * 1024]);
    env.write("empty.log", b"");
    env.pass().await;
    let before = tree(&env.logs());
    std::fs::remove_dir_all(env.logs()).unwrap();

    let to = env.dir.path().join("restored");
    let report = restore(&env.store, &env.index().await, &opts(&to), &|_| {}).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    assert_eq!(report.count(FileResult::Restored), 3);
    assert_eq!(tree(&to.join("app")), before, "same bytes and mtimes");

    // Again: everything is already there, nothing rewritten.
    let again = restore(&env.store, &env.index().await, &opts(&to), &|_| {}).await;
    assert_eq!(again.count(FileResult::AlreadyPresent), 3);
}

async fn each_generation_restores_its_own_content(b: Backend) {
    let env = Env::new(b);
    let mut times = Vec::new();
    for (i, body) in [&b"v1\n"[..], b"v1\nv2\n", b"v3 rewritten\n"]
        .iter()
        .enumerate()
    {
        env.write("app.log", body);
        env.pass().await;
        times.push((i as u64 + 1, SystemTime::now(), sha(body)));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (g, t, want) in &times {
        let index = load_at(&env.store, GenerationNo(*g)).await.unwrap();
        let to = env.dir.path().join(format!("gen{g}"));
        let report = restore(&env.store, &index, &opts(&to), &|_| {}).await;
        assert!(!report.has_problems(), "{:?}", report.results);
        assert_eq!(
            &sha(&std::fs::read(to.join("app/app.log")).unwrap()),
            want,
            "generation {g}"
        );
        assert_eq!(
            generation_at(&env.store, *t).await.unwrap(),
            Some(GenerationNo(*g)),
            "--at picks generation {g}"
        );
    }
    let long_ago = SystemTime::now() - Duration::from_secs(86_400);
    assert_eq!(generation_at(&env.store, long_ago).await.unwrap(), None);
}

/// Replaces an object's bytes with the same number of flipped bytes.
async fn corrupt(store: &Store, key: &str) {
    let path = object_store::path::Path::parse(key).unwrap();
    let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
    let flipped: Vec<u8> = bytes.iter().map(|b| b ^ 0xff).collect();
    store.put(&path, flipped.into()).await.unwrap();
}

async fn corrupt_object_is_reported_and_the_rest_restores(b: Backend) {
    let env = Env::new(b);
    env.write("good.log", b"good\n");
    env.write("bad.log", b"this will rot\n");
    env.pass().await;
    let index = env.index().await;
    let bad_key = index.get("app", "bad.log").unwrap().key.clone();
    corrupt(&env.store, &bad_key).await;

    let v = verify(&env.store, ReadData::No, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(!v.has_problems(), "same size: a listing cannot tell");
    let v = verify(&env.store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert_eq!(v.corrupt.len(), 1, "{v:?}");
    assert_eq!(v.corrupt[0].key, bad_key);
    assert_eq!(v.corrupt[0].file, "app/bad.log");

    let to = env.dir.path().join("restored");
    let report = restore(&env.store, &index, &opts(&to), &|_| {}).await;
    assert_eq!(report.count(FileResult::Corrupt), 1);
    assert_eq!(report.count(FileResult::Restored), 1);
    assert_eq!(std::fs::read(to.join("app/good.log")).unwrap(), b"good\n");
    assert!(
        !to.join("app/bad.log").exists(),
        "no corrupt file left behind"
    );
    let leftovers: Vec<_> = std::fs::read_dir(to.join("app"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp files: {leftovers:?}");
}

async fn verify_finds_missing_and_orphaned_objects(b: Backend) {
    let env = Env::new(b);
    env.write("a.log", b"a\n");
    env.write("b.log", b"b\n");
    env.pass().await;
    let index = env.index().await;
    let gone = index.get("app", "a.log").unwrap().key.clone();
    env.store
        .delete(&object_store::path::Path::parse(&gone).unwrap())
        .await
        .unwrap();
    let orphan = data_key(
        "app",
        "stray.log",
        &ContentHash::of(b"stray"),
        Compression::None,
    );
    env.store
        .put(&orphan, bytes::Bytes::from_static(b"stray").into())
        .await
        .unwrap();
    let v = verify(&env.store, ReadData::No, None, 4, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        v.missing.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        [gone.as_str()]
    );
    assert_eq!(
        v.orphaned.iter().map(|f| f.key.clone()).collect::<Vec<_>>(),
        [orphan.to_string()]
    );
    assert!(v.corrupt.is_empty());
    let to = env.dir.path().join("restored");
    let report = restore(&env.store, &index, &opts(&to), &|_| {}).await;
    assert_eq!(
        (
            report.count(FileResult::Missing),
            report.count(FileResult::Restored)
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn rolling_read_data_covers_the_whole_archive() {
    let env = Env::new(Backend::Memory);
    for i in 0..10 {
        env.write(&format!("f{i}.log"), format!("{i}\n").as_bytes());
    }
    env.pass().await;
    let state = env.dir.path().join("state");
    let mut read = 0;
    for _ in 0..4 {
        let v = verify(&env.store, ReadData::Percent(30), Some(&state), 2, &|_| {})
            .await
            .unwrap();
        assert_eq!(v.objects_read, 3);
        read += v.objects_read;
    }
    assert!(read >= 10);
    // Corrupt each object in turn; some run of four finds it.
    let index = env.index().await;
    let key = index.entries().nth(6).unwrap().key.clone();
    corrupt(&env.store, &key).await;
    let mut found = false;
    for _ in 0..4 {
        let v = verify(&env.store, ReadData::Percent(30), Some(&state), 2, &|_| {})
            .await
            .unwrap();
        found |= v.corrupt.iter().any(|f| f.key == key);
    }
    assert!(found, "repeated rolling runs reach every object");
}

fn hostile_entry(source: &str, path: &str, key: &str) -> Entry {
    Entry {
        source: source.into(),
        path: path.into(),
        size: 5,
        mtime_ns: 0,
        sha256: ContentHash::of(b"pwned"),
        key: key.into(),
        compression: Compression::None,
        stored_size: None,
        archived_at: "2026-11-21T10:00:00.000Z".parse().unwrap(),
        generation: GenerationNo(1),
    }
}

#[tokio::test]
async fn a_hostile_manifest_writes_nothing_outside_the_target() {
    let env = Env::new(Backend::Memory);
    let good_key = data_key(
        "app",
        "ok.log",
        &ContentHash::of(b"pwned"),
        Compression::None,
    );
    env.store
        .put(&good_key, bytes::Bytes::from_static(b"pwned").into())
        .await
        .unwrap();
    let good = good_key.to_string();
    let long = "x".repeat(300);
    let entries = vec![
        hostile_entry("app", "../../escape.log", &good),
        hostile_entry("app", "/etc/evil.log", &good),
        hostile_entry("app", "a/../../../x.log", &good),
        hostile_entry("..", "up.log", &good),
        hostile_entry("app", &long, &good),
        hostile_entry("app", "nul\0byte.log", &good),
        hostile_entry("app", "linkdir/through.log", &good),
        hostile_entry("app", "key-escape.log", "../../outside/key"),
        hostile_entry("app", "not-data.log", "manifests/00000000000000000001.json"),
        hostile_entry("app", "ok.log", &good),
    ];
    let g = Generation {
        version: 1,
        generation: GenerationNo(1),
        kind: Kind::Full,
        base: GenerationNo(1),
        created_at: "2026-11-21T10:00:00.000Z".parse().unwrap(),
        report: None,
        runs: Vec::new(),
        parts: Vec::new(),
        entries,
        expiry: None,
    };
    commit_generation(&env.store, &g, &Default::default())
        .await
        .unwrap();

    let root = tempfile::tempdir().unwrap();
    let to = root.path().join("target");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(to.join("app")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, to.join("app/linkdir")).unwrap();

    let report = restore(&env.store, &env.index().await, &opts(&to), &|_| {}).await;
    let by_path: BTreeMap<String, FileResult> = report
        .results
        .iter()
        .map(|r| (r.path.clone(), r.result))
        .collect();
    assert_eq!(by_path["ok.log"], FileResult::Restored);
    assert_eq!(report.count(FileResult::Refused), 9, "{:?}", report.results);
    assert!(report.has_problems());
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written through the symlink"
    );
    let everything: Vec<_> = walkdir::WalkDir::new(root.path())
        .into_iter()
        .map(|e| e.unwrap().path().to_path_buf())
        .collect();
    for p in everything {
        assert!(
            p.starts_with(&to) || p == root.path() || p == outside,
            "written outside: {}",
            p.display()
        );
    }
}

#[tokio::test]
async fn existing_files_are_kept_unless_forced_and_symlinks_never_replaced() {
    let env = Env::new(Backend::Memory);
    env.write("a.log", b"archived\n");
    env.pass().await;
    let index = env.index().await;
    let to = env.dir.path().join("restored");
    std::fs::create_dir_all(to.join("app")).unwrap();
    std::fs::write(to.join("app/a.log"), b"local edit\n").unwrap();
    let r = restore(&env.store, &index, &opts(&to), &|_| {}).await;
    assert_eq!(r.count(FileResult::Exists), 1);
    assert_eq!(
        std::fs::read(to.join("app/a.log")).unwrap(),
        b"local edit\n"
    );
    let mut forced = opts(&to);
    forced.force = true;
    let r = restore(&env.store, &index, &forced, &|_| {}).await;
    assert_eq!(r.count(FileResult::Restored), 1);
    assert_eq!(std::fs::read(to.join("app/a.log")).unwrap(), b"archived\n");

    std::fs::remove_file(to.join("app/a.log")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", to.join("app/a.log")).unwrap();
    let r = restore(&env.store, &index, &forced, &|_| {}).await;
    assert_eq!(
        r.count(FileResult::Refused),
        1,
        "even --force does not follow a symlink"
    );
}

fn write_config(dir: &Path, dest: &str) -> std::path::PathBuf {
    let p = dir.join("logferry.toml");
    std::fs::write(&p, format!("state_dir = \"state\"\n{dest}[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n")).unwrap();
    p
}

fn bin(cfg: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn cli_restore_fetch_verify_and_generations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs/sub")).unwrap();
    std::fs::write(dir.path().join("logs/a.log.1"), b"one\n").unwrap();
    std::fs::write(
        dir.path().join("logs/sub/000000010000000000000003"),
        b"wal segment\n",
    )
    .unwrap();
    let cfg = write_config(dir.path(), "[destination]\nurl = \"mirror\"\n");
    assert_eq!(bin(&cfg, &["--run-once"]).status.code(), Some(0));

    let to = dir.path().join("restored");
    let o = bin(&cfg, &["restore", "--to", to.to_str().unwrap(), "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(reports[0]["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        std::fs::read(to.join("app/sub/000000010000000000000003")).unwrap(),
        b"wal segment\n"
    );

    let o = bin(
        &cfg,
        &[
            "restore",
            "--to",
            dir.path().join("dry").to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("would restore 2 files"));
    assert!(!dir.path().join("dry").exists(), "a dry run writes nothing");

    // PostgreSQL's restore_command: fetch by file name into %p.
    let dest = dir.path().join("RECOVERYXLOG");
    let o = bin(
        &cfg,
        &["fetch", "000000010000000000000003", dest.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"wal segment\n");
    let missing = dir.path().join("NEVER");
    let o = bin(
        &cfg,
        &[
            "fetch",
            "000000010000000000000099",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("never archived"));
    assert!(!missing.exists(), "no file for a name never archived");

    let o = bin(&cfg, &["verify", "--read-data"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains("0 missing, 0 corrupt, 0 orphaned; read back 2 objects"));

    std::fs::write(dir.path().join("logs/a.log.2"), b"two\n").unwrap();
    assert_eq!(bin(&cfg, &["--run-once"]).status.code(), Some(0));
    let o = bin(&cfg, &["generations", "--json"]);
    let gens: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(gens.as_array().unwrap().len(), 2);
    assert_eq!(gens[1]["report"]["files_new"], 1);
    let o = bin(&cfg, &["ls", "--generation", "1", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let o = bin(&cfg, &["ls", "--generation", "9"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A corrupted object fails verify and restore with exit 1.
    let key = std::fs::read_dir(dir.path().join("mirror/data/app"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .unwrap();
    let bytes: Vec<u8> = std::fs::read(&key).unwrap().iter().map(|b| b ^ 1).collect();
    std::fs::write(&key, bytes).unwrap();
    let o = bin(&cfg, &["verify", "--read-data"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("CORRUPT"));
    let o = bin(
        &cfg,
        &[
            "restore",
            "--to",
            dir.path().join("again").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("CORRUPT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_interrupted_by_a_dying_server_leaves_no_file() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/big.log"), vec![b'w'; 4 << 20]).unwrap();
    let direct = s3_destination_toml(
        &testbed("TESTBED_S3_ENDPOINT"),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "max_retries = 1\nretry_timeout = \"2s\"\n",
    );
    let cfg = write_config(dir.path(), &direct);
    let o = tokio::task::spawn_blocking({
        let cfg = cfg.clone();
        move || bin(&cfg, &["--run-once"])
    })
    .await
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The same archive through the proxy, which dies after 1 MiB of the download.
    let via_proxy = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&testbed("TESTBED_S3_ENDPOINT"), &proxy.endpoint());
    std::fs::write(&cfg, via_proxy).unwrap();
    proxy.faults.cut_after.store(1 << 20, Ordering::SeqCst);
    let dest = dir.path().join("fetched.log");
    let o = tokio::task::spawn_blocking({
        let (cfg, dest) = (cfg.clone(), dest.clone());
        move || bin(&cfg, &["fetch", "big.log", dest.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_ne!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        proxy.faults.served.load(Ordering::SeqCst) >= 1,
        "the cut happened"
    );
    assert!(!dest.exists(), "no partial DEST");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("fetched"))
        .collect();
    assert!(leftovers.is_empty(), "no temp file either: {leftovers:?}");
}

/// A workspace on `b` whose destination stores new objects as `compression`.
fn env_compressed(b: Backend, compression: &str) -> Env {
    let dest = crate::common::destination_toml(b).replacen(
        "[destination]\n",
        &format!("[destination]\ncompression = \"{compression}\"\ncompression_level = 5\n"),
        1,
    );
    let toml = format!("state_dir = \"state\"\n{dest}[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n");
    Env::from_toml(tempfile::tempdir().unwrap(), &toml)
}

fn log_text(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| {
            format!(
                "2026-11-21T10:{:02}:{:02}Z INFO request id={i:08} served in {} ms\n",
                i / 60 % 60,
                i % 60,
                i % 97
            )
            .into_bytes()
        })
        .collect()
}

async fn compressed_and_plain_objects_coexist_and_restore(b: Backend) {
    let env = env_compressed(b, "zstd");
    let small = log_text(2_000);
    let big = log_text(300_000); // ~20 MiB: several compressed parts
    env.write("small.log", &small);
    env.write("big.log", &big);
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 2);
    assert!(
        r.bytes_uploaded * 4 < (small.len() + big.len()) as u64,
        "stored {} bytes",
        r.bytes_uploaded
    );
    let index = env.index().await;
    for e in index.entries() {
        assert!(e.key.ends_with(".zst"), "{}", e.key);
        assert_eq!(e.compression, Compression::Zstd);
        assert!(e.stored_size.unwrap() < e.size);
    }

    // The operator turns compression off: new objects are plain, old ones still restore.
    let mut config = env.config.clone();
    config.sources[0].codec = Codec::PLAIN;
    env.write("later.log", b"written after the change\n");
    let r = run_once(&config, &env.store, &SystemClock).await.unwrap();
    assert_eq!(r.files_uploaded, 1);
    let index = env.index().await;
    let later = index.get("app", "later.log").unwrap();
    assert_eq!(
        (later.compression, later.stored_size),
        (Compression::None, None)
    );
    assert!(!later.key.ends_with(".zst"));

    let v = verify(&env.store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(!v.has_problems(), "{v:?}");
    let to = env.dir.path().join("restored");
    let report = restore(&env.store, &index, &opts(&to), &|_| {}).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    assert_eq!(std::fs::read(to.join("app/big.log")).unwrap(), big);
    assert_eq!(std::fs::read(to.join("app/small.log")).unwrap(), small);
    assert_eq!(
        std::fs::read(to.join("app/later.log")).unwrap(),
        b"written after the change\n"
    );

    // Flipped bytes in a compressed object: verify and restore both say so.
    corrupt(&env.store, &index.get("app", "small.log").unwrap().key).await;
    let v = verify(&env.store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert_eq!(v.corrupt.len(), 1, "{v:?}");
    let to2 = env.dir.path().join("again");
    let report = restore(&env.store, &index, &opts(&to2), &|_| {}).await;
    assert_eq!(report.count(FileResult::Corrupt), 1);
    assert!(!to2.join("app/small.log").exists());
}

async fn compressed_leftovers_are_adopted_after_a_check(b: Backend) {
    let env = env_compressed(b, "zstd");
    env.write("a.log", &log_text(1000));
    let faulty = crate::common::FaultStore::wrap(&env.store);
    faulty.fail_manifest_puts.store(true, Ordering::SeqCst);
    let store: Store = faulty;
    assert!(env.pass_with(&store).await.is_err());
    let r = env.pass().await;
    assert_eq!(
        (r.files_adopted, r.files_uploaded, r.generation),
        (1, 0, Some(1))
    );
    env.assert_objects_match_decoded().await;
}
