//! The catalog's local copy in the state dir: a header naming the archive and the
//! generation it describes (`state.json`), and the manifest chain (`chain/`: a snapshot
//! of the index and the delta generations after it), so a pass that finds nothing new
//! downloads no manifest and loads no index. Only ever a copy: a missing, corrupt or
//! foreign one is rebuilt from the remote.

use serde::{Deserialize, Serialize};

use super::index::Index;
use super::manifest::{Committed, Generation, GenerationNo};
use crate::error::{Error, Result};
use crate::state::{write_atomic, StateDir, SEEN_FILE};

/// Name of the cache header in the state dir.
pub(crate) const CACHE_FILE: &str = "state.json";
/// Folder of the local copy of the manifest chain in the state dir: a snapshot of the
/// index and the delta generations after it.
pub(crate) const CHAIN_DIR: &str = "chain";
const SNAPSHOT_FILE: &str = "snapshot.json";
/// Through which generation this host wrote (or found) the version records.
const PUBLISHED_FILE: &str = "published.json";

/// What `published.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Published {
    destination: String,
    generation: GenerationNo,
}
/// Version 1 kept the whole index in `state.json`; version 2 keeps a header there, the
/// stats in `seen.json` and the manifest chain in `chain/`, so a pass with nothing new
/// reads only what is proportional to the local files.
const CACHE_VERSION: u32 = 2;

/// The cache header: which archive and which generation the cached files describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    version: u32,
    /// The destination URL (credentials removed) the cache belongs to.
    pub destination: String,
    /// The newest generation in the local chain.
    pub generation: GenerationNo,
    /// What that generation's object looked like when this host committed or read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Committed>,
}

impl StateDir {
    /// The cache header for `destination`, or `None` when there is none usable (absent,
    /// corrupt, another version — such as version 1's single file — or written for a
    /// different destination). The caller then rebuilds from the remote.
    pub fn header(&self, destination: &str) -> Option<Header> {
        let path = self.path().join(CACHE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the state cache; rebuilding from the destination");
                return None;
            }
        };
        let header: Option<Header> = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .filter(|v| {
                v.get("version").and_then(serde_json::Value::as_u64)
                    == Some(u64::from(CACHE_VERSION))
            })
            .and_then(|v| serde_json::from_value(v).ok());
        let Some(header) = header else {
            tracing::warn!(path = %path.display(), "the state cache is from another version or unreadable; rebuilding from the destination");
            return None;
        };
        if header.destination != destination {
            tracing::info!(cached = %header.destination, configured = %destination, "the state cache is for another destination; rebuilding");
            return None;
        }
        Some(header)
    }

    /// Records which archive and generation the cache describes.
    pub fn save_header(&self, destination: &str, generation: GenerationNo) -> Result<()> {
        self.save_header_committed(destination, generation, None)
    }

    /// [`StateDir::save_header`], with what the generation's object looked like.
    pub fn save_header_committed(
        &self,
        destination: &str,
        generation: GenerationNo,
        committed: Option<Committed>,
    ) -> Result<()> {
        let h = Header {
            version: CACHE_VERSION,
            destination: destination.to_string(),
            generation,
            committed,
        };
        write_atomic(
            &self.path().join(CACHE_FILE),
            &serde_json::to_vec(&h).expect("header serializes"),
        )
    }

    /// Replaces the local chain with a snapshot of `index` (after a rebuild from the
    /// remote, or a full checkpoint).
    pub fn save_snapshot(&self, index: &Index) -> Result<()> {
        let dir = self.path().join(CHAIN_DIR);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        write_atomic(
            &dir.join(SNAPSHOT_FILE),
            &serde_json::to_vec(index).expect("index serializes"),
        )
    }

    /// The delta generations of the local chain and their sizes: the exact bytes this
    /// host committed or read, so a listing tells whether the remote still holds them.
    pub fn chain_deltas(&self) -> Vec<(GenerationNo, u64)> {
        let Ok(dir) = std::fs::read_dir(self.path().join(CHAIN_DIR)) else {
            return Vec::new();
        };
        let mut out: Vec<(GenerationNo, u64)> = dir
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let g = name.strip_suffix(".json")?.parse().ok()?;
                Some((g, e.metadata().ok()?.len()))
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Appends a delta generation to the local chain.
    pub fn save_delta(&self, g: &Generation) -> Result<()> {
        self.save_delta_bytes(g.generation, &g.encode())
    }

    /// A delta generation of the local chain, when it is there and decodes.
    pub fn load_delta(&self, generation: GenerationNo) -> Option<Generation> {
        let path = self
            .path()
            .join(CHAIN_DIR)
            .join(format!("{generation:020}.json"));
        let bytes = std::fs::read(&path).ok()?;
        Generation::decode(&path.display().to_string(), &bytes).ok()
    }

    /// Appends a delta generation read from the destination, as its bytes were there.
    pub fn save_delta_bytes(&self, generation: GenerationNo, bytes: &[u8]) -> Result<()> {
        let dir = self.path().join(CHAIN_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        write_atomic(&dir.join(format!("{generation:020}.json")), bytes)
    }

    /// The index as of `generation`, from the local snapshot and the deltas after it;
    /// `None` when the chain does not reach it (the caller rebuilds from the remote).
    pub fn load_index(&self, generation: GenerationNo) -> Option<Index> {
        let dir = self.path().join(CHAIN_DIR);
        let bytes = std::fs::read(dir.join(SNAPSHOT_FILE)).ok()?;
        let mut index: Index = serde_json::from_slice(&bytes).ok()?;
        index.reindex();
        while index.generation < generation {
            let next = index.generation.next();
            let path = dir.join(format!("{next:020}.json"));
            let g = std::fs::read(&path)
                .ok()
                .and_then(|b| Generation::decode(&path.display().to_string(), &b).ok())?;
            index.apply(&g).ok()?;
        }
        (index.generation == generation).then_some(index)
    }

    /// The generation through which the destination's version records are written, as
    /// this host knows it (0: none, or unknown).
    pub fn published(&self, destination: &str) -> GenerationNo {
        std::fs::read(self.path().join(PUBLISHED_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Published>(&b).ok())
            .filter(|p| p.destination == destination)
            .map_or(GenerationNo(0), |p| p.generation)
    }

    /// Records that the version records are written through `generation`.
    pub fn save_published(&self, destination: &str, generation: GenerationNo) -> Result<()> {
        let p = Published {
            destination: destination.to_string(),
            generation,
        };
        write_atomic(
            &self.path().join(PUBLISHED_FILE),
            &serde_json::to_vec(&p).expect("mark serializes"),
        )
    }

    /// Forgets the local chain and stats (the remote no longer matches them).
    pub fn reset(&self) -> Result<()> {
        for p in [
            self.path().join(CHAIN_DIR),
            self.path().join(SEEN_FILE),
            self.path().join(CACHE_FILE),
            self.path().join(PUBLISHED_FILE),
        ] {
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &p, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_for_another_destination_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        sd.save_header("file:///a", GenerationNo(3)).unwrap();
        assert_eq!(
            sd.header("file:///a").map(|h| h.generation),
            Some(GenerationNo(3))
        );
        assert!(sd.header("file:///b").is_none());
        std::fs::write(dir.path().join(CACHE_FILE), b"garbage").unwrap();
        assert!(sd.header("file:///a").is_none());
    }

    #[test]
    fn v1_fixture_is_recognised_and_rebuilt() {
        // Version 1 kept the whole index in state.json: it reads as "no usable cache",
        // so the next pass rebuilds from the destination instead of misreading it.
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v1.json"),
            dir.path().join(CACHE_FILE),
        )
        .unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        assert!(sd.header("memory://").is_none());
    }
}
