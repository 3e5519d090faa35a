//! The `[retention]` tables: how long archived versions are kept, for the archive and
//! per source. Nothing is ever deleted unless a rule is configured here (or `expire
//! --before` is given by hand), so every key is optional and the default keeps all.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Checked, KeyError};
use super::DEFAULT_GRACE;

/// How often the agent expires by default.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// `[retention]` or `[sources.retention]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    pub keep_for: Option<String>,
    pub keep_base_backups: Option<i64>,
    pub interval: Option<String>,
    pub grace: Option<String>,
}

/// What decides that a version may go: both unset keeps every version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    /// Versions archived less than this long ago are kept.
    pub keep_for: Option<Duration>,
    /// PostgreSQL WAL: keep what the N newest base backups need, and everything after.
    pub keep_base_backups: Option<u32>,
}

impl Keep {
    /// Whether any rule lets a version expire.
    pub fn expires(&self) -> bool {
        self.keep_for.is_some() || self.keep_base_backups.is_some()
    }
}

/// The archive's retention: its default rules (sources may override them), and how
/// expiry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The rules of sources that set none of their own.
    pub keep: Keep,
    /// The agent expires at most this often.
    pub interval: Duration,
    /// Objects younger than this are never deleted (an upload of a pass in flight).
    pub grace: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep: Keep::default(),
            interval: DEFAULT_RETENTION_INTERVAL,
            grace: DEFAULT_GRACE,
        }
    }
}

/// The top-level `[retention]` table.
pub(super) fn archive_retention(raw: Option<RawRetention>) -> Checked<Retention> {
    let Some(raw) = raw else {
        return Ok(Retention::default());
    };
    let keep = keep(&raw, "retention")?;
    let interval = at_least_a_second("retention.interval", raw.interval)?
        .unwrap_or(DEFAULT_RETENTION_INTERVAL);
    let grace = at_least_a_second("retention.grace", raw.grace)?.unwrap_or(DEFAULT_GRACE);
    Ok(Retention {
        keep,
        interval,
        grace,
    })
}

/// A source's `[sources.retention]` table over the archive's rules: a key it sets wins.
pub(super) fn source_keep(raw: Option<RawRetention>, archive: Keep, prefix: &str) -> Checked<Keep> {
    let Some(raw) = raw else { return Ok(archive) };
    for (name, set) in [
        ("interval", raw.interval.is_some()),
        ("grace", raw.grace.is_some()),
    ] {
        if set {
            return Err(KeyError::new(
                format!("{prefix}.{name}"),
                "applies to the whole archive; set it in the top-level [retention] table",
            ));
        }
    }
    let own = keep(&raw, prefix)?;
    Ok(Keep {
        keep_for: own.keep_for.or(archive.keep_for),
        keep_base_backups: own.keep_base_backups.or(archive.keep_base_backups),
    })
}

/// `keep`'s lines as TOML, an unset rule as a comment saying what it means.
pub(super) fn keep_toml(keep: &Keep) -> String {
    let mut out = String::new();
    match keep.keep_for {
        Some(d) => out.push_str(&format!(
            "keep_for = \"{}\"\n",
            humantime::format_duration(d)
        )),
        None => out.push_str("# keep_for: not set (no version expires by age)\n"),
    }
    match keep.keep_base_backups {
        Some(n) => out.push_str(&format!("keep_base_backups = {n}\n")),
        None => out.push_str("# keep_base_backups: not set\n"),
    }
    out
}

/// The `[retention]` table as TOML.
pub(super) fn retention_toml(r: &Retention) -> String {
    format!(
        "{}interval = \"{}\"\ngrace = \"{}\"\n",
        keep_toml(&r.keep),
        humantime::format_duration(r.interval),
        humantime::format_duration(r.grace)
    )
}

/// `keep` as JSON (an unset rule as null).
pub(super) fn keep_json(keep: &Keep) -> serde_json::Value {
    serde_json::json!({
        "keep_for": keep.keep_for.map(|d| humantime::format_duration(d).to_string()),
        "keep_base_backups": keep.keep_base_backups,
    })
}

/// The `[retention]` table as JSON.
pub(super) fn retention_json(r: &Retention) -> serde_json::Value {
    let mut v = keep_json(&r.keep);
    v["interval"] = humantime::format_duration(r.interval).to_string().into();
    v["grace"] = humantime::format_duration(r.grace).to_string().into();
    v
}

fn keep(raw: &RawRetention, prefix: &str) -> Checked<Keep> {
    let keep_for = at_least_a_second(&format!("{prefix}.keep_for"), raw.keep_for.clone())?;
    let keep_base_backups = match raw.keep_base_backups {
        None => None,
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
        Some(n) => {
            return Err(KeyError::new(
                format!("{prefix}.keep_base_backups"),
                format!("{n} is not a number of base backups; write 1 or more (leave it out to keep all WAL)"),
            ))
        }
    };
    Ok(Keep {
        keep_for,
        keep_base_backups,
    })
}

fn at_least_a_second(key: &str, v: Option<String>) -> Checked<Option<Duration>> {
    let Some(t) = v else { return Ok(None) };
    let d = humantime::parse_duration(&t).map_err(|e| {
        KeyError::new(
            key,
            format!("`{t}` is not a duration ({e}); write e.g. \"90d\""),
        )
    })?;
    if d < Duration::from_secs(1) {
        return Err(KeyError::new(
            key,
            format!("`{t}` is shorter than 1s; leave the key out to keep every version"),
        ));
    }
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{from_toml_str, Config, Keep};

    const DAY: Duration = Duration::from_secs(86_400);

    fn parse(retention: &str, source: &str) -> crate::error::Result<Config> {
        let text = format!(
            "[destination]\nurl = \"mirror\"\n{retention}\n[[sources]]\nname = \"app\"\npath = \"logs\"\n{source}\n[[sources]]\nname = \"wal\"\npath = \"wal\"\n"
        );
        from_toml_str(&text, Path::new("/etc/lf"), std::iter::empty())
    }

    fn bad(retention: &str, source: &str, key: &str, words: &str) {
        let e = parse(retention, source).unwrap_err().to_string();
        assert!(
            e.contains(&format!("key `{key}`")),
            "should name `{key}`: {e}"
        );
        assert!(e.contains(words), "`{words}` missing from: {e}");
    }

    #[test]
    fn no_retention_keeps_everything_by_default() {
        let c = parse("", "").unwrap();
        assert!(!c.retention.keep.expires());
        assert!(c.sources.iter().all(|s| !s.keep.expires()));
        assert_eq!(c.retention.interval, super::DEFAULT_RETENTION_INTERVAL);
        assert_eq!(c.retention.grace, crate::config::DEFAULT_GRACE);
    }

    #[test]
    fn a_source_overrides_the_archive_rules_key_by_key() {
        let c = parse(
            "[retention]\nkeep_for = \"90d\"\ninterval = \"6h\"\ngrace = \"2d\"",
            "[sources.retention]\nkeep_base_backups = 2",
        )
        .unwrap();
        assert_eq!(
            c.sources[0].keep,
            Keep {
                keep_for: Some(90 * DAY),
                keep_base_backups: Some(2)
            }
        );
        assert_eq!(c.sources[1].keep, c.retention.keep, "the archive's rules");
        assert_eq!(c.retention.interval, Duration::from_secs(6 * 3600));
        assert_eq!(c.retention.grace, 2 * DAY);
        let c = parse(
            "[retention]\nkeep_for = \"90d\"",
            "[sources.retention]\nkeep_for = \"7d\"",
        )
        .unwrap();
        assert_eq!(c.sources[0].keep.keep_for, Some(7 * DAY));
    }

    #[test]
    fn bad_retention_values_name_their_key() {
        bad(
            "[retention]\nkeep_for = \"soon\"",
            "",
            "retention.keep_for",
            "not a duration",
        );
        bad(
            "[retention]\nkeep_for = \"0s\"",
            "",
            "retention.keep_for",
            "shorter than 1s",
        );
        bad(
            "[retention]\nkeep_base_backups = 0",
            "",
            "retention.keep_base_backups",
            "1 or more",
        );
        bad(
            "[retention]\ninterval = \"daily\"",
            "",
            "retention.interval",
            "not a duration",
        );
        bad(
            "[retention]\ngrace = \"0s\"",
            "",
            "retention.grace",
            "shorter than 1s",
        );
        bad(
            "",
            "[sources.retention]\nkeep_for = \"1x\"",
            "sources[0].retention.keep_for",
            "not a duration",
        );
        bad(
            "",
            "[sources.retention]\ninterval = \"1h\"",
            "sources[0].retention.interval",
            "whole archive",
        );
        bad(
            "",
            "[sources.retention]\ngrace = \"1h\"",
            "sources[0].retention.grace",
            "whole archive",
        );
        bad(
            "[retention]\nkeep = \"90d\"",
            "",
            "retention.keep",
            "unknown field",
        );
    }
}
