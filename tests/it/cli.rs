//! The binary as an operator meets it: exit codes, messages for bad config, output of
//! every command, help text.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use logferry::StateDir;

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
}

impl Workspace {
    /// Two closed logs and a config archiving them to a local mirror.
    pub(crate) fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/a.log.1"), b"one\n").unwrap();
        std::fs::write(dir.path().join("logs/a.log.2"), b"two\n").unwrap();
        let ws = Workspace { dir };
        ws.config(
            "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
        );
        ws
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub(crate) fn config(&self, text: &str) -> PathBuf {
        let p = self.path("logferry.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs the binary with `--config <workspace config>` and `args`, from another dir.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Starts `logferry run` on a schedule that never ticks during a test, so the agent
    /// only holds the state dir; its stderr goes to `stderr`.
    pub(crate) fn spawn_idle_agent(&self, stderr: std::process::Stdio) -> std::process::Child {
        self.config(
            "state_dir = \"state\"\nschedule = \"0 0 0 1 1 * 2099\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n",
        );
        Command::new(BIN)
            .args(["--config"])
            .arg(self.path("logferry.toml"))
            .arg("run")
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(self.path("logferry.toml"))
            .args(args);
        cmd.current_dir(std::env::temp_dir());
        cmd.env_remove("RUST_LOG");
        // No credential chain may probe a metadata address: traffic stays on 127.0.0.1.
        cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LOGFERRY_")) {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_once_archives_then_finds_nothing_new() {
    let ws = Workspace::new();
    let first = ws.run(&["--run-once"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let line = stdout(&first);
    assert!(line.starts_with("archived 2 files"), "{line}");
    assert!(
        line.contains("generation 1") && line.contains(" ms"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "one-line summary: {line}");
    assert!(ws
        .path("mirror/manifests/00000000000000000001.json")
        .exists());

    let second = ws.run(&["run", "--once"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("nothing new"),
        "{}",
        stdout(&second)
    );
    assert!(!ws
        .path("mirror/manifests/00000000000000000002.json")
        .exists());
}

#[test]
fn status_and_ls_show_the_passes_and_the_archive() {
    let ws = Workspace::new();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    assert_eq!(code(&ws.run(&["--run-once"])), 0);

    let status = ws.run(&["status", "--json"]);
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    let runs: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["files_uploaded"], 2);
    assert_eq!(runs[1]["generation"], 1);
    assert_eq!(runs[0]["files_unchanged"], 2);
    for key in [
        "started_at",
        "duration_ms",
        "files_scanned",
        "files_new",
        "files_changed",
        "files_renamed",
        "files_unchanged",
        "files_uploaded",
        "files_failed",
        "bytes_read",
        "bytes_uploaded",
        "generation",
    ] {
        assert!(runs[0].get(key).is_some(), "status lacks {key}");
    }
    let text = stdout(&ws.run(&["status"]));
    assert!(
        text.contains("STARTED_AT") && text.contains("1 (committed)"),
        "{text}"
    );

    let ls = ws.run(&["ls", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(&stdout(&ls)).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for key in ["source", "path", "size", "sha256", "key", "archived_at"] {
        assert!(entries[0].get(key).is_some(), "ls lacks {key}");
    }
    let text = stdout(&ws.run(&["ls", "--source", "app"]));
    assert!(
        text.contains("a.log.1") && !text.contains("data/app/"),
        "{text}"
    );
    let text = stdout(&ws.run(&["ls", "--source", "app", "--long"]));
    assert!(
        text.contains("data/app/a.log.2-"),
        "the key with --long: {text}"
    );
    let unknown = ws.run(&["ls", "--source", "nope"]);
    assert_eq!(code(&unknown), 2);
    assert!(
        stderr(&unknown).contains("no source named `nope`"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn status_before_any_pass_says_so() {
    let ws = Workspace::new();
    let o = ws.run(&["status"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("no passes recorded"), "{}", stdout(&o));
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let ws = Workspace::new();
    ws.config(
        r#"state_dir = "state"
[destination]
url = "s3://bucket/prefix"
[destination.options]
aws_access_key_id = "AKIAEXAMPLE"
aws_secret_access_key = "SuperSecret123"
aws_region = "eu-west-1"
[[sources]]
name = "app"
path = "logs"
"#,
    );
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("SuperSecret123") && !stderr(&o).contains("SuperSecret123"));
    assert!(
        out.contains("aws_secret_access_key = \"<redacted>\""),
        "{out}"
    );
    assert!(out.contains("aws_region = \"eu-west-1\""), "{out}");
    assert!(
        out.contains("min_age = \"1m\""),
        "defaults are shown: {out}"
    );
    assert!(
        out.contains(&format!("path = \"{}\"", ws.path("logs").display())),
        "resolved paths: {out}"
    );
}

#[test]
fn environment_overrides_config_keys() {
    let ws = Workspace::new();
    let o = ws.run_env(
        &["check-config"],
        &[
            ("LOGFERRY_REQUESTS_IN_FLIGHT", "9"),
            ("LOGFERRY_DESTINATION__URL", "memory://"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("requests_in_flight = 9"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("url = \"memory://\""), "{}", stdout(&o));

    let bad = ws.run_env(&["check-config"], &[("LOGFERRY_REQUESTS_IN_FLIGHT", "0")]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("requests_in_flight"),
        "{}",
        stderr(&bad)
    );
}

/// (config text, words the one-line message must contain)
const BAD_CONFIGS: &[(&str, &[&str])] = &[
    ("state_dir = \"s\"\n[destination\nurl = 1", &["not valid TOML"]),
    ("stat_dir = \"s\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["stat_dir", "unknown field"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\npathh = \"x\"", &["sources[0]", "pathh"]),
    ("schedule = \"* * * *\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`schedule`", "4 fields"]),
    ("schedule = \"61 * * * *\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`schedule`", "not a cron expression"]),
    ("requests_in_flight = 0\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`requests_in_flight`", "1 to 1024"]),
    ("requests_in_flight = \"four\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["requests_in_flight", "invalid type", "expected an integer"]),
    ("hash_workers = 0\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`hash_workers`", "1 to 256"]),
    ("upload_concurrency = 4\nrequests_in_flight = 4\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`upload_concurrency`", "`requests_in_flight` are set", "remove it"]),
    ("multipart_threshold = \"1MiB\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`multipart_threshold`", "5MiB to 5GiB"]),
    ("part_size = \"1KiB\"\n[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`part_size`", "5MiB"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nmin_age = \"5 parsecs\"", &["`sources[0].min_age`", "not a duration"]),
    ("[destination]\nurl = \"ftp://host/x\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`destination.url`", "unsupported scheme `ftp`"]),
    ("[destination]\nurl = \"file://host/x\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`destination.url`", "absolute path"]),
    ("[destination]\nurl = \"s3://\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`destination.url`", "no bucket"]),
    ("[[sources]]\nname = \"a\"\npath = \"l\"", &["`destination`", "missing"]),
    ("[destination]\nurl = \"m\"", &["`sources`", "at least one"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\n[[sources]]\nname = \"a\"\npath = \"k\"", &["`sources[1].name`", "unique"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a/b\"\npath = \"l\"", &["`sources[0].name`", "contains `/`"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"", &["`sources[0].path`", "missing"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nexclude = [\"[\"]", &["`sources[0].exclude[0]`", "bad glob"]),
    ("[destination]\nurl = \"m\"\n[destination.options]\nregion = \"x\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`destination.options.region`", "s3://"]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nignore_newest = true", &["sources[0].ignore_newest", "closed_by = \"not-newest\""]),
    ("[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"l\"\nclosed_by = \"eventually\"", &["sources[0].closed_by", "\"ready-marker\""]),
    ("[destination]\nurl = \"s3://b/p\"\n[destination.options]\naws_regoin = \"x\"\n[[sources]]\nname = \"a\"\npath = \"l\"", &["`destination.options.aws_regoin`", "unknown option for s3://", "aws_region"]),
    ("sources = 3\n[destination]\nurl = \"m\"", &["`sources`", "expected a sequence"]),
];

#[test]
fn bad_configs_exit_2_with_one_line_naming_file_and_key() {
    let ws = Workspace::new();
    for (text, words) in BAD_CONFIGS {
        let file = ws.config(text);
        for cmd in [&["check-config"][..], &["--run-once"][..]] {
            let o = ws.run(cmd);
            let err = stderr(&o);
            assert_eq!(code(&o), 2, "{text:?} {cmd:?}: {err}");
            assert_eq!(
                err.trim().lines().count(),
                1,
                "one line for {text:?}: {err}"
            );
            assert!(
                err.contains(&file.display().to_string()),
                "names the file: {err}"
            );
            for w in *words {
                assert!(err.contains(w), "{text:?}: `{w}` missing from: {err}");
            }
        }
    }
}

#[test]
fn missing_config_file_exits_2_with_a_hint() {
    let o = Command::new(BIN)
        .args(["--config", "/nonexistent/logferry.toml", "--run-once"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("/nonexistent/logferry.toml")
            && err.contains("not found")
            && err.contains("--config"),
        "{err}"
    );
}

#[test]
fn second_agent_on_the_same_state_dir_exits_3() {
    let ws = Workspace::new();
    let _held = StateDir::lock(&ws.path("state")).unwrap();
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("locked by another logferry"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unusable_destination_exits_3() {
    let ws = Workspace::new();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"/proc/logferry-cannot-create\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/proc/logferry-cannot-create"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn file_level_failure_exits_1_after_archiving_the_rest() {
    let ws = Workspace::new();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n[[sources]]\nname = \"gone\"\npath = \"missing-dir\"\n",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("archived 2 files") && out.contains("1 FAILED"),
        "{out}"
    );
    assert!(out.contains("missing-dir"), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    assert_eq!(code(&ws.run(&["--no-such-flag"])), 2);
    assert_eq!(code(&ws.run(&["--run-once", "status"])), 2);
    assert_eq!(code(&ws.run(&["frobnicate"])), 2);
}

#[test]
fn every_command_has_help_with_an_example() {
    for args in [
        &["--help"][..],
        &["run", "--help"][..],
        &["check-config", "--help"][..],
        &["status", "--help"][..],
        &["ls", "--help"][..],
        &["restore", "--help"][..],
        &["fetch", "--help"][..],
        &["verify", "--help"][..],
        &["generations", "--help"][..],
        &["archived", "--help"][..],
        &["expire", "--help"][..],
        &["hosts", "--help"][..],
    ] {
        let o = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}");
        let text = stdout(&o);
        assert!(text.contains("Example"), "{args:?} has no example: {text}");
        assert!(text.contains("logferry"), "{args:?}");
    }
}

#[test]
fn relative_paths_resolve_against_the_config_file_not_the_cwd() {
    let ws = Workspace::new();
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(ws.path("state/status.json").exists());
    assert!(ws.path("mirror/data/app").is_dir());
    assert!(!Path::new(&std::env::temp_dir())
        .join("mirror/manifests")
        .exists());
}

#[test]
fn destination_that_cannot_be_built_exits_2_without_leaking_the_secret() {
    let ws = Workspace::new();
    ws.config(
        r#"[destination]
url = "s3://bucket/prefix"
[destination.options]
aws_secret_access_key = "TOPSECRET-xyz"
[[sources]]
name = "app"
path = "logs"
"#,
    );
    for cmd in [&["check-config"][..], &["--run-once"][..], &["ls"][..]] {
        let o = ws.run(cmd);
        assert_eq!(code(&o), 2, "{cmd:?}: {}", stderr(&o));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("TOPSECRET"), "{all}");
        assert!(all.contains("destination s3://bucket/prefix"), "{all}");
    }
}

#[test]
fn relative_config_path_resolves_against_its_own_directory() {
    let ws = Workspace::new();
    let o = Command::new(BIN)
        .args(["--config", "logferry.toml", "check-config"])
        .current_dir(ws.dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("state_dir = \"{}\"", ws.path("state").display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("url = \"file://{}\"", ws.path("mirror").display())),
        "{out}"
    );
}

#[test]
fn running_agent_holds_the_state_dir_between_passes() {
    let ws = Workspace::new();
    let mut agent = ws.spawn_idle_agent(std::process::Stdio::piped());
    let lock = ws.path("state/lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != agent.id().to_string() {
        assert!(
            std::time::Instant::now() < deadline,
            "agent never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("pid {}", agent.id())),
        "{}",
        stderr(&o)
    );
    let killed = Command::new("kill")
        .args(["-INT", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = agent.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGINT stops the agent cleanly");
}

#[test]
fn unreadable_config_exits_2_naming_the_file() {
    let ws = Workspace::new();
    let dir = ws.path("a-directory.toml");
    std::fs::create_dir(&dir).unwrap();
    let o = Command::new(BIN)
        .arg("--config")
        .arg(&dir)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.contains("a-directory.toml") && err.contains("cannot read"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Every shipped example config, including the one inside the Kubernetes ConfigMap,
/// passes `check-config`.
#[test]
fn example_configs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let dir = tempfile::tempdir().unwrap();
    let cm = std::fs::read_to_string(root.join("kubernetes/configmap.yaml")).unwrap();
    let embedded: String = cm
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("logferry.toml: |"))
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert!(embedded.contains("[destination]"), "{embedded}");
    let k8s = dir.path().join("k8s.toml");
    std::fs::write(&k8s, embedded).unwrap();
    let mut files: Vec<PathBuf> = ["local-mirror.toml", "s3.toml", "azure.toml", "gcs.toml"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    files.push(k8s);
    for f in files {
        let o = Command::new(BIN)
            .arg("--config")
            .arg(&f)
            .arg("check-config")
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}: {}", f.display(), stderr(&o));
    }
}

#[test]
fn bad_restore_verify_arguments_exit_2() {
    let ws = Workspace::new();
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    let to = ws.path("restored");
    let to = to.to_str().unwrap();
    for (args, words) in [
        (
            vec!["restore", "--to", to, "--at", "yesterday-ish"],
            "--at `yesterday-ish`",
        ),
        (
            vec!["restore", "--to", to, "--include", "[oops"],
            "--include `[oops`",
        ),
        (
            vec!["restore", "--to", to, "--source", "nope"],
            "no source named `nope`",
        ),
        (
            vec![
                "restore",
                "--to",
                to,
                "--generation",
                "1",
                "--at",
                "2026-11-21T10:00:00Z",
            ],
            "cannot be used with",
        ),
        (vec!["restore"], "--to <DIR>"),
        (vec!["verify", "--read-data=0"], "0 is not in 1..=100"),
        (vec!["verify", "--read-data=abc"], "invalid value"),
    ] {
        let o = ws.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(words),
            "{args:?}: `{words}` not in {}",
            stderr(&o)
        );
    }
    assert!(!ws.path("restored").exists());
    // fetch is restore_command: its usage errors are above 125 (regression/read.rs).
    let o = ws.run(&["fetch", "a.log.1"]);
    assert_eq!(code(&o), 202, "{}", stderr(&o));
    assert!(stderr(&o).contains("<DEST>"), "{}", stderr(&o));
}
