//! Keyed object names: a name segment (a source, a directory, a file name with its
//! content hash) is encrypted deterministically with AES-SIV (RFC 5297) under a key
//! derived from the archive key, and written in lowercase base32. The same name always
//! gives the same segment, so retries and renames stay idempotent; nobody without the
//! archive key can tell a name or confirm a guessed content hash from it; and the
//! segment decrypts back, so listings still read as names to the archive's own hosts.

use aes_siv::siv::Aes256Siv;
use aes_siv::KeyInit;

use super::ArchiveKey;

/// Associated data of every name segment: a name is not valid as anything else.
const NAME_AD: &[u8] = b"logferry/v1/name";

/// Encrypts and decrypts name segments.
#[derive(Clone)]
pub(crate) struct Names {
    key: zeroize::Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Names")
    }
}

impl Names {
    /// The name key of `key`.
    pub(crate) fn new(key: &ArchiveKey) -> Names {
        Names {
            key: key.derive::<64>("logferry/v1/names"),
        }
    }

    fn cipher(&self) -> Aes256Siv {
        Aes256Siv::new_from_slice(self.key.as_ref()).expect("a 64-byte key")
    }

    /// The stored form of one segment.
    pub(crate) fn encrypt(&self, segment: &str) -> String {
        let sealed = self
            .cipher()
            .encrypt([NAME_AD], segment.as_bytes())
            .expect("AES-SIV encrypts any length");
        super::base32(&sealed)
    }

    /// The segment a stored form stands for; `None` when it is not one of ours (a plain
    /// name, or one keyed by another archive key).
    pub(crate) fn decrypt(&self, stored: &str) -> Option<String> {
        let bytes = super::from_base32(stored)?;
        if bytes.len() < 16 {
            return None;
        }
        let plain = self.cipher().decrypt([NAME_AD], &bytes).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_deterministic_opaque_and_reversible() {
        let k = ArchiveKey::generate(false).unwrap();
        let n = Names::new(&k);
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let seg = format!("app.log.1-{hash}.zst.age");
        let stored = n.encrypt(&seg);
        assert_eq!(stored, n.encrypt(&seg));
        assert!(!stored.contains("app") && !stored.contains(&hash[..8]));
        assert!(stored
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_eq!(n.decrypt(&stored).as_deref(), Some(seg.as_str()));
        assert_eq!(n.decrypt("app.log.1"), None);
        let other = Names::new(&ArchiveKey::generate(false).unwrap());
        assert_eq!(other.decrypt(&stored), None);
    }
}
