//! What logferry knows of a file on disk without reading it: its stat, its identity in
//! the archive (source and relative path), and the conversions between file times and
//! nanoseconds that manifests and state files store. A leaf: it imports nothing of the
//! crate, so every layer can speak of files in the same words.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A file's identity in the archive: (source name, path relative to the source root).
pub(crate) type FileId = (String, String);

/// What a stat says about a file: enough to notice it changed without reading it.
///
/// (dev, inode, size, mtime) alone does not prove identity: a deleted file's inode is
/// reused at once, and extraction tools and `touch -d` set any mtime. The ctime cannot
/// be set by a user (any write, rename, chmod, link or utime moves it to now), and the
/// birth time tells a reused inode from the file that had it, so equal stats including
/// both stand for equal content; anything less is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileStat {
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode change time, nanoseconds since the Unix epoch.
    #[serde(default)]
    pub ctime_ns: i64,
    /// Birth time (statx), nanoseconds since the Unix epoch, where the filesystem has it.
    #[serde(default)]
    pub btime_ns: Option<i64>,
}

impl FileStat {
    /// From already-fetched metadata.
    pub fn from_metadata(m: &std::fs::Metadata) -> Self {
        FileStat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(m.mtime_nsec()),
            ctime_ns: m
                .ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(m.ctime_nsec()),
            btime_ns: m.created().ok().map(nanos),
        }
    }

    /// `lstat` of a path.
    pub fn of_path(path: &Path) -> std::io::Result<Self> {
        std::fs::symlink_metadata(path).map(|m| Self::from_metadata(&m))
    }

    /// The mtime as a `SystemTime`.
    pub fn mtime(&self) -> SystemTime {
        time_of_ns(self.mtime_ns)
    }
}

/// Nanoseconds since the Unix epoch (negative before it) as a `SystemTime`.
pub(crate) fn time_of_ns(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

/// A closed file found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScannedFile {
    /// The source's name.
    pub source: String,
    /// Path relative to the source root, `/`-separated.
    pub rel: String,
    /// Path on disk.
    pub abs: PathBuf,
    /// Metadata at scan time.
    pub stat: FileStat,
}

/// `t` in nanoseconds since the Unix epoch (negative before it).
pub(crate) fn nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}
