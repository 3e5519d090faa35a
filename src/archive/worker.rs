//! One archive pass, start to finish: the only place the stages are sequenced.
//!
//! the `pre_pass` hook ([`hooks`]; its failure skips the pass) → catch up with the
//! remote ([`sync`]) → 1. scan the sources ([`scan`]) → 2. quick-check them against
//! what was seen ([`diff`]) → 3–4. hash the candidates and upload new
//! content ([`files`], over [`upload`]) → 5. commit the next generation ([`commit`]),
//! then write its version records ([`publish`]), delete local files archived long enough
//! ([`cleanup`]) → 6. measure the sources' disks ([`disk`]) and record the report in the
//! state dir and the log → the `post_pass` hook. Data objects are always stored
//! before the generation naming them is committed, so an interruption at any point
//! leaves the previous generation valid and the next pass finishes the work.
//!
//! [`sync`]: crate::archive::sync
//! [`scan`]: crate::archive::scan
//! [`diff`]: crate::archive::diff
//! [`files`]: crate::archive::files
//! [`upload`]: crate::archive::upload
//! [`commit`]: crate::archive::commit
//! [`publish`]: crate::archive::publish
//! [`cleanup`]: crate::archive::cleanup
//! [`disk`]: crate::archive::disk
//! [`hooks`]: crate::archive::hooks

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::archive::commit::{self, SeenFiles, Staged};
use crate::archive::control::Control;
use crate::archive::pass::{cached, scrub_report, Pass};
use crate::archive::preview::{self, Preview, PreviewFile};
use crate::archive::{cleanup, diff, disk, files, hooks, leftovers, publish, scan, sync};
use crate::catalog::db::LocalIndex;
use crate::catalog::index::Lookup;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsstat::{FileId, ScannedFile};
use crate::remote::Store;
use crate::report::{Outcome, RunReport};
use crate::state::seen::RACY_MARGIN_NS;
use crate::state::{Seen, StateDir};
use crate::time::{Clock, Timestamp};

/// Files hashed and stored per batch of a pass.
const PASS_BATCH: usize = 4096;

/// Runs one pass: archives every closed file not yet archived as it is, and returns what
/// it did. File-level problems are counted in the report (outcome `partial`); a failed
/// `pre_pass` hook ends it before the scan (outcome `skipped`); an error is returned only
/// when the pass as a whole could not run or commit, and then it is also recorded in the
/// state dir's status.
pub async fn run_once(config: &Config, store: &Store, clock: &dyn Clock) -> Result<RunReport> {
    run_once_with(config, store, clock, &Control::default()).await
}

/// [`run_once`] steered and watched through `control`: cancel it, or read its
/// [`Control::progress`] while it runs (a progress bar).
pub async fn run_once_with(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    control: &Control,
) -> Result<RunReport> {
    let state_dir = lock_one_archive(config)?;
    run_locked(config, store, clock, &state_dir, control).await
}

/// The state dir of `config`, locked, when `config` is one archive (no `{source}`
/// template left in its URL).
fn lock_one_archive(config: &Config) -> Result<StateDir> {
    if config.destination.template.is_some() {
        return Err(Error::config(
            config.file.clone(),
            "destination.url",
            "holds {source}: run a pass for each of Config::archives()",
        ));
    }
    StateDir::lock(&config.state_dir)
}

/// [`run_once`] for a caller that already holds the state dir (the long-running agent
/// keeps it for its whole life, so no second agent can start between passes).
pub(crate) async fn run_locked(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    state_dir: &StateDir,
    control: &Control,
) -> Result<RunReport> {
    let p = Pass::new(config, store, clock, state_dir, control);
    let mut report = RunReport {
        started_at: Timestamp::from(clock.now()),
        ..Default::default()
    };
    if let Some(why) = hooks::pre_pass(&p).await {
        return Ok(skipped(&p, report, why));
    }
    let result = pass(&p, &mut report).await;
    disk::measure(&config.sources, &mut report);
    // 6. stats: the report goes to the state dir and the log, failed or not.
    report.duration_ms = p.started.elapsed().as_millis() as u64;
    report.peak_rss_bytes = crate::report::peak_rss_bytes();
    if let Err(e) = &result {
        report.outcome = Outcome::Failed;
        report.error = Some(e.chain().to_string());
    }
    scrub_report(&mut report, &config.destination.secrets());
    if let Err(e) = crate::state::history::record(state_dir.path(), &report) {
        tracing::warn!(error = %e.chain(), "could not record the pass in the status file");
    }
    step(&p, "recorded the pass in the status file");
    log_summary(&report);
    hooks::post_pass(&p, &report).await;
    result.map(|()| report)
}

/// What a pass of `config` would do now (`--run-once --dry-run`): the pass's own catch-up
/// with the destination (which may bring the local index, a cache of the destination's
/// catalog, up to date), scan, quick check and hashing, and nothing else: no upload, no
/// commit, no status entry, no update of what was seen, no local deletion.
pub async fn preview_once(config: &Config, store: &Store, clock: &dyn Clock) -> Result<Preview> {
    let state_dir = lock_one_archive(config)?;
    let control = Control::default();
    let p = Pass {
        dry_run: true,
        ..Pass::new(config, store, clock, &state_dir, &control)
    };
    let known = sync::open_state(&p).await?;
    let mut report = RunReport::default();
    let files = scan::scan_sources(&p, clock.now(), &mut report);
    let files_scanned = files.len() as u64;
    let (unchanged, rest) = diff::quick_check(files, &known.seen);
    let mut out = Preview {
        files_scanned,
        files_waiting: report.files_waiting,
        files_unchanged: unchanged.len() as u64,
        empty_sources: report.empty_sources,
        ..Preview::default()
    };
    for f in &report.failures {
        out.unreadable.push(PreviewFile::failed(f));
    }
    let plan = diff::plan(rest, &*known.index, &known.seen)?;
    let lookup: Arc<dyn Lookup> = Arc::<LocalIndex>::clone(&known.index);
    preview::preview(&p, plan, lookup, &mut out).await?;
    Ok(out)
}

/// The report of a pass that `pre_pass` stopped before its scan: nothing read, nothing
/// written remote; recorded in the state dir like any pass.
fn skipped(p: &Pass<'_>, mut report: RunReport, why: String) -> RunReport {
    report.outcome = Outcome::Skipped;
    report.error = Some(format!("skipped: {why}"));
    report.duration_ms = p.started.elapsed().as_millis() as u64;
    report.peak_rss_bytes = crate::report::peak_rss_bytes();
    scrub_report(&mut report, &p.config.destination.secrets());
    if let Err(e) = crate::state::history::record(p.state_dir.path(), &report) {
        tracing::warn!(error = %e.chain(), "could not record the pass in the status file");
    }
    tracing::warn!(
        outcome = "skipped",
        duration_ms = report.duration_ms,
        error = report.error.as_deref().unwrap_or(""),
        "pass skipped"
    );
    report
}

/// A pass that will read more than this goes no further than its plan before its
/// catch-up listing confirms the local index ([`sync::Known::confirm`]): a stale index then
/// costs at most this much reading and uploading done twice. A WAL segment or a few
/// rotated logs are read and stored while the listing is on its way.
const AHEAD_BYTES: u64 = 64 << 20;

/// Whether an attempt at a pass stood.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// It ran to its end (committed, or found nothing to record).
    Done,
    /// Its catch-up listing showed the local index was not current: nothing was
    /// recorded, and the pass starts over.
    Stale,
}

/// Steps 1 to 5c; the caller measures the disks and records the report whatever they
/// come to. The pass goes ahead of its catch-up listing; when the listing shows the local
/// index was not current, it starts over once, after catching up.
async fn pass(p: &Pass<'_>, report: &mut RunReport) -> Result<()> {
    leftovers::sweep(p.config, p.state_dir.path(), p.clock.now());
    leftovers::sweep_multipart(p.config, p.state_dir.path(), p.clock.now()).await;
    let known = sync::open_state_ahead(p).await?;
    step(p, "opened the local index");
    if attempt(p, known, report).await? == Attempt::Done {
        return Ok(());
    }
    tracing::info!(
        "the destination changed since this host last read it; catching up and starting the pass over"
    );
    *report = RunReport {
        started_at: report.started_at,
        ..Default::default()
    };
    let known = sync::open_state(p).await?;
    step(p, "caught up with the destination");
    attempt(p, known, report).await.map(drop)
}

/// One attempt at steps 1 to 5c on what `known` says of the archive.
async fn attempt(p: &Pass<'_>, mut known: sync::Known, report: &mut RunReport) -> Result<Attempt> {
    let old_seen = std::mem::take(&mut known.seen);

    // 1. scan
    let now = p.clock.now();
    let files = scan::scan_sources(p, now, report);
    report.files_scanned = files.len() as u64;
    step(p, "scanned the sources");

    // 2. diff: a file whose stat matches its seen record is not read at all.
    let (mut unchanged, rest) = diff::quick_check(files, &old_seen);
    let to_clean = cleanup::candidates(&p.config.sources, &unchanged, &old_seen);
    let (racy, rest) = still_racy(rest, &old_seen, now);
    unchanged.extend(racy);
    report.files_unchanged = unchanged.len() as u64;
    report.current_generation = known.generation.get();
    if rest.is_empty() {
        if !known.confirm().await? {
            return Ok(Attempt::Stale);
        }
        nothing_new(p, &known.index, &old_seen, &unchanged, to_clean, report).await?;
        return Ok(Attempt::Done);
    }
    let index = Arc::clone(&known.index);
    let plan = diff::plan(rest, &*index, &old_seen)?;
    let to_read = plan.candidates.iter().map(|f| f.stat.size).sum();
    p.control.plan(plan.candidates.len() as u64, to_read);
    if to_read > AHEAD_BYTES && !known.confirm().await? {
        return Ok(Attempt::Stale);
    }

    // 3–4. digest and upload, a batch of files at a time, each batch's entries staged
    // in the local index: memory does not grow with the number of files.
    index.clear_pending()?;
    let lookup: Arc<dyn Lookup> = Arc::<LocalIndex>::clone(&index);
    let mut seen = SeenFiles {
        new: seen_of(&unchanged, &old_seen),
        old: old_seen,
        seen_at_ns: crate::fsstat::nanos(now),
    };
    drop(unchanged);
    let mut staged = Staged {
        archived_at: Timestamp::from(p.clock.now()),
        entries: 0,
        failed: Vec::new(),
    };
    for batch in plan.into_batches(PASS_BATCH) {
        let done =
            files::hash_and_store(p, batch, Arc::clone(&lookup), known.rebuilt, report).await?;
        commit::stage(&index, done, &mut seen, &mut staged, report)?;
    }
    step(p, "hashed and stored the files");
    // Nothing is recorded before the listing confirms what the records build on.
    if !known.confirm().await? {
        cached("pending entries", index.clear_pending());
        return Ok(Attempt::Stale);
    }
    step(p, "the catch-up listing confirmed the local index");

    // 5. commit
    commit::commit(p, &index, staged, seen, report).await?;
    step(p, "committed, and the seen records written");

    // 5b. the version records of what is now committed (the commit stands without them)
    publish::records(p, &index).await;
    step(p, "wrote the version records");
    clean(p, to_clean, &*index, report);
    Ok(Attempt::Done)
}

/// A pass that found nothing to hash or record: no index needed, nothing remote written
/// (but the version records an earlier pass could not write); the seen records of files
/// gone are dropped, and the archived files due are deleted.
async fn nothing_new(
    p: &Pass<'_>,
    index: &LocalIndex,
    old_seen: &BTreeMap<FileId, Seen>,
    unchanged: &[ScannedFile],
    to_clean: Vec<cleanup::Candidate>,
    report: &mut RunReport,
) -> Result<()> {
    // Every unchanged file has a record in old_seen, so equal counts mean equal maps.
    if unchanged.len() != old_seen.len() {
        commit::save_seen(p, old_seen, &seen_of(unchanged, old_seen));
    }
    if publish::lags(index)? {
        publish::records(p, index).await;
    }
    clean(p, to_clean, index, report);
    Ok(())
}

/// Sets apart the files whose stat is the one on record but too recent to prove their
/// content (the "racy git" margin, [`RACY_MARGIN_NS`]), and still within it: hashing
/// them now would prove no more than the hash on record, since a record made now would be
/// within the margin too, and the pass after the margin hashes them anyway. So a WAL
/// segment archived a moment ago is not read again by every pass of the next two
/// seconds. Nothing is recorded of them: their records stay as they are (untrusted), and
/// content rewritten behind an unchanged stat is found by the first pass past the margin,
/// as before. They count as unchanged.
fn still_racy(
    rest: Vec<ScannedFile>,
    old_seen: &BTreeMap<FileId, Seen>,
    now: std::time::SystemTime,
) -> (Vec<ScannedFile>, Vec<ScannedFile>) {
    let now_ns = crate::fsstat::nanos(now);
    rest.into_iter().partition(|f| {
        old_seen
            .get(&(f.source.clone(), f.rel.clone()))
            .is_some_and(|s| {
                s.stat == f.stat && now_ns < s.stat.mtime_ns.saturating_add(RACY_MARGIN_NS)
            })
    })
}

/// The seen records of the files found unchanged.
fn seen_of(unchanged: &[ScannedFile], old_seen: &BTreeMap<FileId, Seen>) -> BTreeMap<FileId, Seen> {
    unchanged
        .iter()
        .filter_map(|f| {
            let id = (f.source.clone(), f.rel.clone());
            old_seen.get(&id).map(|s| (id, *s))
        })
        .collect()
}

/// A debug line with the time since the pass started: where a pass's milliseconds go
/// (`-vv`, or `RUST_LOG=logferry=debug`).
pub(crate) fn step(p: &Pass<'_>, what: &'static str) {
    tracing::debug!(
        elapsed_ms = p.started.elapsed().as_secs_f64() * 1000.0,
        "{what}"
    );
}

/// 5c. local cleanup, once what the pass found is committed. The commit stands whatever
/// happens here: an unreadable local index stops the cleanup with a warning, and the
/// next pass tries again.
fn clean(
    p: &Pass<'_>,
    to_clean: Vec<cleanup::Candidate>,
    index: &dyn Lookup,
    report: &mut RunReport,
) {
    if to_clean.is_empty() {
        return;
    }
    if let Err(e) = cleanup::delete_archived(to_clean, index, p.clock.now(), report) {
        tracing::warn!(error = %e.chain(), "local cleanup stopped; the pass stands and the next one tries again");
    }
}

fn log_summary(r: &RunReport) {
    match r.outcome {
        // The caller reports the error itself (the agent's loop, or `--run-once` on stderr).
        Outcome::Failed => tracing::info!(
            outcome = r.outcome.as_str(),
            duration_ms = r.duration_ms,
            error = r.error.as_deref().unwrap_or(""),
            "pass failed"
        ),
        _ => tracing::info!(
            outcome = r.outcome.as_str(),
            duration_ms = r.duration_ms,
            files_scanned = r.files_scanned,
            files_new = r.files_new,
            files_changed = r.files_changed,
            files_renamed = r.files_renamed,
            files_unchanged = r.files_unchanged,
            files_uploaded = r.files_uploaded,
            files_changing = r.files_changing,
            files_vanished = r.files_vanished,
            files_failed = r.files_failed,
            bytes_read = r.bytes_read,
            bytes_uploaded = r.bytes_uploaded,
            deleted_local = r.deleted_local,
            deleted_local_bytes = r.deleted_local_bytes,
            generation = r.current_generation,
            committed = r.generation.is_some(),
            "pass finished"
        ),
    }
}
