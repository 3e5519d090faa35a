//! age over a stream, both ways, with memory bounded by age's 64 KiB chunks: an encoder
//! fed stored bytes that hands back ciphertext to send (the upload's parts are cut from
//! it), and a body stream decrypted as it arrives. age authenticates each chunk, and a
//! cut or damaged object fails at the chunk where it breaks; bytes already handed on are
//! authentic, and restore still re-hashes every byte before it renames a file in place.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{AsyncReadExt, StreamExt, TryStreamExt};

use super::{CryptError, Identities, Recipients};

/// A `Write` whose bytes the encoder's owner takes out as they build up.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encrypts a stream of stored bytes to the recipients, incrementally.
pub(crate) struct AgeEncoder {
    writer: age::stream::StreamWriter<Shared>,
    out: Shared,
}

impl std::fmt::Debug for AgeEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgeEncoder")
    }
}

impl AgeEncoder {
    /// A fresh encoder (a fresh file key: no two objects share one).
    pub(crate) fn new(to: &Recipients) -> std::io::Result<AgeEncoder> {
        let out = Shared::default();
        let writer = to
            .encryptor()
            .map_err(std::io::Error::other)?
            .wrap_output(out.clone())?;
        Ok(AgeEncoder { writer, out })
    }

    /// Feeds bytes to encrypt.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Ciphertext ready so far.
    pub(crate) fn pending(&self) -> usize {
        self.out.0.lock().expect("not poisoned").len()
    }

    /// Takes the ciphertext ready so far.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.out.0.lock().expect("not poisoned"))
    }

    /// Ends the stream (the last chunk, marked last) and returns the remaining bytes.
    pub(crate) fn finish(self) -> std::io::Result<Vec<u8>> {
        let out = self.writer.finish()?;
        let bytes = std::mem::take(&mut *out.0.lock().expect("not poisoned"));
        Ok(bytes)
    }
}

/// `plain` encrypted whole, for content read whole.
pub(crate) fn encrypt_all(to: &Recipients, plain: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = AgeEncoder::new(to)?;
    enc.write(plain)?;
    enc.finish()
}

/// A failure of the store under a decrypted body, kept apart from a decryption failure.
#[derive(Debug)]
struct FromStore(object_store::Error);

impl std::fmt::Display for FromStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for FromStore {}

/// Plaintext chunks read per step.
const CHUNK: usize = 64 * 1024;

/// The body of the age object `what` decrypted as it streams in. A failure of the store
/// comes out as it was; bytes that do not decrypt come out as a [`CryptError`] inside an
/// `object_store::Error::Generic`.
pub(crate) fn decrypt_stream(
    what: String,
    ids: Identities,
    body: BoxStream<'static, object_store::Result<Bytes>>,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    let input = body
        .map_err(|e| std::io::Error::other(FromStore(e)))
        .into_async_read();
    let what2 = what.clone();
    let fail = move |e: std::io::Error| -> object_store::Error {
        match e.into_inner().map(|i| i.downcast::<FromStore>()) {
            Some(Ok(s)) => s.0,
            Some(Err(other)) => crypt_error(CryptError::Decrypt {
                what: what2.clone(),
                message: other.to_string(),
            }),
            None => crypt_error(CryptError::Decrypt {
                what: what2.clone(),
                message: "read failed".into(),
            }),
        }
    };
    let opened = async move {
        let d = age::Decryptor::new_async_buffered(input)
            .await
            .map_err(|e| {
                crypt_error(CryptError::Decrypt {
                    what: what.clone(),
                    message: super::age_keys::decrypt_reason(&e),
                })
            })?;
        d.decrypt_async(ids.iter()).map_err(|e| {
            let message = super::age_keys::decrypt_reason(&e);
            crypt_error(match e {
                // No damage: the identities given are not among its recipients.
                age::DecryptError::NoMatchingKeys => CryptError::Locked {
                    message: format!("{what}: {message}"),
                },
                _ => CryptError::Decrypt {
                    what: what.clone(),
                    message,
                },
            })
        })
    };
    futures::stream::once(opened)
        .map_ok(move |reader| {
            let fail = fail.clone();
            futures::stream::try_unfold(reader, move |mut r| {
                let fail = fail.clone();
                async move {
                    let mut buf = vec![0u8; CHUNK];
                    let n = r.read(&mut buf).await.map_err(fail)?;
                    if n == 0 {
                        return Ok(None);
                    }
                    buf.truncate(n);
                    Ok(Some((Bytes::from(buf), r)))
                }
            })
        })
        .try_flatten()
        .boxed()
}

/// The store name that marks a [`CryptError`] carried through object_store.
pub(crate) const STORE_NAME: &str = "logferry encryption";

/// A [`CryptError`] as object_store carries an error of a layer above it.
pub(crate) fn crypt_error(e: CryptError) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE_NAME,
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (Recipients, Identities, tempfile::TempDir) {
        use age::secrecy::ExposeSecret;
        use std::os::unix::fs::PermissionsExt;
        let id = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id");
        std::fs::write(&p, id.to_string().expose_secret()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        (
            Recipients::parse(&[id.to_public().to_string()]).unwrap(),
            Identities::load(&[p]).unwrap(),
            dir,
        )
    }

    async fn decrypt(
        ids: &Identities,
        bytes: Vec<u8>,
        piece: usize,
    ) -> object_store::Result<Vec<u8>> {
        let pieces: Vec<object_store::Result<Bytes>> = bytes
            .chunks(piece)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let out: Vec<Bytes> = decrypt_stream(
            "obj".into(),
            ids.clone(),
            futures::stream::iter(pieces).boxed(),
        )
        .try_collect()
        .await?;
        Ok(out.concat())
    }

    #[tokio::test]
    async fn streams_round_trip_in_any_pieces() {
        let (to, ids, _dir) = keys();
        let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut enc = AgeEncoder::new(&to).unwrap();
        let mut sent = Vec::new();
        for c in plain.chunks(7777) {
            enc.write(c).unwrap();
            sent.extend(enc.take());
        }
        sent.extend(enc.finish().unwrap());
        assert_eq!(decrypt(&ids, sent.clone(), 1000).await.unwrap(), plain);
        assert_eq!(
            decrypt(&ids, encrypt_all(&to, &plain).unwrap(), 1 << 20)
                .await
                .unwrap(),
            plain
        );
        assert_eq!(
            decrypt(&ids, encrypt_all(&to, b"").unwrap(), 3)
                .await
                .unwrap(),
            b""
        );
    }

    #[tokio::test]
    async fn cut_or_damaged_bodies_fail_as_decryption_errors() {
        let (to, ids, _dir) = keys();
        let plain = vec![7u8; 200_000];
        let sealed = encrypt_all(&to, &plain).unwrap();
        let cut = sealed[..sealed.len() - 10].to_vec();
        let e = decrypt(&ids, cut, 4096).await.unwrap_err();
        assert!(e.to_string().contains("does not decrypt"), "{e}");
        let mut flipped = sealed.clone();
        flipped[sealed.len() / 2] ^= 1;
        assert!(decrypt(&ids, flipped, 4096).await.is_err());
        let broken = futures::stream::iter(vec![
            Ok(Bytes::copy_from_slice(&sealed[..1000])),
            Err(object_store::Error::NotImplemented {
                operation: "x".into(),
                implementer: "y".into(),
            }),
        ])
        .boxed();
        let e = decrypt_stream("obj".into(), ids, broken)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(
            matches!(e, object_store::Error::NotImplemented { .. }),
            "{e}"
        );
    }
}
