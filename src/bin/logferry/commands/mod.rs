//! One file per command; here, what several of them share: opening every archive's
//! store, labelling an archive's lines, and finding the generation a read asks for.

pub(crate) mod archived;
pub(crate) mod check_config;
pub(crate) mod completions;
pub(crate) mod daemon;
pub(crate) mod dry_run;
pub(crate) mod expire;
pub(crate) mod fetch;
pub(crate) mod generations;
pub(crate) mod hosts;
pub(crate) mod keygen;
pub(crate) mod ls;
pub(crate) mod man;
pub(crate) mod reencrypt;
pub(crate) mod restore;
pub(crate) mod run;
pub(crate) mod status;
pub(crate) mod verify;

use logferry::{
    find_archived, find_entry, generation_exists, list_generations, load_latest, no_archive,
    open_store, open_with_limiter, Config, Entry, Error, GenerationNo, Index, Limiter, Lookup,
    Result, Store,
};

use crate::output::{error_text, fail, EXIT_USAGE};

/// A time as a table shows it: RFC 3339 to the second, without the milliseconds the
/// manifest keeps (`--long` and `--json` show those).
pub(crate) fn to_the_second(t: logferry::Timestamp) -> String {
    humantime::format_rfc3339_seconds(t.time()).to_string()
}

/// Opens the store of every archive, or says why one cannot be opened.
pub(crate) fn open_all(archives: &[Config]) -> Result<Vec<(Config, Store)>, u8> {
    archives
        .iter()
        .map(|a| {
            open_store(&a.destination)
                .map(|s| (a.clone(), s))
                .map_err(|e| fail(&e))
        })
        .collect()
}

/// Opens the store of every archive for passes, each with its adaptive limit on requests
/// in flight (`requests_in_flight`, fewer while the destination throttles), or says why
/// one cannot be opened.
pub(crate) fn open_for_passes(archives: &[Config]) -> Result<Vec<(Config, Store, Limiter)>, u8> {
    archives
        .iter()
        .map(|a| {
            open_with_limiter(&a.destination, a.requests_in_flight)
                .map(|(s, l)| (a.clone(), s, l))
                .map_err(|e| fail(&e))
        })
        .collect()
}

/// Label for an archive's lines when there are several (`{source}` in the URL).
pub(crate) fn label(archives: &[Config], a: &Config) -> String {
    if archives.len() > 1 {
        format!("[{}] ", a.sources[0].name)
    } else {
        String::new()
    }
}

/// The metrics label of an archive: its source with `{source}` archives, else `main`.
pub(crate) fn archive_name(archives: &[Config], a: &Config) -> String {
    if archives.len() > 1 {
        a.sources[0].name.clone()
    } else {
        "main".to_string()
    }
}

/// `destination URL: ` before a storage error, which names only the key.
pub(crate) fn destination_label(a: &Config, e: &Error) -> String {
    match e {
        Error::Store { .. } => format!("destination {}: ", a.destination.url),
        _ => String::new(),
    }
}

/// Says on stderr that `e` stopped archive `a` (labelled when there are several).
pub(crate) fn say_failed(archives: &[Config], a: &Config, e: &Error) {
    eprintln!("logferry: {}{}", label(archives, a), error_text(e));
}

/// Says on stderr that `a` holds no generation, naming its URL (and other hosts' archives).
pub(crate) async fn say_no_archive(archives: &[Config], a: &Config) {
    eprintln!("logferry: {}{}", label(archives, a), no_archive(a).await);
}

/// Whether archive `a` holds `source` (every archive does when none is asked for).
pub(crate) fn holds_source(a: &Config, source: &Option<String>) -> bool {
    source
        .as_ref()
        .is_none_or(|s| a.sources.iter().any(|c| &c.name == s))
}

/// A `--source` that no archive holds is a usage error naming the configured ones.
pub(crate) fn check_source(archives: &[Config], source: &Option<String>) -> Result<(), u8> {
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

/// The index as of `generation`, or the latest; an archive without any generation is
/// an error naming its URL (and the hosts that have one, with `{hostname}`).
pub(crate) async fn index_at(a: &Config, store: &Store, generation: Option<u64>) -> Result<Index> {
    match generation {
        None => {
            let index = load_latest(store).await?;
            if index.generation().get() == 0 {
                return Err(no_archive(a).await);
            }
            Ok(index)
        }
        Some(g) => {
            let g = GenerationNo(g);
            if !generation_exists(store, g).await? {
                let Some(&last) = list_generations(store, None).await?.last() else {
                    return Err(no_archive(a).await);
                };
                return Err(Error::NotArchived {
                    name: format!("generation {g}"),
                    generation: last.get(),
                });
            }
            logferry::load_kept(store, g).await
        }
    }
}

/// The archived file `name` (its path or file name) of `source` in one archive, from its
/// version records (a listing and a read), or from the whole latest index when the
/// archive has none (written before format 3). `None` when the archive holds no
/// generation; [`Error::NotArchived`] when it never held the file.
pub(crate) async fn find_named(
    store: &Store,
    name: &str,
    source: Option<&str>,
) -> Result<Option<Entry>> {
    match find_archived(store, name, source).await? {
        Lookup::Found(e) => Ok(Some(e)),
        Lookup::NotArchived(g) => Err(Error::NotArchived {
            name: name.to_string(),
            generation: g.get(),
        }),
        _ => {
            let index = load_latest(store).await?;
            if index.generation().get() == 0 {
                return Ok(None);
            }
            find_entry(&index, name, source).cloned().map(Some)
        }
    }
}
