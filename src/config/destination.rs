//! The `[destination]` table's types and rules: the URL forms a destination may take,
//! the backend option names each scheme accepts, and keeping secrets (passwords, SAS
//! tokens, secret-named options) out of anything printed. Turning the raw table into a
//! [`Destination`] is in `validate.rs`; `{hostname}` is in `hostname.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::Invalid;

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
pub(crate) const HOSTNAME_VAR: &str = "{hostname}";
/// Replaced by each source's name: every source gets an archive of its own.
pub(crate) const SOURCE_VAR: &str = "{source}";

/// The archive destination. Its `Debug` redacts secrets as `check-config` does.
#[derive(Clone)]
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
    /// The checksum S3 puts carry so the server verifies what it stores.
    pub checksum: UploadChecksum,
    /// Client-side encryption: who new content is encrypted to, which identities read
    /// it, and where the archive key is kept.
    pub encryption: Encryption,
}

/// Client-side encryption of a destination (see README, Encryption).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Encryption {
    /// The recipients sources encrypt to unless they say otherwise (`encryption = "age"`
    /// with `age_recipients` in `[destination]`); `None`: content is stored as it is.
    pub recipients: Option<crate::crypt::Recipients>,
    /// Every set of recipients a source of this archive encrypts to.
    pub recipient_sets: Vec<crate::crypt::Recipients>,
    /// Identity files that read encrypted content (`identity_file`, `--identity`).
    pub identity_files: Vec<std::path::PathBuf>,
    /// The archive key's file in the state dir.
    pub key_file: Option<std::path::PathBuf>,
}

impl Encryption {
    /// Whether any source of the archive encrypts its content.
    pub fn encrypts(&self) -> bool {
        !self.recipient_sets.is_empty()
    }
}

/// `destination.checksum`: whether S3 uploads carry `x-amz-checksum-sha256`. Object Lock
/// buckets refuse a put without a checksum, and with one the server verifies every
/// byte it stores; a store that rejects the header needs `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadChecksum {
    /// Every put and part carries its SHA-256 (the default).
    #[default]
    Sha256,
    /// No checksum header: for stores that reject it.
    None,
}

impl UploadChecksum {
    /// The value as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            UploadChecksum::Sha256 => "sha256",
            UploadChecksum::None => "none",
        }
    }
}

/// The option names with which object_store takes the checksum algorithm itself.
pub(crate) const CHECKSUM_OPTIONS: &[&str] = &["aws_checksum_algorithm", "checksum_algorithm"];

/// `destination.checksum` as written, checked against the URL and the options: it
/// applies to S3 only, and `none` cannot stand beside an option that asks for one.
pub(super) fn parse_checksum(
    written: Option<&str>,
    url: &DestinationUrl,
    options: &BTreeMap<String, String>,
) -> Result<UploadChecksum, Invalid> {
    let Some(text) = written else {
        return Ok(UploadChecksum::Sha256);
    };
    let s3 = matches!(url, DestinationUrl::Remote(u) if matches!(u.scheme(), "s3" | "s3a"));
    if !s3 {
        return Err(
            "applies to s3:// destinations only (the gs:// and az:// clients choose their own integrity checks); remove it"
                .into(),
        );
    }
    let checksum = match text {
        "sha256" => UploadChecksum::Sha256,
        "none" => UploadChecksum::None,
        other => {
            return Err(format!(
                "`{other}` is not a checksum; use \"sha256\" (the default) or \"none\" for a store that rejects x-amz-checksum-* headers"
            )
            .into())
        }
    };
    let asked = options
        .keys()
        .find(|k| CHECKSUM_OPTIONS.contains(&k.to_ascii_lowercase().as_str()));
    match (checksum, asked) {
        (UploadChecksum::None, Some(k)) => {
            Err(format!("\"none\" contradicts destination.options.{k}; remove one of them").into())
        }
        _ => Ok(checksum),
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: BTreeMap<&str, String> = self
            .options
            .iter()
            .map(|(k, v)| (k.as_str(), shown_option(k, v)))
            .collect();
        let redact = |t: &Option<String>| t.as_deref().map(redact_url_text);
        f.debug_struct("Destination")
            .field("url", &self.url.to_string())
            .field("template", &redact(&self.template))
            .field("hostname_template", &redact(&self.hostname_template))
            .field("options", &options)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("checksum", &self.checksum)
            .finish()
    }
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

impl DestinationUrl {
    /// Whether this is an S3 destination (`s3://`, `s3a://`).
    pub(crate) fn is_s3(&self) -> bool {
        matches!(self, DestinationUrl::Remote(u) if matches!(u.scheme(), "s3" | "s3a"))
    }

    /// Whether this is a GCS destination (`gs://`).
    pub(crate) fn is_gcs(&self) -> bool {
        matches!(self, DestinationUrl::Remote(u) if u.scheme() == "gs")
    }
}

/// Whether `name` is S3's server-side encryption option, under any of the spellings
/// object_store takes for it.
pub(crate) fn is_s3_encryption_option(name: &str) -> bool {
    use object_store::aws::AmazonS3ConfigKey;
    name.to_ascii_lowercase()
        .parse::<AmazonS3ConfigKey>()
        .is_ok_and(|k| k.as_ref() == "aws_server_side_encryption")
}

/// Parses a destination URL (or a plain path, resolved against `base`), `{…}` already
/// expanded.
pub(crate) fn parse_destination_url(text: &str, base: &Path) -> Result<DestinationUrl, Invalid> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    // Echoed in errors; a user name and password would come with it.
    let shown = if text.contains('@') {
        redact_url_text(text)
    } else {
        text.to_string()
    };
    let text_for_errors = shown.as_str();
    let Some((scheme, _)) = text.split_once("://") else {
        if text.contains(':') && !text.starts_with('.') && !text.starts_with('/') {
            return Err(format!(
                "`{text_for_errors}` is neither a URL nor a path; use file:///dir, memory://, s3://bucket/prefix, gs://… or az://…"
            ).into());
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
            let url = url::Url::parse(text).map_err(|e| format!("`{text_for_errors}`: {e}"))?;
            if url.host_str().is_some_and(|h| !h.is_empty()) {
                return Err(format!(
                    "`{text_for_errors}` names a host; a file URL takes an absolute path (file:///var/archive), or write a plain path relative to the config file"
                ).into());
            }
            let path = url
                .to_file_path()
                .map_err(|_| format!("`{text_for_errors}` is not a usable file path"))?;
            Ok(DestinationUrl::Local(path))
        }
        "memory" => Ok(DestinationUrl::Memory),
        "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss" => {
            let url = url::Url::parse(text).map_err(|e| format!("`{}`: {e}", redact_url_text(text)))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{}` has no bucket or container name", redact_url_text(text)).into());
            }
            Ok(DestinationUrl::Remote(url))
        }
        other => Err(format!(
            "unsupported scheme `{other}`; use file:///dir, memory://, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix"
        ).into()),
    }
}

/// object_store ignores option names it does not know; an operator's typo must not be
/// silently dropped, so each name is checked against the backend's own list.
pub(super) fn check_option(url: &DestinationUrl, name: &str, value: &str) -> Result<(), Invalid> {
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
        check_option_value(url.scheme(), name, value)
    } else {
        Err(format!(
            "unknown option for {}:// destinations; known options include {examples}",
            url.scheme()
        )
        .into())
    }
}

/// The server-side encryptions S3 knows, as object_store takes them (exact case).
const S3_ENCRYPTIONS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse", "sse-c"];

/// The values object_store would refuse only when the store is opened, with a message
/// that names neither the key nor (for KMS) the right spelling.
fn check_option_value(scheme: &str, name: &str, value: &str) -> Result<(), Invalid> {
    let sse = matches!(scheme, "s3" | "s3a") && is_s3_encryption_option(name);
    if !sse || S3_ENCRYPTIONS.contains(&value) {
        return Ok(());
    }
    Err(format!(
        "`{value}` is not a server-side encryption; use \"AES256\" (SSE-S3), \"aws:kms\" (SSE-KMS, with aws_sse_kms_key_id), \"aws:kms:dsse\" or \"sse-c\" (with aws_sse_customer_key_base64)"
    )
    .into())
}

fn redact_url_text(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(u) => redact_url(&u),
        Err(_) => "<unparseable url>".to_string(),
    }
}

/// The URL without any password or query string (SAS tokens live there). A user name
/// alone is kept: in `abfss://container@account…` it names the container.
pub(crate) fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("<redacted>"));
    }
    if u.query().is_some() {
        u.set_query(Some("<redacted>"));
    }
    // Userinfo is percent-encoded; the marker reads better as written.
    u.to_string().replace("%3Credacted%3E", "<redacted>")
}

/// Whether a destination option holds a secret and must never be printed.
pub(crate) fn is_secret_option(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// A destination option's value as it may be printed: `<redacted>` for a secret-named
/// option; for any other, a URL's password (a user name alone, which is then a token)
/// and query string replaced by `<redacted>`, whatever the option's name
/// (`proxy_url = "http://user:pass@proxy:3128"`, `aws_endpoint`, …).
pub(crate) fn shown_option(name: &str, value: &str) -> String {
    if is_secret_option(name) {
        return "<redacted>".to_string();
    }
    match url::Url::parse(value) {
        Ok(mut u) if u.has_host() && has_secret_part(&u) => {
            if lone_user(&u).is_some() {
                let _ = u.set_username("<redacted>");
            }
            redact_url(&u)
        }
        _ => value.to_string(),
    }
}

fn has_secret_part(u: &url::Url) -> bool {
    !u.username().is_empty() || u.password().is_some() || u.query().is_some()
}

/// The user name of an http(s) URL that has no password: a token
/// (`https://<token>@host`), so it is a secret too.
fn lone_user(u: &url::Url) -> Option<String> {
    let http = matches!(u.scheme(), "http" | "https");
    (http && u.password().is_none() && !u.username().is_empty()).then(|| u.username().to_string())
}

/// Whether a line of config text holds a secret: a secret-named key, or a URL with a
/// user name or password.
pub(super) fn line_holds_secret(line: &str) -> bool {
    let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if words.filter(|w| !w.is_empty()).any(is_secret_option) {
        return true;
    }
    line.match_indices("://").any(|(i, _)| {
        let rest = &line[i + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '/'))
            .unwrap_or(rest.len());
        rest[..end].contains('@')
    })
}

/// Secrets shorter than this are too easily found in unrelated text to be scrubbed from
/// every line; they are redacted only where their option is printed.
pub(crate) const MIN_SCRUBBED_LEN: usize = 8;

impl Destination {
    /// Every secret text the destination holds, for scrubbing messages that a backend
    /// builds (its errors quote request URLs, a proxy's credentials): the values of
    /// secret-named options and the passwords, token-like user names and query values of
    /// URL-valued options and of the URL itself, as written and percent-decoded. Texts
    /// shorter than [`MIN_SCRUBBED_LEN`] are left out.
    pub fn secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut urls = Vec::new();
        if let DestinationUrl::Remote(u) = &self.url {
            urls.push(u.clone());
        }
        for (name, value) in &self.options {
            if is_secret_option(name) {
                found.push(value.clone());
            } else if let Ok(u) = url::Url::parse(value) {
                urls.push(u);
            }
        }
        for u in &urls {
            found.extend(u.password().map(str::to_string).or_else(|| lone_user(u)));
            if let Some(q) = u.query() {
                found.extend(
                    q.split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(_, v)| v.to_string()),
                );
            }
        }
        let decoded: Vec<String> = found.iter().map(|s| percent_decode(s)).collect();
        found.extend(decoded);
        found.retain(|s| s.len() >= MIN_SCRUBBED_LEN);
        // Longest first, so that a secret holding another is replaced whole.
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found.dedup();
        found
    }
}

/// `text` with every one of `secrets` replaced by `<redacted>`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    out
}

/// `%XX` escapes decoded, as a backend may print the password it was given.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_valued_option_keeps_its_user_and_loses_its_password() {
        assert_eq!(
            shown_option("proxy_url", "http://me:pw-123@proxy:3128"),
            "http://me:<redacted>@proxy:3128/"
        );
        assert_eq!(
            shown_option("aws_endpoint", "http://token-abc@host"),
            "http://<redacted>@host/"
        );
        assert_eq!(
            shown_option("aws_endpoint", "http://host:9000"),
            "http://host:9000"
        );
        assert_eq!(shown_option("aws_secret_access_key", "x"), "<redacted>");
    }

    #[test]
    fn a_container_in_the_user_position_is_not_taken_for_a_token() {
        let u = url::Url::parse("abfss://logs@acct.dfs.core.windows.net/p").unwrap();
        assert_eq!(redact_url(&u), "abfss://logs@acct.dfs.core.windows.net/p");
    }

    #[test]
    fn lines_with_secrets_are_told_apart() {
        assert!(line_holds_secret("aws_secret_access_key = \"abc"));
        assert!(line_holds_secret("proxy_url = \"http://u:p@h:1\" x"));
        assert!(!line_holds_secret("aws_endpoint = \"http://h:1/a@b\""));
        assert!(!line_holds_secret("state_dir = \"state"));
    }

    #[test]
    fn secrets_to_scrub_are_the_long_ones_decoded_too() {
        let mut options = BTreeMap::new();
        options.insert("aws_access_key_id".to_string(), "test".to_string());
        options.insert(
            "proxy_url".to_string(),
            "http://me:p%40ss-word@proxy:1".to_string(),
        );
        let d = Destination {
            url: DestinationUrl::Memory,
            template: None,
            hostname_template: None,
            options,
            connect_timeout: std::time::Duration::from_secs(1),
            request_timeout: std::time::Duration::from_secs(1),
            max_retries: 0,
            retry_timeout: std::time::Duration::from_secs(1),
            checksum: UploadChecksum::Sha256,
            encryption: Default::default(),
        };
        let secrets = d.secrets();
        assert_eq!(secrets, ["p%40ss-word", "p@ss-word"]);
        let debug = format!("{d:?}");
        assert!(!debug.contains("ss-word"), "{debug}");
        assert_eq!(
            scrub("GET http://me:p%40ss-word@proxy", &secrets),
            "GET http://me:<redacted>@proxy"
        );
    }
}
