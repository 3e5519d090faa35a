//! Reading an archived object back: stream it, decode it, count and hash the original
//! bytes. The one copy of this used by upload's read-back check, repair and verify.

use futures::StreamExt;
use object_store::ObjectStoreExt;

use super::Store;
use crate::codec::{Compression, Decoder};
use crate::digest::{ContentHash, Hashing};
use crate::error::Error;

/// Bytes read from the store, and the decoded size and hash when the object decoded, or
/// why it could not be read.
pub type ReadResult = std::result::Result<(u64, Option<(u64, ContentHash)>), String>;

/// Streams the object at `key`, decoding it as `compression`, reporting bytes read to
/// `progress`.
pub async fn read_hash(
    store: &Store,
    key: &str,
    compression: Compression,
    progress: &(dyn Fn(u64) + Sync),
) -> ReadResult {
    let path = object_store::path::Path::parse(key).map_err(|e| format!("bad key: {e}"))?;
    let got = store
        .get(&path)
        .await
        .map_err(|e| Error::store("get", key, e).to_string())?;
    let mut body = got.into_stream();
    let mut dec =
        Decoder::new(compression, Hashing::new(std::io::sink())).map_err(|e| e.to_string())?;
    let mut undecodable = false;
    let mut read = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::store("get", key, e).to_string())?;
        read += chunk.len() as u64;
        progress(chunk.len() as u64);
        if !undecodable && dec.write(&chunk).is_err() {
            undecodable = true;
        }
    }
    // Bytes that do not decompress stand for no content the manifest names.
    match dec.finish() {
        Ok(h) if !undecodable => {
            let (_, size, hash) = h.finish();
            Ok((read, Some((size, hash))))
        }
        _ => Ok((read, None)),
    }
}
