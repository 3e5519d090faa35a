//! `logferry archived NAME [--wait D]`: PostgreSQL's archive_command acknowledgement.
//! Answers from the state dir whether NAME is in a committed generation; with `--wait`,
//! asks the agent for a pass now (SIGUSR1), or runs one where no agent holds the state
//! dir, until it is or the time is up.

use std::time::Duration;

use logferry::{
    check_archived, open_with_limiter, read_status, run_once_with, state_stamp, Ack, Config,
    Control, Error, Outcome, StateDir, StateStamp, SystemClock,
};

use crate::args::ArchivedArgs;
use crate::output::{error_text, EXIT_FILES_FAILED, EXIT_OK, EXIT_USAGE};

/// How often `--wait` looks whether a pass recorded something in the state dir.
const POLL: Duration = Duration::from_millis(5);
/// How often `--wait` asks again whatever the state dir says.
const RECHECK: Duration = Duration::from_secs(1);

pub(crate) async fn run_archived(archives: &[Config], args: &ArchivedArgs) -> u8 {
    let wait = match args.wait.as_deref().map(humantime::parse_duration) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            eprintln!(
                "logferry: --wait `{}`: {e}; write e.g. 60s",
                args.wait.as_deref().unwrap_or("")
            );
            return EXIT_USAGE;
        }
    };
    let started = logferry::monotonic();
    let deadline = wait.map(|d| started + d);
    let mut next_nudge = started;
    let elapsed_ms = || started.elapsed().as_secs_f64() * 1000.0;
    loop {
        let stamps: Vec<StateStamp> = archives.iter().map(state_stamp).collect();
        let mut reason = String::new();
        for a in archives {
            match check_archived(a, &args.name) {
                Ack::Archived => {
                    tracing::debug!(elapsed_ms = elapsed_ms(), "archived");
                    return EXIT_OK;
                }
                Ack::NotYet(why) => reason = why,
                Ack::Conflict(why) => {
                    eprintln!("logferry: {why}");
                    return EXIT_FILES_FAILED;
                }
                // A kind of answer this build does not know yet: not archived.
                _ => reason = format!("{} is not archived", args.name),
            }
        }
        let now = logferry::monotonic();
        if deadline.is_none_or(|d| now >= d) {
            eprintln!(
                "logferry: {reason}{}",
                last_pass_failure(archives, &args.name)
            );
            return EXIT_FILES_FAILED;
        }
        if now >= next_nudge {
            nudge(archives).await;
            tracing::debug!(elapsed_ms = elapsed_ms(), "asked for a pass");
            next_nudge = now + Duration::from_secs(5);
        }
        wait_for_a_record(archives, &stamps, deadline, next_nudge).await;
    }
}

/// Sleeps until a pass records something in one of the state dirs (looked for every
/// few milliseconds: PostgreSQL's archiver waits for the answer segment after segment),
/// or the next nudge or the deadline is due, or a second has gone by (the file itself may
/// have changed since).
async fn wait_for_a_record(
    archives: &[Config],
    stamps: &[StateStamp],
    deadline: Option<std::time::Instant>,
    next_nudge: std::time::Instant,
) {
    let until = [
        Some(next_nudge),
        deadline,
        Some(logferry::monotonic() + RECHECK),
    ]
    .into_iter()
    .flatten()
    .min()
    .expect("the recheck is always there");
    while logferry::monotonic() < until {
        tokio::time::sleep(POLL).await;
        if archives.iter().map(state_stamp).ne(stamps.iter().copied()) {
            return;
        }
    }
}

/// Why the last pass of an archive failed, or failed to archive `name`, when it did:
/// what `archived --wait` adds to "not archived" so that PostgreSQL's log names the real
/// cause (a destination down, or refusing this one object).
fn last_pass_failure(archives: &[Config], name: &str) -> String {
    archives
        .iter()
        .filter_map(|a| read_status(&a.state_dir).ok()?.into_iter().next())
        .filter_map(|r| match r.outcome {
            Outcome::Failed => Some(format!(
                "; the last pass ({}) failed: {}",
                r.started_at,
                r.error.as_deref().unwrap_or("unknown error")
            )),
            // Its error reads "skipped: pre_pass `…` exited with status N: …".
            Outcome::Skipped => Some(format!(
                "; the last pass ({}) was {}",
                r.started_at,
                r.error.as_deref().unwrap_or("skipped")
            )),
            _ => r
                .failures
                .iter()
                .find(|f| f.file == name || f.file.ends_with(&format!("/{name}")))
                .map(|f| {
                    format!(
                        "; the last pass ({}) could not archive `{}`: {}",
                        r.started_at, f.file, f.error
                    )
                }),
        })
        .collect()
}

/// Asks the agent holding each state dir for a pass now, or runs one where none does:
/// never a second writer.
async fn nudge(archives: &[Config]) {
    for a in archives {
        if let Some(pid) = StateDir::holder(&a.state_dir) {
            signal_pass(pid);
            continue;
        }
        let Ok((store, limiter)) = open_with_limiter(&a.destination, a.requests_in_flight) else {
            continue;
        };
        let control = Control::default().with_limiter(limiter);
        match run_once_with(a, &store, &SystemClock, &control).await {
            Ok(_) => {}
            // Another agent took the lock in between: it will archive the file.
            Err(Error::Locked { .. }) => {}
            Err(e) => {
                let error = error_text(&e);
                tracing::warn!(%error, "pass for `archived --wait` failed; waiting on");
            }
        }
    }
}

/// SIGUSR1 to the agent holding the lock: its "pass now". A pid that is gone, not ours
/// to signal, or not a pid at all is ignored: the wait goes on and the next nudge, or
/// the agent's own schedule, archives the file.
fn signal_pass(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::USR1);
}
