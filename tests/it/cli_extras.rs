//! The binary's installation aids as an operator meets them: shell completions and the
//! man page (no config needed), `--version` naming the commit, and `-v`/`-q` as a short
//! form of `RUST_LOG`.

use std::process::Command;

use crate::cli::{code, stderr, stdout, Workspace};

/// A workspace whose config file does not exist.
fn without_config() -> Workspace {
    let ws = Workspace::new();
    std::fs::remove_file(ws.path("logferry.toml")).unwrap();
    ws
}

#[test]
fn bash_completions_name_the_subcommands_without_a_config() {
    let ws = without_config();
    let o = ws.run(&["completions", "bash"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let script = stdout(&o);
    for word in [
        "logferry",
        "restore",
        "expire",
        "check-config",
        "--hostname",
    ] {
        assert!(script.contains(word), "no {word} in: {script}");
    }
    for shell in ["zsh", "fish"] {
        let o = ws.run(&["completions", shell]);
        assert_eq!(code(&o), 0, "{shell}: {}", stderr(&o));
        assert!(stdout(&o).contains("restore"), "{shell}");
    }
}

#[test]
fn completions_for_an_unknown_shell_exit_2() {
    let o = without_config().run(&["completions", "tcsh"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("tcsh"), "{}", stderr(&o));
}

#[test]
fn man_prints_a_roff_page_without_a_config() {
    let o = without_config().run(&["man"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = stdout(&o);
    // clap_mangen opens with two lines defining the quote character, then the title.
    let title = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
    assert!(
        title.is_some_and(|l| l.starts_with(".TH logferry 1")),
        "{page}"
    );
    assert!(page.contains("restore"), "{page}");
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let ws = without_config();
    let dir = ws.path("man/man1");
    let o = ws.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for page in ["logferry.1", "logferry-restore.1", "logferry-completions.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}: {text}");
    }
    assert!(!dir.join("logferry-help.1").exists());
}

#[test]
fn completions_and_man_have_help_with_an_example() {
    let ws = without_config();
    for args in [&["completions", "--help"][..], &["man", "--help"][..]] {
        let o = ws.run(args);
        assert_eq!(code(&o), 0, "{args:?}");
        let text = stdout(&o);
        assert!(text.contains("Example"), "{args:?} has no example: {text}");
        assert!(text.contains("logferry"), "{args:?}");
    }
}

#[test]
fn version_names_the_commit_when_built_from_a_checkout() {
    let o = without_config().run(&["--version"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let want = format!("logferry {}", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success());
    let Some(head) = head else {
        return; // not a checkout, or no git: the version alone
    };
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let shown = text
        .split_once('(')
        .and_then(|(_, rest)| rest.split(&['-', ')'][..]).next())
        .unwrap_or_else(|| panic!("no commit in {text}"));
    assert!(
        shown.len() >= 7 && head.starts_with(shown),
        "{text} vs {head}"
    );
}

#[test]
fn quiet_hides_warnings_that_show_by_default() {
    let ws = Workspace::new();
    let env = [("LOGFERRY_NO_SUCH_KEY", "1")];
    let o = ws.run_env(&["status"], &env);
    assert!(
        stderr(&o).contains("LOGFERRY_NO_SUCH_KEY"),
        "{}",
        stderr(&o)
    );
    let o = ws.run_env(&["-q", "status"], &env);
    assert!(
        !stderr(&o).contains("LOGFERRY_NO_SUCH_KEY"),
        "{}",
        stderr(&o)
    );
    let o = ws.run_env(&["status", "--quiet"], &env);
    assert!(
        !stderr(&o).contains("LOGFERRY_NO_SUCH_KEY"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verbose_shows_info_lines_and_rust_log_wins_over_it() {
    let ws = Workspace::new();
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("INFO"), "{}", stderr(&o));
    let o = ws.run(&["-v", "--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("INFO"), "{}", stderr(&o));
    let o = ws.run_env(&["-v", "--run-once"], &[("RUST_LOG", "error")]);
    assert!(!stderr(&o).contains("INFO"), "{}", stderr(&o));
}

#[test]
fn verbose_and_quiet_together_are_a_usage_error() {
    assert_eq!(code(&Workspace::new().run(&["-v", "-q", "status"])), 2);
}
