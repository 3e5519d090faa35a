//! Step 5b of a pass: the version records of what the pass committed (and of whatever an
//! earlier pass committed but could not publish: a crash, an outage, the first pass on
//! an archive written before format 3), then the mark saying they are complete. The
//! commit stands without them; readers that find no record read the generations after
//! the newest mark, so a record late is a slower read, never a wrong one.

use crate::archive::pass::{cached, Pass};
use crate::catalog::db::{LocalIndex, Select};
use crate::catalog::load::PART_ENTRIES;
use crate::catalog::records;
use crate::catalog::GenerationNo;
use crate::error::Result;
use crate::remote::retry::Policy;

/// Whether generations up to the index's still lack their records.
pub(crate) fn lags(index: &LocalIndex) -> Result<bool> {
    Ok(index.generation()? > index.published()?)
}

/// Writes the records of every current entry recorded after the newest published
/// generation, a page at a time, then marks the index's generation published. A
/// failure is a warning: the next pass writes them.
pub(crate) async fn records(p: &Pass<'_>, index: &LocalIndex) {
    if let Err(e) = publish(p, index).await {
        tracing::warn!(
            error = %e.chain(),
            "could not write the version records; the commit stands and the next pass writes them"
        );
    }
}

async fn publish(p: &Pass<'_>, index: &LocalIndex) -> Result<()> {
    let (through, newest) = (index.published()?, index.generation()?);
    if newest <= through {
        return Ok(());
    }
    let policy = Policy::for_destination(&p.config.destination);
    let select = Select::RecordedIn(through, newest);
    let (mut after, mut count) = (None, 0usize);
    loop {
        let page = index.page(select, after.as_ref(), PART_ENTRIES)?;
        let Some(last) = page.last() else { break };
        after = Some((last.source.clone(), last.path.clone()));
        count += page.len();
        records::write_records(p.store, page, &policy, p.config.requests_in_flight).await?;
    }
    records::write_mark(p.store, newest, &policy).await?;
    if through == GenerationNo(0) && count > 1 {
        tracing::info!(
            records = count,
            generation = newest.get(),
            "wrote the version records of the archive"
        );
    }
    cached("published mark", index.set_published(newest));
    Ok(())
}
