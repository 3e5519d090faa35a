//! The `pre_pass` and `post_pass` hooks: an operator's command run by `/bin/sh -c` in its
//! own process group, with a timeout, its output logged line by line (stdout at info,
//! stderr at warn, bounded), and the pass described in `LOGFERRY_PASS_*` variables (and,
//! for `post_pass`, as the report's JSON on stdin). The worker decides what a hook's end
//! means; this file only runs it and says how it ended. A hook never sees a secret of
//! the destination: the URL it is given is the redacted one.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;

use crate::archive::pass::Pass;
use crate::config::PASS_ENV_PREFIX;
use crate::report::RunReport;

/// Longest line of a hook's output logged; the rest of the line is dropped.
const MAX_LINE: usize = 2000;
/// Lines of each stream logged per run; later ones are read and dropped.
const MAX_LINES: usize = 200;
/// How long the output of a hook that exited is still read (a background child may hold
/// the pipe open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// How often a running hook tells the agent's watchdog it is alive, and looks for a stop.
const TICK: Duration = Duration::from_secs(1);

/// Runs `pre_pass`, when configured. `Some(why)` when the pass must be skipped: the
/// command exited non-zero, timed out, could not be started, or was stopped.
pub(crate) async fn pre_pass(p: &Pass<'_>) -> Option<String> {
    let command = p.config.hooks.pre_pass.as_deref()?;
    let env = pass_env(p, "pre_pass", None);
    run(p, "pre_pass", command, env, None).await.err()
}

/// Runs `post_pass`, when configured, with `report` on stdin and in its environment. Its
/// failure is a warning: the pass stands as it ended.
pub(crate) async fn post_pass(p: &Pass<'_>, report: &RunReport) {
    let Some(command) = p.config.hooks.post_pass.as_deref() else {
        return;
    };
    let env = pass_env(p, "post_pass", Some(report));
    let json = serde_json::to_vec(report).expect("reports serialize");
    if let Err(why) = run(p, "post_pass", command, env, Some(json)).await {
        tracing::warn!(hook = "post_pass", "{why}; the pass stands as it ended");
    }
}

/// The `LOGFERRY_PASS_*` variables of a hook; with `report` those of `post_pass`.
fn pass_env(p: &Pass<'_>, hook: &str, report: Option<&RunReport>) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOOK", hook.to_string()),
        ("ARCHIVE", p.config.destination.url.to_string()),
        ("STATE_DIR", p.config.state_dir.display().to_string()),
        (
            "SOURCES",
            p.config
                .sources
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    if let Some(r) = report {
        env.extend([
            ("OUTCOME", r.outcome.as_str().to_string()),
            (
                "GENERATION",
                r.generation.map(|g| g.to_string()).unwrap_or_default(),
            ),
            ("FILES_UPLOADED", r.files_uploaded.to_string()),
            ("BYTES_UPLOADED", r.bytes_uploaded.to_string()),
            ("FILES_FAILED", r.files_failed.to_string()),
            ("DURATION_MS", r.duration_ms.to_string()),
        ]);
        if let Some(e) = &r.error {
            env.push(("ERROR", e.clone()));
        }
    }
    env.into_iter()
        .map(|(k, v)| (format!("{PASS_ENV_PREFIX}{k}"), v))
        .collect()
}

/// How a hook ended, when not with status 0.
enum End {
    Exited(ExitStatus),
    TimedOut,
    Stopped,
}

/// Runs `command` to its end or its timeout. `Err` says why it did not succeed, naming
/// the hook and its command, with its last line on stderr.
async fn run(
    p: &Pass<'_>,
    hook: &'static str,
    command: &str,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
) -> Result<(), String> {
    let shown = shown_command(command);
    tracing::info!(hook, command = %shown, "running the {hook} hook");
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(&p.config.base_dir)
        .envs(env)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{hook} `{shown}` could not be started: {e}"))?;
    let mut group = Group(child.id());
    let feed = child.stdin.take().zip(stdin).map(|(mut pipe, bytes)| {
        // A hook that does not read its stdin is fine: the write fails, nothing else.
        tokio::spawn(async move {
            let _ = pipe.write_all(&bytes).await;
        })
    });
    let out = child.stdout.take().map(|s| log_lines(s, hook, false));
    let err = child.stderr.take().map(|s| log_lines(s, hook, true));
    let end = wait(p, &mut child, p.config.hooks.timeout).await;
    match end {
        // What the shell left running in the background is its own business.
        End::Exited(_) => group.0 = None,
        _ => {
            group.kill();
            group.0 = None;
            let _ = child.wait().await;
        }
    }
    if let Some(f) = feed {
        f.abort();
    }
    let last = drain(out, err).await;
    let tail = last.map(|l| format!(": {l}")).unwrap_or_default();
    match end {
        End::Exited(s) if s.success() => Ok(()),
        End::Exited(s) => Err(match (s.code(), s.signal()) {
            (Some(code), _) => format!("{hook} `{shown}` exited with status {code}{tail}"),
            (None, Some(sig)) => format!("{hook} `{shown}` was killed by signal {sig}{tail}"),
            _ => format!("{hook} `{shown}` failed{tail}"),
        }),
        End::TimedOut => Err(format!(
            "{hook} `{shown}` timed out after {} and was killed (raise hooks.timeout if it needs longer){tail}",
            humantime::format_duration(p.config.hooks.timeout)
        )),
        End::Stopped => Err(format!(
            "{hook} `{shown}` was killed: the agent is stopping{tail}"
        )),
    }
}

/// Waits for the child, beating the pass's heartbeat and watching for a stop.
async fn wait(p: &Pass<'_>, child: &mut tokio::process::Child, timeout: Duration) -> End {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            status = child.wait() => {
                return match status {
                    Ok(s) => End::Exited(s),
                    // The child cannot be waited for: as good as gone; say so as a failure.
                    Err(_) => End::Exited(ExitStatus::from_raw(1 << 8)),
                };
            }
            _ = tokio::time::sleep_until(deadline) => return End::TimedOut,
            _ = tick.tick() => {
                if p.control.is_cancelled() {
                    return End::Stopped;
                }
                p.control.beat();
            }
        }
    }
}

/// The readers' end, waited for a moment after the hook exited; the last stderr line.
async fn drain(
    out: Option<JoinHandle<Option<String>>>,
    err: Option<JoinHandle<Option<String>>>,
) -> Option<String> {
    let both = async {
        if let Some(o) = out {
            let _ = o.await;
        }
        match err {
            Some(e) => e.await.ok().flatten(),
            None => None,
        }
    };
    tokio::time::timeout(DRAIN_AFTER_EXIT, both)
        .await
        .ok()
        .flatten()
}

/// Logs each line of `stream` (at warn for stderr), the first [`MAX_LINES`] of them, each
/// cut at [`MAX_LINE`] bytes; returns the last non-empty line.
fn log_lines<R>(stream: R, hook: &'static str, stderr: bool) -> JoinHandle<Option<String>>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut last = None;
        let mut logged = 0;
        loop {
            let Some(line) = read_line(&mut reader).await else {
                return last;
            };
            if line.trim().is_empty() {
                continue;
            }
            logged += 1;
            match (logged.cmp(&(MAX_LINES + 1)), stderr) {
                (std::cmp::Ordering::Less, false) => tracing::info!(hook, "{line}"),
                (std::cmp::Ordering::Less, true) => tracing::warn!(hook, "{line}"),
                (std::cmp::Ordering::Equal, _) => {
                    tracing::warn!(hook, "further output of the hook is not logged")
                }
                _ => {}
            }
            last = Some(line);
        }
    })
}

/// One line, cut at [`MAX_LINE`] bytes (the rest of it read and dropped), without its
/// newline; `None` at the end of the stream or on a read error.
async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<String> {
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await
        .ok()?;
    if n == 0 {
        return None;
    }
    if buf.last() != Some(&b'\n') && buf.len() >= MAX_LINE {
        let mut rest = Vec::new();
        let _ = reader.read_until(b'\n', &mut rest).await;
        buf.extend_from_slice("…".as_bytes());
    }
    let text = String::from_utf8_lossy(&buf);
    Some(text.trim_end_matches(['\n', '\r']).to_string())
}

/// The command as named in messages: its first line, cut short.
fn shown_command(command: &str) -> String {
    let first = command.trim().lines().next().unwrap_or("");
    let mut shown: String = first.chars().take(80).collect();
    if shown.len() < command.trim().len() {
        shown.push('…');
    }
    shown
}

/// The hook's process group (`None` once the shell has exited), killed whole when it
/// times out, when the pass is stopped, or when the pass is dropped while the hook runs,
/// so no child of the shell outlives it.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Group {
    fn kill(&self) {
        let Some(pid) = self
            .0
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        else {
            return;
        };
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_long_line_is_cut_and_the_next_one_read_whole() {
        let mut text = vec![b'x'; MAX_LINE * 3];
        text.extend_from_slice(b"\nnext\n");
        let mut reader = BufReader::new(&text[..]);
        let first = read_line(&mut reader).await.unwrap();
        assert_eq!(first.len(), MAX_LINE + "…".len());
        assert_eq!(read_line(&mut reader).await.as_deref(), Some("next"));
        assert_eq!(read_line(&mut reader).await, None);
    }

    #[test]
    fn a_long_command_is_named_by_its_first_80_characters() {
        assert_eq!(shown_command("exit 3"), "exit 3");
        assert_eq!(shown_command("a\nb"), "a…");
        assert_eq!(shown_command(&"y".repeat(100)).chars().count(), 81);
    }
}
