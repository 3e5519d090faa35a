//! The read side: restore files from a generation ([`files`]), fetch one file for a
//! `restore_command` (also in [`files`]), verify the archive ([`verify`]), answer
//! whether a file is archived ([`ack`]), and list every version ever archived
//! ([`versions`]), inside the retention window ([`window`]). Never writes to the
//! archive.

pub(crate) mod ack;
pub(crate) mod files;
pub(crate) mod verify;
pub(crate) mod versions;
pub(crate) mod window;
