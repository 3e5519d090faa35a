//! `logferry re-encrypt`: history encrypted for the recipients configured now. After
//! `age_recipients` change, new content goes to the new set, and what was archived
//! before (as it is, or for an earlier set) stays as it was; this puts each current
//! file's content again, encrypted to its source's recipients, under a key of its own,
//! and commits a generation naming the new objects. Nothing is overwritten: the earlier
//! objects stay until retention expires the generations that name them.
//!
//! One object at a time is read whole (decrypted with the identities given when it was
//! encrypted), checked against its recorded size and sha256, encrypted and put
//! create-only, so an interrupted run leaves only objects the next run adopts.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::archive::control::Control;
use crate::archive::pass::{recipients_for, Pass};
use crate::archive::{publish, sync};
use crate::catalog::db::Select;
use crate::catalog::manifest::Entry;
use crate::catalog::{self, GenerationNo};
use crate::codec::{Compression, Decoder};
use crate::config::Config;
use crate::crypt::Recipients;
use crate::digest::{ContentHash, Hashing};
use crate::error::{Error, Result};
use crate::remote::layout::{content_key, AGE};
use crate::remote::retry::Policy;
use crate::remote::Store;
use crate::report::RunReport;
use crate::state::StateDir;
use crate::time::{Clock, Timestamp};

/// What `re-encrypt` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReEncryptReport {
    /// Files whose content was put again for the current recipients.
    pub re_encrypted: u64,
    /// The bytes the new objects hold (content under several paths is stored once).
    pub bytes: u64,
    /// Files whose object is encrypted for the current recipients already.
    pub current: u64,
    /// Files of sources that do not encrypt (left as they are).
    pub unencrypted_sources: u64,
    /// Files that could not be re-encrypted, with why (an identity missing, say).
    pub failed: Vec<(String, String)>,
    /// The generation committed, when anything was re-encrypted.
    pub generation: Option<GenerationNo>,
}

/// Entries read from the local index per page.
const PAGE: usize = 1000;

/// Re-encrypts every current file's object that is not encrypted for its source's
/// recipients (see the module docs); with `dry_run`, only counts them.
pub async fn re_encrypt(
    config: &Config,
    store: &Store,
    clock: &dyn Clock,
    dry_run: bool,
) -> Result<ReEncryptReport> {
    let state_dir = StateDir::lock(&config.state_dir)?;
    let control = Control::default();
    let p = Pass::new(config, store, clock, &state_dir, &control);
    let known = sync::open_state(&p).await?;
    let index = known.index;
    index.clear_pending()?;
    let generation = index.chain()?.generation.next();
    let at = Timestamp::from(clock.now());
    let mut report = ReEncryptReport::default();
    // Content put again under one path is recorded for its other paths too, as a
    // renamed file's is: stored once.
    let mut stored: std::collections::HashMap<(ContentHash, Compression, String), (Path, u64)> =
        Default::default();
    let mut after = None;
    loop {
        let page = index.page(Select::AllWithPending, after.as_ref(), PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some((last.source.clone(), last.path.clone()));
        let mut moved = Vec::new();
        for e in page {
            let Some(to) = recipients_for(config, &e.source) else {
                report.unencrypted_sources += 1;
                continue;
            };
            if e.key.ends_with(&format!(".{}{AGE}", to.fingerprint())) {
                report.current += 1;
                continue;
            }
            if dry_run {
                report.re_encrypted += 1;
                continue;
            }
            let file = format!("{}/{}", e.source, e.path);
            let same = (e.sha256, e.compression, to.fingerprint().to_string());
            let put = match stored.get(&same) {
                Some((key, size)) => Ok((key.clone(), *size)),
                None => put_again(store, &e, to).await.inspect(|(key, size)| {
                    report.bytes += size;
                    stored.insert(same, (key.clone(), *size));
                }),
            };
            match put {
                Ok((key, size)) => {
                    report.re_encrypted += 1;
                    moved.push(Entry {
                        key: key.to_string(),
                        stored_size: Some(size),
                        archived_at: at,
                        generation,
                        ..e
                    });
                }
                Err(why) => report.failed.push((file, why)),
            }
        }
        index.put_pending(&moved)?;
    }
    if dry_run || report.re_encrypted == 0 {
        index.clear_pending()?;
        return Ok(report);
    }
    report.generation = Some(commit(&p, &index, at, &report).await?);
    Ok(report)
}

/// Commits the pending entries as the next generation, and writes their records.
async fn commit(
    p: &Pass<'_>,
    index: &crate::catalog::db::LocalIndex,
    at: Timestamp,
    report: &ReEncryptReport,
) -> Result<GenerationNo> {
    let policy = Policy::for_destination(&p.config.destination);
    let done = RunReport {
        files_uploaded: report.re_encrypted,
        bytes_uploaded: report.bytes,
        ..RunReport::default()
    };
    let g = catalog::build::next_generation(p.store, index, at, done, false, &policy).await?;
    let landed = catalog::build::land(p.store, &g, &policy).await?;
    catalog::build::settle(index, &g, landed)?;
    publish::records(p, index).await;
    Ok(g.generation)
}

/// Reads `e`'s object, checks it, and puts it encrypted to `to` under its new key;
/// returns the key and the bytes stored.
async fn put_again(
    store: &Store,
    e: &Entry,
    to: &Recipients,
) -> std::result::Result<(Path, u64), String> {
    let old = Path::parse(&e.key).map_err(|err| format!("bad key {}: {err}", e.key))?;
    let stored = async { store.get(&old).await?.bytes().await }
        .await
        .map_err(|err| Error::store("get", &old, err).chain().to_string())?;
    let mut dec = Decoder::new(e.compression, Hashing::new(std::io::sink()))
        .map_err(|err| err.to_string())?;
    dec.write(&stored)
        .map_err(|err| format!("{} does not decode: {err}", e.key))?;
    let (_, size, hash) = dec
        .finish()
        .map(Hashing::finish)
        .map_err(|err| format!("{} does not decode: {err}", e.key))?;
    if (size, hash) != (e.size, e.sha256) {
        return Err(format!(
            "{} does not hold the recorded content; run verify --read-data",
            e.key
        ));
    }
    let key = content_key(
        &e.source,
        &e.path,
        &e.sha256,
        e.compression,
        Some(to.fingerprint()),
    );
    let to = to.clone();
    let sealed =
        tokio::task::spawn_blocking(move || crate::crypt::stream::encrypt_all(&to, &stored))
            .await
            .expect("encrypting task panicked")
            .map_err(|err| err.to_string())?;
    let len = sealed.len() as u64;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match store.put_opts(&key, PutPayload::from(sealed), opts).await {
        Ok(_) => Ok((key, len)),
        // An earlier run's: the keyed name was made from this content, so it is adopted.
        Err(object_store::Error::AlreadyExists { .. }) => {
            let meta = store
                .head(&key)
                .await
                .map_err(|err| Error::store("head", &key, err).chain().to_string())?;
            Ok((key, meta.size))
        }
        Err(err) => Err(Error::store("put", &key, err).chain().to_string()),
    }
}
