//! What retention took out of the archive, as the generations record it (pure).
//!
//! Expiry commits a full checkpoint that carries an `Expiry` (in `manifest.rs`): the versions it
//! expired (their objects are then deleted), the oldest generation it keeps (older
//! manifests are deleted) and where the point-in-time window now starts. Manifests
//! are immutable, so an older generation still names what was expired after it; every
//! reader of old generations (verify, `--generation`, `--all-versions`) asks
//! [`Expired`] whether an entry it meets is still there, rather than calling the object
//! missing.

use std::collections::HashMap;

#[cfg(test)]
use super::manifest::Expiry;
use super::manifest::{Entry, Generation, GenerationNo};
use crate::time::Timestamp;

/// Every expiry the readable generations record, to tell an expired version from a
/// missing one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expired {
    /// For each expired object key, the versions taken out (the generation that first
    /// recorded each) and the generation whose expiry took it out.
    by_key: HashMap<String, Vec<(GenerationNo, GenerationNo)>>,
    /// The highest floor recorded: generations below it were removed on purpose.
    floor: GenerationNo,
    /// The window start of the newest expiry.
    window_start: Option<Timestamp>,
}

impl Expired {
    /// From generations whose expiry versions are inline (see `load::inline_expiry`).
    pub(crate) fn of<'a>(generations: impl IntoIterator<Item = &'a Generation>) -> Self {
        let mut out = Expired::default();
        let mut newest = GenerationNo(0);
        for g in generations {
            let Some(x) = &g.expiry else { continue };
            out.floor = out.floor.max(x.floor);
            if g.generation > newest {
                newest = g.generation;
                out.window_start = Some(x.window_start);
            }
            for v in &x.versions {
                out.by_key
                    .entry(v.key.clone())
                    .or_default()
                    .push((v.generation, g.generation));
            }
        }
        out
    }

    /// Whether nothing was ever expired.
    pub(crate) fn is_empty(&self) -> bool {
        self.window_start.is_none()
    }

    /// Whether the entry `e`, as generation `named_in` names it, is a version a later
    /// expiry took out. The same content archived again under the path later is another
    /// version (its own first generation), and it counts.
    pub(crate) fn holds(&self, e: &Entry, named_in: GenerationNo) -> bool {
        self.by_key.get(&e.key).is_some_and(|vs| {
            vs.iter()
                .any(|&(first, by)| first == e.generation && by > named_in)
        })
    }

    /// Generations below this were removed by expiry, not lost.
    pub(crate) fn floor(&self) -> GenerationNo {
        self.floor
    }

    /// Where the point-in-time window starts, when anything expired.
    pub(crate) fn window_start(&self) -> Option<Timestamp> {
        self.window_start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::manifest::{Kind, FORMAT_VERSION};

    fn generation(n: u64, expiry: Option<Expiry>) -> Generation {
        Generation {
            version: FORMAT_VERSION,
            generation: GenerationNo(n),
            kind: Kind::Full,
            base: GenerationNo(n),
            created_at: "2026-01-02T00:00:00Z".parse().unwrap(),
            report: None,
            runs: Vec::new(),
            parts: Vec::new(),
            entries: Vec::new(),
            expiry,
        }
    }

    #[test]
    fn an_expired_key_counts_only_for_generations_before_its_expiry() {
        let old = Entry::sample("a.log", b"a", 1);
        let x = Expiry {
            window_start: "2026-01-01T00:00:00Z".parse().unwrap(),
            floor: GenerationNo(2),
            count: 1,
            versions: vec![old.clone()],
            parts: Vec::new(),
        };
        let gens = [generation(1, None), generation(5, Some(x))];
        let expired = Expired::of(&gens);
        assert!(expired.holds(&old, GenerationNo(1)));
        assert!(expired.holds(&old, GenerationNo(4)));
        assert!(
            !expired.holds(&old, GenerationNo(5)),
            "named at or after the expiry"
        );
        let again = Entry::sample("a.log", b"a", 3);
        assert!(
            !expired.holds(&again, GenerationNo(3)),
            "the same content archived again is another version"
        );
        assert!(!expired.holds(&Entry::sample("b.log", b"b", 1), GenerationNo(1)));
        assert_eq!(expired.floor(), GenerationNo(2));
        assert!(!expired.is_empty());
        assert!(Expired::of(&gens[..1]).is_empty());
    }
}
