//! `logferry expire`: removes what the retention rules let go, now, and prints what it
//! removed (or, with `--dry-run`, what it would). The agent runs the same after a pass,
//! at most once per `retention.interval`.

use logferry::{expire, human_bytes, Config, ExpireOptions, ExpireReport, SystemClock};

use super::{label, open_all, say_failed};
use crate::args::ExpireArgs;
use crate::output::{print_json, EXIT_CANNOT_RUN, EXIT_OK, EXIT_USAGE};

pub(crate) async fn run_expire(archives: &[Config], args: &ExpireArgs) -> u8 {
    let before = match args.before.as_deref().map(humantime::parse_rfc3339_weak) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            eprintln!(
                "logferry: --before `{}`: {e}; write e.g. 2026-09-01T00:00:00Z",
                args.before.as_deref().unwrap_or("")
            );
            return EXIT_USAGE;
        }
    };
    if before.is_none()
        && !archives
            .iter()
            .any(|a| a.sources.iter().any(|s| s.keep.expires()) || a.retention.keep.expires())
    {
        eprintln!("logferry: no retention is configured, so nothing expires; set [retention] keep_for (or keep_base_backups for PostgreSQL), or pass --before TIME");
        return EXIT_OK;
    }
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let opts = ExpireOptions::new(args.dry_run, before);
    let mut code = EXIT_OK;
    let mut json = Vec::new();
    for (a, store) in &opened {
        match expire(a, store, &SystemClock, opts).await {
            Ok(r) => {
                if args.json {
                    json.push(r);
                } else {
                    print_report(&label(archives, a), &r);
                }
            }
            Err(e) => {
                say_failed(archives, a, &e);
                code = code.max(EXIT_CANNOT_RUN);
            }
        }
    }
    if args.json {
        print_json(&json);
    }
    code
}

fn print_report(label: &str, r: &ExpireReport) {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    println!(
        "{label}{} versions expired; {verb} {} objects ({}), {} generations, {} catalog objects",
        r.versions_expired,
        r.objects_deleted,
        human_bytes(r.bytes_deleted),
        r.generations_removed,
        r.catalog_objects_deleted,
    );
    if r.kept_present > 0 {
        println!(
            "{label}{} versions old enough to go are kept: their files are still in the sources as archived",
            r.kept_present
        );
    }
    if let Some(g) = r.committed {
        println!("{label}committed generation {g} recording the expiry");
    }
    if let Some(t) = &r.window_start {
        println!(
            "{label}point-in-time reads are promised from {t} (oldest generation kept: {})",
            r.floor
        );
    }
    if r.kept_young > 0 {
        println!(
            "{label}{} objects are younger than the grace period and wait for a later run",
            r.kept_young
        );
    }
    for l in &r.locked {
        match &l.until {
            Some(t) => println!("{label}locked until {t}: {}", l.key),
            None => println!("{label}locked (Object Lock): {}", l.key),
        }
    }
    println!(
        "{label}archive holds {} of data",
        human_bytes(r.archive_bytes)
    );
}
