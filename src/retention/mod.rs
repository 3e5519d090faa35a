//! Removing what the archive no longer needs: objects no generation names
//! ([`prune`]).

pub(crate) mod prune;
