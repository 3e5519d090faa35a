//! One record of the stat cache: what a file's stat was when its content was hashed,
//! and when a stat is trusted to stand for that content. Apart from the cache's files so
//! that the formats that read and write it share it without importing each other.

use serde::{Deserialize, Serialize};

use crate::digest::ContentHash;
use crate::fsstat::FileStat;

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
