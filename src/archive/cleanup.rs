//! Local cleanup after a durable archive: a source's `delete_after_archive` deletes a
//! local file once its exact current content has been recorded in a committed generation
//! for that long. Runs after the pass committed (or found nothing to commit), never
//! before, so a file is gone from disk only when the archive is known to hold it.
//!
//! A file qualifies only when this pass's quick check found it unchanged (its stat equals
//! a trusted seen record, so its content is the recorded hash), the committed entry at
//! its path holds that same hash, and `archived_at + delete_after_archive` is not after
//! the clock's now. It is stat'ed again just before the unlink and kept when anything of
//! its identity moved. Only files the scan found closed are ever considered: the open
//! file of a `not-newest` source and the files of a `ready-marker` source (whose config
//! refuses the key) never are. Directories are left in place.

use std::time::{Duration, SystemTime};

use crate::catalog::index::Lookup;
use crate::config::Source;
use crate::error::Result;
use crate::fsstat::{FileId, FileStat, ScannedFile};
use crate::report::RunReport;
use crate::state::Seen;

/// An unchanged file of a source with `delete_after_archive`, with the content its seen
/// record proves it holds.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The file as the scan found it.
    pub file: ScannedFile,
    /// Its seen record (equal stat, so this content).
    pub seen: Seen,
    /// Its source's `delete_after_archive`.
    pub after: Duration,
}

/// The unchanged files worth a look; empty (and no work) when no source deletes.
pub(crate) fn candidates(
    sources: &[Source],
    unchanged: &[ScannedFile],
    seen: &std::collections::BTreeMap<FileId, Seen>,
) -> Vec<Candidate> {
    if sources.iter().all(|s| s.delete_after_archive.is_none()) {
        return Vec::new();
    }
    unchanged
        .iter()
        .filter_map(|f| {
            let source = sources.iter().find(|s| s.name == f.source)?;
            let after = source.delete_after_archive?;
            let seen = *seen.get(&(f.source.clone(), f.rel.clone()))?;
            (seen.is_trusted() && seen.stat == f.stat).then(|| Candidate {
                file: f.clone(),
                seen,
                after,
            })
        })
        .collect()
}

/// Deletes the candidates archived as they are for their source's duration as of `now`;
/// counts them in the report. A file that cannot be deleted is a warning.
pub(crate) fn delete_archived(
    candidates: Vec<Candidate>,
    index: &dyn Lookup,
    now: SystemTime,
    report: &mut RunReport,
) -> Result<()> {
    for c in candidates {
        let f = &c.file;
        let Some(entry) = index.entry(&f.source, &f.rel)? else {
            continue;
        };
        if entry.sha256 != c.seen.sha256 || entry.size != f.stat.size {
            continue;
        }
        let due = entry.archived_at.time().checked_add(c.after);
        if due.is_none_or(|due| due > now) {
            continue;
        }
        // The file may have been rewritten since the scan: only the bytes archived go.
        match FileStat::of_path(&f.abs) {
            Ok(now_stat) if now_stat == f.stat => {}
            _ => {
                tracing::debug!(source = %f.source, path = %f.abs.display(), "changed since the scan; not deleted");
                continue;
            }
        }
        match std::fs::remove_file(&f.abs) {
            Ok(()) => {
                tracing::info!(
                    source = %f.source,
                    path = %f.abs.display(),
                    archived_at = %entry.archived_at,
                    bytes = f.stat.size,
                    "deleted the local file: archived as it is for delete_after_archive"
                );
                report.deleted_local += 1;
                report.deleted_local_bytes += f.stat.size;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                source = %f.source,
                path = %f.abs.display(),
                error = %e,
                "could not delete the archived local file (does logferry have write permission on its directory?)"
            ),
        }
    }
    Ok(())
}
