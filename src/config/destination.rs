//! The `[destination]` table: URL forms, backend options, and keeping secrets out of
//! anything printed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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

/// Replaced by the host's name when the config is loaded.
pub const HOSTNAME_VAR: &str = "{hostname}";
/// Replaced by each source's name: every source gets an archive of its own.
pub const SOURCE_VAR: &str = "{source}";

/// The archive destination.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Where the archive lives (for a per-source template, as the first source sees it).
    pub url: DestinationUrl,
    /// The URL as written, when it holds `{source}`; see [`crate::config::Config::archives`].
    pub template: Option<String>,
    /// The URL as written, when it holds `{hostname}`: read commands use it to read
    /// another host's archive ([`crate::config::Config::for_hostname`]) and to list the
    /// hosts that have one.
    pub hostname_template: Option<String>,
    /// Passed through to object_store's builder for the URL's scheme.
    pub options: BTreeMap<String, String>,
    /// Time allowed to open a connection.
    pub connect_timeout: std::time::Duration,
    /// Time allowed for one request.
    pub request_timeout: std::time::Duration,
    /// Retries of one request after a transient failure.
    pub max_retries: usize,
    /// Time one request may keep being retried.
    pub retry_timeout: std::time::Duration,
}

/// The host's name, for `{hostname}` in a destination URL.
pub fn system_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Expands `{hostname}`; any other `{…}` except `{source}` is an error.
pub(super) fn expand_hostname(text: &str) -> std::result::Result<String, String> {
    expand_hostname_as(text, &system_hostname())
}

/// Expands `{hostname}` to `host`; any other `{…}` except `{source}` is an error.
pub(super) fn expand_hostname_as(text: &str, host: &str) -> std::result::Result<String, String> {
    let expanded = if text.contains(HOSTNAME_VAR) {
        text.replace(HOSTNAME_VAR, host)
    } else {
        text.to_string()
    };
    let mut rest = expanded.as_str();
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let end = after.find('}').map_or(after.len(), |e| e + 1);
        let var = &after[..end];
        if var != SOURCE_VAR {
            return Err(format!(
                "unknown placeholder `{var}`; a destination URL may use {HOSTNAME_VAR} and {SOURCE_VAR}"
            ));
        }
        rest = &after[end..];
    }
    Ok(expanded)
}

/// Why `name` cannot stand for `{hostname}`, if it cannot: it becomes one path segment.
pub fn check_hostname(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("`{name}` is not a host name"));
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '/' | '\\' | '{' | '}' | '?' | '#') || c.is_control() || c.is_whitespace()
    }) {
        return Err(format!(
            "`{name}` is not a host name: it holds `{}`",
            c.escape_default()
        ));
    }
    Ok(())
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

/// Parses a destination URL (or a plain path, resolved against `base`), `{…}` already
/// expanded.
pub fn parse_destination_url(
    text: &str,
    base: &Path,
) -> std::result::Result<DestinationUrl, String> {
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
pub(super) fn check_option(url: &DestinationUrl, name: &str) -> std::result::Result<(), String> {
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
