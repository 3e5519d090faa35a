//! The local index: the archive as this host last saw it, in an SQLite database in the
//! state dir (`catalog.db`), so that a pass looks files up and records them without
//! holding the archive in memory, and its cost follows the change: a pass adding 10
//! files to a 1M-entry archive reads and writes a few pages, not the whole index.
//!
//! Only ever a copy of the remote: a missing, corrupt or foreign database is rebuilt
//! from the destination. An operator can read it with `sqlite3 catalog.db`.
//!
//! Schema version 1 (`PRAGMA user_version`): `meta` (the destination it describes, the
//! chain, through which generation the version records and the published mark are
//! written, and when the mark was), `entries` (the
//! current entry of every archived path, indexed by content hash and by generation),
//! `pending` (what the pass running now has stored and will record, moved into
//! `entries` once its generation is committed) and `generations` (what the objects of
//! the generations since the checkpoint looked like when this host committed or read
//! them: size, sha256 and ETag, so that one listing shows one replaced or truncated).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{insert, is_corrupt, row_entry, COLUMNS};

use super::chain::Chain;
use super::index::ObjectRef;
use super::manifest::{Committed, Entry, GenerationNo};
use crate::error::{Error, Result};

/// Name of the database in the state dir.
pub(crate) const DB_FILE: &str = "catalog.db";
/// The schema this build writes and reads.
const SCHEMA_VERSION: i64 = 1;

/// What a generation's object looked like when this host committed or read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remembered {
    /// The generation.
    pub(crate) generation: GenerationNo,
    /// Its size and ETag.
    pub committed: Committed,
    /// The sha256 of its bytes.
    pub sha256: Option<crate::digest::ContentHash>,
}

/// Which entries a page reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Select {
    /// Every current entry, with the pending ones in place of those they replace.
    AllWithPending,
    /// The current entries recorded by a generation after `.0` up to `.1`.
    RecordedIn(GenerationNo, GenerationNo),
    /// The pending entries.
    Pending,
}

/// The local index, open.
pub(crate) struct LocalIndex {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::LocalIndex {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl LocalIndex {
    /// Opens (creating when absent) the database at `path`. A file that is not a
    /// database of this schema is an error; the caller rebuilds it.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        Self::try_open(path).map_err(|e| db_error(path, e))?
    }

    /// [`LocalIndex::open`], and when the file is no database (or a corrupt one), it is
    /// removed and started afresh: the caller rebuilds it from the remote. A database
    /// that is busy or cannot be written is an error, never removed.
    pub(crate) fn open_or_reset(path: &Path) -> Result<Self> {
        match Self::try_open(path) {
            Ok(db) => db,
            Err(e) if is_corrupt(&e) => {
                tracing::warn!(path = %path.display(), error = %e, "the local index is unreadable; rebuilding it from the destination");
                for p in [
                    path.to_path_buf(),
                    path.with_extension("db-wal"),
                    path.with_extension("db-shm"),
                ] {
                    match std::fs::remove_file(&p) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(Error::io("remove", &p, e))
                        }
                        _ => {}
                    }
                }
                Self::open(path)
            }
            Err(e) => Err(db_error(path, e)),
        }
    }

    fn try_open(path: &Path) -> rusqlite::Result<Result<Self>> {
        let conn = Connection::open(path)?;
        // Someone reading it with `sqlite3` holds a lock for a moment.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let setup = || -> rusqlite::Result<i64> {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // A copy: a power cut may lose the last transactions, never corrupt the file,
            // and the next pass catches up from the destination.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        };
        let version = setup()?;
        match version {
            0 => {
                conn.execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                     CREATE TABLE entries (
                        source TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, key TEXT NOT NULL,
                        compression TEXT NOT NULL, stored_size INTEGER,
                        archived_at TEXT NOT NULL, generation INTEGER NOT NULL,
                        PRIMARY KEY (source, path)) WITHOUT ROWID;
                     CREATE INDEX entries_by_hash ON entries (sha256);
                     CREATE INDEX entries_by_generation ON entries (generation);
                     CREATE TABLE pending AS SELECT * FROM entries WHERE 0;
                     CREATE UNIQUE INDEX pending_by_path ON pending (source, path);
                     CREATE TABLE generations (
                        generation INTEGER PRIMARY KEY, size INTEGER NOT NULL,
                        sha256 TEXT NOT NULL, e_tag TEXT);
                     PRAGMA user_version = {SCHEMA_VERSION};
                     COMMIT;"
                ))?;
            }
            SCHEMA_VERSION => {}
            v => {
                return Ok(Err(Error::LocalIndex {
                    path: path.to_path_buf(),
                    message: format!(
                        "schema version {v}; this logferry reads version {SCHEMA_VERSION} (a newer logferry wrote it)"
                    ),
                }))
            }
        }
        Ok(Ok(LocalIndex {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        }))
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|e| db_error(&self.path, e))
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    fn set_meta(c: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
        c.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [key, value],
        )
        .map(|_| ())
    }

    /// The destination URL (credentials removed) the index describes, if any.
    pub(crate) fn destination(&self) -> Result<Option<String>> {
        self.meta("destination")
    }

    /// The chain as of the newest generation the index holds.
    pub(crate) fn chain(&self) -> Result<Chain> {
        Ok(self
            .meta("chain")?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default())
    }

    /// The newest generation the index holds.
    pub(crate) fn generation(&self) -> Result<GenerationNo> {
        Ok(self.chain()?.generation)
    }

    /// What the objects of the generations since the checkpoint looked like when this
    /// host committed or read them, oldest first.
    pub(crate) fn remembered(&self) -> Result<Vec<Remembered>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT generation, size, sha256, e_tag FROM generations ORDER BY generation",
            )?;
            let rows = stmt.query_map([], |r| {
                let sha: String = r.get(2)?;
                Ok(Remembered {
                    generation: GenerationNo(r.get::<_, i64>(0)? as u64),
                    committed: Committed {
                        size: r.get::<_, i64>(1)? as u64,
                        e_tag: r.get(3)?,
                    },
                    sha256: sha.parse().ok(),
                })
            })?;
            rows.collect()
        })
    }

    /// Remembers what a generation's object looked like (`full`: a checkpoint, so the
    /// ones before it are forgotten), inside a transaction.
    pub(crate) fn remember(
        &self,
        generation: GenerationNo,
        committed: &Committed,
        sha256: &crate::digest::ContentHash,
        full: bool,
    ) -> Result<()> {
        self.with(|c| {
            if full {
                c.execute("DELETE FROM generations", [])?;
            }
            c.execute(
                "INSERT OR REPLACE INTO generations (generation, size, sha256, e_tag)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    generation.get() as i64,
                    committed.size as i64,
                    sha256.to_string(),
                    committed.e_tag
                ],
            )
            .map(|_| ())
        })
    }

    /// Through which generation this host wrote (or found) the version records.
    pub(crate) fn published(&self) -> Result<GenerationNo> {
        Ok(self
            .meta("published")?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    /// Records that the version records are written through `generation`.
    pub(crate) fn set_published(&self, generation: GenerationNo) -> Result<()> {
        self.with(|c| Self::set_meta(c, "published", &generation.to_string()))
    }

    /// Through which generation this host wrote the version records themselves, which
    /// can be ahead of the published mark when the mark's write was put off; never
    /// behind it.
    pub(crate) fn records_written(&self) -> Result<GenerationNo> {
        let published = self.published()?;
        let records: Option<GenerationNo> = self.meta("records")?.and_then(|v| v.parse().ok());
        Ok(records.map_or(published, |r| r.max(published)))
    }

    /// Records that the version records (not yet the mark) are written through
    /// `generation`.
    pub(crate) fn set_records_written(&self, generation: GenerationNo) -> Result<()> {
        self.with(|c| Self::set_meta(c, "records", &generation.to_string()))
    }

    /// When this host last wrote the published mark, in nanoseconds since the epoch on
    /// the pass's clock.
    pub(crate) fn mark_written_ns(&self) -> Result<Option<i64>> {
        Ok(self.meta("mark_written_ns")?.and_then(|v| v.parse().ok()))
    }

    /// Records that this host wrote the published mark through `generation` at `at_ns`.
    pub(crate) fn set_mark_written(&self, generation: GenerationNo, at_ns: i64) -> Result<()> {
        self.with(|c| {
            Self::set_meta(c, "published", &generation.to_string())?;
            Self::set_meta(c, "mark_written_ns", &at_ns.to_string())
        })
    }

    /// Starts describing `destination` from nothing: every entry and the chain forgotten.
    pub(crate) fn reset(&self, destination: &str) -> Result<()> {
        self.with(|c| {
            c.execute_batch(
                "BEGIN; DELETE FROM entries; DELETE FROM pending; DELETE FROM meta;
                 DELETE FROM generations;",
            )?;
            Self::set_meta(c, "destination", destination)?;
            c.execute_batch("COMMIT;")
        })
    }

    /// Begins a transaction that [`LocalIndex::finish`] commits: a generation applied
    /// part by part lands whole or not at all.
    pub(crate) fn begin(&self) -> Result<()> {
        self.with(|c| c.execute_batch("BEGIN IMMEDIATE;"))
    }

    /// Commits the transaction [`LocalIndex::begin`] started, with the new chain.
    pub(crate) fn finish(&self, chain: &Chain) -> Result<()> {
        self.with(|c| {
            Self::set_meta(
                c,
                "chain",
                &serde_json::to_string(chain).expect("chain serializes"),
            )?;
            c.execute_batch("COMMIT;")
        })
    }

    /// Abandons the transaction [`LocalIndex::begin`] started.
    pub(crate) fn abandon(&self) {
        let _ = self.with(|c| c.execute_batch("ROLLBACK;"));
    }

    /// Forgets every entry (a full checkpoint starts), inside a transaction.
    pub(crate) fn clear(&self) -> Result<()> {
        self.with(|c| c.execute("DELETE FROM entries", []).map(|_| ()))
    }

    /// Puts `entries` on top of the current ones.
    pub(crate) fn put(&self, entries: &[Entry]) -> Result<()> {
        self.with(|c| insert(c, "entries", entries))
    }

    /// Takes out the current entries that are these versions (expiry): same path, same
    /// content, first recorded in the same generation.
    pub(crate) fn remove(&self, entries: &[Entry]) -> Result<()> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM entries WHERE source = ?1 AND path = ?2 AND sha256 = ?3 AND generation = ?4",
                )?;
                for e in entries {
                    stmt.execute(params![
                        e.source,
                        e.path,
                        e.sha256.to_string(),
                        e.generation.get() as i64
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Adds entries the running pass will record.
    pub(crate) fn put_pending(&self, entries: &[Entry]) -> Result<()> {
        self.with(|c| insert(c, "pending", entries))
    }

    /// Forgets what the running pass meant to record (its commit failed).
    pub(crate) fn clear_pending(&self) -> Result<()> {
        self.with(|c| c.execute("DELETE FROM pending", []).map(|_| ()))
    }

    /// Moves the pending entries into the current ones, inside a transaction.
    pub(crate) fn settle_pending(&self) -> Result<()> {
        self.with(|c| {
            c.execute_batch(&format!(
                "INSERT OR REPLACE INTO entries ({COLUMNS}) SELECT {COLUMNS} FROM pending;
                 DELETE FROM pending;"
            ))
        })
    }

    /// How many entries are pending.
    pub(crate) fn pending_count(&self) -> Result<u64> {
        self.with(|c| c.query_row("SELECT count(*) FROM pending", [], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
    }

    /// The current entry at a path.
    pub(crate) fn get(&self, source: &str, path: &str) -> Result<Option<Entry>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM entries WHERE source = ?1 AND path = ?2"
            ))?
            .query_row([source, path], row_entry)
            .optional()
        })
    }

    /// A stored object with this content.
    pub(crate) fn object_for(
        &self,
        hash: &crate::digest::ContentHash,
    ) -> Result<Option<ObjectRef>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM entries WHERE sha256 = ?1 LIMIT 1"
            ))?
            .query_row([hash.to_string()], row_entry)
            .optional()
        })
        .map(|e| {
            e.map(|e| ObjectRef {
                key: e.key,
                compression: e.compression,
                stored_size: e.stored_size,
            })
        })
    }

    /// Number of current entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> Result<u64> {
        self.with(|c| c.query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
    }

    /// Up to `limit` entries of `select` after `after` (source, path), in that order:
    /// what a writer streams into parts and records, one page at a time.
    pub(crate) fn page(
        &self,
        select: Select,
        after: Option<&(String, String)>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let (from_source, from_path) = after
            .map(|(s, p)| (s.as_str(), p.as_str()))
            .unwrap_or(("", ""));
        let first = after.is_none();
        self.with(|c| {
            let (sql, range) = match select {
                Select::AllWithPending => (
                    format!(
                        "SELECT {COLUMNS} FROM (
                           SELECT {COLUMNS} FROM pending
                           UNION ALL
                           SELECT {COLUMNS} FROM entries e WHERE NOT EXISTS
                             (SELECT 1 FROM pending p WHERE p.source = e.source AND p.path = e.path))
                         WHERE ?1 OR (source, path) > (?2, ?3)
                         ORDER BY source, path LIMIT ?4"
                    ),
                    (0i64, i64::MAX),
                ),
                Select::RecordedIn(a, b) => (
                    format!(
                        "SELECT {COLUMNS} FROM entries
                         WHERE (?1 OR (source, path) > (?2, ?3))
                           AND generation > ?5 AND generation <= ?6
                         ORDER BY source, path LIMIT ?4"
                    ),
                    (a.get() as i64, b.get() as i64),
                ),
                Select::Pending => (
                    format!(
                        "SELECT {COLUMNS} FROM pending WHERE ?1 OR (source, path) > (?2, ?3)
                         ORDER BY source, path LIMIT ?4"
                    ),
                    (0, i64::MAX),
                ),
            };
            let mut stmt = c.prepare_cached(&sql)?;
            let limit = limit as i64;
            let rows = match select {
                Select::RecordedIn(..) => stmt
                    .query_map(
                        params![first, from_source, from_path, limit, range.0, range.1],
                        row_entry,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>(),
                _ => stmt
                    .query_map(params![first, from_source, from_path, limit], row_entry)?
                    .collect::<rusqlite::Result<Vec<_>>>(),
            };
            rows
        })
    }
}

impl super::index::Lookup for LocalIndex {
    fn entry(&self, source: &str, path: &str) -> Result<Option<Entry>> {
        self.get(source, path)
    }

    fn object(&self, hash: &crate::digest::ContentHash) -> Result<Option<ObjectRef>> {
        self.object_for(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compression;

    fn entry(path: &str, content: &[u8], generation: u64) -> Entry {
        Entry {
            mtime_ns: 7,
            compression: Compression::Zstd,
            stored_size: Some(3),
            ..Entry::sample(path, content, generation)
        }
    }

    #[test]
    fn entries_round_trip_and_pages_follow_the_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = LocalIndex::open(&dir.path().join(DB_FILE)).unwrap();
        db.reset("file:///a").unwrap();
        let all: Vec<Entry> = (0..25)
            .map(|i| entry(&format!("f{i:02}"), format!("{i}").as_bytes(), 1 + i / 10))
            .collect();
        db.put(&all).unwrap();
        assert_eq!(db.get("app", "f03").unwrap().as_ref(), Some(&all[3]));
        assert_eq!(db.len().unwrap(), 25);
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let page = db.page(Select::AllWithPending, after.as_ref(), 10).unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.source.clone(), last.path.clone()));
            seen.extend(page);
        }
        assert_eq!(seen, all);
        let second = db
            .page(
                Select::RecordedIn(GenerationNo(1), GenerationNo(2)),
                None,
                100,
            )
            .unwrap();
        assert_eq!(second, all[10..20].to_vec());
        assert_eq!(
            db.object_for(&all[5].sha256).unwrap().unwrap().key,
            all[5].key
        );
    }

    #[test]
    fn pending_entries_replace_current_ones_only_once_settled() {
        let dir = tempfile::tempdir().unwrap();
        let db = LocalIndex::open(&dir.path().join(DB_FILE)).unwrap();
        db.put(&[entry("a", b"old", 1), entry("b", b"b", 1)])
            .unwrap();
        db.put_pending(&[entry("a", b"new", 2), entry("c", b"c", 2)])
            .unwrap();
        let all = db.page(Select::AllWithPending, None, 10).unwrap();
        let paths: Vec<_> = all
            .iter()
            .map(|e| (e.path.as_str(), e.generation.get()))
            .collect();
        assert_eq!(paths, [("a", 2), ("b", 1), ("c", 2)]);
        assert_eq!(
            db.get("app", "a").unwrap().unwrap().generation,
            GenerationNo(1)
        );
        db.begin().unwrap();
        db.settle_pending().unwrap();
        db.finish(&Chain::default()).unwrap();
        assert_eq!(
            db.get("app", "a").unwrap().unwrap().generation,
            GenerationNo(2)
        );
        assert_eq!(db.pending_count().unwrap(), 0);
    }

    #[test]
    fn an_abandoned_transaction_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = LocalIndex::open(&dir.path().join(DB_FILE)).unwrap();
        db.begin().unwrap();
        db.put(&[entry("a", b"a", 1)]).unwrap();
        db.abandon();
        assert_eq!(db.len().unwrap(), 0);
    }

    #[test]
    fn another_schema_or_a_file_that_is_no_database_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        std::fs::write(&path, b"not a database at all, but long enough to be read").unwrap();
        let err = LocalIndex::open(&path).err().unwrap().to_string();
        assert!(err.contains(DB_FILE), "{err}");
        std::fs::remove_file(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA user_version = 9;").unwrap();
        drop(c);
        let err = LocalIndex::open(&path).err().unwrap().to_string();
        assert!(err.contains("schema version 9"), "{err}");
    }
}
