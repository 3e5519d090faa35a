//! `logferry run` as a service, through the built binary: signals, sd_notify, metrics,
//! file events, JSON logs, the textfile collector, and the systemd units.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{s3_destination_toml, testbed};
use crate::proxy::Proxy;

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// A workspace with logs and a config; the agent runs from it.
struct Ws {
    dir: tempfile::TempDir,
}

impl Ws {
    fn new(config_tail: &str) -> Ws {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let ws = Ws { dir };
        ws.config(config_tail);
        ws
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `state_dir` + `[[sources]]` for `logs/`, then `tail` (destination and keys).
    fn config(&self, tail: &str) {
        let text = format!(
            "state_dir = \"state\"\n{tail}\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n"
        );
        std::fs::write(self.path("logferry.toml"), text).unwrap();
    }

    fn log(&self, name: &str, body: &[u8]) {
        let p = self.path(&format!("logs/{name}"));
        std::fs::write(&p, body).unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    fn spawn(&self, envs: &[(&str, &str)]) -> Agent {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(self.path("logferry.toml"))
            .arg("run");
        cmd.env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Agent::new(child)
    }

    fn runs(&self) -> Vec<serde_json::Value> {
        let Ok(text) = std::fs::read_to_string(self.path("state/status.json")) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["runs"].as_array().unwrap().clone()
    }

    fn wait_runs(&self, n: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let runs = self.runs();
            if runs.len() >= n {
                return runs;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} passes, saw {}",
                runs.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running agent whose stderr is collected in the background.
struct Agent {
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Agent {
    fn new(mut child: Child) -> Agent {
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Agent { child, log }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_log(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "`{needle}` never logged:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "agent did not exit within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

const LOCAL: &str = "interval = \"1h\"\n[destination]\nurl = \"mirror\"";

#[test]
fn sd_notify_ready_watchdog_and_stopping_reach_the_socket() {
    let ws = Ws::new(LOCAL);
    ws.log("a.log.1", b"one\n");
    let sock_path = ws.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut agent = ws.spawn(&[
        ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "400000"),
    ]);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !(seen.iter().any(|m: &String| m.starts_with("READY=1"))
        && seen.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2)
    {
        let n = sock.recv(&mut buf).expect("a notify message within 10 s");
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    ws.wait_runs(1, Duration::from_secs(10));
    agent.signal("TERM");
    loop {
        let n = sock.recv(&mut buf).expect("STOPPING=1 within 10 s");
        if &buf[..n] == b"STOPPING=1" {
            break;
        }
    }
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), 0);
}

#[test]
fn metrics_endpoint_reports_the_pass_in_prometheus_text() {
    let port = free_port();
    let ws = Ws::new(&format!("metrics_listen = \"127.0.0.1:{port}\"\n{LOCAL}"));
    ws.log("a.log.1", b"one\n");
    ws.log("a.log.2", b"two two\n");
    let mut agent = ws.spawn(&[]);
    ws.wait_runs(1, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        let (status, body) = http_get(port, "/metrics");
        if status == 200 && body.contains("logferry_files_uploaded_total{archive=\"main\"} 2") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the pass: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("{name} missing"));
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a number"),
        }
    };
    assert_eq!(value("logferry_passes_total", Some(("outcome", "ok"))), 1.0);
    assert_eq!(
        value("logferry_passes_total", Some(("outcome", "failed"))),
        0.0
    );
    assert_eq!(value("logferry_files_uploaded_total", None), 2.0);
    assert_eq!(value("logferry_bytes_uploaded_total", None), 12.0);
    assert_eq!(value("logferry_file_failures_total", None), 0.0);
    assert_eq!(value("logferry_generation", None), 1.0);
    assert_eq!(value("logferry_pending_files", None), 0.0);
    assert_eq!(value("logferry_oldest_pending_age_seconds", None), 0.0);
    assert!(value("logferry_last_success_timestamp_seconds", None) > 1.7e9);
    let hist = scrape
        .samples
        .iter()
        .find(|s| s.metric == "logferry_pass_duration_seconds")
        .expect("histogram");
    match &hist.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert!(buckets.iter().any(|b| b.count == 1.0))
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 200);
    assert_eq!(http_get(port, "/nope").0, 404);
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), 0);
}

#[test]
fn sigusr1_runs_a_pass_now_and_sighup_reloads_or_keeps_the_config() {
    let ws = Ws::new(LOCAL);
    ws.log("a.log.1", b"one\n");
    let mut agent = ws.spawn(&[("RUST_LOG", "info")]);
    ws.wait_runs(1, Duration::from_secs(10));

    ws.log("a.log.2", b"two\n");
    agent.signal("USR1");
    let runs = ws.wait_runs(2, Duration::from_secs(10));
    assert_eq!(runs[0]["files_uploaded"], 1, "{runs:?}");

    std::fs::write(ws.path("logferry.toml"), "this is = not [valid").unwrap();
    agent.signal("HUP");
    agent.wait_log("config reload failed", Duration::from_secs(10));
    ws.log("a.log.3", b"three\n");
    agent.signal("USR1");
    let runs = ws.wait_runs(3, Duration::from_secs(10));
    assert_eq!(runs[0]["files_uploaded"], 1, "the old config still runs");

    ws.config(&format!("{LOCAL}\n"));
    let text = std::fs::read_to_string(ws.path("logferry.toml")).unwrap();
    std::fs::write(
        ws.path("logferry.toml"),
        format!("{text}exclude = [\"*.4\"]\n"),
    )
    .unwrap();
    agent.signal("HUP");
    agent.wait_log("config reloaded", Duration::from_secs(10));
    ws.log("a.log.4", b"four\n");
    agent.signal("USR1");
    let runs = ws.wait_runs(4, Duration::from_secs(10));
    assert_eq!(runs[0]["files_uploaded"], 0, "the new config excludes it");

    agent.signal("INT");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), 0);
}

#[test]
fn a_file_event_nudges_an_early_pass() {
    let ws = Ws::new(LOCAL);
    let text = std::fs::read_to_string(ws.path("logferry.toml")).unwrap();
    std::fs::write(ws.path("logferry.toml"), format!("{text}watch = true\n")).unwrap();
    ws.log("a.log.1", b"one\n");
    let mut agent = ws.spawn(&[]);
    ws.wait_runs(1, Duration::from_secs(10));
    std::fs::write(ws.path("logs/a.log.2"), b"new file\n").unwrap();
    let runs = ws.wait_runs(2, Duration::from_secs(15));
    assert_eq!(runs[0]["files_uploaded"], 1);
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), 0);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let ws = Ws::new(&format!("log_format = \"json\"\n{LOCAL}"));
    ws.log("a.log.1", b"one\n");
    let mut agent = ws.spawn(&[("RUST_LOG", "info")]);
    ws.wait_runs(1, Duration::from_secs(10));
    agent.wait_log("pass finished", Duration::from_secs(5));
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), 0);
    let log = agent.log();
    for line in log.lines().filter(|l| !l.is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
}

#[test]
fn run_once_writes_the_metrics_textfile() {
    let ws =
        Ws::new("metrics_textfile = \"metrics/logferry.prom\"\n[destination]\nurl = \"mirror\"");
    std::fs::create_dir_all(ws.path("metrics")).unwrap();
    ws.log("a.log.1", b"one\n");
    let o = Command::new(BIN)
        .arg("--config")
        .arg(ws.path("logferry.toml"))
        .arg("--run-once")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(ws.path("metrics/logferry.prom")).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let uploaded = scrape
        .samples
        .iter()
        .find(|s| s.metric == "logferry_files_uploaded_total")
        .unwrap();
    assert!(matches!(uploaded.value, prometheus_parse::Value::Counter(v) if v == 1.0));
}

/// SIGTERM while a pass uploads through a slow link: the pass gets `shutdown_grace`,
/// is then aborted (nothing committed, the multipart upload aborted), the agent exits 0,
/// and the next start archives everything.
#[test]
fn sigterm_mid_pass_aborts_cleanly_after_the_grace_period() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(&testbed("TESTBED_S3_ENDPOINT")));
    proxy.faults.throttle.store(4 << 20, Ordering::SeqCst);
    let dest = s3_destination_toml(&proxy.endpoint(), &testbed("TESTBED_S3_SECRET_KEY"), "");
    let ws = Ws::new(&format!(
        "interval = \"1h\"\nshutdown_grace = \"1s\"\n{dest}"
    ));
    ws.log("big.log", &vec![b'x'; 48 << 20]);
    let mut agent = ws.spawn(&[("RUST_LOG", "info")]);
    // The pass has started once the proxy carries data.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(ws.runs().is_empty(), "the pass must still be running");
    let started = Instant::now();
    agent.signal("TERM");
    assert_eq!(
        agent.wait_exit(Duration::from_secs(20)),
        0,
        "{}",
        agent.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
    let log = agent.log();
    assert!(log.contains("aborting it"), "{log}");
    let runs = ws.runs();
    assert_eq!(runs[0]["outcome"], "failed", "{runs:?}");
    assert!(runs[0]["generation"].is_null(), "nothing committed");

    proxy.faults.throttle.store(0, Ordering::SeqCst);
    let o = Command::new(BIN)
        .arg("--config")
        .arg(ws.path("logferry.toml"))
        .arg("--run-once")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("archived 1 files"));
}

#[test]
fn a_second_sigterm_exits_at_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(&testbed("TESTBED_S3_ENDPOINT")));
    proxy.faults.throttle.store(1 << 20, Ordering::SeqCst);
    let dest = s3_destination_toml(&proxy.endpoint(), &testbed("TESTBED_S3_SECRET_KEY"), "");
    let ws = Ws::new(&format!(
        "interval = \"1h\"\nshutdown_grace = \"1m\"\n{dest}"
    ));
    ws.log("big.log", &vec![b'x'; 32 << 20]);
    let mut agent = ws.spawn(&[("RUST_LOG", "info")]);
    std::thread::sleep(Duration::from_millis(1000));
    agent.signal("TERM");
    agent.wait_log("stopping; a second", Duration::from_secs(5));
    let started = Instant::now();
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(5)), 130);
    assert!(started.elapsed() < Duration::from_secs(3));
}

fn verify_unit_files(dir: &Path) -> std::process::Output {
    let names: Vec<String> = [
        "logferry.service",
        "logferry-once.service",
        "logferry-once.timer",
    ]
    .iter()
    .map(|n| {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("systemd")
                .join(n),
        )
        .unwrap();
        // Point ExecStart at the binary under test; verify checks that it exists.
        std::fs::write(dir.join(n), text.replace("/usr/local/bin/logferry", BIN)).unwrap();
        n.to_string()
    })
    .collect();
    Command::new("systemd-analyze")
        .arg("verify")
        .args(&names)
        .current_dir(dir)
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed")
}

#[test]
fn systemd_units_verify_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let o = verify_unit_files(dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.trim().is_empty(),
        "systemd-analyze verify warned:\n{err}"
    );
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/logferry.service"),
    )
    .unwrap();
    for key in [
        "Type=notify",
        "WatchdogSec=",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "DynamicUser=yes",
        "StateDirectory=logferry",
        "ReadOnlyPaths=",
        "PrivateTmp=true",
        "ProtectHome=true",
        "Restart=on-failure",
        "IOSchedulingClass=idle",
        "Nice=",
    ] {
        assert!(unit.contains(key), "logferry.service lacks {key}");
    }
}

fn archived(ws: &Ws, args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let o = Command::new(BIN)
        .arg("--config")
        .arg(ws.path("logferry.toml"))
        .arg("archived")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn archived_answers_from_local_state_and_wait_runs_a_pass_without_an_agent() {
    let ws = Ws::new(LOCAL);
    ws.log("000000010000000000000003", b"wal segment\n");
    let (code, err, _) = archived(&ws, &["000000010000000000000003"]);
    assert_eq!(code, 1, "not archived yet: {err}");
    assert!(err.contains("not archived"), "{err}");
    let (code, err, _) = archived(&ws, &["--wait", "20s", "000000010000000000000003"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ws.runs().len(), 1, "it ran one pass itself");
    let (code, _, took) = archived(&ws, &["000000010000000000000003"]);
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(2));
    // Changed after archiving: not archived "as it is now".
    std::fs::write(ws.path("logs/000000010000000000000003"), b"rewritten\n").unwrap();
    let (code, _, _) = archived(&ws, &["000000010000000000000003"]);
    assert_eq!(code, 1);
    let (code, _, _) = archived(&ws, &["never-written"]);
    assert_eq!(code, 1);
    let (code, err, _) = archived(&ws, &["--wait", "soon", "x"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn archived_wait_nudges_the_running_agent_for_postgresql_segments() {
    let ws = Ws::new("interval = \"1h\"\n[destination]\nurl = \"mirror\"");
    // A PostgreSQL-style source: a segment counts as closed once archive_status says so.
    std::fs::write(
        ws.path("logferry.toml"),
        "state_dir = \"state\"\ninterval = \"1h\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"pg\"\npath = \"logs\"\nclosed_by = \"ready-marker\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(ws.path("logs/archive_status")).unwrap();
    let mut agent = ws.spawn(&[]);
    ws.wait_runs(1, Duration::from_secs(10));
    let seg = "000000010000000000000007";
    std::fs::write(ws.path(&format!("logs/{seg}")), b"segment 7").unwrap();
    std::fs::write(ws.path(&format!("logs/archive_status/{seg}.ready")), b"").unwrap();
    let (code, err, took) = archived(&ws, &["--wait", "30s", seg]);
    assert_eq!(code, 0, "{err}");
    assert!(
        took < Duration::from_secs(15),
        "one pass, not the hourly tick: {took:?}"
    );
    // The agent ran the pass (no second writer); it records the pass in status.json just
    // after the commit that `archived` answers from.
    ws.wait_runs(2, Duration::from_secs(10));
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), 0);
}

/// Regression: `logferry run` exited 3 within 2 s when the destination did not answer
/// at start, so a sidecar started during an outage crash-looped and its metrics
/// vanished. It now starts, serves /metrics and /healthz, says not ready on /readyz,
/// logs the destination's error, and retries with backoff until the destination answers.
#[test]
fn an_agent_started_while_the_destination_is_down_waits_for_it_and_serves_metrics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(&testbed("TESTBED_S3_ENDPOINT")));
    proxy.faults.down.store(1, Ordering::SeqCst);
    let dest = s3_destination_toml(
        &proxy.endpoint(),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "max_retries = 0\nretry_timeout = \"1s\"\n",
    );
    let port = free_port();
    let ws = Ws::new(&format!(
        "interval = \"1h\"\nmetrics_listen = \"127.0.0.1:{port}\"\n{dest}"
    ));
    ws.log("a.log.1", b"one\n");
    let mut agent = ws.spawn(&[("RUST_LOG", "info")]);
    agent.wait_log("destination does not answer", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent keeps running: {}",
        agent.log()
    );
    assert!(
        agent.log().contains("503"),
        "the error is logged: {}",
        agent.log()
    );
    assert_eq!(http_get(port, "/healthz").0, 200);
    assert_eq!(http_get(port, "/readyz").0, 503);
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("logferry_ready 0"), "{body}");
    assert!(
        ws.runs().is_empty(),
        "no pass before the destination answers"
    );

    proxy.faults.down.store(0, Ordering::SeqCst);
    let runs = ws.wait_runs(1, Duration::from_secs(30));
    assert_eq!(runs[0]["outcome"], "ok", "{runs:?}");
    assert_eq!(runs[0]["files_uploaded"], 1, "{runs:?}");
    assert_eq!(http_get(port, "/readyz").0, 200);
    agent.signal("TERM");
    assert_eq!(
        agent.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        agent.log()
    );
}

/// A stop while waiting for the destination exits at once, cleanly.
#[test]
fn an_agent_waiting_for_the_destination_stops_on_sigterm() {
    let port = free_port(); // nothing listens there
    let dest = s3_destination_toml(
        &format!("http://127.0.0.1:{port}"),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "max_retries = 0\nretry_timeout = \"1s\"\nconnect_timeout = \"1s\"\n",
    );
    let ws = Ws::new(&format!("interval = \"1h\"\n{dest}"));
    let mut agent = ws.spawn(&[("RUST_LOG", "info")]);
    agent.wait_log("destination does not answer", Duration::from_secs(10));
    agent.signal("TERM");
    assert_eq!(
        agent.wait_exit(Duration::from_secs(5)),
        0,
        "{}",
        agent.log()
    );
}
