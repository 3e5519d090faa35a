//! Config bugs of issue 10, pinned through the built binary: what an operator sees when
//! the environment holds foreign `LOGFERRY_*` variables, and what a schedule means.

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// Two closed logs and a config archiving them to a local mirror.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/a.log.1"), b"one\n").unwrap();
        std::fs::write(dir.path().join("logs/a.log.2"), b"two\n").unwrap();
        let ws = Workspace { dir };
        ws.config("");
        ws
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The workspace's config with `top` as its first top-level keys.
    fn config(&self, top: &str) -> PathBuf {
        let p = self.path("logferry.toml");
        let text = format!(
            "{top}\nstate_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n"
        );
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs the binary on the workspace config with exactly these `LOGFERRY_*` variables.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(self.path("logferry.toml"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LOGFERRY")) {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What Kubernetes puts into every pod of a namespace with a Service named `logferry`.
const SERVICE_LINKS: &[(&str, &str)] = &[
    ("LOGFERRY_SERVICE_HOST", "10.0.0.1"),
    ("LOGFERRY_PORT", "tcp://10.0.0.1:9090"),
    ("LOGFERRY_PORT_9090_TCP_ADDR", "10.0.0.1"),
];

/// Issue 10 (4): service-link variables made every command exit 2 ("key `port`: unknown
/// field"), so PostgreSQL's `archive_command` failed forever.
// Pins: Kubernetes service-link LOGFERRY_* variables made every command exit 2.
#[test]
fn service_link_variables_are_one_warning_each_and_every_command_still_works() {
    let ws = Workspace::new();
    let dest = ws.path("fetched");
    let dest = dest.to_str().unwrap();
    for args in [
        &["check-config"][..],
        &["--run-once"][..],
        &["archived", "a.log.1"][..],
        &["fetch", "a.log.1", dest][..],
        &["status"][..],
    ] {
        let o = ws.run(args, SERVICE_LINKS);
        let err = stderr(&o);
        assert_eq!(code(&o), 0, "{args:?}: {err}");
        for (var, _) in SERVICE_LINKS {
            let lines: Vec<_> = err
                .lines()
                .filter(|l| l.contains(&format!("`{var}`")))
                .collect();
            assert_eq!(lines.len(), 1, "{args:?}: one warning for {var}: {err}");
            assert!(
                lines[0].contains("WARN") && lines[0].contains("names no config key"),
                "{args:?}: {err}"
            );
        }
        assert!(
            !stdout(&o).contains("LOGFERRY_"),
            "{args:?}: warnings stay off stdout"
        );
    }
    assert_eq!(std::fs::read(ws.path("fetched")).unwrap(), b"one\n");
}

/// Issue 10 (4): the warning follows `log_format`, so a JSON log stays JSON.
// Pins: a foreign-variable warning broke a JSON log by ignoring `log_format`.
#[test]
fn env_warnings_are_json_lines_with_log_format_json() {
    let ws = Workspace::new();
    ws.config("log_format = \"json\"");
    let o = ws.run(&["check-config"], &[("LOGFERRY_STATEDIR", "/x")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<_> = stderr(&o).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["level"], "WARN");
    let message = v["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("`LOGFERRY_STATEDIR`")
            && message.contains("did you mean `LOGFERRY_STATE_DIR`?"),
        "{message}"
    );
}

/// Issue 10 (4): a bad value from the environment was reported against the config file.
// Pins: a bad value from the environment was reported against the config file.
#[test]
fn a_bad_env_value_exits_2_naming_the_variable_not_the_file() {
    let ws = Workspace::new();
    for args in [&["check-config"][..], &["--run-once"][..]] {
        let o = ws.run(args, &[("LOGFERRY_UPLOAD_CONCURRENCY", "abc")]);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("environment variable LOGFERRY_UPLOAD_CONCURRENCY")
                && err.contains("expected an integer"),
            "{err}"
        );
        assert!(
            !err.contains("logferry.toml"),
            "names the variable, not the file: {err}"
        );
    }
}

/// Issue 10 (4): env values were parsed as numbers first, so `007` became `7`.
// Pins: environment values were parsed as numbers first, so `007` became `7`.
#[test]
fn env_values_keep_their_exact_text() {
    let ws = Workspace::new();
    let o = ws.run(
        &["check-config"],
        &[
            ("LOGFERRY_DESTINATION__URL", "s3://bucket/prefix"),
            ("LOGFERRY_DESTINATION__OPTIONS__AWS_REGION", "007"),
            ("LOGFERRY_DESTINATION__OPTIONS__AWS_ACCESS_KEY_ID", "0012"),
            (
                "LOGFERRY_DESTINATION__OPTIONS__AWS_SECRET_ACCESS_KEY",
                "0034",
            ),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("aws_region = \"007\""), "{out}");
    assert!(
        !out.contains("0012") && !out.contains("0034"),
        "secrets stay redacted: {out}"
    );
}

/// `check-config --json`, parsed.
fn check_config_json(ws: &Workspace, env: &[(&str, &str)]) -> serde_json::Value {
    let o = ws.run(&["check-config", "--json"], env);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn next_passes(v: &serde_json::Value) -> Vec<chrono::DateTime<chrono::FixedOffset>> {
    v["next_passes"]
        .as_array()
        .unwrap_or_else(|| panic!("no next_passes: {v}"))
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap())
        .collect()
}

/// Issue 10 (6): `0 3 * * 1` ran on Sundays; check-config now shows when passes run,
/// in the config's timezone.
// Pins: the crontab schedule `0 3 * * 1` ran on Sundays, and nothing showed when passes ran.
#[test]
fn check_config_shows_the_next_three_passes_with_crontab_weekdays_in_the_timezone() {
    use chrono::{Datelike, Timelike};
    let ws = Workspace::new();
    // Tokyo has no DST, so every pass is 03:00 at +09:00 whatever today is.
    ws.config("schedule = \"0 3 * * 1\"\ntimezone = \"Asia/Tokyo\"");
    let before = chrono::Utc::now();
    let v = check_config_json(&ws, &[]);
    let passes = next_passes(&v);
    assert_eq!(passes.len(), 3, "{v}");
    assert!(
        passes[0] > before && passes[0] <= before + chrono::Duration::days(7),
        "{v}"
    );
    for p in &passes {
        assert_eq!(
            p.weekday(),
            chrono::Weekday::Mon,
            "1 is Monday, as in crontab: {v}"
        );
        assert_eq!((p.hour(), p.minute(), p.second()), (3, 0, 0), "{v}");
        assert_eq!(p.offset().local_minus_utc(), 9 * 3600, "{v}");
    }
    for w in passes.windows(2) {
        assert_eq!(w[1] - w[0], chrono::Duration::days(7), "{v}");
    }
    assert_eq!(v["schedule"], "0 3 * * 1");
    assert_eq!(v["timezone"], "Asia/Tokyo");

    let text = ws.run(&["check-config"], &[]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let out = stdout(&text);
    let shown: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "# next passes:")
        .skip(1)
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    assert_eq!(shown.len(), 3, "{out}");
    for s in shown {
        let p = chrono::DateTime::parse_from_rfc3339(s).unwrap();
        assert_eq!(p.weekday(), chrono::Weekday::Mon, "{out}");
    }
}

/// Issue 10 (6): next passes of an `interval` schedule are counted from now.
// Pins: check-config did not show when an `interval` schedule runs next (counted from now).
#[test]
fn check_config_json_next_passes_of_an_interval() {
    let ws = Workspace::new();
    ws.config("interval = \"7m\"");
    let before = chrono::Utc::now();
    let v = check_config_json(&ws, &[]);
    let after = chrono::Utc::now();
    let passes = next_passes(&v);
    assert_eq!(passes.len(), 3, "{v}");
    let step = chrono::Duration::minutes(7);
    // Whole seconds are shown: allow for the truncation.
    assert!(
        passes[0] >= before + step - chrono::Duration::seconds(1) && passes[0] <= after + step,
        "{v}"
    );
    assert_eq!(passes[1] - passes[0], step, "{v}");
    assert_eq!(passes[2] - passes[1], step, "{v}");
    assert_eq!(v["interval"], "7m");
}

/// Issue 10 (6): `check-config --json` is the whole validated config, secrets redacted.
// Pins: `check-config --json` did not give the whole validated config with secrets redacted.
#[test]
fn check_config_json_is_the_whole_config_with_secrets_redacted() {
    let ws = Workspace::new();
    std::fs::write(
        ws.path("logferry.toml"),
        r#"state_dir = "state"
schedule = "*/10 * * * *"
timezone = "UTC"
[destination]
url = "s3://bucket/prefix/{source}"
[destination.options]
aws_region = "eu-west-1"
aws_access_key_id = "AKIAEXAMPLE"
aws_secret_access_key = "SuperSecret123"
[[sources]]
name = "app"
path = "logs"
include = ["*.log.*"]
[[sources]]
name = "db"
path = "db"
closed_by = "not-newest"
"#,
    )
    .unwrap();
    let o = ws.run(&["check-config", "--json"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("SuperSecret123"), "{all}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["state_dir"], ws.path("state").display().to_string());
    assert_eq!(v["requests_in_flight"], 32);
    assert_eq!(v["destination"]["url"], "s3://bucket/prefix/{source}");
    assert_eq!(v["destination"]["max_retries"], 10);
    assert_eq!(v["destination"]["options"]["aws_region"], "eu-west-1");
    assert_eq!(
        v["destination"]["options"]["aws_secret_access_key"],
        "<redacted>"
    );
    assert_eq!(v["sources"][0]["include"][0], "*.log.*");
    assert_eq!(v["sources"][0]["min_age"], "1m");
    assert_eq!(v["sources"][1]["closed_by"], "not-newest");
    assert_eq!(v["archives"][1]["url"], "s3://bucket/prefix/db");
    assert_eq!(next_passes(&v).len(), 3);
}

/// Runs the binary, killing it if it has not exited within 20 s (a `run` that starts
/// the agent would never exit by itself).
fn run_bounded(ws: &Workspace, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(ws.path("logferry.toml"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.and_then(|s| s.code()), err)
}

/// Issue 10 (6): a schedule with no future tick was accepted, and `run` waited forever.
// Pins: a schedule with no future tick was accepted, and `run` waited forever.
#[test]
fn a_schedule_without_future_ticks_is_a_config_error_for_check_config_and_run() {
    let ws = Workspace::new();
    ws.config("schedule = \"0 0 0 1 1 * 2020\"\ntimezone = \"UTC\"");
    for args in [
        &["check-config"][..],
        &["check-config", "--json"][..],
        &["run"][..],
    ] {
        let (code, err) = run_bounded(&ws, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("key `schedule`")
                && err.contains("`0 0 0 1 1 * 2020` has no tick after")
                && err.contains("logferry.toml"),
            "{args:?}: {err}"
        );
    }
    // One pass now does not use the schedule.
    let o = ws.run(&["--run-once"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Issue 10 (6): a crontab weekday the crate does not know is an error naming `schedule`.
// Pins: an unknown crontab weekday was not an error naming `schedule` and the fix.
#[test]
fn a_bad_weekday_exits_2_naming_schedule_and_the_fix() {
    let ws = Workspace::new();
    ws.config("schedule = \"0 3 * * 8\"");
    let o = ws.run(&["check-config"], &[]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("key `schedule`")
            && err.contains("weekday `8`")
            && err.contains("0 and 7 are Sunday"),
        "{err}"
    );
}

/// Issue 10 (4): a foreign variable whose value is not UTF-8 made every command panic
/// (`std::env::vars()`), before the config was even read.
// Pins: a foreign variable whose value is not UTF-8 made every command panic.
#[test]
fn a_foreign_variable_that_is_not_utf8_does_not_stop_commands() {
    use std::os::unix::ffi::OsStrExt;
    let ws = Workspace::new();
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(ws.path("logferry.toml"))
        .arg("check-config")
        .env("LEGACY_APP_NAME", std::ffi::OsStr::from_bytes(b"caf\xe9"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LOGFERRY")) {
        cmd.env_remove(k);
    }
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
