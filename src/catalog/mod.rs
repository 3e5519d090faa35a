//! The catalog: the archive's record of what it holds. The manifest format (pure,
//! [`manifest`]), the index it folds into (pure, [`index`]), the generations in the
//! bucket ([`remote`]: list, load, create-only commit), their local copy in the state
//! dir ([`local`]), what a check of the record against the bucket found
//! ([`audit`]), every version ever archived under a path ([`history`]), and the
//! version records that find one file in a few requests ([`records`]).

pub(crate) mod audit;
pub(crate) mod build;
pub(crate) mod chain;
pub(crate) mod db;
pub(crate) mod history;
pub(crate) mod index;
pub(crate) mod load;
pub(crate) mod local;
pub(crate) mod manifest;
pub(crate) mod records;
pub(crate) mod remote;

pub(crate) use load::fetch_inline;
pub(crate) use manifest::{Entry, Generation, GenerationNo, Kind};
pub(crate) use remote::{commit, fetch_raw, list_generations, list_metas};
