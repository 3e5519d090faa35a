//! Formats are promises: the encrypted archive of tests/fixtures/archive-enc1 (written by
//! the first release that encrypts; see its README.md) stays readable by this build on a
//! host with an empty state dir given the identity, and a pass on top of it commits the
//! next generation. On a copy of the fixture in a temp dir, local mirror only.

use std::path::Path;

use logferry::{config_from_toml, load_latest, open_store, restore, RestoreOptions};

use crate::common::sha;
use crate::format::copy_tree;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive-enc1");

/// The files as make.sh left them after its last pass, by `source/path`.
fn expected() -> Vec<(&'static str, Vec<u8>)> {
    let lines = |n: u32, f: &dyn Fn(u32) -> String| {
        (1..=n).map(f).collect::<Vec<_>>().join("\n").into_bytes()
    };
    vec![
        ("app/app.log.1", b"second batch".to_vec()),
        (
            "app/app.log.2",
            lines(2000, &|i| format!("GET /orders?id={i}")),
        ),
        (
            "wal/000000010000000000000001",
            lines(500, &|i| format!("wal one {i}")),
        ),
        (
            "wal/000000010000000000000002",
            b"segment two, open".to_vec(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_encrypted_archive_restores_and_takes_a_pass() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    for sub in ["data", "manifests", "catalog", "keys"] {
        copy_tree(&Path::new(FIXTURE).join(sub), &mirror.join(sub));
    }
    let id = dir.path().join("identity.txt");
    std::fs::copy(Path::new(FIXTURE).join("identity.txt"), &id).unwrap();
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = std::fs::read_to_string(&id)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    std::fs::create_dir_all(dir.path().join("logs/app")).unwrap();
    std::fs::create_dir_all(dir.path().join("logs/wal")).unwrap();
    let toml = format!(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\nencryption = \"age\"\nage_recipients = [\"{public}\"]\nidentity_file = \"identity.txt\"\n[[sources]]\nname = \"app\"\npath = \"logs/app\"\nmin_age = \"0s\"\ncompression = \"zstd\"\n[[sources]]\nname = \"wal\"\npath = \"logs/wal\"\nclosed_by = \"not-newest\"\nnames = \"immutable\"\n"
    );
    let config = config_from_toml(&toml, dir.path(), std::iter::empty()).unwrap();
    let store = open_store(&config.destination).unwrap();

    let index = load_latest(&store).await.unwrap();
    assert_eq!(index.generation().get(), 2);
    let to = dir.path().join("restored");
    let report = restore(&store, &index, &RestoreOptions::new(&to), &|_| {}).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    for (file, body) in expected() {
        let got = std::fs::read(to.join(file)).unwrap();
        assert_eq!(sha(&got), sha(&body), "{file}");
    }

    // A pass of this build on top: the archive key unwrapped into the state dir.
    std::fs::write(
        dir.path().join("logs/app/app.log.1"),
        b"after the upgrade\n",
    )
    .unwrap();
    let r = logferry::run_once(&config, &store, &logferry::SystemClock)
        .await
        .unwrap();
    assert_eq!((r.generation, r.files_uploaded), (Some(3), 1), "{r:?}");
    assert!(dir.path().join("state/archive-key.json").exists());
    let index = load_latest(&store).await.unwrap();
    assert_eq!(index.entries().count(), 4);
}
