//! The catalog: the archive's record of what it holds. The manifest format (pure,
//! [`manifest`]); where the chain of generations stands and which runs it folds
//! (pure, [`chain`]); the index a reader loads (pure, [`index`]); the generations in
//! the bucket ([`remote`]: list, read, create-only commit); loading the state as of a
//! generation part by part ([`load`]); building the next generation from the local
//! index ([`build`]); the local index itself, an SQLite database in the state dir
//! ([`db`], opened and migrated by [`local`]); the version records that find one file
//! in a few requests ([`records`]); what a check of the record against the bucket found
//! ([`audit`]); and every version ever archived under a path ([`history`]).

pub(crate) mod audit;
pub(crate) mod build;
pub(crate) mod chain;
pub(crate) mod db;
pub(crate) mod expiry;
pub(crate) mod history;
pub(crate) mod index;
pub(crate) mod load;
pub(crate) mod local;
pub(crate) mod manifest;
pub(crate) mod records;
pub(crate) mod remote;
pub(crate) mod rows;

pub(crate) use load::fetch_inline;
pub(crate) use manifest::{Entry, Generation, GenerationNo, Kind};
pub(crate) use remote::{fetch_raw, list_generations, list_metas};
