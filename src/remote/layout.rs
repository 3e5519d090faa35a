//! The remote layout: the one place object keys are built and parsed, so the layout
//! cannot drift between writers and readers (see DESIGN.md, "Remote layout").

use object_store::path::{Path, PathPart};

use crate::catalog::manifest::GenerationNo;
use crate::codec::Compression;
use crate::digest::ContentHash;

/// Top-level folder of archived content.
pub(crate) const DATA_PREFIX: &str = "data";
/// Top-level folder of manifest generations.
pub(crate) const MANIFEST_PREFIX: &str = "manifests";
/// Digits of a zero-padded generation number, so keys sort in generation order.
const GENERATION_DIGITS: usize = 20;

/// `data/<source>/<relative path>-<sha256 hex>`: keeps the file name for people, the hash
/// for idempotent retries.
pub fn data_key(
    source: &str,
    rel_path: &str,
    hash: &ContentHash,
    compression: Compression,
) -> Path {
    let mut parts: Vec<PathPart<'static>> = vec![
        PathPart::from(DATA_PREFIX),
        PathPart::from(source.to_string()),
    ];
    let mut segments: Vec<&str> = rel_path.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.pop().unwrap_or("file");
    parts.extend(segments.into_iter().map(|s| PathPart::from(s.to_string())));
    parts.push(PathPart::from(format!(
        "{last}-{hash}{}",
        compression.suffix()
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
    fn data_key_keeps_name_and_hash() {
        let h = ContentHash::of(b"abc");
        let k = data_key("app", "sub/app.log.1", &h, Compression::None);
        assert_eq!(k.as_ref(), format!("data/app/sub/app.log.1-{h}"));
        let z = data_key("app", "a.log", &h, Compression::Zstd);
        assert_eq!(z.as_ref(), format!("data/app/a.log-{h}.zst"));
    }
}
