//! How archived bytes are stored: as they are, or zstd-compressed. Encoding is fed the
//! original bytes chunk by chunk and hands back what to store; decoding writes the
//! original bytes to any `Write` while they arrive. Both stream, so memory does not grow
//! with file size.

use std::io::Write;

use serde::{Deserialize, Serialize};

/// How an object's bytes relate to the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Compression {
    /// The object holds the original bytes.
    None,
    /// The object is a zstd frame of the original bytes (key ends in `.zst`).
    Zstd,
}

impl Compression {
    /// The key suffix for objects stored this way.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Zstd => ".zst",
        }
    }
}

/// The codec chosen for new objects of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    /// Which compression.
    pub compression: Compression,
    /// zstd level (ignored for `None`).
    pub level: i32,
}

impl Codec {
    /// Store as they are.
    pub const PLAIN: Codec = Codec {
        compression: Compression::None,
        level: 0,
    };
}

/// Turns original bytes into stored bytes, incrementally.
pub(crate) enum Encoder {
    /// Pass-through.
    Plain(Vec<u8>),
    /// zstd into an in-memory buffer that the caller drains.
    Zstd(Box<zstd::stream::write::Encoder<'static, Vec<u8>>>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::Plain(_) => "Encoder::Plain",
            Encoder::Zstd(_) => "Encoder::Zstd",
        })
    }
}

impl Encoder {
    /// A fresh encoder for `codec`.
    pub(crate) fn new(codec: Codec) -> std::io::Result<Self> {
        Ok(match codec.compression {
            Compression::None => Encoder::Plain(Vec::new()),
            Compression::Zstd => Encoder::Zstd(Box::new(zstd::stream::write::Encoder::new(
                Vec::new(),
                codec.level,
            )?)),
        })
    }

    /// Feeds original bytes.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Plain(buf) => {
                buf.extend_from_slice(bytes);
                Ok(())
            }
            Encoder::Zstd(z) => z.write_all(bytes),
        }
    }

    /// Stored bytes ready so far.
    pub(crate) fn pending(&self) -> usize {
        match self {
            Encoder::Plain(buf) => buf.len(),
            Encoder::Zstd(z) => z.get_ref().len(),
        }
    }

    /// Takes the stored bytes ready so far.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Plain(buf) => std::mem::take(buf),
            Encoder::Zstd(z) => std::mem::take(z.get_mut()),
        }
    }

    /// Ends the stream and returns the last stored bytes.
    pub(crate) fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Plain(buf) => Ok(buf),
            Encoder::Zstd(z) => z.finish(),
        }
    }
}

/// Writes original bytes to `W` from stored bytes.
pub enum Decoder<W: Write> {
    /// Pass-through.
    Plain(W),
    /// zstd frame decoder.
    Zstd(Box<zstd::stream::write::Decoder<'static, W>>),
}

impl<W: Write> Decoder<W> {
    /// A decoder for objects stored as `compression`, writing to `out`.
    pub fn new(compression: Compression, out: W) -> std::io::Result<Self> {
        Ok(match compression {
            Compression::None => Decoder::Plain(out),
            Compression::Zstd => Decoder::Zstd(Box::new(zstd::stream::write::Decoder::new(out)?)),
        })
    }

    /// Feeds stored bytes.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Plain(w) => w.write_all(bytes),
            Decoder::Zstd(z) => z.write_all(bytes),
        }
    }

    /// Flushes and returns the writer.
    pub fn finish(self) -> std::io::Result<W> {
        match self {
            Decoder::Plain(w) => Ok(w),
            Decoder::Zstd(mut z) => {
                z.flush()?;
                Ok(z.into_inner())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(codec: Codec, data: &[u8]) -> Vec<u8> {
        let mut enc = Encoder::new(codec).unwrap();
        let mut stored = Vec::new();
        for chunk in data.chunks(1000) {
            enc.write(chunk).unwrap();
            stored.extend(enc.take());
        }
        stored.extend(enc.finish().unwrap());
        let mut dec = Decoder::new(codec.compression, Vec::new()).unwrap();
        for chunk in stored.chunks(777) {
            dec.write(chunk).unwrap();
        }
        let out = dec.finish().unwrap();
        assert_eq!(out, data);
        stored
    }

    #[test]
    fn zstd_round_trips_and_shrinks_logs() {
        let log: Vec<u8> = (0..5000)
            .flat_map(|i| {
                format!("2026-11-21T10:00:{:02}Z INFO request {i} served\n", i % 60).into_bytes()
            })
            .collect();
        let stored = round_trip(
            Codec {
                compression: Compression::Zstd,
                level: 3,
            },
            &log,
        );
        assert!(
            stored.len() * 5 < log.len(),
            "{} -> {}",
            log.len(),
            stored.len()
        );
        assert_eq!(round_trip(Codec::PLAIN, &log).len(), log.len());
        round_trip(
            Codec {
                compression: Compression::Zstd,
                level: 3,
            },
            b"",
        );
    }
}
