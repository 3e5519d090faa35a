//! `status.json`: the last passes' reports, newest first, for `logferry status`, the
//! metrics and `archived`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_atomic;
use crate::error::{Error, Result};
use crate::report::RunReport;

/// Passes kept in `status.json`.
pub(crate) const STATUS_HISTORY: usize = 50;
/// Name of the status file in the state dir.
pub(crate) const STATUS_FILE: &str = "status.json";
const STATUS_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StatusFile {
    version: u32,
    runs: Vec<RunReport>,
}

/// The last passes, newest first.
pub fn read_status(state_dir: &Path) -> Result<Vec<RunReport>> {
    let path = state_dir.join(STATUS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let file: StatusFile = serde_json::from_slice(&bytes).map_err(|e| Error::Format {
        what: "status file",
        location: path.display().to_string(),
        message: format!("{e}; delete it to start a fresh history"),
    })?;
    if file.version != STATUS_VERSION {
        return Err(Error::Format {
            what: "status file",
            location: path.display().to_string(),
            message: format!(
                "version {} is not supported (expected {STATUS_VERSION})",
                file.version
            ),
        });
    }
    Ok(file.runs)
}

/// Adds a report to the front of the history, keeping the last [`STATUS_HISTORY`].
pub(crate) fn record(state_dir: &Path, report: &RunReport) -> Result<()> {
    let mut runs = read_status(state_dir).unwrap_or_default();
    runs.insert(0, report.clone());
    runs.truncate(STATUS_HISTORY);
    let file = StatusFile {
        version: STATUS_VERSION,
        runs,
    };
    let bytes = serde_json::to_vec_pretty(&file).expect("status serializes");
    write_atomic(&state_dir.join(STATUS_FILE), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    #[test]
    fn history_is_bounded_and_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(STATUS_HISTORY as u64 + 5) {
            let r = RunReport {
                duration_ms: i,
                ..Default::default()
            };
            record(dir.path(), &r).unwrap();
        }
        let runs = read_status(dir.path()).unwrap();
        assert_eq!(runs.len(), STATUS_HISTORY);
        assert_eq!(runs[0].duration_ms, STATUS_HISTORY as u64 + 4);
    }

    #[test]
    fn corrupt_status_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATUS_FILE), b"{oops").unwrap();
        let err = read_status(dir.path()).unwrap_err().to_string();
        assert!(err.contains(STATUS_FILE), "{err}");
    }

    #[test]
    fn v1_fixture_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/status-v1.json"),
            dir.path().join(STATUS_FILE),
        )
        .unwrap();
        let runs = read_status(dir.path()).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].outcome, runs[0].files_failed, runs[0].generation),
            (Outcome::Partial, 1, Some(2))
        );
        assert_eq!(runs[0].failures[0].file, "app/unreadable.log");
    }
}
