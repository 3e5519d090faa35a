//! Sealing catalog objects (manifests, parts, version records, marks): XChaCha20-
//! Poly1305 under a key derived from the archive key, with a random nonce and the
//! object's logical key as associated data, so a sealed object cannot be read, forged
//! without the archive key, or passed off under another key. Its size grows by a fixed
//! [`OVERHEAD`], which listings take back off.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

use super::{ArchiveKey, CryptError};

/// The first bytes of every sealed object, with the format's version.
pub(crate) const MAGIC: &[u8; 8] = b"lfseal1\n";
const NONCE: usize = 24;
const TAG: usize = 16;
/// Bytes a sealed object holds beyond its plaintext.
pub(crate) const OVERHEAD: u64 = (MAGIC.len() + NONCE + TAG) as u64;

/// Seals and opens catalog objects.
#[derive(Clone)]
pub(crate) struct Sealer {
    key: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// The sealing key of `key`.
    pub(crate) fn new(key: &ArchiveKey) -> Sealer {
        Sealer {
            key: key.derive::<32>("logferry/v1/seal"),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(self.key.as_ref()).expect("a 32-byte key")
    }

    /// `plain` sealed for the object at `logical`.
    pub(crate) fn seal(&self, logical: &str, plain: &[u8]) -> Result<Vec<u8>, CryptError> {
        let mut nonce = [0u8; NONCE];
        getrandom::getrandom(&mut nonce).map_err(|e| CryptError::Encrypt {
            what: logical.to_string(),
            message: e.to_string(),
        })?;
        let ct = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: logical.as_bytes(),
                },
            )
            .map_err(|_| CryptError::Encrypt {
                what: logical.to_string(),
                message: "the cipher refused".into(),
            })?;
        let mut out = Vec::with_capacity(ct.len() + MAGIC.len() + NONCE);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// The plaintext of an object sealed for `logical`.
    pub(crate) fn open(&self, logical: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        let fail = |message: &str| CryptError::Decrypt {
            what: logical.to_string(),
            message: message.to_string(),
        };
        let body = sealed
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| fail("it is not a sealed logferry object"))?;
        if body.len() < NONCE + TAG {
            return Err(fail("it is cut short"));
        }
        let (nonce, ct) = body.split_at(NONCE);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: logical.as_bytes(),
                },
            )
            .map_err(|_| {
                fail("damaged, cut short, sealed under another key, or moved from another object")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_under_their_own_key_and_name() {
        let k = ArchiveKey::generate(false).unwrap();
        let s = Sealer::new(&k);
        let sealed = s.seal("manifests/1.json", b"{\"a\":1}").unwrap();
        assert_eq!(sealed.len() as u64, 7 + OVERHEAD);
        assert_eq!(s.open("manifests/1.json", &sealed).unwrap(), b"{\"a\":1}");
        assert!(s.open("manifests/2.json", &sealed).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(s.open("manifests/1.json", &flipped).is_err());
        let other = Sealer::new(&ArchiveKey::generate(false).unwrap());
        assert!(other.open("manifests/1.json", &sealed).is_err());
        assert!(s.open("manifests/1.json", &sealed[..20]).is_err());
    }
}
