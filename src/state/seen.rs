//! The stat cache (`seen.bin`): the last stat and content hash of every archived local
//! file, so a pass that finds nothing new reads no file content. A record is trusted
//! only when its stat is complete (ctime and birth time) and older than the racy margin.
//!
//! The cache is only ever a copy: a file that is absent, damaged or of an unknown
//! version reads as empty (with a warning naming it), so every file is hashed once more
//! and nothing is trusted that was not proven. The format is in [`super::seen_bin`]; the
//! JSON file of earlier releases is read once and replaced ([`super::seen_json`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::atomic::AtomicFile;
use super::seen_json::LEGACY_SEEN_FILE;
use super::{seen_bin, seen_json, StateDir};
use crate::error::{Error, Result};
use crate::fsstat::FileId;

pub(crate) use super::record::{Seen, RACY_MARGIN_NS};

/// Name of the stat cache in the state dir.
pub(crate) const SEEN_FILE: &str = "seen.bin";

impl StateDir {
    /// The last stat and hash of local files (empty when absent, damaged or of an
    /// unknown version). A `seen.json` of an earlier release is read instead when there
    /// is one, and, when this process holds the lock, replaced by `seen.bin`.
    pub fn seen(&self) -> BTreeMap<FileId, Seen> {
        // Every save removes `seen.json`, so one that is there is the newer file: this
        // release has not written its cache yet, or an older release ran after it.
        let legacy = self.path().join(LEGACY_SEEN_FILE);
        if legacy.exists() {
            return self.migrate(&legacy);
        }
        let path = self.path().join(SEEN_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
            Err(e) => return unreadable(&path, &e),
        };
        seen_bin::decode(&bytes).unwrap_or_else(|e| unreadable(&path, &e))
    }

    /// The records of an earlier release's `seen.json`, written as `seen.bin` (which
    /// removes the JSON file) when this process holds the lock.
    fn migrate(&self, legacy: &Path) -> BTreeMap<FileId, Seen> {
        let seen = seen_json::read(legacy).unwrap_or_default();
        if self.is_locked() {
            match self.save_seen(&seen) {
                Ok(()) => {
                    tracing::info!(from = %legacy.display(), records = seen.len(), "the stat cache moved to {SEEN_FILE}, its binary format")
                }
                Err(e) => {
                    tracing::warn!(error = %e.chain(), "could not move the stat cache to its binary format; the next pass tries again")
                }
            }
        }
        seen
    }

    /// Replaces the stat cache, streamed to the file record by record; the JSON cache of
    /// an earlier release goes with it, so it can never come back stale.
    pub fn save_seen(&self, seen: &BTreeMap<FileId, Seen>) -> Result<()> {
        let path = self.path().join(SEEN_FILE);
        let written = AtomicFile::create(&path).and_then(|mut f| {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut f);
            seen_bin::encode(seen, &mut out)?;
            out.flush()?;
            drop(out);
            f.commit().map_err(|(_, e)| e)
        });
        written.map_err(|e| Error::io("write", &path, e))?;
        remove_if_present(&self.path().join(LEGACY_SEEN_FILE))
    }

    /// Forgets the stat cache, in either format.
    pub(crate) fn forget_seen(&self) -> Result<()> {
        remove_if_present(&self.path().join(SEEN_FILE))?;
        remove_if_present(&self.path().join(LEGACY_SEEN_FILE))
    }
}

/// A stat cache that cannot be read stands for none: every file is hashed once more,
/// which is safe, and the next pass that records something writes it again.
fn unreadable(path: &Path, e: &dyn std::fmt::Display) -> BTreeMap<FileId, Seen> {
    tracing::warn!(path = %path.display(), error = %e, "the stat cache {} cannot be read ({e}); every file is hashed once more and the cache written again", path.display());
    BTreeMap::new()
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::ContentHash;
    use crate::state::tests::sample_stat;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn one_record() -> BTreeMap<FileId, Seen> {
        let record = Seen {
            stat: sample_stat(),
            sha256: ContentHash::of(b"abc"),
            seen_at_ns: 9_000_000_000,
        };
        [(("app".to_string(), "a.log".to_string()), record)].into()
    }

    #[test]
    fn seen_round_trips_and_reset_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        let seen = one_record();
        sd.save_seen(&seen).unwrap();
        let db = sd.open_index("memory://").unwrap();
        db.reset("memory://").unwrap();
        assert_eq!(sd.seen(), seen);
        sd.reset_catalog(&db, "memory://").unwrap();
        assert!(sd.seen().is_empty());
        assert_eq!(db.destination().unwrap().as_deref(), Some("memory://"));
    }

    #[test]
    fn a_v2_stat_cache_reads_as_empty_so_every_file_is_hashed_once_more() {
        // Version 2 records have no ctime or birth time, so they cannot prove that a
        // file is the one archived (a reused inode, a rewrite with the mtime put back).
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            Path::new(FIXTURES).join("seen-v2.json"),
            dir.path().join(LEGACY_SEEN_FILE),
        )
        .unwrap();
        let sd = StateDir::lock(dir.path()).unwrap();
        assert!(sd.seen().is_empty());
        assert!(!dir.path().join(LEGACY_SEEN_FILE).exists(), "replaced");
        assert!(sd.seen().is_empty());
    }

    #[test]
    fn a_v3_stat_cache_moves_to_the_binary_format_on_the_first_locked_read() {
        let dir = tempfile::tempdir().unwrap();
        let (legacy, new) = (
            dir.path().join(LEGACY_SEEN_FILE),
            dir.path().join(SEEN_FILE),
        );
        std::fs::copy(Path::new(FIXTURES).join("seen-v3.json"), &legacy).unwrap();
        // Beside a running agent (no lock): read, but nothing written.
        let from_json = StateDir::read_only(dir.path()).seen();
        assert_eq!(from_json.len(), 3);
        assert!(legacy.exists() && !new.exists());
        // The agent's own read moves it.
        let sd = StateDir::lock(dir.path()).unwrap();
        assert_eq!(sd.seen(), from_json);
        assert!(new.exists() && !legacy.exists());
        assert_eq!(sd.seen(), from_json, "read back from seen.bin");
    }

    #[test]
    fn a_leftover_json_cache_never_outlives_a_save_or_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join(LEGACY_SEEN_FILE);
        let sd = StateDir::lock(dir.path()).unwrap();
        std::fs::copy(Path::new(FIXTURES).join("seen-v3.json"), &legacy).unwrap();
        sd.save_seen(&one_record()).unwrap();
        assert!(!legacy.exists(), "a save removes it");
        std::fs::copy(Path::new(FIXTURES).join("seen-v3.json"), &legacy).unwrap();
        sd.forget_seen().unwrap();
        assert!(!legacy.exists() && !dir.path().join(SEEN_FILE).exists());
        assert!(sd.seen().is_empty());
    }

    #[test]
    fn a_damaged_truncated_or_unknown_binary_cache_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SEEN_FILE);
        let sd = StateDir::lock(dir.path()).unwrap();
        sd.save_seen(&one_record()).unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        flipped[40] ^= 1;
        let mut newer = good.clone();
        newer[8] = 9;
        for bad in [
            &good[..good.len() - 3],
            &flipped[..],
            &newer[..],
            b"garbage",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(sd.seen().is_empty());
            assert_eq!(std::fs::read(&path).unwrap(), bad, "left for the next save");
        }
        // A JSON cache beside the binary one is newer (an older release ran after
        // this one): it is read, and replaces the binary one.
        std::fs::copy(
            Path::new(FIXTURES).join("seen-v3.json"),
            dir.path().join(LEGACY_SEEN_FILE),
        )
        .unwrap();
        assert_eq!(sd.seen().len(), 3);
        assert_eq!(sd.seen().len(), 3, "from seen.bin");
    }
}
