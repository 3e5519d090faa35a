//! The health of an archive as `logferry status` sums it up under its table, and as
//! `status --check` answers it in one line and an exit code: whether an agent holds the
//! state dir now, the last pass that ran and did not fail, and the archive lag (the age of the
//! oldest closed file the last pass left pending, as `logferry_oldest_pending_age_seconds`
//! reports it). Reads the state dir only, and never takes its lock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use logferry::{Config, LockHolder, Outcome, RunReport, StateDir};

use crate::output::{error_text, EXIT_FILES_FAILED, EXIT_OK};

/// Whether an agent holds the state dir right now.
pub(super) fn agent_line(config: &Config) -> String {
    match StateDir::probe(&config.state_dir) {
        Ok(LockHolder::Nobody) => "no agent running".into(),
        Ok(LockHolder::Agent { pid: Some(pid) }) => format!("agent running (pid {pid})"),
        Ok(_) => "agent running (pid not recorded yet)".into(),
        Err(e) => format!("agent: unknown ({})", error_text(&e)),
    }
}

/// The lines under the table: the last pass that ran and did not fail, and what is
/// pending (as the last pass that ran found it).
pub(super) fn summary_lines(runs: &[RunReport], now: SystemTime) -> Vec<String> {
    let good = |r: &&RunReport| !matches!(r.outcome, Outcome::Failed | Outcome::Skipped);
    let last_good = match runs.iter().find(good) {
        Some(r) => format!(
            "last successful pass: {} ({}, {} ago)",
            r.started_at,
            r.outcome.as_str(),
            ago(r.started_at.time(), now)
        ),
        None => format!(
            "last successful pass: none in the last {} recorded",
            runs.len()
        ),
    };
    let pending = match runs.iter().find(|r| r.outcome != Outcome::Skipped) {
        Some(r) if r.files_pending > 0 => format!(
            "pending: {} files not archived as they are; archive lag {} (the oldest)",
            r.files_pending,
            human(lag(r, now))
        ),
        _ => "pending: none; archive lag 0s".to_string(),
    };
    vec![last_good, pending]
}

/// `status --check`: the exit code and the one line that says why.
pub(super) fn check(
    runs: &[RunReport],
    max_lag: Option<Duration>,
    now: SystemTime,
) -> (u8, String) {
    let Some(last) = runs.first() else {
        return (EXIT_FILES_FAILED, "no pass recorded yet".to_string());
    };
    if last.outcome == Outcome::Skipped {
        return (
            EXIT_FILES_FAILED,
            format!(
                "the last pass ({}) was {}",
                last.started_at,
                last.error.as_deref().unwrap_or("skipped")
            ),
        );
    }
    if last.outcome == Outcome::Failed {
        return (
            EXIT_FILES_FAILED,
            format!(
                "the last pass ({}) failed: {}",
                last.started_at,
                last.error.as_deref().unwrap_or("unknown error")
            ),
        );
    }
    let lag = lag(last, now);
    if let Some(max) = max_lag.filter(|max| lag > *max) {
        return (
            EXIT_FILES_FAILED,
            format!(
                "archive lag {} exceeds --max-lag {}: {} files pending after the last pass ({})",
                human(lag),
                human(max),
                last.files_pending,
                last.started_at
            ),
        );
    }
    (
        EXIT_OK,
        format!(
            "ok: the last pass ({}, {} ago) was {}; {} files pending, archive lag {}",
            last.started_at,
            ago(last.started_at.time(), now),
            last.outcome.as_str(),
            last.files_pending,
            human(lag)
        ),
    )
}

/// Age of the oldest file the pass left pending at `now` (zero when none).
fn lag(r: &RunReport, now: SystemTime) -> Duration {
    let Some(ns) = r.oldest_pending_mtime_ns else {
        return Duration::ZERO;
    };
    let mtime = UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    now.duration_since(mtime).unwrap_or(Duration::ZERO)
}

fn ago(t: SystemTime, now: SystemTime) -> String {
    human(now.duration_since(t).unwrap_or(Duration::ZERO))
}

/// Whole seconds: sub-second precision is noise in a lag.
fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, pending_since: Option<SystemTime>) -> RunReport {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut r = RunReport::default();
        r.started_at = started.into();
        r.outcome = outcome;
        r.files_pending = u64::from(pending_since.is_some());
        r.oldest_pending_mtime_ns =
            pending_since.map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64);
        r
    }

    #[test]
    fn check_answers_by_the_last_pass_and_the_lag() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_600);
        assert_eq!(check(&[], None, now).0, EXIT_FILES_FAILED);
        let ok = report(Outcome::Ok, None);
        let (code, line) = check(std::slice::from_ref(&ok), Some(Duration::from_secs(1)), now);
        assert_eq!(code, EXIT_OK, "{line}");
        assert!(
            line.contains("10m ago") && line.contains("lag 0s"),
            "{line}"
        );
        let failed = report(Outcome::Failed, None);
        assert_eq!(check(&[failed, ok.clone()], None, now).0, EXIT_FILES_FAILED);
        let mut skipped = report(Outcome::Skipped, None);
        skipped.error = Some("skipped: pre_pass `exit 3` exited with status 3".into());
        let (code, line) = check(&[skipped.clone(), ok.clone()], None, now);
        assert_eq!(code, EXIT_FILES_FAILED);
        assert!(
            line.ends_with("was skipped: pre_pass `exit 3` exited with status 3"),
            "{line}"
        );
        let lines = summary_lines(&[skipped, ok], now);
        assert!(lines[0].contains("(ok, 10m ago)"), "{lines:?}");

        let old = report(Outcome::Partial, Some(now - Duration::from_secs(3600)));
        let (code, line) = check(
            std::slice::from_ref(&old),
            Some(Duration::from_secs(60)),
            now,
        );
        assert_eq!(code, EXIT_FILES_FAILED);
        assert!(
            line.contains("archive lag 1h exceeds --max-lag 1m"),
            "{line}"
        );
        assert_eq!(check(std::slice::from_ref(&old), None, now).0, EXIT_OK);
        let within = check(&[old], Some(Duration::from_secs(7200)), now);
        assert_eq!(within.0, EXIT_OK, "{}", within.1);
    }
}
