//! Configuration: read a TOML file and `LOGFERRY_*` environment overrides into a raw,
//! loosely typed form, then validate every key into a typed [`Config`].
//!
//! Validation is pure and exhaustive so that a bad value is reported once, naming the file
//! and the key, before anything touches a source or the destination.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Where the agent looks for its config file when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/logferry/logferry.toml";
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
/// Prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "LOGFERRY";

/// Option names under `[destination.options]` whose values are never printed.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "key",
    "token",
    "password",
    "sas",
    "credential",
    "signature",
];

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from; relative paths in it were resolved against its directory.
    pub file: Option<PathBuf>,
    /// Manifest cache, status and lock.
    pub state_dir: PathBuf,
    /// When the service runs a pass.
    pub schedule: Schedule,
    /// Files handled at once during a pass.
    pub upload_concurrency: usize,
    /// Single-request threshold and multipart part size, in bytes.
    pub part_size: u64,
    /// Where archives go.
    pub destination: Destination,
    /// What gets archived.
    pub sources: Vec<Source>,
}

/// A cron schedule, kept with the text it was written as.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written in the config.
    pub text: String,
    /// Parsed (always with a seconds field).
    pub cron: cron::Schedule,
}

/// The archive destination.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Where the archive lives.
    pub url: DestinationUrl,
    /// Passed through to object_store's builder for the URL's scheme.
    pub options: BTreeMap<String, String>,
}

/// A destination, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationUrl {
    /// A directory on a local or mounted filesystem.
    Local(PathBuf),
    /// A process-local in-memory store (tests and dry runs).
    Memory,
    /// An object-store URL (`s3://`, `gs://`, `az://`, …).
    Remote(url::Url),
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
    /// The newest matching file is still being written: skip it.
    pub ignore_newest: bool,
}

/// gitignore-style globs: a pattern without `/` matches the file name at any depth, one
/// with `/` matches the path relative to the source's root.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<String>,
    by_name: GlobSet,
    by_path: GlobSet,
}

impl Matcher {
    /// Compiles patterns; on error returns the index of the bad one and why.
    pub fn new(patterns: &[String]) -> std::result::Result<Self, (usize, String)> {
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            if p.trim().is_empty() {
                return Err((i, "empty glob".into()));
            }
            if let Some(anchored) = p.strip_prefix('/').or(if p.contains('/') {
                Some(p.as_str())
            } else {
                None
            }) {
                let glob = GlobBuilder::new(anchored)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| (i, e.kind().to_string()))?;
                by_path.add(glob);
            } else {
                by_name.add(Glob::new(p).map_err(|e| (i, e.kind().to_string()))?);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| (0, e.to_string()));
        Ok(Matcher {
            patterns: patterns.to_vec(),
            by_name: build(by_name)?,
            by_path: build(by_path)?,
        })
    }

    /// No patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `rel` (slash-separated, relative to the source root) matches any pattern.
    pub fn matches(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.by_name.is_match(name) || self.by_path.is_match(rel)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<String>,
    schedule: Option<String>,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Option<String>,
    path: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    min_age: Option<String>,
    ignore_newest: Option<bool>,
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
/// the binary passes `std::env::vars()`.
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
    let raw = parse_raw(Some(&file), &text, env)?;
    validate(raw, Some(&file), base)
}

/// Parses TOML text plus environment overrides, without reading any file.
pub fn from_toml_str<I>(text: &str, base_dir: &Path, env: I) -> Result<Config>
where
    I: IntoIterator<Item = (String, String)>,
{
    let raw = parse_raw(None, text, env)?;
    validate(raw, None, base_dir)
}

fn parse_raw<I>(file: Option<&Path>, text: &str, env: I) -> Result<RawConfig>
where
    I: IntoIterator<Item = (String, String)>,
{
    let file_buf = file.map(Path::to_path_buf);
    let env_prefix = format!("{ENV_PREFIX}_");
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&env_prefix))
        .collect();
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        )
        .build()
        .map_err(|e| {
            Error::config(
                file_buf.clone(),
                "",
                format!("not valid TOML: {}", one_line(&e.to_string())),
            )
        })?;
    let value: serde_json::Value = built
        .try_deserialize()
        .map_err(|e| Error::config(file_buf.clone(), "", one_line(&e.to_string())))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let mut message = one_line(&e.into_inner().to_string())
            .replace("expected i64", "expected an integer")
            .replace("expected u64", "expected an integer");
        if message.starts_with("unknown field") {
            message.push_str("; unknown keys are errors, check the spelling against the README's config reference");
        }
        Error::config(file_buf.clone(), key, message)
    })
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

    let schedule_text = raw.schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
    let schedule = parse_schedule(&schedule_text).map_err(|m| err("schedule", m))?;

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
    let url_text = raw_dest.url.ok_or_else(|| {
        err(
            "destination.url",
            "missing; e.g. url = \"s3://bucket/prefix\"".into(),
        )
    })?;
    let url = parse_destination_url(&url_text, base).map_err(|m| err("destination.url", m))?;
    let options: BTreeMap<String, String> = raw_dest
        .options
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    for k in options.keys() {
        check_option(&url, k).map_err(|m| err(&format!("destination.options.{k}"), m))?;
    }

    let raw_sources = raw.sources.unwrap_or_default();
    if raw_sources.is_empty() {
        return Err(err(
            "sources",
            "no sources; add at least one [[sources]] table with name and path".into(),
        ));
    }
    let mut sources = Vec::with_capacity(raw_sources.len());
    for (i, rs) in raw_sources.into_iter().enumerate() {
        let key = |k: &str| format!("sources[{i}].{k}");
        let name = rs
            .name
            .ok_or_else(|| err(&key("name"), "missing; e.g. name = \"app\"".into()))?;
        validate_source_name(&name).map_err(|m| err(&key("name"), m))?;
        if sources.iter().any(|s: &Source| s.name == name) {
            return Err(err(
                &key("name"),
                format!("`{name}` is used by another source; names must be unique"),
            ));
        }
        let path = match rs.path.as_deref() {
            None => {
                return Err(err(
                    &key("path"),
                    "missing; the directory to archive from".into(),
                ))
            }
            Some("") => return Err(err(&key("path"), "must not be empty".into())),
            Some(p) => resolve(p),
        };
        let include = Matcher::new(&rs.include.unwrap_or_default()).map_err(|(j, m)| {
            err(
                &format!("sources[{i}].include[{j}]"),
                format!("bad glob: {m}"),
            )
        })?;
        let exclude = Matcher::new(&rs.exclude.unwrap_or_default()).map_err(|(j, m)| {
            err(
                &format!("sources[{i}].exclude[{j}]"),
                format!("bad glob: {m}"),
            )
        })?;
        let min_age = match rs.min_age {
            None => DEFAULT_MIN_AGE,
            Some(t) => humantime::parse_duration(&t).map_err(|e| {
                err(
                    &key("min_age"),
                    format!("`{t}` is not a duration ({e}); write e.g. \"60s\", \"5m\" or \"0s\""),
                )
            })?,
        };
        sources.push(Source {
            name,
            path,
            include,
            exclude,
            min_age,
            ignore_newest: rs.ignore_newest.unwrap_or(false),
        });
    }

    Ok(Config {
        file: file_buf,
        state_dir,
        schedule,
        upload_concurrency,
        part_size,
        destination: Destination { url, options },
        sources,
    })
}

/// Accepts crontab's 5 fields (minute first) and the 6/7-field form (seconds first).
pub fn parse_schedule(text: &str) -> std::result::Result<Schedule, String> {
    let fields = text.split_whitespace().count();
    let normalized = match fields {
        5 => format!("0 {}", text.trim()),
        6 | 7 => text.trim().to_string(),
        n => {
            return Err(format!(
                "`{text}` has {n} fields; write 5 (minute hour day month weekday, as in crontab) or 6/7 (seconds first)"
            ))
        }
    };
    let cron = cron::Schedule::from_str(&normalized).map_err(|e| {
        // The parser's message repeats the expression and a caret; its last line says why.
        let full = e.to_string();
        let why = full
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(&full)
            .trim()
            .to_string();
        format!("`{text}` is not a cron expression: {why}; e.g. \"*/5 * * * *\"")
    })?;
    Ok(Schedule {
        text: text.to_string(),
        cron,
    })
}

fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. \"8MiB\" or 8388608"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        u => {
            return Err(format!(
                "unknown unit `{u}` in `{text}`; use B, KiB, MiB or GiB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn validate_source_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not allowed"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{name}` contains `{c}`; use letters, digits, `-`, `_` and `.` (it becomes part of object keys)"
        ));
    }
    Ok(())
}

fn parse_destination_url(text: &str, base: &Path) -> std::result::Result<DestinationUrl, String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let Some((scheme, _)) = text.split_once("://") else {
        if text.contains(':') && !text.starts_with('.') && !text.starts_with('/') {
            return Err(format!(
                "`{text}` is neither a URL nor a path; use file:///dir, memory://, s3://bucket/prefix, gs://… or az://…"
            ));
        }
        let p = Path::new(text);
        return Ok(DestinationUrl::Local(if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }));
    };
    match scheme {
        "file" => {
            let url = url::Url::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
            if url.host_str().is_some_and(|h| !h.is_empty()) {
                return Err(format!(
                    "`{text}` names a host; a file URL takes an absolute path (file:///var/archive), or write a plain path relative to the config file"
                ));
            }
            let path = url
                .to_file_path()
                .map_err(|_| format!("`{text}` is not a usable file path"))?;
            Ok(DestinationUrl::Local(path))
        }
        "memory" => Ok(DestinationUrl::Memory),
        "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss" => {
            let url = url::Url::parse(text).map_err(|e| format!("`{}`: {e}", redact_url_text(text)))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{}` has no bucket or container name", redact_url_text(text)));
            }
            Ok(DestinationUrl::Remote(url))
        }
        other => Err(format!(
            "unsupported scheme `{other}`; use file:///dir, memory://, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix"
        )),
    }
}

/// object_store ignores option names it does not know; an operator's typo must not be
/// silently dropped, so each name is checked against the backend's own list.
fn check_option(url: &DestinationUrl, name: &str) -> std::result::Result<(), String> {
    use object_store::aws::AmazonS3ConfigKey;
    use object_store::azure::AzureConfigKey;
    use object_store::gcp::GoogleConfigKey;
    let DestinationUrl::Remote(url) = url else {
        return Err("options apply to s3://, gs:// and az:// destinations only; remove it".into());
    };
    let n = name.to_ascii_lowercase();
    let (known, examples) = match url.scheme() {
        "s3" | "s3a" => (
            n.parse::<AmazonS3ConfigKey>().is_ok(),
            "aws_region, aws_endpoint, aws_access_key_id, aws_secret_access_key, aws_allow_http",
        ),
        "gs" => (
            n.parse::<GoogleConfigKey>().is_ok(),
            "google_service_account, google_service_account_key, google_application_credentials",
        ),
        _ => (
            n.parse::<AzureConfigKey>().is_ok(),
            "azure_storage_account_name, azure_storage_access_key, azure_storage_sas_key, azure_storage_endpoint",
        ),
    };
    if known {
        Ok(())
    } else {
        Err(format!(
            "unknown option for {}:// destinations; known options include {examples}",
            url.scheme()
        ))
    }
}

fn redact_url_text(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(u) => redact_url(&u),
        Err(_) => "<unparseable url>".to_string(),
    }
}

/// The URL without any password or query string (SAS tokens live there).
pub fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("<redacted>"));
    }
    if u.query().is_some() {
        u.set_query(Some("<redacted>"));
    }
    u.to_string()
}

/// Whether a destination option holds a secret and must never be printed.
pub fn is_secret_option(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

impl fmt::Display for DestinationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DestinationUrl::Local(p) => write!(f, "file://{}", p.display()),
            DestinationUrl::Memory => f.write_str("memory://"),
            DestinationUrl::Remote(u) => f.write_str(&redact_url(u)),
        }
    }
}

impl fmt::Display for Config {
    /// The effective config as TOML, secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
            )
        };
        if let Some(file) = &self.file {
            writeln!(f, "# effective config from {}", file.display())?;
        }
        writeln!(
            f,
            "state_dir = {}",
            q(&self.state_dir.display().to_string())
        )?;
        writeln!(f, "schedule = {}", q(&self.schedule.text))?;
        writeln!(f, "upload_concurrency = {}", self.upload_concurrency)?;
        writeln!(f, "part_size = {}", self.part_size)?;
        writeln!(
            f,
            "\n[destination]\nurl = {}",
            q(&self.destination.url.to_string())
        )?;
        if !self.destination.options.is_empty() {
            writeln!(f, "\n[destination.options]")?;
            for (k, v) in &self.destination.options {
                let shown = if is_secret_option(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                writeln!(f, "{k} = {}", q(shown))?;
            }
        }
        for s in &self.sources {
            writeln!(f, "\n[[sources]]")?;
            writeln!(f, "name = {}", q(&s.name))?;
            writeln!(f, "path = {}", q(&s.path.display().to_string()))?;
            writeln!(f, "include = {}", list(s.include.patterns()))?;
            writeln!(f, "exclude = {}", list(s.exclude.patterns()))?;
            writeln!(
                f,
                "min_age = {}",
                q(&humantime::format_duration(s.min_age).to_string())
            )?;
            writeln!(f, "ignore_newest = {}", s.ignore_newest)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n";

    fn parse(text: &str) -> Result<Config> {
        from_toml_str(text, Path::new("/etc/lf"), std::iter::empty())
    }

    fn bad(text: &str, key: &str, words: &str) {
        let e = parse(text).unwrap_err().to_string();
        assert!(
            e.contains(&format!("key `{key}`")),
            "{text:?} should name `{key}`: {e}"
        );
        assert!(e.contains(words), "{text:?}: `{words}` missing from: {e}");
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(c.schedule.text, DEFAULT_SCHEDULE);
        assert_eq!(
            (c.upload_concurrency, c.part_size),
            (DEFAULT_UPLOAD_CONCURRENCY, DEFAULT_PART_SIZE)
        );
        assert_eq!(
            c.destination.url,
            DestinationUrl::Local(PathBuf::from("/etc/lf/mirror"))
        );
        let s = &c.sources[0];
        assert_eq!((s.min_age, s.ignore_newest), (DEFAULT_MIN_AGE, false));
        assert_eq!(s.path, PathBuf::from("/etc/lf/logs"));
        assert!(s.include.is_empty() && s.exclude.is_empty());
    }

    #[test]
    fn schedules_with_five_six_and_seven_fields_parse() {
        for ok in [
            "*/5 * * * *",
            "0 */5 * * * *",
            "0 0 3 * * * 2030",
            "@hourly",
        ] {
            let text = format!("schedule = \"{ok}\"\n{GOOD}");
            let r = parse(&text);
            if ok == "@hourly" {
                assert!(
                    r.is_err(),
                    "one-field shorthands are refused with the field count"
                );
            } else {
                assert!(r.is_ok(), "{ok}: {:?}", r.err());
            }
        }
    }

    #[test]
    fn every_key_names_itself_when_bad() {
        bad(
            &format!("state_dir = \"\"\n{GOOD}"),
            "state_dir",
            "must not be empty",
        );
        bad(
            &format!("schedule = \"* * *\"\n{GOOD}"),
            "schedule",
            "3 fields",
        );
        bad(
            &format!("schedule = \"*/5 * * * mon-funday\"\n{GOOD}"),
            "schedule",
            "not a cron expression",
        );
        bad(
            &format!("upload_concurrency = 1000\n{GOOD}"),
            "upload_concurrency",
            "out of range",
        );
        bad(
            &format!("upload_concurrency = -1\n{GOOD}"),
            "upload_concurrency",
            "out of range",
        );
        bad(
            &format!("part_size = \"8 parsecs\"\n{GOOD}"),
            "part_size",
            "unknown unit",
        );
        bad(
            &format!("part_size = \"lots\"\n{GOOD}"),
            "part_size",
            "not a size",
        );
        bad(
            &format!("part_size = \"10GiB\"\n{GOOD}"),
            "part_size",
            "out of range",
        );
        bad(
            "[destination]\nurl = \"\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
            "destination.url",
            "empty",
        );
        bad(
            "[destination]\nurl = \"foo:bar\"\n[[sources]]\nname = \"a\"\npath = \"l\"",
            "destination.url",
            "neither a URL nor a path",
        );
        bad(
            "[destination]\n[[sources]]\nname = \"a\"\npath = \"l\"",
            "destination.url",
            "missing",
        );
        bad(
            "[destination]\nurl = \"m\"\n[[sources]]\npath = \"l\"",
            "sources[0].name",
            "missing",
        );
        bad(
            "[destination]\nurl = \"m\"\n[[sources]]\nname = \"..\"\npath = \"l\"",
            "sources[0].name",
            "not allowed",
        );
        bad(
            "[destination]\nurl = \"m\"\n[[sources]]\nname = \"\"\npath = \"l\"",
            "sources[0].name",
            "empty",
        );
        bad(
            "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"\"",
            "sources[0].path",
            "empty",
        );
        bad("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ninclude = [\"a{b\"]", "sources[0].include[0]", "bad glob");
        bad(
            "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\ninclude = [\"\"]",
            "sources[0].include[0]",
            "empty glob",
        );
        bad("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nmin_age = \"-5s\"", "sources[0].min_age", "not a duration");
        bad("[destination]\nurl = \"gs://b/p\"\n[destination.options]\naws_region = \"x\"\n[[sources]]\nname = \"a\"\npath = \"l\"", "destination.options.aws_region", "unknown option for gs://");
        bad("[destination]\nurl = \"memory://\"\n[destination.options]\nx = \"y\"\n[[sources]]\nname = \"a\"\npath = \"l\"", "destination.options.x", "s3://, gs:// and az://");
        bad(
            &format!("[[sources]]\nname = \"b\"\npath = \"l\"\nfoo = 1\n{GOOD}"),
            "sources[0].foo",
            "unknown field",
        );
    }

    #[test]
    fn environment_overrides_and_unknown_env_keys_are_errors() {
        let env = [
            ("LOGFERRY_STATE_DIR".to_string(), "/srv/state".to_string()),
            (
                "LOGFERRY_DESTINATION__URL".to_string(),
                "s3://bucket/logs".to_string(),
            ),
            ("OTHER".to_string(), "ignored".to_string()),
        ];
        let c = from_toml_str(GOOD, Path::new("/etc/lf"), env).unwrap();
        assert_eq!(c.state_dir, PathBuf::from("/srv/state"));
        assert!(
            matches!(c.destination.url, DestinationUrl::Remote(ref u) if u.as_str() == "s3://bucket/logs")
        );
        let typo = [("LOGFERRY_STATEDIR".to_string(), "/x".to_string())];
        let e = from_toml_str(GOOD, Path::new("/etc/lf"), typo)
            .unwrap_err()
            .to_string();
        assert!(e.contains("statedir") && e.contains("unknown field"), "{e}");
    }

    #[test]
    fn globs_follow_gitignore_rules() {
        let m = Matcher::new(&["*.gz".into(), "tmp/*.log".into(), "/top.log".into()]).unwrap();
        assert!(m.matches("a.gz") && m.matches("x/y/a.gz"));
        assert!(
            m.matches("tmp/a.log") && !m.matches("tmp/sub/a.log") && !m.matches("other/tmp/a.log")
        );
        assert!(m.matches("top.log") && !m.matches("sub/top.log"));
    }

    #[test]
    fn secrets_are_redacted_in_display() {
        let text = "[destination]\nurl = \"az://c/p?sig=SECRETSAS\"\n[destination.options]\nazure_storage_access_key = \"SECRETKEY\"\nazure_storage_account_name = \"acct\"\n[[sources]]\nname = \"a\"\npath = \"l\"";
        let shown = parse(text).unwrap().to_string();
        assert!(
            !shown.contains("SECRETKEY") && !shown.contains("SECRETSAS"),
            "{shown}"
        );
        assert!(
            shown.contains("azure_storage_account_name = \"acct\""),
            "{shown}"
        );
    }
}
