//! logferry archives closed log files to object storage, incrementally.
//!
//! A pass scans the configured sources for closed files, compares them with the last
//! committed manifest generation, uploads only new or changed content to content-addressed
//! keys, and then commits the next generation with a create-only put. The binary wraps
//! this in a CLI and a scheduler; the library can run a pass on its own:
//!
//! ```
//! use logferry::{config_from_toml, open_store, run_once, SystemClock};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("logs"))?;
//! std::fs::write(dir.path().join("logs/app.log.1"), "rotated line\n")?;
//!
//! let toml = r#"
//!     state_dir = "state"
//!     [destination]
//!     url = "memory://"
//!     [[sources]]
//!     name = "app"
//!     path = "logs"
//!     min_age = "0s"
//! "#;
//! let config = config_from_toml(toml, dir.path(), std::iter::empty())?;
//! let store = open_store(&config.destination)?;
//!
//! let first = run_once(&config, &store, &SystemClock).await?;
//! assert_eq!((first.files_uploaded, first.generation), (1, Some(1)));
//!
//! // Nothing changed: nothing is uploaded and no generation is written.
//! let second = run_once(&config, &store, &SystemClock).await?;
//! assert_eq!((second.files_uploaded, second.generation), (0, None));
//! # Ok(())
//! # }
//! ```
//!
//! # Code map
//!
//! One folder per subsystem, shared vocabulary in leaf files; a layer imports only the
//! layers below it (`tests/it/layers.rs` checks it, and that no two files import each
//! other in a cycle).
//!
//! | layer | where | its job |
//! |---|---|---|
//! | L0 | `error.rs` | the one [`Error`]: names the path or key, keeps the cause in `source()`, hints at the fix |
//! | L0 | `time.rs` | the injected [`Clock`], [`Timestamp`] and RFC 3339 text |
//! | L0 | `fsstat.rs` | [`FileStat`]: what a stat says of a file, and file identity |
//! | L0 | `digest.rs` | [`ContentHash`]: streaming sha256, proven against the file's stat |
//! | L0 | `codec.rs` | [`Compression`]: streaming zstd encode and decode |
//! | L0 | `crypt/` | client-side encryption's primitives: age [`Recipients`] and [`Identities`], the archive key and what derives from it (keyed names, sealing), the streaming age codec; `error.rs` carries its [`CryptError`] |
//! | L0 | `glob.rs` | [`Matcher`]: gitignore-style include and exclude over globset |
//! | L0 | `report.rs` | [`RunReport`] and [`Outcome`]: what a pass did |
//! | L1 | `config/` | TOML and `LOGFERRY_*` in, a validated [`Config`] out: raw reading, validation by concern, destination and source rules, checks of values that would do nothing, display; preflight of the paths on disk (for `check-config`) |
//! | L2 | `remote/` | the destination as an `Arc<dyn ObjectStore>` ([`Store`]), the remote layout (the one place keys are built), the encryption layer that stores those keys keyed and the catalog sealed (`crypt_store.rs`, with the archive key found by `keys.rs`), reading an object back, retries, backing off when the store throttles ([`Limiter`]), the probe, deleting an object that S3 Object Lock may keep ([`delete_object`]) |
//! | L2 | `catalog/` | the archive's record: manifest format, the chain and its folds, the index a reader loads, generations in the bucket (list, read, create-only commit), loading a state part by part, building the next generation, version records, the local index (SQLite), audit findings, history |
//! | L2 | `state/` | the state dir: its lock, the stat cache, the status history, the one atomic writer; never talks to the remote |
//! | L3 | `archive/` | one pass: `worker.rs` is the only orchestrator and sequences the stages (`sync`, `scan`, `diff`, `upload`, `commit`, `cleanup`, `disk`), which never import each other, and the operator's `pre_pass`/`post_pass` hooks around them (`hooks`) |
//! | L3 | `restore/` | the read side: restore, fetch, verify, `archived`; never writes the archive |
//! | L3 | `retention/` | expiry of what the retention rules let go; orphans no generation names |
//! | L4 | `service/` | the agent loop, the schedule (pure), file events, metrics and their HTTP endpoint, the heartbeat ping, systemd; nothing in the library imports it |
//! | L5 | `src/bin/logferry/` | the binary: clap arguments, one file per command, output and exit codes, signals |
//!
//! Where new code goes: a new backend option is a key in `config/destination.rs` read by
//! `remote/store.rs`; a new stage of the pass is a file in `archive/` called from
//! `worker.rs` only; a new read command is a file in `restore/` plus its printing in
//! `src/bin/logferry/commands/`; a new metric is a line in `service/metrics.rs` fed
//! from [`RunReport`].

// Layers, bottom up (see the code map above). Every module is crate-private; the
// public API is the one list below.

// L0: shared vocabulary, leaves.
mod codec;
mod crypt;
mod digest;
mod error;
mod fsstat;
mod glob;
mod report;
mod time;

// L1: the configuration.
mod config;

// L2: the archive's record, the remote, the state dir.
mod catalog;
mod remote;
mod state;

// L3: a pass, the read side, retention.
mod archive;
mod restore;
mod retention;

// L4: the service around the pass.
mod service;

pub use crate::archive::{
    control::{Control, PassProgress},
    preview::{Preview, PreviewFile},
    reencrypt::{re_encrypt, ReEncryptReport},
    repair::{recommit_checkpoint, reupload_objects},
    worker::{preview_once, run_once, run_once_with},
};
pub use crate::catalog::{
    audit::{Finding, VerifyReport},
    chain::Chain as GenerationChain,
    history::{restorable as restorable_versions, version_path, Window},
    index::Index,
    load::{fetch_inline, load_at, load_latest},
    manifest::{Entry, Expiry, Generation, GenerationNo, Kind},
    records::{find as find_archived, Lookup},
    remote::{
        commit as commit_generation, exists as generation_exists, fetch as fetch_generation,
        generation_at, latest_commit, list_generations, LatestCommit,
    },
};
pub use crate::codec::{Codec, Compression, Decoder};
pub use crate::config::{
    destination::scrub as scrub_secrets,
    destination::Encryption,
    error::HostnameError,
    from_toml_str as config_from_toml,
    hostname::{check_hostname, system_hostname},
    load as load_config, load_as as load_config_as,
    preflight::{preflight as preflight_config, Finding as ConfigFinding, Severity},
    Config, Heartbeat, Keep, LogFormat, PassHooks, Retention, DEFAULT_CONFIG_PATH,
    DEFAULT_HOOK_TIMEOUT, DEFAULT_RETENTION_INTERVAL,
};
pub use crate::crypt::{write_identity, CryptError, Identities, Recipients};
pub use crate::digest::{hash_file, ContentHash, DigestError, Hashing};
pub use crate::error::{Chain, Error, Result};
pub use crate::fsstat::FileStat;
pub use crate::glob::Matcher;
pub use crate::remote::{
    delete as delete_object,
    hosts::{each_host, no_archive, HostPrefix, HostPrefixes, Unlistable},
    layout::{data_key, manifest_key},
    probe::{probe, Check as ProbeCheck},
    store::{open as open_store, open_raw as open_store_raw, open_with_limiter, s3_builder, Store},
    throttle::{Limiter, Permit, ThrottleWindow},
    Deletion,
};
pub use crate::report::{human_bytes, Outcome, RunReport, SourceDisk};
pub use crate::restore::{
    ack::{check as check_archived, state_stamp, Ack, StateStamp},
    files::{
        download_verified, find as find_entry, restore, FileResult, RestoreOptions, RestoreReport,
    },
    verify::{all_generations, readable_generations, verify, verify_with, ReadData, ReadProgress},
    versions::all_versions,
    window::{check_at, load_kept},
};
pub use crate::retention::expire::{expire, expire_if_due, ExpireOptions, ExpireReport, Locked};
pub use crate::retention::ledger::{read_status as read_retention_status, RetentionStatus};
pub use crate::retention::prune::{parse_grace, prune_orphans, DEFAULT_GRACE};
pub use crate::service::{
    agent::{run as run_agent, Archive, Event, Hooks, NoHooks, Options as AgentOptions},
    heartbeat::{ping as ping_heartbeat, round_ok, spawn_ping as spawn_heartbeat},
    metrics::Metrics,
    schedule::{check_future_tick, host_seed, next_passes, rfc3339_in},
    systemd::{watchdog_interval, Notifier},
    watch::spawn as spawn_watches,
};
pub use crate::state::{history::read_status, LockHolder, StateDir};
pub use crate::time::{
    monotonic, parse_rfc3339, rfc3339, BadTimestamp, Clock, SystemClock, Timestamp,
};
