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

/// Writes the records of every current entry recorded after the newest generation whose
/// records are written, a page at a time, then marks the index's generation published
/// (on GCS at most once a second). A failure is a warning: the next pass writes them.
pub(crate) async fn records(p: &Pass<'_>, index: &LocalIndex) {
    if let Err(e) = publish(p, index).await {
        tracing::warn!(
            error = %e.chain(),
            "could not write the version records; the commit stands and the next pass writes them"
        );
    }
}

async fn publish(p: &Pass<'_>, index: &LocalIndex) -> Result<()> {
    let (through, newest) = (index.records_written()?, index.generation()?);
    let policy = Policy::for_destination(&p.config.destination);
    if through < newest {
        let select = Select::RecordedIn(through, newest);
        let (mut after, mut count) = (None, 0usize);
        loop {
            let page = index.page(select, after.as_ref(), PART_ENTRIES)?;
            let Some(last) = page.last() else { break };
            after = Some((last.source.clone(), last.path.clone()));
            count += page.len();
            records::write_records(p.store, page, &policy, p.config.requests_in_flight).await?;
        }
        if through == GenerationNo(0) && count > 1 {
            tracing::info!(
                records = count,
                generation = newest.get(),
                "wrote the version records of the archive"
            );
        }
        cached("version records", index.set_records_written(newest));
    }
    let published = index.published()?;
    if published >= newest {
        return Ok(());
    }
    let now = crate::fsstat::nanos(p.clock.now());
    let behind = newest.get() - published.get();
    if behind < MARK_LAG_MAX && mark_put_off(p, index.mark_written_ns()?, now) {
        tracing::debug!(
            generation = newest.get(),
            "the published mark was written less than a second ago: the next pass writes it"
        );
        return Ok(());
    }
    records::write_mark(p.store, newest, &policy).await?;
    cached("published mark", index.set_mark_written(newest, now));
    Ok(())
}

/// GCS takes about one write a second to one object name and answers more with 429,
/// whose retries held up each pass for a second; the mark is the one object a pass
/// rewrites. So on GCS it is rewritten at most once a second. A mark behind makes a
/// reader read the generations after it (slower, never wrong), at most
/// [`MARK_LAG_MAX`] - 1 of them, and the next pass, one with nothing new too, brings it
/// up to date.
const GCS_MARK_INTERVAL_NS: i64 = 1_000_000_000;

/// The most generations the mark is left behind by, whatever the rate: each one costs a
/// lookup of a name never archived one more read.
pub(crate) const MARK_LAG_MAX: u64 = 8;

/// Whether this pass leaves the mark to the next one: on GCS, within a second of the
/// last write of it (a clock that went back does not hold it off).
fn mark_put_off(p: &Pass<'_>, last_ns: Option<i64>, now_ns: i64) -> bool {
    p.config.destination.url.is_gcs()
        && last_ns.is_some_and(|last| (0..GCS_MARK_INTERVAL_NS).contains(&(now_ns - last)))
}
