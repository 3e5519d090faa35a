//! The remote: the destination opened as an `Arc<dyn ObjectStore>` ([`store`]), the one
//! place object keys are built ([`layout`]), reading an object back ([`read_back`]),
//! retries ([`retry`]), the reachability probe ([`probe`]), S3 multipart leftovers
//! ([`multipart`]) and the host prefixes of a shared bucket ([`hosts`]).

pub(crate) mod hosts;
pub(crate) mod layout;
pub(crate) mod multipart;
pub(crate) mod probe;
pub(crate) mod read_back;
pub(crate) mod retry;
pub(crate) mod store;

pub(crate) use layout::{data_key, manifest_key, manifest_prefix, DATA_PREFIX};
pub(crate) use store::{open, s3_builder, Store};
