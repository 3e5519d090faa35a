//! The heartbeat: after each round of passes, one GET of `heartbeat_url` when every pass
//! ended `ok`, of `<url>/fail` otherwise (healthchecks.io's convention), so a monitor
//! raises the alarm both when passes fail and when the agent has died silently and pings
//! stop. One attempt with a short timeout, in a task of its own: a monitor that is down
//! never delays or fails a pass, it is a warning in the log. The URL is logged redacted.

use std::time::Duration;

use crate::config::Heartbeat;
use crate::report::Outcome;

/// How long one ping may take, connecting included.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a round of passes that ended so counts as good: only when every pass is `ok`
/// (`None`: a pass that returned an error, which is a failed one).
pub fn round_ok<I>(outcomes: I) -> bool
where
    I: IntoIterator<Item = Option<Outcome>>,
{
    outcomes.into_iter().all(|o| o == Some(Outcome::Ok))
}

/// Pings in a task of its own and returns it, so that a caller that is about to exit can
/// wait for it (it ends within 10 s); `None` without a heartbeat.
pub fn spawn_ping(heartbeat: Option<&Heartbeat>, ok: bool) -> Option<tokio::task::JoinHandle<()>> {
    let heartbeat = heartbeat?.clone();
    Some(tokio::spawn(async move { ping(&heartbeat, ok).await }))
}

/// One GET of the success or the fail URL; a failure is logged, never returned.
pub async fn ping(heartbeat: &Heartbeat, ok: bool) {
    let url = if ok {
        heartbeat.success_url()
    } else {
        heartbeat.fail_url()
    };
    let shown = heartbeat.shown();
    let kind = if ok { "success" } else { "fail" };
    let client = match reqwest::Client::builder()
        .timeout(PING_TIMEOUT)
        .connect_timeout(PING_TIMEOUT)
        .user_agent(concat!("logferry/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(url = %shown, error = %e.without_url(), "cannot build the heartbeat client; no ping sent");
            return;
        }
    };
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => {
            tracing::debug!(url = %shown, ping = kind, "heartbeat sent");
        }
        Ok(r) => tracing::warn!(
            url = %shown,
            ping = kind,
            status = r.status().as_u16(),
            "the heartbeat URL answered with an error status; check heartbeat_url (the pass stands)"
        ),
        Err(e) => tracing::warn!(
            url = %shown,
            ping = kind,
            error = %e.without_url(),
            "heartbeat ping failed; the pass stands, the monitor will alert if pings keep failing"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_round_of_ok_passes_is_good() {
        assert!(round_ok([Some(Outcome::Ok), Some(Outcome::Ok)]));
        assert!(!round_ok([Some(Outcome::Ok), Some(Outcome::Partial)]));
        assert!(!round_ok([Some(Outcome::Skipped)]));
        assert!(!round_ok([Some(Outcome::Ok), None]));
    }
}
