//! The binary edge: parse the command line, load the config, set up logging and signals,
//! run the library, and turn the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;
use logferry::cli::{Cli, Command, LsArgs, RunArgs, StatusArgs};
use logferry::config::{self, Config};
use logferry::schedule::{self, SystemClock};
use logferry::stats::{self, human_bytes, Outcome};
use logferry::{manifest, store, worker, Error};

/// Everything went as asked.
const EXIT_OK: u8 = 0;
/// A pass finished but some files failed.
const EXIT_FILES_FAILED: u8 = 1;
/// Bad usage or config.
const EXIT_USAGE: u8 = 2;
/// Could not run: destination, lock, commit conflict.
const EXIT_CANNOT_RUN: u8 = 3;

/// `println!` that stops quietly when stdout is closed (`logferry ls | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Some(c) => c,
        None => Command::Run(RunArgs { once: cli.run_once }),
    };
    if cli.run_once && !matches!(command, Command::Run(_)) {
        eprintln!("logferry: --run-once only applies to running the agent; drop it or the command");
        return ExitCode::from(EXIT_USAGE);
    }
    let command = match command {
        Command::Run(mut a) => {
            a.once |= cli.run_once;
            Command::Run(a)
        }
        c => c,
    };
    init_logging(matches!(command, Command::Run(RunArgs { once: false })));

    let config = match config::load(&cli.config, std::env::vars()) {
        Ok(c) => c,
        Err(e) => return ExitCode::from(fail(&e)),
    };
    let code = match command {
        Command::CheckConfig => check_config(&config),
        Command::Status(a) => status(&config, &a),
        Command::Ls(a) => runtime().block_on(ls(&config, &a)),
        Command::Run(a) => runtime().block_on(run(&config, a.once)),
    };
    ExitCode::from(code)
}

fn init_logging(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

fn exit_code(e: &Error) -> u8 {
    if e.is_usage() {
        EXIT_USAGE
    } else {
        EXIT_CANNOT_RUN
    }
}

fn fail(e: &Error) -> u8 {
    eprintln!("logferry: {e}");
    exit_code(e)
}

fn check_config(config: &Config) -> u8 {
    if let Err(e) = store::open(&config.destination) {
        return fail(&e);
    }
    out!("{}", config.to_string().trim_end());
    EXIT_OK
}

async fn run(config: &Config, once: bool) -> u8 {
    let store = match store::open(&config.destination) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if !once {
        tracing::info!(schedule = %config.schedule.text, destination = %config.destination.url, "logferry agent started");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        return match schedule::run_forever(config, &store, &SystemClock, shutdown).await {
            Ok(()) => EXIT_OK,
            Err(e) => fail(&e),
        };
    }
    match worker::run_once(config, &store, &SystemClock).await {
        Ok(report) => {
            out!("{}", report.summary());
            if report.outcome == Outcome::Partial {
                EXIT_FILES_FAILED
            } else {
                EXIT_OK
            }
        }
        Err(e) => fail(&e),
    }
}

fn status(config: &Config, args: &StatusArgs) -> u8 {
    let runs = match stats::read_status(&config.state_dir) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let runs: Vec<_> = runs.into_iter().take(args.limit).collect();
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&runs).expect("reports serialize")
        );
        return EXIT_OK;
    }
    if runs.is_empty() {
        out!(
            "no passes recorded in {} yet; run `logferry --run-once`",
            config.state_dir.display()
        );
        return EXIT_OK;
    }
    let mut rows = vec![[
        "STARTED_AT",
        "OUTCOME",
        "DURATION_MS",
        "SCANNED",
        "NEW",
        "CHANGED",
        "RENAMED",
        "UNCHANGED",
        "UPLOADED",
        "FAILED",
        "READ",
        "UPLOADED_BYTES",
        "GENERATION",
    ]
    .map(String::from)
    .to_vec()];
    for r in &runs {
        let outcome = match r.outcome {
            Outcome::Ok => "ok",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        };
        rows.push(vec![
            r.started_at.clone(),
            outcome.into(),
            r.duration_ms.to_string(),
            r.files_scanned.to_string(),
            r.files_new.to_string(),
            r.files_changed.to_string(),
            r.files_renamed.to_string(),
            r.files_unchanged.to_string(),
            r.files_uploaded.to_string(),
            r.files_failed.to_string(),
            human_bytes(r.bytes_read),
            human_bytes(r.bytes_uploaded),
            match r.generation {
                Some(g) => format!("{g} (committed)"),
                None => r.current_generation.to_string(),
            },
        ]);
    }
    print_table(&rows);
    if let Some(e) = runs.first().and_then(|r| r.error.as_ref()) {
        out!("\nlast pass failed: {e}");
    }
    EXIT_OK
}

async fn ls(config: &Config, args: &LsArgs) -> u8 {
    let store = match store::open(&config.destination) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let index = match manifest::load_latest(&store).await {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    if let Some(s) = &args.source {
        let known =
            config.sources.iter().any(|c| &c.name == s) || index.entries().any(|e| &e.source == s);
        if !known {
            let names: Vec<_> = config.sources.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "logferry: no source named `{s}` (configured: {})",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
    }
    let entries: Vec<_> = index
        .entries()
        .filter(|e| args.source.as_ref().is_none_or(|s| &e.source == s))
        .collect();
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&entries).expect("entries serialize")
        );
        return EXIT_OK;
    }
    if entries.is_empty() {
        out!("nothing archived yet (generation {})", index.generation);
        return EXIT_OK;
    }
    let mut rows = vec![["SOURCE", "PATH", "SIZE", "SHA256", "KEY", "ARCHIVED_AT"]
        .map(String::from)
        .to_vec()];
    for e in entries {
        rows.push(vec![
            e.source.clone(),
            e.path.clone(),
            e.size.to_string(),
            e.sha256.to_string(),
            e.key.clone(),
            e.archived_at.clone(),
        ]);
    }
    print_table(&rows);
    EXIT_OK
}

fn print_table(rows: &[Vec<String>]) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c + 1 == cols {
                    v.clone()
                } else {
                    format!("{v:<w$}", w = widths[c])
                }
            })
            .collect();
        out!("{}", line.join("  "));
    }
}
