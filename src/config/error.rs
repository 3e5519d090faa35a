//! The config's own errors. Validation works key by key: a value parser says what is
//! wrong ([`Invalid`]) without knowing which key held the value, the validator adds the
//! key ([`KeyError`]), and the entry points add the file and turn it into the crate's
//! [`Error::Config`] (or [`Error::Env`] when a `LOGFERRY_*` variable set the key).
//!
//! [`HostnameError`] is apart because the host's name is not config: it is needed only
//! when `destination.url` holds `{hostname}`, and a wrong one would make two hosts two
//! writers of one archive, so it is refused rather than guessed.

use std::path::PathBuf;

use crate::error::Error;

/// What is wrong with one value, with a hint when the fix is known; the key is added by
/// whoever knows it ([`Invalid::at`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub(super) String);

impl Invalid {
    /// The same message about `key`.
    pub(super) fn at(self, key: impl Into<String>) -> KeyError {
        KeyError {
            key: key.into(),
            message: self.0,
        }
    }
}

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Invalid(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Invalid(message.to_string())
    }
}

/// A check's outcome: the value, or what is wrong with which key.
pub(super) type Checked<T> = std::result::Result<T, KeyError>;

/// A bad value and the dotted key that holds it (`sources[0].min_age`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}`: {message}")]
pub(super) struct KeyError {
    /// The dotted key.
    pub key: String,
    /// What is wrong, with a hint when the fix is known.
    pub message: String,
}

impl KeyError {
    /// Shorthand for a message about `key`.
    pub(super) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        KeyError {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The crate's error, naming the file the key was read from.
    pub(super) fn in_file(self, file: Option<PathBuf>) -> Error {
        Error::config(file, self.key, self.message)
    }
}

/// Why this host's name cannot stand for `{hostname}` in a destination URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot use this host's name for {{hostname}}: {why}; set the host's name (e.g. hostnamectl set-hostname NAME), pass --hostname NAME to read that host's archive, or write this host's prefix in destination.url without {{hostname}}")]
pub struct HostnameError {
    why: HostnameProblem,
}

/// What is wrong with the name the system gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum HostnameProblem {
    #[error("the system gives an empty name")]
    Empty,
    #[error("`{0}` is not valid UTF-8")]
    NotUtf8(String),
    #[error("{0}")]
    Unusable(Invalid),
}

impl HostnameError {
    pub(super) fn empty() -> Self {
        HostnameError {
            why: HostnameProblem::Empty,
        }
    }

    pub(super) fn not_utf8(lossy: String) -> Self {
        HostnameError {
            why: HostnameProblem::NotUtf8(lossy),
        }
    }

    pub(super) fn unusable(why: Invalid) -> Self {
        HostnameError {
            why: HostnameProblem::Unusable(why),
        }
    }
}
