//! Point-in-time reads inside the retention window. An expiry commits a checkpoint that
//! says what it took out, and marks itself under `catalog/expiries/` so a reader of an
//! older generation finds every expiry after it in one listing: the state such a
//! generation names, less what expired since, is what is still there. A time or a
//! generation from before the window is refused with the window's start.

use std::time::SystemTime;

use futures::TryStreamExt;

use crate::catalog::expiry::Expired;
use crate::catalog::index::Index;
use crate::catalog::load::load_at;
use crate::catalog::{self, GenerationNo};
use crate::error::{Error, Result};
use crate::remote::{layout, Store};
use crate::time::Timestamp;

/// Every expiry committed after `generation`, as the marks under `catalog/expiries/`
/// name them (each read from its committed generation).
pub(crate) async fn expired_after(store: &Store, generation: GenerationNo) -> Result<Expired> {
    let prefix = layout::expiries_prefix();
    let marks: Vec<GenerationNo> = store
        .list(Some(&prefix))
        .map_ok(|m| layout::parse_expiry_key(&m.location))
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| Error::store("list", &prefix, e))?
        .into_iter()
        .flatten()
        .filter(|&g| g > generation)
        .collect();
    let mut gens = Vec::new();
    for g in marks {
        match catalog::fetch_inline(store, g).await {
            Ok(gen) if gen.expiry.is_some() => gens.push(gen),
            // A mark whose generation is gone or is no expiry: nothing to take out.
            Ok(_) => {}
            Err(Error::Store { cause, .. })
                if matches!(*cause, object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Expired::of(&gens))
}

/// The state as of `generation`, less what expired after it; a generation expiry
/// removed is refused with where the window starts.
pub async fn load_kept(store: &Store, generation: GenerationNo) -> Result<Index> {
    let expired = expired_after(store, GenerationNo(0)).await?;
    if generation < expired.floor() {
        return Err(outside(format!("generation {generation}"), &expired));
    }
    let mut index = load_at(store, generation).await?;
    let after = expired_after(store, generation).await?;
    if !after.is_empty() {
        let kept: Vec<_> = index
            .entries()
            .filter(|e| !after.holds(e, generation))
            .cloned()
            .collect();
        let chain = index.chain.clone();
        index = Index::from_entries(kept);
        index.chain = chain;
    }
    Ok(index)
}

/// Refuses a point-in-time read at `t` before the retention window.
pub async fn check_at(store: &Store, t: SystemTime) -> Result<()> {
    let expired = expired_after(store, GenerationNo(0)).await?;
    match expired.window_start() {
        Some(start) if t < start.time() => Err(outside(Timestamp::from(t).to_string(), &expired)),
        _ => Ok(()),
    }
}

fn outside(asked: String, expired: &Expired) -> Error {
    Error::OutsideRetention {
        asked,
        window_start: expired
            .window_start()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        floor: expired.floor().get(),
    }
}
