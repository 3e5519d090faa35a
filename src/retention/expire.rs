//! `logferry expire`, and the agent's run of it: plans what expires, commits a full
//! checkpoint that says so through the same create-only commit as a pass (a writer
//! that committed first wins, and then nothing is deleted), and only then deletes
//! (see [`super::sweep`]). Killed at any instant, the next run finishes: deleting
//! follows from what the committed generations record, never from this run's plan.

use std::collections::HashMap;
use std::time::SystemTime;

use super::plan::{self, file_name, Plan, Rules};
pub use super::report::{ExpireReport, Locked};
use super::sweep;
use super::wal::{self, Position};
use crate::catalog::build::{land, next_generation};
use crate::catalog::db::LocalIndex;
use crate::catalog::expiry::Expired;
use crate::catalog::load::{load_into, write_part, DbSink, PART_ENTRIES};
use crate::catalog::manifest::Expiry;
use crate::catalog::{history, Entry, Generation, GenerationNo};
use crate::config::{Config, Keep};
use crate::error::{Error, Result};
use crate::fsstat::FileStat;
use crate::remote::retry::Policy;
use crate::remote::Store;
use crate::report::RunReport;
use crate::restore::verify::readable_generations;
use crate::state::StateDir;
use crate::time::{Clock, Timestamp};
use object_store::ObjectStoreExt;

/// How expiry runs.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ExpireOptions {
    /// Say what would go, remove nothing.
    pub dry_run: bool,
    /// Versions archived before this may go, whatever the sources' `keep_for`.
    pub before: Option<SystemTime>,
}

impl ExpireOptions {
    /// Options for a dry run or a real one, with an optional `--before`.
    pub fn new(dry_run: bool, before: Option<SystemTime>) -> Self {
        ExpireOptions { dry_run, before }
    }
}

/// Runs expiry over the archive of `config`, holding its state dir.
pub async fn expire(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    opts: ExpireOptions,
) -> Result<ExpireReport> {
    let state_dir = StateDir::lock(&config.state_dir)?;
    expire_locked(config, store, clock, &state_dir, opts).await
}

/// After a `--run-once` pass: an expiry when one is due (see `retention.interval`),
/// `None` when not.
pub async fn expire_if_due(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
) -> Result<Option<ExpireReport>> {
    let state_dir = StateDir::lock(&config.state_dir)?;
    if !super::ledger::due(config, state_dir.path(), clock.now()) {
        return Ok(None);
    }
    super::ledger::attempt(state_dir.path(), clock.now());
    expire_locked(config, store, clock, &state_dir, ExpireOptions::default())
        .await
        .map(Some)
}

/// [`expire`] for a caller that holds the state dir (the agent, after a pass).
pub(crate) async fn expire_locked(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    state_dir: &StateDir,
    opts: ExpireOptions,
) -> Result<ExpireReport> {
    let now = clock.now();
    let mut report = ExpireReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let (generations, newest) = readable(store).await?;
    if newest.get() == 0 {
        return Ok(report);
    }
    let expired = Expired::of(&generations);
    let kept: Vec<Generation> = generations
        .into_iter()
        .filter(|g| g.generation >= expired.floor())
        .collect();
    let versions: Vec<Entry> = history::versions(&kept)
        .into_iter()
        .filter(|v| !expired.holds(v, v.generation))
        .collect();
    let wal_from = wal_floors(config, store, &versions).await?;
    let keep_of = |source: &str| keep_of(config, source);
    let rules = Rules {
        keep: &keep_of,
        before: opts.before,
        now,
        wal_from: &wal_from,
    };
    let present = |v: &Entry| still_present(config, v);
    let mut planned = plan::plan(&kept, &versions, &present, &rules);
    planned.floor = planned.floor.max(expired.floor());
    report.versions_expired = planned.expired.len() as u64;
    report.kept_present = planned.kept_present;
    report.window_start = if planned.expired.is_empty() {
        expired.window_start()
    } else {
        planned.window_start.map(Timestamp::from)
    };
    report.floor = planned.floor;
    if opts.dry_run {
        sweep::preview(store, config, &kept, &planned, now, &mut report).await?;
        return Ok(report);
    }
    if !planned.expired.is_empty() {
        let g = commit(config, store, state_dir, &planned, now).await?;
        report.committed = Some(g);
        tracing::info!(
            generation = g.get(),
            versions = report.versions_expired,
            "committed the expiry"
        );
    }
    sweep::finish(config, store, state_dir, now, kept, &mut report).await?;
    tracing::info!(
        objects = report.objects_deleted,
        bytes = report.bytes_deleted,
        generations = report.generations_removed,
        locked = report.locked.len(),
        "expiry done"
    );
    Ok(report)
}

/// The readable generations; refuses when one is missing or damaged above the floor
/// (it may name what looks expired or unnamed).
async fn readable(store: &Store) -> Result<(Vec<Generation>, GenerationNo)> {
    let (generations, missing, damaged, newest) = readable_generations(store).await?;
    let floor = Expired::of(&generations).floor();
    if let Some(g) = missing
        .iter()
        .chain(&damaged)
        .find(|g| g.generation >= floor)
    {
        return Err(Error::Repair {
            generation: g.generation.get(),
            message: format!(
                "not expiring while generation {} is {}: it may name what would be deleted; run `logferry verify` and repair first",
                g.generation, g.detail
            ),
        });
    }
    Ok((generations, newest))
}

/// A source's rules; a source no longer configured gets the archive's.
fn keep_of(config: &Config, source: &str) -> Keep {
    config
        .sources
        .iter()
        .find(|s| s.name == source)
        .map_or(config.retention.keep, |s| s.keep)
}

/// Whether `v` is what its file in its source holds now (same size and mtime: the
/// quick check's identity of an archived file).
fn still_present(config: &Config, v: &Entry) -> bool {
    let Some(source) = config.sources.iter().find(|s| s.name == v.source) else {
        return false;
    };
    match FileStat::of_path(&source.path.join(&v.path)) {
        Ok(st) => st.size == v.size && st.mtime_ns == v.mtime_ns,
        Err(_) => false,
    }
}

/// For each source with `keep_base_backups`, the first WAL position its newest base
/// backups need, read from the `.backup` history files archived.
async fn wal_floors(
    config: &Config,
    store: &Store,
    versions: &[Entry],
) -> Result<HashMap<String, Position>> {
    let mut out = HashMap::new();
    for s in &config.sources {
        let Some(n) = s.keep.keep_base_backups else {
            continue;
        };
        let mut starts = Vec::new();
        for v in versions
            .iter()
            .filter(|v| v.source == s.name && wal::is_backup_file(file_name(&v.path)))
        {
            let text = read_small(store, v).await?;
            match wal::backup_start(&text) {
                Some(p) => starts.push(p),
                None => {
                    tracing::warn!(source = %s.name, path = %v.path, "a backup history file names no START WAL LOCATION; not counted as a base backup")
                }
            }
        }
        if let Some(from) = wal::keep_from(starts, n) {
            out.insert(s.name.clone(), from);
        }
    }
    Ok(out)
}

/// The text of a small archived file (a `.backup` history file).
async fn read_small(store: &Store, v: &Entry) -> Result<String> {
    let key = object_store::path::Path::from(v.key.as_str());
    let bytes = store
        .get(&key)
        .await
        .map_err(|e| Error::store("get", &key, e))?
        .bytes()
        .await
        .map_err(|e| Error::store("get", &key, e))?;
    let plain = match v.compression {
        crate::codec::Compression::Zstd => zstd::stream::decode_all(&bytes[..])
            .map_err(|e| Error::io("decompress", std::path::Path::new(&v.key), e))?,
        _ => bytes.to_vec(),
    };
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

/// Commits the checkpoint that records `planned`: the latest state less the expired
/// versions, built in a scratch index in the state dir.
async fn commit(
    config: &Config,
    store: &Store,
    state_dir: &StateDir,
    planned: &Plan,
    now: SystemTime,
) -> Result<GenerationNo> {
    let path = state_dir.path().join("expire.db");
    let _ = std::fs::remove_file(&path);
    let out = commit_in(config, store, &path, planned, now).await;
    let _ = std::fs::remove_file(&path);
    out
}

async fn commit_in(
    config: &Config,
    store: &Store,
    path: &std::path::Path,
    planned: &Plan,
    now: SystemTime,
) -> Result<GenerationNo> {
    let policy = Policy::for_destination(&config.destination);
    let db = LocalIndex::open(path)?;
    db.reset(&config.destination.url.to_string())?;
    let (newest, _) = crate::catalog::remote::newest_generation(store).await?;
    let newest = newest.unwrap_or_default();
    db.begin()?;
    let mut sink = DbSink {
        db: &db,
        chain: db.chain()?,
    };
    let loaded = load_into(store, newest, &mut sink).await;
    let chain = sink.chain;
    match loaded {
        Ok(()) => db.finish(&chain)?,
        Err(e) => {
            db.abandon();
            return Err(e);
        }
    }
    db.remove(&planned.expired)?;
    let mut g = next_generation(
        store,
        &db,
        Timestamp::from(now),
        RunReport::default(),
        true,
        &policy,
    )
    .await?;
    g.expiry = Some(expiry_record(store, planned, now, &policy).await?);
    land(store, &g, &policy).await?;
    Ok(g.generation)
}

/// The record of what `planned` takes out, its versions in parts when many.
async fn expiry_record(
    store: &Store,
    planned: &Plan,
    now: SystemTime,
    policy: &Policy,
) -> Result<Expiry> {
    let mut versions = planned.expired.clone();
    let mut parts = Vec::new();
    if versions.len() > PART_ENTRIES {
        for chunk in std::mem::take(&mut versions).chunks(PART_ENTRIES) {
            parts.push(write_part(store, chunk.to_vec(), policy).await?);
        }
    }
    Ok(Expiry {
        window_start: Timestamp::from(planned.window_start.unwrap_or(now)),
        floor: planned.floor,
        count: planned.expired.len() as u64,
        versions,
        parts,
    })
}
