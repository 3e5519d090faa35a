//! What each pass did: the [`RunReport`] kept in the status history and in the
//! committed generation, how it ended ([`Outcome`]), the files that failed, and its
//! one-line summary. A leaf: every layer reports in these words.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Per-file failures kept in one report.
pub(crate) const MAX_FAILURES_KEPT: usize = 20;

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// Everything closed was archived.
    #[default]
    Ok,
    /// Finished, but some files failed.
    Partial,
    /// Could not run or commit.
    Failed,
    /// Not run: the `pre_pass` hook failed; nothing was scanned or committed.
    Skipped,
}

impl Outcome {
    /// The word for it, the same in logs, tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One file that could not be archived, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFailure {
    /// `source/path`.
    pub file: String,
    /// Why.
    pub error: String,
}

/// A file whose name is archived with other content, under `names = "immutable"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameConflict {
    /// `source/path`.
    pub file: String,
    /// What the archive holds under the name (and keeps).
    pub archived_sha256: String,
    /// What the local file holds now (not archived).
    pub found_sha256: String,
    /// The local file's size and mtime when the conflict was found, so a later look can
    /// tell whether the file is still the conflicting one.
    #[serde(default)]
    pub size: u64,
    /// See `size`.
    #[serde(default)]
    pub mtime_ns: i64,
}

impl NameConflict {
    /// One line for a human (and for PostgreSQL's log, through `archived`).
    pub fn message(&self) -> String {
        format!(
            "name conflict: `{}` is archived with sha256 {} but the file now holds sha256 {}; \
             the archive keeps the first content and will not record this one (move the file \
             away, or set names = \"reused\" for a source whose names come back)",
            self.file, self.archived_sha256, self.found_sha256
        )
    }
}

/// Counts and timings of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RunReport {
    /// When the pass began.
    pub started_at: Timestamp,
    /// Wall time of the pass.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Closed files found.
    pub files_scanned: u64,
    /// Matching files not closed yet (younger than `min_age`, or held back as the newest).
    pub files_waiting: u64,
    /// Matching files whose mtime is ahead of the pass clock (clock skew): archived once
    /// their stat holds for `min_age`, counted here whether archived yet or not.
    pub files_ahead: u64,
    /// Files at a path never archived before.
    pub files_new: u64,
    /// Files whose content changed at an archived path.
    pub files_changed: u64,
    /// Files recorded against content already stored (renamed, rotated).
    pub files_renamed: u64,
    /// Files already archived as they are.
    pub files_unchanged: u64,
    /// Objects written.
    pub files_uploaded: u64,
    /// Objects found already stored at their key (left by an interrupted pass) and adopted.
    pub files_adopted: u64,
    /// Files that changed while read: skipped this pass, retried next.
    pub files_changing: u64,
    /// Files found by the scan but deleted before they were stat'ed or read (rotation's
    /// churn): gone, so neither archived nor a failure.
    pub files_vanished: u64,
    /// Files that could not be archived.
    pub files_failed: u64,
    /// Files not archived because their name is archived with other content.
    pub name_conflicts: u64,
    /// Bytes read from disk (hashing and uploading).
    pub bytes_read: u64,
    /// Bytes written to the destination.
    pub bytes_uploaded: u64,
    /// Closed files not archived as they are when the pass ended (failed, changing, or
    /// the whole pass failed): the archive lag.
    pub files_pending: u64,
    /// mtime of the oldest of those, nanoseconds since the Unix epoch.
    pub oldest_pending_mtime_ns: Option<i64>,
    /// Peak resident memory of the process so far (Linux `VmHWM`), when known.
    pub peak_rss_bytes: Option<u64>,
    /// Generation committed by this pass, if any.
    pub generation: Option<u64>,
    /// Generation current after the pass.
    pub current_generation: u64,
    /// The first few per-file failures.
    pub failures: Vec<FileFailure>,
    /// The first few name conflicts.
    pub conflicts: Vec<NameConflict>,
    /// Why the pass failed, when it did.
    pub error: Option<String>,
    /// Local files deleted after the pass, archived as they are for their source's
    /// `delete_after_archive`.
    pub deleted_local: u64,
    /// Their size in bytes.
    pub deleted_local_bytes: u64,
    /// Sources whose path holds no file their globs select (closed or not): most
    /// likely a wrong `path`, `include` or `exclude`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub empty_sources: Vec<String>,
    /// Per source: the bytes waiting to be archived and the free space of its filesystem
    /// (the disk guard). Kept in the status history, not in committed generations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceDisk>,
}

/// One source's disk figures after a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SourceDisk {
    /// The source's name.
    pub source: String,
    /// Closed files of the source not archived as they are when the pass ended.
    pub pending_files: u64,
    /// Their size in bytes.
    pub pending_bytes: u64,
    /// Bytes free to unprivileged users on the source's filesystem, when known.
    pub fs_free_bytes: Option<u64>,
    /// Size of that filesystem in bytes, when known.
    pub fs_size_bytes: Option<u64>,
}

impl RunReport {
    /// Records a per-file failure.
    pub fn fail(&mut self, file: String, error: String) {
        self.files_failed += 1;
        if self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(FileFailure { file, error });
        }
        self.outcome = Outcome::Partial;
    }

    /// Records a name conflict: the pass ends `partial`.
    pub fn conflict(&mut self, c: NameConflict) {
        self.name_conflicts += 1;
        if self.conflicts.len() < MAX_FAILURES_KEPT {
            self.conflicts.push(c);
        }
        self.outcome = Outcome::Partial;
    }

    /// Counts a closed file of `source` not (yet) archived, of `size` bytes.
    pub fn add_pending(&mut self, source: &str, size: u64, mtime_ns: i64) {
        self.files_pending += 1;
        self.oldest_pending_mtime_ns = Some(
            self.oldest_pending_mtime_ns
                .map_or(mtime_ns, |o| o.min(mtime_ns)),
        );
        let disk = self.source_disk(source);
        disk.pending_files += 1;
        disk.pending_bytes += size;
    }

    /// Forgets pending files (after a commit recorded them).
    pub fn clear_pending(&mut self) {
        self.files_pending = 0;
        self.oldest_pending_mtime_ns = None;
        for d in &mut self.sources {
            d.pending_files = 0;
            d.pending_bytes = 0;
        }
    }

    /// The disk figures of `source`, added when absent.
    pub fn source_disk(&mut self, source: &str) -> &mut SourceDisk {
        let i = match self.sources.iter().position(|d| d.source == source) {
            Some(i) => i,
            None => {
                self.sources.push(SourceDisk {
                    source: source.to_string(),
                    ..SourceDisk::default()
                });
                self.sources.len() - 1
            }
        };
        &mut self.sources[i]
    }

    /// Files recorded in the committed generation.
    pub fn files_recorded(&self) -> u64 {
        self.files_new + self.files_changed + self.files_renamed
    }

    /// One line for a human.
    pub fn summary(&self) -> String {
        let took = format!("{} ms", self.duration_ms);
        let mut s = match (self.outcome, self.generation) {
            (Outcome::Failed, _) => format!(
                "pass failed after {took}: {}",
                self.error.as_deref().unwrap_or("unknown error")
            ),
            (Outcome::Skipped, _) => format!(
                "pass {} (after {took}); nothing scanned or archived",
                self.error.as_deref().unwrap_or("skipped")
            ),
            (_, Some(g)) => format!(
                "archived {} files ({} new, {} changed, {} renamed), uploaded {} objects ({}), in {took}, generation {g}",
                self.files_recorded(),
                self.files_new,
                self.files_changed,
                self.files_renamed,
                self.files_uploaded,
                human_bytes(self.bytes_uploaded),
            ),
            (_, None) => format!(
                "nothing new: {} files unchanged, in {took}, generation {}",
                self.files_unchanged, self.current_generation
            ),
        };
        if self.files_changing > 0 {
            s.push_str(&format!(
                "; {} still changing, retried next pass",
                self.files_changing
            ));
        }
        if self.files_vanished > 0 {
            s.push_str(&format!(
                "; {} vanished before they were read",
                self.files_vanished
            ));
        }
        if self.deleted_local > 0 {
            s.push_str(&format!(
                "; deleted {} local files ({}) archived for delete_after_archive",
                self.deleted_local,
                human_bytes(self.deleted_local_bytes)
            ));
        }
        if self.name_conflicts > 0 {
            s.push_str(&format!("; {} NAME CONFLICT(S)", self.name_conflicts));
            if let Some(c) = self.conflicts.first() {
                s.push_str(&format!(" (first: {})", c.message()));
            }
        }
        for name in &self.empty_sources {
            s.push_str(&format!(
                "; source `{name}` matched no files (check its path, include and exclude)"
            ));
        }
        if self.files_failed > 0 {
            s.push_str(&format!("; {} FAILED", self.files_failed));
            if let Some(f) = self.failures.first() {
                s.push_str(&format!(" (first: {}: {})", f.file, f.error));
            }
        }
        s
    }
}

/// The process's peak resident set size, from `/proc/self/status` (Linux only).
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes in binary units, for people: indicatif's `HumanBytes` (`15 B`, `1.46 KiB`), the
/// same figures the progress bars show.
pub fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
