//! The manifest: the versioned record of what is archived, one immutable object per
//! generation, either a full checkpoint or a delta on top of the previous generation.
//!
//! This file is the format alone (pure: encode, decode, versions); reading and
//! committing generations in the bucket is [`super::remote`]'s job.

use serde::{Deserialize, Serialize};

use crate::codec::Compression;
use crate::digest::ContentHash;
use crate::error::{Error, Result};
use crate::report::RunReport;
use crate::time::Timestamp;

/// The manifest format this build writes. Version 4 added `expiry` (a checkpoint that
/// retention committed says what it took out); version 3 added `runs` (a delta names the
/// objects its state is loaded from, so a reader never follows a chain of thousands),
/// folds and version records; version 2 added `compression` and `stored_size` to
/// entries; versions 1 and 2 are still read.
pub(crate) const FORMAT_VERSION: u32 = 4;
/// The oldest manifest format this build reads.
pub(crate) const OLDEST_READABLE_VERSION: u32 = 1;

/// A generation's number: 1 for the first commit, each next one its predecessor plus
/// one (0 stands for "nothing committed yet"). On the wire a plain JSON number, in keys
/// zero-padded (see `remote::layout`); a type of its own so that a generation is never
/// confused with a count or a size.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct GenerationNo(pub u64);

impl GenerationNo {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The generation after this one.
    pub fn next(self) -> Self {
        GenerationNo(self.0 + 1)
    }

    /// The generation before this one, `None` for the first.
    pub fn previous(self) -> Option<Self> {
        self.0.checked_sub(1).filter(|&n| n > 0).map(GenerationNo)
    }
}

impl PartialEq<u64> for GenerationNo {
    fn eq(&self, n: &u64) -> bool {
        self.0 == *n
    }
}

impl From<u64> for GenerationNo {
    fn from(n: u64) -> Self {
        GenerationNo(n)
    }
}

impl std::fmt::Display for GenerationNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for GenerationNo {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.parse().map(GenerationNo)
    }
}

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
    pub archived_at: Timestamp,
    /// The generation that first recorded this content at this path.
    pub generation: GenerationNo,
}

fn no_compression() -> Compression {
    Compression::None
}

fn is_none(c: &Compression) -> bool {
    *c == Compression::None
}

#[cfg(test)]
impl Entry {
    /// An entry of source `app` recording `content` at `path` in `generation`, for tests.
    pub(crate) fn sample(path: &str, content: &[u8], generation: u64) -> Entry {
        let h = ContentHash::of(content);
        Entry {
            source: "app".into(),
            path: path.into(),
            size: content.len() as u64,
            mtime_ns: 0,
            sha256: h,
            key: format!("data/app/{path}-{h}"),
            compression: Compression::None,
            stored_size: None,
            archived_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            generation: GenerationNo(generation),
        }
    }
}

impl Entry {
    /// Whether this is the file `name` of `source` (any source when `None`): its path,
    /// or its file name, which is how `fetch`, `ls NAME` and `restore NAME` name a file.
    pub fn answers_to(&self, name: &str, source: Option<&str>) -> bool {
        source.is_none_or(|s| self.source == s)
            && (self.path == name || self.path.rsplit('/').next() == Some(name))
    }

    /// The object's size in the destination.
    pub fn object_size(&self) -> u64 {
        self.stored_size.unwrap_or(self.size)
    }
}

/// Whether a generation holds every entry or only the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// Every entry of the archive.
    Full,
    /// Entries added or replaced since the previous generation.
    Delta,
}

impl Kind {
    /// The word for it, as the manifest writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Delta => "delta",
        }
    }
}

/// One committed manifest object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// Format version; always the current format version when written by this build.
    pub version: u32,
    /// Generation number, from 1.
    pub generation: GenerationNo,
    /// Full checkpoint or delta.
    pub kind: Kind,
    /// The full checkpoint this generation's chain starts from (itself when full).
    pub base: GenerationNo,
    /// When it was committed (RFC 3339).
    pub created_at: Timestamp,
    /// The pass that made it.
    #[serde(default)]
    pub report: Option<RunReport>,
    /// Format 3 deltas: the runs of generations between `base` and this one, in order,
    /// whose entries (applied on top of the checkpoint, then this generation's own) make
    /// the archive as of this generation. Empty in a full checkpoint and before format 3,
    /// whose deltas are read as a chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    /// Format 3: entries kept in part objects (a generation with many entries holds
    /// them there, not inline), read after `entries`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// Entries (all of them when full, the change when a delta), or the first of them
    /// when there are `parts`.
    pub entries: Vec<Entry>,
    /// Format 4: what the expiry that committed this checkpoint took out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<Expiry>,
}

/// The retention record of the generation an expiry committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expiry {
    /// Point-in-time reads (`--at`, `--generation`) of a state older than this are no
    /// longer promised: versions archived before it may be gone.
    pub window_start: Timestamp,
    /// The oldest generation kept; older manifests are removed.
    pub floor: GenerationNo,
    /// How many versions this expiry took out.
    pub count: u64,
    /// The versions taken out (inline, or the first of them when there are parts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<Entry>,
    /// The rest of them, in parts (`catalog/parts/<sha256>.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
}

/// A run of consecutive delta generations, `from` (exclusive) to `to`: one generation's
/// own object at level 0, a fold of runs below it otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// The generation before the first one of the run.
    pub from: GenerationNo,
    /// The last generation of the run.
    pub to: GenerationNo,
    /// 0 for one generation, n + 1 for a fold of level-n runs.
    pub level: u8,
    /// The entries the run's generations recorded (a fold holds fewer when a path
    /// changed twice), for the checkpoint rule.
    pub entries: u64,
    /// A fold's entries: those the run's generations recorded that were still current
    /// when it was made (a later run holds the rest), in parts. Empty at level 0, whose
    /// entries are the generation's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
}

/// A slice of a generation's (or a fold's) entries in an object of its own, named by
/// the sha256 of its bytes: written before the generation naming it, read (and checked
/// against that hash) one at a time, so no writer or reader holds a whole checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// sha256 of the part object's bytes; its key is `catalog/parts/<sha256>.json`.
    pub sha256: ContentHash,
    /// How many entries it holds.
    pub entries: u64,
}

/// The object a [`Part`] names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartObject {
    /// Format version.
    pub version: u32,
    /// Its entries, ordered by source then path.
    pub entries: Vec<Entry>,
}

/// One version record: the entry a generation recorded for a path, found by the path's
/// file name in one listing (see `remote::layout::name_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameRecord {
    /// Format version.
    pub version: u32,
    /// The entry.
    pub entry: Entry,
}

/// The published mark: the version records of every generation up to this one are
/// written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mark {
    /// Format version.
    pub version: u32,
    /// The generation.
    pub generation: GenerationNo,
}

impl Mark {
    /// Serialized form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("mark serializes")
    }

    /// Parses a mark.
    pub(crate) fn decode(location: &str, bytes: &[u8]) -> Result<Self> {
        decode_versioned("published mark", location, bytes, 3)
    }
}

/// Checks the version field of a catalog object before its fields are read, so that an
/// unknown version gets a clear message rather than a field error.
fn decode_versioned<T: serde::de::DeserializeOwned>(
    what: &'static str,
    location: &str,
    bytes: &[u8],
    oldest: u32,
) -> Result<T> {
    let bad = |message: String| Error::Format {
        what,
        location: location.to_string(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if (u64::from(oldest)..=u64::from(FORMAT_VERSION)).contains(&v) => {}
        Some(v) => {
            return Err(bad(format!(
                "format version {v} is not supported; this logferry reads versions {oldest} to {FORMAT_VERSION} — upgrade logferry"
            )))
        }
        None => return Err(bad(format!("no format version; not a logferry {what}"))),
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

impl PartObject {
    /// Serialized form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("part serializes")
    }

    /// Parses a part object.
    pub(crate) fn decode(location: &str, bytes: &[u8]) -> Result<Self> {
        decode_versioned("manifest part", location, bytes, 3)
    }
}

impl NameRecord {
    /// Serialized form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("record serializes")
    }

    /// Parses a version record.
    pub(crate) fn decode(location: &str, bytes: &[u8]) -> Result<Self> {
        decode_versioned("version record", location, bytes, 3)
    }
}

impl Generation {
    /// How many entries it records, inline and in parts.
    pub fn entry_count(&self) -> u64 {
        self.entries.len() as u64 + self.parts.iter().map(|p| p.entries).sum::<u64>()
    }

    /// Serialized form.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serializes")
    }

    /// Parses a manifest object, checking its version first so an unknown version gets a
    /// clear message rather than a field error.
    pub fn decode(location: &str, bytes: &[u8]) -> Result<Self> {
        let g: Generation = decode_versioned("manifest", location, bytes, OLDEST_READABLE_VERSION)?;
        let bad = |message: String| Error::Format {
            what: "manifest",
            location: location.to_string(),
            message,
        };
        if g.kind == Kind::Full && g.base != g.generation {
            return Err(bad(format!(
                "full generation {} names base {}",
                g.generation, g.base
            )));
        }
        if g.kind != Kind::Full && g.expiry.is_some() {
            return Err(bad(format!(
                "delta generation {} carries an expiry",
                g.generation
            )));
        }
        if g.kind == Kind::Full && !g.runs.is_empty() {
            return Err(bad(format!("full generation {} names runs", g.generation)));
        }
        let mut at = g.base;
        for r in &g.runs {
            if r.level == 0 && !r.parts.is_empty() {
                return Err(bad(format!(
                    "generation {} names the run {}..{} at level {} with {} parts",
                    g.generation,
                    r.from,
                    r.to,
                    r.level,
                    r.parts.len()
                )));
            }
            if r.from != at || r.to <= r.from || r.to >= g.generation {
                return Err(bad(format!(
                    "generation {} names the run {}..{} after {at}",
                    g.generation, r.from, r.to
                )));
            }
            at = r.to;
        }
        if !g.runs.is_empty() && at.next() != g.generation {
            return Err(bad(format!(
                "the runs of generation {} end at {at}",
                g.generation
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_number_is_a_plain_number_on_the_wire() {
        let g = GenerationNo(42);
        assert_eq!(serde_json::to_string(&g).unwrap(), "42");
        assert_eq!(serde_json::from_str::<GenerationNo>("42").unwrap(), g);
        assert_eq!(format!("{g:020}"), "00000000000000000042");
        assert_eq!(
            (g.next(), g.previous()),
            (GenerationNo(43), Some(GenerationNo(41)))
        );
        assert_eq!(GenerationNo(1).previous(), None);
    }

    fn sample() -> Generation {
        let h = ContentHash::of(b"x");
        Generation {
            version: FORMAT_VERSION,
            generation: GenerationNo(1),
            kind: Kind::Full,
            base: GenerationNo(1),
            created_at: "2026-11-21T10:00:00Z".parse().unwrap(),
            report: Some(RunReport::default()),
            runs: Vec::new(),
            parts: Vec::new(),
            entries: vec![Entry {
                source: "app".into(),
                path: "a.log".into(),
                size: 1,
                mtime_ns: 5,
                sha256: h,
                key: format!("data/app/a.log-{h}"),
                compression: Compression::None,
                stored_size: None,
                archived_at: "2026-11-21T10:00:00Z".parse().unwrap(),
                generation: GenerationNo(1),
            }],
            expiry: None,
        }
    }

    #[test]
    fn round_trip() {
        let g = sample();
        assert_eq!(Generation::decode("k", &g.encode()).unwrap(), g);
    }

    #[test]
    fn unknown_version_is_named() {
        let err = Generation::decode("manifests/x.json", br#"{"version": 5}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("manifests/x.json") && err.contains("version 5"),
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
        let bytes = include_bytes!("../../tests/fixtures/manifest-v1.json");
        let g = Generation::decode("fixture", bytes).unwrap();
        assert_eq!(g.version, 1);
        assert_eq!(g.kind, Kind::Delta);
        assert_eq!(g.entries.len(), 2);
        assert_eq!(g.entries[1].path, "app.log.2");
        assert_eq!(g.report.as_ref().unwrap().files_uploaded, 1);
    }
}
