//! The remote: the destination opened as an `Arc<dyn ObjectStore>` ([`store`]), the one
//! place object keys are built ([`layout`]), reading an object back ([`read_back`]),
//! retries ([`retry`]), the reachability probe ([`probe`]), S3 multipart leftovers
//! ([`multipart`]) and the host prefixes of a shared bucket ([`hosts`]).

pub mod hosts;
pub mod layout;
pub mod multipart;
pub mod probe;
pub mod read_back;
pub mod retry;
pub mod store;

pub use layout::{data_key, manifest_key, manifest_prefix, DATA_PREFIX};
pub use store::{open, s3_builder, Store};
