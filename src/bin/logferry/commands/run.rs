//! `logferry run` (and no command): the agent, or with `--once` one pass per archive,
//! its summary on stdout and, when configured, the node_exporter textfile.

use logferry::{
    check_future_tick, expire_if_due, preflight_config, read_status, round_ok, spawn_heartbeat,
    Clock, Config, ExpireReport, Limiter, Metrics, Outcome, RunReport, Store, SystemClock,
};

use super::{archive_name, destination_label, label, open_for_passes};
use crate::output::{error_text, exit_code, fail, EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_OK};

pub(crate) async fn run(config: &Config, archives: &[Config], once: bool) -> u8 {
    // The agent lives by its schedule; --run-once does not use it.
    if !once {
        if let Err(e) = check_future_tick(config, SystemClock.now()) {
            return fail(&e);
        }
        // What check-config would say about the paths, in the service's log: a missing
        // source directory may appear later, and a pass names its own failures.
        for f in preflight_config(config) {
            tracing::warn!("{f}");
        }
    }
    let opened = match open_for_passes(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if !once {
        return super::daemon::daemon(config, opened).await;
    }
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    let mut expiries = Vec::new();
    for (a, store, limiter) in &opened {
        let (this, report) = pass(archives, a, store, limiter).await;
        code = code.max(this);
        if report
            .as_ref()
            .is_some_and(|r| r.outcome != Outcome::Skipped)
        {
            expiries.push((a, expire_due(archives, a, store).await));
        }
        reports.push((a, report));
    }
    // Sent while the textfile is written, waited for (at most its timeout) before exit.
    let outcomes = reports.iter().map(|(_, r)| r.as_ref().map(|r| r.outcome));
    let ping = spawn_heartbeat(config.heartbeat.as_ref(), round_ok(outcomes));
    if let Some(path) = &config.metrics_textfile {
        write_textfile(archives, path, reports, expiries);
    }
    if let Some(ping) = ping {
        let _ = ping.await;
    }
    code
}

/// The expiry a pass is followed by once per `retention.interval`, said on stdout;
/// `Some(None)` when it failed (the pass stands: a warning, not the exit code).
async fn expire_due(
    archives: &[Config],
    a: &Config,
    store: &Store,
) -> Option<Option<ExpireReport>> {
    match expire_if_due(a, store, &SystemClock).await {
        Ok(None) => None,
        Ok(Some(r)) => {
            out!(
                "{}expired {} versions: removed {} objects ({}), {} generations",
                label(archives, a),
                r.versions_expired,
                r.objects_deleted,
                logferry::human_bytes(r.bytes_deleted),
                r.generations_removed
            );
            Some(Some(r))
        }
        Err(e) => {
            eprintln!(
                "logferry: {}expiry failed (tried again after retention.interval): {}",
                label(archives, a),
                error_text(&e)
            );
            Some(None)
        }
    }
}

/// One pass of one archive, said on stdout (or stderr when it failed or was skipped).
async fn pass(
    archives: &[Config],
    a: &Config,
    store: &Store,
    limiter: &Limiter,
) -> (u8, Option<RunReport>) {
    match crate::progress::run_once(a, store, limiter).await {
        // Skipped: it could not run, so it is said where failures are.
        Ok(report) if report.outcome == Outcome::Skipped => {
            eprintln!("logferry: {}{}", label(archives, a), report.summary());
            (EXIT_CANNOT_RUN, Some(report))
        }
        Ok(report) => {
            out!("{}{}", label(archives, a), report.summary());
            let code = match report.outcome {
                Outcome::Partial => EXIT_FILES_FAILED,
                Outcome::Skipped => EXIT_CANNOT_RUN,
                _ => EXIT_OK,
            };
            (code, Some(report))
        }
        Err(e) => {
            eprintln!(
                "logferry: {}{}{}",
                label(archives, a),
                destination_label(a, &e),
                error_text(&e)
            );
            (exit_code(&e), None)
        }
    }
}

fn write_textfile(
    archives: &[Config],
    path: &std::path::Path,
    reports: Vec<(&Config, Option<RunReport>)>,
    expiries: Vec<(&Config, Option<Option<ExpireReport>>)>,
) {
    let metrics = Metrics::default();
    for (a, e) in expiries {
        if let Some(e) = e {
            metrics.record_expiry(&archive_name(archives, a), e.as_ref(), SystemClock.now());
        }
    }
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
    // The passes stand (their generations are committed): the exit code says how they
    // went, and a textfile that cannot be written is a warning.
    if let Err(e) = metrics.write_textfile(path, logferry::Clock::now(&logferry::SystemClock)) {
        let error = error_text(&e);
        tracing::warn!(
            %error,
            "could not write the metrics textfile; the pass stands, node_exporter keeps the previous figures"
        );
    }
}
