//! Every version ever archived, read from the bucket: the generations that read, folded
//! by `catalog::history`. What `ls --all-versions` lists and `restore --all-versions`
//! writes. A generation that is absent or does not decode holds versions this cannot
//! see; `verify` names such generations.

use crate::catalog::history::{self, Window};
use crate::catalog::Entry;
use crate::error::Result;
use crate::remote::Store;

use super::verify::readable_generations;

/// Every version in `window`, ordered by source, path and archive time.
pub async fn all_versions(store: &Store, window: &Window) -> Result<Vec<Entry>> {
    let (generations, missing, damaged, _) = readable_generations(store).await?;
    for g in missing.iter().chain(&damaged) {
        tracing::warn!(generation = g.generation.get(), detail = %g.detail, "a generation cannot be read; versions only it recorded are not listed");
    }
    Ok(history::versions(&generations, window))
}
