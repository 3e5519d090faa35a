//! When passes run: cron ticks or an interval, jitter, missed ticks and restarts.
//! Time comes in through [`Clock`] and the [`Planner`] never waits, so all of it is
//! tested without sleeping; the waiting is the agent loop's job.

use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, SecondsFormat, Utc};

use crate::config::{Schedule, ScheduleKind};

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

/// The first tick strictly after `t`: the next cron tick in the schedule's timezone (the
/// host's local time when none is set), or `t` plus the interval.
pub fn next_after(schedule: &Schedule, t: SystemTime) -> Option<SystemTime> {
    match &schedule.kind {
        ScheduleKind::Interval(d) => Some(t + *d),
        ScheduleKind::Cron(cron, Some(tz)) => {
            let local = DateTime::<Utc>::from(t).with_timezone(tz);
            cron.after(&local).next().map(SystemTime::from)
        }
        ScheduleKind::Cron(cron, None) => {
            let local = DateTime::<Utc>::from(t).with_timezone(&Local);
            cron.after(&local).next().map(SystemTime::from)
        }
    }
}

/// A delay in `[0, jitter)` for the pass due at `due`, fixed by `seed` (the host) so a
/// fleet spreads out while each host keeps a steady rhythm.
pub fn jitter_offset(jitter: Duration, seed: u64, due: SystemTime) -> Duration {
    let span = jitter.as_nanos() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    let secs = due.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (seed, secs).hash(&mut h);
    Duration::from_nanos(h.finish() % span)
}

/// Decides when passes start. Pure: it is told the time and never waits.
///
/// Each next start is computed from the start of the previous pass, so a pass that ran
/// past one or more ticks is followed by exactly one catch-up pass, not a backlog; and
/// after a restart the persisted start of the last pass keeps the rhythm (a tick missed
/// while the agent was down runs at once, nothing is pushed back).
#[derive(Debug, Clone)]
pub struct Planner {
    schedule: Schedule,
    jitter: Duration,
    seed: u64,
    anchor: SystemTime,
    immediate: bool,
}

impl Planner {
    /// `last_start` is when the previous pass started, if any ever did; with none, the
    /// first pass starts at once.
    pub fn new(
        schedule: Schedule,
        jitter: Duration,
        seed: u64,
        now: SystemTime,
        last_start: Option<SystemTime>,
    ) -> Self {
        Planner {
            schedule,
            jitter,
            seed,
            anchor: last_start.unwrap_or(now),
            immediate: last_start.is_none(),
        }
    }

    /// When the next pass should start; a time in the past means at once. `None` when
    /// the schedule has no future tick.
    pub fn next_start(&self) -> Option<SystemTime> {
        if self.immediate {
            return Some(self.anchor);
        }
        let due = next_after(&self.schedule, self.anchor)?;
        Some(due + jitter_offset(self.jitter, self.seed, due))
    }

    /// A pass started at `t`.
    pub fn started(&mut self, t: SystemTime) {
        self.anchor = t;
        self.immediate = false;
    }

    /// Takes a new schedule (config reload), keeping the rhythm.
    pub fn reschedule(&mut self, schedule: Schedule, jitter: Duration) {
        self.schedule = schedule;
        self.jitter = jitter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_schedule;

    fn at(s: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    #[test]
    fn five_field_crontab_runs_on_the_minute() {
        let s = parse_schedule("*/5 * * * *").unwrap();
        assert_eq!(
            next_after(&s, at("2026-11-21T10:02:30Z")),
            Some(at("2026-11-21T10:05:00Z"))
        );
    }

    #[test]
    fn six_field_form_has_seconds_first() {
        let s = parse_schedule("*/10 * * * * *").unwrap();
        assert_eq!(
            next_after(&s, at("2026-11-21T10:02:31Z")),
            Some(at("2026-11-21T10:02:40Z"))
        );
    }
}
