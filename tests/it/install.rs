//! The install files, checked as files (no container builder or systemd runs here):
//! the Dockerfile's stages, user and entrypoint, the `.dockerignore`, the systemd units'
//! user and directory keys, and the Kubernetes sidecar's security context.
//! `scripts/check-dockerfile` also runs the Dockerfile's build step and the binary as a
//! non-root user; `service::systemd_units_verify_without_warnings` runs
//! `systemd-analyze verify`.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The Dockerfile's instructions: continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim_start().starts_with('#') || (buf.is_empty() && line.trim().is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            buf.push_str(head);
            buf.push(' ');
            continue;
        }
        buf.push_str(line);
        let (instr, rest) = buf.trim().split_once(' ').unwrap_or((buf.trim(), ""));
        out.push((instr.to_ascii_uppercase(), rest.trim().to_string()));
        buf.clear();
    }
    out
}

#[test]
fn dockerfile_builds_in_a_rust_stage_and_runs_as_a_non_root_user() {
    let ins = instructions(&read("Dockerfile"));
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].starts_with("rust:") && froms[0].ends_with(" AS builder"),
        "{}",
        froms[0]
    );
    assert!(froms[1].starts_with("debian:"), "{}", froms[1]);
    let has = |instr: &str, rest: &str| ins.iter().any(|(i, r)| i == instr && r.contains(rest));
    assert!(has("RUN", "cargo build --release --locked"));
    assert!(has("RUN", "ca-certificates"));
    assert!(has("COPY", "--from=builder"));
    let last = |instr: &str| {
        ins.iter()
            .rev()
            .find(|(i, _)| i == instr)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("no {instr}"))
    };
    let user = last("USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert_ne!(uid, 0, "USER {user}");
    assert_eq!(last("ENTRYPOINT"), r#"["logferry"]"#);
    assert_eq!(last("CMD"), r#"["run"]"#);
    // The Kubernetes example's runAsUser is the image's user.
    let k8s = read("examples/kubernetes/deployment.yaml");
    assert!(
        k8s.contains(&format!("runAsUser: {uid}")),
        "runAsUser {uid}"
    );
    assert!(k8s.contains(&format!("fsGroup: {uid}")), "fsGroup {uid}");
    for key in [
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        r#"drop: ["ALL"]"#,
        "enableServiceLinks: false",
    ] {
        assert!(k8s.contains(key), "deployment.yaml lacks {key}");
    }
}

#[test]
fn dockerignore_keeps_build_outputs_and_test_state_out_of_the_context() {
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for want in [
        "target/",
        ".testbed/",
        "examples/mirror/",
        "examples/state/",
        ".git",
    ] {
        assert!(lines.contains(&want), ".dockerignore lacks {want}");
    }
}

#[test]
fn systemd_units_need_no_user_or_directory_created_first() {
    for unit in ["systemd/logferry.service", "systemd/logferry-once.service"] {
        let text = read(unit);
        let keys: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        for key in [
            "DynamicUser=yes",
            "StateDirectory=logferry",
            "SupplementaryGroups=adm",
            "ProtectSystem=strict",
            "NoNewPrivileges=true",
            "CapabilityBoundingSet=",
        ] {
            assert!(keys.contains(&key), "{unit} lacks {key}");
        }
        for gone in ["User=", "Group="] {
            assert!(
                !keys.iter().any(|l| l.starts_with(gone)),
                "{unit} sets {gone}: DynamicUser= picks the user"
            );
        }
        assert!(
            keys.iter()
                .any(|l| l.starts_with("ExecStart=/usr/local/bin/logferry ")),
            "{unit}: ExecStart"
        );
    }
    let timer = read("systemd/logferry-once.timer");
    for key in ["OnCalendar=", "Persistent=true", "WantedBy=timers.target"] {
        assert!(timer.contains(key), "logferry-once.timer lacks {key}");
    }
}
