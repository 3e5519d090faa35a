//! Formats are promises: an archive written by the previous release (manifest format 2
//! and state dir format 2, release 4627d36; see tests/fixtures/archive-v2/README.md)
//! stays readable as it is, and the first pass of this build migrates it to format 3
//! without losing a version. On a copy of the fixture in a temp dir, local mirror only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use logferry::{
    config_from_toml, download_verified, find_archived, load_at, open_store, GenerationNo, Lookup,
    Store,
};

use serde_json::json;

use crate::cli::{code, stderr, stdout, Workspace};
use crate::common::{sha, Env, FaultStore};

/// The config both fixtures were written with (archive-v2's make-fixture.sh, archive-v3's
/// make.sh), paths relative to the workspace.
pub(crate) const CONFIG: &str = r#"state_dir = "state"

[destination]
url = "mirror"

[[sources]]
name = "app"
path = "logs/app"
include = ["app.log.*", "worker.log.*"]
min_age = "0s"

[[sources]]
name = "wal"
path = "logs/wal"
closed_by = "not-newest"

[[sources]]
name = "audit"
path = "logs/audit"
include = ["audit.log.*"]
compression = "zstd"
min_age = "0s"
"#;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub(crate) fn app(batch: u32) -> Vec<u8> {
    format!("app batch {batch}: started\napp batch {batch}: ok\n").into_bytes()
}

pub(crate) fn worker(batch: u32) -> Vec<u8> {
    format!("worker batch {batch}\n").into_bytes()
}

pub(crate) fn wal(n: u32) -> Vec<u8> {
    format!("wal segment {n}\n").into_bytes()
}

pub(crate) fn wal_name(n: u32) -> String {
    format!("0000000100000000000000{n:02}")
}

pub(crate) fn audit(batch: u32) -> Vec<u8> {
    let (user, action) = if batch == 1 {
        ("alice", "login")
    } else {
        ("bob", "logout")
    };
    let mut s: String = (1..=8)
        .map(|i| format!("audit batch {batch}: event {i} user={user} action={action}\n"))
        .collect();
    s.push('\n');
    s.into_bytes()
}

/// (source, path) → the bytes the previous release archived there, as of a generation
/// of the fixture (1 to 4).
fn archived_at(generation: u64) -> BTreeMap<(String, String), Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut put = |source: &str, path: &str, bytes: Vec<u8>| {
        m.insert((source.to_string(), path.to_string()), bytes);
    };
    match generation {
        1 => {
            put("app", "app.log.1", app(1));
            put("app", "sub/worker.log.1", worker(1));
            put("wal", &wal_name(1), wal(1));
            put("audit", "audit.log.1", audit(1));
        }
        2 => {
            put("app", "app.log.1", app(2));
            put("app", "app.log.2", app(1));
            put("app", "sub/worker.log.1", worker(1));
            put("wal", &wal_name(1), wal(1));
            put("wal", &wal_name(2), wal(2));
            put("audit", "audit.log.1", audit(1));
        }
        3 | 4 => {
            put("app", "app.log.1", app(3));
            put("app", "app.log.2", app(2));
            put("app", "app.log.3", app(1));
            put("app", "sub/worker.log.1", worker(2));
            put("app", "sub/worker.log.2", worker(1));
            for n in 1..=3 {
                put("wal", &wal_name(n), wal(n));
            }
            if generation == 3 {
                put("audit", "audit.log.1", audit(1));
            } else {
                put("audit", "audit.log.1", audit(2));
                put("audit", "audit.log.2", audit(1));
            }
        }
        _ => unreachable!("the fixture has generations 1 to 4"),
    }
    m
}

/// The mtime make-fixture.sh gave each file of the latest generation (`touch -d`).
fn fixture_mtime(source: &str, path: &str) -> SystemTime {
    let at = |day: u64, second: u64| {
        // 2026-11-20T10:00:00Z plus `day` days and `second` seconds.
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_168_800 + day * 86_400 + second)
    };
    match (source, path) {
        ("app", "app.log.3") => at(0, 1),
        ("app", "app.log.2") => at(1, 1),
        ("app", "app.log.1") => at(2, 1),
        ("app", "sub/worker.log.2") => at(0, 2),
        ("app", "sub/worker.log.1") => at(2, 2),
        ("wal", p) if p == wal_name(1) => at(0, 3),
        ("wal", p) if p == wal_name(2) => at(0, 4),
        ("wal", p) if p == wal_name(3) => at(1, 3),
        ("audit", "audit.log.2") => at(0, 5),
        ("audit", "audit.log.1") => at(3, 5),
        _ => unreachable!("{source}/{path}"),
    }
}

/// Copies `from` into `to`, recursively.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from).into_iter().map(Result::unwrap) {
        let target = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir`, by `/`-separated relative path, with its bytes.
pub(crate) fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_str().unwrap();
            (rel.to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// A workspace in `dir` holding the fixture's archive as `mirror/` and, when
/// `with_state`, its state dir as `state/`, with the destination its header names
/// rewritten to this copy (the state dir of a host whose mirror moved is rebuilt, not
/// read, so the test would not exercise it otherwise). Returns the config.
fn install(dir: &Path, with_state: bool) -> PathBuf {
    for part in ["data", "manifests"] {
        copy_tree(
            &Path::new(FIXTURE).join("archive-v2").join(part),
            &dir.join("mirror").join(part),
        );
    }
    let config = dir.join("logferry.toml");
    std::fs::write(&config, CONFIG).unwrap();
    if with_state {
        let state = dir.join("state");
        copy_tree(&Path::new(FIXTURE).join("state-v2"), &state);
        let url = config_from_toml(CONFIG, dir, std::iter::empty())
            .unwrap()
            .destination
            .url
            .to_string();
        let header = state.join("state.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&header).unwrap()).unwrap();
        assert_eq!(v["version"], 2, "the fixture holds a format-2 state dir");
        assert_eq!(v["destination"], "file:///tmp/gen/w/mirror");
        v["destination"] = url.into();
        std::fs::write(&header, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    config
}

pub(crate) fn run_ok(ws: &Workspace, args: &[&str]) -> Output {
    let o = ws.run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// (source, path, sha256) of each row of a `--json` listing.
fn rows(o: &Output) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn as_rows(m: &BTreeMap<(String, String), Vec<u8>>) -> Vec<(String, String, String)> {
    m.iter()
        .map(|((s, p), b)| (s.clone(), p.clone(), sha(b)))
        .collect()
}

/// `restore --to <dir>/<name>` plus `extra`; what it wrote, as `source/path` → bytes.
pub(crate) fn restore(ws: &Workspace, name: &str, extra: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let to = ws.path(name);
    let mut args = vec!["restore", "--to", to.to_str().unwrap()];
    args.extend(extra);
    run_ok(ws, &args);
    files(&to)
}

fn by_file(m: &BTreeMap<(String, String), Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    m.iter()
        .map(|((s, p), b)| (format!("{s}/{p}"), b.clone()))
        .collect()
}

#[test]
fn the_format_2_archive_reads_as_it_is() {
    let ws = Workspace {
        dir: tempfile::tempdir().unwrap(),
    };
    install(ws.dir.path(), false);
    let before = files(&ws.path("mirror"));

    // ls: the latest generation, every entry with the content the old release archived.
    let o = run_ok(&ws, &["ls", "--json"]);
    assert_eq!(rows(&o), as_rows(&archived_at(4)));

    // restore: byte for byte, with the archived mtimes.
    let restored = restore(&ws, "out", &[]);
    assert_eq!(restored, by_file(&archived_at(4)));
    for (source, path) in archived_at(4).keys() {
        let m = std::fs::metadata(ws.path("out").join(source).join(path)).unwrap();
        assert_eq!(
            m.modified().unwrap(),
            fixture_mtime(source, path),
            "mtime of {source}/{path}"
        );
    }

    // An old generation restores its own content (app.log.2 held batch 1 then).
    assert_eq!(
        restore(&ws, "out-2", &["--generation", "2"]),
        by_file(&archived_at(2))
    );

    // fetch by file name: a WAL segment, a rotated name (its newest content), a zstd
    // object; a segment never archived is exit 1, as PostgreSQL needs.
    for (name, bytes) in [
        (wal_name(2), wal(2)),
        ("app.log.2".to_string(), app(2)),
        ("audit.log.1".to_string(), audit(2)),
    ] {
        let dest = ws.path(&format!("fetched-{name}"));
        run_ok(&ws, &["fetch", &name, dest.to_str().unwrap()]);
        assert_eq!(std::fs::read(&dest).unwrap(), bytes, "fetch {name}");
    }
    let o = ws.run(&["fetch", &wal_name(4), ws.path("no").to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    // generations: one full checkpoint, three deltas, as written.
    let o = run_ok(&ws, &["generations", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut gens: Vec<(u64, String, u64, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["generation"].as_u64().unwrap(),
                g["kind"].as_str().unwrap().to_string(),
                g["base"].as_u64().unwrap(),
                g["entries"].as_u64().unwrap(),
            )
        })
        .collect();
    gens.sort();
    assert_eq!(
        gens,
        [
            (1, "full".to_string(), 1, 4),
            (2, "delta".to_string(), 1, 3),
            (3, "delta".to_string(), 1, 6),
            (4, "delta".to_string(), 1, 2),
        ]
    );

    // ls --all-versions: every content each path ever held, once, older batches too.
    let o = run_ok(&ws, &["ls", "--all-versions", "--json"]);
    let mut all: Vec<(String, String, String)> = rows(&o);
    all.sort();
    let mut expected: Vec<(String, String, String)> = (1..=4)
        .flat_map(|g| as_rows(&archived_at(g)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(all.len(), 15, "{all:?}");

    // Reading wrote nothing: the archive is still the format-2 one.
    assert_eq!(files(&ws.path("mirror")), before);
}

#[tokio::test]
async fn the_format_2_archive_has_no_version_records_so_lookups_read_the_generations() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), false);
    let config = config_from_toml(CONFIG, dir.path(), std::iter::empty()).unwrap();
    let store = open_store(&config.destination).unwrap();
    match find_archived(&store, &wal_name(1), None).await.unwrap() {
        Lookup::Unindexed => {}
        other => panic!("a format-2 archive has no records: {other:?}"),
    }
    let index = load_at(&store, GenerationNo(4)).await.unwrap();
    let got: BTreeMap<(String, String), String> = index
        .entries()
        .map(|e| ((e.source.clone(), e.path.clone()), e.sha256.to_string()))
        .collect();
    let want: BTreeMap<(String, String), String> = archived_at(4)
        .into_iter()
        .map(|(k, b)| (k, sha(&b)))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_with_an_empty_state_dir_migrates_the_format_2_archive() {
    migrates(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_with_the_format_2_state_dir_migrates_the_format_2_archive() {
    migrates(true).await;
}

async fn migrates(with_state: bool) {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), with_state);
    let env = Env::from_toml(dir, CONFIG);
    let old_manifests = files(&env.dir.path().join("mirror/manifests"));
    let old_data: BTreeSet<String> = env
        .keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("data/"))
        .collect();

    // The host's log dirs as the previous release left them (the files of generation 4,
    // the live app.log, the newest WAL segment held back), and one segment more, which
    // closes segment 4.
    for ((source, path), bytes) in archived_at(4) {
        env.write(&format!("{source}/{path}"), &bytes);
    }
    env.write("app/app.log", b"live line, never archived\n");
    env.write(
        &format!("wal/{}", wal_name(4)),
        b"wal segment 4 (being written)\n",
    );
    env.write(&format!("wal/{}", wal_name(5)), &wal(5));

    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(r.generation, Some(5), "{r:?}");
    // The pass goes ahead of its catch-up LIST: when the new segment is stored before the
    // LIST shows the format-2 archive, the pass starts over after the migration and
    // adopts the object its first attempt stored. Either way it is stored once (the
    // write count below).
    assert_eq!(r.files_new, 1, "{r:?}");
    assert_eq!(r.files_uploaded + r.files_adopted, 1, "{r:?}");
    // One object, the generation, a record for each of the 11 entries, the mark; and
    // when the object was adopted, the started-over pass's create-only put of it, which
    // the store refused.
    assert_eq!(
        counting.writes.load(Ordering::SeqCst),
        1 + 1 + 11 + 1 + r.files_adopted as usize
    );

    // The new generation is a full checkpoint of the current format holding every entry, the old ones
    // as recorded (their generation and object).
    let raw: serde_json::Value =
        serde_json::from_slice(&env.get("manifests/00000000000000000005.json").await).unwrap();
    assert_eq!(
        (&raw["version"], &raw["kind"], &raw["base"]),
        (&json!(4), &json!("full"), &json!(5)),
        "{raw}"
    );
    let old = load_at(&env.store, GenerationNo(4)).await.unwrap();
    let new = load_at(&env.store, GenerationNo(5)).await.unwrap();
    assert_eq!(new.len(), old.len() + 1);
    for e in old.entries() {
        assert_eq!(
            new.get(&e.source, &e.path),
            Some(e),
            "entry kept as recorded"
        );
    }
    let wal4 = new.get("wal", &wal_name(4)).expect("segment 4 archived");
    assert_eq!(wal4.generation, GenerationNo(5));

    // Nothing old was uploaded again or rewritten; the generations are still the bytes
    // the old release wrote.
    let data: BTreeSet<String> = env
        .keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("data/"))
        .collect();
    assert_eq!(data.difference(&old_data).count(), 1, "{data:?}");
    assert!(data.is_superset(&old_data));
    let manifests = files(&env.dir.path().join("mirror/manifests"));
    for (name, bytes) in &old_manifests {
        assert_eq!(manifests.get(name), Some(bytes), "{name} unchanged");
    }

    // Backfill: a version record for every current entry, and the mark of generation 5.
    let catalog = env.catalog_keys().await;
    let records: Vec<&String> = catalog
        .iter()
        .filter(|k| k.starts_with("catalog/names/"))
        .collect();
    assert_eq!(records.len(), new.len(), "{catalog:?}");
    for e in new.entries() {
        let file_name = e.path.rsplit('/').next().unwrap();
        let prefix = format!("catalog/names/{file_name}/");
        assert!(
            records.iter().any(|k| k.starts_with(&prefix)),
            "no record of {}/{}: {catalog:?}",
            e.source,
            e.path
        );
    }
    assert!(
        catalog.contains(&"catalog/published.json".to_string()),
        "{catalog:?}"
    );
    let mark: serde_json::Value =
        serde_json::from_slice(&env.get("catalog/published.json").await).unwrap();
    assert_eq!(mark["generation"], 5, "{mark}");

    // Every archived name is found from its records and fetched in at most 3 requests,
    // from a store opened afresh (no state dir, as on a host recovering).
    let fresh = open_store(&env.config.destination).unwrap();
    for e in new.entries() {
        let want = if e.source == "wal" && e.path == wal_name(4) {
            b"wal segment 4 (being written)\n".to_vec()
        } else {
            archived_at(4)[&(e.source.clone(), e.path.clone())].clone()
        };
        let name = e.path.rsplit('/').next().unwrap();
        let counting = FaultStore::wrap(&fresh);
        let store: Store = Arc::<FaultStore>::clone(&counting);
        let found = match find_archived(&store, name, None).await.unwrap() {
            Lookup::Found(found) => found,
            other => panic!("{name} after the migration: {other:?}"),
        };
        assert_eq!(&found, e, "{name}");
        let dest = env.dir.path().join(format!("fetched-{name}"));
        download_verified(&store, &found, &dest, &|_| {})
            .await
            .unwrap_or_else(|(r, why)| panic!("fetch {name}: {r:?} {why}"));
        assert_eq!(std::fs::read(&dest).unwrap(), want, "{name}");
        let reqs = counting.requests.load(Ordering::SeqCst);
        assert!(reqs <= 3, "fetch {name} made {reqs} requests");
    }
    // A name never archived is said so, not "unindexed".
    match find_archived(&fresh, &wal_name(5), None).await.unwrap() {
        Lookup::NotArchived(g) => assert_eq!(g, GenerationNo(5)),
        other => panic!("segment 5 is held back: {other:?}"),
    }

    // The old generations still load and restore their own content.
    for g in 1..=4 {
        let index = load_at(&env.store, GenerationNo(g)).await.unwrap();
        let got: BTreeMap<(String, String), String> = index
            .entries()
            .map(|e| ((e.source.clone(), e.path.clone()), e.sha256.to_string()))
            .collect();
        let want: BTreeMap<(String, String), String> = archived_at(g)
            .into_iter()
            .map(|(k, b)| (k, sha(&b)))
            .collect();
        assert_eq!(got, want, "generation {g}");
    }
    let ws = Workspace {
        dir: tempfile::tempdir().unwrap(),
    };
    // The binary, on the migrated archive and state dir (paths made absolute).
    let at = |rel: &str| env.dir.path().join(rel).display().to_string();
    std::fs::write(
        ws.path("logferry.toml"),
        CONFIG
            .replace("url = \"mirror\"", &format!("url = \"{}\"", at("mirror")))
            .replace(
                "state_dir = \"state\"",
                &format!("state_dir = \"{}\"", at("state")),
            ),
    )
    .unwrap();
    assert_eq!(
        restore(&ws, "out-2", &["--generation", "2"]),
        by_file(&archived_at(2))
    );
    assert_eq!(
        restore(&ws, "out-4", &["--generation", "4"]),
        by_file(&archived_at(4))
    );

    // The migration is done once: a pass with nothing new writes nothing, and the next
    // generation is a format-3 delta whose new name is found the same way.
    let counting = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(r.generation, None, "{r:?}");
    assert_eq!(
        counting.writes.load(Ordering::SeqCst),
        0,
        "nothing new, nothing written"
    );
    env.write(&format!("wal/{}", wal_name(6)), &wal(6));
    let r = env.pass().await;
    assert_eq!(r.generation, Some(6), "{r:?}");
    let raw: serde_json::Value =
        serde_json::from_slice(&env.get("manifests/00000000000000000006.json").await).unwrap();
    assert_eq!(
        (&raw["version"], &raw["kind"], &raw["base"]),
        (&json!(4), &json!("delta"), &json!(5)),
        "{raw}"
    );
    let counting = FaultStore::wrap(&fresh);
    let store: Store = Arc::<FaultStore>::clone(&counting);
    match find_archived(&store, &wal_name(5), None).await.unwrap() {
        Lookup::Found(e) => assert_eq!(e.sha256.to_string(), sha(&wal(5))),
        other => panic!("segment 5 after generation 6: {other:?}"),
    }
    assert!(counting.requests.load(Ordering::SeqCst) <= 2);

    // The status history: the passes of the previous release (when its state dir was
    // kept) still read, before the three of this build.
    let o = run_ok(&ws, &["status", "--json", "-n", "100"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let generations: Vec<Option<u64>> = v
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|run| run["generation"].as_u64())
        .collect();
    let ours = [Some(5), None, Some(6)];
    if with_state {
        let old = [Some(1), Some(2), Some(3), Some(4), None];
        assert_eq!(generations, [&old[..], &ours[..]].concat(), "{v}");
    } else {
        assert_eq!(generations, ours, "{v}");
    }
}
