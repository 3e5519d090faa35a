//! Validation of the `[[sources]]` tables: names, paths, globs, how a source tells that a
//! file is closed, and whether its names may take other content.

use std::path::Path;
use std::time::Duration;

use super::checks;
use super::error::{Checked, KeyError};
use super::raw::RawSource;
use super::retention::{source_keep, Keep};
use super::values::{parse_codec, resolve, validate_source_name};
use super::{
    ClosedBy, Matcher, Names, Source, DEFAULT_MARKER_DIR, DEFAULT_MARKER_SUFFIXES, DEFAULT_MIN_AGE,
};
use crate::codec::Codec;
use crate::crypt::Recipients;

/// Validates every source; relative paths resolve against `base`, unset compression
/// falls back to `default_codec`.
pub(super) fn validate_sources(
    raw_sources: Vec<RawSource>,
    default_codec: Codec,
    default_recipients: Option<&Recipients>,
    keep: Keep,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Checked<Vec<Source>> {
    let mut sources: Vec<Source> = Vec::with_capacity(raw_sources.len());
    for (i, mut rs) in raw_sources.into_iter().enumerate() {
        let name = source_name(i, rs.name.take(), &sources)?;
        let encryption = super::encryption::source_encryption(
            rs.encryption.take(),
            rs.age_recipients.take(),
            default_recipients,
            &format!("sources[{i}]."),
        )?;
        let mut source = validate_source(i, name, rs, default_codec, keep, base, warnings)?;
        source.encryption = encryption;
        sources.push(source);
    }
    Ok(sources)
}

/// `sources[i].name`, unique among the sources before it.
fn source_name(i: usize, name: Option<String>, before: &[Source]) -> Checked<String> {
    let key = format!("sources[{i}].name");
    let name = name.ok_or_else(|| KeyError::new(&key, "missing; e.g. name = \"app\""))?;
    validate_source_name(&name).map_err(|m| m.at(&key))?;
    if before.iter().any(|s| s.name == name) {
        return Err(KeyError::new(
            key,
            format!("`{name}` is used by another source; names must be unique"),
        ));
    }
    Ok(name)
}

/// The rest of `sources[i]`, once its name is known.
fn validate_source(
    i: usize,
    name: String,
    mut rs: RawSource,
    default_codec: Codec,
    keep: Keep,
    base: &Path,
    warnings: &mut Vec<String>,
) -> Checked<Source> {
    let key = |k: &str| format!("sources[{i}].{k}");
    let path = match rs.path.as_deref() {
        None => {
            return Err(KeyError::new(
                key("path"),
                "missing; the directory to archive from",
            ))
        }
        Some("") => return Err(KeyError::new(key("path"), "must not be empty")),
        Some(p) => {
            checks::no_tilde(&key("path"), p)?;
            resolve(base, p)
        }
    };
    globs_can_match(i, &rs, &path, warnings)?;
    let globs = |list: Option<Vec<String>>, what: &str| {
        Matcher::new(&list.unwrap_or_default()).map_err(|(j, m)| {
            KeyError::new(
                format!("sources[{i}].{what}[{j}]"),
                format!("bad glob: {m}"),
            )
        })
    };
    let include = globs(rs.include.take(), "include")?;
    let exclude = globs(rs.exclude.take(), "exclude")?;
    if rs.ignore_newest.is_some() {
        return Err(KeyError::new(
            key("ignore_newest"),
            "was replaced by `closed_by = \"not-newest\"` (the highest file in natural sort order is the open one); remove ignore_newest",
        ));
    }
    let closed_by = closed_by(&rs, &key)?;
    let min_age = min_age(rs.min_age, &closed_by, &key)?;
    let names = names(rs.names.as_deref(), &closed_by, &key)?;
    let delete_after_archive =
        delete_after_archive(rs.delete_after_archive.take(), &closed_by, &key)?;
    let codec = parse_codec(
        rs.compression,
        rs.compression_level,
        default_codec,
        &key("compression"),
        &key("compression_level"),
    )?;
    checks::level_without_zstd(
        &key("compression_level"),
        &key("compression"),
        rs.compression_level,
        codec,
        warnings,
    );
    let keep = source_keep(rs.retention.take(), keep, &key("retention"))?;
    Ok(Source {
        name,
        keep,
        names,
        path,
        include,
        exclude,
        min_age,
        closed_by,
        watch: rs.watch.unwrap_or(false),
        codec,
        delete_after_archive,
        encryption: None,
    })
}

/// `include` and `exclude` can take a file: not an empty include list, no pattern that
/// repeats the source's path, no include an exclude cancels.
fn globs_can_match(
    i: usize,
    rs: &RawSource,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Checked<()> {
    checks::include_not_empty(&format!("sources[{i}].include"), rs.include.as_deref())?;
    let include = rs.include.as_deref().unwrap_or_default();
    let exclude = rs.exclude.as_deref().unwrap_or_default();
    checks::anchored_like_absolute(&format!("sources[{i}].include"), include, path, warnings)?;
    checks::anchored_like_absolute(&format!("sources[{i}].exclude"), exclude, path, warnings)?;
    checks::cancelled_includes(i, include, exclude, warnings);
    Ok(())
}

/// `closed_by`, with the marker keys that only `ready-marker` takes.
fn closed_by(rs: &RawSource, key: &dyn Fn(&str) -> String) -> Checked<ClosedBy> {
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
            return Err(KeyError::new(
                key("closed_by"),
                format!("`{other}` is not a rule; use \"quiet\" (age), \"not-newest\" (sequences like binlogs) or \"ready-marker\" (PostgreSQL)"),
            ))
        }
    };
    let ClosedBy::ReadyMarker { dir, suffixes } = &closed_by else {
        for (k, set) in [
            ("marker_dir", rs.marker_dir.is_some()),
            ("marker_suffixes", rs.marker_suffixes.is_some()),
        ] {
            if set {
                return Err(KeyError::new(
                    key(k),
                    "applies to closed_by = \"ready-marker\" only; remove it",
                ));
            }
        }
        return Ok(closed_by);
    };
    if dir.is_empty() || dir.contains('/') || dir == ".." || dir == "." {
        return Err(KeyError::new(
            key("marker_dir"),
            format!("`{dir}` must be one directory name, e.g. \"archive_status\""),
        ));
    }
    if suffixes.is_empty() || suffixes.iter().any(|s| s.is_empty() || s.contains('/')) {
        return Err(KeyError::new(
            key("marker_suffixes"),
            "give at least one suffix without `/`, e.g. [\".ready\", \".done\"]",
        ));
    }
    Ok(closed_by)
}

/// `min_age`, which only `closed_by = "quiet"` takes.
fn min_age(
    v: Option<String>,
    closed_by: &ClosedBy,
    key: &dyn Fn(&str) -> String,
) -> Checked<Duration> {
    if v.is_some() && *closed_by != ClosedBy::Quiet {
        return Err(KeyError::new(
            key("min_age"),
            "applies to closed_by = \"quiet\" only (the other rules know when a file is closed); remove it",
        ));
    }
    match v {
        None => Ok(DEFAULT_MIN_AGE),
        Some(t) => humantime::parse_duration(&t).map_err(|e| {
            KeyError::new(
                key("min_age"),
                format!("`{t}` is not a duration ({e}); write e.g. \"60s\", \"5m\" or \"0s\""),
            )
        }),
    }
}

/// `names`, whose default follows `closed_by`: a quiet source's names are reused.
fn names(v: Option<&str>, closed_by: &ClosedBy, key: &dyn Fn(&str) -> String) -> Checked<Names> {
    match v {
        None if *closed_by == ClosedBy::Quiet => Ok(Names::Reused),
        None | Some("immutable") => Ok(Names::Immutable),
        Some("reused") => Ok(Names::Reused),
        Some(other) => Err(KeyError::new(
            key("names"),
            format!("`{other}` is not a choice; use \"immutable\" (a name keeps its first content: WAL, binlogs) or \"reused\" (names come back with new content: logrotate)"),
        )),
    }
}

/// `delete_after_archive`, which a `ready-marker` source never takes: PostgreSQL
/// recycles and removes its own WAL segments once `archive_command` reported them done.
fn delete_after_archive(
    v: Option<String>,
    closed_by: &ClosedBy,
    key: &dyn Fn(&str) -> String,
) -> Checked<Option<Duration>> {
    let Some(t) = v else { return Ok(None) };
    if matches!(closed_by, ClosedBy::ReadyMarker { .. }) {
        return Err(KeyError::new(
            key("delete_after_archive"),
            "cannot be used with closed_by = \"ready-marker\": PostgreSQL owns its WAL files and removes them itself once archived; remove delete_after_archive",
        ));
    }
    if t == "never" {
        return Ok(None);
    }
    humantime::parse_duration(&t).map(Some).map_err(|e| {
        KeyError::new(
            key("delete_after_archive"),
            format!("`{t}` is not a duration ({e}); write e.g. \"3days\", \"12h\" or \"never\""),
        )
    })
}
