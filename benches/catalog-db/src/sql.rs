//! SQLite through rusqlite (bundled): WAL journal, synchronous=FULL.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{entry, Entry, Queries};

pub const RUSQLITE_VERSION: &str = "0.43";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    name        TEXT    NOT NULL,   -- last path segment, for `fetch NAME`
    sha256      BLOB    NOT NULL,   -- 32 bytes
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    compression TEXT    NOT NULL,
    stored_size INTEGER,
    archived_at INTEGER NOT NULL,   -- ms since the epoch
    generation  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_path ON entries (source, path, archived_at);
CREATE INDEX IF NOT EXISTS entries_by_name ON entries (name);
CREATE INDEX IF NOT EXISTS entries_by_sha ON entries (sha256);
CREATE TABLE IF NOT EXISTS latest (
    source TEXT    NOT NULL,
    path   TEXT    NOT NULL,
    id     INTEGER NOT NULL,
    PRIMARY KEY (source, path)
) WITHOUT ROWID;
";

const INSERT: &str = "INSERT INTO entries (id, source, path, name, sha256, size, mtime_ns, key, \
    compression, stored_size, archived_at, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
const UPSERT_LATEST: &str = "INSERT INTO latest (source, path, id) VALUES (?1, ?2, ?3) \
    ON CONFLICT (source, path) DO UPDATE SET id = excluded.id";

pub struct Db {
    conn: Connection,
}

fn insert(tx: &Connection, id: u64, e: &Entry) {
    tx.prepare_cached(INSERT)
        .unwrap()
        .execute(params![
            id as i64,
            e.source,
            e.path,
            e.name,
            &e.sha256[..],
            e.size as i64,
            e.mtime_ns,
            e.key,
            e.compression,
            e.stored_size.map(|s| s as i64),
            e.archived_at,
            e.generation as i64
        ])
        .unwrap();
    tx.prepare_cached(UPSERT_LATEST)
        .unwrap()
        .execute(params![e.source, e.path, id as i64])
        .unwrap();
}

pub fn load(path: &Path, n: u64) {
    let mut db = Db::open(path);
    let tx = db.conn.transaction().unwrap();
    for i in 0..n {
        insert(&tx, i + 1, &entry(i));
    }
    tx.commit().unwrap();
}

impl Db {
    pub fn open(path: &Path) -> Db {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        Db { conn }
    }

    /// One pass: these entries in one durable transaction.
    pub fn pass(&mut self, entries: &[Entry]) {
        let tx = self.conn.transaction().unwrap();
        let next: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) + 1 FROM entries", [], |r| {
                r.get(0)
            })
            .unwrap();
        for (k, e) in entries.iter().enumerate() {
            insert(&tx, next as u64 + k as u64, e);
        }
        tx.commit().unwrap();
    }

    pub fn reader(self) -> Reader {
        self.conn.execute_batch("BEGIN").unwrap();
        Reader { conn: self.conn }
    }
}

pub struct Reader {
    conn: Connection,
}

impl Queries for Reader {
    fn latest(&mut self, source: &str, path: &str) -> Option<String> {
        self.conn
            .prepare_cached(
                "SELECT e.key FROM latest l JOIN entries e ON e.id = l.id \
                 WHERE l.source = ?1 AND l.path = ?2",
            )
            .unwrap()
            .query_row(params![source, path], |r| r.get(0))
            .optional()
            .unwrap()
    }

    fn latest_by_name(&mut self, name: &str) -> Option<String> {
        self.conn
            .prepare_cached("SELECT key FROM entries WHERE name = ?1 ORDER BY id DESC LIMIT 1")
            .unwrap()
            .query_row(params![name], |r| r.get(0))
            .optional()
            .unwrap()
    }

    fn has_sha(&mut self, sha: &[u8; 32]) -> bool {
        self.conn
            .prepare_cached("SELECT 1 FROM entries WHERE sha256 = ?1 LIMIT 1")
            .unwrap()
            .query_row(params![&sha[..]], |_| Ok(()))
            .optional()
            .unwrap()
            .is_some()
    }

    fn versions(&mut self, source: &str, path: &str, since: i64, until: i64) -> usize {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, sha256, size, mtime_ns, key, compression, stored_size, archived_at, generation \
                 FROM entries WHERE source = ?1 AND path = ?2 AND archived_at BETWEEN ?3 AND ?4 \
                 ORDER BY archived_at, id",
            )
            .unwrap();
        let mut rows = st.query(params![source, path, since, until]).unwrap();
        let mut count = 0;
        while let Some(r) = rows.next().unwrap() {
            let key: String = r.get(4).unwrap();
            count += usize::from(!key.is_empty());
        }
        count
    }

    fn stream_latest(&mut self) -> (u64, u64) {
        let mut st = self
            .conn
            .prepare(
                "SELECT l.source, l.path, e.sha256, e.size, e.mtime_ns, e.key, e.compression, \
                 e.stored_size, e.archived_at, e.generation \
                 FROM latest l JOIN entries e ON e.id = l.id ORDER BY l.source, l.path",
            )
            .unwrap();
        let mut rows = st.query([]).unwrap();
        let (mut count, mut total) = (0u64, 0u64);
        let mut last = (String::new(), String::new());
        while let Some(r) = rows.next().unwrap() {
            let s: String = r.get(0).unwrap();
            let p: String = r.get(1).unwrap();
            assert!((s.as_str(), p.as_str()) > (last.0.as_str(), last.1.as_str()));
            let size: i64 = r.get(3).unwrap();
            let _key: String = r.get(5).unwrap();
            count += 1;
            total += size as u64;
            last = (s, p);
        }
        (count, total)
    }
}
