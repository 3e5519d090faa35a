//! One archive pass, start to finish: the only place the stages are sequenced.
//!
//! scan → quick-check plan → hash candidates → upload → commit the next generation →
//! save the local cache and the report. Data objects are always stored before the
//! generation naming them is committed, so an interruption at any point leaves the
//! previous generation valid and the next pass finishes the work.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Instant;

use futures::{stream, StreamExt};
use tokio::task::spawn_blocking;

use crate::archive::control::Control;
use crate::archive::diff::{self, Class, Object, Resolved};
use crate::archive::scan;
use crate::archive::upload::{self, Stored, Target, UploadError};
use crate::catalog::index::{Index, ObjectRef};
use crate::catalog::{self, Entry, Kind};
use crate::codec::{Codec, Compression};
use crate::config::{Config, DestinationUrl, Names};
use crate::digest::{self, DigestError};
use crate::error::{Error, Result};
use crate::fsstat::FileId;
use crate::fsstat::ScannedFile;
use crate::remote::retry::Policy;
use crate::remote::Store;
use crate::report::{Outcome, RunReport};
use crate::state::{Seen, StateDir};
use crate::time::{rfc3339, Clock};

/// Runs one pass: archives every closed file not yet archived as it is, and returns what
/// it did. File-level problems are counted in the report (outcome `partial`); an error is
/// returned only when the pass as a whole could not run or commit, and then it is also
/// recorded in the state dir's status.
pub async fn run_once(config: &Config, store: &Store, clock: &dyn Clock) -> Result<RunReport> {
    if config.destination.template.is_some() {
        return Err(Error::config(
            config.file.clone(),
            "destination.url",
            "holds {source}: run a pass for each of Config::archives()",
        ));
    }
    let state_dir = StateDir::lock(&config.state_dir)?;
    run_locked(config, store, clock, &state_dir, &Control::default()).await
}

/// [`run_once`] for a caller that already holds the state dir (the long-running agent
/// keeps it for its whole life, so no second agent can start between passes).
pub async fn run_locked(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    state_dir: &StateDir,
    control: &Control,
) -> Result<RunReport> {
    let started = Instant::now();
    let mut report = RunReport {
        started_at: rfc3339(clock.now()),
        ..Default::default()
    };
    let result = pass(
        config,
        store,
        clock,
        state_dir,
        control,
        &mut report,
        started,
    )
    .await;
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.peak_rss_bytes = crate::report::peak_rss_bytes();
    if let Err(e) = &result {
        report.outcome = Outcome::Failed;
        report.error = Some(e.chain().to_string());
    }
    scrub_report(&mut report, &config.destination.secrets());
    if let Err(e) = crate::state::history::record(state_dir.path(), &report) {
        tracing::warn!(error = %e.chain(), "could not record the pass in the status file");
    }
    log_summary(&report);
    result.map(|()| report)
}

async fn pass(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    state_dir: &StateDir,
    control: &Control,
    report: &mut RunReport,
    started: Instant,
) -> Result<()> {
    let destination = config.destination.url.to_string();
    crate::archive::leftovers::sweep(config, state_dir.path(), clock.now());
    crate::archive::leftovers::sweep_multipart(config, state_dir.path(), clock.now()).await;
    let mut known = open_state(store, state_dir, &destination).await?;
    let start_generation = known.generation;
    let old_seen = std::mem::take(&mut known.seen);

    let now = clock.now();
    let now_ns = crate::fsstat::nanos(now);
    let files = scan_sources(config, now, state_dir, report)?;
    report.files_scanned = files.len() as u64;

    let (unchanged, rest) = diff::quick_check(files, &old_seen);
    report.files_unchanged = unchanged.len() as u64;
    report.current_generation = start_generation;
    // Every unchanged file has a record in old_seen, so equal counts mean equal maps.
    let seen_of_unchanged = || -> BTreeMap<FileId, Seen> {
        unchanged
            .iter()
            .filter_map(|f| {
                let id = (f.source.clone(), f.rel.clone());
                old_seen.get(&id).map(|s| (id, *s))
            })
            .collect()
    };
    if rest.is_empty() {
        // Nothing to hash or record: no index needed, nothing remote written.
        if unchanged.len() != old_seen.len() {
            cached("seen files", state_dir.save_seen(&seen_of_unchanged()));
        }
        return Ok(());
    }
    let mut new_seen = seen_of_unchanged();
    let index = match known.index.take() {
        Some(i) => i,
        None => local_index(store, state_dir, &destination, start_generation).await?,
    };
    let plan = diff::plan(rest, &index, &old_seen);

    // Every file that needs recording is pending until a committed generation names it.
    for f in plan
        .candidates
        .iter()
        .chain(plan.renamed.iter().map(|(f, _)| f))
    {
        report.add_pending(f.stat.mtime_ns);
    }
    let decided: Vec<Resolved> = plan
        .renamed
        .into_iter()
        .map(|(file, hash)| {
            let (codec, names) = rules_for(config, &file.source);
            diff::resolve(file, hash, &index, codec, names)
        })
        .collect();
    control.check()?;
    let mut failed_files: Vec<ScannedFile> = Vec::new();
    // Renamed by inode: content already stored, nothing to read.
    let mut stored: Vec<Resolved> = decided;
    let mut destination_error = None;
    let mut first_store_error = None;
    let (mut uploads, mut uploads_failed) = (0usize, 0usize);
    // Each candidate is read and hashed, decided, and stored in one go; a small file is
    // read once and its bytes go straight up.
    let shared = Arc::new(index);
    let processed = process_all(
        store,
        plan.candidates,
        &shared,
        config,
        control,
        known.rebuilt,
    )
    .await;
    let mut index = Arc::try_unwrap(shared).unwrap_or_else(|still_shared| (*still_shared).clone());
    for (file, outcome) in processed {
        if matches!(outcome, Processed::Stored(..)) {
            uploads += 1;
        }
        match outcome {
            Processed::Unreadable(e) => {
                if skip(report, &file, e) {
                    failed_files.push(file);
                }
            }
            Processed::Known(r) => {
                report.bytes_read += r.file.stat.size;
                stored.push(r);
            }
            Processed::Stored(r, Ok(outcome)) => {
                let size = match outcome {
                    Stored::Uploaded { read, stored } => {
                        report.files_uploaded += 1;
                        report.bytes_uploaded += stored;
                        report.bytes_read += read;
                        stored
                    }
                    Stored::Adopted { stored } => {
                        report.files_adopted += 1;
                        report.bytes_read += r.file.stat.size;
                        stored
                    }
                };
                stored.push(as_stored(*r, size));
            }
            Processed::Stored(r, Err(UploadError::Changed(e))) => {
                if skip(report, &r.file, e) {
                    failed_files.push(r.file);
                }
            }
            // One file the destination refused after its retries is that file's failure:
            // the rest is committed, and it is retried next pass.
            Processed::Stored(r, Err(UploadError::Store(e))) => {
                if e.is_transient() {
                    tracing::warn!(file = %r.file.abs.display(), error = %e, "upload still failing after its retries; retried next pass");
                } else {
                    tracing::error!(file = %r.file.abs.display(), error = %e, "upload refused by the destination; retried next pass");
                }
                report.fail(label(&r.file), e.to_string());
                failed_files.push(r.file);
                uploads_failed += 1;
                first_store_error.get_or_insert(e);
            }
            Processed::Stored(_, Err(UploadError::Interrupted)) => {
                destination_error.get_or_insert(Error::Interrupted("shutdown requested".into()));
            }
            Processed::Stored(r, Err(e)) => {
                tracing::warn!(file = %r.file.abs.display(), error = %e, "upload failed");
                report.fail(label(&r.file), e.to_string());
                failed_files.push(r.file);
            }
        }
    }

    // A shutdown commits nothing. A destination that failed every upload is the pass
    // failing, not its files: nothing is committed, and the next pass adopts what did
    // get stored.
    if let Some(e) = destination_error {
        return Err(e);
    }
    if let Some(e) = first_store_error.filter(|_| uploads_failed == uploads) {
        return Err(e);
    }
    control.check()?;

    let (conflicts, stored): (Vec<Resolved>, Vec<Resolved>) = stored
        .into_iter()
        .partition(|r| matches!(r.class, Class::Conflict { .. }));
    for r in conflicts {
        if let Class::Conflict { archived } = r.class {
            report_conflict(report, &r.file, archived, r.hash);
        }
        failed_files.push(r.file);
    }

    let archived_at = rfc3339(clock.now());
    let next = index.generation + 1;
    let mut entries = Vec::new();
    for r in &stored {
        new_seen.insert(
            (r.file.source.clone(), r.file.rel.clone()),
            Seen {
                stat: r.file.stat,
                sha256: r.hash,
                seen_at_ns: now_ns,
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
            entries.push(entry_for(r, &archived_at, next));
        }
    }

    if report.files_failed > 0 {
        report.outcome = Outcome::Partial;
    }
    if !entries.is_empty() {
        entries.sort_by(|a, b| (&a.source, &a.path).cmp(&(&b.source, &b.path)));
        report.duration_ms = started.elapsed().as_millis() as u64;
        report.generation = Some(next);
        report.current_generation = next;
        // The report as it will stand once this generation is committed, so that the
        // archive and `status` state the same figures.
        let mut embedded = report.clone();
        embedded.clear_pending();
        for r in &failed_files {
            embedded.add_pending(r.stat.mtime_ns);
        }
        embedded.peak_rss_bytes = crate::report::peak_rss_bytes();
        scrub_report(&mut embedded, &config.destination.secrets());
        let generation = index.next_generation(entries, archived_at, embedded);
        let committed = catalog::commit(
            store,
            &generation,
            &Policy::for_destination(&config.destination),
        )
        .await
        .inspect_err(|_| {
            report.generation = None;
            report.current_generation = start_generation;
        })?;
        index.apply(&generation).map_err(|message| Error::Format {
            what: "manifest",
            location: format!("generation {next}"),
            message,
        })?;
        // Committed: the pass succeeded. The local cache is only a copy of the remote;
        // if it cannot follow, the next pass catches up from the destination.
        let chain = match generation.kind {
            Kind::Full => state_dir.save_snapshot(&index),
            Kind::Delta => state_dir.save_delta(&generation),
        };
        // The header moves only with the chain, so it never names a generation the
        // chain lacks.
        if cached("manifest chain", chain) {
            cached(
                "cache header",
                state_dir.save_header_committed(&destination, next, Some(committed)),
            );
        }
    }
    report.current_generation = index.generation;
    report.clear_pending();
    for r in &failed_files {
        report.add_pending(r.stat.mtime_ns);
    }

    if new_seen != old_seen {
        cached("seen files", state_dir.save_seen(&new_seen));
    }
    Ok(())
}

/// The storage client's messages quote request URLs, which may hold a password: a report
/// kept in the state dir or in the archive holds none of the destination's secrets.
fn scrub_report(report: &mut RunReport, secrets: &[String]) {
    if let Some(e) = &mut report.error {
        *e = crate::config::scrub(e, secrets);
    }
    for f in &mut report.failures {
        f.error = crate::config::scrub(&f.error, secrets);
    }
}

/// Whether a write of the local cache succeeded; a failure is a warning, not the pass
/// failing: the cache is only a copy of what the destination holds, and the next pass
/// catches up from it (re-reading the files whose `seen` record was not saved).
fn cached(what: &str, result: Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                error = %e.chain(),
                "could not update the local cache ({what}); the pass stands, the next one catches up from the destination (is the state dir full or read-only?)"
            );
            false
        }
    }
}

/// What a pass knows of the archive before it scans: the current generation always,
/// the index only when catching up needed it.
struct Known {
    generation: u64,
    index: Option<Index>,
    seen: BTreeMap<FileId, Seen>,
    /// Rebuilt from the remote: every file is hashed, and an object it names that the
    /// destination lacks is put back from the file.
    rebuilt: bool,
}

/// The archive as this host last saw it, brought up to date with the remote (one LIST
/// when nothing changed); rebuilt from the remote alone when there is no usable cache or
/// the remote no longer holds the cached generation. The same listing shows whether the
/// generations this host builds on are still the ones it committed or read: if one is
/// absent or replaced, the pass stops with [`Error::DamagedGeneration`] rather than
/// commit on top of a chain readers cannot load.
async fn open_state(store: &Store, state_dir: &StateDir, destination: &str) -> Result<Known> {
    let Some(header) = state_dir.header(destination) else {
        return rebuild(store, state_dir, destination).await;
    };
    let local: Vec<(u64, u64)> = state_dir
        .chain_deltas()
        .into_iter()
        .filter(|(g, _)| *g <= header.generation)
        .collect();
    let from = local.first().map_or(header.generation, |(g, _)| *g);
    let listed = catalog::list_metas(store, from.checked_sub(1).filter(|g| *g > 0)).await?;
    let holds = |g: u64| listed.iter().any(|(l, _)| *l == g);
    if header.generation > 0 && !holds(header.generation) {
        // Still our chain (it holds deltas this host has) but its head is gone: building
        // on the generation before would drop what the head recorded.
        if local.iter().any(|(g, _)| holds(*g)) {
            return Err(Error::DamagedGeneration {
                generation: header.generation,
                key: crate::remote::manifest_key(header.generation).to_string(),
                detail: "absent from the destination, which still holds the generations before it"
                    .into(),
            });
        }
        tracing::warn!(
            generation = header.generation,
            "the destination no longer holds the cached generation; rebuilding state from it"
        );
        return rebuild(store, state_dir, destination).await;
    }
    for (g, why) in suspects(&header, &local, &listed) {
        confirm_damage(store, state_dir, destination, &header, g, why).await?;
    }
    let newer: Vec<u64> = listed
        .iter()
        .map(|(g, _)| *g)
        .filter(|g| *g > header.generation)
        .collect();
    let seen = state_dir.seen();
    if newer.is_empty() {
        return Ok(Known {
            generation: header.generation,
            index: None,
            seen,
            rebuilt: false,
        });
    }
    // Another writer (or our own commit whose cache update was lost) went further.
    let Some(mut index) = state_dir.load_index(header.generation) else {
        return rebuild(store, state_dir, destination).await;
    };
    let mut chain_ok = true;
    let mut committed = None;
    for g in newer {
        let (gen, c, bytes) = catalog::fetch_raw(store, g).await?;
        committed = Some(c);
        if gen.kind == Kind::Delta && gen.generation != index.generation + 1
            || index.apply(&gen).is_err()
        {
            return rebuild(store, state_dir, destination).await;
        }
        if chain_ok {
            let saved = match gen.kind {
                Kind::Full => state_dir.save_snapshot(&index),
                Kind::Delta => state_dir.save_delta_bytes(gen.generation, &bytes),
            };
            chain_ok = cached("manifest chain", saved);
        }
    }
    if chain_ok {
        cached(
            "cache header",
            state_dir.save_header_committed(destination, index.generation, committed),
        );
    }
    Ok(Known {
        generation: index.generation,
        index: Some(index),
        seen,
        rebuilt: false,
    })
}

/// The deltas of the local chain and the generation it ends at, against their listing:
/// the ones absent, or not listed with the bytes this host holds, and why.
fn suspects(
    header: &crate::catalog::local::Header,
    local: &[(u64, u64)],
    listed: &[(u64, object_store::ObjectMeta)],
) -> Vec<(u64, Option<String>)> {
    let remote: BTreeMap<u64, &object_store::ObjectMeta> =
        listed.iter().map(|(g, m)| (*g, m)).collect();
    let mut out = Vec::new();
    for &(g, size) in local {
        match remote.get(&g) {
            None => out.push((g, None)),
            Some(m) if m.size != size => out.push((
                g,
                Some(format!("holds {} bytes, {size} were committed", m.size)),
            )),
            Some(_) => {}
        }
    }
    if let (Some(c), Some(m)) = (&header.committed, remote.get(&header.generation)) {
        if let Some(why) = c.differs(m) {
            out.push((header.generation, Some(why)));
        }
    }
    out
}

/// A generation listed otherwise than this host holds it (`why`; `None`: absent) is
/// read: damaged when it does not decode or differs from the local copy. One that was
/// only copied (a migrated bucket, a mirror copied with new inodes: another ETag, the
/// same content) is accepted, and its new listing remembered.
async fn confirm_damage(
    store: &Store,
    state_dir: &StateDir,
    destination: &str,
    header: &crate::catalog::local::Header,
    generation: u64,
    why: Option<String>,
) -> Result<()> {
    let damaged = |detail: String| Error::DamagedGeneration {
        generation,
        key: crate::remote::manifest_key(generation).to_string(),
        detail,
    };
    let Some(why) = why else {
        return Err(damaged("absent from the destination".into()));
    };
    let (remote, committed) = match catalog::fetch_committed(store, generation).await {
        Ok(r) => r,
        Err(e @ Error::Format { .. }) => return Err(damaged(format!("{why}: {e}"))),
        Err(e) => return Err(e),
    };
    if let Some(local) = state_dir.load_delta(generation) {
        if local != remote {
            return Err(damaged(format!(
                "{why}, and it records other content than this host holds"
            )));
        }
    }
    tracing::info!(
        generation,
        "{why}, but it holds the same generation: accepted"
    );
    if generation == header.generation {
        state_dir.save_header_committed(destination, generation, Some(committed))?;
    }
    Ok(())
}

/// Forgets the local cache and builds it again from the remote manifests.
async fn rebuild(store: &Store, state_dir: &StateDir, destination: &str) -> Result<Known> {
    // Loaded before the cache is forgotten: if the remote cannot be read, the good local
    // copy stays for `verify --repair`. A stale cache must not survive (its seen records
    // would skip files the remote lacks), so failing to forget it stops the pass;
    // failing to save the new one does not.
    let index = catalog::load_latest(store).await?;
    state_dir.reset()?;
    if cached("manifest chain", state_dir.save_snapshot(&index)) {
        cached(
            "cache header",
            state_dir.save_header(destination, index.generation),
        );
    }
    Ok(Known {
        generation: index.generation,
        index: Some(index),
        seen: BTreeMap::new(),
        rebuilt: true,
    })
}

/// The index at `generation` from the local chain, or from the remote if the chain is damaged.
async fn local_index(
    store: &Store,
    state_dir: &StateDir,
    destination: &str,
    generation: u64,
) -> Result<Index> {
    if let Some(index) = state_dir.load_index(generation) {
        return Ok(index);
    }
    if generation == 0 {
        return Ok(Index::default());
    }
    tracing::warn!("the local manifest chain is incomplete; reloading it from the destination");
    let index = catalog::load_at(store, generation).await?;
    if cached("manifest chain", state_dir.save_snapshot(&index)) {
        cached(
            "cache header",
            state_dir.save_header(destination, generation),
        );
    }
    Ok(index)
}

/// Closed files of every source; unreadable paths are counted as failures. Files with
/// an mtime ahead of the clock are remembered in the state dir, so their quiet time
/// carries over to the next pass, and reported in one warning per source.
fn scan_sources(
    config: &Config,
    now: std::time::SystemTime,
    state_dir: &StateDir,
    report: &mut RunReport,
) -> Result<Vec<ScannedFile>> {
    let mut own_dirs = vec![config.state_dir.clone()];
    if let DestinationUrl::Local(dir) = &config.destination.url {
        own_dirs.push(dir.clone());
    }
    let ahead_before = state_dir.ahead();
    let mut ahead = crate::state::AheadMap::new();
    let mut files = Vec::new();
    for source in &config.sources {
        let found = scan::scan(source, now, &own_dirs, &ahead_before);
        for (path, why) in found.problems {
            tracing::warn!(source = %source.name, path = %path.display(), error = %why, "cannot scan");
            report.fail(format!("{}/{}", source.name, path.display()), why);
        }
        report.files_waiting += found.too_young + found.held_newest;
        report.files_vanished += found.vanished;
        warn_ahead(source, now, &found.ahead);
        report.files_ahead += found.ahead.len() as u64;
        ahead.extend(found.ahead);
        files.extend(found.files);
    }
    if ahead != ahead_before {
        cached("files ahead of the clock", state_dir.save_ahead(&ahead));
    }
    Ok(files)
}

/// One warning per source for its files with an mtime ahead of the clock.
fn warn_ahead(
    source: &crate::config::Source,
    now: std::time::SystemTime,
    ahead: &crate::state::AheadMap,
) {
    let Some(((_, first), _)) = ahead.iter().next() else {
        return;
    };
    let most = ahead
        .values()
        .filter_map(|a| a.stat.mtime().duration_since(now).ok())
        .max()
        .unwrap_or_default();
    let most = humantime::format_duration(std::time::Duration::from_secs(most.as_secs()));
    tracing::warn!(
        source = %source.name,
        files = ahead.len(),
        example = %first,
        "{} file(s) have an mtime ahead of the clock (up to {most}; e.g. `{first}`): clock skew or a clock step back? each is archived once its size and mtime stay unchanged for min_age ({})",
        ahead.len(),
        humantime::format_duration(source.min_age),
    );
}

/// The codec new objects of `source` are stored with, and whether its names are immutable.
fn rules_for(config: &Config, source: &str) -> (Codec, Names) {
    config
        .sources
        .iter()
        .find(|s| s.name == source)
        .map_or((Codec::PLAIN, Names::Reused), |s| (s.codec, s.names))
}

/// A resolved file whose upload succeeded, now pointing at the stored object.
fn as_stored(mut r: Resolved, stored_size: u64) -> Resolved {
    if let Object::Upload(key, codec) = &r.object {
        let compressed = codec.compression != Compression::None;
        r.object = Object::Existing(ObjectRef {
            key: key.to_string(),
            compression: codec.compression,
            stored_size: compressed.then_some(stored_size),
        });
    }
    r
}

fn entry_for(r: &Resolved, archived_at: &str, generation: u64) -> Entry {
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
        archived_at: archived_at.to_string(),
        generation,
    }
}

fn label(f: &ScannedFile) -> String {
    format!("{}/{}", f.source, f.rel)
}

/// Other content at an immutable name: never recorded, loud in the log and the report.
fn report_conflict(
    report: &mut RunReport,
    file: &ScannedFile,
    archived: crate::digest::ContentHash,
    found: crate::digest::ContentHash,
) {
    tracing::error!(
        file = %file.abs.display(),
        archived_sha256 = %archived,
        found_sha256 = %found,
        "name conflict: not archived; the archive keeps the first content of this name"
    );
    report.conflict(crate::report::NameConflict {
        file: label(file),
        archived_sha256: archived.to_string(),
        found_sha256: found.to_string(),
        size: file.stat.size,
        mtime_ns: file.stat.mtime_ns,
    });
}

/// A file that changed while read is not a failure: it is not closed yet. One deleted
/// since the scan (rotation's churn) is gone: counted as vanished, nothing to retry.
/// Returns whether the file is still pending (to be retried next pass).
fn skip(report: &mut RunReport, file: &ScannedFile, e: DigestError) -> bool {
    match e {
        DigestError::Changed { .. } => {
            tracing::info!(file = %file.abs.display(), "changed while read; will retry next pass");
            report.files_changing += 1;
            true
        }
        DigestError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(file = %file.abs.display(), "vanished before it was read");
            report.files_vanished += 1;
            false
        }
        DigestError::Io(io) => {
            tracing::warn!(file = %file.abs.display(), error = %io, "cannot read");
            report.fail(label(file), io.to_string());
            true
        }
    }
}

/// What became of one candidate file.
enum Processed {
    /// Could not be read as it was scanned (changing, vanished, unreadable).
    Unreadable(DigestError),
    /// Its content is already stored (touched, or renamed by content).
    Known(Resolved),
    /// It was stored, or storing it failed.
    Stored(Box<Resolved>, std::result::Result<Stored, UploadError>),
}

/// Each file runs as its own task, so hashing and compression use every core.
async fn process_all(
    store: &Store,
    files: Vec<ScannedFile>,
    index: &Arc<Index>,
    config: &Config,
    control: &Control,
    rebuilt: bool,
) -> Vec<(ScannedFile, Processed)> {
    let config = Arc::new(config.clone());
    let retry = Policy::for_destination(&config.destination);
    stream::iter(files)
        .map(|f| {
            let (store, index, config, control) = (
                store.clone(),
                index.clone(),
                config.clone(),
                control.clone(),
            );
            let task = tokio::spawn(async move {
                let to = Target {
                    store: &store,
                    retry,
                };
                process_one(&to, f, &index, &config, &control, rebuilt).await
            });
            async move { task.await.expect("a file task panicked") }
        })
        .buffer_unordered(config.upload_concurrency)
        .collect()
        .await
}

/// Reads and hashes one file, decides what it is, and stores it if it is new content.
async fn process_one(
    to: &Target<'_>,
    f: ScannedFile,
    index: &Index,
    config: &Config,
    control: &Control,
    rebuilt: bool,
) -> (ScannedFile, Processed) {
    if control.is_cancelled() {
        let e = std::io::Error::new(std::io::ErrorKind::Interrupted, "shutdown requested");
        return (f, Processed::Unreadable(DigestError::Io(e)));
    }
    control.beat();
    let limit = config.part_size;
    let (f, digested) = spawn_blocking(move || {
        let r = digest::read_small(&f.abs, &f.stat, limit).and_then(|small| match small {
            Some((hash, bytes)) => Ok((hash, Some(bytes))),
            None => digest::hash_file(&f.abs, &f.stat).map(|h| (h, None)),
        });
        (f, r)
    })
    .await
    .expect("hashing task panicked");
    let (hash, bytes) = match digested {
        Ok(d) => d,
        Err(e) => return (f, Processed::Unreadable(e)),
    };
    let (codec, names) = rules_for(config, &f.source);
    let r = diff::resolve(f.clone(), hash, index, codec, names);
    let target = match &r.object {
        Object::Upload(key, codec) => Some((key.clone(), *codec)),
        Object::Existing(o) if rebuilt && matches!(r.class, Class::Touched | Class::Renamed) => {
            match absent(to.store, o, codec).await {
                Ok(t) => t,
                Err(e) => return (f, Processed::Stored(Box::new(r), Err(e.into()))),
            }
        }
        Object::Existing(_) => None,
    };
    let Some((key, codec)) = target else {
        return (f, Processed::Known(r));
    };
    let (key, codec) = (&key, &codec);
    let out = match bytes {
        Some(b) => upload::store_bytes(to, key, &r.file, r.hash, b, *codec, control).await,
        None => {
            upload::store_file(to, key, &r.file, r.hash, config.part_size, *codec, control).await
        }
    };
    (f, Processed::Stored(Box::new(r), out))
}

/// After a rebuild, an archived object the destination lacks (deleted by hand, lost by
/// the store) is put back from the local file that holds its content: the key and codec
/// to store it with, or `None` when it is there.
async fn absent(
    store: &Store,
    o: &ObjectRef,
    codec: Codec,
) -> Result<Option<(object_store::path::Path, Codec)>> {
    use object_store::ObjectStoreExt;
    let key = object_store::path::Path::parse(&o.key).map_err(|e| Error::Format {
        what: "manifest",
        location: o.key.clone(),
        message: format!("bad object key: {e}"),
    })?;
    match store.head(&key).await {
        Ok(_) => Ok(None),
        Err(object_store::Error::NotFound { .. }) => {
            tracing::warn!(key = %key, "archived object missing from the destination; uploading it again from the local file");
            let codec = Codec {
                compression: o.compression,
                ..codec
            };
            Ok(Some((key, codec)))
        }
        Err(e) => Err(Error::store("head", &key, e)),
    }
}

fn log_summary(r: &RunReport) {
    match r.outcome {
        // The caller reports the error itself (the agent's loop, or `--run-once` on stderr).
        Outcome::Failed => tracing::info!(
            outcome = ?r.outcome,
            duration_ms = r.duration_ms,
            error = r.error.as_deref().unwrap_or(""),
            "pass failed"
        ),
        _ => tracing::info!(
            outcome = ?r.outcome,
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
            generation = r.current_generation,
            committed = r.generation.is_some(),
            "pass finished"
        ),
    }
}
