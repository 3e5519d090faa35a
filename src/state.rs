//! The state dir: a lock that keeps one agent per state dir, and a local cache — the
//! last stat of every archived local file, and a copy of the manifest chain — so a pass
//! that finds nothing new reads no file content, downloads no manifest and loads no index.
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
use crate::manifest::{Committed, Generation};
use crate::scan::{Ahead, AheadMap, FileStat};

/// Name of the lock file in the state dir.
pub const LOCK_FILE: &str = "lock";
/// How long taking the lock may wait for a holder that is just letting go.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);
/// Name of the cache header in the state dir.
pub const CACHE_FILE: &str = "state.json";
/// Name of the stat cache in the state dir.
pub const SEEN_FILE: &str = "seen.json";
/// Name of the file that remembers local files with an mtime ahead of the clock.
pub const AHEAD_FILE: &str = "ahead.json";
const AHEAD_VERSION: u32 = 1;
/// Folder of the local copy of the manifest chain in the state dir: a snapshot of the
/// index and the delta generations after it.
pub const CHAIN_DIR: &str = "chain";
const SNAPSHOT_FILE: &str = "snapshot.json";
/// Version 1 kept the whole index in `state.json`; version 2 keeps a header there, the
/// stats in `seen.json` and the manifest chain in `chain/`, so a pass with nothing new
/// reads only what is proportional to the local files.
const CACHE_VERSION: u32 = 2;
/// Version 3 adds the ctime and birth time to each record; a version-2 file (stats
/// without them, which cannot prove identity) reads as empty, so every file is hashed
/// once more and nothing is trusted on a weaker identity.
const SEEN_VERSION: u32 = 3;

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

/// The cache header: which archive and which generation the cached files describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    version: u32,
    /// The destination URL (credentials removed) the cache belongs to.
    pub destination: String,
    /// The newest generation in the local chain.
    pub generation: u64,
    /// What that generation's object looked like when this host committed or read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Committed>,
}

#[derive(Serialize, Deserialize)]
struct SeenFile {
    version: u32,
    seen: Vec<SeenRecord>,
}

/// One line of `seen.json`, flat (no nested objects) because it is read on every pass.
#[derive(Serialize, Deserialize)]
struct SeenRecord {
    source: String,
    path: String,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    btime_ns: Option<i64>,
    sha256: ContentHash,
    seen_at_ns: i64,
}

#[derive(Serialize, Deserialize)]
struct AheadFile {
    version: u32,
    files: Vec<AheadRecord>,
}

#[derive(Serialize, Deserialize)]
struct AheadRecord {
    source: String,
    path: String,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    btime_ns: Option<i64>,
    first_seen_ns: i64,
}

/// A state dir held by this process until dropped.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: Option<File>,
}

impl StateDir {
    /// Creates the dir if needed and takes its lock, or fails with [`Error::Locked`].
    pub fn lock(path: &Path) -> Result<Self> {
        Self::lock_within(path, LOCK_PATIENCE)
    }

    fn lock_within(path: &Path, patience: std::time::Duration) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| Error::io("create state dir", path, e))?;
        let lock_path = path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io("open lock file", &lock_path, e))?;
        // A lock just released can stay held for a moment by a child process forked in
        // between (it shares the open file until it execs): retry briefly before
        // deciding that another agent holds it.
        let deadline = std::time::Instant::now() + patience;
        let mut attempt = file.try_lock();
        while matches!(attempt, Err(TryLockError::WouldBlock))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
            attempt = file.try_lock();
        }
        match attempt {
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
            _lock: Some(file),
        })
    }

    /// The state dir for reading only, without its lock (beside a running agent).
    pub fn read_only(path: &Path) -> Self {
        StateDir {
            path: path.to_path_buf(),
            _lock: None,
        }
    }

    /// The pid written by the agent holding the lock, when one does.
    pub fn holder(path: &Path) -> Option<u32> {
        // One attempt: a probe has no reason to wait for a holder letting go.
        match StateDir::lock_within(path, std::time::Duration::ZERO) {
            Err(Error::Locked { holder, .. }) => holder?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cache header for `destination`, or `None` when there is none usable (absent,
    /// corrupt, another version — such as version 1's single file — or written for a
    /// different destination). The caller then rebuilds from the remote.
    pub fn header(&self, destination: &str) -> Option<Header> {
        let path = self.path.join(CACHE_FILE);
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
    pub fn save_header(&self, destination: &str, generation: u64) -> Result<()> {
        self.save_header_committed(destination, generation, None)
    }

    /// [`StateDir::save_header`], with what the generation's object looked like.
    pub fn save_header_committed(
        &self,
        destination: &str,
        generation: u64,
        committed: Option<Committed>,
    ) -> Result<()> {
        let h = Header {
            version: CACHE_VERSION,
            destination: destination.to_string(),
            generation,
            committed,
        };
        write_atomic(
            &self.path.join(CACHE_FILE),
            &serde_json::to_vec(&h).expect("header serializes"),
        )
    }

    /// The last stat and hash of local files (empty when absent or unreadable).
    pub fn seen(&self) -> BTreeMap<FileId, Seen> {
        let Some(f) = read_cache::<SeenFile>(
            &self.path.join(SEEN_FILE),
            |f| f.version == SEEN_VERSION,
            "the stat cache is unreadable or of another version; files will be hashed again",
        ) else {
            return BTreeMap::new();
        };
        f.seen
            .into_iter()
            .map(|r| {
                let stat = FileStat {
                    dev: r.dev,
                    ino: r.ino,
                    size: r.size,
                    mtime_ns: r.mtime_ns,
                    ctime_ns: r.ctime_ns,
                    btime_ns: r.btime_ns,
                };
                let seen = Seen {
                    stat,
                    sha256: r.sha256,
                    seen_at_ns: r.seen_at_ns,
                };
                ((r.source, r.path), seen)
            })
            .collect()
    }

    /// Replaces the stat cache.
    pub fn save_seen(&self, seen: &BTreeMap<FileId, Seen>) -> Result<()> {
        let file = SeenFile {
            version: SEEN_VERSION,
            seen: seen
                .iter()
                .map(|((source, path), s)| SeenRecord {
                    source: source.clone(),
                    path: path.clone(),
                    dev: s.stat.dev,
                    ino: s.stat.ino,
                    size: s.stat.size,
                    mtime_ns: s.stat.mtime_ns,
                    ctime_ns: s.stat.ctime_ns,
                    btime_ns: s.stat.btime_ns,
                    sha256: s.sha256,
                    seen_at_ns: s.seen_at_ns,
                })
                .collect(),
        };
        write_atomic(
            &self.path.join(SEEN_FILE),
            &serde_json::to_vec(&file).expect("seen serializes"),
        )
    }

    /// Local files last seen with an mtime ahead of the clock (empty when absent or
    /// unreadable: their quiet time then starts again).
    pub fn ahead(&self) -> AheadMap {
        let Some(f) = read_cache::<AheadFile>(
            &self.path.join(AHEAD_FILE),
            |f| f.version == AHEAD_VERSION,
            "unreadable; files with an mtime ahead of the clock wait min_age again",
        ) else {
            return AheadMap::new();
        };
        f.files
            .into_iter()
            .map(|r| {
                let stat = FileStat {
                    dev: r.dev,
                    ino: r.ino,
                    size: r.size,
                    mtime_ns: r.mtime_ns,
                    ctime_ns: r.ctime_ns,
                    btime_ns: r.btime_ns,
                };
                let ahead = Ahead {
                    stat,
                    first_seen_ns: r.first_seen_ns,
                };
                ((r.source, r.path), ahead)
            })
            .collect()
    }

    /// Replaces the record of files with an mtime ahead of the clock (removes it when
    /// there are none).
    pub fn save_ahead(&self, ahead: &AheadMap) -> Result<()> {
        let path = self.path.join(AHEAD_FILE);
        if ahead.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io("remove", &path, e))
                }
                _ => Ok(()),
            };
        }
        let file = AheadFile {
            version: AHEAD_VERSION,
            files: ahead
                .iter()
                .map(|((source, path), a)| AheadRecord {
                    source: source.clone(),
                    path: path.clone(),
                    dev: a.stat.dev,
                    ino: a.stat.ino,
                    size: a.stat.size,
                    mtime_ns: a.stat.mtime_ns,
                    ctime_ns: a.stat.ctime_ns,
                    btime_ns: a.stat.btime_ns,
                    first_seen_ns: a.first_seen_ns,
                })
                .collect(),
        };
        write_atomic(&path, &serde_json::to_vec(&file).expect("ahead serializes"))
    }

    /// Replaces the local chain with a snapshot of `index` (after a rebuild from the
    /// remote, or a full checkpoint).
    pub fn save_snapshot(&self, index: &Index) -> Result<()> {
        let dir = self.path.join(CHAIN_DIR);
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
    pub fn chain_deltas(&self) -> Vec<(u64, u64)> {
        let Ok(dir) = std::fs::read_dir(self.path.join(CHAIN_DIR)) else {
            return Vec::new();
        };
        let mut out: Vec<(u64, u64)> = dir
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
    pub fn load_delta(&self, generation: u64) -> Option<Generation> {
        let path = self
            .path
            .join(CHAIN_DIR)
            .join(format!("{generation:020}.json"));
        let bytes = std::fs::read(&path).ok()?;
        Generation::decode(&path.display().to_string(), &bytes).ok()
    }

    /// Appends a delta generation read from the destination, as its bytes were there.
    pub fn save_delta_bytes(&self, generation: u64, bytes: &[u8]) -> Result<()> {
        let dir = self.path.join(CHAIN_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        write_atomic(&dir.join(format!("{generation:020}.json")), bytes)
    }

    /// The index as of `generation`, from the local snapshot and the deltas after it;
    /// `None` when the chain does not reach it (the caller rebuilds from the remote).
    pub fn load_index(&self, generation: u64) -> Option<Index> {
        let dir = self.path.join(CHAIN_DIR);
        let bytes = std::fs::read(dir.join(SNAPSHOT_FILE)).ok()?;
        let mut index: Index = serde_json::from_slice(&bytes).ok()?;
        index.reindex();
        while index.generation < generation {
            let next = index.generation + 1;
            let path = dir.join(format!("{next:020}.json"));
            let g = std::fs::read(&path)
                .ok()
                .and_then(|b| Generation::decode(&path.display().to_string(), &b).ok())?;
            index.apply(&g).ok()?;
        }
        (index.generation == generation).then_some(index)
    }

    /// Forgets the local chain and stats (the remote no longer matches them).
    pub fn reset(&self) -> Result<()> {
        for p in [
            self.path.join(CHAIN_DIR),
            self.path.join(SEEN_FILE),
            self.path.join(CACHE_FILE),
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

/// A JSON cache file of the state dir: `None` when absent, and also (with a warning that
/// says what follows) when unreadable or of another version: a cache is only ever a copy.
fn read_cache<T: serde::de::DeserializeOwned>(
    path: &Path,
    known_version: fn(&T) -> bool,
    consequence: &str,
) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice::<T>(&bytes) {
        Ok(f) if known_version(&f) => Some(f),
        _ => {
            tracing::warn!(path = %path.display(), "{consequence}");
            None
        }
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
    use crate::scan::FileStat;

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
        sd.save_header("file:///a", 3).unwrap();
        assert_eq!(sd.header("file:///a").map(|h| h.generation), Some(3));
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

    /// A stat with every field set.
    fn sample_stat() -> FileStat {
        FileStat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
            btime_ns: Some(6),
        }
    }

    #[test]
    fn seen_round_trips_and_reset_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        let stat = sample_stat();
        let mut seen = BTreeMap::new();
        seen.insert(
            ("app".to_string(), "a.log".to_string()),
            Seen {
                stat,
                sha256: ContentHash::of(b"abc"),
                seen_at_ns: 9_000_000_000,
            },
        );
        sd.save_seen(&seen).unwrap();
        sd.save_header("memory://", 1).unwrap();
        assert_eq!(sd.seen(), seen);
        sd.reset().unwrap();
        assert!(sd.seen().is_empty() && sd.header("memory://").is_none());
    }

    #[test]
    fn ahead_round_trips_and_an_empty_record_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        assert!(sd.ahead().is_empty());
        let stat = sample_stat();
        let mut ahead = AheadMap::new();
        ahead.insert(
            ("app".to_string(), "a.log".to_string()),
            Ahead {
                stat,
                first_seen_ns: 5,
            },
        );
        sd.save_ahead(&ahead).unwrap();
        assert_eq!(sd.ahead(), ahead);
        std::fs::write(
            dir.path().join(AHEAD_FILE),
            b"{\"version\": 99, \"files\": []}",
        )
        .unwrap();
        assert!(
            sd.ahead().is_empty(),
            "another version reads as nothing seen"
        );
        sd.save_ahead(&AheadMap::new()).unwrap();
        assert!(!dir.path().join(AHEAD_FILE).exists());
    }

    #[test]
    fn a_v2_stat_cache_reads_as_empty_so_every_file_is_hashed_once_more() {
        // Version 2 records have no ctime or birth time, so they cannot prove that a
        // file is the one archived (a reused inode, a rewrite with the mtime put back).
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seen-v2.json"),
            dir.path().join(SEEN_FILE),
        )
        .unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        assert!(sd.seen().is_empty());
        // And the current version round-trips (the v3 fields included).
        let mut seen = BTreeMap::new();
        let stat = FileStat {
            btime_ns: None,
            ..sample_stat()
        };
        let record = Seen {
            stat,
            sha256: ContentHash::of(b"abc"),
            seen_at_ns: 9_000_000_000,
        };
        seen.insert(("app".to_string(), "a.log".to_string()), record);
        sd.save_seen(&seen).unwrap();
        assert_eq!(sd.seen(), seen);
    }
}
