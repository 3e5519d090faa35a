//! Catching the local index up with the remote before a pass builds on it: the
//! generations it remembers are checked against one listing of the destination's
//! generations, generations another writer (or a lost cache update) added are applied,
//! and an index that no longer matches the remote is rebuilt from it. A chain this host
//! built on that was damaged stops the pass instead of being committed on top of.
//!
//! A pass may go ahead of that listing ([`open_state_ahead`]): the listing is sent in the
//! background while the pass scans, hashes and stores on the local index as it is, and
//! [`Known::confirm`] waits for it before anything is recorded. Soundness, invariant by
//! invariant:
//!
//! - *Nothing lost, data first (1, 2).* Until `confirm`, the pass only reads local files
//!   and puts content-addressed data objects, which are immutable and harmless where
//!   unrecorded (a retry writes the same bytes to the same key; the next pass adopts
//!   them). No generation, version record or mark is written, no local file deleted, no
//!   seen record saved before it.
//! - *One writer (3).* Every pass still lists the generations, from the same instant as
//!   before (the start of the pass), and the commit is still create-only: a generation
//!   another writer added before the listing is seen by `confirm`, one added after it
//!   makes the commit fail with `CommitConflict`, exactly as when the pass waited.
//! - *A destination wiped, replaced or damaged behind our back* shows in the listing as a
//!   generation absent, another size or ETag, or one newer: `confirm` says no, the pass
//!   drops what it staged and starts over with [`open_state`], which catches up, rebuilds
//!   or stops as it always did, so no record ever trusts content the destination may
//!   have lost. What the pass stored meanwhile is content-addressed and adopted.
//!
//! The pass waits for `confirm` before hashing when it has much to read (the caller
//! decides), so a stale index never costs more than a little wasted reading.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::archive::pass::Pass;
use crate::catalog::db::{LocalIndex, Remembered};
use crate::catalog::load::{apply_into, load_into, DbSink};
use crate::catalog::{self, GenerationNo};
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::fsstat::FileId;
use crate::state::Seen;

/// What a pass knows of the archive before it scans.
pub(crate) struct Known {
    /// The generation the pass builds on.
    pub generation: GenerationNo,
    /// The local index, at that generation.
    pub index: Arc<LocalIndex>,
    /// What earlier passes recorded of the local files.
    pub seen: BTreeMap<FileId, Seen>,
    /// Rebuilt from the remote: every file is hashed, and an object it names that the
    /// destination lacks is put back from the file.
    pub rebuilt: bool,
    /// The catch-up listing still in flight, when the pass went ahead of it.
    ahead: Option<Ahead>,
}

/// The catch-up listing of a pass that went ahead of it, and what it must show for the
/// local index to be current.
struct Ahead {
    listing: JoinHandle<Result<Listed>>,
    generation: GenerationNo,
    remembered: Vec<Remembered>,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // A pass cancelled or failed before `confirm`: no need to finish the listing.
        self.listing.abort();
    }
}

type Listed = Vec<(GenerationNo, object_store::ObjectMeta)>;

impl Known {
    /// Waits for the catch-up listing of a pass that went ahead of it: `true` when the
    /// destination holds exactly the generations the local index remembers, as it saw
    /// them, and none after them; `false` when anything differs, and the caller starts
    /// over with [`open_state`]. Always `true` for a pass that waited for its listing.
    pub(crate) async fn confirm(&mut self) -> Result<bool> {
        let Some(mut ahead) = self.ahead.take() else {
            return Ok(true);
        };
        let listed = match (&mut ahead.listing).await {
            Ok(listed) => listed?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Ok(false),
        };
        let current = listed.iter().any(|(g, _)| *g == ahead.generation)
            && listed.iter().all(|(g, _)| *g <= ahead.generation)
            && suspects(&ahead.remembered, &listed).is_empty();
        Ok(current)
    }
}

/// [`open_state`] without waiting for its listing, when the local index is this
/// destination's and holds a generation: the listing is sent in the background and
/// [`Known::confirm`] tells whether the index was current (see the module's doc for why
/// this is sound). Otherwise, the same as [`open_state`].
pub(crate) async fn open_state_ahead(p: &Pass<'_>) -> Result<Known> {
    let db = Arc::new(p.state_dir.open_index(&p.destination)?);
    let generation = db.generation()?;
    if db.destination()?.as_deref() != Some(p.destination.as_str()) || generation == GenerationNo(0)
    {
        return settle(p, db).await;
    }
    let remembered = remembered(&db, generation)?;
    let from = remembered.first().map_or(generation, |r| r.generation);
    let store = Arc::clone(p.store);
    let listing = tokio::spawn(async move { catalog::list_metas(&store, from.previous()).await });
    Ok(Known {
        generation,
        index: db,
        seen: p.state_dir.seen(),
        rebuilt: false,
        ahead: Some(Ahead {
            listing,
            generation,
            remembered,
        }),
    })
}

/// The generations the local index remembers, up to its own.
fn remembered(db: &LocalIndex, generation: GenerationNo) -> Result<Vec<Remembered>> {
    Ok(db
        .remembered()?
        .into_iter()
        .filter(|r| r.generation <= generation)
        .collect())
}

/// The archive as this host last saw it, brought up to date with the remote (one LIST
/// when nothing changed); rebuilt from the remote alone when there is no usable index or
/// the remote no longer holds its generation. The same listing shows whether the
/// generations this host builds on are still the ones it committed or read: if one is
/// absent or replaced, the pass stops with [`Error::DamagedGeneration`] rather than
/// commit on top of a chain readers cannot load.
pub(crate) async fn open_state(p: &Pass<'_>) -> Result<Known> {
    let db = Arc::new(p.state_dir.open_index(&p.destination)?);
    settle(p, db).await
}

/// [`open_state`] of the index `db`, opened.
async fn settle(p: &Pass<'_>, db: Arc<LocalIndex>) -> Result<Known> {
    match db.destination()? {
        Some(d) if d == p.destination => {}
        other => {
            if let Some(other) = other {
                tracing::info!(cached = %other, configured = %p.destination, "the local index is for another destination; rebuilding");
            }
            return rebuild(p, db).await;
        }
    }
    let generation = db.generation()?;
    let remembered = remembered(&db, generation)?;
    let from = remembered.first().map_or(generation, |r| r.generation);
    let listed = catalog::list_metas(p.store, from.previous()).await?;
    tracing::debug!(
        elapsed_ms = p.started.elapsed().as_secs_f64() * 1000.0,
        generations = listed.len(),
        "listed the destination's generations"
    );
    let holds = |g: GenerationNo| listed.iter().any(|(l, _)| *l == g);
    if generation > GenerationNo(0) && !holds(generation) {
        // Still our chain (it holds generations this host has) but its head is gone:
        // building on the generation before would drop what the head recorded.
        if remembered
            .iter()
            .any(|r| r.generation < generation && holds(r.generation))
        {
            return Err(Error::DamagedGeneration {
                generation: generation.get(),
                key: crate::remote::manifest_key(generation).to_string(),
                detail: "absent from the destination, which still holds the generations before it"
                    .into(),
            });
        }
        tracing::warn!(
            generation = generation.get(),
            "the destination no longer holds the local index's generation; rebuilding from it"
        );
        return rebuild(p, db).await;
    }
    for (r, why) in suspects(&remembered, &listed) {
        confirm_damage(p, &db, &r, why).await?;
    }
    let newer: Vec<GenerationNo> = listed
        .iter()
        .map(|(g, _)| *g)
        .filter(|g| *g > generation)
        .collect();
    let seen = p.state_dir.seen();
    if !newer.is_empty() && !catch_up(p, &db, newer).await? {
        return rebuild(p, db).await;
    }
    Ok(Known {
        generation: db.generation()?,
        index: db,
        seen,
        rebuilt: false,
        ahead: None,
    })
}

/// Applies the generations another writer (or our own commit whose index update was
/// lost) added, each in one transaction; `false` when one does not follow the chain
/// (the caller rebuilds).
async fn catch_up(p: &Pass<'_>, db: &LocalIndex, newer: Vec<GenerationNo>) -> Result<bool> {
    for g in newer {
        let (gen, committed, bytes) = catalog::fetch_raw(p.store, g).await?;
        let chain = db.chain()?;
        if chain.after(&gen).is_err() {
            return Ok(false);
        }
        db.begin()?;
        let mut sink = DbSink { db, chain };
        let applied = async {
            apply_into(p.store, &gen, &mut sink).await?;
            db.remember(
                g,
                &committed,
                &ContentHash::of(&bytes),
                gen.kind == catalog::Kind::Full,
            )
        }
        .await;
        match applied {
            Ok(()) => db.finish(&sink.chain)?,
            Err(e) => {
                db.abandon();
                return Err(e);
            }
        }
    }
    Ok(true)
}

/// The generations the index remembers, against their listing: the ones absent, or
/// not listed with the size (and ETag) this host saw, and why.
fn suspects(
    remembered: &[Remembered],
    listed: &[(GenerationNo, object_store::ObjectMeta)],
) -> Vec<(Remembered, Option<String>)> {
    let remote: BTreeMap<GenerationNo, &object_store::ObjectMeta> =
        listed.iter().map(|(g, m)| (*g, m)).collect();
    let mut out = Vec::new();
    for r in remembered {
        match remote.get(&r.generation) {
            None => out.push((r.clone(), None)),
            Some(m) => {
                if let Some(why) = r.committed.differs(m) {
                    out.push((r.clone(), Some(why)));
                }
            }
        }
    }
    out
}

/// A generation listed otherwise than this host saw it (`why`; `None`: absent) is read:
/// damaged when it does not decode or holds other bytes than this host committed or
/// read. One that was only copied (a migrated bucket, a mirror copied with new inodes:
/// another ETag, the same bytes) is accepted, and its new listing remembered.
async fn confirm_damage(
    p: &Pass<'_>,
    db: &LocalIndex,
    r: &Remembered,
    why: Option<String>,
) -> Result<()> {
    let damaged = |detail: String| Error::DamagedGeneration {
        generation: r.generation.get(),
        key: crate::remote::manifest_key(r.generation).to_string(),
        detail,
    };
    let Some(why) = why else {
        return Err(damaged("absent from the destination".into()));
    };
    let (_, committed, bytes) = match catalog::fetch_raw(p.store, r.generation).await {
        Ok(x) => x,
        Err(e @ Error::Format { .. }) => return Err(damaged(format!("{why}: {e}"))),
        Err(e) => return Err(e),
    };
    let sha = ContentHash::of(&bytes);
    if r.sha256.is_some_and(|local| local != sha) {
        return Err(damaged(format!(
            "{why}, and it holds other bytes than this host committed or read"
        )));
    }
    tracing::info!(
        generation = r.generation.get(),
        "{why}, but it holds the same generation: accepted"
    );
    db.begin()?;
    db.remember(r.generation, &committed, &sha, false)?;
    db.finish(&db.chain()?)
}

/// Forgets the local index and builds it again from the remote: the latest state,
/// streamed part by part into the database.
async fn rebuild(p: &Pass<'_>, db: Arc<LocalIndex>) -> Result<Known> {
    // Listed before the index is forgotten: if the remote cannot be read, the local
    // copy stays for `verify --repair`. A stale index must not survive (its seen records
    // would skip files the remote lacks), so failing to forget it stops the pass.
    let (newest, published) = catalog::remote::newest_generation(p.store).await?;
    p.state_dir.reset_catalog(&db, &p.destination)?;
    if let Some(newest) = newest {
        db.begin()?;
        let mut sink = DbSink {
            db: &db,
            chain: Default::default(),
        };
        match load_into(p.store, newest, &mut sink).await {
            Ok(()) => db.finish(&sink.chain)?,
            Err(e) => {
                db.abandon();
                return Err(e);
            }
        }
    }
    if let Some(g) = published {
        db.set_published(g)?;
    }
    Ok(Known {
        generation: db.generation()?,
        index: db,
        seen: BTreeMap::new(),
        rebuilt: true,
        ahead: None,
    })
}
