//! `logferry man`: the man page in roff, generated from the command-line definitions
//! (the same text as `--help`), for packagers and hosts without the source tree. Needs no
//! config file.

use clap::CommandFactory;

use crate::args::{Cli, ManArgs};
use crate::output::{print_generated, EXIT_CANNOT_RUN, EXIT_OK};

pub(crate) fn man(args: &ManArgs) -> u8 {
    // `help` is --help, not a page of its own.
    let cmd = Cli::command().disable_help_subcommand(true);
    let Some(dir) = &args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .expect("rendering into memory cannot fail");
        print_generated(&page);
        return EXIT_OK;
    };
    // One page per command, so the SUBCOMMANDS section's logferry-<command>(1) exist.
    let written = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir));
    if let Err(e) = written {
        eprintln!(
            "logferry: cannot write the man pages into {}: {e}",
            dir.display()
        );
        return EXIT_CANNOT_RUN;
    }
    EXIT_OK
}
