//! `logferry ls`: the files an archive holds as of a generation (the latest by default),
//! or with `--all-versions` every content ever archived under each path, as a table that
//! fits a terminal, a table of full values (`--long`) or JSON.

use logferry::{all_versions, human_bytes, no_archive, Config, Entry, Error, Index, Store};

use super::{
    check_source, find_named, holds_source, index_at, open_all, say_failed, say_no_archive,
    to_the_second,
};
use crate::args::LsArgs;
use crate::output::{
    error_text, fail, print_json, print_table, EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_OK,
    EXIT_USAGE,
};

pub(crate) async fn ls(config: &Config, archives: &[Config], args: &LsArgs) -> u8 {
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if args.all_versions {
        return ls_versions(archives, &opened, args).await;
    }
    if let (Some(name), None) = (&args.name, args.generation) {
        return ls_named(archives, &opened, name, args).await;
    }
    let mut indexes = Vec::new();
    let mut code = EXIT_OK;
    for (a, store) in &opened {
        match index_at(a, store, args.generation).await {
            Ok(i) => indexes.push(i),
            // Another archive (with `{source}`) may still list; this one is reported,
            // unless it is the archive of a source not asked for.
            Err(Error::NoArchive { .. }) if !holds_source(a, &args.source) => {}
            Err(e @ Error::NoArchive { .. }) => {
                say_failed(archives, a, &e);
                code = EXIT_CANNOT_RUN;
            }
            Err(e) => return fail(&e),
        }
    }
    if let Some(s) = &args.source {
        if !is_known(config, &indexes, s) {
            let names: Vec<_> = config.sources.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "logferry: no source named `{s}` (configured: {})",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
    }
    print_entries(&indexes, args).max(code)
}

/// A source is known when configured, or when an archive holds files of it (one
/// removed from the config since).
fn is_known(config: &Config, indexes: &[Index], source: &str) -> bool {
    config.sources.iter().any(|c| c.name == source)
        || indexes
            .iter()
            .any(|i| i.entries().any(|e| e.source == source))
}

/// `ls --all-versions`: every version in the window, oldest first per path.
async fn ls_versions(archives: &[Config], opened: &[(Config, Store)], args: &LsArgs) -> u8 {
    let window = match args.window.parse() {
        Ok(w) => w,
        Err(why) => {
            eprintln!("logferry: {why}");
            return EXIT_USAGE;
        }
    };
    let mut versions = Vec::new();
    let mut code = EXIT_OK;
    for (a, store) in opened {
        match all_versions(store).await {
            Ok(Some(v)) => versions.extend(v.into_iter().filter(|e| window.holds(e))),
            // An archive without any generation is reported as plain `ls` reports it.
            Ok(None) => {
                if holds_source(a, &args.source) {
                    say_failed(archives, a, &no_archive(a).await);
                    code = EXIT_CANNOT_RUN;
                }
            }
            Err(e) => return fail(&e),
        }
    }
    let entries: Vec<&Entry> = versions.iter().filter(|e| asked(e, args)).collect();
    print_rows(&entries, args);
    code
}

/// Whether `e` is one of the files `args` asks for (`--source`, `NAME`).
fn asked(e: &Entry, args: &LsArgs) -> bool {
    args.source.as_ref().is_none_or(|s| &e.source == s)
        && args.name.as_ref().is_none_or(|n| e.answers_to(n, None))
}

/// `ls NAME`: the one file, from its version records.
async fn ls_named(
    archives: &[Config],
    opened: &[(Config, Store)],
    name: &str,
    args: &LsArgs,
) -> u8 {
    if let Err(code) = check_source(archives, &args.source) {
        return code;
    }
    let (mut found, mut never, mut empty) = (Vec::new(), None, None);
    for (a, store) in opened.iter().filter(|(a, _)| holds_source(a, &args.source)) {
        match find_named(store, name, args.source.as_deref()).await {
            Ok(Some(e)) => found.push(e),
            Ok(None) => {
                empty.get_or_insert(a);
            }
            Err(e @ Error::NotArchived { .. }) => never = Some(e),
            Err(e @ Error::Ambiguous { .. }) => {
                eprintln!("logferry: {}", error_text(&e));
                return EXIT_USAGE;
            }
            Err(e) => return fail(&e),
        }
    }
    match (found.is_empty(), never, empty) {
        (false, _, _) => {
            print_rows(&found.iter().collect::<Vec<_>>(), args);
            EXIT_OK
        }
        (true, Some(e), _) => {
            eprintln!("logferry: {}", error_text(&e));
            EXIT_FILES_FAILED
        }
        (true, None, Some(a)) => {
            say_no_archive(archives, a).await;
            EXIT_CANNOT_RUN
        }
        (true, None, None) => EXIT_CANNOT_RUN,
    }
}

/// Prints the files asked for; exit 1 when `NAME` is not among them.
fn print_entries(indexes: &[Index], args: &LsArgs) -> u8 {
    let entries: Vec<_> = indexes
        .iter()
        .flat_map(|i| i.entries())
        .filter(|e| asked(e, args))
        .collect();
    let generations: Vec<String> = indexes.iter().map(|i| i.generation().to_string()).collect();
    if let (Some(name), true) = (&args.name, entries.is_empty()) {
        eprintln!(
            "logferry: `{name}` is not archived in generation {}",
            generations.join(", ")
        );
        return EXIT_FILES_FAILED;
    }
    if !args.json && entries.is_empty() && !indexes.is_empty() {
        out!(
            "nothing archived yet (generation {})",
            generations.join(", ")
        );
        return EXIT_OK;
    }
    print_rows(&entries, args);
    EXIT_OK
}

fn print_rows(entries: &[&Entry], args: &LsArgs) {
    if args.json {
        print_json(&entries);
        return;
    }
    if entries.is_empty() {
        return;
    }
    let mut rows = Vec::with_capacity(entries.len() + 1);
    if args.long {
        rows.push(
            ["SOURCE", "PATH", "SIZE", "SHA256", "KEY", "ARCHIVED_AT"]
                .map(String::from)
                .to_vec(),
        );
        rows.extend(entries.iter().map(|e| long_row(e)));
    } else {
        rows.push(
            ["SOURCE", "PATH", "SIZE", "SHA256", "ARCHIVED_AT"]
                .map(String::from)
                .to_vec(),
        );
        rows.extend(entries.iter().map(|e| short_row(e)));
    }
    print_table(&rows);
}

/// Hex digits of the sha256 the table shows: enough to tell contents apart by eye,
/// short enough to fit a terminal (`--long` and `--json` show all 64).
const SHORT_HASH: usize = 12;

/// A row that fits a terminal: human sizes, a short hash, times to the second.
fn short_row(e: &Entry) -> Vec<String> {
    let hash = e.sha256.to_string();
    vec![
        e.source.clone(),
        e.path.clone(),
        human_bytes(e.size),
        hash[..SHORT_HASH.min(hash.len())].to_string(),
        to_the_second(e.archived_at),
    ]
}

/// A row of full values: exact bytes, the whole hash, the object key, milliseconds.
fn long_row(e: &Entry) -> Vec<String> {
    vec![
        e.source.clone(),
        e.path.clone(),
        e.size.to_string(),
        e.sha256.to_string(),
        e.key.clone(),
        e.archived_at.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let text = r#"{"source":"app","path":"a.log.1","size":1536,"mtime_ns":0,
            "sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
            "key":"data/app/a.log.1-2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
            "archived_at":"2026-11-21T10:05:00.123Z","generation":3}"#;
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn the_short_row_fits_a_terminal_and_the_long_one_keeps_every_value() {
        let e = entry();
        assert_eq!(
            short_row(&e),
            [
                "app",
                "a.log.1",
                "1.50 KiB",
                "2d711642b726",
                "2026-11-21T10:05:00Z"
            ]
        );
        let long = long_row(&e);
        assert_eq!(long[2], "1536");
        assert_eq!(long[3], e.sha256.to_string());
        assert_eq!(long[4], e.key);
        assert_eq!(long[5], "2026-11-21T10:05:00.123Z");
    }
}
