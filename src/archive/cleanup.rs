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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::index::Index;
    use crate::catalog::Entry;
    use crate::digest::ContentHash;
    use crate::time::Timestamp;

    const DAY: Duration = Duration::from_secs(86_400);

    /// The real clock: the files' times are real, so is the clock they are judged by.
    fn real_now() -> SystemTime {
        crate::time::Clock::now(&crate::time::SystemClock)
    }

    /// A file on disk, as a scan found it, with the seen record of its content.
    fn candidate(dir: &std::path::Path, rel: &str, content: &[u8]) -> Candidate {
        let abs = dir.join(rel);
        std::fs::write(&abs, content).unwrap();
        // An hour old, as a closed log is: a rewrite now moves its mtime.
        let f = std::fs::File::options().write(true).open(&abs).unwrap();
        f.set_modified(real_now() - Duration::from_secs(3600))
            .unwrap();
        let stat = FileStat::of_path(&abs).unwrap();
        Candidate {
            file: ScannedFile {
                source: "app".into(),
                rel: rel.into(),
                abs,
                stat,
            },
            seen: Seen {
                stat,
                sha256: ContentHash::of(content),
                seen_at_ns: stat.mtime_ns + 10_000_000_000,
            },
            after: DAY,
        }
    }

    fn archived(rel: &str, content: &[u8], at: SystemTime) -> Entry {
        Entry {
            archived_at: Timestamp::from(at),
            ..Entry::sample(rel, content, 1)
        }
    }

    #[test]
    fn only_due_files_whose_archived_content_is_still_on_disk_go() {
        let dir = tempfile::tempdir().unwrap();
        let now = real_now();
        let due = candidate(dir.path(), "due.log", b"due");
        let young = candidate(dir.path(), "young.log", b"young");
        let other = candidate(dir.path(), "other.log", b"mine");
        let rewritten = candidate(dir.path(), "rewritten.log", b"old!");
        let unknown = candidate(dir.path(), "unknown.log", b"never archived");
        let index = Index::from_entries([
            archived("due.log", b"due", now - 2 * DAY),
            archived("young.log", b"young", now - DAY / 2),
            archived("other.log", b"else", now - 2 * DAY),
            archived("rewritten.log", b"old!", now - 2 * DAY),
        ]);
        // Rewritten after the scan with bytes of the same size.
        std::fs::write(&rewritten.file.abs, b"new!").unwrap();
        let all = vec![due, young, other, rewritten, unknown];
        let mut report = RunReport::default();
        delete_archived(all, &index, now, &mut report).unwrap();
        assert_eq!((report.deleted_local, report.deleted_local_bytes), (1, 3));
        assert!(!dir.path().join("due.log").exists());
        for kept in ["young.log", "other.log", "rewritten.log", "unknown.log"] {
            assert!(dir.path().join(kept).exists(), "{kept}");
        }
    }

    #[test]
    fn no_source_that_deletes_means_no_candidates() {
        let dir = tempfile::tempdir().unwrap();
        let c = candidate(dir.path(), "a.log", b"a");
        let seen = [(("app".to_string(), "a.log".to_string()), c.seen)].into();
        let text = format!(
            "[destination]\nurl = \"m\"\n[[sources]]\nname = \"app\"\npath = {:?}\n",
            dir.path().display().to_string()
        );
        let mut config =
            crate::config::from_toml_str(&text, dir.path(), std::iter::empty()).unwrap();
        let files = [c.file.clone()];
        assert!(candidates(&config.sources, &files, &seen).is_empty());
        config.sources[0].delete_after_archive = Some(DAY);
        assert_eq!(candidates(&config.sources, &files, &seen).len(), 1);
    }
}
