//! Where each object of an encrypted archive lives: the mapping between the keys the
//! rest of logferry builds ([`super::layout`]) and the keys stored, pure. Content
//! encrypted to the recipients (a data key ending in `.age`) has every segment after
//! `data/` keyed; every other object but the wrapped archive keys (`keys/`) is a sealed
//! catalog object, whose file-name segments are keyed and whose last segment ends in
//! `.sealed`. Generation numbers stay readable, so listings keep their order.

use object_store::path::Path;

use crate::crypt::names::Names;

/// The suffix of a sealed catalog object's stored key.
pub(crate) const SEALED: &str = ".sealed";
/// Where the archive key is kept wrapped to the recipients.
pub(crate) const KEYS_PREFIX: &str = "keys";
use super::layout::AGE;

/// What an object is, from its logical key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Stored as it is, under its own key (`keys/`).
    Raw,
    /// Archived content written without encryption.
    PlainData,
    /// Archived content encrypted to the recipients.
    AgeData,
    /// A catalog object (manifest, part, record, mark): sealed.
    Catalog,
}

/// The class of a logical key.
pub(crate) fn class(logical: &str) -> Class {
    let first = logical.split('/').next().unwrap_or("");
    // The probe's scratch objects test the store itself, and hold nothing of the archive.
    if first == KEYS_PREFIX || first == super::layout::PROBE_PREFIX {
        Class::Raw
    } else if first == super::layout::DATA_PREFIX {
        if logical.ends_with(AGE) {
            Class::AgeData
        } else {
            Class::PlainData
        }
    } else {
        Class::Catalog
    }
}

/// Which segments of a catalog key are names, by position, and how: the whole segment
/// or the part after the first `-` (a version record's `<generation>-<file id>`).
fn catalog_keyed(segments: &[&str], i: usize, is_last: bool) -> Option<bool> {
    match (segments.first().copied(), segments.get(1).copied(), i) {
        (Some("catalog"), Some("names"), 2) => Some(false),
        (Some("catalog"), Some("names"), 3) if is_last => Some(true),
        (Some("catalog"), Some("parts"), 2) => Some(false),
        _ => None,
    }
}

/// Maps keys between their logical and stored forms under one archive key.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    names: Names,
}

impl Mapper {
    pub(crate) fn new(names: Names) -> Mapper {
        Mapper { names }
    }

    fn keyed_tail(&self, seg: &str) -> String {
        match seg.split_once('-') {
            Some((head, tail)) => format!("{head}-{}", self.names.encrypt(tail)),
            None => self.names.encrypt(seg),
        }
    }

    /// The segments of `logical` as stored; `full` when it is an object's key (a
    /// sealed one gets its suffix), not a prefix.
    fn stored_segments(&self, logical: &str, full: bool) -> Vec<String> {
        let segs: Vec<&str> = logical.split('/').filter(|s| !s.is_empty()).collect();
        let n = segs.len();
        let class = if full {
            class(logical)
        } else {
            prefix_class(&segs)
        };
        let mut out: Vec<String> = segs
            .iter()
            .enumerate()
            .map(|(i, s)| match class {
                Class::AgeData if i > 0 => self.names.encrypt(s),
                Class::Catalog => match catalog_keyed(&segs, i, full && i + 1 == n) {
                    Some(false) => self.names.encrypt(s),
                    Some(true) => self.keyed_tail(s),
                    None => s.to_string(),
                },
                _ => s.to_string(),
            })
            .collect();
        if full && class == Class::Catalog {
            if let Some(last) = out.last_mut() {
                last.push_str(SEALED);
            }
        }
        out
    }

    /// The stored key of an object.
    pub(crate) fn stored(&self, logical: &Path) -> Path {
        join(self.stored_segments(logical.as_ref(), true))
    }

    /// The stored prefixes a listing of `logical` reads: the keyed one, and the plain
    /// one too where plain objects can be (content written without encryption; a
    /// catalog from before encryption, when `plain_history`).
    pub(crate) fn stored_prefixes(
        &self,
        logical: Option<&Path>,
        plain_history: bool,
    ) -> Vec<Option<Path>> {
        let Some(p) = logical.filter(|p| !p.as_ref().is_empty()) else {
            return vec![None];
        };
        let segs: Vec<&str> = p.as_ref().split('/').collect();
        let keyed = join(self.stored_segments(p.as_ref(), false));
        if keyed == *p {
            return vec![Some(keyed)];
        }
        let plain_possible = match prefix_class(&segs) {
            Class::AgeData => true,
            _ => plain_history,
        };
        if plain_possible {
            vec![Some(keyed), Some(p.clone())]
        } else {
            vec![Some(keyed)]
        }
    }

    /// The logical key of a stored one, with whether it is sealed. A key that is not of
    /// this archive key's making (plain content, a plain catalog object from before
    /// encryption, another key's names) is its own logical key.
    pub(crate) fn logical(&self, stored: &Path) -> (Path, bool) {
        let text = stored.as_ref();
        let segs: Vec<&str> = text.split('/').collect();
        let n = segs.len();
        match segs.first().copied() {
            Some(KEYS_PREFIX) | None => (stored.clone(), false),
            Some(first) if first == super::layout::DATA_PREFIX => {
                let back = self.data_segments(&segs);
                match back {
                    Some(b) if n > 1 => (join(b), false),
                    _ => (stored.clone(), false),
                }
            }
            Some(_) => {
                let Some(last) = segs[n - 1].strip_suffix(SEALED) else {
                    return (stored.clone(), false);
                };
                let mut segs = segs.clone();
                segs[n - 1] = last;
                let back: Option<Vec<String>> = segs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| match catalog_keyed(&segs, i, i + 1 == n) {
                        Some(false) => self.names.decrypt(s),
                        Some(true) => match s.split_once('-') {
                            Some((h, t)) => self.names.decrypt(t).map(|t| format!("{h}-{t}")),
                            None => self.names.decrypt(s),
                        },
                        None => Some(s.to_string()),
                    })
                    .collect();
                match back {
                    Some(b) => (join(b), true),
                    None => (stored.clone(), false),
                }
            }
        }
    }

    /// A listing entry under its logical key, and a sealed object at its plaintext's
    /// size (sealing adds a fixed overhead).
    pub(crate) fn meta_back(&self, mut m: object_store::ObjectMeta) -> object_store::ObjectMeta {
        let (logical, sealed) = self.logical(&m.location);
        m.location = logical;
        if sealed {
            m.size = m.size.saturating_sub(crate::crypt::seal::OVERHEAD);
        }
        m
    }

    /// The segments of a stored `data/` key or prefix, decrypted (`data` itself stays).
    fn data_segments(&self, segs: &[&str]) -> Option<Vec<String>> {
        let mut out = vec![segs.first()?.to_string()];
        for s in &segs[1..] {
            out.push(self.names.decrypt(s)?);
        }
        Some(out)
    }

    /// The logical form of a stored prefix (a listing's common prefix).
    pub(crate) fn logical_prefix(&self, stored: &Path) -> Path {
        let segs: Vec<&str> = stored.as_ref().split('/').collect();
        let back: Option<Vec<String>> = match segs.first().copied() {
            Some(first) if first == super::layout::DATA_PREFIX => self.data_segments(&segs),
            Some("catalog") => segs
                .iter()
                .enumerate()
                .map(|(i, s)| match catalog_keyed(&segs, i, false) {
                    Some(_) => self.names.decrypt(s),
                    None => Some(s.to_string()),
                })
                .collect(),
            _ => None,
        };
        back.map(join).unwrap_or_else(|| stored.clone())
    }
}

/// Whether a key (or a prefix) is of objects stored as they are, under their own keys.
pub(crate) fn is_raw(key: &Path) -> bool {
    let segs: Vec<&str> = key.as_ref().split('/').collect();
    prefix_class(&segs) == Class::Raw
}

/// The class a prefix's objects have (a `data/` prefix: encrypted content's).
fn prefix_class(segs: &[&str]) -> Class {
    match segs.first().copied() {
        Some(KEYS_PREFIX) => Class::Raw,
        Some(first) if first == super::layout::PROBE_PREFIX => Class::Raw,
        Some(first) if first == super::layout::DATA_PREFIX => Class::AgeData,
        _ => Class::Catalog,
    }
}

fn join(segs: impl IntoIterator<Item = impl AsRef<str>>) -> Path {
    let parts: Vec<object_store::path::PathPart<'static>> = segs
        .into_iter()
        .map(|s| object_store::path::PathPart::from(s.as_ref().to_string()))
        .collect();
    Path::from_iter(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypt::ArchiveKey;

    fn mapper() -> Mapper {
        Mapper::new(Names::new(&ArchiveKey::generate(false).unwrap()))
    }

    #[test]
    fn every_kind_of_key_round_trips_and_shows_no_name() {
        let m = mapper();
        for (key, sealed) in [
            ("data/app/sub/app.log.1-abcdef.zst.age", false),
            ("manifests/00000000000000000007.json", true),
            (
                "catalog/names/app.log.1/18446744073709551614-0123abcd.json",
                true,
            ),
            ("catalog/parts/abcdef.json", true),
            ("catalog/published.json", true),
            ("catalog/expiries/00000000000000000002.json", true),
        ] {
            let logical = Path::from(key);
            let stored = m.stored(&logical);
            assert_eq!(
                m.logical(&stored),
                (logical.clone(), sealed),
                "{key} → {stored}"
            );
            for word in ["app", "sub", "abcdef", "0123abcd"] {
                assert!(!stored.as_ref().contains(word), "{stored} shows {word}");
            }
        }
        let s = m.stored(&Path::from("catalog/names/x/18446744073709551614-id.json"));
        assert!(s.as_ref().contains("/18446744073709551614-"), "{s}");
        assert!(m
            .stored(&Path::from("manifests/7.json"))
            .as_ref()
            .ends_with("manifests/7.json.sealed"));
    }

    #[test]
    fn plain_objects_and_wrapped_keys_keep_their_keys() {
        let m = mapper();
        for key in [
            "data/app/a.log-00",
            "data/app/a.log-00.zst",
            "keys/archive-x.age",
        ] {
            let p = Path::from(key);
            assert_eq!(m.stored(&p), p);
            assert_eq!(m.logical(&p), (p.clone(), false));
        }
        let old = Path::from("manifests/00000000000000000001.json");
        assert_eq!(m.logical(&old), (old.clone(), false));
    }

    #[test]
    fn listings_read_keyed_and_plain_prefixes_where_plain_objects_can_be() {
        let m = mapper();
        let data = Path::from("data/app");
        let got = m.stored_prefixes(Some(&data), false);
        assert_eq!(got.len(), 2);
        assert_eq!(m.logical_prefix(got[0].as_ref().unwrap()), data);
        let names = Path::from("catalog/names/app.log");
        assert_eq!(m.stored_prefixes(Some(&names), false).len(), 1);
        assert_eq!(m.stored_prefixes(Some(&names), true).len(), 2);
        let man = Path::from("manifests");
        assert_eq!(m.stored_prefixes(Some(&man), true), vec![Some(man)]);
        assert_eq!(m.stored_prefixes(None, true), vec![None]);
    }
}
