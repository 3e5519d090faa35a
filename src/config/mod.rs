//! Configuration: what logferry archives, where to, and when. A TOML file and
//! `LOGFERRY_*` environment overrides are read into a raw, loosely typed form
//! (`raw.rs`, `env.rs`), then every key is validated into the typed [`Config`]
//! (`validate.rs`, `source.rs`, `values.rs`, `checks.rs`, `crontab.rs`,
//! `destination.rs`, `hostname.rs`, `hooks.rs`, `limits.rs`) and printed back by `check-config`
//! (`display.rs`).
//! `preflight.rs` asks the file system about a valid config's paths, apart from
//! validation, for `check-config` and the agent's start.
//!
//! This file holds the typed config and its entry points: loading, reading another
//! host's archive, one config per archive, and errors about a key found after loading.
//! An error names the file and the key, or the variable when the environment set it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::codec::Codec;
use crate::error::{Error, Result};

mod checks;
mod crontab;
pub(crate) mod destination;
mod display;
mod encryption;
mod env;
pub(crate) mod error;
pub(crate) mod hooks;
pub(crate) mod hostname;
mod limits;
pub(crate) mod preflight;
mod raw;
pub(crate) mod retention;
mod source;
#[cfg(test)]
mod tests;
mod validate;
mod values;

pub(crate) use crate::glob::Matcher;
pub(crate) use crontab::Cron;
pub(crate) use destination::{
    is_secret_option, parse_destination_url, redact_url, scrub, shown_option, Destination,
    DestinationUrl, Encryption, UploadChecksum, CHECKSUM_OPTIONS, HOSTNAME_VAR, SOURCE_VAR,
};
pub(crate) use error::Invalid;
pub(crate) use hooks::PASS_ENV_PREFIX;
pub use hooks::{Heartbeat, PassHooks, DEFAULT_HOOK_TIMEOUT};
pub(crate) use hostname::check_hostname;
use hostname::expand_hostname_as;
use limits::MEMORY_BUDGET_THRESHOLDS;
pub use retention::{Keep, Retention, DEFAULT_RETENTION_INTERVAL};
pub(crate) use values::parse_schedule;

/// Where the agent looks for its config file when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/logferry/logferry.toml";
/// How old an orphan, an abandoned upload or a staging file must be before it is removed
/// unless told otherwise: longer than any pass.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Default `state_dir`.
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/logferry";
/// Default `schedule`: every five minutes, on the minute.
pub(crate) const DEFAULT_SCHEDULE: &str = "0 */5 * * * *";
/// Default `sources[].min_age`.
pub(crate) const DEFAULT_MIN_AGE: Duration = Duration::from_secs(60);
/// Default `destination.connect_timeout`.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `destination.request_timeout`: one request, including a whole part upload.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `destination.max_retries` for a transient failure of one request.
pub(crate) const DEFAULT_MAX_RETRIES: usize = 10;
/// Largest accepted `destination.max_retries`.
pub(crate) const MAX_MAX_RETRIES: usize = 100;
/// Default `destination.retry_timeout`: how long one request keeps being retried.
pub(crate) const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(180);
/// Default `marker_dir` for `closed_by = "ready-marker"` (PostgreSQL's).
pub(crate) const DEFAULT_MARKER_DIR: &str = "archive_status";
/// Default `marker_suffixes`: PostgreSQL marks a finished segment `.ready`, then `.done`
/// once archive_command succeeded.
pub(crate) const DEFAULT_MARKER_SUFFIXES: [&str; 2] = [".ready", ".done"];
/// Default zstd level.
pub(crate) const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Default `shutdown_grace`.
pub(crate) const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Prefix of environment variables that override config keys.
pub(crate) const ENV_PREFIX: &str = "LOGFERRY";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from; relative paths in it were resolved against its directory.
    pub file: Option<PathBuf>,
    /// The directory relative paths resolve against.
    pub base_dir: PathBuf,
    /// Manifest cache, status and lock.
    pub state_dir: PathBuf,
    /// When the service runs a pass.
    pub schedule: Schedule,
    /// Each pass starts up to this much after its tick, to spread a fleet.
    pub jitter: Duration,
    /// How long a running pass may finish after SIGTERM before it is aborted.
    pub shutdown_grace: Duration,
    /// Where `logferry run` serves `/metrics` and `/healthz`.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Where `--run-once` writes its metrics for node_exporter's textfile collector.
    pub metrics_textfile: Option<PathBuf>,
    /// How log lines look.
    pub log_format: LogFormat,
    /// Files read, hashed and compressed at once during a pass.
    pub hash_workers: usize,
    /// Requests to the destination at once.
    pub requests_in_flight: usize,
    /// Files up to this size go up in one request, in bytes.
    pub multipart_threshold: u64,
    /// The part size of a multipart upload, in bytes.
    pub part_size: u64,
    /// Where archives go.
    pub destination: Destination,
    /// What gets archived.
    pub sources: Vec<Source>,
    /// What expiry keeps, and how it runs.
    pub retention: Retention,
    /// Commands run before and after each pass.
    pub hooks: PassHooks,
    /// Pinged after each round of passes (`None`: no heartbeat).
    pub heartbeat: Option<Heartbeat>,
    /// Things the operator should hear about that did not stop the load: one line each
    /// (e.g. an ignored `LOGFERRY_*` variable). The caller prints or logs them.
    pub warnings: Vec<String>,
    /// (dotted key, variable) of every key set by a `LOGFERRY_*` variable, so that an
    /// error about such a key names the variable.
    pub overridden: Vec<(String, String)>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// When the agent runs passes, kept with the text it was written as.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written in the config (`schedule`, or `interval` when that is used).
    pub text: String,
    /// Cron ticks or a fixed interval.
    pub kind: ScheduleKind,
}

/// The two ways of saying when.
#[derive(Debug, Clone)]
pub enum ScheduleKind {
    /// Wall-clock ticks of a cron expression (with crontab's weekdays), in a timezone
    /// (`None`: the host's local time, as crontab does).
    Cron(Box<Cron>, Option<chrono_tz::Tz>),
    /// A pass this long after the start of the previous one.
    Interval(Duration),
}

/// How a source tells that a file is closed (no longer written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedBy {
    /// Unmodified for `min_age` (rotated application logs).
    Quiet,
    /// Every matching file but the highest in natural sort order (binlogs, Kafka
    /// segments, numbered sequences): the highest is the one being written.
    NotNewest,
    /// A marker file `<dir>/<name><suffix>` next to the file exists for one of the
    /// suffixes (PostgreSQL's `archive_status/<segment>.ready` / `.done`).
    ReadyMarker {
        /// Marker directory, relative to the file's directory.
        dir: String,
        /// Marker suffixes.
        suffixes: Vec<String>,
    },
}

/// Whether a file name, once archived, may take other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// The producer promises unique names (WAL segments, binlogs): other content under an
    /// archived name is a conflict, reported and never recorded.
    Immutable,
    /// Names come back with new content (logrotate's `app.log.1`): each content is a new
    /// version of the name.
    Reused,
}

impl Names {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            Names::Immutable => "immutable",
            Names::Reused => "reused",
        }
    }
}

/// One configured set of log files.
#[derive(Debug, Clone)]
pub struct Source {
    /// Names the source in keys and listings.
    pub name: String,
    /// Directory walked recursively.
    pub path: PathBuf,
    /// Files must match one of these (empty: every file).
    pub include: Matcher,
    /// Files matching any of these are skipped.
    pub exclude: Matcher,
    /// A file's mtime must be at least this old.
    pub min_age: Duration,
    /// How the source tells that a file is closed.
    pub closed_by: ClosedBy,
    /// Whether an archived name may take other content.
    pub names: Names,
    /// File events on this source nudge an early pass.
    pub watch: bool,
    /// How new objects of this source are stored.
    pub codec: Codec,
    /// When its archived versions may expire.
    pub keep: Keep,
    /// A local file archived as it is for this long is deleted (`None`: never).
    pub delete_after_archive: Option<Duration>,
    /// Whom new objects of this source are encrypted to (`None`: stored as they are).
    pub encryption: Option<crate::crypt::Recipients>,
}

/// Reads `file` (required) and the `LOGFERRY_*` entries of `env`, then validates.
///
/// `env` is passed in rather than read here so that the library holds no global state;
/// the binary passes its own environment.
pub fn load<I>(file: &Path, env: I) -> Result<Config>
where
    I: IntoIterator<Item = (String, String)>,
{
    load_as(file, env, None)
}

/// [`load`], with `host` standing for `{hostname}` in `destination.url` instead of this
/// host's name: a read command's `--hostname`, so that it works on a host whose own name
/// cannot be used. An unusable `host` is ignored here; [`Config::for_hostname`] says why.
pub fn load_as<I>(file: &Path, env: I, host: Option<&str>) -> Result<Config>
where
    I: IntoIterator<Item = (String, String)>,
{
    let text = std::fs::read_to_string(file).map_err(|e| {
        let message = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "file not found; pass --config PATH or create it (see examples/local-mirror.toml)"
                    .to_string()
            }
            std::io::ErrorKind::PermissionDenied => {
                "permission denied; run as a user that can read it".to_string()
            }
            _ => format!("cannot read: {e}"),
        };
        Error::config(Some(file.to_path_buf()), "", message)
    })?;
    // Absolute, so paths in it mean the same whatever the agent's working directory.
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let base = file.parent().unwrap_or(Path::new("/"));
    let (raw, overrides) = parse_raw(Some(&file), &text, env)?;
    finish(raw, overrides, Some(&file), base, host)
}

/// Parses TOML text plus environment overrides, without reading any file.
pub fn from_toml_str<I>(text: &str, base_dir: &Path, env: I) -> Result<Config>
where
    I: IntoIterator<Item = (String, String)>,
{
    let (raw, overrides) = parse_raw(None, text, env)?;
    finish(raw, overrides, None, base_dir, None)
}

/// The file's TOML, then the environment's overrides on top, as the raw struct.
fn parse_raw<I>(file: Option<&Path>, text: &str, env: I) -> Result<(raw::RawConfig, env::Overrides)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let file = file.map(Path::to_path_buf);
    let mut value = raw::toml_value(&file, text)?;
    // The file is checked alone first, so that its errors name the file.
    raw::deserialize(value.clone(), &file)?;
    let overrides = env::apply(&mut value, env)?;
    Ok((raw::deserialize(value, &file)?, overrides))
}

/// Validates, naming the variable rather than the file when the bad value came from the
/// environment.
fn finish(
    raw: raw::RawConfig,
    overrides: env::Overrides,
    file: Option<&Path>,
    base: &Path,
    host: Option<&str>,
) -> Result<Config> {
    match validate::validate(raw, file, base, host) {
        Ok(mut config) => {
            let mut warnings = overrides.warnings;
            warnings.append(&mut config.warnings);
            config.warnings = warnings;
            config.overridden = overrides.set;
            Ok(config)
        }
        Err(Error::Config { file, key, message }) => {
            let message = overrides
                .hidden
                .iter()
                .fold(message, |m, v| env::scrub(&m, v));
            Err(match env::variable_for(&overrides.set, &key) {
                Some(var) => Error::Env {
                    var: var.to_string(),
                    key,
                    message,
                },
                None => Error::Config { file, key, message },
            })
        }
        Err(e) => Err(e),
    }
}

impl Config {
    /// The most bytes of file content a pass holds in memory at once: files read whole
    /// for one put (or their compressed bytes) and the parts of multipart uploads.
    pub fn memory_budget(&self) -> u64 {
        MEMORY_BUDGET_THRESHOLDS * self.multipart_threshold
    }

    /// The same config reading the archive of host `name` instead of this host's: the
    /// destination URL as written, with `{hostname}` replaced by `name`. A URL without
    /// `{hostname}` has no other host's archive to read, which is a usage error.
    pub fn for_hostname(&self, name: &str) -> Result<Config> {
        let err = |m: String| Error::config(self.file.clone(), "destination.url", m);
        let Some(written) = &self.destination.hostname_template else {
            return Err(err(format!(
                "`{}` has no {HOSTNAME_VAR}, so --hostname has no other host's archive to read there; drop --hostname, or point destination.url at that host's prefix",
                self.destination.url
            )));
        };
        check_hostname(name).map_err(|m| {
            Error::config(
                None,
                "--hostname",
                format!("{m}; pass the name the host archives under"),
            )
        })?;
        let at_url = |m: Invalid| err(m.0);
        let url_text = expand_hostname_as(written, name).map_err(at_url)?;
        let first = self.sources.first().map_or("source", |s| s.name.as_str());
        let url = parse_destination_url(&url_text.replace(SOURCE_VAR, first), &self.base_dir)
            .map_err(at_url)?;
        let mut c = self.clone();
        c.destination.template = url_text.contains(SOURCE_VAR).then_some(url_text);
        c.destination.url = url;
        Ok(c)
    }

    /// An error about `key` found after loading (e.g. a schedule with no future tick):
    /// it names the variable when the environment set the key, else the file.
    pub fn key_error(&self, key: &str, message: impl Into<String>) -> Error {
        match env::variable_for(&self.overridden, key) {
            Some(var) => Error::Env {
                var: var.to_string(),
                key: key.to_string(),
                message: message.into(),
            },
            None => Error::config(self.file.clone(), key, message),
        }
    }

    /// One config per archive. Usually that is the config itself; with `{source}` in the
    /// destination URL, each source becomes an archive of its own, with its own URL and
    /// its own state dir (`state_dir/<source name>`).
    pub fn archives(&self) -> Result<Vec<Config>> {
        let Some(template) = &self.destination.template else {
            return Ok(vec![self.clone()]);
        };
        self.sources
            .iter()
            .map(|s| {
                let url =
                    parse_destination_url(&template.replace(SOURCE_VAR, &s.name), &self.base_dir)
                        .map_err(|m| Error::config(self.file.clone(), "destination.url", m.0))?;
                let mut c = self.clone();
                c.destination.url = url;
                c.destination.template = None;
                c.state_dir = self.state_dir.join(&s.name);
                c.sources = vec![s.clone()];
                encryption::settle(&mut c.destination.encryption, &c.sources, &c.state_dir);
                Ok(c)
            })
            .collect()
    }
}
