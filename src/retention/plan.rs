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
    /// Versions the rules let go that stay because a file in a source holds them.
    pub kept_present: u64,
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
    let mut kept_present = 0;
    let (expired, kept): (Vec<&Entry>, Vec<&Entry>) = versions.iter().partition(|v| {
        let go = rules.lets_go(v);
        let held = go && is_current(v) && present(v);
        kept_present += u64::from(held);
        go && !held
    });
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
        kept_present,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::catalog::history;
    use crate::catalog::manifest::{Kind, FORMAT_VERSION};
    use crate::time::Timestamp;

    const DAY: Duration = Duration::from_secs(86_400);

    fn t(day: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + DAY * day as u32
    }

    /// An entry of `source` archived on `day` in generation `g`.
    fn v(source: &str, path: &str, content: &str, g: u64, day: u64) -> Entry {
        let mut e = Entry::sample(path, content.as_bytes(), g);
        e.source = source.into();
        e.key = format!("data/{source}/{path}-{}", e.sha256);
        e.archived_at = Timestamp::from(t(day));
        e
    }

    fn generation(n: u64, day: u64, kind: Kind, base: u64, entries: Vec<Entry>) -> Generation {
        Generation {
            version: FORMAT_VERSION,
            generation: GenerationNo(n),
            kind,
            base: GenerationNo(base),
            created_at: Timestamp::from(t(day)),
            report: None,
            runs: Vec::new(),
            parts: Vec::new(),
            entries,
            expiry: None,
        }
    }

    fn run(
        gens: &[Generation],
        keep: Keep,
        before: Option<SystemTime>,
        now_day: u64,
        present: &[&str],
    ) -> Plan {
        let versions = history::versions(gens);
        let wal_from = HashMap::new();
        let keep_of = move |_: &str| keep;
        let rules = Rules {
            keep: &keep_of,
            before,
            now: t(now_day),
            wal_from: &wal_from,
        };
        let present: Vec<String> = present.iter().map(|s| s.to_string()).collect();
        let is_present = move |e: &Entry| present.contains(&e.path);
        plan(gens, &versions, &is_present, &rules)
    }

    fn paths(p: &Plan) -> Vec<String> {
        let mut out: Vec<String> = p
            .expired
            .iter()
            .map(|e| format!("{}@{}", e.path, e.generation))
            .collect();
        out.sort();
        out
    }

    fn history() -> Vec<Generation> {
        vec![
            generation(
                1,
                0,
                Kind::Full,
                1,
                vec![
                    v("app", "app.log.1", "A", 1, 0),
                    v("app", "gone.log", "g", 1, 0),
                    v("app", "here.log", "h", 1, 0),
                ],
            ),
            generation(
                2,
                10,
                Kind::Delta,
                1,
                vec![v("app", "app.log.1", "B", 2, 10)],
            ),
            generation(
                3,
                50,
                Kind::Delta,
                1,
                vec![v("app", "app.log.1", "A", 3, 50)],
            ),
        ]
    }

    #[test]
    fn a_version_expires_when_old_and_not_what_a_present_file_holds() {
        let keep = Keep {
            keep_for: Some(30 * DAY),
            keep_base_backups: None,
        };
        let p = run(&history(), keep, None, 60, &["app.log.1", "here.log"]);
        assert_eq!(paths(&p), ["app.log.1@1", "app.log.1@2", "gone.log@1"]);
        // `A` came back in generation 3 and is kept there: its object stays.
        let a = v("app", "app.log.1", "A", 1, 0).key;
        assert!(!p.keys.contains(&a), "{:?}", p.keys);
        assert_eq!(p.keys.len(), 2);
        assert_eq!(p.window_start, Some(t(30)));
        assert_eq!(
            p.floor,
            GenerationNo(1),
            "a read at day 30 loads from the checkpoint"
        );
    }

    #[test]
    fn no_rule_keeps_everything_and_before_overrides_keep_for() {
        let p = run(&history(), Keep::default(), None, 600, &[]);
        assert!(p.expired.is_empty() && p.window_start.is_none());
        let keep = Keep {
            keep_for: Some(3000 * DAY),
            keep_base_backups: None,
        };
        let p = run(&history(), keep, Some(t(20)), 60, &[]);
        assert_eq!(
            paths(&p),
            ["app.log.1@1", "app.log.1@2", "gone.log@1", "here.log@1"]
        );
    }

    #[test]
    fn the_floor_moves_to_the_checkpoint_a_read_at_the_window_start_needs() {
        let mut gens = history();
        gens.push(generation(
            4,
            60,
            Kind::Full,
            4,
            vec![
                v("app", "app.log.1", "A", 3, 50),
                v("app", "here.log", "h", 1, 0),
            ],
        ));
        gens.push(generation(
            5,
            90,
            Kind::Delta,
            4,
            vec![v("app", "app.log.1", "C", 5, 90)],
        ));
        let keep = Keep {
            keep_for: Some(30 * DAY),
            keep_base_backups: None,
        };
        let p = run(&gens, keep, None, 100, &["app.log.1", "here.log"]);
        assert_eq!(p.window_start, Some(t(70)));
        assert_eq!(p.floor, GenerationNo(4));
        assert!(paths(&p).contains(&"app.log.1@3".to_string()));
    }

    #[test]
    fn base_backups_keep_the_wal_they_need_and_every_history_file() {
        let gens = vec![generation(
            1,
            1,
            Kind::Full,
            1,
            vec![
                v("wal", "000000010000000000000001", "1", 1, 0),
                v("wal", "000000010000000000000002", "2", 1, 0),
                v(
                    "wal",
                    "000000010000000000000002.00000028.backup",
                    "b2",
                    1,
                    0,
                ),
                v("wal", "000000010000000000000003", "3", 1, 0),
                v(
                    "wal",
                    "000000010000000000000004.00000028.backup",
                    "b4",
                    1,
                    1,
                ),
                v("wal", "000000010000000000000004", "4", 1, 1),
                v("wal", "00000002.history", "h", 1, 0),
            ],
        )];
        let versions = history::versions(&gens);
        let wal_from: HashMap<String, Position> = [("wal".to_string(), (0, 4, 1))].into();
        let keep_of = |_: &str| Keep {
            keep_for: None,
            keep_base_backups: Some(1),
        };
        let rules = Rules {
            keep: &keep_of,
            before: None,
            now: t(5),
            wal_from: &wal_from,
        };
        let p = plan(&gens, &versions, &|_| false, &rules);
        assert_eq!(
            paths(&p),
            [
                "000000010000000000000001@1",
                "000000010000000000000002.00000028.backup@1",
                "000000010000000000000002@1",
                "000000010000000000000003@1"
            ]
        );
        assert_eq!(p.window_start, Some(t(1)), "from the oldest backup kept");
        // keep_for as well: the union of what either rule keeps.
        let keep_of = |_: &str| Keep {
            keep_for: Some(DAY * 5 - Duration::from_secs(1)),
            keep_base_backups: Some(1),
        };
        let rules = Rules {
            keep: &keep_of,
            before: None,
            now: t(5),
            wal_from: &wal_from,
        };
        assert!(plan(&gens, &versions, &|_| false, &rules).expired.len() == 4);
        let rules = Rules {
            keep: &keep_of,
            before: None,
            now: t(4),
            wal_from: &wal_from,
        };
        assert!(plan(&gens, &versions, &|_| false, &rules)
            .expired
            .is_empty());
    }
}
