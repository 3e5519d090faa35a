//! History as a view of the catalog: every content ever archived under a path, not only
//! the newest. logrotate's numbered names (`app.log.1` … `app.log.N`) take new content at
//! every rotation, so the older batches live only in older generations; this folds the
//! generations into one list of versions, optionally inside a time window, and names the
//! older versions so that a restore can write them beside the current one. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::index::Index;
use super::manifest::{Entry, Generation, GenerationNo};

/// Versions archived in `[since, until)` (either end open when `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Window {
    /// Archived at or after this time.
    pub since: Option<SystemTime>,
    /// Archived before this time.
    pub until: Option<SystemTime>,
}

impl Window {
    /// Whether `e` was archived inside the window.
    pub fn holds(&self, e: &Entry) -> bool {
        let t = e.archived_at.time();
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// Every version the generations record, each once, ordered by source, path and then
/// archive time (oldest first). A version is an entry in the generation that first
/// recorded it (a full checkpoint repeats older entries with their own generation, so
/// they are counted once).
pub(crate) fn versions<'a>(generations: impl IntoIterator<Item = &'a Generation>) -> Vec<Entry> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<Entry> = generations
        .into_iter()
        .flat_map(|g| g.entries.iter())
        .filter(|e| seen.insert((e.source.clone(), e.path.clone(), e.sha256, e.generation)))
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        (&a.source, &a.path, a.archived_at, a.generation).cmp(&(
            &b.source,
            &b.path,
            b.archived_at,
            b.generation,
        ))
    });
    out
}

/// The name an older version is restored under, beside the current file:
/// `<path>@<archived_at>` (e.g. `app.log.1@2026-11-03T10:05:00.000Z`).
pub fn version_path(e: &Entry) -> String {
    format!("{}@{}", e.path, e.archived_at)
}

/// What a restore of the `versions` inside `window` writes (`versions` as
/// [`versions`] orders them, every version of a path, so that the current one is known
/// whatever the window): a path's current content (the one its newest generation
/// recorded) under the path itself, every other version under [`version_path`]. The
/// view carries the newest generation number it holds.
pub fn restorable(versions: &[Entry], window: &Window) -> Index {
    let current: BTreeMap<(&str, &str), GenerationNo> =
        versions.iter().fold(BTreeMap::new(), |mut m, v| {
            let g = m.entry((v.source.as_str(), v.path.as_str())).or_default();
            *g = (*g).max(v.generation);
            m
        });
    let mut taken = BTreeSet::new();
    let entries = versions.iter().filter(|v| window.holds(v)).map(|v| {
        let mut e = v.clone();
        if current.get(&(v.source.as_str(), v.path.as_str())) != Some(&v.generation) {
            e.path = version_path(v);
            // Two versions archived in the same millisecond: the later one also names
            // its generation, so neither overwrites the other.
            if !taken.insert((e.source.clone(), e.path.clone())) {
                e.path = format!("{}.g{}", e.path, v.generation);
            }
        }
        e
    });
    let mut index = Index::from_entries(entries);
    index.chain.generation = current.values().copied().max().unwrap_or_default();
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::manifest::{Kind, FORMAT_VERSION};
    use crate::digest::ContentHash;

    fn entry(path: &str, body: &[u8], at: &str, generation: u64) -> Entry {
        let h = ContentHash::of(body);
        Entry {
            source: "app".into(),
            path: path.into(),
            size: body.len() as u64,
            mtime_ns: 0,
            sha256: h,
            key: format!("data/app/{path}-{h}"),
            compression: crate::codec::Compression::None,
            stored_size: None,
            archived_at: at.parse().unwrap(),
            generation: GenerationNo(generation),
        }
    }

    fn generation(n: u64, kind: Kind, entries: Vec<Entry>) -> Generation {
        Generation {
            version: FORMAT_VERSION,
            generation: GenerationNo(n),
            kind,
            base: GenerationNo(1),
            created_at: Default::default(),
            report: None,
            runs: Vec::new(),
            parts: Vec::new(),
            entries,
            expiry: None,
        }
    }

    #[test]
    fn every_content_of_a_rotated_name_is_a_version_once() {
        let v1 = entry("app.log.1", b"batch 1", "2026-11-02T23:00:00.000Z", 1);
        let v2 = entry("app.log.1", b"batch 2", "2026-11-03T10:00:00.000Z", 2);
        let v3 = entry("app.log.1", b"batch 3", "2026-11-04T10:00:00.000Z", 3);
        let gens = [
            generation(1, Kind::Full, vec![v1.clone()]),
            generation(2, Kind::Delta, vec![v2.clone()]),
            // A checkpoint repeats what it holds with the generation that recorded it.
            generation(3, Kind::Full, vec![v3.clone()]),
            generation(4, Kind::Full, vec![v3.clone()]),
        ];
        let all = versions(&gens);
        assert_eq!(all, vec![v1.clone(), v2.clone(), v3.clone()]);

        let day = Window {
            since: Some(
                "2026-11-03T00:00:00.000Z"
                    .parse::<crate::time::Timestamp>()
                    .unwrap()
                    .time(),
            ),
            until: Some(
                "2026-11-04T00:00:00.000Z"
                    .parse::<crate::time::Timestamp>()
                    .unwrap()
                    .time(),
            ),
        };
        let in_day: Vec<_> = all.iter().filter(|e| day.holds(e)).cloned().collect();
        assert_eq!(in_day, vec![v2.clone()]);
        let out = restorable(&all, &day);
        let paths: Vec<&str> = out.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["app.log.1@2026-11-03T10:00:00.000Z"],
            "named as an older version"
        );

        let out = restorable(&all, &Window::default());
        assert_eq!(out.generation(), GenerationNo(3));
        let paths: Vec<&str> = out.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "app.log.1",
                "app.log.1@2026-11-02T23:00:00.000Z",
                "app.log.1@2026-11-03T10:00:00.000Z"
            ]
        );
        assert_eq!(out.get("app", "app.log.1").unwrap().sha256, v3.sha256);
    }

    #[test]
    fn versions_archived_in_the_same_millisecond_keep_apart() {
        let at = "2026-11-03T10:00:00.000Z";
        let a = entry("app.log.1", b"a", at, 1);
        let b = entry("app.log.1", b"b", at, 2);
        let c = entry("app.log.1", b"c", "2026-11-03T11:00:00.000Z", 3);
        let out = restorable(&[a, b, c], &Window::default());
        let paths: Vec<&str> = out.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "app.log.1",
                "app.log.1@2026-11-03T10:00:00.000Z",
                "app.log.1@2026-11-03T10:00:00.000Z.g2"
            ]
        );
    }
}
