//! The one integration test binary: behaviour through the library against real
//! destinations, and the CLI through the built binary.

mod common;
mod conformance;
mod model;
