//! `logferry status` as a health check: whether an agent holds the state dir, the last
//! pass that did not fail, the archive lag, and `status --check`'s exit codes.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::{code, stderr, stdout, Workspace};

/// Writes a `status.json` of one pass that left a file pending since `pending_for` ago.
fn pending_fixture(ws: &Workspace, outcome: &str, pending_for: Duration) {
    let now = SystemTime::now();
    let mtime_ns = (now - pending_for)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let started = humantime::format_rfc3339_millis(now - Duration::from_secs(5)).to_string();
    let file = serde_json::json!({
        "version": 1,
        "runs": [{
            "started_at": started,
            "outcome": outcome,
            "files_failed": 1,
            "files_pending": 1,
            "oldest_pending_mtime_ns": mtime_ns,
        }],
    });
    std::fs::create_dir_all(ws.path("state")).unwrap();
    std::fs::write(ws.path("state/status.json"), file.to_string()).unwrap();
}

#[test]
fn status_says_no_agent_runs_after_a_run_once() {
    let ws = Workspace::new();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let o = ws.run(&["status"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("\nno agent running\n"), "{out}");
    assert!(out.contains("last successful pass: "), "{out}");
    assert!(out.contains("pending: none; archive lag 0s"), "{out}");
    // --json keeps its shape: an array of pass reports, nothing else.
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&ws.run(&["status", "--json"]))).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(1), "{json}");
}

#[test]
fn status_names_the_agent_holding_the_state_dir() {
    let ws = Workspace::new();
    let mut agent = ws.spawn_idle_agent(std::process::Stdio::null());
    let pid = agent.id().to_string();
    let lock = ws.path("state/lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != pid {
        assert!(Instant::now() < deadline, "agent never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = ws.run(&["status"]);
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    assert_eq!(agent.wait().unwrap().code(), Some(0));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("agent running (pid {pid})")),
        "{}",
        stdout(&o)
    );
    // The probe left the agent's lock file as it was.
    assert_eq!(std::fs::read_to_string(&lock).unwrap().trim(), pid);
}

#[test]
fn check_exits_0_after_a_good_pass_and_1_before_any() {
    let ws = Workspace::new();
    let none = ws.run(&["status", "--check"]);
    assert_eq!(code(&none), 1, "{}", stdout(&none));
    assert!(
        stdout(&none).contains("no pass recorded"),
        "{}",
        stdout(&none)
    );
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let o = ws.run(&["status", "--check", "--max-lag", "1h"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("ok: the last pass"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn check_exits_1_after_a_failed_pass() {
    let ws = Workspace::new();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    // The next upload finds a file where the data folder was: the pass fails.
    std::fs::write(ws.path("logs/b.log.1"), b"three\n").unwrap();
    std::fs::remove_dir_all(ws.path("mirror/data")).unwrap();
    std::fs::write(ws.path("mirror/data"), b"not a folder").unwrap();
    assert_eq!(code(&ws.run(&["--run-once"])), 3);
    let o = ws.run(&["status", "--check"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).starts_with("the last pass ("), "{}", stdout(&o));
    assert!(stdout(&o).contains(") failed: "), "{}", stdout(&o));
    let table = stdout(&ws.run(&["status"]));
    assert!(table.contains("last successful pass: "), "{table}");
}

#[test]
fn check_exits_1_when_the_lag_exceeds_max_lag() {
    let ws = Workspace::new();
    pending_fixture(&ws, "partial", Duration::from_secs(2 * 3600));
    let o = ws.run(&["status", "--check", "--max-lag", "30m"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("exceeds --max-lag 30m: 1 files pending"),
        "{}",
        stdout(&o)
    );
    let within = ws.run(&["status", "--check", "--max-lag", "1day"]);
    assert_eq!(code(&within), 0, "{}", stdout(&within));
    assert_eq!(code(&ws.run(&["status", "--check"])), 0);
    let table = stdout(&ws.run(&["status"]));
    assert!(
        table.contains("pending: 1 files not archived as they are; archive lag 2h"),
        "{table}"
    );
}

#[test]
fn bad_max_lag_exits_2_naming_the_flag() {
    let ws = Workspace::new();
    let o = ws.run(&["status", "--check", "--max-lag", "soon"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--max-lag"), "{}", stderr(&o));
    let o = ws.run(&["status", "--max-lag", "1h"]);
    assert_eq!(code(&o), 2, "--max-lag needs --check");
    assert!(stderr(&o).contains("--check"), "{}", stderr(&o));
}
