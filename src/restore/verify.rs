//! Checking an archive before it is needed: every object named by any generation exists
//! with its size (one listing), optionally re-hashed in full or in a rolling slice that
//! covers the whole archive over repeated runs; objects no generation names are orphans.
//!
//! A generation that is absent from the middle of the chain or does not decode is named
//! as such: its objects are then "unaccounted", never orphans, because the generation
//! that would name them cannot be read. A damaged generation that a later full
//! checkpoint supersedes no longer matters to readers and is reported, not failed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use futures::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub(crate) use crate::catalog::audit::{Finding, GenerationFinding, VerifyReport};
use crate::catalog::expiry::Expired;
use crate::catalog::{self, Generation, GenerationNo};
use crate::codec::Compression;
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::remote::read_back::{read_hash, ReadFailure, ReadResult};
use crate::remote::{self, Store, DATA_PREFIX};
use crate::state::write_atomic;

/// Where the rolling `--read-data=PERCENT` position is kept in the state dir.
pub(crate) const CURSOR_FILE: &str = "verify-cursor.json";

/// One stored object as the manifests describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    size: u64,
    stored_size: u64,
    compression: Compression,
    sha256: ContentHash,
    named_by: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    version: u32,
    /// Key after which the next rolling slice starts.
    after: String,
}

/// How much data to read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadData {
    /// Sizes only, from a listing.
    No,
    /// Every object.
    All,
    /// This percentage of objects, continuing where the last run stopped.
    Percent(u8),
}

/// Every generation, in order.
pub async fn all_generations(store: &Store) -> Result<Vec<Generation>> {
    let mut out = Vec::new();
    for g in catalog::list_generations(store, None).await? {
        out.push(catalog::fetch_inline(store, g).await?);
    }
    Ok(out)
}

/// Every generation that reads, and the ones that are absent or do not decode. Only a
/// storage failure (not an unreadable manifest) is an error. Generations below an
/// expiry's floor are neither returned nor called missing: expiry removed them.
pub async fn readable_generations(
    store: &Store,
) -> Result<(
    Vec<Generation>,
    Vec<GenerationFinding>,
    Vec<GenerationFinding>,
    GenerationNo,
)> {
    let listed = catalog::list_generations(store, None).await?;
    let newest = listed.last().copied().unwrap_or_default();
    let mut floor = GenerationNo(0);
    let mut good = Vec::new();
    let mut damaged = Vec::new();
    for &g in &listed {
        let read = match catalog::fetch_inline(store, g).await {
            // Every load of the newest generation reads its folds too.
            Ok(gen) if g == newest => crate::catalog::load::check_folds(store, &gen)
                .await
                .map(|()| gen),
            other => other,
        };
        match read {
            Ok(gen) => {
                if let Some(x) = &gen.expiry {
                    floor = floor.max(x.floor);
                }
                good.push(gen)
            }
            Err(e @ Error::Format { .. }) => damaged.push(GenerationFinding {
                generation: g,
                key: remote::manifest_key(g).to_string(),
                detail: e.to_string(),
                superseded_by: None,
            }),
            Err(e) => return Err(e),
        }
    }
    let present: std::collections::HashSet<GenerationNo> = listed.iter().copied().collect();
    // Expiry removed the generations below its floor on purpose.
    good.retain(|g| g.generation >= floor);
    damaged.retain(|g| g.generation >= floor);
    let mut missing: Vec<GenerationFinding> = (floor.get().max(1)..newest.get())
        .map(GenerationNo)
        .filter(|g| !present.contains(g))
        .map(|g| GenerationFinding {
            generation: g,
            key: remote::manifest_key(g).to_string(),
            detail: "absent from the destination".into(),
            superseded_by: None,
        })
        .collect();
    let fulls: Vec<GenerationNo> = good
        .iter()
        .filter(|g| g.kind == catalog::Kind::Full)
        .map(|g| g.generation)
        .collect();
    for f in missing.iter_mut().chain(damaged.iter_mut()) {
        f.superseded_by = fulls.iter().copied().find(|&c| c > f.generation);
    }
    Ok((good, missing, damaged, newest))
}

/// What reading objects back tells as it goes (`verify --read-data`'s progress bar).
#[derive(Clone, Copy)]
pub struct ReadProgress<'a> {
    /// Called once the objects to read are chosen, with their stored bytes in all.
    pub total: &'a (dyn Fn(u64) + Sync),
    /// Called with each chunk of stored bytes read.
    pub read: &'a (dyn Fn(u64) + Sync),
}

/// Verifies the archive; `state_dir` keeps the rolling position for `ReadData::Percent`;
/// `progress` hears of each chunk of stored bytes read back.
pub async fn verify(
    store: &Store,
    read: ReadData,
    state_dir: Option<&Path>,
    concurrency: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VerifyReport> {
    let progress = ReadProgress {
        total: &|_| {},
        read: progress,
    };
    verify_with(store, read, state_dir, concurrency, progress).await
}

/// [`verify`], telling `progress` also how many stored bytes it is about to read.
pub async fn verify_with(
    store: &Store,
    read: ReadData,
    state_dir: Option<&Path>,
    concurrency: usize,
    progress: ReadProgress<'_>,
) -> Result<VerifyReport> {
    let (generations, missing_generations, damaged_generations, newest) =
        readable_generations(store).await?;
    let expected = expected_objects(&generations);
    let listed = list_data(store).await?;
    let chain_complete = missing_generations.is_empty() && damaged_generations.is_empty();
    let mut report = VerifyReport {
        generations: generations.len() as u64,
        objects: expected.len() as u64,
        missing_generations,
        damaged_generations,
        newest,
        ..Default::default()
    };
    let present = check_listing(&mut report, &expected, &listed, chain_complete);
    let to_read = select(&present, read, state_dir)?;
    (progress.total)(to_read.iter().map(|(_, e)| e.stored_size).sum());
    let results: Vec<(String, Expected, ReadResult)> = stream::iter(to_read)
        .map(|(key, exp)| async move {
            let r = read_hash(store, &key, exp.compression, progress.read).await;
            (key, exp, r)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (key, exp, r) in results {
        check_read(&mut report, &key, &exp, r);
    }
    report.corrupt.sort_by(|a, b| a.key.cmp(&b.key));
    report.missing.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(report)
}

/// Every object the readable generations name, as the first one to name it says, less
/// what a later expiry took out.
fn expected_objects(generations: &[Generation]) -> BTreeMap<String, Expected> {
    let expired = Expired::of(generations);
    let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
    for g in generations {
        for e in g.entries.iter().filter(|e| !expired.holds(e, g.generation)) {
            expected.entry(e.key.clone()).or_insert_with(|| Expected {
                size: e.size,
                stored_size: e.object_size(),
                compression: e.compression,
                sha256: e.sha256,
                named_by: format!("{}/{}", e.source, e.path),
            });
        }
    }
    expected
}

/// Every data object in the destination, with its size: one listing.
async fn list_data(store: &Store) -> Result<HashMap<String, u64>> {
    let prefix = object_store::path::Path::from(DATA_PREFIX);
    store
        .list(Some(&prefix))
        .map_ok(|m| (m.location.to_string(), m.size))
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &prefix, e))
}

/// A finding about an object the manifests name.
fn finding(key: &str, exp: &Expected, detail: String) -> Finding {
    Finding {
        key: key.to_string(),
        file: exp.named_by.clone(),
        detail,
        sha256: Some(exp.sha256),
        size: Some(exp.size),
        compression: exp.compression,
    }
}

/// Sets the listing against the manifests: missing and wrong-sized objects, and objects
/// no generation names (orphans only when every generation could be read). Returns the
/// objects present with their size, the ones that may be read back.
fn check_listing(
    report: &mut VerifyReport,
    expected: &BTreeMap<String, Expected>,
    listed: &HashMap<String, u64>,
    chain_complete: bool,
) -> Vec<(String, Expected)> {
    let mut present = Vec::new();
    for (key, exp) in expected {
        match listed.get(key) {
            None => report
                .missing
                .push(finding(key, exp, "not in the destination".into())),
            Some(&size) if size != exp.stored_size => report.corrupt.push(finding(
                key,
                exp,
                format!("{size} bytes, the manifest says {}", exp.stored_size),
            )),
            Some(_) => present.push((key.clone(), exp.clone())),
        }
    }
    for (key, _) in listed.iter().filter(|(k, _)| !expected.contains_key(*k)) {
        let (list, detail) = if chain_complete {
            (&mut report.orphaned, "named by no generation")
        } else {
            (
                &mut report.unaccounted,
                "named by no readable generation; an unreadable one may name it",
            )
        };
        list.push(Finding {
            key: key.clone(),
            file: String::new(),
            detail: detail.into(),
            sha256: None,
            size: None,
            compression: Compression::None,
        });
    }
    report.orphaned.sort_by(|a, b| a.key.cmp(&b.key));
    report.unaccounted.sort_by(|a, b| a.key.cmp(&b.key));
    present
}

/// Counts one object read back, and what it held.
fn check_read(report: &mut VerifyReport, key: &str, exp: &Expected, r: ReadResult) {
    report.objects_read += 1;
    match r {
        Ok((read, decoded)) => {
            report.bytes_read += read;
            match decoded {
                Some((size, hash)) if size == exp.size && hash == exp.sha256 => {}
                Some((_, hash)) => report.corrupt.push(finding(
                    key,
                    exp,
                    format!("bytes hash to {hash}, the manifest says {}", exp.sha256),
                )),
                None => report
                    .corrupt
                    .push(finding(key, exp, "does not decompress".into())),
            }
        }
        Err(ReadFailure::Unread(m)) => report.missing.push(finding(key, exp, m)),
        Err(ReadFailure::Damaged(m)) => report.corrupt.push(finding(key, exp, m)),
        Err(ReadFailure::Locked(m)) => report.unreadable.push(finding(key, exp, m)),
    }
}

/// The objects to read back; for a percentage, the next slice after the saved position.
fn select(
    present: &[(String, Expected)],
    read: ReadData,
    state_dir: Option<&Path>,
) -> Result<Vec<(String, Expected)>> {
    let pct = match read {
        ReadData::No => return Ok(Vec::new()),
        ReadData::All => return Ok(present.to_vec()),
        ReadData::Percent(p) => p,
    };
    if present.is_empty() {
        return Ok(Vec::new());
    }
    let n = (present.len() * usize::from(pct))
        .div_ceil(100)
        .clamp(1, present.len());
    let cursor_path = state_dir.map(|d| d.join(CURSOR_FILE));
    let after = cursor_path
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
        .map(|c| c.after)
        .unwrap_or_default();
    // `present` is sorted by key; start after the saved key and wrap around.
    let start = present.partition_point(|(k, _)| k.as_str() <= after.as_str()) % present.len();
    let slice: Vec<_> = (0..n)
        .map(|i| present[(start + i) % present.len()].clone())
        .collect();
    if let (Some(path), Some((last, _))) = (cursor_path, slice.last()) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create state dir", dir, e))?;
        }
        let c = Cursor {
            version: 1,
            after: last.clone(),
        };
        write_atomic(&path, &serde_json::to_vec(&c).expect("cursor serializes"))?;
    }
    Ok(slice)
}
