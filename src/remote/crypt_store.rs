//! An encrypted archive as an `ObjectStore`: every stage keeps building and reading
//! logical keys ([`super::layout`]) while this wrapper stores them keyed and sealed
//! ([`super::crypt_names`]). Catalog objects are sealed on the way in and opened on the
//! way out; content encrypted to the recipients (the upload stage encrypts it, so it
//! knows each object's stored size) is decrypted as it streams out when an identity was
//! given, and refused with the way to give one when not. The archive key is found on
//! first use ([`super::keys`]). An archive with no encryption configured, no identity
//! and no archive key passes through untouched, but a sealed object in a listing stops
//! it with the reason, rather than reading an encrypted archive as an empty one.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions,
};
use tokio::sync::OnceCell;

use super::crypt_names::{class, Class, SEALED};
use super::keys::{unlock, Setup, Unlocked};
use crate::crypt::stream::{crypt_error, decrypt_stream};
use crate::crypt::CryptError;

/// The store under the layer.
type Store = std::sync::Arc<dyn object_store::ObjectStore>;

/// The destination with encryption applied (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Crypt(Arc<Shared>);

#[derive(Debug)]
pub(crate) struct Shared {
    inner: Store,
    setup: Setup,
    unlocked: OnceCell<Option<Arc<Unlocked>>>,
}

impl std::ops::Deref for Crypt {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::fmt::Display for Crypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The store it wraps: encryption is a layer, not another destination.
        self.inner.fmt(f)
    }
}

impl Crypt {
    pub(crate) fn new(inner: Store, setup: Setup) -> Crypt {
        Crypt(Arc::new(Shared {
            inner,
            setup,
            unlocked: OnceCell::new(),
        }))
    }
}

impl Shared {
    /// The keys for an object at `key`: none needed for a raw one (the probe's scratch
    /// keys, the wrapped archive keys), so touching it never makes or looks for a key.
    async fn keys_for(&self, key: Option<&Path>) -> object_store::Result<Option<Arc<Unlocked>>> {
        if key.is_some_and(super::crypt_names::is_raw) {
            return Ok(None);
        }
        self.keys().await
    }

    async fn keys(&self) -> object_store::Result<Option<Arc<Unlocked>>> {
        self.unlocked
            .get_or_try_init(|| async {
                unlock(&self.inner, &self.setup)
                    .await
                    .map(|u| u.map(Arc::new))
            })
            .await
            .cloned()
    }

    fn locked(&self, what: &str) -> object_store::Error {
        crypt_error(CryptError::Locked {
            message: format!(
                "{what} is encrypted and no identity was given: pass --identity FILE (or set identity_file in [destination]) with a private key whose public key is in age_recipients"
            ),
        })
    }

    fn sealed_without_key(&self, key: &Path) -> object_store::Error {
        crypt_error(CryptError::Locked {
            message: self.setup.no_key_message(key),
        })
    }
}

/// A sealed object's bytes opened into a whole-body result under its logical key.
fn opened(
    mut got_meta: ObjectMeta,
    logical: &Path,
    plain: Vec<u8>,
    rest: GetResultRest,
) -> GetResult {
    let len = plain.len() as u64;
    got_meta.location = logical.clone();
    got_meta.size = len;
    let body = futures::stream::once(async move { Ok(Bytes::from(plain)) }).boxed();
    GetResult {
        payload: GetResultPayload::Stream(body),
        meta: got_meta,
        range: 0..len,
        attributes: rest.0,
        extensions: rest.1,
    }
}

struct GetResultRest(object_store::Attributes, object_store::Extensions);

#[async_trait]
impl ObjectStore for Crypt {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let Some(u) = self.keys_for(Some(location)).await? else {
            return self.inner.put_opts(location, payload, opts).await;
        };
        let stored = u.mapper.stored(location);
        match class(location.as_ref()) {
            Class::Catalog => {
                let plain: Vec<u8> = payload.iter().flat_map(|b| b.iter().copied()).collect();
                let sealed = u
                    .sealer
                    .seal(location.as_ref(), &plain)
                    .map_err(crypt_error)?;
                self.inner
                    .put_opts(&stored, PutPayload::from(sealed), opts)
                    .await
            }
            _ => self.inner.put_opts(&stored, payload, opts).await,
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        match self.keys_for(Some(location)).await? {
            Some(u) if class(location.as_ref()) != Class::Catalog => {
                self.inner
                    .put_multipart_opts(&u.mapper.stored(location), opts)
                    .await
            }
            Some(_) => Err(object_store::Error::NotSupported {
                source: format!("a sealed catalog object ({location}) is put whole").into(),
            }),
            None => self.inner.put_multipart_opts(location, opts).await,
        }
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let Some(u) = self.keys_for(Some(location)).await? else {
            return self.inner.get_opts(location, options).await;
        };
        match class(location.as_ref()) {
            Class::Raw | Class::PlainData => self.inner.get_opts(location, options).await,
            Class::AgeData => {
                let stored = u.mapper.stored(location);
                if options.head {
                    let mut got = self.inner.get_opts(&stored, options).await?;
                    got.meta.location = location.clone();
                    return Ok(got);
                }
                if options.range.is_some() {
                    return Err(object_store::Error::NotSupported {
                        source: "ranged reads of encrypted content".into(),
                    });
                }
                let Some(ids) = self.setup.identities.clone() else {
                    return Err(self.locked(&format!("object {location}")));
                };
                let got = self.inner.get_opts(&stored, options).await?;
                let mut meta = got.meta.clone();
                meta.location = location.clone();
                let range = got.range.clone();
                let (attributes, extensions) = (got.attributes.clone(), got.extensions.clone());
                let body = decrypt_stream(location.to_string(), ids, got.into_stream());
                Ok(GetResult {
                    payload: GetResultPayload::Stream(body),
                    meta,
                    range,
                    attributes,
                    extensions,
                })
            }
            Class::Catalog => {
                let stored = u.mapper.stored(location);
                let got = match self.inner.get_opts(&stored, options.clone()).await {
                    Err(object_store::Error::NotFound { .. }) if u.plain_history => {
                        return self.inner.get_opts(location, options).await;
                    }
                    other => other?,
                };
                if options.head {
                    let mut got = got;
                    got.meta = u.mapper.meta_back(got.meta);
                    return Ok(got);
                }
                let (meta, rest) = (
                    got.meta.clone(),
                    GetResultRest(got.attributes.clone(), got.extensions.clone()),
                );
                let bytes = got.bytes().await?;
                let plain = u
                    .sealer
                    .open(location.as_ref(), &bytes)
                    .map_err(crypt_error)?;
                let plain = match options.range {
                    None => plain,
                    Some(_) => {
                        return Err(object_store::Error::NotSupported {
                            source: "ranged reads of sealed catalog objects".into(),
                        })
                    }
                };
                Ok(opened(meta, location, plain, rest))
            }
        }
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        match self.keys_for(Some(location)).await? {
            None => self.inner.get_ranges(location, ranges).await,
            Some(_)
                if class(location.as_ref()) == Class::Raw
                    || class(location.as_ref()) == Class::PlainData =>
            {
                self.inner.get_ranges(location, ranges).await
            }
            Some(_) => Err(object_store::Error::NotSupported {
                source: "ranged reads of encrypted objects".into(),
            }),
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let me = Arc::clone(&self.0);
        locations
            .and_then(move |logical| {
                let me = Arc::clone(&me);
                async move {
                    let Some(u) = me.keys_for(Some(&logical)).await? else {
                        me.inner.delete(&logical).await?;
                        return Ok(logical);
                    };
                    let stored = u.mapper.stored(&logical);
                    match me.inner.delete(&stored).await {
                        Err(object_store::Error::NotFound { .. }) if stored != logical => {}
                        other => other?,
                    }
                    if stored != logical
                        && class(logical.as_ref()) == Class::Catalog
                        && u.plain_history
                    {
                        match me.inner.delete(&logical).await {
                            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(logical)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_from(prefix, None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_from(prefix, Some(offset.clone()))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let Some(u) = self.keys_for(prefix).await? else {
            let got = self.inner.list_with_delimiter(prefix).await?;
            if let Some(m) = got
                .objects
                .iter()
                .find(|m| m.location.as_ref().ends_with(SEALED))
            {
                return Err(self.sealed_without_key(&m.location));
            }
            return Ok(got);
        };
        let mut out = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
            extensions: Default::default(),
        };
        for p in u.mapper.stored_prefixes(prefix, u.plain_history) {
            let got = self.inner.list_with_delimiter(p.as_ref()).await?;
            out.common_prefixes.extend(
                got.common_prefixes
                    .iter()
                    .map(|c| u.mapper.logical_prefix(c)),
            );
            out.objects
                .extend(got.objects.into_iter().map(|m| u.mapper.meta_back(m)));
        }
        out.common_prefixes.sort();
        out.common_prefixes.dedup();
        Ok(out)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        match self.keys().await? {
            None => self.inner.copy_opts(from, to, options).await,
            Some(u)
                if class(from.as_ref()) == Class::Catalog
                    || class(to.as_ref()) == Class::Catalog =>
            {
                // A sealed object is bound to its key: copied by opening and sealing again.
                let _ = u;
                let bytes = self.get(from).await?.bytes().await?;
                self.put(to, PutPayload::from(bytes)).await.map(|_| ())
            }
            Some(u) => {
                self.inner
                    .copy_opts(&u.mapper.stored(from), &u.mapper.stored(to), options)
                    .await
            }
        }
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        match self.keys().await? {
            None => self.inner.rename_opts(from, to, options).await,
            Some(u)
                if class(from.as_ref()) != Class::Catalog
                    && class(to.as_ref()) != Class::Catalog =>
            {
                self.inner
                    .rename_opts(&u.mapper.stored(from), &u.mapper.stored(to), options)
                    .await
            }
            Some(_) => {
                self.copy(from, to).await?;
                self.delete(from).await
            }
        }
    }
}

impl Crypt {
    /// A listing under logical keys, after `offset` when given.
    fn list_from(
        &self,
        prefix: Option<&Path>,
        offset: Option<Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let me = Arc::clone(&self.0);
        let prefix = prefix.cloned();
        let listing = async move {
            let Some(u) = me.keys_for(prefix.as_ref()).await? else {
                let base = match &offset {
                    Some(o) => me.inner.list_with_offset(prefix.as_ref(), o),
                    None => me.inner.list(prefix.as_ref()),
                };
                return Ok::<_, object_store::Error>(
                    base.map(move |m| {
                        let m = m?;
                        if m.location.as_ref().ends_with(SEALED) {
                            return Err(me.sealed_without_key(&m.location));
                        }
                        Ok(m)
                    })
                    .boxed(),
                );
            };
            let prefixes = u.mapper.stored_prefixes(prefix.as_ref(), u.plain_history);
            let streams: Vec<_> = prefixes
                .into_iter()
                .map(|p| {
                    // A stored offset keeps its order only where no segment is keyed.
                    match (&offset, p == prefix) {
                        (Some(o), true) => me.inner.list_with_offset(p.as_ref(), o),
                        _ => me.inner.list(p.as_ref()),
                    }
                })
                .collect();
            let u2 = Arc::clone(&u);
            Ok(futures::stream::iter(streams)
                .flatten()
                .map_ok(move |m| u2.mapper.meta_back(m))
                .try_filter(move |m| {
                    let keep = offset
                        .as_ref()
                        .is_none_or(|o| m.location.as_ref() > o.as_ref());
                    futures::future::ready(keep)
                })
                .boxed())
        };
        futures::stream::once(listing).try_flatten().boxed()
    }
}
