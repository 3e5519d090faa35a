//! `check-config` catches what would fail or do nothing at run time: what the file
//! system says about the config's paths (errors exit 2, warnings exit 0), and the
//! config's own warnings, one line each on stderr naming the key.

use crate::cli::{code, stderr, stdout, Workspace};

const DEST: &str = "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n";

/// The stderr lines that name `key`.
fn lines_about(err: &str, key: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.contains(&format!("key `{key}`")))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_missing_source_directory_is_a_warning_and_exits_0() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{DEST}[[sources]]\nname = \"app\"\npath = \"later\"\n"
    ));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    let about = lines_about(&err, "sources[0].path");
    assert_eq!(about.len(), 1, "{err}");
    assert!(about[0].contains("WARN"), "{err}");
    assert!(
        about[0].contains(&format!(
            "`{}` does not exist; nothing is archived from it until it does: create it, or fix the path",
            ws.path("later").display()
        )),
        "{err}"
    );
    assert!(stdout(&o).contains("# next passes:"), "{}", stdout(&o));
}

#[test]
fn a_source_path_that_is_a_file_exits_2() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{DEST}[[sources]]\nname = \"app\"\npath = \"logs/a.log.1\"\n"
    ));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "key `sources[0].path`: `{}` is a file, not a directory; set `path` to the directory that holds it and take the file with `include`",
            ws.path("logs/a.log.1").display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&ws.path("logferry.toml").display().to_string()),
        "names the file: {err}"
    );
}

#[test]
fn a_state_dir_that_is_a_file_or_cannot_be_created_exits_2() {
    let ws = Workspace::new();
    std::fs::write(ws.path("plain"), b"").unwrap();
    let tail = "[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n";
    ws.config(&format!("state_dir = \"plain\"\n{tail}"));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "key `state_dir`: `{}` is a file; point state_dir at a directory (logferry creates it when missing)",
            ws.path("plain").display()
        )),
        "{}",
        stderr(&o)
    );
    ws.config(&format!("state_dir = \"plain/state\"\n{tail}"));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "key `state_dir`: `{}` cannot be created: `{}` is a file",
            ws.path("plain/state").display(),
            ws.path("plain").display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_metrics_textfile_without_its_directory_exits_2() {
    let ws = Workspace::new();
    ws.config(&format!(
        "metrics_textfile = \"textfile/logferry.prom\"\n{DEST}[[sources]]\nname = \"app\"\npath = \"logs\"\n"
    ));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "key `metrics_textfile`: directory `{}` does not exist; create it (node_exporter's --collector.textfile.directory), or fix the path",
            ws.path("textfile").display()
        )),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir(ws.path("textfile")).unwrap();
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn every_finding_is_shown_before_exiting_2() {
    let ws = Workspace::new();
    ws.config(&format!(
        "metrics_textfile = \"nowhere/m.prom\"\n{DEST}[[sources]]\nname = \"app\"\npath = \"later\"\n[[sources]]\nname = \"db\"\npath = \"logs/a.log.2\"\n"
    ));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    for key in ["sources[0].path", "sources[1].path", "metrics_textfile"] {
        assert_eq!(lines_about(&err, key).len(), 1, "{key}: {err}");
    }
}

#[test]
fn config_warnings_are_one_line_each_and_exit_0() {
    let ws = Workspace::new();
    ws.config(
        "state_dir = \"state\"\nschedule = \"*/5 * * * * *\"\n[destination]\nurl = \"mirror\"\ncompression_level = 7\n[[sources]]\nname = \"app\"\npath = \"logs\"\ninclude = [\"*.log.*\"]\nexclude = [\"*.log.*\"]\n",
    );
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    for (key, words) in [
        (
            "schedule",
            "for crontab's meaning write the 5 fields \"*/5 * * * *\"",
        ),
        ("destination.compression_level", "has no effect"),
        ("sources[0].include[0]", "`sources[0].exclude[0]`"),
    ] {
        let about = lines_about(&err, key);
        assert_eq!(about.len(), 1, "{key}: {err}");
        assert!(about[0].contains(words), "{key}: {err}");
    }
    assert_eq!(err.lines().count(), 3, "{err}");
}

#[test]
fn refused_values_exit_2_naming_the_key() {
    let ws = Workspace::new();
    for (text, key, words) in [
        (
            format!("{DEST}[[sources]]\nname = \"app\"\npath = \"~/logs\"\n"),
            "sources[0].path",
            "write the absolute path, e.g. \"/home/USER/logs\"",
        ),
        (
            format!("{DEST}[[sources]]\nname = \"app\"\npath = \"logs\"\ninclude = []\n"),
            "sources[0].include",
            "leave the key out to take every file",
        ),
        (
            format!("{DEST}[[sources]]\nname = \"app\"\npath = \"/srv/logs\"\ninclude = [\"/srv/logs/*.gz\"]\n"),
            "sources[0].include[0]",
            "write \"*.gz\"",
        ),
    ] {
        ws.config(&text);
        for cmd in [&["check-config"][..], &["--run-once"][..]] {
            let o = ws.run(cmd);
            assert_eq!(code(&o), 2, "{text:?} {cmd:?}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(err.contains(&format!("key `{key}`: ")) && err.contains(words), "{text:?}: {err}");
        }
    }
}

#[test]
fn an_hourly_shorthand_is_a_schedule() {
    let ws = Workspace::new();
    ws.config(&format!(
        "schedule = \"@hourly\"\n{DEST}[[sources]]\nname = \"app\"\npath = \"logs\"\n"
    ));
    let o = ws.run(&["check-config", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["schedule"], "@hourly");
    for t in v["next_passes"].as_array().unwrap() {
        assert!(t.as_str().unwrap().contains(":00:00"), "on the hour: {t}");
    }
}

#[test]
fn check_config_output_reads_back_as_the_same_config() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{DEST}[hooks]\npost_pass = \"true\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n\
         [[sources]]\nname = \"wal\"\npath = \"logs\"\ninclude = [\"*.log.*\"]\n"
    ));
    let first = ws.run(&["check-config"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    // A source without `include` takes every file; `include = []` would be refused.
    assert!(
        stdout(&first).contains("# include: not set (every file)"),
        "{}",
        stdout(&first)
    );
    ws.config(&stdout(&first));
    let again = ws.run(&["check-config"]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    let without_header = |o: &std::process::Output| {
        stdout(o)
            .lines()
            .filter(|l| !l.starts_with("# effective config from") && !l.starts_with("#   "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_header(&again), without_header(&first));
}
