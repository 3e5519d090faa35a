//! Retries the requests object_store leaves to its caller.
//!
//! object_store retries a request that got a 5xx, a 429 or a connection error before it
//! was sent. It does not retry a conditional (create-only) put that met a reset or a
//! timeout, since it cannot know whether the write landed, nor an error while a response
//! body streams. logferry's writes are safe to repeat (content-addressed keys; a
//! manifest create that meets its own earlier attempt is recognised by its bytes), so
//! these are retried here, within the destination's `max_retries` and `retry_timeout`,
//! with exponential backoff and full jitter. What object_store already retried is not
//! retried again, so one request never gets more than one retry budget.

use std::future::Future;
use std::time::Duration;

use crate::config::Destination;
use crate::error;

/// First backoff; each retry doubles it, up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// How often, and for how long, one operation is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// No retry starts once this much time has passed since the first attempt.
    pub retry_timeout: Duration,
    /// Retry only a body cut off while it streamed: the request itself is left to
    /// object_store's own retries (and to its `max_retries`, 0 included).
    pub bodies_only: bool,
}

impl Default for Policy {
    /// The defaults of `destination.max_retries` and `destination.retry_timeout`.
    fn default() -> Self {
        Policy {
            max_retries: crate::config::DEFAULT_MAX_RETRIES,
            retry_timeout: crate::config::DEFAULT_RETRY_TIMEOUT,
            bodies_only: false,
        }
    }
}

impl Policy {
    /// The destination's own bounds.
    pub fn for_destination(dest: &Destination) -> Self {
        Policy {
            max_retries: dest.max_retries,
            retry_timeout: dest.retry_timeout,
            bodies_only: false,
        }
    }

    /// For reads made without the destination's config at hand (manifest listing and
    /// fetch): the default bounds, for cut bodies only, so a request that failed is
    /// never retried beyond what the destination's `max_retries` allowed.
    pub fn bodies() -> Self {
        Policy {
            bodies_only: true,
            ..Policy::default()
        }
    }
}

/// What [`run`] ended with, and how many attempts it took (1 when the first one settled
/// it). A create-only put that fails with "already exists" after more than one attempt
/// may have met its own earlier attempt, which landed although its answer was lost.
#[derive(Debug)]
pub(crate) struct Outcome<T> {
    /// The last attempt's result.
    pub result: object_store::Result<T>,
    /// Attempts made.
    pub attempts: usize,
}

/// Runs `op` until it succeeds, fails with an error that is not worth retrying (see
/// [`should_retry`]), or the policy's bounds are spent.
pub(crate) async fn run<T, F, Fut>(policy: &Policy, what: &str, mut op: F) -> Outcome<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = object_store::Result<T>>,
{
    let started = crate::time::monotonic();
    let mut backoff = INITIAL_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = op().await;
        let e = match &result {
            Err(e) if should_retry(e) && !(policy.bodies_only && from_request(e)) => e,
            _ => return Outcome { result, attempts },
        };
        let wait = jitter(backoff, attempts);
        if attempts > policy.max_retries || started.elapsed() + wait > policy.retry_timeout {
            return Outcome { result, attempts };
        }
        tracing::info!(
            op = what,
            attempt = attempts,
            wait_ms = wait.as_millis() as u64,
            error = %e,
            "transient destination error; retrying"
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A transient error ([`error::transient`]) that object_store did not already retry.
pub(crate) fn should_retry(e: &object_store::Error) -> bool {
    error::transient(e) && !retried_by_object_store(e)
}

/// object_store's retry loop says "after N retries" once it has retried a request: its
/// budget for that request is spent.
fn retried_by_object_store(e: &object_store::Error) -> bool {
    any_cause(e, |text| text.contains(" retries, max_retries: "))
}

/// Whether the request failed (object_store's retry error, "Error performing GET …"),
/// rather than its body while it streamed.
fn from_request(e: &object_store::Error) -> bool {
    any_cause(e, |text| text.starts_with("Error performing "))
}

/// object_store's retry error type is private: its words are all there is to read.
fn any_cause(e: &object_store::Error, test: impl Fn(&str) -> bool) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if test(&c.to_string()) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A wait in `[backoff / 2, backoff]`, so agents that failed together do not retry
/// together. The randomness need not be good, only differ between hosts and attempts.
fn jitter(backoff: Duration, attempt: usize) -> Duration {
    let nanos = crate::time::Clock::now(&crate::time::SystemClock)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    let mut x = nanos ^ ((attempt as u64) << 32) ^ u64::from(std::process::id());
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let half = backoff.as_millis() as u64 / 2;
    Duration::from_millis(half + x % (half + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn reset() -> object_store::Error {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(object_store::client::HttpError::new(
                object_store::client::HttpErrorKind::Interrupted,
                io,
            )),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_within_the_bounds() {
        let policy = Policy {
            max_retries: 3,
            retry_timeout: Duration::from_secs(60),
            bodies_only: false,
        };
        let calls = AtomicUsize::new(0);
        let out = run(&policy, "put", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(reset())
        })
        .await;
        assert!(out.result.is_err());
        assert_eq!((out.attempts, calls.load(Ordering::SeqCst)), (4, 4));

        let calls = AtomicUsize::new(0);
        let out = run(&policy, "put", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(reset()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!((out.result.unwrap(), out.attempts), (7, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let policy = Policy::default();
        for e in [
            object_store::Error::NotFound {
                path: "k".into(),
                source: "gone".into(),
            },
            object_store::Error::AlreadyExists {
                path: "k".into(),
                source: "there".into(),
            },
            object_store::Error::PermissionDenied {
                path: "k".into(),
                source: "403".into(),
            },
        ] {
            let mut once = Some(e);
            let out = run(&policy, "put", || {
                let e = once.take().expect("called once");
                async move { Err::<(), _>(e) }
            })
            .await;
            assert_eq!(out.attempts, 1);
        }
    }

    #[test]
    fn jitter_stays_within_the_backoff() {
        for a in 0..50 {
            let j = jitter(Duration::from_millis(400), a);
            assert!(j >= Duration::from_millis(200) && j <= Duration::from_millis(400));
        }
    }
}
