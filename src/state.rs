//! The state dir: a lock that keeps one agent per state dir, and a local cache of the
//! archive index plus the last stat of every archived file, so a pass that finds nothing
//! new reads no file content and needs no manifest download.
//!
//! The cache is only ever a copy: the remote manifests are the truth, and a missing,
//! corrupt or foreign cache is rebuilt from them.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::index::{FileId, Index};
use crate::scan::FileStat;

/// Name of the lock file in the state dir.
pub const LOCK_FILE: &str = "lock";
/// Name of the cache file in the state dir.
pub const CACHE_FILE: &str = "state.json";
const CACHE_VERSION: u32 = 1;

/// The last stat of a file and the content it had then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Stat at the time it was hashed.
    pub stat: FileStat,
    /// Its content hash then.
    pub sha256: ContentHash,
    /// When the pass that hashed it started, nanoseconds since the Unix epoch.
    #[serde(default)]
    pub seen_at_ns: i64,
}

/// How much older than the pass that hashed it a file's mtime must be before its stat is
/// trusted to stand for its content. Within this window a same-size rewrite could keep
/// the same (coarse) mtime, so such files are hashed again (the "racy git" problem).
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

impl Seen {
    /// Whether an equal stat proves equal content.
    pub fn is_trusted(&self) -> bool {
        self.stat.mtime_ns.saturating_add(RACY_MARGIN_NS) <= self.seen_at_ns
    }
}

/// What the state dir remembers between passes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalState {
    /// The archive as of the last generation this host saw.
    pub index: Index,
    /// Stat and hash of files, for the quick check.
    pub seen: BTreeMap<FileId, Seen>,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    destination: String,
    index: Index,
    seen: Vec<SeenRecord>,
}

#[derive(Serialize, Deserialize)]
struct SeenRecord {
    source: String,
    path: String,
    #[serde(flatten)]
    seen: Seen,
}

/// A state dir held by this process until dropped.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Creates the dir if needed and takes its lock, or fails with [`Error::Locked`].
    pub fn lock(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| Error::io("create state dir", path, e))?;
        let lock_path = path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io("open lock file", &lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: lock_path,
                    holder: (!holder.is_empty()).then(|| holder.to_string()),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }
        file.set_len(0)
            .map_err(|e| Error::io("write", &lock_path, e))?;
        file.rewind()
            .map_err(|e| Error::io("write", &lock_path, e))?;
        write!(file, "{}", std::process::id()).map_err(|e| Error::io("write", &lock_path, e))?;
        Ok(StateDir {
            path: path.to_path_buf(),
            _lock: file,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached state for `destination`, or `None` when there is none usable (absent,
    /// corrupt, another version, or written for a different destination).
    pub fn load(&self, destination: &str) -> Option<LocalState> {
        let path = self.path.join(CACHE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read state cache; rebuilding from the destination");
                return None;
            }
        };
        let file: CacheFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "state cache is unreadable; rebuilding from the destination");
                return None;
            }
        };
        if file.version != CACHE_VERSION {
            tracing::warn!(path = %path.display(), version = file.version, "state cache has another version; rebuilding");
            return None;
        }
        if file.destination != destination {
            tracing::info!(cached = %file.destination, configured = %destination, "state cache is for another destination; rebuilding");
            return None;
        }
        let mut index = file.index;
        index.reindex();
        let seen = file
            .seen
            .into_iter()
            .map(|r| ((r.source, r.path), r.seen))
            .collect();
        Some(LocalState { index, seen })
    }

    /// Replaces the cache atomically.
    pub fn save(&self, destination: &str, state: &LocalState) -> Result<()> {
        let file = CacheFile {
            version: CACHE_VERSION,
            destination: destination.to_string(),
            index: state.index.clone(),
            seen: state
                .seen
                .iter()
                .map(|((source, path), seen)| SeenRecord {
                    source: source.clone(),
                    path: path.clone(),
                    seen: *seen,
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&file).expect("state serializes");
        write_atomic(&self.path.join(CACHE_FILE), &bytes)
    }
}

/// Writes `bytes` to `path` through a temp file, fsync and rename, so a crash leaves
/// either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("write", path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _held = StateDir::lock(dir.path()).unwrap();
        let err = StateDir::lock(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
    }

    #[test]
    fn cache_for_another_destination_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        sd.save("file:///a", &LocalState::default()).unwrap();
        assert!(sd.load("file:///a").is_some());
        assert!(sd.load("file:///b").is_none());
        std::fs::write(dir.path().join(CACHE_FILE), b"garbage").unwrap();
        assert!(sd.load("file:///a").is_none());
    }

    #[test]
    fn v1_fixture_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v1.json"),
            dir.path().join(CACHE_FILE),
        )
        .unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        let state = sd.load("memory://").expect("v1 cache loads");
        assert_eq!((state.index.generation, state.index.len()), (2, 2));
        let seen = state.seen[&("app".to_string(), "app.log.2".to_string())];
        assert_eq!((seen.stat.ino, seen.stat.size), (131, 4));
        assert!(seen.is_trusted());
        let key = &state
            .index
            .object_for(&seen.sha256)
            .expect("hash lookup rebuilt");
        assert!(key.key.starts_with("data/app/app.log.1-"));
    }
}
