//! One pass of the archive: [`worker`] is the only orchestrator and sequences the
//! stages: [`scan`] finds closed files, [`diff`] decides what is new, [`upload`] stores
//! content, and the worker commits the generation. [`control`] lets the agent steer a
//! running pass; [`leftovers`] cleans what killed passes left; [`repair`] re-uploads and
//! re-commits what verification found missing.

pub mod control;
pub mod diff;
pub mod leftovers;
pub mod repair;
pub mod scan;
pub mod upload;
pub mod worker;

pub use control::Control;
pub use worker::run_once;
