//! When passes run: cron ticks or an interval, jitter, missed ticks and restarts.
//! Time comes in through [`Clock`] and the [`Planner`] never waits, so all of it is
//! tested without sleeping; the waiting is the agent loop's job.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, SecondsFormat, Utc};

use crate::config::{Config, Schedule, ScheduleKind};
use crate::error::Result;

/// The first tick strictly after `t`: the next cron tick in the schedule's timezone (the
/// host's local time when none is set), or `t` plus the interval.
pub(crate) fn next_after(schedule: &Schedule, t: SystemTime) -> Option<SystemTime> {
    match &schedule.kind {
        ScheduleKind::Interval(d) => Some(t + *d),
        ScheduleKind::Cron(cron, Some(tz)) => {
            let local = DateTime::<Utc>::from(t).with_timezone(tz);
            cron.next_after(&local).map(SystemTime::from)
        }
        ScheduleKind::Cron(cron, None) => {
            let local = DateTime::<Utc>::from(t).with_timezone(&Local);
            cron.next_after(&local).map(SystemTime::from)
        }
    }
}

/// The next `n` pass starts after `now`, as the agent plans them once a pass started at
/// `now`: cron ticks in the schedule's timezone, or `now` plus multiples of the interval,
/// each with the host's jitter. Fewer than `n` when the schedule runs out of ticks.
pub fn next_passes(
    schedule: &Schedule,
    jitter: Duration,
    seed: u64,
    now: SystemTime,
    n: usize,
) -> Vec<SystemTime> {
    let mut planner = Planner::new(schedule.clone(), jitter, seed, now, Some(now));
    let mut passes = Vec::with_capacity(n);
    while passes.len() < n {
        let Some(t) = planner.next_start() else { break };
        passes.push(t);
        planner.started(t);
    }
    passes
}

/// A schedule with no tick after `now` (a year in the past) would never run a pass: a
/// config error naming `schedule` (or the variable that set it).
pub fn check_future_tick(config: &Config, now: SystemTime) -> Result<()> {
    if next_after(&config.schedule, now).is_some() {
        return Ok(());
    }
    Err(config.key_error(
        "schedule",
        format!(
            "`{}` has no tick after {}, so no pass would ever run; write one that still ticks, e.g. \"*/5 * * * *\"",
            config.schedule.text,
            rfc3339_in(&config.schedule, now)
        ),
    ))
}

/// `t` as RFC 3339 (whole seconds) in the schedule's timezone, or the host's local time
/// when it has none, so that printed pass times read as the schedule is written.
pub fn rfc3339_in(schedule: &Schedule, t: SystemTime) -> String {
    let utc = DateTime::<Utc>::from(t);
    match &schedule.kind {
        ScheduleKind::Cron(_, Some(tz)) => utc
            .with_timezone(tz)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        _ => utc
            .with_timezone(&Local)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// A delay in `[0, jitter)` for the pass due at `due`, fixed by `seed` (the host) so a
/// fleet spreads out while each host keeps a steady rhythm.
pub(crate) fn jitter_offset(jitter: Duration, seed: u64, due: SystemTime) -> Duration {
    let span = jitter.as_nanos() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    let secs = due.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..].copy_from_slice(&secs.to_le_bytes());
    Duration::from_nanos(stable_hash(&bytes) % span)
}

/// A host's jitter seed from its name: the same on every build, so a host keeps its
/// pass time across upgrades of logferry and of Rust.
pub fn host_seed(hostname: &str) -> u64 {
    stable_hash(hostname.as_bytes())
}

/// The first 8 bytes of the sha256 of `bytes`. Not `DefaultHasher`: its output may
/// change between Rust releases, which would move every host's pass time.
fn stable_hash(bytes: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"))
}

/// Decides when passes start. Pure: it is told the time and never waits.
///
/// Each next start is computed from the start of the previous pass, so a pass that ran
/// past one or more ticks is followed by exactly one catch-up pass, not a backlog; and
/// after a restart the persisted start of the last pass keeps the rhythm (a tick missed
/// while the agent was down runs at once, nothing is pushed back).
#[derive(Debug, Clone)]
pub(crate) struct Planner {
    schedule: Schedule,
    jitter: Duration,
    seed: u64,
    anchor: SystemTime,
    immediate: bool,
}

impl Planner {
    /// `last_start` is when the previous pass started, if any ever did; with none, the
    /// first pass starts at once.
    pub(crate) fn new(
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
    pub(crate) fn next_start(&self) -> Option<SystemTime> {
        if self.immediate {
            return Some(self.anchor);
        }
        let due = next_after(&self.schedule, self.anchor)?;
        Some(due + jitter_offset(self.jitter, self.seed, due))
    }

    /// A pass started at `t`.
    pub(crate) fn started(&mut self, t: SystemTime) {
        self.anchor = t;
        self.immediate = false;
    }

    /// Takes a new schedule (config reload), keeping the rhythm.
    pub(crate) fn reschedule(&mut self, schedule: Schedule, jitter: Duration) {
        self.schedule = schedule;
        self.jitter = jitter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_schedule;

    fn at(s: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    fn cron_in(text: &str, tz: &str) -> Schedule {
        let mut s = parse_schedule(text).unwrap();
        if let ScheduleKind::Cron(_, zone) = &mut s.kind {
            *zone = Some(tz.parse().unwrap());
        }
        s
    }

    fn every(d: Duration) -> Schedule {
        Schedule {
            text: "interval".into(),
            kind: ScheduleKind::Interval(d),
        }
    }

    #[test]
    fn five_field_crontab_runs_on_the_minute() {
        let s = cron_in("*/5 * * * *", "UTC");
        assert_eq!(
            next_after(&s, at("2026-11-21T10:02:30Z")),
            Some(at("2026-11-21T10:05:00Z"))
        );
    }

    /// Issue 10: `0 3 * * 1` ran on Sundays (the cron crate's 1 = Sunday), `0 3 * * 7` on
    /// Saturdays, `0 3 * * 0` was refused, and a day of month with a weekday needed both.
    #[test]
    fn weekdays_and_the_day_of_month_rule_are_crontab_s() {
        let sunday_noon = at("2026-11-22T12:00:00Z");
        for (text, next) in [
            ("0 3 * * 1", "2026-11-23T03:00:00Z"),
            ("0 3 * * mon", "2026-11-23T03:00:00Z"),
            ("0 3 * * 6", "2026-11-28T03:00:00Z"),
            ("0 3 * * 0", "2026-11-29T03:00:00Z"),
            ("0 3 * * 7", "2026-11-29T03:00:00Z"),
            ("0 3 * * 5-7", "2026-11-27T03:00:00Z"),
            ("0 0 3 * * 1", "2026-11-23T03:00:00Z"),
            ("0 0 3 * * 0 2027", "2027-01-03T03:00:00Z"),
            ("0 3 1 * 3", "2026-11-25T03:00:00Z"),
            ("0 3 28 * 3", "2026-11-25T03:00:00Z"),
        ] {
            assert_eq!(
                next_after(&cron_in(text, "UTC"), sunday_noon),
                Some(at(next)),
                "{text}"
            );
        }
        // The 1st or a Wednesday: after Wednesday the 25th comes Tuesday the 1st.
        let s = cron_in("0 3 1 * wed", "UTC");
        assert_eq!(
            next_after(&s, at("2026-11-25T03:00:00Z")),
            Some(at("2026-12-01T03:00:00Z"))
        );
    }

    #[test]
    fn next_passes_follow_the_timezone_and_the_interval() {
        let now = at("2026-11-21T10:00:00Z");
        let s = cron_in("0 3 * * *", "Europe/Berlin");
        let passes = next_passes(&s, Duration::ZERO, 0, now, 3);
        let shown: Vec<String> = passes.iter().map(|t| rfc3339_in(&s, *t)).collect();
        assert_eq!(
            shown,
            [
                "2026-11-22T03:00:00+01:00",
                "2026-11-23T03:00:00+01:00",
                "2026-11-24T03:00:00+01:00"
            ]
        );
        assert_eq!(passes[0], at("2026-11-22T02:00:00Z"));
        let passes = next_passes(&every(Duration::from_secs(300)), Duration::ZERO, 0, now, 3);
        assert_eq!(
            passes,
            [
                at("2026-11-21T10:05:00Z"),
                at("2026-11-21T10:10:00Z"),
                at("2026-11-21T10:15:00Z")
            ]
        );
        let jittered = next_passes(&s, Duration::from_secs(60), 7, now, 3);
        for (j, t) in jittered
            .iter()
            .zip(next_passes(&s, Duration::ZERO, 0, now, 3))
        {
            assert!(*j >= t && *j < t + Duration::from_secs(60), "{j:?} {t:?}");
        }
        let once = cron_in("0 0 3 1 1 * 2027", "UTC");
        assert_eq!(
            next_passes(&once, Duration::ZERO, 0, now, 3),
            [at("2027-01-01T03:00:00Z")]
        );
    }

    /// Issue 10: a schedule with no future tick was accepted, and the agent just waited.
    #[test]
    fn a_schedule_without_future_ticks_is_a_config_error_naming_it() {
        let config = |schedule: &str, env: &[(&str, &str)]| {
            let text = format!("schedule = \"{schedule}\"\ntimezone = \"UTC\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\n");
            let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
            crate::config::from_toml_str(&text, std::path::Path::new("/etc/lf"), env).unwrap()
        };
        let now = at("2026-11-21T10:00:00Z");
        let past = config("0 0 0 1 1 * 2020", &[]);
        let e = check_future_tick(&past, now).unwrap_err();
        assert!(e.is_usage(), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("key `schedule`")
                && e.contains("`0 0 0 1 1 * 2020` has no tick after 2026-11-21T10:00:00Z")
                && e.contains("*/5 * * * *"),
            "{e}"
        );
        let last = config("0 0 3 * * * 2030", &[]);
        assert!(check_future_tick(&last, now).is_ok());
        assert!(check_future_tick(&last, at("2031-01-01T00:00:00Z")).is_err());
        assert!(check_future_tick(&config("*/5 * * * *", &[]), now).is_ok());
        let from_env = config("* * * * *", &[("LOGFERRY_SCHEDULE", "0 0 0 1 1 * 2020")]);
        let e = check_future_tick(&from_env, now).unwrap_err().to_string();
        assert!(
            e.starts_with("environment variable LOGFERRY_SCHEDULE: key `schedule`"),
            "{e}"
        );
    }

    #[test]
    fn six_field_form_has_seconds_first() {
        let s = cron_in("*/10 * * * * *", "UTC");
        assert_eq!(
            next_after(&s, at("2026-11-21T10:02:31Z")),
            Some(at("2026-11-21T10:02:40Z"))
        );
    }

    #[test]
    fn cron_ticks_follow_the_wall_clock() {
        let mut p = Planner::new(
            cron_in("*/5 * * * *", "UTC"),
            Duration::ZERO,
            0,
            at("2026-11-21T10:01:00Z"),
            Some(at("2026-11-21T10:00:00Z")),
        );
        assert_eq!(p.next_start(), Some(at("2026-11-21T10:05:00Z")));
        p.started(at("2026-11-21T10:05:00Z"));
        assert_eq!(p.next_start(), Some(at("2026-11-21T10:10:00Z")));
    }

    #[test]
    fn ticks_missed_during_a_long_pass_run_once_not_queued() {
        let mut p = Planner::new(
            cron_in("*/5 * * * *", "UTC"),
            Duration::ZERO,
            0,
            at("2026-11-21T10:05:00Z"),
            Some(at("2026-11-21T10:05:00Z")),
        );
        // The 10:05 pass ran until 10:17: the 10:10 and 10:15 ticks were missed.
        let now = at("2026-11-21T10:17:00Z");
        let due = p.next_start().unwrap();
        assert!(due <= now, "a missed tick means: run at once");
        p.started(now);
        assert_eq!(
            p.next_start(),
            Some(at("2026-11-21T10:20:00Z")),
            "one catch-up, then the rhythm"
        );
    }

    #[test]
    fn a_restart_does_not_push_the_next_pass_back() {
        // Interval: the last pass started at 10:05; restarting at 10:07 keeps 10:10.
        let p = Planner::new(
            every(Duration::from_secs(300)),
            Duration::ZERO,
            0,
            at("2026-11-21T10:07:00Z"),
            Some(at("2026-11-21T10:05:00Z")),
        );
        assert_eq!(p.next_start(), Some(at("2026-11-21T10:10:00Z")));
        // Down across a tick: run at once.
        let p = Planner::new(
            every(Duration::from_secs(300)),
            Duration::ZERO,
            0,
            at("2026-11-21T10:07:00Z"),
            Some(at("2026-11-21T09:00:00Z")),
        );
        assert!(p.next_start().unwrap() <= at("2026-11-21T10:07:00Z"));
        // Never ran: run at once.
        let p = Planner::new(
            cron_in("0 3 * * *", "UTC"),
            Duration::ZERO,
            0,
            at("2026-11-21T10:07:00Z"),
            None,
        );
        assert_eq!(p.next_start(), Some(at("2026-11-21T10:07:00Z")));
    }

    #[test]
    fn jitter_stays_within_bounds_and_differs_by_host() {
        let jitter = Duration::from_secs(30);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000u64 {
            let due = UNIX_EPOCH + Duration::from_secs(1_763_700_000 + i * 300);
            let j = jitter_offset(jitter, 42, due);
            assert!(j < jitter, "{j:?}");
            seen.insert(j.as_secs());
        }
        assert!(seen.len() > 20, "offsets spread out: {seen:?}");
        let due = at("2026-11-21T10:05:00Z");
        assert_eq!(jitter_offset(Duration::ZERO, 1, due), Duration::ZERO);
        assert_ne!(jitter_offset(jitter, 1, due), jitter_offset(jitter, 2, due));
        let p = Planner::new(
            cron_in("*/5 * * * *", "UTC"),
            jitter,
            7,
            at("2026-11-21T10:01:00Z"),
            Some(at("2026-11-21T10:00:00Z")),
        );
        let start = p.next_start().unwrap();
        assert!(start >= at("2026-11-21T10:05:00Z") && start < at("2026-11-21T10:05:30Z"));
    }

    #[test]
    fn the_jitter_hash_is_pinned() {
        // A change here moves every host's pass time: only ever on purpose. The values
        // are sha256's (checked with Python's hashlib), not this code's own say-so.
        assert_eq!(host_seed("db-1"), 12_061_410_860_330_653_032);
        let due = at("2026-11-21T10:05:00Z");
        assert_eq!(
            jitter_offset(Duration::from_secs(30), 7, due),
            Duration::from_nanos(568_194_296)
        );
    }

    #[test]
    fn dst_changes_neither_double_nor_drift_a_daily_pass() {
        let s = cron_in("30 2 * * *", "Europe/Berlin");
        // Spring forward (2026-03-29, 02:00 -> 03:00 local): 02:30 does not exist that
        // night, so that day has no pass; the rhythm resumes at 02:30 CEST.
        let a = next_after(&s, at("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(a, at("2026-03-30T00:30:00Z"));
        // Fall back (2026-10-25, 03:00 -> 02:00 local): 02:30 happens twice, the pass once.
        let b = next_after(&s, at("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(b, at("2026-10-25T00:30:00Z"));
        let c = next_after(&s, b).unwrap();
        assert_eq!(
            c,
            at("2026-10-26T01:30:00Z"),
            "02:30 CET the next day, not the repeated hour"
        );
    }
}
