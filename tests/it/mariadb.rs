//! A real MariaDB (Debian's packages, on a Unix socket in a temp dir, no TCP) with binary
//! logging: closed binlogs are archived, the one being written is not, and a restored
//! binlog reads back with `mariadb-binlog`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| {
        panic!("{cmd:?}: {e}; run the suite with scripts/test, which installs mariadb-server")
    });
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sql(sock: &Path, statements: &str) -> String {
    run(Command::new("mariadb")
        .arg(format!("--socket={}", sock.display()))
        .args(["-u", "root", "-N", "-B", "-e", statements]))
}

fn binlogs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("binlog.") && n[7..].bytes().all(|b| b.is_ascii_digit()))
        .collect();
    v.sort();
    v
}

#[test]
fn closed_binlogs_are_archived_and_the_current_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sock = dir.path().join("mysqld.sock");
    run(Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args([
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]));
    let server = Server(
        Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mysqld.pid").display()
            ))
            .arg(format!("--log-bin={}", data.join("binlog").display()))
            .args([
                "--server-id=1",
                "--skip-networking",
                "--user=root",
                "--binlog-format=STATEMENT",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while Command::new("mariadb-admin")
        .arg(format!("--socket={}", sock.display()))
        .args(["-u", "root", "ping"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        assert!(Instant::now() < deadline, "mariadbd did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    sql(
        &sock,
        "CREATE DATABASE d; CREATE TABLE d.t (id INT, note VARCHAR(40))",
    );
    for i in 0..3 {
        sql(
            &sock,
            &format!("INSERT INTO d.t VALUES ({i}, 'written in round {i}'); FLUSH BINARY LOGS"),
        );
    }
    sql(
        &sock,
        "INSERT INTO d.t VALUES (99, 'in the current binlog')",
    );
    let all = binlogs(&data);
    assert!(all.len() >= 4, "{all:?}");
    let current = all.last().unwrap().clone();

    let cfg = dir.path().join("logferry.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"binlog\"\npath = \"{}\"\ninclude = [\"binlog.[0-9]*\"]\nclosed_by = \"not-newest\"\n",
            data.display()
        ),
    )
    .unwrap();
    let out = run(Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .arg("--run-once"));
    assert!(
        out.contains(&format!("archived {} files", all.len() - 1)),
        "{out}"
    );
    let ls = run(Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["ls", "--json"]));
    let entries: serde_json::Value = serde_json::from_str(&ls).unwrap();
    let archived: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        !archived.contains(&current.as_str()),
        "the current binlog {current} must wait"
    );
    assert!(!archived.contains(&"binlog.index"));
    assert_eq!(archived.len(), all.len() - 1, "{archived:?}");

    // The binlog of round 1, restored, reads back with mariadb-binlog.
    let round1 = all[1].clone();
    let dest = dir.path().join("restored.bin");
    run(Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["fetch", &round1])
        .arg(&dest));
    let text = run(Command::new("mariadb-binlog").arg(&dest));
    assert!(text.contains("written in round 1"), "{text}");

    // FLUSH closes the current one: the next pass archives it.
    sql(&sock, "FLUSH BINARY LOGS");
    let out = run(Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .arg("--run-once"));
    assert!(out.contains("archived 1 files"), "{out}");
    drop(server);
}
