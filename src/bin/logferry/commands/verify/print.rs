//! How `verify` shows its findings: one line per finding, a summary, and what to run.

use logferry::{human_bytes, Config, VerifyReport};

use crate::commands::label;

/// The findings of one archive, its summary line and what to run.
pub(super) fn print_findings(archives: &[Config], a: &Config, report: &VerifyReport) {
    print_generation_findings(report);
    for (kind, list) in [
        ("MISSING", &report.missing),
        ("CORRUPT", &report.corrupt),
        ("UNREADABLE", &report.unreadable),
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
    if !report.unreadable.is_empty() {
        out!(
            "{} encrypted object(s) not read back: pass --identity FILE with a private key of the recipients they were written for",
            report.unreadable.len()
        );
    }
    if !report.orphaned.is_empty() {
        out!(
            "{} orphan(s) left by interrupted passes (not a failure): `logferry verify --prune-orphans` deletes those older than the grace period (--grace, default 24h)",
            report.orphaned.len()
        );
    }
}
