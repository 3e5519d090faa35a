//! Every regression test lives under this module: one test per fixed bug, so that a bug
//! once fixed stays fixed, and whoever breaks it again reads what went wrong. DESIGN.md's
//! house rule 8 asks for the test; this is where it goes.
//!
//! The naming rule: a test is named after the behaviour it pins (what is true now, not
//! the failure: `an_archived_wal_name_never_takes_other_content`), and a `//` one-liner
//! directly above its attribute names the bug (`// Pins: ...`); a longer story, when the
//! bug needs one, goes in the doc comment above that. Tests are grouped by topic below;
//! a new bug pin goes into the topic it belongs to, or a new one declared here.

/// The agent loop with no future tick or with the destination down at start.
mod agent;
/// What a committed pass says about itself when the state dir cannot be written.
mod bookkeeping;
/// What a pass takes for a change: mtimes ahead of the clock, reused inodes, rewrites
/// that keep size and mtime.
mod changes;
/// The environment's foreign `LOGFERRY_*` variables and what a schedule means.
mod config;
/// The host name behind `{hostname}`, in a UTS namespace of its own.
mod hostname;
/// A flaky network slows a pass down; it does not stop the archive.
mod net;
/// The read commands' exit codes and hosts (`fetch` as PostgreSQL's restore_command).
mod read;
/// Damage in an archive is seen, named and repaired.
mod repair;
/// Secrets never reach an output.
mod secrets;
/// WAL names: an archived name never takes other content, and `archived` says why not.
mod wal;
