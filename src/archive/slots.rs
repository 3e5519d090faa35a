//! What a pass may hold at once, each bounded apart: requests to the destination
//! ([`RequestSlots`], `requests_in_flight`), CPU work of reading, hashing and compressing
//! ([`Workers`], `hash_workers`) and bytes of file content in memory ([`MemoryBudget`],
//! [`Config::memory_budget`]). Bounding them apart lets a remote store have many requests
//! in flight while hashing keeps to about one worker per core, and keeps memory bounded
//! by configuration however many files are in flight.
//!
//! A task takes them in one order (memory, then a worker, then a request slot) and never
//! waits for an earlier one while it holds a later one, so they cannot deadlock.

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::archive::control::Control;
use crate::config::Config;
use crate::remote::throttle::{Limiter, Permit};

/// The requests to the destination that may be in flight at once. Every request a pass
/// sends for a data object waits here: on a fixed number of slots, or on the
/// destination's adaptive limiter, which gives fewer while it answers 503/429.
#[derive(Debug)]
pub(crate) enum RequestSlots {
    /// `requests_in_flight` at once.
    Fixed(Semaphore),
    /// At most `requests_in_flight`, fewer while the destination throttles.
    Adaptive(Limiter),
}

/// One request's slot, given back when dropped.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum RequestSlot<'a> {
    /// Of [`RequestSlots::Fixed`].
    Fixed(SemaphorePermit<'a>),
    /// Of [`RequestSlots::Adaptive`].
    Adaptive(Permit),
}

impl RequestSlots {
    /// `n` requests at once.
    pub(crate) fn new(n: usize) -> Self {
        RequestSlots::Fixed(Semaphore::new(n.max(1)))
    }

    /// Waits for a free slot; hold it for the request's duration.
    pub(crate) async fn acquire(&self) -> RequestSlot<'_> {
        match self {
            RequestSlots::Fixed(s) => {
                RequestSlot::Fixed(s.acquire().await.expect("request slots are never closed"))
            }
            RequestSlots::Adaptive(l) => RequestSlot::Adaptive(l.acquire().await),
        }
    }
}

/// The workers that read, hash and compress: about one per core.
#[derive(Debug)]
pub(crate) struct Workers(Semaphore);

/// One worker, given back when dropped.
#[derive(Debug)]
pub(crate) struct Worker<'a>(#[allow(dead_code)] SemaphorePermit<'a>);

impl Workers {
    /// `n` workers.
    pub(crate) fn new(n: usize) -> Self {
        Workers(Semaphore::new(n.max(1)))
    }

    /// Waits for a free worker.
    pub(crate) async fn acquire(&self) -> Worker<'_> {
        Worker(self.0.acquire().await.expect("workers are never closed"))
    }
}

/// Bytes are counted in units of this many, so that a budget of many GiB fits the
/// semaphore's `u32` requests.
const UNIT: u64 = 1024;

/// The bytes of file content a pass holds in memory at once: a file read whole for one
/// put, until its request is answered, and the part buffers of multipart uploads.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    permits: Semaphore,
    units: u64,
}

/// Bytes held against the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Held<'a>(SemaphorePermit<'a>);

impl MemoryBudget {
    /// A budget of `bytes`.
    pub(crate) fn new(bytes: u64) -> Self {
        let units = bytes.div_ceil(UNIT).clamp(1, u64::from(u32::MAX));
        MemoryBudget {
            permits: Semaphore::new(units as usize),
            units,
        }
    }

    /// Waits until `bytes` fit the budget. More than the whole budget (a part grown for
    /// a file of more than 10,000 parts) waits for the whole budget.
    pub(crate) async fn hold(&self, bytes: u64) -> Held<'_> {
        let units = bytes.div_ceil(UNIT).min(self.units) as u32;
        Held(
            self.permits
                .acquire_many(units)
                .await
                .expect("the memory budget is never closed"),
        )
    }

    /// Bytes free now (for tests).
    #[cfg(test)]
    fn free(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }
}

impl Held<'_> {
    /// Gives back what is held beyond `bytes` (compressed bytes smaller than the file).
    pub(crate) fn shrink_to(&mut self, bytes: u64) {
        let keep = bytes.div_ceil(UNIT) as usize;
        if let Some(extra) = self.0.num_permits().checked_sub(keep).filter(|n| *n > 0) {
            drop(self.0.split(extra));
        }
    }
}

/// A pass's bounds, made from its config.
#[derive(Debug)]
pub(crate) struct Limits {
    /// Requests to the destination at once.
    pub requests: RequestSlots,
    /// Reading, hashing and compressing at once.
    pub workers: Workers,
    /// File content in memory at once.
    pub memory: MemoryBudget,
}

impl Limits {
    /// The bounds `config` sets.
    pub(crate) fn for_config(config: &Config) -> Self {
        Limits {
            requests: RequestSlots::new(config.requests_in_flight),
            workers: Workers::new(config.hash_workers),
            memory: MemoryBudget::new(config.memory_budget()),
        }
    }

    /// The bounds of a pass steered by `control`: its requests take the destination's
    /// adaptive limiter when it has one.
    pub(crate) fn for_pass(config: &Config, control: &Control) -> Self {
        let requests = match control.limiter() {
            Some(l) => RequestSlots::Adaptive(l.clone()),
            None => RequestSlots::new(config.requests_in_flight),
        };
        Limits {
            requests,
            workers: Workers::new(config.hash_workers),
            memory: MemoryBudget::new(config.memory_budget()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn held_bytes_come_back_when_dropped_or_shrunk() {
        let m = MemoryBudget::new(10 * UNIT);
        let mut a = m.hold(6 * UNIT).await;
        assert_eq!(m.free(), 4 * UNIT);
        a.shrink_to(UNIT + 1);
        assert_eq!(m.free(), 8 * UNIT, "rounded up to whole units");
        drop(a);
        assert_eq!(m.free(), 10 * UNIT);
    }

    #[tokio::test]
    async fn more_than_the_budget_waits_for_all_of_it() {
        let m = MemoryBudget::new(4 * UNIT);
        let small = m.hold(UNIT).await;
        let big = m.hold(100 * UNIT);
        tokio::pin!(big);
        assert!(
            futures::poll!(&mut big).is_pending(),
            "waits for the small one"
        );
        drop(small);
        let held = big.await;
        assert_eq!(m.free(), 0);
        drop(held);
        assert_eq!(m.free(), 4 * UNIT);
    }

    #[tokio::test]
    async fn a_request_waits_for_a_free_slot() {
        let s = RequestSlots::new(2);
        let (a, _b) = (s.acquire().await, s.acquire().await);
        let c = s.acquire();
        tokio::pin!(c);
        assert!(futures::poll!(&mut c).is_pending());
        drop(a);
        c.await;
    }
}
