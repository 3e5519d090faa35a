//! `logferry archived NAME`: is this file durably archived? For PostgreSQL's
//! `archive_command`, which must answer fast and must never be told "yes" too early.
//!
//! The answer comes from local state only: the stat cache holds a record for a file only
//! once a committed generation names its content, so a record whose stat matches the
//! file as it is now means "archived, as it is". No index is loaded, nothing remote is read.

use std::path::Path;

use crate::config::Config;
use crate::fsstat::FileStat;
use crate::state::StateDir;

/// The last pass's name conflict for `name`, if the file is still the one it found.
fn conflict(config: &Config, name: &str) -> Option<String> {
    let last = crate::state::history::read_status(&config.state_dir)
        .ok()?
        .into_iter()
        .next()?;
    last.conflicts.iter().find_map(|c| {
        let (source, path) = c.file.split_once('/')?;
        let source = config.sources.iter().find(|s| s.name == source)?;
        if path != name && path.rsplit('/').next() != Some(name) {
            return None;
        }
        let stat = FileStat::of_path(&source.path.join(path)).ok()?;
        (stat.size == c.size && stat.mtime_ns == c.mtime_ns).then(|| c.message())
    })
}

/// What the state dir's records of the last pass look like from outside (size, mtime and
/// inode of the stat cache and of the status history): it changes whenever a pass records
/// something, so a waiter need only look again when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateStamp([(u64, i64, u64); 2]);

/// The [`StateStamp`] of `config`'s state dir now.
pub fn state_stamp(config: &Config) -> StateStamp {
    let of = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(config.state_dir.join(name)).map_or((0, 0, 0), |m| {
            (m.len(), m.mtime_nsec() + m.mtime() * 1_000_000_000, m.ino())
        })
    };
    StateStamp([
        of(crate::state::SEEN_FILE),
        of(crate::state::history::STATUS_FILE),
    ])
}

/// The answer for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ack {
    /// In a committed generation with the file's current size and content.
    Archived,
    /// Not (yet) archived as it is now.
    NotYet(String),
    /// Never archived as it is: the name is archived with other content (`names =
    /// "immutable"`), as the last pass found. Waiting will not help.
    Conflict(String),
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
    if let Some(message) = conflict(config, name) {
        return Ack::Conflict(message);
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
