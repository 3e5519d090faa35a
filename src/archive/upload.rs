//! Puts one file's bytes at its content-addressed key, streaming, with memory bounded by
//! the part size whatever the file's size.
//!
//! The file was hashed once, its identity checked after the last byte; it is re-stated
//! again after the last byte sent, and an object is completed only if the file still has
//! that identity (dev, inode, size, mtime, ctime, birth time) and exactly its size was
//! read, so the bytes sent are the ones the key names without hashing them twice: a
//! write in between moves the ctime, which no call sets back. Every
//! request waits for one of the pass's request slots, and the part buffers are held
//! against its memory budget (see [`crate::archive::slots`]).

use bytes::Bytes;
use object_store::path::Path;
use object_store::{
    MultipartUpload, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload,
};
use sha2::{Digest, Sha256};

use crate::archive::control::Control;
use crate::archive::encode::Pipeline;
use crate::archive::part_reader::Reader;
use crate::archive::slots::{Held, Limits};
use crate::codec::{Codec, Compression, Encoder};
use crate::crypt::stream::encrypt_all;
use crate::crypt::Recipients;
use crate::digest::{ensure_unchanged, ContentHash, DigestError};
use crate::error::Error;
use crate::fsstat::ScannedFile;
use crate::remote::read_back::{decode_into, OnUndecodable};
use crate::remote::retry::{self, Policy};
use crate::remote::Store;
use crate::state::seen::RACY_MARGIN_NS;

/// S3's limit on parts per upload; the part size grows so no file needs more.
pub(crate) const MAX_PARTS: u64 = 10_000;

/// How an object came to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
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
pub(crate) enum UploadError {
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

/// Where objects go: the store, how often a put object_store does not retry itself
/// (a create-only put met by a reset or a timeout) is sent again, and the bounds its
/// requests, workers and buffers wait on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The destination.
    pub store: &'a Store,
    /// The destination's retry bounds.
    pub retry: Policy,
    /// The pass's request slots, workers and memory budget.
    pub limits: &'a Limits,
}

/// The part size used for a file of `size` bytes.
pub(crate) fn part_size_for(size: u64, part_size: u64) -> u64 {
    part_size.max(size.div_ceil(MAX_PARTS))
}

/// Original bytes read per step when compressing (the compressed parts still fill
/// `part_size`), so memory stays near one part per file.
const COMPRESS_CHUNK: usize = 1 << 20;

/// What a compressed multipart upload holds beyond its part: the chunk being read, the
/// output past a full part, and the encoder's window.
pub(crate) const COMPRESS_EXTRA: u64 = 8 << 20;

/// The bytes a file stored with [`store_file`] holds against the memory budget.
pub(crate) fn part_buffer(
    size: u64,
    part_size: u64,
    compression: Compression,
    encrypted: bool,
) -> u64 {
    let part = part_size_for(size, part_size).min(size.max(1));
    match (compression, encrypted) {
        (Compression::None, false) => part,
        _ => part + COMPRESS_EXTRA,
    }
}

/// The bytes a file read whole holds against the memory budget while it is compressed
/// or encrypted: the file and its stored form (which [`store_bytes`] then shrinks it to).
pub(crate) fn whole_file(size: u64, compression: Compression, encrypted: bool) -> u64 {
    match (compression, encrypted) {
        (Compression::None, false) => size,
        _ => 2 * size,
    }
}

/// One object to store: the file holding its content, the content key, the hash that
/// key names, and the codec to store it with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Content<'a> {
    /// The content key.
    pub key: &'a Path,
    /// The local file.
    pub file: &'a ScannedFile,
    /// The sha256 the key names, which the bytes sent must hash to.
    pub expected: ContentHash,
    /// How the object is encoded.
    pub codec: Codec,
    /// Whom the object is encrypted to, after it is encoded (`None`: stored as encoded).
    pub seal: Option<&'a Recipients>,
    /// A time no later than the start of the read that hashed the file, nanoseconds
    /// since the Unix epoch (`i64::MIN` when unknown): see [`Content::rehash`].
    pub hashed_at_ns: i64,
}

impl Content<'_> {
    /// Whether the bytes sent must be hashed again. Not when the file's ctime is older
    /// than the first read by the racy margin: a write since then sets a ctime at least
    /// that much later, which the re-stat after the last byte sees even on a filesystem
    /// with coarse timestamps. A file changed just before it was hashed is hashed twice.
    fn rehash(&self) -> bool {
        self.file.stat.ctime_ns.saturating_add(RACY_MARGIN_NS) > self.hashed_at_ns
    }
}

/// Stores `c.file` at `c.key` unless it is there already. Small files go up in one
/// create-only put (an existing object shows as a conflict and is checked then); larger
/// ones are looked for first, so an interrupted pass's upload is never repeated.
pub(crate) async fn store_file(
    to: &Target<'_>,
    c: &Content<'_>,
    part_size: u64,
    control: &Control,
) -> Result<Stored, UploadError> {
    if control.is_cancelled() {
        return Err(UploadError::Interrupted);
    }
    if c.file.stat.size > part_size {
        let slot = to.limits.requests.acquire().await;
        let found = to.store.head(c.key).await;
        drop(slot);
        match found {
            Ok(meta) => return adopt(to, c, meta.size).await,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store("head", c.key, e).into()),
        }
    }
    let buffer = part_buffer(
        c.file.stat.size,
        part_size,
        c.codec.compression,
        c.seal.is_some(),
    );
    let _held = to.limits.memory.hold(buffer).await;
    let path = c.file.abs.clone();
    let f = tokio::task::spawn_blocking(move || std::fs::File::open(path))
        .await
        .expect("opening task panicked")
        .map_err(|e| UploadError::Changed(DigestError::Io(e)))?;
    let mut f = Reader {
        file: std::sync::Arc::new(f),
        offset: 0,
    };
    let mut parts = Parts {
        to,
        c,
        part: part_size_for(c.file.stat.size, part_size) as usize,
        upload: None,
        read: 0,
        stored: 0,
    };
    match parts.send(&mut f, control).await {
        Ok(last) => parts.finish(last).await,
        Err(e) => {
            if let Some(mut u) = parts.upload {
                let _slot = to.limits.requests.acquire().await;
                if let Err(abort) = u.abort().await {
                    tracing::warn!(key = %c.key, error = %abort, "could not abort multipart upload");
                }
            }
            Err(e)
        }
    }
}

/// A file on its way up in parts; the multipart upload starts with the first full part.
struct Parts<'a> {
    to: &'a Target<'a>,
    c: &'a Content<'a>,
    part: usize,
    upload: Option<Box<dyn MultipartUpload>>,
    /// Original bytes read.
    read: u64,
    /// Bytes sent in parts.
    stored: u64,
}

impl Parts<'_> {
    /// Reads, hashes and sends the file part by part; returns the bytes still to send,
    /// once the bytes read are known to be exactly the ones the key names.
    async fn send(&mut self, f: &mut Reader, control: &Control) -> Result<Vec<u8>, UploadError> {
        let (file, codec, part) = (self.c.file, self.c.codec, self.part);
        let plain = codec.compression == Compression::None && self.c.seal.is_none();
        let chunk = if plain {
            part
        } else {
            COMPRESS_CHUNK.min(part)
        };
        let mut enc = Pipeline::new(codec, self.c.seal).map_err(DigestError::Io)?;
        let mut hasher = self.c.rehash().then(Sha256::new);
        let mut tail: Option<Bytes> = None;
        loop {
            if control.is_cancelled() {
                return Err(UploadError::Interrupted);
            }
            control.beat();
            let data = f.read_part(chunk).await.map_err(DigestError::Io)?;
            if data.is_empty() {
                break;
            }
            // Hashing and compressing are a worker's, as a whole file's are.
            let worker = self.to.limits.workers.acquire().await;
            if let Some(h) = hasher.as_mut() {
                h.update(&data);
            }
            self.read += data.len() as u64;
            // Its hashing counted the other half (see `files`).
            control.advance(data.len() as u64 / 2);
            if self.read > file.stat.size {
                break;
            }
            // Plain parts go up as read, without a copy; compressed or encrypted ones
            // once a part's worth of output has built up.
            let payload = if plain && data.len() >= part {
                Some(PutPayload::from(data))
            } else if plain {
                tail = Some(data);
                None
            } else {
                enc.write(&data).map_err(DigestError::Io)?;
                (enc.pending() >= part).then(|| PutPayload::from(enc.take()))
            };
            drop(worker);
            if let Some(payload) = payload {
                self.put(payload).await?;
            }
        }
        // Nothing is completed unless the bytes are exactly the ones the key names.
        ensure_unchanged(&file.abs, &file.stat, self.read)?;
        if hasher.is_some_and(|h| ContentHash::from_hasher(h) != self.c.expected) {
            return Err(DigestError::Changed {
                expected: file.stat,
                actual: None,
            }
            .into());
        }
        let mut last = enc.finish().map_err(DigestError::Io)?;
        if let Some(t) = tail.take() {
            last = t.to_vec();
        }
        Ok(last)
    }

    /// Sends one part, starting the multipart upload with the first.
    async fn put(&mut self, payload: PutPayload) -> Result<(), Error> {
        let key = self.c.key;
        let _slot = self.to.limits.requests.acquire().await;
        if self.upload.is_none() {
            let u = self
                .to
                .store
                .put_multipart_opts(key, PutMultipartOptions::default())
                .await
                .map_err(|e| Error::store("start multipart upload", key, e))?;
            self.upload = Some(u);
        }
        self.stored += payload.content_length() as u64;
        let u = self.upload.as_mut().expect("started above");
        u.put_part(payload)
            .await
            .map_err(|e| Error::store("put part", key, e))
    }

    /// Sends the last bytes and completes the upload; a file that never filled a part
    /// (compressed output smaller than one) goes up in one put after all.
    async fn finish(self, last: Vec<u8>) -> Result<Stored, UploadError> {
        let (read, stored) = (self.read, self.stored + last.len() as u64);
        let Some(mut u) = self.upload else {
            return put_create(self.to, self.c, last, read).await;
        };
        let requests = &self.to.limits.requests;
        let finish = async {
            if !last.is_empty() {
                let _slot = requests.acquire().await;
                u.put_part(PutPayload::from(last)).await?;
            }
            let _slot = requests.acquire().await;
            u.complete().await
        };
        if let Err(e) = finish.await {
            let _slot = requests.acquire().await;
            let _ = u.abort().await;
            return Err(Error::store("complete multipart upload", self.c.key, e).into());
        }
        Ok(Stored::Uploaded { read, stored })
    }
}

/// Stores bytes already read and checked (a file read whole), in one create-only put.
/// `held` is what the bytes hold against the memory budget ([`whole_file`]); once they
/// are compressed it shrinks to the compressed bytes, which are held until the put ends.
pub(crate) async fn store_bytes(
    to: &Target<'_>,
    c: &Content<'_>,
    bytes: Vec<u8>,
    held: &mut Held<'_>,
    control: &Control,
) -> Result<Stored, UploadError> {
    if control.is_cancelled() {
        return Err(UploadError::Interrupted);
    }
    control.beat();
    let read = bytes.len() as u64;
    let payload = match (c.codec.compression, c.seal) {
        (Compression::None, None) => bytes,
        (_, seal) => {
            let (codec, seal) = (c.codec, seal.cloned());
            let _worker = to.limits.workers.acquire().await;
            let stored = tokio::task::spawn_blocking(move || {
                let encoded = match codec.compression {
                    Compression::None => bytes,
                    _ => {
                        let mut enc = Encoder::new(codec)?;
                        enc.write(&bytes)?;
                        drop(bytes);
                        enc.finish()?
                    }
                };
                let mut out = match seal {
                    Some(to) => encrypt_all(&to, &encoded)?,
                    None => encoded,
                };
                out.shrink_to_fit();
                Ok::<_, std::io::Error>(out)
            })
            .await
            .expect("compressing task panicked");
            stored.map_err(DigestError::Io)?
        }
    };
    held.shrink_to(payload.len() as u64);
    put_create(to, c, payload, read).await
}

/// One create-only put; an object already at the key (an interrupted pass's, or this
/// put's own earlier attempt whose answer was lost) is checked and adopted, never
/// overwritten.
async fn put_create(
    to: &Target<'_>,
    c: &Content<'_>,
    payload: Vec<u8>,
    read: u64,
) -> Result<Stored, UploadError> {
    let key = c.key;
    let stored = payload.len() as u64;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let payload = Bytes::from(payload);
    let (payload, opts) = (&payload, &opts);
    let out = retry::run(&to.retry, "put", || async move {
        let _slot = to.limits.requests.acquire().await;
        to.store
            .put_opts(key, PutPayload::from(payload.clone()), opts.clone())
            .await
    })
    .await;
    match out.result {
        Ok(_) => Ok(Stored::Uploaded { read, stored }),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let slot = to.limits.requests.acquire().await;
            let meta = to
                .store
                .head(key)
                .await
                .map_err(|e| Error::store("head", key, e))?;
            drop(slot);
            match adopt(to, c, meta.size).await? {
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
async fn adopt(to: &Target<'_>, c: &Content<'_>, found: u64) -> Result<Stored, UploadError> {
    let (key, file) = (c.key, c.file);
    let mismatch = |why: String| UploadError::Mismatch {
        key: key.to_string(),
        why,
    };
    let compression = c.codec.compression;
    if c.seal.is_some() {
        // This host cannot read what it encrypted. The keyed name was made with the
        // archive key from this content's hash, and a create-only put leaves a whole
        // object or none: what is there is the content (verify --identity reads it).
        return if found >= MIN_AGE_OBJECT {
            Ok(Stored::Adopted { stored: found })
        } else {
            Err(mismatch(format!(
                "has {found} bytes, too few for an encrypted object"
            )))
        };
    }
    match compression {
        Compression::None if found == file.stat.size => Ok(Stored::Adopted { stored: found }),
        Compression::None => Err(mismatch(format!(
            "has {found} bytes, not {}",
            file.stat.size
        ))),
        Compression::Zstd => {
            // The object is read and decoded again from the start if its body is cut.
            let read = retry::run(&to.retry, "get", || async {
                let _slot = to.limits.requests.acquire().await;
                let got = to.store.get(key).await?;
                decode_into(
                    got,
                    compression,
                    std::io::sink(),
                    OnUndecodable::Stop,
                    &|_| {},
                )
                .await
            })
            .await
            .result
            .map_err(|e| Error::store("get", key, e))?;
            let (_, len, hash) = read
                .decoded
                .map_err(|e| mismatch(format!("does not decompress: {e}")))?;
            if (len, hash) == (file.stat.size, c.expected) {
                Ok(Stored::Adopted { stored: found })
            } else {
                Err(mismatch("decompresses to other content".into()))
            }
        }
    }
}

/// The fewest bytes an age object has: its header with one recipient, the nonce and one
/// empty chunk's tag.
const MIN_AGE_OBJECT: u64 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    fn content_with_ctime(file: &ScannedFile, hashed_at_ns: i64) -> Content<'_> {
        static KEY: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
        Content {
            key: KEY.get_or_init(|| Path::from("data/k")),
            file,
            expected: ContentHash::of(b""),
            codec: Codec::PLAIN,
            seal: None,
            hashed_at_ns,
        }
    }

    #[test]
    fn bytes_sent_are_hashed_again_only_when_the_ctime_is_too_recent_to_prove_identity() {
        let ctime = 1_000_000_000_000;
        let file = ScannedFile {
            source: "s".into(),
            rel: "a".into(),
            abs: "/nonexistent".into(),
            stat: crate::fsstat::FileStat {
                dev: 1,
                ino: 2,
                size: 3,
                mtime_ns: ctime,
                ctime_ns: ctime,
                btime_ns: None,
            },
        };
        let old = content_with_ctime(&file, ctime + RACY_MARGIN_NS);
        assert!(
            !old.rehash(),
            "a ctime older than the margin proves identity"
        );
        let recent = content_with_ctime(&file, ctime + RACY_MARGIN_NS - 1);
        assert!(
            recent.rehash(),
            "a change within the margin could keep its ctime"
        );
        assert!(
            content_with_ctime(&file, i64::MIN).rehash(),
            "an unknown read time"
        );
    }

    #[test]
    fn part_size_grows_for_huge_files() {
        let mib = 1024 * 1024;
        assert_eq!(part_size_for(10 * mib, 8 * mib), 8 * mib);
        let huge = 200 * 1024 * mib;
        let p = part_size_for(huge, 8 * mib);
        assert!(huge.div_ceil(p) <= MAX_PARTS);
    }
}
