//! The catalog: the archive's record of what it holds. The manifest format (pure,
//! [`manifest`]), the index it folds into (pure, [`index`]), the generations in the
//! bucket ([`remote`]: list, load, create-only commit), their local copy in the state
//! dir ([`local`]), and what a check of the record against the bucket found
//! ([`audit`]).

pub mod audit;
pub mod index;
pub mod local;
pub mod manifest;
pub mod remote;

pub use index::Index;
pub use manifest::{Entry, Generation, GenerationNo, Kind, FORMAT_VERSION};
pub use remote::{
    commit, exists, fetch, fetch_committed, fetch_raw, generation_at, list_generations, list_metas,
    load_at, load_latest,
};
