//! redb: one table of entries by id, and index tables over it.

use std::path::Path;

use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, WriteTransaction,
};

use crate::{entry, Engine, Entry, Queries};

pub const REDB_VERSION: &str = "4.6";

/// (source, path, sha256, size, mtime_ns, key, compression, stored_size, archived_at, generation)
type Row = (
    &'static str,
    &'static str,
    [u8; 32],
    u64,
    i64,
    &'static str,
    &'static str,
    Option<u64>,
    i64,
    u64,
);

const ENTRIES: TableDefinition<u64, Row> = TableDefinition::new("entries");
/// (source, path, archived_at, id)
const BY_PATH: TableDefinition<(&str, &str, i64, u64), ()> = TableDefinition::new("by_path");
/// (source, path) -> id of its latest entry
const LATEST: TableDefinition<(&str, &str), u64> = TableDefinition::new("latest");
/// (file name, id)
const BY_NAME: TableDefinition<(&str, u64), ()> = TableDefinition::new("by_name");
/// (sha256, id)
const BY_SHA: TableDefinition<([u8; 32], u64), ()> = TableDefinition::new("by_sha");

pub struct Db {
    db: Database,
}

fn insert_all(tx: &WriteTransaction, first_id: u64, entries: impl Iterator<Item = Entry>) {
    let mut t_entries = tx.open_table(ENTRIES).unwrap();
    let mut t_path = tx.open_table(BY_PATH).unwrap();
    let mut t_latest = tx.open_table(LATEST).unwrap();
    let mut t_name = tx.open_table(BY_NAME).unwrap();
    let mut t_sha = tx.open_table(BY_SHA).unwrap();
    for (k, e) in entries.enumerate() {
        let id = first_id + k as u64;
        t_entries
            .insert(
                id,
                (
                    e.source.as_str(),
                    e.path.as_str(),
                    e.sha256,
                    e.size,
                    e.mtime_ns,
                    e.key.as_str(),
                    e.compression,
                    e.stored_size,
                    e.archived_at,
                    e.generation,
                ),
            )
            .unwrap();
        t_path
            .insert((e.source.as_str(), e.path.as_str(), e.archived_at, id), ())
            .unwrap();
        t_latest
            .insert((e.source.as_str(), e.path.as_str()), id)
            .unwrap();
        t_name.insert((e.name.as_str(), id), ()).unwrap();
        t_sha.insert((e.sha256, id), ()).unwrap();
    }
}

pub fn load(engine: Engine, path: &Path, n: u64) {
    let db = builder(engine).create(path).unwrap();
    let tx = db.begin_write().unwrap();
    insert_all(&tx, 1, (0..n).map(entry));
    tx.commit().unwrap();
}

fn builder(engine: Engine) -> redb::Builder {
    let mut b = Database::builder();
    if engine == Engine::RedbSmallCache {
        b.set_cache_size(16 << 20);
    }
    b
}

impl Db {
    pub fn open(engine: Engine, path: &Path) -> Db {
        Db {
            db: builder(engine).open(path).unwrap(),
        }
    }

    /// One pass: these entries in one durable transaction.
    pub fn pass(&mut self, entries: &[Entry]) {
        let mut tx = self.db.begin_write().unwrap();
        tx.set_durability(Durability::Immediate).unwrap();
        let next = {
            let t = tx.open_table(ENTRIES).unwrap();
            t.last().unwrap().map_or(1, |(k, _)| k.value() + 1)
        };
        insert_all(&tx, next, entries.iter().cloned());
        tx.commit().unwrap();
    }

    pub fn reader(self) -> Reader {
        let tx = self.db.begin_read().unwrap();
        Reader {
            entries: tx.open_table(ENTRIES).unwrap(),
            by_path: tx.open_table(BY_PATH).unwrap(),
            latest: tx.open_table(LATEST).unwrap(),
            by_name: tx.open_table(BY_NAME).unwrap(),
            by_sha: tx.open_table(BY_SHA).unwrap(),
            _tx: tx,
            _db: self.db,
        }
    }
}

pub struct Reader {
    entries: ReadOnlyTable<u64, Row>,
    by_path: ReadOnlyTable<(&'static str, &'static str, i64, u64), ()>,
    latest: ReadOnlyTable<(&'static str, &'static str), u64>,
    by_name: ReadOnlyTable<(&'static str, u64), ()>,
    by_sha: ReadOnlyTable<([u8; 32], u64), ()>,
    _tx: ReadTransaction,
    _db: Database,
}

impl Reader {
    fn key_of(&self, id: u64) -> String {
        let row = self.entries.get(id).unwrap().expect("entry of an index");
        row.value().5.to_string()
    }
}

impl Queries for Reader {
    fn latest(&mut self, source: &str, path: &str) -> Option<String> {
        let id = self.latest.get((source, path)).unwrap()?.value();
        Some(self.key_of(id))
    }

    fn latest_by_name(&mut self, name: &str) -> Option<String> {
        let (k, _) = self
            .by_name
            .range((name, 0u64)..=(name, u64::MAX))
            .unwrap()
            .next_back()?
            .unwrap();
        let id = k.value().1;
        Some(self.key_of(id))
    }

    fn has_sha(&mut self, sha: &[u8; 32]) -> bool {
        self.by_sha
            .range((*sha, 0u64)..=(*sha, u64::MAX))
            .unwrap()
            .next()
            .is_some()
    }

    fn versions(&mut self, source: &str, path: &str, since: i64, until: i64) -> usize {
        let mut count = 0;
        for item in self
            .by_path
            .range((source, path, since, 0u64)..=(source, path, until, u64::MAX))
            .unwrap()
        {
            let (k, _) = item.unwrap();
            let row = self.entries.get(k.value().3).unwrap().unwrap();
            count += usize::from(!row.value().5.is_empty());
        }
        count
    }

    fn stream_latest(&mut self) -> (u64, u64) {
        let (mut count, mut total) = (0u64, 0u64);
        for item in self.latest.iter().unwrap() {
            let (_, id) = item.unwrap();
            let row = self.entries.get(id.value()).unwrap().unwrap();
            let v = row.value();
            count += 1;
            total += v.3;
        }
        (count, total)
    }
}
