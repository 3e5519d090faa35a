//! The one atomic file writer: every file logferry writes in its state dir, a metrics
//! textfile or a restore goes through it, so a crash leaves the old or the new content
//! and never a torn file.
//!
//! [`AtomicFile`] is the streaming form (a restore writes a file as it downloads it);
//! [`write_atomic`] is it for bytes already in memory.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file being written beside `path` under a temp name; it takes `path`'s place only on
/// [`AtomicFile::commit`]. Dropped uncommitted, the temp file is removed.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    path: PathBuf,
}

/// The step of [`AtomicFile::commit`] that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommitStep {
    /// Flushing the temp file to disk; it is removed.
    Fsync,
    /// Renaming it over the target; it is removed.
    Rename,
    /// Flushing the directory after the rename: the new content is in place, but a crash
    /// may still lose the rename.
    SyncDir,
}

impl AtomicFile {
    /// Starts writing `path` through `.<name>.tmp.<pid>` beside it (the name the state
    /// dir's leftover sweep knows).
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        let tmp = beside(path, |name| format!(".{name}.tmp.{}", std::process::id()));
        Self::create_as(path, tmp)
    }

    /// Starts writing `path` through the temp file `tmp` (in the same directory).
    pub(crate) fn create_as(path: &Path, tmp: PathBuf) -> std::io::Result<Self> {
        let file = File::create(&tmp)?;
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The open temp file (to set its times before it is committed).
    pub(crate) fn file(&self) -> &File {
        self.file.as_ref().expect("open until committed")
    }

    /// Fsyncs the temp file, renames it over the target and fsyncs the directory.
    pub(crate) fn commit(mut self) -> std::result::Result<(), (CommitStep, std::io::Error)> {
        let file = self.file.take().expect("open until committed");
        if let Err(e) = file.sync_all() {
            return Err((CommitStep::Fsync, e));
        }
        drop(file);
        if let Err(e) = std::fs::rename(&self.tmp, &self.path) {
            return Err((CommitStep::Rename, e));
        }
        // Renamed: nothing left to remove.
        self.tmp = PathBuf::new();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| (CommitStep::SyncDir, e))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("open until committed").write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("open until committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The path in `path`'s directory named by `name` from `path`'s file name.
pub(crate) fn beside(path: &Path, name: impl FnOnce(&str) -> String) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(name(&file_name))
}

/// Writes `bytes` to `path` through a temp file, fsync and rename, so a crash leaves
/// either the old or the new content.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let result = AtomicFile::create(path).and_then(|mut f| {
        f.write_all(bytes)?;
        f.commit().map_err(|(_, e)| e)
    });
    result.map_err(|e| Error::io("write", path, e))
}
