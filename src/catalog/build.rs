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

/// Moves the local index to the generation just committed.
pub(crate) fn settle(
    index: &LocalIndex,
    generation: &Generation,
    committed: Committed,
) -> Result<()> {
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
            &committed,
            &ContentHash::of(&generation.encode()),
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
