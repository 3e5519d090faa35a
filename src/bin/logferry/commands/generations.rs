//! `logferry generations`: the committed generations of each archive, with the files
//! each holds and what each pass changed, as a table or JSON. Absent or damaged ones are
//! said on stderr.

use std::collections::HashSet;

use logferry::{human_bytes, readable_generations, Config, Generation, GenerationNo, Store};

use super::{label, open_all, say_no_archive, to_the_second};
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
        for (g, files) in gens.iter().zip(files_held(&gens)) {
            rows.push(row(archives, a, g, files));
            json.push(json_of(a, g, files));
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

/// The files each generation holds (its full view, not its delta), from the
/// generations in order in one sweep: a checkpoint holds its entries, a delta the files
/// before it plus the paths it records. `None` where a generation before it in its chain
/// is not readable, so the count is not known.
fn files_held(gens: &[Generation]) -> Vec<Option<u64>> {
    let mut held: Option<(GenerationNo, HashSet<(&str, &str)>)> = None;
    gens.iter()
        .map(|g| {
            let paths = g
                .entries
                .iter()
                .map(|e| (e.source.as_str(), e.path.as_str()));
            held = match (g.kind, held.take()) {
                (logferry::Kind::Full, _) => Some((g.generation, paths.collect())),
                (_, Some((last, mut set))) if last.next() == g.generation => {
                    set.extend(paths);
                    Some((g.generation, set))
                }
                _ => None,
            };
            held.as_ref().map(|(_, set)| set.len() as u64)
        })
        .collect()
}

fn row(archives: &[Config], a: &Config, g: &Generation, files: Option<u64>) -> Vec<String> {
    let r = g.report.clone().unwrap_or_default();
    vec![
        format!("{}{}", label(archives, a), g.generation),
        kind(g).into(),
        to_the_second(g.created_at),
        files.map_or("?".into(), |n| n.to_string()),
        r.files_new.to_string(),
        r.files_changed.to_string(),
        r.files_renamed.to_string(),
        r.files_uploaded.to_string(),
        human_bytes(r.bytes_uploaded),
    ]
}

fn json_of(a: &Config, g: &Generation, files: Option<u64>) -> serde_json::Value {
    serde_json::json!({
        "archive": a.sources.first().map(|s| s.name.clone()),
        "generation": g.generation,
        "kind": kind(g),
        "base": g.base,
        "created_at": g.created_at,
        "files": files,
        "entries": g.entry_count(),
        "expired_versions": g.expiry.as_ref().map(|x| x.count),
        "report": g.report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generation `n` of `kind` recording `paths` of source `app`.
    fn generation(n: u64, kind: &str, paths: &[&str]) -> Generation {
        let entries: Vec<_> = paths
            .iter()
            .map(|p| {
                serde_json::json!({
                    "source": "app", "path": p, "size": 1, "mtime_ns": 0,
                    "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                    "key": format!("data/app/{p}"), "archived_at": "2026-11-21T10:05:00.000Z",
                    "generation": n,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "version": 4, "generation": n, "kind": kind, "base": 1,
            "created_at": "2026-11-21T10:05:00.000Z", "entries": entries,
        }))
        .unwrap()
    }

    #[test]
    fn a_generation_holds_its_checkpoint_and_every_path_since() {
        let gens = [
            generation(1, "full", &["a", "b"]),
            generation(2, "delta", &["c"]),
            // A changed file is still one file.
            generation(3, "delta", &["a", "d"]),
            // Generation 4 is unreadable: what 5 holds is not known, until a checkpoint.
            generation(5, "delta", &["e"]),
            generation(6, "full", &["a", "b", "c", "d", "e", "f"]),
            generation(7, "delta", &["g"]),
        ];
        assert_eq!(
            files_held(&gens),
            [Some(2), Some(3), Some(4), None, Some(6), Some(7)]
        );
    }
}
