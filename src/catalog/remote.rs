//! The catalog in the bucket: list the generations, read one, find the generation in
//! force at a time, and commit the next one create-only (loading the state as of a
//! generation is `super::load`'s job).
//!
//! A file counts as archived only once a generation naming it is committed, and a
//! generation is committed with a create-only put, so two writers can never both believe
//! they wrote generation N (invariants 2 and 3).

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::manifest::{Committed, Generation, GenerationNo, Mark};
use crate::error::{Error, Result};
use crate::remote::retry::{self, Policy};
use crate::remote::{layout, Store};
use crate::time::Timestamp;

/// Generations present remotely after `after` (all when `None`), in order, with their
/// listing entries.
pub(crate) async fn list_metas(
    store: &Store,
    after: Option<GenerationNo>,
) -> Result<Vec<(GenerationNo, object_store::ObjectMeta)>> {
    let prefix = layout::manifest_prefix();
    // A listing cut short (a reset while its pages stream) is listed again from the start.
    let metas: Vec<_> = retry::run(&Policy::bodies(), "list", || {
        let stream = match after {
            Some(g) => store.list_with_offset(Some(&prefix), &layout::manifest_key(g)),
            None => store.list(Some(&prefix)),
        };
        stream.try_collect::<Vec<_>>()
    })
    .await
    .result
    .map_err(|e| Error::store("list", &prefix, e))?;
    let mut gens: Vec<(GenerationNo, object_store::ObjectMeta)> = metas
        .into_iter()
        .filter_map(|m| layout::parse_manifest_key(&m.location).map(|g| (g, m)))
        .filter(|(g, _)| after.is_none_or(|a| *g > a))
        .collect();
    gens.sort_unstable_by_key(|(g, _)| *g);
    Ok(gens)
}

/// Generations present remotely after `after` (all when `None`), in order.
pub async fn list_generations(
    store: &Store,
    after: Option<GenerationNo>,
) -> Result<Vec<GenerationNo>> {
    Ok(list_metas(store, after)
        .await?
        .into_iter()
        .map(|(g, _)| g)
        .collect())
}

/// Reads one generation.
pub async fn fetch(store: &Store, generation: GenerationNo) -> Result<Generation> {
    fetch_committed(store, generation).await.map(|(g, _)| g)
}

/// Reads one generation, with the size and ETag of the object it came from.
pub(crate) async fn fetch_committed(
    store: &Store,
    generation: GenerationNo,
) -> Result<(Generation, Committed)> {
    fetch_raw(store, generation).await.map(|(g, c, _)| (g, c))
}

/// Reads one generation, with its object's size and ETag and its bytes as stored.
pub(crate) async fn fetch_raw(
    store: &Store,
    generation: GenerationNo,
) -> Result<(Generation, Committed, bytes::Bytes)> {
    let key = layout::manifest_key(generation);
    let (bytes, e_tag) = read_whole(store, &key, &Policy::bodies()).await?;
    let committed = Committed {
        size: bytes.len() as u64,
        e_tag,
    };
    let g = Generation::decode(key.as_ref(), &bytes)?;
    if g.generation != generation {
        return Err(Error::Format {
            what: "manifest",
            location: key.to_string(),
            message: format!(
                "holds generation {} under the key of {generation}",
                g.generation
            ),
        });
    }
    Ok((g, committed, bytes))
}

/// Whether a generation exists remotely.
pub async fn exists(store: &Store, generation: GenerationNo) -> Result<bool> {
    let key = layout::manifest_key(generation);
    match store.head(&key).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(Error::store("head", &key, e)),
    }
}

/// The newest generation and the newest published mark, in two listings however many
/// generations there are: the mark (the first key of its listing), then the
/// generations after it. An archive without marks (written before format 3) is listed
/// whole.
pub(crate) async fn newest_generation(
    store: &Store,
) -> Result<(Option<GenerationNo>, Option<GenerationNo>)> {
    let mark = published(store).await?;
    // Listed from the marked generation itself: a mark whose generation is gone (the
    // generations were deleted, the marks left) is not believed.
    let listed = list_metas(store, mark.and_then(GenerationNo::previous)).await?;
    let (listed, mark) = match mark {
        Some(m) if listed.first().is_none_or(|(g, _)| *g != m) => {
            tracing::warn!(
                generation = m.get(),
                "the newest published mark names a generation the destination lacks; listing every generation"
            );
            (list_metas(store, None).await?, None)
        }
        _ => (listed, mark),
    };
    Ok((listed.last().map(|(g, _)| *g), mark))
}

/// The newest generation of an archive and when it was committed: what `logferry
/// hosts` shows per host. Three requests at most however long the history (the mark,
/// the listing after it, the generation); a newest generation that does not decode
/// counts at its object's modification time, with the reason beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatestCommit {
    /// The newest generation.
    pub generation: GenerationNo,
    /// When it was committed: the manifest's `created_at`, or its object's modification
    /// time when the manifest does not decode.
    pub committed_at: Timestamp,
    /// Why the manifest was not read, when it was not.
    pub unreadable: Option<String>,
}

/// The archive's [`LatestCommit`], or `None` when it holds no generation.
pub async fn latest_commit(store: &Store) -> Result<Option<LatestCommit>> {
    let (Some(generation), _) = newest_generation(store).await? else {
        return Ok(None);
    };
    match fetch(store, generation).await {
        Ok(g) => Ok(Some(LatestCommit {
            generation,
            committed_at: g.created_at,
            unreadable: None,
        })),
        Err(e @ Error::Format { .. }) => {
            let key = layout::manifest_key(generation);
            let meta = store
                .head(&key)
                .await
                .map_err(|e| Error::store("head", &key, e))?;
            Ok(Some(LatestCommit {
                generation,
                committed_at: std::time::SystemTime::from(meta.last_modified).into(),
                unreadable: Some(e.to_string()),
            }))
        }
        Err(e) => Err(e),
    }
}

/// Writes an object the catalog derives from committed generations (a fold, a version
/// record, a mark). Whoever writes it writes the same bytes for the same committed
/// history, so it is overwritten rather than put create-only: a copy left by an archive
/// since wiped must not stand.
pub(crate) async fn put_derived(
    store: &Store,
    key: &Path,
    body: Vec<u8>,
    policy: &Policy,
) -> Result<()> {
    let body = Bytes::from(body);
    retry::run(policy, "put", || {
        store.put(key, PutPayload::from(body.clone()))
    })
    .await
    .result
    .map(|_| ())
    .map_err(|e| Error::store("put", key, e))
}

/// The newest generation whose records are complete, from the published mark (one
/// read); `None` when there is no mark, or one this build cannot read.
pub(crate) async fn published(store: &Store) -> Result<Option<GenerationNo>> {
    let key = layout::published_key();
    let got = retry::run(&Policy::bodies(), "get", || async {
        match store.get(&key).await {
            Ok(r) => r.bytes().await.map(Some),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
    .result
    .map_err(|e| Error::store("get", &key, e))?;
    let Some(bytes) = got else {
        return Ok(None);
    };
    match Mark::decode(key.as_ref(), &bytes) {
        Ok(m) => Ok(Some(m.generation)),
        Err(e) => {
            tracing::warn!(error = %e.chain(), "the published mark is unreadable; reading the generations instead");
            Ok(None)
        }
    }
}

/// The newest generation committed at or before `t` (binary search over the generations'
/// commit times, which only grow), or `None` when none is that old. A generation that
/// does not decode counts at its object's modification time, so a damaged generation
/// (superseded by a later checkpoint) does not stop a point-in-time read of others.
pub async fn generation_at(
    store: &Store,
    t: std::time::SystemTime,
) -> Result<Option<GenerationNo>> {
    let metas = list_metas(store, None).await?;
    let gens: Vec<GenerationNo> = metas.iter().map(|(g, _)| *g).collect();
    let (mut lo, mut hi) = (0usize, gens.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let created = match fetch(store, gens[mid]).await {
            Ok(g) => g.created_at.time(),
            Err(Error::Format { .. }) => metas[mid].1.last_modified.into(),
            Err(e) => return Err(e),
        };
        if created <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo.checked_sub(1).map(|i| gens[i]))
}

/// One object's bytes and ETag, the request and its body retried as a whole.
pub(crate) async fn read_whole(
    store: &Store,
    key: &Path,
    policy: &Policy,
) -> Result<(Bytes, Option<String>)> {
    retry::run(policy, "get", || async {
        let got = store.get(key).await?;
        let e_tag = got.meta.e_tag.clone();
        Ok((got.bytes().await?, e_tag))
    })
    .await
    .result
    .map_err(|e| Error::store("get", key, e))
}

/// Writes a generation create-only. If the key exists, someone else committed it first:
/// [`Error::CommitConflict`], and nothing is overwritten. A put whose answer was lost (a
/// reset, a timeout) is sent again; if the retry finds the key taken, the object there
/// is read back: our own bytes mean the earlier attempt landed and the commit stands,
/// anything else is a lost race. Returns the size and ETag of what was committed.
pub async fn commit(store: &Store, g: &Generation, policy: &Policy) -> Result<Committed> {
    commit_encoded(store, g.generation, Bytes::from(g.encode()), policy).await
}

/// [`commit`] of a generation already encoded (a writer that also hashes the bytes).
pub(crate) async fn commit_encoded(
    store: &Store,
    generation: GenerationNo,
    bytes: Bytes,
    policy: &Policy,
) -> Result<Committed> {
    let key = layout::manifest_key(generation);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let size = bytes.len() as u64;
    let out = retry::run(policy, "commit", || {
        store.put_opts(&key, PutPayload::from(bytes.clone()), opts.clone())
    })
    .await;
    let conflict = || Error::CommitConflict {
        generation: generation.get(),
        key: key.to_string(),
    };
    match out.result {
        Ok(r) => Ok(Committed {
            size,
            e_tag: r.e_tag,
        }),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. })
            if out.attempts > 1 =>
        {
            let (there, e_tag) = read_whole(store, &key, policy).await?;
            if there == bytes {
                tracing::info!(
                    generation = generation.get(),
                    "an earlier attempt of the commit landed"
                );
                Ok(Committed { size, e_tag })
            } else {
                Err(conflict())
            }
        }
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Err(conflict()),
        Err(e) => Err(Error::store("put", &key, e)),
    }
}
