//! Content identity: the sha256 of a file's original bytes, computed by streaming, and
//! only accepted when the file did not change while it was read (invariant 4).

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::fsstat::FileStat;

/// Bytes read per `read` call while hashing.
const READ_BUF: usize = 256 * 1024;

/// The sha256 of a file's original bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Hash of an in-memory buffer.
    pub fn of(bytes: &[u8]) -> Self {
        ContentHash(Sha256::digest(bytes).into())
    }

    /// Finishes a running hasher.
    pub fn from_hasher(h: Sha256) -> Self {
        ContentHash(h.finalize().into())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

impl FromStr for ContentHash {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(format!("sha256 must be 64 hex digits, got {}", s.len()));
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).map_err(|_| "sha256 is not ASCII".to_string())?;
            out[i] = u8::from_str_radix(hex, 16)
                .map_err(|_| format!("sha256 has a non-hex digit in `{hex}`"))?;
        }
        Ok(ContentHash(out))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// Size, mtime or inode moved between the scan and the last byte: not closed yet.
    #[error("changed while read (was {expected:?}, now {actual:?})")]
    Changed {
        /// What the scan saw.
        expected: FileStat,
        /// What a stat after the last byte saw.
        actual: Option<FileStat>,
    },
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Streams `path` through sha256, then re-stats it: the hash is returned only if the file
/// still has the size, mtime and inode the scan recorded and exactly that many bytes were read.
pub fn hash_file(path: &Path, expected: &FileStat) -> Result<ContentHash, DigestError> {
    hash_file_counted(path, expected, &|_| {})
}

/// [`hash_file`], telling `progress` of the bytes as they are read.
pub(crate) fn hash_file_counted(
    path: &Path,
    expected: &FileStat,
    progress: &dyn Fn(u64),
) -> Result<ContentHash, DigestError> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        hasher.update(&buf[..n]);
        progress(n as u64);
    }
    ensure_unchanged(path, expected, read)?;
    Ok(ContentHash::from_hasher(hasher))
}

/// Reads a small file whole (at most `limit` bytes), hashes it and re-stats it, so the
/// bytes can be stored without reading the file again. `None` when it is larger.
pub(crate) fn read_small(
    path: &Path,
    expected: &FileStat,
    limit: u64,
) -> Result<Option<(ContentHash, Vec<u8>)>, DigestError> {
    if expected.size > limit {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(expected.size as usize);
    // One byte past the expected size is enough to notice growth.
    file.take(expected.size + 1).read_to_end(&mut bytes)?;
    ensure_unchanged(path, expected, bytes.len() as u64)?;
    Ok(Some((ContentHash::of(&bytes), bytes)))
}

/// Fails with [`DigestError::Changed`] unless `path` still matches `expected` and `read`
/// bytes were seen.
pub(crate) fn ensure_unchanged(
    path: &Path,
    expected: &FileStat,
    read: u64,
) -> Result<(), DigestError> {
    let actual = FileStat::of_path(path).ok();
    if read != expected.size || actual.as_ref() != Some(expected) {
        return Err(DigestError::Changed {
            expected: *expected,
            actual,
        });
    }
    Ok(())
}

/// A writer that hashes and counts what passes through it, to `W`.
#[derive(Debug)]
pub struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
    len: u64,
}

impl<W: Write> Hashing<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        use sha2::Digest;
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            len: 0,
        }
    }

    /// The writer, the byte count and the hash.
    pub fn finish(self) -> (W, u64, ContentHash) {
        (self.inner, self.len, ContentHash::from_hasher(self.hasher))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = ContentHash::of(b"hello");
        assert_eq!(
            h.to_string(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(h.to_string().parse::<ContentHash>().unwrap(), h);
        assert!("abc".parse::<ContentHash>().is_err());
        assert!("zz".repeat(32).parse::<ContentHash>().is_err());
    }
}
