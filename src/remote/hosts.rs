//! Which hosts have an archive under a `{hostname}` destination URL.
//!
//! A replacement host has another name than the host it replaces, so with `{hostname}`
//! in `destination.url` it looks at an empty prefix. Saying so is not enough: the
//! operator needs the names that do have archives there, found with one LIST (with a
//! delimiter) of the URL's part before the name, and a cheap check of each candidate.

use std::path::Path;

use futures::{stream, StreamExt};

use crate::config::{
    parse_destination_url, Config, Destination, DestinationUrl, HOSTNAME_VAR, SOURCE_VAR,
};
use crate::error::{Error, OtherHosts, Result};
use crate::remote::{self, Store};

/// Candidates checked for a manifest at most; a fleet larger than this is named in part.
const MAX_CHECKED: usize = 64;
/// Candidate checks at once.
const CHECKS_AT_ONCE: usize = 8;

/// The error for a read that found no generation in `archive`, naming its URL and, when
/// the URL is templated, the hosts that do have an archive beside it.
pub async fn no_archive(archive: &Config) -> Error {
    let others = match &archive.destination.hostname_template {
        None => None,
        // A failed listing leaves the list out; the missing archive is the news.
        Some(t) => others(archive, t).await.ok().flatten(),
    };
    Error::NoArchive {
        url: archive.destination.url.to_string(),
        others,
    }
}

/// The hosts with at least one manifest generation under `template` (the URL as
/// written, `{source}` read as the archive's source); `None` when the name is not in a
/// path segment that can be listed (e.g. in the bucket name).
async fn others(archive: &Config, template: &str) -> Result<Option<OtherHosts>> {
    let dest = &archive.destination;
    let base = archive.base_dir.as_path();
    let source = archive.sources.first().map_or("", |s| s.name.as_str());
    let template = template.replace(SOURCE_VAR, source);
    let Some((before, after)) = template.split_once(HOSTNAME_VAR) else {
        return Ok(None);
    };
    // `s3://b/logs/db-{hostname}.x/wal`: list `s3://b/logs/`, keep `db-*.x`.
    let Some(slash) = before.rfind('/') else {
        return Ok(None);
    };
    let (dir, lead) = before.split_at(slash + 1);
    if dir.ends_with("://") {
        return Ok(None);
    }
    let trail = after.split('/').next().unwrap_or("");
    let Ok(dir_url) = parse_destination_url(dir, base) else {
        return Ok(None);
    };
    let listed = dir_url.to_string();
    let Some(parent) = open_existing(dest, dir_url)? else {
        return Ok(Some(OtherHosts {
            listed,
            names: Vec::new(),
            unchecked: 0,
        }));
    };
    let found = parent
        .list_with_delimiter(None)
        .await
        .map_err(|e| Error::store("list", &listed, e))?;
    let mut candidates: Vec<String> = found
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename())
        .filter_map(|seg| {
            let name = seg.strip_prefix(lead)?.strip_suffix(trail)?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect();
    candidates.sort();
    let unchecked = candidates.len().saturating_sub(MAX_CHECKED);
    candidates.truncate(MAX_CHECKED);
    let checks = candidates.into_iter().map(|name| {
        let text = template.replace(HOSTNAME_VAR, &name);
        async move { has_generation(dest, &text, base).await.then_some(name) }
    });
    let mut names: Vec<String> = stream::iter(checks)
        .buffer_unordered(CHECKS_AT_ONCE)
        .filter_map(|n| async move { n })
        .collect()
        .await;
    names.sort();
    Ok(Some(OtherHosts {
        listed,
        names,
        unchecked,
    }))
}

/// The store at `url` with `dest`'s options, or `None` for a local directory that does
/// not exist (opening would create it, and a read creates nothing).
fn open_existing(dest: &Destination, url: DestinationUrl) -> Result<Option<Store>> {
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
    remote::open(&d).map(Some)
}

/// Whether the archive at URL `text` holds a manifest (one LIST request, first page).
async fn has_generation(dest: &Destination, text: &str, base: &Path) -> bool {
    let Ok(url) = parse_destination_url(text, base) else {
        return false;
    };
    let Ok(Some(store)) = open_existing(dest, url) else {
        return false;
    };
    let prefix = remote::manifest_prefix();
    let mut listing = store.list(Some(&prefix));
    let found = listing.next().await;
    matches!(found, Some(Ok(_)))
}
