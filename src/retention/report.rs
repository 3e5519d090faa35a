//! What an expiry did, as `expire` prints it, the ledger keeps it and the metrics
//! count it.

use serde::Serialize;

use crate::catalog::GenerationNo;
use crate::time::Timestamp;

/// What an expiry did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct ExpireReport {
    /// Nothing was removed.
    pub dry_run: bool,
    /// The checkpoint that records this expiry, when one was committed.
    pub committed: Option<GenerationNo>,
    /// Versions that expired in this run.
    pub versions_expired: u64,
    /// Versions the rules let go that stay: a file in a source still holds them.
    pub kept_present: u64,
    /// Where point-in-time reads are promised from now.
    pub window_start: Option<Timestamp>,
    /// The oldest generation kept.
    pub floor: GenerationNo,
    /// Data objects deleted (expired, or orphans past the grace period).
    pub objects_deleted: u64,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Manifest generations removed.
    pub generations_removed: u64,
    /// Catalog objects (parts, version records) removed.
    pub catalog_objects_deleted: u64,
    /// Abandoned multipart uploads aborted.
    pub uploads_aborted: u64,
    /// Objects to delete that are younger than the grace period, left for a later run.
    pub kept_young: u64,
    /// Objects the bucket's Object Lock keeps, and until when (when known).
    pub locked: Vec<Locked>,
    /// Bytes of data objects left in the archive.
    pub archive_bytes: u64,
}

/// An object Object Lock keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Locked {
    /// Its key.
    pub key: String,
    /// Until when, when the store says.
    pub until: Option<Timestamp>,
}
