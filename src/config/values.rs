//! Parsing of single config values that several keys share or that other modules use:
//! schedules, sizes, source names, compression. Each says what is wrong with the value;
//! the caller knows the key.

use std::path::{Path, PathBuf};

use super::crontab::Cron;
use super::error::{Invalid, KeyError};
use super::{Schedule, ScheduleKind, DEFAULT_ZSTD_LEVEL};
use crate::codec::{Codec, Compression};

/// `compression` ("zstd" or "none") and `compression_level` (1–22, default 3); unset
/// keys fall back to `inherited`.
pub(super) fn parse_codec(
    name: Option<String>,
    level: Option<i64>,
    inherited: Codec,
    name_key: &str,
    level_key: &str,
) -> Result<Codec, KeyError> {
    let compression = match name.as_deref() {
        None => inherited.compression,
        Some("zstd") => Compression::Zstd,
        Some("none") => Compression::None,
        Some(other) => {
            return Err(KeyError::new(
                name_key,
                format!("`{other}` is not a compression; use \"zstd\" or \"none\""),
            ))
        }
    };
    let level = match level {
        None if compression == inherited.compression
            && inherited.compression == Compression::Zstd =>
        {
            inherited.level
        }
        None => DEFAULT_ZSTD_LEVEL,
        Some(l) if (1..=22).contains(&l) => l as i32,
        Some(l) => {
            return Err(KeyError::new(
                level_key,
                format!(
                    "{l} is out of range; zstd levels are 1 to 22 (default {DEFAULT_ZSTD_LEVEL})"
                ),
            ))
        }
    };
    if compression == Compression::None {
        return Ok(Codec::PLAIN);
    }
    Ok(Codec { compression, level })
}

/// `p` made absolute against the config file's directory.
pub(super) fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Accepts crontab's 5 fields (minute first) and the 6/7-field form (seconds first),
/// both with crontab's weekdays (0 and 7 = Sunday) and day-of-month OR weekday rule.
pub(crate) fn parse_schedule(text: &str) -> Result<Schedule, Invalid> {
    let cron = Cron::parse(text)?;
    Ok(Schedule {
        text: text.to_string(),
        kind: ScheduleKind::Cron(Box::new(cron), None),
    })
}

/// A byte count, plain or with a binary unit (`8MiB`).
pub(super) fn parse_size(text: &str) -> Result<u64, Invalid> {
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
        u => return Err(format!("unknown unit `{u}` in `{text}`; use B, KiB, MiB or GiB").into()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large").into())
}

/// A source name becomes part of object keys and of a state dir's path.
pub(super) fn validate_source_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not allowed").into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{name}` contains `{c}`; use letters, digits, `-`, `_` and `.` (it becomes part of object keys)"
        )
        .into());
    }
    Ok(())
}
