//! The `[hooks]` table (commands run before and after each pass) and `heartbeat_url`
//! (a dead-man switch pinged after each pass). Both are optional and off by default.
//!
//! A heartbeat URL is a capability: whoever knows a healthchecks.io or Cronitor ping URL
//! can report for the host. So its path and query are treated as secrets: shown as
//! `<redacted>` by `check-config` and in logs, and scrubbed from every printed line like
//! the destination's secrets; only the scheme and host are ever shown.

use std::time::Duration;

use serde::Deserialize;

use super::destination::MIN_SCRUBBED_LEN;
use super::error::{Checked, KeyError};

/// The prefix of the variables a hook is given about its pass (`LOGFERRY_PASS_OUTCOME`
/// …); never config overrides, and no config key may start with `pass_`.
pub(crate) const PASS_ENV_PREFIX: &str = "LOGFERRY_PASS_";

/// Default `hooks.timeout`: how long a hook may run before it is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `[hooks]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHooks {
    pub pre_pass: Option<String>,
    pub post_pass: Option<String>,
    pub timeout: Option<String>,
}

/// Commands run around each pass of an archive, by `/bin/sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassHooks {
    /// Run before the scan; when it fails or times out the pass is skipped.
    pub pre_pass: Option<String>,
    /// Run after every pass that ran (not a skipped one), with the report on stdin.
    pub post_pass: Option<String>,
    /// Either hook is killed (with its process group) after this long.
    pub timeout: Duration,
}

impl Default for PassHooks {
    fn default() -> Self {
        PassHooks {
            pre_pass: None,
            post_pass: None,
            timeout: DEFAULT_HOOK_TIMEOUT,
        }
    }
}

/// Where the agent reports after each pass: the URL on success, `<url>/fail` otherwise
/// (healthchecks.io's convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    url: url::Url,
}

impl Heartbeat {
    /// The URL pinged after a good pass.
    pub fn success_url(&self) -> url::Url {
        self.url.clone()
    }

    /// The URL pinged after a pass that did not end `ok`: `/fail` appended to the path.
    pub fn fail_url(&self) -> url::Url {
        let mut u = self.url.clone();
        let path = format!("{}/fail", u.path().trim_end_matches('/'));
        u.set_path(&path);
        u
    }

    /// The URL as it may be shown: scheme and host only, the rest `<redacted>`.
    pub fn shown(&self) -> String {
        shown(&self.url)
    }

    /// The texts to scrub from output: the password, the path (and each long segment of
    /// it) and the query, where they are long enough not to match unrelated text.
    pub fn secrets(&self) -> Vec<String> {
        let u = &self.url;
        let path = u.path().trim_matches('/');
        let mut found: Vec<String> = vec![path.to_string()];
        found.extend(path.split('/').map(str::to_string));
        found.extend(u.query().map(str::to_string));
        found.extend(u.password().map(str::to_string));
        if !u.username().is_empty() {
            found.push(u.username().to_string());
        }
        found.retain(|s| s.len() >= MIN_SCRUBBED_LEN);
        found.sort();
        found.dedup();
        found
    }
}

/// `scheme://host[:port]`, then `/<redacted>` when there is more.
fn shown(u: &url::Url) -> String {
    let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
    if let Some(port) = u.port() {
        s.push_str(&format!(":{port}"));
    }
    let more = u.path() != "/" || u.query().is_some() || !u.username().is_empty();
    s.push_str(if more { "/<redacted>" } else { "/" });
    s
}

/// The `[hooks]` table.
pub(super) fn pass_hooks(raw: Option<RawHooks>) -> Checked<PassHooks> {
    let Some(raw) = raw else {
        return Ok(PassHooks::default());
    };
    let timeout = match raw.timeout {
        None => DEFAULT_HOOK_TIMEOUT,
        Some(t) => match humantime::parse_duration(&t) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                return Err(KeyError::new(
                    "hooks.timeout",
                    "must be more than zero; write e.g. \"30s\" or \"5m\" (default 5m)",
                ))
            }
            Err(e) => {
                return Err(KeyError::new(
                    "hooks.timeout",
                    format!("`{t}` is not a duration ({e}); write e.g. \"30s\" or \"5m\""),
                ))
            }
        },
    };
    Ok(PassHooks {
        pre_pass: command("hooks.pre_pass", raw.pre_pass)?,
        post_pass: command("hooks.post_pass", raw.post_pass)?,
        timeout,
    })
}

fn command(key: &str, v: Option<String>) -> Checked<Option<String>> {
    match v {
        Some(c) if c.trim().is_empty() => Err(KeyError::new(
            key,
            "must not be empty; write a command for /bin/sh -c (e.g. \"systemctl is-active postgresql\"), or remove the key",
        )),
        other => Ok(other),
    }
}

/// `heartbeat_url`: an http:// or https:// URL (the URL parser requires their host). The value is never echoed:
/// its path is a secret.
pub(super) fn heartbeat(v: Option<String>) -> Checked<Option<Heartbeat>> {
    let Some(text) = v else {
        return Ok(None);
    };
    let err = |m: String| KeyError::new("heartbeat_url", m);
    let example = "write e.g. \"https://hc-ping.com/<uuid>\"";
    let url =
        url::Url::parse(text.trim()).map_err(|e| err(format!("not a URL ({e}); {example}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(format!(
            "scheme `{}` is not supported: the heartbeat is an HTTP GET; use http:// or https://, {example}",
            url.scheme()
        )));
    }
    Ok(Some(Heartbeat { url }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(text: &str) -> Heartbeat {
        heartbeat(Some(text.into())).unwrap().unwrap()
    }

    #[test]
    fn the_fail_url_appends_fail_to_the_path_and_keeps_the_query() {
        let h = hb("https://hc-ping.com/0f2a7c1e-5b7d-4e1a-9a63-1c2d3e4f5a6b");
        assert_eq!(
            h.fail_url().as_str(),
            "https://hc-ping.com/0f2a7c1e-5b7d-4e1a-9a63-1c2d3e4f5a6b/fail"
        );
        let h = hb("http://127.0.0.1:8000/ping/abc/?rid=1");
        assert_eq!(
            h.fail_url().as_str(),
            "http://127.0.0.1:8000/ping/abc/fail?rid=1"
        );
        assert_eq!(
            h.success_url().as_str(),
            "http://127.0.0.1:8000/ping/abc/?rid=1"
        );
    }

    #[test]
    fn only_scheme_and_host_are_shown_and_the_rest_is_scrubbed() {
        let h = hb("https://hc-ping.com/0f2a7c1e-5b7d-4e1a-9a63-1c2d3e4f5a6b");
        assert_eq!(h.shown(), "https://hc-ping.com/<redacted>");
        let secrets = h.secrets();
        let text = format!("GET {} failed", h.fail_url());
        let scrubbed = crate::config::scrub(&text, &secrets);
        assert!(!scrubbed.contains("0f2a7c1e"), "{scrubbed}");
        assert_eq!(
            hb("http://localhost:9000").shown(),
            "http://localhost:9000/"
        );
        // Short common words are not scrubbed from every line.
        assert!(!hb("https://x.io/ping/abc")
            .secrets()
            .contains(&"ping".into()));
    }
}
