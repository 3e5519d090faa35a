//! Step 5 of a pass, the commit point: the stored files become the entries of the next
//! manifest generation (built by `catalog::build`), committed create-only, and only then is the
//! local index (and the seen records) moved along. Until the commit, nothing this pass
//! did is visible.

use std::collections::BTreeMap;

use crate::archive::pass::{cached, scrub_report, Class, Done, Object, Pass, Resolved};
use crate::catalog::db::LocalIndex;
use crate::catalog::{self, Entry, GenerationNo};
use crate::error::{Error, Result};
use crate::fsstat::{FileId, ScannedFile};
use crate::remote::retry::Policy;
use crate::report::{Outcome, RunReport};
use crate::state::Seen;
use crate::time::Timestamp;

/// What the pass knows of the local files: the records it started from, the ones it
/// will leave (filled in as files are recorded), and when it looked.
pub(crate) struct SeenFiles {
    /// As the pass found them.
    pub old: BTreeMap<FileId, Seen>,
    /// As the pass leaves them.
    pub new: BTreeMap<FileId, Seen>,
    /// When the sources were scanned.
    pub seen_at_ns: i64,
}

/// What the pass's batches of files staged for the next generation.
pub(crate) struct Staged {
    /// When the pass started recording: every entry's `archived_at`.
    pub archived_at: Timestamp,
    /// Entries staged in the local index's pending table.
    pub entries: u64,
    /// Files to retry next pass.
    pub failed: Vec<ScannedFile>,
}

/// Counts a batch's stored files in the report, remembers them as seen, and stages
/// the entries the next generation records (a touched file needs none) in the local
/// index, so a pass of 100k files never holds them all.
pub(crate) fn stage(
    index: &LocalIndex,
    done: Done,
    seen: &mut SeenFiles,
    staged: &mut Staged,
    report: &mut RunReport,
) -> Result<()> {
    let next = index.generation()?.next();
    let entries = record(done.stored, seen, staged.archived_at, next, report);
    index.put_pending(&entries)?;
    staged.entries += entries.len() as u64;
    staged.failed.extend(done.failed);
    Ok(())
}

/// Commits the staged entries as the next generation (when there are any), then saves
/// the seen records. The failed files stay pending in the report.
pub(crate) async fn commit(
    p: &Pass<'_>,
    index: &LocalIndex,
    staged: Staged,
    seen: SeenFiles,
    report: &mut RunReport,
) -> Result<()> {
    if report.files_failed > 0 {
        report.outcome = Outcome::Partial;
    }
    if staged.entries > 0 {
        commit_generation(p, index, staged.archived_at, &staged.failed, report).await?;
        tracing::debug!(
            elapsed_ms = p.started.elapsed().as_secs_f64() * 1000.0,
            "committed the generation"
        );
    }
    report.current_generation = index.generation()?.get();
    report.clear_pending();
    for r in &staged.failed {
        report.add_pending(&r.source, r.stat.size, r.stat.mtime_ns);
    }
    save_seen(p, &seen.old, &seen.new);
    Ok(())
}

/// Saves the seen records when the pass changed them.
pub(crate) fn save_seen(p: &Pass<'_>, old: &BTreeMap<FileId, Seen>, new: &BTreeMap<FileId, Seen>) {
    if new != old {
        cached("seen files", p.state_dir.save_seen(new));
    }
}

/// Counts each stored file in the report and remembers it as seen; returns the entries
/// the next generation records (a touched file needs none), sorted.
fn record(
    stored: Vec<Resolved>,
    seen: &mut SeenFiles,
    archived_at: Timestamp,
    next: GenerationNo,
    report: &mut RunReport,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for r in stored {
        seen.new.insert(
            (r.file.source.clone(), r.file.rel.clone()),
            Seen {
                stat: r.file.stat,
                sha256: r.hash,
                seen_at_ns: seen.seen_at_ns,
            },
        );
        match r.class {
            Class::Touched => report.files_unchanged += 1,
            Class::New => report.files_new += 1,
            Class::Changed => report.files_changed += 1,
            Class::Renamed => report.files_renamed += 1,
            Class::Conflict { .. } => unreachable!("conflicts were set apart"),
        }
        if r.class != Class::Touched {
            entries.push(entry_for(&r, archived_at, next));
        }
    }
    entries.sort_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
    entries
}

/// Commits the pending entries as the generation after `index`'s and moves `index` to it; the
/// report embedded in it states the figures `status` will show once it is committed.
async fn commit_generation(
    p: &Pass<'_>,
    index: &LocalIndex,
    archived_at: Timestamp,
    failed: &[ScannedFile],
    report: &mut RunReport,
) -> Result<()> {
    let (before, next) = (report.current_generation, index.generation()?.next());
    report.duration_ms = p.started.elapsed().as_millis() as u64;
    report.generation = Some(next.get());
    report.current_generation = next.get();
    let mut embedded = report.clone();
    embedded.clear_pending();
    for r in failed {
        embedded.add_pending(&r.source, r.stat.size, r.stat.mtime_ns);
    }
    embedded.sources.clear();
    embedded.empty_sources.clear();
    embedded.peak_rss_bytes = crate::report::peak_rss_bytes();
    scrub_report(&mut embedded, &p.config.destination.secrets());
    let policy = Policy::for_destination(&p.config.destination);
    let written = async {
        let generation =
            catalog::build::next_generation(p.store, index, archived_at, embedded, false, &policy)
                .await?;
        let landed = catalog::build::land(p.store, &generation, &policy).await?;
        Ok::<_, Error>((generation, landed))
    }
    .await;
    let (generation, landed) = match written {
        Ok(x) => x,
        Err(e) => {
            report.generation = None;
            report.current_generation = before;
            cached("pending entries", index.clear_pending());
            return Err(e);
        }
    };
    // Committed: the pass succeeded. The local index is only a copy of the remote; if it
    // cannot follow, the next pass catches up from the destination.
    cached(
        "local index",
        catalog::build::settle(index, &generation, landed),
    );
    Ok(())
}

fn entry_for(r: &Resolved, archived_at: Timestamp, generation: GenerationNo) -> Entry {
    let object = match &r.object {
        Object::Existing(o) => o.clone(),
        Object::Upload(..) => unreachable!("entries are made only for stored objects"),
    };
    Entry {
        source: r.file.source.clone(),
        path: r.file.rel.clone(),
        size: r.file.stat.size,
        mtime_ns: r.file.stat.mtime_ns,
        sha256: r.hash,
        key: object.key,
        compression: object.compression,
        stored_size: object.stored_size,
        archived_at,
        generation,
    }
}
