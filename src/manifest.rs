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

/// Generations present remotely after `after` (all when `None`), in order. A listing
/// cut short (a reset while its pages stream) is listed again from the start.
pub async fn list_generations(store: &Store, after: Option<u64>) -> Result<Vec<u64>> {
    let prefix = store::manifest_prefix();
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
    let mut gens: Vec<u64> = metas
        .iter()
        .filter_map(|m| store::parse_manifest_key(&m.location))
        .filter(|g| after.is_none_or(|a| *g > a))
        .collect();
    gens.sort_unstable();
    Ok(gens)
}

/// Reads one generation.
pub async fn fetch(store: &Store, generation: u64) -> Result<Generation> {
    let key = store::manifest_key(generation);
    let bytes = read_whole(store, &key, &Policy::bodies()).await?;
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
    Ok(g)
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
/// commit times, which only grow), or `None` when none is that old.
pub async fn generation_at(store: &Store, t: std::time::SystemTime) -> Result<Option<u64>> {
    let gens = list_generations(store, None).await?;
    let (mut lo, mut hi) = (0usize, gens.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let g = fetch(store, gens[mid]).await?;
        let created =
            crate::schedule::parse_rfc3339(&g.created_at).ok_or_else(|| Error::Format {
                what: "manifest",
                location: store::manifest_key(gens[mid]).to_string(),
                message: format!("created_at `{}` is not a time", g.created_at),
            })?;
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

/// One object's bytes, the request and its body retried as a whole.
async fn read_whole(store: &Store, key: &Path, policy: &Policy) -> Result<Bytes> {
    retry::run(policy, "get", || async {
        store.get(key).await?.bytes().await
    })
    .await
    .result
    .map_err(|e| Error::store("get", key, e))
}

/// Writes a generation create-only. If the key exists, someone else committed it first:
/// [`Error::CommitConflict`], and nothing is overwritten. A put whose answer was lost (a
/// reset, a timeout) is sent again; if the retry finds the key taken, the object there
/// is read back: our own bytes mean the earlier attempt landed and the commit stands,
/// anything else is a lost race.
pub async fn commit(store: &Store, g: &Generation, policy: &Policy) -> Result<()> {
    let key = store::manifest_key(g.generation);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let bytes = Bytes::from(g.encode());
    let out = retry::run(policy, "commit", || {
        store.put_opts(&key, PutPayload::from(bytes.clone()), opts.clone())
    })
    .await;
    let conflict = || Error::CommitConflict {
        generation: g.generation,
        key: key.to_string(),
    };
    match out.result {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. })
            if out.attempts > 1 =>
        {
            if read_whole(store, &key, policy).await? == bytes {
                tracing::info!(
                    generation = g.generation,
                    "an earlier attempt of the commit landed"
                );
                Ok(())
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
