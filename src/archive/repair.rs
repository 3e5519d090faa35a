//! `verify --repair`: puts back what `verify` found broken, from what this host still
//! holds. A chain broken by a missing or damaged generation gets a full checkpoint of the
//! good index in the state dir, committed create-only as the next generation, so readers
//! (who load the latest checkpoint and the deltas after it) never read the damaged one.
//! Nothing committed is rewritten: the damaged generation stays, superseded. Missing
//! and corrupt objects are put back from local files that still hold their content.

use crate::remote::retry::Policy;
use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::archive::control::Control;
use crate::archive::upload;
use crate::catalog::audit::{Finding, VerifyReport};
use crate::catalog::{self, GenerationNo};
use crate::codec::Codec;
use crate::config::Config;
use crate::digest::{self, ContentHash};
use crate::error::{Error, Result};
use crate::fsstat::FileId;
use crate::fsstat::{FileStat, ScannedFile};
use crate::remote::Store;
use crate::report::RunReport;
use crate::state::{Seen, StateDir};
use crate::time::{Clock, Timestamp};

/// Commits a full checkpoint from the state dir's index when `report` shows a broken
/// chain, or when the state dir holds generations newer than the archive's newest (its
/// head was deleted); returns the generation committed, or `None` when there is nothing
/// to repair.
pub async fn recommit_checkpoint(
    config: &Config,
    store: &Store,
    report: &VerifyReport,
    clock: &dyn Clock,
) -> Result<Option<GenerationNo>> {
    let state = StateDir::lock(&config.state_dir)?;
    let destination = config.destination.url.to_string();
    let index = state.open_index(&destination)?;
    let local = match index.destination()? {
        Some(d) if d == destination => Some(index.generation()?),
        _ => None,
    };
    let ahead = local.filter(|g| *g > report.newest);
    let broken = report.broken_chain().iter().map(|g| g.generation).min();
    let Some(first) = broken.or(ahead.map(|_| report.newest.next())) else {
        return Ok(None);
    };
    good_index(config, local, report, first)?;
    let policy = Policy::for_destination(&config.destination);
    index.clear_pending()?;
    let at = Timestamp::from(clock.now());
    let g = catalog::build::next_generation(store, &index, at, RunReport::default(), true, &policy)
        .await?;
    let landed = catalog::build::land(store, &g, &policy).await?;
    catalog::build::settle(&index, &g, landed)?;
    Ok(Some(g.generation))
}

/// Whether the index this host last committed or read (at `local`) reaches the
/// archive's newest generation: only then does it hold everything the damaged
/// generations recorded.
fn good_index(
    config: &Config,
    local: Option<GenerationNo>,
    report: &VerifyReport,
    first: GenerationNo,
) -> Result<()> {
    let fail = |message: String| Error::Repair {
        generation: first.get(),
        message,
    };
    let dir = config.state_dir.display();
    let Some(local) = local.filter(|g| *g > GenerationNo(0)) else {
        return Err(fail(format!(
            "the state dir {dir} holds no copy of this archive; run the repair on the host whose agent archives here, with its config and state dir — if none holds one, restore with --generation {} (the last generation before the damage)",
            first.get().saturating_sub(1)
        )));
    };
    if local < report.newest {
        return Err(fail(format!(
            "the state dir {dir} is at generation {local}, the archive at {}: run the repair on the host that committed generation {}",
            report.newest, report.newest
        )));
    }
    Ok(())
}

/// Puts back every missing or corrupt object of `report` whose content a local file
/// still holds: the file at the path a manifest names, or any file the state dir saw
/// with that content. Each file is hashed first and sent through the pass's upload code,
/// which checks the bytes again as they go. Moves what it put back to
/// `report.repaired` and what it could not to `report.not_repaired`, with why.
///
/// An intact object is never overwritten: a missing one is written create-only, and a
/// corrupt one is deleted and written again only after its current bytes were read and
/// found not to hash to the content its key names — the one case where a data key is
/// rewritten, since those bytes are no archived content.
pub async fn reupload_objects(config: &Config, store: &Store, report: &mut VerifyReport) {
    let seen = StateDir::lock(&config.state_dir)
        .map(|s| s.seen())
        .unwrap_or_default();
    let broken: Vec<(Finding, bool)> = report
        .missing
        .drain(..)
        .map(|f| (f, false))
        .chain(report.corrupt.drain(..).map(|f| (f, true)))
        .collect();
    for (f, corrupt) in broken {
        match reupload_one(config, store, &seen, &f, corrupt).await {
            Ok(how) => report.repaired.push(Finding { detail: how, ..f }),
            Err(why) => report.not_repaired.push(Finding { detail: why, ..f }),
        }
    }
}

async fn reupload_one(
    config: &Config,
    store: &Store,
    seen: &std::collections::BTreeMap<FileId, Seen>,
    f: &Finding,
    corrupt: bool,
) -> std::result::Result<String, String> {
    let (Some(sha), Some(size)) = (f.sha256, f.size) else {
        return Err("no content recorded for it".into());
    };
    let Some(file) = local_copy(config, seen, f, sha, size) else {
        return Err(format!(
            "no local file holds its content (sha256 {sha}); restore it from a copy, or accept its loss"
        ));
    };
    let key = Path::parse(&f.key).map_err(|e| format!("bad key: {e}"))?;
    if corrupt {
        // Read again now: only bytes that are not the content may be replaced.
        match crate::remote::read_back::read_hash(store, &f.key, f.compression, &|_| {}).await {
            Ok((_, Some((n, h)))) if (n, h) == (size, sha) => {
                return Ok("intact when read again; left as it is".into())
            }
            // Bytes that do not decrypt are not the content either.
            Ok(_) | Err(crate::remote::read_back::ReadFailure::Damaged(_)) => {}
            Err(e) => return Err(format!("cannot read it to confirm the damage: {e}")),
        }
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store("delete", &key, e).to_string()),
        }
    }
    let codec = config
        .sources
        .iter()
        .find(|s| s.name == file.source)
        .map(|s| s.codec)
        .filter(|c| c.compression == f.compression)
        .unwrap_or(Codec {
            compression: f.compression,
            level: Codec::PLAIN.level,
        });
    let control = Control::default();
    let limits = crate::archive::slots::Limits::for_config(config);
    let to = upload::Target {
        store,
        retry: Policy::for_destination(&config.destination),
        limits: &limits,
    };
    let seal = crate::archive::files::seal_for(
        &key,
        crate::archive::pass::recipients_for(config, &file.source),
    )
    .map_err(|e| e.to_string())?;
    let content = upload::Content {
        key: &key,
        file: &file,
        expected: sha,
        codec,
        seal,
        hashed_at_ns: i64::MIN,
    };
    match upload::store_file(&to, &content, config.part_size, &control).await {
        Ok(_) => Ok(format!("re-uploaded from {}", file.abs.display())),
        Err(e) => Err(format!("upload from {} failed: {e}", file.abs.display())),
    }
}

/// A local file holding `sha`, hash-checked: the manifest's path first, then any file
/// the state dir last saw with that content.
fn local_copy(
    config: &Config,
    seen: &std::collections::BTreeMap<FileId, Seen>,
    f: &Finding,
    sha: ContentHash,
    size: u64,
) -> Option<ScannedFile> {
    let named = f
        .file
        .split_once('/')
        .map(|(s, p)| (s.to_string(), p.to_string()));
    let others = seen
        .iter()
        .filter(|(_, s)| s.sha256 == sha)
        .map(|(id, _)| id.clone());
    named.into_iter().chain(others).find_map(|(source, rel)| {
        let root = &config.sources.iter().find(|s| s.name == source)?.path;
        let abs = root.join(&rel);
        let stat = FileStat::of_path(&abs).ok()?;
        if stat.size != size {
            return None;
        }
        (digest::hash_file(&abs, &stat).ok()? == sha).then_some(ScannedFile {
            source,
            rel,
            abs,
            stat,
        })
    })
}
