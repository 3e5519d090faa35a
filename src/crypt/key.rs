//! The archive key: 32 random bytes made once per encrypted archive. Object names are
//! keyed with one key derived from it and catalog objects sealed with another (HKDF-
//! SHA256, one `info` per job), so the host that archives can name and read its own
//! catalog without holding anything that opens archived content. It is kept in the
//! state dir (`archive-key.json`, owner-only) and in the destination wrapped to the
//! recipients (`keys/…`), where a host with an identity unwraps it.

use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::CryptError;

/// The format version of the key's JSON, in the state dir and wrapped in the bucket.
const KEY_VERSION: u32 = 1;

/// The archive key; its bytes never leave this type but as derived keys or JSON.
#[derive(Clone)]
pub(crate) struct ArchiveKey {
    bytes: Zeroizing<[u8; 32]>,
    /// Whether the destination held a plain catalog when the key was made: reads then
    /// also look for plain objects beside the sealed ones.
    pub plain_history: bool,
}

impl std::fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArchiveKey({})", self.id())
    }
}

/// A key file's key, the destination it is for and the recipient sets it is wrapped for.
pub(crate) type KeyFile = (ArchiveKey, Option<String>, Vec<String>);

/// The key as JSON: in the state dir with where it belongs and which recipient sets it
/// is wrapped for; in the bucket only the key and its flags.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyJson {
    pub version: u32,
    pub key_id: String,
    pub key: String,
    #[serde(default)]
    pub plain_history: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrapped_for: Vec<String>,
}

impl ArchiveKey {
    /// A new random key.
    pub(crate) fn generate(plain_history: bool) -> Result<ArchiveKey, CryptError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(bytes.as_mut()).map_err(|e| CryptError::Encrypt {
            what: "a new archive key".into(),
            message: e.to_string(),
        })?;
        Ok(ArchiveKey {
            bytes,
            plain_history,
        })
    }

    /// A short public name of the key: the first bytes of a MAC, which reveal nothing.
    pub(crate) fn id(&self) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.bytes.as_ref()).expect("any length");
        m.update(b"logferry/v1/key-id");
        super::hex(&m.finalize().into_bytes()[..6])
    }

    /// A key of `N` bytes for one job, derived with HKDF-SHA256.
    pub(crate) fn derive<const N: usize>(&self, info: &str) -> Zeroizing<[u8; N]> {
        let mut out = Zeroizing::new([0u8; N]);
        hkdf::Hkdf::<Sha256>::new(Some(b"logferry"), self.bytes.as_ref())
            .expand(info.as_bytes(), out.as_mut())
            .expect("a length HKDF allows");
        out
    }

    pub(crate) fn to_json(
        &self,
        destination: Option<&str>,
        wrapped_for: &[String],
    ) -> Zeroizing<String> {
        let j = KeyJson {
            version: KEY_VERSION,
            key_id: self.id(),
            key: super::hex(self.bytes.as_ref()),
            plain_history: self.plain_history,
            destination: destination.map(str::to_string),
            wrapped_for: wrapped_for.to_vec(),
        };
        Zeroizing::new(serde_json::to_string_pretty(&j).expect("serializable") + "\n")
    }

    /// The key from its JSON, with the JSON's other fields; `what` names the file or
    /// object in the error.
    pub(crate) fn from_json(text: &str) -> Result<(ArchiveKey, KeyJson), String> {
        let j: KeyJson =
            serde_json::from_str(text).map_err(|e| format!("not a logferry archive key: {e}"))?;
        if j.version != KEY_VERSION {
            return Err(format!(
                "archive key format {} is not one this build reads ({KEY_VERSION}); upgrade logferry",
                j.version
            ));
        }
        let raw = Zeroizing::new(super::from_hex(&j.key).ok_or("its key is not hex")?);
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| "its key is not 32 bytes")?;
        let key = ArchiveKey {
            bytes: Zeroizing::new(bytes),
            plain_history: j.plain_history,
        };
        if key.id() != j.key_id {
            return Err("its key does not match its key_id (damaged)".into());
        }
        Ok((key, j))
    }

    /// Reads the state dir's key file; `None` when there is none. A file others can read
    /// is refused, as an identity file is.
    pub(crate) fn read_file(path: &Path) -> Result<Option<KeyFile>, CryptError> {
        if !path.exists() {
            return Ok(None);
        }
        let bad = |message: String| CryptError::KeyFile {
            path: path.to_path_buf(),
            message,
        };
        let text = Zeroizing::new(super::age_keys::read_private(path).map_err(bad)?);
        let (key, j) = ArchiveKey::from_json(&text).map_err(bad)?;
        Ok(Some((key, j.destination, j.wrapped_for)))
    }

    /// Writes the state dir's key file, owner-only, atomically (temp, fsync, rename).
    pub(crate) fn write_file(
        &self,
        path: &Path,
        destination: &str,
        wrapped_for: &[String],
    ) -> Result<(), CryptError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let bad = |e: std::io::Error| CryptError::KeyFile {
            path: path.to_path_buf(),
            message: format!("cannot write it: {e}"),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(bad)?;
        }
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(bad)?;
        f.write_all(self.to_json(Some(destination), wrapped_for).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(bad)?;
        std::fs::rename(&tmp, path).map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_round_trips_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("archive-key.json");
        let k = ArchiveKey::generate(true).unwrap();
        k.write_file(&p, "file:///x", &["ab".into()]).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (back, dest, wrapped) = ArchiveKey::read_file(&p).unwrap().unwrap();
        assert_eq!((back.id(), back.plain_history), (k.id(), true));
        assert_eq!(
            (dest.as_deref(), wrapped),
            (Some("file:///x"), vec!["ab".to_string()])
        );
        assert_eq!(*back.derive::<32>("a"), *k.derive::<32>("a"));
        assert_ne!(*k.derive::<32>("a"), *k.derive::<32>("b"));
    }

    #[test]
    fn a_damaged_or_exposed_key_file_is_refused_naming_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("archive-key.json");
        let k = ArchiveKey::generate(false).unwrap();
        k.write_file(&p, "d", &[]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = ArchiveKey::read_file(&p).unwrap_err().to_string();
        assert!(
            e.contains("archive-key.json") && e.contains("chmod 600"),
            "{e}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace(&k.id(), "000000000000");
        std::fs::write(&p, text).unwrap();
        let e = ArchiveKey::read_file(&p).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
    }
}
