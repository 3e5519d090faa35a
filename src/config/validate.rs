//! Turning the raw config into a typed [`Config`], one concern at a time: where state
//! lives and when passes run, what the service exposes, the limits of a pass, the
//! destination, and (in `source.rs`) the sources. Each check names the key it is about;
//! the file is added once, at the end.
//!
//! Validation is pure and exhaustive so that a bad value is reported once, naming the
//! file and the key, before anything touches a source or the destination. The one thing
//! read from outside is the host's name, and only when `destination.url` holds
//! `{hostname}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::checks;
use super::destination::{check_option, parse_checksum, HOSTNAME_VAR, SOURCE_VAR};
use super::error::{Checked, Invalid, KeyError};
use super::hostname::{check_hostname, expand_hostname_as, system_hostname};
use super::limits::RawLimits;
use super::raw::{RawConfig, RawDestination, Scalar};
use super::source::validate_sources;
use super::values::{parse_codec, resolve};
use super::{
    parse_destination_url, parse_schedule, Config, Destination, DestinationUrl, LogFormat,
    Schedule, ScheduleKind, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_TIMEOUT, DEFAULT_SCHEDULE, DEFAULT_SHUTDOWN_GRACE, DEFAULT_STATE_DIR,
    MAX_MAX_RETRIES,
};
use crate::codec::Codec;
use crate::error::Result;

/// Validates every key. `host` stands for `{hostname}` instead of this host's name (a
/// read command's `--hostname`); an unusable one is left for the caller to reject.
pub(super) fn validate(
    raw: RawConfig,
    file: Option<&Path>,
    base: &Path,
    host: Option<&str>,
) -> Result<Config> {
    let file = file.map(Path::to_path_buf);
    let mut config = fields(raw, base, host).map_err(|e| e.in_file(file.clone()))?;
    config.file = file;
    let c = &mut config;
    super::encryption::settle(&mut c.destination.encryption, &c.sources, &c.state_dir);
    config.archives()?;
    Ok(config)
}

fn fields(mut raw: RawConfig, base: &Path, host: Option<&str>) -> Checked<Config> {
    let mut warnings = Vec::new();
    let limits = super::limits::limits(RawLimits::take(&mut raw), &mut warnings)?;
    let state_dir = match raw.state_dir.as_deref() {
        None => PathBuf::from(DEFAULT_STATE_DIR),
        Some("") => return Err(KeyError::new("state_dir", "must not be empty")),
        Some(s) => {
            checks::no_tilde("state_dir", s)?;
            resolve(base, s)
        }
    };
    let schedule = schedule(raw.schedule, raw.interval, raw.timezone)?;
    if let ScheduleKind::Cron(..) = schedule.kind {
        warnings.extend(checks::seconds_schedule(&schedule.text));
    }
    let jitter = duration_or("jitter", raw.jitter, Duration::ZERO)?;
    let shutdown_grace = duration_or("shutdown_grace", raw.shutdown_grace, DEFAULT_SHUTDOWN_GRACE)?;
    let metrics_listen = metrics_listen(raw.metrics_listen)?;
    let metrics_textfile = metrics_textfile(raw.metrics_textfile.as_deref(), base)?;
    let log_format = log_format(raw.log_format.as_deref())?;

    // A per-source URL is checked as the first source will see it.
    let first_source = raw
        .sources
        .as_ref()
        .and_then(|v| v.first())
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| "source".into());
    let raw_dest = raw.destination.ok_or_else(|| {
        KeyError::new(
            "destination",
            "missing; add a [destination] table with url = \"file:///var/archive\" or \"s3://bucket/prefix\"",
        )
    })?;
    let (destination, default_codec) =
        destination(raw_dest, &first_source, base, host, &mut warnings)?;
    let raw_sources = raw.sources.unwrap_or_default();
    no_sources(&raw_sources)?;
    let retention = super::retention::archive_retention(raw.retention)?;
    let hooks = super::hooks::pass_hooks(raw.hooks)?;
    let heartbeat = super::hooks::heartbeat(raw.heartbeat_url)?;
    let sources = validate_sources(
        raw_sources,
        default_codec,
        destination.encryption.recipients.as_ref(),
        retention.keep,
        base,
        &mut warnings,
    )?;
    Ok(Config {
        file: None,
        base_dir: base.to_path_buf(),
        state_dir,
        schedule,
        jitter,
        shutdown_grace,
        metrics_listen,
        metrics_textfile,
        log_format,
        hash_workers: limits.hash_workers,
        requests_in_flight: super::limits::requests_in_flight(
            limits.requests_in_flight,
            limits.hash_workers,
            matches!(destination.url, DestinationUrl::Local(_)),
        ),
        multipart_threshold: limits.multipart_threshold,
        part_size: limits.part_size,
        destination,
        sources,
        retention,
        hooks,
        heartbeat,
        warnings,
        overridden: Vec::new(),
    })
}

/// At least one `[[sources]]` table.
fn no_sources(raw: &[super::raw::RawSource]) -> Checked<()> {
    if raw.is_empty() {
        return Err(KeyError::new(
            "sources",
            "no sources; add at least one [[sources]] table with name and path",
        ));
    }
    Ok(())
}

/// The `[destination]` keys that only remote destinations take, and whether each is set.
fn remote_only(raw: &RawDestination) -> [(&'static str, bool); 4] {
    [
        ("connect_timeout", raw.connect_timeout.is_some()),
        ("request_timeout", raw.request_timeout.is_some()),
        ("max_retries", raw.max_retries.is_some()),
        ("retry_timeout", raw.retry_timeout.is_some()),
    ]
}

// ---- when passes run ----

fn schedule(
    schedule: Option<String>,
    interval: Option<String>,
    timezone: Option<String>,
) -> Checked<Schedule> {
    let mut schedule = match (schedule, interval) {
        (Some(_), Some(_)) => {
            return Err(KeyError::new(
                "interval",
                "both `schedule` and `interval` are set; keep one (cron ticks, or a pass every interval)",
            ))
        }
        (_, Some(t)) => interval_schedule(t)?,
        (schedule, None) => {
            let text = schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
            parse_schedule(&text).map_err(|m| m.at("schedule"))?
        }
    };
    if let Some(tz) = timezone {
        set_timezone(&mut schedule, &tz)?;
    }
    Ok(schedule)
}

fn interval_schedule(t: String) -> Checked<Schedule> {
    match humantime::parse_duration(&t) {
        Ok(d) if d >= Duration::from_secs(1) => Ok(Schedule {
            text: t,
            kind: ScheduleKind::Interval(d),
        }),
        Ok(_) => Err(KeyError::new(
            "interval",
            format!("`{t}` is shorter than 1s"),
        )),
        Err(e) => Err(KeyError::new(
            "interval",
            format!("`{t}` is not a duration ({e}); write e.g. \"5m\""),
        )),
    }
}

fn set_timezone(schedule: &mut Schedule, tz: &str) -> Checked<()> {
    let parsed: chrono_tz::Tz = tz.parse().map_err(|_| {
        KeyError::new(
            "timezone",
            format!("`{tz}` is not an IANA timezone name; write e.g. \"UTC\" or \"Europe/Berlin\""),
        )
    })?;
    match &mut schedule.kind {
        ScheduleKind::Cron(_, zone) => {
            *zone = Some(parsed);
            Ok(())
        }
        ScheduleKind::Interval(_) => Err(KeyError::new(
            "timezone",
            "applies to `schedule` (cron), not to `interval`; remove it",
        )),
    }
}

// ---- what the service exposes ----

/// A duration that may be zero.
fn duration_or(key: &str, v: Option<String>, default: Duration) -> Checked<Duration> {
    match v {
        None => Ok(default),
        Some(t) => humantime::parse_duration(&t).map_err(|e| {
            KeyError::new(
                key,
                format!("`{t}` is not a duration ({e}); write e.g. \"30s\""),
            )
        }),
    }
}

fn metrics_listen(v: Option<String>) -> Checked<Option<std::net::SocketAddr>> {
    v.map(|a| {
        a.parse().map_err(|_| {
            KeyError::new(
                "metrics_listen",
                format!("`{a}` is not an address:port; write e.g. \"127.0.0.1:9898\""),
            )
        })
    })
    .transpose()
}

fn metrics_textfile(v: Option<&str>, base: &Path) -> Checked<Option<PathBuf>> {
    match v {
        None => Ok(None),
        Some("") => Err(KeyError::new("metrics_textfile", "must not be empty")),
        Some(p) => {
            checks::no_tilde("metrics_textfile", p)?;
            let path = resolve(base, p);
            if path.extension().and_then(|e| e.to_str()) != Some("prom") {
                return Err(KeyError::new(
                    "metrics_textfile",
                    format!("`{p}` must end in .prom: node_exporter's textfile collector reads only those"),
                ));
            }
            Ok(Some(path))
        }
    }
}

fn log_format(v: Option<&str>) -> Checked<LogFormat> {
    match v {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(KeyError::new(
            "log_format",
            format!("`{other}` is not a log format; use \"text\" or \"json\""),
        )),
    }
}

// ---- the destination ----

/// The `[destination]` table, and the codec sources inherit from it.
fn destination(
    raw: RawDestination,
    first_source: &str,
    base: &Path,
    host: Option<&str>,
    warnings: &mut Vec<String>,
) -> Checked<(Destination, Codec)> {
    let at_url = |m: Invalid| m.at("destination.url");
    let written = raw.url.clone().ok_or_else(|| {
        KeyError::new(
            "destination.url",
            "missing; e.g. url = \"s3://bucket/prefix\"",
        )
    })?;
    checks::no_tilde("destination.url", &written)?;
    let hostname_template = written.contains(HOSTNAME_VAR).then(|| written.clone());
    let url_text = expand_url(&written, host)?;
    let template = url_text.contains(SOURCE_VAR).then(|| url_text.clone());
    let url =
        parse_destination_url(&url_text.replace(SOURCE_VAR, first_source), base).map_err(at_url)?;
    let remote_only = remote_only(&raw);
    let options = options(&url, raw.options.unwrap_or_default())?;
    let checksum = parse_checksum(raw.checksum.as_deref(), &url, &options)
        .map_err(|m| m.at("destination.checksum"))?;
    let connect_timeout = timeout(
        "connect_timeout",
        raw.connect_timeout,
        DEFAULT_CONNECT_TIMEOUT,
    )?;
    let request_timeout = timeout(
        "request_timeout",
        raw.request_timeout,
        DEFAULT_REQUEST_TIMEOUT,
    )?;
    let retry_timeout = timeout("retry_timeout", raw.retry_timeout, DEFAULT_RETRY_TIMEOUT)?;
    let max_retries = max_retries(raw.max_retries)?;
    if !matches!(url, DestinationUrl::Remote(_)) {
        if let Some((key, _)) = remote_only.iter().find(|(_, set)| *set) {
            return Err(KeyError::new(
                format!("destination.{key}"),
                "applies to s3://, gs:// and az:// destinations only; remove it",
            ));
        }
    }
    let codec = parse_codec(
        raw.compression,
        raw.compression_level,
        Codec::PLAIN,
        "destination.compression",
        "destination.compression_level",
    )?;
    checks::level_without_zstd(
        "destination.compression_level",
        "destination.compression",
        raw.compression_level,
        codec,
        warnings,
    );
    let destination = Destination {
        url,
        options,
        template,
        hostname_template,
        connect_timeout,
        request_timeout,
        max_retries,
        retry_timeout,
        checksum,
        encryption: super::encryption::destination_encryption(
            raw.encryption,
            raw.age_recipients,
            raw.identity_file,
            base,
        )?,
    };
    Ok((destination, codec))
}

/// The URL with `{hostname}` expanded: to `host` when it is usable, else to this host's
/// name, which is read only here, when the URL needs it.
fn expand_url(written: &str, host: Option<&str>) -> Checked<String> {
    let name = if !written.contains(HOSTNAME_VAR) {
        String::new()
    } else if let Some(h) = host.filter(|h| check_hostname(h).is_ok()) {
        h.to_string()
    } else {
        system_hostname().map_err(|e| KeyError::new("destination.url", e.to_string()))?
    };
    expand_hostname_as(written, &name).map_err(|m| m.at("destination.url"))
}

fn options(
    url: &DestinationUrl,
    raw: BTreeMap<String, Scalar>,
) -> Checked<BTreeMap<String, String>> {
    let options: BTreeMap<String, String> =
        raw.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    for (k, v) in &options {
        check_option(url, k, v).map_err(|m| m.at(format!("destination.options.{k}")))?;
    }
    Ok(options)
}

/// A `destination.*` duration, more than zero.
fn timeout(name: &str, v: Option<String>, default: Duration) -> Checked<Duration> {
    let key = format!("destination.{name}");
    match v.map(|t| (humantime::parse_duration(&t), t)) {
        None => Ok(default),
        Some((Ok(d), _)) if !d.is_zero() => Ok(d),
        Some((Ok(_), _)) => Err(KeyError::new(key, "must be more than zero")),
        Some((Err(e), t)) => Err(KeyError::new(
            key,
            format!("`{t}` is not a duration ({e}); write e.g. \"30s\" or \"2m\""),
        )),
    }
}

fn max_retries(v: Option<i64>) -> Checked<usize> {
    match v {
        None => Ok(DEFAULT_MAX_RETRIES),
        Some(n) if (0..=MAX_MAX_RETRIES as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(KeyError::new(
            "destination.max_retries",
            format!(
                "{n} is out of range; use 0 to {MAX_MAX_RETRIES} (default {DEFAULT_MAX_RETRIES})"
            ),
        )),
    }
}
