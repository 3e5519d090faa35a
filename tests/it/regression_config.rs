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
