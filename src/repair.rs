//! `verify --repair`: puts back what `verify` found broken, from what this host still
//! holds. A chain broken by a missing or damaged generation gets a full checkpoint of the
//! good index in the state dir, committed create-only as the next generation, so readers
//! (who load the latest checkpoint and the deltas after it) never read the damaged one.
//! Nothing committed is rewritten: the damaged generation stays, superseded.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::Index;
use crate::manifest;
use crate::schedule::{rfc3339, Clock};
use crate::state::StateDir;
use crate::stats::RunReport;
use crate::store::Store;
use crate::verify::VerifyReport;

/// Commits a full checkpoint from the state dir's index when `report` shows a broken
/// chain; returns the generation committed, or `None` when the chain is whole.
pub async fn recommit_checkpoint(
    config: &Config,
    store: &Store,
    report: &VerifyReport,
    clock: &dyn Clock,
) -> Result<Option<u64>> {
    let Some(first) = report.broken_chain().iter().map(|g| g.generation).min() else {
        return Ok(None);
    };
    let state = StateDir::lock(&config.state_dir)?;
    let mut index = good_index(config, &state, report, first)?;
    let g = index.checkpoint(rfc3339(clock.now()), RunReport::default());
    let committed = manifest::commit(store, &g).await?;
    index.apply(&g).map_err(|message| Error::Format {
        what: "manifest",
        location: format!("generation {}", g.generation),
        message,
    })?;
    state.save_snapshot(&index)?;
    state.save_header_committed(
        &config.destination.url.to_string(),
        g.generation,
        Some(committed),
    )?;
    Ok(Some(g.generation))
}

/// The index this host last committed or read, if it reaches the archive's newest
/// generation: only then does it hold everything the damaged generations recorded.
fn good_index(
    config: &Config,
    state: &StateDir,
    report: &VerifyReport,
    first: u64,
) -> Result<Index> {
    let fail = |message: String| Error::Repair {
        generation: first,
        message,
    };
    let dir = config.state_dir.display();
    let header = state
        .header(&config.destination.url.to_string())
        .ok_or_else(|| {
            fail(format!(
                "the state dir {dir} holds no copy of this archive; run the repair on the host whose agent archives here, with its config and state dir — if none holds one, restore with --generation {} (the last generation before the damage)",
                first.saturating_sub(1)
            ))
        })?;
    if header.generation < report.newest {
        return Err(fail(format!(
            "the state dir {dir} is at generation {}, the archive at {}: run the repair on the host that committed generation {}",
            header.generation, report.newest, report.newest
        )));
    }
    state.load_index(header.generation).ok_or_else(|| {
        fail(format!(
            "the state dir {dir} does not hold the chain up to generation {}",
            header.generation
        ))
    })
}
