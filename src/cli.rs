//! Command-line types: what an operator can type, and the help that teaches it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;

const AFTER_HELP: &str = "\
Examples:
  logferry --config examples/local-mirror.toml --run-once   archive once and exit
  logferry check-config --config /etc/logferry/logferry.toml
  logferry status
  logferry ls --source app

Exit codes: 0 ok; 1 pass finished with file-level failures; 2 bad usage or config;
3 could not run (destination unreachable, lock held, commit conflict).
Environment: LOGFERRY_<KEY> and LOGFERRY_<SECTION>__<KEY> override config keys
(e.g. LOGFERRY_DESTINATION__URL); RUST_LOG sets log filtering.";

/// Archives closed log files to object storage, incrementally.
///
/// Without a command, runs the agent: a pass at every tick of the configured schedule
/// (or one pass with --run-once).
#[derive(Debug, Parser)]
#[command(name = "logferry", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Config file (TOML); relative paths in it resolve against its directory.
    #[arg(short, long, global = true, value_name = "FILE", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// Run one pass and exit (same as `logferry run --once`).
    #[arg(long)]
    pub run_once: bool,

    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: a pass at every schedule tick, or one pass with --once.
    #[command(
        after_help = "Examples:\n  logferry run --once --config examples/local-mirror.toml\n  logferry run            # until SIGINT/SIGTERM"
    )]
    Run(RunArgs),

    /// Validate the config and print it as logferry understands it, secrets redacted.
    #[command(
        after_help = "Examples:\n  logferry check-config --config examples/local-mirror.toml\n  logferry check-config --probe     # also try write, read, list, delete, conditional create\n\nExit 0 when valid, 2 with a message naming the file and key when not,\n3 when --probe finds the destination unusable."
    )]
    CheckConfig(CheckConfigArgs),

    /// Show the last passes recorded in the state dir.
    #[command(
        after_help = "Examples:\n  logferry status\n  logferry status --json | jq '.[0].files_failed'"
    )]
    Status(StatusArgs),

    /// List archived files from the current manifest generation.
    #[command(after_help = "Examples:\n  logferry ls\n  logferry ls --source app --json")]
    Ls(LsArgs),
}

/// Options of `run`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Run one pass and exit.
    #[arg(long)]
    pub once: bool,
}

/// Options of `check-config`.
#[derive(Debug, Args, Default)]
pub struct CheckConfigArgs {
    /// Connect to the destination and try, on a scratch key under its prefix, every kind
    /// of request a pass makes; one line per check, with the likely fix for a failure.
    #[arg(long)]
    pub probe: bool,
}

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (an array, newest pass first).
    #[arg(long)]
    pub json: bool,

    /// How many passes to show.
    #[arg(short = 'n', long, default_value_t = 10, value_name = "N")]
    pub limit: usize,
}

/// Options of `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only files of this source.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Print JSON (an array of entries).
    #[arg(long)]
    pub json: bool,
}
