//! Which archived versions expire (pure). A version expires once every rule of its
//! source lets it go (`keep_for`: archived longer ago than that; `keep_base_backups`:
//! WAL older than the N newest base backups need) and it is not the current content of
//! a file still present in its source (that one would only be uploaded again). A source
//! with no rule keeps everything, unless `expire --before` names a time by hand.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use super::wal::{self, Position};
use crate::catalog::{Entry, Generation, GenerationNo};
use crate::config::Keep;

/// The rules as they stand for this run.
pub(crate) struct Rules<'a> {
    /// A source's rules (sources no longer configured get the archive's).
    pub keep: &'a (dyn Fn(&str) -> Keep + Sync),
    /// `expire --before TIME`: versions archived before it may go, whatever `keep_for`.
    pub before: Option<SystemTime>,
    /// Now, from the injected clock.
    pub now: SystemTime,
    /// Per source with `keep_base_backups`, the first WAL position its newest base
    /// backups need (absent: fewer backups than asked, keep every WAL file).
    pub wal_from: &'a HashMap<String, Position>,
}

impl Rules<'_> {
    /// The time before which a source's versions may go, when a time rule applies.
    fn cutoff(&self, keep: &Keep) -> Option<SystemTime> {
        self.before.or_else(|| {
            keep.keep_for
                .map(|d| self.now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH))
        })
    }

    /// Whether the rules of `v`'s source let it go (leaving aside whether it is
    /// present).
    fn lets_go(&self, v: &Entry) -> bool {
        let keep = (self.keep)(&v.source);
        let cutoff = self.cutoff(&keep);
        if cutoff.is_none() && keep.keep_base_backups.is_none() {
            return false;
        }
        let kept_by_time = cutoff.is_some_and(|c| v.archived_at.time() >= c);
        let kept_by_wal = keep.keep_base_backups.is_some()
            && !wal::released(file_name(&v.path), self.wal_from.get(&v.source).copied());
        !kept_by_time && !kept_by_wal
    }
}

/// What expiry takes out.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// The versions that expire, each as the generation that first recorded it.
    pub expired: Vec<Entry>,
    /// Their objects, less those a kept version also names.
    pub keys: HashSet<String>,
    /// Point-in-time reads of an older state are no longer promised.
    pub window_start: Option<SystemTime>,
    /// The oldest generation still needed: a point-in-time read at the window start
    /// loads from it, and every kept version that is not current is named at or above it.
    pub floor: GenerationNo,
}

/// A path's last segment.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Plans an expiry over `versions` (every version not expired yet, as
/// `catalog::history::versions` gives them) of `generations` (the readable ones, in
/// order). `present` says whether a current version is still the content of its file
/// in its source.
pub(crate) fn plan(
    generations: &[Generation],
    versions: &[Entry],
    present: &(dyn Fn(&Entry) -> bool + Sync),
    rules: &Rules<'_>,
) -> Plan {
    let current: BTreeMap<(&str, &str), GenerationNo> =
        versions.iter().fold(BTreeMap::new(), |mut m, v| {
            let g = m.entry((v.source.as_str(), v.path.as_str())).or_default();
            *g = (*g).max(v.generation);
            m
        });
    let is_current =
        |v: &Entry| current.get(&(v.source.as_str(), v.path.as_str())) == Some(&v.generation);
    let (expired, kept): (Vec<&Entry>, Vec<&Entry>) = versions
        .iter()
        .partition(|v| rules.lets_go(v) && !(is_current(v) && present(v)));
    let kept_keys: HashSet<&str> = kept.iter().map(|v| v.key.as_str()).collect();
    let keys = expired
        .iter()
        .filter(|v| !kept_keys.contains(v.key.as_str()))
        .map(|v| v.key.clone())
        .collect();
    let window_start = window_start(generations, versions, rules);
    let floor = floor(generations, &kept, &is_current, window_start);
    Plan {
        expired: expired.into_iter().cloned().collect(),
        keys,
        window_start,
        floor,
    }
}

/// Where point-in-time reads stay promised: the latest start among the sources whose
/// rules let anything go (a state older than it lacks some source's versions). A
/// time rule starts at its cutoff; a base-backup rule at the oldest backup it keeps.
fn window_start(
    generations: &[Generation],
    versions: &[Entry],
    rules: &Rules<'_>,
) -> Option<SystemTime> {
    let mut sources: Vec<&str> = versions.iter().map(|v| v.source.as_str()).collect();
    sources.dedup();
    let oldest_kept_backup = |source: &str| {
        let from = rules.wal_from.get(source)?;
        versions
            .iter()
            .filter(|v| v.source == source && wal::is_backup_file(file_name(&v.path)))
            .filter(|v| {
                wal::position(file_name(&v.path)).is_some_and(|p| (p.0, p.1) >= (from.0, from.1))
            })
            .map(|v| v.archived_at.time())
            .min()
    };
    let start = sources
        .into_iter()
        .filter_map(|s| {
            let keep = (rules.keep)(s);
            let by_time = rules.cutoff(&keep);
            let by_wal = keep.keep_base_backups.and_then(|_| oldest_kept_backup(s));
            match (by_time, by_wal) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        })
        .max();
    // Never a start after the newest generation: its state stays promised.
    let newest = generations.last().map(|g| g.created_at.time());
    match (start, newest) {
        (Some(s), Some(n)) => Some(s.min(n)),
        (s, _) => s,
    }
}

/// The oldest generation to keep: the checkpoint a read at the window start loads
/// from, and no later than any kept version that only older generations name.
fn floor(
    generations: &[Generation],
    kept: &[&Entry],
    is_current: &dyn Fn(&Entry) -> bool,
    window_start: Option<SystemTime>,
) -> GenerationNo {
    let first = generations
        .first()
        .map_or(GenerationNo(0), |g| g.generation);
    let Some(start) = window_start else {
        return first;
    };
    let at_start = generations
        .iter()
        .rev()
        .find(|g| g.created_at.time() <= start)
        .map_or(first, |g| g.base);
    kept.iter()
        .filter(|v| !is_current(v))
        .map(|v| v.generation)
        .fold(at_start, GenerationNo::min)
        .max(first)
}
