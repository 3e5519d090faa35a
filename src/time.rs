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
    // The one read of the wall clock (clippy.toml bans it elsewhere).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Monotonic "now", for elapsed time and deadlines only (never for what time it is):
/// the one read of `Instant::now` (clippy.toml bans it elsewhere).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
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

/// A point in time as manifests, status and reports record it: RFC 3339 in UTC with
/// milliseconds on the wire (`"2026-11-21T10:05:00.000Z"`, byte for byte what
/// [`rfc3339`] writes), a time value in the program, so nothing re-parses text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

impl Timestamp {
    /// The time as a `SystemTime`.
    pub fn time(self) -> SystemTime {
        self.0
    }
}

impl Default for Timestamp {
    /// The Unix epoch: what a report that never started carries (it serialized as an
    /// empty string before it was a type; see [`Timestamp`]'s `Deserialize`).
    fn default() -> Self {
        Timestamp(SystemTime::UNIX_EPOCH)
    }
}

impl From<SystemTime> for Timestamp {
    /// Truncated to the millisecond, the wire's precision, so a timestamp made here
    /// equals the one read back from what it wrote.
    fn from(t: SystemTime) -> Self {
        let truncated = match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => {
                let millis = std::time::Duration::from_millis(d.as_millis() as u64);
                SystemTime::UNIX_EPOCH + millis
            }
            Err(_) => t,
        };
        Timestamp(truncated)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

/// Text that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 time (e.g. 2026-11-21T10:05:00.000Z)")]
pub struct BadTimestamp(String);

impl std::str::FromStr for Timestamp {
    type Err = BadTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(s)
            .map(Timestamp)
            .ok_or_else(|| BadTimestamp(s.to_string()))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_writes_what_rfc3339_wrote_and_reads_it_back() {
        let text = "\"2026-11-21T10:05:00.000Z\"";
        let t: Timestamp = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), text);
        let odd = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_234_567_891);
        let made = Timestamp::from(odd);
        let written = serde_json::to_string(&made).unwrap();
        assert_eq!(written, format!("\"{}\"", rfc3339(odd)));
        assert_eq!(serde_json::from_str::<Timestamp>(&written).unwrap(), made);
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("`yesterday` is not an RFC 3339 time"),
            "{err}"
        );
    }
}
