//! `logferry archived NAME`: is this file durably archived? For PostgreSQL's
//! `archive_command`, which must answer fast and must never be told "yes" too early.
//!
//! The answer comes from local state only: the stat cache holds a record for a file only
//! once a committed generation names its content, so a record whose stat matches the
//! file as it is now means "archived, as it is". No index is loaded, nothing remote is read.

use std::path::Path;

use crate::config::Config;
use crate::scan::FileStat;
use crate::state::StateDir;

/// The answer for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// In a committed generation with the file's current size and content.
    Archived,
    /// Not (yet) archived as it is now.
    NotYet(String),
}

/// Checks `name` (a file name or a path relative to a source) against every source of
/// `config` (one archive's).
pub fn check(config: &Config, name: &str) -> Ack {
    let seen = StateDir::read_only(&config.state_dir).seen();
    let mut found_locally = false;
    for source in &config.sources {
        for ((src, path), record) in seen.range((source.name.clone(), String::new())..) {
            if src != &source.name {
                break;
            }
            if path != name && path.rsplit('/').next() != Some(name) {
                continue;
            }
            let local = source.path.join(path);
            match FileStat::of_path(&local) {
                Ok(stat) if stat == record.stat => return Ack::Archived,
                Ok(_) => found_locally = true,
                Err(_) => {}
            }
        }
        if Path::new(&source.path).join(name).exists() {
            found_locally = true;
        }
    }
    if found_locally {
        Ack::NotYet(format!(
            "`{name}` is not archived as it is now (no committed generation has it yet)"
        ))
    } else {
        Ack::NotYet(format!(
            "`{name}` is not archived (and not found in any source)"
        ))
    }
}
