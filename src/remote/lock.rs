//! What S3 Object Lock says about one object: its retention mode, its retain-until date
//! and its legal hold. object_store's `head` does not return these headers, so the S3
//! client is given an HTTP connector that copies them, with the server's `Date`, into
//! the response's extensions, where `get_opts(.., head)` hands them back. The server's
//! clock is the one that enforces retention, so it is the one asked whether it still
//! holds.

use std::time::SystemTime;

use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};
use object_store::ClientOptions;

use crate::time::{parse_rfc3339, Timestamp};

const MODE: &str = "x-amz-object-lock-mode";
const RETAIN_UNTIL: &str = "x-amz-object-lock-retain-until-date";
const LEGAL_HOLD: &str = "x-amz-object-lock-legal-hold";

/// One object's lock, as its HEAD response told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectLock {
    /// `GOVERNANCE` or `COMPLIANCE`, when the object has a retention.
    pub mode: Option<String>,
    /// When the retention ends.
    pub until: Option<Timestamp>,
    /// Whether a legal hold is on (it has no end date).
    pub legal_hold: bool,
    /// The server's time of the response, when it sent one.
    pub server_now: Option<SystemTime>,
}

impl ObjectLock {
    /// The lock of a response, `None` when it carries none of the Object Lock headers.
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if text(MODE).is_none() && text(RETAIN_UNTIL).is_none() && text(LEGAL_HOLD).is_none() {
            return None;
        }
        Some(ObjectLock {
            mode: text(MODE).map(str::to_string),
            until: text(RETAIN_UNTIL)
                .and_then(parse_rfc3339)
                .map(Timestamp::from),
            legal_hold: text(LEGAL_HOLD).is_some_and(|v| v.eq_ignore_ascii_case("on")),
            server_now: text("date").and_then(parse_http_date),
        })
    }

    /// Whether a delete of this object's version would be refused now: a legal hold,
    /// or a retention that ends after the server's present time. Without the server's
    /// time a retention is taken to hold; the store has the last word either way.
    pub(crate) fn holds(&self) -> bool {
        if self.legal_hold {
            return true;
        }
        match (self.until, self.server_now) {
            (Some(until), Some(now)) => until.time() > now,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// An HTTP date (`Tue, 01 Dec 2026 17:27:08 GMT`), which RFC 2822 parsing accepts.
fn parse_http_date(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(SystemTime::from)
}

/// The S3 client's connector: reqwest's, with [`ObjectLock`] copied into responses.
#[derive(Debug, Default)]
pub(crate) struct LockAwareConnector(ReqwestConnector);

impl HttpConnector for LockAwareConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(LockAware(self.0.connect(options)?)))
    }
}

#[derive(Debug)]
struct LockAware(HttpClient);

#[async_trait::async_trait]
impl HttpService for LockAware {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut resp = self.0.execute(req).await?;
        if let Some(lock) = ObjectLock::from_headers(resp.headers()) {
            resp.extensions_mut().insert(lock);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_retention_holds_until_the_servers_clock_passes_it() {
        let lock = ObjectLock::from_headers(&headers(&[
            (MODE, "COMPLIANCE"),
            (RETAIN_UNTIL, "2026-12-02T17:27:07Z"),
            ("date", "Tue, 01 Dec 2026 17:27:08 GMT"),
        ]))
        .unwrap();
        assert_eq!(lock.mode.as_deref(), Some("COMPLIANCE"));
        assert_eq!(lock.until.unwrap().to_string(), "2026-12-02T17:27:07.000Z");
        assert!(lock.holds());
        let later = ObjectLock::from_headers(&headers(&[
            (RETAIN_UNTIL, "2026-12-02T17:27:07Z"),
            ("date", "Thu, 03 Dec 2026 00:00:00 GMT"),
        ]))
        .unwrap();
        assert!(!later.holds());
    }

    #[test]
    fn a_legal_hold_holds_without_a_date_and_no_headers_is_no_lock() {
        let hold = ObjectLock::from_headers(&headers(&[(LEGAL_HOLD, "ON")])).unwrap();
        assert!(hold.holds());
        assert_eq!(hold.until, None);
        let off = ObjectLock::from_headers(&headers(&[(LEGAL_HOLD, "OFF")])).unwrap();
        assert!(!off.holds());
        assert_eq!(ObjectLock::from_headers(&headers(&[("date", "x")])), None);
    }
}
