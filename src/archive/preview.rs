//! What a pass would do, found the way the pass finds it but without doing any of it
//! (`--run-once --dry-run`): the candidates the quick check leaves are read and hashed,
//! and each is classified against the archive as the pass would classify it. Nothing is
//! uploaded, committed or recorded, and no local file is deleted.

use std::sync::Arc;

use futures::{stream, StreamExt};
use serde::Serialize;
use tokio::task::spawn_blocking;

use crate::archive::diff::{self, Plan};
use crate::archive::pass::{label, Class, Object, Pass};
use crate::catalog::index::Lookup;
use crate::codec::Compression;
use crate::digest::{self, DigestError};
use crate::error::Result;
use crate::fsstat::ScannedFile;

/// What a pass would do now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Preview {
    /// Closed files found.
    pub files_scanned: u64,
    /// Matching files not closed yet.
    pub files_waiting: u64,
    /// Files already archived as they are.
    pub files_unchanged: u64,
    /// Files whose content is already stored (renamed, rotated, or only touched): they
    /// would be recorded without an upload.
    pub files_known: u64,
    /// Files that would be uploaded, in scan order.
    pub uploads: Vec<PreviewFile>,
    /// Their size on disk, before compression.
    pub bytes_to_upload: u64,
    /// Files that could not be read now (each would be a failure or retried).
    pub unreadable: Vec<PreviewFile>,
    /// Files whose immutable name is archived with other content (never recorded).
    pub conflicts: Vec<PreviewFile>,
    /// Sources that matched no files.
    pub empty_sources: Vec<String>,
}

/// One file of a [`Preview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PreviewFile {
    /// `source/path`.
    pub file: String,
    /// Size on disk.
    pub size: u64,
    /// `new`, `changed`, `conflict`, or why it could not be read.
    pub reason: String,
    /// Stored compressed (the upload is smaller than `size`).
    pub compressed: bool,
}

/// Hashes the plan's candidates and adds what each would come to to `preview`.
pub(crate) async fn preview(
    p: &Pass<'_>,
    plan: Plan,
    index: Arc<dyn Lookup>,
    preview: &mut Preview,
) -> Result<()> {
    preview.files_known += plan.renamed.len() as u64;
    let limit = p.config.hash_workers.max(1);
    let hashed: Vec<_> = stream::iter(plan.candidates)
        .map(|f| async move {
            let task = spawn_blocking(move || {
                let h = digest::hash_file(&f.abs, &f.stat);
                (f, h)
            });
            task.await.expect("hashing task panicked")
        })
        .buffered(limit)
        .collect()
        .await;
    for (f, hashed) in hashed {
        let hash = match hashed {
            Ok(h) => h,
            Err(e) => {
                preview.unreadable.push(file_of(&f, unreadable(&e), false));
                continue;
            }
        };
        let (codec, names) = p.rules_for(&f.source);
        let to = super::pass::recipients_for(p.config, &f.source).map(|r| r.fingerprint());
        let r = diff::resolve(f, hash, &*index, codec, names, to)?;
        let compressed = codec.compression != Compression::None;
        match (&r.class, &r.object) {
            (Class::Conflict { .. }, _) => {
                preview
                    .conflicts
                    .push(file_of(&r.file, "conflict".into(), compressed));
            }
            (class, Object::Upload(..)) => {
                let why = if *class == Class::Changed {
                    "changed"
                } else {
                    "new"
                };
                preview.bytes_to_upload += r.file.stat.size;
                preview
                    .uploads
                    .push(file_of(&r.file, why.into(), compressed));
            }
            (_, Object::Existing(_)) => preview.files_known += 1,
        }
    }
    Ok(())
}

impl PreviewFile {
    /// A path the scan could not read.
    pub(crate) fn failed(f: &crate::report::FileFailure) -> Self {
        PreviewFile {
            file: f.file.clone(),
            size: 0,
            reason: f.error.clone(),
            compressed: false,
        }
    }
}

fn file_of(f: &ScannedFile, reason: String, compressed: bool) -> PreviewFile {
    PreviewFile {
        file: label(f),
        size: f.stat.size,
        reason,
        compressed,
    }
}

fn unreadable(e: &DigestError) -> String {
    match e {
        DigestError::Changed { .. } => "changing while read".into(),
        DigestError::Io(io) => format!("cannot read: {io}"),
    }
}

impl Preview {
    /// One line for a human.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "dry run: would upload {} files ({}{}), record {} already stored; {} unchanged, {} waiting; nothing written",
            self.uploads.len(),
            crate::report::human_bytes(self.bytes_to_upload),
            if self.uploads.iter().any(|f| f.compressed) {
                " before compression"
            } else {
                ""
            },
            self.files_known,
            self.files_unchanged,
            self.files_waiting,
        );
        if !self.unreadable.is_empty() {
            s.push_str(&format!("; {} unreadable now", self.unreadable.len()));
        }
        if !self.conflicts.is_empty() {
            s.push_str(&format!("; {} NAME CONFLICT(S)", self.conflicts.len()));
        }
        for name in &self.empty_sources {
            s.push_str(&format!(
                "; source `{name}` matched no files (check its path, include and exclude)"
            ));
        }
        s
    }
}
