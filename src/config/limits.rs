//! The limits of a pass: how many files are read, hashed and compressed at once
//! (`hash_workers`), how many requests go to the destination at once
//! (`requests_in_flight`, once called `upload_concurrency`), which files go up in one
//! request (`multipart_threshold`) and the size of a multipart upload's parts
//! (`part_size`). CPU work and requests are bounded apart, because a remote store wants
//! many requests in flight while hashing wants about one worker per core; the bytes a
//! pass holds in memory follow from these keys (see [`super::Config::memory_budget`]).

use super::error::{Checked, KeyError};
use super::raw::{RawConfig, Scalar};
use super::values::parse_size;

/// Default `requests_in_flight` for a remote store: enough to hide its latency per
/// request.
pub(crate) const DEFAULT_REQUESTS_IN_FLIGHT: usize = 32;
/// Default `requests_in_flight` for a local mirror, per hash worker: its "requests" are
/// file writes on this machine's CPUs, and more of them at once only contend for the
/// same directories (measured: 20,000 small files took 2.4× as long at 32 as at 4 on 2
/// cores).
pub(crate) const LOCAL_REQUESTS_PER_WORKER: usize = 2;
/// Largest accepted `requests_in_flight` (and `upload_concurrency`).
pub(crate) const MAX_REQUESTS_IN_FLIGHT: usize = 1024;
/// Largest accepted `hash_workers`.
pub(crate) const MAX_HASH_WORKERS: usize = 256;
/// Default `part_size`: the part size of a multipart upload.
pub(crate) const DEFAULT_PART_SIZE: u64 = 8 * MIB;
/// Smallest accepted `part_size` (S3's minimum part size).
pub(crate) const MIN_PART_SIZE: u64 = 5 * MIB;
/// Largest accepted `part_size` and `multipart_threshold` (S3's largest single put).
pub(crate) const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// Default `multipart_threshold` (or `part_size`, when that is larger): a 16 MiB WAL
/// segment goes up in one put.
pub(crate) const DEFAULT_MULTIPART_THRESHOLD: u64 = 32 * MIB;
/// How many times `multipart_threshold` the bytes of file content a pass holds may be.
pub(crate) const MEMORY_BUDGET_THRESHOLDS: u64 = 4;

const MIB: u64 = 1024 * 1024;

/// The checked limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    pub hash_workers: usize,
    /// `None`: the default, which depends on the destination ([`requests_in_flight`]).
    pub requests_in_flight: Option<usize>,
    pub multipart_threshold: u64,
    pub part_size: u64,
}

/// The keys as written.
pub(super) struct RawLimits {
    pub hash_workers: Option<i64>,
    pub requests_in_flight: Option<i64>,
    pub upload_concurrency: Option<i64>,
    pub multipart_threshold: Option<Scalar>,
    pub part_size: Option<Scalar>,
}

impl RawLimits {
    /// The limits' keys, taken out of the raw config.
    pub(super) fn take(raw: &mut RawConfig) -> Self {
        RawLimits {
            hash_workers: raw.hash_workers.take(),
            requests_in_flight: raw.requests_in_flight.take(),
            upload_concurrency: raw.upload_concurrency.take(),
            multipart_threshold: raw.multipart_threshold.take(),
            part_size: raw.part_size.take(),
        }
    }
}

/// One worker per CPU the process may use, at least one.
pub(crate) fn default_hash_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_HASH_WORKERS)
}

/// Checks the limits; the old name `upload_concurrency` adds a warning.
pub(super) fn limits(raw: RawLimits, warnings: &mut Vec<String>) -> Checked<Limits> {
    let hash_workers = match raw.hash_workers {
        None => default_hash_workers(),
        Some(n) => count("hash_workers", n, MAX_HASH_WORKERS, "the number of CPUs")?,
    };
    let requests_in_flight = match (raw.requests_in_flight, raw.upload_concurrency) {
        (Some(_), Some(_)) => {
            return Err(KeyError::new(
                "upload_concurrency",
                "both `upload_concurrency` and `requests_in_flight` are set; `upload_concurrency` is the old name of `requests_in_flight`: remove it",
            ))
        }
        (Some(n), None) => Some(count(
            "requests_in_flight",
            n,
            MAX_REQUESTS_IN_FLIGHT,
            REQUESTS_DEFAULT,
        )?),
        (None, Some(n)) => {
            warnings.push(DEPRECATED_UPLOAD_CONCURRENCY.to_string());
            Some(count(
                "upload_concurrency",
                n,
                MAX_REQUESTS_IN_FLIGHT,
                REQUESTS_DEFAULT,
            )?)
        }
        (None, None) => None,
    };
    let part_size = match raw.part_size {
        None => DEFAULT_PART_SIZE,
        Some(s) => size("part_size", &s, MIN_PART_SIZE, "8MiB")?,
    };
    let multipart_threshold = match raw.multipart_threshold {
        None => DEFAULT_MULTIPART_THRESHOLD.max(part_size),
        Some(s) => {
            let n = size("multipart_threshold", &s, MIN_PART_SIZE, "32MiB")?;
            if n < part_size {
                return Err(KeyError::new(
                    "multipart_threshold",
                    format!("{n} bytes is below part_size ({part_size} bytes), so a file between the two would go up as one part of a multipart upload; raise multipart_threshold to at least part_size, or lower part_size"),
                ));
            }
            n
        }
    };
    Ok(Limits {
        hash_workers,
        requests_in_flight,
        multipart_threshold,
        part_size,
    })
}

/// How the default of `requests_in_flight` reads in its range errors.
const REQUESTS_DEFAULT: &str = "32; 2 per hash worker for a local mirror";

/// `requests_in_flight` as set, or its default: 32 for a remote store (and `memory://`),
/// 2 per hash worker (at least 2) for a local mirror.
pub(super) fn requests_in_flight(set: Option<usize>, hash_workers: usize, local: bool) -> usize {
    match set {
        Some(n) => n,
        None if local => {
            (LOCAL_REQUESTS_PER_WORKER * hash_workers).clamp(2, DEFAULT_REQUESTS_IN_FLIGHT)
        }
        None => DEFAULT_REQUESTS_IN_FLIGHT,
    }
}

/// The warning a config still using `upload_concurrency` gets.
pub(crate) const DEPRECATED_UPLOAD_CONCURRENCY: &str = "key `upload_concurrency` is deprecated: it now sets `requests_in_flight` (requests to the destination at once, default 32, or 2 per hash worker for a local mirror); files read, hashed and compressed at once are `hash_workers` (default: one per CPU); rename the key to `requests_in_flight`";

fn count(key: &str, n: i64, max: usize, default: &str) -> Checked<usize> {
    if n >= 1 && n as u64 <= max as u64 {
        return Ok(n as usize);
    }
    Err(KeyError::new(
        key,
        format!("{n} is out of range; use 1 to {max} (default {default})"),
    ))
}

fn size(key: &str, s: &Scalar, min: u64, default: &str) -> Checked<u64> {
    let n = parse_size(&s.to_string()).map_err(|m| m.at(key))?;
    if !(min..=MAX_PART_SIZE).contains(&n) {
        return Err(KeyError::new(
            key,
            format!("{n} bytes is out of range; use 5MiB to 5GiB (default {default})"),
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_worker_count_is_at_least_one() {
        assert!((1..=MAX_HASH_WORKERS).contains(&default_hash_workers()));
    }
}
