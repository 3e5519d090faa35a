//! The long-running agent's edge: systemd notifications, the metrics endpoint, file
//! watches and signals around the library's agent loop.

use logferry::{
    check_future_tick, load_config, open_with_limiter, read_status, run_agent, spawn_watches,
    watchdog_interval, AgentOptions, Archive, Clock, Config, Error, Event, ExpireReport, Hooks,
    Limiter, Metrics, Notifier, Result, RunReport, Store, SystemClock,
};

use super::archive_name;
use crate::output::{
    error_text, fail, remember_secrets, scrub, EXIT_CANNOT_RUN, EXIT_KILLED, EXIT_OK,
};
use crate::{env_vars, host_seed};

/// The agent's ties to systemd and to the metrics endpoint.
struct ServiceHooks {
    notifier: Notifier,
    metrics: Metrics,
    names: Vec<(std::path::PathBuf, String)>,
}

impl ServiceHooks {
    fn name_of(&self, c: &Config) -> String {
        self.names
            .iter()
            .find(|(dir, _)| dir == &c.state_dir)
            .map_or_else(|| "main".to_string(), |(_, n)| n.clone())
    }
}

impl Hooks for ServiceHooks {
    fn ready(&self) {
        self.metrics.set_ready();
        self.notifier
            .send("READY=1\nSTATUS=waiting for the next pass");
    }
    fn alive(&self) {
        self.metrics.alive();
        self.notifier.send("WATCHDOG=1");
    }
    fn stopping(&self) {
        self.notifier.send("STOPPING=1");
    }
    fn reloaded(&self) {
        self.notifier.send("READY=1\nSTATUS=config reloaded");
    }
    fn destination_down(&self, error: &Error, retry_in: std::time::Duration) {
        // Started, not ready: systemd must not time the start out and restart us into the
        // same outage; /readyz stays 503 until the destination answers.
        self.notifier.send(&scrub(&format!(
            "READY=1\nSTATUS=waiting for the destination (retry in {}): {}",
            humantime::format_duration(retry_in),
            error_text(error)
        )));
    }
    fn pass_done(&self, archive: &Config, result: &Result<RunReport>) {
        let report = match result {
            Ok(r) => Some(r.clone()),
            // The worker recorded the failed pass in the status file.
            Err(_) => read_status(&archive.state_dir)
                .ok()
                .and_then(|r| r.into_iter().next()),
        };
        if let Some(r) = report {
            self.metrics.record(&self.name_of(archive), &r);
            self.notifier
                .send(&scrub(&format!("STATUS={}", r.summary())));
        }
    }
    fn expired(&self, archive: &Config, result: &Result<ExpireReport>) {
        self.metrics.record_expiry(
            &self.name_of(archive),
            result.as_ref().ok(),
            SystemClock.now(),
        );
    }
}

/// `logferry run`: the long-running agent.
pub(crate) async fn daemon(config: &Config, opened: Vec<(Config, Store, Limiter)>) -> u8 {
    let archives: Vec<Config> = opened.iter().map(|(c, _, _)| c.clone()).collect();
    let metrics = Metrics::default();
    let alive_every = watchdog_interval(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
    )
    .unwrap_or(std::time::Duration::from_secs(10));
    let _server = match config.metrics_listen {
        Some(addr) => match metrics.serve(addr, alive_every * 6).await {
            Ok(task) => {
                tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
                Some(task)
            }
            Err(e) => return fail(&e),
        },
        None => None,
    };
    let hooks = ServiceHooks {
        notifier: Notifier::new(std::env::var("NOTIFY_SOCKET").ok().as_deref()),
        metrics,
        names: archives
            .iter()
            .map(|a| (a.state_dir.clone(), archive_name(&archives, a)))
            .collect(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let sources: Vec<_> = archives.iter().flat_map(|a| a.sources.clone()).collect();
    let _watches = match spawn_watches(&sources, tx.clone()) {
        Ok(w) => w,
        Err(e) => return fail(&e),
    };
    if let Err(e) = spawn_signal_handler(config.file.clone(), tx) {
        eprintln!("logferry: cannot install signal handlers: {e}");
        return EXIT_CANNOT_RUN;
    }
    tracing::info!(schedule = %config.schedule.text, archives = archives.len(), destination = %config.destination.url, "logferry agent started");
    let agent_archives = opened
        .into_iter()
        .map(|(config, store, limiter)| {
            hooks
                .metrics
                .watch_limiter(&archive_name(&archives, &config), &limiter);
            Archive {
                config,
                store,
                limiter: Some(limiter),
            }
        })
        .collect();
    let mut options = AgentOptions::default();
    options.alive_every = alive_every;
    options.jitter_seed = host_seed();
    match run_agent(agent_archives, &SystemClock, rx, &hooks, options).await {
        Ok(()) => EXIT_OK,
        Err(e) => fail(&e),
    }
}

/// SIGTERM/SIGINT: stop (a second one exits at once); SIGHUP: reload the config file
/// (an invalid one is logged and the running config kept); SIGUSR1: a pass now.
fn spawn_signal_handler(
    file: Option<std::path::PathBuf>,
    tx: tokio::sync::mpsc::Sender<Event>,
) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let notifier = Notifier::new(std::env::var("NOTIFY_SOCKET").ok().as_deref());
    tokio::spawn(async move {
        let mut stops = 0;
        loop {
            tokio::select! {
                _ = term.recv() => stops += 1,
                _ = int.recv() => stops += 1,
                _ = hup.recv() => {
                    notifier.send("RELOADING=1");
                    match reload(file.as_deref()) {
                        Ok(new) => { let _ = tx.send(Event::Reload(new)).await; }
                        Err(e) => {
                            let error = error_text(&e);
                            tracing::error!(%error, "config reload failed; keeping the running config");
                            notifier.send("READY=1\nSTATUS=config reload failed; running config kept");
                        }
                    }
                    continue;
                }
                _ = usr1.recv() => {
                    tracing::info!("SIGUSR1: running a pass now");
                    let _ = tx.send(Event::RunNow("SIGUSR1")).await;
                    continue;
                }
            }
            if stops == 1 {
                tracing::info!("stopping; a second SIGTERM/SIGINT exits at once");
                let _ = tx.send(Event::Stop).await;
            } else {
                eprintln!("logferry: second stop signal; exiting now");
                std::process::exit(EXIT_KILLED.into());
            }
        }
    });
    Ok(())
}

fn reload(file: Option<&std::path::Path>) -> Result<Vec<Archive>> {
    let file = file.ok_or_else(|| Error::config(None, "", "no config file to reload"))?;
    let config = load_config(file, env_vars())?;
    remember_secrets(&config);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    check_future_tick(&config, SystemClock.now())?;
    config
        .archives()?
        .into_iter()
        .map(|c| {
            open_with_limiter(&c.destination, c.requests_in_flight).map(|(store, limiter)| {
                Archive {
                    config: c,
                    store,
                    limiter: Some(limiter),
                }
            })
        })
        .collect()
}
