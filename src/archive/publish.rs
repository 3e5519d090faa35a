//! Step 5b of a pass: the version records of what the pass committed (and of whatever an
//! earlier pass committed but could not publish: a crash, an outage, the first pass on
//! an archive written before format 3), then the mark saying they are complete. The
//! commit stands without them; readers that find no record read the generations after
//! the newest mark, so a record late is a slower read, never a wrong one.

use crate::archive::pass::{cached, Pass};
use crate::catalog::index::Index;
use crate::catalog::records;
use crate::catalog::GenerationNo;
use crate::remote::retry::Policy;

/// Whether generations up to `generation` still lack their records.
pub(crate) fn lags(p: &Pass<'_>, generation: GenerationNo) -> bool {
    generation > p.state_dir.published(&p.destination)
}

/// Writes the records of every current entry recorded after the newest published
/// generation, then marks `index`'s generation published. A failure is a warning: the
/// next pass writes them.
pub(crate) async fn records(p: &Pass<'_>, index: &Index) {
    let through = p.state_dir.published(&p.destination);
    if index.generation <= through {
        return;
    }
    let entries: Vec<_> = index
        .entries()
        .filter(|e| e.generation > through)
        .cloned()
        .collect();
    let count = entries.len();
    let policy = Policy::for_destination(&p.config.destination);
    match records::publish(p.store, entries, index.generation, &policy).await {
        Ok(()) => {
            if through == GenerationNo(0) && count > 1 {
                tracing::info!(
                    records = count,
                    generation = index.generation.get(),
                    "wrote the version records of the archive"
                );
            }
            cached(
                "published mark",
                p.state_dir.save_published(&p.destination, index.generation),
            );
        }
        Err(e) => tracing::warn!(
            error = %e.chain(),
            generation = index.generation.get(),
            "could not write the version records; the commit stands and the next pass writes them"
        ),
    }
}
