//! The next generation, built from the local index and what the running pass stored
//! (its pending entries): a delta naming its runs, the folds among them written first,
//! or a full checkpoint. Entries that do not fit one part are written as parts before the
//! generation, a page at a time from the database, so a checkpoint of a million entries
//! is never in memory whole.

use super::chain::Chain;
use super::db::{LocalIndex, Select};
use super::load::{write_part, PART_ENTRIES};
use super::manifest::{Committed, Entry, Generation, Kind, Part, FORMAT_VERSION};
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::remote::retry::Policy;
use crate::remote::Store;
use crate::report::RunReport;
use crate::time::Timestamp;

/// The generation after `index`'s, recording its pending entries (a full checkpoint
/// when the chain calls for one, or `checkpoint`), with every part and fold it names
/// already stored.
pub(crate) async fn next_generation(
    store: &Store,
    index: &LocalIndex,
    created_at: Timestamp,
    report: RunReport,
    checkpoint: bool,
    policy: &Policy,
) -> Result<Generation> {
    let chain: Chain = index.chain()?;
    let generation = chain.generation.next();
    let full = checkpoint || chain.next_is_full(index.pending_count()?);
    let (runs, select) = if full {
        (Vec::new(), Select::AllWithPending)
    } else {
        let mut runs = chain.next_runs();
        for i in chain.new_folds(&runs) {
            let select = Select::RecordedIn(runs[i].from, runs[i].to);
            runs[i].parts = write_parts(store, index, select, Vec::new(), policy).await?;
        }
        (runs, Select::Pending)
    };
    let first = index.page(select, None, PART_ENTRIES + 1)?;
    let (entries, parts) = if first.len() <= PART_ENTRIES {
        (first, Vec::new())
    } else {
        (
            Vec::new(),
            write_parts(store, index, select, first, policy).await?,
        )
    };
    Ok(Generation {
        version: FORMAT_VERSION,
        generation,
        kind: if full { Kind::Full } else { Kind::Delta },
        base: if full { generation } else { chain.base },
        created_at,
        report: Some(report),
        runs,
        parts,
        entries,
        expiry: None,
    })
}

/// Writes every entry of `select` as parts of `PART_ENTRIES`, starting with `first`
/// (entries already read), page by page.
async fn write_parts(
    store: &Store,
    index: &LocalIndex,
    select: Select,
    mut page: Vec<Entry>,
    policy: &Policy,
) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut after = None;
    loop {
        if page.is_empty() {
            page = index.page(select, after.as_ref(), PART_ENTRIES)?;
            if page.is_empty() {
                return Ok(parts);
            }
        }
        let rest = page.split_off(page.len().min(PART_ENTRIES));
        let last = page.last().expect("a page holds an entry");
        after = Some((last.source.clone(), last.path.clone()));
        parts.push(write_part(store, page, policy).await?);
        page = rest;
        if !page.is_empty() {
            continue;
        }
    }
}

/// A generation committed: what its object looks like in the destination, and the
/// sha256 of its bytes (what the local index remembers of it).
pub(crate) struct Landed {
    /// Its size and ETag.
    pub committed: Committed,
    /// The sha256 of the bytes committed.
    pub sha256: ContentHash,
}

/// Commits `g` create-only (see [`super::remote::commit`]), encoding it once.
pub(crate) async fn land(store: &Store, g: &Generation, policy: &Policy) -> Result<Landed> {
    let bytes = bytes::Bytes::from(g.encode());
    let sha256 = ContentHash::of(&bytes);
    let committed = super::remote::commit_encoded(store, g.generation, bytes, policy).await?;
    Ok(Landed { committed, sha256 })
}

/// Moves the local index to the generation just committed.
pub(crate) fn settle(index: &LocalIndex, generation: &Generation, landed: Landed) -> Result<()> {
    let next = index
        .chain()?
        .after(generation)
        .map_err(|message| Error::Format {
            what: "manifest",
            location: format!("generation {}", generation.generation),
            message,
        })?;
    index.begin()?;
    let moved = index.settle_pending().and_then(|()| {
        index.remember(
            generation.generation,
            &landed.committed,
            &landed.sha256,
            generation.kind == Kind::Full,
        )
    });
    match moved {
        Ok(()) => index.finish(&next),
        Err(e) => {
            index.abandon();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::load::load_at;

    fn entry(path: &str, content: &str, generation: u64) -> Entry {
        Entry::sample(path, content.as_bytes(), generation)
    }

    /// Commits generations the way a pass does (pending entries, the next generation
    /// with its folds and parts, the create-only commit, the index moved on) and loads
    /// each one back as a reader would: the same entries as the local index holds,
    /// through checkpoints, folds of folds, and parts.
    #[tokio::test]
    async fn every_generation_loads_back_as_the_local_index_holds_it() {
        let store: Store = Arc::new(object_store::memory::InMemory::new());
        let dir = tempfile::tempdir().unwrap();
        let index = LocalIndex::open(&dir.path().join("catalog.db")).unwrap();
        index.reset("memory://").unwrap();
        let policy = Policy::default();
        let (mut most_runs, mut checkpoints, mut with_parts) = (0, 0, 0);
        for n in 1..=700u64 {
            let added: Vec<Entry> = match n {
                // Enough for parts in the first checkpoint and in one big delta.
                1 | 300 => (0..(PART_ENTRIES as u64 + 7))
                    .map(|i| entry(&format!("bulk-{n}-{i}"), &format!("{n} {i}"), n))
                    .collect(),
                // A name reused every few generations (logrotate) and a new one.
                _ => vec![
                    entry(&format!("app.log.{}", n % 5), &format!("{n}"), n),
                    entry(&format!("wal-{n:04}"), &format!("w{n}"), n),
                ],
            };
            index.put_pending(&added).unwrap();
            let g = next_generation(
                &store,
                &index,
                Timestamp::default(),
                RunReport::default(),
                false,
                &policy,
            )
            .await
            .unwrap();
            let landed = land(&store, &g, &policy).await.unwrap();
            settle(&index, &g, landed).unwrap();
            checkpoints += usize::from(g.kind == Kind::Full);
            with_parts += usize::from(!g.parts.is_empty());
            most_runs = most_runs.max(g.runs.len());
            if n < 12 || n % 97 == 0 || n == 300 || n == 700 || g.kind == Kind::Full {
                let loaded = load_at(&store, g.generation).await.unwrap();
                let local = index
                    .page(Select::AllWithPending, None, usize::MAX)
                    .unwrap();
                assert!(
                    loaded.entries().eq(local.iter()),
                    "generation {n} loads otherwise than the local index holds it"
                );
                assert_eq!(loaded.chain, index.chain().unwrap(), "generation {n}");
            }
        }
        assert!(checkpoints >= 2, "{checkpoints} checkpoints");
        assert_eq!(with_parts, 2, "the first checkpoint and the big delta");
        assert!((8..=28).contains(&most_runs), "{most_runs} runs");
    }
}
