//! Time as logferry sees it: the injected [`Clock`] (tests run on their own clock, never
//! on today's date) and RFC 3339 text, the one way times are written in manifests,
//! status and output. A leaf: it imports nothing of the crate.

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};

/// The source of "now".
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// RFC 3339 in UTC with milliseconds, as written in manifests and status.
pub fn rfc3339(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a time written by [`rfc3339`].
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(SystemTime::from)
}
