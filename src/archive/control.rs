//! Steering a running pass from outside: the agent asks it to stop before its commit,
//! watches its heartbeat for the systemd watchdog, and a person's terminal reads how far
//! its hash and upload stage has come. Only atomics, so the file tasks pay next to
//! nothing for being watched.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::remote::throttle::Limiter;

/// Lets the agent steer a running pass: ask it to stop before its commit, see that it
/// is making progress (for the systemd watchdog), and read how far it has come.
#[derive(Debug, Clone, Default)]
pub struct Control {
    cancelled: Arc<AtomicBool>,
    beats: Arc<AtomicU64>,
    counters: Arc<Counters>,
    /// Bytes of one file advanced so far (see [`Control::for_file`]).
    file_bytes: Arc<AtomicU64>,
    /// The destination's adaptive limit on requests in flight, when it was opened with
    /// one ([`crate::remote::store::open_with_limiter`]).
    limiter: Option<Limiter>,
}

/// What the worker set once the plan was known, and what the file tasks advanced.
#[derive(Debug, Default)]
struct Counters {
    planned: AtomicBool,
    files_total: AtomicU64,
    bytes_total: AtomicU64,
    files_done: AtomicU64,
    bytes_done: AtomicU64,
}

/// How far a running pass has come through reading, hashing and uploading the files
/// its plan named (files found unchanged by the quick check are not counted). A file
/// larger than `multipart_threshold` is read twice, hashed and then uploaded: each read
/// counts half its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassProgress {
    /// Files done (stored, found already stored, or failed).
    pub files_done: u64,
    /// Files the plan has to read.
    pub files_total: u64,
    /// Bytes read so far (never above `bytes_total`).
    pub bytes_done: u64,
    /// The sizes of the files the plan has to read, as scanned.
    pub bytes_total: u64,
}

impl Control {
    /// This control with the limiter of the store the pass writes to: its requests then
    /// take their slots from it, so a throttling destination gets fewer of them.
    pub fn with_limiter(mut self, limiter: Limiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The store's limiter, when [`Control::with_limiter`] gave one.
    pub(crate) fn limiter(&self) -> Option<&Limiter> {
        self.limiter.as_ref()
    }

    /// Asks the pass to stop: uploads in progress are aborted, nothing is committed.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether [`Control::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Records progress (a file hashed, a part sent).
    pub fn beat(&self) {
        self.beats.fetch_add(1, Ordering::Relaxed);
    }

    /// Progress recorded so far.
    pub fn beats(&self) -> u64 {
        self.beats.load(Ordering::Relaxed)
    }

    /// How far the pass has come, once it knows which files it has to read; `None`
    /// while it scans and diffs, and for a pass that found nothing to read.
    pub fn progress(&self) -> Option<PassProgress> {
        let c = &self.counters;
        if !c.planned.load(Ordering::Acquire) {
            return None;
        }
        let bytes_total = c.bytes_total.load(Ordering::Relaxed);
        Some(PassProgress {
            files_done: c.files_done.load(Ordering::Relaxed),
            files_total: c.files_total.load(Ordering::Relaxed),
            bytes_done: c.bytes_done.load(Ordering::Relaxed).min(bytes_total),
            bytes_total,
        })
    }

    /// The plan is known: `files` files of `bytes` bytes in all are to be read.
    pub(crate) fn plan(&self, files: u64, bytes: u64) {
        let c = &self.counters;
        c.files_done.store(0, Ordering::Relaxed);
        c.bytes_done.store(0, Ordering::Relaxed);
        c.files_total.store(files, Ordering::Relaxed);
        c.bytes_total.store(bytes, Ordering::Relaxed);
        c.planned.store(true, Ordering::Release);
    }

    /// The same control for one file's task, counting that file's bytes apart so that
    /// [`Control::file_done`] credits only the rest.
    pub(crate) fn for_file(&self) -> Control {
        Control {
            file_bytes: Arc::default(),
            ..self.clone()
        }
    }

    /// `n` more bytes of the current file were read.
    pub(crate) fn advance(&self, n: u64) {
        self.file_bytes.fetch_add(n, Ordering::Relaxed);
        self.counters.bytes_done.fetch_add(n, Ordering::Relaxed);
    }

    /// The file of this [`Control::for_file`] is done, whatever became of it: all its
    /// `size` bytes count as done.
    pub(crate) fn file_done(&self, size: u64) {
        let advanced = self.file_bytes.swap(0, Ordering::Relaxed);
        let c = &self.counters;
        c.bytes_done
            .fetch_add(size.saturating_sub(advanced), Ordering::Relaxed);
        c.files_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Interrupted("shutdown requested".into()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_unknown_until_planned_then_counts_each_file_once() {
        let c = Control::default();
        assert_eq!(c.progress(), None);
        c.plan(2, 100);
        let (a, b) = (c.for_file(), c.for_file());
        a.advance(30);
        assert_eq!(c.progress().unwrap().bytes_done, 30);
        a.file_done(60);
        b.file_done(40);
        let p = c.progress().unwrap();
        assert_eq!((p.files_done, p.files_total), (2, 2));
        assert_eq!((p.bytes_done, p.bytes_total), (100, 100));
    }

    #[test]
    fn bytes_done_never_passes_the_total() {
        let c = Control::default();
        c.plan(1, 10);
        let f = c.for_file();
        // A file that grew after the scan reads more than its scanned size.
        f.advance(25);
        f.file_done(10);
        assert_eq!(c.progress().unwrap().bytes_done, 10);
    }
}
