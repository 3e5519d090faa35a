//! What an expiry deletes, decided from the committed generations alone, so that a run
//! killed half way is finished by the next one: version records of expired versions,
//! then data objects no kept generation names (expired, or orphans of interrupted
//! passes), then manifests below the floor and the parts only they named, and abandoned
//! multipart uploads. Nothing younger than the grace period is deleted: it may be the
//! upload of a pass in flight, whose generation is not committed yet.

use std::collections::HashSet;
use std::time::SystemTime;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;

use super::ledger::Ledger;
use super::plan::Plan;
use super::report::{ExpireReport, Locked};
use crate::catalog::expiry::Expired;
use crate::catalog::records::record_key;
use crate::catalog::{self, Generation, GenerationNo};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::remote::{layout, Deletion, Store, DATA_PREFIX};
use crate::state::StateDir;
use crate::time::Timestamp;

/// Deletes in flight at once.
const DELETE_CONCURRENCY: usize = 16;

/// Every key the kept generations name, less what an expiry after them took out.
fn named_keys(kept: &[Generation], expired: &Expired) -> HashSet<String> {
    kept.iter()
        .flat_map(|g| {
            g.entries
                .iter()
                .filter(move |e| !expired.holds(e, g.generation))
        })
        .map(|e| e.key.clone())
        .collect()
}

/// What a dry run says would go.
pub(super) async fn preview(
    store: &Store,
    config: &Config,
    kept: &[Generation],
    planned: &Plan,
    now: SystemTime,
    report: &mut ExpireReport,
) -> Result<()> {
    let expired = Expired::of(kept);
    let mut keep = named_keys(kept, &expired);
    keep.retain(|k| !planned.keys.contains(k));
    data(store, &keep, now, config, &Ledger::default(), None, report).await?;
    report.generations_removed = catalog::list_generations(store, None)
        .await?
        .iter()
        .filter(|&&g| g < planned.floor)
        .count() as u64;
    Ok(())
}

/// Deletes what the committed generations say is no longer kept.
/// `read` holds the generations the run read (in order, every one readable); the ones
/// committed since (this run's expiry, a racing writer's) are read on top.
pub(super) async fn finish(
    config: &Config,
    store: &Store,
    state_dir: &StateDir,
    now: SystemTime,
    read: Vec<Generation>,
    report: &mut ExpireReport,
) -> Result<()> {
    let mut ledger = Ledger::read(state_dir.path());
    let mut generations = read;
    let last = generations.last().map_or(GenerationNo(0), |g| g.generation);
    for g in catalog::list_generations(store, None).await? {
        if g > last {
            generations.push(catalog::fetch_inline(store, g).await?);
        }
    }
    let newest = generations.last().map_or(last, |g| g.generation);
    let expired = Expired::of(&generations);
    let floor = expired.floor();
    report.floor = floor;
    let kept: Vec<Generation> = generations
        .into_iter()
        .filter(|g| g.generation >= floor)
        .collect();
    let keep = named_keys(&kept, &expired);
    marks(config, store, &kept, floor, &ledger).await?;
    records(store, &kept, &ledger, report).await?;
    data(store, &keep, now, config, &ledger, Some(newest), report).await?;
    manifests(store, floor, report).await?;
    if report.generations_removed > 0 || report.committed.is_some() {
        parts(store, floor, now, config.retention.grace, report).await?;
    }
    match crate::remote::multipart::abort_abandoned(
        &config.destination,
        now,
        config.retention.grace,
    )
    .await
    {
        Ok(n) => report.uploads_aborted = n as u64,
        Err(e) => tracing::warn!(error = %e, "cannot look for abandoned multipart uploads"),
    }
    ledger.last_run = Some(Timestamp::from(now));
    ledger.finished_through = kept
        .iter()
        .filter(|g| g.expiry.is_some())
        .map(|g| g.generation)
        .max()
        .unwrap_or(ledger.finished_through);
    ledger.locked = report
        .locked
        .iter()
        .filter_map(|l| l.until.map(|u| (l.key.clone(), u)))
        .collect();
    ledger.last = Some(serde_json::to_value(&*report).expect("a report serializes"));
    ledger.write(state_dir.path())
}

/// Marks every expiry not finished before under `catalog/expiries/` (how readers of
/// older generations find them), and drops the marks of expiries below the floor.
async fn marks(
    config: &Config,
    store: &Store,
    kept: &[Generation],
    floor: GenerationNo,
    ledger: &Ledger,
) -> Result<()> {
    let policy = crate::remote::retry::Policy::for_destination(&config.destination);
    for g in kept
        .iter()
        .filter(|g| g.expiry.is_some() && g.generation > ledger.finished_through)
    {
        let body = format!("{{\"version\":1,\"generation\":{}}}", g.generation).into_bytes();
        catalog::remote::put_derived(store, &layout::expiry_key(g.generation), body, &policy)
            .await?;
    }
    let prefix = layout::expiries_prefix();
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &prefix, e))?;
    for m in listed {
        if layout::parse_expiry_key(&m.location).is_some_and(|g| g < floor) {
            delete(store, &m.location).await?;
        }
    }
    Ok(())
}

/// The keys of generations committed after `newest` (a writer that raced this run):
/// never deleted.
async fn newer_keys(store: &Store, newest: GenerationNo) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for g in catalog::list_generations(store, None).await? {
        if g > newest {
            let gen = catalog::fetch_inline(store, g).await?;
            out.extend(gen.entries.into_iter().map(|e| e.key));
        }
    }
    Ok(out)
}

/// Deletes the version records of expired versions, for expiries not finished before.
async fn records(
    store: &Store,
    kept: &[Generation],
    ledger: &Ledger,
    report: &mut ExpireReport,
) -> Result<()> {
    let keys: Vec<Path> = kept
        .iter()
        .filter(|g| g.generation > ledger.finished_through)
        .filter_map(|g| g.expiry.as_ref())
        .flat_map(|x| x.versions.iter())
        .map(record_key)
        .collect();
    let deleted = futures::stream::iter(keys)
        .map(|k| async move { delete(store, &k).await })
        .buffer_unordered(DELETE_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    report.catalog_objects_deleted += deleted.iter().filter(|d| d.is_some()).count() as u64;
    Ok(())
}

/// Deletes every data object not in `keep` and past the grace period, and not named by a
/// generation committed after `read` (the newest one read; `None`: a dry run, which
/// deletes nothing); counts what stays.
async fn data(
    store: &Store,
    keep: &HashSet<String>,
    now: SystemTime,
    config: &Config,
    ledger: &Ledger,
    read: Option<GenerationNo>,
    report: &mut ExpireReport,
) -> Result<()> {
    let prefix = Path::from(DATA_PREFIX);
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &prefix, e))?;
    // A writer that committed since the generations were read (after the listing, so
    // an upload it named is seen either way) keeps what it names.
    let newer: HashSet<String> = match read {
        Some(g) => newer_keys(store, g).await?.into_iter().collect(),
        None => HashSet::new(),
    };
    let mut doomed = Vec::new();
    for m in listed {
        let key = m.location.to_string();
        if keep.contains(&key) || newer.contains(&key) {
            report.archive_bytes += m.size;
            continue;
        }
        let age = now
            .duration_since(SystemTime::from(m.last_modified))
            .unwrap_or_default();
        if age < config.retention.grace {
            report.kept_young += 1;
            report.archive_bytes += m.size;
        } else if let Some(until) = ledger.locked.get(&key).filter(|u| u.time() > now) {
            report.locked.push(Locked {
                key,
                until: Some(*until),
            });
            report.archive_bytes += m.size;
        } else {
            doomed.push(m);
        }
    }
    if read.is_none() {
        report.objects_deleted = doomed.len() as u64;
        report.bytes_deleted = doomed.iter().map(|m| m.size).sum();
        return Ok(());
    }
    let results = futures::stream::iter(doomed)
        .map(|m| async move { (delete(store, &m.location).await, m) })
        .buffer_unordered(DELETE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (r, m) in results {
        match r? {
            Some(Deletion::Locked { until }) => {
                report.archive_bytes += m.size;
                report.locked.push(Locked {
                    key: m.location.to_string(),
                    until,
                });
            }
            _ => {
                report.objects_deleted += 1;
                report.bytes_deleted += m.size;
            }
        }
    }
    report.locked.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(())
}

/// Deletes the manifests below the floor, oldest first.
async fn manifests(store: &Store, floor: GenerationNo, report: &mut ExpireReport) -> Result<()> {
    for g in catalog::list_generations(store, None).await? {
        if g >= floor {
            break;
        }
        if delete(store, &layout::manifest_key(g)).await?.is_some() {
            report.generations_removed += 1;
        }
    }
    Ok(())
}

/// Deletes the parts no generation from the floor on names, past the grace period (a
/// part is written before the generation naming it).
async fn parts(
    store: &Store,
    floor: GenerationNo,
    now: SystemTime,
    grace: std::time::Duration,
    report: &mut ExpireReport,
) -> Result<()> {
    let mut named = HashSet::new();
    for g in catalog::list_generations(store, None).await? {
        if g < floor {
            continue;
        }
        let gen = catalog::remote::fetch(store, g).await?;
        let runs = gen.runs.iter().flat_map(|r| r.parts.iter());
        let expiry = gen.expiry.iter().flat_map(|x| x.parts.iter());
        for p in gen.parts.iter().chain(runs).chain(expiry) {
            named.insert(layout::part_key(&p.sha256).to_string());
        }
    }
    let prefix = layout::parts_prefix();
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &prefix, e))?;
    for m in listed {
        let young = now
            .duration_since(SystemTime::from(m.last_modified))
            .unwrap_or_default()
            < grace;
        if !young
            && !named.contains(m.location.as_ref())
            && delete(store, &m.location).await?.is_some()
        {
            report.catalog_objects_deleted += 1;
        }
    }
    Ok(())
}

/// Deletes one object: `Some` of what happened, `None` when it was not there.
async fn delete(store: &Store, key: &Path) -> Result<Option<Deletion>> {
    match crate::remote::delete(store, key).await? {
        Deletion::Absent => Ok(None),
        other => Ok(Some(other)),
    }
}
