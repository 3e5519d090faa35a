//! The local index's rows: an [`Entry`] to and from a row of `entries` or `pending`,
//! and batches of them written in one transaction.

use rusqlite::{params, Connection};

use super::manifest::{Entry, GenerationNo};
use crate::codec::Compression;

/// The columns of `entries` and `pending`, in the order the functions here use.
pub(crate) const COLUMNS: &str =
    "source, path, size, mtime_ns, sha256, key, compression, stored_size, archived_at, generation";

pub(crate) fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

pub(crate) fn row_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let bad = |i: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
    };
    let sha: String = row.get(4)?;
    let compression: String = row.get(6)?;
    let archived_at: String = row.get(8)?;
    Ok(Entry {
        source: row.get(0)?,
        path: row.get(1)?,
        size: row.get::<_, i64>(2)? as u64,
        mtime_ns: row.get(3)?,
        sha256: sha
            .parse()
            .map_err(|_| bad(4, format!("bad sha256 {sha}")))?,
        key: row.get(5)?,
        compression: match compression.as_str() {
            "none" => Compression::None,
            "zstd" => Compression::Zstd,
            other => return Err(bad(6, format!("unknown compression {other}"))),
        },
        stored_size: row.get::<_, Option<i64>>(7)?.map(|n| n as u64),
        archived_at: archived_at
            .parse()
            .map_err(|_| bad(8, format!("bad time {archived_at}")))?,
        generation: GenerationNo(row.get::<_, i64>(9)? as u64),
    })
}

fn compression_text(c: Compression) -> &'static str {
    match c {
        Compression::Zstd => "zstd",
        _ => "none",
    }
}

pub(crate) fn insert(conn: &Connection, table: &str, entries: &[Entry]) -> rusqlite::Result<()> {
    // One transaction for the batch, unless the caller holds one.
    let own = conn.is_autocommit();
    if own {
        conn.execute_batch("BEGIN")?;
    }
    let done = insert_rows(conn, table, entries);
    if own {
        match &done {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(_) => conn.execute_batch("ROLLBACK")?,
        }
    }
    done
}

fn insert_rows(conn: &Connection, table: &str, entries: &[Entry]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    for e in entries {
        stmt.execute(params![
            e.source,
            e.path,
            e.size as i64,
            e.mtime_ns,
            e.sha256.to_string(),
            e.key,
            compression_text(e.compression),
            e.stored_size.map(|n| n as i64),
            e.archived_at.to_string(),
            e.generation.get() as i64,
        ])?;
    }
    Ok(())
}
