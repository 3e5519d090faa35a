//! The destination as an `Arc<dyn ObjectStore>`: everything else in logferry sees only
//! the trait object (and the keys of [`super::layout`]), so a backend is a URL away.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreScheme, RetryConfig};

use object_store::aws::Checksum;
use object_store::client::ReqwestConnector;

use crate::config::{Destination, DestinationUrl, UploadChecksum, CHECKSUM_OPTIONS};
use crate::error::{Error, Result};
use crate::remote::lock::LockAwareConnector;
use crate::remote::throttle::{Limiter, ThrottleConnector};

/// The storage every stage talks to; keys are relative to the destination's prefix.
pub type Store = Arc<dyn ObjectStore>;

/// Opens the destination. A local mirror directory is created when missing. Remote
/// destinations make no request here: a bad endpoint shows on first use (or `--probe`).
pub fn open(dest: &Destination) -> Result<Store> {
    let store = open_observed(dest, None)?;
    encrypted(store, dest)
}

/// The destination as it is stored, without the encryption layer: keyed names, sealed
/// catalog objects and encrypted content as they are. For audits (what can the bucket's
/// owner read?) and tests; passes use [`open`] or [`open_with_limiter`].
pub fn open_raw(dest: &Destination) -> Result<Store> {
    open_observed(dest, None)
}

/// The store behind the encryption layer ([`crate::remote::crypt_store`]): always
/// there, so that an encrypted archive is never read as a plain one.
fn encrypted(store: Store, dest: &Destination) -> Result<Store> {
    let e = &dest.encryption;
    let identities = if e.identity_files.is_empty() {
        None
    } else {
        Some(crate::crypt::Identities::load(&e.identity_files).map_err(Error::Encryption)?)
    };
    let setup = crate::remote::keys::Setup {
        destination: dest.url.to_string(),
        recipient_sets: e.recipient_sets.clone(),
        identities,
        key_file: e.key_file.clone(),
        writes: e.encrypts(),
    };
    Ok(Arc::new(crate::remote::crypt_store::Crypt::new(
        store, setup,
    )))
}

/// Opens the destination with a [`Limiter`] of at most `max_in_flight` requests that
/// every HTTP answer of an S3, Azure or GCS destination feeds (object_store's retries
/// included): a `503`/`429` halves it, successes grow it back. A pass takes a permit per
/// request from it. A local mirror or `memory://` never throttles: its limiter stays at
/// the maximum.
pub fn open_with_limiter(dest: &Destination, max_in_flight: usize) -> Result<(Store, Limiter)> {
    let limiter = Limiter::new(max_in_flight);
    let store = open_observed(dest, Some(&limiter))?;
    Ok((encrypted(store, dest)?, limiter))
}

fn open_observed(dest: &Destination, limiter: Option<&Limiter>) -> Result<Store> {
    match &dest.url {
        DestinationUrl::Memory => Ok(Arc::new(InMemory::new())),
        DestinationUrl::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("create destination directory", dir, e))?;
            let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| Error::Destination {
                url: dest.url.to_string(),
                message: e.to_string(),
            })?;
            Ok(Arc::new(crate::remote::mirror::Mirror::new(fs)))
        }
        DestinationUrl::Remote(url) => open_remote(url, dest, limiter),
    }
}

fn open_remote(url: &url::Url, dest: &Destination, limiter: Option<&Limiter>) -> Result<Store> {
    let fail = |e: object_store::Error| Error::Destination {
        url: dest.url.to_string(),
        message: e.to_string(),
    };
    let (scheme, prefix) = ObjectStoreScheme::parse(url).map_err(|e| Error::Destination {
        url: dest.url.to_string(),
        message: e.to_string(),
    })?;
    let store: Store = match scheme {
        ObjectStoreScheme::AmazonS3 => Arc::new(build_s3(url, dest, limiter).map_err(fail)?),
        ObjectStoreScheme::MicrosoftAzure => {
            Arc::new(build_azure(url, dest, limiter).map_err(fail)?)
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            Arc::new(build_gcs(url, dest, limiter).map_err(fail)?)
        }
        other => {
            return Err(Error::Destination {
                url: dest.url.to_string(),
                message: format!("{other:?} is not a supported destination"),
            })
        }
    };
    if prefix.as_ref().is_empty() {
        Ok(store)
    } else {
        Ok(Arc::new(PrefixStore::new(store, prefix)))
    }
}

fn retry(dest: &Destination) -> RetryConfig {
    RetryConfig {
        max_retries: dest.max_retries,
        retry_timeout: dest.retry_timeout,
        backoff: BackoffConfig::default(),
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// Each builder starts from its provider's standard credential chain (environment,
/// web identity, container and instance metadata), then takes the configured timeouts,
/// then the operator's options, which win; gives the builder (an unknown option returns
/// its error from the enclosing function).
macro_rules! build {
    ($builder:ty, $key:ty, $url:expr, $dest:expr) => {{
        let mut b = <$builder>::from_env()
            .with_url($url.as_str())
            .with_retry(retry($dest))
            .with_config(
                <$key>::Client(ClientConfigKey::ConnectTimeout),
                secs($dest.connect_timeout),
            )
            .with_config(
                <$key>::Client(ClientConfigKey::Timeout),
                secs($dest.request_timeout),
            );
        for (k, v) in &$dest.options {
            let key: $key = k.to_ascii_lowercase().parse()?;
            b = b.with_config(key, v.clone());
        }
        b
    }};
}

/// Gives the builder `$builder` the connector `$inner`, wrapped to feed the limiter
/// when there is one.
macro_rules! connect {
    ($builder:expr, $inner:expr, $limiter:expr) => {
        match $limiter {
            Some(l) => $builder.with_http_connector(ThrottleConnector::new($inner, l.clone())),
            None => $builder.with_http_connector($inner),
        }
    };
}

/// The S3 builder of an `s3://` destination, for the calls `ObjectStore` does not have
/// (listing multipart uploads, the bucket's Object Lock); `None` for other destinations.
/// Uploads carry a SHA-256 checksum unless `destination.checksum = "none"`.
pub fn s3_builder(
    dest: &Destination,
) -> Option<object_store::Result<object_store::aws::AmazonS3Builder>> {
    match &dest.url {
        DestinationUrl::Remote(url) if url.scheme() == "s3" => Some(s3_builder_of(url, dest)),
        _ => None,
    }
}

fn s3_builder_of(
    url: &url::Url,
    dest: &Destination,
) -> object_store::Result<object_store::aws::AmazonS3Builder> {
    let builder = build!(
        object_store::aws::AmazonS3Builder,
        object_store::aws::AmazonS3ConfigKey,
        url,
        dest
    )
    .with_http_connector(LockAwareConnector::default());
    // An `aws_checksum_algorithm` option chooses the algorithm itself, and wins.
    let chosen = dest
        .options
        .keys()
        .any(|k| CHECKSUM_OPTIONS.contains(&k.to_ascii_lowercase().as_str()));
    Ok(match dest.checksum {
        UploadChecksum::Sha256 if !chosen => builder.with_checksum_algorithm(Checksum::SHA256),
        _ => builder,
    })
}

fn build_s3(
    url: &url::Url,
    dest: &Destination,
    limiter: Option<&Limiter>,
) -> object_store::Result<object_store::aws::AmazonS3> {
    let b = s3_builder_of(url, dest)?;
    connect!(b, LockAwareConnector::default(), limiter).build()
}

fn build_azure(
    url: &url::Url,
    dest: &Destination,
    limiter: Option<&Limiter>,
) -> object_store::Result<object_store::azure::MicrosoftAzure> {
    let b = build!(
        object_store::azure::MicrosoftAzureBuilder,
        object_store::azure::AzureConfigKey,
        url,
        dest
    );
    connect!(b, ReqwestConnector::default(), limiter).build()
}

fn build_gcs(
    url: &url::Url,
    dest: &Destination,
    limiter: Option<&Limiter>,
) -> object_store::Result<object_store::gcp::GoogleCloudStorage> {
    let b = build!(
        object_store::gcp::GoogleCloudStorageBuilder,
        object_store::gcp::GoogleConfigKey,
        url,
        dest
    );
    connect!(b, ReqwestConnector::default(), limiter).build()
}
