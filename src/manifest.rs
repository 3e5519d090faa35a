//! The manifest: the versioned record of what is archived, one immutable object per
//! generation, either a full checkpoint or a delta on top of the previous generation.
//!
//! A file counts as archived only once a generation naming it is committed, and a
//! generation is committed with a create-only put, so two writers can never both believe
//! they wrote generation N (invariants 2 and 3).

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::codec::Compression;
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::index::Index;
use crate::retry::{self, Policy};
use crate::stats::RunReport;
use crate::store::{self, Store};

/// The manifest format this build writes. Version 2 added `compression` and
/// `stored_size` to entries; version 1 (no compression) is still read.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest manifest format this build reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// One archived file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Source name.
    pub source: String,
    /// Path relative to the source root, `/`-separated.
    pub path: String,
    /// Size of the original bytes.
    pub size: u64,
    /// The file's mtime when archived, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// sha256 of the original bytes.
    pub sha256: ContentHash,
    /// Object key holding the bytes, relative to the destination prefix.
    pub key: String,
    /// How the object stores the bytes (absent in version 1: as they are).
    #[serde(default = "no_compression", skip_serializing_if = "is_none")]
    pub compression: Compression,
    /// The object's size when it differs from `size` (compressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_size: Option<u64>,
    /// When the generation recording it was made (RFC 3339).
    pub archived_at: String,
    /// The generation that first recorded this content at this path.
    pub generation: u64,
}

fn no_compression() -> Compression {
    Compression::None
}

fn is_none(c: &Compression) -> bool {
    *c == Compression::None
}

impl Entry {
    /// The object's size in the destination.
    pub fn object_size(&self) -> u64 {
        self.stored_size.unwrap_or(self.size)
    }
}

/// Whether a generation holds every entry or only the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Every entry of the archive.
    Full,
    /// Entries added or replaced since the previous generation.
    Delta,
}

/// One committed manifest object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// Format version; always [`FORMAT_VERSION`] when written by this build.
    pub version: u32,
    /// Generation number, from 1.
    pub generation: u64,
    /// Full checkpoint or delta.
    pub kind: Kind,
    /// The full checkpoint this generation's chain starts from (itself when full).
    pub base: u64,
    /// When it was committed (RFC 3339).
    pub created_at: String,
    /// The pass that made it.
    #[serde(default)]
    pub report: Option<RunReport>,
    /// Entries (all of them when full, the change when a delta).
    pub entries: Vec<Entry>,
}

impl Generation {
    /// Serialized form.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serializes")
    }

    /// Parses a manifest object, checking its version first so an unknown version gets a
    /// clear message rather than a field error.
    pub fn decode(location: &str, bytes: &[u8]) -> Result<Self> {
        let bad = |message: String| Error::Format {
            what: "manifest",
            location: location.to_string(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if (u64::from(OLDEST_READABLE_VERSION)..=u64::from(FORMAT_VERSION)).contains(&v) => {}
            Some(v) => {
                return Err(bad(format!(
                    "format version {v} is not supported; this logferry reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION} — upgrade logferry"
                )))
            }
            None => return Err(bad("no format version; not a logferry manifest".into())),
        }
        let g: Generation = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        if g.kind == Kind::Full && g.base != g.generation {
            return Err(bad(format!(
                "full generation {} names base {}",
                g.generation, g.base
            )));
        }
        Ok(g)
    }
}

/// What a committed generation object looked like when this host wrote or read it, so a
/// later pass can tell (from a listing) that it was replaced or truncated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, when the store gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
}

impl Committed {
    /// How `meta` differs from this, or `None` when it matches.
    pub fn differs(&self, meta: &object_store::ObjectMeta) -> Option<String> {
        if meta.size != self.size {
            return Some(format!(
                "holds {} bytes, {} were committed",
                meta.size, self.size
            ));
        }
        // Stores quote an ETag in one answer and not in another (Azure: put vs list).
        let bare = |t: &str| t.trim_start_matches("W/").trim_matches('"').to_string();
        match (&self.e_tag, &meta.e_tag) {
            (Some(a), Some(b)) if bare(a) != bare(b) => {
                Some(format!("its ETag is {b}, {a} was committed"))
            }
            _ => None,
        }
    }
}

/// Generations present remotely after `after` (all when `None`), in order, with their
/// listing entries.
pub async fn list_metas(
    store: &Store,
    after: Option<u64>,
) -> Result<Vec<(u64, object_store::ObjectMeta)>> {
    let prefix = store::manifest_prefix();
    // A listing cut short (a reset while its pages stream) is listed again from the start.
    let metas: Vec<_> = retry::run(&Policy::bodies(), "list", || {
        let stream = match after {
            Some(g) => store.list_with_offset(Some(&prefix), &store::manifest_key(g)),
            None => store.list(Some(&prefix)),
        };
        stream.try_collect::<Vec<_>>()
    })
    .await
    .result
    .map_err(|e| Error::store("list", &prefix, e))?;
    let mut gens: Vec<(u64, object_store::ObjectMeta)> = metas
        .into_iter()
        .filter_map(|m| store::parse_manifest_key(&m.location).map(|g| (g, m)))
        .filter(|(g, _)| after.is_none_or(|a| *g > a))
        .collect();
    gens.sort_unstable_by_key(|(g, _)| *g);
    Ok(gens)
}

/// Generations present remotely after `after` (all when `None`), in order.
pub async fn list_generations(store: &Store, after: Option<u64>) -> Result<Vec<u64>> {
    Ok(list_metas(store, after)
        .await?
        .into_iter()
        .map(|(g, _)| g)
        .collect())
}

/// Reads one generation.
pub async fn fetch(store: &Store, generation: u64) -> Result<Generation> {
    fetch_committed(store, generation).await.map(|(g, _)| g)
}

/// Reads one generation, with the size and ETag of the object it came from.
pub async fn fetch_committed(store: &Store, generation: u64) -> Result<(Generation, Committed)> {
    fetch_raw(store, generation).await.map(|(g, c, _)| (g, c))
}

/// Reads one generation, with its object's size and ETag and its bytes as stored.
pub async fn fetch_raw(
    store: &Store,
    generation: u64,
) -> Result<(Generation, Committed, bytes::Bytes)> {
    let key = store::manifest_key(generation);
    let (bytes, e_tag) = read_whole(store, &key, &Policy::bodies()).await?;
    let committed = Committed {
        size: bytes.len() as u64,
        e_tag,
    };
    let g = Generation::decode(key.as_ref(), &bytes)?;
    if g.generation != generation {
        return Err(Error::Format {
            what: "manifest",
            location: key.to_string(),
            message: format!(
                "holds generation {} under the key of {generation}",
                g.generation
            ),
        });
    }
    Ok((g, committed, bytes))
}

/// Whether a generation exists remotely.
pub async fn exists(store: &Store, generation: u64) -> Result<bool> {
    let key = store::manifest_key(generation);
    match store.head(&key).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(Error::store("head", &key, e)),
    }
}

/// Builds the index of the latest generation from the remote alone: the newest
/// generation names its checkpoint, which is read with the deltas after it.
pub async fn load_latest(store: &Store) -> Result<Index> {
    let gens = list_generations(store, None).await?;
    let Some(&newest) = gens.last() else {
        return Ok(Index::default());
    };
    load_at(store, newest).await
}

/// Builds the index as of `generation`.
pub async fn load_at(store: &Store, generation: u64) -> Result<Index> {
    let head = fetch(store, generation).await?;
    let mut index = Index::default();
    if head.kind == Kind::Full {
        apply(&mut index, &head)?;
        return Ok(index);
    }
    index.generation = head.base - 1;
    for g in head.base..generation {
        let gen = fetch(store, g).await?;
        apply(&mut index, &gen)?;
    }
    apply(&mut index, &head)?;
    Ok(index)
}

/// The newest generation committed at or before `t` (binary search over the generations'
/// commit times, which only grow), or `None` when none is that old. A generation that
/// does not decode counts at its object's modification time, so a damaged generation
/// (superseded by a later checkpoint) does not stop a point-in-time read of others.
pub async fn generation_at(store: &Store, t: std::time::SystemTime) -> Result<Option<u64>> {
    let metas = list_metas(store, None).await?;
    let gens: Vec<u64> = metas.iter().map(|(g, _)| *g).collect();
    let (mut lo, mut hi) = (0usize, gens.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let created = match fetch(store, gens[mid]).await {
            Ok(g) => {
                crate::schedule::parse_rfc3339(&g.created_at).ok_or_else(|| Error::Format {
                    what: "manifest",
                    location: store::manifest_key(gens[mid]).to_string(),
                    message: format!("created_at `{}` is not a time", g.created_at),
                })?
            }
            Err(Error::Format { .. }) => metas[mid].1.last_modified.into(),
            Err(e) => return Err(e),
        };
        if created <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo.checked_sub(1).map(|i| gens[i]))
}

fn apply(index: &mut Index, g: &Generation) -> Result<()> {
    index.apply(g).map_err(|message| Error::Format {
        what: "manifest",
        location: store::manifest_key(g.generation).to_string(),
        message,
    })
}

/// One object's bytes and ETag, the request and its body retried as a whole.
async fn read_whole(store: &Store, key: &Path, policy: &Policy) -> Result<(Bytes, Option<String>)> {
    retry::run(policy, "get", || async {
        let got = store.get(key).await?;
        let e_tag = got.meta.e_tag.clone();
        Ok((got.bytes().await?, e_tag))
    })
    .await
    .result
    .map_err(|e| Error::store("get", key, e))
}

/// Writes a generation create-only. If the key exists, someone else committed it first:
/// [`Error::CommitConflict`], and nothing is overwritten. A put whose answer was lost (a
/// reset, a timeout) is sent again; if the retry finds the key taken, the object there
/// is read back: our own bytes mean the earlier attempt landed and the commit stands,
/// anything else is a lost race. Returns the size and ETag of what was committed.
pub async fn commit(store: &Store, g: &Generation, policy: &Policy) -> Result<Committed> {
    let key = store::manifest_key(g.generation);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let bytes = Bytes::from(g.encode());
    let size = bytes.len() as u64;
    let out = retry::run(policy, "commit", || {
        store.put_opts(&key, PutPayload::from(bytes.clone()), opts.clone())
    })
    .await;
    let conflict = || Error::CommitConflict {
        generation: g.generation,
        key: key.to_string(),
    };
    match out.result {
        Ok(r) => Ok(Committed {
            size,
            e_tag: r.e_tag,
        }),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. })
            if out.attempts > 1 =>
        {
            let (there, e_tag) = read_whole(store, &key, policy).await?;
            if there == bytes {
                tracing::info!(
                    generation = g.generation,
                    "an earlier attempt of the commit landed"
                );
                Ok(Committed { size, e_tag })
            } else {
                Err(conflict())
            }
        }
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Err(conflict()),
        Err(e) => Err(Error::store("put", &key, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Generation {
        let h = ContentHash::of(b"x");
        Generation {
            version: FORMAT_VERSION,
            generation: 1,
            kind: Kind::Full,
            base: 1,
            created_at: "2026-11-21T10:00:00Z".into(),
            report: Some(RunReport::default()),
            entries: vec![Entry {
                source: "app".into(),
                path: "a.log".into(),
                size: 1,
                mtime_ns: 5,
                sha256: h,
                key: format!("data/app/a.log-{h}"),
                compression: Compression::None,
                stored_size: None,
                archived_at: "2026-11-21T10:00:00Z".into(),
                generation: 1,
            }],
        }
    }

    #[test]
    fn round_trip() {
        let g = sample();
        assert_eq!(Generation::decode("k", &g.encode()).unwrap(), g);
    }

    #[test]
    fn unknown_version_is_named() {
        let err = Generation::decode("manifests/x.json", br#"{"version": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("manifests/x.json") && err.contains("version 3"),
            "{err}"
        );
        let err = Generation::decode("k", b"{}").unwrap_err().to_string();
        assert!(err.contains("no format version"), "{err}");
        let err = Generation::decode("k", b"not json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn committed_objects_compare_by_size_and_bare_etag() {
        let c = Committed {
            size: 10,
            e_tag: Some("\"abc\"".into()),
        };
        let meta = |size, e_tag: Option<&str>| object_store::ObjectMeta {
            location: "k".into(),
            last_modified: chrono::Utc::now(),
            size,
            e_tag: e_tag.map(str::to_string),
            version: None,
        };
        assert_eq!(
            c.differs(&meta(10, Some("abc"))),
            None,
            "quotes do not count"
        );
        assert_eq!(c.differs(&meta(10, None)), None, "no ETag: size only");
        assert!(c
            .differs(&meta(9, Some("abc")))
            .unwrap()
            .contains("9 bytes"));
        assert!(c.differs(&meta(10, Some("abd"))).unwrap().contains("ETag"));
    }

    #[test]
    fn v1_fixture_still_reads() {
        let bytes = include_bytes!("../tests/fixtures/manifest-v1.json");
        let g = Generation::decode("fixture", bytes).unwrap();
        assert_eq!(g.version, 1);
        assert_eq!(g.kind, Kind::Delta);
        assert_eq!(g.entries.len(), 2);
        assert_eq!(g.entries[1].path, "app.log.2");
        assert_eq!(g.report.as_ref().unwrap().files_uploaded, 1);
    }
}
