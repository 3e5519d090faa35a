//! Puts one file's bytes at its content-addressed key, streaming, with memory bounded by
//! the part size whatever the file's size.
//!
//! The bytes are hashed again as they are sent and the file is re-stated after the last
//! one: an object is completed only if it holds exactly the content its key names.

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    MultipartUpload, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::archive::control::Control;
use crate::codec::{Codec, Compression, Decoder, Encoder};
use crate::digest::Hashing;
use crate::digest::{ensure_unchanged, ContentHash, DigestError};
use crate::error::Error;
use crate::fsstat::ScannedFile;
use crate::remote::retry::{self, Policy};
use crate::remote::Store;

/// S3's limit on parts per upload; the part size grows so no file needs more.
pub const MAX_PARTS: u64 = 10_000;

/// How an object came to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Written by this pass: bytes read from the file, bytes stored.
    Uploaded {
        /// Original bytes read.
        read: u64,
        /// Bytes written to the destination (after compression).
        stored: u64,
    },
    /// Already present with the right content (an interrupted pass wrote it): adopted.
    Adopted {
        /// Its size in the destination.
        stored: u64,
    },
}

/// Why a file's object could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file moved under us; retried next pass.
    #[error(transparent)]
    Changed(#[from] DigestError),
    /// The destination failed.
    #[error(transparent)]
    Store(#[from] Error),
    /// The pass was asked to stop; a multipart upload in progress was aborted.
    #[error("interrupted by shutdown")]
    Interrupted,
    /// Something else sits at the content key; it is left alone.
    #[error("object {key} exists but {why}; left untouched — run verify")]
    Mismatch {
        /// The key.
        key: String,
        /// How it differs.
        why: String,
    },
}

/// Where objects go: the store, and how often a put object_store does not retry itself
/// (a create-only put met by a reset or a timeout) is sent again.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The destination.
    pub store: &'a Store,
    /// The destination's retry bounds.
    pub retry: Policy,
}

/// The part size used for a file of `size` bytes.
pub fn part_size_for(size: u64, part_size: u64) -> u64 {
    part_size.max(size.div_ceil(MAX_PARTS))
}

/// Original bytes read per step when compressing (the compressed parts still fill
/// `part_size`), so memory stays near one part per file.
const COMPRESS_CHUNK: usize = 1 << 20;

/// Stores `file` at `key`, whose name carries `expected`, unless it is there already.
/// Small files go up in one create-only put (an existing object shows as a conflict and
/// is checked then); larger ones are looked for first, so an interrupted pass's upload
/// is never repeated.
pub async fn store_file(
    to: &Target<'_>,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    part_size: u64,
    codec: Codec,
    control: &Control,
) -> Result<Stored, UploadError> {
    if control.is_cancelled() {
        return Err(UploadError::Interrupted);
    }
    let store = to.store;
    if file.stat.size > part_size {
        match store.head(key).await {
            Ok(meta) => return adopt(to, key, file, expected, codec.compression, meta.size).await,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store("head", key, e).into()),
        }
    }
    let mut f = tokio::fs::File::open(&file.abs)
        .await
        .map_err(|e| UploadError::Changed(DigestError::Io(e)))?;
    let part = part_size_for(file.stat.size, part_size) as usize;
    let chunk = match codec.compression {
        Compression::None => part,
        Compression::Zstd => COMPRESS_CHUNK.min(part),
    };
    let mut enc = Encoder::new(codec).map_err(DigestError::Io)?;
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    let mut stored = 0u64;
    let mut upload: Option<Box<dyn MultipartUpload>> = None;
    let mut tail: Option<Bytes> = None;
    let result: Result<Option<Vec<u8>>, UploadError> = async {
        loop {
            if control.is_cancelled() {
                return Err(UploadError::Interrupted);
            }
            control.beat();
            let data = read_part(&mut f, chunk).await.map_err(DigestError::Io)?;
            if data.is_empty() {
                break;
            }
            hasher.update(&data);
            read += data.len() as u64;
            if read > file.stat.size {
                break;
            }
            // Plain parts go up as read, without a copy; compressed ones once a part's
            // worth of output has built up.
            let payload = match codec.compression {
                Compression::None if data.len() >= part => Some(PutPayload::from(data)),
                Compression::None => {
                    tail = Some(data);
                    None
                }
                Compression::Zstd => {
                    enc.write(&data).map_err(DigestError::Io)?;
                    (enc.pending() >= part).then(|| PutPayload::from(enc.take()))
                }
            };
            if let Some(payload) = payload {
                if upload.is_none() {
                    let u = store
                        .put_multipart_opts(key, PutMultipartOptions::default())
                        .await
                        .map_err(|e| Error::store("start multipart upload", key, e))?;
                    upload = Some(u);
                }
                stored += payload.content_length() as u64;
                let u = upload.as_mut().expect("started above");
                u.put_part(payload)
                    .await
                    .map_err(|e| Error::store("put part", key, e))?;
            }
        }
        // Nothing is completed unless the bytes are exactly the ones the key names.
        check(
            file,
            expected,
            read,
            ContentHash::from_hasher(hasher.clone()),
        )?;
        let mut last = enc.finish().map_err(DigestError::Io)?;
        if let Some(t) = tail.take() {
            last = t.to_vec();
        }
        Ok(Some(last))
    }
    .await;
    let last = match result {
        Ok(last) => last.unwrap_or_default(),
        Err(e) => {
            if let Some(mut u) = upload {
                if let Err(abort) = u.abort().await {
                    tracing::warn!(key = %key, error = %abort, "could not abort multipart upload");
                }
            }
            return Err(e);
        }
    };
    stored += last.len() as u64;
    match upload {
        Some(mut u) => {
            let finish = async {
                if !last.is_empty() {
                    u.put_part(PutPayload::from(last)).await?;
                }
                u.complete().await
            };
            if let Err(e) = finish.await {
                let _ = u.abort().await;
                return Err(Error::store("complete multipart upload", key, e).into());
            }
            Ok(Stored::Uploaded { read, stored })
        }
        // Compressed output smaller than a part: one put after all.
        None => put_create(to, key, file, expected, codec.compression, last, read).await,
    }
}

/// Stores bytes already read and checked (a small file), in one create-only put.
pub async fn store_bytes(
    to: &Target<'_>,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    bytes: Vec<u8>,
    codec: Codec,
    control: &Control,
) -> Result<Stored, UploadError> {
    if control.is_cancelled() {
        return Err(UploadError::Interrupted);
    }
    control.beat();
    let read = bytes.len() as u64;
    let payload = match codec.compression {
        Compression::None => bytes,
        Compression::Zstd => {
            let mut enc = Encoder::new(codec).map_err(DigestError::Io)?;
            enc.write(&bytes).map_err(DigestError::Io)?;
            enc.finish().map_err(DigestError::Io)?
        }
    };
    put_create(to, key, file, expected, codec.compression, payload, read).await
}

/// One create-only put; an object already at the key (an interrupted pass's, or this
/// put's own earlier attempt whose answer was lost) is checked and adopted, never
/// overwritten.
async fn put_create(
    to: &Target<'_>,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    compression: Compression,
    payload: Vec<u8>,
    read: u64,
) -> Result<Stored, UploadError> {
    let stored = payload.len() as u64;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let payload = Bytes::from(payload);
    let out = retry::run(&to.retry, "put", || {
        to.store
            .put_opts(key, PutPayload::from(payload.clone()), opts.clone())
    })
    .await;
    match out.result {
        Ok(_) => Ok(Stored::Uploaded { read, stored }),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let meta = to
                .store
                .head(key)
                .await
                .map_err(|e| Error::store("head", key, e))?;
            match adopt(to, key, file, expected, compression, meta.size).await? {
                // The object found is the one an earlier attempt of this put wrote.
                Stored::Adopted { .. } if out.attempts > 1 => Ok(Stored::Uploaded { read, stored }),
                adopted => Ok(adopted),
            }
        }
        Err(e) => Err(Error::store("put", key, e).into()),
    }
}

/// An object already at the content key: kept if it holds the file's content. A plain
/// object must have the file's size; a compressed one is read back and checked.
async fn adopt(
    to: &Target<'_>,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    compression: Compression,
    found: u64,
) -> Result<Stored, UploadError> {
    let mismatch = |why: String| UploadError::Mismatch {
        key: key.to_string(),
        why,
    };
    match compression {
        Compression::None if found == file.stat.size => Ok(Stored::Adopted { stored: found }),
        Compression::None => Err(mismatch(format!(
            "has {found} bytes, not {}",
            file.stat.size
        ))),
        Compression::Zstd => {
            // The object is read and decoded again from the start if its body is cut.
            let decoded = retry::run(&to.retry, "get", || decode(to.store, key, compression))
                .await
                .result
                .map_err(|e| Error::store("get", key, e))?;
            let (len, hash) = decoded.map_err(|e| mismatch(format!("does not decompress: {e}")))?;
            if (len, hash) == (file.stat.size, expected) {
                Ok(Stored::Adopted { stored: found })
            } else {
                Err(mismatch("decompresses to other content".into()))
            }
        }
    }
}

/// The length and hash of an object's decoded bytes; the inner error says why it does
/// not decode.
async fn decode(
    store: &Store,
    key: &Path,
    compression: Compression,
) -> object_store::Result<std::io::Result<(u64, ContentHash)>> {
    let mut body = store.get(key).await?.into_stream();
    let mut dec = match Decoder::new(compression, Hashing::new(std::io::sink())) {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    while let Some(chunk) = body.next().await {
        if let Err(e) = dec.write(&chunk?) {
            return Ok(Err(e));
        }
    }
    Ok(dec.finish().map(|h| {
        let (_, len, hash) = h.finish();
        (len, hash)
    }))
}

async fn read_part(f: &mut tokio::fs::File, size: usize) -> std::io::Result<Bytes> {
    let mut buf = Vec::with_capacity(size);
    while buf.len() < size {
        let n = (&mut *f)
            .take((size - buf.len()) as u64)
            .read_to_end(&mut buf)
            .await?;
        if n == 0 {
            break;
        }
    }
    Ok(Bytes::from(buf))
}

fn check(
    file: &ScannedFile,
    expected: ContentHash,
    read: u64,
    got: ContentHash,
) -> Result<(), UploadError> {
    ensure_unchanged(&file.abs, &file.stat, read)?;
    if got != expected {
        return Err(DigestError::Changed {
            expected: file.stat,
            actual: None,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_for_huge_files() {
        let mib = 1024 * 1024;
        assert_eq!(part_size_for(10 * mib, 8 * mib), 8 * mib);
        let huge = 200 * 1024 * mib;
        let p = part_size_for(huge, 8 * mib);
        assert!(huge.div_ceil(p) <= MAX_PARTS);
    }
}
