//! `logferry fetch`: one archived file to a path, verified; PostgreSQL's
//! restore_command, so every exit but 0 and 1 ("never archived", from an archive that
//! was read and holds a generation) is above 125 (see `EXIT_FETCH_*`).

use logferry::{download_verified, no_archive, Config, Error, FileResult};

use super::{check_source, destination_label, find_named, holds_source, open_all};
use crate::args::FetchArgs;
use crate::output::{
    error_text, exit_code, fetch_code, EXIT_FETCH_CANNOT_RUN, EXIT_FETCH_OBJECT, EXIT_FETCH_USAGE,
    EXIT_FILES_FAILED, EXIT_OK,
};

pub(crate) async fn run_fetch(archives: &[Config], args: &FetchArgs) -> u8 {
    if check_source(archives, &args.source).is_err() {
        return EXIT_FETCH_USAGE;
    }
    let opened = match open_all(archives) {
        Ok(o) => o,
        Err(code) => return fetch_code(code),
    };
    let mut not_found = None;
    let mut empty = None;
    for (a, store) in opened.iter().filter(|(a, _)| holds_source(a, &args.source)) {
        let entry = match find_named(store, &args.name, args.source.as_deref()).await {
            Ok(Some(e)) => e,
            Ok(None) => {
                empty.get_or_insert(a);
                continue;
            }
            Err(e @ Error::Ambiguous { .. }) => {
                eprintln!("logferry: fetch: {}", error_text(&e));
                return EXIT_FETCH_USAGE;
            }
            Err(e @ Error::NotArchived { .. }) => {
                not_found = Some(e);
                continue;
            }
            Err(e) => {
                eprintln!(
                    "logferry: fetch {}: {}{}",
                    args.name,
                    destination_label(a, &e),
                    error_text(&e)
                );
                return fetch_code(exit_code(&e));
            }
        };
        let entry = &entry;
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
    not_fetched(args, not_found, empty).await
}

/// Why nothing was fetched: never archived (1), or no archive to read at all.
async fn not_fetched(args: &FetchArgs, not_found: Option<Error>, empty: Option<&Config>) -> u8 {
    match (not_found, empty) {
        (Some(e), _) => {
            eprintln!("logferry: fetch: {}", error_text(&e));
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
