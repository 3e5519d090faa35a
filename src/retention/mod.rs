//! Removing what the archive no longer needs: versions past their retention
//! ([`plan`] decides, over PostgreSQL's WAL names in [`wal`]; [`expire`] commits and
//! [`sweep`] deletes; [`ledger`] remembers and [`report`] says what went), and objects no generation names
//! ([`prune`]).

pub(crate) mod expire;
pub(crate) mod ledger;
pub(crate) mod plan;
pub(crate) mod prune;
pub(crate) mod report;
pub(crate) mod sweep;
pub(crate) mod wal;
