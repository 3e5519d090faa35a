//! Step 5 of a pass, the commit point: the stored files become the entries of the next
//! manifest generation, committed create-only, and only then is the local cache (chain,
//! header, seen records) moved along. Until the commit, nothing this pass did is visible.

use std::collections::BTreeMap;

use crate::archive::pass::{cached, scrub_report, Class, Done, Object, Pass, Resolved};
use crate::catalog::index::Index;
use crate::catalog::manifest::Committed;
use crate::catalog::{self, Entry, Generation, GenerationNo, Kind};
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

/// Records the stored files in the next generation and commits it (when it records
/// anything), then saves the seen records. The failed files stay pending in the report.
/// Returns the index as of the generation the pass ends at.
pub(crate) async fn commit(
    p: &Pass<'_>,
    done: Done,
    mut seen: SeenFiles,
    report: &mut RunReport,
) -> Result<Index> {
    let Done {
        mut index,
        stored,
        failed,
    } = done;
    let archived_at = Timestamp::from(p.clock.now());
    let next = index.generation.next();
    let entries = record(&stored, &mut seen, archived_at, next, report);
    if report.files_failed > 0 {
        report.outcome = Outcome::Partial;
    }
    if !entries.is_empty() {
        commit_generation(p, &mut index, entries, archived_at, &failed, report).await?;
    }
    report.current_generation = index.generation.get();
    report.clear_pending();
    for r in &failed {
        report.add_pending(r.stat.mtime_ns);
    }
    save_seen(p, &seen.old, &seen.new);
    Ok(index)
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
    stored: &[Resolved],
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
            entries.push(entry_for(r, archived_at, next));
        }
    }
    entries.sort_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
    entries
}

/// Commits `entries` as the generation after `index`'s and applies it to `index`; the
/// report embedded in it states the figures `status` will show once it is committed.
async fn commit_generation(
    p: &Pass<'_>,
    index: &mut Index,
    entries: Vec<Entry>,
    archived_at: Timestamp,
    failed: &[ScannedFile],
    report: &mut RunReport,
) -> Result<()> {
    let (before, next) = (report.current_generation, index.generation.next());
    report.duration_ms = p.started.elapsed().as_millis() as u64;
    report.generation = Some(next.get());
    report.current_generation = next.get();
    let mut embedded = report.clone();
    embedded.clear_pending();
    for r in failed {
        embedded.add_pending(r.stat.mtime_ns);
    }
    embedded.peak_rss_bytes = crate::report::peak_rss_bytes();
    scrub_report(&mut embedded, &p.config.destination.secrets());
    let (generation, folds) = index.next_generation(entries, archived_at, embedded);
    let policy = Policy::for_destination(&p.config.destination);
    let committed = async {
        // Data first, manifest last: the folds the generation names are stored first.
        for fold in &folds {
            catalog::write_fold(p.store, fold, &policy).await?;
        }
        catalog::commit(p.store, &generation, &policy).await
    }
    .await
    .inspect_err(|_| {
        report.generation = None;
        report.current_generation = before;
    })?;
    index.apply(&generation).map_err(|message| Error::Format {
        what: "manifest",
        location: format!("generation {next}"),
        message,
    })?;
    save_chain(p, index, &generation, committed);
    Ok(())
}

/// Committed: the pass succeeded. The local cache is only a copy of the remote; if it
/// cannot follow, the next pass catches up from the destination.
fn save_chain(p: &Pass<'_>, index: &Index, generation: &Generation, committed: Committed) {
    let chain = match generation.kind {
        Kind::Full => p.state_dir.save_snapshot(index),
        Kind::Delta => p.state_dir.save_delta(generation),
    };
    // The header moves only with the chain, so it never names a generation the chain
    // lacks.
    if cached("manifest chain", chain) {
        cached(
            "cache header",
            p.state_dir.save_header_committed(
                &p.destination,
                generation.generation,
                Some(committed),
            ),
        );
    }
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
