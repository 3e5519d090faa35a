//! The current state of an archive in memory: every archived file by (source, path), and
//! every stored object by content hash, built by applying manifest generations in order.
//!
//! Pure: it decides what the next generation holds and whether it is a delta or a full
//! checkpoint, but never reads or writes anything.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::catalog::manifest::{Fold, Run};
use crate::catalog::{Entry, Generation, GenerationNo, Kind, FORMAT_VERSION};
use crate::codec::Compression;
use crate::digest::ContentHash;
use crate::report::RunReport;
use crate::time::Timestamp;

/// A full checkpoint is written once the deltas since the last one hold at least this many
/// entries (or as many as the checkpoint itself, whichever is more).
pub(crate) const CHECKPOINT_MIN_ENTRIES: u64 = 1000;
/// A full checkpoint is also written after this many deltas.
pub(crate) const CHECKPOINT_MAX_DELTAS: u64 = 4096;
/// This many runs of one level at the end of the list fold into one run of the next
/// level, so the runs between a checkpoint and a generation are at most
/// `(FOLD_WIDTH - 1) × levels`: with 4096 deltas at most, 28 objects, and a reader loads
/// the archive from at most 30 (the generation, its checkpoint and its runs).
pub(crate) const FOLD_WIDTH: usize = 8;

/// A stored object, as entries refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Its key.
    pub key: String,
    /// How it stores the bytes.
    pub compression: Compression,
    /// Its size when compressed.
    pub stored_size: Option<u64>,
}

/// Identifies a file within an archive.
pub(crate) type FileId = (String, String);

/// The archive as of one committed generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Last committed generation (0: nothing committed yet).
    pub generation: GenerationNo,
    /// The full checkpoint the current chain starts from.
    pub base: GenerationNo,
    /// Entries in that checkpoint.
    pub base_entries: u64,
    /// Entries written in deltas since it.
    pub delta_entries: u64,
    /// Deltas written since it.
    pub deltas: u64,
    /// The format the checkpoint was written in: deltas on a checkpoint older than format
    /// 3 (0 when unknown) are a chain, so the next generation is a checkpoint.
    #[serde(default)]
    pub base_format: u32,
    /// The runs from the checkpoint to this generation (format 3).
    #[serde(default)]
    pub runs: Vec<Run>,
    #[serde(with = "entries_as_list")]
    entries: BTreeMap<FileId, Entry>,
    #[serde(skip)]
    by_hash: HashMap<ContentHash, usize>,
    #[serde(skip)]
    objects: Vec<ObjectRef>,
}

mod entries_as_list {
    use super::*;

    pub(super) fn serialize<S: serde::Serializer>(
        m: &BTreeMap<FileId, Entry>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.values())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<FileId, Entry>, D::Error> {
        let v: Vec<Entry> = Vec::deserialize(d)?;
        Ok(v.into_iter()
            .map(|e| ((e.source.clone(), e.path.clone()), e))
            .collect())
    }
}

impl Index {
    /// An index holding `entries` (the last one wins for a path), at no generation: a
    /// view to restore from, never one to commit on.
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Self {
        let mut index = Index {
            entries: entries
                .into_iter()
                .map(|e| ((e.source.clone(), e.path.clone()), e))
                .collect(),
            ..Index::default()
        };
        index.reindex();
        index
    }

    /// Rebuilds the hash lookup after deserializing.
    pub fn reindex(&mut self) {
        self.by_hash.clear();
        self.objects.clear();
        let entries: Vec<Entry> = self.entries.values().cloned().collect();
        for e in &entries {
            self.remember_object(e);
        }
    }

    fn remember_object(&mut self, e: &Entry) {
        if !self.by_hash.contains_key(&e.sha256) {
            self.by_hash.insert(e.sha256, self.objects.len());
            self.objects.push(ObjectRef {
                key: e.key.clone(),
                compression: e.compression,
                stored_size: e.stored_size,
            });
        }
    }

    /// The archived entry at a path.
    pub fn get(&self, source: &str, path: &str) -> Option<&Entry> {
        self.entries.get(&(source.to_string(), path.to_string()))
    }

    /// A stored object with this content.
    pub fn object_for(&self, hash: &ContentHash) -> Option<&ObjectRef> {
        self.by_hash.get(hash).map(|&i| &self.objects[i])
    }

    /// All entries, ordered by source then path.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Number of archived files.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing archived.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Applies the next generation; a full checkpoint replaces everything.
    pub fn apply(&mut self, g: &Generation) -> Result<(), String> {
        let expected = self.generation.next();
        match g.kind {
            Kind::Full => {
                if g.generation <= self.generation && self.generation != GenerationNo(0) {
                    return Err(format!(
                        "full generation {} does not follow {}",
                        g.generation, self.generation
                    ));
                }
                self.entries.clear();
                self.base = g.generation;
                self.base_entries = g.entries.len() as u64;
                self.base_format = g.version;
                self.delta_entries = 0;
                self.deltas = 0;
                self.runs.clear();
            }
            Kind::Delta => {
                if g.generation != expected {
                    return Err(format!(
                        "delta generation {} does not follow {}",
                        g.generation, self.generation
                    ));
                }
                if g.base != self.base {
                    return Err(format!(
                        "delta generation {} is based on {} but the chain starts at {}",
                        g.generation, g.base, self.base
                    ));
                }
                self.delta_entries += g.entries.len() as u64;
                self.deltas += 1;
                if g.version >= 3 {
                    self.runs = g.runs.clone();
                }
                self.runs.push(Run {
                    from: self.generation,
                    to: g.generation,
                    level: 0,
                    entries: g.entries.len() as u64,
                });
            }
        }
        for e in &g.entries {
            self.entries
                .insert((e.source.clone(), e.path.clone()), e.clone());
        }
        if g.kind == Kind::Full {
            self.reindex();
        } else {
            for e in &g.entries {
                self.remember_object(e);
            }
        }
        self.generation = g.generation;
        Ok(())
    }

    /// Applies one run of a format 3 generation's list (loaded from its object): its
    /// entries on top, and the index moves to the run's last generation.
    pub fn apply_run(&mut self, run: &Run, entries: &[Entry]) -> Result<(), String> {
        if run.from != self.generation {
            return Err(format!(
                "the run {}..{} does not follow {}",
                run.from, run.to, self.generation
            ));
        }
        for e in entries {
            self.entries
                .insert((e.source.clone(), e.path.clone()), e.clone());
            self.remember_object(e);
        }
        self.delta_entries += run.entries;
        self.deltas += run.to.get() - run.from.get();
        self.generation = run.to;
        self.runs.push(*run);
        Ok(())
    }

    /// Whether a generation adding `added` entries should be a full checkpoint.
    pub fn next_is_full(&self, added: u64) -> bool {
        self.generation == GenerationNo(0)
            || self.base_format < 3
            || self.delta_entries + added >= self.base_entries.max(CHECKPOINT_MIN_ENTRIES)
            || self.deltas + 1 >= CHECKPOINT_MAX_DELTAS
    }

    /// A full checkpoint of this index as the next generation: what `verify --repair`
    /// commits so that readers skip a damaged generation before it.
    pub fn checkpoint(&self, created_at: Timestamp, report: RunReport) -> Generation {
        let generation = self.generation.next();
        Generation {
            version: FORMAT_VERSION,
            generation,
            kind: Kind::Full,
            base: generation,
            created_at,
            report: Some(report),
            runs: Vec::new(),
            entries: self.entries.values().cloned().collect(),
        }
    }

    /// The runs a delta after this generation names, the last ones folded while
    /// `FOLD_WIDTH` of one level end the list, and the folds to write first.
    fn folded_runs(&self) -> (Vec<Run>, Vec<Fold>) {
        let mut runs = self.runs.clone();
        loop {
            let n = runs.len();
            if n < FOLD_WIDTH {
                break;
            }
            let tail = &runs[n - FOLD_WIDTH..];
            let level = tail[FOLD_WIDTH - 1].level;
            if tail.iter().any(|r| r.level != level) {
                break;
            }
            let run = Run {
                from: tail[0].from,
                to: tail[FOLD_WIDTH - 1].to,
                level: level + 1,
                entries: tail.iter().map(|r| r.entries).sum(),
            };
            runs.truncate(n - FOLD_WIDTH);
            runs.push(run);
        }
        // Only the folds the list ends with are written (a cascade makes one); entries
        // record the generation that recorded them, so a run's current entries are the
        // ones recorded inside it, and a path a later generation replaced is in a later
        // run, which wins.
        let folds = runs
            .iter()
            .filter(|r| r.level > 0 && !self.runs.contains(r))
            .map(|run| Fold {
                version: FORMAT_VERSION,
                run: *run,
                entries: self
                    .entries
                    .values()
                    .filter(|e| e.generation > run.from && e.generation <= run.to)
                    .cloned()
                    .collect(),
            })
            .collect();
        (runs, folds)
    }

    /// The generation that records `added` on top of this index, and the folds its
    /// runs name, which are written before it.
    pub fn next_generation(
        &self,
        added: Vec<Entry>,
        created_at: Timestamp,
        report: RunReport,
    ) -> (Generation, Vec<Fold>) {
        let generation = self.generation.next();
        let full = self.next_is_full(added.len() as u64);
        let (runs, folds) = if full {
            (Vec::new(), Vec::new())
        } else {
            self.folded_runs()
        };
        let entries = if full {
            let mut all = self.entries.clone();
            for e in added {
                all.insert((e.source.clone(), e.path.clone()), e);
            }
            all.into_values().collect()
        } else {
            added
        };
        let g = Generation {
            version: FORMAT_VERSION,
            generation,
            kind: if full { Kind::Full } else { Kind::Delta },
            base: if full { generation } else { self.base },
            created_at,
            report: Some(report),
            runs,
            entries,
        };
        (g, folds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, content: &[u8], generation: u64) -> Entry {
        let h = ContentHash::of(content);
        Entry {
            source: "app".into(),
            path: path.into(),
            size: content.len() as u64,
            mtime_ns: 0,
            sha256: h,
            key: format!("data/app/{path}-{h}"),
            compression: crate::codec::Compression::None,
            stored_size: None,
            archived_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            generation: GenerationNo(generation),
        }
    }

    #[test]
    fn first_generation_is_full_then_deltas() {
        let mut idx = Index::default();
        let (g1, _) = idx.next_generation(
            vec![entry("a", b"a", 1)],
            Timestamp::default(),
            RunReport::default(),
        );
        assert_eq!(g1.kind, Kind::Full);
        idx.apply(&g1).unwrap();
        let (g2, _) = idx.next_generation(
            vec![entry("b", b"b", 2)],
            Timestamp::default(),
            RunReport::default(),
        );
        assert_eq!(
            (g2.kind, g2.base, g2.entries.len()),
            (Kind::Delta, GenerationNo(1), 1)
        );
        idx.apply(&g2).unwrap();
        assert_eq!(idx.len(), 2);
        assert!(idx.object_for(&ContentHash::of(b"b")).is_some());
    }

    #[test]
    fn checkpoint_after_enough_delta_entries() {
        let mut idx = Index::default();
        let first: Vec<Entry> = (0..10)
            .map(|i| entry(&format!("f{i}"), format!("{i}").as_bytes(), 1))
            .collect();
        let (g, _) = idx.next_generation(first, Timestamp::default(), RunReport::default());
        idx.apply(&g).unwrap();
        let mut fulls = 0;
        for n in 0..CHECKPOINT_MIN_ENTRIES + 5 {
            let e = entry(
                &format!("g{n}"),
                format!("g{n}").as_bytes(),
                idx.generation.get() + 1,
            );
            let (g, _) = idx.next_generation(vec![e], Timestamp::default(), RunReport::default());
            if g.kind == Kind::Full {
                fulls += 1;
            } else {
                assert_eq!(g.entries.len(), 1, "a delta holds only the change");
            }
            idx.apply(&g).unwrap();
        }
        assert_eq!(fulls, 1);
    }

    #[test]
    fn out_of_order_delta_is_refused() {
        let mut idx = Index::default();
        let (g1, _) = idx.next_generation(
            vec![entry("a", b"a", 1)],
            Timestamp::default(),
            RunReport::default(),
        );
        idx.apply(&g1).unwrap();
        let (mut g3, _) = idx.next_generation(
            vec![entry("b", b"b", 3)],
            Timestamp::default(),
            RunReport::default(),
        );
        g3.generation = GenerationNo(3);
        assert!(idx.apply(&g3).is_err());
    }

    /// What a reader does: the head, its checkpoint and its runs.
    fn load(
        gens: &BTreeMap<GenerationNo, Generation>,
        folds: &BTreeMap<(GenerationNo, GenerationNo), Fold>,
        head: &Generation,
    ) -> Index {
        let mut r = Index::default();
        if head.kind == Kind::Full {
            r.apply(head).unwrap();
            return r;
        }
        r.apply(&gens[&head.base]).unwrap();
        for run in &head.runs {
            let entries = if run.level == 0 {
                gens[&run.to].entries.clone()
            } else {
                let f = &folds[&(run.from, run.to)];
                assert_eq!(f.run, *run);
                f.entries.clone()
            };
            r.apply_run(run, &entries).unwrap();
        }
        r.apply(head).unwrap();
        r
    }

    #[test]
    fn a_state_loaded_from_the_runs_is_the_state_the_chain_gives() {
        let mut idx = Index::default();
        let (mut gens, mut folds) = (BTreeMap::new(), BTreeMap::new());
        let mut most_runs = 0;
        let mut checkpoints = 0;
        for n in 1..=1100u64 {
            let added: Vec<Entry> = if n == 1 {
                (0..10)
                    .map(|i| entry(&format!("f{i}"), format!("{i}").as_bytes(), 1))
                    .collect()
            } else {
                // A name reused every few generations (logrotate) and a new one.
                vec![
                    entry(&format!("app.log.{}", n % 5), format!("{n}").as_bytes(), n),
                    entry(&format!("wal-{n}"), format!("w{n}").as_bytes(), n),
                ]
            };
            let (g, new_folds) =
                idx.next_generation(added, Timestamp::default(), RunReport::default());
            for f in new_folds {
                assert_eq!(g.runs.iter().filter(|r| **r == f.run).count(), 1);
                folds.insert((f.run.from, f.run.to), f);
            }
            checkpoints += usize::from(g.kind == Kind::Full);
            most_runs = most_runs.max(g.runs.len());
            idx.apply(&g).unwrap();
            gens.insert(g.generation, g.clone());
            let loaded = load(&gens, &folds, &g);
            assert!(
                loaded.entries().eq(idx.entries()),
                "generation {n} loads otherwise than the chain"
            );
            assert_eq!(loaded.runs, idx.runs, "generation {n}");
        }
        assert!(checkpoints >= 2, "{checkpoints} checkpoints");
        assert!((8..=28).contains(&most_runs), "{most_runs} runs");
    }
}
