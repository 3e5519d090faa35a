//! Command-line types: what an operator can type, and the help that teaches it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use logferry::DEFAULT_CONFIG_PATH;

const AFTER_HELP: &str = "\
Examples:
  logferry --config examples/local-mirror.toml --run-once   archive once and exit
  logferry check-config --config /etc/logferry/logferry.toml
  logferry status
  logferry ls --source app

Exit codes: 0 ok; 1 pass finished with file-level failures; 2 bad usage or config;
3 could not run (destination unreachable, lock held, commit conflict, no archive at
the URL) or skipped (the pre_pass hook failed). fetch has its own, for PostgreSQL: see `logferry fetch --help`.
Environment: LOGFERRY_<KEY> and LOGFERRY_<SECTION>__<KEY> override config keys
(e.g. LOGFERRY_DESTINATION__URL); a LOGFERRY_* variable that names no key is ignored
with a warning. RUST_LOG sets log filtering, and wins over -v/-q.";

const FETCH_HELP: &str = "\
NAME is the archived path or just its file name. DEST appears only once complete
and verified.

Exit codes: PostgreSQL's restore_command reads any code below 126 as \"not in the
archive\" and ends recovery there, so only that answer is below 126:
  0    fetched and verified
  1    NAME was never archived: the archive was read, holds a generation, and has no
       file of that name (the end of the archive, for PostgreSQL)
  201  the archive names NAME, but its object is missing, corrupt or refused
  202  bad usage or config (a bad command line, an ambiguous NAME, an unknown
       --source or --hostname)
  203  could not read: destination unreachable or failing after retries, no archive
       at the URL, DEST not writable
Codes from 126 up stop the recovery (PostgreSQL logs FATAL \"could not restore file\"
after logferry's own message). 126/127 and 128+N are left to the shell, which uses
them for \"not executable\", \"not found\" and \"killed by signal N\".

Examples:
  logferry fetch app.log.3 /tmp/app.log.3
  logferry fetch --hostname db-1 000000010000000000000003 /tmp/seg   # db-1's archive
  restore_command = 'logferry --config /etc/logferry/logferry.toml fetch %f %p'";

const HOSTS_HELP: &str = "\
Lists the URL's part before {hostname} once (one LIST with a delimiter), then reads the
newest generation of each host prefix found, a few at once: one operator sees a fleet
of agents writing one bucket. LAG is now minus the last commit. A prefix without a
readable generation is listed with none and a note saying why.

Exit codes: 0 listed (also when no host has an archive there); 2 destination.url has
no {hostname}, or has it where no listing reaches (the bucket name); 3 the destination
cannot be listed.

Examples:
  logferry hosts
  logferry hosts --json | jq -r '.[] | select(.lag_seconds > 3600) | .host'
  logferry hosts --limit 500   # a fleet of more than 100 hosts";

/// Archives closed log files to object storage, incrementally.
///
/// Without a command, runs the agent: a pass at every tick of the configured schedule
/// (or one pass with --run-once).
#[derive(Debug, Parser)]
#[command(name = "logferry", version = env!("BUILD_VERSION_WITH_COMMIT"), after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Config file (TOML); relative paths in it resolve against its directory.
    #[arg(short, long, global = true, value_name = "FILE", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// Run one pass and exit (same as `logferry run --once`); on a terminal, with a
    /// progress bar on stderr.
    #[arg(long)]
    pub run_once: bool,

    /// With --run-once: show what the pass would upload (files, bytes) and write
    /// nothing (same as `logferry run --once --dry-run`).
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub verbosity: clap_verbosity_flag::Verbosity<Logging>,

    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `-v`/`-q`: a short form of RUST_LOG, counted from `warn` (`-v` info, `-vv` debug,
/// `-vvv` trace, `-q` errors only). Without either, the agent logs at info and the
/// other commands at warn.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Logging;

impl clap_verbosity_flag::LogLevel for Logging {
    fn default_filter() -> clap_verbosity_flag::VerbosityFilter {
        clap_verbosity_flag::VerbosityFilter::Warn
    }
    fn verbose_help() -> Option<&'static str> {
        Some("Log more: -v info, -vv debug, -vvv trace (RUST_LOG, when set, wins)")
    }
    fn quiet_help() -> Option<&'static str> {
        Some("Log errors only (RUST_LOG, when set, wins)")
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the agent: a pass at every schedule tick, or one pass with --once.
    #[command(
        after_help = "Examples:\n  logferry run --once --config examples/local-mirror.toml\n  logferry run --once --dry-run   # what a pass would upload; writes nothing\n  logferry run            # until SIGINT/SIGTERM\n\nWith --once, exit 0 when every pass ended ok, 1 when one finished with file-level\nfailures, 3 when one could not run or was skipped (its [hooks] pre_pass failed).\nWith heartbeat_url set, one GET of it follows the passes (of <url>/fail unless all\nended ok).\n\nWith --dry-run the pass still catches its local index (a cache of the\ndestination's catalog) up with the destination, so that what it shows is what a\npass would do; it holds the state dir while it runs, and exits 3 when an agent\nholds it. It runs no hook and sends no heartbeat."
    )]
    Run(RunArgs),

    /// Validate the config and print it as logferry understands it, secrets redacted,
    /// with the next three pass times.
    #[command(
        after_help = "Examples:\n  logferry check-config --config examples/local-mirror.toml\n  logferry check-config --json | jq -r '.next_passes[]'\n  logferry check-config --probe     # also try write, read, list, delete, conditional create\n\nThe next passes are the schedule's next ticks after now, in its timezone (interval:\ncounted from now), with this host's jitter. A schedule with no future tick is an error.\nExit 0 when valid, 2 with a message naming the file and key (or the LOGFERRY_*\nvariable) when not, 3 when --probe finds the destination unusable."
    )]
    CheckConfig(CheckConfigArgs),

    /// Show the last passes recorded in the state dir, whether an agent is running, and
    /// the archive lag.
    #[command(
        after_help = "Examples:\n  logferry status\n  logferry status --json | jq '.[0].files_failed'\n  logferry status --check --max-lag 1h   # for Nagios, cron or a Kubernetes exec probe\n\nBelow the table: whether an agent holds the state dir now, the last pass that did\nnot fail, the files pending after the last pass and the age of the oldest (the\narchive lag). --json prints the passes only.\n\nWith --check, one line and an exit code: 0 when the last pass did not fail (a\npartial pass counts: its failed files are pending and show in the lag) and the lag\nis within --max-lag; 1 when no pass is recorded, the last pass failed or was\nskipped (its pre_pass hook failed), or the lag exceeds --max-lag; 2 for bad usage\n(a --max-lag that is not a duration)."
    )]
    Status(StatusArgs),

    /// Restore archived files as they were at a generation (default: the latest).
    #[command(
        after_help = "Files land at DIR/<source>/<path>, every byte re-hashed against the manifest,\nmtimes restored. Exit 1 when anything was missing, corrupt, refused or kept;\n3 when no archive is at the URL (with {hostname} in it, the message names the hosts\nthat have one; --hostname NAME reads theirs).\n\nExamples:\n  logferry restore --to /srv/restore\n  logferry restore --to /srv/restore --hostname db-1   # a replacement host reads db-1's\n  logferry restore --to /srv/restore --source app --include '*.log.2*'\n  logferry restore --to /srv/restore --at '2026-11-21T10:00:00Z' --dry-run\n  logferry restore --to /srv/nov3 --all-versions --since 2026-11-03T00:00:00Z --until 2026-11-04T00:00:00Z\n\nWith --all-versions every content ever archived under a path comes back: the current\none under the path, each older one beside it as <path>@<archived_at>."
    )]
    Restore(RestoreArgs),

    /// Fetch one archived file by name into DEST (for PostgreSQL's restore_command).
    #[command(
        after_help = FETCH_HELP
    )]
    Fetch(FetchArgs),

    /// Exit 0 once NAME is archived as it is now (for PostgreSQL's archive_command).
    #[command(
        after_help = "Answers from local state only: no network on the happy path. With --wait it asks\nthe running agent for a pass now (SIGUSR1), or runs one itself when no agent holds\nthe state dir, and waits for the commit. Exit 0 archived, 1 not (yet).\n\nExamples:\n  logferry archived 000000010000000000000003\n  archive_command = 'logferry --config /etc/logferry/logferry.toml archived --wait 60s %f'"
    )]
    Archived(ArchivedArgs),

    /// Check that every archived object exists (and, with --read-data, is intact).
    #[command(
        after_help = "Reports missing and corrupt objects, missing and damaged generations (exit 1 when\nany), and orphans left by interrupted passes (exit 0 when only these); exit 3 when no\narchive is at the URL. With --hostname, --read-data=PERCENT starts at the beginning: the\nrolling position in the state dir is kept for this host's own archive only.\n\n--repair (on the host whose agent archives here, agent stopped): a missing or damaged\ngeneration that breaks the chain gets a full checkpoint from the state dir's good copy,\ncommitted as the next generation; readers then skip the damaged one.\n--prune-orphans deletes orphans older than --grace (default 24h), holding the state dir.\n\nExamples:\n  logferry verify                   # existence and size, from one listing\n  logferry verify --read-data       # download and re-hash everything\n  logferry verify --read-data=10    # a rolling 10%: ten runs cover the archive\n  logferry verify --repair          # put back what this host still holds\n  logferry verify --prune-orphans   # delete orphans older than a day"
    )]
    Verify(VerifyArgs),

    /// Remove the archived versions the [retention] rules let go, now.
    #[command(
        after_help = "A version expires once every rule of its source lets it go (keep_for: archived\nlonger ago; keep_base_backups: WAL older than the N newest base backups need) and it is\nnot the current content of a file still in its source. Expiry commits a checkpoint\nsaying what it took out (create-only, like a pass: a writer that commits first wins\nand nothing is deleted), then deletes those objects, orphans and manifests older than\nthe window. Nothing younger than retention.grace (default 24h) is deleted. Exit 0 when\ndone, 3 when the archive cannot be read or a generation is missing or damaged.\n\nExamples:\n  logferry expire --dry-run\n  logferry expire\n  logferry expire --before 2026-09-01T00:00:00Z --json"
    )]
    Expire(ExpireArgs),

    /// List committed manifest generations with their time and pass stats.
    #[command(
        after_help = "FILES is every file the archive holds as of the generation (not only what its pass\nrecorded; ? when an earlier generation of its chain cannot be read); NEW, CHANGED and\nRENAMED are what its pass recorded. Exit 1 when a generation is missing or damaged\n(said on stderr, the others listed), 3 when no archive is at the URL.\n\nExamples:\n  logferry generations\n  logferry generations --json --hostname db-1"
    )]
    Generations(GenerationsArgs),

    /// Print the shell completion script for SHELL on stdout.
    #[command(
        after_help = "Needs no config file.\n\nExamples:\n  logferry completions bash > /etc/bash_completion.d/logferry\n  logferry completions zsh > \"${fpath[1]}/_logferry\"\n  logferry completions fish > ~/.config/fish/completions/logferry.fish"
    )]
    Completions(CompletionsArgs),

    /// Put archived content again, encrypted to the age_recipients configured now, and
    /// commit a generation naming the new objects (after the recipients changed, or
    /// encryption was turned on).
    #[command(
        after_help = "Run it on the host that archives (it holds the state dir, as a pass does). Objects
encrypted for earlier recipients are read with --identity; plain ones need none. Each
file's content is checked against its recorded sha256 before it is put again. The
earlier objects stay until retention expires the generations that name them.
Exit 0 when every file is done, 1 when some could not be (each is named), 3 when it
could not run.

Examples:
  logferry re-encrypt --dry-run                  # how many files would be put again
  logferry re-encrypt --identity /etc/logferry/old-identity.txt"
    )]
    ReEncrypt(ReEncryptArgs),

    /// Make an age key pair for encryption: the private key (identity) into FILE, owner-
    /// only, and its public key on stdout, for age_recipients.
    #[command(
        after_help = "Needs no config file. Keep FILE on the hosts that restore, never on the hosts that
archive: they need only the public key. The file is the same format age-keygen writes.

Examples:
  logferry keygen --output /etc/logferry/identity.txt
  age_recipients = [\"age1…\"]   # the printed line, in [destination]"
    )]
    Keygen(KeygenArgs),

    /// Print the man page (roff) on stdout, or write one page per command into DIR.
    #[command(
        after_help = "Needs no config file.\n\nExamples:\n  logferry man > /usr/local/share/man/man1/logferry.1\n  logferry man | man -l -\n  logferry man --dir /usr/local/share/man/man1   # logferry.1, logferry-restore.1, ..."
    )]
    Man(ManArgs),

    /// List archived files from the current manifest generation.
    #[command(
        after_help = "The table fits a terminal: sizes in KiB/MiB, sha256 cut to 12 hex digits, times to\nthe second. --long shows full values and the object key; --json always does.\nExit 1 when NAME is not archived, 3 when no archive is at the URL.\n\nExamples:\n  logferry ls\n  logferry ls --long\n  logferry ls --source app --json\n  logferry ls --hostname db-1   # another host's archive, with {hostname} in the URL\n  logferry ls --all-versions --since 2026-11-03T00:00:00Z   # every content since then"
    )]
    Ls(LsArgs),

    /// List the hosts archiving under a {hostname} destination URL, with each one's last
    /// generation, commit time and lag.
    #[command(after_help = HOSTS_HELP)]
    Hosts(HostsArgs),
}

impl Command {
    /// The identity files a read command is given (`--identity`).
    pub(crate) fn identities(&self) -> &[std::path::PathBuf] {
        let host = match self {
            Command::Restore(a) => &a.host,
            Command::Fetch(a) => &a.host,
            Command::Verify(a) => &a.host,
            Command::Generations(a) => &a.host,
            Command::Ls(a) => &a.host,
            Command::ReEncrypt(a) => return &a.identity,
            _ => return &[],
        };
        &host.identity
    }

    /// The host whose archive a read command is asked to read (`--hostname`).
    pub(crate) fn hostname(&self) -> Option<&str> {
        let host = match self {
            Command::Restore(a) => &a.host,
            Command::Fetch(a) => &a.host,
            Command::Verify(a) => &a.host,
            Command::Generations(a) => &a.host,
            Command::Ls(a) => &a.host,
            _ => return None,
        };
        host.hostname.as_deref()
    }
}

/// `--hostname`, shared by the commands that read the archive.
#[derive(Debug, Args, Default)]
pub(crate) struct HostArgs {
    /// Read the archive of host NAME instead of this host's: NAME stands for {hostname}
    /// in destination.url (a replacement host reading the one it replaces).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Read an encrypted archive with this private key: an age identity file
    /// (`age-keygen -o FILE`) or an unencrypted OpenSSH key whose public key is in
    /// age_recipients. Only its owner may read it (chmod 600). Repeat for several keys;
    /// adds to identity_file in [destination].
    #[arg(long, value_name = "FILE")]
    pub identity: Vec<std::path::PathBuf>,
}

/// Options of `re-encrypt`.
#[derive(Debug, Args)]
pub(crate) struct ReEncryptArgs {
    /// Count what would be put again; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A private key that opens objects encrypted for earlier recipients (repeatable).
    #[arg(long, value_name = "FILE")]
    pub identity: Vec<std::path::PathBuf>,
}

/// Options of `keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (created, mode 600; an existing file is left alone).
    #[arg(long, short, value_name = "FILE")]
    pub output: std::path::PathBuf,
}

/// Options of `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write logferry.1 and a logferry-<command>.1 for every command into DIR (created
    /// if missing) instead of printing logferry.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Options of `run`.
#[derive(Debug, Args, Default)]
pub(crate) struct RunArgs {
    /// Run one pass and exit; on a terminal, a progress bar on stderr shows files and
    /// bytes done, the rate and the time left.
    #[arg(long)]
    pub once: bool,

    /// With --once: show what the pass would upload, one line per file and a summary,
    /// and write nothing: no upload, no commit, no status entry, no local deletion.
    #[arg(long)]
    pub dry_run: bool,
}

/// Options of `check-config`.
#[derive(Debug, Args, Default)]
pub(crate) struct CheckConfigArgs {
    /// Connect to the destination and try, on a scratch key under its prefix, every kind
    /// of request a pass makes; one line per check, with the likely fix for a failure.
    #[arg(long)]
    pub probe: bool,

    /// Print JSON: the effective config (secrets redacted) with `next_passes` (RFC 3339),
    /// and `probe` results with --probe.
    #[arg(long)]
    pub json: bool,
}

/// Options of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print JSON (an array, newest pass first).
    #[arg(long)]
    pub json: bool,

    /// How many passes to show.
    #[arg(short = 'n', long, default_value_t = 10, value_name = "N")]
    pub limit: usize,

    /// Print one line and exit 1 when no pass is recorded, the last pass failed, or the
    /// lag exceeds --max-lag.
    #[arg(long, conflicts_with = "json")]
    pub check: bool,

    /// With --check: the longest archive lag (age of the oldest pending file) that is
    /// still ok, e.g. 30m or 1h.
    #[arg(long, value_name = "DURATION", requires = "check", value_parser = humantime::parse_duration)]
    pub max_lag: Option<std::time::Duration>,
}

/// Options of `generations`.
#[derive(Debug, Args)]
pub(crate) struct GenerationsArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub host: HostArgs,
}

/// Options of `expire`.
#[derive(Debug, Args)]
pub(crate) struct ExpireArgs {
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Versions archived before TIME (RFC 3339) expire, whatever keep_for says.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// Only the file with this path or file name (without --generation, --at or
    /// --all-versions: found from its version records, in three requests however old the
    /// archive).
    pub name: Option<String>,
    /// Directory to restore into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Only files of this source.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Only paths matching this glob (repeatable; gitignore rules).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Restore as of this generation.
    #[arg(long, value_name = "N", conflicts_with_all = ["at", "all_versions"])]
    pub generation: Option<u64>,
    /// Restore as of this time (RFC 3339, e.g. 2026-11-21T10:00:00Z): the newest
    /// generation committed by then.
    #[arg(long, value_name = "TIME", conflicts_with = "all_versions")]
    pub at: Option<String>,
    /// Restore every content ever archived under each path: the current one under its
    /// path, each older one beside it as `<path>@<archived_at>` (e.g.
    /// `app.log.1@2026-11-03T10:05:00.000Z`).
    #[arg(long)]
    pub all_versions: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub window: WindowArgs,
    /// Replace existing files whose content differs.
    #[arg(long)]
    pub force: bool,
    /// Say what would be restored; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub host: HostArgs,
}

/// The time window of `--all-versions`.
#[derive(Debug, Args)]
pub(crate) struct WindowArgs {
    /// With --all-versions: only versions archived at or after this time (RFC 3339,
    /// e.g. 2026-11-03T00:00:00Z).
    #[arg(long, value_name = "TIME", requires = "all_versions")]
    pub since: Option<String>,
    /// With --all-versions: only versions archived before this time (RFC 3339).
    #[arg(long, value_name = "TIME", requires = "all_versions")]
    pub until: Option<String>,
}

impl WindowArgs {
    /// The window, or a usage error naming the flag.
    pub(crate) fn parse(&self) -> Result<logferry::Window, String> {
        let time = |flag: &str, t: &Option<String>| match t {
            None => Ok(None),
            Some(t) => humantime::parse_rfc3339_weak(t)
                .map(Some)
                .map_err(|e| format!("--{flag} `{t}`: {e}; write e.g. 2026-11-03T00:00:00Z")),
        };
        let mut w = logferry::Window::default();
        w.since = time("since", &self.since)?;
        w.until = time("until", &self.until)?;
        if let (Some(s), Some(u)) = (w.since, w.until) {
            if u <= s {
                return Err("--until must be later than --since".into());
            }
        }
        Ok(w)
    }
}

/// Options of `archived`.
#[derive(Debug, Args)]
pub(crate) struct ArchivedArgs {
    /// File name (or path relative to its source).
    pub name: String,
    /// Wait up to this long (e.g. 60s), nudging a pass, instead of answering at once.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
}

/// Options of `fetch`.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Archived path or file name.
    pub name: String,
    /// Where to write it.
    pub dest: PathBuf,
    /// Only look in this source.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub host: HostArgs,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Download and re-hash objects: all, or =PERCENT of them per run, continuing where
    /// the previous run stopped.
    #[arg(long, value_name = "PERCENT", num_args = 0..=1, require_equals = true, default_missing_value = "100", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub read_data: Option<u8>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
    /// Repair what was found: commit a full checkpoint from the state dir's good copy
    /// when a generation breaks the chain, and re-upload missing or corrupt objects
    /// whose content a local file still holds (hash-checked).
    #[arg(long, conflicts_with = "hostname")]
    pub repair: bool,
    /// Delete orphans (objects no generation names, left by interrupted passes) older
    /// than --grace; never while a generation is missing or damaged.
    #[arg(long, conflicts_with = "hostname")]
    pub prune_orphans: bool,
    /// How old an orphan must be for --prune-orphans: longer than any pass, so an
    /// upload in flight is never deleted.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = logferry::parse_grace)]
    pub grace: std::time::Duration,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub host: HostArgs,
}

/// Options of `hosts`.
#[derive(Debug, Args)]
pub(crate) struct HostsArgs {
    /// Print JSON (an array, one object per host prefix).
    #[arg(long)]
    pub json: bool,
    /// Read at most N host prefixes (the first N by name); the others are counted on
    /// stderr, not read.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
}

/// Options of `ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Only the file with this path or file name (without --generation or
    /// --all-versions: found from its version records, in two requests however old the
    /// archive).
    pub name: Option<String>,
    /// List this generation instead of the latest.
    #[arg(long, value_name = "N", conflicts_with = "all_versions")]
    pub generation: Option<u64>,
    /// Only files of this source.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// List every content ever archived under each path (rotated names take new content
    /// at every rotation), oldest first, not only the current one.
    #[arg(long)]
    pub all_versions: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub window: WindowArgs,

    /// Show full values: exact sizes in bytes, the whole sha256, the object key and
    /// times to the millisecond.
    #[arg(long, conflicts_with = "json")]
    pub long: bool,

    /// Print JSON (an array of entries, full values).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub host: HostArgs,
}
