//! The destination as an `Arc<dyn ObjectStore>`, and the one place object keys are built.
//!
//! Everything else in logferry sees only the trait object and the keys made here, so a
//! backend is a URL away and the remote layout cannot drift between writers and readers.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::{Path, PathPart};
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

use crate::config::{Destination, DestinationUrl};
use crate::digest::ContentHash;
use crate::error::{Error, Result};

/// The storage every stage talks to; keys are relative to the destination's prefix.
pub type Store = Arc<dyn ObjectStore>;

/// Top-level folder of archived content.
pub const DATA_PREFIX: &str = "data";
/// Top-level folder of manifest generations.
pub const MANIFEST_PREFIX: &str = "manifests";
/// Digits of a zero-padded generation number, so keys sort in generation order.
const GENERATION_DIGITS: usize = 20;

/// Opens the destination. A local mirror directory is created when missing.
pub fn open(dest: &Destination) -> Result<Store> {
    match &dest.url {
        DestinationUrl::Memory => Ok(Arc::new(InMemory::new())),
        DestinationUrl::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("create destination directory", dir, e))?;
            let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| Error::Destination {
                url: dest.url.to_string(),
                message: e.to_string(),
            })?;
            Ok(Arc::new(fs))
        }
        DestinationUrl::Remote(url) => {
            let (store, prefix) =
                object_store::parse_url_opts(url, dest.options.iter()).map_err(|e| {
                    Error::Destination {
                        url: dest.url.to_string(),
                        message: e.to_string(),
                    }
                })?;
            let store: Store = Arc::from(store);
            if prefix.as_ref().is_empty() {
                Ok(store)
            } else {
                Ok(Arc::new(PrefixStore::new(store, prefix)))
            }
        }
    }
}

/// `data/<source>/<relative path>-<sha256 hex>`: keeps the file name for people, the hash
/// for idempotent retries.
pub fn data_key(source: &str, rel_path: &str, hash: &ContentHash) -> Path {
    let mut parts: Vec<PathPart<'static>> = vec![
        PathPart::from(DATA_PREFIX),
        PathPart::from(source.to_string()),
    ];
    let mut segments: Vec<&str> = rel_path.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.pop().unwrap_or("file");
    parts.extend(segments.into_iter().map(|s| PathPart::from(s.to_string())));
    parts.push(PathPart::from(format!("{last}-{hash}")));
    Path::from_iter(parts)
}

/// `manifests/<generation>.json`.
pub fn manifest_key(generation: u64) -> Path {
    Path::from_iter([
        PathPart::from(MANIFEST_PREFIX),
        PathPart::from(format!(
            "{generation:0width$}.json",
            width = GENERATION_DIGITS
        )),
    ])
}

/// The folder holding every manifest generation.
pub fn manifest_prefix() -> Path {
    Path::from(MANIFEST_PREFIX)
}

/// The generation a manifest key names, or `None` for anything else under the prefix.
pub fn parse_manifest_key(key: &Path) -> Option<u64> {
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
            manifest_key(7).as_ref(),
            "manifests/00000000000000000007.json"
        );
        assert_eq!(parse_manifest_key(&manifest_key(123456)), Some(123456));
        assert!(manifest_key(9).as_ref() < manifest_key(10).as_ref());
        assert_eq!(parse_manifest_key(&Path::from("manifests/7.json")), None);
        assert_eq!(parse_manifest_key(&Path::from("manifests/tmp")), None);
    }

    #[test]
    fn data_key_keeps_name_and_hash() {
        let h = ContentHash::of(b"abc");
        let k = data_key("app", "sub/app.log.1", &h);
        assert_eq!(k.as_ref(), format!("data/app/sub/app.log.1-{h}"));
    }
}
