//! The remote: the destination opened as an `Arc<dyn ObjectStore>` ([`store`]), the one
//! place object keys are built ([`layout`]), reading an object back ([`read_back`]),
//! retries ([`retry`]), backing off when the store throttles ([`throttle`]), the
//! reachability probe ([`probe`]), S3 multipart leftovers ([`multipart`]), the host
//! prefixes of a shared bucket ([`hosts`]), and deleting an object that S3 Object Lock
//! may keep ([`delete`], with [`lock`] and [`signed`]).

pub(crate) mod bucket_lock;
pub(crate) mod check;
pub(crate) mod crypt_names;
pub(crate) mod crypt_store;
pub(crate) mod delete;
pub(crate) mod hosts;
pub(crate) mod keys;
pub(crate) mod layout;
pub(crate) mod lock;
pub(crate) mod mirror;
pub(crate) mod multipart;
pub(crate) mod probe;
pub(crate) mod read_back;
pub(crate) mod retry;
pub(crate) mod signed;
pub(crate) mod sse;
pub(crate) mod store;
pub(crate) mod throttle;

pub use delete::{delete, Deletion};
pub(crate) use layout::{manifest_key, manifest_prefix, DATA_PREFIX};
pub(crate) use store::{open, s3_builder, Store};
