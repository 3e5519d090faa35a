//! Formats are promises: an archive written by release 7c8d0d1 (manifest format 3 with
//! its catalog: a version record per archived version, the published mark and the part
//! of a fold; see tests/fixtures/archive-v3/README.md) stays readable as it is, and a
//! pass of this build on top of it commits the next generation without losing a
//! version. On a copy of the fixture in a temp dir, local mirror only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use logferry::{config_from_toml, find_archived, load_at, open_store, GenerationNo, Lookup, Store};

use crate::cli::{code, stderr, stdout, Workspace};
use crate::common::{sha, FaultStore};
use crate::format::{app, audit, copy_tree, files, restore, run_ok, wal, wal_name, worker, CONFIG};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive-v3");

/// The last generation of the fixture.
const LATEST: u64 = 11;

/// `source/path` → (bytes, mtime).
type Files = BTreeMap<String, (Vec<u8>, SystemTime)>;

/// 2026-11-10T10:00:00Z plus `day` days and `second` seconds, as make.sh's `put`.
fn at(day: u64, second: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_794_304_800 + day * 86_400 + second)
}

/// The log dirs as make.sh left them after pass `n` (1 to 11; pass 12 changed nothing).
fn logs_after(n: u32) -> Files {
    let mut f = Files::new();
    let put = |f: &mut Files, p: &str, b: Vec<u8>, day: u64, second: u64| {
        f.insert(p.to_string(), (b, at(day, second)));
    };
    let mv = |f: &mut Files, from: &str, to: &str| {
        let v = f.remove(from).unwrap();
        f.insert(to.to_string(), v);
    };
    for pass in 1..=n {
        match pass {
            1 => {
                put(
                    &mut f,
                    "app/app.log",
                    b"live line, never archived\n".to_vec(),
                    0,
                    0,
                );
                put(&mut f, "app/app.log.1", app(1), 0, 1);
                put(&mut f, "app/sub/worker.log.1", worker(1), 0, 2);
                put(&mut f, &format!("wal/{}", wal_name(1)), wal(1), 0, 3);
                put(&mut f, &format!("wal/{}", wal_name(2)), wal(2), 0, 4);
                put(&mut f, "audit/audit.log.1", audit(1), 0, 5);
            }
            2 => {
                mv(&mut f, "app/app.log.1", "app/app.log.2");
                put(&mut f, "app/app.log.1", app(2), 1, 1);
            }
            3 => {
                mv(&mut f, "app/app.log.2", "app/app.log.3");
                mv(&mut f, "app/app.log.1", "app/app.log.2");
                put(&mut f, "app/app.log.1", app(3), 2, 1);
                mv(&mut f, "app/sub/worker.log.1", "app/sub/worker.log.2");
                put(&mut f, "app/sub/worker.log.1", worker(2), 2, 2);
            }
            4 => {
                mv(&mut f, "audit/audit.log.1", "audit/audit.log.2");
                put(&mut f, "audit/audit.log.1", audit(2), 3, 5);
            }
            10 => put(&mut f, "app/app.log.1", app(4), 9, 1),
            _ => {}
        }
        // From pass 2 on, each pass writes segment pass + 1 (closing the one before).
        if pass >= 2 {
            let day = u64::from(pass) - 1;
            put(
                &mut f,
                &format!("wal/{}", wal_name(pass + 1)),
                wal(pass + 1),
                day,
                3,
            );
        }
    }
    f
}

/// What generation `g` holds: the log dirs after pass `g` without the live app.log and
/// the newest WAL segment (held back).
fn archived_at(g: u64) -> Files {
    let mut f = logs_after(u32::try_from(g).unwrap());
    f.remove("app/app.log");
    let newest = f.keys().filter(|k| k.starts_with("wal/")).max().cloned();
    f.remove(&newest.unwrap());
    f
}

fn bytes_of(f: &Files) -> BTreeMap<String, Vec<u8>> {
    f.iter().map(|(k, (b, _))| (k.clone(), b.clone())).collect()
}

/// (`source/path`, sha256) of the files.
fn shas(f: &Files) -> BTreeSet<(String, String)> {
    f.iter().map(|(k, (b, _))| (k.clone(), sha(b))).collect()
}

/// (`source/path`, sha256) of each row of a `--json` listing, in its order.
fn rows(ws: &Workspace, args: &[&str]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&stdout(&run_ok(ws, args))).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (s, p) = (e["source"].as_str().unwrap(), e["path"].as_str().unwrap());
            (
                format!("{s}/{p}"),
                e["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A workspace holding the fixture's archive as `mirror/` (no state dir: a host
/// recovering, or a reader elsewhere).
fn install() -> Workspace {
    let ws = Workspace {
        dir: tempfile::tempdir().unwrap(),
    };
    for part in ["data", "manifests", "catalog"] {
        copy_tree(
            &Path::new(FIXTURE).join(part),
            &ws.path("mirror").join(part),
        );
    }
    ws.config(CONFIG);
    ws
}

/// Restores generation `g` (the latest when `None`) and checks every byte and mtime.
fn restores(ws: &Workspace, g: Option<u64>, want: &Files) {
    let (name, extra) = match g {
        Some(g) => (
            format!("out-{g}"),
            vec!["--generation".to_string(), g.to_string()],
        ),
        None => ("out".to_string(), vec![]),
    };
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    assert_eq!(restore(ws, &name, &extra), bytes_of(want), "restore {g:?}");
    for (file, (_, mtime)) in want {
        let m = std::fs::metadata(ws.path(&name).join(file)).unwrap();
        assert_eq!(m.modified().unwrap(), *mtime, "mtime of {file} ({g:?})");
    }
}

fn fetches(ws: &Workspace, name: &str, want: &[u8]) {
    let dest = ws.path(&format!("fetched-{name}"));
    run_ok(ws, &["fetch", name, dest.to_str().unwrap()]);
    assert_eq!(std::fs::read(&dest).unwrap(), want, "fetch {name}");
}

/// `verify --read-data`: every object there and intact, nothing else found.
fn verifies(ws: &Workspace, generations: u64) {
    let o = run_ok(ws, &["verify", "--read-data", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let r = &v[0];
    for problem in [
        "missing",
        "corrupt",
        "orphaned",
        "unaccounted",
        "missing_generations",
        "damaged_generations",
    ] {
        assert_eq!(r[problem], serde_json::json!([]), "{problem}: {v}");
    }
    assert_eq!(r["objects_read"], r["objects"], "{v}");
    assert_eq!(r["generations"], generations, "{v}");
}

/// The generation numbers of the archive, in order.
fn generations(ws: &Workspace) -> Vec<u64> {
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run_ok(ws, &["generations", "--json"]))).unwrap();
    let mut g: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["generation"].as_u64().unwrap())
        .collect();
    g.sort();
    g
}

#[test]
fn the_format_3_archive_reads_as_it_is() {
    let ws = install();
    let before = files(&ws.path("mirror"));
    // The fixture is what its README says: format 3, generation 10 the first to name a
    // fold (of generations 2 to 9), whose entries are in the one part object.
    let raw: serde_json::Value =
        serde_json::from_slice(&before["manifests/00000000000000000010.json"]).unwrap();
    assert_eq!(raw["version"], 3);
    assert_eq!(
        (&raw["runs"][0]["from"], &raw["runs"][0]["to"]),
        (&1.into(), &9.into())
    );
    let parts: Vec<&String> = before
        .keys()
        .filter(|k| k.starts_with("catalog/parts/"))
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");

    // ls: the latest generation, every entry with the content it archived.
    assert_eq!(
        rows(&ws, &["ls", "--json"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        shas(&archived_at(LATEST))
    );

    // restore: byte for byte with the archived mtimes, the latest and older generations
    // (1: the checkpoint alone; 9: the last read from level-0 runs; 10: the first
    // through the fold).
    restores(&ws, None, &archived_at(LATEST));
    for g in [1, 9, 10] {
        restores(&ws, Some(g), &archived_at(g));
    }

    // fetch by file name: a name with four versions (its newest), a rotated name, one in
    // a subdir, WAL segments from inside the fold and after it, a zstd object; a
    // segment never archived is exit 1, as PostgreSQL needs.
    fetches(&ws, "app.log.1", &app(4));
    fetches(&ws, "app.log.2", &app(2));
    fetches(&ws, "worker.log.1", &worker(2));
    fetches(&ws, &wal_name(5), &wal(5));
    fetches(&ws, &wal_name(11), &wal(11));
    fetches(&ws, "audit.log.1", &audit(2));
    let o = ws.run(&["fetch", &wal_name(12), ws.path("no").to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    // generations: one full checkpoint and ten deltas on it, as written.
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&run_ok(&ws, &["generations", "--json"]))).unwrap();
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
    let entries = [4, 3, 6, 3, 1, 1, 1, 1, 1, 2, 1];
    let want: Vec<(u64, String, u64, u64)> = (1..=LATEST)
        .zip(entries)
        .map(|(g, n)| (g, if g == 1 { "full" } else { "delta" }.to_string(), 1, n))
        .collect();
    assert_eq!(gens, want);

    // ls --all-versions: every content each path ever held, once.
    let mut all = rows(&ws, &["ls", "--all-versions", "--json"]);
    all.sort();
    let expected: BTreeSet<(String, String)> =
        (1..=LATEST).flat_map(|g| shas(&archived_at(g))).collect();
    assert_eq!(all, expected.into_iter().collect::<Vec<_>>());
    assert_eq!(all.len(), 24, "{all:?}");

    verifies(&ws, LATEST);

    // Reading wrote nothing to the archive.
    assert_eq!(files(&ws.path("mirror")), before);
}

#[tokio::test]
async fn the_format_3_archive_finds_every_name_from_its_version_records() {
    let ws = install();
    let config = config_from_toml(CONFIG, ws.dir.path(), std::iter::empty()).unwrap();
    let store = open_store(&config.destination).unwrap();
    for ((source, path), hash) in shas(&archived_at(LATEST)).into_iter().map(|(k, h)| {
        (
            k.split_once('/')
                .map(|(s, p)| (s.to_string(), p.to_string()))
                .unwrap(),
            h,
        )
    }) {
        let name = path.rsplit('/').next().unwrap();
        let counting = FaultStore::wrap(&store);
        let counted: Store = Arc::<FaultStore>::clone(&counting);
        match find_archived(&counted, name, None).await.unwrap() {
            Lookup::Found(e) => {
                assert_eq!((&e.source, &e.path), (&source, &path), "{name}");
                assert_eq!(e.sha256.to_string(), hash, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let reqs = counting.requests.load(Ordering::SeqCst);
        assert!(reqs <= 2, "looking up {name} made {reqs} requests");
    }
    match find_archived(&store, &wal_name(12), None).await.unwrap() {
        Lookup::NotArchived(g) => assert_eq!(g, GenerationNo(LATEST)),
        other => panic!("segment 12 is held back: {other:?}"),
    }
    // Every generation loads as it was (through the fold's part from generation 10 on).
    for g in 1..=LATEST {
        let index = load_at(&store, GenerationNo(g)).await.unwrap();
        let got: BTreeSet<(String, String)> = index
            .entries()
            .map(|e| (format!("{}/{}", e.source, e.path), e.sha256.to_string()))
            .collect();
        assert_eq!(got, shas(&archived_at(g)), "generation {g}");
    }
}

#[test]
fn a_pass_on_the_format_3_archive_commits_the_next_generation() {
    let ws = install();
    let old_manifests = files(&ws.path("mirror/manifests"));
    let old_data: BTreeSet<String> = files(&ws.path("mirror/data")).into_keys().collect();

    // The host's log dirs as the last pass of the old release left them, and two new
    // files: a worker log, and WAL segment 13, which closes segment 12.
    let now = SystemTime::now() - Duration::from_secs(3600);
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let mut logs = logs_after(u32::try_from(LATEST).unwrap());
    logs.insert("app/sub/worker.log.3".into(), (worker(3), now));
    logs.insert(
        format!("wal/{}", wal_name(13)),
        (wal(13), now + Duration::from_secs(1)),
    );
    for (rel, (bytes, mtime)) in &logs {
        let p = ws.path("logs").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(*mtime))
            .unwrap();
    }
    let mut latest = archived_at(LATEST);
    latest.insert(
        "app/sub/worker.log.3".into(),
        logs["app/sub/worker.log.3"].clone(),
    );
    let seg12 = format!("wal/{}", wal_name(12));
    latest.insert(seg12.clone(), logs[&seg12].clone());

    run_ok(&ws, &["--run-once"]);
    let next = LATEST + 1;
    assert_eq!(generations(&ws), (1..=next).collect::<Vec<_>>());

    // Only the two new files were uploaded; the old generations are the bytes the old
    // release wrote.
    let data: BTreeSet<String> = files(&ws.path("mirror/data")).into_keys().collect();
    assert!(data.is_superset(&old_data));
    assert_eq!(data.difference(&old_data).count(), 2, "{data:?}");
    let manifests = files(&ws.path("mirror/manifests"));
    for (name, bytes) in &old_manifests {
        assert_eq!(manifests.get(name), Some(bytes), "{name} unchanged");
    }

    // Everything old and new lists, restores, fetches and verifies.
    assert_eq!(
        rows(&ws, &["ls", "--json"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        shas(&latest)
    );
    restores(&ws, None, &latest);
    for g in [1, 10, LATEST] {
        restores(&ws, Some(g), &archived_at(g));
    }
    fetches(&ws, "worker.log.3", &worker(3));
    fetches(&ws, &wal_name(12), &wal(12));
    fetches(&ws, &wal_name(3), &wal(3));
    fetches(&ws, "app.log.1", &app(4));
    let mut all = rows(&ws, &["ls", "--all-versions", "--json"]);
    all.sort();
    let mut expected: BTreeSet<(String, String)> =
        (1..=LATEST).flat_map(|g| shas(&archived_at(g))).collect();
    expected.extend(shas(&latest));
    assert_eq!(all, expected.into_iter().collect::<Vec<_>>());
    verifies(&ws, next);

    // Nothing new: no generation.
    run_ok(&ws, &["--run-once"]);
    assert_eq!(generations(&ws), (1..=next).collect::<Vec<_>>());
}
