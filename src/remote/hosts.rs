//! Which hosts have an archive under a `{hostname}` destination URL.
//!
//! A replacement host has another name than the host it replaces, so with `{hostname}`
//! in `destination.url` it looks at an empty prefix. Saying so is not enough: the
//! operator needs the names that do have archives there, found with one LIST (with a
//! delimiter) of the URL's part before the name, and a cheap check of each candidate.
//! `logferry hosts` walks the same candidates with a check of its own (the newest
//! generation of each), so the listing, its cap and its parallelism live here once.

use std::future::Future;
use std::path::Path;

use futures::{stream, StreamExt};

use crate::config::{
    parse_destination_url, Config, Destination, DestinationUrl, HOSTNAME_VAR, SOURCE_VAR,
};
use crate::error::{Error, OtherHosts, Result};
use crate::remote::{self, Store};

/// Candidates checked for a manifest at most when naming other hosts in an error; a
/// fleet larger than this is named in part.
const MAX_CHECKED: usize = 64;
/// Candidate checks at once.
const CHECKS_AT_ONCE: usize = 8;

/// One host prefix found under a `{hostname}` URL, with what its check found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostPrefix<T> {
    /// The name standing for `{hostname}`.
    pub name: String,
    /// The archive's URL for that name (without credentials).
    pub url: String,
    /// What the check found.
    pub found: T,
}

/// The host prefixes found under a `{hostname}` URL, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostPrefixes<T> {
    /// The URL that was listed (the part before the name), without credentials.
    pub listed: String,
    /// The prefixes checked, sorted by name.
    pub hosts: Vec<HostPrefix<T>>,
    /// Names found past the cap, not checked.
    pub unchecked: usize,
}

/// Why the host prefixes under an archive's URL cannot be listed (a usage matter: the
/// URL is fine for archiving).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unlistable {
    /// `destination.url` has no `{hostname}`.
    NoPlaceholder,
    /// The name is where no listing reaches (the bucket name, the first segment).
    NotInPath,
}

/// The error for a read that found no generation in `archive`, naming its URL and, when
/// the URL is templated, the hosts that do have an archive beside it.
pub async fn no_archive(archive: &Config) -> Error {
    let others = others(archive)
        .await
        .ok()
        .and_then(Result::ok)
        .map(|found| {
            let names = found
                .hosts
                .into_iter()
                .filter(|h| h.found)
                .map(|h| h.name)
                .collect();
            OtherHosts {
                listed: found.listed,
                names,
                unchecked: found.unchecked,
            }
        });
    Error::NoArchive {
        url: archive.destination.url.to_string(),
        others,
    }
}

/// The hosts beside `archive` with whether each holds a manifest generation; a failed
/// listing leaves the list out of the error, the missing archive is the news.
async fn others(archive: &Config) -> Result<std::result::Result<HostPrefixes<bool>, Unlistable>> {
    each_host(archive, MAX_CHECKED, |store| async move {
        match store {
            Some(s) => has_generation(&s).await,
            None => false,
        }
    })
    .await
}

/// Lists the host prefixes under `archive`'s `{hostname}` URL (`{source}` read as the
/// archive's first source) with one LIST with a delimiter, and runs `check` on the
/// store of each of the first `max` names (by name), a few at once. `check` gets
/// `None` for a prefix that cannot be opened. `Ok(Err(_))` says why the URL cannot be
/// listed; `Err` is a failed listing.
pub async fn each_host<T, F, Fut>(
    archive: &Config,
    max: usize,
    check: F,
) -> Result<std::result::Result<HostPrefixes<T>, Unlistable>>
where
    F: Fn(Option<Store>) -> Fut,
    Fut: Future<Output = T>,
{
    let dest = &archive.destination;
    let base = archive.base_dir.as_path();
    let Some(template) = &dest.hostname_template else {
        return Ok(Err(Unlistable::NoPlaceholder));
    };
    let source = archive.sources.first().map_or("", |s| s.name.as_str());
    let template = template.replace(SOURCE_VAR, source);
    let Some(split) = split_template(&template, base) else {
        return Ok(Err(Unlistable::NotInPath));
    };
    let listed = split.dir.to_string();
    // The host prefixes are listed as stored: the listing above the archives reads none.
    let mut names = match open_existing(dest, split.dir, true)? {
        None => Vec::new(),
        Some(parent) => {
            let found = parent
                .list_with_delimiter(None)
                .await
                .map_err(|e| Error::store("list", &listed, e))?;
            names_in(&found.common_prefixes, split.lead, split.trail)
        }
    };
    let unchecked = names.len().saturating_sub(max);
    names.truncate(max);
    let checks = names.into_iter().map(|name| {
        let text = template.replace(HOSTNAME_VAR, &name);
        let url = parse_destination_url(&text, base).ok();
        let shown = url.as_ref().map_or(text.clone(), ToString::to_string);
        let store = url.and_then(|u| open_existing(dest, u, false).ok().flatten());
        let checked = check(store);
        async move {
            HostPrefix {
                name,
                url: shown,
                found: checked.await,
            }
        }
    });
    let mut hosts: Vec<HostPrefix<T>> = stream::iter(checks)
        .buffer_unordered(CHECKS_AT_ONCE)
        .collect()
        .await;
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Ok(HostPrefixes {
        listed,
        hosts,
        unchecked,
    }))
}

/// A `{hostname}` URL cut where the name's path segment starts.
struct Split<'a> {
    /// The URL of the directory holding the hosts' segments.
    dir: DestinationUrl,
    /// What the segment holds before the name.
    lead: &'a str,
    /// What it holds after the name.
    trail: &'a str,
}

/// `s3://b/logs/db-{hostname}.x/wal`: list `s3://b/logs/`, keep `db-*.x`; `None` when
/// the name is not in a path segment that can be listed (e.g. in the bucket name).
fn split_template<'a>(template: &'a str, base: &Path) -> Option<Split<'a>> {
    let (before, after) = template.split_once(HOSTNAME_VAR)?;
    let slash = before.rfind('/')?;
    let (dir, lead) = before.split_at(slash + 1);
    if dir.ends_with("://") {
        return None;
    }
    let trail = after.split('/').next().unwrap_or("");
    let dir = parse_destination_url(dir, base).ok()?;
    Some(Split { dir, lead, trail })
}

/// The host names in the listed segments `prefixes`, sorted.
fn names_in(prefixes: &[object_store::path::Path], lead: &str, trail: &str) -> Vec<String> {
    let mut names: Vec<String> = prefixes
        .iter()
        .filter_map(|p| p.filename())
        .filter_map(|seg| {
            let name = seg.strip_prefix(lead)?.strip_suffix(trail)?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect();
    names.sort();
    names
}

/// The store at `url` with `dest`'s options (`raw`: without the encryption layer), or
/// `None` for a local directory that does not exist (opening would create it, and a
/// read creates nothing).
fn open_existing(dest: &Destination, url: DestinationUrl, raw: bool) -> Result<Option<Store>> {
    if let DestinationUrl::Local(p) = &url {
        if !p.is_dir() {
            return Ok(None);
        }
    }
    if url == DestinationUrl::Memory {
        return Ok(None);
    }
    let mut d = dest.clone();
    d.url = url;
    if raw {
        return remote::store::open_raw(&d).map(Some);
    }
    remote::open(&d).map(Some)
}

/// Whether the archive in `store` holds a manifest (one LIST request, first page); an
/// encrypted one this host holds no key for does (its listing met a sealed manifest).
async fn has_generation(store: &Store) -> bool {
    let prefix = remote::manifest_prefix();
    let mut listing = store.list(Some(&prefix));
    match listing.next().await {
        Some(Ok(_)) => true,
        Some(Err(e)) => matches!(
            Error::store("list", &prefix, e),
            Error::Encryption(crate::crypt::CryptError::Locked { .. })
        ),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_directory_is_the_url_before_the_names_segment() {
        let base = Path::new("/srv");
        let s = split_template("s3://b/logs/db-{hostname}.x/wal", base).unwrap();
        assert_eq!(s.dir.to_string(), "s3://b/logs/");
        assert_eq!((s.lead, s.trail), ("db-", ".x"));
        assert!(split_template("s3://{hostname}/logs", base).is_none());
        assert!(split_template("s3://b/logs", base).is_none());
    }

    #[test]
    fn names_are_the_segments_between_lead_and_trail() {
        let p = |s: &str| object_store::path::Path::from(s);
        let prefixes = [
            p("logs/db-b.x"),
            p("logs/db-a.x"),
            p("logs/web"),
            p("logs/db-.x"),
        ];
        assert_eq!(names_in(&prefixes, "db-", ".x"), ["a", "b"]);
    }
}
