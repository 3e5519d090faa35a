//! Steering a running pass from outside: the agent asks it to stop before its commit,
//! and watches its heartbeat for the systemd watchdog.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Lets the agent steer a running pass: ask it to stop before its commit, and see that
/// it is making progress (for the systemd watchdog).
#[derive(Debug, Clone, Default)]
pub struct Control {
    cancelled: Arc<AtomicBool>,
    beats: Arc<AtomicU64>,
}

impl Control {
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

    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Interrupted("shutdown requested".into()))
        } else {
            Ok(())
        }
    }
}
