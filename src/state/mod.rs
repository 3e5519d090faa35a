//! The state dir: a lock that keeps one agent per state dir, and the local files kept
//! there — the last stat of every archived local file ([`seen`], in the format of
//! [`seen_bin`]), files with an mtime ahead of the clock ([`ahead`]), the status history
//! ([`history`]) — written through one atomic writer ([`atomic`]). The catalog keeps its local copy of the manifest
//! chain here too (see `catalog::local`).
//!
//! Everything here is only ever a copy or a record: the remote manifests are the truth,
//! and this layer never talks to the remote.

pub(crate) mod ahead;
pub(crate) mod atomic;
pub(crate) mod history;
mod record;
pub(crate) mod seen;
mod seen_bin;
mod seen_json;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(crate) use ahead::{Ahead, AheadMap};
pub(crate) use atomic::write_atomic;
pub(crate) use seen::{Seen, SEEN_FILE};

/// Name of the lock file in the state dir.
pub(crate) const LOCK_FILE: &str = "lock";
/// How long taking the lock may wait for a holder that is just letting go.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// A state dir held by this process until dropped.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: Option<File>,
}

impl StateDir {
    /// Creates the dir if needed and takes its lock, or fails with [`Error::Locked`].
    pub fn lock(path: &Path) -> Result<Self> {
        Self::lock_within(path, LOCK_PATIENCE)
    }

    fn lock_within(path: &Path, patience: std::time::Duration) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| Error::io("create state dir", path, e))?;
        let lock_path = path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io("open lock file", &lock_path, e))?;
        // A lock just released can stay held for a moment by a child process forked in
        // between (it shares the open file until it execs): retry briefly before
        // deciding that another agent holds it.
        let deadline = crate::time::monotonic() + patience;
        let mut attempt = file.try_lock();
        while matches!(attempt, Err(TryLockError::WouldBlock))
            && crate::time::monotonic() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
            attempt = file.try_lock();
        }
        match attempt {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: lock_path,
                    holder: (!holder.is_empty()).then(|| holder.to_string()),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }
        file.set_len(0)
            .map_err(|e| Error::io("write", &lock_path, e))?;
        file.rewind()
            .map_err(|e| Error::io("write", &lock_path, e))?;
        write!(file, "{}", std::process::id()).map_err(|e| Error::io("write", &lock_path, e))?;
        Ok(StateDir {
            path: path.to_path_buf(),
            _lock: Some(file),
        })
    }

    /// The state dir for reading only, without its lock (beside a running agent).
    pub fn read_only(path: &Path) -> Self {
        StateDir {
            path: path.to_path_buf(),
            _lock: None,
        }
    }

    /// The pid written by the agent holding the lock, when one does.
    pub fn holder(path: &Path) -> Option<u32> {
        match StateDir::probe(path) {
            Ok(LockHolder::Agent { pid }) => pid,
            _ => None,
        }
    }

    /// Whether an agent holds the state dir's lock right now, without disturbing it:
    /// the lock file is opened for reading only (never created or written) and tried
    /// once with a shared lock, released at once. An agent starting in that instant
    /// waits out the moment (its lock has patience).
    pub fn probe(path: &Path) -> Result<LockHolder> {
        let lock_path = path.join(LOCK_FILE);
        let mut file = match File::open(&lock_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockHolder::Nobody),
            Err(e) => return Err(Error::io("open lock file", &lock_path, e)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(LockHolder::Nobody),
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Ok(LockHolder::Agent {
                    pid: holder.trim().parse().ok(),
                })
            }
            Err(TryLockError::Error(e)) => Err(Error::io("lock", &lock_path, e)),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process holds the lock (and so may write the state dir's files).
    pub(crate) fn is_locked(&self) -> bool {
        self._lock.is_some()
    }
}

/// Who holds a state dir's lock, as [`StateDir::probe`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockHolder {
    /// No process holds the lock.
    Nobody,
    /// An agent holds it; its pid when the lock file names one (an agent that has just
    /// taken the lock may not have written it yet).
    Agent {
        /// The pid the lock file records.
        pid: Option<u32>,
    },
}

/// A JSON cache file of the state dir: `None` when absent, and also (with a warning that
/// says what follows) when unreadable or of another version: a cache is only ever a copy.
pub(crate) fn read_cache<T: serde::de::DeserializeOwned>(
    path: &Path,
    known_version: fn(&T) -> bool,
    consequence: &str,
) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice::<T>(&bytes) {
        Ok(f) if known_version(&f) => Some(f),
        _ => {
            tracing::warn!(path = %path.display(), "{consequence}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _held = StateDir::lock(dir.path()).unwrap();
        let err = StateDir::lock(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
    }

    #[test]
    fn probe_sees_the_holder_without_taking_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(StateDir::probe(&state).unwrap(), LockHolder::Nobody);
        assert!(!state.exists(), "a probe creates nothing");
        let held = StateDir::lock(&state).unwrap();
        assert_eq!(
            StateDir::probe(&state).unwrap(),
            LockHolder::Agent {
                pid: Some(std::process::id())
            }
        );
        assert_eq!(StateDir::holder(&state), Some(std::process::id()));
        drop(held);
        assert_eq!(StateDir::probe(&state).unwrap(), LockHolder::Nobody);
        let _again = StateDir::lock(&state).unwrap();
    }

    /// A stat with every field set.
    pub(crate) fn sample_stat() -> crate::fsstat::FileStat {
        crate::fsstat::FileStat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
            btime_ns: Some(6),
        }
    }
}
