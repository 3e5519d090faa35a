//! `logferry status`: the recorded passes of each archive, newest first, as a table or
//! JSON, with the archive's health under the table; `status --check` gives that health
//! as one line and an exit code ([`health`]). Reads the state dir only; never the
//! destination.

mod health;

use logferry::{
    human_bytes, read_retention_status, read_status, Clock, Config, Outcome, RunReport, SystemClock,
};

use super::label;
use crate::args::StatusArgs;
use crate::output::{fail, print_json, print_table, EXIT_OK};

pub(crate) fn status(archives: &[Config], args: &StatusArgs) -> u8 {
    if args.json {
        return status_json(archives, args);
    }
    if args.check {
        return status_check(archives, args);
    }
    let mut code = EXIT_OK;
    for a in archives {
        if archives.len() > 1 {
            out!("{}", label(archives, a).trim_end());
        }
        code = code.max(status_table(a, args));
    }
    code
}

fn status_json(archives: &[Config], args: &StatusArgs) -> u8 {
    let mut all = Vec::new();
    for a in archives {
        let runs = match read_status(&a.state_dir) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        for r in runs.into_iter().take(args.limit) {
            let mut v = serde_json::to_value(&r).expect("reports serialize");
            if archives.len() > 1 {
                v["archive"] = serde_json::Value::from(a.sources[0].name.clone());
            }
            all.push(v);
        }
    }
    print_json(&all);
    EXIT_OK
}

fn status_check(archives: &[Config], args: &StatusArgs) -> u8 {
    let mut code = EXIT_OK;
    for a in archives {
        let runs = match read_status(&a.state_dir) {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        let (c, line) = health::check(&runs, args.max_lag, SystemClock.now());
        out!("{}{line}", label(archives, a));
        code = code.max(c);
    }
    code
}

fn status_table(config: &Config, args: &StatusArgs) -> u8 {
    let runs = match read_status(&config.state_dir) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let runs: Vec<_> = runs.into_iter().take(args.limit).collect();
    if runs.is_empty() {
        out!(
            "no passes recorded in {} yet; run `logferry --run-once`",
            config.state_dir.display()
        );
        out!("{}", health::agent_line(config));
        return EXIT_OK;
    }
    let mut rows = vec![[
        "STARTED_AT",
        "OUTCOME",
        "DURATION_MS",
        "SCANNED",
        "NEW",
        "CHANGED",
        "RENAMED",
        "UNCHANGED",
        "UPLOADED",
        "FAILED",
        "DELETED",
        "READ",
        "UPLOADED_BYTES",
        "GENERATION",
    ]
    .map(String::from)
    .to_vec()];
    rows.extend(runs.iter().map(row));
    print_table(&rows);
    match runs.first() {
        // Its error says "skipped: why".
        Some(r) if r.outcome == Outcome::Skipped => {
            out!("\nlast pass {}", r.error.as_deref().unwrap_or("skipped"))
        }
        Some(RunReport { error: Some(e), .. }) => out!("\nlast pass failed: {e}"),
        _ => {}
    }
    for name in runs.first().map_or(&[][..], |r| &r.empty_sources[..]) {
        out!("\nsource `{name}` matched no files in the last pass: check its path, include and exclude");
    }
    out!("\n{}", health::agent_line(config));
    for line in health::summary_lines(&runs, SystemClock.now()) {
        out!("{line}");
    }
    retention_line(config);
    EXIT_OK
}

/// The last expiry, when the archive has retention rules or one ran.
fn retention_line(config: &Config) {
    let rules = config.retention.keep.expires() || config.sources.iter().any(|s| s.keep.expires());
    match read_retention_status(&config.state_dir) {
        Some(r) => out!(
            "\nretention: last expiry {}: removed {} objects ({}), {} generations; {} locked; archive holds {}",
            r.last_run.map_or_else(|| "never finished".to_string(), |t| t.to_string()),
            r.objects_deleted,
            human_bytes(r.bytes_deleted),
            r.generations_removed,
            r.locked,
            human_bytes(r.archive_bytes)
        ),
        None if rules => out!(
            "\nretention: no expiry yet; the agent runs one after a pass every {}",
            humantime::format_duration(config.retention.interval)
        ),
        None => {}
    }
}

fn row(r: &RunReport) -> Vec<String> {
    let outcome = r.outcome.as_str();
    vec![
        r.started_at.to_string(),
        outcome.into(),
        r.duration_ms.to_string(),
        r.files_scanned.to_string(),
        r.files_new.to_string(),
        r.files_changed.to_string(),
        r.files_renamed.to_string(),
        r.files_unchanged.to_string(),
        r.files_uploaded.to_string(),
        r.files_failed.to_string(),
        r.deleted_local.to_string(),
        human_bytes(r.bytes_read),
        human_bytes(r.bytes_uploaded),
        match r.generation {
            Some(g) => format!("{g} (committed)"),
            // A skipped pass did not look at the archive.
            None if r.outcome == Outcome::Skipped => "-".to_string(),
            None => r.current_generation.to_string(),
        },
    ]
}
