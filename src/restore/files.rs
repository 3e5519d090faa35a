//! Getting archived files back: `restore` (many files, as of a generation) and `fetch`
//! (one file by name, for PostgreSQL's `restore_command`).
//!
//! Every restored byte is re-hashed against the manifest; a path or key that would
//! escape the target directory is refused; existing files are kept unless forced; every
//! file is written to a temp file, fsynced and renamed, so no partial file is ever left.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{stream, StreamExt};
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::catalog::index::Index;
use crate::catalog::{Entry, GenerationNo};
use crate::config::Matcher;
use crate::error::{Error, Result};
use crate::fsstat::FileStat;
use crate::remote::read_back::{decode_into, Counted, OnUndecodable, Undecoded};
use crate::remote::{Store, DATA_PREFIX};
use crate::state::atomic::{beside, AtomicFile, CommitStep};

/// Longest file name component accepted (Linux's NAME_MAX).
const MAX_NAME: usize = 255;
/// Longest restored path accepted (Linux's PATH_MAX).
const MAX_PATH: usize = 4096;

/// What `restore` is asked to do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// The directory files are restored under, as `<to>/<source>/<path>`.
    pub to: PathBuf,
    /// Only this source.
    pub source: Option<String>,
    /// Only paths matching these globs (gitignore rules, as for sources).
    pub include: Option<Matcher>,
    /// Replace existing files whose content differs.
    pub force: bool,
    /// Decide and report, write nothing.
    pub dry_run: bool,
    /// Downloads at once.
    pub concurrency: usize,
}

impl RestoreOptions {
    /// Everything under `to`, never replacing a file, four downloads at once.
    pub fn new(to: impl Into<PathBuf>) -> Self {
        RestoreOptions {
            to: to.into(),
            source: None,
            include: None,
            force: false,
            dry_run: false,
            concurrency: 4,
        }
    }

    /// Whether `entry` passes the `source` and `include` filters: the files a restore
    /// of an index considers (and a progress bar's total counts).
    pub fn selects(&self, entry: &Entry) -> bool {
        self.source.as_ref().is_none_or(|s| &entry.source == s)
            && self.include.as_ref().is_none_or(|m| m.matches(&entry.path))
    }
}

/// What happened to one archived file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileResult {
    /// Written (or, with `--dry-run`, would be).
    Restored,
    /// Already there with the archived content.
    AlreadyPresent,
    /// A different file is there and `--force` was not given.
    Exists,
    /// The object is gone from the destination.
    Missing,
    /// The object's bytes do not hash to the manifest's sha256.
    Corrupt,
    /// The manifest path or key would escape the target, or is not a usable name.
    Refused,
    /// Could not be written locally, or the download failed.
    Failed,
}

impl FileResult {
    /// Whether this outcome means the restore is incomplete (exit 1).
    pub fn is_problem(self) -> bool {
        !matches!(self, FileResult::Restored | FileResult::AlreadyPresent)
    }
}

/// One line of the restore report.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Source name.
    pub source: String,
    /// Archived path.
    pub path: String,
    /// Outcome.
    pub result: FileResult,
    /// Why, for a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The whole restore.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Generation restored.
    pub generation: GenerationNo,
    /// Files considered (after filters).
    pub files: u64,
    /// Bytes written (or that would be).
    pub bytes: u64,
    /// Every file's outcome.
    pub results: Vec<FileReport>,
}

impl RestoreReport {
    /// Count of files with this outcome.
    pub fn count(&self, r: FileResult) -> usize {
        self.results.iter().filter(|f| f.result == r).count()
    }

    /// Whether anything was missing, corrupt, refused, kept or failed.
    pub fn has_problems(&self) -> bool {
        self.results.iter().any(|f| f.result.is_problem())
    }
}

/// The target path of an entry under `to`, or why it is refused.
pub(crate) fn safe_target(
    to: &Path,
    source: &str,
    path: &str,
) -> std::result::Result<PathBuf, String> {
    if source.contains('\0') || path.contains('\0') {
        return Err("name contains a NUL byte".into());
    }
    let mut out = to.to_path_buf();
    for part in [source].into_iter().chain(path.split('/')) {
        let mut comps = Path::new(part).components();
        match (comps.next(), comps.next()) {
            (Some(Component::Normal(c)), None) if c.len() <= MAX_NAME => out.push(c),
            (Some(Component::Normal(_)), None) => {
                return Err(format!(
                    "a name in `{path}` is longer than {MAX_NAME} bytes"
                ))
            }
            _ => {
                return Err(format!(
                    "`{source}/{path}` is absolute, empty or has `.`/`..` in it"
                ))
            }
        }
    }
    if out.as_os_str().len() > MAX_PATH {
        return Err(format!("the path is longer than {MAX_PATH} bytes"));
    }
    Ok(out)
}

/// Whether a manifest's key may be read: under `data/`, no `.`/`..` segments.
pub(crate) fn safe_key(key: &str) -> std::result::Result<object_store::path::Path, String> {
    let parsed =
        object_store::path::Path::parse(key).map_err(|e| format!("bad object key `{key}`: {e}"))?;
    if parsed
        .parts()
        .next()
        .is_none_or(|p| p.as_ref() != DATA_PREFIX)
    {
        return Err(format!("object key `{key}` is outside {DATA_PREFIX}/"));
    }
    Ok(parsed)
}

/// Creates the directories from `to` down to `target`'s parent, refusing to pass
/// through a symlink or anything that is not a directory.
fn prepare_parent(
    to: &Path,
    target: &Path,
    dry_run: bool,
) -> std::result::Result<(), (FileResult, String)> {
    let rel = target
        .strip_prefix(to)
        .map_err(|_| (FileResult::Refused, "outside the target".to_string()))?;
    let mut dir = to.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        dir.push(c);
        if !dry_run {
            match std::fs::create_dir(&dir) {
                Ok(()) => continue,
                // Exists already (maybe made by a parallel download): check what it is.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err((FileResult::Failed, format!("create {}: {e}", dir.display())))
                }
            }
        }
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err((
                    FileResult::Refused,
                    format!(
                        "{} is a symlink; refusing to restore through it",
                        dir.display()
                    ),
                ))
            }
            Ok(m) if !m.is_dir() => {
                return Err((
                    FileResult::Refused,
                    format!("{} is not a directory", dir.display()),
                ))
            }
            Ok(_) => {}
            Err(e) if dry_run && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err((FileResult::Failed, format!("{}: {e}", dir.display()))),
        }
    }
    Ok(())
}

/// Downloads `entry` into `dest` through a temp file beside it: the bytes are hashed as
/// they arrive, and `dest` appears (by rename) only when size and sha256 match.
/// `progress` hears of the original (decoded) bytes as they are written.
pub async fn download_verified(
    store: &Store,
    entry: &Entry,
    dest: &Path,
    progress: &dyn Fn(u64),
) -> std::result::Result<(), (FileResult, String)> {
    let key = safe_key(&entry.key).map_err(|m| (FileResult::Refused, m))?;
    let got = store.get(&key).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => {
            (FileResult::Missing, format!("object {key} is missing"))
        }
        e => (FileResult::Failed, Error::store("get", &key, e).to_string()),
    })?;
    let tmp = beside(dest, |name| {
        format!(".{name}.logferry-{}.tmp", std::process::id())
    });
    let file = AtomicFile::create_as(dest, tmp.clone())
        .map_err(|e| (FileResult::Failed, format!("create {}: {e}", tmp.display())))?;
    // Original bytes are re-hashed on their way to the file, after decompression.
    let file = Counted::new(file, progress);
    let read = decode_into(got, entry.compression, file, OnUndecodable::Stop, &|_| {})
        .await
        .map_err(|e| (FileResult::Failed, Error::store("get", &key, e).to_string()))?;
    let does_not_decompress = |e| {
        (
            FileResult::Corrupt,
            format!("object {key} does not decompress: {e}"),
        )
    };
    let (Counted { inner: file, .. }, size, hash) = read.decoded.map_err(|e| match e {
        Undecoded::Chunk(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::Other | std::io::ErrorKind::InvalidData
            ) =>
        {
            does_not_decompress(e)
        }
        Undecoded::Chunk(e) => (FileResult::Failed, format!("write {}: {e}", tmp.display())),
        Undecoded::End(e) => does_not_decompress(e),
    })?;
    if size != entry.size || hash != entry.sha256 {
        return Err((
            FileResult::Corrupt,
            format!(
                "object {key} yields {size} bytes hashing to {hash}; the manifest says {} bytes, {}",
                entry.size, entry.sha256
            ),
        ));
    }
    let mtime = crate::fsstat::time_of_ns(entry.mtime_ns);
    file.file().set_modified(mtime).map_err(|e| {
        (
            FileResult::Failed,
            format!("set mtime of {}: {e}", tmp.display()),
        )
    })?;
    match file.commit() {
        // In place; only the directory's flush failed, as a restore has always allowed.
        Ok(()) | Err((CommitStep::SyncDir, _)) => Ok(()),
        Err((CommitStep::Fsync, e)) => {
            Err((FileResult::Failed, format!("fsync {}: {e}", tmp.display())))
        }
        Err((CommitStep::Rename, e)) => Err((
            FileResult::Failed,
            format!("rename to {}: {e}", dest.display()),
        )),
    }
}

fn same_content(path: &Path, entry: &Entry) -> bool {
    let Ok(stat) = FileStat::of_path(path) else {
        return false;
    };
    stat.size == entry.size
        && crate::digest::hash_file(path, &stat).is_ok_and(|h| h == entry.sha256)
}

async fn restore_one(
    store: &Store,
    entry: &Entry,
    opts: &RestoreOptions,
    progress: &dyn Fn(u64),
) -> FileReport {
    let report = |result, detail: Option<String>| FileReport {
        source: entry.source.clone(),
        path: entry.path.clone(),
        result,
        detail,
    };
    let target = match safe_target(&opts.to, &entry.source, &entry.path)
        .and_then(|t| safe_key(&entry.key).map(|_| t))
    {
        Ok(t) => t,
        Err(m) => return report(FileResult::Refused, Some(m)),
    };
    if let Err((r, m)) = prepare_parent(&opts.to, &target, opts.dry_run) {
        return report(r, Some(m));
    }
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => {
            return report(
                FileResult::Refused,
                Some(format!("{} is a symlink; not replaced", target.display())),
            )
        }
        Ok(m) if !m.is_file() => {
            return report(
                FileResult::Refused,
                Some(format!("{} is not a regular file", target.display())),
            )
        }
        Ok(_) if same_content(&target, entry) => return report(FileResult::AlreadyPresent, None),
        Ok(_) if !opts.force => {
            return report(
                FileResult::Exists,
                Some(format!(
                    "{} exists with other content; --force replaces it",
                    target.display()
                )),
            )
        }
        _ => {}
    }
    if opts.dry_run {
        return report(FileResult::Restored, None);
    }
    match download_verified(store, entry, &target, progress).await {
        Ok(()) => report(FileResult::Restored, None),
        Err((r, m)) => report(r, Some(m)),
    }
}

/// Restores the entries of `index` that pass the filters (creating `opts.to`);
/// `progress` hears of the original bytes as they are written, and of the rest of each
/// file's size once it is done, so it ends at the selected files' total.
pub async fn restore(
    store: &Store,
    index: &Index,
    opts: &RestoreOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> RestoreReport {
    if !opts.dry_run {
        // A failure here shows on every file as a failed directory creation.
        let _ = std::fs::create_dir_all(&opts.to);
    }
    let selected: Vec<&Entry> = index.entries().filter(|e| opts.selects(e)).collect();
    let mut results: Vec<(FileReport, u64)> = stream::iter(selected)
        .map(|e| async move {
            let written = AtomicU64::new(0);
            let counted = |n| {
                written.fetch_add(n, Ordering::Relaxed);
                progress(n)
            };
            let r = restore_one(store, e, opts, &counted).await;
            // A file present, kept, refused or failed is done too: the bar reaches its
            // total, the sum of the selected files' sizes.
            progress(e.size.saturating_sub(written.load(Ordering::Relaxed)));
            (r, e.size)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| (&a.0.source, &a.0.path).cmp(&(&b.0.source, &b.0.path)));
    RestoreReport {
        generation: index.generation(),
        files: results.len() as u64,
        bytes: results
            .iter()
            .filter(|(r, _)| r.result == FileResult::Restored)
            .map(|(_, s)| s)
            .sum(),
        results: results.into_iter().map(|(r, _)| r).collect(),
    }
}

/// The archived file called `name` (its path, or its file name) in `index`.
pub fn find<'a>(index: &'a Index, name: &str, source: Option<&str>) -> Result<&'a Entry> {
    let matches: Vec<&Entry> = index
        .entries()
        .filter(|e| e.answers_to(name, source))
        .collect();
    let not_found = || Error::NotArchived {
        name: name.to_string(),
        generation: index.generation().get(),
    };
    match crate::catalog::records::one_content(name, &matches)? {
        Some(_) => Ok(matches[0]),
        None => Err(not_found()),
    }
}
