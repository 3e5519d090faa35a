//! Every version ever archived, read from the bucket: the generations that read, folded
//! by `catalog::history`. What `ls --all-versions` lists and `restore --all-versions`
//! writes. A generation that is absent or does not decode holds versions this cannot
//! see; `verify` names such generations. Versions an expiry took out are not listed.

use crate::catalog::expiry::Expired;
use crate::catalog::history;
use crate::catalog::Entry;
use crate::error::Result;
use crate::remote::Store;

use super::verify::readable_generations;

/// Every version, ordered by source, path and archive time; `None` when the archive has
/// no generation at all.
pub async fn all_versions(store: &Store) -> Result<Option<Vec<Entry>>> {
    let (generations, missing, damaged, newest) = readable_generations(store).await?;
    if newest.get() == 0 {
        return Ok(None);
    }
    for g in missing.iter().chain(&damaged) {
        tracing::warn!(generation = g.generation.get(), detail = %g.detail, "a generation cannot be read; versions only it recorded are not listed");
    }
    let expired = Expired::of(&generations);
    let mut versions = history::versions(&generations);
    versions.retain(|v| !expired.holds(v, v.generation));
    Ok(Some(versions))
}
