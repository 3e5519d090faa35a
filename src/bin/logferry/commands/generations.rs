//! `logferry generations`: the committed generations of each archive, with what each
//! pass changed, as a table or JSON. Absent or damaged ones are said on stderr.

use logferry::{human_bytes, readable_generations, Config, Generation, Store};

use super::{label, open_all, say_no_archive};
use crate::args::GenerationsArgs;
use crate::output::{fail, print_json, print_table, EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_OK};

pub(crate) async fn run_generations(archives: &[Config], args: &GenerationsArgs) -> u8 {
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
        let gens = match readable(archives, a, store).await {
            Ok((gens, this)) => {
                code = code.max(this);
                gens
            }
            Err(Some(e)) => return fail(&e),
            Err(None) => {
                code = EXIT_CANNOT_RUN;
                continue;
            }
        };
        for g in &gens {
            rows.push(row(archives, a, g));
            json.push(json_of(a, g));
        }
    }
    if args.json {
        print_json(&json);
    } else if rows.len() > 1 {
        print_table(&rows);
    }
    code
}

/// The generations that can be read, and the code the others earn (said on stderr);
/// `Err(None)` when the archive has none at all (said too).
async fn readable(
    archives: &[Config],
    a: &Config,
    store: &Store,
) -> Result<(Vec<Generation>, u8), Option<logferry::Error>> {
    let (gens, missing, damaged, newest) = readable_generations(store).await.map_err(Some)?;
    if newest.get() == 0 {
        say_no_archive(archives, a).await;
        return Err(None);
    }
    let mut code = EXIT_OK;
    // The readable ones are still listed; what is wrong is said on stderr.
    for f in missing.iter().chain(&damaged) {
        eprintln!(
            "logferry: {}generation {} ({}): {}; `logferry verify` says what to run",
            label(archives, a),
            f.generation,
            f.key,
            f.detail
        );
        code = EXIT_FILES_FAILED;
    }
    Ok((gens, code))
}

/// The kind, with `expiry` for the checkpoint an expiry committed.
fn kind(g: &Generation) -> &'static str {
    match &g.expiry {
        Some(_) => "expiry",
        None => g.kind.as_str(),
    }
}

fn row(archives: &[Config], a: &Config, g: &Generation) -> Vec<String> {
    let r = g.report.clone().unwrap_or_default();
    vec![
        format!("{}{}", label(archives, a), g.generation),
        kind(g).into(),
        g.created_at.to_string(),
        g.entry_count().to_string(),
        r.files_new.to_string(),
        r.files_changed.to_string(),
        r.files_renamed.to_string(),
        r.files_uploaded.to_string(),
        human_bytes(r.bytes_uploaded),
    ]
}

fn json_of(a: &Config, g: &Generation) -> serde_json::Value {
    serde_json::json!({
        "archive": a.sources.first().map(|s| s.name.clone()),
        "generation": g.generation,
        "kind": kind(g),
        "base": g.base,
        "created_at": g.created_at,
        "entries": g.entry_count(),
        "expired_versions": g.expiry.as_ref().map(|x| x.count),
        "report": g.report,
    })
}
