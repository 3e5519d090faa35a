//! `seen.json`: the last stat and content hash of every archived local file, so a pass
//! that finds nothing new reads no file content. A record is trusted only when its stat
//! is complete (ctime and birth time) and older than the racy margin.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use std::io::Write;

use super::atomic::AtomicFile;
use super::{read_cache, StateDir};
use crate::digest::ContentHash;
use crate::error::Result;
use crate::fsstat::{FileId, FileStat};

/// Name of the stat cache in the state dir.
pub(crate) const SEEN_FILE: &str = "seen.json";
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
pub(crate) const RACY_MARGIN_NS: i64 = 2_000_000_000;

impl Seen {
    /// Whether an equal stat proves equal content.
    pub fn is_trusted(&self) -> bool {
        self.stat.mtime_ns.saturating_add(RACY_MARGIN_NS) <= self.seen_at_ns
    }
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

impl StateDir {
    /// The last stat and hash of local files (empty when absent or unreadable).
    pub fn seen(&self) -> BTreeMap<FileId, Seen> {
        let Some(f) = read_cache::<SeenFile>(
            &self.path().join(SEEN_FILE),
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

    /// Replaces the stat cache, streamed to the file record by record (100k files are
    /// 24 MB of JSON, never held whole).
    pub fn save_seen(&self, seen: &BTreeMap<FileId, Seen>) -> Result<()> {
        let path = self.path().join(SEEN_FILE);
        let written = AtomicFile::create(&path).and_then(|mut f| {
            let mut out = std::io::BufWriter::new(&mut f);
            serde_json::to_writer(
                &mut out,
                &SeenOut {
                    version: SEEN_VERSION,
                    seen,
                },
            )?;
            out.flush()?;
            drop(out);
            f.commit().map_err(|(_, e)| e)
        });
        written.map_err(|e| crate::error::Error::io("write", &path, e))
    }
}

/// What `save_seen` writes: a [`SeenFile`], made record by record.
struct SeenOut<'a> {
    version: u32,
    seen: &'a BTreeMap<FileId, Seen>,
}

impl Serialize for SeenOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Records<'a>(&'a BTreeMap<FileId, Seen>);
        impl Serialize for Records<'_> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|((source, path), r)| SeenRecord {
                    source: source.clone(),
                    path: path.clone(),
                    dev: r.stat.dev,
                    ino: r.stat.ino,
                    size: r.stat.size,
                    mtime_ns: r.stat.mtime_ns,
                    ctime_ns: r.stat.ctime_ns,
                    btime_ns: r.stat.btime_ns,
                    sha256: r.sha256,
                    seen_at_ns: r.seen_at_ns,
                }))
            }
        }
        let mut st = s.serialize_struct("SeenFile", 2)?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("seen", &Records(self.seen))?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::sample_stat;

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
