//! Validation of the `[[sources]]` tables: names, paths, globs and how files are closed.

use std::path::PathBuf;

use super::values::{parse_codec, validate_source_name};
use super::{
    ClosedBy, Matcher, Names, RawSource, Source, DEFAULT_MARKER_DIR, DEFAULT_MARKER_SUFFIXES,
    DEFAULT_MIN_AGE,
};
use crate::codec::Codec;
use crate::error::{Error, Result};

/// Validates every source; `err` makes a config error for a key, `resolve` makes a path
/// absolute against the config file's directory.
pub(super) fn validate_sources(
    raw_sources: Vec<RawSource>,
    default_codec: Codec,
    err: &dyn Fn(&str, String) -> Error,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Vec<Source>> {
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
        if rs.ignore_newest.is_some() {
            return Err(err(
                &key("ignore_newest"),
                "was replaced by `closed_by = \"not-newest\"` (the highest file in natural sort order is the open one); remove ignore_newest".into(),
            ));
        }
        let closed_by = match rs.closed_by.as_deref() {
            None | Some("quiet") => ClosedBy::Quiet,
            Some("not-newest") => ClosedBy::NotNewest,
            Some("ready-marker") => ClosedBy::ReadyMarker {
                dir: rs.marker_dir.clone().unwrap_or_else(|| DEFAULT_MARKER_DIR.to_string()),
                suffixes: rs
                    .marker_suffixes
                    .clone()
                    .unwrap_or_else(|| DEFAULT_MARKER_SUFFIXES.iter().map(|s| s.to_string()).collect()),
            },
            Some(other) => {
                return Err(err(
                    &key("closed_by"),
                    format!("`{other}` is not a rule; use \"quiet\" (age), \"not-newest\" (sequences like binlogs) or \"ready-marker\" (PostgreSQL)"),
                ))
            }
        };
        if !matches!(closed_by, ClosedBy::ReadyMarker { .. }) {
            for (k, set) in [
                ("marker_dir", rs.marker_dir.is_some()),
                ("marker_suffixes", rs.marker_suffixes.is_some()),
            ] {
                if set {
                    return Err(err(
                        &key(k),
                        "applies to closed_by = \"ready-marker\" only; remove it".into(),
                    ));
                }
            }
        }
        if let ClosedBy::ReadyMarker { dir, suffixes } = &closed_by {
            if dir.is_empty() || dir.contains('/') || dir == ".." || dir == "." {
                return Err(err(
                    &key("marker_dir"),
                    format!("`{dir}` must be one directory name, e.g. \"archive_status\""),
                ));
            }
            if suffixes.is_empty() || suffixes.iter().any(|s| s.is_empty() || s.contains('/')) {
                return Err(err(
                    &key("marker_suffixes"),
                    "give at least one suffix without `/`, e.g. [\".ready\", \".done\"]".into(),
                ));
            }
        }
        if rs.min_age.is_some() && closed_by != ClosedBy::Quiet {
            return Err(err(
                &key("min_age"),
                "applies to closed_by = \"quiet\" only (the other rules know when a file is closed); remove it".into(),
            ));
        }
        let min_age = match rs.min_age {
            None => DEFAULT_MIN_AGE,
            Some(t) => humantime::parse_duration(&t).map_err(|e| {
                err(
                    &key("min_age"),
                    format!("`{t}` is not a duration ({e}); write e.g. \"60s\", \"5m\" or \"0s\""),
                )
            })?,
        };
        let names = match rs.names.as_deref() {
            None if closed_by == ClosedBy::Quiet => Names::Reused,
            None | Some("immutable") => Names::Immutable,
            Some("reused") => Names::Reused,
            Some(other) => {
                return Err(err(
                    &key("names"),
                    format!("`{other}` is not a choice; use \"immutable\" (a name keeps its first content: WAL, binlogs) or \"reused\" (names come back with new content: logrotate)"),
                ))
            }
        };
        sources.push(Source {
            name,
            names,
            path,
            include,
            exclude,
            min_age,
            closed_by,
            watch: rs.watch.unwrap_or(false),
            codec: parse_codec(
                rs.compression,
                rs.compression_level,
                default_codec,
                &key("compression"),
                &key("compression_level"),
            )
            .map_err(|(k, m)| err(&k, m))?,
        });
    }
    Ok(sources)
}
