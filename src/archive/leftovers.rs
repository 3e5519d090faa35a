//! Leftovers of killed passes that are no archived content and that nothing else
//! removes: the state dir's `.<name>.tmp.<pid>` files of a process that is gone, and the
//! local mirror's multipart staging files (`<key>#<n>`) older than the grace period.
//!
//! Multipart uploads abandoned on S3 are aborted once older than the grace period (see
//! [`crate::remote::multipart`]); those on GCS are left to the bucket's lifecycle rule
//! (`AbortIncompleteMultipartUpload`), as the README says; Azure drops uncommitted blocks
//! by itself after seven days.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::config::DEFAULT_GRACE;
use crate::config::{Config, DestinationUrl};
use crate::remote::DATA_PREFIX;

/// Marks in the state dir when the local mirror was last swept: walking the mirror costs
/// O(archive), so it is done once per grace period, not every pass.
pub(crate) const SWEPT_FILE: &str = "leftovers-swept";

/// Marks in the state dir when the destination's abandoned multipart uploads were last
/// looked for: once per grace period is enough, since none is aborted any younger.
pub(crate) const MULTIPART_SWEPT_FILE: &str = "multipart-swept";

/// Aborts the destination's multipart uploads older than the grace period, at most once
/// per grace period; a failure is a warning, never a failed pass.
pub(crate) async fn sweep_multipart(config: &Config, state_dir: &Path, now: SystemTime) {
    if !matches!(&config.destination.url, DestinationUrl::Remote(u) if u.scheme() == "s3") {
        return;
    }
    let marker = state_dir.join(MULTIPART_SWEPT_FILE);
    if swept_within(&marker, now, DEFAULT_GRACE) {
        return;
    }
    match crate::remote::multipart::abort_abandoned(&config.destination, now, DEFAULT_GRACE).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            uploads = n,
            "aborted multipart uploads abandoned by interrupted passes"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for abandoned multipart uploads; the bucket's lifecycle rule (AbortIncompleteMultipartUpload) can remove them");
            return;
        }
    }
    if let Err(e) = std::fs::write(&marker, b"") {
        tracing::warn!(path = %marker.display(), error = %e, "cannot mark the multipart uploads swept");
    }
}

/// Whether `marker` was written less than `grace` before `now`.
fn swept_within(marker: &Path, now: SystemTime, grace: Duration) -> bool {
    std::fs::metadata(marker)
        .and_then(|m| m.modified())
        .is_ok_and(|t| now.duration_since(t).unwrap_or_default() < grace)
}

/// Removes the leftovers; a failure is a warning, never a failed pass.
pub(crate) fn sweep(config: &Config, state_dir: &Path, now: SystemTime) {
    remove_dead_temp_files(state_dir);
    let DestinationUrl::Local(mirror) = &config.destination.url else {
        return;
    };
    let marker = state_dir.join(SWEPT_FILE);
    if swept_within(&marker, now, DEFAULT_GRACE) {
        return;
    }
    let removed = remove_staging_files(mirror, now, DEFAULT_GRACE);
    if removed > 0 {
        tracing::info!(mirror = %mirror.display(), files = removed, "removed staging files of interrupted uploads");
    }
    if let Err(e) = std::fs::write(&marker, b"") {
        tracing::warn!(path = %marker.display(), error = %e, "cannot mark the mirror swept");
    }
}

/// `.<name>.tmp.<pid>` files left by a process that died mid-write (see
/// `state::write_atomic`), when that process is gone.
fn remove_dead_temp_files(dir: &Path) {
    // Without /proc, whether a pid lives is unknown: leave the files.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.starts_with('.'))
            .and_then(|n| n.rsplit_once(".tmp."))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => {
                tracing::info!(path = %e.path().display(), "removed a temp file of a process that is gone")
            }
            Err(err) => {
                tracing::warn!(path = %e.path().display(), error = %err, "cannot remove a stale temp file")
            }
        }
    }
}

/// The staging files object_store's local store writes a multipart upload into
/// (`<key>#<n>`, renamed to `<key>` on completion) that are older than `grace`; returns
/// how many were removed. Only data objects go up in parts, so only `data/` is walked
/// (the catalog's version records are a directory per file name: a million of them at
/// a million entries), depth first with one open directory per level, so memory
/// follows the depth of the tree, not its size.
pub(crate) fn remove_staging_files(mirror: &Path, now: SystemTime, grace: Duration) -> usize {
    let mut removed = 0;
    let mut open: Vec<std::fs::ReadDir> = std::fs::read_dir(mirror.join(DATA_PREFIX))
        .into_iter()
        .collect();
    while let Some(dir) = open.last_mut() {
        let Some(e) = dir.next() else {
            open.pop();
            continue;
        };
        let Ok(e) = e else { continue };
        // Symlinks are never followed: only the mirror's own files are touched.
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if let Ok(sub) = std::fs::read_dir(e.path()) {
                open.push(sub);
            }
            continue;
        }
        if !kind.is_file() || !is_staging(&e.file_name().to_string_lossy()) {
            continue;
        }
        let old = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= grace);
        if old && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn is_staging(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(key, n)| {
        !key.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_recognised() {
        assert!(is_staging("app.log-abc#3"));
        assert!(!is_staging("app.log-abc"));
        assert!(!is_staging("app#log-abc"));
        assert!(!is_staging("#3"));
    }
}
