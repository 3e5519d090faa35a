//! Steps 3 and 4 of a pass, file by file: each candidate is read and hashed, decided
//! ([`diff::resolve`]) and, when it is new content, stored ([`upload`]) in one task, so a
//! file up to `multipart_threshold` is read once and its bytes go up in one put. The
//! tasks share the pass's [`Limits`]: `hash_workers` read, hash and compress at once,
//! `requests_in_flight` requests are sent at once, and the bytes held in memory stay
//! within the budget, so many small files are in flight while few big ones are. The
//! outcomes are tallied into the report and into what the commit records.

use std::sync::Arc;

use futures::{stream, StreamExt};
use tokio::task::spawn_blocking;

use crate::archive::control::Control;
use crate::archive::diff::{self, Plan};
use crate::archive::pass::{label, recipients_for, rules_for, Class, Done, Object, Pass, Resolved};
use crate::archive::slots::Limits;
use crate::archive::upload::{self, Content, Stored, Target, UploadError};
use crate::catalog::index::{Lookup, ObjectRef};
use crate::codec::{Codec, Compression};
use crate::config::Config;
use crate::digest::{self, ContentHash, DigestError};
use crate::error::{Error, Result};
use crate::fsstat::ScannedFile;
use crate::remote::retry::Policy;
use crate::remote::Store;
use crate::report::RunReport;

/// Hashes and stores the plan's candidates and records its renamed files against their
/// stored objects. A shutdown, or a destination that failed every upload, is the pass
/// failing: nothing is committed, and the next pass adopts what did get stored.
pub(crate) async fn hash_and_store(
    p: &Pass<'_>,
    plan: Plan,
    index: Arc<dyn Lookup>,
    rebuilt: bool,
    report: &mut RunReport,
) -> Result<Done> {
    // Every file that needs recording is pending until a committed generation names it.
    for f in plan
        .candidates
        .iter()
        .chain(plan.renamed.iter().map(|(f, _)| f))
    {
        report.add_pending(&f.source, f.stat.size, f.stat.mtime_ns);
    }
    // Renamed by inode: content already stored, nothing to read.
    let decided: Vec<Resolved> = plan
        .renamed
        .into_iter()
        .map(|(file, hash)| {
            let (codec, names) = p.rules_for(&file.source);
            let to = recipients_for(p.config, &file.source).map(|r| r.fingerprint());
            diff::resolve(file, hash, &*index, codec, names, to)
        })
        .collect::<Result<_>>()?;
    p.control.check()?;
    let processed = process_all(p, plan.candidates, &index, rebuilt).await;
    let mut tally = Tally {
        stored: decided,
        ..Tally::default()
    };
    for (file, outcome) in processed {
        tally.add(file, outcome, report);
    }
    if let Some(e) = tally.destination_error {
        return Err(e);
    }
    if let Some(e) = tally
        .first_store_error
        .filter(|_| tally.uploads_failed == tally.uploads)
    {
        return Err(e);
    }
    p.control.check()?;
    let (conflicts, stored): (Vec<Resolved>, Vec<Resolved>) = tally
        .stored
        .into_iter()
        .partition(|r| matches!(r.class, Class::Conflict { .. }));
    let mut failed = tally.failed;
    for r in conflicts {
        if let Class::Conflict { archived } = r.class {
            report_conflict(report, &r.file, archived, r.hash);
        }
        failed.push(r.file);
    }
    if let Some(e) = tally.index_error {
        return Err(e);
    }
    Ok(Done { stored, failed })
}

/// The outcomes of the file tasks, as they come in.
#[derive(Default)]
struct Tally {
    stored: Vec<Resolved>,
    failed: Vec<ScannedFile>,
    destination_error: Option<Error>,
    first_store_error: Option<Error>,
    uploads: usize,
    uploads_failed: usize,
    index_error: Option<Error>,
}

impl Tally {
    fn add(&mut self, file: ScannedFile, outcome: Processed, report: &mut RunReport) {
        if matches!(outcome, Processed::Stored(..)) {
            self.uploads += 1;
        }
        match outcome {
            Processed::IndexFailed(e) => {
                self.failed.push(file);
                self.index_error.get_or_insert(e);
            }
            Processed::Unreadable(e) => {
                if skip(report, &file, e) {
                    self.failed.push(file);
                }
            }
            Processed::Known(r) => {
                report.bytes_read += r.file.stat.size;
                self.stored.push(r);
            }
            Processed::Stored(r, Ok(outcome)) => {
                let size = match outcome {
                    Stored::Uploaded { read, stored } => {
                        report.files_uploaded += 1;
                        report.bytes_uploaded += stored;
                        report.bytes_read += read;
                        stored
                    }
                    Stored::Adopted { stored } => {
                        report.files_adopted += 1;
                        report.bytes_read += r.file.stat.size;
                        stored
                    }
                };
                self.stored.push(as_stored(*r, size));
            }
            Processed::Stored(r, Err(e)) => self.upload_failed(*r, e, report),
        }
    }

    fn upload_failed(&mut self, r: Resolved, e: UploadError, report: &mut RunReport) {
        match e {
            UploadError::Changed(e) => {
                if skip(report, &r.file, e) {
                    self.failed.push(r.file);
                }
            }
            // One file the destination refused after its retries is that file's failure:
            // the rest is committed, and it is retried next pass.
            UploadError::Store(e) => {
                if e.is_transient() {
                    tracing::warn!(file = %r.file.abs.display(), error = %e, "upload still failing after its retries; retried next pass");
                } else {
                    tracing::error!(file = %r.file.abs.display(), error = %e, "upload refused by the destination; retried next pass");
                }
                report.fail(label(&r.file), e.chain().to_string());
                self.failed.push(r.file);
                self.uploads_failed += 1;
                self.first_store_error.get_or_insert(e);
            }
            UploadError::Interrupted => {
                self.destination_error
                    .get_or_insert(Error::Interrupted("shutdown requested".into()));
            }
            e => {
                tracing::warn!(file = %r.file.abs.display(), error = %e, "upload failed");
                report.fail(label(&r.file), e.to_string());
                self.failed.push(r.file);
            }
        }
    }
}

/// A resolved file whose upload succeeded, now pointing at the stored object.
fn as_stored(mut r: Resolved, stored_size: u64) -> Resolved {
    if let Object::Upload(key, codec) = &r.object {
        let compressed = codec.compression != Compression::None;
        let encrypted = key.as_ref().ends_with(crate::remote::layout::AGE);
        r.object = Object::Existing(ObjectRef {
            key: key.to_string(),
            compression: codec.compression,
            stored_size: (compressed || encrypted).then_some(stored_size),
        });
    }
    r
}

/// Other content at an immutable name: never recorded, loud in the log and the report.
fn report_conflict(
    report: &mut RunReport,
    file: &ScannedFile,
    archived: ContentHash,
    found: ContentHash,
) {
    tracing::error!(
        file = %file.abs.display(),
        archived_sha256 = %archived,
        found_sha256 = %found,
        "name conflict: not archived; the archive keeps the first content of this name"
    );
    report.conflict(crate::report::NameConflict {
        file: label(file),
        archived_sha256: archived.to_string(),
        found_sha256: found.to_string(),
        size: file.stat.size,
        mtime_ns: file.stat.mtime_ns,
    });
}

/// A file that changed while read is not a failure: it is not closed yet. One deleted
/// since the scan (rotation's churn) is gone: counted as vanished, nothing to retry.
/// Returns whether the file is still pending (to be retried next pass).
fn skip(report: &mut RunReport, file: &ScannedFile, e: DigestError) -> bool {
    match e {
        DigestError::Changed { .. } => {
            tracing::info!(file = %file.abs.display(), "changed while read; will retry next pass");
            report.files_changing += 1;
            true
        }
        DigestError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(file = %file.abs.display(), "vanished before it was read");
            report.files_vanished += 1;
            false
        }
        DigestError::Io(io) => {
            tracing::warn!(file = %file.abs.display(), error = %io, "cannot read");
            report.fail(label(file), io.to_string());
            true
        }
    }
}

/// What became of one candidate file.
enum Processed {
    /// Could not be read as it was scanned (changing, vanished, unreadable).
    Unreadable(DigestError),
    /// Its content is already stored (touched, or renamed by content).
    Known(Resolved),
    /// It was stored, or storing it failed.
    Stored(Box<Resolved>, std::result::Result<Stored, UploadError>),
    /// The local index could not be read: the pass stops, since a file decided without
    /// it might be recorded as what it is not.
    IndexFailed(Error),
}

/// What every file task needs, owned, since each runs as its own task.
struct Shared {
    store: Store,
    retry: Policy,
    index: Arc<dyn Lookup>,
    config: Config,
    control: Control,
    /// Rebuilt from the remote: archived objects are checked for before being trusted.
    rebuilt: bool,
    /// What the file tasks may hold at once.
    limits: Limits,
    /// When the pass began, before any file was read (ns since the Unix epoch).
    started_ns: i64,
}

/// File tasks alive at once, most of them waiting for memory, a worker or a request
/// slot: a few KiB each, and enough to keep every worker and request slot busy.
const FILE_TASKS: usize = 1024;

/// Each file runs as its own task, so hashing and compression use every worker while
/// other files' requests are in flight.
async fn process_all(
    p: &Pass<'_>,
    files: Vec<ScannedFile>,
    index: &Arc<dyn Lookup>,
    rebuilt: bool,
) -> Vec<(ScannedFile, Processed)> {
    let shared = Arc::new(Shared {
        store: Arc::clone(p.store),
        retry: Policy::for_destination(&p.config.destination),
        index: Arc::clone(index),
        config: p.config.clone(),
        control: p.control.clone(),
        rebuilt,
        limits: Limits::for_pass(p.config, p.control),
        started_ns: crate::fsstat::nanos(p.clock.now()),
    });
    let tasks = FILE_TASKS.max(2 * (p.config.requests_in_flight + p.config.hash_workers));
    stream::iter(files)
        .map(|f| {
            let shared = Arc::clone(&shared);
            let task = tokio::spawn(async move {
                let control = shared.control.for_file();
                let size = f.stat.size;
                let out = process_one(&shared, &control, f).await;
                control.file_done(size);
                out
            });
            async move { task.await.expect("a file task panicked") }
        })
        .buffer_unordered(tasks)
        .collect()
        .await
}

/// Reads and hashes one file, decides what it is, and stores it if it is new content;
/// `control` is this file's (see [`Control::for_file`]).
async fn process_one(s: &Shared, control: &Control, f: ScannedFile) -> (ScannedFile, Processed) {
    if control.is_cancelled() {
        let e = std::io::Error::new(std::io::ErrorKind::Interrupted, "shutdown requested");
        return (f, Processed::Unreadable(DigestError::Io(e)));
    }
    let (limit, size) = (s.config.multipart_threshold, f.stat.size);
    let (codec, names) = rules_for(&s.config, &f.source);
    let recipients = recipients_for(&s.config, &f.source);
    // A file read whole holds its bytes until its put is answered.
    let mut held = None;
    if size <= limit {
        let bytes = upload::whole_file(size, codec.compression, recipients.is_some());
        held = Some(s.limits.memory.hold(bytes).await);
    }
    let worker = s.limits.workers.acquire().await;
    control.beat();
    let hashing = control.clone();
    let (f, digested) = spawn_blocking(move || {
        // A large file is read twice, to hash it and to upload it: each read counts
        // half its bytes, so the pass's bytes stay the files' sizes.
        let progress = |n: u64| hashing.advance(n / 2);
        let r = digest::read_small(&f.abs, &f.stat, limit).and_then(|small| match small {
            Some((hash, bytes)) => Ok((hash, Some(bytes))),
            None => digest::hash_file_counted(&f.abs, &f.stat, &progress).map(|h| (h, None)),
        });
        (f, r)
    })
    .await
    .expect("hashing task panicked");
    drop(worker);
    let (hash, bytes) = match digested {
        Ok(d) => d,
        Err(e) => return (f, Processed::Unreadable(e)),
    };
    let to = recipients.map(|r| r.fingerprint());
    let r = match diff::resolve(f.clone(), hash, &*s.index, codec, names, to) {
        Ok(r) => r,
        Err(e) => return (f, Processed::IndexFailed(e)),
    };
    let target = match &r.object {
        Object::Upload(key, codec) => Some((key.clone(), *codec)),
        Object::Existing(o) if s.rebuilt && matches!(r.class, Class::Touched | Class::Renamed) => {
            match absent(&s.store, &s.limits, o, codec).await {
                Ok(t) => t,
                Err(e) => return (f, Processed::Stored(Box::new(r), Err(e.into()))),
            }
        }
        Object::Existing(_) => None,
    };
    let Some((key, codec)) = target else {
        return (f, Processed::Known(r));
    };
    let to = Target {
        store: &s.store,
        retry: s.retry,
        limits: &s.limits,
    };
    let seal = match seal_for(&key, recipients) {
        Ok(seal) => seal,
        Err(e) => return (f, Processed::Stored(Box::new(r), Err(e.into()))),
    };
    let c = Content {
        key: &key,
        file: &r.file,
        expected: r.hash,
        codec,
        seal,
        hashed_at_ns: s.started_ns,
    };
    let out = match (bytes, held.as_mut()) {
        (Some(b), Some(held)) => upload::store_bytes(&to, &c, b, held, control).await,
        _ => upload::store_file(&to, &c, s.config.part_size, control).await,
    };
    (f, Processed::Stored(Box::new(r), out))
}

/// Whom the object at `key` is encrypted to: the key says whether it is (one put back
/// after a rebuild keeps the form it was recorded in), the source's config to whom.
pub(crate) fn seal_for<'a>(
    key: &object_store::path::Path,
    recipients: Option<&'a crate::crypt::Recipients>,
) -> Result<Option<&'a crate::crypt::Recipients>> {
    match (key.as_ref().ends_with(crate::remote::layout::AGE), recipients) {
        (false, _) => Ok(None),
        (true, Some(to)) => Ok(Some(to)),
        (true, None) => Err(Error::Encryption(crate::crypt::CryptError::Locked {
            message: format!("{key} is recorded encrypted but its source has no age_recipients now; set them to put it back"),
        })),
    }
}

/// After a rebuild, an archived object the destination lacks (deleted by hand, lost by
/// the store) is put back from the local file that holds its content: the key and codec
/// to store it with, or `None` when it is there.
async fn absent(
    store: &Store,
    limits: &Limits,
    o: &ObjectRef,
    codec: Codec,
) -> Result<Option<(object_store::path::Path, Codec)>> {
    use object_store::ObjectStoreExt;
    let key = object_store::path::Path::parse(&o.key).map_err(|e| Error::Format {
        what: "manifest",
        location: o.key.clone(),
        message: format!("bad object key: {e}"),
    })?;
    let slot = limits.requests.acquire().await;
    let found = store.head(&key).await;
    drop(slot);
    match found {
        Ok(_) => Ok(None),
        Err(object_store::Error::NotFound { .. }) => {
            tracing::warn!(key = %key, "archived object missing from the destination; uploading it again from the local file");
            let codec = Codec {
                compression: o.compression,
                ..codec
            };
            Ok(Some((key, codec)))
        }
        Err(e) => Err(Error::store("head", &key, e)),
    }
}
