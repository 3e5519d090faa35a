//! Configuration: read a TOML file and `LOGFERRY_*` environment overrides into a raw,
//! loosely typed form, then validate every key into a typed [`Config`].
//!
//! Validation is pure and exhaustive so that a bad value is reported once, naming the file
//! and the key, before anything touches a source or the destination.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::codec::Codec;
use crate::error::{Error, Result};

mod crontab;
mod destination;
mod display;
mod env;

mod source;
#[cfg(test)]
mod tests;
mod values;

pub use crate::glob::Matcher;
pub use crontab::Cron;
use destination::check_option;
use destination::line_holds_secret;
pub use destination::{
    check_hostname, is_secret_option, parse_destination_url, redact_url, scrub, shown_option,
    system_hostname, Destination, DestinationUrl, HOSTNAME_VAR, SOURCE_VAR,
};
use destination::{expand_hostname, expand_hostname_as};
use source::validate_sources;
pub use values::parse_schedule;
use values::{parse_codec, parse_size};

/// Where the agent looks for its config file when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/logferry/logferry.toml";
/// How old an orphan, an abandoned upload or a staging file must be before it is removed
/// unless told otherwise: longer than any pass.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// Default `state_dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/logferry";
/// Default `schedule`: every five minutes, on the minute.
pub const DEFAULT_SCHEDULE: &str = "0 */5 * * * *";
/// Default `upload_concurrency`.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 4;
/// Largest accepted `upload_concurrency`.
pub const MAX_UPLOAD_CONCURRENCY: usize = 256;
/// Default `sources[].min_age`.
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(60);
/// Default `part_size`: files up to this size go up in one request, larger ones in parts of it.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Smallest accepted `part_size` (S3's minimum part size).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest accepted `part_size`.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Default `destination.connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `destination.request_timeout`: one request, including a whole part upload.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `destination.max_retries` for a transient failure of one request.
pub const DEFAULT_MAX_RETRIES: usize = 10;
/// Largest accepted `destination.max_retries`.
pub const MAX_MAX_RETRIES: usize = 100;
/// Default `destination.retry_timeout`: how long one request keeps being retried.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(180);
/// Default `marker_dir` for `closed_by = "ready-marker"` (PostgreSQL's).
pub const DEFAULT_MARKER_DIR: &str = "archive_status";
/// Default `marker_suffixes`: PostgreSQL marks a finished segment `.ready`, then `.done`
/// once archive_command succeeded.
pub const DEFAULT_MARKER_SUFFIXES: [&str; 2] = [".ready", ".done"];
/// Default zstd level.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Default `shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "LOGFERRY";

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
    /// Files handled at once during a pass.
    pub upload_concurrency: usize,
    /// Single-request threshold and multipart part size, in bytes.
    pub part_size: u64,
    /// Where archives go.
    pub destination: Destination,
    /// What gets archived.
    pub sources: Vec<Source>,
    /// Things the operator should hear about that did not stop the load: one line each
    /// (e.g. an ignored `LOGFERRY_*` variable). The caller prints or logs them.
    pub warnings: Vec<String>,
    /// (dotted key, variable) of every key set by a `LOGFERRY_*` variable, so that an
    /// error about such a key names the variable.
    pub overridden: Vec<(String, String)>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<String>,
    schedule: Option<String>,
    interval: Option<String>,
    timezone: Option<String>,
    jitter: Option<String>,
    shutdown_grace: Option<String>,
    metrics_listen: Option<String>,
    metrics_textfile: Option<String>,
    log_format: Option<String>,
    upload_concurrency: Option<i64>,
    part_size: Option<Scalar>,
    destination: Option<RawDestination>,
    sources: Option<Vec<RawSource>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    url: Option<String>,
    options: Option<BTreeMap<String, Scalar>>,
    connect_timeout: Option<String>,
    request_timeout: Option<String>,
    max_retries: Option<i64>,
    retry_timeout: Option<String>,
    compression: Option<String>,
    compression_level: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Option<String>,
    path: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    min_age: Option<String>,
    ignore_newest: Option<serde_json::Value>,
    closed_by: Option<String>,
    marker_dir: Option<String>,
    marker_suffixes: Option<Vec<String>>,
    names: Option<String>,
    watch: Option<bool>,
    compression: Option<String>,
    compression_level: Option<i64>,
}

/// A TOML or environment scalar that is used as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(s) => f.write_str(s),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Reads `file` (required) and the `LOGFERRY_*` entries of `env`, then validates.
///
/// `env` is passed in rather than read here so that the library holds no global state;
/// the binary passes its own environment.
pub fn load<I>(file: &Path, env: I) -> Result<Config>
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
    finish(raw, overrides, Some(&file), base)
}

/// Parses TOML text plus environment overrides, without reading any file.
pub fn from_toml_str<I>(text: &str, base_dir: &Path, env: I) -> Result<Config>
where
    I: IntoIterator<Item = (String, String)>,
{
    let (raw, overrides) = parse_raw(None, text, env)?;
    finish(raw, overrides, None, base_dir)
}

/// Validates, naming the variable rather than the file when the bad value came from the
/// environment.
fn finish(
    raw: RawConfig,
    overrides: env::Overrides,
    file: Option<&Path>,
    base: &Path,
) -> Result<Config> {
    match validate(raw, file, base) {
        Ok(mut config) => {
            config.warnings = overrides.warnings;
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

fn parse_raw<I>(file: Option<&Path>, text: &str, env: I) -> Result<(RawConfig, env::Overrides)>
where
    I: IntoIterator<Item = (String, String)>,
{
    let file_buf = file.map(Path::to_path_buf);
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| {
            Error::config(
                file_buf.clone(),
                "",
                format!("not valid TOML: {}", toml_error(text, &e.to_string())),
            )
        })?;
    let mut value: serde_json::Value = built
        .try_deserialize()
        .map_err(|e| Error::config(file_buf.clone(), "", one_line(&e.to_string())))?;
    // The file is checked alone first, so that its errors name the file.
    deserialize(value.clone(), &file_buf)?;
    let overrides = env::apply(&mut value, env)?;
    Ok((deserialize(value, &file_buf)?, overrides))
}

fn deserialize(value: serde_json::Value, file: &Option<PathBuf>) -> Result<RawConfig> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let mut message = one_line(&e.into_inner().to_string())
            .replace("expected i64", "expected an integer")
            .replace("expected u64", "expected an integer");
        if message.starts_with("unknown field") {
            message.push_str("; unknown keys are errors, check the spelling against the README's config reference");
        }
        Error::config(file.clone(), key, message)
    })
}

/// The TOML parser's message on one line. It quotes the offending line; when that line
/// holds a secret, the quote is dropped and the line number and the reason kept.
fn toml_error(text: &str, message: &str) -> String {
    let is_snippet = |l: &str| {
        l.trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start()
            .starts_with('|')
    };
    let line_no = message
        .split_once("at line ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    let source_line = line_no.and_then(|n| text.lines().nth(n.saturating_sub(1)));
    let secret = source_line.is_some_and(line_holds_secret)
        || message
            .lines()
            .filter(|l| is_snippet(l))
            .any(line_holds_secret);
    if !secret {
        return one_line(message);
    }
    let kept: Vec<&str> = message.lines().filter(|l| !is_snippet(l)).collect();
    format!(
        "{} (the line is not shown: it holds a secret)",
        one_line(&kept.join("\n"))
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn validate(raw: RawConfig, file: Option<&Path>, base: &Path) -> Result<Config> {
    let file_buf = file.map(Path::to_path_buf);
    let err = |key: &str, msg: String| Error::config(file_buf.clone(), key, msg);
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };

    let state_dir = match raw.state_dir.as_deref() {
        None => PathBuf::from(DEFAULT_STATE_DIR),
        Some("") => return Err(err("state_dir", "must not be empty".into())),
        Some(s) => resolve(s),
    };

    let mut schedule = match (raw.schedule, raw.interval) {
        (Some(_), Some(_)) => {
            return Err(err(
                "interval",
                "both `schedule` and `interval` are set; keep one (cron ticks, or a pass every interval)".into(),
            ))
        }
        (_, Some(t)) => match humantime::parse_duration(&t) {
            Ok(d) if d >= Duration::from_secs(1) => Schedule {
                text: t,
                kind: ScheduleKind::Interval(d),
            },
            Ok(_) => return Err(err("interval", format!("`{t}` is shorter than 1s"))),
            Err(e) => return Err(err("interval", format!("`{t}` is not a duration ({e}); write e.g. \"5m\""))),
        },
        (schedule, None) => {
            let text = schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
            parse_schedule(&text).map_err(|m| err("schedule", m))?
        }
    };
    if let Some(tz) = raw.timezone {
        let parsed: chrono_tz::Tz = tz.parse().map_err(|_| {
            err(
                "timezone",
                format!(
                    "`{tz}` is not an IANA timezone name; write e.g. \"UTC\" or \"Europe/Berlin\""
                ),
            )
        })?;
        match &mut schedule.kind {
            ScheduleKind::Cron(_, zone) => *zone = Some(parsed),
            ScheduleKind::Interval(_) => {
                return Err(err(
                    "timezone",
                    "applies to `schedule` (cron), not to `interval`; remove it".into(),
                ))
            }
        }
    }
    let opt_duration = |key: &str, v: Option<String>, default: Duration| match v {
        None => Ok(default),
        Some(t) => humantime::parse_duration(&t).map_err(|e| {
            err(
                key,
                format!("`{t}` is not a duration ({e}); write e.g. \"30s\""),
            )
        }),
    };
    let jitter = opt_duration("jitter", raw.jitter, Duration::ZERO)?;
    let shutdown_grace =
        opt_duration("shutdown_grace", raw.shutdown_grace, DEFAULT_SHUTDOWN_GRACE)?;
    let metrics_listen = match raw.metrics_listen {
        None => None,
        Some(a) => Some(a.parse::<std::net::SocketAddr>().map_err(|_| {
            err(
                "metrics_listen",
                format!("`{a}` is not an address:port; write e.g. \"127.0.0.1:9898\""),
            )
        })?),
    };
    let metrics_textfile = match raw.metrics_textfile.as_deref() {
        None => None,
        Some("") => return Err(err("metrics_textfile", "must not be empty".into())),
        Some(p) => {
            let path = resolve(p);
            if path.extension().and_then(|e| e.to_str()) != Some("prom") {
                return Err(err(
                    "metrics_textfile",
                    format!("`{p}` must end in .prom: node_exporter's textfile collector reads only those"),
                ));
            }
            Some(path)
        }
    };
    let log_format = match raw.log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(err(
                "log_format",
                format!("`{other}` is not a log format; use \"text\" or \"json\""),
            ))
        }
    };

    let upload_concurrency = match raw.upload_concurrency {
        None => DEFAULT_UPLOAD_CONCURRENCY,
        Some(n) if n >= 1 && n as usize <= MAX_UPLOAD_CONCURRENCY => n as usize,
        Some(n) => {
            return Err(err(
                "upload_concurrency",
                format!("{n} is out of range; use 1 to {MAX_UPLOAD_CONCURRENCY} (default {DEFAULT_UPLOAD_CONCURRENCY})"),
            ))
        }
    };

    let part_size = match raw.part_size {
        None => DEFAULT_PART_SIZE,
        Some(s) => {
            let n = parse_size(&s.to_string()).map_err(|m| err("part_size", m))?;
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&n) {
                return Err(err(
                    "part_size",
                    format!("{n} bytes is out of range; use 5MiB to 5GiB (default 8MiB)"),
                ));
            }
            n
        }
    };

    let raw_dest = raw.destination.ok_or_else(|| {
        err(
            "destination",
            "missing; add a [destination] table with url = \"file:///var/archive\" or \"s3://bucket/prefix\"".into(),
        )
    })?;
    let raw_dest_set = (
        raw_dest.connect_timeout.is_some(),
        raw_dest.request_timeout.is_some(),
        raw_dest.max_retries.is_some(),
        raw_dest.retry_timeout.is_some(),
    );
    let url_text = raw_dest.url.clone().ok_or_else(|| {
        err(
            "destination.url",
            "missing; e.g. url = \"s3://bucket/prefix\"".into(),
        )
    })?;
    let hostname_template = url_text.contains(HOSTNAME_VAR).then(|| url_text.clone());
    let url_text = expand_hostname(&url_text).map_err(|m| err("destination.url", m))?;
    let template = url_text.contains(SOURCE_VAR).then(|| url_text.clone());
    // A per-source URL is checked as the first source will see it.
    let first_name = raw
        .sources
        .as_ref()
        .and_then(|v| v.first())
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| "source".into());
    let url = parse_destination_url(&url_text.replace(SOURCE_VAR, &first_name), base)
        .map_err(|m| err("destination.url", m))?;
    let options: BTreeMap<String, String> = raw_dest
        .options
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    for k in options.keys() {
        check_option(&url, k).map_err(|m| err(&format!("destination.options.{k}"), m))?;
    }
    let duration = |key: &str, v: Option<String>, default: Duration| match v {
        None => Ok(default),
        Some(t) => match humantime::parse_duration(&t) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(err(key, "must be more than zero".into())),
            Err(e) => Err(err(
                key,
                format!("`{t}` is not a duration ({e}); write e.g. \"30s\" or \"2m\""),
            )),
        },
    };
    let connect_timeout = duration(
        "destination.connect_timeout",
        raw_dest.connect_timeout,
        DEFAULT_CONNECT_TIMEOUT,
    )?;
    let request_timeout = duration(
        "destination.request_timeout",
        raw_dest.request_timeout,
        DEFAULT_REQUEST_TIMEOUT,
    )?;
    let retry_timeout = duration(
        "destination.retry_timeout",
        raw_dest.retry_timeout,
        DEFAULT_RETRY_TIMEOUT,
    )?;
    let max_retries = match raw_dest.max_retries {
        None => DEFAULT_MAX_RETRIES,
        Some(n) if (0..=MAX_MAX_RETRIES as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(err(
                "destination.max_retries",
                format!(
                "{n} is out of range; use 0 to {MAX_MAX_RETRIES} (default {DEFAULT_MAX_RETRIES})"
            ),
            ))
        }
    };
    let is_remote = matches!(url, DestinationUrl::Remote(_));
    if !is_remote {
        for (key, set) in [
            ("connect_timeout", raw_dest_set.0),
            ("request_timeout", raw_dest_set.1),
            ("max_retries", raw_dest_set.2),
            ("retry_timeout", raw_dest_set.3),
        ] {
            if set {
                return Err(err(
                    &format!("destination.{key}"),
                    "applies to s3://, gs:// and az:// destinations only; remove it".into(),
                ));
            }
        }
    }
    let destination = Destination {
        url,
        options,
        template,
        hostname_template,
        connect_timeout,
        request_timeout,
        max_retries,
        retry_timeout,
    };

    let default_codec = parse_codec(
        raw_dest.compression.clone(),
        raw_dest.compression_level,
        Codec::PLAIN,
        "destination.compression",
        "destination.compression_level",
    )
    .map_err(|(k, m)| err(&k, m))?;
    let raw_sources = raw.sources.unwrap_or_default();
    if raw_sources.is_empty() {
        return Err(err(
            "sources",
            "no sources; add at least one [[sources]] table with name and path".into(),
        ));
    }
    let sources = validate_sources(raw_sources, default_codec, &err, &resolve)?;

    let config = Config {
        file: file_buf,
        base_dir: base.to_path_buf(),
        jitter,
        shutdown_grace,
        metrics_listen,
        metrics_textfile,
        log_format,
        state_dir,
        schedule,
        upload_concurrency,
        part_size,
        destination,
        sources,
        warnings: Vec::new(),
        overridden: Vec::new(),
    };
    config.archives()?;
    Ok(config)
}

impl Config {
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
        let url_text = expand_hostname_as(written, name).map_err(err)?;
        let first = self.sources.first().map_or("source", |s| s.name.as_str());
        let url = parse_destination_url(&url_text.replace(SOURCE_VAR, first), &self.base_dir)
            .map_err(err)?;
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
                        .map_err(|m| Error::config(self.file.clone(), "destination.url", m))?;
                let mut c = self.clone();
                c.destination.url = url;
                c.destination.template = None;
                c.state_dir = self.state_dir.join(&s.name);
                c.sources = vec![s.clone()];
                Ok(c)
            })
            .collect()
    }
}
