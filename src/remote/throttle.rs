//! Backing off when the destination says slow down. object_store retries a `503 SlowDown`
//! or a `429` by itself, so without this a pass would go on keeping as many requests in
//! flight as before, each retried into the same throttle. [`Limiter`] is an AIMD limit on
//! the requests a pass keeps in flight: halved on a throttle answer, raised by one per
//! limit's worth of successes, up to the configured maximum. The destination's HTTP
//! client is wrapped ([`ThrottleConnector`]) so that every answer, each of object_store's
//! retries included, feeds it. It never refuses a request: it only makes the next ones
//! wait for a permit.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use object_store::client::{HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse};
use object_store::client::{HttpResponseBody, HttpService};
use object_store::ClientOptions;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The least time between two "lowered" log lines: a throttling store answers many
/// requests at once, and the operator needs the news, not one line per answer.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The limit on requests in flight, shared by the pass (which takes a [`Permit`] per
/// request) and the destination's HTTP client (which reports each answer). Cloning it
/// shares the same limit.
#[derive(Debug, Clone)]
pub struct Limiter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    max: usize,
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

/// Always: permits available + permits held - `debt` == `limit`.
#[derive(Debug)]
struct State {
    limit: usize,
    /// Permits to swallow as they come back: a decrease takes what is available at once
    /// and the rest from the requests still in flight.
    debt: usize,
    /// Bumped by each decrease: throttle answers to requests sent before it belong to
    /// the congestion already answered, so one burst of 503s halves the limit once.
    window: u64,
    /// Successes since the limit last changed.
    successes: usize,
    /// When a decrease was last logged.
    logged: Option<Instant>,
}

/// One request's place in flight; dropping it lets the next request go.
#[derive(Debug)]
pub struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
}

/// When a request was sent, relative to the limiter's decreases: see [`Limiter::window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleWindow(u64);

impl Limiter {
    /// A limiter allowing `max` requests in flight (at least one), and never more.
    pub fn new(max: usize) -> Limiter {
        let max = max.max(1);
        Limiter {
            shared: Arc::new(Shared {
                max,
                permits: Arc::new(Semaphore::new(max)),
                state: Mutex::new(State {
                    limit: max,
                    debt: 0,
                    window: 0,
                    successes: 0,
                    logged: None,
                }),
            }),
        }
    }

    /// Waits until fewer than [`Limiter::limit`] requests are in flight (first come,
    /// first served), and takes a place.
    pub async fn acquire(&self) -> Permit {
        let permit = Arc::clone(&self.shared.permits)
            .acquire_owned()
            .await
            .expect("the limiter's semaphore is never closed");
        Permit {
            permit: Some(permit),
            shared: Arc::clone(&self.shared),
        }
    }

    /// The requests allowed in flight now.
    pub fn limit(&self) -> usize {
        self.shared.lock().limit
    }

    /// The most requests ever allowed in flight.
    pub fn max(&self) -> usize {
        self.shared.max
    }

    /// Places taken now (it can exceed the limit right after a decrease).
    pub fn in_flight(&self) -> usize {
        let s = self.shared.lock();
        s.limit + s.debt - self.shared.permits.available_permits()
    }

    /// The window a request sent now belongs to; hand it to [`Limiter::throttled`] with
    /// the answer.
    pub fn window(&self) -> ThrottleWindow {
        ThrottleWindow(self.shared.lock().window)
    }

    /// A throttle answer to a request sent in `sent`: halves the limit (not below one),
    /// once per window. Returns the new limit when it was lowered.
    pub fn throttled(&self, sent: ThrottleWindow, reason: &str) -> Option<usize> {
        let mut s = self.shared.lock();
        if sent.0 != s.window || s.limit == 1 {
            return None;
        }
        let lowered = s.limit / 2;
        let cut = s.limit - lowered;
        let taken = self.shared.permits.forget_permits(cut);
        s.debt += cut - taken;
        s.limit = lowered;
        s.window += 1;
        s.successes = 0;
        let now = Instant::now();
        if s.logged
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
        {
            s.logged = Some(now);
            tracing::info!(
                "requests in flight lowered to {lowered}: the destination is throttling ({reason})"
            );
        } else {
            tracing::debug!("requests in flight lowered to {lowered} ({reason})");
        }
        Some(lowered)
    }

    /// A successful answer: after as many successes as the limit, the limit grows by
    /// one, up to the maximum.
    pub fn succeeded(&self) {
        let mut s = self.shared.lock();
        if s.limit >= self.shared.max {
            return;
        }
        s.successes += 1;
        if s.successes < s.limit {
            return;
        }
        s.successes = 0;
        s.limit += 1;
        if s.debt > 0 {
            s.debt -= 1;
        } else {
            self.shared.permits.add_permits(1);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few integers, updated whole under the lock: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut s = self.shared.lock();
        if s.debt > 0 {
            s.debt -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }
}

/// What one HTTP answer says about the destination's load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A 2xx.
    Success,
    /// Slow down, with the reason as the log line names it (`503 SlowDown`).
    Throttle(String),
    /// Anything else (a 404, a 412 of a create-only put, a 500): no news on load.
    Other,
}

/// Reads an answer: `429` and `503` are throttles. The reason names the store's own error
/// code when it gives one: S3's `<Code>` in the body, Azure's `x-ms-error-code` header.
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Answer {
    if status.is_success() {
        return Answer::Success;
    }
    if !is_throttle(status) {
        return Answer::Other;
    }
    let code = headers
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| xml_code(body))
        .or_else(|| status.canonical_reason().map(str::to_string))
        .unwrap_or_default();
    Answer::Throttle(format!("{} {code}", status.as_u16()).trim_end().to_string())
}

fn is_throttle(status: StatusCode) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
}

/// The `<Code>` of an S3 error document.
fn xml_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    let code = text[start..start + len].trim();
    (!code.is_empty() && code.len() <= 64).then(|| code.to_string())
}

/// An HTTP connector that reports every answer of the client `C` makes to a [`Limiter`].
#[derive(Debug)]
pub(crate) struct ThrottleConnector<C> {
    inner: C,
    limiter: Limiter,
}

impl<C: HttpConnector> ThrottleConnector<C> {
    pub(crate) fn new(inner: C, limiter: Limiter) -> Self {
        ThrottleConnector { inner, limiter }
    }
}

impl<C: HttpConnector> HttpConnector for ThrottleConnector<C> {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(Observed {
            inner: self.inner.connect(options)?,
            limiter: self.limiter.clone(),
        }))
    }
}

#[derive(Debug)]
struct Observed {
    inner: HttpClient,
    limiter: Limiter,
}

#[async_trait::async_trait]
impl HttpService for Observed {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let sent = self.limiter.window();
        let resp = self.inner.execute(req).await?;
        let status = resp.status();
        if status.is_success() {
            self.limiter.succeeded();
            return Ok(resp);
        }
        if !is_throttle(status) {
            return Ok(resp);
        }
        // A throttle answer's body is a short error document: read it for its code and
        // hand it on as it was, for object_store's own error message.
        let (parts, body) = resp.into_parts();
        let bytes = body.bytes().await.unwrap_or_default();
        if let Answer::Throttle(reason) = classify(status, &parts.headers, &bytes) {
            self.limiter.throttled(sent, &reason);
        }
        Ok(HttpResponse::from_parts(
            parts,
            HttpResponseBody::from(bytes),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_throttles_halves_the_limit_once_per_window() {
        let l = Limiter::new(32);
        let sent = l.window();
        assert_eq!(l.throttled(sent, "503 SlowDown"), Some(16));
        for _ in 0..31 {
            assert_eq!(l.throttled(sent, "503 SlowDown"), None, "same burst");
        }
        assert_eq!(l.limit(), 16);
        // A request sent after the decrease and throttled again: the store still says no.
        assert_eq!(l.throttled(l.window(), "503 SlowDown"), Some(8));
        for expected in [4, 2, 1] {
            assert_eq!(l.throttled(l.window(), "429"), Some(expected));
        }
        assert_eq!(l.throttled(l.window(), "429"), None, "never below one");
        assert_eq!(l.limit(), 1);
    }

    #[test]
    fn successes_add_one_per_limits_worth_up_to_the_max() {
        let l = Limiter::new(10);
        l.throttled(l.window(), "503");
        l.throttled(l.window(), "503");
        assert_eq!(l.limit(), 2);
        l.succeeded();
        assert_eq!(l.limit(), 2, "one success of two");
        l.succeeded();
        assert_eq!(l.limit(), 3);
        for _ in 0..3 {
            l.succeeded();
        }
        assert_eq!(l.limit(), 4);
        for _ in 0..1000 {
            l.succeeded();
        }
        assert_eq!(l.limit(), 10, "capped at the max");
        assert_eq!(Limiter::new(0).max(), 1);
    }

    #[test]
    fn a_throttle_resets_the_count_of_successes() {
        let l = Limiter::new(8);
        l.throttled(l.window(), "503");
        for _ in 0..3 {
            l.succeeded();
        }
        l.throttled(l.window(), "503");
        assert_eq!(l.limit(), 2);
        l.succeeded();
        assert_eq!(l.limit(), 2, "the three earlier successes do not count");
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_while_the_limit_is_reached() {
        let l = Limiter::new(2);
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert_eq!(l.in_flight(), 2);
        let waiting = tokio::spawn({
            let l = l.clone();
            async move { l.acquire().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a third waits for a place");
        drop(a);
        let _c = waiting.await.unwrap();
        assert_eq!(l.in_flight(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_decrease_below_what_is_in_flight_is_paid_by_returning_permits() {
        let l = Limiter::new(4);
        let held: Vec<Permit> = futures::future::join_all((0..4).map(|_| l.acquire())).await;
        l.throttled(l.window(), "503 SlowDown");
        assert_eq!((l.limit(), l.in_flight()), (2, 4));
        let mut held = held.into_iter();
        drop(held.next());
        drop(held.next());
        assert_eq!(l.in_flight(), 2);
        let mut next = Box::pin(l.acquire());
        assert!(
            futures::poll!(next.as_mut()).is_pending(),
            "two in flight under a limit of two: the next request waits"
        );
        drop(held.next());
        let _p = next.await;
        assert_eq!(l.in_flight(), 2);
        // Growing back while in flight: a place opens at once.
        l.succeeded();
        l.succeeded();
        assert_eq!(l.limit(), 3);
        let _q = l.acquire().await;
        assert_eq!(l.in_flight(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn growth_while_in_debt_cancels_the_debt_first() {
        let l = Limiter::new(4);
        let held: Vec<Permit> = futures::future::join_all((0..4).map(|_| l.acquire())).await;
        l.throttled(l.window(), "503");
        l.succeeded();
        l.succeeded();
        assert_eq!(l.limit(), 3);
        drop(held);
        assert_eq!(l.in_flight(), 0);
        let three: Vec<Permit> = futures::future::join_all((0..3).map(|_| l.acquire())).await;
        let mut fourth = Box::pin(l.acquire());
        assert!(futures::poll!(fourth.as_mut()).is_pending(), "limit is 3");
        drop(three);
    }

    /// The log lines of `f`, at info and above.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_decrease_is_logged_at_most_once_per_few_seconds() {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .without_time()
            .with_writer(move || sink.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let l = Limiter::new(64);
        l.throttled(l.window(), "503 SlowDown");
        tokio::time::advance(Duration::from_secs(1)).await;
        l.throttled(l.window(), "503 SlowDown");
        tokio::time::advance(LOG_EVERY).await;
        l.throttled(l.window(), "429 Too Many Requests");
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let logged: Vec<&str> = text.lines().collect();
        assert_eq!(logged.len(), 2, "{text}");
        assert!(logged[0].ends_with(
            "requests in flight lowered to 32: the destination is throttling (503 SlowDown)"
        ));
        assert!(logged[1].ends_with(
            "requests in flight lowered to 8: the destination is throttling (429 Too Many Requests)"
        ));
    }

    #[test]
    fn answers_are_read_by_status_naming_the_stores_code() {
        let none = HeaderMap::new();
        let s3 = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &none, s3),
            Answer::Throttle("503 SlowDown".into())
        );
        let mut azure = HeaderMap::new();
        azure.insert("x-ms-error-code", "ServerBusy".parse().unwrap());
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &azure, b""),
            Answer::Throttle("503 ServerBusy".into())
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &none, b"{}"),
            Answer::Throttle("429 Too Many Requests".into())
        );
        assert_eq!(classify(StatusCode::OK, &none, b""), Answer::Success);
        assert_eq!(
            classify(StatusCode::NO_CONTENT, &none, b""),
            Answer::Success
        );
        for other in [404, 412, 500, 304] {
            let status = StatusCode::from_u16(other).unwrap();
            assert_eq!(classify(status, &none, b""), Answer::Other, "{other}");
        }
    }
}
