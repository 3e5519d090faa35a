//! The disk guard's figures: after every pass, failed or not, the free space and size of
//! each source's filesystem (statvfs), beside the bytes the pass left waiting to be
//! archived, so an operator is warned before an archive that falls behind fills the disk.
//! Reads no file content and never changes anything.

use crate::config::Source;
use crate::report::RunReport;

/// Records every source's filesystem figures in the report (a source gets an entry even
/// when nothing of it is pending). A filesystem that cannot be asked leaves its figures
/// unknown, with one debug line: the source's scan reports an unreadable directory.
pub(crate) fn measure(sources: &[Source], report: &mut RunReport) {
    for s in sources {
        let disk = report.source_disk(&s.name);
        match rustix::fs::statvfs(&s.path) {
            Ok(v) => {
                disk.fs_free_bytes = Some(v.f_bavail.saturating_mul(v.f_frsize));
                disk.fs_size_bytes = Some(v.f_blocks.saturating_mul(v.f_frsize));
            }
            Err(e) => {
                tracing::debug!(source = %s.name, path = %s.path.display(), error = %e, "cannot read the free space of the source's filesystem");
            }
        }
    }
    // In the config's order, whatever order the pass found pending files in.
    report
        .sources
        .sort_by_key(|d| sources.iter().position(|s| s.name == d.source));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_gets_its_filesystem_figures() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = {:?}\n[[sources]]\nname = \"gone\"\npath = {:?}\n",
            dir.path().display().to_string(),
            dir.path().join("missing").display().to_string()
        );
        let config = crate::config::from_toml_str(&text, dir.path(), std::iter::empty()).unwrap();
        let mut report = RunReport::default();
        report.add_pending("gone", 0, 0);
        report.add_pending("a", 10, 0);
        measure(&config.sources, &mut report);
        let a = &report.sources[0];
        assert_eq!((a.source.as_str(), a.pending_bytes), ("a", 10));
        assert!(a.fs_size_bytes.unwrap() > 0);
        assert!(a.fs_free_bytes.unwrap() <= a.fs_size_bytes.unwrap());
        let gone = &report.sources[1];
        assert_eq!((gone.source.as_str(), gone.fs_free_bytes), ("gone", None));
    }
}
