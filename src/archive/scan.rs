//! Finds the closed files of a source: regular files (symlinks are never followed) that
//! match the source's globs, are older than `min_age`, and are not the newest when the
//! newest is still being written. Reads metadata only; content is the digest's job.
//!
//! A file whose mtime lies ahead of the clock (a host with a fast clock, an NTP step back,
//! `touch -d`) has no age to measure, so its quiet time is counted from the first pass
//! that saw it with its current stat: it is archived once that stat has held for
//! `min_age`, never held back until the clock catches up.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::archive::pass::{cached, Pass};
use crate::config::{ClosedBy, DestinationUrl, Source};
use crate::fsstat::{nanos, FileStat, ScannedFile};
use crate::report::RunReport;
use crate::state::{Ahead, AheadMap};

/// What a scan of one source found.
#[derive(Debug, Default)]
pub(crate) struct ScanOutcome {
    /// Closed files, sorted by relative path.
    pub files: Vec<ScannedFile>,
    /// Matching files younger than `min_age`.
    pub too_young: u64,
    /// Matching files held back as the newest.
    pub held_newest: u64,
    /// Paths that could not be read or named, with why.
    pub problems: Vec<(PathBuf, String)>,
    /// Files listed in their directory but deleted before their stat (rotation's churn).
    pub vanished: u64,
    /// Matching files whose mtime is ahead of the clock (closed or not), to remember
    /// for the next pass.
    pub ahead: AheadMap,
    /// Regular files the globs selected, closed or not.
    pub matched: u64,
}

/// Walks `source.path` and returns its closed files as of `now`. Directories in `skip`
/// (logferry's own state dir and local mirror) are never entered, so a source that
/// contains them does not archive the archive. `ahead` is what earlier passes saw of
/// files with an mtime ahead of the clock.
pub(crate) fn scan(
    source: &Source,
    now: SystemTime,
    skip: &[PathBuf],
    ahead: &AheadMap,
) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    match std::fs::metadata(&source.path) {
        Ok(m) if !m.is_dir() => {
            out.problems.push((
                source.path.clone(),
                "not a directory; sources.path names the directory to walk".into(),
            ));
            return out;
        }
        _ => {}
    }
    let matching = walk(source, skip, &mut out);
    out.matched = matching.len() as u64;
    match &source.closed_by {
        ClosedBy::Quiet => quiet(source, matching, now, ahead, &mut out),
        ClosedBy::NotNewest => not_newest(matching, &mut out),
        ClosedBy::ReadyMarker { dir, suffixes } => {
            for f in matching {
                let parent = f.abs.parent().unwrap_or(Path::new("."));
                let name = f.rel.rsplit('/').next().unwrap_or(&f.rel);
                let marked = suffixes.iter().any(|s| {
                    std::fs::symlink_metadata(parent.join(dir).join(format!("{name}{s}"))).is_ok()
                });
                if marked {
                    out.files.push(f);
                } else {
                    out.too_young += 1;
                }
            }
        }
    }
    out.files = sorted_by_path(std::mem::take(&mut out.files));
    out
}

/// `files` in path order. A scanned file is large and the walk's order far from sorted,
/// so the sort moves indices and then each file once.
fn sorted_by_path(files: Vec<ScannedFile>) -> Vec<ScannedFile> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_unstable_by(|a, b| files[*a].rel.cmp(&files[*b].rel));
    let mut slots: Vec<Option<ScannedFile>> = files.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().expect("each index once"))
        .collect()
}

/// A walk of one source: the directories still to list, and what it found so far.
struct Walk<'a> {
    source: &'a Source,
    skip: &'a [PathBuf],
    dirs: Vec<(PathBuf, String)>,
    matching: Vec<ScannedFile>,
    out: &'a mut ScanOutcome,
}

/// Every regular file under the source that its globs select, closed or not.
fn walk(source: &Source, skip: &[PathBuf], out: &mut ScanOutcome) -> Vec<ScannedFile> {
    // std's read_dir: each entry's type comes from the directory listing and its stat
    // from fstatat on the open directory, not a walk of the whole path per file.
    let mut w = Walk {
        source,
        skip,
        dirs: vec![(source.path.clone(), String::new())],
        matching: Vec::new(),
        out,
    };
    while let Some((dir, rel_dir)) = w.dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                let why = if e.kind() == std::io::ErrorKind::NotFound && dir == source.path {
                    "source directory does not exist; check sources.path".to_string()
                } else {
                    e.to_string()
                };
                w.out.problems.push((dir, why));
                continue;
            }
        };
        for entry in entries {
            match entry {
                Ok(e) => w.visit(&e, &rel_dir),
                Err(e) => w.out.problems.push((dir.clone(), e.to_string())),
            }
        }
    }
    w.matching
}

impl Walk<'_> {
    /// One directory entry: a directory to walk into, a matching file, or neither.
    fn visit(&mut self, entry: &std::fs::DirEntry, rel_dir: &str) {
        let (source, out) = (self.source, &mut *self.out);
        let Ok(kind) = entry.file_type() else {
            return;
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            if kind.is_file() {
                out.problems
                    .push((entry.path(), "file name is not UTF-8; not archived".into()));
            }
            return;
        };
        let mut rel = String::with_capacity(rel_dir.len() + 1 + name.len());
        if !rel_dir.is_empty() {
            rel.push_str(rel_dir);
            rel.push('/');
        }
        rel.push_str(name);
        if kind.is_dir() {
            let path = entry.path();
            let is_marker_dir =
                matches!(&source.closed_by, ClosedBy::ReadyMarker { dir, .. } if dir == name);
            if !is_marker_dir && !self.skip.iter().any(|s| s == &path) {
                self.dirs.push((path, rel));
            }
            return;
        }
        // Symlinks and special files are never archived.
        if !kind.is_file() {
            return;
        }
        if !(source.include.is_empty() || source.include.matches(&rel))
            || (!source.exclude.is_empty() && source.exclude.matches(&rel))
        {
            return;
        }
        match entry.metadata() {
            Ok(m) => self.matching.push(ScannedFile {
                source: source.name.clone(),
                rel,
                abs: entry.path(),
                stat: FileStat::from_metadata(&m),
            }),
            // Deleted between the listing and the stat: gone, not a problem.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.vanished += 1,
            Err(e) => out.problems.push((entry.path(), e.to_string())),
        }
    }
}

/// `closed_by = "quiet"`: closed once unchanged for `min_age`; a file ahead of the clock
/// counts its quiet time from the first pass that saw its current stat.
fn quiet(
    source: &Source,
    matching: Vec<ScannedFile>,
    now: SystemTime,
    ahead: &AheadMap,
    out: &mut ScanOutcome,
) {
    let now_ns = nanos(now);
    for f in matching {
        let quiet_for = if f.stat.mtime() > now {
            let id = (f.source.clone(), f.rel.clone());
            let first_seen_ns = ahead
                .get(&id)
                .filter(|a| a.stat == f.stat && a.first_seen_ns <= now_ns)
                .map_or(now_ns, |a| a.first_seen_ns);
            out.ahead.insert(
                id,
                Ahead {
                    stat: f.stat,
                    first_seen_ns,
                },
            );
            Duration::from_nanos((now_ns - first_seen_ns) as u64)
        } else {
            now.duration_since(f.stat.mtime()).unwrap_or(Duration::ZERO)
        };
        if quiet_for < source.min_age {
            out.too_young += 1;
        } else {
            out.files.push(f);
        }
    }
}

/// `closed_by = "not_newest"`: all but the newest in natural order.
fn not_newest(mut matching: Vec<ScannedFile>, out: &mut ScanOutcome) {
    matching.sort_by(|a, b| natural_cmp(&a.rel, &b.rel));
    if matching.pop().is_some() {
        out.held_newest += 1;
    }
    out.files = matching;
}

/// Closed files of every source; unreadable paths are counted as failures. Files with
/// an mtime ahead of the clock are remembered in the state dir, so their quiet time
/// carries over to the next pass, and reported in one warning per source.
pub(crate) fn scan_sources(
    p: &Pass<'_>,
    now: SystemTime,
    report: &mut RunReport,
) -> Vec<ScannedFile> {
    let (config, state_dir) = (p.config, p.state_dir);
    let mut own_dirs = vec![config.state_dir.clone()];
    if let DestinationUrl::Local(dir) = &config.destination.url {
        own_dirs.push(dir.clone());
    }
    let ahead_before = state_dir.ahead();
    let mut ahead = AheadMap::new();
    let mut files = Vec::new();
    for source in &config.sources {
        let found = scan(source, now, &own_dirs, &ahead_before);
        let empty = found.matched == 0 && found.problems.is_empty() && found.vanished == 0;
        for (path, why) in found.problems {
            tracing::warn!(source = %source.name, path = %path.display(), error = %why, "cannot scan");
            report.fail(format!("{}/{}", source.name, path.display()), why);
        }
        if empty {
            tracing::warn!(source = %source.name, path = %source.path.display(), "source matched no files: check its path, include and exclude");
            report.empty_sources.push(source.name.clone());
        }
        report.files_waiting += found.too_young + found.held_newest;
        report.files_vanished += found.vanished;
        warn_ahead(source, now, &found.ahead);
        report.files_ahead += found.ahead.len() as u64;
        ahead.extend(found.ahead);
        files.extend(found.files);
    }
    if ahead != ahead_before && !p.dry_run {
        cached("files ahead of the clock", state_dir.save_ahead(&ahead));
    }
    files
}

/// One warning per source for its files with an mtime ahead of the clock.
fn warn_ahead(source: &Source, now: SystemTime, ahead: &AheadMap) {
    let Some(((_, first), _)) = ahead.iter().next() else {
        return;
    };
    let most = ahead
        .values()
        .filter_map(|a| a.stat.mtime().duration_since(now).ok())
        .max()
        .unwrap_or_default();
    let most = humantime::format_duration(std::time::Duration::from_secs(most.as_secs()));
    tracing::warn!(
        source = %source.name,
        files = ahead.len(),
        example = %first,
        "{} file(s) have an mtime ahead of the clock (up to {most}; e.g. `{first}`): clock skew or a clock step back? each is archived once its size and mtime stay unchanged for min_age ({})",
        ahead.len(),
        humantime::format_duration(source.min_age),
    );
}

/// Natural order: digit runs compare as numbers, so `binlog.9` < `binlog.10`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let (ta, tb) = (trim_zeros(na), trim_zeros(nb));
                let ord = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|c| **c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::{natural_cmp, sorted_by_path};
    use crate::fsstat::{FileStat, ScannedFile};

    #[test]
    fn files_come_out_in_path_order() {
        let file = |rel: &str| ScannedFile {
            source: "app".into(),
            rel: rel.into(),
            abs: rel.into(),
            stat: FileStat {
                dev: 1,
                ino: rel.len() as u64,
                size: 0,
                mtime_ns: 0,
                ctime_ns: 0,
                btime_ns: None,
            },
        };
        let rels = ["d/b", "a", "d.log", "d/a", "c", "b"];
        let sorted = sorted_by_path(rels.iter().map(|r| file(r)).collect());
        let got: Vec<&str> = sorted.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(got, ["a", "b", "c", "d.log", "d/a", "d/b"]);
        assert!(sorted_by_path(Vec::new()).is_empty());
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut v = vec![
            "binlog.10",
            "binlog.9",
            "binlog.000123",
            "binlog.2",
            "a",
            "binlog.000124",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "binlog.2",
                "binlog.9",
                "binlog.10",
                "binlog.000123",
                "binlog.000124"
            ]
        );
    }
}
