//! `verify --prune-orphans`: deletes objects no committed generation names (left by
//! passes interrupted before their commit), but only those older than a grace period
//! longer than any pass, so an upload in flight — whose generation is not committed yet —
//! is never touched. Orphans are no archived content (invariant 2: a file counts as
//! archived only once a generation names it), so removing them keeps invariant 1.

use std::time::{Duration, SystemTime};

use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::catalog::audit::VerifyReport;
use crate::catalog::{self, GenerationNo};
use crate::config::Config;
pub use crate::config::DEFAULT_GRACE;
use crate::error::{Error, Result};
use crate::remote::Store;
use crate::state::StateDir;

/// What pruning did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Pruned {
    /// Keys deleted.
    pub deleted: Vec<String>,
    /// Orphans kept because they are younger than the grace period.
    pub kept: Vec<String>,
}

/// Deletes the orphans of `report` older than `grace`. Holds the state dir so no pass of
/// this host runs meanwhile, and refuses when a generation was committed since `report`
/// (it may name what was an orphan) or when the chain is incomplete (an unreadable
/// generation may name what looks unnamed).
pub async fn prune_orphans(
    config: &Config,
    store: &Store,
    report: &VerifyReport,
    grace: Duration,
    now: SystemTime,
) -> Result<Pruned> {
    let refuse = |generation: GenerationNo, message: String| Error::Repair {
        generation: generation.get(),
        message,
    };
    if let Some(g) = report
        .missing_generations
        .iter()
        .chain(&report.damaged_generations)
        .next()
    {
        return Err(refuse(
            g.generation,
            "not pruning orphans while a generation is missing or damaged: it may name them".into(),
        ));
    }
    let _state = StateDir::lock(&config.state_dir)?;
    let newest = catalog::list_generations(store, None)
        .await?
        .last()
        .copied()
        .unwrap_or_default();
    if newest != report.newest {
        return Err(refuse(
            newest,
            format!(
                "not pruning orphans: generation {newest} was committed while verifying (it may name them); run verify --prune-orphans again"
            ),
        ));
    }
    let mut out = Pruned::default();
    for f in &report.orphaned {
        let key = Path::parse(&f.key).map_err(|e| Error::Format {
            what: "object key",
            location: f.key.clone(),
            message: e.to_string(),
        })?;
        let meta = match store.head(&key).await {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(Error::store("head", &key, e)),
        };
        let age = now
            .duration_since(SystemTime::from(meta.last_modified))
            .unwrap_or_default();
        if age < grace {
            out.kept.push(f.key.clone());
            continue;
        }
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => out.deleted.push(f.key.clone()),
            Err(e) => return Err(Error::store("delete", &key, e)),
        }
    }
    Ok(out)
}

/// Parses and checks a grace period given on the command line.
pub fn parse_grace(s: &str) -> std::result::Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration: {e}"))?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "`{s}` is shorter than 1s: the grace period must outlast any pass, or an upload in flight could be deleted"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_is_a_duration_of_at_least_a_second() {
        assert_eq!(parse_grace("24h"), Ok(DEFAULT_GRACE));
        assert_eq!(parse_grace("1s"), Ok(Duration::from_secs(1)));
        assert!(parse_grace("0s").unwrap_err().contains("in flight"));
        assert!(parse_grace("soon").unwrap_err().contains("not a duration"));
    }
}
