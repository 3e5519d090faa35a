//! When passes run. Time comes in through [`Clock`] so the maths can be tested without
//! waiting; the loop runs one pass at a time and computes each next tick from the wall
//! clock, so a long pass never queues a backlog of ticks.

use std::future::Future;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::{Config, Schedule};
use crate::error::Result;
use crate::state::StateDir;
use crate::store::Store;
use crate::worker;

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

/// The first tick strictly after `now`, if the schedule has one.
pub fn next_tick(schedule: &Schedule, now: SystemTime) -> Option<SystemTime> {
    let now = DateTime::<Utc>::from(now);
    schedule.cron.after(&now).next().map(SystemTime::from)
}

/// Runs a pass of every archive at each tick of the (first archive's) schedule until
/// `shutdown` completes, holding every state dir throughout. A failed pass is logged and
/// the loop goes on: a bad run ends the run, not the agent.
pub async fn run_forever<F>(
    archives: &[(Config, Store)],
    clock: &dyn Clock,
    shutdown: F,
) -> Result<()>
where
    F: Future<Output = ()>,
{
    let Some((first, _)) = archives.first() else {
        return Ok(());
    };
    let locks = archives
        .iter()
        .map(|(c, _)| StateDir::lock(&c.state_dir))
        .collect::<Result<Vec<_>>>()?;
    tokio::pin!(shutdown);
    loop {
        let now = clock.now();
        let Some(tick) = next_tick(&first.schedule, now) else {
            tracing::warn!(schedule = %first.schedule.text, "the schedule has no future tick; stopping");
            return Ok(());
        };
        let wait = tick.duration_since(now).unwrap_or(Duration::ZERO);
        tracing::debug!(next = %rfc3339(tick), "waiting for the next tick");
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        for ((config, store), state_dir) in archives.iter().zip(&locks) {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                r = worker::run_locked(config, store, clock, state_dir) => {
                    if let Err(e) = r {
                        tracing::error!(error = %e, "pass failed; the next tick will retry");
                    }
                }
            }
        }
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
            next_tick(&s, at("2026-11-21T10:02:30Z")),
            Some(at("2026-11-21T10:05:00Z"))
        );
    }

    #[test]
    fn six_field_form_has_seconds_first() {
        let s = parse_schedule("*/10 * * * * *").unwrap();
        assert_eq!(
            next_tick(&s, at("2026-11-21T10:02:31Z")),
            Some(at("2026-11-21T10:02:40Z"))
        );
    }
}
