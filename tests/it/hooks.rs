//! `[hooks]` and `heartbeat_url` through the built binary: what a hook is given (its
//! `LOGFERRY_PASS_*` variables, the report on stdin), what a failing or slow `pre_pass`
//! does to the pass and the exit code, that `post_pass` never changes either, and the
//! heartbeat's GETs against a small HTTP server on 127.0.0.1, from `--run-once` and from
//! the agent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::{code, stderr, stdout, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// The config of [`Workspace::new`] with `top` keys and a `[hooks]` table of `hooks`.
fn config(ws: &Workspace, top: &str, hooks: &str) {
    ws.config(&format!(
        "state_dir = \"state\"\n{top}\n[destination]\nurl = \"mirror\"\n[hooks]\n{hooks}\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n"
    ));
}

fn read(ws: &Workspace, rel: &str) -> String {
    std::fs::read_to_string(ws.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn status_json(ws: &Workspace) -> Vec<serde_json::Value> {
    let o = ws.run(&["status", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str::<serde_json::Value>(&stdout(&o))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Waits for `done`, failing with `what` after `within`.
fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pre_and_post_pass_see_the_pass_its_report_and_its_variables() {
    let ws = Workspace::new();
    config(
        &ws,
        "",
        "pre_pass = \"echo pre-out; echo pre-err >&2; echo \\\"$LOGFERRY_PASS_HOOK\\\" > pre.marker\"\n\
         post_pass = \"cat > report.json; env | grep '^LOGFERRY_PASS_' | sort > post.env; \\\"$LF_BIN\\\" --config logferry.toml status > status.out 2> status.err\"",
    );
    let o = ws.run_env(&["-v", "--run-once"], &[("LF_BIN", BIN)]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert_eq!(read(&ws, "pre.marker"), "pre_pass\n");
    // Each line of the hooks' output is logged: stdout at info, stderr at warn.
    let logged = |level: &str, text: &str| {
        err.lines()
            .any(|l| l.contains(level) && l.contains(text) && l.contains("hook=\"pre_pass\""))
    };
    assert!(
        logged("INFO", "pre-out") && logged("WARN", "pre-err"),
        "{err}"
    );

    let report: serde_json::Value = serde_json::from_str(&read(&ws, "report.json")).unwrap();
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["generation"], 1);
    assert_eq!(report["files_uploaded"], 2);
    // The same report `status --json` keeps for the pass.
    assert_eq!(status_json(&ws)[0], report);

    let env = read(&ws, "post.env");
    let mirror = ws.path("mirror").display().to_string();
    let state = ws.path("state").display().to_string();
    for line in [
        "LOGFERRY_PASS_HOOK=post_pass".to_string(),
        format!("LOGFERRY_PASS_ARCHIVE=file://{mirror}"),
        format!("LOGFERRY_PASS_STATE_DIR={state}"),
        "LOGFERRY_PASS_SOURCES=app".to_string(),
        "LOGFERRY_PASS_OUTCOME=ok".to_string(),
        "LOGFERRY_PASS_GENERATION=1".to_string(),
        "LOGFERRY_PASS_FILES_UPLOADED=2".to_string(),
        "LOGFERRY_PASS_BYTES_UPLOADED=8".to_string(),
        "LOGFERRY_PASS_FILES_FAILED=0".to_string(),
    ] {
        assert!(
            env.lines().any(|l| l == line),
            "`{line}` missing from:\n{env}"
        );
    }
    assert!(env.contains("LOGFERRY_PASS_DURATION_MS="), "{env}");
    assert!(!env.contains("LOGFERRY_PASS_ERROR"), "{env}");
    // logferry run from a hook reads its config as usual: the pass variables are neither
    // config overrides nor "unknown variable" warnings.
    assert!(
        read(&ws, "status.out").contains("ok"),
        "{}",
        read(&ws, "status.out")
    );
    assert_eq!(read(&ws, "status.err"), "");
}

#[test]
fn a_failing_pre_pass_skips_the_pass_and_exits_3() {
    let ws = Workspace::new();
    config(
        &ws,
        "",
        "pre_pass = \"echo 'not the primary' >&2; exit 3\"\npost_pass = \"touch post.marker\"",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let reason =
        "pre_pass `echo 'not the primary' >&2; exit 3` exited with status 3: not the primary";
    assert!(
        stderr(&o).contains(&format!("logferry: pass skipped: {reason}")),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    // Nothing scanned, nothing archived, no post_pass.
    assert!(!ws.path("mirror/manifests").exists());
    assert!(!ws.path("post.marker").exists());
    let runs = status_json(&ws);
    assert_eq!(runs[0]["outcome"], "skipped");
    assert_eq!(runs[0]["files_scanned"], 0);
    assert_eq!(runs[0]["error"], format!("skipped: {reason}"));

    let o = ws.run(&["status"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("  skipped  "), "{out}");
    assert!(
        out.contains(&format!("last pass skipped: {reason}")),
        "{out}"
    );
    let o = ws.run(&["status", "--check"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("was skipped: {reason}")),
        "{}",
        stdout(&o)
    );
    // PostgreSQL's log, through archive_command, hears why too.
    let o = ws.run(&["archived", "a.log.1"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!(
            "the last pass ({}) was skipped: {reason}",
            runs[0]["started_at"].as_str().unwrap()
        )),
        "{}",
        stderr(&o)
    );

    // The environment sets hooks like the file: here it lets the pass run.
    let o = ws.run_env(&["--run-once"], &[("LOGFERRY_HOOKS__PRE_PASS", "true")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(ws.path("post.marker").exists());
    assert_eq!(status_json(&ws)[0]["outcome"], "ok");
}

#[test]
fn a_pre_pass_past_its_timeout_is_killed_with_its_children_and_skips_the_pass() {
    let ws = Workspace::new();
    config(
        &ws,
        "",
        "pre_pass = \"sleep 120 & echo $! > child.pid; sleep 30\"\ntimeout = \"1s\"",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("timed out after 1s and was killed (raise hooks.timeout"),
        "{}",
        stderr(&o)
    );
    assert!(!ws.path("mirror/manifests").exists());
    // The shell's child went with it: its process group was killed.
    let pid = read(&ws, "child.pid").trim().to_string();
    wait_for(
        "the hook's child is killed",
        Duration::from_secs(10),
        || {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                // Killed, waiting to be reaped by whoever adopted it.
                Ok(stat) => stat
                    .rsplit_once(')')
                    .is_some_and(|(_, s)| s.trim_start().starts_with('Z')),
            }
        },
    );
    assert_eq!(status_json(&ws)[0]["outcome"], "skipped");
}

#[test]
fn a_failing_post_pass_is_a_warning_and_keeps_the_exit_code() {
    let ws = Workspace::new();
    config(&ws, "", "post_pass = \"echo 'cannot notify' >&2; exit 5\"");
    let o = ws.run(&["--run-once"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("post_pass `echo 'cannot notify' >&2; exit 5` exited with status 5: cannot notify; the pass stands as it ended"),
        "{err}"
    );
    assert_eq!(status_json(&ws)[0]["outcome"], "ok");
}

#[test]
fn post_pass_runs_after_a_failed_pass_with_its_error() {
    let ws = Workspace::new();
    // A file where the mirror's manifests directory should be: the pass cannot commit.
    std::fs::create_dir_all(ws.path("mirror")).unwrap();
    std::fs::write(ws.path("mirror/manifests"), b"").unwrap();
    config(
        &ws,
        "",
        "post_pass = \"env | grep '^LOGFERRY_PASS_' > post.env\"",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let env = read(&ws, "post.env");
    assert!(env.contains("LOGFERRY_PASS_OUTCOME=failed"), "{env}");
    assert!(env.contains("LOGFERRY_PASS_GENERATION=\n"), "{env}");
    assert!(env.contains("LOGFERRY_PASS_ERROR="), "{env}");
}

/// A heartbeat monitor on 127.0.0.1: answers every request 200 and keeps its request
/// lines.
struct Monitor {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Monitor {
    fn start() -> Monitor {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                seen.lock().unwrap().push(first.trim_end().to_string());
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                );
            }
        });
        Monitor { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ping/abc", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

#[test]
fn the_heartbeat_is_pinged_after_a_good_pass_and_fail_after_a_bad_one() {
    let monitor = Monitor::start();
    let ws = Workspace::new();
    let top = format!("heartbeat_url = \"{}\"", monitor.url());
    config(&ws, &top, "");
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Waited for before the process exits.
    assert_eq!(monitor.requests(), ["GET /ping/abc HTTP/1.1"]);

    config(&ws, &top, "pre_pass = \"exit 1\"");
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(monitor.requests()[1], "GET /ping/abc/fail HTTP/1.1");

    // A pass that fails: the mirror's manifests directory is a file.
    std::fs::remove_dir_all(ws.path("mirror")).unwrap();
    std::fs::create_dir_all(ws.path("mirror")).unwrap();
    std::fs::write(ws.path("mirror/manifests"), b"").unwrap();
    config(&ws, &top, "");
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(status_json(&ws)[0]["outcome"], "failed");
    assert_eq!(monitor.requests()[2..], ["GET /ping/abc/fail HTTP/1.1"]);
}

#[test]
fn a_heartbeat_monitor_that_is_down_is_a_warning_with_the_url_redacted() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{port}/ping/0f2a7c1e-secret");
    config(&ws, &format!("heartbeat_url = \"{url}\""), "");
    let o = ws.run(&["--run-once"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("heartbeat ping failed")
            && err.contains(&format!("url=http://127.0.0.1:{port}/<redacted>")),
        "{err}"
    );
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "heartbeat_url = \"http://127.0.0.1:{port}/<redacted>\""
        )),
        "{}",
        stdout(&o)
    );
    for text in [err, stdout(&o), stderr(&o)] {
        assert!(!text.contains("0f2a7c1e-secret"), "{text}");
    }
}

#[test]
fn the_agent_pings_after_each_pass() {
    let monitor = Monitor::start();
    let ws = Workspace::new();
    config(
        &ws,
        &format!("interval = \"1h\"\nheartbeat_url = \"{}\"", monitor.url()),
        "",
    );
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(ws.path("logferry.toml"))
        .arg("run")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = child.stderr.take().unwrap();
    // Read all along, so the agent never blocks on a full pipe.
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = log.read_to_string(&mut text);
        text
    });
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    let pings = || monitor.requests().len();
    wait_for(
        "a ping after the first pass",
        Duration::from_secs(20),
        || pings() >= 1,
    );
    signal("USR1");
    wait_for(
        "a ping after the nudged pass",
        Duration::from_secs(20),
        || pings() >= 2,
    );
    assert_eq!(monitor.requests(), ["GET /ping/abc HTTP/1.1"; 2]);
    signal("TERM");
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(0), "{}", log.join().unwrap());
}

#[test]
fn bad_hook_and_heartbeat_values_exit_2_naming_the_key() {
    let ws = Workspace::new();
    for (top, hooks, key, words) in [
        ("", "pre_pass = \"\"", "hooks.pre_pass", "must not be empty"),
        (
            "",
            "post_pass = \" \"",
            "hooks.post_pass",
            "must not be empty",
        ),
        (
            "",
            "timeout = \"0s\"",
            "hooks.timeout",
            "must be more than zero",
        ),
        (
            "",
            "timeout = \"later\"",
            "hooks.timeout",
            "is not a duration",
        ),
        ("", "pre = \"x\"", "hooks.pre", "unknown field `pre`"),
        (
            "heartbeat_url = \"ftp://h/tok-123456\"",
            "",
            "heartbeat_url",
            "use http:// or https://",
        ),
        (
            "heartbeat_url = \"hc-ping.com/tok-123456\"",
            "",
            "heartbeat_url",
            "not a URL",
        ),
    ] {
        config(&ws, top, hooks);
        let o = ws.run(&["check-config"]);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{top} {hooks}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("key `{key}`")) && err.contains(words),
            "{err}"
        );
        assert!(!err.contains("tok-123456"), "{err}");
    }
}
