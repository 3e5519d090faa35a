//! Model test: random sequences of create / append / rename / delete, inode reuse with a
//! restored mtime and same-size rewrites with the mtime put back, with passes in
//! between, checked against a model of what must be archived.
//!
//! After every pass, every file present must be archived at its path with its exact
//! content; every (path, content) seen at a pass must stay readable in that pass's
//! generation; and every object must hash to its entry's sha256.

use std::collections::BTreeMap;

use logferry::{load_at, GenerationNo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{sha, Backend, Env};

const SEQUENCES: u64 = 60;
const STEPS: usize = 24;
const NAMES: [&str; 7] = [
    "app.log",
    "app.log.1",
    "app.log.2",
    "db/wal.1",
    "db/wal.2",
    "x",
    "db/deep/y",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_match_the_model_on_memory() {
    for seed in 0..SEQUENCES {
        run_sequence(Backend::Memory, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_match_the_model_on_local() {
    for seed in 1000..1000 + SEQUENCES / 4 {
        run_sequence(Backend::Local, seed).await;
    }
}

/// Other bytes of the same length: every digit moved on by one (every content has one).
fn other_bytes_same_size(content: &[u8]) -> Vec<u8> {
    content
        .iter()
        .map(|&b| {
            if b.is_ascii_digit() {
                b'0' + (b - b'0' + 1) % 10
            } else {
                b
            }
        })
        .collect()
}

async fn run_sequence(backend: Backend, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let env = Env::new(backend);
    // What is on disk now.
    let mut disk: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // (generation, path, sha) that must hold in that generation.
    let mut promises: Vec<(u64, String, String)> = Vec::new();
    let mut log = Vec::new();

    for step in 0..STEPS {
        let name = NAMES[rng.random_range(0..NAMES.len())].to_string();
        match rng.random_range(0..12) {
            0..=2 => {
                // Small alphabet: contents repeat, so renames by content happen too.
                let content =
                    format!("{}\n", rng.random_range(0..6)).repeat(rng.random_range(1..4));
                env.write(&name, content.as_bytes());
                log.push(format!("write {name} {content:?}"));
                disk.insert(name, content.into_bytes());
            }
            3..=4 if disk.contains_key(&name) => {
                let extra = format!("line {step}\n");
                env.append(&name, extra.as_bytes());
                log.push(format!("append {name}"));
                disk.get_mut(&name)
                    .unwrap()
                    .extend_from_slice(extra.as_bytes());
            }
            5..=6 if disk.contains_key(&name) => {
                let to = NAMES[rng.random_range(0..NAMES.len())].to_string();
                if to != name {
                    if let Some(parent) = env.path(&to).parent() {
                        std::fs::create_dir_all(parent).unwrap();
                    }
                    env.rename(&name, &to);
                    log.push(format!("rename {name} {to}"));
                    let content = disk.remove(&name).unwrap();
                    disk.insert(to, content);
                }
            }
            7 if disk.contains_key(&name) => {
                env.remove(&name);
                log.push(format!("delete {name}"));
                disk.remove(&name);
            }
            8 if disk.contains_key(&name) => {
                // Delete, then create a file of the same size under any name with the
                // old mtime: ext4 hands it the freed inode.
                let mtime = env.mtime_of(&name);
                let content = other_bytes_same_size(&disk.remove(&name).unwrap());
                env.remove(&name);
                let to = NAMES[rng.random_range(0..NAMES.len())].to_string();
                env.write_with_mtime(&to, &content, mtime);
                log.push(format!("reuse {name} as {to}"));
                disk.insert(to, content);
            }
            9 if disk.contains_key(&name) => {
                let mtime = env.mtime_of(&name);
                let content = other_bytes_same_size(&disk[&name]);
                env.write_with_mtime(&name, &content, mtime);
                log.push(format!("rewrite {name} keeping its mtime"));
                disk.insert(name, content);
            }
            _ => {
                let r = env.pass().await;
                log.push(format!("pass -> {:?}", r.generation));
                assert_eq!(
                    (r.files_failed, r.files_changing),
                    (0, 0),
                    "seed {seed}: {log:?}"
                );
                let index = env.index().await;
                for (path, content) in &disk {
                    let e = index
                        .get("app", path)
                        .unwrap_or_else(|| panic!("seed {seed}: {path} not archived; {log:?}"));
                    assert_eq!(
                        e.sha256.to_string(),
                        sha(content),
                        "seed {seed}: {path}; {log:?}"
                    );
                    promises.push((index.generation().get(), path.clone(), sha(content)));
                }
            }
        }
    }

    let index = env.index().await;
    env.assert_objects_match(&index).await;
    let mut by_gen: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
    for (g, p, s) in promises {
        by_gen.entry(g).or_default().push((p, s));
    }
    for (g, expected) in by_gen {
        let at = load_at(&env.store, GenerationNo(g)).await.unwrap();
        for (p, s) in expected {
            assert_eq!(
                at.get("app", &p).map(|e| e.sha256.to_string()),
                Some(s),
                "seed {seed}: gen {g} {p}"
            );
        }
        env.assert_objects_match(&at).await;
    }
}
