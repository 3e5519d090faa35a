//! Catching the local state up with the remote before a pass builds on it: the cached
//! chain is checked against one listing of the destination's generations, generations
//! another writer (or a lost cache update) added are applied, and a cache that no longer
//! matches the remote is rebuilt from it. A chain this host built on that was damaged
//! stops the pass instead of being committed on top of.

use std::collections::BTreeMap;

use crate::archive::pass::{cached, Pass};
use crate::catalog::index::Index;
use crate::catalog::local::Header;
use crate::catalog::{self, GenerationNo, Kind};
use crate::error::{Error, Result};
use crate::fsstat::FileId;
use crate::state::Seen;

/// What a pass knows of the archive before it scans: the current generation always,
/// the index only when catching up needed it.
pub(crate) struct Known {
    /// The generation the pass builds on.
    pub generation: GenerationNo,
    /// The index at it, when catching up needed it.
    pub index: Option<Index>,
    /// What earlier passes recorded of the local files.
    pub seen: BTreeMap<FileId, Seen>,
    /// Rebuilt from the remote: every file is hashed, and an object it names that the
    /// destination lacks is put back from the file.
    pub rebuilt: bool,
}

/// The archive as this host last saw it, brought up to date with the remote (one LIST
/// when nothing changed); rebuilt from the remote alone when there is no usable cache or
/// the remote no longer holds the cached generation. The same listing shows whether the
/// generations this host builds on are still the ones it committed or read: if one is
/// absent or replaced, the pass stops with [`Error::DamagedGeneration`] rather than
/// commit on top of a chain readers cannot load.
pub(crate) async fn open_state(p: &Pass<'_>) -> Result<Known> {
    let state_dir = p.state_dir;
    let Some(header) = state_dir.header(&p.destination) else {
        return rebuild(p).await;
    };
    let local: Vec<(GenerationNo, u64)> = state_dir
        .chain_deltas()
        .into_iter()
        .filter(|(g, _)| *g <= header.generation)
        .collect();
    let from = local.first().map_or(header.generation, |(g, _)| *g);
    let listed = catalog::list_metas(p.store, from.previous()).await?;
    let holds = |g: GenerationNo| listed.iter().any(|(l, _)| *l == g);
    if header.generation > GenerationNo(0) && !holds(header.generation) {
        // Still our chain (it holds deltas this host has) but its head is gone: building
        // on the generation before would drop what the head recorded.
        if local.iter().any(|(g, _)| holds(*g)) {
            return Err(Error::DamagedGeneration {
                generation: header.generation.get(),
                key: crate::remote::manifest_key(header.generation).to_string(),
                detail: "absent from the destination, which still holds the generations before it"
                    .into(),
            });
        }
        tracing::warn!(
            generation = header.generation.get(),
            "the destination no longer holds the cached generation; rebuilding state from it"
        );
        return rebuild(p).await;
    }
    for (g, why) in suspects(&header, &local, &listed) {
        confirm_damage(p, &header, g, why).await?;
    }
    let newer: Vec<GenerationNo> = listed
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
    catch_up(p, header.generation, newer, seen).await
}

/// Applies the generations another writer (or our own commit whose cache update was
/// lost) added after `cached`, saving each in the local chain as it goes.
async fn catch_up(
    p: &Pass<'_>,
    cached_generation: GenerationNo,
    newer: Vec<GenerationNo>,
    seen: BTreeMap<FileId, Seen>,
) -> Result<Known> {
    let state_dir = p.state_dir;
    let Some(mut index) = state_dir.load_index(cached_generation) else {
        return rebuild(p).await;
    };
    let mut chain_ok = true;
    let mut committed = None;
    for g in newer {
        let (gen, c, bytes) = catalog::fetch_raw(p.store, g).await?;
        committed = Some(c);
        if gen.kind == Kind::Delta && gen.generation != index.generation.next()
            || index.apply(&gen).is_err()
        {
            return rebuild(p).await;
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
            state_dir.save_header_committed(&p.destination, index.generation, committed),
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
    header: &Header,
    local: &[(GenerationNo, u64)],
    listed: &[(GenerationNo, object_store::ObjectMeta)],
) -> Vec<(GenerationNo, Option<String>)> {
    let remote: BTreeMap<GenerationNo, &object_store::ObjectMeta> =
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
    p: &Pass<'_>,
    header: &Header,
    generation: GenerationNo,
    why: Option<String>,
) -> Result<()> {
    let damaged = |detail: String| Error::DamagedGeneration {
        generation: generation.get(),
        key: crate::remote::manifest_key(generation).to_string(),
        detail,
    };
    let Some(why) = why else {
        return Err(damaged("absent from the destination".into()));
    };
    let (remote, committed) = match catalog::fetch_committed(p.store, generation).await {
        Ok(r) => r,
        Err(e @ Error::Format { .. }) => return Err(damaged(format!("{why}: {e}"))),
        Err(e) => return Err(e),
    };
    if let Some(local) = p.state_dir.load_delta(generation) {
        if local != remote {
            return Err(damaged(format!(
                "{why}, and it records other content than this host holds"
            )));
        }
    }
    tracing::info!(
        generation = generation.get(),
        "{why}, but it holds the same generation: accepted"
    );
    if generation == header.generation {
        p.state_dir
            .save_header_committed(&p.destination, generation, Some(committed))?;
    }
    Ok(())
}

/// Forgets the local cache and builds it again from the remote manifests.
async fn rebuild(p: &Pass<'_>) -> Result<Known> {
    let state_dir = p.state_dir;
    // Loaded before the cache is forgotten: if the remote cannot be read, the good local
    // copy stays for `verify --repair`. A stale cache must not survive (its seen records
    // would skip files the remote lacks), so failing to forget it stops the pass;
    // failing to save the new one does not.
    let (index, published) = catalog::remote::load_latest_marked(p.store).await?;
    state_dir.reset()?;
    if let Some(g) = published {
        cached(
            "published mark",
            state_dir.save_published(&p.destination, g),
        );
    }
    if cached("manifest chain", state_dir.save_snapshot(&index)) {
        cached(
            "cache header",
            state_dir.save_header(&p.destination, index.generation),
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
pub(crate) async fn local_index(p: &Pass<'_>, generation: GenerationNo) -> Result<Index> {
    let state_dir = p.state_dir;
    if let Some(index) = state_dir.load_index(generation) {
        return Ok(index);
    }
    if generation == GenerationNo(0) {
        return Ok(Index::default());
    }
    tracing::warn!("the local manifest chain is incomplete; reloading it from the destination");
    let index = catalog::load_at(p.store, generation).await?;
    if cached("manifest chain", state_dir.save_snapshot(&index)) {
        cached(
            "cache header",
            state_dir.save_header(&p.destination, generation),
        );
    }
    Ok(index)
}
