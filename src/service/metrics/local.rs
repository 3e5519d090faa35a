//! The metrics of the local side of an archive: files deleted by `delete_after_archive`,
//! and the disk guard's figures per source (bytes waiting to be archived, free space and
//! size of the source's filesystem), so an alert fires before a lagging archive fills
//! the disk. Fed by each pass's report like the rest of [`super::Metrics`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{family, per_archive, Archives};
use crate::report::{RunReport, SourceDisk};

/// What the passes of one archive said of its local files.
#[derive(Debug, Default, Clone)]
pub(super) struct LocalMetrics {
    files_deleted: u64,
    bytes_deleted: u64,
    sources: BTreeMap<String, SourceDisk>,
}

impl LocalMetrics {
    /// Accounts one pass. A source the report has no figures for keeps its last ones.
    pub(super) fn record(&mut self, r: &RunReport) {
        self.files_deleted += r.deleted_local;
        self.bytes_deleted += r.deleted_local_bytes;
        for d in &r.sources {
            self.sources.insert(d.source.clone(), d.clone());
        }
    }
}

/// The counters of deleted files and bytes, and the per-source gauges.
pub(super) fn render(out: &mut String, archives: &Archives) {
    per_archive(
        out,
        archives,
        (
            "logferry_local_files_deleted_total",
            "counter",
            "Local files deleted once archived as they are for their source's delete_after_archive.",
        ),
        |m| m.local.files_deleted.to_string(),
    );
    per_archive(
        out,
        archives,
        (
            "logferry_local_bytes_deleted_total",
            "counter",
            "Bytes of the local files deleted by delete_after_archive.",
        ),
        |m| m.local.bytes_deleted.to_string(),
    );
    type Gauge = fn(&SourceDisk) -> Option<u64>;
    let gauges: [(&str, &str, Gauge); 3] = [
        (
            "logferry_source_pending_bytes",
            "Bytes of the source's closed files not archived as they are after the last pass that scanned it.",
            |d| Some(d.pending_bytes),
        ),
        (
            "logferry_source_fs_free_bytes",
            "Bytes free to unprivileged users on the filesystem of the source's directory.",
            |d| d.fs_free_bytes,
        ),
        (
            "logferry_source_fs_size_bytes",
            "Size in bytes of the filesystem of the source's directory.",
            |d| d.fs_size_bytes,
        ),
    ];
    for (name, help, get) in gauges {
        family(out, name, "gauge", help);
        for (a, m) in archives {
            for (s, d) in &m.local.sources {
                if let Some(v) = get(d) {
                    let _ = writeln!(out, "{name}{{archive=\"{a}\",source=\"{s}\"}} {v}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use crate::report::{RunReport, SourceDisk};

    #[test]
    fn deletions_add_up_and_disk_figures_show_per_source() {
        let m = Metrics::default();
        let mut r = RunReport {
            deleted_local: 2,
            deleted_local_bytes: 300,
            ..Default::default()
        };
        r.sources.push(SourceDisk {
            source: "app".into(),
            pending_files: 1,
            pending_bytes: 40,
            fs_free_bytes: Some(1000),
            fs_size_bytes: Some(4000),
        });
        m.record("main", &r);
        r.sources.clear();
        m.record("main", &r);
        let text = m.render(std::time::UNIX_EPOCH);
        for line in [
            "logferry_local_files_deleted_total{archive=\"main\"} 4",
            "logferry_local_bytes_deleted_total{archive=\"main\"} 600",
            "logferry_source_pending_bytes{archive=\"main\",source=\"app\"} 40",
            "logferry_source_fs_free_bytes{archive=\"main\",source=\"app\"} 1000",
            "logferry_source_fs_size_bytes{archive=\"main\",source=\"app\"} 4000",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
