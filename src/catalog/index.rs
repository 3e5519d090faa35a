//! The archive in memory, as a reader loads it: every archived file by (source, path),
//! and every stored object by content hash, built by applying manifest generations in
//! order. (A pass keeps the same in the state dir's database, `super::db`.)
//!
//! Pure: it never reads or writes anything.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::catalog::chain::Chain;
use crate::catalog::{Entry, Generation, GenerationNo, Kind};
use crate::codec::Compression;
use crate::digest::ContentHash;

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

/// What a pass asks of an index while it decides what files are: the entry at a path,
/// and a stored object with some content. The pass's database
/// and a reader's index in memory both answer.
pub(crate) trait Lookup: Send + Sync {
    /// The entry at a path.
    fn entry(&self, source: &str, path: &str) -> crate::error::Result<Option<Entry>>;
    /// A stored object with this content.
    fn object(&self, hash: &ContentHash) -> crate::error::Result<Option<ObjectRef>>;
}

impl Lookup for Index {
    fn entry(&self, source: &str, path: &str) -> crate::error::Result<Option<Entry>> {
        Ok(self.get(source, path).cloned())
    }

    fn object(&self, hash: &ContentHash) -> crate::error::Result<Option<ObjectRef>> {
        Ok(self.object_for(hash).cloned())
    }
}

/// Identifies a file within an archive.
pub(crate) type FileId = (String, String);

/// The archive as of one committed generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Where the chain of generations stands: the last committed generation (0: none
    /// yet), its checkpoint and the runs between them.
    #[serde(flatten)]
    pub chain: Chain,
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

    /// The last committed generation (0: nothing committed yet).
    pub fn generation(&self) -> GenerationNo {
        self.chain.generation
    }

    /// Forgets every entry (a full checkpoint starts).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.reindex();
    }

    /// Puts `entries` on top of the current ones.
    pub fn put(&mut self, entries: impl IntoIterator<Item = Entry>) {
        for e in entries {
            self.remember_object(&e);
            self.entries.insert((e.source.clone(), e.path.clone()), e);
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

    /// Applies the next generation, whose entries are all inline (a full checkpoint
    /// replaces everything).
    pub fn apply(&mut self, g: &Generation) -> Result<(), String> {
        if !g.parts.is_empty() {
            return Err(format!(
                "generation {} keeps entries in parts; load it from the destination",
                g.generation
            ));
        }
        let chain = self.chain.after(g)?;
        if g.kind == Kind::Full {
            self.clear();
        }
        self.put(g.entries.iter().cloned());
        self.chain = chain;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::manifest::FORMAT_VERSION;

    fn entry(path: &str, content: &[u8], generation: u64) -> Entry {
        Entry::sample(path, content, generation)
    }

    fn generation(n: u64, kind: Kind, base: u64, entries: Vec<Entry>) -> Generation {
        Generation {
            version: FORMAT_VERSION,
            generation: GenerationNo(n),
            kind,
            base: GenerationNo(base),
            created_at: Default::default(),
            report: None,
            runs: Vec::new(),
            parts: Vec::new(),
            entries,
            expiry: None,
        }
    }

    #[test]
    fn a_full_generation_then_deltas_build_the_index() {
        let mut idx = Index::default();
        idx.apply(&generation(1, Kind::Full, 1, vec![entry("a", b"a", 1)]))
            .unwrap();
        idx.apply(&generation(2, Kind::Delta, 1, vec![entry("b", b"b", 2)]))
            .unwrap();
        assert_eq!(idx.len(), 2);
        assert!(idx.object_for(&ContentHash::of(b"b")).is_some());
        assert_eq!(
            (idx.generation(), idx.chain.deltas, idx.chain.runs.len()),
            (GenerationNo(2), 1, 1)
        );
        idx.apply(&generation(3, Kind::Full, 3, vec![entry("c", b"c", 3)]))
            .unwrap();
        assert_eq!(idx.len(), 1, "a checkpoint replaces everything");
        assert!(idx.object_for(&ContentHash::of(b"a")).is_none());
    }

    #[test]
    fn out_of_order_delta_is_refused() {
        let mut idx = Index::default();
        idx.apply(&generation(1, Kind::Full, 1, vec![entry("a", b"a", 1)]))
            .unwrap();
        let err = idx
            .apply(&generation(3, Kind::Delta, 1, vec![entry("b", b"b", 3)]))
            .unwrap_err();
        assert!(err.contains("does not follow"), "{err}");
        let err = idx
            .apply(&generation(2, Kind::Delta, 7, vec![entry("b", b"b", 2)]))
            .unwrap_err();
        assert!(err.contains("based on 7"), "{err}");
    }
}
