//! One pass of the archive: [`worker`] is the only orchestrator and sequences the
//! stages: [`sync`] catches the local state up with the remote, [`scan`] finds closed
//! files, [`diff`] decides what is new, [`files`] hashes each candidate and has
//! [`upload`] store its content, [`commit`] records the next generation and [`publish`]
//! writes its version records; [`cleanup`] then deletes local files archived long
//! enough and [`disk`] measures the sources' filesystems. [`pass`]
//! holds what they share. [`control`] lets the agent steer a running pass; [`leftovers`]
//! cleans what killed passes left; [`slots`] bounds what a pass holds at once; [`hooks`] runs the operator's commands around a pass; [`repair`] re-uploads and re-commits what
//! verification found missing.

pub(crate) mod cleanup;
pub(crate) mod commit;
pub(crate) mod control;
pub(crate) mod diff;
pub(crate) mod disk;
pub(crate) mod encode;
pub(crate) mod files;
pub(crate) mod hooks;
pub(crate) mod leftovers;
pub(crate) mod part_reader;
pub(crate) mod pass;
pub(crate) mod preview;
pub(crate) mod publish;
pub(crate) mod reencrypt;
pub(crate) mod repair;
pub(crate) mod scan;
pub(crate) mod slots;
pub(crate) mod sync;
pub(crate) mod upload;
pub(crate) mod worker;
