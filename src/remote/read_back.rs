//! Reading an archived object back: stream it, decode it, count the stored bytes and
//! hash the original ones. The one copy of this, used by upload's check of an object it
//! finds at a content key, by restore (into the file being restored), by repair and by
//! verify (into a sink).

use std::io::Write;

use futures::StreamExt;
use object_store::{GetResult, ObjectStoreExt};

use super::Store;
use crate::codec::{Compression, Decoder};
use crate::digest::{ContentHash, Hashing};
use crate::error::Error;

/// What reading an object back found.
#[derive(Debug)]
pub(crate) struct ReadBack<W> {
    /// Bytes read from the store.
    pub stored: u64,
    /// The writer, the decoded size and its hash; or why the bytes did not decode (or
    /// could not be written).
    pub decoded: std::result::Result<(W, u64, ContentHash), Undecoded>,
}

/// Why an object's bytes did not reach the writer whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Undecoded {
    /// Writing a chunk failed: the decoder refused it, or the writer did.
    #[error("{0}")]
    Chunk(std::io::Error),
    /// The stream ended without a complete frame (or the last write failed).
    #[error("{0}")]
    End(std::io::Error),
}

/// After the bytes stop decoding: stop reading, or read (and count) the rest anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnUndecodable {
    /// Stop at the first chunk that does not decode.
    Stop,
    /// Read to the end, so the stored bytes are all counted.
    Drain,
}

/// Streams the body of `got` through a decoder for `compression` into `out`, hashing the
/// decoded bytes; `progress` hears of each stored chunk once it is written (or, when
/// draining, once it is read after decoding stopped). Only a failure of the store is an
/// error.
pub(crate) async fn decode_into<W: Write, P: Fn(u64) + ?Sized>(
    got: GetResult,
    compression: Compression,
    out: W,
    on_undecodable: OnUndecodable,
    progress: &P,
) -> object_store::Result<ReadBack<W>> {
    let mut body = got.into_stream();
    let mut stored = 0u64;
    let mut dec = match Decoder::new(compression, Hashing::new(out)) {
        Ok(d) => Some(d),
        Err(e) => {
            return Ok(ReadBack {
                stored,
                decoded: Err(Undecoded::Chunk(e)),
            })
        }
    };
    let mut failed = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        stored += chunk.len() as u64;
        if let Some(Err(e)) = dec.as_mut().map(|d| d.write(&chunk)) {
            dec = None;
            failed = Some(Undecoded::Chunk(e));
            if on_undecodable == OnUndecodable::Stop {
                break;
            }
        }
        progress(chunk.len() as u64);
    }
    let decoded = match (dec, failed) {
        (Some(d), None) => d.finish().map(Hashing::finish).map_err(Undecoded::End),
        (_, Some(f)) => Err(f),
        (None, None) => unreachable!("the decoder is dropped only on a failure"),
    };
    Ok(ReadBack { stored, decoded })
}

/// A writer that tells `progress` of each byte written through it: after
/// [`decode_into`], the original bytes, where its own `progress` counts stored ones.
pub(crate) struct Counted<'a, W> {
    pub inner: W,
    progress: &'a dyn Fn(u64),
}

impl<'a, W> Counted<'a, W> {
    pub(crate) fn new(inner: W, progress: &'a dyn Fn(u64)) -> Self {
        Counted { inner, progress }
    }
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes read from the store, and the decoded size and hash when the object decoded, or
/// why it could not be read.
pub(crate) type ReadResult = std::result::Result<(u64, Option<(u64, ContentHash)>), ReadFailure>;

/// Why an object could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadFailure {
    /// The store did not give it (absent, or a request that kept failing).
    Unread(String),
    /// It is encrypted and no identity given opens it: present, but not checked.
    Locked(String),
    /// Its bytes do not decrypt: damaged, cut short, or forged.
    Damaged(String),
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFailure::Unread(m) | ReadFailure::Locked(m) | ReadFailure::Damaged(m) => {
                f.write_str(m)
            }
        }
    }
}

/// How a failed read of `key` counts: encryption's refusals apart from the store's.
fn failure(key: &str, e: object_store::Error) -> ReadFailure {
    match Error::store("get", key, e) {
        e @ Error::Encryption(crate::crypt::CryptError::Locked { .. }) => {
            ReadFailure::Locked(e.chain().to_string())
        }
        e @ Error::Encryption(_) => ReadFailure::Damaged(e.chain().to_string()),
        e => ReadFailure::Unread(e.to_string()),
    }
}

/// Whether an error is encryption's (which reading again cannot mend).
fn is_crypt(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::Generic { store, .. } if *store == crate::crypt::stream::STORE_NAME)
}

/// How many times a body that breaks after its GET was answered is read from the start.
const BODY_ATTEMPTS: u32 = 3;

/// Streams the object at `key`, decoding it as `compression`, reporting bytes read to
/// `progress`; every byte is read and counted even when the object does not decode.
///
/// A body that breaks once the GET was answered (a reset mid-body, or object_store's
/// ranged resume of one refused, e.g. with 416 when the cut came after the last byte)
/// is read again from the start, up to [`BODY_ATTEMPTS`] times: the object answered a
/// moment ago, so calling it missing or unreadable would be wrong.
pub(crate) async fn read_hash(
    store: &Store,
    key: &str,
    compression: Compression,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadResult {
    let path = object_store::path::Path::parse(key)
        .map_err(|e| ReadFailure::Unread(format!("bad key: {e}")))?;
    let mut attempt = 1;
    let read = loop {
        let got = store.get(&path).await.map_err(|e| failure(key, e))?;
        match decode_into(
            got,
            compression,
            std::io::sink(),
            OnUndecodable::Drain,
            progress,
        )
        .await
        {
            Ok(read) => break read,
            Err(e) if attempt < BODY_ATTEMPTS && !is_crypt(&e) => {
                tracing::info!(key, attempt, error = %e, "the body broke mid-read; reading it again");
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
                attempt += 1;
            }
            Err(e) => return Err(failure(key, e)),
        }
    };
    // Bytes that do not decompress stand for no content the manifest names.
    Ok((
        read.stored,
        read.decoded.ok().map(|(_, size, hash)| (size, hash)),
    ))
}
