//! Puts one file's bytes at its content-addressed key, streaming, with memory bounded by
//! the part size whatever the file's size.
//!
//! The bytes are hashed again as they are sent and the file is re-stated after the last
//! one: an object is completed only if it holds exactly the content its key names.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::digest::{ensure_unchanged, ContentHash, DigestError};
use crate::error::Error;
use crate::scan::ScannedFile;
use crate::store::Store;
use crate::worker::Control;

/// S3's limit on parts per upload; the part size grows so no file needs more.
pub const MAX_PARTS: u64 = 10_000;

/// How an object came to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Written by this pass; bytes sent.
    Uploaded(u64),
    /// Already present with the right size (an interrupted pass wrote it): adopted.
    Adopted,
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
    #[error(
        "object {key} exists with size {found}, expected {expected}; left untouched — run verify"
    )]
    Mismatch {
        /// The key.
        key: String,
        /// Its size.
        found: u64,
        /// The file's size.
        expected: u64,
    },
}

/// The part size used for a file of `size` bytes.
pub fn part_size_for(size: u64, part_size: u64) -> u64 {
    part_size.max(size.div_ceil(MAX_PARTS))
}

/// Stores `file` at `key`, whose name carries `expected`, unless it is there already.
pub async fn store_file(
    store: &Store,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    part_size: u64,
    control: &Control,
) -> Result<Stored, UploadError> {
    if control.is_cancelled() {
        return Err(UploadError::Interrupted);
    }
    match store.head(key).await {
        Ok(meta) if meta.size == file.stat.size => return Ok(Stored::Adopted),
        Ok(meta) => {
            return Err(UploadError::Mismatch {
                key: key.to_string(),
                found: meta.size,
                expected: file.stat.size,
            })
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(Error::store("head", key, e).into()),
    }
    let mut f = tokio::fs::File::open(&file.abs)
        .await
        .map_err(|e| UploadError::Changed(DigestError::Io(e)))?;
    if file.stat.size <= part_size {
        put_whole(store, key, file, expected, &mut f).await
    } else {
        put_parts(
            store,
            key,
            file,
            expected,
            part_size_for(file.stat.size, part_size),
            &mut f,
            control,
        )
        .await
    }
}

async fn put_whole(
    store: &Store,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    f: &mut tokio::fs::File,
) -> Result<Stored, UploadError> {
    let mut buf = Vec::with_capacity(file.stat.size as usize);
    // One byte past the expected size is enough to notice growth.
    f.take(file.stat.size + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(DigestError::Io)?;
    check(file, expected, buf.len() as u64, ContentHash::of(&buf))?;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let len = buf.len() as u64;
    match store.put_opts(key, PutPayload::from(buf), opts).await {
        Ok(_) => Ok(Stored::Uploaded(len)),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(Stored::Adopted),
        Err(e) => Err(Error::store("put", key, e).into()),
    }
}

async fn put_parts(
    store: &Store,
    key: &Path,
    file: &ScannedFile,
    expected: ContentHash,
    part_size: u64,
    f: &mut tokio::fs::File,
    control: &Control,
) -> Result<Stored, UploadError> {
    let mut upload = store
        .put_multipart_opts(key, PutMultipartOptions::default())
        .await
        .map_err(|e| Error::store("start multipart upload", key, e))?;
    let mut hasher = Sha256::new();
    let mut sent = 0u64;
    let result: Result<(), UploadError> = async {
        loop {
            if control.is_cancelled() {
                return Err(UploadError::Interrupted);
            }
            control.beat();
            let part = read_part(f, part_size as usize)
                .await
                .map_err(DigestError::Io)?;
            if part.is_empty() {
                break;
            }
            hasher.update(&part);
            sent += part.len() as u64;
            if sent > file.stat.size {
                break;
            }
            upload
                .put_part(PutPayload::from(part))
                .await
                .map_err(|e| Error::store("put part", key, e))?;
        }
        check(file, expected, sent, ContentHash::from_hasher(hasher))
    }
    .await;
    match result {
        Ok(()) => {
            upload
                .complete()
                .await
                .map_err(|e| Error::store("complete multipart upload", key, e))?;
            Ok(Stored::Uploaded(sent))
        }
        Err(e) => {
            if let Err(abort) = upload.abort().await {
                tracing::warn!(key = %key, error = %abort, "could not abort multipart upload");
            }
            Err(e)
        }
    }
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
