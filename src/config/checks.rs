//! Checks of values that parse but would fail or do nothing at run time: a path that
//! starts with `~`, an empty `include`, globs that can never match, a compression level
//! without compression, a 6-field schedule that runs every few seconds. Each is pure:
//! an error ([`KeyError`]) or a warning line naming the key and the fix, pushed onto the
//! config's warnings. Checks that look at the file system are in `preflight.rs`.

use std::path::Path;

use super::error::{Checked, KeyError};
use crate::codec::{Codec, Compression};

/// A path key whose value starts with `~`: logferry does not expand it (no shell does
/// for a config file), so it would name a directory called `~`.
pub(super) fn no_tilde(key: &str, value: &str) -> Checked<()> {
    if !value.starts_with('~') {
        return Ok(());
    }
    let example = match value.split_once('/') {
        Some((_, rest)) => format!("/home/USER/{rest}"),
        None => "/home/USER".to_string(),
    };
    Err(KeyError::new(
        key,
        format!("`{value}` starts with `~`, which logferry does not expand (it would name a directory called `~`); write the absolute path, e.g. \"{example}\""),
    ))
}

/// `include = []` took every file, the live log too: an empty list is refused.
pub(super) fn include_not_empty(key: &str, include: Option<&[String]>) -> Checked<()> {
    match include {
        Some([]) => Err(KeyError::new(
            key,
            "is an empty list; leave the key out to take every file, or list the patterns to take, e.g. [\"*.log.*\"]",
        )),
        _ => Ok(()),
    }
}

/// Patterns match paths relative to the source's `path`: one that repeats that path
/// (`/var/log/app/*.log` for `path = "/var/log/app"`) can never match and is an error;
/// one that starts with the path's first directory (`/var/...`) most likely is an
/// absolute path too, and gets a warning. Keys are `sources[i].include[j]` and
/// `sources[i].exclude[j]`.
pub(super) fn anchored_like_absolute(
    prefix: &str,
    patterns: &[String],
    path: &Path,
    warnings: &mut Vec<String>,
) -> Checked<()> {
    let root = path.to_string_lossy();
    let root = root.trim_end_matches('/');
    let Some(first) = root.split('/').find(|c| !c.is_empty()) else {
        return Ok(()); // `path = "/"`: every anchored pattern is meant as written
    };
    for (j, p) in patterns.iter().enumerate() {
        let key = format!("{prefix}[{j}]");
        if let Some(rest) = p.strip_prefix(&format!("{root}/")) {
            return Err(KeyError::new(
                key,
                format!("`{p}` is an absolute path, but patterns are relative to `path` (`{root}`) and this one can never match; write \"{rest}\""),
            ));
        }
        if p.starts_with(&format!("/{first}/")) {
            warnings.push(KeyError::new(
                key,
                format!("`{p}` looks like an absolute path, but patterns are relative to `path` (`{root}`; a leading `/` anchors to its top), so it matches only `{root}{p}`; write the pattern relative to `path`"),
            ).to_string());
        }
    }
    Ok(())
}

/// An include pattern that an exclude pattern cancels (the same pattern, or an exclude
/// of every file) takes no file: a warning naming both keys.
pub(super) fn cancelled_includes(
    i: usize,
    include: &[String],
    exclude: &[String],
    warnings: &mut Vec<String>,
) {
    let everything = |p: &str| matches!(p, "*" | "**" | "**/*" | "/**");
    for (j, inc) in include.iter().enumerate() {
        if let Some(k) = exclude.iter().position(|e| e == inc || everything(e)) {
            warnings.push(
                KeyError::new(
                    format!("sources[{i}].include[{j}]"),
                    format!("`{inc}` takes no file: `sources[{i}].exclude[{k}]` (`{}`) excludes every file it matches; remove one of them", exclude[k]),
                )
                .to_string(),
            );
        }
    }
    if include.is_empty() {
        if let Some(k) = exclude.iter().position(|e| everything(e)) {
            warnings.push(
                KeyError::new(
                    format!("sources[{i}].exclude[{k}]"),
                    format!("`{}` excludes every file, so the source archives nothing; list the files to skip, or take them with `sources[{i}].include`", exclude[k]),
                )
                .to_string(),
            );
        }
    }
}

/// A `compression_level` set where the codec it ends up in is not zstd has no effect.
pub(super) fn level_without_zstd(
    level_key: &str,
    name_key: &str,
    level: Option<i64>,
    codec: Codec,
    warnings: &mut Vec<String>,
) {
    if level.is_some() && codec.compression != Compression::Zstd {
        warnings.push(
            KeyError::new(
                level_key,
                format!("has no effect: compression is \"none\"; set {name_key} = \"zstd\" to compress, or remove the level"),
            )
            .to_string(),
        );
    }
}

/// A 6/7-field schedule whose seconds field starts with `*` runs every second or every
/// few seconds: most likely a 5-field schedule with one field too many.
pub(super) fn seconds_schedule(text: &str) -> Option<String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if !matches!(fields.len(), 6 | 7) || !fields[0].starts_with('*') {
        return None;
    }
    let every = match fields[0].strip_prefix("*/") {
        Some(n) => format!("every {n} seconds"),
        None => "every second".to_string(),
    };
    Some(
        KeyError::new(
            "schedule",
            format!("`{text}` runs a pass {every}: with 6 fields the first is seconds; for crontab's meaning write the 5 fields \"{}\"", fields[..5].join(" ")),
        )
        .to_string(),
    )
}
