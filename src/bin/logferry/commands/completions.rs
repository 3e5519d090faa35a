//! `logferry completions SHELL`: the shell's completion script, generated from the
//! command-line definitions so it never falls behind them. Needs no config file.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::output::{print_generated, EXIT_OK};

pub(crate) fn completions(args: &CompletionsArgs) -> u8 {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "logferry", &mut script);
    print_generated(&script);
    EXIT_OK
}
