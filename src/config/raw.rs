//! The config as written: TOML text and `LOGFERRY_*` overrides read into a raw struct
//! whose fields are all optional and loosely typed, so that a missing or mistyped key is
//! reported by name before any value is checked. Validation is in `validate.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::destination::line_holds_secret;
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub state_dir: Option<String>,
    pub schedule: Option<String>,
    pub interval: Option<String>,
    pub timezone: Option<String>,
    pub jitter: Option<String>,
    pub shutdown_grace: Option<String>,
    pub metrics_listen: Option<String>,
    pub metrics_textfile: Option<String>,
    pub log_format: Option<String>,
    pub hash_workers: Option<i64>,
    pub requests_in_flight: Option<i64>,
    /// The old name of `requests_in_flight`, still read (with a warning).
    pub upload_concurrency: Option<i64>,
    pub multipart_threshold: Option<Scalar>,
    pub part_size: Option<Scalar>,
    pub destination: Option<RawDestination>,
    pub sources: Option<Vec<RawSource>>,
    pub retention: Option<super::retention::RawRetention>,
    pub heartbeat_url: Option<String>,
    pub hooks: Option<super::hooks::RawHooks>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDestination {
    pub url: Option<String>,
    pub options: Option<BTreeMap<String, Scalar>>,
    pub connect_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub max_retries: Option<i64>,
    pub retry_timeout: Option<String>,
    pub checksum: Option<String>,
    pub compression: Option<String>,
    pub compression_level: Option<i64>,
    pub encryption: Option<String>,
    pub age_recipients: Option<Vec<String>>,
    pub identity_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub name: Option<String>,
    pub path: Option<String>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub min_age: Option<String>,
    pub ignore_newest: Option<serde_json::Value>,
    pub closed_by: Option<String>,
    pub marker_dir: Option<String>,
    pub marker_suffixes: Option<Vec<String>>,
    pub names: Option<String>,
    pub watch: Option<bool>,
    pub compression: Option<String>,
    pub compression_level: Option<i64>,
    pub encryption: Option<String>,
    pub age_recipients: Option<Vec<String>>,
    pub retention: Option<super::retention::RawRetention>,
    pub delete_after_archive: Option<String>,
}

/// A TOML or environment scalar that is used as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
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

/// The file's TOML as a JSON value, which the environment's overrides are applied to.
pub(super) fn toml_value(file: &Option<PathBuf>, text: &str) -> Result<serde_json::Value> {
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| {
            Error::config(
                file.clone(),
                "",
                format!("not valid TOML: {}", toml_error(text, &e.to_string())),
            )
        })?;
    built
        .try_deserialize()
        .map_err(|e| Error::config(file.clone(), "", one_line(&e.to_string())))
}

/// The raw struct, or an error naming the key that does not fit it.
pub(super) fn deserialize(value: serde_json::Value, file: &Option<PathBuf>) -> Result<RawConfig> {
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

/// Whitespace runs, newlines included, as single spaces.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
