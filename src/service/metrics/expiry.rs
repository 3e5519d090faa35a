//! The expiry's Prometheus metrics: what expiries removed, and how big the archive is
//! after the last one. Fed by each expiry's report, rendered beside the passes'.

use std::collections::BTreeMap;

use super::per_archive;
use crate::retention::expire::ExpireReport;

/// One archive's expiry figures.
#[derive(Debug, Default, Clone)]
pub(crate) struct ExpiryMetrics {
    objects: u64,
    bytes: u64,
    generations: u64,
    failures: u64,
    locked: u64,
    archive_bytes: u64,
    last_run: Option<f64>,
}

impl ExpiryMetrics {
    /// Accounts one expiry (`None`: it failed).
    pub(crate) fn record(&mut self, r: Option<&ExpireReport>, now_secs: f64) {
        let Some(r) = r else {
            self.failures += 1;
            return;
        };
        self.objects += r.objects_deleted;
        self.bytes += r.bytes_deleted;
        self.generations += r.generations_removed;
        self.locked = r.locked.len() as u64;
        self.archive_bytes = r.archive_bytes;
        self.last_run = Some(now_secs);
    }
}

/// Renders every archive's expiry families.
pub(crate) fn render(out: &mut String, archives: &BTreeMap<String, ExpiryMetrics>) {
    if archives.is_empty() {
        return;
    }
    type Get = fn(&ExpiryMetrics) -> String;
    let families: [(&str, &str, &str, Get); 7] = [
        (
            "logferry_objects_expired_total",
            "counter",
            "Data objects deleted by expiry (expired versions and old orphans).",
            |m| m.objects.to_string(),
        ),
        (
            "logferry_bytes_expired_total",
            "counter",
            "Bytes of the data objects deleted by expiry.",
            |m| m.bytes.to_string(),
        ),
        (
            "logferry_generations_expired_total",
            "counter",
            "Manifest generations removed by expiry.",
            |m| m.generations.to_string(),
        ),
        (
            "logferry_expiry_failures_total",
            "counter",
            "Expiries that failed (tried again an interval later).",
            |m| m.failures.to_string(),
        ),
        (
            "logferry_expiry_locked_objects",
            "gauge",
            "Objects expiry could not delete because Object Lock keeps them.",
            |m| m.locked.to_string(),
        ),
        (
            "logferry_archive_bytes",
            "gauge",
            "Bytes of data objects in the archive after the last expiry.",
            |m| m.archive_bytes.to_string(),
        ),
        (
            "logferry_last_expiry_timestamp_seconds",
            "gauge",
            "When the last expiry finished (Unix time).",
            |m| m.last_run.map_or("0".into(), |t| format!("{t:.3}")),
        ),
    ];
    for (name, kind, help, get) in families {
        per_archive(out, archives, (name, kind, help), get);
    }
}
