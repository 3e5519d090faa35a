//! The stat cache as releases before version 4 wrote it (`seen.json`): read once, on
//! the first pass after an upgrade, which then writes `seen.bin` in its place. Version 3
//! records are kept; a version-2 file (stats without the ctime and birth time, which
//! cannot prove identity) reads as empty, so every file is hashed once more and nothing
//! is trusted on a weaker identity.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::read_cache;
use super::record::Seen;
use crate::digest::ContentHash;
use crate::fsstat::{FileId, FileStat};

/// Name of the old stat cache in the state dir.
pub(crate) const LEGACY_SEEN_FILE: &str = "seen.json";
/// The last JSON version, the only one whose records are kept.
const JSON_VERSION: u32 = 3;

#[derive(Deserialize)]
struct SeenFile {
    version: u32,
    seen: Vec<SeenRecord>,
}

/// One record of `seen.json` version 3.
#[derive(Deserialize)]
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

/// The records of a `seen.json` at `path`: `None` when absent, and (with a warning) when
/// unreadable or of another version.
pub(crate) fn read(path: &Path) -> Option<BTreeMap<FileId, Seen>> {
    let f = read_cache::<SeenFile>(
        path,
        |f| f.version == JSON_VERSION,
        "the stat cache is unreadable or of another version; files will be hashed again",
    )?;
    let records = f.seen.into_iter().map(|r| {
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
    });
    Some(records.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    #[test]
    fn a_v3_file_as_the_last_json_release_wrote_it_is_read() {
        let seen = read(&Path::new(FIXTURES).join("seen-v3.json")).unwrap();
        assert_eq!(seen.len(), 3);
        let r = seen[&("app".to_string(), "app.log.1".to_string())];
        assert_eq!(
            r.stat,
            FileStat {
                dev: 65024,
                ino: 10289320,
                size: 37,
                mtime_ns: 1795341601000000000,
                ctime_ns: 1796137107972268572,
                btime_ns: Some(1796137107964268571),
            }
        );
        assert_eq!(
            r.sha256.to_string(),
            "28df3311f50568daa06d1033a7998a3fad2bd9e87bfdcc27cee6638d3c5ce5d7"
        );
        assert_eq!(r.seen_at_ns, 1796137107999857519);
        let none = seen[&("app".to_string(), "no-btime.log".to_string())];
        assert_eq!(none.stat.btime_ns, None);
    }

    #[test]
    fn a_v2_file_reads_as_nothing() {
        assert!(read(&Path::new(FIXTURES).join("seen-v2.json")).is_none());
        assert!(read(&Path::new(FIXTURES).join("absent.json")).is_none());
    }
}
