//! `ahead.json`: local files seen with an mtime ahead of the clock, and since when, so
//! their quiet time is counted from the first pass that saw their current stat.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{read_cache, write_atomic, StateDir};
use crate::error::{Error, Result};
use crate::fsstat::FileStat;

/// Name of the file that remembers local files with an mtime ahead of the clock.
pub(crate) const AHEAD_FILE: &str = "ahead.json";
const AHEAD_VERSION: u32 = 1;

/// A file whose mtime was ahead of the clock, and since when it has had this stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    /// Its stat when first seen so.
    pub stat: FileStat,
    /// When a pass first saw it with this stat, nanoseconds since the Unix epoch (the
    /// pass clock's).
    pub first_seen_ns: i64,
}

/// Files with an mtime ahead of the clock, by (source, relative path).
pub(crate) type AheadMap = BTreeMap<(String, String), Ahead>;

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

impl StateDir {
    /// Local files last seen with an mtime ahead of the clock (empty when absent or
    /// unreadable: their quiet time then starts again).
    pub fn ahead(&self) -> AheadMap {
        let Some(f) = read_cache::<AheadFile>(
            &self.path().join(AHEAD_FILE),
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
        let path = self.path().join(AHEAD_FILE);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::sample_stat;

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
}
