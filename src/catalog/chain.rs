//! Where the archive's chain of generations stands: the last generation, the checkpoint
//! it builds on and the runs between them, and from that what the next generation must
//! be (a delta, or a full checkpoint) and which runs it names. Pure: both the local
//! index (in the state dir) and the index a reader loads keep one of these beside their
//! entries.

use serde::{Deserialize, Serialize};

use super::manifest::{Generation, GenerationNo, Kind, Run};

/// A full checkpoint is written once the deltas since the last one hold at least this many
/// entries (or as many as the checkpoint itself, whichever is more).
pub(crate) const CHECKPOINT_MIN_ENTRIES: u64 = 1000;
/// A full checkpoint is also written after this many deltas.
pub(crate) const CHECKPOINT_MAX_DELTAS: u64 = 4096;
/// This many runs of one level at the end of the list fold into one run of the next
/// level, so the runs between a checkpoint and a generation are at most
/// `(FOLD_WIDTH - 1) × levels`: with 4096 deltas at most, 28, and a reader loads the
/// archive from at most 30 objects and their parts (the generation, its checkpoint and
/// its runs).
pub(crate) const FOLD_WIDTH: usize = 8;

/// The chain as of one committed generation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
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
}

impl Chain {
    /// The chain once `g` is applied, or why `g` cannot follow it.
    pub fn after(&self, g: &Generation) -> Result<Chain, String> {
        let count = g.entry_count();
        match g.kind {
            Kind::Full => {
                if g.generation <= self.generation && self.generation != GenerationNo(0) {
                    return Err(format!(
                        "full generation {} does not follow {}",
                        g.generation, self.generation
                    ));
                }
                Ok(Chain {
                    generation: g.generation,
                    base: g.generation,
                    base_entries: count,
                    delta_entries: 0,
                    deltas: 0,
                    base_format: g.version,
                    runs: Vec::new(),
                })
            }
            Kind::Delta => {
                if g.generation != self.generation.next() {
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
                let mut runs = if g.version >= 3 {
                    g.runs.clone()
                } else {
                    self.runs.clone()
                };
                runs.push(Run {
                    from: self.generation,
                    to: g.generation,
                    level: 0,
                    entries: count,
                    parts: Vec::new(),
                });
                Ok(Chain {
                    generation: g.generation,
                    delta_entries: self.delta_entries + count,
                    deltas: self.deltas + 1,
                    runs,
                    ..self.clone()
                })
            }
        }
    }

    /// The chain once one run of a format 3 generation's list is applied (by a reader
    /// loading the generation's state).
    pub fn after_run(&self, run: &Run) -> Result<Chain, String> {
        if run.from != self.generation {
            return Err(format!(
                "the run {}..{} does not follow {}",
                run.from, run.to, self.generation
            ));
        }
        let mut next = self.clone();
        next.delta_entries += run.entries;
        next.deltas += run.to.get() - run.from.get();
        next.generation = run.to;
        next.runs.push(run.clone());
        Ok(next)
    }

    /// Whether a generation adding `added` entries should be a full checkpoint.
    pub fn next_is_full(&self, added: u64) -> bool {
        self.generation == GenerationNo(0)
            || self.base_format < 3
            || self.delta_entries + added >= self.base_entries.max(CHECKPOINT_MIN_ENTRIES)
            || self.deltas + 1 >= CHECKPOINT_MAX_DELTAS
    }

    /// The runs a delta after this generation names: these runs, the last ones folded
    /// while `FOLD_WIDTH` of one level end the list. A fold this makes has no parts yet
    /// (see `new_folds`): the writer stores its entries first.
    pub fn next_runs(&self) -> Vec<Run> {
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
                parts: Vec::new(),
            };
            runs.truncate(n - FOLD_WIDTH);
            runs.push(run);
        }
        runs
    }

    /// The positions in `runs` (from [`Chain::next_runs`]) of the folds to write: those
    /// this chain does not name yet (a cascade writes only the fold it ends with). Their
    /// entries are the current entries recorded inside them: entries record the
    /// generation that recorded them, and a path a later generation replaced is in a
    /// later run, which wins.
    pub fn new_folds(&self, runs: &[Run]) -> Vec<usize> {
        let known = |r: &Run| {
            self.runs
                .iter()
                .any(|k| (k.from, k.to, k.level) == (r.from, r.to, r.level))
        };
        (0..runs.len())
            .filter(|&i| runs[i].level > 0 && !known(&runs[i]))
            .collect()
    }
}
