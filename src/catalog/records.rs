//! Version records: one small object per version archived under a path, keyed by the
//! path's file name, so that "the archived file called NAME" is answered by one listing
//! and one read however many generations and entries the archive holds (a PostgreSQL
//! recovery asks once per WAL segment, from a host that may have no state at all).
//!
//! The records are written after the generation recording them is committed, and a
//! published mark says through which generation they are complete; the generations
//! stay the truth. So a record found names a committed version, and "never archived" is
//! said only once the generations after the newest mark are read too.

use std::borrow::Borrow;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;

use super::manifest::{Entry, GenerationNo, Mark, NameRecord, FORMAT_VERSION};
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::remote::retry::{self, Policy};
use crate::remote::{layout, Store};

/// What the records say of a name.
#[derive(Debug)]
#[non_exhaustive]
pub enum Lookup {
    /// The newest version archived under the name.
    Found(Entry),
    /// Never archived, as of this generation (the newest one).
    NotArchived(GenerationNo),
    /// The archive has no records (written before format 3, or not yet published): the
    /// caller reads the generations instead.
    Unindexed,
}

/// Tells apart paths that share a file name, in a record's key.
fn file_id(source: &str, path: &str) -> String {
    let h = ContentHash::of(format!("{source}\0{path}").as_bytes()).to_string();
    h[..16].to_string()
}

/// The key of the version record of `e` (as the generation that first recorded it).
pub(crate) fn record_key(e: &Entry) -> object_store::path::Path {
    layout::name_key(
        file_name(&e.path),
        e.generation,
        &file_id(&e.source, &e.path),
    )
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Writes a record for each of `entries`, `at_once` at a time (the destination's
/// `requests_in_flight`: on a remote store each record is a request's round trip).
pub(crate) async fn write_records(
    store: &Store,
    entries: Vec<Entry>,
    policy: &Policy,
    at_once: usize,
) -> Result<()> {
    futures::stream::iter(entries)
        .map(|e| async move {
            let key = record_key(&e);
            let body = NameRecord {
                version: FORMAT_VERSION,
                entry: e,
            }
            .encode();
            super::remote::put_derived(store, &key, body, policy).await
        })
        .buffer_unordered(at_once.max(1))
        .try_collect::<()>()
        .await
}

/// Writes the mark saying the records of every generation up to `through` are written.
pub(crate) async fn write_mark(
    store: &Store,
    through: GenerationNo,
    policy: &Policy,
) -> Result<()> {
    let mark = Mark {
        version: FORMAT_VERSION,
        generation: through,
    };
    super::remote::put_derived(store, &layout::published_key(), mark.encode(), policy).await
}

/// The archived file called `name` (its path or its file name) in `source` (any when
/// `None`), from its records: one listing and one read when it is archived; when it is
/// not, the mark and the generations after it (normally none) are read as well, so that
/// a version committed but not yet published is found too.
pub async fn find(store: &Store, name: &str, source: Option<&str>) -> Result<Lookup> {
    let found = from_records(store, name, source).await?;
    if let Some(e) = found {
        return Ok(Lookup::Found(e));
    }
    let (newest, mark) = super::remote::newest_generation(store).await?;
    let (Some(newest), Some(mark)) = (newest, mark) else {
        return Ok(Lookup::Unindexed);
    };
    let mut g = newest;
    while g > mark {
        let generation = super::load::fetch_inline(store, g).await?;
        if let Some(e) = generation
            .entries
            .into_iter()
            .filter(|e| e.generation == g)
            .find(|e| e.answers_to(name, source))
        {
            return Ok(Lookup::Found(e));
        }
        g = GenerationNo(g.get() - 1);
    }
    Ok(Lookup::NotArchived(newest))
}

/// The newest version of `name` its records hold, read from the newest record of each
/// path called so (one, unless paths share the file name).
async fn from_records(store: &Store, name: &str, source: Option<&str>) -> Result<Option<Entry>> {
    if file_name(name).is_empty() {
        return Ok(None);
    }
    let prefix = layout::name_prefix(file_name(name));
    let metas: Vec<object_store::ObjectMeta> = retry::run(&Policy::bodies(), "list", || {
        store.list(Some(&prefix)).try_collect::<Vec<_>>()
    })
    .await
    .result
    .map_err(|e| Error::store("list", &prefix, e))?;
    // The newest version of each file id (not every store lists in key order).
    let mut newest: Vec<(GenerationNo, String, Path)> = Vec::new();
    for m in metas {
        let Some((g, id)) = layout::parse_name_key(&m.location) else {
            continue;
        };
        if m.location
            .prefix_match(&prefix)
            .is_none_or(|mut p| p.nth(1).is_some())
        {
            continue;
        }
        match newest.iter_mut().find(|(_, i, _)| *i == id) {
            Some(n) if n.0 >= g => {}
            Some(n) => *n = (g, id, m.location),
            None => newest.push((g, id, m.location)),
        }
    }
    newest.sort_by_key(|n| std::cmp::Reverse(n.0));
    let mut matches: Vec<Entry> = Vec::new();
    for (_, _, key) in newest {
        let bytes = retry::run(&Policy::bodies(), "get", || async {
            store.get(&key).await?.bytes().await
        })
        .await
        .result
        .map_err(|e| Error::store("get", &key, e))?;
        let entry = NameRecord::decode(key.as_ref(), &bytes)?.entry;
        if entry.answers_to(name, source) {
            matches.push(entry);
        }
    }
    Ok(one_content(name, &matches)?.cloned())
}

/// The one content `matches` (the archived files answering to `name`) hold: the first,
/// when they all hold the same; [`Error::Ambiguous`] naming them when not.
pub(crate) fn one_content<'a, E: std::borrow::Borrow<Entry>>(
    name: &str,
    matches: &'a [E],
) -> Result<Option<&'a Entry>> {
    let Some(first) = matches.first().map(Borrow::borrow) else {
        return Ok(None);
    };
    if matches.iter().any(|e| e.borrow().sha256 != first.sha256) {
        let all: Vec<String> = matches
            .iter()
            .map(|e| format!("{}/{}", e.borrow().source, e.borrow().path))
            .collect();
        return Err(Error::Ambiguous {
            name: name.to_string(),
            candidates: all.join(", "),
        });
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_ids_tell_paths_apart_and_stay_put() {
        assert_eq!(file_id("app", "a/x.log"), file_id("app", "a/x.log"));
        assert_ne!(file_id("app", "a/x.log"), file_id("app", "b/x.log"));
        assert_ne!(file_id("a", "pp/x"), file_id("ap", "p/x"));
        assert_eq!(file_id("app", "x").len(), 16);
    }
}
