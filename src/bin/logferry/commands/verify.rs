//! `logferry verify`: check that every object the archive's generations name is there
//! (and, with `--read-data`, that it reads back to its hash); `--repair` puts back what a
//! local copy can, `--prune-orphans` deletes what interrupted passes left.

use logferry::{
    prune_orphans, recommit_checkpoint, reupload_objects, verify, verify_with, Config, Error,
    Finding, ReadData, ReadProgress, Result, Store, SystemClock, VerifyReport,
};

use super::{open_all, say_failed, say_no_archive};
use crate::args::VerifyArgs;
use crate::output::{
    exit_code, leave_bar, print_json, progress_bar, EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_OK,
};

mod print;

use print::print_findings;

pub(crate) async fn run_verify(archives: &[Config], args: &VerifyArgs) -> u8 {
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    for (a, store) in &opened {
        let (this, report) = verify_one(archives, a, store, args).await;
        code = code.max(this);
        reports.extend(report);
    }
    if args.json {
        print_json(&reports);
    }
    if code == EXIT_OK && reports.is_empty() {
        return EXIT_CANNOT_RUN;
    }
    code
}

/// Verifies one archive, then repairs and prunes as asked: the exit code it earns and
/// the report to show, when there is one.
async fn verify_one(
    archives: &[Config],
    a: &Config,
    store: &Store,
    args: &VerifyArgs,
) -> (u8, Option<VerifyReport>) {
    let report = match first_look(archives, a, store, args).await {
        Ok(r) => r,
        Err(code) => return (code, None),
    };
    // --repair runs even when nothing was found: the state dir may hold a newest
    // generation the archive lost, which only it can tell.
    let mut report = if args.repair {
        if !args.json && report.has_problems() {
            print_findings(archives, a, &report);
        }
        match repair(a, store, &report, args.json).await {
            Ok(after) => after,
            Err(e) => {
                say_failed(archives, a, &e);
                return (exit_code(&e), Some(report));
            }
        }
    } else {
        report
    };
    let mut code = EXIT_OK;
    if args.prune_orphans && !report.orphaned.is_empty() {
        if let Err(e) = prune(a, store, &mut report, args).await {
            say_failed(archives, a, &e);
            code = exit_code(&e);
        }
    }
    if report.has_problems() {
        code = code.max(EXIT_FILES_FAILED);
    }
    if !args.json {
        print_findings(archives, a, &report);
    }
    (code, Some(report))
}

/// The verify pass itself, with its progress bar; an archive with no generation is
/// said and skipped.
async fn first_look(
    archives: &[Config],
    a: &Config,
    store: &Store,
    args: &VerifyArgs,
) -> Result<VerifyReport, u8> {
    // The rolling position in the state dir is this host's; another host's archive is
    // read from its start.
    let own = args.host.hostname.is_none();
    let read = match args.read_data {
        None => ReadData::No,
        Some(100) => ReadData::All,
        Some(p) => ReadData::Percent(p),
    };
    let bar = progress_bar("reading back", 0, args.json || read == ReadData::No);
    let state_dir = own.then_some(a.state_dir.as_path());
    // The total is known once the objects to read are chosen (a slice, with a percent).
    let progress = ReadProgress {
        total: &|n| bar.set_length(n),
        read: &|n| bar.inc(n),
    };
    let result = verify_with(store, read, state_dir, a.requests_in_flight, progress).await;
    leave_bar(&bar);
    match result {
        Ok(r) if r.newest.get() == 0 => {
            say_no_archive(archives, a).await;
            Err(EXIT_CANNOT_RUN)
        }
        Ok(r) => Ok(r),
        Err(e) => {
            say_failed(archives, a, &e);
            Err(exit_code(&e))
        }
    }
}

/// `verify --prune-orphans`: deletes the orphans past the grace period and drops them
/// from the report.
async fn prune(
    a: &Config,
    store: &Store,
    report: &mut VerifyReport,
    args: &VerifyArgs,
) -> Result<()> {
    let now = logferry::Clock::now(&logferry::SystemClock);
    let p = prune_orphans(a, store, report, args.grace, now).await?;
    if !args.json {
        for k in &p.deleted {
            out!("PRUNED  {k}");
        }
        for k in &p.kept {
            out!(
                "KEPT  {k}: younger than the grace period ({})",
                humantime::format_duration(args.grace)
            );
        }
    }
    report.orphaned.retain(|f| !p.deleted.contains(&f.key));
    Ok(())
}

/// `verify --repair` of one archive: what can be put back is, then the archive is
/// verified again (sizes only) and that report is the answer.
async fn repair(
    a: &Config,
    store: &Store,
    report: &VerifyReport,
    json: bool,
) -> Result<VerifyReport, Error> {
    let clock = SystemClock;
    let checkpoint = recommit_checkpoint(a, store, report, &clock).await?;
    if let (Some(g), false) = (checkpoint, json) {
        out!("REPAIRED  committed full checkpoint {g} from the state dir's copy of the archive");
    }
    let mut objects = report.clone();
    reupload_objects(a, store, &mut objects).await;
    if !json {
        for f in &objects.repaired {
            out!("REPAIRED  {}: {}", f.key, f.detail);
        }
        for f in &objects.not_repaired {
            out!("NOT-REPAIRED  {}: {}", f.key, f.detail);
        }
    }
    let mut after = verify(store, ReadData::No, None, a.requests_in_flight, &|_| {}).await?;
    // A corrupt object left in place (of the right size) shows only when read again.
    let still: std::collections::HashSet<&str> = objects
        .not_repaired
        .iter()
        .map(|f| f.key.as_str())
        .collect();
    let left: Vec<Finding> = report
        .corrupt
        .iter()
        .filter(|f| still.contains(f.key.as_str()))
        .filter(|f| !after.corrupt.iter().any(|c| c.key == f.key))
        .cloned()
        .collect();
    after.corrupt.extend(left);
    after.repaired = objects.repaired;
    after.not_repaired = objects.not_repaired;
    Ok(after)
}
