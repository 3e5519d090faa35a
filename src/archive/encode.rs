//! A file's stored bytes as they are made for a multipart upload: encoded (as they
//! are, or zstd), then encrypted to the recipients when its source asks, each stage
//! streaming so memory stays near one part.

use crate::codec::{Codec, Encoder};
use crate::crypt::stream::AgeEncoder;
use crate::crypt::Recipients;

/// The stored bytes of a file sent in parts: encoded, then encrypted when asked.
pub(crate) enum Pipeline {
    Encoded(Encoder),
    Sealed(Encoder, AgeEncoder),
}

impl Pipeline {
    pub(crate) fn new(codec: Codec, seal: Option<&Recipients>) -> std::io::Result<Pipeline> {
        let enc = Encoder::new(codec)?;
        Ok(match seal {
            None => Pipeline::Encoded(enc),
            Some(to) => Pipeline::Sealed(enc, AgeEncoder::new(to)?),
        })
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Pipeline::Encoded(e) => e.write(data),
            Pipeline::Sealed(e, age) => {
                e.write(data)?;
                age.write(&e.take())
            }
        }
    }

    pub(crate) fn pending(&self) -> usize {
        match self {
            Pipeline::Encoded(e) => e.pending(),
            Pipeline::Sealed(_, age) => age.pending(),
        }
    }

    pub(crate) fn take(&mut self) -> Vec<u8> {
        match self {
            Pipeline::Encoded(e) => e.take(),
            Pipeline::Sealed(_, age) => age.take(),
        }
    }

    pub(crate) fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Pipeline::Encoded(e) => e.finish(),
            Pipeline::Sealed(e, mut age) => {
                age.write(&e.finish()?)?;
                age.finish()
            }
        }
    }
}
