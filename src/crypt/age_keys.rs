//! age recipients (public keys: `age1…`, `ssh-ed25519 …`, `ssh-rsa …`) and identities
//! (private keys: an age identity file, or an unencrypted OpenSSH private key), read
//! the way `age` and `ssh` would, and refused with a reason naming the entry or file.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::CryptError;

/// One public key content is encrypted to.
#[derive(Clone)]
enum OneRecipient {
    X25519(age::x25519::Recipient),
    Ssh(Box<age::ssh::Recipient>),
}

impl OneRecipient {
    fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            OneRecipient::X25519(r) => r,
            OneRecipient::Ssh(r) => r.as_ref(),
        }
    }
}

/// The public keys new objects are encrypted to, as configured (`age_recipients`).
#[derive(Clone)]
pub struct Recipients {
    keys: Arc<Vec<OneRecipient>>,
    texts: Vec<String>,
    fingerprint: String,
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipients")
            .field("keys", &self.texts)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl PartialEq for Recipients {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for Recipients {}

impl Recipients {
    /// Parses the configured public keys; an empty list or an entry that is not a
    /// public key is refused, naming the entry.
    pub fn parse(texts: &[String]) -> Result<Recipients, CryptError> {
        if texts.is_empty() {
            return Err(CryptError::BadRecipient {
                index: 0,
                shown: "none".into(),
                reason: "the list is empty; give at least one public key".into(),
            });
        }
        let mut keys = Vec::with_capacity(texts.len());
        let mut normal = Vec::with_capacity(texts.len());
        for (index, raw) in texts.iter().enumerate() {
            let text = raw.trim();
            let bad = |reason: String| CryptError::BadRecipient {
                index,
                shown: text.chars().take(16).collect::<String>() + "…",
                reason,
            };
            let key = if text.starts_with("age1") {
                text.parse::<age::x25519::Recipient>()
                    .map(OneRecipient::X25519)
                    .map_err(|e| bad(e.to_string()))?
            } else if text.starts_with("ssh-") {
                text.parse::<age::ssh::Recipient>()
                    .map(|r| OneRecipient::Ssh(Box::new(r)))
                    .map_err(|e| bad(format!("{e:?}")))?
            } else if text.starts_with("AGE-SECRET-KEY-") {
                return Err(CryptError::BadRecipient {
                    index,
                    shown: "AGE-SECRET-KEY-…".into(),
                    reason: "this is a private key; give its public key (`age-keygen -y FILE`) and keep the private key off this host".into(),
                });
            } else {
                return Err(bad("unknown key type".into()));
            };
            keys.push(key);
            // The comment of an SSH key is not part of the key.
            normal.push(
                text.split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        normal.sort();
        normal.dedup();
        let fingerprint = super::hex(&Sha256::digest(normal.join("\n").as_bytes())[..6]);
        Ok(Recipients {
            keys: Arc::new(keys),
            texts: texts.iter().map(|t| t.trim().to_string()).collect(),
            fingerprint,
        })
    }

    /// The public keys as configured.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// A short name of this set of keys (whatever their order or SSH comments), so the
    /// destination can hold the archive key wrapped for each set ever configured.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// An age encryptor to every key of the set.
    pub(crate) fn encryptor(&self) -> Result<age::Encryptor, CryptError> {
        age::Encryptor::with_recipients(self.keys.iter().map(OneRecipient::as_dyn)).map_err(|e| {
            CryptError::Encrypt {
                what: "to the recipients".into(),
                message: e.to_string(),
            }
        })
    }

    /// `plain` encrypted to every key of the set, whole (for small objects).
    pub fn encrypt(&self, what: &str, plain: &[u8]) -> Result<Vec<u8>, CryptError> {
        let fail = |e: std::io::Error| CryptError::Encrypt {
            what: what.to_string(),
            message: e.to_string(),
        };
        let mut out = Vec::with_capacity(plain.len() + 512);
        let mut w = self.encryptor()?.wrap_output(&mut out).map_err(fail)?;
        std::io::Write::write_all(&mut w, plain).map_err(fail)?;
        w.finish().map_err(fail)?;
        Ok(out)
    }
}

/// Makes an age identity in a new file only its owner can read (one that exists is
/// left alone) and returns its public key.
pub fn write_identity(path: &Path) -> Result<String, CryptError> {
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let bad = |e: std::io::Error| CryptError::Identity {
        path: path.to_path_buf(),
        message: match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                "exists; logferry never overwrites a key (move it away, or choose another path)"
                    .into()
            }
            _ => format!("cannot write it: {e}"),
        },
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(bad)?;
    let text = format!(
        "# created by logferry keygen\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(bad)?;
    Ok(public)
}

/// The private keys given to read an encrypted archive (`--identity`, `identity_file`).
#[derive(Clone)]
pub struct Identities {
    keys: Arc<Vec<Box<dyn age::Identity + Send + Sync>>>,
    files: Vec<PathBuf>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// The first line of an OpenSSH or PEM private key.
const SSH_PRIVATE: &[&str] = &[
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
];

impl Identities {
    /// Reads identity files. Each must be a regular file that only its owner can read
    /// (as `ssh` insists for its keys), hold an age identity (`AGE-SECRET-KEY-1…`) or an
    /// unencrypted OpenSSH private key; a passphrase-protected key is refused with the
    /// way to make one a service can use.
    pub fn load(paths: &[PathBuf]) -> Result<Identities, CryptError> {
        let mut keys: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for path in paths {
            keys.extend(load_one(path)?);
        }
        Ok(Identities {
            keys: Arc::new(keys),
            files: paths.to_vec(),
        })
    }

    /// The files they were read from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Each identity, as age takes them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k.as_ref() as &dyn age::Identity)
    }

    /// `sealed` (a whole age file) decrypted.
    pub fn decrypt(&self, what: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        let fail = |message: String| CryptError::Decrypt {
            what: what.to_string(),
            message,
        };
        let d = age::Decryptor::new_buffered(sealed).map_err(|e| fail(decrypt_reason(&e)))?;
        let mut r = d
            .decrypt(self.iter())
            .map_err(|e| fail(decrypt_reason(&e)))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| fail(e.to_string()))?;
        Ok(out)
    }
}

/// age's reason, in words an operator can act on.
pub(crate) fn decrypt_reason(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::NoMatchingKeys => {
            "none of the given identities is one of its recipients; pass the identity whose public key was in age_recipients when it was written".into()
        }
        other => other.to_string(),
    }
}

fn load_one(path: &Path) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, CryptError> {
    let bad = |message: String| CryptError::Identity {
        path: path.to_path_buf(),
        message,
    };
    let text = read_private(path).map_err(bad)?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if SSH_PRIVATE.contains(&first.trim()) {
        let id = age::ssh::Identity::from_buffer(text.as_bytes(), Some(path.display().to_string()))
            .map_err(|e| bad(format!("not a usable SSH private key: {e}")))?;
        return match id {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(id)]),
            age::ssh::Identity::Encrypted(_) => Err(bad(
                "the SSH key is protected by a passphrase, which logferry cannot ask for; use an age identity (`age-keygen -o FILE`) or a copy of the key without one (`ssh-keygen -p -N '' -f COPY`) kept only on the restoring host".into(),
            )),
            age::ssh::Identity::Unsupported(_) => Err(bad(
                "this kind of SSH key is not supported by age; use ssh-ed25519 or ssh-rsa, or an age identity".into(),
            )),
        };
    }
    if first.starts_with("age-encryption.org/") || first.starts_with("-----BEGIN AGE") {
        return Err(bad(
            "the identity file is itself encrypted with a passphrase, which logferry cannot ask for; decrypt it to a file only you can read (`age -d -o FILE`)".into(),
        ));
    }
    let ids = age::IdentityFile::from_buffer(text.as_bytes())
        .map_err(|e| {
            bad(format!(
                "{e} (expected AGE-SECRET-KEY-1… lines, as `age-keygen` writes)"
            ))
        })?
        .into_identities()
        .map_err(|e| bad(e.to_string()))?;
    if ids.is_empty() {
        return Err(bad(
            "holds no identity (expected AGE-SECRET-KEY-1… lines)".into()
        ));
    }
    Ok(ids)
}

/// A secret file's text: refused when others can read or write it, or when it is not
/// a regular file. Checked on the open file itself, so it cannot be swapped in between.
pub(crate) fn read_private(path: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "readable or writable by others (mode {mode:o}); it holds a private key: `chmod 600 {}`",
            path.display()
        ));
    }
    let mut text = String::new();
    f.read_to_string(&mut text)
        .map_err(|e| format!("not UTF-8 text: {e}"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair() -> (String, String) {
        use age::secrecy::ExposeSecret;
        let id = age::x25519::Identity::generate();
        (
            id.to_public().to_string(),
            id.to_string().expose_secret().to_string(),
        )
    }

    fn private_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn recipients_round_trip_through_an_identity_file() {
        let (public, secret) = keypair();
        let r = Recipients::parse(&[public]).unwrap();
        let sealed = r.encrypt("test", b"hello").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = private_file(dir.path(), "id", &format!("# key\n{secret}\n"), 0o600);
        let ids = Identities::load(&[p]).unwrap();
        assert_eq!(ids.decrypt("test", &sealed).unwrap(), b"hello");
    }

    #[test]
    fn bad_recipients_are_refused_naming_the_entry() {
        let (public, secret) = keypair();
        let e = Recipients::parse(&[public.clone(), "age1nope".into()]).unwrap_err();
        assert!(e.to_string().starts_with("recipient 1 (age1nope…)"), "{e}");
        let e = Recipients::parse(std::slice::from_ref(&secret))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("private key") && !e.contains(&secret[16..]),
            "{e}"
        );
        assert!(Recipients::parse(&[]).is_err());
        let e = Recipients::parse(&["rsa AAAA".into()]).unwrap_err();
        assert!(e.to_string().contains("unknown key type"), "{e}");
    }

    #[test]
    fn fingerprints_ignore_order_and_ssh_comments() {
        let (a, _) = keypair();
        let (b, _) = keypair();
        let one = Recipients::parse(&[a.clone(), b.clone()]).unwrap();
        let two = Recipients::parse(&[b.clone(), a.clone()]).unwrap();
        assert_eq!(one.fingerprint(), two.fingerprint());
        assert_ne!(
            one.fingerprint(),
            Recipients::parse(&[a]).unwrap().fingerprint()
        );
    }

    #[test]
    fn identity_files_others_can_read_are_refused_naming_the_file() {
        let (_, secret) = keypair();
        let dir = tempfile::tempdir().unwrap();
        let p = private_file(dir.path(), "id", &secret, 0o644);
        let e = Identities::load(std::slice::from_ref(&p))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&p.display().to_string()) && e.contains("chmod 600"),
            "{e}"
        );
        assert!(!e.contains("AGE-SECRET"), "{e}");
        let junk = private_file(dir.path(), "junk", "not a key\n", 0o600);
        let e = Identities::load(&[junk]).unwrap_err().to_string();
        assert!(e.contains("AGE-SECRET-KEY-1"), "{e}");
        let enc = private_file(
            dir.path(),
            "enc",
            "age-encryption.org/v1\n-> scrypt x\n",
            0o600,
        );
        let e = Identities::load(&[enc]).unwrap_err().to_string();
        assert!(e.contains("passphrase"), "{e}");
    }

    #[test]
    fn a_wrong_identity_says_which_one_is_needed() {
        let (public, _) = keypair();
        let (_, other) = keypair();
        let sealed = Recipients::parse(&[public])
            .unwrap()
            .encrypt("x", b"x")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = private_file(dir.path(), "id", &other, 0o600);
        let e = Identities::load(&[p])
            .unwrap()
            .decrypt("the object", &sealed)
            .unwrap_err();
        assert!(e.to_string().contains("age_recipients"), "{e}");
    }
}
