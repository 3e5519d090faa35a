//! One pass of the archive: [`worker`] is the only orchestrator and sequences the
//! stages: [`sync`] catches the local state up with the remote, [`scan`] finds closed
//! files, [`diff`] decides what is new, [`files`] hashes each candidate and has
//! [`upload`] store its content, and [`commit`] records the next generation. [`pass`]
//! holds what they share. [`control`] lets the agent steer a running pass; [`leftovers`]
//! cleans what killed passes left; [`repair`] re-uploads and re-commits what
//! verification found missing.

pub mod commit;
pub mod control;
pub mod diff;
pub mod files;
pub mod leftovers;
pub mod pass;
pub mod repair;
pub mod scan;
pub mod sync;
pub mod upload;
pub mod worker;

pub use control::Control;
pub use worker::run_once;
