//! The agent loop on paused tokio time: ticks, catch-up after a long pass, no overlap,
//! nudges, stop with grace. Nothing here sleeps for real.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use logferry::{
    run_agent, AgentOptions, Archive, Clock, Config, Error, Event, ExpireReport, Hooks, Result,
    RunReport, Store,
};

use tokio::sync::mpsc;

use crate::common::{destination_toml, Backend, Env, FaultStore};

/// Wall time that moves with tokio's (paused) clock.
pub(crate) struct TokioClock {
    base: SystemTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Starts two seconds past a 10-second tick that lies ahead of the real clock, so the
    /// files a test writes (stamped with real time) are never in this clock's future,
    /// whatever today's date.
    pub(crate) fn new() -> Self {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let tick = (real / 10 + 2) * 10;
        TokioClock {
            base: UNIX_EPOCH + Duration::from_secs(tick + 2),
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.base + (tokio::time::Instant::now() - self.start)
    }
}

#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) passes: Mutex<Vec<RunReport>>,
    stopped: Mutex<bool>,
    pub(crate) ready: Mutex<bool>,
    pub(crate) retries: Mutex<Vec<Duration>>,
    pub(crate) expiries: Mutex<Vec<ExpireReport>>,
}

impl Hooks for Recorder {
    fn ready(&self) {
        *self.ready.lock().unwrap() = true;
    }
    fn destination_down(&self, _error: &Error, retry_in: Duration) {
        self.retries.lock().unwrap().push(retry_in);
    }
    fn pass_done(&self, _archive: &Config, result: &Result<RunReport>) {
        if let Ok(r) = result {
            self.passes.lock().unwrap().push(r.clone());
        }
    }
    fn stopping(&self) {
        *self.stopped.lock().unwrap() = true;
    }
    fn expired(&self, _archive: &Config, result: &Result<ExpireReport>) {
        let r = result.as_ref().expect("expiry runs");
        self.expiries.lock().unwrap().push(r.clone());
    }
}

/// A memory-backed workspace with these top-level keys.
pub(crate) fn env_with(top: &str) -> Env {
    let toml = format!(
        "state_dir = \"state\"\n{top}\n{}[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
        destination_toml(Backend::Memory)
    );
    Env::from_toml(tempfile::tempdir().unwrap(), &toml)
}

pub(crate) fn env_every_10s() -> Env {
    env_with("schedule = \"*/10 * * * * *\"\ntimezone = \"UTC\"")
}

/// Starts of passes, in seconds after the clock's base.
fn starts(rec: &Recorder, clock_base: SystemTime) -> Vec<(f64, f64)> {
    rec.passes
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            let start = r
                .started_at
                .time()
                .duration_since(clock_base)
                .unwrap()
                .as_secs_f64();
            (start, start + r.duration_ms as f64 / 1000.0)
        })
        .collect()
}

/// An agent running `env`'s archive against `store`, on the test's clock and hooks.
pub(crate) struct Running {
    pub(crate) clock: Arc<TokioClock>,
    pub(crate) rec: Arc<Recorder>,
    pub(crate) tx: mpsc::Sender<Event>,
    pub(crate) task: tokio::task::JoinHandle<Result<()>>,
}

/// Starts the agent loop on one archive: `env`'s config with `store`.
pub(crate) fn start(env: &Env, store: Store) -> Running {
    let clock = Arc::new(TokioClock::new());
    let rec = Arc::new(Recorder::default());
    let (tx, rx) = mpsc::channel(4);
    let archives = vec![Archive {
        config: env.config.clone(),
        store,
        limiter: None,
    }];
    let (c, r) = (Arc::clone(&clock), Arc::clone(&rec));
    let task = tokio::spawn(async move {
        run_agent(
            archives,
            c.as_ref(),
            rx,
            r.as_ref(),
            AgentOptions::default(),
        )
        .await
    });
    Running {
        clock,
        rec,
        tx,
        task,
    }
}

#[tokio::test(start_paused = true)]
async fn passes_run_on_each_tick() {
    let env = env_every_10s();
    env.write("a.log", b"a\n");
    let Running {
        clock,
        rec,
        tx,
        task,
    } = start(&env, Arc::clone(&env.store));
    tokio::time::sleep(Duration::from_secs(35)).await;
    tx.send(Event::Stop).await.unwrap();
    task.await.unwrap().unwrap();
    let s = starts(&rec, clock.base);
    let at: Vec<i64> = s.iter().map(|(a, _)| a.round() as i64).collect();
    // At once (never ran before), then on the ticks at :10, :20, :30.
    assert_eq!(at, [0, 8, 18, 28], "{s:?}");
    assert!(*rec.stopped.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_long_pass_is_followed_by_one_catch_up_and_never_overlaps() {
    let env = env_every_10s();
    env.write("a.log", b"a\n");
    let slow = FaultStore::wrap(&env.store);
    *slow.list_delay.lock().unwrap() = Some(Duration::from_secs(25));
    let store: Store = slow;
    let Running {
        clock,
        rec,
        tx,
        task,
    } = start(&env, store);
    tokio::time::sleep(Duration::from_secs(100)).await;
    tx.send(Event::Stop).await.unwrap();
    task.await.unwrap().unwrap();
    let s = starts(&rec, clock.base);
    // Each pass takes 25 s (one slow LIST); ticks every 10 s would queue 2-3 passes each.
    assert!(s.len() >= 3 && s.len() <= 5, "{s:?}");
    // Durations are measured on the real clock; on tokio's each pass lasts 25 s.
    for w in s.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= 25.0,
            "a pass started before the previous one ended: {s:?}"
        );
        assert!(
            gap < 26.0,
            "the catch-up runs at once, and only once: {s:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_nudge_runs_a_pass_between_ticks_and_stop_waits_for_the_running_pass() {
    let env = env_with("interval = \"1h\"\nshutdown_grace = \"1m\"");
    env.write("a.log", b"a\n");
    let slow = FaultStore::wrap(&env.store);
    let store: Store = Arc::<FaultStore>::clone(&slow);
    let Running {
        clock: _,
        rec,
        tx,
        task,
    } = start(&env, store);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        rec.passes.lock().unwrap().len(),
        1,
        "the first pass runs at once"
    );

    env.write("b.log", b"b\n");
    tx.send(Event::RunNow("test")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let n = rec.passes.lock().unwrap().len();
    assert_eq!(n, 2, "a nudge runs a pass long before the hourly tick");
    assert_eq!(rec.passes.lock().unwrap()[1].files_uploaded, 1);

    // A slow pass, then a stop: the pass finishes within the grace period.
    *slow.list_delay.lock().unwrap() = Some(Duration::from_secs(20));
    tx.send(Event::RunNow("test")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    tx.send(Event::Stop).await.unwrap();
    task.await.unwrap().unwrap();
    let passes = rec.passes.lock().unwrap();
    assert_eq!(passes.len(), 3, "the running pass was allowed to finish");
}

/// The agent expires after a pass, at most once per `retention.interval`: at its first
/// pass, then after the pass two hours on, which takes out what is past `keep_for`.
#[tokio::test(start_paused = true)]
async fn the_agent_expires_after_a_pass_once_per_retention_interval() {
    let env = env_with(
        "interval = \"1h\"\n[retention]\nkeep_for = \"90m\"\ninterval = \"2h\"\ngrace = \"1s\"",
    );
    env.write("gone.log", b"g\n");
    env.write("here.log", b"h\n");
    let Running { rec, tx, task, .. } = start(&env, Arc::clone(&env.store));
    tokio::time::sleep(Duration::from_secs(60)).await;
    env.remove("gone.log");
    tokio::time::sleep(Duration::from_secs(3 * 3600 - 60 + 30)).await;
    tx.send(Event::Stop).await.unwrap();
    task.await.unwrap().unwrap();
    let passes = rec.passes.lock().unwrap().len();
    assert_eq!(passes, 4, "at 0, 1h, 2h and 3h");
    let done: Vec<(u64, u64)> = rec
        .expiries
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.versions_expired, r.objects_deleted))
        .collect();
    assert_eq!(
        done,
        [(0, 0), (1, 1)],
        "after the first pass and the 2h one"
    );
    assert_eq!(versions_left(&env).await, ["here.log"]);
}

async fn versions_left(env: &Env) -> Vec<String> {
    logferry::load_latest(&env.store)
        .await
        .unwrap()
        .entries()
        .map(|e| e.path.clone())
        .collect()
}
