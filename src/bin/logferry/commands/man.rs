//! `logferry man`: the man page in roff, generated from the command-line definitions
//! (the same text as `--help`), for packagers and hosts without the source tree. Needs no
//! config file.

use clap::CommandFactory;

use crate::args::Cli;
use crate::output::{print_generated, EXIT_OK};

pub(crate) fn man() -> u8 {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .expect("rendering into memory cannot fail");
    print_generated(&page);
    EXIT_OK
}
