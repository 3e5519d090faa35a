//! The progress bars as a person sees them: the binary runs under a real pseudo-terminal,
//! its output is rendered by a terminal emulator, and the screen it leaves is read. Under
//! plain pipes (a timer, a CronJob, a script) no bar, and no escape sequence, is written.

use std::io::Read;

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::cli::{code, stderr, stdout, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");
const ROWS: u16 = 40;
const COLS: u16 = 160;

/// What a run of the binary on a terminal left: its exit code and the screen's lines.
struct Screen {
    code: u32,
    lines: Vec<String>,
}

impl Screen {
    /// The line that starts with `prefix`; there must be exactly one.
    fn line(&self, prefix: &str) -> &str {
        let found: Vec<&String> = self
            .lines
            .iter()
            .filter(|l| l.starts_with(prefix))
            .collect();
        assert_eq!(found.len(), 1, "one line `{prefix}…` in:\n{}", self.text());
        found[0]
    }

    /// The index of the line that starts with `prefix`.
    fn row(&self, prefix: &str) -> usize {
        self.line(prefix);
        self.lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap()
    }

    fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Runs the binary with the workspace's config and `args`, stdin, stdout and stderr on
/// a pseudo-terminal of [`ROWS`]×[`COLS`], and renders everything it wrote.
fn on_terminal(ws: &Workspace, args: &[&str]) -> Screen {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(BIN);
    cmd.arg("--config");
    cmd.arg(ws.path("logferry.toml"));
    cmd.args(args);
    cmd.cwd(std::env::temp_dir());
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("RUST_LOG");
    cmd.env_remove("NO_COLOR");
    // No credential chain may probe a metadata address: traffic stays on 127.0.0.1.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LOGFERRY_")) {
        cmd.env_remove(k);
    }
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    // Read while it runs: a full terminal buffer would stop the child.
    let reading = std::thread::spawn(move || {
        let mut out = Vec::new();
        // Once the child is gone the master reads EIO: what came before is all there is.
        let _ = reader.read_to_end(&mut out);
        out
    });
    let status = child.wait().unwrap();
    let written = reading.join().unwrap();
    drop(pty.master);
    let mut parser = vt100::Parser::new(ROWS.try_into().unwrap(), COLS.try_into().unwrap(), 0);
    parser.process(&written);
    let lines = parser
        .screen()
        .contents()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    Screen {
        code: status.exit_code(),
        lines,
    }
}

/// The `done/total` byte counts a bar line shows, as written (`8 B`, `1.00 MiB`).
fn done_and_total(line: &str) -> (String, String) {
    let after_bar = line.split("] ").nth(1).expect("a bar");
    let mut words = after_bar.split_whitespace();
    let (n, unit_and_total, total_unit) = (
        words.next().unwrap(),
        words.next().unwrap(),
        words.next().unwrap(),
    );
    let (unit, total) = unit_and_total.split_once('/').expect("done/total");
    (format!("{n} {unit}"), format!("{total} {total_unit}"))
}

/// Logs of distinct sizes, below 1 KiB so the bars show exact byte counts, and a config
/// archiving them to a local mirror with `destination` added to its table.
fn workspace(destination: &str) -> Workspace {
    let ws = Workspace::new();
    std::fs::write(ws.path("logs/a.log.1"), "x".repeat(300)).unwrap();
    std::fs::write(ws.path("logs/a.log.2"), "y".repeat(700)).unwrap();
    ws.config(&format!(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n{destination}\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n"
    ));
    ws
}

/// Archives the workspace through plain pipes.
fn archive(ws: &Workspace) {
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn run_once_on_a_terminal_leaves_its_finished_bar_above_the_summary() {
    let ws = workspace("");
    let s = on_terminal(&ws, &["--run-once"]);
    assert_eq!(s.code, 0, "{}", s.text());
    let bar = s.line("archiving ");
    assert!(bar.starts_with("archiving 2/2 files ["), "{bar}");
    assert_eq!(
        done_and_total(bar),
        ("1000 B".into(), "1000 B".into()),
        "{bar}"
    );
    assert!(bar.contains("100%") && bar.contains("/s"), "rate: {bar}");
    assert!(bar.contains("eta "), "time left: {bar}");
    // The summary comes on its own line, right below the bar.
    assert_eq!(
        s.row("archived 2 files"),
        s.row("archiving ") + 1,
        "{}",
        s.text()
    );

    // Nothing to read (the scan finds no file): no bar is left, only the summary.
    for f in ["logs/a.log.1", "logs/a.log.2"] {
        std::fs::remove_file(ws.path(f)).unwrap();
    }
    let again = on_terminal(&ws, &["--run-once"]);
    assert_eq!(again.code, 0, "{}", again.text());
    assert!(
        !again.text().contains("archiving") && !again.text().contains("scanning"),
        "{}",
        again.text()
    );
    // (The empty source's warning comes first: a log line, above where a bar would be.)
    assert!(
        again.text().lines().any(|l| l.starts_with("nothing new")),
        "{}",
        again.text()
    );
}

#[test]
fn log_lines_go_above_the_bar_not_through_it() {
    let ws = workspace("");
    // -v logs at info during the pass, while its spinner or bar is on screen.
    let s = on_terminal(&ws, &["--run-once", "-v"]);
    assert_eq!(s.code, 0, "{}", s.text());
    let logs: Vec<usize> = (0..s.lines.len())
        .filter(|&i| s.lines[i].contains(" INFO "))
        .collect();
    assert!(!logs.is_empty(), "{}", s.text());
    for &i in &logs {
        let l = &s.lines[i];
        assert!(!l.contains("scanning") && !l.contains("archiving"), "{l}");
        assert!(i < s.row("archiving "), "{}", s.text());
    }
    // The spinner was taken off before each log line, and never left behind.
    assert!(!s.text().contains("scanning"), "{}", s.text());
    assert_eq!(
        s.row("archived 2 files"),
        s.row("archiving ") + 1,
        "{}",
        s.text()
    );
}

#[test]
fn no_bar_and_no_escape_sequence_without_a_terminal() {
    let ws = workspace("");
    let outputs = [
        ws.run(&["--run-once"]),
        ws.run(&["restore", "--to", ws.path("out").to_str().unwrap()]),
        ws.run(&["verify", "--read-data"]),
    ];
    for o in &outputs {
        assert_eq!(code(o), 0, "{}", stderr(o));
        for text in [stderr(o), stdout(o)] {
            assert!(
                !text.contains('\x1b') && !text.contains('\r'),
                "escape sequence in {text:?}"
            );
        }
        let err = stderr(o);
        for bar in ["archiving", "restoring", "reading back", "scanning", "%"] {
            assert!(!err.contains(bar), "`{bar}` in {err:?}");
        }
    }
}

#[test]
fn restore_of_a_compressed_archive_reaches_its_total() {
    let ws = workspace("compression = \"zstd\"");
    archive(&ws);
    let to = ws.path("out");
    let s = on_terminal(&ws, &["restore", "--to", to.to_str().unwrap()]);
    assert_eq!(s.code, 0, "{}", s.text());
    // Counted in original bytes, as written: the stored ones are far fewer.
    let bar = s.line("restoring [");
    assert_eq!(
        done_and_total(bar),
        ("1000 B".into(), "1000 B".into()),
        "{bar}"
    );
    assert!(bar.contains("100%"), "{bar}");
    assert!(
        s.row("restored 2 files") > s.row("restoring ["),
        "{}",
        s.text()
    );

    // Every file already there: nothing is downloaded, and the bar still ends full.
    let again = on_terminal(&ws, &["restore", "--to", to.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.text());
    let bar = again.line("restoring [");
    assert_eq!(
        done_and_total(bar),
        ("1000 B".into(), "1000 B".into()),
        "{bar}"
    );
    assert!(
        again.text().contains("2 already present"),
        "{}",
        again.text()
    );
}

#[test]
fn filtered_restore_counts_only_the_files_it_restores() {
    let ws = workspace("");
    archive(&ws);
    let to = ws.path("out");
    let s = on_terminal(
        &ws,
        &["restore", "--include", "*.2", "--to", to.to_str().unwrap()],
    );
    assert_eq!(s.code, 0, "{}", s.text());
    let bar = s.line("restoring [");
    assert_eq!(
        done_and_total(bar),
        ("700 B".into(), "700 B".into()),
        "{bar}"
    );
    assert!(bar.contains("100%"), "{bar}");
    assert!(s.text().contains("restored 1 files"), "{}", s.text());
}

#[test]
fn verify_read_data_shows_the_total_it_reads() {
    let ws = workspace("");
    archive(&ws);
    let s = on_terminal(&ws, &["verify", "--read-data"]);
    assert_eq!(s.code, 0, "{}", s.text());
    let bar = s.line("reading back [");
    assert_eq!(
        done_and_total(bar),
        ("1000 B".into(), "1000 B".into()),
        "{bar}"
    );

    // A slice reads one of the two objects: the total is that object's size.
    let s = on_terminal(&ws, &["verify", "--read-data=50"]);
    assert_eq!(s.code, 0, "{}", s.text());
    let (done, total) = done_and_total(s.line("reading back ["));
    assert_eq!(done, total);
    assert!(["300 B", "700 B"].contains(&total.as_str()), "{total}");

    // JSON is for programs: no bar, even on a terminal.
    let json = on_terminal(&ws, &["verify", "--read-data", "--json"]);
    assert_eq!(json.code, 0, "{}", json.text());
    assert!(!json.text().contains("reading back"), "{}", json.text());
}
