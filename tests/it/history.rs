//! History as a view: every content ever archived under a rotated name is listed by
//! `ls --all-versions` and written back by `restore --all-versions`, older ones beside
//! the current one as `<path>@<archived_at>`, inside an optional `--since`/`--until`
//! window; through the binary, on a local mirror.

use crate::cli::{code, stderr, stdout, Workspace};

/// `a.log.1` rotated three times (batch 1, 2, 3), a pass after each; `a.log.2` once.
fn rotated() -> Workspace {
    let ws = Workspace::new();
    for batch in ["batch 1\n", "batch 2\n", "batch 3\n"] {
        std::fs::write(ws.path("logs/a.log.1"), batch).unwrap();
        let o = ws.run(&["--run-once"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    ws
}

/// `ls --all-versions --json` (plus `extra`): (path, archived_at) of each version.
fn versions(ws: &Workspace, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["ls", "--all-versions", "--json"];
    args.extend(extra);
    let o = ws.run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["archived_at"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_content_of_a_rotated_name_is_listed_oldest_first() {
    let ws = rotated();
    let all = versions(&ws, &[]);
    let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["a.log.1", "a.log.1", "a.log.1", "a.log.2"]);
    assert!(all[0].1 < all[1].1 && all[1].1 < all[2].1, "{all:?}");
    // Plain `ls` is unchanged: the current content of each name only.
    let o = ws.run(&["ls", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    // The table lists them too.
    let o = ws.run(&["ls", "--all-versions"]);
    assert_eq!(stdout(&o).matches("a.log.1 ").count(), 3, "{}", stdout(&o));
}

#[test]
fn a_window_keeps_the_versions_archived_inside_it() {
    let ws = rotated();
    let all = versions(&ws, &[]);
    let (second, third) = (&all[1].1, &all[2].1);
    let window = versions(&ws, &["--since", second, "--until", third]);
    assert_eq!(
        window,
        vec![all[1].clone()],
        "[since, until) holds the second batch"
    );
    let since = versions(&ws, &["--since", third]);
    assert_eq!(since, vec![all[2].clone()]);
}

#[test]
fn restore_all_versions_writes_older_contents_beside_the_current_one() {
    let ws = rotated();
    let all = versions(&ws, &[]);
    let to = ws.path("out");
    let o = ws.run(&["restore", "--all-versions", "--to", to.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let read = |rel: &str| std::fs::read_to_string(to.join("app").join(rel)).unwrap();
    assert_eq!(read("a.log.1"), "batch 3\n");
    assert_eq!(read(&format!("a.log.1@{}", all[0].1)), "batch 1\n");
    assert_eq!(read(&format!("a.log.1@{}", all[1].1)), "batch 2\n");
    assert_eq!(read("a.log.2"), "two\n");
    assert!(stdout(&o).contains("restored 4 files"), "{}", stdout(&o));

    // A window and a glob: only batch 2, under its version name.
    let to2 = ws.path("out2");
    let o = ws.run(&[
        "restore",
        "--all-versions",
        "--since",
        &all[1].1,
        "--until",
        &all[2].1,
        "--include",
        "a.log.1",
        "--to",
        to2.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let files: Vec<String> = std::fs::read_dir(to2.join("app"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, vec![format!("a.log.1@{}", all[1].1)]);
}

#[test]
fn bad_history_arguments_are_usage_errors_that_name_the_flag() {
    let ws = rotated();
    for (args, says) in [
        (
            vec!["ls", "--since", "2026-11-03T00:00:00Z"],
            "--all-versions",
        ),
        (
            vec!["ls", "--all-versions", "--since", "yesterday"],
            "--since `yesterday`",
        ),
        (
            vec![
                "ls",
                "--all-versions",
                "--since",
                "2026-11-04T00:00:00Z",
                "--until",
                "2026-11-03T00:00:00Z",
            ],
            "--until must be later than --since",
        ),
        (
            vec!["ls", "--all-versions", "--generation", "1"],
            "--generation",
        ),
        (
            vec![
                "restore",
                "--all-versions",
                "--at",
                "2026-11-03T00:00:00Z",
                "--to",
                "x",
            ],
            "--at",
        ),
        (
            vec!["restore", "--all-versions", "--until", "soon", "--to", "x"],
            "--until `soon`",
        ),
    ] {
        let o = ws.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}
