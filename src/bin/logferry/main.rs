//! The binary edge: parse the command line, load the config, set up logging and signals,
//! run the library, and turn the outcome into an exit code.

use std::process::ExitCode;

use crate::args::{CheckConfigArgs, Cli, Command, RunArgs};
use clap::Parser;
use logferry::{
    check_future_tick, check_hostname, load_config, next_passes, open_store, probe, read_status,
    rfc3339_in, run_agent, run_once, scrub_secrets, spawn_watches, system_hostname,
    watchdog_interval, AgentOptions, Archive, Clock, Config, Error, Event, Hooks, LogFormat,
    Metrics, Notifier, Outcome, ProbeCheck, Result, RunReport, Store, SystemClock,
};

/// Everything went as asked.
const EXIT_OK: u8 = 0;
/// A pass finished but some files failed.
const EXIT_FILES_FAILED: u8 = 1;
/// Bad usage or config.
const EXIT_USAGE: u8 = 2;
/// Could not run: destination, lock, commit conflict.
const EXIT_CANNOT_RUN: u8 = 3;
/// Stopped by a second SIGTERM/SIGINT before the running pass ended.
const EXIT_KILLED: u8 = 130;

// `fetch` is PostgreSQL's restore_command, which reads every exit code below 126 as "not
// in the archive" and ends recovery there. So `fetch` exits 1 only for a name never
// archived in an archive that exists, and adds 200 to every other failure: above 125
// (fatal to PostgreSQL), clear of 126/127 (a shell's "not executable"/"not found") and of
// 128+N (a shell's "killed by signal N").
/// `fetch`: the archive names the file, but its object is missing, corrupt or refused.
const EXIT_FETCH_OBJECT: u8 = 201;
/// `fetch`: bad usage or config.
const EXIT_FETCH_USAGE: u8 = 202;
/// `fetch`: could not read the archive (destination, no archive there, local write).
const EXIT_FETCH_CANNOT_RUN: u8 = 203;

/// `println!` that stops quietly when stdout is closed (`logferry ls | head`), with the
/// destination's secrets scrubbed (see [`scrub`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = $crate::scrub(&format!($($arg)*));
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }};
}

/// Every line this binary writes to stderr goes through [`scrub`]: the messages of
/// object_store and its HTTP client quote request URLs and endpoints, which may hold a
/// password. Shadows the standard macro for this file and the modules declared below.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        std::eprintln!("{}", $crate::scrub(&format!($($arg)*)))
    }};
}

/// The secrets of every loaded destination, scrubbed from everything printed.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Adds the secrets of `config`'s destination to those scrubbed from output.
fn remember_secrets(config: &Config) {
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for s in config.destination.secrets() {
        if !all.contains(&s) {
            all.push(s);
        }
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every known secret replaced by `<redacted>`.
fn scrub(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    scrub_secrets(text, &secrets)
}

/// Log lines reach stderr through [`scrub`], one event at a time.
struct ScrubbedStderr(Vec<u8>);

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedStderr {
    fn drop(&mut self) {
        let text = scrub(&String::from_utf8_lossy(&self.0));
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }
}

mod args;
mod commands;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // A malformed restore_command must stop recovery, not end it quietly.
        Err(e)
            if e.use_stderr()
                && invoked_subcommand(std::env::args().skip(1)) == Some("fetch".into()) =>
        {
            let _ = e.print();
            return ExitCode::from(EXIT_FETCH_USAGE);
        }
        Err(e) => e.exit(),
    };
    let fetch = matches!(cli.command, Some(Command::Fetch(_)));
    if fetch {
        // A panic exits 101, which PostgreSQL would read as "not in the archive".
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            std::process::exit(EXIT_FETCH_CANNOT_RUN.into());
        }));
    }
    // Failures before the command runs, in the command's own terms.
    let early = |code: u8| ExitCode::from(if fetch { fetch_code(code) } else { code });
    let command = match cli.command {
        Some(c) => c,
        None => Command::Run(RunArgs { once: cli.run_once }),
    };
    if cli.run_once && !matches!(command, Command::Run(_)) {
        eprintln!("logferry: --run-once only applies to running the agent; drop it or the command");
        return early(EXIT_USAGE);
    }
    let command = match command {
        Command::Run(mut a) => {
            a.once |= cli.run_once;
            Command::Run(a)
        }
        c => c,
    };
    let config = match logferry::load_config_as(&cli.config, env_vars(), command.hostname()) {
        Ok(c) => c,
        Err(e) => return early(fail(&e)),
    };
    remember_secrets(&config);
    let config = match command.hostname() {
        None => config,
        Some(h) => {
            if let Err(why) = check_hostname(h) {
                eprintln!(
                    "logferry: --hostname: {why}; pass the name the other host archives under"
                );
                return early(EXIT_USAGE);
            }
            match config.for_hostname(h) {
                Ok(c) => c,
                Err(e) => return early(fail(&e)),
            }
        }
    };
    init_logging(
        matches!(command, Command::Run(RunArgs { once: false })),
        config.log_format,
    );
    // After logging is up, so they follow `log_format`; on stderr, so `archived` and
    // `fetch` (run by PostgreSQL) keep a clean stdout and their exit codes.
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let archives = match config.archives() {
        Ok(a) => a,
        Err(e) => return early(fail(&e)),
    };
    let code = match command {
        Command::CheckConfig(a) => runtime().block_on(check_config(&config, &archives, &a)),
        Command::Status(a) => commands::status(&archives, &a),
        Command::Ls(a) => runtime().block_on(commands::ls(&config, &archives, &a)),
        Command::Restore(a) => runtime().block_on(commands::run_restore(&archives, &a)),
        Command::Fetch(a) => runtime().block_on(commands::run_fetch(&archives, &a)),
        Command::Verify(a) => runtime().block_on(commands::run_verify(&archives, &a)),
        Command::Generations(a) => runtime().block_on(commands::run_generations(&archives, &a)),
        Command::Archived(a) => runtime().block_on(commands::run_archived(&archives, &a)),
        Command::Run(a) => runtime().block_on(run(&config, &archives, a.once)),
    };
    ExitCode::from(code)
}

/// The process environment as text. `std::env::vars()` panics on a variable that is not
/// UTF-8, and the environment is shared with other software: such a variable is skipped,
/// unless it is a `LOGFERRY_*` one, kept lossily so that validation names it.
fn env_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            match v.into_string() {
                Ok(v) => Some((k, v)),
                Err(v) if k.starts_with("LOGFERRY_") => Some((k, v.to_string_lossy().into())),
                Err(_) => None,
            }
        })
        .collect()
}

fn init_logging(daemon: bool, format: LogFormat) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbedStderr(Vec::new()))
        // Colour codes only for a person at a terminal, not in journald or PostgreSQL's log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

/// The subcommand named on a command line that did not parse: the first argument that
/// is neither a global option nor its value.
fn invoked_subcommand(args: impl Iterator<Item = String>) -> Option<String> {
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" | "--config" => {
                args.next();
            }
            s if s.starts_with('-') => {}
            s => return Some(s.to_string()),
        }
    }
    None
}

/// A failure code of the other commands as `fetch` exits with it (see `EXIT_FETCH_*`).
fn fetch_code(code: u8) -> u8 {
    match code {
        EXIT_OK => EXIT_OK,
        EXIT_USAGE => EXIT_FETCH_USAGE,
        EXIT_FILES_FAILED => EXIT_FETCH_OBJECT,
        c if c > 125 => c,
        _ => EXIT_FETCH_CANNOT_RUN,
    }
}

fn exit_code(e: &Error) -> u8 {
    if e.is_usage() {
        EXIT_USAGE
    } else {
        EXIT_CANNOT_RUN
    }
}

fn fail(e: &Error) -> u8 {
    eprintln!("logferry: {e}");
    exit_code(e)
}

/// Opens the store of every archive, or says why one cannot be opened.
fn open_all(archives: &[Config]) -> Result<Vec<(Config, Store)>, u8> {
    archives
        .iter()
        .map(|a| {
            open_store(&a.destination)
                .map(|s| (a.clone(), s))
                .map_err(|e| fail(&e))
        })
        .collect()
}

/// Label for an archive's lines when there are several (`{source}` in the URL).
fn label(archives: &[Config], a: &Config) -> String {
    if archives.len() > 1 {
        format!("[{}] ", a.sources[0].name)
    } else {
        String::new()
    }
}

async fn check_config(config: &Config, archives: &[Config], args: &CheckConfigArgs) -> u8 {
    let now = SystemClock.now();
    if let Err(e) = check_future_tick(config, now) {
        return fail(&e);
    }
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let passes: Vec<String> = next_passes(&config.schedule, config.jitter, host_seed(), now, 3)
        .into_iter()
        .map(|t| rfc3339_in(&config.schedule, t))
        .collect();
    if !args.json {
        print_config(config, archives, &passes);
    }
    let mut probes = Vec::new();
    let mut code = EXIT_OK;
    if args.probe {
        for (a, store) in &opened {
            let checks = probe(store).await;
            if !checks.iter().all(|c| c.ok) {
                code = EXIT_CANNOT_RUN;
            }
            if !args.json {
                print_probe(archives, a, &checks);
            }
            probes.push((a, checks));
        }
    }
    if args.json {
        let v = config_json(config, archives, &passes, args.probe.then_some(&probes[..]));
        out!("{}", serde_json::to_string_pretty(&v).expect("json prints"));
    }
    code
}

/// `check-config --json`: the effective config, the next passes, the archives of a
/// `{source}` template and the probe results.
fn config_json(
    config: &Config,
    archives: &[Config],
    passes: &[String],
    probes: Option<&[(&Config, Vec<ProbeCheck>)]>,
) -> serde_json::Value {
    use serde_json::json;
    let mut v = config.to_json();
    v["next_passes"] = json!(passes);
    if archives.len() > 1 {
        v["archives"] = archives
            .iter()
            .map(|a| {
                json!({
                    "source": a.sources[0].name,
                    "url": a.destination.url.to_string(),
                    "state_dir": a.state_dir.display().to_string(),
                })
            })
            .collect();
    }
    if let Some(probes) = probes {
        v["probe"] = probes
            .iter()
            .map(|(a, checks)| {
                let checks: Vec<_> = checks
                    .iter()
                    .map(
                        |c| json!({"name": c.name, "ok": c.ok, "detail": c.detail, "hint": c.hint}),
                    )
                    .collect();
                json!({"url": a.destination.url.to_string(), "checks": checks})
            })
            .collect();
    }
    v
}

/// The effective config as TOML, then the archives and the next passes as comments.
fn print_config(config: &Config, archives: &[Config], passes: &[String]) {
    out!("{}", config.to_string().trim_end());
    if archives.len() > 1 {
        out!("\n# one archive per source:");
        for a in archives {
            out!(
                "#   {} -> {} (state {})",
                a.sources[0].name,
                a.destination.url,
                a.state_dir.display()
            );
        }
    }
    out!("\n# next passes:");
    for p in passes {
        out!("#   {p}");
    }
}

fn print_probe(archives: &[Config], a: &Config, checks: &[ProbeCheck]) {
    out!("\nprobe {}{}:", label(archives, a), a.destination.url);
    for c in checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        match &c.hint {
            Some(h) if !c.ok => out!("  {mark} {}: {} (hint: {h})", c.name, c.detail),
            _ => out!("  {mark} {}: {}", c.name, c.detail),
        }
    }
}

/// The metrics label of an archive: its source with `{source}` archives, else `main`.
fn archive_name(archives: &[Config], a: &Config) -> String {
    if archives.len() > 1 {
        a.sources[0].name.clone()
    } else {
        "main".to_string()
    }
}

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
            "READY=1\nSTATUS=waiting for the destination (retry in {}): {error}",
            humantime::format_duration(retry_in)
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
}

/// `logferry run`: the long-running agent.
async fn daemon(config: &Config, opened: Vec<(Config, Store)>) -> u8 {
    let archives: Vec<Config> = opened.iter().map(|(c, _)| c.clone()).collect();
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
        .map(|(config, store)| Archive { config, store })
        .collect();
    let options = AgentOptions {
        alive_every,
        jitter_seed: host_seed(),
    };
    match run_agent(agent_archives, &SystemClock, rx, &hooks, options).await {
        Ok(()) => EXIT_OK,
        Err(e) => fail(&e),
    }
}

/// A stable per-host number, so each host keeps its own jitter offset.
fn host_seed() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    system_hostname().unwrap_or_default().hash(&mut h);
    h.finish()
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
                            tracing::error!(error = %e, "config reload failed; keeping the running config");
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
        .map(|c| open_store(&c.destination).map(|store| Archive { config: c, store }))
        .collect()
}

async fn run(config: &Config, archives: &[Config], once: bool) -> u8 {
    // The agent lives by its schedule; --run-once does not use it.
    if !once {
        if let Err(e) = check_future_tick(config, SystemClock.now()) {
            return fail(&e);
        }
    }
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if !once {
        return daemon(config, opened).await;
    }
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    for (a, store) in &opened {
        let this = match run_once(a, store, &SystemClock).await {
            Ok(report) => {
                out!("{}{}", label(archives, a), report.summary());
                reports.push((a, Some(report.clone())));
                if report.outcome == Outcome::Partial {
                    EXIT_FILES_FAILED
                } else {
                    EXIT_OK
                }
            }
            Err(e) => {
                let at = match &e {
                    Error::Store { .. } => format!("destination {}: ", a.destination.url),
                    _ => String::new(),
                };
                eprintln!("logferry: {}{at}{e}", label(archives, a));
                reports.push((a, None));
                exit_code(&e)
            }
        };
        code = code.max(this);
    }
    if let Some(path) = &config.metrics_textfile {
        let metrics = Metrics::default();
        for (a, report) in reports {
            // This pass's own report: the status file may be the one that could not be
            // written. A failed pass was recorded there by the worker.
            let report = report.or_else(|| {
                read_status(&a.state_dir)
                    .ok()
                    .and_then(|r| r.into_iter().next())
            });
            if let Some(r) = report {
                metrics.record(&archive_name(archives, a), &r);
            }
        }
        // The passes stand (their generations are committed): the exit code says how
        // they went, and a textfile that cannot be written is a warning.
        if let Err(e) = metrics.write_textfile(path, std::time::SystemTime::now()) {
            tracing::warn!(
                error = %e,
                "could not write the metrics textfile; the pass stands, node_exporter keeps the previous figures"
            );
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(args: &[&str]) -> Option<String> {
        invoked_subcommand(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn the_subcommand_of_a_bad_command_line_is_found_past_global_options() {
        assert_eq!(sub(&["--config", "fetch", "ls"]).as_deref(), Some("ls"));
        assert_eq!(
            sub(&["-c", "x.toml", "fetch", "%f"]).as_deref(),
            Some("fetch")
        );
        assert_eq!(sub(&["--config=x.toml", "fetch"]).as_deref(), Some("fetch"));
        assert_eq!(sub(&["--run-once", "--bogus"]), None);
    }

    #[test]
    fn fetch_failures_are_all_above_125() {
        assert_eq!(fetch_code(EXIT_OK), EXIT_OK);
        for code in [EXIT_FILES_FAILED, EXIT_USAGE, EXIT_CANNOT_RUN, 101] {
            assert!(fetch_code(code) > 125, "{code}");
        }
        for code in [EXIT_FETCH_OBJECT, EXIT_FETCH_USAGE, EXIT_FETCH_CANNOT_RUN] {
            assert!(
                code > 128 + 64,
                "clear of 126/127 and of 128+signal: {code}"
            );
        }
    }
}
