//! Everything the binary shows a person: stdout and stderr lines scrubbed of the
//! destination's secrets, errors with their causes, tables, progress bars, and the exit
//! codes. The commands print only through here, so no secret and no repeated cause can
//! slip past one of them.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use logferry::{scrub_secrets, Config, Error};

/// Everything went as asked.
pub(crate) const EXIT_OK: u8 = 0;
/// A pass finished but some files failed.
pub(crate) const EXIT_FILES_FAILED: u8 = 1;
/// Bad usage or config.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Could not run: destination, lock, commit conflict, or the pass was skipped (its
/// `pre_pass` hook failed).
pub(crate) const EXIT_CANNOT_RUN: u8 = 3;
/// Stopped by a second SIGTERM/SIGINT before the running pass ended.
pub(crate) const EXIT_KILLED: u8 = 130;

// `fetch` is PostgreSQL's restore_command, which reads every exit code below 126 as "not
// in the archive" and ends recovery there. So `fetch` exits 1 only for a name never
// archived in an archive that exists, and adds 200 to every other failure: above 125
// (fatal to PostgreSQL), clear of 126/127 (a shell's "not executable"/"not found") and of
// 128+N (a shell's "killed by signal N").
/// `fetch`: the archive names the file, but its object is missing, corrupt or refused.
pub(crate) const EXIT_FETCH_OBJECT: u8 = 201;
/// `fetch`: bad usage or config.
pub(crate) const EXIT_FETCH_USAGE: u8 = 202;
/// `fetch`: could not read the archive (destination, no archive there, local write).
pub(crate) const EXIT_FETCH_CANNOT_RUN: u8 = 203;

/// `println!` that stops quietly when stdout is closed (`logferry ls | head`), with the
/// destination's secrets scrubbed (see [`scrub`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = $crate::output::scrub(&format!($($arg)*));
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }};
}

/// Every line this binary writes to stderr goes through [`scrub`]: the messages of
/// object_store and its HTTP client quote request URLs and endpoints, which may hold a
/// password. Shadows the standard macro for this file and the modules declared after it.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        std::eprintln!("{}", $crate::output::scrub(&format!($($arg)*)))
    }};
}

/// The secrets of every loaded destination, scrubbed from everything printed.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Adds the secrets of `config`'s destination and heartbeat URL to those scrubbed from
/// output.
pub(crate) fn remember_secrets(config: &Config) {
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    let heartbeat = config.heartbeat.iter().flat_map(|h| h.secrets());
    for s in config.destination.secrets().into_iter().chain(heartbeat) {
        if !all.contains(&s) {
            all.push(s);
        }
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every known secret replaced by `<redacted>`.
pub(crate) fn scrub(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    scrub_secrets(text, &secrets)
}

/// Log lines reach stderr through [`scrub`], one event at a time.
pub(crate) struct ScrubbedStderr(pub Vec<u8>);

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedStderr {
    fn drop(&mut self) {
        let text = scrub(&String::from_utf8_lossy(&self.0));
        let write = || {
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
        };
        // A log line goes above the bar on screen, not through it.
        let bar = SHOWN.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) if !bar.is_finished() => bar.suspend(write),
            _ => write(),
        }
    }
}

/// `e` as a person reads it: its message, then each cause once (`msg: cause: cause…`).
pub(crate) fn error_text(e: &Error) -> String {
    e.chain().to_string()
}

/// A failure code of the other commands as `fetch` exits with it (see `EXIT_FETCH_*`).
pub(crate) fn fetch_code(code: u8) -> u8 {
    match code {
        EXIT_OK => EXIT_OK,
        EXIT_USAGE => EXIT_FETCH_USAGE,
        EXIT_FILES_FAILED => EXIT_FETCH_OBJECT,
        c if c > 125 => c,
        _ => EXIT_FETCH_CANNOT_RUN,
    }
}

pub(crate) fn exit_code(e: &Error) -> u8 {
    if e.is_usage() {
        EXIT_USAGE
    } else if matches!(e, Error::OutsideRetention { .. }) {
        // Nothing is wrong: what was asked for is no longer kept, as promised.
        EXIT_FILES_FAILED
    } else {
        EXIT_CANNOT_RUN
    }
}

/// Says what went wrong on stderr and returns the exit code for it.
pub(crate) fn fail(e: &Error) -> u8 {
    eprintln!("logferry: {}", error_text(e));
    exit_code(e)
}

/// Rows as columns padded to their widest cell; the last column is not padded.
pub(crate) fn print_table(rows: &[Vec<String>]) {
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
        out!("{}", line.join("  ").trim_end());
    }
}

/// The bar on screen, if any, so that log lines are written above it.
static SHOWN: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// How a byte-count bar looks: what it does (its prefix), how far, how fast, how long.
pub(crate) fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {percent:>3}% {bytes_per_sec} eta {eta}",
    )
    .expect("static template")
    .progress_chars("=> ")
}

/// A byte-count progress bar on stderr, saying `what` it counts, when stderr is a
/// terminal; hidden otherwise and with JSON output. The caller finishes it (leaving its
/// last state on screen) before printing what came of the work.
pub(crate) fn progress_bar(what: &str, total: u64, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total)
        .with_style(bytes_style())
        .with_prefix(what.to_string());
    *SHOWN.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
    bar
}

/// Leaves `bar`'s last state on screen as it is (indicatif's `finish` would fill it up,
/// hiding a count that fell short), on a line of its own: the bar pads itself to the
/// terminal's width, so without the line break what is printed next would continue its
/// line rather than start below it.
pub(crate) fn leave_bar(bar: &ProgressBar) {
    bar.abandon();
    if !bar.is_hidden() {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), b"\n");
    }
}

/// Pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) {
    out!(
        "{}",
        serde_json::to_string_pretty(value).expect("reports serialize")
    );
}

/// Text generated from the command-line definitions (a completion script, the man page)
/// on stdout as it is, stopping quietly when stdout is closed. Nothing is scrubbed: no
/// config, so no secret, is loaded for these.
pub(crate) fn print_generated(text: &[u8]) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_failures_are_all_above_125() {
        assert_eq!(fetch_code(EXIT_OK), EXIT_OK);
        for code in [EXIT_FILES_FAILED, EXIT_USAGE, EXIT_CANNOT_RUN, 101] {
            assert!(fetch_code(code) > 125, "{code}");
        }
        for code in [EXIT_FETCH_OBJECT, EXIT_FETCH_USAGE, EXIT_FETCH_CANNOT_RUN] {
            assert!(
                code > 128 + 64,
                "clear of 126/127 and of 128+signal: {code}"
            );
        }
    }
}
