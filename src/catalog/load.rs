//! Loading the archive's state as of a generation from the bucket into an index (a
//! reader's in memory, or the pass's database), one part at a time: the generation,
//! its checkpoint and its runs (format 3), or the checkpoint and every delta after it
//! (formats 1 and 2). Also the other direction: a generation's or a fold's entries
//! written as content-addressed parts.
//!
//! Parts are read a few at a time and handed over in order, so neither a rebuild nor a
//! reader holds more than a few parts of a checkpoint at once.

use futures::{StreamExt, TryStreamExt};

use super::chain::Chain;
use super::db::LocalIndex;
use super::index::Index;
use super::manifest::{
    Entry, Generation, GenerationNo, Kind, Part, PartObject, Run, FORMAT_VERSION,
};
use super::remote::{fetch, newest_generation, put_derived, read_whole};
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::remote::retry::Policy;
use crate::remote::{layout, Store};

/// How many objects a load reads at once.
const LOAD_CONCURRENCY: usize = 4;
/// Entries per part: a generation with more keeps them all in parts (about 1.5 MB of
/// JSON each).
pub(crate) const PART_ENTRIES: usize = 5000;

/// Where a load puts what it reads.
pub(crate) trait Sink {
    /// The chain the sink stands at.
    fn chain(&self) -> Result<Chain>;
    /// Forgets every entry (a full checkpoint starts).
    fn clear(&mut self) -> Result<()>;
    /// Puts entries on top.
    fn put(&mut self, entries: Vec<Entry>) -> Result<()>;
    /// Moves the sink to `chain`.
    fn set_chain(&mut self, chain: Chain) -> Result<()>;
}

impl Sink for Index {
    fn chain(&self) -> Result<Chain> {
        Ok(self.chain.clone())
    }

    fn clear(&mut self) -> Result<()> {
        Index::clear(self);
        Ok(())
    }

    fn put(&mut self, entries: Vec<Entry>) -> Result<()> {
        Index::put(self, entries);
        Ok(())
    }

    fn set_chain(&mut self, chain: Chain) -> Result<()> {
        self.chain = chain;
        Ok(())
    }
}

/// The pass's database as a sink, inside one of its transactions; the chain it
/// reaches is the caller's to save with [`LocalIndex::finish`].
pub(crate) struct DbSink<'a> {
    /// The database.
    pub db: &'a LocalIndex,
    /// Where the load has got to.
    pub chain: Chain,
}

impl Sink for DbSink<'_> {
    fn chain(&self) -> Result<Chain> {
        Ok(self.chain.clone())
    }

    fn clear(&mut self) -> Result<()> {
        self.db.clear()
    }

    fn put(&mut self, entries: Vec<Entry>) -> Result<()> {
        self.db.put(&entries)
    }

    fn set_chain(&mut self, chain: Chain) -> Result<()> {
        self.chain = chain;
        Ok(())
    }
}

fn bad_manifest(g: GenerationNo, message: String) -> Error {
    Error::Format {
        what: "manifest",
        location: layout::manifest_key(g).to_string(),
        message,
    }
}

/// One part's entries, checked against the hash and count the manifest gives.
async fn read_part(store: &Store, part: &Part) -> Result<Vec<Entry>> {
    let key = layout::part_key(&part.sha256);
    let bad = |message: String| Error::Format {
        what: "manifest part",
        location: key.to_string(),
        message,
    };
    let bytes = match read_whole(store, &key, &Policy::bodies()).await {
        Ok((b, _)) => b,
        Err(Error::Store { cause, .. })
            if matches!(*cause, object_store::Error::NotFound { .. }) =>
        {
            return Err(bad("absent from the destination".into()))
        }
        Err(e) => return Err(e),
    };
    let got = ContentHash::of(&bytes);
    if got != part.sha256 {
        return Err(bad(format!("holds bytes with sha256 {got}")));
    }
    let object = PartObject::decode(key.as_ref(), &bytes)?;
    if object.entries.len() as u64 != part.entries {
        return Err(bad(format!(
            "holds {} entries, {} were written",
            object.entries.len(),
            part.entries
        )));
    }
    Ok(object.entries)
}

/// Puts `parts`' entries into `sink`, in order, a few read at once.
async fn put_parts(store: &Store, parts: &[Part], sink: &mut (dyn Sink + Send)) -> Result<()> {
    let mut read = read_parts(store, parts.to_vec());
    while let Some(entries) = read.try_next().await? {
        sink.put(entries)?;
    }
    Ok(())
}

/// `parts`' entries, in order, a few parts read at once.
fn read_parts(
    store: &Store,
    parts: Vec<Part>,
) -> impl futures::Stream<Item = Result<Vec<Entry>>> + Send + '_ {
    futures::stream::iter(parts)
        .map(move |p| async move { read_part(store, &p).await })
        .buffered(LOAD_CONCURRENCY)
}

/// Applies one generation (a checkpoint replaces everything) to `sink`.
pub(crate) async fn apply_into(
    store: &Store,
    g: &Generation,
    sink: &mut (dyn Sink + Send),
) -> Result<()> {
    let chain = sink
        .chain()?
        .after(g)
        .map_err(|m| bad_manifest(g.generation, m))?;
    if g.kind == Kind::Full {
        sink.clear()?;
    }
    sink.put(g.entries.clone())?;
    put_parts(store, &g.parts, sink).await?;
    sink.set_chain(chain)
}

/// Loads the state as of `generation` into `sink`, which starts empty.
pub(crate) async fn load_into(
    store: &Store,
    generation: GenerationNo,
    sink: &mut (dyn Sink + Send),
) -> Result<()> {
    let head = fetch(store, generation).await?;
    if head.kind == Kind::Full {
        return apply_into(store, &head, sink).await;
    }
    if head.version < 3 {
        // A chain: the checkpoint and every delta after it.
        for g in (head.base.get()..generation.get()).map(GenerationNo) {
            apply_into(store, &fetch(store, g).await?, sink).await?;
        }
        return apply_into(store, &head, sink).await;
    }
    let base = fetch(store, head.base).await?;
    if base.kind != Kind::Full {
        return Err(bad_manifest(
            head.generation,
            format!("its checkpoint {} is not a full generation", head.base),
        ));
    }
    apply_into(store, &base, sink).await?;
    for run in &head.runs {
        put_run(store, run, sink).await?;
        let chain = sink
            .chain()?
            .after_run(run)
            .map_err(|m| bad_manifest(head.generation, m))?;
        sink.set_chain(chain)?;
    }
    apply_into(store, &head, sink).await
}

/// One run's entries: a generation's own, or a fold's parts.
async fn put_run(store: &Store, run: &Run, sink: &mut (dyn Sink + Send)) -> Result<()> {
    if run.level > 0 {
        return put_parts(store, &run.parts, sink).await;
    }
    let g = fetch(store, run.to).await?;
    if g.kind != Kind::Delta {
        return Err(bad_manifest(
            run.to,
            "is named as a delta run but is a full checkpoint".into(),
        ));
    }
    sink.put(g.entries)?;
    put_parts(store, &g.parts, sink).await
}

/// Builds the index as of `generation` in memory.
pub async fn load_at(store: &Store, generation: GenerationNo) -> Result<Index> {
    let mut index = Index::default();
    load_into(store, generation, &mut index).await?;
    Ok(index)
}

/// Builds the index of the latest generation from the remote alone.
pub async fn load_latest(store: &Store) -> Result<Index> {
    let (newest, _) = newest_generation(store).await?;
    match newest {
        Some(g) => load_at(store, g).await,
        None => Ok(Index::default()),
    }
}

/// A generation with the entries of its parts inline (and the versions its expiry took
/// out): what readers that look at every generation (verify, history) work on.
pub(crate) async fn inline(store: &Store, mut g: Generation) -> Result<Generation> {
    let parts: Vec<Vec<Entry>> = read_parts(store, std::mem::take(&mut g.parts))
        .try_collect()
        .await?;
    g.entries.extend(parts.into_iter().flatten());
    if let Some(x) = g.expiry.as_mut() {
        let parts: Vec<Vec<Entry>> = read_parts(store, std::mem::take(&mut x.parts))
            .try_collect()
            .await?;
        x.versions.extend(parts.into_iter().flatten());
    }
    Ok(g)
}

/// Reads one generation with every entry inline.
pub async fn fetch_inline(store: &Store, generation: GenerationNo) -> Result<Generation> {
    let g = fetch(store, generation).await?;
    inline(store, g).await
}

/// Reads every part of the folds `g` names, so that a damaged or missing one (which
/// would stop every load of `g`) is found: what `verify` checks of the newest
/// generation.
pub(crate) async fn check_folds(store: &Store, g: &Generation) -> Result<()> {
    for run in g.runs.iter().filter(|r| r.level > 0) {
        for part in &run.parts {
            read_part(store, part).await?;
        }
    }
    Ok(())
}

/// Writes `entries` as one part, before the generation naming it. Named by its hash, so
/// whoever writes it writes the same bytes.
pub(crate) async fn write_part(
    store: &Store,
    entries: Vec<Entry>,
    policy: &Policy,
) -> Result<Part> {
    let count = entries.len() as u64;
    let bytes = PartObject {
        version: FORMAT_VERSION,
        entries,
    }
    .encode();
    let sha256 = ContentHash::of(&bytes);
    put_derived(store, &layout::part_key(&sha256), bytes, policy).await?;
    Ok(Part {
        sha256,
        entries: count,
    })
}
