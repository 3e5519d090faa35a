//! What this host remembers of its expiries, in the state dir (`retention.json`): when
//! the last one ran (the agent runs one at most once per `retention.interval`), what it
//! did (for `status` and the metrics), through which expiry the version records are
//! deleted, and which objects Object Lock keeps until when (not asked again before
//! then). Losing it costs a repeated delete or an early run, never an object.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalog::GenerationNo;
use crate::error::Result;
use crate::state::write_atomic;
use crate::time::Timestamp;

/// The file in the state dir.
pub(crate) const LEDGER_FILE: &str = "retention.json";
const LEDGER_VERSION: u32 = 1;

/// The state dir's record of expiry.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// Format version.
    #[serde(default)]
    pub version: u32,
    /// When the last expiry finished.
    pub last_run: Option<Timestamp>,
    /// When the agent last began one (finished or not).
    #[serde(default)]
    pub last_attempt: Option<Timestamp>,
    /// The version records of every expiry up to this generation are deleted.
    #[serde(default)]
    pub finished_through: GenerationNo,
    /// Objects Object Lock keeps, until when.
    #[serde(default)]
    pub locked: BTreeMap<String, Timestamp>,
    /// What the last expiry did (as `expire --json` prints it).
    #[serde(default)]
    pub last: Option<serde_json::Value>,
}

impl Ledger {
    /// The ledger in `state_dir`; an absent or unreadable one is empty (with a warning
    /// for the unreadable: the next expiry only repeats some deletes).
    pub(crate) fn read(state_dir: &Path) -> Self {
        let path = state_dir.join(LEDGER_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "the retention ledger is unreadable; starting a new one");
                Ledger::default()
            }),
            Err(_) => Ledger::default(),
        }
    }

    /// Writes it atomically.
    pub(crate) fn write(&mut self, state_dir: &Path) -> Result<()> {
        self.version = LEDGER_VERSION;
        let bytes = serde_json::to_vec_pretty(self).expect("ledger serializes");
        write_atomic(&state_dir.join(LEDGER_FILE), &bytes)
    }
}

/// Whether the archive's retention rules let anything go and its last expiry began at
/// least `retention.interval` ago (a failed one too: it is tried again an interval
/// later, never after every pass).
pub(crate) fn due(
    config: &crate::config::Config,
    state_dir: &Path,
    now: std::time::SystemTime,
) -> bool {
    let rules = config.retention.keep.expires() || config.sources.iter().any(|s| s.keep.expires());
    rules
        && Ledger::read(state_dir).last_attempt.is_none_or(|t| {
            now.duration_since(t.time()).unwrap_or_default() >= config.retention.interval
        })
}

/// Records that an expiry begins now.
pub(crate) fn attempt(state_dir: &Path, now: std::time::SystemTime) {
    let mut ledger = Ledger::read(state_dir);
    ledger.last_attempt = Some(now.into());
    if let Err(e) = ledger.write(state_dir) {
        tracing::warn!(error = %e, "cannot record the expiry's start; expiring anyway");
    }
}

/// What `status` shows of expiry: the last run and what it did, as the ledger says.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetentionStatus {
    /// When the last expiry finished.
    pub last_run: Option<Timestamp>,
    /// Data objects it deleted.
    pub objects_deleted: u64,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Generations it removed.
    pub generations_removed: u64,
    /// Objects Object Lock kept.
    pub locked: u64,
    /// Bytes of data objects left.
    pub archive_bytes: u64,
}

/// The retention status recorded in `state_dir`, `None` when no expiry ran there.
pub fn read_status(state_dir: &Path) -> Option<RetentionStatus> {
    let bytes = std::fs::read(state_dir.join(LEDGER_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let last = v.get("last").cloned().unwrap_or_default();
    let n = |k: &str| last.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    Some(RetentionStatus {
        last_run: v
            .get("last_run")
            .and_then(|t| serde_json::from_value(t.clone()).ok()),
        objects_deleted: n("objects_deleted"),
        bytes_deleted: n("bytes_deleted"),
        generations_removed: n("generations_removed"),
        locked: last
            .get("locked")
            .and_then(serde_json::Value::as_array)
            .map_or(0, |a| a.len() as u64),
        archive_bytes: n("archive_bytes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::report::ExpireReport;

    #[test]
    fn an_attempt_keeps_what_the_last_expiry_did() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_status(dir.path()).is_none());
        let mut ledger = Ledger::read(dir.path());
        ledger.last_run = Some(Timestamp::from(std::time::SystemTime::UNIX_EPOCH));
        let report = ExpireReport {
            objects_deleted: 3,
            bytes_deleted: 30,
            archive_bytes: 7,
            ..Default::default()
        };
        ledger.last = Some(serde_json::to_value(&report).unwrap());
        ledger.write(dir.path()).unwrap();
        attempt(dir.path(), std::time::SystemTime::UNIX_EPOCH);
        let s = read_status(dir.path()).unwrap();
        assert_eq!(
            (s.objects_deleted, s.bytes_deleted, s.archive_bytes),
            (3, 30, 7)
        );
        assert!(Ledger::read(dir.path()).last_attempt.is_some());
        std::fs::write(dir.path().join(LEDGER_FILE), b"garbage").unwrap();
        assert_eq!(Ledger::read(dir.path()).finished_through, GenerationNo(0));
    }
}
