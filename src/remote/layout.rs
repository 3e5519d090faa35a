//! The remote layout: the one place object keys are built and parsed, so the layout
//! cannot drift between writers and readers (see DESIGN.md, "Remote layout").

use object_store::path::{Path, PathPart};

use crate::catalog::manifest::GenerationNo;
use crate::codec::Compression;
use crate::digest::ContentHash;

/// The suffix of content encrypted to the recipients, in its logical key.
pub(crate) const AGE: &str = ".age";

/// Folder of `check-config --probe`'s scratch keys under the destination prefix.
pub(crate) const PROBE_PREFIX: &str = "logferry-probe";

/// Top-level folder of archived content.
pub(crate) const DATA_PREFIX: &str = "data";
/// Top-level folder of manifest generations.
pub(crate) const MANIFEST_PREFIX: &str = "manifests";
/// Top-level folder of the catalog's lookup objects (format 3): the folds of delta
/// runs, one record per archived version keyed by file name, and the mark saying
/// through which generation those records are complete. Never the truth (the
/// generations are), only the way to the answer in a few requests.
pub(crate) const CATALOG_PREFIX: &str = "catalog";
/// Digits of a zero-padded generation number, so keys sort in generation order.
const GENERATION_DIGITS: usize = 20;

/// A generation counted down from the largest number, so that a listing in key order
/// (what S3, GCS and Azure give) shows the newest version first.
fn newest_first(generation: GenerationNo) -> String {
    format!(
        "{:0width$}",
        u64::MAX - generation.get(),
        width = GENERATION_DIGITS
    )
}

fn parse_newest_first(digits: &str) -> Option<GenerationNo> {
    if digits.len() != GENERATION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(GenerationNo(u64::MAX - n))
}

/// `data/<source>/<relative path>-<sha256 hex>[.zst]`: keeps the file name for people,
/// the hash for idempotent retries.
pub fn data_key(
    source: &str,
    rel_path: &str,
    hash: &ContentHash,
    compression: Compression,
) -> Path {
    content_key(source, rel_path, hash, compression, None)
}

/// [`data_key`] of content stored as it is, or encrypted to the set of recipients whose
/// fingerprint `encrypted_for` gives: `…[.zst].<fingerprint>.age`. The fingerprint keeps
/// a content re-encrypted for new recipients apart from its first object, and shows
/// (to the archive's hosts: the stored key is keyed, see [`super::crypt_names`]) which
/// identity opens it.
pub(crate) fn content_key(
    source: &str,
    rel_path: &str,
    hash: &ContentHash,
    compression: Compression,
    encrypted_for: Option<&str>,
) -> Path {
    let mut parts: Vec<PathPart<'static>> = vec![
        PathPart::from(DATA_PREFIX),
        PathPart::from(source.to_string()),
    ];
    let mut segments: Vec<&str> = rel_path.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.pop().unwrap_or("file");
    parts.extend(segments.into_iter().map(|s| PathPart::from(s.to_string())));
    parts.push(PathPart::from(format!(
        "{last}-{hash}{}{}",
        compression.suffix(),
        encrypted_for.map_or(String::new(), |fp| format!(".{fp}{AGE}"))
    )));
    Path::from_iter(parts)
}

/// `manifests/<generation>.json`.
pub fn manifest_key(generation: GenerationNo) -> Path {
    Path::from_iter([
        PathPart::from(MANIFEST_PREFIX),
        PathPart::from(format!(
            "{generation:0width$}.json",
            width = GENERATION_DIGITS
        )),
    ])
}

/// The folder holding every manifest generation.
pub(crate) fn manifest_prefix() -> Path {
    Path::from(MANIFEST_PREFIX)
}

/// The generation a manifest key names, or `None` for anything else under the prefix.
pub(crate) fn parse_manifest_key(key: &Path) -> Option<GenerationNo> {
    let name = key.filename()?;
    let digits = name.strip_suffix(".json")?;
    if digits.len() != GENERATION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `catalog/parts/<sha256>.json`: a slice of a generation's or a fold's entries, named
/// by the hash of its bytes, so a part is never replaced by other bytes.
pub(crate) fn part_key(sha256: &ContentHash) -> Path {
    Path::from_iter([
        PathPart::from(CATALOG_PREFIX),
        PathPart::from("parts"),
        PathPart::from(format!("{sha256}.json")),
    ])
}

/// The folder holding every part.
pub(crate) fn parts_prefix() -> Path {
    Path::from_iter([PathPart::from(CATALOG_PREFIX), PathPart::from("parts")])
}

/// The folder of the expiry marks: one per generation an expiry committed.
pub(crate) fn expiries_prefix() -> Path {
    Path::from_iter([PathPart::from(CATALOG_PREFIX), PathPart::from("expiries")])
}

/// `catalog/expiries/<generation>`: says that an expiry committed this generation.
pub(crate) fn expiry_key(generation: GenerationNo) -> Path {
    expiries_prefix().join(format!(
        "{:0width$}.json",
        generation.get(),
        width = GENERATION_DIGITS
    ))
}

/// The generation an expiry mark names.
pub(crate) fn parse_expiry_key(key: &Path) -> Option<GenerationNo> {
    let digits = key.filename()?.strip_suffix(".json")?;
    if digits.len() != GENERATION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The folder of the version records of every file called `file_name` (the last segment
/// of its path), newest first.
pub(crate) fn name_prefix(file_name: &str) -> Path {
    Path::from_iter([
        PathPart::from(CATALOG_PREFIX),
        PathPart::from("names"),
        PathPart::from(file_name.to_string()),
    ])
}

/// `catalog/names/<file name>/<generation, newest first>-<file id>.json`: the record of
/// the version `generation` archived under one path. The file id tells apart paths that
/// share a file name (`a/x.log`, `b/x.log`) without reading the records.
pub(crate) fn name_key(file_name: &str, generation: GenerationNo, file_id: &str) -> Path {
    name_prefix(file_name).join(format!("{}-{file_id}.json", newest_first(generation)))
}

/// The generation and file id a version record's key names.
pub(crate) fn parse_name_key(key: &Path) -> Option<(GenerationNo, String)> {
    let name = key.filename()?.strip_suffix(".json")?;
    let (digits, id) = name.split_once('-')?;
    Some((parse_newest_first(digits)?, id.to_string()))
}

/// `catalog/published.json`: the version records of every generation up to the one it
/// names are written. One object, overwritten as records are written: a reader that
/// finds an older number than the truth only reads more generations.
pub(crate) fn published_key() -> Path {
    Path::from_iter([
        PathPart::from(CATALOG_PREFIX),
        PathPart::from("published.json"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_keys_round_trip_and_sort() {
        assert_eq!(
            manifest_key(GenerationNo(7)).as_ref(),
            "manifests/00000000000000000007.json"
        );
        assert_eq!(
            parse_manifest_key(&manifest_key(GenerationNo(123456))),
            Some(GenerationNo(123456))
        );
        assert!(manifest_key(GenerationNo(9)).as_ref() < manifest_key(GenerationNo(10)).as_ref());
        assert_eq!(parse_manifest_key(&Path::from("manifests/7.json")), None);
        assert_eq!(parse_manifest_key(&Path::from("manifests/tmp")), None);
    }

    #[test]
    fn catalog_keys_list_newest_first_and_round_trip() {
        let (old, new) = (GenerationNo(9), GenerationNo(10));
        assert_eq!(
            name_key("x", GenerationNo(1), "id").as_ref(),
            "catalog/names/x/18446744073709551614-id.json"
        );
        let k = name_key("app.log.1", new, "0123abcd");
        assert!(k.as_ref().starts_with("catalog/names/app.log.1/"));
        assert!(k.as_ref() < name_key("app.log.1", old, "0123abcd").as_ref());
        assert_eq!(parse_name_key(&k), Some((new, "0123abcd".to_string())));
        assert_eq!(
            parse_name_key(&Path::from("catalog/names/x/junk.json")),
            None
        );
        let h = ContentHash::of(b"part");
        assert_eq!(part_key(&h).as_ref(), format!("catalog/parts/{h}.json"));
    }

    #[test]
    fn data_key_keeps_name_and_hash() {
        let h = ContentHash::of(b"abc");
        let k = data_key("app", "sub/app.log.1", &h, Compression::None);
        assert_eq!(k.as_ref(), format!("data/app/sub/app.log.1-{h}"));
        let z = data_key("app", "a.log", &h, Compression::Zstd);
        assert_eq!(z.as_ref(), format!("data/app/a.log-{h}.zst"));
    }
}
