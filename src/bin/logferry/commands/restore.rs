//! `logferry restore`: every file of a generation (the latest, one by number, or the one
//! current at `--at`) written back under a directory, each verified against its hash;
//! with `--all-versions`, every content ever archived, older ones beside the current.

use std::time::SystemTime;

use logferry::{
    all_versions, generation_at, human_bytes, list_generations, restorable_versions, restore,
    Config, Error, FileResult, Index, Matcher, RestoreOptions, RestoreReport, Store, Window,
};

use super::{
    check_source, find_named, holds_source, index_at, label, open_all, say_failed, say_no_archive,
};
use crate::args::RestoreArgs;
use crate::output::{
    fail, leave_bar, print_json, progress_bar, EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_OK,
    EXIT_USAGE,
};

/// The command line, checked before any archive is opened.
struct Asked {
    include: Option<Matcher>,
    at: Option<SystemTime>,
    /// With `--all-versions`: the versions' window.
    window: Option<Window>,
}

/// What stopped one archive from being restored: an exit code, or a failure that ends
/// the whole command.
enum Skip {
    Code(u8),
    Fatal(Error),
}

/// `logferry restore`.
pub(crate) async fn run_restore(archives: &[Config], args: &RestoreArgs) -> u8 {
    if let Err(code) = check_source(archives, &args.source) {
        return code;
    }
    let asked = match parse(args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if !args.dry_run {
        if let Err(e) = std::fs::create_dir_all(&args.to) {
            return fail(&Error::io("create", &args.to, e));
        }
    }
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    for (a, store) in opened.iter().filter(|(a, _)| holds_source(a, &args.source)) {
        match restore_one(archives, a, store, &asked, args).await {
            Ok((this, report)) => {
                code = code.max(this);
                reports.push(report);
            }
            Err(Skip::Code(c)) => code = code.max(c),
            Err(Skip::Fatal(e)) => return fail(&e),
        }
    }
    if args.json {
        print_json(&reports);
    }
    code
}

fn parse(args: &RestoreArgs) -> Result<Asked, u8> {
    let include = if args.include.is_empty() {
        None
    } else {
        match Matcher::new(&args.include) {
            Ok(m) => Some(m),
            Err((i, why)) => {
                eprintln!("logferry: --include `{}`: bad glob: {why}", args.include[i]);
                return Err(EXIT_USAGE);
            }
        }
    };
    let at = match &args.at {
        None => None,
        Some(t) => match humantime::parse_rfc3339_weak(t) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("logferry: --at `{t}`: {e}; write e.g. 2026-11-21T10:00:00Z");
                return Err(EXIT_USAGE);
            }
        },
    };
    let window = match args.all_versions.then(|| args.window.parse()) {
        None => None,
        Some(Ok(w)) => Some(w),
        Some(Err(why)) => {
            eprintln!("logferry: {why}");
            return Err(EXIT_USAGE);
        }
    };
    Ok(Asked {
        include,
        at,
        window,
    })
}

/// The generation asked for: by number, or the one current at `--at`.
async fn generation(
    archives: &[Config],
    a: &Config,
    store: &Store,
    asked: &Asked,
    args: &RestoreArgs,
) -> Result<Option<u64>, Skip> {
    let Some(t) = asked.at else {
        return Ok(args.generation);
    };
    if let Err(e) = logferry::check_at(store, t).await {
        say_failed(archives, a, &e);
        return Err(Skip::Code(EXIT_FILES_FAILED));
    }
    match generation_at(store, t).await {
        Ok(Some(g)) => Ok(Some(g.get())),
        Ok(None) if matches!(list_generations(store, None).await, Ok(g) if g.is_empty()) => {
            say_no_archive(archives, a).await;
            Err(Skip::Code(EXIT_CANNOT_RUN))
        }
        Ok(None) => {
            eprintln!(
                "logferry: {}no generation was committed by {}",
                label(archives, a),
                args.at.as_deref().unwrap_or("")
            );
            Err(Skip::Code(EXIT_FILES_FAILED))
        }
        Err(e) => Err(Skip::Fatal(e)),
    }
}

/// The index of the generation asked for (the latest by default).
async fn generation_index(
    archives: &[Config],
    a: &Config,
    store: &Store,
    asked: &Asked,
    args: &RestoreArgs,
) -> Result<Index, Skip> {
    let generation = generation(archives, a, store, asked, args).await?;
    match index_at(a, store, generation).await {
        Ok(i) => Ok(i),
        // Another archive (with `{source}`) may still restore; this one is reported.
        Err(e @ Error::NoArchive { .. }) => {
            say_failed(archives, a, &e);
            Err(Skip::Code(EXIT_CANNOT_RUN))
        }
        Err(e) => Err(Skip::Fatal(e)),
    }
}

/// `restore NAME`: the one file, from its version records.
async fn named_index(
    archives: &[Config],
    a: &Config,
    store: &Store,
    args: &RestoreArgs,
) -> Result<Index, Skip> {
    let name = args.name.as_deref().unwrap_or_default();
    match find_named(store, name, args.source.as_deref()).await {
        Ok(Some(e)) => {
            let recorded = e.generation;
            let mut index = Index::from_entries([e]);
            index.chain.generation = recorded;
            Ok(index)
        }
        Ok(None) => {
            say_no_archive(archives, a).await;
            Err(Skip::Code(EXIT_CANNOT_RUN))
        }
        Err(e @ (Error::NotArchived { .. } | Error::Ambiguous { .. })) => {
            say_failed(archives, a, &e);
            let ambiguous = matches!(e, Error::Ambiguous { .. });
            Err(Skip::Code(if ambiguous {
                EXIT_USAGE
            } else {
                EXIT_FILES_FAILED
            }))
        }
        Err(e) => Err(Skip::Fatal(e)),
    }
}

/// With `NAME`, only that file of a generation's index; not there is exit 1.
fn only_named(index: Index, args: &RestoreArgs) -> Result<Index, Skip> {
    let Some(name) = &args.name else {
        return Ok(index);
    };
    let named: Vec<_> = index
        .entries()
        .filter(|e| e.answers_to(name, args.source.as_deref()))
        .cloned()
        .collect();
    if named.is_empty() {
        eprintln!(
            "logferry: `{name}` is not archived in generation {}",
            index.generation()
        );
        return Err(Skip::Code(EXIT_FILES_FAILED));
    }
    Ok(Index::from_entries(named))
}

/// Restores one archive and prints what happened; the exit code it earns and its report.
async fn restore_one(
    archives: &[Config],
    a: &Config,
    store: &Store,
    asked: &Asked,
    args: &RestoreArgs,
) -> Result<(u8, RestoreReport), Skip> {
    let mut opts = RestoreOptions::new(args.to.clone());
    opts.source = args.source.clone();
    opts.include = asked.include.clone();
    let index = match &asked.window {
        None if args.name.is_some() && args.generation.is_none() && asked.at.is_none() => {
            named_index(archives, a, store, args).await?
        }
        None => only_named(
            generation_index(archives, a, store, asked, args).await?,
            args,
        )?,
        Some(window) => {
            let Some(versions) = all_versions(store).await.map_err(Skip::Fatal)? else {
                say_no_archive(archives, a).await;
                return Err(Skip::Code(EXIT_CANNOT_RUN));
            };
            // Globs match the archived path, not the name an older version gets.
            let versions: Vec<_> = versions
                .into_iter()
                .filter(|e| opts.include.as_ref().is_none_or(|m| m.matches(&e.path)))
                .filter(|e| args.name.as_ref().is_none_or(|n| e.answers_to(n, None)))
                .collect();
            opts.include = None;
            restorable_versions(&versions, window)
        }
    };
    opts.force = args.force;
    opts.dry_run = args.dry_run;
    opts.concurrency = a.requests_in_flight;
    // The files restore considers, counted as they are written (after decompression).
    let total = index
        .entries()
        .filter(|e| opts.selects(e))
        .map(|e| e.size)
        .sum();
    let bar = progress_bar("restoring", total, args.json || args.dry_run);
    let report = restore(store, &index, &opts, &|n| bar.inc(n)).await;
    leave_bar(&bar);
    if !args.json {
        print_report(archives, a, &report, args);
    }
    let code = if report.has_problems() {
        EXIT_FILES_FAILED
    } else {
        EXIT_OK
    };
    Ok((code, report))
}

/// One line per file that did not come back, then the summary.
fn print_report(archives: &[Config], a: &Config, report: &RestoreReport, args: &RestoreArgs) {
    for f in report.results.iter().filter(|f| f.result.is_problem()) {
        let what = serde_json::to_value(f.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_uppercase))
            .unwrap_or_default();
        out!(
            "{what}  {}/{}: {}",
            f.source,
            f.path,
            f.detail.as_deref().unwrap_or("")
        );
    }
    let verb = if args.dry_run {
        "would restore"
    } else {
        "restored"
    };
    out!(
        "{}{verb} {} files ({}) from generation {} to {}; {} already present; {} missing, {} corrupt, {} refused, {} kept (exist), {} failed",
        label(archives, a),
        report.count(FileResult::Restored),
        human_bytes(report.bytes),
        report.generation,
        args.to.display(),
        report.count(FileResult::AlreadyPresent),
        report.count(FileResult::Missing),
        report.count(FileResult::Corrupt),
        report.count(FileResult::Refused),
        report.count(FileResult::Exists),
        report.count(FileResult::Failed),
    );
}
