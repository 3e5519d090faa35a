//! The catalog's local copy in the state dir: the local index (`catalog.db`, see
//! [`super::db`]), opened, migrated from what state format 2 kept (`state.json`, a
//! header naming the destination and generation, and `chain/`, a snapshot of the index
//! with the delta generations after it), and forgotten when it no longer matches the
//! remote. Only ever a copy: a missing, corrupt or foreign one is rebuilt from the
//! remote.

use std::path::Path;

use serde::Deserialize;

use super::chain::Chain;
use super::db::{LocalIndex, DB_FILE};
use super::index::Index;
use super::manifest::{Committed, Generation, GenerationNo};
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::state::StateDir;

/// State format 2's header file.
const V2_HEADER: &str = "state.json";
/// State format 2's copy of the manifest chain.
const V2_CHAIN: &str = "chain";
const V2_SNAPSHOT: &str = "snapshot.json";

/// State format 2's header.
#[derive(Debug, Deserialize)]
struct V2Header {
    version: u32,
    destination: String,
    generation: GenerationNo,
    #[serde(default)]
    committed: Option<Committed>,
}

fn remove(path: &Path) -> Result<()> {
    let r = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

impl StateDir {
    /// The local index, opened; one that is no database is removed and started afresh
    /// (the caller rebuilds it from the remote), and the files of state format 2 for
    /// `destination` are moved into a new one.
    pub(crate) fn open_index(&self, destination: &str) -> Result<LocalIndex> {
        let db = LocalIndex::open_or_reset(&self.path().join(DB_FILE))?;
        if db.destination()?.is_none() && self.path().join(V2_HEADER).exists() {
            self.migrate_v2(&db, destination)?;
        }
        Ok(db)
    }

    /// Moves state format 2's header and chain into `db`: the snapshot, then each delta
    /// after it, with the size and hash of each delta's bytes as they were committed or
    /// read. Unusable files (another destination, a broken chain) are dropped, and the
    /// next pass rebuilds from the remote; either way they are removed.
    fn migrate_v2(&self, db: &LocalIndex, destination: &str) -> Result<()> {
        match self.import_v2(db, destination) {
            Ok(Some(g)) => tracing::info!(
                generation = g.get(),
                "moved the state dir's catalog into catalog.db"
            ),
            Ok(None) => {}
            Err(e) => {
                db.abandon();
                tracing::warn!(error = %e.chain(), "the state dir's old catalog cannot be moved; rebuilding from the destination");
            }
        }
        remove(&self.path().join(V2_CHAIN))?;
        remove(&self.path().join(V2_HEADER))
    }

    fn import_v2(&self, db: &LocalIndex, destination: &str) -> Result<Option<GenerationNo>> {
        let dir = self.path();
        let bad = |path: &Path, message: String| Error::Format {
            what: "state file",
            location: path.display().to_string(),
            message,
        };
        let header_path = dir.join(V2_HEADER);
        let header: V2Header = match std::fs::read(&header_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(h) => h,
            None => return Ok(None),
        };
        if header.version != 2 || header.destination != destination {
            return Ok(None);
        }
        let chain_dir = dir.join(V2_CHAIN);
        let snapshot_path = chain_dir.join(V2_SNAPSHOT);
        let bytes =
            std::fs::read(&snapshot_path).map_err(|e| Error::io("read", &snapshot_path, e))?;
        let snapshot: Index =
            serde_json::from_slice(&bytes).map_err(|e| bad(&snapshot_path, e.to_string()))?;
        db.reset(destination)?;
        db.begin()?;
        db.put(&snapshot.entries().cloned().collect::<Vec<_>>())?;
        let mut chain: Chain = snapshot.chain.clone();
        while chain.generation < header.generation {
            let next = chain.generation.next();
            let path = chain_dir.join(format!("{next:020}.json"));
            let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            let g = Generation::decode(&path.display().to_string(), &bytes)?;
            chain = chain.after(&g).map_err(|m| bad(&path, m))?;
            db.put(&g.entries)?;
            let committed = match (&header.committed, next == header.generation) {
                (Some(c), true) => c.clone(),
                _ => Committed {
                    size: bytes.len() as u64,
                    e_tag: None,
                },
            };
            db.remember(next, &committed, &ContentHash::of(&bytes), false)?;
        }
        if chain.generation != header.generation {
            return Err(bad(
                &snapshot_path,
                format!(
                    "ends at generation {}, not {}",
                    chain.generation, header.generation
                ),
            ));
        }
        db.finish(&chain)?;
        Ok(Some(chain.generation))
    }

    /// Forgets the local index and the stats (the remote no longer matches them), and
    /// starts describing `destination` afresh.
    pub(crate) fn reset_catalog(&self, db: &LocalIndex, destination: &str) -> Result<()> {
        db.reset(destination)?;
        self.forget_seen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_2_state_dir_moves_into_the_local_index() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v2");
        copy_dir(Path::new(fixture), dir.path());
        let header: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(V2_HEADER)).unwrap()).unwrap();
        let destination = header["destination"].as_str().unwrap().to_string();
        let sd = StateDir::lock(dir.path()).unwrap();
        let db = sd.open_index(&destination).unwrap();
        assert_eq!(
            db.destination().unwrap().as_deref(),
            Some(destination.as_str())
        );
        assert_eq!(db.generation().unwrap(), GenerationNo(4));
        assert_eq!(db.len().unwrap(), 10, "every current entry of the fixture");
        let remembered = db.remembered().unwrap();
        assert_eq!(
            remembered
                .iter()
                .map(|r| r.generation.get())
                .collect::<Vec<_>>(),
            [2, 3, 4],
            "the deltas after the snapshot"
        );
        assert!(
            remembered[2].committed.e_tag.is_some(),
            "the head's ETag is kept"
        );
        assert!(!dir.path().join(V2_CHAIN).exists() && !dir.path().join(V2_HEADER).exists());
        assert!(
            dir.path().join("seen.json").exists(),
            "the stat cache stays"
        );
        // Opened again: nothing more to move.
        drop(db);
        assert_eq!(sd.open_index(&destination).unwrap().len().unwrap(), 10);
    }

    #[test]
    fn a_format_2_state_dir_of_another_destination_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v2");
        copy_dir(Path::new(fixture), dir.path());
        let sd = StateDir::lock(dir.path()).unwrap();
        let db = sd.open_index("file:///elsewhere").unwrap();
        assert_eq!((db.destination().unwrap(), db.len().unwrap()), (None, 0));
        assert!(!dir.path().join(V2_CHAIN).exists());
    }

    #[test]
    fn a_state_v1_file_is_dropped_and_rebuilt() {
        // Version 1 kept the whole index in state.json: it is no usable copy.
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v1.json"),
            dir.path().join(V2_HEADER),
        )
        .unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        let db = sd.open_index("memory://").unwrap();
        assert_eq!(db.generation().unwrap(), GenerationNo(0));
        assert!(!dir.path().join(V2_HEADER).exists());
    }

    #[test]
    fn an_unreadable_local_index_is_started_afresh() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), vec![7u8; 8192]).unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        let db = sd.open_index("memory://").unwrap();
        assert_eq!(db.len().unwrap(), 0);
    }

    fn copy_dir(from: &Path, to: &Path) {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
}
