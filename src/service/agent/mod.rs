//! The long-running agent: waits for the next planned start (or a nudge), runs one pass
//! of every archive at a time ([`round`]), and handles stop, reload and watchdog duties
//! between and during passes. Signals are turned into [`Event`]s by the binary; this
//! loop never sees a signal itself.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::catalog::{self, GenerationNo};
use crate::config::Config;
use crate::error::Result;
use crate::remote::throttle::Limiter;
use crate::remote::Store;
use crate::report::RunReport;
use crate::retention::expire::ExpireReport;
use crate::service::schedule::Planner;
use round::{run_passes, After};

mod round;
use crate::state::StateDir;
use crate::time::{rfc3339, Clock};

/// How long to wait when the schedule has no future tick (a 7-field cron in the past).
const NO_TICK_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);
/// First wait before asking again a destination that did not answer at start; it
/// doubles up to [`DESTINATION_RETRY_MAX`].
pub(crate) const DESTINATION_RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two tries of a destination that does not answer at start.
pub(crate) const DESTINATION_RETRY_MAX: Duration = Duration::from_secs(60);

/// One archive: its config and its store.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Config with exactly the sources of this archive.
    pub config: Config,
    /// Where it is written.
    pub store: Store,
    /// The store's adaptive limit on requests in flight
    /// ([`crate::remote::store::open_with_limiter`]); `None`: `requests_in_flight` fixed.
    pub limiter: Option<Limiter>,
}

/// What the outside world asks of the agent.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Run a pass now (SIGUSR1, a file event); coalesced with one already running.
    RunNow(&'static str),
    /// Use this config from the next pass on (SIGHUP, already validated).
    Reload(Vec<Archive>),
    /// Stop: let a running pass finish within the grace period, then abort it.
    Stop,
}

/// Callbacks for the service manager and metrics.
pub trait Hooks: Send + Sync {
    /// The agent holds its state dirs, every destination answered, and it is about to
    /// wait for its first pass.
    fn ready(&self) {}
    /// A destination did not answer at start; the agent retries after `retry_in`.
    fn destination_down(&self, _error: &crate::Error, _retry_in: Duration) {}
    /// The loop is alive and any running pass is making progress.
    fn alive(&self) {}
    /// The agent is stopping.
    fn stopping(&self) {}
    /// A config reload was applied.
    fn reloaded(&self) {}
    /// A pass of `archive` ended.
    fn pass_done(&self, _archive: &Config, _result: &Result<RunReport>) {}
    /// An expiry of `archive` (after a pass, once per `retention.interval`) ended.
    fn expired(&self, _archive: &Config, _result: &Result<ExpireReport>) {}
}

/// Hooks that do nothing.
#[derive(Debug, Default)]
pub struct NoHooks;
impl Hooks for NoHooks {}

/// How the agent is tuned from outside the config.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Options {
    /// How often [`Hooks::alive`] may be called (half systemd's `WatchdogSec`).
    pub alive_every: Duration,
    /// Seed for the per-host jitter.
    pub jitter_seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alive_every: Duration::from_secs(10),
            jitter_seed: 0,
        }
    }
}

/// Runs until [`Event::Stop`] (or until every sender is gone).
pub async fn run(
    archives: Vec<Archive>,
    clock: &dyn Clock,
    events: mpsc::Receiver<Event>,
    hooks: &dyn Hooks,
    options: Options,
) -> Result<()> {
    let Some(first) = archives.first() else {
        return Ok(());
    };
    let locks = lock_all(&archives)?;
    let planner = Planner::new(
        first.config.schedule.clone(),
        first.config.jitter,
        options.jitter_seed,
        clock.now(),
        last_start(&archives),
    );
    let mut alive = tokio::time::interval(options.alive_every);
    alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut agent = Agent {
        archives,
        locks,
        planner,
        events,
        alive,
        clock,
        hooks,
    };
    hooks.alive();
    if !agent.wait_for_destinations().await {
        return stop(hooks);
    }
    hooks.ready();
    loop {
        match agent.sleep_until_due().await {
            Woken::Due(why) => {
                tracing::debug!(trigger = why, "starting a pass");
                if !agent.passes().await? {
                    return stop(hooks);
                }
            }
            Woken::Reloaded => {}
            Woken::Stop => return stop(hooks),
        }
    }
}

/// The start of the last recorded pass of any archive: the planner keeps its rhythm
/// across a restart.
fn last_start(archives: &[Archive]) -> Option<std::time::SystemTime> {
    archives
        .iter()
        .filter_map(|a| {
            crate::state::history::read_status(&a.config.state_dir)
                .ok()?
                .first()
                .cloned()
        })
        .map(|r| r.started_at.time())
        .min()
}

/// The running agent: what its steps share.
struct Agent<'a> {
    archives: Vec<Archive>,
    locks: Vec<StateDir>,
    planner: Planner,
    events: mpsc::Receiver<Event>,
    alive: tokio::time::Interval,
    clock: &'a dyn Clock,
    hooks: &'a dyn Hooks,
}

/// Why the agent stopped waiting.
enum Woken {
    /// A pass is due (the schedule) or asked for (a nudge).
    Due(&'static str),
    /// A new config was applied; the wait starts over with its schedule.
    Reloaded,
    /// Asked to stop, or every sender is gone.
    Stop,
}

impl Agent<'_> {
    async fn wait_for_destinations(&mut self) -> bool {
        wait_for_destinations(
            &mut self.archives,
            &mut self.locks,
            &mut self.planner,
            &mut self.events,
            self.hooks,
            &mut self.alive,
        )
        .await
    }

    /// Waits for the next tick, staying alive and answering events.
    async fn sleep_until_due(&mut self) -> Woken {
        let wait = match self.planner.next_start() {
            Some(next) => {
                tracing::debug!(next = %rfc3339(next), "waiting for the next pass");
                next.duration_since(self.clock.now())
                    .unwrap_or(Duration::ZERO)
            }
            None => {
                tracing::warn!("the schedule has no future tick; waiting for a nudge or a stop");
                NO_TICK_WAIT
            }
        };
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Woken::Due("schedule"),
                _ = self.alive.tick() => self.hooks.alive(),
                ev = self.events.recv() => match ev {
                    Some(Event::RunNow(why)) => return Woken::Due(why),
                    Some(Event::Reload(new)) => {
                        self.reload(new);
                        return Woken::Reloaded;
                    }
                    Some(Event::Stop) | None => return Woken::Stop,
                },
            }
        }
    }

    /// Runs passes until none is due at once; false when asked to stop meanwhile.
    async fn passes(&mut self) -> Result<bool> {
        loop {
            let after = run_passes(
                &self.archives,
                &self.locks,
                &mut self.planner,
                self.clock,
                &mut self.events,
                self.hooks,
                &mut self.alive,
            )
            .await?;
            match after {
                After::Continue => return Ok(true),
                After::Again => continue,
                After::Stop => return Ok(false),
                After::Reload(new) => {
                    self.reload(new);
                    return Ok(true);
                }
            }
        }
    }

    fn reload(&mut self, new: Vec<Archive>) {
        apply_reload(
            &mut self.archives,
            &mut self.locks,
            &mut self.planner,
            new,
            self.hooks,
        );
    }
}

/// Asks every destination for its newest generation (one LIST) until all answer, with
/// backoff, staying alive and answering stop, reload and nudges (a nudge tries again at
/// once). A destination down at start is an outage to ride out, like one during a run:
/// only a config error stops the agent. Returns false when asked to stop.
async fn wait_for_destinations(
    archives: &mut Vec<Archive>,
    locks: &mut Vec<StateDir>,
    planner: &mut Planner,
    events: &mut mpsc::Receiver<Event>,
    hooks: &dyn Hooks,
    alive: &mut tokio::time::Interval,
) -> bool {
    let mut retry_in = DESTINATION_RETRY_FIRST;
    loop {
        let mut down = None;
        for a in archives.iter() {
            if let Err(e) =
                catalog::list_generations(&a.store, Some(GenerationNo(u64::MAX - 1))).await
            {
                down = Some((a.config.destination.url.to_string(), e));
                break;
            }
        }
        let Some((url, error)) = down else {
            return true;
        };
        tracing::error!(destination = %url, error = %error.chain(), retry_in = ?retry_in, "the destination does not answer; retrying");
        hooks.destination_down(&error, retry_in);
        let sleep = tokio::time::sleep(retry_in);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                _ = alive.tick() => hooks.alive(),
                ev = events.recv() => match ev {
                    Some(Event::RunNow(_)) => break,
                    Some(Event::Reload(new)) => {
                        apply_reload(archives, locks, planner, new, hooks);
                        break;
                    }
                    Some(Event::Stop) | None => return false,
                },
            }
        }
        retry_in = (retry_in * 2).min(DESTINATION_RETRY_MAX);
    }
}

fn stop(hooks: &dyn Hooks) -> Result<()> {
    hooks.stopping();
    tracing::info!("logferry agent stopped");
    Ok(())
}

fn lock_all(archives: &[Archive]) -> Result<Vec<StateDir>> {
    archives
        .iter()
        .map(|a| StateDir::lock(&a.config.state_dir))
        .collect()
}

fn apply_reload(
    archives: &mut Vec<Archive>,
    locks: &mut Vec<StateDir>,
    planner: &mut Planner,
    new: Vec<Archive>,
    hooks: &dyn Hooks,
) {
    let Some(first) = new.first() else { return };
    // Release the old state dirs first: the new config may name the same ones.
    let old_locks = std::mem::take(locks);
    drop(old_locks);
    match lock_all(&new) {
        Ok(l) => {
            planner.reschedule(first.config.schedule.clone(), first.config.jitter);
            *locks = l;
            *archives = new;
            tracing::info!("config reloaded");
            hooks.reloaded();
        }
        Err(e) => {
            tracing::error!(error = %e.chain(), "cannot take the new config's state dirs; keeping the old config");
            match lock_all(archives) {
                Ok(l) => *locks = l,
                Err(e) => {
                    tracing::error!(error = %e.chain(), "cannot retake the old state dirs either")
                }
            }
        }
    }
}
