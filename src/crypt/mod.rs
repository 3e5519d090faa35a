//! Client-side encryption's primitives, kept apart from storage so each can be tested
//! alone: age recipients and identities ([`age_keys`]), the archive key and the keys
//! derived from it ([`key`]), keyed object names ([`names`]), the sealing of catalog
//! objects ([`seal`]) and the streaming age codec for archived content ([`stream`]).
//!
//! The split of who holds what is the point of it all: a host that archives holds the
//! recipients (public keys) and the archive key, so it can write content it cannot read
//! back and name and seal the catalog it needs for its own passes; a host that restores
//! holds an identity (a private key), with which it unwraps the archive key from the
//! destination. Nothing here logs, and no error message carries key material.

pub(crate) mod age_keys;
pub(crate) mod key;
pub(crate) mod names;
pub(crate) mod seal;
pub(crate) mod stream;

pub use age_keys::{write_identity, Identities, Recipients};
pub(crate) use key::ArchiveKey;

/// What went wrong with a key, an identity or encrypted bytes. Never quotes a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptError {
    /// An entry of `age_recipients` is not an age or SSH public key.
    #[error("recipient {index} ({shown}) is not an age public key (age1…) or an SSH public key (ssh-ed25519 …, ssh-rsa …): {reason}")]
    BadRecipient {
        /// Its place in the list, from 0.
        index: usize,
        /// Its first characters, enough to find it (public keys are not secrets).
        shown: String,
        /// The parser's reason.
        reason: String,
    },
    /// An identity file could not be used.
    #[error("identity file {}: {message}", .path.display())]
    Identity {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with the fix when known.
        message: String,
    },
    /// The archive key file in the state dir could not be used.
    #[error("archive key {}: {message}", .path.display())]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with the fix when known.
        message: String,
    },
    /// Bytes that should decrypt do not: damaged, cut short, or for other keys.
    #[error("{what} does not decrypt: {message}")]
    Decrypt {
        /// What was being decrypted.
        what: String,
        /// Why.
        message: String,
    },
    /// Encrypting failed (only the writer under it can make it fail).
    #[error("encrypting {what}: {message}")]
    Encrypt {
        /// What was being encrypted.
        what: String,
        /// Why.
        message: String,
    },
    /// The archive is encrypted and this host holds no way to read it.
    #[error("{message}")]
    Locked {
        /// What is missing and how to provide it.
        message: String,
    },
}

/// Lowercase base32 without padding: object keys stay case-insensitive safe and short.
pub(crate) fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD
        .encode(bytes)
        .to_ascii_lowercase()
}

/// The bytes of [`base32`] text, or `None` when it is not that.
pub(crate) fn from_base32(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    data_encoding::BASE32_NOPAD
        .decode(text.to_ascii_uppercase().as_bytes())
        .ok()
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lowercase hex text.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
