//! What the stages of one pass share, so that none of them needs another: the pass's
//! context (config, store, state dir, clock, control), the decision a hashed file comes
//! to ([`Resolved`]), and the rule that a failed write of the local cache is a warning.

use std::time::Instant;

use crate::archive::control::Control;
use crate::catalog::index::ObjectRef;
use crate::codec::Codec;
use crate::config::{Config, Names};
use crate::digest::ContentHash;
use crate::error::Result;
use crate::fsstat::ScannedFile;
use crate::remote::Store;
use crate::report::RunReport;
use crate::state::StateDir;
use crate::time::Clock;

/// One pass's context: what it archives, where to, and what steers it.
pub(crate) struct Pass<'a> {
    /// The archive's configuration.
    pub config: &'a Config,
    /// The destination.
    pub store: &'a Store,
    /// The time source.
    pub clock: &'a dyn Clock,
    /// The locked state dir with the local cache.
    pub state_dir: &'a StateDir,
    /// Shutdown and heartbeat from the agent.
    pub control: &'a Control,
    /// The destination URL the local cache belongs to.
    pub destination: String,
    /// When the pass started, for the report's duration.
    pub started: Instant,
    /// Only finding what the pass would do (`--dry-run`): no cache is updated either.
    pub dry_run: bool,
}

impl<'a> Pass<'a> {
    /// A pass of `config` to `store`, starting now.
    pub(crate) fn new(
        config: &'a Config,
        store: &'a Store,
        clock: &'a dyn Clock,
        state_dir: &'a StateDir,
        control: &'a Control,
    ) -> Self {
        Pass {
            config,
            store,
            clock,
            state_dir,
            control,
            destination: config.destination.url.to_string(),
            started: crate::time::monotonic(),
            dry_run: false,
        }
    }

    /// The codec new objects of `source` are stored with, and whether its names are
    /// immutable.
    pub(crate) fn rules_for(&self, source: &str) -> (Codec, Names) {
        rules_for(self.config, source)
    }
}

/// [`Pass::rules_for`] for a file task that holds only the config.
pub(crate) fn rules_for(config: &Config, source: &str) -> (Codec, Names) {
    config
        .sources
        .iter()
        .find(|s| s.name == source)
        .map_or((Codec::PLAIN, Names::Reused), |s| (s.codec, s.names))
}

/// Whom new objects of `source` are encrypted to (`None`: stored as encoded).
pub(crate) fn recipients_for<'a>(
    config: &'a Config,
    source: &str,
) -> Option<&'a crate::crypt::Recipients> {
    config
        .sources
        .iter()
        .find(|s| s.name == source)
        .and_then(|s| s.encryption.as_ref())
}

/// What a hashed file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// A path never archived.
    New,
    /// An archived path with different content.
    Changed,
    /// Content already stored under another path.
    Renamed,
    /// Stat changed, content did not.
    Touched,
    /// An archived name whose producer promises unique names, now with other content:
    /// reported, never recorded.
    Conflict {
        /// What the archive holds under the name.
        archived: ContentHash,
    },
}

/// Where a file's bytes live once the pass is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Object {
    /// Must be uploaded to this key, encoded so.
    Upload(object_store::path::Path, Codec),
    /// Already stored.
    Existing(ObjectRef),
}

/// A hashed file with its decision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    /// The file.
    pub file: ScannedFile,
    /// Its content hash.
    pub hash: ContentHash,
    /// What it is.
    pub class: Class,
    /// Where its bytes go or are.
    pub object: Object,
}

/// What hashing and storing left for the commit.
pub(crate) struct Done {
    /// Files whose content is stored, with their decision (no conflicts among them).
    pub stored: Vec<Resolved>,
    /// Files to retry next pass (pending until a committed generation names them).
    pub failed: Vec<ScannedFile>,
}

/// How a file is named in the report.
pub(crate) fn label(f: &ScannedFile) -> String {
    format!("{}/{}", f.source, f.rel)
}

/// The storage client's messages quote request URLs, which may hold a password: a report
/// kept in the state dir or in the archive holds none of the destination's secrets.
pub(crate) fn scrub_report(report: &mut RunReport, secrets: &[String]) {
    if let Some(e) = &mut report.error {
        *e = crate::config::scrub(e, secrets);
    }
    for f in &mut report.failures {
        f.error = crate::config::scrub(&f.error, secrets);
    }
}

/// Whether a write of the local cache succeeded; a failure is a warning, not the pass
/// failing: the cache is only a copy of what the destination holds, and the next pass
/// catches up from it (re-reading the files whose `seen` record was not saved).
pub(crate) fn cached(what: &str, result: Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                error = %e.chain(),
                "could not update the local cache ({what}); the pass stands, the next one catches up from the destination (is the state dir full or read-only?)"
            );
            false
        }
    }
}
