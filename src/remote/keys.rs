//! Finding an encrypted archive's key on first use: from the state dir's key file; else
//! unwrapped from the destination's `keys/` objects with an identity (a fresh host given
//! one, once); else, on an archiving host whose destination holds no key yet, made and
//! wrapped to every configured set of recipients. A host whose state dir lost the key
//! of an archive that has one is refused with the ways to get it back: a new key would
//! rename every object it writes and split the archive in two.

use std::path::PathBuf;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::crypt_names::{Mapper, KEYS_PREFIX};
use crate::crypt::names::Names;
use crate::crypt::seal::Sealer;
use crate::crypt::stream::crypt_error;
use crate::crypt::{ArchiveKey, CryptError, Identities, Recipients};

/// The store under the layer.
type Store = std::sync::Arc<dyn object_store::ObjectStore>;

/// What a destination's encryption was configured with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Setup {
    /// The destination, as its key file records it.
    pub destination: String,
    /// Every set of recipients some source encrypts to: the archive key is wrapped for
    /// each. Empty on a host that only reads.
    pub recipient_sets: Vec<Recipients>,
    /// The identities given to read content and unwrap the archive key.
    pub identities: Option<Identities>,
    /// The state dir's key file.
    pub key_file: Option<PathBuf>,
    /// Whether content is encrypted to recipients here, so the key may be made and
    /// wrapped; not on a host that only reads, nor when it reads another host's archive.
    pub writes: bool,
}

impl Setup {
    /// Why a host without a key cannot read `key`, and what would let it.
    pub(crate) fn no_key_message(&self, key: &Path) -> String {
        format!(
            "the destination holds an encrypted archive ({key}) and this host has no key for it: pass --identity FILE (or set identity_file in [destination]) with a private key whose public key is one of its age_recipients (see README, Encryption)"
        )
    }

    fn lost_key_message(&self, found: &Path) -> String {
        let file = self
            .key_file
            .as_ref()
            .map_or("the state dir's archive-key.json".to_string(), |p| {
                p.display().to_string()
            });
        format!(
            "the destination holds an encrypted archive (its key is wrapped in {found}) but {file} is missing, so this host cannot name or read what it archived: copy that file from the host that archived (owner-only, mode 600), or run once with --identity FILE (or identity_file) holding a private key of its age_recipients to unwrap it; logferry does not make a new key for an archive that has one"
        )
    }
}

/// The archive key's working parts.
#[derive(Debug)]
pub(crate) struct Unlocked {
    pub mapper: Mapper,
    pub sealer: Sealer,
    pub plain_history: bool,
}

impl Unlocked {
    fn new(key: &ArchiveKey) -> Unlocked {
        Unlocked {
            mapper: Mapper::new(Names::new(key)),
            sealer: Sealer::new(key),
            plain_history: key.plain_history,
        }
    }
}

fn locked(message: String) -> object_store::Error {
    crypt_error(CryptError::Locked { message })
}

/// `keys/archive-<key id>-<recipients' fingerprint>.age`.
fn wrapped_key(key: &ArchiveKey, to: &Recipients) -> Path {
    Path::from_iter([
        KEYS_PREFIX.to_string(),
        format!("archive-{}-{}.age", key.id(), to.fingerprint()),
    ])
}

/// The archive key of the destination, or `None` for an archive that is not encrypted.
pub(crate) async fn unlock(inner: &Store, setup: &Setup) -> object_store::Result<Option<Unlocked>> {
    let mut setup = std::borrow::Cow::Borrowed(setup);
    // The key file of another destination: this host reads that archive (`--hostname`,
    // `hosts`) with an identity, and never makes it a key.
    let mut other = None;
    if let Some(file) = &setup.key_file {
        if let Some((key, dest, wrapped)) = ArchiveKey::read_file(file).map_err(crypt_error)? {
            match dest {
                Some(d) if d != setup.destination => {
                    other = Some(CryptError::KeyFile {
                        path: file.clone(),
                        message: format!(
                            "it is the key of destination {d}, not of {}; give each destination its own state_dir",
                            setup.destination
                        ),
                    });
                    let s = setup.to_mut();
                    s.key_file = None;
                    s.writes = false;
                }
                _ => {
                    wrap_for_all(inner, &setup, &key, wrapped).await?;
                    return Ok(Some(Unlocked::new(&key)));
                }
            }
        }
    }
    let setup = setup.as_ref();
    if setup.recipient_sets.is_empty() && setup.identities.is_none() {
        return Ok(None);
    }
    let prefix = Path::from(KEYS_PREFIX);
    let found: Vec<_> = inner.list(Some(&prefix)).try_collect().await?;
    if let Some(first) = found.first() {
        let Some(ids) = &setup.identities else {
            return Err(locked(match other {
                Some(_) => setup.no_key_message(&first.location),
                None => setup.lost_key_message(&first.location),
            }));
        };
        return unwrap_found(inner, setup, ids, &found).await.map(Some);
    }
    // Content is encrypted here only with names keyed and the catalog sealed: never one
    // without the other.
    match other {
        Some(e) if !setup.recipient_sets.is_empty() => return Err(crypt_error(e)),
        _ => {}
    }
    if setup.recipient_sets.is_empty() || !setup.writes {
        return Ok(None);
    }
    let manifests = super::manifest_prefix();
    let mut listing = inner.list(Some(&manifests));
    let plain_history = futures::StreamExt::next(&mut listing)
        .await
        .transpose()?
        .is_some();
    let key = ArchiveKey::generate(plain_history).map_err(crypt_error)?;
    tracing::info!(key_id = %key.id(), plain_history, "made the archive key of a newly encrypted archive");
    // Kept here before it is wrapped there: a host that stops in between still has it.
    if let Some(file) = &setup.key_file {
        key.write_file(file, &setup.destination, &[])
            .map_err(crypt_error)?;
    }
    wrap_for_all(inner, setup, &key, Vec::new()).await?;
    Ok(Some(Unlocked::new(&key)))
}

/// The archive key unwrapped with `ids` from one of the wrapped keys `found`, kept in
/// the state dir and wrapped for any configured recipients it is not yet wrapped for.
async fn unwrap_found(
    inner: &Store,
    setup: &Setup,
    ids: &Identities,
    found: &[object_store::ObjectMeta],
) -> object_store::Result<Unlocked> {
    let mut reasons = Vec::new();
    for m in found {
        let bytes = inner.get(&m.location).await?.bytes().await?;
        match ids
            .decrypt(m.location.as_ref(), &bytes)
            .map_err(|e| e.to_string())
            .and_then(|plain| {
                ArchiveKey::from_json(&String::from_utf8_lossy(&plain))
                    .map_err(|e| format!("{}: {e}", m.location))
            }) {
            Ok((key, _)) => {
                tracing::info!(key_id = %key.id(), object = %m.location, "unwrapped the archive key with the identity");
                let wrapped: Vec<String> = found
                    .iter()
                    .filter_map(|m| fingerprint_of(&m.location, &key))
                    .collect();
                if let Some(file) = &setup.key_file {
                    key.write_file(file, &setup.destination, &wrapped)
                        .map_err(crypt_error)?;
                }
                wrap_for_all(inner, setup, &key, wrapped).await?;
                return Ok(Unlocked::new(&key));
            }
            Err(e) => reasons.push(e),
        }
    }
    Err(locked(format!(
        "none of the identities given ({}) opens the archive key under keys/: {}",
        ids.files()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        reasons.join("; ")
    )))
}

/// The recipients' fingerprint a wrapped key's name carries, for this key.
fn fingerprint_of(location: &Path, key: &ArchiveKey) -> Option<String> {
    let name = location.filename()?;
    let rest = name.strip_prefix(&format!("archive-{}-", key.id()))?;
    rest.strip_suffix(".age").map(str::to_string)
}

/// Wraps the key for each configured set of recipients it is not yet wrapped for
/// (create-only: a wrapped key is never replaced), and records the sets in the key file.
async fn wrap_for_all(
    inner: &Store,
    setup: &Setup,
    key: &ArchiveKey,
    mut wrapped: Vec<String>,
) -> object_store::Result<()> {
    if !setup.writes {
        return Ok(());
    }
    let mut changed = false;
    for to in &setup.recipient_sets {
        if wrapped.iter().any(|w| w == to.fingerprint()) {
            continue;
        }
        let json = key.to_json(None, &[]);
        let sealed = to
            .encrypt("the archive key", json.as_bytes())
            .map_err(crypt_error)?;
        let at = wrapped_key(key, to);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match inner.put_opts(&at, PutPayload::from(sealed), opts).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        tracing::info!(key_id = %key.id(), recipients = to.fingerprint(), object = %at, "wrapped the archive key for the recipients");
        wrapped.push(to.fingerprint().to_string());
        changed = true;
    }
    if changed {
        if let Some(file) = &setup.key_file {
            key.write_file(file, &setup.destination, &wrapped)
                .map_err(crypt_error)?;
        }
    }
    Ok(())
}
