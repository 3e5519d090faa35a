//! What a pass tells the operator through the binary: `--run-once --dry-run` showing what
//! a pass would upload without writing anything, a source that matched nothing named in
//! the summary and in `status`, the destination's error in a failed file's line and in
//! `archived`, and log lines without colour codes when they do not go to a terminal.

use std::path::Path;

use crate::cli::{code, stderr, stdout, Workspace};

/// Every file under `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn dry_run_shows_what_a_pass_would_upload_and_writes_nothing() {
    let ws = Workspace::new();
    let o = ws.run(&["--run-once", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("would upload  new"), "{out}");
    assert!(
        out.contains("app/a.log.1") && out.contains("app/a.log.2"),
        "{out}"
    );
    let summary = out.lines().last().unwrap();
    assert!(
        summary.starts_with("dry run: would upload 2 files (8 B)"),
        "{summary}"
    );
    assert!(
        files_under(&ws.path("mirror")).is_empty(),
        "nothing reaches the destination: {:?}",
        files_under(&ws.path("mirror"))
    );
    let status = ws.run(&["status", "--json"]);
    assert_eq!(stdout(&status).trim(), "[]", "no pass recorded");

    // After a real pass: a changed file, and a copy under a new name (already stored);
    // the dry run says so, and the next pass does just that.
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    std::fs::write(ws.path("logs/a.log.2"), b"two, longer\n").unwrap();
    std::fs::copy(ws.path("logs/a.log.1"), ws.path("logs/a.log.3")).unwrap();
    let before = files_under(&ws.path("mirror"));
    let o = ws.run(&["run", "--once", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("would upload  changed"), "{out}");
    assert!(!out.contains("app/a.log.3"), "a.log.3 is stored: {out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("dry run: would upload 1 files (12 B), record "),
        "{out}"
    );
    assert_eq!(files_under(&ws.path("mirror")), before, "nothing written");
    let real = ws.run(&["--run-once"]);
    let line = stdout(&real);
    assert!(
        line.contains("1 changed, 1 renamed") && line.contains("uploaded 1 objects"),
        "{line}"
    );
}

#[test]
fn dry_run_without_run_once_is_a_usage_error() {
    let ws = Workspace::new();
    for args in [
        &["--dry-run"][..],
        &["run", "--dry-run"],
        &["--dry-run", "status"],
    ] {
        let o = ws.run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--run-once"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(files_under(&ws.path("mirror")).is_empty());
}

#[test]
fn a_source_that_matched_nothing_is_named_in_the_summary_and_status() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("empty")).unwrap();
    std::fs::write(ws.path("empty/app.txt"), b"not a log\n").unwrap();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n\
         [[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n\
         [[sources]]\nname = \"typo\"\npath = \"empty\"\ninclude = [\"*.log\"]\nmin_age = \"0s\"\n",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let hint = "source `typo` matched no files (check its path, include and exclude)";
    assert!(stdout(&o).contains(hint), "{}", stdout(&o));
    assert!(!stdout(&o).contains("`app`"), "{}", stdout(&o));
    let status = ws.run(&["status"]);
    assert!(
        stdout(&status).contains("source `typo` matched no files in the last pass"),
        "{}",
        stdout(&status)
    );
    let json = ws.run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v[0]["empty_sources"], serde_json::json!(["typo"]));
    // A source with a file waiting (too young) matched something: no hint.
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n\
         [[sources]]\nname = \"typo\"\npath = \"empty\"\nmin_age = \"1h\"\n",
    );
    let o = ws.run(&["--run-once"]);
    assert!(!stdout(&o).contains("matched no files"), "{}", stdout(&o));
}

/// Sources `a` (fine) and `b`, whose prefix in the local mirror is a file, so the
/// destination refuses every object of `b`: a partial pass.
fn refusing_one_source() -> Workspace {
    let ws = Workspace::new();
    for d in ["a", "b", "mirror/data"] {
        std::fs::create_dir_all(ws.path(d)).unwrap();
    }
    std::fs::write(ws.path("a/x.log.1"), b"one\n").unwrap();
    std::fs::write(ws.path("b/wal.1"), b"two\n").unwrap();
    std::fs::write(ws.path("mirror/data/b"), b"in the way\n").unwrap();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n\
         [[sources]]\nname = \"a\"\npath = \"a\"\nmin_age = \"0s\"\n\
         [[sources]]\nname = \"b\"\npath = \"b\"\nmin_age = \"0s\"\n",
    );
    ws
}

#[test]
fn a_failed_upload_names_the_destination_error_in_the_summary_and_in_archived() {
    let ws = refusing_one_source();
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let summary = stdout(&o);
    assert!(
        summary.contains("1 FAILED (first: b/wal.1: put data/b/wal.1-")
            && summary.contains("Not a directory"),
        "{summary}"
    );
    let o = ws.run(&["archived", "wal.1"]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(
        e.contains("could not archive `b/wal.1`: put data/b/wal.1-")
            && e.contains("Not a directory"),
        "{e}"
    );
    // Its neighbour was archived by that partial pass.
    assert_eq!(code(&ws.run(&["archived", "x.log.1"])), 0);
}

#[test]
fn log_lines_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let ws = refusing_one_source();
    // -v: the pass's info lines too, besides its warnings and errors.
    let o = ws.run(&["--run-once", "-v"]);
    let e = stderr(&o);
    assert!(e.contains("pass finished") && e.contains("ERROR"), "{e}");
    assert!(!e.contains('\u{1b}'), "escape codes in: {e:?}");
}
