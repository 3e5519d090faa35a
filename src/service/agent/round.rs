//! One round of the agent: a pass of every archive, one after another, each watched
//! while it runs (watchdog pings while it makes progress, a stop that gives it
//! `shutdown_grace`, nudges and reloads that arrive meanwhile), the expiry that follows
//! a pass when one is due, and one heartbeat for the whole round.

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Archive, Event, Hooks};
use crate::archive::control::Control;
use crate::archive::worker;
use crate::error::Result;
use crate::report::{Outcome, RunReport};
use crate::retention::expire::{expire_locked, ExpireOptions};
use crate::retention::ledger;
use crate::service::heartbeat;
use crate::service::schedule::Planner;
use crate::state::StateDir;
use crate::time::Clock;

/// What the agent does once a round is over.
pub(super) enum After {
    /// Wait for the next tick.
    Continue,
    /// A nudge came during the pass: its files may have been scanned too early.
    Again,
    /// Stop the agent.
    Stop,
    /// Apply this config, then wait for the next tick.
    Reload(Vec<Archive>),
}

/// One pass of every archive, one after another, then one heartbeat for the round. A stop
/// during a pass waits for it within `shutdown_grace`, then cancels it (no commit;
/// multipart uploads aborted).
pub(super) async fn run_passes(
    archives: &[Archive],
    locks: &[StateDir],
    planner: &mut Planner,
    clock: &dyn Clock,
    events: &mut mpsc::Receiver<Event>,
    hooks: &dyn Hooks,
    alive: &mut tokio::time::Interval,
) -> Result<After> {
    planner.started(clock.now());
    let mut outcomes = Vec::new();
    let after = each_archive(archives, locks, clock, events, hooks, alive, &mut outcomes).await;
    // Sent in its own task, never waited for: the next pass does not wait on a monitor.
    let first = archives.first().and_then(|a| a.config.heartbeat.as_ref());
    heartbeat::spawn_ping(first, heartbeat::round_ok(outcomes));
    after
}

/// The passes of the round, and their expiries when due; each pass's outcome is pushed
/// to `outcomes` (`None`: it failed with an error).
async fn each_archive(
    archives: &[Archive],
    locks: &[StateDir],
    clock: &dyn Clock,
    events: &mut mpsc::Receiver<Event>,
    hooks: &dyn Hooks,
    alive: &mut tokio::time::Interval,
    outcomes: &mut Vec<Option<Outcome>>,
) -> Result<After> {
    let mut after = After::Continue;
    for (archive, lock) in archives.iter().zip(locks) {
        let result = watch_pass(archive, lock, clock, events, hooks, alive, &mut after).await;
        if let Err(e) = &result {
            tracing::error!(error = %e.chain(), "pass failed; the next one will retry");
        }
        outcomes.push(result.as_ref().ok().map(|r| r.outcome));
        hooks.pass_done(&archive.config, &result);
        hooks.alive();
        if matches!(after, After::Stop) {
            return Ok(After::Stop);
        }
        // A skipped pass skips its expiry too: `pre_pass` said the archive is not to run.
        let ran = result.as_ref().is_ok_and(|r| r.outcome != Outcome::Skipped);
        if ran && ledger::due(&archive.config, lock.path(), clock.now()) {
            match expire_now(archive, lock, clock, events, hooks, alive).await {
                Some(After::Stop) => return Ok(After::Stop),
                Some(other) => after = other,
                None => {}
            }
        }
    }
    Ok(after)
}

/// Runs one pass of `archive`, pinging the watchdog while it makes progress and noting
/// in `after` what the events that came meanwhile ask for.
async fn watch_pass(
    archive: &Archive,
    lock: &StateDir,
    clock: &dyn Clock,
    events: &mut mpsc::Receiver<Event>,
    hooks: &dyn Hooks,
    alive: &mut tokio::time::Interval,
    after: &mut After,
) -> Result<RunReport> {
    let control = match &archive.limiter {
        Some(l) => Control::default().with_limiter(l.clone()),
        None => Control::default(),
    };
    let pass = worker::run_locked(&archive.config, &archive.store, clock, lock, &control);
    tokio::pin!(pass);
    let mut last_beats = control.beats();
    let mut stopping_since: Option<tokio::time::Instant> = None;
    loop {
        let grace_left = stopping_since.map(|t| {
            (t + archive.config.shutdown_grace)
                .saturating_duration_since(tokio::time::Instant::now())
        });
        tokio::select! {
            r = &mut pass => return r,
            _ = alive.tick() => {
                // A stuck pass stops the pings, and systemd's watchdog notices.
                let beats = control.beats();
                if beats != last_beats {
                    last_beats = beats;
                    hooks.alive();
                }
            }
            _ = tokio::time::sleep(grace_left.unwrap_or(Duration::from_secs(86_400))), if grace_left.is_some() && !control.is_cancelled() => {
                tracing::warn!(grace = ?archive.config.shutdown_grace, "pass still running after the shutdown grace period; aborting it");
                control.cancel();
            }
            ev = events.recv(), if stopping_since.is_none() => match ev {
                Some(Event::RunNow(_)) => {
                    tracing::debug!("nudged during a pass; one more pass follows");
                    if matches!(after, After::Continue) {
                        *after = After::Again;
                    }
                }
                Some(Event::Reload(new)) => *after = After::Reload(new),
                Some(Event::Stop) | None => {
                    tracing::info!("stop requested; letting the running pass finish");
                    stopping_since = Some(tokio::time::Instant::now());
                    *after = After::Stop;
                }
            },
        }
    }
}

/// Runs an expiry of `archive`, pinging the watchdog meanwhile. A stop abandons it
/// (the next one finishes what it began) and is returned; a failure is logged.
async fn expire_now(
    archive: &Archive,
    lock: &StateDir,
    clock: &dyn Clock,
    events: &mut mpsc::Receiver<Event>,
    hooks: &dyn Hooks,
    alive: &mut tokio::time::Interval,
) -> Option<After> {
    ledger::attempt(lock.path(), clock.now());
    let run = expire_locked(
        &archive.config,
        &archive.store,
        clock,
        lock,
        ExpireOptions::default(),
    );
    tokio::pin!(run);
    let mut after = None;
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            _ = alive.tick() => hooks.alive(),
            ev = events.recv(), if after.is_none() => match ev {
                Some(Event::Stop) | None => {
                    tracing::info!("stop requested; the expiry stops here and the next one finishes it");
                    return Some(After::Stop);
                }
                Some(Event::Reload(new)) => after = Some(After::Reload(new)),
                Some(Event::RunNow(_)) => after = Some(After::Again),
            },
        }
    };
    if let Err(e) = &result {
        tracing::error!(error = %e.chain(), "expiry failed; tried again after retention.interval");
    }
    hooks.expired(&archive.config, &result);
    after
}
