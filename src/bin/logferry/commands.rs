//! The read-side commands of the binary — status, ls, generations, restore, fetch,
//! verify — and how their results are printed.

use std::io::IsTerminal;

use crate::args::{
    ArchivedArgs, FetchArgs, GenerationsArgs, LsArgs, RestoreArgs, StatusArgs, VerifyArgs,
};
use indicatif::{ProgressBar, ProgressStyle};
use logferry::{
    check_archived, download_verified, find_entry, generation_at, generation_exists, human_bytes,
    list_generations, load_at, load_latest, no_archive, open_store, prune_orphans, read_status,
    readable_generations, recommit_checkpoint, restore, reupload_objects, run_once, verify, Config,
    Error, FileResult, Finding, Index, Kind, Matcher, Outcome, ReadData, RestoreOptions, Result,
    StateDir, Store, SystemClock, VerifyReport,
};

use crate::{
    exit_code, fail, fetch_code, label, open_all, EXIT_CANNOT_RUN, EXIT_FETCH_CANNOT_RUN,
    EXIT_FETCH_OBJECT, EXIT_FETCH_USAGE, EXIT_FILES_FAILED, EXIT_OK, EXIT_USAGE,
};

pub fn status(archives: &[Config], args: &StatusArgs) -> u8 {
    if args.json {
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
        out!(
            "{}",
            serde_json::to_string_pretty(&all).expect("reports serialize")
        );
        return EXIT_OK;
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
        "READ",
        "UPLOADED_BYTES",
        "GENERATION",
    ]
    .map(String::from)
    .to_vec()];
    for r in &runs {
        let outcome = match r.outcome {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        };
        rows.push(vec![
            r.started_at.clone(),
            outcome.into(),
            r.duration_ms.to_string(),
            r.files_scanned.to_string(),
            r.files_new.to_string(),
            r.files_changed.to_string(),
            r.files_renamed.to_string(),
            r.files_unchanged.to_string(),
            r.files_uploaded.to_string(),
            r.files_failed.to_string(),
            human_bytes(r.bytes_read),
            human_bytes(r.bytes_uploaded),
            match r.generation {
                Some(g) => format!("{g} (committed)"),
                None => r.current_generation.to_string(),
            },
        ]);
    }
    print_table(&rows);
    if let Some(e) = runs.first().and_then(|r| r.error.as_ref()) {
        out!("\nlast pass failed: {e}");
    }
    EXIT_OK
}

pub async fn ls(config: &Config, archives: &[Config], args: &LsArgs) -> u8 {
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut indexes = Vec::new();
    let mut code = EXIT_OK;
    for (a, store) in &opened {
        match index_at(a, store, args.generation).await {
            Ok(i) => indexes.push(i),
            // Another archive (with `{source}`) may still list; this one is reported,
            // unless it is the archive of a source not asked for.
            Err(Error::NoArchive { .. }) if !holds_source(a, &args.source) => {}
            Err(e @ Error::NoArchive { .. }) => {
                eprintln!("logferry: {}{e}", label(archives, a));
                code = EXIT_CANNOT_RUN;
            }
            Err(e) => return fail(&e),
        }
    }
    if let Some(s) = &args.source {
        let known = config.sources.iter().any(|c| &c.name == s)
            || indexes.iter().any(|i| i.entries().any(|e| &e.source == s));
        if !known {
            let names: Vec<_> = config.sources.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "logferry: no source named `{s}` (configured: {})",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
    }
    let entries: Vec<_> = indexes
        .iter()
        .flat_map(|i| i.entries())
        .filter(|e| args.source.as_ref().is_none_or(|s| &e.source == s))
        .collect();
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("entries serialize")
        );
        return code;
    }
    if entries.is_empty() && !indexes.is_empty() {
        let generations: Vec<String> = indexes.iter().map(|i| i.generation.to_string()).collect();
        out!(
            "nothing archived yet (generation {})",
            generations.join(", ")
        );
        return code;
    }
    let mut rows = vec![["SOURCE", "PATH", "SIZE", "SHA256", "KEY", "ARCHIVED_AT"]
        .map(String::from)
        .to_vec()];
    for e in entries {
        rows.push(vec![
            e.source.clone(),
            e.path.clone(),
            e.size.to_string(),
            e.sha256.to_string(),
            e.key.clone(),
            e.archived_at.clone(),
        ]);
    }
    if rows.len() > 1 {
        print_table(&rows);
    }
    code
}

fn print_table(rows: &[Vec<String>]) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c + 1 == cols {
                    v.clone()
                } else {
                    format!("{v:<w$}", w = widths[c])
                }
            })
            .collect();
        out!("{}", line.join("  "));
    }
}

/// The index as of `generation`, or the latest; an archive without any generation is
/// an error naming its URL (and the hosts that have one, with `{hostname}`).
async fn index_at(a: &Config, store: &Store, generation: Option<u64>) -> Result<Index> {
    match generation {
        None => {
            let index = load_latest(store).await?;
            if index.generation == 0 {
                return Err(no_archive(a).await);
            }
            Ok(index)
        }
        Some(g) => {
            if !generation_exists(store, g).await? {
                let Some(&last) = list_generations(store, None).await?.last() else {
                    return Err(no_archive(a).await);
                };
                return Err(Error::NotArchived {
                    name: format!("generation {g}"),
                    generation: last,
                });
            }
            load_at(store, g).await
        }
    }
}

/// A byte-count progress bar on a terminal; hidden otherwise or with JSON output.
fn progress_bar(total: u64, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("static template"),
    );
    bar
}

/// Whether archive `a` holds `source` (every archive does when none is asked for).
fn holds_source(a: &Config, source: &Option<String>) -> bool {
    source
        .as_ref()
        .is_none_or(|s| a.sources.iter().any(|c| &c.name == s))
}

fn check_source(archives: &[Config], source: &Option<String>) -> Result<(), u8> {
    if let Some(s) = source {
        if !archives
            .iter()
            .any(|a| a.sources.iter().any(|c| &c.name == s))
        {
            let names: Vec<_> = archives
                .iter()
                .flat_map(|a| a.sources.iter().map(|c| c.name.as_str()))
                .collect();
            eprintln!(
                "logferry: no source named `{s}` (configured: {})",
                names.join(", ")
            );
            return Err(EXIT_USAGE);
        }
    }
    Ok(())
}

/// `logferry restore`.
pub async fn run_restore(archives: &[Config], args: &RestoreArgs) -> u8 {
    if let Err(code) = check_source(archives, &args.source) {
        return code;
    }
    let include = if args.include.is_empty() {
        None
    } else {
        match Matcher::new(&args.include) {
            Ok(m) => Some(m),
            Err((i, why)) => {
                eprintln!("logferry: --include `{}`: bad glob: {why}", args.include[i]);
                return EXIT_USAGE;
            }
        }
    };
    let at = match &args.at {
        None => None,
        Some(t) => match humantime::parse_rfc3339_weak(t) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("logferry: --at `{t}`: {e}; write e.g. 2026-11-21T10:00:00Z");
                return EXIT_USAGE;
            }
        },
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
    for (a, store) in &opened {
        if !holds_source(a, &args.source) {
            continue;
        }
        let generation = match at {
            None => args.generation,
            Some(t) => match generation_at(store, t).await {
                Ok(Some(g)) => Some(g),
                Ok(None) if matches!(list_generations(store, None).await, Ok(g) if g.is_empty()) => {
                    say_no_archive(archives, a).await;
                    code = code.max(EXIT_CANNOT_RUN);
                    continue;
                }
                Ok(None) => {
                    eprintln!(
                        "logferry: {}no generation was committed by {}",
                        label(archives, a),
                        args.at.as_deref().unwrap_or("")
                    );
                    code = code.max(EXIT_FILES_FAILED);
                    continue;
                }
                Err(e) => return fail(&e),
            },
        };
        let index = match index_at(a, store, generation).await {
            Ok(i) => i,
            // Another archive (with `{source}`) may still restore; this one is reported.
            Err(e @ Error::NoArchive { .. }) => {
                eprintln!("logferry: {}{e}", label(archives, a));
                code = code.max(EXIT_CANNOT_RUN);
                continue;
            }
            Err(e) => return fail(&e),
        };
        let opts = RestoreOptions {
            to: args.to.clone(),
            source: args.source.clone(),
            include: include.clone(),
            force: args.force,
            dry_run: args.dry_run,
            concurrency: a.upload_concurrency,
        };
        let total = index.entries().map(|e| e.size).sum();
        let bar = progress_bar(total, args.json || args.dry_run);
        let report = restore(store, &index, &opts, &|n| bar.inc(n)).await;
        bar.finish_and_clear();
        if report.has_problems() {
            code = code.max(EXIT_FILES_FAILED);
        }
        if !args.json {
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
        reports.push(report);
    }
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialize")
        );
    }
    code
}

/// `logferry fetch`: PostgreSQL's restore_command, so every exit but 0 and 1 ("never
/// archived", from an archive that was read and holds a generation) is above 125.
pub async fn run_fetch(archives: &[Config], args: &FetchArgs) -> u8 {
    if check_source(archives, &args.source).is_err() {
        return EXIT_FETCH_USAGE;
    }
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return fetch_code(code),
    };
    let mut not_found = None;
    let mut empty = None;
    for (a, store) in &opened {
        if !holds_source(a, &args.source) {
            continue;
        }
        let index = match load_latest(store).await {
            Ok(i) => i,
            Err(e) => {
                eprintln!(
                    "logferry: fetch {}: {}{e}",
                    args.name,
                    destination_label(a, &e)
                );
                return fetch_code(exit_code(&e));
            }
        };
        if index.generation == 0 {
            empty.get_or_insert(a);
            continue;
        }
        let entry = match find_entry(&index, &args.name, args.source.as_deref()) {
            Ok(e) => e,
            Err(e @ Error::Ambiguous { .. }) => {
                eprintln!("logferry: fetch: {e}");
                return EXIT_FETCH_USAGE;
            }
            Err(e) => {
                not_found = Some(e);
                continue;
            }
        };
        return match download_verified(store, entry, &args.dest, &|_| {}).await {
            Ok(()) => EXIT_OK,
            Err((result, why)) => {
                eprintln!("logferry: fetch {}: {why}", args.name);
                match result {
                    FileResult::Missing | FileResult::Corrupt | FileResult::Refused => {
                        EXIT_FETCH_OBJECT
                    }
                    _ => EXIT_FETCH_CANNOT_RUN,
                }
            }
        };
    }
    match (not_found, empty) {
        (Some(e), _) => {
            eprintln!("logferry: fetch: {e}");
            EXIT_FILES_FAILED
        }
        (None, Some(a)) => {
            eprintln!("logferry: fetch {}: {}", args.name, no_archive(a).await);
            EXIT_FETCH_CANNOT_RUN
        }
        (None, None) => {
            eprintln!("logferry: fetch {}: no archive to read", args.name);
            EXIT_FETCH_CANNOT_RUN
        }
    }
}

/// `destination URL: ` before a storage error, which names only the key.
fn destination_label(a: &Config, e: &Error) -> String {
    match e {
        Error::Store { .. } => format!("destination {}: ", a.destination.url),
        _ => String::new(),
    }
}

/// `logferry verify`.
pub async fn run_verify(archives: &[Config], args: &VerifyArgs) -> u8 {
    // The rolling position in the state dir is this host's; another host's archive is
    // read from its start.
    let own = args.host.hostname.is_none();
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let read = match args.read_data {
        None => ReadData::No,
        Some(100) => ReadData::All,
        Some(p) => ReadData::Percent(p),
    };
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    for (a, store) in &opened {
        let bar = progress_bar(0, args.json || read == ReadData::No);
        let report = match verify(
            store,
            read,
            own.then_some(a.state_dir.as_path()),
            a.upload_concurrency,
            &|n| bar.inc(n),
        )
        .await
        {
            Ok(r) if r.newest == 0 => {
                bar.finish_and_clear();
                say_no_archive(archives, a).await;
                code = code.max(EXIT_CANNOT_RUN);
                continue;
            }
            Ok(r) => r,
            Err(e) => {
                eprintln!("logferry: {}{e}", label(archives, a));
                code = code.max(exit_code(&e));
                continue;
            }
        };
        bar.finish_and_clear();
        // --repair runs even when nothing was found: the state dir may hold a newest
        // generation the archive lost, which only it can tell.
        let report = if args.repair {
            if !args.json && report.has_problems() {
                print_findings(archives, a, &report);
            }
            match repair(a, store, &report, args.json).await {
                Ok(after) => after,
                Err(e) => {
                    eprintln!("logferry: {}{e}", label(archives, a));
                    code = code.max(exit_code(&e));
                    reports.push(report);
                    continue;
                }
            }
        } else {
            report
        };
        let mut report = report;
        if args.prune_orphans && !report.orphaned.is_empty() {
            let now = std::time::SystemTime::now();
            match prune_orphans(a, store, &report, args.grace, now).await {
                Ok(p) => {
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
                }
                Err(e) => {
                    eprintln!("logferry: {}{e}", label(archives, a));
                    code = code.max(exit_code(&e));
                }
            }
        }
        if report.has_problems() {
            code = code.max(EXIT_FILES_FAILED);
        }
        if !args.json {
            print_findings(archives, a, &report);
        }
        reports.push(report);
    }
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialize")
        );
    }
    if code == EXIT_OK && reports.is_empty() {
        return EXIT_CANNOT_RUN;
    }
    code
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
    let mut after = verify(store, ReadData::No, None, a.upload_concurrency, &|_| {}).await?;
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

/// The findings of one archive, its summary line and what to run.
fn print_findings(archives: &[Config], a: &Config, report: &VerifyReport) {
    print_generation_findings(report);
    for (kind, list) in [
        ("MISSING", &report.missing),
        ("CORRUPT", &report.corrupt),
        ("ORPHAN", &report.orphaned),
        ("UNACCOUNTED", &report.unaccounted),
    ] {
        for f in list.iter() {
            let file = if f.file.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.file)
            };
            out!("{kind}  {}{file}: {}", f.key, f.detail);
        }
    }
    out!(
        "{}{} objects in {} generation(s): {} missing, {} corrupt, {} orphaned; read back {} objects ({})",
        label(archives, a),
        report.objects,
        report.generations,
        report.missing.len(),
        report.corrupt.len(),
        report.orphaned.len(),
        report.objects_read,
        human_bytes(report.bytes_read)
    );
    print_verify_hints(report);
}

/// One line per absent or unreadable generation, saying whether readers still need it.
fn print_generation_findings(report: &VerifyReport) {
    for (kind, list) in [
        ("MISSING-GENERATION", &report.missing_generations),
        ("DAMAGED-GENERATION", &report.damaged_generations),
    ] {
        for g in list {
            let state = match g.superseded_by {
                Some(c) => format!(" (superseded by full checkpoint {c}: readers skip it)"),
                None => " (the latest generation cannot be loaded through it)".into(),
            };
            out!("{kind}  {} {}: {}{state}", g.generation, g.key, g.detail);
        }
    }
}

/// What to run about what was found.
fn print_verify_hints(report: &VerifyReport) {
    let broken = report.broken_chain();
    if let Some(first) = broken.first() {
        out!(
            "generation {} breaks the chain: run `logferry verify --repair` on the host whose agent archives here (with its config and state dir) to commit a full checkpoint from its good local copy; see README \"Repairing a damaged generation\"",
            first.generation
        );
    }
    if !report.missing.is_empty() || !report.corrupt.is_empty() {
        out!("missing or corrupt objects: `logferry verify --repair` re-uploads those whose content a local file still holds");
    }
    if !report.orphaned.is_empty() {
        out!(
            "{} orphan(s) left by interrupted passes (not a failure): `logferry verify --prune-orphans` deletes those older than the grace period (--grace, default 24h)",
            report.orphaned.len()
        );
    }
}

/// `logferry generations`.
pub async fn run_generations(archives: &[Config], args: &GenerationsArgs) -> u8 {
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut rows = vec![[
        "GENERATION",
        "KIND",
        "CREATED_AT",
        "FILES",
        "NEW",
        "CHANGED",
        "RENAMED",
        "UPLOADED",
        "BYTES_UPLOADED",
    ]
    .map(String::from)
    .to_vec()];
    let mut json = Vec::new();
    let mut code = EXIT_OK;
    for (a, store) in &opened {
        let gens = match readable_generations(store).await {
            Ok((_, _, _, 0)) => {
                say_no_archive(archives, a).await;
                code = EXIT_CANNOT_RUN;
                continue;
            }
            Ok((g, missing, damaged, _)) => {
                // The readable ones are still listed; what is wrong is said on stderr.
                for f in missing.iter().chain(&damaged) {
                    eprintln!(
                        "logferry: {}generation {} ({}): {}; `logferry verify` says what to run",
                        label(archives, a),
                        f.generation,
                        f.key,
                        f.detail
                    );
                    code = code.max(EXIT_FILES_FAILED);
                }
                g
            }
            Err(e) => return fail(&e),
        };
        for g in gens {
            let r = g.report.clone().unwrap_or_default();
            let kind = match g.kind {
                Kind::Full => "full",
                Kind::Delta => "delta",
            };
            rows.push(vec![
                format!("{}{}", label(archives, a), g.generation),
                kind.into(),
                g.created_at.clone(),
                g.entries.len().to_string(),
                r.files_new.to_string(),
                r.files_changed.to_string(),
                r.files_renamed.to_string(),
                r.files_uploaded.to_string(),
                human_bytes(r.bytes_uploaded),
            ]);
            json.push(serde_json::json!({
                "archive": a.sources.first().map(|s| s.name.clone()),
                "generation": g.generation,
                "kind": kind,
                "base": g.base,
                "created_at": g.created_at,
                "entries": g.entries.len(),
                "report": g.report,
            }));
        }
    }
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&json).expect("generations serialize")
        );
    } else if rows.len() > 1 {
        print_table(&rows);
    }
    code
}

/// `logferry archived NAME [--wait D]`.
pub async fn run_archived(archives: &[Config], args: &ArchivedArgs) -> u8 {
    use logferry::Ack;
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
    let deadline = wait.map(|d| std::time::Instant::now() + d);
    let mut next_nudge = std::time::Instant::now();
    loop {
        let mut reason = String::new();
        for a in archives {
            match check_archived(a, &args.name) {
                Ack::Archived => return EXIT_OK,
                Ack::NotYet(why) => reason = why,
                Ack::Conflict(why) => {
                    eprintln!("logferry: {why}");
                    return EXIT_FILES_FAILED;
                }
            }
        }
        let now = std::time::Instant::now();
        if deadline.is_none_or(|d| now >= d) {
            eprintln!("logferry: {reason}{}", last_pass_failure(archives));
            return EXIT_FILES_FAILED;
        }
        if now >= next_nudge {
            nudge(archives).await;
            next_nudge = now + std::time::Duration::from_secs(5);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Why the last pass of an archive failed, when it did: what `archived --wait` adds to
/// "not archived" so that PostgreSQL's log names the real cause (a destination down).
fn last_pass_failure(archives: &[Config]) -> String {
    archives
        .iter()
        .filter_map(|a| read_status(&a.state_dir).ok()?.into_iter().next())
        .filter(|r| r.outcome == Outcome::Failed)
        .map(|r| {
            format!(
                "; the last pass ({}) failed: {}",
                r.started_at,
                r.error.as_deref().unwrap_or("unknown error")
            )
        })
        .collect()
}

/// Asks the agent holding each state dir for a pass now, or runs one where none does:
/// never a second writer.
async fn nudge(archives: &[Config]) {
    for a in archives {
        if let Some(pid) = StateDir::holder(&a.state_dir) {
            let _ = std::process::Command::new("kill")
                .args(["-USR1", &pid.to_string()])
                .status();
            continue;
        }
        let Ok(store) = open_store(&a.destination) else {
            continue;
        };
        match run_once(a, &store, &SystemClock).await {
            Ok(_) => {}
            // Another agent took the lock in between: it will archive the file.
            Err(Error::Locked { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "pass for `archived --wait` failed; waiting on"),
        }
    }
}

/// Says on stderr that `a` holds no generation, naming its URL (and other hosts' archives).
async fn say_no_archive(archives: &[Config], a: &Config) {
    eprintln!("logferry: {}{}", label(archives, a), no_archive(a).await);
}
