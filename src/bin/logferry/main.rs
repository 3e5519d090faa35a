//! The binary edge: parse the command line, load the config, set up logging and signals,
//! run the command (one file each under `commands/`), and turn the outcome into an exit
//! code. Everything shown to a person goes through `output`.

use std::process::ExitCode;

use crate::args::{Cli, Command, Logging, RunArgs};
use clap::Parser;
use clap_verbosity_flag::Verbosity;
use logferry::{check_hostname, system_hostname, Config, LogFormat};

// First: its `out!` and `eprintln!` macros serve the modules declared after it.
#[macro_use]
mod output;
mod alloc;
mod args;
mod commands;
mod progress;

use crate::output::{
    fail, fetch_code, remember_secrets, ScrubbedStderr, EXIT_FETCH_CANNOT_RUN, EXIT_FETCH_USAGE,
    EXIT_USAGE,
};

fn main() -> ExitCode {
    alloc::tune();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // A malformed restore_command must stop recovery, not end it quietly.
        Err(e)
            if e.use_stderr()
                && invoked_subcommand(std::env::args().skip(1)) == Some("fetch".into()) =>
        {
            let _ = e.print();
            return ExitCode::from(EXIT_FETCH_USAGE);
        }
        Err(e) => e.exit(),
    };
    // Like --help, these describe the command line itself: no config, no logging.
    match &cli.command {
        _ if cli.run_once => {}
        Some(Command::Completions(a)) => {
            return ExitCode::from(commands::completions::completions(a))
        }
        Some(Command::Man(a)) => return ExitCode::from(commands::man::man(a)),
        Some(Command::Keygen(a)) => return ExitCode::from(commands::keygen::keygen(a)),
        _ => {}
    }
    let fetch = matches!(cli.command, Some(Command::Fetch(_)));
    if fetch {
        // A panic exits 101, which PostgreSQL would read as "not in the archive".
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            std::process::exit(EXIT_FETCH_CANNOT_RUN.into());
        }));
    }
    // Failures before the command runs, in the command's own terms.
    let early = |code: u8| ExitCode::from(if fetch { fetch_code(code) } else { code });
    let verbosity = cli.verbosity;
    let (command, config) = match prepare(cli) {
        Ok(c) => c,
        Err(code) => return early(code),
    };
    let daemon = matches!(command, Command::Run(RunArgs { once: false, .. }));
    init_logging(&log_filter(daemon, &verbosity), config.log_format);
    // After logging is up, so they follow `log_format`; on stderr, so `archived` and
    // `fetch` (run by PostgreSQL) keep a clean stdout and their exit codes.
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let archives = match config.archives() {
        Ok(a) => a,
        Err(e) => return early(fail(&e)),
    };
    ExitCode::from(dispatch(command, &config, &archives))
}

/// The command to run (`run` when none is named) and the config it runs with (another
/// host's with `--hostname`), or the exit code of why not.
fn prepare(cli: Cli) -> Result<(Command, Config), u8> {
    if cli.run_once && !matches!(cli.command, None | Some(Command::Run(_))) {
        eprintln!("logferry: --run-once only applies to running the agent; drop it or the command");
        return Err(EXIT_USAGE);
    }
    if cli.dry_run && !matches!(cli.command, None | Some(Command::Run(_))) {
        eprintln!("logferry: --dry-run previews a pass: use it with --run-once, or see the command's own options");
        return Err(EXIT_USAGE);
    }
    let command = match cli.command {
        Some(Command::Run(mut a)) => {
            a.once |= cli.run_once;
            a.dry_run |= cli.dry_run;
            Command::Run(a)
        }
        Some(c) => c,
        None => Command::Run(RunArgs {
            once: cli.run_once,
            dry_run: cli.dry_run,
        }),
    };
    if let Command::Run(RunArgs {
        once: false,
        dry_run: true,
    }) = command
    {
        eprintln!(
            "logferry: --dry-run previews one pass; add --run-once (the agent has no dry run)"
        );
        return Err(EXIT_USAGE);
    }
    let mut config = logferry::load_config_as(&cli.config, env_vars(), command.hostname())
        .map_err(|e| fail(&e))?;
    config
        .destination
        .encryption
        .identity_files
        .extend(command.identities().iter().cloned());
    remember_secrets(&config);
    let Some(h) = command.hostname() else {
        return Ok((command, config));
    };
    if let Err(why) = check_hostname(h) {
        eprintln!("logferry: --hostname: {why}; pass the name the other host archives under");
        return Err(EXIT_USAGE);
    }
    let config = config.for_hostname(h).map_err(|e| fail(&e))?;
    Ok((command, config))
}

fn dispatch(command: Command, config: &Config, archives: &[Config]) -> u8 {
    use commands::*;
    let rt = runtime();
    match command {
        Command::CheckConfig(a) => rt.block_on(check_config::check_config(config, archives, &a)),
        Command::Status(a) => status::status(archives, &a),
        Command::Ls(a) => rt.block_on(ls::ls(config, archives, &a)),
        Command::Restore(a) => rt.block_on(restore::run_restore(archives, &a)),
        Command::Fetch(a) => rt.block_on(fetch::run_fetch(archives, &a)),
        Command::Verify(a) => rt.block_on(verify::run_verify(archives, &a)),
        Command::Generations(a) => rt.block_on(generations::run_generations(archives, &a)),
        Command::Hosts(a) => rt.block_on(hosts::run_hosts(archives, &a)),
        Command::Expire(a) => rt.block_on(expire::run_expire(archives, &a)),
        Command::Archived(a) => rt.block_on(archived::run_archived(archives, &a)),
        Command::Run(a) if a.dry_run => rt.block_on(dry_run::dry_run(archives)),
        Command::Run(a) => rt.block_on(run::run(config, archives, a.once)),
        Command::Completions(a) => completions::completions(&a),
        Command::Man(a) => man::man(&a),
        Command::Keygen(a) => keygen::keygen(&a),
        Command::ReEncrypt(a) => rt.block_on(reencrypt::run_re_encrypt(archives, &a)),
    }
}

/// The process environment as text. `std::env::vars()` panics on a variable that is not
/// UTF-8, and the environment is shared with other software: such a variable is skipped,
/// unless it is a `LOGFERRY_*` one, kept lossily so that validation names it.
pub(crate) fn env_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            match v.into_string() {
                Ok(v) => Some((k, v)),
                Err(v) if k.starts_with("LOGFERRY_") => Some((k, v.to_string_lossy().into())),
                Err(_) => None,
            }
        })
        .collect()
}

/// The log filter when RUST_LOG is not set: `-v`/`-q` when given, else info for the
/// agent and warn for the other commands. Debug and trace are for logferry's own lines;
/// its dependencies stay at info (RUST_LOG reaches theirs).
fn log_filter(daemon: bool, verbosity: &Verbosity<Logging>) -> String {
    use clap_verbosity_flag::VerbosityFilter as F;
    match verbosity.filter() {
        _ if !verbosity.is_present() && daemon => "info".into(),
        level @ (F::Debug | F::Trace) => format!("info,logferry={level}"),
        level => level.to_string(),
    }
}

fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbedStderr(Vec::new()))
        // Colour codes only for a person at a terminal, not in journald or PostgreSQL's log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        _ => builder.init(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

/// The subcommand named on a command line that did not parse: the first argument that
/// is neither a global option nor its value.
fn invoked_subcommand(args: impl Iterator<Item = String>) -> Option<String> {
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" | "--config" => {
                args.next();
            }
            s if s.starts_with('-') => {}
            s => return Some(s.to_string()),
        }
    }
    None
}

/// A stable per-host number, so each host keeps its own jitter offset.
pub(crate) fn host_seed() -> u64 {
    logferry::host_seed(&system_hostname().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(args: &[&str]) -> Option<String> {
        invoked_subcommand(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn the_subcommand_of_a_bad_command_line_is_found_past_global_options() {
        assert_eq!(sub(&["--config", "fetch", "ls"]).as_deref(), Some("ls"));
        assert_eq!(
            sub(&["-c", "x.toml", "fetch", "%f"]).as_deref(),
            Some("fetch")
        );
        assert_eq!(sub(&["--config=x.toml", "fetch"]).as_deref(), Some("fetch"));
        assert_eq!(sub(&["--run-once", "--bogus"]), None);
    }

    #[test]
    fn verbose_and_quiet_flags_pick_the_log_filter() {
        let f = |v, q, daemon| log_filter(daemon, &Verbosity::new(v, q));
        assert_eq!(f(0, 0, false), "warn");
        assert_eq!(f(0, 0, true), "info");
        assert_eq!(f(1, 0, false), "info");
        assert_eq!(f(1, 0, true), "info");
        assert_eq!(f(2, 0, false), "info,logferry=debug");
        assert_eq!(f(3, 0, true), "info,logferry=trace");
        assert_eq!(f(5, 0, false), "info,logferry=trace");
        assert_eq!(f(0, 1, true), "error");
        assert_eq!(f(0, 2, false), "off");
    }
}
