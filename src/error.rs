//! The one error type of the library.
//!
//! Every variant names the file, key or object it is about, keeps the underlying cause in
//! `source()`, and carries a hint when the fix is known, so the binary can print a single
//! useful line and choose an exit code without string matching.
//!
//! `Display` is the error's own message; the cause is in `source()`. Whatever shows an
//! error to a person or stores its text (the binary, log fields, a pass's report) goes
//! through [`Error::chain`], which adds each cause once: `read /x: <cause>`. One
//! exception: `Store` quotes its cause (and hint) in its message, because object_store's
//! messages carry their whole chain already; it then has no `source()`, so nothing shows
//! the cause twice.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop logferry from doing what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config file could not be read or parsed, or a key holds a bad value.
    #[error("config {}: {}{}", file_label(.file), key_label(.key), .message)]
    Config {
        /// The config file, when one was read.
        file: Option<PathBuf>,
        /// The dotted key, e.g. `sources[0].min_age`; empty when the whole file is at fault.
        key: String,
        /// What is wrong, with a hint when the fix is known.
        message: String,
    },

    /// A `LOGFERRY_*` environment variable overrides a config key with a bad value.
    #[error("environment variable {var}: {}{message}", key_label(.key))]
    Env {
        /// The variable, as it is spelled in the environment.
        var: String,
        /// The dotted key it sets, e.g. `upload_concurrency`.
        key: String,
        /// What is wrong, with a hint when the fix is known.
        message: String,
    },

    /// A local file or directory operation failed.
    #[error("{op} {}", .path.display())]
    Io {
        /// What was being done, e.g. `read`.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A request to the destination failed.
    // The one variant whose message quotes its cause, and so the one that does not
    // repeat it through `source()`: object_store's own messages already quote their
    // whole chain of sources, and library callers read the cause from `to_string()`
    // (the conformance suite does). The cause is printed once either way.
    #[error("{op} {key}: {}{}", one_line(&.cause.to_string()), hint_label(.hint))]
    Store {
        /// What was being done, e.g. `put`.
        op: &'static str,
        /// The object key or prefix.
        key: String,
        /// The object_store error (boxed: it is large and rare), quoted in the message.
        cause: Box<object_store::Error>,
        /// How to fix it, when known.
        hint: Option<String>,
    },

    /// Encryption stopped a read or a write: an identity or key is missing, refused or
    /// wrong, or bytes do not decrypt. Never quotes a secret.
    #[error(transparent)]
    Encryption(crate::crypt::CryptError),

    /// The destination could not be opened from its URL and options.
    #[error("destination {url}: {message} (hint: check [destination] url and options)")]
    Destination {
        /// The URL with any credentials removed.
        url: String,
        /// What is wrong.
        message: String,
    },

    /// Another logferry holds the state directory.
    #[error("state dir {} is locked by another logferry{}; run one agent per state_dir", .path.display(), holder_label(.holder))]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The pid written by the holder, when readable.
        holder: Option<String>,
    },

    /// Someone else committed the generation this pass meant to commit.
    #[error("commit conflict: manifest generation {generation} ({key}) already exists; another writer is archiving to this destination — give each agent its own prefix")]
    CommitConflict {
        /// The generation that was taken.
        generation: u64,
        /// Its key.
        key: String,
    },

    /// A manifest object or the local state holds something this version cannot read.
    #[error("{what} {location}: {message}")]
    Format {
        /// `manifest` or `state file`.
        what: &'static str,
        /// Key or path.
        location: String,
        /// What is wrong.
        message: String,
    },

    /// The local index in the state dir cannot be read or written.
    #[error("local index {}: {message} (it is a copy: remove it and the next pass rebuilds it from the destination)", path.display())]
    LocalIndex {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// No committed generation names this file.
    #[error("`{name}` was never archived (not in generation {generation})")]
    NotArchived {
        /// What was asked for.
        name: String,
        /// The generation searched.
        generation: u64,
    },

    /// More than one archived file answers to a name, with different content.
    #[error("`{name}` names several archived files with different content ({candidates}); pass --source")]
    Ambiguous {
        /// What was asked for.
        name: String,
        /// `source/path` of each.
        candidates: String,
    },

    /// The pass was stopped before its commit.
    #[error("pass interrupted before commit: {0}")]
    Interrupted(String),

    /// A generation the pass builds on is absent or not the one this host committed or
    /// read: the pass stops rather than commit on top of it.
    #[error("manifest generation {generation} ({key}) is damaged: {detail}; nothing committed on top of it (hint: `logferry verify` names the damage; `logferry verify --repair` commits a full checkpoint from the good copy in this state dir — see README \"Repairing a damaged generation\")")]
    DamagedGeneration {
        /// The generation.
        generation: u64,
        /// Its manifest key.
        key: String,
        /// What differs.
        detail: String,
    },

    /// A point-in-time read from before the retention window.
    #[error("{asked} is outside the retention window: expiry took out older versions; point-in-time reads are promised from {window_start} (the oldest generation kept is {floor})")]
    OutsideRetention {
        /// The time or generation asked for.
        asked: String,
        /// Where the window starts.
        window_start: String,
        /// The oldest generation kept.
        floor: u64,
    },

    /// `verify --repair` cannot re-commit the chain from this host.
    #[error("cannot repair generation {generation}: {message}")]
    Repair {
        /// The first generation that breaks the chain.
        generation: u64,
        /// Why, and what else to try.
        message: String,
    },

    /// A read found no committed generation at all under the destination's prefix: an
    /// archive that does not exist, not an empty one.
    #[error("no archive at {url}: no manifest generation is committed there{}", others_label(.others))]
    NoArchive {
        /// The URL looked at, without credentials.
        url: String,
        /// With `{hostname}` in the URL: the hosts that do have an archive beside it.
        others: Option<OtherHosts>,
    },
}

/// The hosts found with an archive under the part of a `{hostname}` URL before the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherHosts {
    /// The URL that was listed, without credentials.
    pub listed: String,
    /// Host names whose archive holds at least one manifest generation.
    pub names: Vec<String>,
    /// Names found but not checked, to keep the lookup to a few requests.
    pub unchecked: usize,
}

impl Error {
    /// Shorthand for a config error about one key.
    pub fn config(
        file: Option<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Config {
            file,
            key: key.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an I/O error on a path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Shorthand for a storage error on a key, with a hint derived from the error.
    pub fn store(op: &'static str, key: impl ToString, source: object_store::Error) -> Self {
        let source = match source {
            object_store::Error::Generic { store, source }
                if store == crate::crypt::stream::STORE_NAME =>
            {
                match source.downcast::<crate::crypt::CryptError>() {
                    Ok(e) => return Error::Encryption(*e),
                    Err(source) => object_store::Error::Generic { store, source },
                }
            }
            other => other,
        };
        Error::Store {
            op,
            key: key.to_string(),
            hint: hint_for(&source),
            cause: Box::new(source),
        }
    }

    /// True when retrying the same operation later may succeed: a destination request that
    /// failed in transport or with a server-side error (see `transient`), or a local
    /// I/O call that was interrupted or timed out. Never a refusal (4xx, credentials), a
    /// missing object, or a conditional write that met an existing object.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Store { cause, .. } => transient(cause),
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// The message and each cause once: what to show or store as this error's text.
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
    }

    /// True when the fault is in what the user asked for (config, usage), not the world.
    /// A destination that cannot even be built from its URL and options is a config fault.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Config { .. } | Error::Env { .. } | Error::Destination { .. }
        )
    }
}

/// [`Error::chain`]: an error on one line with its causes. A cause whose words are
/// already in the line (object_store's errors quote their own source) is not repeated.
pub struct Chain<'a>(&'a Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = std::error::Error::source(self.0);
        while let Some(c) = cause {
            // Server answers often carry newlines (XML bodies); an error is one line.
            let words = one_line(&c.to_string());
            if !words.is_empty() && !text.contains(&words) {
                text.push_str(": ");
                text.push_str(&words);
            }
            cause = c.source();
        }
        f.write_str(&text)
    }
}

/// Whether a failed request may succeed when sent again: the connection failed (refused,
/// reset, closed, timed out) before or while the answer was read, body included, or the
/// server answered 5xx, 429 (SlowDown) or 408. Everything else is an answer to act on:
/// `NotFound`, `AlreadyExists` and `Precondition` (the caller decides what they mean),
/// 4xx refusals, credentials, a bad path or configuration.
pub(crate) fn transient(e: &object_store::Error) -> bool {
    let object_store::Error::Generic { source, .. } = e else {
        return false;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(c) = cause {
        if c.downcast_ref::<object_store::client::HttpError>()
            .is_some()
        {
            return true;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | TimedOut | UnexpectedEof
            ) {
                return true;
            }
        }
        if server_status(&c.to_string()).is_some_and(|s| s >= 500 || s == 429 || s == 408) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The status object_store's retry error names ("… status code: 503 …"); its type is
/// private, so its words are all there is to read.
fn server_status(text: &str) -> Option<u16> {
    let (_, rest) = text.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

/// The likely fix for a failed storage request, from its kind and the server's words.
pub(crate) fn hint_for(e: &object_store::Error) -> Option<String> {
    let text = format!("{e:?} {e}").to_ascii_lowercase();
    let has = |w: &str| text.contains(w);
    let hint = if has("requesttimetooskewed") || has("clock skew") || has("request time too skewed")
    {
        "clock skew: the host clock is off; sync it (NTP)"
    } else if has("signaturedoesnotmatch")
        || has("invalidaccesskeyid")
        || has("authenticationfailed")
    {
        "credentials rejected: check the access key and secret"
    } else if has("nosuchbucket") || has("containernotfound") || has("bucket does not exist") {
        "bucket or container missing: create it, or fix the name in destination.url"
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || has("accessdenied")
        || has("status: 403")
    {
        "permission denied: the credentials need put, get, list and delete on this prefix"
    } else if has("connection refused")
        || has("dns error")
        || has("tcp connect")
        || has("timed out")
    {
        "cannot reach the endpoint: check destination.url, the endpoint option, allow_http and the network"
    } else if matches!(
        e,
        object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. }
    ) {
        "this store does not support the operation"
    } else {
        return None;
    };
    Some(hint.to_string())
}

/// Words separated by single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn file_label(file: &Option<PathBuf>) -> String {
    match file {
        Some(f) => f.display().to_string(),
        None => "(defaults and environment)".to_string(),
    }
}

fn key_label(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("key `{key}`: ")
    }
}

fn hint_label(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!(" (hint: {h})"))
        .unwrap_or_default()
}

fn others_label(others: &Option<OtherHosts>) -> String {
    match others {
        None => {
            " (hint: check destination.url, or run a pass on the host that archives there first)"
                .to_string()
        }
        Some(o) if o.names.is_empty() => format!(
            "; no host under {} has one either{} (hint: check destination.url)",
            o.listed,
            if o.unchecked > 0 {
                format!(
                    " among the names checked ({} more not checked)",
                    o.unchecked
                )
            } else {
                String::new()
            }
        ),
        Some(o) => {
            let more = if o.unchecked > 0 {
                format!(" (and {} more names not checked)", o.unchecked)
            } else {
                String::new()
            };
            format!(
                "; hosts with an archive under {}: {}{more} (hint: pass --hostname NAME to read another host's archive)",
                o.listed,
                o.names.join(", ")
            )
        }
    }
}

fn holder_label(holder: &Option<String>) -> String {
    holder
        .as_ref()
        .map(|h| format!(" (pid {h})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(text: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: text.to_string().into(),
        }
    }

    #[test]
    fn a_cause_is_in_the_chain_once_and_not_in_the_message() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such thing here");
        let e = Error::io("read", "/var/log/app.log", cause);
        assert_eq!(e.to_string(), "read /var/log/app.log");
        let chain = e.chain().to_string();
        assert_eq!(chain, "read /var/log/app.log: no such thing here");
        assert_eq!(chain.matches("no such thing here").count(), 1);
        let store = Error::store("get", "k", generic("denied\n  AccessDenied"));
        let chain = store.chain().to_string();
        assert_eq!(chain.matches("AccessDenied").count(), 1, "{chain}");
        assert!(chain.starts_with("get k: "), "{chain}");
        assert!(
            std::error::Error::source(&store).is_none(),
            "the message quotes the cause, so source() must not repeat it"
        );
        assert!(
            chain.ends_with(")") && chain.contains("(hint: permission"),
            "{chain}"
        );
    }

    #[test]
    fn transient_means_transport_or_server_side() {
        let reset = object_store::Error::Generic {
            store: "S3",
            source: Box::new(object_store::client::HttpError::new(
                object_store::client::HttpErrorKind::Interrupted,
                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
            )),
        };
        assert!(transient(&reset));
        assert!(transient(&generic(
            "Error performing PUT in 1s - Server returned non-2xx status code: 503 Service Unavailable: SlowDown"
        )));
        assert!(transient(&generic("status code: 429 Too Many Requests")));
        assert!(!transient(&generic("status code: 400 Bad Request")));
        assert!(!transient(&generic("no such thing")));
        let not_found = object_store::Error::NotFound {
            path: "k".into(),
            source: "404".into(),
        };
        assert!(!transient(&not_found));
        assert!(Error::store("put", "k", reset).is_transient());
        assert!(!Error::store("get", "k", not_found).is_transient());
    }
}
