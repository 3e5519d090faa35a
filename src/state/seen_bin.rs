//! The stat cache's on-disk format (version 4, `seen.bin`): fixed-width little-endian
//! records after a table of source names, and a CRC-64 of everything before it. A pass
//! with nothing new reads this file whole on every run, so reading it must cost a copy
//! and a checksum, not a parse: JSON (version 3) spent more time here than in the walk.
//!
//! ```text
//! magic "LFSEEN\0\0" | u32 version | u32 sources | u64 records
//! sources × (u32 length, UTF-8 name)
//! records × (u32 source index, u32 path length, u64 dev, ino, size,
//!            i64 mtime_ns, ctime_ns, btime_ns, seen_at_ns, u8 flags, [u8; 32] sha256,
//!            UTF-8 path)
//! u64 CRC-64/NVME of all the bytes above
//! ```
//!
//! Records are in (source, path) order. Flags bit 0: the birth time is known.

use std::collections::BTreeMap;
use std::io::Write;

use crc_fast::{CrcAlgorithm, Digest};

use super::record::Seen;
use crate::digest::ContentHash;
use crate::fsstat::{FileId, FileStat};

/// The first bytes of every version-4 stat cache.
const MAGIC: &[u8; 8] = b"LFSEEN\0\0";
/// The version this code reads and writes.
pub(crate) const VERSION: u32 = 4;
const HEADER: usize = 8 + 4 + 4 + 8;
const FIXED: usize = 4 + 4 + 8 * 3 + 8 * 4 + 1 + 32;
const TRAILER: usize = 8;
const CRC: CrcAlgorithm = CrcAlgorithm::Crc64Nvme;

/// Why a stat cache file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum SeenFormatError {
    /// Not this format at all.
    #[error("not a logferry stat cache (it does not start with the format's magic bytes)")]
    Magic,
    /// A version this release does not know (a newer logferry wrote it?).
    #[error("stat cache version {0}, but this logferry reads version {VERSION} (written by a newer release?)")]
    Version(u32),
    /// Shorter than its header says (a torn copy, a full disk).
    #[error("truncated: {0}")]
    Truncated(&'static str),
    /// The checksum does not match: some bytes changed after it was written.
    #[error("checksum mismatch: the file was damaged after it was written")]
    Checksum,
    /// Checksummed but inconsistent: not written by logferry.
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

/// Reads a version-4 stat cache from its bytes.
pub(crate) fn decode(bytes: &[u8]) -> Result<BTreeMap<FileId, Seen>, SeenFormatError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SeenFormatError::Magic);
    }
    let mut r = Reader {
        bytes,
        at: MAGIC.len(),
    };
    let version = r.u32("the header")?;
    if version != VERSION {
        return Err(SeenFormatError::Version(version));
    }
    if bytes.len() < HEADER + TRAILER {
        return Err(SeenFormatError::Truncated("the header"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - TRAILER);
    if crc_fast::checksum(CRC, body).to_le_bytes() != crc {
        return Err(SeenFormatError::Checksum);
    }
    r.bytes = body;
    let n_sources = r.u32("the header")? as usize;
    let n_records = r.u64("the header")?;
    let mut sources = Vec::with_capacity(n_sources.min(body.len() / 4));
    for _ in 0..n_sources {
        let len = r.u32("the source names")? as usize;
        sources.push(r.str(len, "the source names")?);
    }
    // The count is checksummed, but a record takes at least FIXED bytes: never reserve
    // more than the file can hold.
    let cap = (n_records as usize).min(body.len() / FIXED);
    let mut records = Vec::with_capacity(cap);
    for _ in 0..n_records {
        records.push(r.record(&sources)?);
    }
    if r.at != body.len() {
        return Err(SeenFormatError::Malformed("bytes after the last record"));
    }
    Ok(records.into_iter().collect())
}

/// A cursor over the checksummed bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SeenFormatError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(SeenFormatError::Truncated(what))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SeenFormatError> {
        Ok(self.take(N, what)?.try_into().expect("N bytes taken"))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, SeenFormatError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, SeenFormatError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, SeenFormatError> {
        self.array(what).map(i64::from_le_bytes)
    }

    fn str(&mut self, len: usize, what: &'static str) -> Result<&'a str, SeenFormatError> {
        std::str::from_utf8(self.take(len, what)?)
            .map_err(|_| SeenFormatError::Malformed("a name is not UTF-8"))
    }

    fn record(&mut self, sources: &[&str]) -> Result<(FileId, Seen), SeenFormatError> {
        const WHAT: &str = "a record";
        let source = *sources
            .get(self.u32(WHAT)? as usize)
            .ok_or(SeenFormatError::Malformed("a record names no known source"))?;
        let path_len = self.u32(WHAT)? as usize;
        let (dev, ino, size) = (self.u64(WHAT)?, self.u64(WHAT)?, self.u64(WHAT)?);
        let (mtime_ns, ctime_ns) = (self.i64(WHAT)?, self.i64(WHAT)?);
        let (btime_ns, seen_at_ns) = (self.i64(WHAT)?, self.i64(WHAT)?);
        let flags = self.array::<1>(WHAT)?[0];
        let sha256 = ContentHash(self.array(WHAT)?);
        let path = self.str(path_len, WHAT)?;
        let stat = FileStat {
            dev,
            ino,
            size,
            mtime_ns,
            ctime_ns,
            btime_ns: (flags & 1 == 1).then_some(btime_ns),
        };
        let seen = Seen {
            stat,
            sha256,
            seen_at_ns,
        };
        Ok(((source.to_string(), path.to_string()), seen))
    }
}

/// Writes `seen` in version 4 to `out`, record by record (never held whole twice).
pub(crate) fn encode(seen: &BTreeMap<FileId, Seen>, out: impl Write) -> std::io::Result<()> {
    let mut sources: Vec<&str> = Vec::new();
    for (source, _) in seen.keys() {
        // In (source, path) order, so each source's records are together.
        if sources.last() != Some(&source.as_str()) {
            sources.push(source);
        }
    }
    let mut w = Checksummed {
        out,
        crc: Digest::new(CRC),
    };
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    w.write_all(&len32(sources.len())?.to_le_bytes())?;
    w.write_all(&(seen.len() as u64).to_le_bytes())?;
    for s in &sources {
        w.write_all(&len32(s.len())?.to_le_bytes())?;
        w.write_all(s.as_bytes())?;
    }
    let mut index = 0u32;
    for ((source, path), r) in seen {
        while sources[index as usize] != source.as_str() {
            index += 1;
        }
        let mut fixed = [0u8; FIXED];
        let fields: [&[u8]; 11] = [
            &index.to_le_bytes(),
            &len32(path.len())?.to_le_bytes(),
            &r.stat.dev.to_le_bytes(),
            &r.stat.ino.to_le_bytes(),
            &r.stat.size.to_le_bytes(),
            &r.stat.mtime_ns.to_le_bytes(),
            &r.stat.ctime_ns.to_le_bytes(),
            &r.stat.btime_ns.unwrap_or(0).to_le_bytes(),
            &r.seen_at_ns.to_le_bytes(),
            &[u8::from(r.stat.btime_ns.is_some())],
            &r.sha256.0,
        ];
        let mut at = 0;
        for f in fields {
            fixed[at..at + f.len()].copy_from_slice(f);
            at += f.len();
        }
        w.write_all(&fixed)?;
        w.write_all(path.as_bytes())?;
    }
    let crc = w.crc.finalize();
    w.out.write_all(&crc.to_le_bytes())
}

fn len32(n: usize) -> std::io::Result<u32> {
    u32::try_from(n).map_err(|_| std::io::Error::other("a name longer than 4 GiB"))
}

/// A writer that checksums what passes through it.
struct Checksummed<W> {
    out: W,
    crc: Digest,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<FileId, Seen> {
        let mut seen = BTreeMap::new();
        for (i, (source, path)) in [("app", "a.log"), ("app", "d/b.log"), ("db", "wal/1")]
            .into_iter()
            .enumerate()
        {
            let stat = FileStat {
                dev: 1 + i as u64,
                ino: 100 + i as u64,
                size: 3,
                mtime_ns: -4,
                ctime_ns: 5,
                btime_ns: (i != 1).then_some(6),
            };
            let record = Seen {
                stat,
                sha256: ContentHash::of(path.as_bytes()),
                seen_at_ns: 9_000_000_000,
            };
            seen.insert((source.to_string(), path.to_string()), record);
        }
        seen
    }

    fn encoded(seen: &BTreeMap<FileId, Seen>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(seen, &mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_every_field_and_an_empty_cache() {
        let seen = sample();
        assert_eq!(decode(&encoded(&seen)).unwrap(), seen);
        assert!(decode(&encoded(&BTreeMap::new())).unwrap().is_empty());
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = encoded(&sample());
        for len in 0..bytes.len() {
            let err = decode(&bytes[..len]).unwrap_err();
            assert!(
                matches!(
                    err,
                    SeenFormatError::Magic
                        | SeenFormatError::Truncated(_)
                        | SeenFormatError::Checksum
                ),
                "{len}: {err}"
            );
        }
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let bytes = encoded(&sample());
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(decode(&damaged).is_err(), "a flipped bit at {at} was read");
        }
    }

    #[test]
    fn an_unknown_version_is_named() {
        let mut bytes = encoded(&sample());
        bytes[8..12].copy_from_slice(&5u32.to_le_bytes());
        let err = decode(&bytes).unwrap_err();
        assert_eq!(err, SeenFormatError::Version(5));
        assert!(err.to_string().contains("version 5"), "{err}");
        assert_eq!(decode(b"{\"version\":3}"), Err(SeenFormatError::Magic));
    }
}
