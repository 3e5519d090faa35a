//! One file by name: `ls NAME` and `restore NAME` answer from the file's version
//! records (its path, or its file name), and keep `--generation` for an older state;
//! through the binary, on a local mirror. (`fetch` and the request counts are in the
//! conformance suite.)

use crate::cli::{code, stderr, stdout, Workspace};
use crate::common::sha;

/// `a.log.1` rotated three times (batch 1, 2, 3), a pass after each; `sub/b.log` once.
fn rotated() -> Workspace {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("logs/sub")).unwrap();
    std::fs::write(ws.path("logs/sub/b.log"), "b\n").unwrap();
    for batch in ["batch 1\n", "batch 2\n", "batch 3\n"] {
        std::fs::write(ws.path("logs/a.log.1"), batch).unwrap();
        let o = ws.run(&["--run-once"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    ws
}

/// The sha256 of each entry `ls ARGS --json` prints.
fn listed(ws: &Workspace, args: &[&str]) -> Vec<String> {
    let mut all = vec!["ls", "--json"];
    all.extend(args);
    let o = ws.run(&all);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["sha256"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ls_name_lists_the_current_content_of_that_file_only() {
    let ws = rotated();
    assert_eq!(listed(&ws, &["a.log.1"]), [sha(b"batch 3\n")]);
    assert_eq!(
        listed(&ws, &["a.log.1", "--generation", "1"]),
        [sha(b"batch 1\n")]
    );
    // A path or a file name.
    assert_eq!(listed(&ws, &["sub/b.log"]), [sha(b"b\n")]);
    assert_eq!(listed(&ws, &["b.log"]), [sha(b"b\n")]);
    let o = ws.run(&["ls", "a.log.1"]);
    assert!(stdout(&o).contains("a.log.1") && !stdout(&o).contains("b.log"));
}

#[test]
fn ls_name_never_archived_is_exit_1_naming_it() {
    let ws = rotated();
    for args in [
        &["ls", "a.log.9"][..],
        &["ls", "a.log.9", "--generation", "2"],
    ] {
        let o = ws.run(args);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("`a.log.9`"), "{}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
}

#[test]
fn restore_name_writes_that_file_only() {
    let ws = rotated();
    let to = ws.path("out");
    let o = ws.run(&["restore", "a.log.1", "--to", to.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(to.join("app/a.log.1")).unwrap(), b"batch 3\n");
    assert!(!to.join("app/sub/b.log").exists(), "only the file named");

    let old = ws.path("old");
    let o = ws.run(&[
        "restore",
        "a.log.1",
        "--generation",
        "1",
        "--to",
        old.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(old.join("app/a.log.1")).unwrap(),
        b"batch 1\n"
    );
    assert!(!old.join("app/sub/b.log").exists());

    let o = ws.run(&["restore", "nope.log", "--to", to.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("`nope.log`"), "{}", stderr(&o));
}

#[test]
fn a_file_name_two_sources_hold_with_other_content_asks_for_the_source() {
    let ws = Workspace::new();
    for (dir, content) in [("a", "from a\n"), ("b", "from b\n")] {
        std::fs::create_dir_all(ws.path(&format!("logs2/{dir}"))).unwrap();
        std::fs::write(ws.path(&format!("logs2/{dir}/x.log")), content).unwrap();
    }
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n\
         [[sources]]\nname = \"a\"\npath = \"logs2/a\"\nmin_age = \"0s\"\n\
         [[sources]]\nname = \"b\"\npath = \"logs2/b\"\nmin_age = \"0s\"\n",
    );
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let dest = ws.path("x.out");
    for args in [
        &["ls", "x.log"][..],
        &["fetch", "x.log", dest.to_str().unwrap()],
    ] {
        let o = ws.run(args);
        assert_ne!(code(&o), 0, "{args:?}");
        assert!(
            stderr(&o).contains("pass --source"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(listed(&ws, &["x.log", "--source", "b"]), [sha(b"from b\n")]);
    let o = ws.run(&["fetch", "x.log", dest.to_str().unwrap(), "--source", "a"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(&dest).unwrap(), b"from a\n");
}
